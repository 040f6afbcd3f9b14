//! `orchsim import`: a production trace (Google 2011 and 2019, Alibaba 2018) read as a stream (files,
//! or directories of part files in name order), what it holds summarised, and a scenario
//! written that replays it.

use std::fmt::Write;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use orchsim_report::{Cell, Table};
pub use orchsim_sim::import::{alibaba_2018, borg, google_2011, google_2019};
use orchsim_sim::import::{ImportError, Input, Summary};

use crate::error::Error;
use crate::render::View;

/// Which of Google's traces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoogleTrace {
    /// cluster-data 2011: headerless CSV.
    Y2011,
    /// cluster-data 2019: BigQuery's JSON lines.
    Y2019,
}

impl GoogleTrace {
    /// The format's name, its importer, the flag naming its task table, and the scenario's
    /// description.
    fn parts(self) -> (&'static str, Import, &'static str, &'static str) {
        match self {
            GoogleTrace::Y2011 => (google_2011::FORMAT, google_2011::import, "task-events", "Google cluster-data 2011 replayed: the trace's machines, its tasks at their submit times for the time they ran"),
            GoogleTrace::Y2019 => (google_2019::FORMAT, google_2019::import, "instance-events", "Google cluster-data 2019 replayed: the cell's machines, its tasks and alloc instances at their submit times for the time they ran"),
        }
    }
}

/// A Google trace's importer.
type Import = fn(
    Vec<Input<'_>>,
    Vec<Input<'_>>,
    &borg::Options,
    &mut dyn FnMut(u64),
) -> Result<borg::Trace, ImportError>;

/// `import google-2011` and `import google-2019`'s request.
#[derive(Clone, Debug)]
pub struct GoogleRequest {
    pub trace: GoogleTrace,
    /// machine_events: a file or a directory of part files.
    pub machine_events: PathBuf,
    /// task_events (2011) or instance_events (2019): a file or a directory of part files.
    pub task_events: PathBuf,
    pub options: borg::Options,
    /// Where to write the scenario (TOML); none: only the summary.
    pub out: Option<PathBuf>,
    /// Called with the records read so far, every 2²⁰.
    pub progress: Option<fn(u64)>,
}

/// The files of `path`: itself, or a directory's regular files by name (the trace's
/// `part-00000-of-00500.csv` order). Compressed parts are refused with what to do.
fn parts(path: &Path, what: &str) -> Result<Vec<PathBuf>, Error> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::bad_input(format!("--{what}: cannot read {}: {e}", path.display())))?;
    let mut files = if meta.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Error::bad_input(format!("--{what}: {}: {e}", path.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        v.sort();
        v
    } else {
        vec![path.to_path_buf()]
    };
    files.retain(|p| {
        !p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
    });
    if let Some(gz) = files
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "gz"))
    {
        return Err(Error::bad_input(format!(
            "--{what}: {} is compressed; decompress the parts first (`gunzip -k {}/*.gz`)",
            gz.display(),
            path.display()
        )));
    }
    if files.is_empty() {
        return Err(Error::bad_input(format!(
            "--{what}: {} holds no files",
            path.display()
        )));
    }
    Ok(files)
}

fn inputs(files: &[PathBuf], what: &str) -> Result<Vec<Input<'static>>, Error> {
    files
        .iter()
        .map(|p| {
            let f = std::fs::File::open(p).map_err(|e| {
                Error::bad_input(format!("--{what}: cannot open {}: {e}", p.display()))
            })?;
            Ok(Input {
                name: p.display().to_string(),
                reader: Box::new(BufReader::with_capacity(1 << 20, f)),
            })
        })
        .collect()
}

fn import_error(e: ImportError) -> Error {
    Error::bad_input(e.to_string())
}

/// The summary as a view; with `out`, the scenario `toml` writes (its tables must be files,
/// not directories of parts).
fn finish(
    s: &Summary,
    out: Option<&Path>,
    toml: impl FnOnce(&Path) -> Result<String, Error>,
) -> Result<View, Error> {
    let mut text = summary_text(s);
    if let Some(out) = out {
        let toml = toml(out)?;
        std::fs::write(out, toml)
            .map_err(|e| Error::bad_input(format!("--out: cannot write {}: {e}", out.display())))?;
        writeln!(
            text,
            "wrote {} (run it with `orchsim run {}`)",
            out.display(),
            out.display()
        )?;
    }
    let mut view = View::of(summary_table(s)?);
    view.json_text = Some(serde_json::to_string_pretty(s)?);
    view.text = Some(text);
    Ok(view)
}

