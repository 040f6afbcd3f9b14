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

/// Reads a scenario's files from the repository's `data/`.
struct RepoData;

impl orchsim_sim::ScenarioFiles for RepoData {
    fn read(&self, path: &str) -> Result<(String, String), String> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(path);
        std::fs::read_to_string(&p)
            .map(|t| (path.to_string(), t))
            .map_err(|e| format!("{}: {e}", p.display()))
    }
}

/// Alibaba's GPU trace measured, its generator run for the trace's 149 days, the run's pods
/// measured again: the generator reproduces the rate, the daily cycle, the request and
/// run-time percentiles and the GPU shares it was written from.
#[test]
fn a_measured_trace_and_its_generator_have_the_same_shape() {
    use orchsim_sim::characterize::{measure, DAY_S};
    let traced = r#"
name = "gpu"
duration_s = 12902400
[trace]
format = "alibaba-gpu-v2023"
nodes = "data/alibaba-gpu-v2023/openb_node_list_all_node.csv"
pods = "data/alibaba-gpu-v2023/openb_pod_list_default.csv"
arrivals = "creation-time"
departures = true
"#;
    let s = orchsim_sim::parse_with_files("gpu.toml", traced, &RepoData).unwrap();
    let pods = &s.trace.as_ref().unwrap().pods;
    let original = measure("gpu.toml", pods, DAY_S);
    let generated = format!(
        "name = \"gen\"\nseed = 5\nduration_s = {}\nsample_interval_s = 86400\n\
         [[hosts]]\nname = \"g\"\ncount = 4\ncpu_milli = 128000\nmemory_mib = 1048576\ngpus = 8\ngpu_model = \"V100M32\"\n{}",
        original.span_s.ceil(),
        original.workloads_toml()
    );
    let r = run(&parse("gen.toml", &generated).unwrap()).unwrap();
    let again: Vec<orchsim_sim::scenario::TracePod> = r
        .records
        .iter()
        .map(|p| {
            let mut t = orchsim_sim::scenario::TracePod::new(
                (*p.spec).clone(),
                p.submitted.since(orchsim_kernel::SimTime::ZERO),
                p.run_for,
            );
            t.priority = p.spec.priority;
            t
        })
        .collect();
    let remeasured = measure("gen.toml", &again, DAY_S);
    let (a, b) = (&original.classes[0], &remeasured.classes[0]);
    assert_eq!((a.kind, b.kind), ("batch", "batch"));
    let close = |what: &str, x: f64, y: f64, tol: f64| {
        assert!(
            (x / y - 1.0).abs() < tol,
            "{what}: trace {x}, generated {y}"
        );
    };
    close("rate", a.rate_per_s, b.rate_per_s, 0.05);
    let (ca, cb) = (a.cycle.unwrap(), b.cycle.unwrap());
    assert!(
        (ca.amplitude - cb.amplitude).abs() < 0.06,
        "{ca:?} vs {cb:?}"
    );
    let apart = (ca.peak_s - cb.peak_s).abs();
    assert!(apart.min(DAY_S - apart) < 3600.0, "{ca:?} vs {cb:?}");
    // Medians and 90th percentiles of every quantity (p1 .. p99 move with the sample).
    for i in [5, 7] {
        close(
            "cpu",
            a.cpu_milli.percentiles[i],
            b.cpu_milli.percentiles[i],
            0.1,
        );
        close(
            "memory",
            a.memory_mib.percentiles[i],
            b.memory_mib.percentiles[i],
            0.1,
        );
        let (da, db) = (
            a.duration_s.as_ref().unwrap(),
            b.duration_s.as_ref().unwrap(),
        );
        close("duration", da.percentiles[i], db.percentiles[i], 0.15);
    }
    // GPU requests: the share of whole-GPU pods and of pods without a GPU.
    let share = |m: &orchsim_sim::characterize::Class, v: f64| {
        let values = m.gpu_milli.as_ref().unwrap().values.as_ref().unwrap();
        values.iter().filter(|x| x.0 == v).map(|x| x.1).sum::<u64>() as f64 / m.pods as f64
    };
    for v in [0.0, 1000.0] {
        assert!(
            (share(a, v) - share(b, v)).abs() < 0.03,
            "GPU {v}: {} vs {}",
            share(a, v),
            share(b, v)
        );
    }
}

/// The embedded Google-shaped cell holds the published aggregates it was built from: more
/// than 80 % of its jobs are batch, and service jobs hold 55–80 % of the allocated CPU
/// (Omega, EuroSys 2013 §2.1), here as CPU-time requested by running pods over the day.
#[test]
fn the_google_shaped_cell_matches_omegas_mix() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/google-shaped.toml"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let s = parse("google-shaped.toml", &text).unwrap();
    let r = run(&s).unwrap();
    let end = r.summary.sim_time;
    let mut jobs: BTreeMap<usize, (usize, bool)> = BTreeMap::new();
    let (mut service_cpu, mut all_cpu) = (0.0, 0.0);
    for p in &r.records {
        let service = p.run_for.is_none();
        jobs.insert(p.job, (p.workload, service));
        if let Some(start) = p.started {
            let held = p.finished.unwrap_or(end).since(start).as_secs_f64();
            let cpu = p.spec.requests.cpu_milli as f64 * held;
            all_cpu += cpu;
            if service {
                service_cpu += cpu;
            }
        }
    }
    // The standing population is not part of the job mix: it was there before the day.
    let standing = s
        .workloads
        .iter()
        .position(|w| w.name == "prod-running")
        .unwrap();
    let arriving: Vec<bool> = jobs
        .values()
        .filter(|(w, _)| *w != standing)
        .map(|(_, service)| *service)
        .collect();
    let batch = arriving.iter().filter(|s| !**s).count() as f64 / arriving.len() as f64;
    assert!(batch > 0.8, "batch jobs {batch}");
    let share = service_cpu / all_cpu;
    assert!(
        (0.55..=0.80).contains(&share),
        "services hold {share} of the CPU"
    );
    // The scenario's header figures.
    assert_eq!(r.records.len(), 31_100);
    assert!(
        (0.72..0.75).contains(&share),
        "the header says about 73 %: {share}"
    );
}
