//! `orchsim`: the command line. It parses arguments, loads files, calls the crates and prints;
//! the work itself lives in the library crates (ARCHITECTURE.md).

/// `println!` that returns a write error (a closed pipe among them) instead of panicking:
/// `outln!(…)?` in a function returning `Result<_, orchsim_app::Error>`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

mod bench;
mod characterize;
mod compare;
mod explain;
mod fit;
mod import;
mod live;
mod net;
mod plan;
mod sweep;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use orchsim_app::{Error, ErrorKind, Progress, RunOptions, Source, View};

#[derive(Parser)]
#[command(
    name = "orchsim",
    version,
    about = "Deterministic simulation and benchmarking of container orchestration and networking",
    after_help = "With no command, `orchsim` runs the embedded quickstart scenario (`orchsim run`)."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a scenario and write summary.csv, pods.csv, timeseries.csv and digest.txt.
    Run(RunArgs),
    /// Run a scenario over a grid of parameter values × seeds, in parallel.
    Sweep(sweep::SweepArgs),
    /// Find the smallest cluster (value of one parameter) that meets a target.
    Plan(plan::PlanArgs),
    /// Join the outputs of `sweep --shard I/N` runs into one sweep.csv.
    Merge(sweep::MergeArgs),
    /// Compare results with a baseline; exit 1 if a metric regressed beyond its threshold.
    Compare(compare::CompareArgs),
    /// Show why a pod lands where it does: filters, scores and the chosen node.
    Explain(explain::ExplainArgs),
    /// Will this application fit on this cluster? Replicas placed, the scheduler's reason
    /// for the rest, the nodes to add; exit 1 when something does not fit.
    Fit(fit::FitArgs),
    /// Production traces in: `import google-2011` summarises a trace and writes a scenario
    /// that replays it.
    Import(import::ImportArgs),
    /// Measure a replayed trace's shape (arrival cycle, requests, run times, priorities) and
    /// write the synthetic generators that draw from it.
    Characterize(characterize::CharacterizeArgs),
    /// Container network datapaths: `net compare`, `net explain`, `net profile`.
    Net(net::NetArgs),
    /// Live mode: the real datapaths built in network namespaces and measured against the
    /// model (`live net`), and `live clean`. Needs root.
    Live(live::LiveArgs),
    /// The node agent live mode drives: reports the node, starts and stops allowed commands
    /// under cgroup CPU/memory limits for callers holding the shared token.
    Agent(live::AgentArgs),
    /// Time the embedded scenarios (and fold in criterion results) into bench.csv.
    Bench(bench::BenchArgs),
    /// List the scenarios embedded in this binary.
    Scenarios {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show the orchestrator presets (`[orchestrator] preset`) and the API server model's
    /// defaults (`[api_server]`): every value with its upstream source.
    Presets {
        /// Only this one: kubernetes, swarm, mesos-marathon or api-server.
        name: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(clap::Args, Default)]
struct RunArgs {
    /// A scenario file, or the name of an embedded one (`orchsim scenarios`).
    /// Default: the embedded quickstart.
    scenario: Option<String>,
    /// Master seed; overrides the scenario's `seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// Placement algorithm; overrides the scenario's `[scheduler] algorithm`, e.g.
    /// `kubernetes` or `fgd` (an unknown name lists every algorithm).
    #[arg(long)]
    scheduler: Option<String>,
    /// Output directory. Default: out/<scenario name>.
    #[arg(long)]
    out: Option<PathBuf>,
    /// How to print the summary on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// No progress display on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Also write report.html with charts (SVG and PNG beside it).
    #[arg(long)]
    report: bool,
    /// Study scenarios (`[study]`): experiments run in parallel on this many threads.
    /// Default: all cores. The results do not depend on it.
    #[arg(long)]
    jobs: Option<usize>,
    /// Study scenarios: run only these policies (comma-separated), e.g. `fgd,best-fit`.
    #[arg(long = "policy", value_delimiter = ',')]
    policies: Vec<String>,
}

#[derive(Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    #[default]
    Table,
    Json,
    Csv,
}

impl From<Format> for orchsim_app::Format {
    fn from(f: Format) -> Self {
        match f {
            Format::Table => orchsim_app::Format::Table,
            Format::Json => orchsim_app::Format::Json,
            Format::Csv => orchsim_app::Format::Csv,
        }
    }
}

