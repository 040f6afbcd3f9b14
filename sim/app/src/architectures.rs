//! `run` on a scheduler-architectures study (`[study] kind = "scheduler-architectures"`):
//! every architecture at every swept decision time, curve.csv and shares.csv, the table of
//! the curve, the paper's charts, and the `bench` row.

use std::time::Instant;

use orchsim_report::charts::{Axis, Chart, Series};
use orchsim_report::{Cell, Table};
use orchsim_sim::architectures::{self, RunStats};

use crate::error::{Error, Result};
use crate::render::View;
use crate::run::{threads, OnProgress, Outcome, Progress, Report, RunOptions};
use crate::source::Source;

/// curve.csv's columns: the headline table of the architectures study.
pub const CURVE_COLUMNS: [&str; 25] = [
    "architecture",
    "t_job_s",
    "workload",
    "jobs",
    "scheduled",
    "abandoned",
    "pending",
    "tasks_placed",
    "queue_mean_s",
    "queue_p90_s",
    "wait_first_mean_s",
    "wait_first_p90_s",
    "wait_last_mean_s",
    "wait_last_p90_s",
    "dominant_share_mean",
    "scheduler",
    "busyness",
    "transactions",
    "conflicts",
    "conflict_fraction",
    "no_room",
    "retries",
    "offers_received",
    "offers_declined",
    "offers_rescinded",
];

/// The columns of curve.csv that name a row rather than measure it: a sweep aggregates over
/// seeds per value of these.
pub const KEY_COLUMNS: &[&str] = &["architecture", "t_job_s", "workload", "scheduler"];

/// `orchsim bench` row: the whole study on one thread, best of `repeat`; `events` counts
/// the jobs submitted over all runs.
pub fn bench_row(source: &Source, repeat: usize, t: &mut Table) -> Result<()> {
    let study = architectures::parse(&source.origin, &source.text)?;
    let mut best = f64::MAX;
    let mut jobs = 0;
    for _ in 0..repeat {
        let started = Instant::now();
        let results = architectures::run_study(&study, 1)?;
        best = best.min(started.elapsed().as_secs_f64());
        jobs = results
            .iter()
            .flat_map(|r| r.workloads.iter().map(|w| w.jobs))
            .sum::<u64>();
    }
    t.push(vec![
        format!("study/{}", study.name).into(),
        Cell::Float(best, 6),
        Cell::UInt(jobs),
        Cell::Float(jobs as f64 / best, 0),
        Cell::Empty,
        Cell::Empty,
        Cell::Empty,
    ])?;
    Ok(())
}

pub(crate) fn run(source: &Source, opts: &RunOptions, progress: OnProgress) -> Result<Outcome> {
    let mut study = architectures::parse(&source.origin, &source.text)?;
    if let Some(seed) = opts.seed {
        study.seed = seed;
    }
    let runs = study.architectures.len() * study.t_job_s.len();
    let jobs = threads(opts.jobs, runs);
    progress(Progress::Start {
        total: runs as u64,
        unit: "runs",
    });
    let started = Instant::now();
    let results = architectures::run_study(&study, jobs)?;
    progress(Progress::At(runs as u64));
    let wall = started.elapsed().as_secs_f64();
    if let Some((r, e)) = results
        .iter()
        .find_map(|r| r.audit_error.as_ref().map(|e| (r, e)))
    {
        return Err(Error::internal(format!(
            "{} at t_job {} s failed its audit: {e}",
            r.architecture.name(),
            r.t_job_s
        )));
    }
    let curve = curve_table(&study, &results)?;
    let digest = orchsim_sim::combine_digests(results.iter().map(|r| r.digest.as_str()));
    let mut shares = Table::new([
        "architecture",
        "t_job_s",
        "time_s",
        "workload",
        "dominant_share",
    ]);
    for r in &results {
        for (time, v) in &r.shares {
            for (w, share) in v.iter().enumerate() {
                shares.push(vec![
                    r.architecture.name().into(),
                    Cell::Float(r.t_job_s, 3),
                    Cell::Float(*time, 1),
                    study.setup.workloads[w].name.as_str().into(),
                    Cell::Float(*share, 4),
                ])?;
            }
        }
    }
    let files: Vec<(&'static str, Vec<u8>)> = vec![
        ("curve.csv", curve.to_csv()),
        ("shares.csv", shares.to_csv()),
        ("digest.txt", format!("{digest}\n").into_bytes()),
    ];
    let summary = summary_table(&results, study.setup.swept)?;
    let report = opts.report.then(|| Report {
        title: format!("orchsim study: {} (seed {})", study.name, study.seed),
        tables: vec![("Curve".into(), summary.clone())],
        charts: charts(&study, &results),
    });
    // JSON and CSV print the whole curve; the text, its summary.
    let mut headline = View::of(curve);
    let mut text = format!(
        "{}: {} architectures × {} values of {}'s t_job; {} machines, {} s simulated, seed {}\n",
        study.name,
        study.architectures.len(),
        study.t_job_s.len(),
        study.setup.workloads[study.setup.swept].name,
        study.setup.machines,
        study.setup.duration_s,
        study.seed
    );
    text += &summary.to_text();
    text += &format!("wall       {wall:.1} s on {jobs} thread(s)\n");
    text += &format!("digest     {digest}\n");
    headline.text = Some(text);
    Ok(Outcome {
        name: study.name.clone(),
        files,
        headline,
        digest,
        report,
        source_text: source.text.clone(),
        warnings: Vec::new(),
    })
}

