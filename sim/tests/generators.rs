//! Synthetic generators in the world: arrivals that follow a diurnal curve hour by hour, job
//! sizes drawn from a distribution, one priority per job in the stated proportions —
//! expectations computed from the parameters, not from a run.

use std::collections::BTreeMap;

use orchsim_sim::{parse, run, RunResult};

fn generated(workload: &str, duration_s: u64) -> RunResult {
    let text = format!(
        r#"
name = "gen"
seed = 11
duration_s = {duration_s}
[[hosts]]
name = "w"
count = 50
cpu_milli = 64000
memory_mib = 262144
pods = 1000
[[workloads]]
name = "jobs"
kind = "batch"
cpu_milli = 10
memory_mib = 10
duration_s = 1
{workload}
"#
    );
    run(&parse("gen.toml", &text).unwrap()).unwrap()
}

/// Pods per job, by job.
fn job_sizes(r: &RunResult) -> BTreeMap<usize, Vec<i32>> {
    let mut jobs: BTreeMap<usize, Vec<i32>> = BTreeMap::new();
    for p in &r.records {
        jobs.entry(p.job).or_default().push(p.spec.priority);
    }
    jobs
}

/// Two days at a mean of 0.2 jobs/s, ±60 % around a 14:00 peak: each hour of the day gets
/// its integral of the rate, within five standard deviations of a Poisson count.
#[test]
fn arrivals_follow_the_diurnal_curve_hour_by_hour() {
    let (mean, amplitude, peak) = (0.2, 0.6, 50_400.0);
    let r = generated(
        &format!("arrival_rate_per_s = {{ kind = \"diurnal\", mean = {mean}, amplitude = {amplitude}, period_s = 86400, peak_s = {peak} }}"),
        2 * 86_400,
    );
    let mut per_hour = [0u64; 24];
    for p in &r.records {
        let s = p.submitted.as_nanos() / 1_000_000_000;
        per_hour[((s / 3600) % 24) as usize] += 1;
    }
    let w = std::f64::consts::TAU / 86_400.0;
    for (h, &got) in per_hour.iter().enumerate() {
        let (a, b) = (h as f64 * 3600.0, (h + 1) as f64 * 3600.0);
        let one_day =
            mean * ((b - a) + amplitude * ((w * (b - peak)).sin() - (w * (a - peak)).sin()) / w);
        let expected = 2.0 * one_day;
        assert!(
            (got as f64 - expected).abs() < 5.0 * expected.sqrt(),
            "hour {h}: {got} arrivals, expected {expected:.0}"
        );
    }
    // The peak hour has about four times the trough's arrivals: (1 + 0.6) / (1 − 0.6).
    let ratio = per_hour[14] as f64 / per_hour[2] as f64;
    assert!((3.0..5.5).contains(&ratio), "peak/trough {ratio}");
}

/// Job sizes from a truncated Pareto: the share of jobs with at least k pods is the
/// distribution's P(X ≥ k − ½) (sizes are rounded); every pod of a job is submitted with it.
#[test]
fn job_sizes_follow_their_distribution() {
    let r = generated(
        "arrival_rate_per_s = 5\ntasks = { dist = \"pareto\", min = 1, alpha = 1.2, max = 200 }",
        2000,
    );
    let jobs = job_sizes(&r);
    let n = jobs.len() as f64;
    assert!(n > 8000.0, "{n} jobs");
    let survival = |x: f64| {
        let cut = (1.0_f64 / 200.0).powf(1.2);
        (x.powf(-1.2) - cut) / (1.0 - cut)
    };
    for k in [2usize, 5, 20, 100] {
        let share = jobs.values().filter(|p| p.len() >= k).count() as f64 / n;
        let expected = survival(k as f64 - 0.5);
        let sd = (expected * (1.0 - expected) / n).sqrt();
        assert!(
            (share - expected).abs() < 5.0 * sd + 1e-3,
            "P(size >= {k}) = {share}, expected {expected}"
        );
    }
    let mut first = BTreeMap::new();
    for p in &r.records {
        let t = *first.entry(p.job).or_insert(p.submitted);
        assert_eq!(p.submitted, t, "{} left its job", p.spec.name);
    }
}

/// Priority bands: one priority per job, drawn in the stated proportions.
#[test]
fn priorities_are_drawn_per_job_in_proportion() {
    let r = generated(
        "arrival_rate_per_s = 5\ntasks = [1, 4]\npriority = { dist = \"choice\", values = [0, 4, 10], weights = [6, 3, 1] }",
        2000,
    );
    let jobs = job_sizes(&r);
    let n = jobs.len() as f64;
    for pods in jobs.values() {
        assert!(
            pods.iter().all(|p| *p == pods[0]),
            "a job with mixed priorities: {pods:?}"
        );
    }
    for (value, weight) in [(0, 0.6), (4, 0.3), (10, 0.1)] {
        let share = jobs.values().filter(|p| p[0] == value).count() as f64 / n;
        let sd = (weight * (1.0 - weight) / n).sqrt();
        assert!(
            (share - weight).abs() < 5.0 * sd,
            "priority {value}: {share}, expected {weight}"
        );
    }
}
