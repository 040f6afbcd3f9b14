//! `orchsim import`: its arguments and printing; the work is `orchsim_app::import`.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use orchsim_app::import::{
    self, alibaba_2018, borg, Alibaba2018Request, GoogleRequest, GoogleTrace,
};
use orchsim_app::render::View;
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
    /// Google cluster-data 2019 (one cell of clusterdata-2019): machine_events and
    /// instance_events as BigQuery exports them (newline-delimited JSON), read as a stream;
    /// prints what was imported and skipped, and with --out writes a scenario that replays it.
    #[command(name = "google-2019")]
    Google2019(Google2019Args),
    /// Alibaba cluster-trace-v2018: machine_meta, container_meta (online services),
    /// batch_task and batch_instance, read as a stream; prints what was imported and skipped,
    /// and with --out writes a scenario that replays it.
    #[command(name = "alibaba-2018")]
    Alibaba2018(Alibaba2018Args),
}

#[derive(Args)]
struct Alibaba2018Args {
    /// machine_meta: a CSV file, or a directory of part files.
    #[arg(long)]
    machine_meta: Option<PathBuf>,
    /// container_meta (online services' containers).
    #[arg(long)]
    container_meta: Option<PathBuf>,
    /// batch_task: each task's instance count, times and planned CPU and memory.
    #[arg(long)]
    batch_task: PathBuf,
    /// batch_instance: each instance's times (else each task's instances share its times).
    #[arg(long)]
    batch_instance: Option<PathBuf>,
    /// GiB of a machine whose normalised memory is 100.
    #[arg(long, default_value_t = alibaba_2018::DEFAULT_MEMORY_UNIT_GIB)]
    memory_unit_gib: f64,
    #[command(flatten)]
    common: CommonArgs,
}

/// What every importer takes.
#[derive(Args)]
struct CommonArgs {
    /// Keep what arrives at or after this trace time, s (0: the trace's start).
    #[arg(long, default_value_t = 0.0)]
    from: f64,
    /// Keep what arrives before this trace time, s; what still runs then runs on to the end
    /// of the simulation.
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

#[derive(Args)]
struct Google2011Args {
    /// The machine_events table: a CSV file, or a directory of part files.
    #[arg(long)]
    machine_events: PathBuf,
    /// The task_events table: a CSV file, or a directory of part files.
    #[arg(long)]
    task_events: PathBuf,
    #[command(flatten)]
    units: BorgUnits,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
struct Google2019Args {
    /// The machine_events table (JSON lines): a file, or a directory of part files.
    #[arg(long)]
    machine_events: PathBuf,
    /// The instance_events table (JSON lines): a file, or a directory of part files.
    #[arg(long)]
    instance_events: PathBuf,
    #[command(flatten)]
    units: BorgUnits,
    #[command(flatten)]
    common: CommonArgs,
}

/// The Google traces' denormalisation factors.
#[derive(Args)]
struct BorgUnits {
    /// Cores of the trace's largest machine (capacities and requests are normalised to it).
    #[arg(long, default_value_t = borg::DEFAULT_CPU_UNIT_CORES)]
    cpu_unit_cores: f64,
    /// GiB of the trace's largest memory.
    #[arg(long, default_value_t = borg::DEFAULT_MEMORY_UNIT_GIB)]
    memory_unit_gib: f64,
}

/// `import google-2011` or `import google-2019`.
fn google(
    trace: GoogleTrace,
    machine_events: PathBuf,
    task_events: PathBuf,
    u: BorgUnits,
    c: &CommonArgs,
) -> Result<View, Error> {
    import::google(&GoogleRequest {
        trace,
        machine_events,
        task_events,
        options: borg::Options {
            cpu_unit_cores: u.cpu_unit_cores,
            memory_unit_gib: u.memory_unit_gib,
            from_s: c.from,
            to_s: c.to,
            every_kth_job: c.every_kth_job,
            strict: c.strict,
        },
        out: c.out.clone(),
        progress: progress(c.quiet),
    })
}

pub fn run(args: ImportArgs) -> Result<(), Error> {
    let (view, common) = match args.command {
        ImportCommand::Google2011(a) => {
            let view = google(
                GoogleTrace::Y2011,
                a.machine_events,
                a.task_events,
                a.units,
                &a.common,
            );
            (view, a.common)
        }
        ImportCommand::Google2019(a) => {
            let view = google(
                GoogleTrace::Y2019,
                a.machine_events,
                a.instance_events,
                a.units,
                &a.common,
            );
            (view, a.common)
        }
        ImportCommand::Alibaba2018(a) => {
            let c = a.common;
            let view = import::alibaba_2018(&Alibaba2018Request {
                machine_meta: a.machine_meta,
                container_meta: a.container_meta,
                batch_task: a.batch_task,
                batch_instance: a.batch_instance,
                options: alibaba_2018::Options {
                    memory_unit_gib: a.memory_unit_gib,
                    from_s: c.from,
                    to_s: c.to,
                    every_kth_job: c.every_kth_job,
                    strict: c.strict,
                },
                out: c.out.clone(),
                progress: progress(c.quiet),
            });
            (view, c)
        }
    };
    if progress(common.quiet).is_some() {
        eprintln!();
    }
    orchsim_app::render::print(&view?, common.format.into())
}

/// Progress on stderr when it is a terminal and not `quiet`.
fn progress(quiet: bool) -> Option<fn(u64)> {
    (!quiet && std::io::stderr().is_terminal()).then_some(show as fn(u64))
}

fn show(records: u64) {
    eprint!("\rimport: {:.1} M records", records as f64 / 1e6);
}
