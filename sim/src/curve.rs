//! A quantity that changes over the simulated time — a day's sine or steps — for an
//! autoscaler's CPU demand (`load_cores`) and a workload's arrival rate
//! (`arrival_rate_per_s`).
//!
//! ```toml
//! # mean × (1 + amplitude × cos(2π (t − peak_s) / period_s)): highest at peak_s, lowest half a
//! # period later
//! arrival_rate_per_s = { kind = "diurnal", mean = 2.0, amplitude = 0.3, period_s = 86400, peak_s = 50400 }
//! # values[i] from at_s[i] on (0 before the first)
//! arrival_rate_per_s = { kind = "steps", at_s = [0, 3600], values = [1.0, 4.0] }
//! ```

use orchsim_kernel::{SimDuration, SimTime, StreamRng};
use rand::Rng;
use serde::Deserialize;

use crate::dist::Dist;
use crate::scenario::{Locator, ScenarioError};

/// A validated curve.
#[derive(Clone, Debug, PartialEq)]
pub enum Curve {
    /// `mean × (1 + amplitude × cos(2π (t − peak) / period))`.
    Diurnal {
        mean: f64,
        amplitude: f64,
        period: SimDuration,
        peak: SimDuration,
    },
    /// `values[i]` from `at[i]` on (0 before the first).
    Steps {
        at: Vec<SimDuration>,
        values: Vec<f64>,
    },
}

impl Curve {
    /// The value at `t`.
    pub fn at(&self, t: SimTime) -> f64 {
        let s = t.as_secs_f64();
        match self {
            Curve::Diurnal {
                mean,
                amplitude,
                period,
                peak,
            } => {
                let phase = (s - peak.as_secs_f64()) / period.as_secs_f64();
                mean * (1.0 + amplitude * (std::f64::consts::TAU * phase).cos())
            }
            Curve::Steps { at, values } => at
                .iter()
                .zip(values)
                .take_while(|(a, _)| a.as_secs_f64() <= s)
                .last()
                .map_or(0.0, |(_, v)| *v),
        }
    }

    /// The highest value the curve takes.
    pub fn max(&self) -> f64 {
        match self {
            Curve::Diurnal {
                mean, amplitude, ..
            } => mean * (1.0 + amplitude),
            Curve::Steps { values, .. } => values.iter().copied().fold(0.0, f64::max),
        }
    }

    /// ∫ of the curve over `[from, to]` seconds (for a rate: the expected count).
    pub fn integral(&self, from: f64, to: f64) -> f64 {
        if to <= from {
            return 0.0;
        }
        match self {
            Curve::Diurnal {
                mean,
                amplitude,
                period,
                peak,
            } => {
                let (p, k) = (period.as_secs_f64(), peak.as_secs_f64());
                let w = std::f64::consts::TAU / p;
                let sin = |t: f64| (w * (t - k)).sin();
                mean * ((to - from) + amplitude * (sin(to) - sin(from)) / w)
            }
            Curve::Steps { at, values } => {
                let mut total = 0.0;
                for (i, (a, v)) in at.iter().zip(values).enumerate() {
                    let start = a.as_secs_f64().max(from);
                    let end = at.get(i + 1).map_or(to, |n| n.as_secs_f64().min(to));
                    if end > start {
                        total += v * (end - start);
                    }
                }
                total
            }
        }
    }
}

/// A workload's arrival rate, in jobs per second: constant (Poisson arrivals) or a curve (a
/// Poisson process whose rate follows it).
#[derive(Clone, Debug, PartialEq)]
pub enum Rate {
    Constant(f64),
    Curve(Curve),
}

impl Rate {
    /// The expected number of arrivals in `[from, to]` seconds.
    pub fn expected(&self, from: f64, to: f64) -> f64 {
        match self {
            Rate::Constant(r) => r * (to - from).max(0.0),
            Rate::Curve(c) => c.integral(from, to),
        }
    }

