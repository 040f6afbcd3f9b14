//! Baseline comparison: two tables with the same rows, metric by metric, with thresholds and a
//! better/worse direction per metric, for regression checks in CI.

use std::fmt;

use crate::{Cell, Table};

/// Which way a metric improves, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    LowerIsBetter,
    HigherIsBetter,
    /// Any change is a difference (counts, configuration echoes).
    Neutral,
}

/// Wall-clock metrics vary from run to run: compared only when a threshold names them.
pub const WALL_CLOCK: &[&str] = &[
    "wall_s",
    "events_per_s",
    "peak_rss_mib",
    "pods_per_s",
    "mean_ns",
];

pub fn direction(metric: &str) -> Direction {
    let lower = [
        "wait",
        "_ms",
        "unschedulable",
        "pending",
        "evictions",
        "lost",
        "losses",
        "recovery",
        "unrecovered",
        "image_pulls",
        "crash",
        "busy",
        "wall_s",
        "failed",
        "rss",
    ];
    let higher = ["util", "scheduled", "finished", "per_s", "gbps", "runs_ok"];
    if higher.iter().any(|k| metric.contains(k))
        && !metric.ends_with("_sd")
        && !metric.ends_with("_ci95")
    {
        Direction::HigherIsBetter
    } else if lower.iter().any(|k| metric.contains(k))
        && !metric.ends_with("_sd")
        && !metric.ends_with("_ci95")
    {
        Direction::LowerIsBetter
    } else {
        Direction::Neutral
    }
}

/// How much a metric may move before it counts as a regression.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    /// Relative, in percent of the baseline.
    Percent(f64),
    Absolute(f64),
}

/// A `--threshold` list entry that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompareError(pub String);

impl fmt::Display for CompareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CompareError {}

/// Parses `metric=5%,other=0.5` (percent of the baseline, or an absolute amount).
pub fn parse_thresholds(spec: &str) -> Result<Vec<(String, Threshold)>, CompareError> {
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|item| {
            let (m, v) = item.split_once('=').ok_or_else(|| {
                CompareError(format!(
                    "threshold `{item}`: expected metric=5% or metric=0.5"
                ))
            })?;
            let v = v.trim();
            let t = match v.strip_suffix('%') {
                Some(p) => p
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| *x >= 0.0)
                    .map(Threshold::Percent),
                None => v
                    .parse::<f64>()
                    .ok()
                    .filter(|x| *x >= 0.0)
                    .map(Threshold::Absolute),
            }
            .ok_or_else(|| {
                CompareError(format!(
                    "threshold `{item}`: expected a non-negative number or percentage"
                ))
            })?;
            Ok((m.trim().to_string(), t))
        })
        .collect()
}

/// One compared cell.
#[derive(Clone, Debug, PartialEq)]
pub struct Delta {
    pub row: usize,
    pub key: String,
    pub metric: String,
    pub baseline: String,
    pub current: String,
    pub change: String,
    pub verdict: &'static str,
    pub regression: bool,
}

