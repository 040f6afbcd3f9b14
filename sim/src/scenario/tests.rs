//! The scenario parser's tests: located syntax, type and meaning errors, defaults, traces.

use super::*;

const MINIMAL: &str = r#"
name = "t"
duration_s = 60
[[hosts]]
name = "w"
count = 2
cpu_milli = 4000
memory_mib = 8192
[[workloads]]
name = "web"
kind = "service"
arrival_rate_per_s = 1
cpu_milli = 500
memory_mib = { dist = "uniform", min = 128, max = 512 }
"#;

fn parse_err(text: &str) -> ScenarioError {
    parse("s.toml", text).expect_err("scenario should be rejected")
}

#[test]
fn minimal_scenario_gets_documented_defaults() {
    let s = parse("s.toml", MINIMAL).unwrap();
    assert_eq!(s.host_count(), 2);
    assert_eq!(s.hosts[0].capacity.pods, DEFAULT_MAX_PODS);
    assert_eq!(s.hosts[0].capacity.memory_bytes, 8192 * MIB);
    assert_eq!(s.scheduler.algorithm, "first-fit");
    assert_eq!(s.scheduler.cost, DecisionCost::default());
    assert_eq!(s.datapath.to_string(), "host");
    assert_eq!(s.sample_interval, SimDuration::from_secs(10));
    assert_eq!(s.workloads[0].kind, WorkloadKind::Service);
}

#[test]
fn syntax_errors_are_located() {
    let e = parse_err("name = \"t\"\nduration_s = = 3\n");
    assert_eq!((e.line, e.file.as_str()), (2, "s.toml"));
    assert!(e.to_string().starts_with("s.toml:2:"), "{e}");
}

#[test]
fn wrong_types_name_the_field() {
    let e = parse_err(&MINIMAL.replace("cpu_milli = 4000", "cpu_milli = \"lots\""));
    assert_eq!(e.field, "hosts[0].cpu_milli");
    assert_eq!((e.line, e.column), (7, 13));
    assert!(e.message.contains("expected an integer"), "{}", e.message);
}

#[test]
fn unknown_fields_are_errors() {
    let e = parse_err(&MINIMAL.replace("count = 2", "count = 2\ncpus = 4"));
    assert!(e.message.contains("unknown field `cpus`"), "{}", e.message);
    assert_eq!(e.line, 7);
    let e = parse_err(&MINIMAL.replace("max = 512", "max = 512, mode = 3"));
    assert!(e.message.contains("unknown field `mode`"), "{}", e.message);
    assert_eq!(e.field, "workloads[0].memory_mib.mode");
}

#[test]
fn negative_capacity_is_rejected_with_its_place() {
    let e = parse_err(&MINIMAL.replace("memory_mib = 8192", "memory_mib = -8192"));
    assert_eq!(e.field, "hosts[0].memory_mib");
    assert_eq!((e.line, e.column), (8, 14));
    assert_eq!(e.message, "expected a positive integer (MiB), found -8192");
}

#[test]
fn empty_clusters_are_rejected() {
    let e = parse_err(&MINIMAL.replace("count = 2", "count = 0"));
    assert_eq!(e.field, "hosts");
    assert!(e.message.contains("cluster is empty"), "{}", e.message);
    let e = parse_err("name = \"t\"\nduration_s = 5\nhosts = []\n");
    assert_eq!((e.field.as_str(), e.line), ("hosts", 3));
}

#[test]
fn pods_larger_than_every_host_are_rejected() {
    let e = parse_err(&MINIMAL.replace("max = 512", "max = 9000"));
    assert_eq!(e.field, "workloads[0].memory_mib");
    assert!(
        e.message.contains("a pod larger than every host"),
        "{}",
        e.message
    );
    assert!(e.message.contains("9000 MiB"), "{}", e.message);
    let e = parse_err(&MINIMAL.replace("cpu_milli = 500", "cpu_milli = 500\ngpu_milli = 1000"));
    assert_eq!(e.field, "workloads[0].gpu_milli");
}

