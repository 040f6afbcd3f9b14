//! The report pages of `run`, `sweep` and `plan`: which charts each draws from its tables,
//! and [`write_all`], which writes a page with its charts.
//! Column names are the documented output contract (README, "Outputs").

use std::path::{Path, PathBuf};

use crate::charts::{self, Chart, ChartError, Series};
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
        // log10 of the wait, floored at 1 µs so immediate binds stay on the chart.
        let points = waits
            .iter()
            .enumerate()
            .map(|(i, v)| (v.max(1e-3).log10(), (i + 1) as f64 / n))
            .collect();
        charts.push(Chart {
            name: "wait-cdf".into(),
            title: "CDF of pod wait (queued to bind)".into(),
            x_label: "wait, log10(ms): 0 = 1 ms, 3 = 1 s".into(),
            y_label: "fraction of bound pods".into(),
            series: vec![Series {
                label: "pods".into(),
                points,
                band: vec![],
            }],
            legend_lower_right: true,
        });
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
                (!points.is_empty()).then(|| Series {
                    label: label.to_string(),
                    points,
                    band: vec![],
                })
            })
            .collect()
    };
    let series = |cols: &[(&str, &str)]| over_time(timeseries, cols);
    charts.push(Chart {
        name: "utilisation".into(),
        title: "Requested share of allocatable resources".into(),
        x_label: "simulated time (s)".into(),
        y_label: "requested / allocatable (%)".into(),
        series: series(&[
            ("cpu_alloc_pct", "cpu"),
            ("memory_alloc_pct", "memory"),
            ("gpu_alloc_pct", "gpu"),
        ]),
        legend_lower_right: true,
    });
    charts.push(Chart {
        name: "pods".into(),
        title: "Pending and running pods".into(),
        x_label: "simulated time (s)".into(),
        y_label: "pods".into(),
        series: series(&[("pods_pending", "pending"), ("pods_running", "running")]),
        legend_lower_right: true,
    });
    if let Some(f) = fragmentation {
        charts.push(Chart {
            name: "gpu-fragmentation".into(),
            title: "GPU allocated and fragmented (ATC'23 measure)".into(),
            x_label: "simulated time (s)".into(),
            y_label: "share of GPU capacity (%)".into(),
            series: over_time(
                f,
                &[
                    ("gpu_alloc_pct", "allocated"),
                    ("gpu_fragment_pct", "fragmented"),
                ],
            ),
            legend_lower_right: true,
        });
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
                        groups.push((
                            key.clone(),
                            Series {
                                label,
                                points: vec![],
                                band: vec![],
                            },
                        ));
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
            charts.push(Chart {
                name: format!("sweep-{metric}"),
                title: format!("{label} against {x_name} (mean, 95% CI)"),
                x_label: x_name.clone(),
                y_label: label.into(),
                series: groups.into_iter().map(|(_, s)| s).collect(),
                legend_lower_right: false,
            });
        }
    }
    charts
}

/// `plan`: each target metric (worst over seeds) against the varied parameter, with its limit.
pub fn plan_charts(parameter: &str, runs: &Table, metrics: &[(String, f64)]) -> Vec<Chart> {
    let mut charts = Vec::new();
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
        charts.push(Chart {
            name: format!("plan-{metric}"),
            title: format!("Capacity frontier: {metric} (worst seed)"),
            x_label: parameter.to_string(),
            y_label: metric.clone(),
            series: vec![
                Series {
                    label: format!("{metric} (worst over seeds)"),
                    points: worst,
                    band: vec![],
                },
                Series {
                    label: format!("limit {limit}"),
                    points: vec![(lo, *limit), (hi, *limit)],
                    band: vec![],
                },
            ],
            legend_lower_right: false,
        });
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
        Chart {
            name: "plan-frontier".into(),
            title: format!("Capacity frontier: smallest {p2} for each {p1}"),
            x_label: p1.clone(),
            y_label: p2.clone(),
            series: vec![Series {
                label: format!("smallest passing {p2}"),
                points: points(1),
                band: vec![],
            }],
            legend_lower_right: false,
        },
        Chart {
            name: "plan-cost".into(),
            title: "Price of each frontier point".into(),
            x_label: p1,
            y_label: "cluster price per hour".into(),
            series: vec![Series {
                label: "cost_per_hour".into(),
                points: points(2),
                band: vec![],
            }],
            legend_lower_right: false,
        },
    ]
}
