//! Probability distributions for workload sizes and durations.
//!
//! Parameters are plain numbers in the unit of the field that holds the distribution (for
//! example millicores for `cpu_milli`, seconds for `duration_s`). Sampling draws from the
//! caller's named stream, so the numbers depend only on the seed and the stream name.

use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal};

use orchsim_kernel::StreamRng;

/// A validated distribution over non-negative reals.
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    Constant(f64),
    /// Uniform on `[min, max]`.
    Uniform {
        min: f64,
        max: f64,
    },
    Exponential {
        mean: f64,
    },
    /// Log-normal given by its median and the standard deviation of its logarithm.
    LogNormal {
        median: f64,
        sigma: f64,
    },
    /// One of `values`, with probabilities proportional to `weights`.
    Choice {
        values: Vec<f64>,
        weights: Vec<f64>,
    },
    /// Pareto with scale `min` and shape `alpha` — `P(X > x) = (min / x)^alpha` — truncated
    /// to `[min, max]` when `max` is given: the heavy tail published trace analyses report for
    /// job sizes and run times.
    Pareto {
        min: f64,
        alpha: f64,
        max: Option<f64>,
    },
    /// A published percentile table: `values[i]` is the `percentiles[i]`-th percentile
    /// (the first 0, the last 100); between two of them values are interpolated linearly, or
    /// geometrically with `log` (a straight line on a log axis, as heavy-tailed CDFs are
    /// drawn; linearly where a value is 0).
    Empirical {
        percentiles: Vec<f64>,
        values: Vec<f64>,
        log: bool,
    },
}

impl Dist {
    /// Draws one value: non-negative for a validated distribution, finite but for an
    /// untruncated Pareto with a tiny `alpha` (then at most `f64::MAX`).
    pub fn sample(&self, rng: &mut StreamRng) -> f64 {
        match self {
            Dist::Constant(v) => *v,
            Dist::Uniform { min, max } => {
                if min == max {
                    *min
                } else {
                    rng.random_range(*min..=*max)
                }
            }
            Dist::Exponential { mean } => match Exp::new(1.0 / mean) {
                Ok(d) => d.sample(rng),
                Err(_) => *mean,
            },
            Dist::LogNormal { median, sigma } => match LogNormal::new(median.ln(), *sigma) {
                Ok(d) => d.sample(rng),
                Err(_) => *median,
            },
            Dist::Choice { values, weights } => {
                let total: f64 = weights.iter().sum();
                let mut x = rng.random::<f64>() * total;
                for (v, w) in values.iter().zip(weights) {
                    if x < *w {
                        return *v;
                    }
                    x -= w;
                }
                // Rounding can leave x just above the last weight.
                values.last().copied().unwrap_or(0.0)
            }
            Dist::Pareto { min, alpha, max } => {
                let u: f64 = rng.random();
                // Inverse CDF; truncated, the mass above `max` is taken out of `u`'s range.
                let cut = max.map_or(0.0, |h| (min / h).powf(*alpha));
                // Rounding (amplified by 1 / alpha) must not carry a draw past `max`.
                (min / (1.0 - u * (1.0 - cut)).powf(1.0 / alpha)).min(max.unwrap_or(f64::MAX))
            }
            Dist::Empirical {
                percentiles,
                values,
                log,
            } => {
                let p = rng.random::<f64>() * 100.0;
                let i = percentiles
                    .windows(2)
                    .position(|w| p < w[1])
                    .unwrap_or(percentiles.len().saturating_sub(2));
                let (p0, p1) = (percentiles[i], percentiles[i + 1]);
                let (a, b) = (values[i], values[i + 1]);
                let f = if p1 > p0 { (p - p0) / (p1 - p0) } else { 0.0 };
                if *log && a > 0.0 {
                    a * (b / a).powf(f)
                } else {
                    a + (b - a) * f
                }
            }
        }
    }

    /// Draws one value rounded to the nearest integer.
    pub fn sample_u64(&self, rng: &mut StreamRng) -> u64 {
        let v = self.sample(rng).round();
        if v <= 0.0 {
            0
        } else if v >= u64::MAX as f64 {
            u64::MAX
        } else {
            v as u64
        }
    }

    /// The largest value the distribution can produce, or `None` if it is unbounded.
    pub fn max(&self) -> Option<f64> {
        match self {
            Dist::Constant(v) => Some(*v),
            Dist::Uniform { max, .. } => Some(*max),
            Dist::Choice { values, .. } => values.iter().copied().reduce(f64::max),
            Dist::Pareto { max, .. } => *max,
            Dist::Empirical { values, .. } => values.last().copied(),
            Dist::Exponential { .. } | Dist::LogNormal { .. } => None,
        }
    }

