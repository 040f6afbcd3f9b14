//! `compare`: results against a baseline (CSV files or the directories holding them), per
//! metric with its direction and threshold, and how many regressed.

use std::path::{Path, PathBuf};

use orchsim_report::compare::{compare, delta_table, parse_thresholds};

use crate::error::{Error, Result};
use crate::outputs::read_table;
use crate::render::View;

/// A comparison: its view and how many metrics regressed beyond their thresholds.
pub struct Compared {
    pub view: View,
    pub regressions: usize,
}

/// The CSV a path names: itself, or a directory's summary.csv, sweep.csv, bench.csv or
/// scale.csv.
fn resolve(p: &Path) -> Result<PathBuf> {
    if p.is_dir() {
        for name in ["summary.csv", "sweep.csv", "bench.csv", "scale.csv"] {
            if p.join(name).is_file() {
                return Ok(p.join(name));
            }
        }
        return Err(Error::bad_input(format!(
            "{}: no summary.csv, sweep.csv, bench.csv or scale.csv inside",
            p.display()
        )));
    }
    Ok(p.to_path_buf())
}

/// Compares `current` with `baseline` under `thresholds` (`metric=5%` or `metric=0.5`);
/// `all` keeps unchanged metrics in the table.
pub fn against_baseline(
    baseline: &Path,
    current: &Path,
    thresholds: &[String],
    all: bool,
) -> Result<Compared> {
    let (b, c) = (resolve(baseline)?, resolve(current)?);
    let thresholds = parse_thresholds(&thresholds.join(","))?;
    let deltas = compare(&read_table(&b)?, &read_table(&c)?, &thresholds)
        .map_err(|e| Error::bad_input(format!("{} vs {}: {e}", b.display(), c.display())))?;
    let regressions = deltas.iter().filter(|d| d.regression).count();
    let table = delta_table(&deltas, !all);
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
    Ok(Compared { view, regressions })
}
