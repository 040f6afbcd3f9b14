//! `sweep` and `merge`: a scenario over a grid of parameter values × seeds in parallel,
//! optionally as one shard of N for a cluster engine's array jobs, and the merge of shard
//! outputs into one sweep.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use orchsim_report::{Cell, Table};
use orchsim_sim::sweep;

use crate::error::{Error, Result};
use crate::journal::{Entry, Journal};
use crate::outputs::{read_table, write_with_report};
use rayon::prelude::*;

use crate::render::View;
use crate::run::{threads, OnProgress, Progress, Report};

/// Metric columns the text view of a sweep shows at most (the files have all).
const MAX_TEXT_METRICS: usize = 6;

/// The metrics a sweep's text shows first when they vary.
const HEADLINE: [&str; 6] = [
    "wait_p99_ms",
    "pods_unschedulable",
    "cpu_util_mean_pct",
    "wait_p50_ms",
    "scheduler_busy_pct",
    "gpu_util_mean_pct",
];
use crate::source::{Kind, Source};

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
    /// The output directory (default: [`default_dir`]); its journal records finished runs.
    pub out: Option<PathBuf>,
    /// Keep the runs the journal in the output directory says an earlier start of the same
    /// sweep finished, and run only the others.
    pub resume: bool,
}

/// The default output directory: `out/<name>-sweep` or `…-sweep-shard-I-of-N`.
pub fn default_dir(name: &str, shard: Option<(usize, usize)>) -> PathBuf {
    PathBuf::from("out").join(match shard {
        Some((i, n)) => format!("{name}-sweep-shard-{i}-of-{n}"),
        None => format!("{name}-sweep"),
    })
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
    /// Where the outputs go ([`SweepRequest::out`] or the default).
    pub dir: PathBuf,
    /// Runs taken from the journal instead of run again.
    pub resumed: usize,
    /// What the sweep prints: `sweep-summary.csv`'s aggregates (a shard: its runs).
    pub table: Table,
    /// The columns at the front of [`SweepOutcome::table`] that say what a row is: the
    /// parameters, study keys and run counts (a shard: run, parameters, status).
    pub lead: usize,
}

impl SweepOutcome {
    /// Writes the files (and the report, if built) into its directory.
    pub fn write(&self) -> Result<()> {
        write_with_report(
            &self.dir,
            &self.files,
            self.report.as_ref(),
            &self.source_text,
        )
    }

    /// The result as printed: the whole table in JSON and CSV; in text, the parameters, the
    /// run counts and the means that differ between rows (all of them are in the file), then
    /// the summary line.
    pub fn view(&self) -> View {
        let t = &self.table;
        let lead = self.lead;
        // With one row nothing varies: show the headline metrics themselves.
        let one = t.rows.len() <= 1;
        let varies = |c: usize| {
            let first = t.rows.first().map(|r| r[c].text());
            one || t.rows.iter().any(|r| Some(r[c].text()) != first)
        };
        let mean_or_metric = |name: &str| {
            if self.shard.is_some() {
                !name.ends_with("digest")
            } else {
                name.ends_with("_mean")
            }
        };
        // The headline metrics first (a capacity question's answers), then the others in
        // column order.
        let mut metrics: Vec<usize> = (lead..t.columns.len())
            .filter(|&c| mean_or_metric(&t.columns[c]) && varies(c))
            .collect();
        metrics.sort_by_key(|&c| {
            HEADLINE
                .iter()
                .position(|h| t.columns[c].starts_with(h))
                .unwrap_or(HEADLINE.len())
        });
        let mut keep: Vec<usize> = (0..lead.min(t.columns.len())).collect();
        keep.extend(metrics.into_iter().take(MAX_TEXT_METRICS));
        let compact = Table {
            columns: keep.iter().map(|&c| t.columns[c].clone()).collect(),
            rows: t
                .rows
                .iter()
                .map(|r| keep.iter().map(|&c| r[c].clone()).collect())
                .collect(),
        };
        let shown = keep.len() - lead.min(keep.len());
        let mut text = compact.to_text();
        let file = if self.shard.is_some() {
            "sweep.csv"
        } else {
            "sweep-summary.csv"
        };
        let which = if one {
            "metrics"
        } else {
            "of the metrics that vary between rows"
        };
        text.push_str(&format!(
            "({shown} {which}; every column is in {file})\n{}\n",
            self.summary_line(&self.dir)
        ));
        let mut v = View::of(t.clone());
        v.text = Some(text);
        v
    }