    /// The value of a constant distribution, `None` for any other.
    pub fn sample_constant(&self) -> Option<f64> {
        match self {
            Dist::Constant(v) => Some(*v),
            _ => None,
        }
    }

    /// The smallest value the distribution can produce.
    pub fn min(&self) -> f64 {
        match self {
            Dist::Constant(v) => *v,
            Dist::Uniform { min, .. } => *min,
            Dist::Choice { values, .. } => values.iter().copied().reduce(f64::min).unwrap_or(0.0),
            Dist::Pareto { min, .. } => *min,
            Dist::Empirical { values, .. } => values.first().copied().unwrap_or(0.0),
            Dist::Exponential { .. } | Dist::LogNormal { .. } => 0.0,
        }
    }

    /// The mean, for documentation and sanity checks (infinite for an untruncated Pareto
    /// with `alpha <= 1`).
    pub fn mean(&self) -> f64 {
        match self {
            Dist::Constant(v) => *v,
            Dist::Uniform { min, max } => (min + max) / 2.0,
            Dist::Exponential { mean } => *mean,
            Dist::LogNormal { median, sigma } => median * (sigma * sigma / 2.0).exp(),
            Dist::Choice { values, weights } => {
                let total: f64 = weights.iter().sum();
                values.iter().zip(weights).map(|(v, w)| v * w).sum::<f64>() / total
            }
            Dist::Pareto { min, alpha, max } => pareto_mean(*min, *alpha, *max),
            Dist::Empirical {
                percentiles,
                values,
                log,
            } => percentiles
                .windows(2)
                .zip(values.windows(2))
                .map(|(p, v)| {
                    let (a, b) = (v[0], v[1]);
                    let segment = if *log && a > 0.0 && b != a {
                        (b - a) / (b / a).ln()
                    } else {
                        (a + b) / 2.0
                    };
                    (p[1] - p[0]) / 100.0 * segment
                })
                .sum(),
        }
    }
}

