//! Parameter sweeps: the cross product of scenario overrides × seeds, run in parallel and
//! collected in input order, so the tables are byte-identical for any number of threads and
//! for any split into shards.
//!
//! A parameter is a dotted path into the scenario TOML (`duration_s`,
//! `hosts.worker.count` — an array element is selected by index or by its `name` —,
//! `workloads.batch.arrival_rate_per_s`, `scheduler.algorithm`) with a list of values
//! (`1,2,4`) or an inclusive range (`100..1000:100`).

use std::fmt;

use orchsim_report::{Cell, Table};
use rayon::prelude::*;
use toml::Value;

use crate::results::Summary;

/// A sweep that cannot be set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepError(pub String);

impl fmt::Display for SweepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SweepError {}

/// One swept parameter and its values.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub path: String,
    pub values: Vec<Value>,
}

fn scalar(text: &str) -> Value {
    let t = text.trim();
    if let Ok(i) = t.parse::<i64>() {
        Value::Integer(i)
    } else if let Ok(f) = t.parse::<f64>() {
        Value::Float(f)
    } else if let Ok(b) = t.parse::<bool>() {
        Value::Boolean(b)
    } else {
        Value::String(t.trim_matches('"').to_string())
    }
}

/// Most values a range may expand to; a typo like `1..1e9:1` should not exhaust memory.
const MAX_VALUES: usize = 100_000;

/// Parses `path=v1,v2,…` or `path=start..end:step` (inclusive, integer or float).
pub fn parse_set(arg: &str) -> Result<Param, SweepError> {
    let err = |m: &str| SweepError(format!("--set `{arg}`: {m}"));
    let (path, values) = arg
        .split_once('=')
        .ok_or_else(|| err("expected `path=value[,value…]` or `path=start..end:step`"))?;
    let path = path.trim();
    if path.is_empty() || path.split('.').any(str::is_empty) {
        return Err(err(
            "expected a dotted path such as `workloads.batch.arrival_rate_per_s`",
        ));
    }
    if path == "seed" {
        // Every run's seed is the sweep's (`--seeds`), which would silently replace it.
        return Err(err(
            "the seed is the sweep's: use `--seeds N` (N seeds from the scenario's own)",
        ));
    }
    let values = values.trim();
    if let Some((range, step)) = values.split_once(':').filter(|(r, _)| r.contains("..")) {
        let (a, b) = range.split_once("..").unwrap_or((range, ""));
        let ints = [a, b, step].iter().all(|x| x.trim().parse::<i64>().is_ok());
        if ints {
            let (a, b, s) = (
                a.trim().parse::<i64>().unwrap_or(0),
                b.trim().parse::<i64>().unwrap_or(0),
                step.trim().parse::<i64>().unwrap_or(0),
            );
            if s <= 0 || b < a {
                return Err(err("expected start <= end and a positive step"));
            }
            let span = b.checked_sub(a).ok_or_else(|| err("range too large"))?;
            if span / s >= MAX_VALUES as i64 {
                return Err(err(&format!("expected at most {MAX_VALUES} values")));
            }
            let values = (0..=(b - a) / s)
                .map(|k| Value::Integer(a + k * s))
                .collect();
            return Ok(Param {
                path: path.into(),
                values,
            });
        }
        let parsed: Vec<f64> = [a, b, step]
            .iter()
            .filter_map(|x| x.trim().parse().ok())
            .collect();
        let [a, b, s] = parsed[..] else {
            return Err(err("expected numbers in start..end:step"));
        };
        if !(s > 0.0 && b >= a && a.is_finite() && b.is_finite()) {
            return Err(err("expected start <= end and a positive step"));
        }
        let n = ((b - a) / s + 1e-9).floor() as usize;
        if n >= MAX_VALUES {
            return Err(err(&format!("expected at most {MAX_VALUES} values")));
        }
        // Values are computed from the start, not accumulated, so no rounding drift.
        let values = (0..=n).map(|k| Value::Float(a + k as f64 * s)).collect();
        return Ok(Param {
            path: path.into(),
            values,
        });
    }
    let values: Vec<Value> = values.split(',').map(scalar).collect();
    if values
        .iter()
        .any(|v| matches!(v, Value::String(s) if s.is_empty()))
    {
        return Err(err("expected no empty value"));
    }
    Ok(Param {
        path: path.into(),
        values,
    })
}

/// One run of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// Position in the full sweep (combinations in order, seeds innermost).
    pub index: usize,
    pub values: Vec<Value>,
    pub seed: u64,
}

