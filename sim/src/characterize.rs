//! Measures a replayed trace's shape — arrival rate and its daily cycle, request and run-time
//! percentiles, priority bands, the service/batch split — and writes the synthetic
//! generator (`[[workloads]]`) that draws from the same shape.
//!
//! A generator's parameters then have a source anyone can re-measure: the trace and this
//! command. The daily cycle is the first Fourier harmonic of the arrival times: for a Poisson
//! process of rate `λ (1 + A cos(ω (t − peak)))` observed over whole periods,
//! `E[cos ω t] = A/2 · cos ω peak` and `E[sin ω t] = A/2 · sin ω peak`, so
//! `A = 2 |mean of e^{iωt}|` and `peak = arg(mean of e^{iωt}) / ω` — the curve
//! `arrival_rate_per_s = { kind = "diurnal", … }` draws from.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use orchsim_kernel::SimDuration;

use crate::dist::Dist;
use crate::scenario::TracePod;

/// The percentiles a measured quantity is summarised by (a generator's `empirical` table).
pub const PERCENTILES: [f64; 11] = [
    0.0, 1.0, 5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 100.0,
];
/// Up to this many distinct values a quantity is written as a `choice` of exactly those
/// values (requests usually come in a few sizes); past it, as its percentile table.
pub const MAX_CHOICES: usize = 32;
/// A day, the cycle measured by default.
pub const DAY_S: f64 = 86_400.0;
/// The longest cycle fitted: a year (its arrivals are counted by hour).
pub const MAX_PERIOD_S: f64 = 365.0 * DAY_S;
/// A cycle is written into a generator when the Rayleigh test rejects uniform phases at this
/// level (`p ≈ exp(−n R²)`, R the mean resultant length): with a few hundred arrivals and no
/// cycle, `2R` alone would still read as an amplitude of about 0.1–0.2.
pub const CYCLE_P_VALUE: f64 = 0.01;

/// What was measured, by class.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Shape {
    pub source: String,
    pub pods: u64,
    /// From the first arrival to the last, s.
    pub span_s: f64,
    /// Length of the cycle fitted, s.
    pub period_s: f64,
    pub classes: Vec<Class>,
}

/// Services (pods that run to the end) or batch pods (with a run time).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Class {
    /// `service` or `batch`.
    pub kind: &'static str,
    pub pods: u64,
    /// Mean arrivals per second over the span.
    pub rate_per_s: f64,
    /// The cycle's relative amplitude and the time of its peak within a period (s of the
    /// trace's clock — the run's time 0 — modulo the period); `None` when the span holds
    /// less than one period.
    pub cycle: Option<Cycle>,
    /// Mean arrivals per second in each hour of the period (24 for a day), for judging the
    /// fitted sine.
    pub hourly_rate_per_s: Vec<f64>,
    pub cpu_milli: Measured,
    pub memory_mib: Measured,
    /// `None` when no pod asks for a GPU.
    pub gpu_milli: Option<Measured>,
    /// Batch pods' run times, s.
    pub duration_s: Option<Measured>,
    /// Each priority with its pod count, lowest first.
    pub priorities: Vec<(i32, u64)>,
}

/// A fitted daily (or other periodic) cycle.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Cycle {
    pub amplitude: f64,
    pub peak_s: f64,
    /// The Rayleigh test's p-value: the chance of a cycle this strong in arrivals without one.
    pub p_value: f64,
}

impl Cycle {
    /// Strong enough to write into a generator ([`CYCLE_P_VALUE`]).
    pub fn significant(&self) -> bool {
        self.p_value < CYCLE_P_VALUE
    }
}

/// One quantity: its percentiles, and its distinct values with counts when there are few.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Measured {
    pub mean: f64,
    /// At [`PERCENTILES`] (nearest rank).
    pub percentiles: Vec<f64>,
    /// Each value with its count, smallest first, when there are at most [`MAX_CHOICES`].
    pub values: Option<Vec<(f64, u64)>>,
}

impl Measured {
    fn of(mut v: Vec<f64>) -> Option<Measured> {
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let percentiles = PERCENTILES
            .iter()
            .map(|p| {
                // Nearest rank: the smallest value with at least p % of the values at or below
                // (whole percents, in integers).
                let rank = (*p as usize * n).div_ceil(100);
                v[rank.clamp(1, n) - 1]
            })
            .collect();
        let mut counts: Vec<(f64, u64)> = Vec::new();
        for x in &v {
            match counts.last_mut() {
                Some((last, c)) if last == x => *c += 1,
                _ => counts.push((*x, 1)),
            }
        }
        Some(Measured {
            mean: v.iter().sum::<f64>() / n as f64,
            percentiles,
            values: (counts.len() <= MAX_CHOICES).then_some(counts),
        })
    }