#[test]
fn semantic_errors_explain_the_expectation() {
    let cases = [
        (
            "kind = \"service\"",
            "kind = \"daemon\"",
            "workloads[0].kind",
            "expected `service` or `batch`",
        ),
        (
            "kind = \"service\"",
            "kind = \"batch\"",
            "workloads[0].duration_s",
            "expected `duration_s`",
        ),
        (
            "arrival_rate_per_s = 1",
            "arrival_rate_per_s = 0",
            "workloads[0].arrival_rate_per_s",
            "positive arrival rate",
        ),
        (
            "duration_s = 60",
            "duration_s = -1",
            "duration_s",
            "non-negative",
        ),
        (
            "max = 512 }",
            "max = 100 }",
            "workloads[0].memory_mib",
            "0 <= min <= max",
        ),
        (
            "{ dist = \"uniform\", min = 128, max = 512 }",
            "{ dist = \"exponential\", mean = 3 }",
            "workloads[0].memory_mib",
            "bounded distribution",
        ),
        (
            "{ dist = \"uniform\", min = 128, max = 512 }",
            "{ dist = \"uniform\", min = 128 }",
            "workloads[0].memory_mib",
            "`uniform` needs min and max",
        ),
        (
            "{ dist = \"uniform\", min = 128, max = 512 }",
            "{ dist = \"normal\", mean = 3 }",
            "workloads[0].memory_mib",
            "one of constant, uniform",
        ),
        (
            "{ dist = \"uniform\", min = 128, max = 512 }",
            "{ dist = \"uniform\", min = 1, max = 2, mean = 3 }",
            "workloads[0].memory_mib",
            "`mean` does not belong",
        ),
    ];
    for (from, to, field, msg) in cases {
        let e = parse_err(&MINIMAL.replace(from, to));
        assert_eq!(e.field, field, "{to}: {e}");
        assert!(e.message.contains(msg), "{to}: {}", e.message);
    }
}