/// Most runs one sweep may plan.
pub const MAX_RUNS: u64 = 1_000_000;

/// The number of runs [`plan`] would make, or an error beyond [`MAX_RUNS`].
pub fn count_runs(params: &[Param], seeds: u64) -> Result<u64, SweepError> {
    params
        .iter()
        .try_fold(seeds, |n, p| n.checked_mul(p.values.len() as u64))
        .filter(|n| *n <= MAX_RUNS)
        .ok_or_else(|| {
            SweepError(format!(
                "the sweep would exceed {MAX_RUNS} runs; narrow the grid or the seeds"
            ))
        })
}

/// Every run: the cross product of `params` (last parameter varying fastest) × `seeds` seeds
/// starting at `base_seed`. Check the size with [`count_runs`] first.
pub fn plan(params: &[Param], seeds: u64, base_seed: u64) -> Vec<Run> {
    let mut combos: Vec<Vec<Value>> = vec![Vec::new()];
    for p in params {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                p.values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push(v.clone());
                    c
                })
            })
            .collect();
    }
    let mut runs = Vec::new();
    for values in combos {
        for s in 0..seeds {
            runs.push(Run {
                index: runs.len(),
                values: values.clone(),
                seed: base_seed.wrapping_add(s),
            });
        }
    }
    runs
}

/// The index of the element `part` of an array on `path`: a number, or an element's `name`.
fn element(a: &[Value], part: &str, path: &str) -> Result<usize, String> {
    let idx = match part.parse::<usize>() {
        Ok(i) => Some(i),
        Err(_) => a
            .iter()
            .position(|e| e.get("name").and_then(Value::as_str) == Some(part)),
    };
    idx.filter(|i| *i < a.len())
        .ok_or_else(|| format!("`{path}`: no element `{part}` (an index or a `name`)"))
}

/// Sets `path` in a parsed scenario to `value`.
fn set(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut cur = doc;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        cur = match cur {
            Value::Table(t) => {
                if last {
                    t.insert(part.to_string(), value);
                    return Ok(());
                }
                t.get_mut(*part)
                    .ok_or_else(|| format!("`{path}`: the scenario has no `{part}`"))?
            }
            Value::Array(a) => {
                let idx = element(a, part, path)?;
                if last {
                    a[idx] = value;
                    return Ok(());
                }
                &mut a[idx]
            }
            _ => return Err(format!("`{path}`: `{part}` is inside a value, not a table")),
        };
    }
    Ok(())
}

/// `path` with every array element named by its index (`hosts.worker.count` is
/// `hosts.0.count` when `worker` is the first host group), so that two spellings of one setting
/// compare equal. Errors as [`override_text`] would for a path the scenario lacks.
pub fn canonical_path(doc: &Value, path: &str) -> Result<String, String> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut out: Vec<String> = Vec::new();
    let mut cur = Some(doc);
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        match cur {
            Some(Value::Array(a)) => {
                let idx = element(a, part, path)?;
                out.push(idx.to_string());
                cur = a.get(idx);
            }
            Some(Value::Table(t)) => {
                out.push(part.to_string());
                cur = t.get(*part);
                if cur.is_none() && !last {
                    return Err(format!("`{path}`: the scenario has no `{part}`"));
                }
            }
            Some(_) => return Err(format!("`{path}`: `{part}` is inside a value, not a table")),
            None => return Err(format!("`{path}`: the scenario has no `{part}`")),
        }
    }
    Ok(out.join("."))
}

/// The scenario text with `overrides` applied (dotted paths, see the module documentation).
pub fn override_text(base: &Value, overrides: &[(&str, Value)]) -> Result<String, String> {
    let mut doc = base.clone();
    for (path, v) in overrides {
        set(&mut doc, path, v.clone())?;
    }
    toml::to_string(&doc).map_err(|e| e.to_string())
}

/// The result of one run: its summary, or why it failed.
pub type Outcome = Result<Summary, String>;

