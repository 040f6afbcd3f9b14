//! `run` on a GPU fragmentation study (`[study] kind = "gpu-fragmentation"`): the
//! experiments, their tables beside the published values, the charts, `bench` rows, and
//! `explain --study` (one task's placement, devices included).

use std::time::Instant;

use orchsim_report::charts::{Chart, Series};
use orchsim_report::{Cell, Table};
use orchsim_sched::gpu::policy::{NodeVerdict, Policy, Scored};
use orchsim_sched::gpu::GpuDemand;
use orchsim_sim::gpu_study::{self, Study, StudyInput, StudyResult};

use crate::error::{Error, Result};
use crate::render::View;
use crate::run::{threads, OnProgress, Outcome, Progress, Report, RunOptions};
use crate::source::{Kind, Source};

/// summary.csv's columns: the headline table of a GPU study.
pub const SUMMARY_COLUMNS: [&str; 7] = [
    "policy",
    "arrived_pct",
    "seeds",
    "alloc_pct_mean",
    "published_pct",
    "diff_pp",
    "within_tolerance",
];

/// The numeric columns a plan's target may name.
pub const METRICS: &[&str] = &["alloc_pct_mean", "diff_pp"];

/// The columns of the summary table that name a row rather than measure it: a sweep
/// aggregates over seeds per value of these.
pub const KEY_COLUMNS: &[&str] = &["policy", "arrived_pct"];

/// Parses a GPU study and loads the traces it names.
pub fn load(source: &Source) -> Result<(Study, StudyInput)> {
    let study = gpu_study::parse(&source.origin, &source.text)?;
    let nodes = source.read_beside(&study.nodes)?;
    let tasks = source.read_beside(&study.tasks)?;
    let input = StudyInput::load(&study, (&nodes.0, &nodes.1), (&tasks.0, &tasks.1))?;
    Ok((study, input))
}

/// Applies the options that change a study: its seed, its policies.
fn configure(study: &mut Study, opts: &RunOptions) -> Result<()> {
    if let Some(seed) = opts.seed {
        study.seeds = vec![seed];
    }
    if !opts.policies.is_empty() {
        let mut policies: Vec<Policy> = Vec::new();
        for p in &opts.policies {
            let p = Policy::parse(p)?;
            if policies.contains(&p) {
                return Err(Error::bad_input(format!("--policy: `{p}` is listed twice")));
            }
            policies.push(p);
        }
        study.policies = policies;
    }
    Ok(())
}

pub(crate) fn run(source: &Source, opts: &RunOptions, progress: OnProgress) -> Result<Outcome> {
    let (mut study, input) = load(source)?;
    configure(&mut study, opts)?;
    let runs = study.policies.len() * study.seeds.len();
    let jobs = threads(opts.jobs, runs);
    progress(Progress::Start {
        total: runs as u64,
        unit: "experiments",
    });
    let started = Instant::now();
    let result =
        gpu_study::run_study(&study, &input, jobs, &|_, _| progress(Progress::Advance(1)))?;
    let wall = started.elapsed().as_secs_f64();

    let summary = summary_table(&study, &result)?;
    let digest = result.digest();
    let files: Vec<(&'static str, Vec<u8>)> = vec![
        ("summary.csv", summary.to_csv()),
        ("experiments.csv", experiments_table(&result)?.to_csv()),
        ("curve.csv", curve_table(&result)?.to_csv()),
        ("digest.txt", format!("{digest}\n").into_bytes()),
    ];
    let report = opts.report.then(|| Report {
        title: format!("orchsim study: {}", study.name),
        tables: vec![(
            "Allocation beside the published values".into(),
            summary.clone(),
        )],
        charts: charts(&study, &result),
    });

    let mut headline = View::of(summary);
    headline.before.push(format!(
        "{}: {} polic{} × {} seed{} on {} nodes ({} GPUs); {} trace tasks, inflated to {}% of GPU capacity",
        study.name,
        study.policies.len(),
        if study.policies.len() == 1 { "y" } else { "ies" },
        study.seeds.len(),
        if study.seeds.len() == 1 { "" } else { "s" },
        input.nodes.len(),
        input.total_gpu_milli() / 1000,
        input.tasks.len(),
        study.target_pct
    ));
    // The authors' reduction has a point at a share only where some task arrived within 1% of
    // it: a trace whose tasks are large for the cluster jumps past it, and that comparison
    // would silently be missing.
    let mut warnings = Vec::new();
    for pct in study.compared_shares() {
        let missing: Vec<&str> = study
            .policies
            .iter()
            .filter(|&&p| result.mean_alloc(p, pct).is_none())
            .map(|p| p.name())
            .collect();
        if !missing.is_empty() {
            warnings.push(format!(
                "no curve point at {pct}% arrived for {}: no task arrived within 1% of it (the tasks are large for this cluster, or the target is below it), so that comparison is left out",
                missing.join(", ")
            ));
        }
    }
    if headline.table.rows.is_empty() {
        headline.empty = Some(
            "no comparison: the curves have no point at the compared shares (see the warnings)"
                .into(),
        );
    }
    if let Some(p) = &study.published {
        for &pct in p.alloc_pct.keys() {
            if let Some(same) = result.same_order_as_published(&study, pct) {
                headline.after.push(format!(
                    "policy order at {pct}% arrived: {}",
                    if same {
                        "same as published"
                    } else {
                        "DIFFERS from published"
                    }
                ));
            }
        }
        headline.after.push(format!("published: {}", p.source));
    }
    headline.after.push(format!(
        "wall       {wall:.1} s on {jobs} thread(s), {:.2} s per experiment",
        wall * jobs.min(runs) as f64 / runs.max(1) as f64
    ));
    headline.after.push(format!("digest     {digest}"));
    Ok(Outcome {
        name: study.name.clone(),
        files,
        headline,
        digest,
        report,
        source_text: source.text.clone(),
        warnings,
    })
}