fn progress_of(p: Option<fn(u64)>) -> impl FnMut(u64) {
    move |n| {
        if let Some(p) = p {
            p(n)
        }
    }
}

/// A scenario names one file per table: refused before reading anything when `--out` is
/// asked of directories of parts.
fn check_out(out: Option<&Path>, tables: &[&Path]) -> Result<(), Error> {
    if out.is_some() && tables.iter().any(|t| t.is_dir()) {
        return Err(Error::bad_input(
            "--out: a scenario names one file per table; join the parts first (`cat part-* > task_events.csv`)",
        ));
    }
    Ok(())
}

/// `import google-2011` and `import google-2019`.
pub fn google(r: &GoogleRequest) -> Result<View, Error> {
    let (format, import, tasks, description) = r.trace.parts();
    check_out(r.out.as_deref(), &[&r.machine_events, &r.task_events])?;
    let machine_files = parts(&r.machine_events, "machine-events")?;
    let task_files = parts(&r.task_events, tasks)?;
    let trace = import(
        inputs(&machine_files, "machine-events")?,
        inputs(&task_files, tasks)?,
        &r.options,
        &mut progress_of(r.progress),
    )
    .map_err(import_error)?;
    let s = &trace.summary;
    finish(s, r.out.as_deref(), |out| {
        let o = &r.options;
        let mut t = header(s, out, format, description)?;
        writeln!(t, "nodes = {}", quote(relative_to(out, &r.machine_events)?))?;
        writeln!(t, "pods = {}", quote(relative_to(out, &r.task_events)?))?;
        writeln!(
            t,
            "cpu_unit_cores = {:?}      # cores of the trace's largest machine (normalised 1.0)",
            o.cpu_unit_cores
        )?;
        writeln!(
            t,
            "memory_unit_gib = {:?}     # GiB of its largest memory",
            o.memory_unit_gib
        )?;
        window(&mut t, o.from_s, o.to_s, o.every_kth_job, o.strict)?;
        Ok(t)
    })
}

/// `import alibaba-2018`'s request.
#[derive(Clone, Debug)]
pub struct Alibaba2018Request {
    pub machine_meta: Option<PathBuf>,
    pub container_meta: Option<PathBuf>,
    pub batch_task: PathBuf,
    pub batch_instance: Option<PathBuf>,
    pub options: alibaba_2018::Options,
    pub out: Option<PathBuf>,
    pub progress: Option<fn(u64)>,
}

/// `import alibaba-2018`.
pub fn alibaba_2018(r: &Alibaba2018Request) -> Result<View, Error> {
    let tables: Vec<&Path> = [&r.machine_meta, &r.container_meta, &r.batch_instance]
        .into_iter()
        .flatten()
        .map(PathBuf::as_path)
        .chain([r.batch_task.as_path()])
        .collect();
    check_out(r.out.as_deref(), &tables)?;
    let table = |p: &Option<PathBuf>, what: &str| -> Result<Vec<Input<'static>>, Error> {
        match p {
            Some(p) => inputs(&parts(p, what)?, what),
            None => Ok(Vec::new()),
        }
    };
    let trace = alibaba_2018::import(
        alibaba_2018::Tables {
            machine_meta: table(&r.machine_meta, "machine-meta")?,
            container_meta: table(&r.container_meta, "container-meta")?,
            batch_task: table(&Some(r.batch_task.clone()), "batch-task")?,
            batch_instance: table(&r.batch_instance, "batch-instance")?,
        },
        &r.options,
        &mut progress_of(r.progress),
    )
    .map_err(import_error)?;
    let s = &trace.summary;
    finish(s, r.out.as_deref(), |out| {
        let o = &r.options;
        let mut t = header(s, out, "alibaba-2018", "Alibaba cluster-trace-v2018 replayed: its machines, online containers and batch instances at their times")?;
        for (key, path) in [
            ("nodes", &r.machine_meta),
            ("containers", &r.container_meta),
            ("instances", &r.batch_instance),
        ] {
            if let Some(p) = path {
                writeln!(t, "{key} = {}", quote(relative_to(out, p)?))?;
            }
        }
        writeln!(t, "pods = {}", quote(relative_to(out, &r.batch_task)?))?;
        writeln!(
            t,
            "memory_unit_gib = {:?}    # GiB of a machine whose normalised memory is 100",
            o.memory_unit_gib
        )?;
        window(&mut t, o.from_s, o.to_s, o.every_kth_job, o.strict)?;
        Ok(t)
    })
}