/// Runs every run on `jobs` threads; `done` is called with each run and its outcome as it
/// finishes (for progress, and for a journal of finished runs).
pub fn execute(
    file: &str,
    text: &str,
    files: &dyn crate::ScenarioFiles,
    params: &[Param],
    runs: &[Run],
    jobs: usize,
    done: &(dyn Fn(&Run, &Outcome) + Sync),
) -> Result<Vec<Outcome>, SweepError> {
    let base: Value = toml::from_str(text).map_err(|e| SweepError(format!("{file}: {e}")))?;
    let one = |run: &Run| -> Outcome {
        let overrides: Vec<(&str, Value)> = params
            .iter()
            .zip(&run.values)
            .map(|(p, v)| (p.path.as_str(), v.clone()))
            .collect();
        let text = override_text(&base, &overrides)?;
        let label = params
            .iter()
            .zip(&run.values)
            .map(|(p, v)| format!("{}={v}", p.path))
            .collect::<Vec<_>>()
            .join(" ");
        // Name the file without its directory: shards run elsewhere must write the same rows.
        let name = std::path::Path::new(file)
            .file_name()
            .map_or(file.into(), |n| n.to_string_lossy());
        let mut sc = crate::parse_with_files(&format!("{name} [{label}]"), &text, files)
            .map_err(|e| e.to_string())?;
        sc.seed = run.seed;
        let r = crate::run(&sc).map_err(|e| e.to_string())?;
        // A run whose end-of-run audit failed has no trustworthy numbers: a failed run.
        match r.audit_error {
            Some(e) => Err(format!(
                "internal error (a bug in orchsim): the audit found {e}"
            )),
            None => Ok(r.summary),
        }
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| SweepError(format!("cannot start {jobs} worker threads: {e}")))?;
    Ok(pool.install(|| {
        runs.par_iter()
            .map(|r| {
                let o = one(r);
                done(r, &o);
                o
            })
            .collect()
    }))
}

/// The `status` cell of a failed run: `failed: ` and the error's first line, so the CSV stays
/// one row per run.
pub fn failed_status(error: &str) -> Cell {
    format!("failed: {}", error.lines().next().unwrap_or("")).into()
}

/// A parameter value as a table cell.
pub fn value_cell(v: &Value) -> Cell {
    match v {
        Value::String(s) => Cell::Str(s.clone()),
        Value::Integer(i) => Cell::Int(*i),
        other => Cell::Decimal(other.to_string()),
    }
}

/// `sweep.csv`: one row per run — `run`, the parameters, `status`, then the summary columns.
pub fn runs_table(params: &[Param], runs: &[Run], outcomes: &[Outcome]) -> Table {
    let summary_cols = Summary::columns();
    let mut cols = vec!["run".to_string()];
    cols.extend(params.iter().map(|p| p.path.clone()));
    cols.push("status".into());
    cols.extend(summary_cols.iter().map(|c| c.to_string()));
    let mut t = Table::new(cols);
    for (run, out) in runs.iter().zip(outcomes) {
        let mut row: Vec<Cell> = vec![Cell::UInt(run.index as u64)];
        row.extend(run.values.iter().map(value_cell));
        match out {
            Ok(s) => {
                row.push("ok".into());
                row.extend(s.table().rows.remove(0));
            }
            Err(e) => {
                // One line, so the CSV stays one row per run.
                row.push(failed_status(e));
                row.extend(summary_cols.iter().map(|c| {
                    if *c == "seed" {
                        Cell::UInt(run.seed)
                    } else {
                        Cell::Empty
                    }
                }));
            }
        }
        // Widths match the header by construction.
        let _ = t.push(row);
    }
    t
}

/// Two-sided 95% Student t critical values for 1–30 degrees of freedom (standard tables);
/// beyond 30 the normal 1.960.
const T95: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// Columns of the runs table that identify rather than measure.
const NOT_METRICS: &[&str] = &[
    "run",
    "status",
    "scenario",
    "seed",
    "algorithm",
    "datapath",
    "digest",
];