/// Heavy tails, percentile tables, drawn job sizes, priority bands and rate curves: what they
/// accept, and what each refusal says.
#[test]
fn generator_shapes_parse_and_refuse_with_reasons() {
    let ok = MINIMAL
        .replace(
            "arrival_rate_per_s = 1",
            "arrival_rate_per_s = { kind = \"diurnal\", mean = 2, amplitude = 0.5, period_s = 86400, peak_s = 50400 }\n\
             tasks = { dist = \"pareto\", min = 1, alpha = 1.1, max = 500 }\n\
             priority = { dist = \"choice\", values = [0, 9, -1], weights = [3, 1, 1] }",
        )
        .replace(
            "{ dist = \"uniform\", min = 128, max = 512 }",
            "{ dist = \"empirical\", percentiles = [0, 50, 50, 100], values = [128, 256, 512, 4096], scale = \"log\" }",
        );
    let s = parse("s.toml", &ok).unwrap();
    // A steep Pareto's mean stays finite, so the pod budget still counts (and refuses) it.
    let steep = MINIMAL.replace(
        "arrival_rate_per_s = 1",
        "arrival_rate_per_s = 1e7\ntasks = { dist = \"pareto\", min = 0.5, alpha = 1100, max = 10 }",
    );
    assert!(parse_err(&steep).message.contains("pods"));
    let w = &s.workloads[0];
    assert_eq!(w.priority.values, vec![0, 9, -1]);
    assert!(matches!(w.tasks, Tasks::Drawn(Dist::Pareto { max: Some(m), .. }) if m == 500.0));
    assert!(matches!(w.memory_mib, Dist::Empirical { log: true, .. }));
    assert!(matches!(w.arrival_rate_per_s, crate::curve::Rate::Curve(_)));
    let cases = [
        (
            "arrival_rate_per_s = 1",
            "arrival_rate_per_s = { kind = \"diurnal\", mean = 1, amplitude = 1.5, period_s = 60 }",
            "workloads[0].arrival_rate_per_s",
            "amplitude from 0 to 1",
        ),
        (
            "arrival_rate_per_s = 1",
            "arrival_rate_per_s = { kind = \"steps\", at_s = [0, 10], values = [0, 0] }",
            "workloads[0].arrival_rate_per_s",
            "rises above 0",
        ),
        (
            "arrival_rate_per_s = 1",
            "arrival_rate_per_s = { kind = \"steps\", at_s = [0, 60], values = [0, 1e12] }",
            "workloads[0].arrival_rate_per_s",
            "at most 1e9",
        ),
        (
            "arrival_rate_per_s = 1",
            "arrival_rate_per_s = { kind = \"weekly\" }",
            "workloads[0].arrival_rate_per_s",
            "expected kind \"diurnal\" or \"steps\"",
        ),
        (
            "arrival_rate_per_s = 1",
            "arrival_rate_per_s = 1\ntasks = { dist = \"pareto\", min = 1, alpha = 1.1 }",
            "workloads[0].tasks",
            "largest value is at most",
        ),
        (
            "arrival_rate_per_s = 1",
            "arrival_rate_per_s = 1\ntasks = [0, 3]",
            "workloads[0].tasks",
            "1 <= min <= max",
        ),
        (
            "arrival_rate_per_s = 1",
            "arrival_rate_per_s = 1\npriority = 1.5",
            "workloads[0].priority",
            "integer priority",
        ),
        (
            "arrival_rate_per_s = 1",
            "arrival_rate_per_s = 1\npriority = { dist = \"uniform\", min = 0, max = 9 }",
            "workloads[0].priority",
            "dist = \"choice\"",
        ),
        (
            "{ dist = \"uniform\", min = 128, max = 512 }",
            "{ dist = \"pareto\", min = 128, alpha = 2 }",
            "workloads[0].memory_mib",
            "`pareto` with `max`",
        ),
        (
            "{ dist = \"uniform\", min = 128, max = 512 }",
            "{ dist = \"pareto\", min = 0, alpha = 2, max = 10 }",
            "workloads[0].memory_mib",
            "a positive min",
        ),
        (
            "{ dist = \"uniform\", min = 128, max = 512 }",
            "{ dist = \"pareto\", min = 1, max = 10 }",
            "workloads[0].memory_mib",
            "needs min and alpha",
        ),
        (
            "{ dist = \"uniform\", min = 128, max = 512 }",
            "{ dist = \"empirical\", percentiles = [0, 50, 90], values = [1, 2, 3] }",
            "workloads[0].memory_mib",
            "rising from 0 to 100",
        ),
        (
            "{ dist = \"uniform\", min = 128, max = 512 }",
            "{ dist = \"empirical\", percentiles = [0, 100], values = [5, 3] }",
            "workloads[0].memory_mib",
            "non-decreasing",
        ),
        (
            "{ dist = \"uniform\", min = 128, max = 512 }",
            "{ dist = \"empirical\", percentiles = [0, 100], values = [1, 3], scale = \"ln\" }",
            "workloads[0].memory_mib",
            "\"linear\" or \"log\"",
        ),
    ];
    for (from, to, field, msg) in cases {
        let e = parse_err(&MINIMAL.replace(from, to));
        assert_eq!(e.field, field, "{to}: {e}");
        assert!(e.message.contains(msg), "{to}: {}", e.message);
    }
}

#[test]
fn names_that_generate_clashing_pod_names_are_rejected() {
    let twice = format!(
        "{MINIMAL}{}",
        &MINIMAL[MINIMAL.find("[[workloads]]").unwrap()..]
            .replace("name = \"web\"", "name = \"web-1\"")
    );
    let e = parse_err(&twice);
    assert_eq!(e.field, "workloads");
    assert!(e.message.contains("`web` and `web-1`"), "{}", e.message);
    assert!(clashing(["web", "web-x", "webs"].into_iter()).is_none());
}

#[test]
fn unknown_algorithm_and_datapath_list_valid_names() {
    let e = parse_err(&format!("{MINIMAL}[scheduler]\nalgorithm = \"magic\"\n"));
    assert_eq!(e.field, "scheduler.algorithm");
    assert!(
        e.message.contains("valid algorithms: first-fit"),
        "{}",
        e.message
    );
    let e = parse_err(&format!("{MINIMAL}[network]\ndatapath = \"weave\"\n"));
    assert_eq!(e.field, "network.datapath");
    assert!(
        e.message.contains("valid datapaths: host, bridge, overlay"),
        "{}",
        e.message
    );
}

