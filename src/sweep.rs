//! `orchsim sweep` and `orchsim merge`: parameter grids × seeds in parallel, optionally as one
//! shard of N for a cluster engine's array jobs, and the merge of shard outputs.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use orchsim_report::{Cell, Table};
use orchsim_sim::sweep;

use crate::CliError;

#[derive(clap::Args)]
pub struct SweepArgs {
    /// A scenario file or embedded scenario name (default: quickstart).
    scenario: Option<String>,
    /// `path=v1,v2,…` or `path=start..end:step`; repeat for a grid (cross product).
    #[arg(long = "set", required = true)]
    sets: Vec<String>,
    /// Seeds per parameter combination: the scenario's seed, +1, +2, …
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    jobs: Option<usize>,
    /// Run only the I-th of N deterministic slices (1-based), e.g. `--shard 2/8`.
    #[arg(long)]
    shard: Option<String>,
    /// Output directory. Default: out/<scenario>-sweep (or …-shard-I-of-N).
    #[arg(long)]
    out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// Also write report.html with sweep curves (not for shards: report the merge instead).
    #[arg(long)]
    report: bool,
}

#[derive(clap::Args)]
pub struct MergeArgs {
    /// Shard output directories (each with sweep.csv and shard.txt).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Where to write the merged sweep.csv and sweep-summary.csv.
    #[arg(long)]
    out: PathBuf,
    /// Also write report.html with sweep curves.
    #[arg(long)]
    report: bool,
}

fn parse_shard(s: &str) -> Result<(usize, usize), CliError> {
    let bad = || {
        CliError(format!(
            "--shard `{s}`: expected I/N with 1 <= I <= N, e.g. 2/8"
        ))
    };
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n) = (
        i.trim().parse::<usize>().map_err(|_| bad())?,
        n.trim().parse::<usize>().map_err(|_| bad())?,
    );
    if i == 0 || n == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

/// Exit status when some runs failed (the others are still written).
pub const SOME_RUNS_FAILED: u8 = crate::exit::PARTIAL;

pub fn sweep(args: SweepArgs) -> Result<u8, CliError> {
    let (file, text) = crate::scenario_text(args.scenario.as_deref())?;
    let scenario = crate::simulation_scenario(&file, &text)?;
    let params = args
        .sets
        .iter()
        .map(|s| sweep::parse_set(s))
        .collect::<Result<Vec<_>, _>>()?;
    if args.seeds == 0 {
        return Err(CliError("--seeds: expected at least 1".into()));
    }
    sweep::count_runs(&params, args.seeds)?;
    let all = sweep::plan(&params, args.seeds, scenario.seed);
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    let runs: Vec<sweep::Run> = match shard {
        Some((i, n)) => all
            .iter()
            .filter(|r| r.index % n == i - 1)
            .cloned()
            .collect(),
        None => all.clone(),
    };
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("out").join(match shard {
            Some((i, n)) => format!("{}-sweep-shard-{i}-of-{n}", scenario.name),
            None => format!("{}-sweep", scenario.name),
        })
    });
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));

    let bar = ProgressBar::with_draw_target(
        Some(runs.len() as u64),
        if args.quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} runs, {msg} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let failed = AtomicU64::new(0);
    bar.set_message("0 failed");
    let started = Instant::now();
    let files = crate::files::Beside { scenario: &file };
    let outcomes = sweep::execute(&file, &text, &files, &params, &runs, jobs, &|ok| {
        if !ok {
            let f = failed.fetch_add(1, Ordering::Relaxed) + 1;
            bar.set_message(format!("{f} failed"));
        }
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    let wall = started.elapsed().as_secs_f64();

    let table = sweep::runs_table(&params, &runs, &outcomes);
    std::fs::create_dir_all(&out)
        .map_err(|e| CliError(format!("cannot create {}: {e}", out.display())))?;
    write(&out.join("sweep.csv"), &table.to_csv())?;
    if let Some((i, n)) = shard {
        let manifest = format!(
            "shard {i}/{n}\nruns {}\nparams {}\nsweep {} | {} | seeds {} from {}\n",
            all.len(),
            params.len(),
            scenario.name,
            args.sets.join(" "),
            args.seeds,
            scenario.seed
        );
        write(&out.join("shard.txt"), manifest.as_bytes())?;
    } else {
        let agg = sweep::aggregate(&table, params.len());
        write(&out.join("sweep-summary.csv"), &agg.to_csv())?;
        if args.report {
            let title = format!("orchsim sweep: {}", scenario.name);
            orchsim_report::report::sweep_report(&out, &title, &agg, params.len(), &text)?;
        }
    }
    let n_failed = outcomes.iter().filter(|o| o.is_err()).count();
    for (run, o) in runs.iter().zip(&outcomes) {
        if let Err(e) = o {
            let label: Vec<String> = params
                .iter()
                .zip(&run.values)
                .map(|(p, v)| format!("{}={v}", p.path))
                .collect();
            eprintln!(
                "orchsim: run {} ({}, seed {}) failed: {e}",
                run.index,
                label.join(" "),
                run.seed
            );
        }
    }
    outln!(
        "{} runs ({} failed) on {jobs} threads in {wall:.2} s; wrote {}/{{{}}}",
        runs.len(),
        n_failed,
        out.display(),
        match (shard.is_some(), args.report) {
            (true, _) => "sweep.csv, shard.txt",
            (false, false) => "sweep.csv, sweep-summary.csv",
            (false, true) => "sweep.csv, sweep-summary.csv, report.html, *.svg, *.png",
        }
    )?;
    Ok(if n_failed > 0 { SOME_RUNS_FAILED } else { 0 })
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, bytes)
        .map_err(|e| CliError(format!("cannot write {}: {e}", path.display())))
}