fn summary_table(study: &Study, result: &StudyResult) -> Result<Table> {
    let tol = study.published.as_ref().map(|p| p.tolerance_pp);
    let mut t = Table::new(SUMMARY_COLUMNS);
    for c in result.comparisons(study) {
        let diff = c.diff_pp();
        t.push(vec![
            c.policy.name().into(),
            Cell::UInt(u64::from(c.arrived_pct)),
            Cell::UInt(c.seeds as u64),
            Cell::Float(c.mean_alloc_pct, 2),
            c.published_pct.map_or(Cell::Empty, |v| Cell::Float(v, 1)),
            diff.map_or(Cell::Empty, |d| Cell::Float(d, 2)),
            match (diff, tol) {
                (Some(d), Some(tol)) => (if d.abs() <= tol { "yes" } else { "no" }).into(),
                _ => Cell::Empty,
            },
        ])?;
    }
    Ok(t)
}

fn experiments_table(result: &StudyResult) -> Result<Table> {
    let mut t = Table::new([
        "policy",
        "seed",
        "tasks",
        "failed",
        "arrived_pct_final",
        "alloc_pct_final",
        "frag_pct_final",
        "digest",
    ]);
    for e in &result.experiments {
        let last = e.steps.last();
        let total = e.total_gpu_milli as f64;
        t.push(vec![
            e.policy.name().into(),
            Cell::UInt(e.seed),
            Cell::UInt(e.tasks as u64),
            Cell::UInt(e.failed as u64),
            last.map_or(Cell::Empty, |s| {
                Cell::Float(s.arrived_milli as f64 / total * 100.0, 2)
            }),
            last.map_or(Cell::Empty, |s| {
                Cell::Float(s.allocated_milli as f64 / total * 100.0, 2)
            }),
            last.map_or(Cell::Empty, |s| {
                Cell::Float(s.fragment_milli / total * 100.0, 2)
            }),
            e.digest.as_str().into(),
        ])?;
    }
    Ok(t)
}

fn curve_table(result: &StudyResult) -> Result<Table> {
    let mut t = Table::new([
        "policy",
        "seed",
        "arrived_pct",
        "alloc_pct",
        "frag_pct",
        "frag_ratio_pct",
    ]);
    for e in &result.experiments {
        for p in &e.curve {
            t.push(vec![
                e.policy.name().into(),
                Cell::UInt(e.seed),
                Cell::UInt(u64::from(p.arrived_pct)),
                Cell::Float(p.alloc_pct, 2),
                Cell::Float(p.frag_pct, 2),
                Cell::Float(p.frag_ratio_pct, 2),
            ])?;
        }
    }
    Ok(t)
}

