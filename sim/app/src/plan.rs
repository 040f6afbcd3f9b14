//! `plan`: the smallest value of one parameter (or the cheapest mix of two) that meets a
//! target on every seed, optionally after losing the K largest hosts or a failure domain.

use std::path::{Path, PathBuf};

use orchsim_report::{Cell, Table};
use orchsim_sim::plan::{self, Point};
use orchsim_sim::sweep;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::render::View;
use crate::run::{OnProgress, Progress, Report};
use crate::source::{Kind, Source};

/// What to plan.
#[derive(Clone, Debug, Default)]
pub struct PlanRequest {
    /// Conditions joined by `&&`, e.g. `unschedulable_pct<1 && wait_p99_s<30`.
    pub target: String,
    /// One or two `PATH=LOW..HIGH` integer parameters.
    pub vary: Vec<String>,
    /// Lose this many of the largest hosts.
    pub failures: u64,
    /// Lose a whole failure domain: `site=NAME` or a host label `KEY=VALUE`.
    pub lose: Option<String>,
    /// Seeds per candidate; a candidate passes only if every seed does.
    pub seeds: u64,
    /// Build the report's charts.
    pub report: bool,
    /// `PATH=VALUE` settings applied to the scenario before the search (one value each).
    pub set: Vec<String>,
}

/// A finished plan.
pub struct PlanOutcome {
    pub name: String,
    /// plan.csv as the table; the answer, margins and warnings after it; the JSON document.
    pub view: View,
    pub report: Option<Report>,
    /// Whether some value in the range met the target.
    pub answered: bool,
    pub evaluations: usize,
    pub source_text: String,
}

impl PlanOutcome {
    /// The default output directory, `out/<name>-plan`.
    pub fn default_dir(&self) -> PathBuf {
        PathBuf::from("out").join(format!("{}-plan", self.name))
    }

    /// Writes plan.csv (and the report, if built) into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        crate::outputs::write_with_report(
            dir,
            &[("plan.csv", self.view.table.to_csv())],
            self.report.as_ref(),
            &self.source_text,
        )
    }

    /// The view with where plan.csv went.
    pub fn view(&self, dir: &Path) -> View {
        let mut v = self.view.clone();
        v.after.push(format!(
            "{} evaluations written to {}/plan.csv",
            self.evaluations,
            dir.display()
        ));
        v
    }
}

/// A target on a study's table: each condition names one of `metrics`.
fn study_target(text: &str, metrics: &[&str]) -> Result<Vec<plan::Condition>> {
    Ok(plan::parse_target_on(
        text,
        &|m| metrics.contains(&m),
        &format!(
            "a numeric column of the study's table: {}",
            metrics.join(", ")
        ),
    )?)
}

/// Most seeds a candidate is run with: each costs a whole run per evaluation.
const MAX_SEEDS: u64 = 1000;

/// Most values of the first parameter a two-parameter plan scans.
const MAX_OUTER: i64 = 500;

fn parse_vary(s: &str) -> Result<(String, i64, i64), Error> {
    let bad = || {
        Error::bad_input(format!(
            "--vary `{s}`: expected PATH=LOW..HIGH with integers 0 <= LOW <= HIGH"
        ))
    };
    let (path, range) = s.split_once('=').ok_or_else(bad)?;
    let (lo, hi) = range.split_once("..").ok_or_else(bad)?;
    let (lo, hi) = (
        lo.trim().parse::<i64>().map_err(|_| bad())?,
        hi.trim().parse::<i64>().map_err(|_| bad())?,
    );
    if lo < 0 || hi < lo || path.trim().is_empty() {
        return Err(bad());
    }
    Ok((path.trim().to_string(), lo, hi))
}

/// What one run of a candidate measured: a simulation's summary, or a study's table (one
/// row per policy and share, or per architecture, decision time and workload).
#[derive(Clone, Debug)]
enum Measured {
    Summary(Box<orchsim_sim::Summary>),
    Rows(Table),
}

impl Measured {
    /// The value condition `c` is judged on: the summary's metric, or the worst over the
    /// study's rows (undefined if any row lacks it).
    fn value(&self, c: &plan::Condition) -> Option<f64> {
        match self {
            Measured::Summary(s) => plan::metric(s, &c.metric),
            Measured::Rows(t) => {
                // Every row must have the value: a workload that never got that far (an
                // empty cell) fails the condition rather than being skipped.
                let col = t.columns.iter().position(|x| *x == c.metric)?;
                t.rows
                    .iter()
                    .map(|r| r[col].text().parse::<f64>().ok())
                    .try_fold(None, |worst: Option<f64>, v| {
                        let v = v?;
                        Some(Some(worst.map_or(v, |w| c.worse(w, v))))
                    })
                    .flatten()
            }
        }
    }

