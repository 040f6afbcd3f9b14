//! Inputs that cannot mean two things: a failure domain or a sweep path that matches nothing,
//! more failures than hosts, a parameter given twice, a file name that is not there — each an
//! error before any work, never an answer to a question nobody asked.

use crate::orchsim;

fn fails(args: &[&str]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let o = orchsim()
        .args(args)
        .arg("--out")
        .arg(tmp.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(
        !tmp.path().join("out").exists(),
        "{args:?} wrote outputs before failing"
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn plan_refuses_losses_it_cannot_take() {
    let plan = ["plan", "quickstart", "--vary", "hosts.worker.count=1..30"];
    let target = ["--target", "unschedulable_pct<5", "--seeds", "1"];
    // quickstart's hosts are in site `default`: a typo used to plan for losing nothing.
    let err = fails(&[&plan[..], &target[..], &["--lose", "site=dc-1"]].concat());
    assert!(err.contains("no host group is in that domain"), "{err}");
    assert!(
        err.contains("site="),
        "the sites on offer are listed: {err}"
    );
}

#[test]
fn more_failures_than_hosts_fail_every_candidate_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let o = orchsim()
        .args(["plan", "quickstart", "--vary", "hosts.worker.count=1..4"])
        .args(["--target", "unschedulable_pct<5", "--seeds", "1"])
        .args(["--failures", "10", "--format", "csv", "--out"])
        .arg(tmp.path().join("p"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "no answer");
    let csv = String::from_utf8_lossy(&o.stdout);
    assert!(csv.contains("cannot lose 10 hosts"), "{csv}");
}

#[test]
fn sweep_paths_are_checked_once_before_any_run() {
    let err = fails(&[
        "sweep",
        "quickstart",
        "--set",
        "workloads.web.max_pods=100,101",
        "--set",
        "workloads.web.max_pods=3",
        "--quiet",
    ]);
    assert!(
        err.contains("--set workloads.web.max_pods: given twice"),
        "{err}"
    );
    let err = fails(&[
        "sweep",
        "quickstart",
        "--set",
        "setup.machines=1,2",
        "--quiet",
    ]);
    assert!(err.contains("--set") && err.contains("setup"), "{err}");
}

#[test]
fn a_file_name_that_is_not_there_is_an_error() {
    let err = fails(&["run", "quickstart.toml", "--quiet"]);
    assert!(err.contains("no scenario file `quickstart.toml`"), "{err}");
    assert!(err.contains("`quickstart`"), "{err}");
    let err = fails(&["run", "cluster.yaml", "--quiet"]);
    assert!(err.contains("scenarios are TOML"), "{err}");
}

#[test]
fn bench_checks_its_arguments_before_timing() {
    let err = fails(&["bench", "--repeat", "0"]);
    assert!(err.contains("--repeat: expected at least 1"), "{err}");
    let err = fails(&["bench", "--criterion", "/nonexistent/criterion"]);
    assert!(err.contains("not a directory"), "{err}");
    // A symlink loop is not followed, and a broken estimates file is named, at once: before
    // the minutes of timing, whose results it used to discard.
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("group/bench/new");
    std::fs::create_dir_all(&new).unwrap();
    std::os::unix::fs::symlink(dir.path(), dir.path().join("group/loop")).unwrap();
    std::fs::write(new.join("estimates.json"), "{\"mean\": garbage").unwrap();
    let started = std::time::Instant::now();
    let err = fails(&["bench", "--criterion", dir.path().to_str().unwrap()]);
    assert!(
        err.contains("group/bench/new/estimates.json:1:") && err.contains("estimates JSON"),
        "{err}"
    );
    assert!(
        started.elapsed().as_secs() < 5,
        "the estimates are read before timing"
    );
}

/// A study file with a syntax error is reported as one, even with study-only options.
#[test]
fn a_broken_study_reports_its_syntax_error() {
    let tmp = tempfile::tempdir().unwrap();
    let study = tmp.path().join("broken.toml");
    std::fs::write(
        &study,
        "name = \"b\"\n[study]\nkind = \"gpu-fragmentation\"\nx = \n",
    )
    .unwrap();
    let err = fails(&["run", study.to_str().unwrap(), "--jobs", "1", "--quiet"]);
    assert!(err.contains("broken.toml:4:"), "{err}");
    assert!(!err.contains("is a simulation scenario"), "{err}");
}

#[test]
fn a_run_past_its_event_budget_fails_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("small-budget.toml");
    let text = format!(
        "{}\n[limits]\nmax_events = 2000\n",
        include_str!("../../scenarios/quickstart.toml")
    );
    std::fs::write(&file, text).unwrap();
    let err = fails(&["run", file.to_str().unwrap()]);
    assert!(
        err.contains("budget of 2000 events") && err.contains("[limits] max_events"),
        "{err}"
    );
}

#[test]
fn two_spellings_of_one_setting_are_refused() {
    // `hosts.0` is the host group named `worker`: the second --set would override the first
    // while the rows said otherwise.
    let err = fails(&[
        "sweep",
        "quickstart",
        "--set",
        "hosts.0.count=10,12",
        "--set",
        "hosts.worker.count=14",
    ]);
    assert!(
        err.contains("given twice") && err.contains("both are `hosts.0.count`"),
        "{err}"
    );
    let err = fails(&[
        "plan",
        "quickstart",
        "--target",
        "unschedulable_pct<5",
        "--vary",
        "hosts.worker.count=1..3",
        "--vary",
        "hosts.0.count=1..30",
        "--seeds",
        "1",
    ]);
    assert!(err.contains("the same setting"), "{err}");
}

#[test]
fn a_scenario_name_that_leaves_out_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dots.toml");
    let text = include_str!("../../scenarios/quickstart.toml")
        .replace("name = \"quickstart\"", "name = \"..\"");
    std::fs::write(&file, text).unwrap();
    let err = fails(&["run", file.to_str().unwrap()]);
    assert!(
        err.contains("`name`") && err.contains("out/<name>"),
        "{err}"
    );
}

/// `bench scale` reads every scenario before timing any, writes scale.csv with the run's
/// counts and digest, and `compare` holds a later run to them exactly while leaving the
/// wall-clock columns alone unless a threshold names them.
#[test]
fn bench_scale_times_scenarios_for_compare() {
    let err = fails(&["bench", "scale", "quickstart", "no-such-scenario"]);
    assert!(err.contains("no-such-scenario"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scale");
    let run = orchsim()
        .args(["bench", "scale", "quickstart", "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let csv = std::fs::read_to_string(out.join("scale.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "name,hosts,pods,pods_pending,events,digest,wall_s,events_per_s,pods_per_s,peak_rss_mib"
    );
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    // The quickstart's figures: 20 hosts, and the README's 5,719 pods and digest.
    assert_eq!(&row[..3], ["quickstart", "20", "5719"], "{csv}");
    assert_eq!(row[5], "281afcb20fbdc570735b4f4e0926ab69", "{csv}");
    assert!(row[6].parse::<f64>().unwrap() > 0.0, "{csv}");
    // The same run twice compares clean, however its wall time moved; a changed digest
    // does not.
    let same = orchsim()
        .arg("compare")
        .args([&out, &out])
        .output()
        .unwrap();
    assert!(
        same.status.success(),
        "{}",
        String::from_utf8_lossy(&same.stdout)
    );
    let changed = dir.path().join("changed.csv");
    std::fs::write(
        &changed,
        csv.replace(row[5], "00000000000000000000000000000000"),
    )
    .unwrap();
    let differs = orchsim()
        .arg("compare")
        .arg(out.join("scale.csv"))
        .arg(&changed)
        .output()
        .unwrap();
    assert!(!differs.status.success());
    assert!(String::from_utf8_lossy(&differs.stdout).contains("digest"));
}
