//! CUBIC (RFC 9438) as Linux runs it (`net/ipv4/tcp_cubic.c`): after a loss the window drops
//! to β·W_max and regrows along W(t) = C·(t − K)³ + W_max, concave up to the old maximum and
//! convex beyond it, K = ∛(W_max·(1 − β)/C), t counted from the loss in seconds (plus the
//! minimum RTT, as Linux does) — so the regrowth takes K seconds whatever the round trip,
//! which is why long WAN paths recover sooner than with Reno. A TCP-friendly estimate
//! (Reno's growth at the same β) keeps it from being slower than Reno on short paths; fast
//! convergence lowers W_max when a flow loses below its last maximum. Slow start ends at
//! `ssthresh`, at the first loss, or when HyStart sees the round trip grow: the minimum of a
//! round's first 8 samples above the path's minimum by clamp(min/8, 4 ms, 16 ms). Windows are
//! counted in segments inside, bytes outside.
//!
//! Not modeled: HyStart's ACK-train detection (it needs ACK arrival spacing below 2 ms, which
//! the engine's ACK batching does not reproduce), and the once-per-jiffy update of the cubic
//! target (updated on every ACK here).

use super::CongestionControl;

/// CUBIC's and HyStart's constants (the profile's `[network]` values).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    /// Multiplicative decrease: the window kept after a loss.
    pub beta: f64,
    /// The cubic curve's scale, segments per second³.
    pub c: f64,
    /// HyStart looks only at windows of at least this many segments.
    pub hystart_low_window: f64,
    /// Round-trip samples per round before HyStart compares.
    pub hystart_min_samples: u32,
    /// Bounds of the round-trip increase that ends slow start, ns.
    pub hystart_delay_min_ns: f64,
    pub hystart_delay_max_ns: f64,
}

