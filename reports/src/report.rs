//! The report pages of `run`, `sweep` and `plan`: which charts each draws from its tables,
//! and [`write_all`], which writes a page with its charts.
//! Column names are the documented output contract (README, "Outputs").

use std::path::{Path, PathBuf};

use crate::charts::{self, Axis, Chart, ChartError, Series, Style};
use crate::Table;

fn col(t: &Table, name: &str) -> Option<usize> {
    t.columns.iter().position(|c| c == name)
}

fn num(t: &Table, row: usize, c: usize) -> Option<f64> {
    t.rows[row][c].text().parse().ok()
}

/// Writes every chart as SVG and PNG and `report.html` into `dir`; returns the page's path.
/// Writes `charts` (SVG and PNG) and `report.html` with `tables` and the scenario `source`
/// into `dir`; the other report functions build their charts and call this.
pub fn write_all(
    dir: &Path,
    title: &str,
    tables: &[(&str, &Table)],
    charts: &[Chart],
    source: &str,
) -> Result<PathBuf, ChartError> {
    for c in charts {
        charts::write(c, dir)?;
    }
    let page = charts::html(title, tables, charts, source)?;
    let path = dir.join("report.html");
    std::fs::write(&path, page).map_err(|e| ChartError(format!("{}: {e}", path.display())))?;
    Ok(path)
}

/// `run`: CDF of pod wait, requested resources over time, pods over time (and GPU
/// fragmentation when observed).
pub fn run_charts(pods: &Table, timeseries: &Table, fragmentation: Option<&Table>) -> Vec<Chart> {
    let mut charts = Vec::new();
    if let Some(w) = col(pods, "wait_ms") {
        let mut waits: Vec<f64> = (0..pods.rows.len())
            .filter_map(|r| num(pods, r, w))
            .collect();
        waits.sort_by(f64::total_cmp);
        let n = waits.len() as f64;
        // One point per distinct wait with the share of pods that waited at most that long
        // (the steps of the CDF, so its first point is the share placed at once, not 1/n);
        // log10 of the wait, floored at 1 µs so immediate binds stay on the chart.
        let mut points: Vec<(f64, f64)> = Vec::new();
        for (i, v) in waits.iter().enumerate() {
            let x = v.max(1e-3).log10();
            let y = (i + 1) as f64 / n;
            match points.last_mut() {
                Some(last) if last.0 == x => last.1 = y,
                _ => points.push((x, y)),
            }
        }
        charts.push(
            Chart::new(
                "wait-cdf",
                "CDF of pod wait (queued to bind)",
                "wait, queued to bind (log scale)",
                "fraction of bound pods",
                vec![Series::line("bound pods", points)],
            )
            .with_x_axis(Axis::LogMs)
            .fit_y(),
        );
    }
    let over_time = |table: &Table, cols: &[(&str, &str)]| -> Vec<Series> {
        let Some(t) = col(table, "time_s") else {
            return vec![];
        };
        cols.iter()
            .filter_map(|(name, label)| {
                let c = col(table, name)?;
                let points: Vec<(f64, f64)> = (0..table.rows.len())
                    .filter_map(|r| Some((num(table, r, t)?, num(table, r, c)?)))
                    .collect();
                (!points.is_empty()).then(|| Series::line(*label, points))
            })
            .collect()
    };
    let series = |cols: &[(&str, &str)]| over_time(timeseries, cols);
    charts.push(Chart::new(
        "utilisation",
        "Requested share of allocatable resources",
        "simulated time (s)",
        "requested / allocatable (%)",
        series(&[
            ("cpu_alloc_pct", "cpu"),
            ("memory_alloc_pct", "memory"),
            ("gpu_alloc_pct", "gpu"),
        ]),
    ));
    charts.push(
        Chart::new(
            "pods",
            "Pending and running pods",
            "simulated time (s)",
            "pods",
            series(&[("pods_pending", "pending"), ("pods_running", "running")]),
        )
        .with_y_axis(Axis::Integer),
    );
    if let Some(f) = fragmentation {
        charts.push(Chart::new(
            "gpu-fragmentation",
            "GPU allocated and fragmented (ATC'23 measure)",
            "simulated time (s)",
            "share of GPU capacity (%)",
            over_time(
                f,
                &[
                    ("gpu_alloc_pct", "allocated"),
                    ("gpu_fragment_pct", "fragmented"),
                ],
            ),
        ));
    }
    charts
}

/// `sweep`: for each key metric, its mean against the first parameter with a 95% band, one
/// line per value of the second parameter (if any).
pub fn sweep_charts(aggregate: &Table, n_params: usize) -> Vec<Chart> {
    let mut charts = Vec::new();
    if n_params > 0 {
        let x_name = aggregate.columns[0].clone();
        for (metric, label) in [
            ("wait_p99_ms", "p99 wait (ms)"),
            ("cpu_util_mean_pct", "mean cpu requested (%)"),
            ("pods_unschedulable", "unschedulable pods at the end"),
        ] {
            let (Some(m), Some(ci)) = (
                col(aggregate, &format!("{metric}_mean")),
                col(aggregate, &format!("{metric}_ci95")),
            ) else {
                continue;
            };
            let mut groups: Vec<(String, Series)> = Vec::new();
            for r in 0..aggregate.rows.len() {
                let Some(x) = num(aggregate, r, 0) else {
                    continue;
                };
                let Some(y) = num(aggregate, r, m) else {
                    continue;
                };
                let half = num(aggregate, r, ci).unwrap_or(0.0);
                let key = if n_params > 1 {
                    aggregate.rows[r][1].text()
                } else {
                    metric.to_string()
                };
                let s = match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, s)) => s,
                    None => {
                        let label = if n_params > 1 {
                            format!("{} = {key}", aggregate.columns[1])
                        } else {
                            label.to_string()
                        };
                        groups.push((key.clone(), Series::line(label, vec![])));
                        &mut groups.last_mut().expect("just pushed").1
                    }
                };
                s.points.push((x, y));
                s.band.push((x, y - half, y + half));
            }
            if groups.is_empty() {
                continue;
            }
            // Values may be given in any order (`--set x=3,1,2`): draw lines left to right.
            for (_, s) in groups.iter_mut() {
                s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
                s.band.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
            // A parameter that only takes whole values (a host count) gets whole ticks.
            let whole = groups
                .iter()
                .flat_map(|(_, s)| &s.points)
                .all(|p| p.0.fract() == 0.0);
            charts.push(
                Chart::new(
                    format!("sweep-{metric}"),
                    format!("{label} against {x_name} (mean, 95% CI)"),
                    x_name.clone(),
                    label,
                    groups.into_iter().map(|(_, s)| s).collect(),
                )
                .with_x_axis(if whole { Axis::Integer } else { Axis::Linear }),
            );
        }
    }
    charts
}

