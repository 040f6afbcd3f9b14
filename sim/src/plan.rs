//! Capacity planning: the smallest value of one scenario parameter (typically a host count)
//! whose runs meet a target on every seed, optionally with the K largest hosts lost.
//!
//! The search assumes the target is monotone in the parameter (more hosts never hurt) and
//! bisects; it then checks the assumption above the answer (the next value, and halfway to the
//! top of the range) and reports any larger value that fails.

use std::collections::BTreeSet;
use std::fmt;

use crate::results::Summary;
use crate::scenario::Scenario;

/// A comparison in a target expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

/// One `metric OP value` condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub metric: String,
    pub op: Op,
    pub value: f64,
}

/// Metrics a target may use, beyond the summary's numeric columns.
pub const DERIVED: &[&str] = &[
    "unschedulable_pct",
    "wait_p50_s",
    "wait_p95_s",
    "wait_p99_s",
    "wait_max_s",
];

/// A target that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanError(pub String);

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlanError {}

/// Parses `unschedulable_pct<1 && wait_p99_s<30`, on a simulation's summary metrics.
pub fn parse_target(text: &str) -> Result<Vec<Condition>, PlanError> {
    let known = |metric: &str| {
        DERIVED.contains(&metric)
            || Summary::columns().contains(&metric)
                && !matches!(metric, "scenario" | "algorithm" | "datapath" | "digest")
    };
    parse_target_on(
        text,
        &known,
        &format!(
            "a numeric summary.csv column or one of {}",
            DERIVED.join(", ")
        ),
    )
}

/// Parses a target on the metrics `known` accepts; `expected` says which those are.
pub fn parse_target_on(
    text: &str,
    known: &dyn Fn(&str) -> bool,
    expected: &str,
) -> Result<Vec<Condition>, PlanError> {
    let mut out = Vec::new();
    for part in text.split("&&") {
        let part = part.trim();
        let (pos, op, len) = ["<=", ">=", "<", ">"]
            .iter()
            .filter_map(|s| part.find(s).map(|p| (p, *s)))
            .min_by_key(|(p, s)| (*p, std::cmp::Reverse(s.len())))
            .map(|(p, s)| {
                let op = match s {
                    "<=" => Op::Le,
                    ">=" => Op::Ge,
                    "<" => Op::Lt,
                    _ => Op::Gt,
                };
                (p, op, s.len())
            })
            .ok_or_else(|| {
                PlanError(format!(
                    "target `{part}`: expected `metric < value` (<, <=, >, >=), joined by &&"
                ))
            })?;
        let metric = part[..pos].trim().to_string();
        let value: f64 = part[pos + len..].trim().parse().map_err(|_| {
            PlanError(format!(
                "target `{part}`: expected a number after the comparison"
            ))
        })?;
        if !known(&metric) {
            return Err(PlanError(format!(
                "target `{part}`: unknown metric `{metric}`; use {expected}"
            )));
        }
        out.push(Condition { metric, op, value });
    }
    Ok(out)
}

/// The value of `metric` in a run's summary (`None` when undefined, e.g. no pod was bound).
pub fn metric(s: &Summary, name: &str) -> Option<f64> {
    let ms = |d: Option<orchsim_kernel::SimDuration>| d.map(|d| d.as_millis_f64());
    match name {
        "unschedulable_pct" => Some(if s.pods_submitted == 0 {
            0.0
        } else {
            (s.pods_unschedulable + s.pods_pending) as f64 * 100.0 / s.pods_submitted as f64
        }),
        "wait_p50_s" => ms(s.wait_p50).map(|v| v / 1000.0),
        "wait_p95_s" => ms(s.wait_p95).map(|v| v / 1000.0),
        "wait_p99_s" => ms(s.wait_p99).map(|v| v / 1000.0),
        "wait_max_s" => ms(s.wait_max).map(|v| v / 1000.0),
        other => {
            let t = s.table();
            let i = t.columns.iter().position(|c| c == other)?;
            t.rows[0][i].text().parse().ok()
        }
    }
}

