//! Drives the `orchsim` binary as a user would.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::orchsim;

fn run_into(dir: &Path, extra: &[&str]) -> Output {
    let out = orchsim()
        .arg("run")
        .args(extra)
        .arg("--out")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "orchsim run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn read(dir: &Path, file: &str) -> Vec<u8> {
    std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
}

const OUTPUTS: [&str; 4] = ["summary.csv", "pods.csv", "timeseries.csv", "digest.txt"];

#[test]
fn two_processes_write_byte_identical_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run_into(&a, &[]);
    run_into(&b, &[]);
    for f in OUTPUTS {
        assert_eq!(read(&a, f), read(&b, f), "{f} differs between two runs");
    }
    let c = tmp.path().join("c");
    run_into(&c, &["--seed", "43"]);
    assert_ne!(read(&a, "digest.txt"), read(&c, "digest.txt"));
    let digest = String::from_utf8(read(&a, "digest.txt")).unwrap();
    assert_eq!(digest.trim().len(), 32);
}

/// The quickstart and CI-regression summaries are golden files (reports/baselines/): any
/// change to the model, the schedulers or the RNG derivation shows up here. Regenerate
/// deliberately with `UPDATE_GOLDEN=1 cargo test --test cli` and say why in the commit.
#[test]
fn summaries_match_the_committed_baselines() {
    for (baseline, args) in [
        ("quickstart", &["quickstart"][..]),
        ("ci-regression", &["ci-regression"]),
        // Fractional and whole GPUs on devices, over time, under kube-scheduler and FGD.
        ("gpu-sharing", &["gpu-sharing"]),
        ("gpu-sharing-fgd", &["gpu-sharing", "--scheduler", "fgd"]),
        // Alibaba's GPU trace replayed with departures, from the embedded copy.
        ("alibaba-gpu-replay", &["alibaba-gpu-replay"]),
        (
            "alibaba-gpu-replay-fgd",
            &["alibaba-gpu-replay", "--scheduler", "fgd"],
        ),
        // Mesos offering one cluster to Marathon and Kubernetes frameworks, and the same
        // workload on one kube-scheduler.
        ("dual-orchestration", &["dual-orchestration"]),
        (
            "dual-orchestration-kubernetes",
            &["dual-orchestration-kubernetes"],
        ),
        ("dual-orchestration-split", &["dual-orchestration-split"]),
        // A three-tier application's traffic on Calico, its agents charged.
        ("networks", &["networks"]),
        // A private cluster bursting into a public region over a VPN.
        ("hybrid-burst", &["hybrid-burst"]),
        // Two tenants behind default-deny NetworkPolicy, enforced by Calico.
        ("policy-isolation", &["policy-isolation"]),
        // 20,000 Services through kube-proxy's iptables, a host failure and a rollout.
        ("service-proxy", &["service-proxy"]),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        run_into(tmp.path(), args);
        let got = read(tmp.path(), "summary.csv");
        let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(format!("reports/baselines/{baseline}-summary.csv"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&golden, &got).unwrap();
        }
        let want = std::fs::read(&golden).expect("baseline present (UPDATE_GOLDEN=1 to create)");
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "{baseline} summary changed"
        );
    }
}

#[test]
fn table_output_shows_the_headline_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_into(tmp.path(), &[]);
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "quickstart (seed 42)",
        "submitted",
        "p50",
        "p95",
        "p99",
        "cpu",
        "memory",
        "events/s",
        "digest",
    ] {
        assert!(text.contains(want), "missing `{want}` in:\n{text}");
    }
}

#[test]
fn json_and_csv_outputs_are_machine_readable() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_into(&tmp.path().join("j"), &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(v["scenario"], "quickstart");
    assert!(v["pods_submitted"].as_u64().unwrap() > 0);
    assert!(v["events_per_s"].as_f64().is_some());
    assert_eq!(v["digest"].as_str().unwrap().len(), 32);

    let out = run_into(&tmp.path().join("c"), &["--format", "csv"]);
    assert_eq!(out.stdout, read(&tmp.path().join("c"), "summary.csv"));
}

#[test]
fn scenarios_lists_the_catalog() {
    let out = orchsim().arg("scenarios").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().any(|l| l.starts_with("quickstart ")), "{text}");
    let out = orchsim()
        .args(["scenarios", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["name"], "quickstart");
}

#[test]
fn no_command_runs_the_quickstart() {
    let tmp = tempfile::tempdir().unwrap();
    let out = orchsim().current_dir(tmp.path()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("quickstart (seed 42)"));
    assert!(tmp.path().join("out/quickstart/summary.csv").exists());
}