    /// The first arrival after `after`, drawn from `rng`; past `until` when there is none
    /// within it. A constant rate: an exponential gap. Steps: exact, segment by segment (a
    /// gap that crosses a step is drawn again from the step at the new rate — the process
    /// is memoryless). A diurnal curve: thinning (Lewis and Shedler 1979) — candidates at
    /// its highest rate, each kept with probability rate(t) / highest: over whole periods,
    /// 1 + amplitude candidates per arrival (at most two).
    pub fn next_arrival(&self, after: SimTime, until: SimTime, rng: &mut StreamRng) -> SimTime {
        let gap = |rate: f64, rng: &mut StreamRng| {
            let secs = Dist::Exponential { mean: 1.0 / rate }.sample(rng);
            SimDuration::try_from_secs_f64(secs).unwrap_or(SimDuration(u64::MAX))
        };
        match self {
            Rate::Constant(rate) => after + gap(*rate, rng),
            Rate::Curve(c @ Curve::Diurnal { .. }) => {
                let highest = c.max();
                let mut t = after;
                loop {
                    t += gap(highest, rng);
                    if t > until || rng.random::<f64>() * highest < c.at(t) {
                        return t;
                    }
                }
            }
            Rate::Curve(Curve::Steps { at, values }) => {
                let start = |i: usize| SimTime::ZERO + at[i];
                let mut t = after;
                while t <= until {
                    let (rate, end) = match at.iter().rposition(|a| SimTime::ZERO + *a <= t) {
                        None => (0.0, Some(start(0))),
                        Some(i) => (values[i], (i + 1 < at.len()).then(|| start(i + 1))),
                    };
                    if rate > 0.0 {
                        let next = t + gap(rate, rng);
                        if end.is_none_or(|e| next < e) {
                            return next;
                        }
                    }
                    match end {
                        Some(e) => t = e,
                        None => return SimTime::MAX,
                    }
                }
                t
            }
        }
    }

    /// The mean rate over a run of `duration` (a constant rate itself).
    pub fn mean(&self, duration: SimDuration) -> f64 {
        match self {
            Rate::Constant(r) => *r,
            Rate::Curve(c) => {
                let d = duration.as_secs_f64();
                if d > 0.0 {
                    c.integral(0.0, d) / d
                } else {
                    c.at(SimTime::ZERO)
                }
            }
        }
    }
}

/// A rate as written: a number or a curve table.
pub(crate) enum RawRate {
    Number(f64),
    Curve(RawCurve),
}

