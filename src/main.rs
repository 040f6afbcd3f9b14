//! `orchsim`: the command line. It parses arguments, loads files, calls the crates and prints;
//! the work itself lives in the library crates (ARCHITECTURE.md).

/// `println!` that returns a write error (a closed pipe among them) instead of panicking:
/// `outln!(…)?` in a function returning `Result<_, CliError>`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// `print!` that returns a write error instead of panicking (see [`outln`]).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)
    }};
}

mod arch;
mod bench;
mod catalog;
mod compare;
mod explain;
mod files;
mod net;
mod plan;
mod study;
mod sweep;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use orchsim_report::{Cell, Table};
use orchsim_sim::{Scenario, Summary};

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
    /// Container network datapaths: `net compare`, `net explain`, `net profile`.
    Net(net::NetArgs),
    /// Time the embedded scenarios (and fold in criterion results) into bench.csv.
    Bench(bench::BenchArgs),
    /// List the scenarios embedded in this binary.
    Scenarios {
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

/// A failure the user can act on, printed as `orchsim: error: …` (exit status 2).
pub(crate) struct CliError(pub(crate) String);

/// The message of a write to a closed pipe (`orchsim … | head -1`): not a failure, the reader
/// has what it wanted, so the command ends quietly with status 0.
const BROKEN_PIPE: &str = "\0broken pipe";
/// Prefix of an internal error (a bug found by an audit), which exits 1, not 2.
const INTERNAL: &str = "\0internal: ";

impl CliError {
    /// An inconsistency orchsim found in its own results: a bug, not the user's input.
    pub(crate) fn internal(msg: impl std::fmt::Display) -> Self {
        CliError(format!(
            "{INTERNAL}{msg} (a bug in orchsim; please report it with the scenario)"
        ))
    }
}

impl<E: std::fmt::Display + 'static> From<E> for CliError {
    fn from(e: E) -> Self {
        let io = (&e as &dyn std::any::Any).downcast_ref::<std::io::Error>();
        if io.is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) {
            return CliError(BROKEN_PIPE.into());
        }
        CliError(e.to_string())
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
        Some(Command::Bench(args)) => bench::run(args),
        Some(Command::Net(args)) => net::run(args),
        Some(Command::Scenarios { format }) => scenarios(format),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError(msg)) if msg == BROKEN_PIPE => ExitCode::SUCCESS,
        Err(CliError(msg)) if msg.starts_with(INTERNAL) => {
            let _ = writeln!(
                std::io::stderr(),
                "orchsim: internal error: {}",
                &msg[INTERNAL.len()..]
            );
            ExitCode::from(exit::CHECK_FAILED)
        }
        Err(CliError(msg)) => {
            // Stderr closed too: nothing more can be said.
            let _ = writeln!(std::io::stderr(), "orchsim: error: {msg}");
            ExitCode::from(exit::BAD_INPUT)
        }
    }
}