fn quote(v: String) -> String {
    toml::Value::String(v).to_string()
}

/// The scenario's top and the `[trace]` table's first line.
fn header(s: &Summary, out: &Path, format: &str, description: &str) -> Result<String, Error> {
    let name = out.file_stem().map_or(format!("{format}-import"), |n| {
        n.to_string_lossy().into_owned()
    });
    let mut t = String::new();
    writeln!(
        t,
        "# Imported by `orchsim import {format}`: {} machines, {} jobs, {} pods arriving over {:.0} s",
        s.machines, s.jobs, s.tasks, s.last_arrival_s
    )?;
    writeln!(
        t,
        "# ({} records read, {} skipped).",
        s.records,
        s.skipped_total()
    )?;
    writeln!(t, "name = {}", quote(name))?;
    writeln!(t, "description = {}", quote(description.into()))?;
    writeln!(t, "seed = 1")?;
    // An hour past the last arrival.
    let duration = (s.last_arrival_s + 3600.0).ceil().max(3600.0) as u64;
    writeln!(t, "duration_s = {duration}")?;
    writeln!(t, "sample_interval_s = {}", (duration / 100).max(1))?;
    writeln!(t)?;
    writeln!(t, "[trace]")?;
    writeln!(t, "format = \"{format}\"")?;
    Ok(t)
}

/// The window and sampling keys, the `[trace]` table's end and the scheduler.
fn window(
    t: &mut String,
    from_s: f64,
    to_s: Option<f64>,
    every_kth_job: u64,
    strict: bool,
) -> Result<(), Error> {
    writeln!(t, "from_s = {from_s:?}")?;
    if let Some(to) = to_s {
        writeln!(t, "to_s = {to:?}")?;
    }
    writeln!(t, "every_kth_job = {every_kth_job}")?;
    writeln!(t, "strict = {strict}")?;
    writeln!(t)?;
    writeln!(t, "[scheduler]")?;
    writeln!(t, "algorithm = \"kubernetes\"")?;
    Ok(())
}

fn summary_table(s: &Summary) -> Result<Table, Error> {
    let mut t = Table::new(["what", "count"]);
    for (what, n) in [
        ("records", s.records),
        ("machines", s.machines),
        ("jobs", s.jobs),
        ("tasks", s.tasks),
    ] {
        t.push(vec![what.into(), Cell::UInt(n)])?;
    }
    for (why, n) in &s.skipped {
        t.push(vec![format!("skipped: {why}").into(), Cell::UInt(*n)])?;
    }
    Ok(t)
}

fn summary_text(s: &Summary) -> String {
    let mut t = format!(
        "{}: {} records; {} machines, {} jobs, {} tasks arriving from {:.0} s to {:.0} s\n",
        s.format, s.records, s.machines, s.jobs, s.tasks, s.first_arrival_s, s.last_arrival_s
    );
    for (why, n) in &s.skipped {
        t.push_str(&format!("skipped: {n} × {why}\n"));
    }
    for e in &s.examples {
        t.push_str(&format!("  {}:{}: {}\n", e.file, e.line, e.reason));
    }
    t
}

/// `path` as the scenario at `out` names it: relative to its directory when both are under
/// one, else absolute.
fn relative_to(out: &Path, path: &Path) -> Result<String, Error> {
    let abs = |p: &Path| {
        std::fs::canonicalize(p)
            .map_err(|e| Error::bad_input(format!("cannot resolve {}: {e}", p.display())))
    };
    let target = abs(path)?;
    let dir = abs(out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new(".")))?;
    let shared = dir
        .components()
        .zip(target.components())
        .take_while(|(a, b)| a == b)
        .count();
    if shared <= 1 {
        return Ok(target.display().to_string());
    }
    let mut rel = PathBuf::new();
    for _ in dir.components().skip(shared) {
        rel.push("..");
    }
    for c in target.components().skip(shared) {
        rel.push(c);
    }
    Ok(rel.to_string_lossy().replace('\\', "/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_walk_up_from_the_scenario() {
        let dir = std::env::temp_dir().join(format!("orchsim-import-rel-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::fs::create_dir_all(dir.join("c")).unwrap();
        std::fs::write(dir.join("c/t.csv"), "").unwrap();
        let rel = relative_to(&dir.join("a/b/s.toml"), &dir.join("c/t.csv")).unwrap();
        assert_eq!(rel, "../../c/t.csv");
        let rel = relative_to(&dir.join("c/s.toml"), &dir.join("c/t.csv")).unwrap();
        assert_eq!(rel, "t.csv");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