    /// Whether every condition holds; an undefined metric fails.
    fn meets(&self, target: &[plan::Condition]) -> bool {
        target
            .iter()
            .all(|c| self.value(c).is_some_and(|v| c.holds(v)))
    }
}

/// One evaluated candidate with every varied value.
struct Evaluated {
    values: Vec<i64>,
    point: Point<Measured>,
    cost_per_hour: f64,
    hosts: u64,
}

/// `source` with `--set PATH=VALUE` settings applied (one value each: a plan searches one
/// scenario; `sweep` takes several).
fn with_settings(source: &Source, set: &[String]) -> Result<Source> {
    let base: toml::Value = toml::from_str(&source.text)
        .map_err(|e| Error::bad_input(format!("{}: {e}", source.origin)))?;
    let mut overrides = Vec::with_capacity(set.len());
    for arg in set {
        let p = sweep::parse_set(arg).map_err(|e| Error::bad_input(e.to_string()))?;
        let [value] = &p.values[..] else {
            return Err(Error::bad_input(format!(
                "--set {arg}: expected one value (a plan searches one scenario; `orchsim sweep` takes several)"
            )));
        };
        overrides.push((p.path.clone(), value.clone()));
    }
    let pairs: Vec<(&str, toml::Value)> = overrides
        .iter()
        .map(|(p, v)| (p.as_str(), v.clone()))
        .collect();
    let text =
        sweep::override_text(&base, &pairs).map_err(|e| Error::bad_input(format!("--set {e}")))?;
    // The origin stays the file's (files it names are read beside it), as for a sweep's runs.
    Ok(Source {
        origin: source.origin.clone(),
        text,
    })
}