/// Exit statuses, documented in the README ("Exit status") and tested.
pub(crate) mod exit {
    /// A check failed: a regression beyond its threshold, no answer in a plan's range, an
    /// internal audit that found an inconsistency.
    pub const CHECK_FAILED: u8 = 1;
    /// Bad input: a scenario, file or argument that cannot be used.
    pub const BAD_INPUT: u8 = 2;
    /// Partial results: some runs of a sweep failed, the rest were written.
    pub const PARTIAL: u8 = 3;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => run(RunArgs::default()),
        Some(Command::Sweep(args)) => match sweep::sweep(args) {
            Ok(code) => return ExitCode::from(code),
            Err(e) => Err(e),
        },
        Some(Command::Merge(args)) => sweep::merge(args),
        Some(Command::Plan(args)) => match plan::run(args) {
            Ok(code) => return ExitCode::from(code),
            Err(e) => Err(e),
        },
        Some(Command::Compare(args)) => match compare::run(args) {
            Ok(code) => return ExitCode::from(code),
            Err(e) => Err(e),
        },
        Some(Command::Run(args)) => run(args),
        Some(Command::Explain(args)) => explain::explain(args),
        Some(Command::Fit(args)) => match fit::run(args) {
            Ok(code) => return ExitCode::from(code),
            Err(e) => Err(e),
        },
        Some(Command::Bench(args)) => bench::run(args),
        Some(Command::Net(args)) => net::run(args),
        Some(Command::Import(args)) => import::run(args),
        Some(Command::Characterize(args)) => characterize::run(args),
        Some(Command::Live(args)) => live::run(args),
        Some(Command::Agent(args)) => live::agent(args),
        Some(Command::Scenarios { format }) => scenarios(format),
        Some(Command::Presets { name, format }) => presets(name.as_deref(), format),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => ExitCode::from(report_error(&e)),
    }
}

/// Prints `e` on stderr as its kind calls for and returns the exit status.
pub(crate) fn report_error(e: &Error) -> u8 {
    // Stderr closed too: nothing more can be said, so write errors are ignored.
    match e.kind {
        ErrorKind::BrokenPipe => 0,
        ErrorKind::Internal => {
            let _ = writeln!(std::io::stderr(), "orchsim: internal error: {e}");
            exit::CHECK_FAILED
        }
        ErrorKind::BadInput => {
            let _ = writeln!(std::io::stderr(), "orchsim: error: {e}");
            exit::BAD_INPUT
        }
    }
}

/// A progress bar on stderr fed by the application layer's progress events; hidden when
/// `quiet` or when stderr is not a terminal.
pub(crate) struct Bar {
    bar: ProgressBar,
    unit: std::sync::Mutex<&'static str>,
    failed: std::sync::atomic::AtomicU64,
}

impl Bar {
    pub(crate) fn new(quiet: bool) -> Self {
        let target = if quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}, ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Bar {
            bar,
            unit: std::sync::Mutex::new(""),
            failed: 0.into(),
        }
    }

    /// Shows one progress event.
    pub(crate) fn show(&self, p: Progress) {
        use std::sync::atomic::Ordering;
        let unit = |u: Option<&'static str>| -> &'static str {
            let mut g = self.unit.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(u) = u {
                *g = u;
            }
            *g
        };
        match p {
            Progress::Start { total, unit: u } => {
                self.bar.set_length(total);
                self.bar.set_message(unit(Some(u)));
            }
            Progress::Advance(n) => self.bar.inc(n),
            Progress::At(n) => self.bar.set_position(n),
            Progress::Failed(n) => {
                let f = self.failed.fetch_add(n, Ordering::Relaxed) + n;
                self.bar.set_message(format!("{}, {f} failed", unit(None)));
            }
        }
    }

    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn run(args: RunArgs) -> Result<(), Error> {
    let source = Source::resolve(args.scenario.as_deref())?;
    if let Some(out) = &args.out {
        orchsim_app::outputs::check_not_input(out, &source.path().into_iter().collect::<Vec<_>>())?;
    }
    let opts = RunOptions {
        seed: args.seed,
        scheduler: args.scheduler.clone(),
        jobs: args.jobs,
        policies: args.policies.clone(),
        report: args.report,
    };
    let bar = Bar::new(args.quiet);
    let outcome = orchsim_app::run::run(&source, &opts, &|p| bar.show(p))?;
    bar.finish();
    let out = args.out.clone().unwrap_or_else(|| outcome.default_dir());
    outcome.write(&out)?;
    for w in &outcome.warnings {
        eprintln!("orchsim: warning: {w}");
    }
    orchsim_app::render::print(&outcome.view(&out), args.format.into())
}

fn presets(name: Option<&str>, format: Format) -> Result<(), Error> {
    orchsim_app::render::print(
        &View::of(orchsim_app::catalog::presets(name)?),
        format.into(),
    )
}

fn scenarios(format: Format) -> Result<(), Error> {
    orchsim_app::render::print(&View::of(orchsim_app::catalog::listing()?), format.into())
}
