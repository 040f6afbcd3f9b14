//! `orchsim import`: its arguments and printing; the work is `orchsim_app::import`.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use orchsim_app::import::{self, google_2011, Google2011Request};
use orchsim_app::Error;

use crate::Format;

#[derive(Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    command: ImportCommand,
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Google cluster-data 2011 (clusterdata-2011-2): machine_events and task_events, read
    /// as a stream; prints what was imported and skipped, and with --out writes a scenario
    /// that replays it.
    #[command(name = "google-2011")]
    Google2011(Google2011Args),
}

#[derive(Args)]
struct Google2011Args {
    /// The machine_events table: a CSV file, or a directory of part files.
    #[arg(long)]
    machine_events: PathBuf,
    /// The task_events table: a CSV file, or a directory of part files.
    #[arg(long)]
    task_events: PathBuf,
    /// Cores of the trace's largest machine (capacities and requests are normalised to it).
    #[arg(long, default_value_t = google_2011::DEFAULT_CPU_UNIT_CORES)]
    cpu_unit_cores: f64,
    /// GiB of the trace's largest memory.
    #[arg(long, default_value_t = google_2011::DEFAULT_MEMORY_UNIT_GIB)]
    memory_unit_gib: f64,
    /// Keep tasks first submitted at or after this trace time, s (0: the trace's start).
    #[arg(long, default_value_t = 0.0)]
    from: f64,
    /// Keep tasks first submitted before this trace time, s; a task still running then runs
    /// on to the end of the simulation.
    #[arg(long)]
    to: Option<f64>,
    /// Keep every k-th job, in order of first appearance.
    #[arg(long, default_value_t = 1)]
    every_kth_job: u64,
    /// Stop at the first malformed record (file:line:column) instead of skipping it.
    #[arg(long)]
    strict: bool,
    /// Write a scenario (TOML) replaying the import here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// No progress on stderr.
    #[arg(long, short)]
    quiet: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

fn progress(records: u64) {
    eprint!("\rimport: {:.1} M records", records as f64 / 1e6);
}

pub fn run(args: ImportArgs) -> Result<(), Error> {
    let ImportCommand::Google2011(a) = args.command;
    let show = !a.quiet && std::io::stderr().is_terminal();
    let view = import::google_2011(&Google2011Request {
        machine_events: a.machine_events,
        task_events: a.task_events,
        options: google_2011::Options {
            cpu_unit_cores: a.cpu_unit_cores,
            memory_unit_gib: a.memory_unit_gib,
            from_s: a.from,
            to_s: a.to,
            every_kth_job: a.every_kth_job,
            strict: a.strict,
        },
        out: a.out,
        progress: show.then_some(progress as fn(u64)),
    })?;
    if show {
        eprintln!();
    }
    orchsim_app::render::print(&view, a.format.into())
}