/// `sweep-summary.csv` from a runs table (so merged shards aggregate exactly like a single
/// machine): per parameter combination — and per value of the `keys` columns, for runs that
/// give several rows (a study's policies or architectures) — runs ok/failed and each metric's
/// mean, sample standard deviation and 95% confidence half-width (t × sd / √n). Without keys a
/// group is a run of consecutive rows with the same parameters (seeds are innermost); with
/// keys, groups keep the order of their first row, and parameters whose runs all failed come
/// last.
pub fn aggregate(runs: &Table, n_params: usize, keys: &[String]) -> Table {
    let status_col = 1 + n_params;
    let key_cols: Vec<usize> = keys
        .iter()
        .filter_map(|k| runs.columns.iter().position(|c| c == k))
        .collect();
    let metric_cols: Vec<usize> = (status_col + 1..runs.columns.len())
        .filter(|&c| !NOT_METRICS.contains(&runs.columns[c].as_str()) && !key_cols.contains(&c))
        .filter(|&c| {
            runs.rows
                .iter()
                .map(|r| r[c].text())
                .filter(|t| !t.is_empty())
                .all(|t| t.parse::<f64>().is_ok())
        })
        .collect();
    let mut cols: Vec<String> = runs.columns[1..=n_params].to_vec();
    cols.extend(key_cols.iter().map(|&c| runs.columns[c].clone()));
    cols.extend(["runs_ok".to_string(), "runs_failed".into()]);
    for &c in &metric_cols {
        let name = &runs.columns[c];
        cols.extend([
            format!("{name}_mean"),
            format!("{name}_sd"),
            format!("{name}_ci95"),
        ]);
    }
    let mut t = Table::new(cols);
    let mut groups: Vec<(Vec<String>, Vec<&Vec<Cell>>)> = Vec::new();
    let mut index: std::collections::BTreeMap<Vec<String>, usize> = Default::default();
    let failed = |row: &Vec<Cell>| row[status_col].text() != "ok";
    for row in &runs.rows {
        // With key columns, a failed run has no key values: it is counted below against every
        // group of its parameters.
        if failed(row) && !key_cols.is_empty() {
            continue;
        }
        let mut key: Vec<String> = row[1..=n_params].iter().map(Cell::text).collect();
        if key_cols.is_empty() {
            // A value listed twice (`--set x=1,1`) stays two groups, as the runs were two.
            match groups.last_mut() {
                Some((k, rows)) if *k == key => rows.push(row),
                _ => groups.push((key, vec![row])),
            }
            continue;
        }
        key.extend(key_cols.iter().map(|&c| row[c].text()));
        match index.get(&key) {
            Some(&g) => groups[g].1.push(row),
            None => {
                index.insert(key.clone(), groups.len());
                groups.push((key, vec![row]));
            }
        }
    }
    if !key_cols.is_empty() {
        for row in runs.rows.iter().filter(|r| failed(r)) {
            let params: Vec<String> = row[1..=n_params].iter().map(Cell::text).collect();
            let mut matched = false;
            for (_, rows) in groups
                .iter_mut()
                .filter(|(k, _)| k[..n_params] == params[..])
            {
                rows.push(row);
                matched = true;
            }
            if !matched {
                let mut key = params;
                key.extend(key_cols.iter().map(|_| String::new()));
                index.insert(key.clone(), groups.len());
                groups.push((key, vec![row]));
            }
        }
    }
    for (key, rows) in groups {
        let ok: Vec<&&Vec<Cell>> = rows
            .iter()
            .filter(|r| r[status_col].text() == "ok")
            .collect();
        let mut out: Vec<Cell> = key.into_iter().map(Cell::Str).collect();
        out.push(Cell::UInt(ok.len() as u64));
        out.push(Cell::UInt((rows.len() - ok.len()) as u64));
        for &c in &metric_cols {
            let xs: Vec<f64> = ok.iter().filter_map(|r| r[c].text().parse().ok()).collect();
            let n = xs.len();
            if n == 0 {
                out.extend([Cell::Empty, Cell::Empty, Cell::Empty]);
                continue;
            }
            let mean = xs.iter().sum::<f64>() / n as f64;
            if n < 2 {
                out.extend([Cell::Float(mean, 6), Cell::Empty, Cell::Empty]);
                continue;
            }
            let sd =
                (xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64).sqrt();
            let tcrit = T95.get(n - 2).copied().unwrap_or(1.960);
            out.extend([
                Cell::Float(mean, 6),
                Cell::Float(sd, 6),
                Cell::Float(tcrit * sd / (n as f64).sqrt(), 6),
            ]);
        }
        let _ = t.push(out);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_values_and_ranges_parse() {
        let p = parse_set("hosts.worker.count=100..300:100").unwrap();
        assert_eq!(
            p.values,
            vec![
                Value::Integer(100),
                Value::Integer(200),
                Value::Integer(300)
            ]
        );
        let p = parse_set("workloads.batch.arrival_rate_per_s=0.5..1.5:0.5").unwrap();
        assert_eq!(
            p.values,
            vec![Value::Float(0.5), Value::Float(1.0), Value::Float(1.5)]
        );
        let p = parse_set("scheduler.algorithm=first-fit,kubernetes").unwrap();
        assert_eq!(p.values[1], Value::String("kubernetes".into()));
        for bad in [
            "x",
            "=1",
            "a..b=1",
            "a=5..1:1",
            "a=1..5:0",
            "a=1,,2",
            "a=1..1000000000:1",
            "a=-9223372036854775808..9223372036854775807:1",
        ] {
            assert!(parse_set(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plan_is_the_ordered_cross_product() {
        let a = parse_set("a=1,2").unwrap();
        let b = parse_set("b=x,y,z").unwrap();
        let runs = plan(&[a, b], 2, 10);
        assert_eq!(runs.len(), 12);
        assert_eq!(
            runs[0].values,
            vec![Value::Integer(1), Value::String("x".into())]
        );
        assert_eq!((runs[0].seed, runs[1].seed), (10, 11));
        assert_eq!(runs[2].values[1], Value::String("y".into()));
        assert_eq!(
            runs[11].values,
            vec![Value::Integer(2), Value::String("z".into())]
        );
        assert!(runs.iter().enumerate().all(|(i, r)| r.index == i));
    }

    #[test]
    fn set_addresses_arrays_by_name_or_index() {
        let mut doc: Value = toml::from_str("[[hosts]]\nname = \"w\"\ncount = 1\n").unwrap();
        set(&mut doc, "hosts.w.count", Value::Integer(5)).unwrap();
        assert_eq!(doc["hosts"][0]["count"].as_integer(), Some(5));
        set(&mut doc, "hosts.0.count", Value::Integer(6)).unwrap();
        assert_eq!(doc["hosts"][0]["count"].as_integer(), Some(6));
        assert!(set(&mut doc, "hosts.nope.count", Value::Integer(1)).is_err());
        assert!(set(&mut doc, "missing.x", Value::Integer(1)).is_err());
    }

    /// Mean, sample sd and t-based CI: values 1, 2, 3 → mean 2, sd 1, ci 4.303/√3 = 2.484338.
    #[test]
    fn aggregate_uses_sample_sd_and_student_t() {
        let mut runs = Table::new(["run", "p", "status", "wait_ms", "digest"]);
        for (i, v) in [1.0, 2.0, 3.0].iter().enumerate() {
            runs.push(vec![
                Cell::UInt(i as u64),
                "a".into(),
                "ok".into(),
                Cell::Float(*v, 1),
                "d".into(),
            ])
            .unwrap();
        }
        runs.push(vec![
            Cell::UInt(3),
            "a".into(),
            "failed: x".into(),
            Cell::Empty,
            Cell::Empty,
        ])
        .unwrap();
        let agg = aggregate(&runs, 1, &[]);
        assert_eq!(
            agg.columns,
            [
                "p",
                "runs_ok",
                "runs_failed",
                "wait_ms_mean",
                "wait_ms_sd",
                "wait_ms_ci95"
            ]
        );
        let row: Vec<String> = agg.rows[0].iter().map(Cell::text).collect();
        assert_eq!(row, ["a", "3", "1", "2.000000", "1.000000", "2.484338"]);
    }

    /// Rows of several runs with a key column group by parameters and key, in order of first
    /// appearance; a failed run counts against every group of its parameters.
    #[test]
    fn aggregate_groups_study_rows_by_key() {
        let mut runs = Table::new(["run", "p", "status", "seed", "k", "x"]);
        let row = |run: u64, seed: u64, status: &str, k: &str, x: Option<f64>| {
            vec![
                Cell::UInt(run),
                "v".into(),
                status.into(),
                Cell::UInt(seed),
                if k.is_empty() { Cell::Empty } else { k.into() },
                x.map_or(Cell::Empty, |x| Cell::Float(x, 1)),
            ]
        };
        for r in [
            row(0, 1, "ok", "b", Some(10.0)),
            row(0, 1, "ok", "a", Some(1.0)),
            row(1, 2, "ok", "b", Some(30.0)),
            row(1, 2, "ok", "a", Some(3.0)),
            row(2, 3, "failed: no", "", None),
        ] {
            runs.push(r).unwrap();
        }
        let agg = aggregate(&runs, 1, &["k".to_string()]);
        assert_eq!(
            agg.columns,
            [
                "p",
                "k",
                "runs_ok",
                "runs_failed",
                "x_mean",
                "x_sd",
                "x_ci95"
            ]
        );
        let rows: Vec<Vec<String>> = agg
            .rows
            .iter()
            .map(|r| r.iter().take(5).map(Cell::text).collect())
            .collect();
        assert_eq!(
            rows,
            [
                ["v", "b", "2", "1", "20.000000"],
                ["v", "a", "2", "1", "2.000000"]
            ]
        );
    }

    #[test]
    fn setting_the_seed_is_refused_for_seeds() {
        let e = parse_set("seed=3,4,5").unwrap_err().to_string();
        assert!(e.contains("--seeds"), "{e}");
    }
}
