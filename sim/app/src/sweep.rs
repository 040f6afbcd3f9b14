//! `sweep` and `merge`: a scenario over a grid of parameter values × seeds in parallel,
//! optionally as one shard of N for a cluster engine's array jobs, and the merge of shard
//! outputs into one sweep.

use std::path::{Path, PathBuf};
use std::time::Instant;

use orchsim_report::{Cell, Table};
use orchsim_sim::sweep;

use crate::error::{Error, Result};
use crate::outputs::{read_table, write_files};
use crate::run::{threads, OnProgress, Progress, Report};
use crate::source::Source;

/// What to sweep.
#[derive(Clone, Debug, Default)]
pub struct SweepRequest {
    /// `path=v1,v2,…` or `path=start..end:step`; several make a grid (cross product).
    pub sets: Vec<String>,
    /// Seeds per parameter combination: the scenario's seed, +1, +2, …
    pub seeds: u64,
    /// Worker threads (default: all cores).
    pub jobs: Option<usize>,
    /// Only the I-th of N deterministic slices, `I/N` (1-based).
    pub shard: Option<String>,
    /// Build the report's charts (not for a shard: report the merge instead).
    pub report: bool,
}

/// A finished sweep (or shard of one).
pub struct SweepOutcome {
    pub name: String,
    /// The shard, `(i, n)`, if this was one.
    pub shard: Option<(usize, usize)>,
    /// sweep.csv, then sweep-summary.csv (a whole sweep) or shard.txt (a shard).
    pub files: Vec<(&'static str, Vec<u8>)>,
    pub runs: usize,
    /// One line per failed run: which one and why.
    pub failures: Vec<String>,
    pub report: Option<Report>,
    pub source_text: String,
    pub jobs: usize,
    pub wall_s: f64,
}

impl SweepOutcome {
    /// The default output directory: `out/<name>-sweep` or `…-sweep-shard-I-of-N`.
    pub fn default_dir(&self) -> PathBuf {
        PathBuf::from("out").join(match self.shard {
            Some((i, n)) => format!("{}-sweep-shard-{i}-of-{n}", self.name),
            None => format!("{}-sweep", self.name),
        })
    }

    /// Writes the files (and the report, if built) into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        write_files(dir, &self.files)?;
        if let Some(r) = &self.report {
            r.write(dir, &self.source_text)?;
        }
        Ok(())
    }

    /// The line that says what ran and where it went.
    pub fn summary_line(&self, dir: &Path) -> String {
        let mut names: Vec<&str> = self.files.iter().map(|(n, _)| *n).collect();
        if self.report.is_some() {
            names.extend(["report.html", "*.svg", "*.png"]);
        }
        format!(
            "{} runs ({} failed) on {} threads in {:.2} s; wrote {}/{{{}}}",
            self.runs,
            self.failures.len(),
            self.jobs,
            self.wall_s,
            dir.display(),
            names.join(", ")
        )
    }
}