/// Empty where no job got that far.
fn float(x: Option<f64>, d: usize) -> Cell {
    x.filter(|x| x.is_finite())
        .map_or(Cell::Empty, |x| Cell::Float(x, d))
}

/// One row per (architecture, t_job, workload) with the workload's scheduler's counters.
fn curve_table(study: &architectures::Study, results: &[RunStats]) -> Result<Table> {
    let mut t = Table::new(CURVE_COLUMNS);
    let duration_ns = study.setup.duration_s * 1e9;
    for r in results {
        for (w, ws) in r.workloads.iter().enumerate() {
            let s = if r.schedulers.len() == 1 {
                &r.schedulers[0]
            } else {
                &r.schedulers[w]
            };
            let ok = s.transactions.saturating_sub(s.conflicts);
            t.push(vec![
                r.architecture.name().into(),
                Cell::Float(r.t_job_s, 3),
                ws.name.as_str().into(),
                Cell::UInt(ws.jobs),
                Cell::UInt(ws.scheduled),
                Cell::UInt(ws.abandoned),
                Cell::UInt(ws.pending),
                Cell::UInt(ws.pods_placed),
                float(ws.queue_mean_s, 3),
                float(ws.queue_p90_s, 3),
                float(ws.wait_first_mean_s, 3),
                float(ws.wait_first_p90_s, 3),
                float(ws.wait_last_mean_s, 3),
                float(ws.wait_last_p90_s, 3),
                Cell::Float(ws.dominant_share_mean.unwrap_or(0.0), 4),
                s.name.as_str().into(),
                Cell::Float(s.busy_ns as f64 / duration_ns, 4),
                Cell::UInt(s.transactions),
                Cell::UInt(s.conflicts),
                // Conflicts per successful transaction, as the Omega paper counts them.
                if ok > 0 {
                    Cell::Float(s.conflicts as f64 / ok as f64, 4)
                } else {
                    Cell::Empty
                },
                Cell::UInt(s.no_room),
                Cell::UInt(s.retries),
                Cell::UInt(s.offers_received),
                Cell::UInt(s.offers_declined),
                Cell::UInt(s.offers_rescinded),
            ])?;
        }
    }
    Ok(t)
}

