//! `orchsim plan`: the smallest value of one parameter that meets a target on every seed,
//! optionally after losing the K largest hosts.

use std::path::PathBuf;

use orchsim_report::{Cell, Table};
use orchsim_sim::plan::{self, Point};
use orchsim_sim::sweep;
use rayon::prelude::*;

use crate::{CliError, Format};

#[derive(clap::Args)]
pub struct PlanArgs {
    /// A scenario file or embedded scenario name (default: quickstart).
    scenario: Option<String>,
    /// Conditions joined by `&&`, e.g. `unschedulable_pct<1 && wait_p99_s<30`.
    #[arg(long)]
    target: String,
    /// The integer parameter to size and its range, e.g. `hosts.worker.count=1..200`.
    #[arg(long)]
    vary: String,
    /// Plan for losing this many of the largest hosts.
    #[arg(long, default_value_t = 0)]
    failures: u64,
    /// Seeds per candidate; a candidate passes only if every seed does.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Output directory for plan.csv. Default: out/<scenario>-plan.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also write report.html with the capacity frontier.
    #[arg(long)]
    report: bool,
}

/// Exit status when no value in the range meets the target.
pub const NO_ANSWER: u8 = 4;

fn parse_vary(s: &str) -> Result<(String, i64, i64), CliError> {
    let bad = || {
        CliError(format!(
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

pub fn run(args: PlanArgs) -> Result<u8, CliError> {
    let (file, text) = crate::scenario_text(args.scenario.as_deref())?;
    let scenario = orchsim_sim::parse(&file, &text)?;
    let target = plan::parse_target(&args.target)?;
    let (path, lo, hi) = parse_vary(&args.vary)?;
    if args.seeds == 0 {
        return Err(CliError("--seeds: expected at least 1".into()));
    }
    let base: toml::Value = toml::from_str(&text).map_err(|e| CliError(format!("{file}: {e}")))?;
    let seeds: Vec<u64> = (0..args.seeds)
        .map(|k| scenario.seed.wrapping_add(k))
        .collect();
    let mut eval = |v: i64| -> Point {
        let runs: Vec<Result<orchsim_sim::Summary, String>> = seeds
            .par_iter()
            .map(|&seed| {
                let t = sweep::override_text(&base, &[(path.as_str(), toml::Value::Integer(v))])?;
                let mut sc = orchsim_sim::parse(&format!("{file} [{path}={v}]"), &t)
                    .map_err(|e| e.to_string())?;
                sc.seed = seed;
                plan::lose_largest_hosts(&mut sc, args.failures);
                if sc.host_count() == 0 {
                    return Err(format!("no host left after losing {} hosts", args.failures));
                }
                orchsim_sim::run(&sc)
                    .map(|r| r.summary)
                    .map_err(|e| e.to_string())
            })
            .collect();
        let pass = runs
            .iter()
            .all(|r| r.as_ref().is_ok_and(|s| plan::meets(s, &target)));
        Point {
            value: v,
            runs,
            pass,
        }
    };
    let result = plan::search(lo, hi, &mut eval);

    let mut cols = vec![
        "value".to_string(),
        "seed".into(),
        "lost_hosts".into(),
        "pass".into(),
        "status".into(),
    ];
    cols.extend(target.iter().map(|c| c.metric.clone()));
    let mut t = Table::new(cols);
    for p in &result.points {
        for (seed, r) in seeds.iter().zip(&p.runs) {
            let mut row: Vec<Cell> = vec![
                Cell::Int(p.value),
                Cell::UInt(*seed),
                Cell::UInt(args.failures),
            ];
            match r {
                Ok(s) => {
                    row.push((if plan::meets(s, &target) { "yes" } else { "no" }).into());
                    row.push("ok".into());
                    row.extend(target.iter().map(|c| {
                        plan::metric(s, &c.metric).map_or(Cell::Empty, |x| Cell::Float(x, 6))
                    }));
                }
                Err(e) => {
                    row.push("no".into());
                    row.push(format!("failed: {}", e.lines().next().unwrap_or("")).into());
                    row.extend(target.iter().map(|_| Cell::Empty));
                }
            }
            let _ = t.push(row);
        }
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out").join(format!("{}-plan", scenario.name)));
    std::fs::create_dir_all(&out)
        .map_err(|e| CliError(format!("cannot create {}: {e}", out.display())))?;
    std::fs::write(out.join("plan.csv"), t.to_csv())
        .map_err(|e| CliError(format!("cannot write plan.csv: {e}")))?;

    if args.report {
        let limits: Vec<(String, f64)> =
            target.iter().map(|c| (c.metric.clone(), c.value)).collect();
        let title = format!("orchsim plan: {} for `{}`", scenario.name, args.target);
        orchsim_report::report::plan_report(&out, &title, &path, &t, &limits, &text)?;
    }
    // Margin: the worst value over seeds at the answer, per condition.
    let margins: Vec<(String, f64, f64)> = result
        .answer
        .and_then(|a| result.points.iter().find(|p| p.value == a))
        .map(|p| {
            target
                .iter()
                .map(|c| {
                    let vals = p
                        .runs
                        .iter()
                        .filter_map(|r| r.as_ref().ok())
                        .filter_map(|s| plan::metric(s, &c.metric));
                    let worst = match c.op {
                        plan::Op::Lt | plan::Op::Le => vals.fold(f64::MIN, f64::max),
                        plan::Op::Gt | plan::Op::Ge => vals.fold(f64::MAX, f64::min),
                    };
                    (c.metric.clone(), worst, c.value)
                })
                .collect()
        })
        .unwrap_or_default();
    match args.format {
        Format::Json => {
            let v = serde_json::json!({
                "parameter": path,
                "range": [lo, hi],
                "failures": args.failures,
                "seeds": args.seeds,
                "answer": result.answer,
                "monotone_checked": result.non_monotone.is_none(),
                "non_monotone": result.non_monotone.map(|(a, b)| serde_json::json!({"answer": a, "fails_at": b})),
                "margins": margins.iter().map(|(m, v, lim)| serde_json::json!({"metric": m, "worst": v, "limit": lim})).collect::<Vec<_>>(),
                "runs": t.to_json_rows(),
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Csv => print!("{}", String::from_utf8_lossy(&t.to_csv())),
        Format::Table => {
            print!("{}", t.to_text());
            match result.answer {
                Some(a) => {
                    println!(
                        "answer: {path} = {a} meets `{}` on all {} seeds{}",
                        args.target,
                        args.seeds,
                        if args.failures > 0 {
                            format!(" after losing the {} largest hosts", args.failures)
                        } else {
                            String::new()
                        }
                    );
                    for (m, worst, lim) in &margins {
                        println!("  {m}: worst {worst:.3} against {lim}");
                    }
                }
                None => println!("no value of {path} in {lo}..{hi} meets `{}`", args.target),
            }
            match result.non_monotone {
                Some((a, b)) => println!(
                    "warning: not monotone: {a} passes but {b} fails; the answer is the smallest passing value found by bisection"
                ),
                None => println!("monotonicity assumed by the bisection; checked above the answer"),
            }
            println!(
                "{} evaluations written to {}/plan.csv",
                result.points.len(),
                out.display()
            );
        }
    }
    Ok(if result.answer.is_some() {
        0
    } else {
        NO_ANSWER
    })
}