/// Searches the plan `req` on `source`: a simulation scenario, or a study, whose candidate
/// passes only if every row of its table does (worst over the policies and shares of a GPU
/// study, over the architectures, decision times and workloads of the architectures study).
pub fn plan(source: &Source, req: &PlanRequest, progress: OnProgress) -> Result<PlanOutcome> {
    let fixed;
    let source = if req.set.is_empty() {
        source
    } else {
        fixed = with_settings(source, &req.set)?;
        &fixed
    };
    let kind = source.kind();
    let study = kind != Kind::Simulation;
    if study && (req.failures > 0 || req.lose.is_some()) {
        return Err(Error::bad_input(format!(
            "--failures and --lose remove hosts of a simulation scenario's host groups; {} is {}",
            source.origin,
            kind.describe()
        )));
    }
    let (name, base_seed, scenario) = match kind {
        Kind::Simulation => {
            let sc = source.simulation("plan")?;
            (sc.name.clone(), sc.seed, Some(sc))
        }
        Kind::GpuStudy => {
            let (st, _) = crate::gpu_study::load(source)?;
            (st.name, st.seeds[0], None)
        }
        Kind::Architectures => {
            let st = orchsim_sim::architectures::parse(&source.origin, &source.text)?;
            (st.name, st.seed, None)
        }
    };
    let (file, text) = (&source.origin, &source.text);
    let target = match kind {
        Kind::Simulation => plan::parse_target(&req.target)?,
        Kind::GpuStudy => study_target(&req.target, crate::gpu_study::METRICS)?,
        Kind::Architectures => {
            let metrics: Vec<&str> = crate::architectures::CURVE_COLUMNS
                .iter()
                .filter(|c| !crate::architectures::KEY_COLUMNS.contains(c))
                .copied()
                .collect();
            study_target(&req.target, &metrics)?
        }
    };
    let vary = req
        .vary
        .iter()
        .map(|v| parse_vary(v))
        .collect::<Result<Vec<_>, _>>()?;
    if vary.len() > 2 {
        return Err(Error::bad_input("--vary: at most two parameters"));
    }
    if vary.len() == 2 && vary[0].2 - vary[0].1 >= MAX_OUTER {
        return Err(Error::bad_input(format!(
            "--vary {}: at most {MAX_OUTER} values for the first of two parameters",
            vary[0].0
        )));
    }
    if !(1..=MAX_SEEDS).contains(&req.seeds) {
        return Err(Error::bad_input(format!(
            "--seeds: expected 1 to {MAX_SEEDS}, found {}",
            req.seeds
        )));
    }
    let base: toml::Value =
        toml::from_str(text).map_err(|e| Error::bad_input(format!("{file}: {e}")))?;
    // Reject a mistyped path or failure domain once, not as a failure of every candidate.
    for (path, lo, _) in &vary {
        sweep::override_text(&base, &[(path.as_str(), toml::Value::Integer(*lo))])
            .map_err(|e| Error::bad_input(format!("--vary {e}")))?;
    }
    // Two spellings of one setting (`hosts.0.count`, `hosts.worker.count`) would search one
    // parameter as if it were two.
    if let [(a, _, _), (b, _, _)] = &vary[..] {
        let canonical = |p: &str| {
            sweep::canonical_path(&base, p).map_err(|e| Error::bad_input(format!("--vary {e}")))
        };
        if canonical(a)? == canonical(b)? {
            return Err(Error::bad_input(format!(
                "--vary {b}: the same setting as --vary {a}; vary two different parameters"
            )));
        }
    }
    if let (Some(d), Some(sc)) = (&req.lose, &scenario) {
        plan::lose_domain(&mut sc.clone(), d)?;
    }
    if let (true, Some(sc)) = (req.failures > 0, &scenario) {
        plan::refuse_trace_nodes(sc, "--failures")?;
    }
    let seeds: Vec<u64> = (0..req.seeds).map(|k| base_seed.wrapping_add(k)).collect();
    // Bisection tries about log2(range) + 2 candidates per value of the outer parameter; the
    // count is an estimate, so the bar's end is set when the search ends.
    let (_, lo, hi) = vary.last().cloned().unwrap_or_default();
    let steps = 2 + (64 - (hi.saturating_sub(lo).max(1) as u64).leading_zeros()) as u64;
    let outer = if vary.len() == 2 {
        (vary[0].2 - vary[0].1 + 1) as u64
    } else {
        1
    };
    progress(Progress::Start {
        total: outer * steps * req.seeds,
        unit: "runs",
    });
    let mut done = 0u64;
    let mut evaluated: Vec<Evaluated> = Vec::new();
    let mut eval = |values: &[i64]| -> Point<Measured> {
        let overrides: Vec<(&str, toml::Value)> = vary
            .iter()
            .zip(values)
            .map(|((p, _, _), v)| (p.as_str(), toml::Value::Integer(*v)))
            .collect();
        let label: Vec<String> = vary
            .iter()
            .zip(values)
            .map(|((p, _, _), v)| format!("{p}={v}"))
            .collect();
        let build = |seed: u64| -> Result<orchsim_sim::Scenario, String> {
            let t = sweep::override_text(&base, &overrides)?;
            let mut sc = orchsim_sim::parse_with_files(
                &format!("{file} [{}]", label.join(" ")),
                &t,
                &source.files(),
            )
            .map_err(|e| e.to_string())?;
            sc.seed = seed;
            Ok(sc)
        };
        // A study has no host groups to price: its candidates tie, and the smaller wins.
        let (cost, hosts) = if study {
            (0.0, 0)
        } else {
            build(seeds[0]).map_or((f64::INFINITY, u64::MAX), |sc| {
                (sc.cost_per_hour(), sc.host_count())
            })
        };
        let run_study = |seed: u64| {
            crate::run::study_at(source, &base, &overrides, seed)
                .map(|(table, _)| Measured::Rows(table))
        };
        let runs: Vec<std::result::Result<Measured, String>> = seeds
            .par_iter()
            .map(|&seed| {
                if study {
                    let r = run_study(seed);
                    progress(Progress::Advance(1));
                    return r;
                }
                let mut sc = build(seed)?;
                if let Some(d) = &req.lose {
                    plan::lose_domain(&mut sc, d).map_err(|e| e.to_string())?;
                }
                plan::lose_largest_hosts(&mut sc, req.failures).map_err(|e| e.to_string())?;
                if sc.host_count() == 0 {
                    return Err("no host left after the failures".to_string());
                }
                let r = orchsim_sim::run(&sc).map_err(|e| e.to_string());
                progress(Progress::Advance(1));
                let r = r?;
                match r.audit_error {
                    Some(e) => Err(format!(
                        "internal error (a bug in orchsim): the audit found {e}"
                    )),
                    None => Ok(Measured::Summary(Box::new(r.summary))),
                }
            })
            .collect();
        done += seeds.len() as u64;
        progress(Progress::At(done));
        let pass = runs
            .iter()
            .all(|r| r.as_ref().is_ok_and(|m| m.meets(&target)));
        let point = Point {
            value: *values.last().unwrap_or(&0),
            runs,
            pass,
        };
        evaluated.push(Evaluated {
            values: values.to_vec(),
            point: point.clone(),
            cost_per_hour: cost,
            hosts,
        });
        point
    };

    // One parameter: bisect it. Two: for each value of the first, bisect the second.
    let (last_path, lo, hi) = vary.last().cloned().unwrap_or_default();
    let mut frontier: Vec<(i64, Option<i64>, plan::PlanResult<Measured>)> = Vec::new();
    if vary.len() == 1 {
        let r = plan::search(lo, hi, &mut |v| eval(&[v]));
        frontier.push((0, r.answer, r));
    } else {
        for v1 in vary[0].1..=vary[0].2 {
            let r = plan::search(lo, hi, &mut |v| eval(&[v1, v]));
            frontier.push((v1, r.answer, r));
        }
    }
    let price = |values: &[i64]| {
        evaluated
            .iter()
            .find(|e| e.values == values)
            .map_or((f64::INFINITY, u64::MAX), |e| (e.cost_per_hour, e.hosts))
    };
    let key = |v1: i64, v2: i64| {
        if vary.len() == 1 {
            vec![v2]
        } else {
            vec![v1, v2]
        }
    };
    let best: Option<(i64, i64)> = frontier
        .iter()
        .filter_map(|(v1, a, _)| a.map(|v2| (*v1, v2)))
        .min_by(|a, b| {
            let (pa, pb) = (price(&key(a.0, a.1)), price(&key(b.0, b.1)));
            pa.0.total_cmp(&pb.0).then(pa.1.cmp(&pb.1)).then(a.cmp(b))
        });
    let non_monotone: Vec<(i64, (i64, i64))> = frontier
        .iter()
        .filter_map(|(v1, _, r)| r.non_monotone.map(|nm| (*v1, nm)))
        .collect();

    let mut cols: Vec<String> = vary.iter().map(|(p, _, _)| p.clone()).collect();
    cols.extend([
        "seed".to_string(),
        "lost_hosts".into(),
        "cost_per_hour".into(),
        "pass".into(),
        "status".into(),
    ]);
    cols.extend(target.iter().map(|c| c.metric.clone()));
    let mut t = Table::new(cols);
    let mut order: Vec<&Evaluated> = evaluated.iter().collect();
    order.sort_by(|a, b| a.values.cmp(&b.values));
    for e in order {
        for (seed, r) in seeds.iter().zip(&e.point.runs) {
            let mut row: Vec<Cell> = e.values.iter().map(|v| Cell::Int(*v)).collect();
            row.extend([
                Cell::UInt(*seed),
                Cell::UInt(req.failures),
                if study {
                    Cell::Empty
                } else {
                    Cell::Float(e.cost_per_hour, 4)
                },
            ]);
            match r {
                Ok(m) => {
                    row.push((if m.meets(&target) { "yes" } else { "no" }).into());
                    row.push("ok".into());
                    row.extend(
                        target
                            .iter()
                            .map(|c| m.value(c).map_or(Cell::Empty, |x| Cell::Float(x, 6))),
                    );
                }
                Err(e) => {
                    row.push("no".into());
                    row.push(sweep::failed_status(e));
                    row.extend(target.iter().map(|_| Cell::Empty));
                }
            }
            let _ = t.push(row);
        }
    }
    let report = req
        .report
        .then(|| -> Result<Report> {
            let title = format!("orchsim plan: {name} for `{}`", req.target);
            Ok(if vary.len() == 1 {
                // The one-parameter frontier chart reads the varied values from a `value` column.
                let mut runs = t.clone();
                runs.columns[0] = "value".into();
                let limits: Vec<(String, f64)> =
                    target.iter().map(|c| (c.metric.clone(), c.value)).collect();
                Report {
                    title,
                    charts: orchsim_report::report::plan_charts(&last_path, &runs, &limits),
                    tables: vec![("Evaluated runs".into(), runs)],
                }
            } else {
                let mut f =
                    Table::new([vary[0].0.clone(), vary[1].0.clone(), "cost_per_hour".into()]);
                for (v1, a, _) in &frontier {
                    if let Some(v2) = a {
                        f.push(vec![
                            Cell::Int(*v1),
                            Cell::Int(*v2),
                            Cell::Float(price(&[*v1, *v2]).0, 4),
                        ])?;
                    }
                }
                Report {
                    title,
                    charts: orchsim_report::report::frontier_charts(&f),
                    tables: vec![("Frontier".into(), f), ("Evaluated runs".into(), t.clone())],
                }
            })
        })
        .transpose()?;

    // Margin: the worst value over seeds at the answer, per condition.
    let answer_point = best.and_then(|(v1, v2)| evaluated.iter().find(|e| e.values == key(v1, v2)));
    let margins: Vec<(String, f64, f64)> = answer_point
        .map(|e| {
            target
                .iter()
                .map(|c| {
                    let worst = e
                        .point
                        .runs
                        .iter()
                        .filter_map(|r| r.as_ref().ok())
                        .filter_map(|m| m.value(c))
                        .reduce(|a, b| c.worse(a, b))
                        .unwrap_or(f64::NAN);
                    (c.metric.clone(), worst, c.value)
                })
                .collect()
        })
        .unwrap_or_default();
    let assignment: Option<serde_json::Value> = best.map(|(v1, v2)| {
        let mut m = serde_json::Map::new();
        for ((p, _, _), v) in vary.iter().zip(key(v1, v2)) {
            m.insert(p.clone(), serde_json::json!(v));
        }
        serde_json::Value::Object(m)
    });
    let losses = {
        let mut l = Vec::new();
        if req.failures > 0 {
            l.push(format!("the {} largest hosts", req.failures));
        }
        if let Some(d) = &req.lose {
            l.push(format!("failure domain {d}"));
        }
        l
    };
    let json = serde_json::json!({
        "parameters": vary.iter().map(|(p, lo, hi)| serde_json::json!({"path": p, "range": [lo, hi]})).collect::<Vec<_>>(),
        "failures": req.failures,
        "lose": req.lose,
        "seeds": req.seeds,
        "answer": if vary.len() == 1 { best.map(|b| serde_json::json!(b.1)).unwrap_or(serde_json::Value::Null) } else { assignment.clone().unwrap_or(serde_json::Value::Null) },
        "assignment": assignment,
        "cost_per_hour": best.filter(|_| !study).map(|(v1, v2)| price(&key(v1, v2)).0),
        "monotone_checked": non_monotone.is_empty(),
        "non_monotone": non_monotone.iter().map(|(v1, (a, b))| serde_json::json!({"first": v1, "answer": a, "fails_at": b})).collect::<Vec<_>>(),
        "margins": margins.iter().map(|(m, v, lim)| serde_json::json!({"metric": m, "worst": v, "limit": lim})).collect::<Vec<_>>(),
        "runs": t.to_json_rows(),
    });
    let mut after = Vec::new();
    match best {
        Some((v1, v2)) => {
            let parts: Vec<String> = vary
                .iter()
                .zip(key(v1, v2))
                .map(|((p, _, _), v)| format!("{p} = {v}"))
                .collect();
            let (cost, hosts) = price(&key(v1, v2));
            let priced = if study {
                String::new()
            } else {
                format!(" ({hosts} hosts, {cost:.2} per hour)")
            };
            after.push(format!(
                "answer: {}{priced} meets `{}` on all {} seeds{}",
                parts.join(", "),
                req.target,
                req.seeds,
                if losses.is_empty() {
                    String::new()
                } else {
                    format!(" after losing {}", losses.join(" and "))
                }
            ));
            for (m, worst, lim) in &margins {
                after.push(format!("  {m}: worst {worst:.3} against {lim}"));
            }
        }
        None => after.push(format!(
            "no value in the given range meets `{}`",
            req.target
        )),
    }
    if non_monotone.is_empty() {
        after.push("monotonicity assumed by the bisection; checked above each answer".into());
    }
    for (v1, (a, b)) in &non_monotone {
        let at = if vary.len() == 2 {
            format!(" (with {} = {v1})", vary[0].0)
        } else {
            String::new()
        };
        after.push(format!("warning: not monotone{at}: {a} passes but {b} fails; the answer is the smallest passing value bisection found"));
    }
    let evaluations = evaluated.len();
    let mut view = View::of(t);
    view.json = Some(json);
    view.after = after;
    Ok(PlanOutcome {
        name,
        view,
        report,
        answered: best.is_some(),
        evaluations,
        source_text: source.text.clone(),
    })
}