/// The curve at a glance: per run, each workload's mean wait to its last task and pending
/// jobs, and the swept scheduler's busyness and conflict fraction.
fn summary_table(results: &[RunStats], swept: usize) -> Result<Table> {
    let names: Vec<String> = results
        .first()
        .map(|r| r.workloads.iter().map(|w| w.name.clone()).collect())
        .unwrap_or_default();
    let mut cols = vec!["architecture".to_string(), "t_job_s".into()];
    for n in &names {
        cols.push(format!("{n}_wait_s"));
        cols.push(format!("{n}_pending"));
        cols.push(format!("{n}_busy"));
    }
    cols.push("swept_conflicts_per_txn".into());
    let mut t = Table::new(cols);
    for r in results {
        let mut row: Vec<Cell> = vec![r.architecture.name().into(), Cell::Float(r.t_job_s, 3)];
        let duration: f64 = r.duration_s * 1e9;
        for (w, ws) in r.workloads.iter().enumerate() {
            let s = &r.schedulers[if r.schedulers.len() == 1 { 0 } else { w }];
            row.push(float(ws.wait_last_mean_s, 2));
            row.push(Cell::UInt(ws.pending + ws.abandoned));
            row.push(Cell::Float(s.busy_ns as f64 / duration, 2));
        }
        // The swept scheduler's conflicts per successful transaction (Omega's measure).
        let s = &r.schedulers[if r.schedulers.len() == 1 { 0 } else { swept }];
        let (c, ok) = (s.conflicts, s.transactions.saturating_sub(s.conflicts));
        row.push(if ok > 0 {
            Cell::Float(c as f64 / ok as f64, 3)
        } else {
            Cell::Empty
        });
        t.push(row)?;
    }
    Ok(t)
}

/// The paper's figures: per workload, mean wait against the swept `t_job` (both on log10
/// axes, as the paper draws them), the swept scheduler's busyness, and shared state's
/// conflicts per successful transaction.
fn charts(study: &architectures::Study, results: &[RunStats]) -> Vec<Chart> {
    let swept = study.setup.swept;
    let series = |y: &dyn Fn(&RunStats) -> Option<f64>| -> Vec<Series> {
        study
            .architectures
            .iter()
            .map(|&a| {
                Series::line(
                    a.name(),
                    results
                        .iter()
                        .filter(|r| r.architecture == a && r.t_job_s > 0.0)
                        .filter_map(|r| y(r).map(|v| (r.t_job_s.log10(), v)))
                        .collect(),
                )
            })
            .filter(|s| !s.points.is_empty())
            .collect()
    };
    let mut charts = Vec::new();
    let x_label = format!(
        "{} decision time t_job (log scale)",
        study.setup.workloads[swept].name
    );
    for (w, wl) in study.setup.workloads.iter().enumerate() {
        charts.push(
            Chart::new(
                format!("wait-{}", wl.name),
                format!("{} jobs: mean wait to last task placed", wl.name),
                x_label.clone(),
                "mean wait (log scale)",
                series(&|r| {
                    let v = r.workloads[w].wait_last_mean_s?;
                    (v.is_finite() && v > 0.0).then(|| v.log10())
                }),
            )
            .with_x_axis(Axis::LogS)
            .with_y_axis(Axis::LogS)
            .fit_y(),
        );
    }
    let duration = study.setup.duration_s * 1e9;
    charts.push(
        Chart::new(
            "busyness",
            format!("{} scheduler busyness", study.setup.workloads[swept].name),
            x_label.clone(),
            "fraction of time deciding",
            series(&|r| {
                let s = &r.schedulers[if r.schedulers.len() == 1 { 0 } else { swept }];
                Some(s.busy_ns as f64 / duration)
            }),
        )
        .with_x_axis(Axis::LogS),
    );
    // Past the decision time at which no transaction succeeds the ratio has no value: the
    // curve ends there (the table's cells are empty for the same reason).
    charts.push(
        Chart::new(
            "conflicts",
            "shared state: conflicts per successful transaction (ends where none succeeds)",
            x_label,
            "conflicts per successful transaction",
            series(&|r| {
                if r.architecture != architectures::Architecture::SharedState {
                    return None;
                }
                let s = &r.schedulers[swept];
                let ok = s.transactions.saturating_sub(s.conflicts);
                (ok > 0).then(|| s.conflicts as f64 / ok as f64)
            }),
        )
        .with_x_axis(Axis::LogS),
    );
    charts.retain(|c| !c.series.is_empty());
    charts
}