/// `plan`: each target metric (worst over seeds) against the varied parameter, with its limit.
pub fn plan_charts(parameter: &str, runs: &Table, metrics: &[(String, f64)]) -> Vec<Chart> {
    let mut charts: Vec<Chart> = Vec::new();
    let v = col(runs, "value");
    for (metric, limit) in metrics {
        let (Some(v), Some(m)) = (v, col(runs, metric)) else {
            continue;
        };
        let mut worst: Vec<(f64, f64)> = Vec::new();
        for r in 0..runs.rows.len() {
            let (Some(x), Some(y)) = (num(runs, r, v), num(runs, r, m)) else {
                continue;
            };
            match worst.iter_mut().find(|p| p.0 == x) {
                Some(p) => p.1 = p.1.max(y),
                None => worst.push((x, y)),
            }
        }
        worst.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (lo, hi) = (
            worst.first().map_or(0.0, |p| p.0),
            worst.last().map_or(1.0, |p| p.0),
        );
        // A time spanning decades (a p99 wait from seconds to half an hour) is drawn on a
        // log scale, so a limit of a few seconds does not lie flat on the axis.
        let (min, max) = worst
            .iter()
            .map(|p| p.1)
            .chain([*limit])
            .fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(y), b.max(y)));
        let log = match metric.rsplit('_').next() {
            Some("s") if min > 0.0 && max / min > 100.0 => Some(Axis::LogS),
            Some("ms") if min > 0.0 && max / min > 100.0 => Some(Axis::LogMs),
            _ => None,
        };
        let y = |v: f64| if log.is_some() { v.log10() } else { v };
        let probes = Series {
            label: format!("{metric}, worst over seeds, at each value tried"),
            points: worst.iter().map(|&(x, v)| (x, y(v))).collect(),
            band: vec![],
            style: Style::Points,
        };
        let line = Series {
            label: format!("limit {limit}"),
            points: vec![(lo, y(*limit)), (hi, y(*limit))],
            band: vec![],
            style: Style::Limit,
        };
        // Two conditions on one metric (a band) get two charts, each its own file.
        let same = charts
            .iter()
            .filter(|c| {
                c.name == format!("plan-{metric}") || c.name.starts_with(&format!("plan-{metric}-"))
            })
            .count();
        let name = if same == 0 {
            format!("plan-{metric}")
        } else {
            format!("plan-{metric}-{}", same + 1)
        };
        let mut chart = Chart::new(
            name,
            format!("Capacity search: {metric} against {parameter}"),
            parameter,
            if log.is_some() {
                format!("{metric} (log scale)")
            } else {
                metric.clone()
            },
            vec![probes, line],
        )
        .with_x_axis(Axis::Integer);
        if let Some(axis) = log {
            chart = chart.with_y_axis(axis).fit_y();
        }
        charts.push(chart);
    }
    charts
}

/// Two-parameter `plan`: the frontier (for each value of the first parameter, the smallest
/// passing value of the second) and the price of each point on it.
pub fn frontier_charts(frontier: &Table) -> Vec<Chart> {
    let points = |y: usize| -> Vec<(f64, f64)> {
        (0..frontier.rows.len())
            .filter_map(|r| Some((num(frontier, r, 0)?, num(frontier, r, y)?)))
            .collect()
    };
    let (p1, p2) = (frontier.columns[0].clone(), frontier.columns[1].clone());
    vec![
        Chart::new(
            "plan-frontier",
            format!("Capacity frontier: smallest {p2} for each {p1}"),
            p1.clone(),
            p2.clone(),
            vec![Series::line(format!("smallest passing {p2}"), points(1))],
        )
        .with_x_axis(Axis::Integer)
        .with_y_axis(Axis::Integer),
        Chart::new(
            "plan-cost",
            "Price of each frontier point",
            p1,
            "cluster price per hour",
            vec![Series::line("cost_per_hour", points(2))],
        )
        .with_x_axis(Axis::Integer),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cell;

    #[test]
    fn two_limits_on_one_metric_draw_two_charts_with_their_own_files() {
        let mut runs = Table::new(["value", "cpu_util_mean_pct"]);
        for (v, y) in [(1u64, 99.0), (10, 70.0), (20, 40.0)] {
            runs.push(vec![Cell::UInt(v), Cell::Float(y, 3)]).unwrap();
        }
        let limits = vec![
            ("cpu_util_mean_pct".to_string(), 50.0),
            ("cpu_util_mean_pct".to_string(), 90.0),
        ];
        let charts = plan_charts("hosts.w.count", &runs, &limits);
        let names: Vec<&str> = charts.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["plan-cpu_util_mean_pct", "plan-cpu_util_mean_pct-2"]
        );
    }
}