    /// The line that says what ran and where it went.
    pub fn summary_line(&self, dir: &Path) -> String {
        let mut names: Vec<&str> = self.files.iter().map(|(n, _)| *n).collect();
        if let Some(r) = &self.report {
            names.push("report.html");
            if !r.charts.is_empty() {
                names.extend(["*.svg", "*.png"]);
            }
        }
        let resumed = if self.resumed > 0 {
            format!(", {} of them from the journal", self.resumed)
        } else {
            String::new()
        };
        format!(
            "{} runs ({} failed{resumed}) on {} threads in {:.2} s; wrote {}/{{{}}}",
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

/// Runs the sweep `req` of `source`, a simulation or a study. Runs that fail are listed in
/// the outcome, not errors.
///
/// A simulation run gives one row of `sweep.csv` (its summary). A study run (the study at one
/// seed) gives one row per row of its headline table — per policy and arrived share for a GPU
/// study, per architecture, decision time and workload for the architectures study — and
/// `sweep-summary.csv` aggregates over seeds per parameter combination and study row.
pub fn sweep(source: &Source, req: &SweepRequest, progress: OnProgress) -> Result<SweepOutcome> {
    let kind = source.kind();
    let (name, base_seed, keys): (String, u64, &[&str]) = match kind {
        Kind::Simulation => {
            let sc = source.simulation("sweep")?;
            (sc.name, sc.seed, &[])
        }
        Kind::GpuStudy => {
            // The traces too: a missing one is bad input, not a failure of every run.
            let (st, _) = crate::gpu_study::load(source)?;
            (st.name, st.seeds[0], crate::gpu_study::KEY_COLUMNS)
        }
        Kind::Architectures => {
            let st = orchsim_sim::architectures::parse(&source.origin, &source.text)?;
            (st.name, st.seed, crate::architectures::KEY_COLUMNS)
        }
    };
    let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    let params = req
        .sets
        .iter()
        .map(|s| sweep::parse_set(s))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    // A path given twice would label runs with values another --set overrode; a path the
    // scenario lacks would fail every run: both are refused once, before any run.
    let base: toml::Value = toml::from_str(&source.text)
        .map_err(|e| Error::bad_input(format!("{}: {e}", source.origin)))?;
    let canonical: Vec<String> = params
        .iter()
        .map(|p| {
            sweep::canonical_path(&base, &p.path)
                .map_err(|e| Error::bad_input(format!("--set {e}")))
        })
        .collect::<Result<_>>()?;
    for (i, p) in params.iter().enumerate() {
        if let Some(q) = (0..i).find(|&j| canonical[j] == canonical[i]) {
            let same = if params[q].path == p.path {
                String::new()
            } else {
                format!(" (as `{}`: both are `{}`)", params[q].path, canonical[i])
            };
            return Err(Error::bad_input(format!(
                "--set {}: given twice{same}; list every value in one --set",
                p.path
            )));
        }
        if let Some(v) = p.values.first() {
            let text = sweep::override_text(&base, &[(p.path.as_str(), v.clone())])
                .map_err(|e| Error::bad_input(format!("--set {e}")))?;
            // A misspelt last key is a field the scenario schema does not have. Other errors
            // (a value the scenario rejects) are failed runs, reported per run.
            let parsed = match kind {
                Kind::Simulation => {
                    orchsim_sim::parse_with_files(&source.origin, &text, &source.files()).err()
                }
                Kind::GpuStudy => orchsim_sim::gpu_study::parse(&source.origin, &text).err(),
                Kind::Architectures => {
                    orchsim_sim::architectures::parse(&source.origin, &text).err()
                }
            };
            if let Some(e) = parsed.filter(|e| e.message.contains("unknown field")) {
                return Err(Error::bad_input(format!("--set {}: {e}", p.path)));
            }
        }
    }
    if req.seeds == 0 {
        return Err(Error::bad_input("--seeds: expected at least 1"));
    }
    if req.jobs == Some(0) {
        return Err(Error::bad_input("--jobs: expected at least 1"));
    }
    sweep::count_runs(&params, req.seeds)?;
    let all = sweep::plan(&params, req.seeds, base_seed);
    let shard = req.shard.as_deref().map(parse_shard).transpose()?;
    let runs: Vec<sweep::Run> = match shard {
        Some((i, n)) => all
            .iter()
            .filter(|r| r.index % n == i - 1)
            .cloned()
            .collect(),
        None => all.clone(),
    };
    // The journal is kept in the output directory from the first finished run on. Its
    // identity, and a shard's, covers the files the scenario reads, not just its text.
    let inputs = source.inputs_hash();
    let dir = req.out.clone().unwrap_or_else(|| default_dir(&name, shard));
    // The sweep's identity: what shards must share to merge; a journal adds its shard.
    let identity = format!(
        "{name} | {} | seeds {} from {base_seed} | scenario {inputs} | orchsim {}",
        req.sets.join(" "),
        req.seeds,
        env!("CARGO_PKG_VERSION"),
    );
    let shard_name = shard.map_or("all".to_string(), |(i, n)| format!("{i}/{n}"));
    let (journal, finished) = Journal::open(
        &dir,
        &format!("{identity} | shard {shard_name}"),
        req.resume,
    )?;
    let finished: Vec<Entry> = finished
        .into_iter()
        .filter(|e| runs.iter().any(|r| r.index == e.run))
        .collect();
    let resumed = finished.len();
    let todo: Vec<sweep::Run> = runs
        .iter()
        .filter(|r| !finished.iter().any(|e| e.run == r.index))
        .cloned()
        .collect();
    let jobs = threads(req.jobs, todo.len());
    progress(Progress::Start {
        total: runs.len() as u64,
        unit: "runs",
    });
    progress(Progress::Advance(resumed as u64));
    let started = Instant::now();
    let entries: Mutex<Vec<Entry>> = Mutex::new(finished);
    let journal_error: Mutex<Option<Error>> = Mutex::new(None);
    let finish = |entry: Entry| {
        if entry.error.is_some() {
            progress(Progress::Failed(1));
        }
        progress(Progress::Advance(1));
        if let Err(e) = journal.record(&entry) {
            if let Ok(mut first) = journal_error.lock() {
                first.get_or_insert(e);
            }
        }
        if let Ok(mut all) = entries.lock() {
            all.push(entry);
        }
    };
    if kind == Kind::Simulation {
        sweep::execute(
            &source.origin,
            &source.text,
            &source.files(),
            &params,
            &todo,
            jobs,
            &|run, outcome| {
                let one = sweep::runs_table(
                    &params,
                    std::slice::from_ref(run),
                    std::slice::from_ref(outcome),
                );
                finish(Entry::new(run.index, &one, outcome.as_ref().err().cloned()));
            },
        )?;
    } else {
        study_runs(source, &base, &params, &todo, jobs, &finish)?;
    }
    if let Some(e) = journal_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let mut entries = entries
        .into_inner()
        .map_err(|_| Error::internal("a sweep worker panicked"))?;
    entries.sort_by_key(|e| e.run);
    // The header of a table with no runs (a shard that got none): what the runs would have.
    let header: Vec<String> = if kind == Kind::Simulation {
        sweep::runs_table(&params, &[], &[]).columns
    } else {
        let mut h = vec!["run".to_string()];
        h.extend(params.iter().map(|p| p.path.clone()));
        h.extend(["status".to_string(), "seed".into(), "digest".into()]);
        h
    };
    let (table, errors) = assemble(&entries, kind == Kind::Simulation, header)?;
    let wall_s = started.elapsed().as_secs_f64();

    let mut files: Vec<(&'static str, Vec<u8>)> = vec![("sweep.csv", table.to_csv())];
    let mut report = None;
    let (shown, lead) = if shard.is_some() {
        (table.clone(), params.len() + 2)
    } else {
        let agg = sweep::aggregate(&table, params.len(), &keys);
        (agg, params.len() + keys.len() + 2)
    };
    if let Some((i, n)) = shard {
        let manifest = format!(
            "shard {i}/{n}\nruns {}\nparams {}\nkeys {}\nsweep {identity}\n",
            all.len(),
            params.len(),
            keys.join(","),
        );
        files.push(("shard.txt", manifest.into_bytes()));
    } else {
        files.push(("sweep-summary.csv", shown.to_csv()));
        if req.report {
            report = Some(sweep_report(
                format!("orchsim sweep: {name}"),
                shown.clone(),
                params.len(),
            ));
        }
    }
    let failures = runs
        .iter()
        .zip(&errors)
        .filter_map(|(run, e)| {
            let e = e.as_ref()?;
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
        name,
        shard,
        files,
        runs: runs.len(),
        failures,
        report,
        source_text: source.text.clone(),
        jobs,
        wall_s,
        dir,
        resumed,
        table: shown,
        lead,
    })
}

/// A study's runs: each the study with the run's overrides at the run's seed, its experiments
/// on one thread (the runs are what runs in parallel). Each finished run goes to `finish` as
/// its table: a run column, the parameters, status and seed, the study's columns and the
/// digest (a failed run: no study columns).
fn study_runs(
    source: &Source,
    base: &toml::Value,
    params: &[sweep::Param],
    runs: &[sweep::Run],
    jobs: usize,
    finish: &(dyn Fn(Entry) + Sync),
) -> Result<()> {
    let one = |run: &sweep::Run| {
        let overrides: Vec<(&str, toml::Value)> = params
            .iter()
            .zip(&run.values)
            .map(|(p, v)| (p.path.as_str(), v.clone()))
            .collect();
        let outcome = crate::run::study_at(source, base, &overrides, run.seed);
        let mut cols = vec!["run".to_string()];
        cols.extend(params.iter().map(|p| p.path.clone()));
        cols.extend(["status".to_string(), "seed".into()]);
        let lead = |status: Cell| -> Vec<Cell> {
            let mut row = vec![Cell::UInt(run.index as u64)];
            row.extend(run.values.iter().map(sweep::value_cell));
            row.extend([status, Cell::UInt(run.seed)]);
            row
        };
        let (table, error) = match outcome {
            Ok((table, digest)) => {
                cols.extend(table.columns.iter().cloned());
                cols.push("digest".into());
                let mut t = Table::new(cols);
                for r in table.rows {
                    let mut row = lead("ok".into());
                    row.extend(r);
                    row.push(digest.as_str().into());
                    t.push(row)?;
                }
                (t, None)
            }
            Err(e) => {
                cols.push("digest".into());
                let mut t = Table::new(cols);
                let mut row = lead(sweep::failed_status(&e));
                row.push(Cell::Empty);
                t.push(row)?;
                (t, Some(e))
            }
        };
        finish(Entry::new(run.index, &table, error));
        Ok(())
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| Error::bad_input(format!("cannot start {jobs} worker threads: {e}")))?;
    pool.install(|| runs.par_iter().map(one).collect::<Result<Vec<()>>>())?;
    Ok(())
}

/// `sweep.csv` from the finished runs in run order, and each run's error. Every simulation run
/// has the same columns. A study's columns are those of its first successful run; a failed
/// run's row has them empty, and a run whose study table has other columns is failed.
fn assemble(
    entries: &[Entry],
    simulation: bool,
    header: Vec<String>,
) -> Result<(Table, Vec<Option<String>>)> {
    let columns = entries
        .iter()
        .find(|e| e.error.is_none() || simulation)
        .or(entries.first())
        .map_or(header, |e| e.columns.clone());
    let mut t = Table::new(columns.clone());
    let mut errors = Vec::new();
    for e in entries {
        let mut error = e.error.clone();
        let mut rows = Table {
            columns: e.columns.clone(),
            rows: e.cells(),
        };
        if e.columns != columns {
            if error.is_none() {
                error = Some("its table has other columns than the first run's".to_string());
                // Only the lead (run, parameters, status, seed) stays, marked failed.
                let status = e.columns.iter().position(|c| c == "status");
                rows.rows.truncate(1);
                if let (Some(row), Some(s)) = (rows.rows.first_mut(), status) {
                    row[s] = sweep::failed_status(error.as_deref().unwrap_or_default());
                    row.truncate(s + 2);
                }
                rows.columns.truncate(status.map_or(0, |s| s + 2));
            }
            rows = reshape(&rows, &columns);
        }
        for r in rows.rows {
            t.push(r)?;
        }
        errors.push(error);
    }
    Ok((t, errors))
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
        write_with_report(dir, &self.files, self.report.as_ref(), "")
    }
}

/// Whether every row of a runs table is a failed run.
fn all_failed(t: &Table) -> bool {
    let status = t.columns.iter().position(|c| c == "status");
    t.rows
        .iter()
        .all(|r| status.is_some_and(|s| r[s].text().starts_with("failed")))
}

/// `t`'s rows with `columns`, each cell taken from the column of that name (empty if none).
fn reshape(t: &Table, columns: &[String]) -> Table {
    let at: Vec<Option<usize>> = columns
        .iter()
        .map(|c| t.columns.iter().position(|x| x == c))
        .collect();
    Table {
        columns: columns.to_vec(),
        rows: t
            .rows
            .iter()
            .map(|r| {
                at.iter()
                    .map(|i| i.map_or(Cell::Empty, |i| r[i].clone()))
                    .collect()
            })
            .collect(),
    }
}

/// Refuses shard cells that no run writes: in a column the successful runs fill with numbers,
/// a cell that is not a finite number (`garbage` used to drop the metric from the summary, a
/// `NaN` to make its means NaN), and a digest that is not 32 hex digits. Located by file,
/// line and column.
fn check_cells(shards: &[(PathBuf, Table)], merged: &Table, params: usize) -> Result<()> {
    let ok_rows = |t: &'_ Table| -> Vec<(usize, Vec<Cell>)> {
        let status = t.columns.iter().position(|c| c == "status");
        t.rows
            .iter()
            .enumerate()
            .filter(|(_, r)| status.is_some_and(|s| r[s].text() == "ok"))
            .map(|(i, r)| (i, r.clone()))
            .collect()
    };
    let finite = |s: &str| s.parse::<f64>().is_ok_and(f64::is_finite);
    // Past run, the parameters, status and seed.
    let lead = params + 3;
    let merged_ok = ok_rows(merged);
    let numeric: Vec<&String> = merged
        .columns
        .iter()
        .enumerate()
        .skip(lead)
        .filter(|&(c, _)| merged_ok.iter().any(|(_, r)| finite(&r[c].text())))
        .map(|(_, n)| n)
        .collect();
    for (path, t) in shards {
        for (i, row) in ok_rows(t) {
            for (c, name) in t.columns.iter().enumerate().skip(lead) {
                let v = row[c].text();
                let bad = if name == "digest" {
                    !(v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
                } else {
                    numeric.contains(&name) && !v.is_empty() && !finite(&v)
                };
                if bad {
                    return Err(Error::bad_input(format!(
                        "{}:{}:{}: `{name}`: expected {}, found `{v}`; the shard was changed after its sweep wrote it",
                        path.display(),
                        i + 2,
                        c + 1,
                        if name == "digest" { "a digest of 32 hex digits" } else { "a finite number, as the other runs have" },
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Joins the outputs of `sweep --shard I/N` runs (each directory with sweep.csv and
/// shard.txt) into one sweep, refusing shards of different sweeps, a shard given twice and
/// missing shards.
pub fn merge(dirs: &[PathBuf], report: bool) -> Result<Merged> {
    let mut merged: Option<Table> = None;
    let mut expect: Option<(usize, usize, usize)> = None; // (N, runs, params)
    let mut seen_shards = Vec::new();
    let mut expect_identity: Option<String> = None;
    let mut keys: Vec<String> = Vec::new();
    let mut read: Vec<(PathBuf, Table)> = Vec::new();
    for dir in dirs {
        // The shard's files are the ones its sweep wrote: not changed, truncated or mixed
        // with another run's since.
        if let Some(m) = crate::outputs::Manifest::read(dir)? {
            for file in ["shard.txt", "sweep.csv"] {
                if m.files.iter().any(|(n, _)| n == file) {
                    m.verify(dir, file)?;
                }
            }
        }
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
        // Shards written before studies could be swept have no `keys`: none.
        let shard_keys: Vec<String> = manifest
            .lines()
            .find_map(|l| l.strip_prefix("keys"))
            .map(|v| {
                v.trim()
                    .split(',')
                    .filter(|k| !k.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        if merged.is_some() && keys != shard_keys {
            return Err(Error::bad_input(format!(
                "{}: shard of a different sweep (keys {shard_keys:?}, not {keys:?})",
                dir.display()
            )));
        }
        keys = shard_keys;
        match &expect_identity {
            None => expect_identity = Some(identity),
            Some(id) if *id != identity => {
                // Name the part that differs: the scenario's content, orchsim's version, or
                // the sweep itself.
                let differs: Vec<String> = identity
                    .split(" | ")
                    .zip(id.split(" | "))
                    .filter(|(a, b)| a != b)
                    .map(|(a, b)| format!("`{a}` where the first has `{b}`"))
                    .collect();
                let differs = if differs.is_empty() {
                    format!("`{identity}` where the first has `{id}`")
                } else {
                    differs.join(", ")
                };
                return Err(Error::bad_input(format!(
                    "{}/shard.txt: shard of a different sweep than the first: {differs}",
                    dir.display(),
                )));
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
        read.push((dir.join("sweep.csv"), t.clone()));
        if t.columns.len() < params + 2 || t.columns[params + 1] != "status" {
            return Err(Error::bad_input(format!(
                "{}/sweep.csv: expected `run`, {params} parameter column(s) and `status` first",
                dir.display()
            )));
        }
        match &mut merged {
            None => merged = Some(t),
            // A study shard whose runs all failed (or that has none) does not know the
            // study's columns: its rows take the other shard's, by name.
            Some(m) if m.columns != t.columns && all_failed(&t) => {
                m.rows.extend(reshape(&t, &m.columns).rows);
            }
            Some(m) if m.columns != t.columns && all_failed(m) => {
                let earlier = reshape(m, &t.columns);
                *m = t;
                m.rows.splice(0..0, earlier.rows);
            }
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
    // Stable: a study run's rows keep their order.
    table.rows.sort_by_key(index);
    let mut seen: Vec<usize> = table.rows.iter().map(index).collect();
    // A simulation run is one row; a study run one row per row of its table.
    if !keys.is_empty() {
        seen.dedup();
    }
    if seen.len() != runs || seen.iter().enumerate().any(|(k, &i)| i != k) {
        return Err(Error::bad_input(format!(
            "shards hold {} distinct runs, expected runs 0..{runs} once each",
            seen.len()
        )));
    }
    check_cells(&read, &table, params)?;
    let agg = sweep::aggregate(&table, params, &keys);
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
