//! The transmit queue discipline in front of a NIC: pfifo (one FIFO, bounded in packets as the
//! kernel's `txqueuelen`) or fq_codel (RFC 8290: a queue per flow, a new flow's first packets
//! served before the old flows' backlog, and CoDel (RFC 8289) dropping from a flow whose packets
//! have waited too long).
//!
//! The packet engine computes a unit's departure when it arrives, so CoDel runs at that moment
//! on the sojourn the packet will have: exact for one FIFO, where departures follow arrivals in
//! order. Time is passed in (ns), as everywhere in the engine.

use std::fmt;
use std::str::FromStr;

/// Which queue discipline a NIC runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Qdisc {
    /// fq_codel: the distributions' default (systemd's `net.core.default_qdisc = fq_codel`).
    #[default]
    FqCodel,
    /// One FIFO of `txqueuelen` packets: the kernel's own default (pfifo_fast).
    Pfifo,
}

impl Qdisc {
    pub fn name(self) -> &'static str {
        match self {
            Qdisc::FqCodel => "fq_codel",
            Qdisc::Pfifo => "pfifo",
        }
    }
}

impl fmt::Display for Qdisc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Qdisc {
    type Err = String;
    fn from_str(s: &str) -> Result<Qdisc, String> {
        match s {
            "fq_codel" | "fq-codel" => Ok(Qdisc::FqCodel),
            "pfifo" | "pfifo_fast" => Ok(Qdisc::Pfifo),
            other => Err(format!(
                "unknown qdisc `{other}`; expected fq_codel or pfifo"
            )),
        }
    }
}

/// CoDel's two times (the profile's `[network]`; Linux's and RFC 8289's defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CodelParams {
    /// Acceptable standing queue delay (5 ms).
    pub target_ns: u64,
    /// How long the delay must stay above target before dropping, and the control law's base
    /// spacing (100 ms).
    pub interval_ns: u64,
}

impl Default for CodelParams {
    fn default() -> Self {
        CodelParams {
            target_ns: 5_000_000,
            interval_ns: 100_000_000,
        }
    }
}

/// One flow queue's CoDel state (RFC 8289 §5, Linux include/net/codel_impl.h).
#[derive(Clone, Debug, Default)]
pub struct Codel {
    /// When the sojourn time first went above target, plus one interval (0: below target).
    first_above: u64,
    dropping: bool,
    /// Drops in the current dropping state.
    count: u32,
    /// `count` when the last dropping state ended.
    last_count: u32,
    drop_next: u64,
}

impl Codel {
    /// A packet leaves the queue at `now` after waiting `sojourn_ns`, leaving `backlog_bytes`
    /// queued behind it in its flow. Returns whether CoDel drops it.
    pub fn on_dequeue(
        &mut self,
        p: &CodelParams,
        now: u64,
        sojourn_ns: u64,
        backlog_bytes: u64,
        mtu_bytes: u64,
    ) -> bool {
        // "ok to drop": above target for a whole interval, and more than one MTU left queued
        // (a single packet waiting is not a standing queue).
        let ok = if sojourn_ns < p.target_ns || backlog_bytes <= mtu_bytes {
            self.first_above = 0;
            false
        } else if self.first_above == 0 {
            self.first_above = now + p.interval_ns;
            false
        } else {
            now >= self.first_above
        };
        if self.dropping {
            if !ok {
                self.dropping = false;
                return false;
            }
            if now >= self.drop_next {
                self.count += 1;
                self.drop_next = control_law(self.drop_next, p.interval_ns, self.count);
                return true;
            }
            return false;
        }
        if !ok {
            return false;
        }
        self.dropping = true;
        // A flow that was dropping recently resumes near its old rate (RFC 8289 §5.6).
        let delta = self.count.wrapping_sub(self.last_count);
        self.count = if delta > 1 && now.saturating_sub(self.drop_next) < 16 * p.interval_ns {
            delta
        } else {
            1
        };
        self.last_count = self.count;
        self.drop_next = control_law(now, p.interval_ns, self.count);
        true
    }
}

/// The next drop: `interval / sqrt(count)` after `t` (RFC 8289 §5.5).
fn control_law(t: u64, interval_ns: u64, count: u32) -> u64 {
    t + (interval_ns as f64 / (count.max(1) as f64).sqrt()) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    const MTU: u64 = 1514;

    #[test]
    fn names_round_trip() {
        for q in [Qdisc::FqCodel, Qdisc::Pfifo] {
            assert_eq!(q.name().parse::<Qdisc>(), Ok(q));
        }
        assert!("red".parse::<Qdisc>().unwrap_err().contains("fq_codel"));
    }

    #[test]
    fn a_short_queue_is_never_dropped() {
        let p = CodelParams::default();
        // 4.9 ms of delay with a full backlog, for ten intervals: below target.
        let mut c = Codel::default();
        for t in 0..1000u64 {
            assert!(!c.on_dequeue(&p, t * 1_000_000, 4_900_000, 1 << 20, MTU));
        }
        // Far above target for ten intervals, but at most one packet left behind.
        let mut c = Codel::default();
        for t in 0..1000u64 {
            assert!(!c.on_dequeue(&p, t * 1_000_000, 50_000_000, MTU, MTU));
        }
        // The same delay with a real backlog is dropped within an interval and a bit.
        let mut c = Codel::default();
        assert!((0..200u64).any(|t| c.on_dequeue(&p, t * 1_000_000, 50_000_000, 1 << 20, MTU)));
    }

    /// RFC 8289 §5: nothing is dropped for the first interval above target; then one packet,
    /// and the next ones interval/√count apart: 100 ms, 70.7 ms, 57.7 ms, 50 ms after.
    #[test]
    fn drops_follow_the_control_law() {
        let p = CodelParams::default();
        let mut c = Codel::default();
        let ms = 1_000_000u64;
        let mut drops = Vec::new();
        for t in (0..=400 * ms).step_by(100_000) {
            if c.on_dequeue(&p, t, 20 * ms, 1 << 20, MTU) {
                drops.push(t);
            }
        }
        assert_eq!(drops[0], 100 * ms, "{drops:?}");
        let gaps: Vec<u64> = drops.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.len() >= 4, "{drops:?}");
        let want = [100.0, 70.711, 57.735, 50.0];
        for (g, w) in gaps.iter().zip(want) {
            // Dequeues are 0.1 ms apart: a drop waits for the first one after its time.
            assert!((*g as f64 / ms as f64 - w).abs() <= 0.1, "{gaps:?}");
        }
        // Below target again: the dropping state ends.
        assert!(!c.on_dequeue(&p, 401 * ms, ms, 1 << 20, MTU));
        assert!(!c.dropping);
    }

    /// Re-entering the dropping state soon after leaving it starts from the previous drop rate
    /// (count − last count), not from one (RFC 8289 §5.6).
    #[test]
    fn a_quick_return_keeps_the_drop_rate() {
        let p = CodelParams::default();
        let mut c = Codel::default();
        let ms = 1_000_000u64;
        let mut t = 0;
        while c.count < 6 {
            c.on_dequeue(&p, t, 20 * ms, 1 << 20, MTU);
            t += 100_000;
        }
        c.on_dequeue(&p, t, 0, 1 << 20, MTU);
        assert!(!c.dropping);
        let before = c.count;
        t += ms;
        while !c.dropping {
            c.on_dequeue(&p, t, 20 * ms, 1 << 20, MTU);
            t += 100_000;
        }
        assert_eq!(
            c.count,
            before - 1,
            "count − last_count with last_count = 1"
        );
    }
}
