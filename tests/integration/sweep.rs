//! `orchsim sweep`, `merge` and `compare` as a user (or a CI job, or a cluster engine) drives
//! them.

use std::path::Path;

use crate::orchsim;

const GRID: [&str; 6] = [
    "--set",
    "workloads.batch.arrival_rate_per_s=1.0,1.5",
    "--set",
    "scheduler.algorithm=first-fit,kubernetes",
    "--seeds",
    "2",
];

fn sweep(out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "sweep",
        "quickstart",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(GRID);
    args.extend(extra);
    orchsim().args(&args).output().unwrap()
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn results_do_not_depend_on_threads_or_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let one = tmp.path().join("one");
    let two = tmp.path().join("two");
    assert!(sweep(&one, &["--jobs", "1"]).status.success());
    assert!(sweep(&two, &["--jobs", "2"]).status.success());
    for f in ["sweep.csv", "sweep-summary.csv"] {
        assert_eq!(read(&one.join(f)), read(&two.join(f)), "{f}: --jobs 1 vs 2");
    }
    let csv = String::from_utf8(read(&one.join("sweep.csv"))).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 2 * 2, "header + 8 runs");
    assert!(csv.starts_with(
        "run,workloads.batch.arrival_rate_per_s,scheduler.algorithm,status,scenario,seed,"
    ));

    let mut shards = Vec::new();
    for i in 1..=3 {
        let d = tmp.path().join(format!("s{i}"));
        let out = sweep(&d, &["--shard", &format!("{i}/3")]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        shards.push(d);
    }
    let merged = tmp.path().join("merged");
    let mut args = vec!["merge".to_string()];
    // Shards may arrive in any order.
    for d in shards.iter().rev() {
        args.push(d.to_str().unwrap().into());
    }
    args.extend(["--out".into(), merged.to_str().unwrap().into()]);
    let out = orchsim().args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in ["sweep.csv", "sweep-summary.csv"] {
        assert_eq!(
            read(&one.join(f)),
            read(&merged.join(f)),
            "{f}: 3 shards vs one machine"
        );
    }
    // A missing shard is an error, not a silently short table.
    let out = orchsim()
        .args([
            "merge",
            shards[0].to_str().unwrap(),
            shards[1].to_str().unwrap(),
            "--out",
        ])
        .arg(tmp.path().join("partial"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing shards [3] of 3"));
}

#[test]
fn failed_runs_are_reported_and_do_not_stop_the_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let out = orchsim()
        .args([
            "sweep",
            "quickstart",
            "--quiet",
            "--set",
            "hosts.worker.count=0,2",
            "--out",
        ])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("run 0 (hosts.worker.count=0, seed 42) failed"),
        "{err}"
    );
    assert!(err.contains("the cluster is empty"), "{err}");
    let csv = String::from_utf8(read(&tmp.path().join("sweep.csv"))).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[1].starts_with("0,0,\"failed: "), "{}", rows[1]);
    assert!(rows[2].starts_with("1,2,ok,quickstart,"), "{}", rows[2]);
}

