//! `orchsim bench`: its arguments and printing; the timing is `orchsim_app::bench`.

use std::path::PathBuf;

use orchsim_app::{Error, View};

use crate::Format;

#[derive(clap::Args)]
pub struct BenchArgs {
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

pub fn run(args: BenchArgs) -> Result<(), Error> {
    let bar = crate::Bar::new(args.quiet);
    let t = orchsim_app::bench::table(args.repeat as usize, args.criterion.as_deref(), &|p| {
        bar.show(p)
    });
    bar.finish();
    let t = t?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out").join("bench"));
    orchsim_app::outputs::write_files(&out, &[("bench.csv", t.to_csv())])?;
    let mut view = View::of(t);
    view.after
        .push(format!("wrote {}/bench.csv", out.display()));
    orchsim_app::render::print(&view, args.format.into())
}
