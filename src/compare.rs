//! `orchsim compare`: current results against a baseline, non-zero exit on regression.

use std::path::PathBuf;

use orchsim_app::Error;

use crate::Format;

#[derive(clap::Args)]
pub struct CompareArgs {
    /// Baseline CSV, or a directory holding summary.csv / sweep.csv.
    baseline: PathBuf,
    /// Current CSV or directory, same shape as the baseline.
    current: PathBuf,
    /// Allowed regressions, `metric=5%` (of the baseline) or `metric=0.5` (absolute);
    /// comma-separated or repeated. Without one a metric must not get worse at all;
    /// wall-clock metrics (wall_s, events_per_s, …) are compared only when named here.
    #[arg(long = "threshold")]
    thresholds: Vec<String>,
    /// Show unchanged metrics too.
    #[arg(long)]
    all: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub fn run(args: CompareArgs) -> Result<u8, Error> {
    let c = orchsim_app::compare::against_baseline(
        &args.baseline,
        &args.current,
        &args.thresholds,
        args.all,
    )?;
    orchsim_app::render::print(&c.view, args.format.into())?;
    // A metric regressed beyond its threshold: a check that failed.
    Ok(if c.regressions > 0 {
        crate::exit::CHECK_FAILED
    } else {
        0
    })
}