/// Parses `I/N` with 1 <= I <= N.
pub fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let bad = || {
        Error::bad_input(format!(
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

/// Runs the sweep `req` of `source`. Runs that fail are listed in the outcome, not errors.
pub fn sweep(source: &Source, req: &SweepRequest, progress: OnProgress) -> Result<SweepOutcome> {
    let scenario = source.simulation("sweep")?;
    let params = req
        .sets
        .iter()
        .map(|s| sweep::parse_set(s))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    if req.seeds == 0 {
        return Err(Error::bad_input("--seeds: expected at least 1"));
    }
    sweep::count_runs(&params, req.seeds)?;
    let all = sweep::plan(&params, req.seeds, scenario.seed);
    let shard = req.shard.as_deref().map(parse_shard).transpose()?;
    let runs: Vec<sweep::Run> = match shard {
        Some((i, n)) => all
            .iter()
            .filter(|r| r.index % n == i - 1)
            .cloned()
            .collect(),
        None => all.clone(),
    };
    let jobs = threads(req.jobs);
    progress(Progress::Start {
        total: runs.len() as u64,
        unit: "runs",
    });
    let started = Instant::now();
    let outcomes = sweep::execute(
        &source.origin,
        &source.text,
        &source.files(),
        &params,
        &runs,
        jobs,
        &|_| progress(Progress::Advance(1)),
    )?;
    let wall_s = started.elapsed().as_secs_f64();

    let table = sweep::runs_table(&params, &runs, &outcomes);
    let mut files: Vec<(&'static str, Vec<u8>)> = vec![("sweep.csv", table.to_csv())];
    let mut report = None;
    if let Some((i, n)) = shard {
        let manifest = format!(
            "shard {i}/{n}\nruns {}\nparams {}\nsweep {} | {} | seeds {} from {}\n",
            all.len(),
            params.len(),
            scenario.name,
            req.sets.join(" "),
            req.seeds,
            scenario.seed
        );
        files.push(("shard.txt", manifest.into_bytes()));
    } else {
        let agg = sweep::aggregate(&table, params.len());
        files.push(("sweep-summary.csv", agg.to_csv()));
        if req.report {
            report = Some(sweep_report(
                format!("orchsim sweep: {}", scenario.name),
                agg,
                params.len(),
            ));
        }
    }
    let failures = runs
        .iter()
        .zip(&outcomes)
        .filter_map(|(run, o)| {
            let e = o.as_ref().err()?;
            let label: Vec<String> = params
                .iter()
                .zip(&run.values)
                .map(|(p, v)| format!("{}={v}", p.path))
                .collect();
            Some(format!(
                "run {} ({}, seed {}) failed: {e}",
                run.index,
                label.join(" "),
                run.seed
            ))
        })
        .collect();
    Ok(SweepOutcome {
        name: scenario.name,
        shard,
        files,
        runs: runs.len(),
        failures,
        report,
        source_text: source.text.clone(),
        jobs,
        wall_s,
    })
}

fn sweep_report(title: String, agg: Table, params: usize) -> Report {
    Report {
        charts: orchsim_report::report::sweep_charts(&agg, params),
        tables: vec![("Aggregates".into(), agg)],
        title,
    }
}

/// A merge of shard outputs.
pub struct Merged {
    pub shards: usize,
    pub runs: usize,
    /// sweep.csv and sweep-summary.csv.
    pub files: Vec<(&'static str, Vec<u8>)>,
    pub report: Option<Report>,
}

impl Merged {
    /// Writes the files (and the report, if built) into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        write_files(dir, &self.files)?;
        if let Some(r) = &self.report {
            r.write(dir, "")?;
        }
        Ok(())
    }
}

/// Joins the outputs of `sweep --shard I/N` runs (each directory with sweep.csv and
/// shard.txt) into one sweep, refusing shards of different sweeps, a shard given twice and
/// missing shards.
pub fn merge(dirs: &[PathBuf], report: bool) -> Result<Merged> {
    let mut merged: Option<Table> = None;
    let mut expect: Option<(usize, usize, usize)> = None; // (N, runs, params)
    let mut seen_shards = Vec::new();
    let mut expect_identity: Option<String> = None;
    for dir in dirs {
        let manifest = std::fs::read_to_string(dir.join("shard.txt")).map_err(|e| {
            Error::bad_input(format!(
                "{}: not a shard output (shard.txt: {e})",
                dir.display()
            ))
        })?;
        let field = |key: &str| -> Result<String> {
            manifest
                .lines()
                .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
                .ok_or_else(|| {
                    Error::bad_input(format!("{}/shard.txt: missing `{key}`", dir.display()))
                })
        };
        let number = |key: &str| -> Result<usize> {
            field(key)?.parse().map_err(|_| {
                Error::bad_input(format!("{}/shard.txt: bad `{}`", dir.display(), key.trim()))
            })
        };
        let (i, n) = parse_shard(&field("shard ")?)?;
        // The sweep's identity (scenario, sets, seeds): shards of different sweeps must not mix.
        let identity = field("sweep ")?;
        let runs = number("runs ")?;
        let params = number("params ")?;
        match &expect_identity {
            None => expect_identity = Some(identity),
            Some(id) if *id != identity => {
                return Err(Error::bad_input(format!(
                    "{}: shard of a different sweep (`{identity}`) than the first (`{id}`)",
                    dir.display()
                )))
            }
            _ => {}
        }
        match expect {
            None => expect = Some((n, runs, params)),
            Some(e) if e != (n, runs, params) => {
                return Err(Error::bad_input(format!(
                    "{}: shard of a different sweep ({i}/{n}, {runs} runs) than the first",
                    dir.display()
                )))
            }
            _ => {}
        }
        if seen_shards.contains(&i) {
            return Err(Error::bad_input(format!(
                "{}: shard {i}/{n} given twice",
                dir.display()
            )));
        }
        seen_shards.push(i);
        let t = read_table(&dir.join("sweep.csv"))?;
        if t.columns.len() < params + 2 || t.columns[params + 1] != "status" {
            return Err(Error::bad_input(format!(
                "{}/sweep.csv: expected `run`, {params} parameter column(s) and `status` first",
                dir.display()
            )));
        }
        match &mut merged {
            None => merged = Some(t),
            Some(m) => {
                if m.columns != t.columns {
                    return Err(Error::bad_input(format!(
                        "{}: sweep.csv columns differ from the first shard's",
                        dir.display()
                    )));
                }
                m.rows.extend(t.rows);
            }
        }
    }
    let (Some(mut table), Some((n, runs, params))) = (merged, expect) else {
        return Err(Error::bad_input("no shard directories given"));
    };
    if seen_shards.len() != n {
        let missing: Vec<usize> = (1..=n).filter(|i| !seen_shards.contains(i)).collect();
        return Err(Error::bad_input(format!(
            "missing shards {missing:?} of {n}"
        )));
    }
    let index = |row: &Vec<Cell>| row[0].text().parse::<usize>().unwrap_or(usize::MAX);
    table.rows.sort_by_key(index);
    if table.rows.len() != runs || table.rows.iter().enumerate().any(|(k, r)| index(r) != k) {
        return Err(Error::bad_input(format!(
            "shards hold {} rows, expected runs 0..{runs} once each",
            table.rows.len()
        )));
    }
    let agg = sweep::aggregate(&table, params);
    let files = vec![
        ("sweep.csv", table.to_csv()),
        ("sweep-summary.csv", agg.to_csv()),
    ];
    Ok(Merged {
        shards: n,
        runs,
        files,
        report: report.then(|| sweep_report("orchsim sweep (merged shards)".into(), agg, params)),
    })
}