/// Fig. 9(a)-style curves: the mean over seeds per policy, allocation and fragmentation
/// against arrived workload.
fn charts(study: &Study, result: &StudyResult) -> Vec<Chart> {
    let mean_series = |f: fn(&gpu_study::CurvePoint) -> f64| -> Vec<Series> {
        study
            .policies
            .iter()
            .map(|&policy| {
                let mut by_pct: std::collections::BTreeMap<u32, (f64, usize)> =
                    std::collections::BTreeMap::new();
                for e in result.experiments.iter().filter(|e| e.policy == policy) {
                    for p in &e.curve {
                        let slot = by_pct.entry(p.arrived_pct).or_default();
                        slot.0 += f(p);
                        slot.1 += 1;
                    }
                }
                // The CLI's name first, the paper's beside it where they differ.
                let label = if policy.name().eq_ignore_ascii_case(policy.paper_name()) {
                    policy.name().to_string()
                } else {
                    format!("{} ({})", policy.name(), policy.paper_name())
                };
                Series::line(
                    label,
                    by_pct
                        .into_iter()
                        .map(|(x, (sum, n))| (f64::from(x), sum / n as f64))
                        .collect(),
                )
            })
            .collect()
    };
    vec![
        Chart::new(
            "gpu-alloc",
            "GPU allocation ratio against arrived workload (mean over seeds)",
            "arrived workload (% of GPU capacity)",
            "GPU allocation ratio (%)",
            mean_series(|p| p.alloc_pct),
        ),
        Chart::new(
            "gpu-frag",
            "Fragmented GPU against arrived workload (mean over seeds)",
            "arrived workload (% of GPU capacity)",
            "fragment GPU (% of capacity)",
            mean_series(|p| p.frag_pct),
        ),
    ]
}

/// `orchsim bench` rows for a study scenario: one experiment per policy (the first seed) on
/// one thread, best of `repeat`; `events` is the tasks submitted.
pub fn bench_rows(source: &Source, repeat: usize, t: &mut Table) -> Result<()> {
    let (study, input) = load(source)?;
    for &policy in &study.policies {
        let mut best = f64::MAX;
        let mut tasks = 0;
        for _ in 0..repeat {
            let started = Instant::now();
            let e = gpu_study::run_experiment(&study, &input, policy, study.seeds[0]);
            best = best.min(started.elapsed().as_secs_f64());
            tasks = e.tasks;
        }
        t.push(vec![
            format!("study/{}/{}", study.name, policy.name()).into(),
            Cell::Float(best, 6),
            Cell::UInt(tasks as u64),
            Cell::Float(tasks as f64 / best, 0),
            Cell::Float(tasks as f64 / best, 0),
            Cell::Empty,
            Cell::Empty,
        ])?;
    }
    Ok(())
}

