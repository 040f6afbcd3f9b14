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
}

impl Dist {
    /// Draws one value (always finite and non-negative for a validated distribution).
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
            Dist::Exponential { .. } | Dist::LogNormal { .. } => 0.0,
        }
    }

    /// The mean, for documentation and sanity checks.
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
        ] {
            let m = mean_of(&d, 200_000);
            let rel = (m - d.mean()).abs() / d.mean();
            assert!(rel < 0.02, "{d:?}: sample mean {m}, expected {}", d.mean());
        }
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