#[test]
fn kubernetes_profiles_load_relative_to_the_scenario() {
    let dir = std::env::temp_dir().join(format!("orchsim-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("most.yaml"),
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args: {scoringStrategy: {type: MostAllocated}}\n",
    )
    .unwrap();
    let file = dir.join("s.toml");
    let text =
        format!("{MINIMAL}[scheduler]\nalgorithm = \"kubernetes\"\nprofile = \"most.yaml\"\n");
    let s = parse(file.to_str().unwrap(), &text).unwrap();
    let p = s.scheduler.profile.expect("profile loaded");
    assert_eq!(p.fit.kind, orchsim_sched::kube::ScoringType::MostAllocated);
    let e = parse_err(&text.replace("most.yaml", "missing.yaml"));
    assert_eq!(e.field, "scheduler.profile");
    assert!(e.message.contains("cannot read"), "{}", e.message);
    let e = parse_err(&text.replace("\"kubernetes\"", "\"swarm\""));
    assert!(
        e.message
            .contains("applies to algorithm = \"kubernetes\" only"),
        "{}",
        e.message
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn display_shows_file_line_column_field_and_a_caret() {
    let e = parse_err(&MINIMAL.replace("memory_mib = 8192", "memory_mib = -8192"));
    let shown = e.to_string();
    assert!(
        shown.starts_with(
            "s.toml:8:14: `hosts[0].memory_mib`: expected a positive integer (MiB), found -8192"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("8 | memory_mib = -8192\n  |              ^"),
        "{shown}"
    );
}

/// An error past column 65,535 is shown with its caret (`format!`'s width used to panic).
#[test]
fn errors_far_along_a_line_render() {
    let text = format!("description = \"{}\" x\n", "a".repeat(65_530));
    let e = parse("long.toml", &text).unwrap_err();
    assert!(e.column > 65_535, "{}", e.column);
    let shown = e.to_string();
    let caret_line = shown.lines().last().unwrap();
    assert!(caret_line.ends_with('^'));
    assert_eq!(caret_line.len(), "  | ".len() + e.column);
}

/// Numbers that multiply work or memory are refused up front with what the run would need and
/// the `[limits]` key that raises the budget (each of these used to abort on allocation).
#[test]
fn budgets_refuse_runs_the_machine_cannot_hold() {
    let cases = [
        (
            MINIMAL.replace("count = 2", "count = 1000000000"),
            "hosts",
            "max_hosts",
        ),
        (
            MINIMAL.replace("arrival_rate_per_s = 1", "arrival_rate_per_s = 1e12"),
            "workloads[0].arrival_rate_per_s",
            "max_pods",
        ),
        (
            MINIMAL.replace(
                "duration_s = 60",
                "duration_s = 60\nsample_interval_s = 1e-9",
            ),
            "sample_interval_s",
            "max_samples",
        ),
        (
            MINIMAL.replace("duration_s = 60", "duration_s = 1e10"),
            "duration_s",
            "max_samples",
        ),
    ];
    for (text, field, key) in cases {
        let e = parse_err(&text);
        assert!(e.message.contains(key), "{e}");
        assert!(e.message.contains("over the budget"), "{e}");
        // Located at the number that asked for it.
        assert_eq!(e.field, field, "{e}");
    }
    // Raising the budget lets a big cluster through (validation only; nothing is run).
    let big = MINIMAL.replace("count = 2", "count = 1500000") + "[limits]\nmax_hosts = 2000000\n";
    assert_eq!(parse("s.toml", &big).unwrap().host_count(), 1_500_000);
    let e = parse_err(&(MINIMAL.to_string() + "[limits]\nmax_pods = 0\n"));
    assert_eq!(e.field, "limits.max_pods");
}

/// Name clashes are found among many groups without comparing every pair.
#[test]
fn clashes_are_found_among_many_names() {
    let mut names: Vec<String> = (0..5000).map(|i| format!("group{i}")).collect();
    assert!(clashing(names.iter().map(String::as_str)).is_none());
    names.push("group17-3x".into());
    assert_eq!(
        clashing(names.iter().map(String::as_str)),
        Some(("group17", "group17-3x"))
    );
    // A dash not followed by a digit is no clash.
    assert!(clashing(["a", "a-b", "a-"].into_iter()).is_none());
}

/// A time past what 64-bit nanoseconds hold says the limit.
#[test]
fn a_time_too_long_says_the_limit() {
    let e = parse_err(&MINIMAL.replace("duration_s = 60", "duration_s = 1e15"));
    assert_eq!(e.field, "duration_s");
    assert!(e.message.contains("584 years"), "{e}");
}

#[test]
fn a_name_that_would_leave_the_output_directory_is_refused() {
    for bad in ["..", ".", ".hidden", "a/b", "", "a b"] {
        let text = MINIMAL.replacen("name = \"t\"", &format!("name = {bad:?}"), 1);
        assert_ne!(text, MINIMAL);
        let e = parse_err(&text);
        assert_eq!(e.field, "name", "{bad:?}: {e}");
        assert!(e.message.contains("out/<name>"), "{e}");
    }
    for good in ["web-1", "a.b", "x_y"] {
        let text = MINIMAL.replacen("name = \"t\"", &format!("name = {good:?}"), 1);
        assert!(parse("s.toml", &text).is_ok(), "{good}");
    }
}

#[test]
fn api_server_values_are_checked_where_they_are_written() {
    let with = |extra: &str| format!("{MINIMAL}\n{extra}\n");
    let s = parse("s.toml", &with("[api_server]\nscheduler_qps = -1")).unwrap();
    let api = s.api_server.unwrap();
    assert_eq!(api.scheduler.qps, None);
    assert_eq!(api.kubelet.qps, Some(50.0));
    // Dotted keys at the root are the same table.
    let text = MINIMAL.replacen("\n", "\napi_server.cache_reads = true\n", 1);
    assert!(
        parse("s.toml", &text)
            .unwrap()
            .api_server
            .unwrap()
            .cache_reads
    );
    let e = parse_err(&with("[api_server]\nscheduler_qpz = 3"));
    assert_eq!(e.field, "api_server.scheduler_qpz");
    assert!(e.to_string().contains("unknown key"), "{e}");
    let e = parse_err(&with("[api_server]\nscheduler_qps = 0"));
    assert!(e.to_string().contains("its default of 5"), "{e}");
    let e = parse_err(&with("[api_server]\netcd_write_qps = -1"));
    assert!(e.to_string().contains("no unlimited mode"), "{e}");
    let e = parse_err(&with(
        "[orchestrator]\npreset = \"mesos-marathon\"\n[api_server]",
    ));
    assert_eq!(e.field, "orchestrator.preset");
}

#[test]
fn upgrades_and_autoscalers_name_a_workload_that_exists() {
    let with = |extra: &str| format!("{MINIMAL}\n{extra}\n");
    let e = parse_err(&with("[[upgrades]]\nworkload = \"api\"\nat_s = 10"));
    assert_eq!(e.field, "upgrades[0].workload");
    assert!(
        e.to_string()
            .contains("expected the name of a workload (web)"),
        "{e}"
    );
    let e = parse_err(&with(
        "[[autoscalers]]\nworkload = \"api\"\nmax_replicas = 4\ntarget_cpu_pct = 50\nload_cores = { kind = \"steps\", at_s = [0], cores = [1] }",
    ));
    assert_eq!(e.field, "autoscalers[0].workload");
    // A service without max_pods has no replica count to start from.
    let e = parse_err(&with(
        "[[autoscalers]]\nworkload = \"web\"\nmax_replicas = 4\ntarget_cpu_pct = 50\nload_cores = { kind = \"steps\", at_s = [0], cores = [1] }",
    ));
    assert!(e.to_string().contains("max_pods"), "{e}");
}
