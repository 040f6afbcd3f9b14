//! Reno (RFC 5681): slow start doubles the window each round trip up to `ssthresh`,
//! congestion avoidance adds one MSS per window, a loss halves it.

use super::CongestionControl;

#[derive(Clone, Debug)]
pub struct Reno {
    mss: f64,
    cwnd: f64,
    ssthresh: f64,
    max_cwnd: f64,
}

impl Reno {
    pub fn new(mss: f64, initial_cwnd: f64, max_cwnd: f64) -> Reno {
        Reno {
            mss,
            cwnd: initial_cwnd.min(max_cwnd),
            ssthresh: f64::INFINITY,
            max_cwnd,
        }
    }
}

impl CongestionControl for Reno {
    fn on_ack(&mut self, _now_ns: u64, acked: f64, _rtt_ns: Option<u64>) {
        if self.cwnd < self.ssthresh {
            self.cwnd += acked;
        } else {
            self.cwnd += self.mss * acked / self.cwnd;
        }
        self.cwnd = self.cwnd.min(self.max_cwnd);
    }

    fn on_loss(&mut self, _now_ns: u64) {
        self.ssthresh = (self.cwnd / 2.0).max(2.0 * self.mss);
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

    #[test]
    fn slow_start_doubles_then_avoidance_adds_one_segment_per_window() {
        let mut r = Reno::new(1000.0, 10_000.0, 1e9);
        r.on_ack(0, 10_000.0, None);
        assert_eq!(r.cwnd(), 20_000.0);
        r.on_loss(0);
        assert_eq!(r.cwnd(), 10_000.0);
        // One window's worth of ACKs: about one MSS more.
        for _ in 0..10 {
            r.on_ack(0, 1000.0, None);
        }
        assert!((r.cwnd() - 11_000.0).abs() < 50.0, "{}", r.cwnd());
    }
}