/// Whether `s` meets every condition; an undefined metric fails.
pub fn meets(s: &Summary, target: &[Condition]) -> bool {
    target
        .iter()
        .all(|c| metric(s, &c.metric).is_some_and(|v| c.holds(v)))
}

impl Condition {
    /// Whether `v` satisfies this condition.
    pub fn holds(&self, v: f64) -> bool {
        match self.op {
            Op::Lt => v < self.value,
            Op::Le => v <= self.value,
            Op::Gt => v > self.value,
            Op::Ge => v >= self.value,
        }
    }

    /// The worse of two values for this condition: the larger for `<`, `<=`; the smaller for
    /// `>`, `>=`.
    pub fn worse(&self, a: f64, b: f64) -> f64 {
        match self.op {
            Op::Lt | Op::Le => a.max(b),
            Op::Gt | Op::Ge => a.min(b),
        }
    }
}

/// Removes the `k` largest hosts (by cpu, then memory, then GPUs), as if they had failed
/// Losing hosts removes host groups' hosts; a trace's nodes are not host groups, and losing
/// none of them silently would answer a question that was not asked.
pub fn refuse_trace_nodes(sc: &Scenario, what: &str) -> Result<(), PlanError> {
    if sc.trace_nodes.is_empty() {
        Ok(())
    } else {
        Err(PlanError(format!(
            "{what}: this scenario's cluster includes {} nodes from a trace, which losing hosts does not cover yet; use host groups",
            sc.trace_nodes.len()
        )))
    }
}

/// before the run: planning for N − K healthy hosts.
pub fn lose_largest_hosts(sc: &mut Scenario, k: u64) -> Result<(), PlanError> {
    let hosts = sc.host_count();
    if k > 0 && k >= hosts {
        return Err(PlanError(format!(
            "cannot lose {k} hosts: the cluster has {hosts}, and at least one must remain"
        )));
    }
    let mut left = k;
    let mut order: Vec<usize> = (0..sc.hosts.len()).collect();
    order.sort_by_key(|&i| {
        let c = &sc.hosts[i].capacity;
        std::cmp::Reverse((c.cpu_milli, c.memory_bytes, c.gpu_milli))
    });
    for i in order {
        if left == 0 {
            break;
        }
        let take = left.min(sc.hosts[i].count);
        sc.hosts[i].count -= take;
        left -= take;
    }
    Ok(())
}

