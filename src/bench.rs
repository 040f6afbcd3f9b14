//! `orchsim bench`: its arguments and printing; the timing is `orchsim_app::bench`.

use std::path::PathBuf;

use orchsim_app::{Error, View};

use crate::Format;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: Option<BenchCommand>,
    /// Runs per scenario; the fastest is reported (least disturbed by other load).
    #[arg(long, default_value_t = 3)]
    repeat: u32,
    /// Also fold in criterion's results from this directory (e.g. target/criterion).
    #[arg(long)]
    criterion: Option<PathBuf>,
    /// Output directory for bench.csv. Default: out/bench.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(clap::Subcommand)]
enum BenchCommand {
    /// Time production-sized scenarios (default: google-scale-1day) into scale.csv: size,
    /// counts and digest, wall time, events/s, pods/s and peak memory, for `orchsim compare`.
    Scale(ScaleArgs),
}

#[derive(clap::Args)]
struct ScaleArgs {
    /// Scenario names or files; default: google-scale-1day.
    scenarios: Vec<String>,
    /// Output directory for scale.csv. Default: out/bench-scale (apart from bench.csv, which
    /// `compare DIR` would read first).
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

fn scale(args: ScaleArgs) -> Result<(), Error> {
    let bar = crate::Bar::new(args.quiet);
    let t = orchsim_app::bench::scale(&args.scenarios, &|p| bar.show(p));
    bar.finish();
    let t = t?;
    let csv = t.to_csv();
    write_and_print(
        View::of(t),
        csv,
        args.out,
        "bench-scale",
        "scale.csv",
        args.format,
    )
}

pub fn run(args: BenchArgs) -> Result<(), Error> {
    if let Some(BenchCommand::Scale(scale_args)) = args.command {
        return scale(scale_args);
    }
    let bar = crate::Bar::new(args.quiet);
    let t = orchsim_app::bench::table(args.repeat as usize, args.criterion.as_deref(), &|p| {
        bar.show(p)
    });
    bar.finish();
    let t = t?;
    let csv = t.to_csv();
    write_and_print(
        View::of(t),
        csv,
        args.out,
        "bench",
        "bench.csv",
        args.format,
    )
}

/// Writes `csv` as `file` into `out` (default `out/<default_dir>`) and prints `view`.
fn write_and_print(
    mut view: View,
    csv: Vec<u8>,
    out: Option<PathBuf>,
    default_dir: &str,
    file: &str,
    format: Format,
) -> Result<(), Error> {
    let out = out.unwrap_or_else(|| PathBuf::from("out").join(default_dir));
    orchsim_app::outputs::write_files(&out, &[(file, csv)])?;
    view.after.push(format!("wrote {}/{file}", out.display()));
    orchsim_app::render::print(&view, format.into())
}
