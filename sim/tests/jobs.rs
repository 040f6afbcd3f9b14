//! Kubernetes Jobs in the world: completions in waves of `parallelism`, failed pods replaced
//! after the Job controller's back-off (10 s × 2^(failures − 1)), the Job failed past its
//! `backoff_limit`, `OnFailure` restarts counted as failures — times derived here from the
//! upstream constants, not from a run.

use orchsim_kernel::{SimDuration, SimTime};
use orchsim_sim::jobs::JobSpec;
use orchsim_sim::{parse, run, PodState, RunResult};

/// One Job at 10 s of 100-s pods on a cluster with room for all; `job` is its table, `extra`
/// more TOML (faults).
fn one_job(job: &str, extra: &str) -> RunResult {
    let text = format!(
        r#"
name = "job"
seed = 2
duration_s = 2000
[[hosts]]
name = "w"
count = 2
cpu_milli = 8000
memory_mib = 32768
[[workloads]]
name = "train"
kind = "batch"
arrival_rate_per_s = 1000
start_s = 10
cpu_milli = 1000
memory_mib = 1024
duration_s = 100
{job}
[scheduler]
algorithm = "kubernetes"
cost = {{ t_job_ms = 0, t_task_ms = 0, t_node_us = 0 }}
[orchestrator]
preset = "kubernetes"
{extra}
"#
    );
    run(&parse("job.toml", &text).unwrap()).unwrap()
}

fn secs(t: SimTime) -> f64 {
    t.as_nanos() as f64 / 1e9
}

/// Most pods of the run running at once.
fn peak_running(r: &RunResult) -> usize {
    let mut edges: Vec<(SimTime, i32)> = Vec::new();
    for p in &r.records {
        if let Some(s) = p.started {
            edges.push((s, 1));
            edges.push((p.finished.unwrap_or(r.summary.sim_time), -1));
        }
    }
    edges.sort();
    let (mut now, mut peak) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        peak = peak.max(now);
    }
    peak as usize
}

#[test]
fn a_job_runs_its_completions_in_waves_of_its_parallelism() {
    let r = one_job(
        "job = { completions = 6, parallelism = 2, max_jobs = 1 }",
        "",
    );
    assert_eq!(r.records.len(), 6);
    assert!(r.records.iter().all(|p| p.state == PodState::Finished));
    assert_eq!(peak_running(&r), 2);
    assert_eq!(r.summary.jobs_succeeded, Some(1));
    assert_eq!(r.summary.jobs_failed, Some(0));
    // Three waves of 100 s from the arrival (at about 10 s).
    let d = r.summary.job_duration_mean.unwrap().as_secs_f64();
    assert!((d - 300.0).abs() < 1e-6, "{d}");
}

#[test]
fn failed_pods_are_replaced_after_the_controllers_backoff() {
    // Both pods of the first wave crash at 50 s: two failures, so the controller waits
    // 10 s × 2 = 20 s before it creates their replacements.
    let crash = "[[faults]]\nname = \"oom\"\nworkload = \"train\"\nat_s = 50\n";
    let r = one_job(
        "restart_policy = \"Never\"\njob = { completions = 2, parallelism = 2, max_jobs = 1 }",
        crash,
    );
    assert_eq!(r.summary.pods_failed, 2);
    let backoff = JobSpec::backoff(2).as_secs_f64();
    assert_eq!(backoff, 20.0);
    let replacements: Vec<f64> = r
        .records
        .iter()
        .filter(|p| p.state == PodState::Finished)
        .map(|p| secs(p.submitted))
        .collect();
    assert_eq!(replacements.len(), 2);
    assert!(
        replacements
            .iter()
            .all(|&t| (t - (50.0 + backoff)).abs() < 1e-9),
        "{replacements:?}"
    );
    assert_eq!(r.summary.jobs_succeeded, Some(1));
    let d = r.summary.job_duration_mean.unwrap().as_secs_f64();
    let arrival = r
        .records
        .iter()
        .map(|p| secs(p.submitted))
        .fold(f64::MAX, f64::min);
    assert!((d - (50.0 + backoff + 100.0 - arrival)).abs() < 1e-6, "{d}");
}

#[test]
fn past_its_backoff_limit_a_job_fails_and_its_pods_are_deleted() {
    let crash = "[[faults]]\nname = \"oom\"\nworkload = \"train\"\nat_s = 50\n";
    // Never: two failures against a limit of 1.
    let r = one_job(
        "job = { completions = 4, parallelism = 2, max_jobs = 1, backoff_limit = 1 }",
        crash,
    );
    assert_eq!(r.summary.jobs_failed, Some(1));
    assert_eq!(r.summary.jobs_succeeded, Some(0));
    assert_eq!(r.summary.pods_failed, 2);
    assert_eq!(r.records.len(), 2, "no replacement once the Job failed");
    // OnFailure with a limit of 0: the first restart fails the Job; its pods are deleted,
    // none failed.
    let r = one_job(
        "restart_policy = \"OnFailure\"\njob = { completions = 4, parallelism = 2, max_jobs = 1, backoff_limit = 0 }",
        crash,
    );
    assert_eq!(r.summary.jobs_failed, Some(1));
    assert_eq!(r.summary.pods_failed, 0);
    assert!(r.records.iter().all(|p| p.state == PodState::Deleted));
    assert!(r
        .records
        .iter()
        .all(|p| p.finished == Some(SimTime::ZERO + SimDuration::from_secs(50))));
    // OnFailure within the limit: restarted in place at once (the kubelet's first restart),
    // the Job completes 100 s after the restart.
    let r = one_job(
        "restart_policy = \"OnFailure\"\njob = { completions = 2, parallelism = 2, max_jobs = 1 }",
        crash,
    );
    assert_eq!(r.summary.jobs_succeeded, Some(1));
    assert!(r.records.iter().all(|p| p.restarts_in_place == 1));
}

#[test]
fn a_job_table_is_checked() {
    let bad = |job: &str, want: &str| {
        let text = format!(
            "name = \"x\"\nduration_s = 10\n[[hosts]]\nname = \"w\"\ncpu_milli = 1000\nmemory_mib = 1024\n[[workloads]]\nname = \"t\"\nkind = \"batch\"\narrival_rate_per_s = 1\ncpu_milli = 100\nmemory_mib = 100\nduration_s = 1\n{job}\n"
        );
        let e = parse("x.toml", &text).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
    };
    bad(
        "restart_policy = \"Always\"\njob = {}",
        "may not restart `Always`",
    );
    bad("job = { completions = 0 }", "workloads[0].job.completions");
    bad("tasks = [2, 2]\njob = {}", "no `tasks` or `max_pods`");
    bad(
        "job = { parallelism = 2 }\n[orchestrator]\npreset = \"swarm\"",
        "orchestrator.preset",
    );
}
