//! `orchsim compare`: current results against a baseline, non-zero exit on regression.

use std::path::{Path, PathBuf};

use orchsim_report::compare::{compare, delta_table, parse_thresholds};

use orchsim_app::outputs::read_table;
use orchsim_app::{Error, View};

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

/// Exit status when a metric regressed beyond its threshold.
pub const REGRESSION: u8 = crate::exit::CHECK_FAILED;

fn resolve(p: &Path) -> Result<PathBuf, Error> {
    if p.is_dir() {
        for name in ["summary.csv", "sweep.csv", "bench.csv"] {
            if p.join(name).is_file() {
                return Ok(p.join(name));
            }
        }
        return Err(Error::bad_input(format!(
            "{}: no summary.csv, sweep.csv or bench.csv inside",
            p.display()
        )));
    }
    Ok(p.to_path_buf())
}

pub fn run(args: CompareArgs) -> Result<u8, Error> {
    let (b, c) = (resolve(&args.baseline)?, resolve(&args.current)?);
    let thresholds = parse_thresholds(&args.thresholds.join(","))?;
    let deltas = compare(&read_table(&b)?, &read_table(&c)?, &thresholds)
        .map_err(|e| Error::bad_input(format!("{} vs {}: {e}", b.display(), c.display())))?;
    let regressions = deltas.iter().filter(|d| d.regression).count();
    let table = delta_table(&deltas, !args.all);
    let json = serde_json::json!({
        "baseline": b.display().to_string(),
        "current": c.display().to_string(),
        "regressions": regressions,
        "deltas": table.to_json_rows(),
    });
    let mut view = View::of(table);
    view.json = Some(json);
    view.empty = Some(format!(
        "no differences between {} and {}",
        b.display(),
        c.display()
    ));
    view.after.push(format!("{regressions} regression(s)"));
    orchsim_app::render::print(&view, args.format.into())?;
    Ok(if regressions > 0 { REGRESSION } else { 0 })
}
