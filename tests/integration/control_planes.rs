//! The world's control planes through the CLI: Mesos offers to Marathon and Kubernetes
//! frameworks, Omega's shared state, and the scenario errors that guard them.

use std::path::Path;

use crate::orchsim;

fn csv(dir: &Path, file: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    crate::rows(&dir.join(file))
}

fn run(args: &[&str], out: &Path) {
    orchsim()
        .arg("run")
        .args(args)
        .arg("--out")
        .arg(out)
        .assert()
        .success();
}

#[test]
fn dual_orchestration_splits_one_cluster_between_marathon_and_kubernetes() {
    let tmp = tempfile::tempdir().unwrap();
    run(&["dual-orchestration"], tmp.path());
    let scheds = csv(tmp.path(), "schedulers.csv");
    let names: Vec<&str> = scheds.iter().map(|s| s["scheduler"].as_str()).collect();
    assert_eq!(names, ["marathon", "kubernetes"]);
    for s in &scheds {
        assert!(s["offers_received"].parse::<u64>().unwrap() > 0, "{s:?}");
        assert!(s["transactions"].parse::<u64>().unwrap() > 0, "{s:?}");
    }
    // Every Marathon app's instances sit on distinct hosts while they run (services never
    // finish, so: distinct hosts per app).
    let pods = csv(tmp.path(), "pods.csv");
    let mut hosts: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for p in pods.iter().filter(|p| p["workload"] == "web") {
        assert_ne!(p["node"], "", "{p:?} unplaced");
        hosts.entry(&p["job"]).or_default().push(&p["node"]);
    }
    assert!(hosts.len() > 10);
    for (app, mut nodes) in hosts {
        let n = nodes.len();
        nodes.sort_unstable();
        nodes.dedup();
        assert_eq!(nodes.len(), n, "{app} has two instances on one host");
    }
    // Dominant shares are written per workload and sum to at most the whole cluster.
    let shares = csv(tmp.path(), "shares.csv");
    assert!(!shares.is_empty());
    let wl = csv(tmp.path(), "workloads.csv");
    assert_eq!(wl.len(), 3);
    assert!(wl.iter().all(|w| w["jobs"].parse::<u64>().unwrap() > 0));
}

/// Omega's shared state: two schedulers deciding on snapshots of one crowded cluster
/// conflict, and a slower decision conflicts more (the Omega paper's Fig. 9 trend).
#[test]
fn shared_state_schedulers_conflict_more_as_their_decisions_slow() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = |t_job_ms: u32, dir: &str| {
        let text = format!(
            r#"
name = "omega"
seed = 3
duration_s = 600
[[hosts]]
name = "m"
count = 10
cpu_milli = 4000
memory_mib = 16384
[[workloads]]
name = "batch"
kind = "batch"
arrival_rate_per_s = 2
tasks = [1, 5]
cpu_milli = 500
memory_mib = 1024
duration_s = {{ dist = "exponential", mean = 30 }}
[[workloads]]
name = "service"
kind = "batch"
arrival_rate_per_s = 0.2
tasks = [1, 5]
cpu_milli = 500
memory_mib = 2048
duration_s = {{ dist = "exponential", mean = 300 }}
[orchestrator]
retry_after_s = 1
[control_plane]
kind = "shared-state"
conflict = "coarse"
[[control_plane.schedulers]]
name = "batch"
algorithm = "marathon"
workloads = ["batch"]
cost = {{ t_job_ms = 100, t_task_ms = 5 }}
[[control_plane.schedulers]]
name = "service"
algorithm = "marathon"
workloads = ["service"]
cost = {{ t_job_ms = {t_job_ms}, t_task_ms = 5 }}
"#
        );
        let file = tmp.path().join(format!("{dir}.toml"));
        std::fs::write(&file, text).unwrap();
        let out = tmp.path().join(dir);
        run(&[file.to_str().unwrap()], &out);
        let s = csv(&out, "schedulers.csv");
        let service = s
            .iter()
            .find(|r| r["scheduler"] == "service")
            .unwrap()
            .clone();
        (
            service["conflicts"].parse::<u64>().unwrap(),
            service["conflict_fraction"].parse::<f64>().unwrap(),
        )
    };
    let (fast_conflicts, fast) = scenario(10, "fast");
    let (slow_conflicts, slow) = scenario(5000, "slow");
    assert!(slow_conflicts > 0);
    assert!(
        slow > fast,
        "conflict fraction {slow} at 5 s vs {fast} at 10 ms ({slow_conflicts} vs {fast_conflicts})"
    );
}