/// `orchsim explain --study`: replays one experiment for `after` tasks and explains the
/// placement of the next one, devices included.
/// The table (CSV) lists every feasible node, best first; the text shows the `top` best.
pub fn explain(
    source: &Source,
    policy: Option<&str>,
    seed: Option<u64>,
    after: usize,
    top: usize,
) -> Result<View> {
    if source.kind() != Kind::GpuStudy {
        return Err(Error::bad_input(format!(
            "{} is {}; --study explains GPU study placements",
            source.origin,
            source.kind().describe()
        )));
    }
    let (study, input) = load(source)?;
    let policy = match policy {
        Some(p) => Policy::parse(p)?,
        None => study.policies[0],
    };
    let seed = seed.unwrap_or(study.seeds[0]);
    let replay = gpu_study::Replay::new(&study, &input, policy, seed);
    if after >= replay.order.len() {
        return Err(Error::bad_input(match replay.order.len() {
            0 => format!("--after {after}: the experiment has no tasks (target_pct removed them all)"),
            n => format!(
                "--after {after}: the experiment has {n} tasks (0..={} may come before the one explained)",
                n - 1
            ),
        }));
    }
    // The world runs the tasks before this one; the scheduler it leaves explains this one.
    let (_, cluster, mut scheduler) = replay.run(after);
    let task = replay.order[after].clone();
    let pod = replay
        .pod(after)
        .ok_or_else(|| Error::internal(format!("task {after} has no pod")))?;
    let e = scheduler.explain(cluster.nodes(), &pod);
    let view = cluster.nodes();
    let models = &replay.models;
    let mut feasible: Vec<(&NodeVerdict, &Scored)> = e
        .verdicts
        .iter()
        .filter_map(|v| v.outcome.as_ref().ok().map(|s| (v, s)))
        .collect();
    feasible.sort_by(|a, b| b.1.score.cmp(&a.1.score).then(a.0.rank.cmp(&b.0.rank)));
    let mut filtered: std::collections::BTreeMap<String, usize> = Default::default();
    for v in &e.verdicts {
        if let Err(m) = &v.outcome {
            *filtered.entry(m.kind().to_string()).or_default() += 1;
        }
    }
    let model_name = |i: usize| view[i].gpus.model.as_deref().unwrap_or("-");
    let free_list = |i: usize| {
        view[i]
            .gpu_free()
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
    };
    let gpu_text = match task.gpu {
        GpuDemand::None => "no GPU".to_string(),
        GpuDemand::Shared(m) => format!("{m} milli of one shared GPU"),
        GpuDemand::Whole(k) => format!("{k} whole GPU(s)"),
    };
    let accepted: Vec<&str> = task.models.iter().map(|&m| models.name(m)).collect();
    let nodes: Vec<serde_json::Value> = feasible
        .iter()
        .map(|(v, s)| {
            serde_json::json!({
                "name": view[v.node].name,
                "rank": v.rank,
                "model": view[v.node].gpus.model,
                "cpu_free_milli": view[v.node].free().cpu_milli,
                "gpu_free_milli": view[v.node].gpu_free(),
                "raw": s.raw,
                "score": s.score,
                "devices": s.devices,
            })
        })
        .collect();
    let json = serde_json::json!({
        "study": study.name,
        "policy": policy.name(),
        "seed": seed,
        "task_index": after,
        "task": {
            "cpu_milli": task.cpu_milli,
            "memory_bytes": task.memory_bytes,
            "gpu_count": task.gpu.count(),
            "gpu_milli_per_device": task.gpu.milli_per_gpu(),
            "models": accepted,
        },
        "chosen": e.chosen.as_ref().map(|p| serde_json::json!({
            "node": view[p.node].name,
            "devices": p.devices,
        })),
        "filtered": filtered,
        "nodes": nodes,
    });
    let mut t = Table::new([
        "node",
        "rank",
        "model",
        "cpu_free_milli",
        "gpu_free_milli",
        "raw",
        "score",
        "devices",
    ]);
    for (v, s) in &feasible {
        t.push(vec![
            view[v.node].name.as_str().into(),
            Cell::UInt(u64::from(v.rank)),
            model_name(v.node).into(),
            Cell::UInt(view[v.node].free().cpu_milli),
            free_list(v.node).join(" ").into(),
            Cell::Int(s.raw),
            Cell::Int(s.score),
            s.devices
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(" ")
                .into(),
        ])?;
    }
    // The text shows the best `top`; CSV and JSON list every feasible node.
    let mut shown = t.clone();
    shown.rows.truncate(top);
    let mut text = format!(
        "task {after} of {} ({} policy, seed {seed}): cpu {}m, memory {} MiB, {gpu_text}, models {}\n",
        replay.order.len(),
        policy.name(),
        task.cpu_milli,
        task.memory_bytes >> 20,
        if accepted.is_empty() {
            "any".to_string()
        } else {
            accepted.join("|")
        }
    );
    text += &format!(
        "feasible nodes: {} of {} (best {} shown; ties go to the lower rank)\n",
        feasible.len(),
        view.len(),
        shown.rows.len()
    );
    text += &shown.to_text();
    for (reason, n) in &filtered {
        text += &format!("filtered: {n} node(s): {reason}\n");
    }
    text += &match &e.chosen {
        Some(p) => format!(
            "chosen: {} devices [{}]\n",
            view[p.node].name,
            p.devices
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => "unschedulable: no node fits\n".into(),
    };
    let mut out = View::of(t);
    out.json = Some(json);
    out.text = Some(text);
    Ok(out)
}