#[test]
fn compare_flags_regressions_and_accepts_identical_results() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for d in [&a, &b] {
        assert!(orchsim()
            .args(["run", "--quiet", "--out"])
            .arg(d)
            .output()
            .unwrap()
            .status
            .success());
    }
    let out = orchsim().arg("compare").arg(&a).arg(&b).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Inject a regression: a longer p99 wait, in a copy outside the results directory (whose
    // manifest refuses an edited file).
    let text = String::from_utf8(read(&b.join("summary.csv"))).unwrap();
    let b = tmp.path().join("edited");
    std::fs::create_dir(&b).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let col = header.iter().position(|c| *c == "wait_p99_ms").unwrap();
    let mut cells: Vec<String> = lines[1].split(',').map(String::from).collect();
    let v: f64 = cells[col].parse().unwrap();
    cells[col] = format!("{:.6}", v * 1.04);
    lines[1] = cells.join(",");
    std::fs::write(b.join("summary.csv"), lines.join("\n") + "\n").unwrap();

    let out = orchsim().arg("compare").arg(&a).arg(&b).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("wait_p99_ms") && text.contains("worse"),
        "{text}"
    );
    let out = orchsim()
        .arg("compare")
        .arg(&a)
        .arg(&b)
        .args(["--threshold", "wait_p99_ms=5%"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "4% is within a 5% threshold");
    let out = orchsim()
        .arg("compare")
        .arg(&a)
        .arg(&b)
        .args(["--threshold", "wait=lots"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Identical pods and hosts: the answer is ceil(pods / pods-per-host) + K, computed by hand in
/// the scenario's header (30 pods of 1 core, 4-core hosts → 8, and 10 after losing 2).
#[test]
fn plan_finds_the_hand_computed_answer() {
    let scenario =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/plan-identical.toml");
    let tmp = tempfile::tempdir().unwrap();
    for (failures, want) in [(0, 8), (2, 10)] {
        let out = orchsim()
            .arg("plan")
            .arg(&scenario)
            .args([
                "--target",
                "unschedulable_pct<=0",
                "--vary",
                "hosts.node.count=1..100",
            ])
            .args([
                "--failures",
                &failures.to_string(),
                "--seeds",
                "2",
                "--format",
                "json",
                "--out",
            ])
            .arg(tmp.path().join(format!("k{failures}")))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["answer"], want, "K = {failures}: {v}");
        assert_eq!(v["monotone_checked"], true);
        assert!(tmp.path().join(format!("k{failures}/plan.csv")).exists());
    }
    let out = orchsim()
        .arg("plan")
        .arg(&scenario)
        .args([
            "--target",
            "unschedulable_pct<=0",
            "--vary",
            "hosts.node.count=1..5",
            "--seeds",
            "1",
            "--out",
        ])
        .arg(tmp.path().join("none"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "no answer in range: a check failed"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("no value in the given range meets"));
    let out = orchsim()
        .arg("plan")
        .arg(&scenario)
        .args(["--target", "latency<1", "--vary", "hosts.node.count=1..5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown metric `latency`"));
}

/// Two parameters: the cheapest mix by cost_per_hour, worked out in the scenario's header.
#[test]
fn plan_finds_the_cheapest_mix_of_host_types() {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/plan-mix.toml");
    let tmp = tempfile::tempdir().unwrap();
    let out = orchsim()
        .arg("plan")
        .arg(&scenario)
        .args(["--target", "unschedulable_pct<=0"])
        .args([
            "--vary",
            "hosts.small.count=0..8",
            "--vary",
            "hosts.large.count=0..4",
        ])
        .args(["--seeds", "1", "--format", "json", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["assignment"]["hosts.small.count"], 0,
        "{}",
        v["assignment"]
    );
    assert_eq!(v["assignment"]["hosts.large.count"], 2);
    assert_eq!(v["cost_per_hour"], 6.0);
}

#[test]
fn shards_of_different_sweeps_do_not_merge() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let shard = |dir: &Path, set: &str, which: &str| {
        orchsim()
            .args([
                "sweep",
                "quickstart",
                "--quiet",
                "--set",
                set,
                "--shard",
                which,
                "--out",
            ])
            .arg(dir)
            .output()
            .unwrap()
    };
    assert!(shard(&a, "hosts.worker.count=10,20", "1/2")
        .status
        .success());
    assert!(shard(&b, "hosts.worker.count=10,30", "2/2")
        .status
        .success());
    let out = orchsim()
        .arg("merge")
        .arg(&a)
        .arg(&b)
        .arg("--out")
        .arg(tmp.path().join("m"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("shard of a different sweep"));
}

/// Two shards of a small quickstart sweep into `dir/a` and `dir/b`, from the scenario file
/// `scenario` (the embedded quickstart if `None`).
fn two_shards(dir: &Path, scenario: &[Option<&Path>; 2]) -> [std::path::PathBuf; 2] {
    let out = [dir.join("a"), dir.join("b")];
    for (k, which) in ["1/2", "2/2"].iter().enumerate() {
        let mut cmd = orchsim();
        cmd.arg("sweep");
        match scenario[k] {
            Some(p) => cmd.arg(p),
            None => cmd.arg("quickstart"),
        };
        let o = cmd
            .args([
                "--quiet",
                "--set",
                "hosts.worker.count=18,20",
                "--shard",
                which,
            ])
            .arg("--out")
            .arg(&out[k])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    out
}

fn merge_fails(dir: &Path, shards: &[std::path::PathBuf]) -> String {
    let out = orchsim()
        .arg("merge")
        .args(shards)
        .arg("--out")
        .arg(dir.join("merged"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!dir.join("merged").exists());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn merge_refuses_a_shard_of_another_scenario_file_with_the_same_name() {
    let tmp = tempfile::tempdir().unwrap();
    let edited = tmp.path().join("quickstart.toml");
    let text = include_str!("../../scenarios/quickstart.toml")
        .replace("duration_s = 3600", "duration_s = 3000");
    std::fs::write(&edited, text).unwrap();
    let shards = two_shards(tmp.path(), &[None, Some(&edited)]);
    let err = merge_fails(tmp.path(), &shards);
    assert!(
        err.contains("shard of a different sweep") && err.contains("scenario blake3:"),
        "{err}"
    );
}

#[test]
fn merge_refuses_changed_truncated_and_corrupted_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let shards = two_shards(tmp.path(), &[None, None]);
    let csv = shards[1].join("sweep.csv");
    let good = std::fs::read_to_string(&csv).unwrap();
    // Truncated: the manifest's hash no longer matches.
    std::fs::write(&csv, &good[..good.len() / 2]).unwrap();
    let err = merge_fails(tmp.path(), &shards);
    assert!(err.contains("b/sweep.csv: differs from what"), "{err}");
    // Without a manifest (a shard from before hashes, or one copied without it), the cells
    // themselves are checked.
    std::fs::remove_file(shards[1].join(".orchsim-outputs")).unwrap();
    let header: Vec<&str> = good.lines().next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|c| *c == name).unwrap();
    for (name, bad, expected) in [
        ("cpu_util_mean_pct", "garbage", "a finite number"),
        ("cpu_util_mean_pct", "NaN", "a finite number"),
        ("digest", "d12c07f0", "32 hex digits"),
    ] {
        let mut lines: Vec<String> = good.lines().map(String::from).collect();
        let mut cells: Vec<String> = lines[1].split(',').map(String::from).collect();
        cells[column(name)] = bad.into();
        lines[1] = cells.join(",");
        std::fs::write(&csv, lines.join("\n") + "\n").unwrap();
        let err = merge_fails(tmp.path(), &shards);
        let at = format!("b/sweep.csv:2:{}: `{name}`", column(name) + 1);
        assert!(err.contains(&at) && err.contains(expected), "{err}");
    }
    // Restored, the shards merge.
    std::fs::write(&csv, &good).unwrap();
    let out = orchsim()
        .arg("merge")
        .args(&shards)
        .arg("--out")
        .arg(tmp.path().join("merged"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A small GPU study (one policy, part of the trace) beside the repository's trace files.
fn small_gpu_study(dir: &Path) -> std::path::PathBuf {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/data/alibaba-gpu-v2023");
    let text = format!(
        "name = \"small-gpu\"\n\n[study]\nkind = \"gpu-fragmentation\"\n\
         nodes = \"{data}/openb_node_list_all_node.csv\"\n\
         tasks = \"{data}/openb_pod_list_default.csv\"\n\
         gpu_nodes_only = true\ntarget_pct = 40\ntypical_percent = 95\n\
         policies = [\"fgd\", \"best-fit\"]\nseeds = [5]\n"
    );
    let path = dir.join("small-gpu.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A study is swept like a simulation: each run is the study at one seed, one row per row of
/// its table, aggregated over seeds per parameter value and study row; threads and shards do
/// not change a byte.
#[test]
fn a_gpu_study_sweeps_over_its_parameters_and_seeds() {
    let tmp = tempfile::tempdir().unwrap();
    let study = small_gpu_study(tmp.path());
    let run = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "sweep",
            study.to_str().unwrap(),
            "--set",
            "study.target_pct=30,40",
            "--seeds",
            "2",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        let o = orchsim().args(&args).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
    run(&one, &["--jobs", "1"]);
    run(&two, &["--jobs", "2"]);
    for f in ["sweep.csv", "sweep-summary.csv"] {
        assert_eq!(read(&one.join(f)), read(&two.join(f)), "{f}: --jobs 1 vs 2");
    }
    let csv = String::from_utf8(read(&one.join("sweep.csv"))).unwrap();
    assert!(
        csv.starts_with("run,study.target_pct,status,seed,policy,arrived_pct,"),
        "{csv}"
    );
    // 2 values × 2 seeds = 4 runs, each with one row per policy at the target share of
    // arrived workload (the study has no published values to add rows at).
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    let runs: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r.split(',').next().unwrap()).collect();
    assert_eq!(runs.len(), 4, "{csv}");
    assert!(rows.iter().all(|r| r.contains(",ok,")), "{csv}");
    let seeds: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r.split(',').nth(3).unwrap()).collect();
    assert_eq!(seeds, ["5", "6"].into(), "the study's seed, +1");
    assert_eq!(rows.len(), 4 * 2, "{csv}");
    for r in &rows {
        let cells: Vec<&str> = r.split(',').collect();
        assert_eq!(cells[1], cells[5], "the target is the share reported: {r}");
    }

    let summary = String::from_utf8(read(&one.join("sweep-summary.csv"))).unwrap();
    let head = summary.lines().next().unwrap();
    assert!(
        head.starts_with("study.target_pct,policy,arrived_pct,runs_ok,runs_failed,"),
        "{head}"
    );
    assert!(head.contains("alloc_pct_mean_mean"), "{head}");
    // Every (target, policy, share) group has both seeds.
    for line in summary.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!((cells[3], cells[4]), ("2", "0"), "{line}");
    }

    let shards: Vec<_> = (1..=3)
        .map(|i| {
            let d = tmp.path().join(format!("s{i}"));
            run(&d, &["--shard", &format!("{i}/3")]);
            d
        })
        .collect();
    let merged = tmp.path().join("merged");
    let mut args = vec!["merge".to_string()];
    args.extend(shards.iter().map(|d| d.to_str().unwrap().to_string()));
    args.extend(["--out".into(), merged.to_str().unwrap().into()]);
    let o = orchsim().args(&args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["sweep.csv", "sweep-summary.csv"] {
        assert_eq!(read(&one.join(f)), read(&merged.join(f)), "{f}: shards");
    }
}

/// A failed study run is a failed run (exit 3), and its parameters still appear in the
/// summary with their failures counted.
#[test]
fn a_failing_study_run_is_partial_not_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    let study = small_gpu_study(tmp.path());
    let out = tmp.path().join("out");
    let o = orchsim()
        .args([
            "sweep",
            study.to_str().unwrap(),
            "--set",
            "study.target_pct=30,-5",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("study.target_pct=-5"), "{err}");
    let summary = String::from_utf8(read(&out.join("sweep-summary.csv"))).unwrap();
    let failed: Vec<&str> = summary.lines().filter(|l| l.starts_with("-5,")).collect();
    assert_eq!(failed.len(), 1, "{summary}");
    assert!(failed[0].starts_with("-5,,,0,1"), "{summary}");

    // The shard holding only the failed run does not know the study's columns; the merge is
    // still what one machine wrote.
    let shard = |i: u32| {
        let d = tmp.path().join(format!("s{i}"));
        let o = orchsim()
            .current_dir(tmp.path())
            .args([
                "sweep",
                "small-gpu.toml",
                "--set",
                "study.target_pct=30,-5",
                "--quiet",
                "--shard",
                &format!("{i}/2"),
                "--out",
                d.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(o.status.code().is_some_and(|c| c == 0 || c == 3));
        d
    };
    let (s1, s2) = (shard(1), shard(2));
    let merged = tmp.path().join("merged");
    for dirs in [[&s1, &s2], [&s2, &s1]] {
        let o = orchsim()
            .args([
                "merge",
                dirs[0].to_str().unwrap(),
                dirs[1].to_str().unwrap(),
            ])
            .args(["--out", merged.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for f in ["sweep.csv", "sweep-summary.csv"] {
            assert_eq!(read(&out.join(f)), read(&merged.join(f)), "{f}: shards");
        }
    }
}

/// `plan` on a study: a candidate passes only if every row of the study's table does. Far
/// below the cluster's GPU capacity every arriving task is placed, so the allocated share
/// follows the arrived one: the smallest `target_pct` whose allocation reaches 30% lies just
/// above 30 (the curve is read at discrete arrivals).
#[test]
fn plan_searches_a_study_parameter() {
    let tmp = tempfile::tempdir().unwrap();
    let study = small_gpu_study(tmp.path());
    let plan = |target: &str, extra: &[&str]| {
        let mut args = vec![
            "plan",
            study.to_str().unwrap(),
            "--vary",
            "study.target_pct=20..40",
            "--target",
            target,
            "--seeds",
            "1",
            "--format",
            "json",
            "--out",
        ];
        let out = tmp.path().join("plan");
        args.push(out.to_str().unwrap());
        args.extend(extra);
        orchsim().args(&args).output().unwrap()
    };
    let o = plan("alloc_pct_mean>=30", &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let answer = v["answer"].as_i64().unwrap();
    assert!((30..=32).contains(&answer), "{v}");
    assert!(v["cost_per_hour"].is_null(), "a study has no price: {v}");
    let worst = v["margins"][0]["worst"].as_f64().unwrap();
    assert!(worst >= 30.0, "{v}");
    // Every evaluated value below the answer fails, every one at or above passes.
    for r in v["runs"].as_array().unwrap() {
        let value = r["study.target_pct"].as_i64().unwrap();
        assert_eq!(r["pass"] == "yes", value >= answer, "{r}");
    }

    assert_eq!(
        plan("alloc_pct_mean>=200", &[]).status.code(),
        Some(1),
        "no answer"
    );
    let bad = plan("wait_p99_s<1", &[]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("alloc_pct_mean") && err.contains("diff_pp"),
        "{err}"
    );
    let failures = plan("alloc_pct_mean>=30", &["--failures", "1"]);
    assert_eq!(failures.status.code(), Some(2));
}

/// A sweep prints its result: in text the means that vary, in JSON every aggregate column.
#[test]
fn a_sweep_prints_its_results_in_every_format() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |format: &str| {
        let o = orchsim()
            .args([
                "sweep",
                "quickstart",
                "--quiet",
                "--set",
                "hosts.worker.count=16,20",
            ])
            .args(["--format", format, "--out"])
            .arg(tmp.path().join(format))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let text = run("table");
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("hosts.worker.count") && first.contains("wait_p99_ms_mean"),
        "{text}"
    );
    // Constant columns (the MTU) are left to the file.
    assert!(!first.contains("pod_mtu_bytes"), "{text}");
    assert!(text.contains("2 runs (0 failed)"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows[0].get("pod_mtu_bytes_mean").is_some());
    let csv = run("csv");
    assert_eq!(
        csv.as_bytes(),
        std::fs::read(tmp.path().join("csv/sweep-summary.csv")).unwrap()
    );
}

/// More shards than runs: a shard with no runs still writes the header, and the shards merge.
#[test]
fn a_shard_with_no_runs_still_merges() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs: Vec<std::path::PathBuf> = (1..=3).map(|i| tmp.path().join(format!("s{i}"))).collect();
    for (i, d) in dirs.iter().enumerate() {
        let o = orchsim()
            .args([
                "sweep",
                "quickstart",
                "--quiet",
                "--set",
                "hosts.worker.count=18,20",
            ])
            .args(["--shard", &format!("{}/3", i + 1), "--out"])
            .arg(d)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let empty = std::fs::read_to_string(dirs[2].join("sweep.csv")).unwrap();
    assert!(
        empty.starts_with("run,hosts.worker.count,status,"),
        "{empty}"
    );
    let o = orchsim()
        .arg("merge")
        .args(&dirs)
        .arg("--out")
        .arg(tmp.path().join("m"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