#[test]
fn embedded_scenarios_run_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    run_into(&a, &[]);
    run_into(&b, &["quickstart"]);
    assert_eq!(read(&a, "digest.txt"), read(&b, "digest.txt"));
}

/// Each malformed scenario must exit non-zero with `file:line:column`, the field, and what was
/// expected — and never panic.
#[test]
fn malformed_scenarios_are_rejected_with_their_place() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let cases = [
        (
            "syntax-error.toml",
            ":4:8:",
            "",
            "invalid table header; expected `.`, `]]`",
        ),
        (
            "wrong-type.toml",
            ":9:13:",
            "`hosts[0].cpu_milli`",
            "invalid type: string \"4 cores\", expected an integer",
        ),
        (
            "unknown-field.toml",
            ":10:1:",
            "`hosts[0].cpus`",
            "unknown field `cpus`",
        ),
        (
            "negative-capacity.toml",
            ":8:14:",
            "`hosts[0].memory_mib`",
            "expected a positive integer (MiB), found -1024",
        ),
        (
            "empty-cluster.toml",
            ":4:1:",
            "`hosts`",
            "the cluster is empty",
        ),
        (
            "pod-too-large.toml",
            ":16:13:",
            "`workloads[0].cpu_milli`",
            "a pod larger than every host",
        ),
    ];
    for (file, place, field, expected) in cases {
        let path = dir.join(file);
        let out = orchsim()
            .arg("run")
            .arg(&path)
            .arg("--out")
            .arg(std::env::temp_dir().join("orchsim-never"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {err}");
        assert!(!err.contains("panicked"), "{file} panicked: {err}");
        let first = err.lines().next().unwrap_or("");
        assert!(first.starts_with("orchsim: error: "), "{file}: {first}");
        assert!(
            first.contains(&format!("{file}{place}")),
            "{file}: want `{place}` in {first}"
        );
        assert!(
            first.contains(field),
            "{file}: want field {field} in {first}"
        );
        assert!(
            first.contains(expected),
            "{file}: want `{expected}` in {first}"
        );
    }
}

#[test]
fn missing_files_and_bad_arguments_fail_cleanly() {
    let out = orchsim()
        .args(["run", "no-such-scenario"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no scenario file `no-such-scenario`") && err.contains("embedded: quickstart"),
        "{err}"
    );
    let out = orchsim()
        .args(["run", "--seed", "minus-one"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = orchsim()
        .args(["run", "--format", "yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = orchsim()
        .args(["run", "--scheduler", "fdg"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--scheduler: unknown scheduling algorithm `fdg`") && err.contains("fgd"),
        "{err}"
    );
}

/// A fractional-GPU scenario over time runs with the Kubernetes scheduler and with FGD, and
/// both write the fragmentation observer's curve: one row per sample, every share within
/// 0..=100 %, fragment never more than what is idle, and some GPU both allocated and freed.
#[test]
fn gpu_sharing_writes_the_fragmentation_curve_for_kubernetes_and_fgd() {
    for scheduler in ["kubernetes", "fgd"] {
        let tmp = tempfile::tempdir().unwrap();
        let out = run_into(tmp.path(), &["gpu-sharing", "--scheduler", scheduler]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("fragmentation.csv"), "{stdout}");
        let csv = String::from_utf8(read(tmp.path(), "fragmentation.csv")).unwrap();
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some(
                "time_s,gpu_alloc_pct,gpu_idle_milli,gpu_fragment_milli,gpu_fragment_pct,\
                 gpu_fragment_of_idle_pct"
            )
        );
        let rows: Vec<Vec<f64>> = lines
            .map(|l| l.split(',').map(|c| c.parse::<f64>().unwrap()).collect())
            .collect();
        // 4 h at 60 s, both ends included.
        assert_eq!(rows.len(), 241, "{scheduler}");
        for r in &rows {
            assert!(
                (0.0..=100.0).contains(&r[1]) && (0.0..=100.0).contains(&r[4]),
                "{r:?}"
            );
            assert!(r[3] <= r[2] + 1e-6, "fragment above idle: {r:?}");
        }
        let alloc: Vec<f64> = rows.iter().map(|r| r[1]).collect();
        let peak = alloc.iter().copied().fold(0.0, f64::max);
        assert!(peak > 50.0, "{scheduler}: the cluster fills up ({peak})");
        assert!(
            alloc.windows(2).any(|w| w[1] < w[0]),
            "{scheduler}: departures free devices"
        );
    }
}

/// A scenario that reads trace files sweeps like any other: every run finds the embedded
/// trace beside the embedded scenario.
#[test]
fn trace_scenarios_sweep_over_schedulers() {
    let tmp = tempfile::tempdir().unwrap();
    let out = orchsim()
        .args([
            "sweep",
            "alibaba-gpu-replay",
            "--set",
            "scheduler.algorithm=kubernetes,fgd",
            "--quiet",
            "--out",
        ])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(read(tmp.path(), "sweep.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(
        rows[0].contains("kubernetes") && rows[1].contains("fgd"),
        "{csv}"
    );
    assert!(rows.iter().all(|r| r.contains(",ok,")), "{csv}");
}

/// Golden digests of the study kinds, as the summary baselines pin the simulation scenarios:
/// any change to their models, schedulers or random streams shows up here. Update a value
/// deliberately, in the commit that changes it, and say why.
#[test]
fn study_digests_are_pinned() {
    for (args, want) in [
        (
            &["fgd-atc23", "--policy", "fgd,random", "--seed", "42"][..],
            "33598ea4209f087c233b3bd3b2ec3261",
        ),
        (&["architectures"], "447d0ace5b2b644f25038f5cc6770499"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        run_into(tmp.path(), &[args, &["--quiet"]].concat());
        let got = String::from_utf8(read(tmp.path(), "digest.txt")).unwrap();
        assert_eq!(
            got.trim(),
            want,
            "digest of `orchsim run {}`",
            args.join(" ")
        );
    }
}

/// Runs `orchsim ARGS EXTRA` with its standard output closed before it writes: the exit
/// status and what it said on stderr.
fn to_closed_pipe(args: &[&str], extra: &[String]) -> (Option<i32>, String) {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_orchsim"))
        .args(args)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), err)
}

/// The exit statuses the README documents: 0 also when the reader closes the pipe early,
/// 1 for a failed check, 2 for bad input (3, a partial sweep, is in sweep.rs).
#[test]
fn exit_statuses_follow_the_documented_contract() {
    let tmp = tempfile::tempdir().unwrap();
    // A reader that takes one line and goes away: the rest of the output hits a closed pipe.
    for args in [
        &["run", "architectures"][..],
        &["run", "quickstart"],
        &["scenarios"],
        &["net", "compare"],
    ] {
        let out: Vec<String> = if args[0] == "run" {
            vec![
                "--out".into(),
                tmp.path().join(args[1]).display().to_string(),
            ]
        } else {
            vec![]
        };
        for extra in [vec!["--help".to_string()], out] {
            let (code, err) = to_closed_pipe(args, &extra);
            assert!(!err.contains("panicked"), "{args:?} {extra:?}: {err}");
            assert_eq!(code, Some(0), "{args:?} {extra:?} to a closed pipe: {err}");
        }
    }
    // 1: a regression (the baseline against itself with a worse p99 wait).
    let baseline =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("reports/baselines/quickstart-summary.csv");
    let text = std::fs::read_to_string(&baseline).unwrap();
    let mut lines: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    let col = lines[0].iter().position(|c| c == "wait_p99_ms").unwrap();
    let worse: f64 = lines[1][col].parse::<f64>().unwrap() * 2.0 + 1.0;
    lines[1][col] = format!("{worse:.6}");
    let current = tmp.path().join("worse.csv");
    std::fs::write(
        &current,
        lines.iter().map(|l| l.join(",") + "\n").collect::<String>(),
    )
    .unwrap();
    let out = orchsim()
        .arg("compare")
        .arg(&baseline)
        .arg(&current)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 2: bad input.
    let out = orchsim()
        .args(["run", "no-such-scenario"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// `orchsim presets` lists every preset value with a source; one preset by name; an unknown
/// name is bad input.
#[test]
fn presets_list_their_values_and_sources() {
    let o = orchsim()
        .args(["presets", "--format", "csv"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = String::from_utf8(o.stdout).unwrap();
    assert!(
        csv.starts_with("preset,version,key,value,source\n"),
        "{csv}"
    );
    for row in [
        "kubernetes,v1.33,failure_grace_s,50,",
        "kubernetes,v1.33,eviction_delay_s,300,",
        "swarm,swarmkit v2.1.2,failure_grace_s,15,",
        "mesos-marathon,\"Mesos 1.11.0, Marathon 1.10.26\",restart_backoff_factor,1.15,",
    ] {
        assert!(csv.contains(row), "missing {row} in\n{csv}");
    }
    let one = orchsim()
        .args(["presets", "swarm", "--format", "csv"])
        .output()
        .unwrap();
    let one = String::from_utf8(one.stdout).unwrap();
    assert!(
        one.lines().skip(1).all(|l| l.starts_with("swarm,")),
        "{one}"
    );
    let bad = orchsim().args(["presets", "nomad"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr)
        .contains("expected one of kubernetes, swarm, mesos-marathon"));
}