    /// The distribution a generator draws this quantity from: a `choice` of the values seen,
    /// or the percentile table (`log` interpolation for heavy-tailed quantities).
    pub fn dist(&self, log: bool) -> Dist {
        match &self.values {
            Some(values) => Dist::Choice {
                values: values.iter().map(|v| v.0).collect(),
                weights: values.iter().map(|v| v.1 as f64).collect(),
            },
            None => Dist::Empirical {
                percentiles: PERCENTILES.to_vec(),
                values: self.percentiles.clone(),
                log,
            },
        }
    }
}

/// Measures `pods` (a trace in arrival order), fitting a cycle of `period_s`.
pub fn measure(source: &str, pods: &[TracePod], period_s: f64) -> Shape {
    let arrivals = || pods.iter().map(|p| p.arrival.as_secs_f64());
    let first = arrivals().fold(f64::INFINITY, f64::min);
    let last = arrivals().fold(0.0, f64::max);
    let span_s = if pods.is_empty() { 0.0 } else { last - first };
    let is_service = |p: &TracePod| p.run_for.is_none() && p.deleted_at.is_none();
    let classes = [("service", true), ("batch", false)]
        .into_iter()
        .filter_map(|(kind, service)| {
            let mine: Vec<&TracePod> = pods.iter().filter(|p| is_service(p) == service).collect();
            class(kind, &mine, first, span_s, period_s)
        })
        .collect();
    Shape {
        source: source.to_string(),
        pods: pods.len() as u64,
        span_s,
        period_s,
        classes,
    }
}

fn class(
    kind: &'static str,
    pods: &[&TracePod],
    first: f64,
    span_s: f64,
    period_s: f64,
) -> Option<Class> {
    let cpu = Measured::of(pods.iter().map(|p| p.requests.cpu_milli as f64).collect())?;
    let mib = |b: u64| (b as f64 / (1024.0 * 1024.0)).round();
    let memory = Measured::of(pods.iter().map(|p| mib(p.requests.memory_bytes)).collect())?;
    let gpu = pods
        .iter()
        .any(|p| p.requests.gpu_milli > 0)
        .then(|| Measured::of(pods.iter().map(|p| p.requests.gpu_milli as f64).collect()))
        .flatten()
        .map(|mut m| {
            // GPU requests are shares of one device or whole devices: only the values seen
            // can be drawn, however many there are.
            if m.values.is_none() {
                let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
                for p in pods {
                    *counts.entry(p.requests.gpu_milli).or_default() += 1;
                }
                m.values = Some(counts.into_iter().map(|(v, c)| (v as f64, c)).collect());
            }
            m
        });
    let durations: Vec<f64> = pods
        .iter()
        .filter_map(|p| {
            p.run_for.or(p.deleted_at.map(|d| {
                SimDuration::from_nanos(d.as_nanos().saturating_sub(p.arrival.as_nanos()))
            }))
        })
        .map(|d| d.as_secs_f64())
        .collect();
    let mut priorities: BTreeMap<i32, u64> = BTreeMap::new();
    for p in pods {
        *priorities.entry(p.priority).or_default() += 1;
    }
    // Arrival times within whole periods from the trace's first arrival: over a partial
    // period the harmonic's mean is biased toward the part observed.
    let periods = (span_s / period_s).floor();
    let window = periods * period_s;
    let (mut c, mut s, mut n) = (0.0, 0.0, 0u64);
    let w = std::f64::consts::TAU / period_s;
    let hours = if periods >= 1.0 {
        ((period_s / 3600.0).round() as usize).max(1)
    } else {
        1
    };
    let mut hourly = vec![0u64; hours];
    for p in pods {
        let t = p.arrival.as_secs_f64();
        if periods >= 1.0 && t - first < window {
            c += (w * t).cos();
            s += (w * t).sin();
            n += 1;
            let h = (((t % period_s) / period_s) * hours as f64) as usize;
            hourly[h.min(hours - 1)] += 1;
        }
    }
    let cycle = (n > 0).then(|| {
        let (c, s) = (c / n as f64, s / n as f64);
        let r = c.hypot(s);
        Cycle {
            amplitude: (2.0 * r).min(1.0),
            peak_s: (s.atan2(c) / w).rem_euclid(period_s),
            p_value: (-(n as f64) * r * r).exp(),
        }
    });
    let hour_s = period_s / hours as f64;
    Some(Class {
        kind,
        pods: pods.len() as u64,
        rate_per_s: if span_s > 0.0 {
            pods.len() as f64 / span_s
        } else {
            0.0
        },
        cycle,
        hourly_rate_per_s: if periods >= 1.0 {
            hourly
                .iter()
                .map(|&k| k as f64 / (periods * hour_s))
                .collect()
        } else {
            Vec::new()
        },
        cpu_milli: cpu,
        memory_mib: memory,
        gpu_milli: gpu,
        duration_s: (kind == "batch").then(|| Measured::of(durations)).flatten(),
        priorities: priorities.into_iter().collect(),
    })
}