/// The rows' identity: their non-numeric cells (scenario, parameters, algorithm, …).
fn key(t: &Table, row: &[Cell], numeric: &[bool]) -> String {
    t.columns
        .iter()
        .zip(row)
        .zip(numeric)
        .filter(|((c, _), num)| !**num && *c != "digest" && *c != "status")
        .map(|((c, v), _)| format!("{c}={}", v.text()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_numeric(t: &Table, col: usize) -> bool {
    t.rows
        .iter()
        .map(|r| r[col].text())
        .filter(|s| !s.is_empty())
        .all(|s| s.parse::<f64>().is_ok())
}

/// Compares `current` with `baseline` row by row. Deterministic metrics (everything except
/// [`WALL_CLOCK`]) must match exactly unless `thresholds` allows more; a `digest` column must
/// be equal. Wall-clock metrics are compared only when a threshold names them.
pub fn compare(
    baseline: &Table,
    current: &Table,
    thresholds: &[(String, Threshold)],
) -> Result<Vec<Delta>, CompareError> {
    if baseline.rows.len() != current.rows.len() {
        return Err(CompareError(format!(
            "baseline has {} rows, current has {}: compare like with like",
            baseline.rows.len(),
            current.rows.len()
        )));
    }
    for (m, _) in thresholds {
        if !baseline.columns.contains(m) {
            return Err(CompareError(format!(
                "threshold for `{m}`, which is not a column of the baseline (columns: {})",
                baseline.columns.join(", ")
            )));
        }
    }
    let numeric: Vec<bool> = (0..baseline.columns.len())
        .map(|c| is_numeric(baseline, c))
        .collect();
    let mut out = Vec::new();
    for (r, brow) in baseline.rows.iter().enumerate() {
        let crow = &current.rows[r];
        let k = key(baseline, brow, &numeric);
        for (c, name) in baseline.columns.iter().enumerate() {
            let Some(cc) = current.columns.iter().position(|x| x == name) else {
                return Err(CompareError(format!("current has no column `{name}`")));
            };
            let (b, v) = (brow[c].text(), crow[cc].text());
            let threshold = thresholds.iter().find(|(m, _)| m == name).map(|(_, t)| *t);
            if !numeric[c] || name == "seed" || name == "run" {
                if name == "digest" || name == "status" || b != v {
                    let same = b == v;
                    let (verdict, regression) = match (same, name.as_str()) {
                        (true, _) => ("same", false),
                        // A changed digest, or a run that now fails, is a regression.
                        (false, "digest" | "status") => ("changed", true),
                        (false, _) => {
                            return Err(CompareError(format!(
                                "row {r}: `{name}` is `{b}` in the baseline but `{v}` now: not the same experiment"
                            )))
                        }
                    };
                    out.push(Delta {
                        row: r,
                        key: k.clone(),
                        metric: name.clone(),
                        baseline: b,
                        current: v,
                        change: String::new(),
                        verdict,
                        regression,
                    });
                }
                continue;
            }
            if WALL_CLOCK.contains(&name.as_str()) && threshold.is_none() {
                continue;
            }
            // NaN is neither better nor worse, and a cell that does not parse has no direction:
            // both compare as text, and any change counts.
            let parsed = b
                .parse::<f64>()
                .ok()
                .zip(v.parse::<f64>().ok())
                .filter(|(x, y)| !x.is_nan() && !y.is_nan());
            let Some((bx, vx)) = parsed else {
                let regression = b != v;
                out.push(Delta {
                    row: r,
                    key: k.clone(),
                    metric: name.clone(),
                    baseline: b,
                    current: v,
                    change: String::new(),
                    verdict: if regression { "changed" } else { "same" },
                    regression,
                });
                continue;
            };
            // Equal values are no change, infinities included (inf − inf is NaN).
            let diff = if bx == vx { 0.0 } else { vx - bx };
            let pct = if bx != 0.0 {
                diff / bx.abs() * 100.0
            } else if diff == 0.0 {
                0.0
            } else {
                f64::INFINITY
            };
            let allowed = match threshold {
                None => 0.0,
                Some(Threshold::Absolute(a)) => a,
                Some(Threshold::Percent(p)) => bx.abs() * p / 100.0,
            };
            let dir = direction(name);
            let worse = match dir {
                Direction::LowerIsBetter => diff > 0.0,
                Direction::HigherIsBetter => diff < 0.0,
                Direction::Neutral => diff != 0.0,
            };
            let verdict = if diff == 0.0 {
                "same"
            } else if dir == Direction::Neutral {
                "changed"
            } else if worse {
                "worse"
            } else {
                "better"
            };
            out.push(Delta {
                row: r,
                key: k.clone(),
                metric: name.clone(),
                baseline: b,
                current: v,
                change: if pct.is_finite() {
                    format!("{diff:+.6} ({pct:+.2}%)")
                } else {
                    format!("{diff:+.6}")
                },
                verdict,
                regression: worse && diff.abs() > allowed,
            });
        }
    }
    Ok(out)
}

/// The deltas as a table (`row, key, metric, baseline, current, change, verdict, regression`).
pub fn delta_table(deltas: &[Delta], only_changes: bool) -> Table {
    let mut t = Table::new([
        "row",
        "key",
        "metric",
        "baseline",
        "current",
        "change",
        "verdict",
        "regression",
    ]);
    for d in deltas
        .iter()
        .filter(|d| !only_changes || d.verdict != "same")
    {
        let _ = t.push(vec![
            Cell::UInt(d.row as u64),
            d.key.as_str().into(),
            d.metric.as_str().into(),
            d.baseline.as_str().into(),
            d.current.as_str().into(),
            d.change.as_str().into(),
            d.verdict.into(),
            (if d.regression { "yes" } else { "no" }).into(),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(wait: &str, util: &str, digest: &str, wall: &str) -> Table {
        let mut t = Table::new([
            "scenario",
            "wait_p99_ms",
            "cpu_util_mean_pct",
            "hosts",
            "digest",
            "wall_s",
        ]);
        t.push(vec![
            "q".into(),
            Cell::Str(wait.into()),
            Cell::Str(util.into()),
            Cell::UInt(20),
            digest.into(),
            Cell::Str(wall.into()),
        ])
        .unwrap();
        t
    }

    #[test]
    fn identical_tables_have_no_regression() {
        let a = table("10.0", "80.0", "abc", "1.0");
        let d = compare(&a, &table("10.0", "80.0", "abc", "9.0"), &[]).unwrap();
        assert!(d.iter().all(|x| !x.regression), "{d:?}");
        assert!(
            d.iter().all(|x| x.metric != "wall_s"),
            "wall clock ignored unless asked"
        );
    }

    #[test]
    fn worse_metrics_beyond_threshold_regress() {
        let a = table("10.0", "80.0", "abc", "1.0");
        let d = compare(&a, &table("10.4", "81.0", "abc", "1.0"), &[]).unwrap();
        let wait = d.iter().find(|x| x.metric == "wait_p99_ms").unwrap();
        assert_eq!((wait.verdict, wait.regression), ("worse", true));
        let util = d.iter().find(|x| x.metric == "cpu_util_mean_pct").unwrap();
        assert_eq!((util.verdict, util.regression), ("better", false));
        let th = parse_thresholds("wait_p99_ms=5%").unwrap();
        let d = compare(&a, &table("10.4", "80.0", "abc", "1.0"), &th).unwrap();
        assert!(d.iter().all(|x| !x.regression), "4% is within 5%");
        let d = compare(&a, &table("10.0", "80.0", "xyz", "1.0"), &th).unwrap();
        assert!(d.iter().any(|x| x.metric == "digest" && x.regression));
        let th = parse_thresholds("wall_s=50%").unwrap();
        let d = compare(&a, &table("10.0", "80.0", "abc", "2.0"), &th).unwrap();
        assert!(d.iter().any(|x| x.metric == "wall_s" && x.regression));
        let d = compare(&a, &table("NaN", "80.0", "abc", "1.0"), &[]).unwrap();
        assert!(
            d.iter().any(|x| x.metric == "wait_p99_ms" && x.regression),
            "NaN is a change"
        );
        assert!(
            compare(&a, &a, &parse_thresholds("wiat_p99_ms=5%").unwrap()).is_err(),
            "typo"
        );
    }

    #[test]
    fn a_run_that_now_fails_is_a_regression() {
        let mut a = Table::new(["run", "status", "wait_ms"]);
        a.push(vec![Cell::UInt(0), "ok".into(), Cell::Str("1.0".into())])
            .unwrap();
        let mut b = Table::new(["run", "status", "wait_ms"]);
        b.push(vec![Cell::UInt(0), "failed: boom".into(), Cell::Empty])
            .unwrap();
        let d = compare(&a, &b, &[]).unwrap();
        assert!(d.iter().any(|x| x.metric == "status" && x.regression));
    }

    #[test]
    fn mismatched_experiments_and_bad_thresholds_are_errors() {
        let a = table("10.0", "80.0", "abc", "1.0");
        let mut b = a.clone();
        b.rows[0][0] = "other".into();
        assert!(compare(&a, &b, &[])
            .unwrap_err()
            .0
            .contains("not the same experiment"));
        assert!(parse_thresholds("wait=5x").is_err());
        assert!(parse_thresholds("wait").is_err());
    }

    /// Two equal infinite values are the same, not `better` with a NaN change.
    #[test]
    fn equal_infinities_are_the_same() {
        let d = compare(
            &table("inf", "80.0", "abc", "1.0"),
            &table("inf", "80.0", "abc", "1.0"),
            &[],
        )
        .unwrap();
        assert!(
            d.iter().all(|d| d.verdict == "same" && !d.regression),
            "{d:?}"
        );
    }
}