/// E[X] of a Pareto(min, alpha), truncated at `max` when given.
fn pareto_mean(l: f64, alpha: f64, max: Option<f64>) -> f64 {
    match max {
        None if alpha <= 1.0 => f64::INFINITY,
        None => alpha * l / (alpha - 1.0),
        Some(h) if h <= l => l,
        Some(h) => {
            // ∫ x f(x) dx over [l, h] with f(x) = alpha l^alpha x^-(alpha+1) / (1 - r^alpha),
            // r = l/h, written with powers of r only (powers of l and h overflow).
            let r = l / h;
            if (alpha - 1.0).abs() < 1e-12 {
                l * (h / l).ln() / (1.0 - r)
            } else {
                alpha * l / (alpha - 1.0) * (1.0 - r.powf(alpha - 1.0)) / (1.0 - r.powf(alpha))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchsim_kernel::RngStreams;

    fn mean_of(d: &Dist, n: usize) -> f64 {
        let mut r = RngStreams::new(1).stream("t");
        (0..n).map(|_| d.sample(&mut r)).sum::<f64>() / n as f64
    }

    #[test]
    fn sample_means_approach_the_distribution_mean() {
        for d in [
            Dist::Constant(3.0),
            Dist::Uniform {
                min: 10.0,
                max: 20.0,
            },
            Dist::Exponential { mean: 5.0 },
            Dist::LogNormal {
                median: 100.0,
                sigma: 0.5,
            },
            Dist::Choice {
                values: vec![1.0, 10.0],
                weights: vec![3.0, 1.0],
            },
            Dist::Pareto {
                min: 10.0,
                alpha: 2.5,
                max: None,
            },
            Dist::Pareto {
                min: 1.0,
                alpha: 1.0,
                max: Some(1000.0),
            },
            Dist::Pareto {
                min: 60.0,
                alpha: 0.7,
                max: Some(86_400.0),
            },
            Dist::Empirical {
                percentiles: vec![0.0, 50.0, 90.0, 100.0],
                values: vec![0.0, 10.0, 20.0, 100.0],
                log: false,
            },
            Dist::Empirical {
                percentiles: vec![0.0, 50.0, 90.0, 100.0],
                values: vec![1.0, 10.0, 1000.0, 1000.0],
                log: true,
            },
        ] {
            let m = mean_of(&d, 400_000);
            let rel = (m - d.mean()).abs() / d.mean();
            assert!(rel < 0.02, "{d:?}: sample mean {m}, expected {}", d.mean());
        }
    }

    /// Extreme shapes keep a finite mean (powers of min and max alone would overflow).
    #[test]
    fn pareto_means_stay_finite() {
        let steep = Dist::Pareto {
            min: 0.5,
            alpha: 1100.0,
            max: Some(10.0),
        };
        assert!(
            (steep.mean() - 0.5 * 1100.0 / 1099.0).abs() < 1e-9,
            "{}",
            steep.mean()
        );
        let narrow = Dist::Pareto {
            min: 1e300,
            alpha: 3.0,
            max: Some(1.0000001e300),
        };
        assert!(narrow.mean().is_finite() && narrow.mean() >= 1e300);
    }

    #[test]
    fn samples_stay_within_bounds() {
        let mut r = RngStreams::new(2).stream("t");
        let u = Dist::Uniform { min: 5.0, max: 7.0 };
        let c = Dist::Choice {
            values: vec![2.0, 9.0],
            weights: vec![1.0, 1.0],
        };
        for _ in 0..10_000 {
            let x = u.sample(&mut r);
            assert!((5.0..=7.0).contains(&x));
            let y = c.sample(&mut r);
            assert!(y == 2.0 || y == 9.0);
        }
        assert_eq!(c.max(), Some(9.0));
        assert_eq!(c.min(), 2.0);
        assert_eq!(Dist::Exponential { mean: 1.0 }.max(), None);
    }
}

#[cfg(test)]
mod shape_tests {
    use super::*;
    use orchsim_kernel::RngStreams;

    fn sorted_sample(d: &Dist, n: usize) -> Vec<f64> {
        let mut r = RngStreams::new(3).stream("shape");
        let mut v: Vec<f64> = (0..n).map(|_| d.sample(&mut r)).collect();
        v.sort_by(f64::total_cmp);
        v
    }

    fn quantile(sorted: &[f64], q: f64) -> f64 {
        sorted[((sorted.len() - 1) as f64 * q).round() as usize]
    }

    /// The survival function P(X > x) = (min / x)^alpha at three points of the tail, and a
    /// truncated one never past its bounds.
    #[test]
    fn pareto_has_the_stated_tail() {
        let d = Dist::Pareto {
            min: 2.0,
            alpha: 1.5,
            max: None,
        };
        let s = sorted_sample(&d, 200_000);
        for x in [4.0_f64, 20.0, 100.0] {
            let above = s.iter().filter(|&&v| v > x).count() as f64 / s.len() as f64;
            let expected = (2.0 / x).powf(1.5);
            assert!(
                (above - expected).abs() < 0.01 + 0.1 * expected,
                "P(X > {x}) = {above}, expected {expected}"
            );
        }
        let t = Dist::Pareto {
            min: 1.0,
            alpha: 0.5,
            max: Some(50.0),
        };
        let s = sorted_sample(&t, 50_000);
        assert!(s[0] >= 1.0 && s[s.len() - 1] <= 50.0);
        // Truncation conditions on X <= max: P(X <= 10 | X <= 50).
        let below = s.iter().filter(|&&v| v <= 10.0).count() as f64 / s.len() as f64;
        let expected = (1.0 - 0.1_f64.sqrt()) / (1.0 - 0.02_f64.sqrt());
        assert!((below - expected).abs() < 0.01, "{below} vs {expected}");
    }

    /// The stated percentiles come back as sample quantiles; log interpolation puts the
    /// geometric midpoint at the middle percentile of a segment.
    #[test]
    fn empirical_reproduces_its_percentile_table() {
        let d = Dist::Empirical {
            percentiles: vec![0.0, 25.0, 50.0, 90.0, 100.0],
            values: vec![1.0, 4.0, 60.0, 3600.0, 86_400.0],
            log: true,
        };
        let s = sorted_sample(&d, 200_000);
        for (q, v) in [(0.25, 4.0), (0.5, 60.0), (0.9, 3600.0)] {
            let got = quantile(&s, q);
            assert!((got / v - 1.0).abs() < 0.05, "p{q}: {got}, expected {v}");
        }
        let mid = quantile(&s, 0.70);
        assert!(
            (mid / (60.0_f64 * 3600.0).sqrt() - 1.0).abs() < 0.05,
            "{mid}"
        );
        let linear = Dist::Empirical {
            percentiles: vec![0.0, 100.0],
            values: vec![10.0, 20.0],
            log: false,
        };
        let s = sorted_sample(&linear, 100_000);
        assert!((quantile(&s, 0.5) - 15.0).abs() < 0.1);
        assert_eq!((linear.min(), linear.max()), (10.0, Some(20.0)));
    }
}