/// Four significant digits, written as TOML reads them back.
pub fn num(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return "0".into();
    }
    let digits = (3 - x.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        s
    }
}

fn list(xs: impl Iterator<Item = String>) -> String {
    format!("[{}]", xs.collect::<Vec<_>>().join(", "))
}

/// `m` as the distribution [`Measured::dist`] gives, in TOML.
fn measured_toml(m: &Measured, log: bool) -> String {
    match &m.values {
        Some(values) => format!(
            "{{ dist = \"choice\", values = {}, weights = {} }}",
            list(values.iter().map(|v| num(v.0))),
            list(values.iter().map(|v| v.1.to_string()))
        ),
        None => format!(
            "{{ dist = \"empirical\", percentiles = {}, values = {}{} }}",
            list(PERCENTILES.iter().map(|v| num(*v))),
            list(m.percentiles.iter().map(|v| num(*v))),
            if log { ", scale = \"log\"" } else { "" }
        ),
    }
}

impl Shape {
    /// The `[[workloads]]` that draw from this shape, one per class, with where each number
    /// came from in comments.
    pub fn workloads_toml(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "# Generators measured by `orchsim characterize` from {}: {} pods over {} days.\n\
             # Paste them into a scenario with the hosts to run them on.",
            self.source,
            self.pods,
            num(self.span_s / DAY_S)
        );
        for c in &self.classes {
            let _ = writeln!(
                o,
                "\n[[workloads]]\nname = \"{}\"\nkind = \"{}\"",
                c.kind, c.kind
            );
            let _ = writeln!(
                o,
                "# {} pods, {} per second on average",
                c.pods,
                num(c.rate_per_s)
            );
            match c.cycle {
                Some(cy) if cy.significant() => {
                    let _ = writeln!(
                        o,
                        "arrival_rate_per_s = {{ kind = \"diurnal\", mean = {}, amplitude = {}, period_s = {}, peak_s = {} }}",
                        num(c.rate_per_s),
                        num(cy.amplitude),
                        num(self.period_s),
                        num(cy.peak_s.round())
                    );
                }
                other => {
                    let why = match other {
                        Some(cy) => format!(
                            "no significant cycle (amplitude {}, Rayleigh p = {})",
                            num(cy.amplitude),
                            num(cy.p_value)
                        ),
                        None => "less than one period of arrivals: no cycle fitted".into(),
                    };
                    let _ = writeln!(o, "# ({why})\narrival_rate_per_s = {}", num(c.rate_per_s));
                }
            }
            let _ = writeln!(o, "cpu_milli = {}", measured_toml(&c.cpu_milli, false));
            let _ = writeln!(o, "memory_mib = {}", measured_toml(&c.memory_mib, false));
            if let Some(g) = &c.gpu_milli {
                let _ = writeln!(o, "gpu_milli = {}", measured_toml(g, false));
            }
            if let Some(d) = &c.duration_s {
                // Run times are heavy-tailed: interpolate the percentiles on a log scale.
                let _ = writeln!(o, "duration_s = {}", measured_toml(d, true));
            }
            match c.priorities.as_slice() {
                [(p, _)] => {
                    let _ = writeln!(o, "priority = {p}");
                }
                many => {
                    let _ = writeln!(
                        o,
                        "priority = {{ dist = \"choice\", values = {}, weights = {} }}",
                        list(many.iter().map(|(p, _)| p.to_string())),
                        list(many.iter().map(|(_, n)| n.to_string()))
                    );
                }
            }
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchsim_sched::{PodSpec, Resources};

    fn pod(i: u64, at_s: f64, run_s: Option<u64>, cpu: u64) -> TracePod {
        let spec = PodSpec::new(
            format!("p{i}"),
            Resources {
                cpu_milli: cpu,
                memory_bytes: 512 << 20,
                pods: 1,
                ..Resources::ZERO
            },
        );
        TracePod::new(
            spec,
            SimDuration::try_from_secs_f64(at_s).unwrap(),
            run_s.map(SimDuration::from_secs),
        )
    }

    /// Arrivals placed deterministically along `1 + A cos(ω (t − peak))` (inverse of its
    /// cumulative count) give back A and the peak.
    #[test]
    fn the_cycle_fit_recovers_amplitude_and_peak() {
        let (a, peak) = (0.5, 14.0 * 3600.0);
        let w = std::f64::consts::TAU / DAY_S;
        let cumulative = |t: f64| t + a * ((w * (t - peak)).sin() + (w * peak).sin()) / w;
        let mut pods = Vec::new();
        let n = 20_000;
        let days = 4.0;
        for i in 0..n {
            let target = (i as f64 + 0.5) / n as f64 * days * DAY_S;
            // Bisection: the time by which `target` arrivals (at rate 1) are expected.
            let (mut lo, mut hi) = (0.0, days * DAY_S);
            for _ in 0..60 {
                let mid = (lo + hi) / 2.0;
                if cumulative(mid) < target {
                    lo = mid
                } else {
                    hi = mid
                }
            }
            pods.push(pod(i, lo, Some(60), 500));
        }
        // The last arrival closes the fourth day.
        pods.push(pod(n, days * DAY_S, Some(60), 500));
        let shape = measure("test", &pods, DAY_S);
        let c = &shape.classes[0];
        let cy = c.cycle.unwrap();
        assert!(cy.significant(), "{cy:?}");
        assert!((cy.amplitude - a).abs() < 0.01, "{cy:?}");
        assert!((cy.peak_s - peak).abs() < 300.0, "{cy:?}");
        let (hi, lo) = (c.hourly_rate_per_s[14], c.hourly_rate_per_s[2]);
        assert!(hi / lo > 2.5, "{hi} / {lo}");
    }

    /// Arrivals evenly spread over four days have no cycle: none is written.
    #[test]
    fn no_cycle_is_written_where_there_is_none() {
        let pods: Vec<TracePod> = (0..=400)
            .map(|i| pod(i, i as f64 * 4.0 * DAY_S / 400.0, Some(60), 500))
            .collect();
        let shape = measure("even", &pods, DAY_S);
        let cy = shape.classes[0].cycle.unwrap();
        assert!(!cy.significant(), "{cy:?}");
        let toml = shape.workloads_toml();
        assert!(toml.contains("no significant cycle"), "{toml}");
        assert!(!toml.contains("diurnal"), "{toml}");
    }

    #[test]
    fn classes_percentiles_and_choices() {
        let mut pods: Vec<TracePod> = (0..100)
            .map(|i| pod(i, i as f64, Some(i + 1), if i < 70 { 250 } else { 1000 }))
            .collect();
        pods.push(pod(100, 5.0, None, 2000));
        pods[3].priority = 9;
        let shape = measure("test", &pods, DAY_S);
        assert_eq!(shape.classes.len(), 2);
        let (service, batch) = (&shape.classes[0], &shape.classes[1]);
        assert_eq!((service.kind, service.pods), ("service", 1));
        assert_eq!((batch.kind, batch.pods), ("batch", 100));
        assert_eq!(
            batch.cpu_milli.values,
            Some(vec![(250.0, 70), (1000.0, 30)])
        );
        let d = batch.duration_s.as_ref().unwrap();
        // Nearest rank over 1..=100 s: the p-th percentile is p s.
        assert_eq!(d.percentiles[5], 50.0);
        assert_eq!(d.percentiles[9], 99.0);
        assert_eq!((d.percentiles[0], d.percentiles[10]), (1.0, 100.0));
        assert!(d.values.is_none(), "100 distinct run times are a table");
        assert_eq!(batch.priorities, vec![(0, 99), (9, 1)]);
        assert!(batch.cycle.is_none(), "less than a day of arrivals");
        let toml = shape.workloads_toml();
        assert!(
            toml.contains("priority = { dist = \"choice\", values = [0, 9], weights = [99, 1] }"),
            "{toml}"
        );
        assert!(toml.contains("scale = \"log\""), "{toml}");
        // The file parses into the distributions measured.
        let scenario = format!(
            "name = \"t\"\nduration_s = 100\n[[hosts]]\nname = \"h\"\ncpu_milli = 4000\nmemory_mib = 4096\n{toml}"
        );
        let s = crate::scenario::parse("t.toml", &scenario).unwrap();
        assert_eq!(s.workloads[1].cpu_milli, batch.cpu_milli.dist(false));
        assert_eq!(
            s.workloads[1].kind,
            crate::scenario::WorkloadKind::Batch {
                duration_s: d.dist(true)
            }
        );
    }

    #[test]
    fn numbers_keep_four_significant_digits() {
        assert_eq!(num(0.000123456), "0.0001235");
        assert_eq!(num(86400.0), "86400");
        assert_eq!(num(2.5), "2.5");
        assert_eq!(num(1234.5678), "1235");
        assert_eq!(num(0.0), "0");
    }
}