impl Default for Params {
    /// Linux's defaults (tcp_cubic.c: beta 717/1024, bic_scale 41 → C = 41·10/1024,
    /// hystart_low_window 16, HYSTART_MIN_SAMPLES 8, HYSTART_DELAY_MIN/MAX 4/16 ms).
    fn default() -> Params {
        Params {
            beta: 717.0 / 1024.0,
            c: 410.0 / 1024.0,
            hystart_low_window: 16.0,
            hystart_min_samples: 8,
            hystart_delay_min_ns: 4e6,
            hystart_delay_max_ns: 16e6,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Cubic {
    p: Params,
    mss: f64,
    /// Bytes.
    cwnd: f64,
    ssthresh: f64,
    max_cwnd: f64,
    /// W_max, segments (0: no loss yet).
    last_max: f64,
    /// When the current congestion-avoidance epoch began (`None`: at the next ACK).
    epoch_start: Option<u64>,
    /// The curve's plateau (segments) and the seconds to reach it.
    origin: f64,
    k: f64,
    /// The TCP-friendly (Reno) estimate, segments, and the segments acknowledged toward its
    /// next increment.
    tcp_cwnd: f64,
    ack_cnt: f64,
    /// The smallest round trip seen, ns.
    delay_min: Option<u64>,
    /// HyStart: slow start already ended by it; the bytes left in this round; the round's
    /// smallest sample and how many it has seen.
    hystart_found: bool,
    round_left: f64,
    curr_rtt: Option<u64>,
    samples: u32,
}

impl Cubic {
    pub fn new(mss: f64, initial_cwnd: f64, max_cwnd: f64) -> Cubic {
        Cubic::with_params(Params::default(), mss, initial_cwnd, max_cwnd)
    }

    pub fn with_params(p: Params, mss: f64, initial_cwnd: f64, max_cwnd: f64) -> Cubic {
        let cwnd = initial_cwnd.min(max_cwnd);
        Cubic {
            p,
            mss,
            cwnd,
            ssthresh: f64::INFINITY,
            max_cwnd,
            last_max: 0.0,
            epoch_start: None,
            origin: 0.0,
            k: 0.0,
            tcp_cwnd: 0.0,
            ack_cnt: 0.0,
            delay_min: None,
            hystart_found: false,
            round_left: cwnd,
            curr_rtt: None,
            samples: 0,
        }
    }

    /// W_max, segments.
    pub fn w_max(&self) -> f64 {
        self.last_max
    }

    fn in_slow_start(&self) -> bool {
        self.cwnd < self.ssthresh
    }

    /// Linux's `hystart_update` (delay detection, as since Linux 5.8: the round's minimum
    /// follows every sample, and is compared from the eighth on).
    fn hystart(&mut self, delay: u64) {
        if self.hystart_found {
            return;
        }
        self.curr_rtt = Some(self.curr_rtt.map_or(delay, |c| c.min(delay)));
        if self.samples < self.p.hystart_min_samples {
            self.samples += 1;
            return;
        }
        let (Some(curr), Some(min)) = (self.curr_rtt, self.delay_min) else {
            return;
        };
        let thresh =
            (min as f64 / 8.0).clamp(self.p.hystart_delay_min_ns, self.p.hystart_delay_max_ns);
        if curr as f64 > min as f64 + thresh {
            self.hystart_found = true;
            self.ssthresh = self.cwnd;
        }
    }

    /// Linux's `bictcp_update`: how many segments must be acknowledged per segment of growth.
    fn acks_per_segment(&mut self, now_ns: u64, acked: f64) -> f64 {
        let cwnd = self.cwnd / self.mss;
        self.ack_cnt += acked;
        let epoch = match self.epoch_start {
            Some(e) => e,
            None => {
                self.epoch_start = Some(now_ns);
                self.ack_cnt = acked;
                self.tcp_cwnd = cwnd;
                if self.last_max <= cwnd {
                    self.k = 0.0;
                    self.origin = cwnd;
                } else {
                    self.k = ((self.last_max - cwnd) / self.p.c).cbrt();
                    self.origin = self.last_max;
                }
                now_ns
            }
        };
        let t = (now_ns - epoch) as f64 / 1e9 + self.delay_min.unwrap_or(0) as f64 / 1e9;
        let target = self.origin + self.p.c * (t - self.k).powi(3);
        let mut cnt = if target > cwnd {
            cwnd / (target - cwnd)
        } else {
            100.0 * cwnd
        };
        // Before any loss the bandwidth is unknown: at least 5 % growth per round trip.
        if self.last_max == 0.0 && cnt > 20.0 {
            cnt = 20.0;
        }
        // TCP friendliness: Reno at the same β grows 3(1 − β)/(1 + β) segments per window.
        let per_segment = cwnd * (1.0 + self.p.beta) / (3.0 * (1.0 - self.p.beta));
        if per_segment > 0.0 && self.ack_cnt > per_segment {
            let n = (self.ack_cnt / per_segment).floor();
            self.ack_cnt -= n * per_segment;
            self.tcp_cwnd += n;
        }
        if self.tcp_cwnd > cwnd {
            cnt = cnt.min(cwnd / (self.tcp_cwnd - cwnd));
        }
        // At most one segment per two acknowledged: 1.5× per round trip.
        cnt.max(2.0)
    }
}

impl CongestionControl for Cubic {
    fn on_ack(&mut self, now_ns: u64, acked: f64, rtt_ns: Option<u64>) {
        if let Some(rtt) = rtt_ns.filter(|&r| r > 0) {
            // Samples right after a loss are skewed by its recovery (Linux skips a second).
            let recovering = self
                .epoch_start
                .is_some_and(|e| now_ns.saturating_sub(e) < 1_000_000_000);
            if !recovering {
                self.delay_min = Some(self.delay_min.map_or(rtt, |m| m.min(rtt)));
                if self.in_slow_start() && self.cwnd / self.mss >= self.p.hystart_low_window {
                    self.hystart(rtt);
                }
            }
        }
        let mut acked = acked;
        if self.in_slow_start() {
            // A new round: HyStart starts its samples over.
            self.round_left -= acked;
            if self.round_left <= 0.0 {
                self.round_left = self.cwnd;
                self.curr_rtt = None;
                self.samples = 0;
            }
            let grow = acked.min(self.ssthresh - self.cwnd);
            self.cwnd += grow;
            acked -= grow;
        }
        if acked > 0.0 {
            let cnt = self.acks_per_segment(now_ns, acked / self.mss);
            self.cwnd += self.mss * (acked / self.mss) / cnt;
        }
        self.cwnd = self.cwnd.min(self.max_cwnd);
    }

    fn on_loss(&mut self, _now_ns: u64) {
        let cwnd = self.cwnd / self.mss;
        self.epoch_start = None;
        // Fast convergence: a flow losing below its last maximum gives up more of it.
        self.last_max = if cwnd < self.last_max {
            cwnd * (1.0 + self.p.beta) / 2.0
        } else {
            cwnd
        };
        self.ssthresh = (self.cwnd * self.p.beta).max(2.0 * self.mss);
        self.cwnd = self.ssthresh;
    }

    fn cwnd(&self) -> f64 {
        self.cwnd
    }

    fn ssthresh(&self) -> f64 {
        self.ssthresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: f64 = 1000.0;

    /// Acknowledges one window per round trip of `rtt_ns`, in segments, for `secs`; returns
    /// the window (segments) at each round trip's end with its time.
    fn run(c: &mut Cubic, start_ns: u64, rtt_ns: u64, secs: f64) -> Vec<(f64, f64)> {
        let mut out = Vec::new();
        let mut now = start_ns;
        while ((now - start_ns) as f64) < secs * 1e9 {
            let segments = (c.cwnd() / MSS).floor().max(1.0) as u64;
            for i in 0..segments {
                let at = now + rtt_ns * (i + 1) / segments;
                c.on_ack(at, MSS, Some(rtt_ns));
            }
            now += rtt_ns;
            out.push(((now - start_ns) as f64 / 1e9, c.cwnd() / MSS));
        }
        out
    }

    /// A flow in congestion avoidance at `w` segments that then loses, at `rtt_ns`.
    fn lost_at(w: f64, rtt_ns: u64) -> Cubic {
        let mut c = Cubic::new(MSS, w * MSS, 1e12);
        // Seen its path's round trip, then a loss at w.
        c.on_ack(0, 0.0, Some(rtt_ns));
        c.on_loss(0);
        c
    }

    #[test]
    fn a_loss_keeps_beta_of_the_window() {
        let c = lost_at(100.0, 10_000_000);
        assert!((c.cwnd() / MSS - 100.0 * 717.0 / 1024.0).abs() < 1e-9);
        assert_eq!(c.w_max(), 100.0);
    }

    #[test]
    fn the_window_follows_the_cubic_curve_whatever_the_round_trip() {
        // RFC 9438 §4.2: K = ∛(W_max (1 − β) / C); Linux counts t from the epoch plus the
        // minimum RTT, so W_max comes back at K − RTT after the loss.
        // A window large enough that the cubic curve, not the Reno estimate, leads at
        // these round trips (Reno would need 1,140 of them to regrow 600 segments).
        let w = 2000.0;
        let p = Params::default();
        let k = (w * (1.0 - p.beta) / p.c).cbrt();
        for rtt_ms in [20u64, 50, 100] {
            let rtt = rtt_ms * 1_000_000;
            let mut c = lost_at(w, rtt);
            let trace = run(&mut c, 1, rtt, k + 2.0);
            // The window follows the curve at every time, whatever the round trip (within
            // 1.5 % of W_max: a window grows by whole round trips).
            for at in [1.0, 4.0, 8.0, k + 1.0] {
                let (t, got) = *trace.iter().find(|(t, _)| *t >= at).unwrap();
                let curve = w + p.c * (t + rtt_ms as f64 / 1e3 - k).powi(3);
                assert!(
                    (got - curve).abs() <= 0.015 * w,
                    "RTT {rtt_ms} ms, {t:.2} s after the loss: {got:.0} segments, the curve {curve:.0}"
                );
            }
            // Concave below W_max, convex beyond it.
            let growth = |at: f64| {
                let i = trace.iter().position(|(t, _)| *t >= at).unwrap();
                trace[i + 1].1 - trace[i].1
            };
            assert!(growth(1.0) > growth(k * 0.8), "RTT {rtt_ms}: concave");
            assert!(growth(k + 1.5) > growth(k + 0.5), "RTT {rtt_ms}: convex");
        }
    }

    #[test]
    fn reno_friendliness_bounds_it_on_short_paths() {
        // At 0.1 ms the cubic curve barely moves in a round trip; the Reno estimate
        // (3(1 − β)/(1 + β) ≈ 0.53 segments per window) sets the pace.
        let mut c = lost_at(100.0, 100_000);
        let start = c.cwnd() / MSS;
        let trace = run(&mut c, 1, 100_000, 0.1);
        let rounds = trace.len() as f64;
        let grown = trace.last().unwrap().1 - start;
        let per_round = grown / rounds;
        assert!(
            (0.45..0.7).contains(&per_round),
            "{per_round} segments per round"
        );
    }

    #[test]
    fn fast_convergence_lowers_w_max_on_a_loss_below_it() {
        let mut c = lost_at(100.0, 10_000_000);
        // Lose again at 70 segments, below W_max = 100.
        c.on_loss(0);
        let w = 100.0 * 717.0 / 1024.0;
        assert!((c.w_max() - w * (1.0 + 717.0 / 1024.0) / 2.0).abs() < 1e-9);
    }

    #[test]
    fn hystart_ends_slow_start_when_the_round_trip_grows() {
        // A 40 ms path: the threshold is clamp(40/8, 4, 16) = 5 ms.
        let rtt = 40_000_000u64;
        let mut flat = Cubic::new(MSS, 10.0 * MSS, 1e12);
        let mut queued = Cubic::new(MSS, 10.0 * MSS, 1e12);
        let mut now = 0;
        for round in 0..8u64 {
            let segments = (queued.cwnd() / MSS) as u64;
            for _ in 0..segments {
                now += 1000;
                flat.on_ack(now, MSS, Some(rtt));
                // The queue grows 2 ms a round from the fourth on.
                let extra = round.saturating_sub(3) * 2_000_000;
                queued.on_ack(now, MSS, Some(rtt + extra));
            }
        }
        assert_eq!(
            flat.ssthresh(),
            f64::INFINITY,
            "no exit on a flat round trip"
        );
        assert!(queued.ssthresh().is_finite(), "HyStart ended slow start");
        // Not before the increase passed 5 ms (the sixth round: 6 ms).
        assert!(
            queued.ssthresh() / MSS >= 16.0 * 8.0,
            "{}",
            queued.ssthresh() / MSS
        );
    }
}
