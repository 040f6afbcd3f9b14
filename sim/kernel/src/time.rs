//! Integer simulated time.
//!
//! Time is a count of nanoseconds in a `u64` (about 584 years), so ordering and arithmetic are
//! exact and identical on every machine. Conversions from floating-point seconds exist only for
//! reading user input and sampling distributions; they round to the nearest nanosecond once, at
//! the boundary, and never feed floats back into the clock.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

const NANOS_PER_SEC: u64 = 1_000_000_000;
const NANOS_PER_MILLI: u64 = 1_000_000;
const NANOS_PER_MICRO: u64 = 1_000;

/// A point in simulated time: nanoseconds since the start of the run. The count is private:
/// a time is made from the start plus a [`SimDuration`], or from nanoseconds explicitly, so no
/// task index or float can pass for one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(u64);

/// A span of simulated time in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// The time `n` nanoseconds after the start.
    pub const fn from_nanos(n: u64) -> Self {
        SimTime(n)
    }

    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// The time elapsed since `earlier`; zero if `earlier` is later (never wraps).
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }

    /// Seconds as a float, for display and metrics only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// Exact decimal milliseconds, e.g. `1234.500000`, for stable CSV output.
    pub fn to_ms_string(self) -> String {
        SimDuration(self.0).to_ms_string()
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);

    pub const fn from_nanos(n: u64) -> Self {
        SimDuration(n)
    }
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us.saturating_mul(NANOS_PER_MICRO))
    }
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms.saturating_mul(NANOS_PER_MILLI))
    }
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s.saturating_mul(NANOS_PER_SEC))
    }

    /// Rounds a non-negative, finite number of seconds to the nearest nanosecond.
    /// Returns `None` for negative, NaN, infinite or out-of-range input.
    pub fn try_from_secs_f64(s: f64) -> Option<Self> {
        if !s.is_finite() || s < 0.0 {
            return None;
        }
        let ns = (s * NANOS_PER_SEC as f64).round();
        if ns >= u64::MAX as f64 {
            return None;
        }
        Some(SimDuration(ns as u64))
    }

    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_MILLI as f64
    }

    /// Exact decimal milliseconds with six decimals (nanosecond resolution).
    pub fn to_ms_string(self) -> String {
        format!(
            "{}.{:06}",
            self.0 / NANOS_PER_MILLI,
            self.0 % NANOS_PER_MILLI
        )
    }

    pub fn saturating_mul(self, k: u64) -> SimDuration {
        SimDuration(self.0.saturating_mul(k))
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}

impl Sub for SimTime {
    type Output = SimDuration;
    fn sub(self, earlier: SimTime) -> SimDuration {
        self.since(earlier)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}s",
            self.0 / NANOS_PER_SEC,
            self.0 % NANOS_PER_SEC
        )
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}s",
            self.0 / NANOS_PER_SEC,
            self.0 % NANOS_PER_SEC
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_to_nearest_nanosecond() {
        assert_eq!(
            SimDuration::try_from_secs_f64(1.5),
            Some(SimDuration(1_500_000_000))
        );
        assert_eq!(
            SimDuration::try_from_secs_f64(1e-9 * 0.4),
            Some(SimDuration(0))
        );
        assert_eq!(
            SimDuration::try_from_secs_f64(1e-9 * 0.6),
            Some(SimDuration(1))
        );
        assert_eq!(SimDuration::try_from_secs_f64(-0.1), None);
        assert_eq!(SimDuration::try_from_secs_f64(f64::NAN), None);
        assert_eq!(SimDuration::try_from_secs_f64(f64::INFINITY), None);
        assert_eq!(SimDuration::try_from_secs_f64(1e12), None);
    }

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        assert_eq!(SimTime::MAX + SimDuration(5), SimTime::MAX);
        assert_eq!(SimTime(3) - SimTime(10), SimDuration::ZERO);
    }

    #[test]
    fn millisecond_strings_are_exact() {
        assert_eq!(SimDuration(1_234_500_001).to_ms_string(), "1234.500001");
        assert_eq!(SimTime(0).to_ms_string(), "0.000000");
        assert_eq!(format!("{}", SimTime(2_000_000_123)), "2.000000123s");
    }
}