/// Reads a CSV written by orchsim into a table of text cells.
pub fn read_table(path: &Path) -> Result<Table, CliError> {
    let mut r = csv::Reader::from_path(path)
        .map_err(|e| CliError(format!("cannot read {}: {e}", path.display())))?;
    let headers = r
        .headers()
        .map_err(|e| CliError(format!("{}: {e}", path.display())))?
        .iter()
        .map(String::from)
        .collect::<Vec<_>>();
    let mut t = Table::new(headers);
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| CliError(format!("{}: {e}", path.display())))?;
        let row = rec
            .iter()
            .map(|c| {
                if c.is_empty() {
                    Cell::Empty
                } else {
                    Cell::Str(c.into())
                }
            })
            .collect();
        t.push(row).map_err(|e| {
            CliError(format!(
                "{}: row {}: expected {} fields, found {}",
                path.display(),
                i + 2,
                e.expected,
                e.got
            ))
        })?;
    }
    Ok(t)
}

pub fn merge(args: MergeArgs) -> Result<(), CliError> {
    let mut merged: Option<Table> = None;
    let mut expect: Option<(usize, usize, usize)> = None; // (N, runs, params)
    let mut seen_shards = Vec::new();
    let mut expect_identity: Option<String> = None;
    for dir in &args.dirs {
        let manifest = std::fs::read_to_string(dir.join("shard.txt")).map_err(|e| {
            CliError(format!(
                "{}: not a shard output (shard.txt: {e})",
                dir.display()
            ))
        })?;
        let field = |key: &str| -> Result<String, CliError> {
            manifest
                .lines()
                .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
                .ok_or_else(|| CliError(format!("{}/shard.txt: missing `{key}`", dir.display())))
        };
        let (i, n) = parse_shard(&field("shard ")?)?;
        // The sweep's identity (scenario, sets, seeds): shards of different sweeps must not mix.
        let identity = field("sweep ")?;
        let runs: usize = field("runs ")?
            .parse()
            .map_err(|_| CliError(format!("{}/shard.txt: bad `runs`", dir.display())))?;
        let params: usize = field("params ")?
            .parse()
            .map_err(|_| CliError(format!("{}/shard.txt: bad `params`", dir.display())))?;
        match &expect_identity {
            None => expect_identity = Some(identity),
            Some(id) if *id != identity => {
                return Err(CliError(format!(
                    "{}: shard of a different sweep (`{identity}`) than the first (`{id}`)",
                    dir.display()
                )))
            }
            _ => {}
        }
        match expect {
            None => expect = Some((n, runs, params)),
            Some(e) if e != (n, runs, params) => {
                return Err(CliError(format!(
                    "{}: shard of a different sweep ({i}/{n}, {runs} runs) than the first",
                    dir.display()
                )))
            }
            _ => {}
        }
        if seen_shards.contains(&i) {
            return Err(CliError(format!(
                "{}: shard {i}/{n} given twice",
                dir.display()
            )));
        }
        seen_shards.push(i);
        let t = read_table(&dir.join("sweep.csv"))?;
        if t.columns.len() < params + 2 || t.columns[params + 1] != "status" {
            return Err(CliError(format!(
                "{}/sweep.csv: expected `run`, {params} parameter column(s) and `status` first",
                dir.display()
            )));
        }
        match &mut merged {
            None => merged = Some(t),
            Some(m) => {
                if m.columns != t.columns {
                    return Err(CliError(format!(
                        "{}: sweep.csv columns differ from the first shard's",
                        dir.display()
                    )));
                }
                m.rows.extend(t.rows);
            }
        }
    }
    let (Some(mut table), Some((n, runs, params))) = (merged, expect) else {
        return Err(CliError("no shard directories given".into()));
    };
    if seen_shards.len() != n {
        let mut missing: Vec<usize> = (1..=n).filter(|i| !seen_shards.contains(i)).collect();
        missing.sort_unstable();
        return Err(CliError(format!("missing shards {missing:?} of {n}")));
    }
    let index = |row: &Vec<Cell>| row[0].text().parse::<usize>().unwrap_or(usize::MAX);
    table.rows.sort_by_key(index);
    if table.rows.len() != runs || table.rows.iter().enumerate().any(|(k, r)| index(r) != k) {
        return Err(CliError(format!(
            "shards hold {} rows, expected runs 0..{runs} once each",
            table.rows.len()
        )));
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| CliError(format!("cannot create {}: {e}", args.out.display())))?;
    write(&args.out.join("sweep.csv"), &table.to_csv())?;
    let agg = sweep::aggregate(&table, params);
    write(&args.out.join("sweep-summary.csv"), &agg.to_csv())?;
    if args.report {
        orchsim_report::report::sweep_report(
            &args.out,
            "orchsim sweep (merged shards)",
            &agg,
            params,
            "",
        )?;
    }
    outln!(
        "merged {n} shards ({runs} runs) into {}/{{sweep.csv, sweep-summary.csv}}",
        args.out.display()
    )?;
    Ok(())
}