/// The scenario's source name and text: a file, or an embedded scenario when no such file
/// exists.
pub(crate) fn scenario_text(arg: Option<&str>) -> Result<(String, String), CliError> {
    let arg = arg.unwrap_or(catalog::DEFAULT);
    let path = Path::new(arg);
    // A directory is never a scenario: `dual-orchestration/` in the working directory must
    // not hide the embedded scenario of that name.
    if path.exists() && !path.is_dir() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError(format!("cannot read scenario {}: {e}", path.display())))?;
        return Ok((path.display().to_string(), text));
    }
    match catalog::find(arg) {
        Some((file, text)) => Ok((format!("<embedded>/scenarios/{file}"), text.to_string())),
        None => Err(CliError(format!(
            "no scenario file `{arg}`, and no embedded scenario of that name; embedded: {}",
            catalog::CATALOG
                .iter()
                .map(|(f, _)| f.trim_end_matches(".toml"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Creates `out` and writes each `(file name, bytes)` into it.
pub(crate) fn write_outputs(out: &Path, files: &[(&str, Vec<u8>)]) -> Result<(), CliError> {
    std::fs::create_dir_all(out).map_err(|e| {
        CliError(format!(
            "cannot create output directory {}: {e}",
            out.display()
        ))
    })?;
    for (name, bytes) in files {
        let path = out.join(name);
        std::fs::write(&path, bytes)
            .map_err(|e| CliError(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}

/// The `wrote …` line that ends a table-format run.
pub(crate) fn wrote_line(out: &Path, files: &[&str], report: bool) -> String {
    format!(
        "wrote      {}/{{{}{}}}",
        out.display(),
        files.join(", "),
        if report {
            ", report.html, *.svg, *.png"
        } else {
            ""
        }
    )
}

/// Parses a simulation scenario; a study scenario gets an error saying what runs it.
pub(crate) fn simulation_scenario(file: &str, text: &str) -> Result<Scenario, CliError> {
    if orchsim_sim::study_kind(text).is_some() {
        return Err(CliError(format!(
            "{file} is a study scenario ([study]); run it with `orchsim run` \
             (GPU studies: `orchsim explain --study` explains one placement)"
        )));
    }
    Ok(orchsim_sim::parse_with_files(
        file,
        text,
        &files::Beside { scenario: file },
    )?)
}

fn run(args: RunArgs) -> Result<(), CliError> {
    let (file, text) = scenario_text(args.scenario.as_deref())?;
    if args.scheduler.is_some() && orchsim_sim::study_kind(&text).is_some() {
        return Err(CliError(format!(
            "--scheduler applies to simulation scenarios; {file} is a study, whose `policies` (or --policy) choose the schedulers"
        )));
    }
    match orchsim_sim::study_kind(&text).as_deref() {
        Some("scheduler-architectures") => return arch::run(&file, &text, &args),
        Some(_) => return study::run(&file, &text, &args),
        None => {}
    }
    if args.jobs.is_some() || !args.policies.is_empty() {
        return Err(CliError(format!(
            "--jobs and --policy apply to study scenarios (with a [study] table); {file} is a simulation scenario"
        )));
    }
    let mut scenario = simulation_scenario(&file, &text)?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    if let Some(algorithm) = &args.scheduler {
        if !scenario.control_plane.schedulers.is_empty() {
            return Err(CliError(format!(
                "--scheduler replaces the one scheduler of a monolithic control plane; {file} has a {} control plane, whose schedulers are in [[control_plane.schedulers]]",
                scenario.control_plane.kind.name()
            )));
        }
        orchsim_sched::by_name(algorithm, 0).map_err(|e| CliError(format!("--scheduler: {e}")))?;
        // A kube-scheduler profile configures `kubernetes` only.
        if algorithm != "kubernetes" {
            scenario.scheduler.profile = None;
        }
        scenario.scheduler.algorithm = algorithm.clone();
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out").join(&scenario.name));

    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let total = scenario.duration.as_secs_f64();
    let started = Instant::now();
    let mut last_shown = Instant::now();
    let result = orchsim_sim::run_with_progress(&scenario, &mut |now| {
        if show_progress && last_shown.elapsed().as_millis() >= 200 {
            last_shown = Instant::now();
            eprint!(
                "\r[{:>3.0}%] simulated {:.0} of {:.0} s",
                now.as_secs_f64() * 100.0 / total,
                now.as_secs_f64(),
                total
            );
        }
    })?;
    let wall = started.elapsed().as_secs_f64();
    if show_progress {
        eprint!("\r\x1b[2K");
    }
    if let Some(e) = &result.audit_error {
        return Err(CliError::internal(format!(
            "the end-of-run audit found {e}"
        )));
    }

    let summary_table = result.summary.table();
    let pods_table = result.pods_table();
    let mut files: Vec<(&str, Vec<u8>)> = vec![
        ("summary.csv", summary_table.to_csv()),
        ("pods.csv", pods_table.to_csv()),
        ("timeseries.csv", result.timeseries.to_csv()),
    ];
    files.push(("workloads.csv", result.workloads_table.to_csv()));
    files.push(("schedulers.csv", result.schedulers_table.to_csv()));
    if let Some(f) = &result.fragmentation {
        files.push(("fragmentation.csv", f.to_csv()));
    }
    if let Some(f) = &result.shares {
        files.push(("shares.csv", f.to_csv()));
    }
    files.push(("digest.txt", format!("{}\n", result.digest()).into_bytes()));
    write_outputs(&out, &files)?;
    let written: Vec<&str> = files.iter().map(|(name, _)| *name).collect();

    if args.report {
        let title = format!("orchsim run: {} (seed {})", scenario.name, scenario.seed);
        orchsim_report::report::run_report(
            &out,
            &title,
            &summary_table,
            &pods_table,
            &result.timeseries,
            result.fragmentation.as_ref(),
            &text,
        )?;
    }
    let s = &result.summary;
    let events_per_s = if wall > 0.0 {
        s.events as f64 / wall
    } else {
        0.0
    };
    let mut stdout = std::io::stdout().lock();
    match args.format {
        Format::Table => {
            write!(
                stdout,
                "{}",
                human_summary(s, &scenario, wall, events_per_s)
            )?;
            writeln!(stdout, "{}", wrote_line(&out, &written, args.report))?;
        }
        Format::Json => {
            let mut obj = summary_table.to_json_rows()[0].clone();
            if let Some(m) = obj.as_object_mut() {
                m.insert("wall_s".into(), serde_json::json!(round3(wall)));
                m.insert(
                    "events_per_s".into(),
                    serde_json::json!(events_per_s.round()),
                );
                m.insert(
                    "out_dir".into(),
                    serde_json::json!(out.display().to_string()),
                );
            }
            writeln!(stdout, "{}", serde_json::to_string_pretty(&obj)?)?;
        }
        Format::Csv => stdout.write_all(&summary_table.to_csv())?,
    }
    Ok(())
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn ms(d: Option<orchsim_kernel::SimDuration>) -> String {
    d.map_or("-".into(), |d| format!("{:.1} ms", d.as_millis_f64()))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}%"))
}

fn human_summary(s: &Summary, sc: &Scenario, wall: f64, events_per_s: f64) -> String {
    let mut o = format!(
        "orchsim run: {} (seed {}): {} on {} hosts, datapath {} (pod MTU {})\n",
        s.scenario, s.seed, s.algorithm, s.hosts, s.datapath, s.pod_mtu
    );
    if !sc.description.is_empty() {
        o += &format!("           {}\n", sc.description);
    }
    o += &format!(
        "pods       {} submitted: {} scheduled ({} finished, {} running, {} starting), {} pending, {} unschedulable\n",
        s.pods_submitted,
        s.pods_scheduled,
        s.pods_finished,
        s.pods_running,
        s.pods_starting,
        s.pods_pending,
        s.pods_unschedulable
    );
    if s.pods_abandoned > 0 {
        o += &format!(
            "abandoned  {} pods of jobs given up after the retry limits\n",
            s.pods_abandoned
        );
    }
    o += &format!(
        "wait       p50 {}, p95 {}, p99 {}, max {} (queued to bind)\n",
        ms(s.wait_p50),
        ms(s.wait_p95),
        ms(s.wait_p99),
        ms(s.wait_max)
    );
    o += &format!(
        "cpu        mean {}, peak {} of allocatable requested\n",
        pct(s.cpu_util_mean_pct),
        pct(s.cpu_util_peak_pct)
    );
    o += &format!(
        "memory     mean {}, peak {}\n",
        pct(s.mem_util_mean_pct),
        pct(s.mem_util_peak_pct)
    );
    if s.gpu_util_mean_pct.is_some() {
        o += &format!(
            "gpu        mean {}, peak {}\n",
            pct(s.gpu_util_mean_pct),
            pct(s.gpu_util_peak_pct)
        );
    }
    if sc.control_plane.schedulers.is_empty() {
        o += &format!("scheduler  busy {:.2}% of the time\n", s.scheduler_busy_pct);
    } else {
        o += &format!(
            "schedulers {} control plane, the busiest busy {:.2}% of the time (per scheduler: schedulers.csv)\n",
            sc.control_plane.kind.name(),
            s.scheduler_busy_pct
        );
    }
    if s.evictions > 0 {
        o += &format!("preemption {} evictions (victims re-queued)\n", s.evictions);
    }
    o += &format!(
        "simulated  {:.1} s in {:.3} s wall: {} events, {:.2} M events/s\n",
        s.sim_time.as_secs_f64(),
        wall,
        s.events,
        events_per_s / 1e6
    );
    o += &format!("digest     {}\n", s.digest);
    o
}

fn scenarios(format: Format) -> Result<(), CliError> {
    let mut t = Table::new(["name", "hosts", "workloads", "duration_s", "description"]);
    for (file, text) in catalog::CATALOG {
        let source = format!("<embedded>/scenarios/{file}");
        if orchsim_sim::study_kind(text).as_deref() == Some("scheduler-architectures") {
            let st = orchsim_sim::architectures::parse(&source, text)?;
            t.push(vec![
                st.name.as_str().into(),
                Cell::UInt(st.setup.machines as u64),
                Cell::UInt(st.setup.workloads.len() as u64),
                Cell::Float(st.setup.duration_s, 0),
                st.description.as_str().into(),
            ])
            .map_err(|_| CliError("internal: catalog row width".into()))?;
            continue;
        }
        if orchsim_sim::gpu_study::is_study(text) {
            let st = orchsim_sim::gpu_study::parse(&source, text)?;
            t.push(vec![
                st.name.as_str().into(),
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
                st.description.as_str().into(),
            ])
            .map_err(|_| CliError("internal: catalog row width".into()))?;
            continue;
        }
        let sc = simulation_scenario(&source, text)?;
        t.push(vec![
            sc.name.as_str().into(),
            sc.host_count().into(),
            (sc.workloads.len() + usize::from(sc.trace.is_some())).into(),
            Cell::Float(sc.duration.as_secs_f64(), 0),
            sc.description.as_str().into(),
        ])
        .map_err(|_| CliError("internal: catalog row width".into()))?;
    }
    let mut stdout = std::io::stdout().lock();
    match format {
        Format::Table => write!(stdout, "{}", t.to_text())?,
        Format::Json => writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&t.to_json_rows())?
        )?,
        Format::Csv => stdout.write_all(&t.to_csv())?,
    }
    Ok(())
}
