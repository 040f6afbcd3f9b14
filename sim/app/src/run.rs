//! `run` for every kind of scenario: the options a front-end gives, progress it is told
//! about, and the [`Outcome`] it gets back — output files, the headline view, the digest and,
//! when asked for, the report's tables and charts.

use std::path::{Path, PathBuf};

use orchsim_report::charts::Chart;
use orchsim_report::Table;

use crate::error::{Error, Result};
use crate::render::View;
use crate::source::{Kind, Source};

/// What a front-end may change about a run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Master seed, replacing the scenario's (a GPU study: its only seed).
    pub seed: Option<u64>,
    /// Simulation scenarios: the algorithm of the monolithic scheduler.
    pub scheduler: Option<String>,
    /// Studies: worker threads (default: all cores). Results do not depend on it.
    pub jobs: Option<usize>,
    /// GPU studies: only these policies.
    pub policies: Vec<String>,
    /// Build the report's charts too.
    pub report: bool,
}

/// Progress of a long computation, for a front-end to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The work is `total` units of `unit` (simulated seconds, experiments, runs).
    Start { total: u64, unit: &'static str },
    /// `units` more are done.
    Advance(u64),
    /// `units` are done in all.
    At(u64),
    /// `units` more of those done failed (a sweep's runs).
    Failed(u64),
}

/// Where progress goes; called from worker threads in parallel runs.
pub type OnProgress<'a> = &'a (dyn Fn(Progress) + Sync);

/// A report page: its tables and charts.
pub struct Report {
    pub title: String,
    pub tables: Vec<(String, Table)>,
    pub charts: Vec<Chart>,
}

impl Report {
    /// Writes the charts (SVG and PNG) and `report.html`, with the scenario text `source`
    /// shown at the end, into `dir`.
    pub fn write(&self, dir: &Path, source: &str) -> Result<()> {
        let tables: Vec<(&str, &Table)> =
            self.tables.iter().map(|(n, t)| (n.as_str(), t)).collect();
        orchsim_report::report::write_all(dir, &self.title, &tables, &self.charts, source)?;
        Ok(())
    }
}

/// The result of running one scenario.
pub struct Outcome {
    /// The scenario's name: its outputs go to `out/<name>` unless told otherwise.
    pub name: String,
    /// Output files in order: (file name, bytes). `digest.txt` is last.
    pub files: Vec<(&'static str, Vec<u8>)>,
    /// What the run prints, without the line saying where files went.
    pub headline: View,
    pub digest: String,
    pub report: Option<Report>,
    /// The scenario text, shown in the report.
    pub source_text: String,
    /// What the reader must know about the result that the tables cannot say (a comparison
    /// left out, and why); the CLI prints them on stderr.
    pub warnings: Vec<String>,
}

impl Outcome {
    /// The default output directory.
    pub fn default_dir(&self) -> PathBuf {
        PathBuf::from("out").join(&self.name)
    }

    /// Writes the output files (and the report, if built) into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        crate::outputs::write_with_report(dir, &self.files, self.report.as_ref(), &self.source_text)
    }

    /// The headline with where the files went: a last text line, and `out_dir` in a JSON
    /// object.
    pub fn view(&self, dir: &Path) -> View {
        let names: Vec<&str> = self.files.iter().map(|(n, _)| *n).collect();
        let wrote = crate::outputs::wrote_line(dir, &names, self.report.is_some());
        let mut v = self.headline.clone();
        match &mut v.text {
            Some(t) => {
                t.push_str(&wrote);
                t.push('\n');
            }
            None => v.after.push(wrote),
        }
        if let Some(serde_json::Value::Object(m)) = &mut v.json {
            m.insert(
                "out_dir".into(),
                serde_json::json!(dir.display().to_string()),
            );
        }
        v
    }
}

/// Runs `source`, whatever kind of scenario it is.
pub fn run(source: &Source, opts: &RunOptions, progress: OnProgress) -> Result<Outcome> {
    let kind = source.kind();
    if opts.scheduler.is_some() && kind != Kind::Simulation {
        return Err(Error::bad_input(format!(
            "--scheduler applies to simulation scenarios; {} is {}, whose `policies` or \
             `architectures` choose the schedulers",
            source.origin,
            kind.describe()
        )));
    }
    if opts.jobs == Some(0) {
        return Err(Error::bad_input("--jobs: expected at least 1"));
    }
    match kind {
        Kind::Simulation => {
            if opts.jobs.is_some() || !opts.policies.is_empty() {
                // A study with a syntax error reads as no study at all: say what is wrong
                // with the file before saying the options do not apply to it.
                source.simulation("run")?;
                return Err(Error::bad_input(format!(
                    "--jobs and --policy apply to study scenarios (with a [study] table); {} is a simulation scenario",
                    source.origin
                )));
            }
            crate::simulation::run(source, opts, progress)
        }
        Kind::GpuStudy => crate::gpu_study::run(source, opts, progress),
        Kind::Architectures => {
            if !opts.policies.is_empty() {
                return Err(Error::bad_input(
                    "--policy applies to GPU studies; narrow an architectures study in its file",
                ));
            }
            crate::architectures::run(source, opts, progress)
        }
    }
}

/// A study (`base`, its parsed TOML) with `overrides` applied, run at `seed` with its
/// experiments on one thread (the caller runs several in parallel): its headline table and
/// digest, or why it failed. The overridden study keeps `source`'s origin, so the traces it
/// names resolve as before; messages name the file without its directory, so runs started
/// elsewhere (shards) give the same bytes.
pub fn study_at(
    source: &Source,
    base: &toml::Value,
    overrides: &[(&str, toml::Value)],
    seed: u64,
) -> std::result::Result<(Table, String), String> {
    let text = orchsim_sim::sweep::override_text(base, overrides)?;
    let variant = Source {
        origin: source.origin.clone(),
        text,
    };
    let opts = RunOptions {
        seed: Some(seed),
        jobs: Some(1),
        ..RunOptions::default()
    };
    let file_name = Path::new(&source.origin)
        .file_name()
        .map_or(source.origin.clone(), |n| n.to_string_lossy().into_owned());
    let o =
        run(&variant, &opts, &|_| {}).map_err(|e| e.message.replace(&source.origin, &file_name))?;
    Ok((o.headline.table, o.digest))
}

/// Worker threads for `work` independent pieces: `jobs` (default every core), never more
/// than the cores or the pieces — more threads only cost memory, and results do not depend on
/// the count.
pub fn threads(jobs: Option<usize>, work: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    jobs.unwrap_or(cores).min(cores).min(work).max(1)
}