impl<'de> Deserialize<'de> for RawRate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawRate;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or a curve such as { kind = \"diurnal\", mean = 1, amplitude = 0.3, period_s = 86400, peak_s = 50400 }")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawRate, E> {
                Ok(RawRate::Number(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawRate, E> {
                Ok(RawRate::Number(v as f64))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<RawRate, E> {
                Ok(RawRate::Number(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawRate, A::Error> {
                RawCurve::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawRate::Curve)
            }
        }
        d.deserialize_any(V)
    }
}

/// A curve as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCurve {
    kind: String,
    mean: Option<f64>,
    amplitude: Option<f64>,
    period_s: Option<f64>,
    peak_s: Option<f64>,
    at_s: Option<Vec<f64>>,
    /// `cores` in an autoscaler's `load_cores` (its name before curves were shared).
    #[serde(alias = "cores")]
    values: Option<Vec<f64>>,
}

impl RawCurve {
    /// Checks the curve at `span` of `field`; `unit` names its values in messages and
    /// `values_key` the steps' list of them (`cores` in an autoscaler), `duration` bounds
    /// the steps' times.
    pub(crate) fn validate(
        &self,
        span: std::ops::Range<usize>,
        field: &str,
        (unit, values_key): (&str, &str),
        duration: SimDuration,
        loc: &Locator,
    ) -> Result<Curve, ScenarioError> {
        let bad = |what: String| loc.error(Some(span.clone()), field, what);
        match self.kind.as_str() {
            "diurnal" => {
                let (Some(mean), Some(period)) = (self.mean, self.period_s) else {
                    return Err(bad(format!(
                        "a diurnal curve needs `mean` ({unit}) and `period_s`"
                    )));
                };
                let amplitude = self.amplitude.unwrap_or(0.0);
                if !(mean >= 0.0 && mean.is_finite() && (0.0..=1.0).contains(&amplitude)) {
                    return Err(bad(format!(
                        "expected mean ≥ 0 {unit} and an amplitude from 0 to 1"
                    )));
                }
                let secs = |x: f64| SimDuration::try_from_secs_f64(x).filter(|_| x >= 0.0);
                let (Some(period), Some(peak)) = (
                    secs(period).filter(|p| *p > SimDuration::ZERO),
                    secs(self.peak_s.unwrap_or(0.0)),
                ) else {
                    return Err(bad(
                        "expected a positive period_s and a non-negative peak_s".into(),
                    ));
                };
                Ok(Curve::Diurnal {
                    mean,
                    amplitude,
                    period,
                    peak,
                })
            }
            "steps" => {
                let (Some(at), Some(values)) = (&self.at_s, &self.values) else {
                    return Err(bad(format!(
                        "a steps curve needs `at_s` and `{values_key}` ({unit}) lists"
                    )));
                };
                let times: Option<Vec<SimDuration>> = at
                    .iter()
                    .map(|&a| SimDuration::try_from_secs_f64(a).filter(|_| a >= 0.0))
                    .collect();
                match times {
                    Some(times)
                        if times.len() == values.len()
                            && !times.is_empty()
                            && times.iter().all(|t| *t <= duration)
                            && times.windows(2).all(|w| w[0] < w[1])
                            && values.iter().all(|&v| v.is_finite() && v >= 0.0) =>
                    {
                        Ok(Curve::Steps {
                            at: times,
                            values: values.clone(),
                        })
                    }
                    _ => Err(bad(format!("expected `at_s` increasing times within the run and `{values_key}` non-negative {unit}, as many of each"))),
                }
            }
            other => Err(bad(format!(
                "expected kind \"diurnal\" or \"steps\", found \"{other}\""
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diurnal() -> Curve {
        Curve::Diurnal {
            mean: 2.0,
            amplitude: 0.5,
            period: SimDuration::from_secs(86_400),
            peak: SimDuration::from_secs(50_400),
        }
    }

    /// Steps drawn segment by segment: each segment gets its rate × length arrivals (within
    /// five standard deviations), none in a zero segment, and a burst at the last instant
    /// ends.
    #[test]
    fn steps_arrivals_follow_each_segment() {
        let secs = |s: u64| SimTime::ZERO + SimDuration::from_secs(s);
        let rate = Rate::Curve(Curve::Steps {
            at: [0, 1000, 2000, 3000].map(SimDuration::from_secs).to_vec(),
            values: vec![2.0, 0.0, 10.0, 0.0],
        });
        let mut rng = orchsim_kernel::RngStreams::new(9).stream("steps");
        let until = secs(3000);
        let mut counts = [0u64; 3];
        let mut t = SimTime::ZERO;
        loop {
            t = rate.next_arrival(t, until, &mut rng);
            if t > until {
                break;
            }
            counts[(t.as_nanos() / 1_000_000_000_000) as usize] += 1;
        }
        for (got, expected) in counts.iter().zip([2000.0, 0.0, 10_000.0]) {
            let got = *got as f64;
            assert!(
                (got - expected).abs() <= 5.0 * expected.sqrt(),
                "{counts:?}"
            );
        }
        let burst = Rate::Curve(Curve::Steps {
            at: vec![SimDuration::ZERO, SimDuration::from_secs(10)],
            values: vec![0.0, 1e9],
        });
        let mut n = 0;
        let mut t = SimTime::ZERO;
        while t <= secs(10) {
            t = burst.next_arrival(t, secs(10), &mut rng);
            n += 1;
        }
        assert!(n < 100, "{n} candidates at the last instant");
    }

    #[test]
    fn diurnal_peaks_at_peak_and_dips_half_a_period_later() {
        let c = diurnal();
        let at = |s: u64| c.at(SimTime::ZERO + SimDuration::from_secs(s));
        assert!((at(50_400) - 3.0).abs() < 1e-9);
        assert!((at(50_400 - 43_200) - 1.0).abs() < 1e-9);
        assert!((c.max() - 3.0).abs() < 1e-12);
    }

    /// The closed-form integral against a midpoint sum, over whole and partial days.
    #[test]
    fn integral_matches_a_numeric_sum() {
        let steps = Curve::Steps {
            at: vec![SimDuration::from_secs(10), SimDuration::from_secs(100)],
            values: vec![1.0, 4.0],
        };
        for c in [diurnal(), steps] {
            for (from, to) in [(0.0, 86_400.0), (5_000.0, 30_000.0), (50.0, 150.0)] {
                let n = 200_000;
                let dt = (to - from) / n as f64;
                let sum: f64 = (0..n)
                    .map(|i| {
                        let t = from + (i as f64 + 0.5) * dt;
                        c.at(SimTime::from_nanos((t * 1e9) as u64)) * dt
                    })
                    .sum();
                let exact = c.integral(from, to);
                assert!(
                    (sum - exact).abs() < 1e-3 * exact.max(1.0),
                    "{c:?} over [{from}, {to}]: {exact} vs {sum}"
                );
            }
        }
        assert!((diurnal().integral(0.0, 86_400.0) - 2.0 * 86_400.0).abs() < 1e-6);
    }
}
