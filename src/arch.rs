//! `orchsim run` on a scheduler-architectures study: every architecture at every swept
//! decision time, curve.csv, and the table of the curve.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use orchsim_report::charts::{Chart, Series};
use orchsim_report::{Cell, Table};
use orchsim_sim::architectures::{self, RunStats};

use crate::{CliError, Format, RunArgs};

/// `orchsim bench` row: the whole study on one thread, best of `repeat`; `events` counts
/// the jobs submitted over all runs.
pub fn bench_row(file: &str, text: &str, repeat: usize, t: &mut Table) -> Result<(), CliError> {
    let study = architectures::parse(&format!("<embedded>/scenarios/{file}"), text)?;
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
    ])
    .map_err(|_| CliError("internal: bench row width".into()))
}

/// Runs the study `text` (from `file`).
pub fn run(file: &str, text: &str, args: &RunArgs) -> Result<(), CliError> {
    let mut study = architectures::parse(file, text)?;
    if let Some(seed) = args.seed {
        study.seed = seed;
    }
    if !args.policies.is_empty() {
        return Err(CliError(
            "--policy applies to GPU studies; narrow an architectures study in its file".into(),
        ));
    }
    if args.jobs == Some(0) {
        return Err(CliError("--jobs: expected at least 1".into()));
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out").join(&study.name));
    let runs = study.architectures.len() * study.t_job_s.len();
    if !args.quiet && std::io::stderr().is_terminal() {
        eprintln!(
            "orchsim: {runs} runs of {} simulated s on {jobs} thread(s)…",
            study.setup.duration_s
        );
    }
    let started = Instant::now();
    let results = architectures::run_study(&study, jobs)?;
    let wall = started.elapsed().as_secs_f64();
    if let Some((r, e)) = results
        .iter()
        .find_map(|r| r.audit_error.as_ref().map(|e| (r, e)))
    {
        return Err(CliError::internal(format!(
            "{} at t_job {} s failed its audit: {e}",
            r.architecture.name(),
            r.t_job_s
        )));
    }
    let table = curve_table(&study, &results);
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
                shares
                    .push(vec![
                        r.architecture.name().into(),
                        Cell::Float(r.t_job_s, 3),
                        Cell::Float(*time, 1),
                        study.setup.workloads[w].name.as_str().into(),
                        Cell::Float(*share, 4),
                    ])
                    .expect("row width");
            }
        }
    }
    crate::write_outputs(
        &out,
        &[
            ("curve.csv", table.to_csv()),
            ("shares.csv", shares.to_csv()),
            ("digest.txt", format!("{digest}\n").into_bytes()),
        ],
    )?;
    if args.report {
        let summary = summary_table(&results, study.setup.swept);
        orchsim_report::report::write_all(
            &out,
            &format!("orchsim study: {} (seed {})", study.name, study.seed),
            &[("Curve", &summary)],
            &charts(&study, &results),
            text,
        )?;
    }
    let mut stdout = std::io::stdout().lock();
    match args.format {
        Format::Table => {
            writeln!(
                stdout,
                "{}: {} architectures × {} values of {}'s t_job; {} machines, {} s simulated, seed {}",
                study.name,
                study.architectures.len(),
                study.t_job_s.len(),
                study.setup.workloads[study.setup.swept].name,
                study.setup.machines,
                study.setup.duration_s,
                study.seed
            )?;
            write!(
                stdout,
                "{}",
                summary_table(&results, study.setup.swept).to_text()
            )?;
            writeln!(stdout, "wall       {wall:.1} s on {jobs} thread(s)")?;
            writeln!(stdout, "digest     {digest}")?;
            writeln!(
                stdout,
                "{}",
                crate::wrote_line(
                    &out,
                    &["curve.csv", "shares.csv", "digest.txt"],
                    args.report
                )
            )?;
        }
        Format::Json => writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&table.to_json_rows())?
        )?,
        Format::Csv => stdout.write_all(&table.to_csv())?,
    }
    Ok(())
}

/// Empty where no job got that far.
fn float(x: Option<f64>, d: usize) -> Cell {
    x.filter(|x| x.is_finite())
        .map_or(Cell::Empty, |x| Cell::Float(x, d))
}

/// One row per (architecture, t_job, workload) with the workload's scheduler's counters.
fn curve_table(study: &architectures::Study, results: &[RunStats]) -> Table {
    let mut t = Table::new([
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
    ]);
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
            ])
            .expect("row width");
        }
    }
    t
}

/// The curve at a glance: per run, each workload's mean wait to its last task and pending
/// jobs, and the swept scheduler's busyness and conflict fraction.
fn summary_table(results: &[RunStats], swept: usize) -> Table {
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
        t.push(row).expect("row width");
    }
    t
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
            .map(|&a| Series {
                label: a.name().into(),
                points: results
                    .iter()
                    .filter(|r| r.architecture == a && r.t_job_s > 0.0)
                    .filter_map(|r| y(r).map(|v| (r.t_job_s.log10(), v)))
                    .collect(),
                band: vec![],
            })
            .filter(|s| !s.points.is_empty())
            .collect()
    };
    let mut charts = Vec::new();
    for (w, wl) in study.setup.workloads.iter().enumerate() {
        charts.push(Chart {
            name: format!("wait-{}", wl.name),
            title: format!("{} jobs: mean wait to last task placed", wl.name),
            x_label: format!("log10 {} t_job (s)", study.setup.workloads[swept].name),
            y_label: "log10 wait (s)".into(),
            series: series(&|r| {
                let v = r.workloads[w].wait_last_mean_s?;
                (v.is_finite() && v > 0.0).then(|| v.log10())
            }),
            legend_lower_right: true,
        });
    }
    let duration = study.setup.duration_s * 1e9;
    charts.push(Chart {
        name: "busyness".into(),
        title: format!("{} scheduler busyness", study.setup.workloads[swept].name),
        x_label: format!("log10 {} t_job (s)", study.setup.workloads[swept].name),
        y_label: "fraction of time deciding".into(),
        series: series(&|r| {
            let s = &r.schedulers[if r.schedulers.len() == 1 { 0 } else { swept }];
            Some(s.busy_ns as f64 / duration)
        }),
        legend_lower_right: true,
    });
    charts.push(Chart {
        name: "conflicts".into(),
        title: "shared state: conflicts per successful transaction".into(),
        x_label: format!("log10 {} t_job (s)", study.setup.workloads[swept].name),
        y_label: "conflicts per successful transaction".into(),
        series: series(&|r| {
            if r.architecture != architectures::Architecture::SharedState {
                return None;
            }
            let s = &r.schedulers[swept];
            let ok = s.transactions.saturating_sub(s.conflicts);
            (ok > 0).then(|| s.conflicts as f64 / ok as f64)
        }),
        legend_lower_right: false,
    });
    charts.retain(|c| !c.series.is_empty());
    charts
}