#[test]
fn control_plane_mistakes_are_located() {
    let tmp = tempfile::tempdir().unwrap();
    let base = include_str!("../../scenarios/dual-orchestration.toml");
    for (from, to, expect) in [
        (
            r#"kind = "two-level""#,
            r#"kind = "two-levels""#,
            "control_plane.kind",
        ),
        (
            r#"workloads = ["api", "batch"]"#,
            r#"workloads = ["api", "batch", "web"]"#,
            "already served by scheduler `marathon`",
        ),
        (
            r#"workloads = ["api", "batch"]"#,
            r#"workloads = ["api"]"#,
            "workload `batch` has no scheduler",
        ),
        (
            r#"algorithm = "marathon""#,
            r#"algorithm = "kubernetes""#,
            "honoured by the `marathon` scheduler only",
        ),
        (
            r#"constraints = [["hostname", "UNIQUE"]]"#,
            r#"constraints = [["hostname", "UNIQUE", "x"]]"#,
            "UNIQUE does not accept a value",
        ),
        ("tasks = [2, 4]", "tasks = [4, 2]", "workloads[0].tasks"),
        (
            "tasks = [2, 4]",
            "tasks = [2, 4]\nnode_selector = { rack = \"a\" }",
            "honoured by the `kubernetes` scheduler only",
        ),
        (
            "[orchestrator]",
            "[scheduler]\nalgorithm = \"kubernetes\"\n[orchestrator]",
            "expected no `[scheduler] algorithm`",
        ),
        (
            "max_pods = 120\ntasks = [2, 4]\nconstraints = [[\"hostname\", \"UNIQUE\"]]",
            "constraints = [[\"rack\", \"GROUP_BY\", \"3\"]]",
            "needs the app's size",
        ),
        (
            "refuse_s = 5",
            r#"conflict = "coarse""#,
            "does not apply to kind = \"two-level\"",
        ),
    ] {
        assert!(base.contains(from), "{from}");
        let file = tmp.path().join("bad.toml");
        std::fs::write(&file, base.replacen(from, to, 1)).unwrap();
        let out = orchsim().arg("run").arg(&file).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{to}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{to}: {err}");
        assert!(err.contains("bad.toml:"), "located: {err}");
    }
    // --scheduler cannot replace the schedulers of a two-level control plane.
    let out = orchsim()
        .args(["run", "dual-orchestration", "--scheduler", "first-fit"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("two-level control plane"));
}

/// GPUs through Mesos offers: the GPU-sharing workload split between an FGD framework (the
/// GPU pods) and a Kubernetes one (CPU pods); offers carry milli-GPUs, every GPU pod lands on
/// devices, and the allocator's books balance at the end (a failed audit exits non-zero).
#[test]
fn gpu_pods_are_offered_and_placed_on_devices_under_two_level() {
    let tmp = tempfile::tempdir().unwrap();
    let base = include_str!("../../scenarios/gpu-sharing.toml");
    // The control plane's schedulers replace `[scheduler]`.
    let start = base.find("[scheduler]").unwrap();
    let end = start + base[start..].find("[orchestrator]").unwrap();
    let text = format!("{}{}", &base[..start], &base[end..])
        + r#"
[control_plane]
kind = "two-level"
[[control_plane.schedulers]]
name = "gpu"
algorithm = "fgd"
workloads = ["inference", "training"]
[[control_plane.schedulers]]
name = "cpu"
algorithm = "kubernetes"
workloads = ["cpu"]
"#;
    let file = tmp.path().join("gpu-two-level.toml");
    std::fs::write(&file, text).unwrap();
    let out = tmp.path().join("out");
    run(&[file.to_str().unwrap()], &out);
    let summary = &csv(&out, "summary.csv")[0];
    assert_eq!(summary["algorithm"], "two-level(fgd,kubernetes)");
    assert!(
        summary["gpu_util_mean_pct"].parse::<f64>().unwrap() > 1.0,
        "{summary:?}"
    );
    let scheds = csv(&out, "schedulers.csv");
    assert!(
        scheds.iter().all(|s| s["offers_received"] != "0"),
        "{scheds:?}"
    );
    // GPU pods that ran hold devices: the fragmentation observer saw GPUs allocated.
    let frag = csv(&out, "fragmentation.csv");
    assert!(frag
        .iter()
        .any(|r| r["gpu_alloc_pct"].parse::<f64>().unwrap_or(0.0) > 0.0));
}

/// `explain --at` places a pod against the cluster a two-level run leaves at that time.
#[test]
fn explain_places_a_pod_on_the_two_level_cluster_at_a_time() {
    let tmp = tempfile::tempdir().unwrap();
    let pod = tmp.path().join("pod.yaml");
    std::fs::write(
        &pod,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: probe}\nspec:\n  containers:\n  - name: c\n    resources: {requests: {cpu: \"2\", memory: 4Gi}}\n",
    )
    .unwrap();
    let explain = |at: &str| {
        let out = orchsim()
            .args([
                "explain",
                "--nodes",
                "dual-orchestration",
                "--at",
                at,
                "--format",
                "json",
                "--pod",
            ])
            .arg(&pod)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // Empty at the start: every host fits; at half an hour, some are full.
    let start = explain("0");
    let busy = explain("1800");
    assert!(!start.contains("Insufficient cpu"), "{start}");
    assert!(busy.contains("Insufficient"), "{busy}");
}

/// Two frameworks holding offers on parts of the same hosts' GPUs (shares of 300 and 600
/// milli, frequent departures, slow decisions; with the framework's device choice binding,
/// this scenario had launches fail on a device another framework had just filled): the agent picks the devices at launch, as
/// Mesos' GPU isolator does, so no launch lands on a device another framework just filled.
/// A launch may still fail when no single device has the share (the offer counts milli-GPUs
/// across devices), and that pod is queued again.
#[test]
fn two_level_frameworks_never_collide_on_a_gpu_device() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("two-level-gpu.toml");
    let workload = |name: &str| {
        format!(
            "[[workloads]]\nname = \"{name}\"\nkind = \"batch\"\narrival_rate_per_s = 1\n\
             cpu_milli = 500\nmemory_mib = 512\n\
             gpu_milli = {{ dist = \"choice\", values = [300, 600], weights = [1, 1] }}\n\
             duration_s = {{ dist = \"exponential\", mean = 20 }}\n"
        )
    };
    let framework = |name: &str, algorithm: &str, workload: &str| {
        format!(
            "[[control_plane.schedulers]]\nname = \"{name}\"\nalgorithm = \"{algorithm}\"\n\
             workloads = [\"{workload}\"]\ncost = {{ t_job_ms = 500, t_task_ms = 5 }}\n"
        )
    };
    let text = format!(
        "name = \"two-level-gpu\"\nseed = 3\nduration_s = 1800\n\
         [[hosts]]\nname = \"gpu\"\ncount = 4\ncpu_milli = 32000\nmemory_mib = 131072\n\
         gpus = 2\ngpu_model = \"T4\"\n{}{}\
         [control_plane]\nkind = \"two-level\"\nallocation_interval_s = 1\nrefuse_s = 1\n\
         accept_refuse_s = 0\n{}{}",
        workload("a"),
        workload("b"),
        framework("fa", "kubernetes", "a"),
        framework("fb", "fgd", "b"),
    );
    std::fs::write(&scenario, text).unwrap();
    let out = tmp.path().join("out");
    run(&[scenario.to_str().unwrap(), "--quiet"], &out);
    let pods = csv(&out, "pods.csv");
    assert!(pods.len() > 1000, "{} pods", pods.len());
    let bound = pods.iter().filter(|p| !p["node"].is_empty()).count();
    // Overloaded on purpose (about twice the GPUs the hosts have), so hosts are always shared.
    assert!(bound > pods.len() / 3, "{bound} of {} bound", pods.len());
    let collided: Vec<&str> = pods
        .iter()
        .map(|p| p["last_failure"].as_str())
        .filter(|f| f.contains("milli free"))
        .collect();
    assert!(
        collided.is_empty(),
        "launches on a full device: {collided:?}"
    );
}