/// Removes every host group in a failure domain: `site=NAME`, or any host label
/// `KEY=VALUE` (e.g. `topology.kubernetes.io/zone=z-a`). Returns the hosts removed.
pub fn lose_domain(sc: &mut Scenario, domain: &str) -> Result<u64, PlanError> {
    refuse_trace_nodes(sc, "--lose")?;
    let (key, value) = domain.split_once('=').ok_or_else(|| {
        PlanError(format!(
            "--lose `{domain}`: expected site=NAME or LABEL=VALUE"
        ))
    })?;
    let mut lost = 0;
    let mut matched = false;
    for g in &mut sc.hosts {
        let hit = if key == "site" {
            g.site == value
        } else {
            g.labels.get(key).is_some_and(|v| v == value)
        };
        if hit {
            matched = true;
            lost += g.count;
            g.count = 0;
        }
    }
    if !matched {
        // A typo must not plan for losing nothing.
        let mut known: BTreeSet<String> = sc
            .hosts
            .iter()
            .map(|g| format!("site={}", g.site))
            .collect();
        known.extend(
            sc.hosts
                .iter()
                .flat_map(|g| g.labels.iter().map(|(k, v)| format!("{k}={v}"))),
        );
        return Err(PlanError(format!(
            "--lose `{domain}`: no host group is in that domain; the scenario has {}",
            known.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(lost)
}

/// One evaluated candidate: per seed, what the run measured (a simulation's [`Summary`], or
/// whatever a caller measures), or why it failed.
#[derive(Clone, Debug)]
pub struct Point<M = Summary> {
    pub value: i64,
    pub runs: Vec<Result<M, String>>,
    pub pass: bool,
}

/// What the search found.
#[derive(Clone, Debug)]
pub struct PlanResult<M = Summary> {
    /// The smallest passing value, if any value in the range passes.
    pub answer: Option<i64>,
    /// Every evaluated point, by value.
    pub points: Vec<Point<M>>,
    /// (answer, a larger value that fails): the target is not monotone there.
    pub non_monotone: Option<(i64, i64)>,
}

/// Finds the smallest `value` in `lo..=hi` for which `eval(value)` passes by bisection, then
/// checks two values above the answer and reports one that fails (not monotone).
pub fn search<M>(lo: i64, hi: i64, eval: &mut dyn FnMut(i64) -> Point<M>) -> PlanResult<M> {
    let mut points: Vec<Point<M>> = Vec::new();
    let mut get = |v: i64, points: &mut Vec<Point<M>>| -> bool {
        if let Some(p) = points.iter().find(|p| p.value == v) {
            return p.pass;
        }
        let p = eval(v);
        let pass = p.pass;
        points.push(p);
        pass
    };
    let mut answer = None;
    if get(hi, &mut points) {
        let (mut a, mut b) = (lo, hi); // invariant: b passes
        if get(a, &mut points) {
            b = a;
        } else {
            while b - a > 1 {
                let m = a + (b - a) / 2;
                if get(m, &mut points) {
                    b = m;
                } else {
                    a = m;
                }
            }
        }
        answer = Some(b);
    }
    // Bisection only ever sees failures below passes; check monotonicity above the answer.
    if let Some(b) = answer {
        for v in [b + 1, b + (hi - b) / 2] {
            if v > b && v <= hi {
                get(v, &mut points);
            }
        }
    }
    points.sort_by_key(|p| p.value);
    let non_monotone = answer.and_then(|b| {
        points
            .iter()
            .find(|p| p.value > b && !p.pass)
            .map(|p| (b, p.value))
    });
    PlanResult {
        answer,
        points,
        non_monotone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(v: i64, pass: bool) -> Point {
        Point {
            value: v,
            runs: vec![],
            pass,
        }
    }

    #[test]
    fn targets_parse_and_reject_unknown_metrics() {
        let t = parse_target("unschedulable_pct<1 && wait_p99_s <= 30").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(
            (t[1].metric.as_str(), t[1].op, t[1].value),
            ("wait_p99_s", Op::Le, 30.0)
        );
        let t = parse_target("cpu_util_mean_pct>=50").unwrap();
        assert_eq!(t[0].op, Op::Ge);
        assert!(parse_target("latency<3")
            .unwrap_err()
            .0
            .contains("unknown metric `latency`"));
        assert!(parse_target("wait_p99_s").is_err());
        assert!(parse_target("wait_p99_s<fast").is_err());
    }

    #[test]
    fn bisection_finds_the_threshold_of_a_monotone_target() {
        let mut calls = 0;
        let r = search(1, 1000, &mut |v| {
            calls += 1;
            point(v, v >= 137)
        });
        assert_eq!(r.answer, Some(137));
        assert!(r.non_monotone.is_none());
        // Both ends, ~log2(1000) bisection steps and two monotonicity checks.
        assert!(calls <= 14, "{calls} evaluations");
        assert_eq!(search(1, 10, &mut |v| point(v, v >= 50)).answer, None);
        assert_eq!(search(5, 10, &mut |v| point(v, true)).answer, Some(5));
    }

    #[test]
    fn a_failure_above_the_answer_is_reported() {
        // Passes on 5..=10 and from 13: the answer is 5, and the check halfway up (12) fails.
        let r = search(1, 20, &mut |v| point(v, (5..=10).contains(&v) || v >= 13));
        assert_eq!(r.answer, Some(5));
        assert_eq!(r.non_monotone, Some((5, 12)));
    }
}
