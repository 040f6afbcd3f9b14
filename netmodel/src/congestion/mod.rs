//! TCP congestion control: how the sender's window grows on ACKs and shrinks on loss, one file
//! per algorithm behind [`CongestionControl`] (time passed in, no clock of its own).
//!
//! - [`reno`]: slow start, +1 MSS per window in congestion avoidance, halved on loss
//!   (RFC 5681).
//! - [`cubic`]: Linux's default — the cubic window curve of RFC 9438 with its TCP-friendly
//!   region and fast convergence, β = 0.7, C = 0.4, and HyStart's delay detection, as
//!   `net/ipv4/tcp_cubic.c` does them.

pub mod cubic;
pub mod reno;

use std::fmt;
use std::str::FromStr;

/// What a sender's window does: told of ACKs and of loss events, asked its window.
pub trait CongestionControl {
    /// `acked` bytes newly acknowledged at `now_ns`; `rtt_ns` is the round trip of the newest
    /// data they acknowledge.
    fn on_ack(&mut self, now_ns: u64, acked: f64, rtt_ns: Option<u64>);
    /// A loss event (the first loss of a window; later ones of the same window are not).
    fn on_loss(&mut self, now_ns: u64);
    /// The congestion window, bytes.
    fn cwnd(&self) -> f64;
    /// The slow-start threshold, bytes (infinite before the first reduction).
    fn ssthresh(&self) -> f64;
}

/// The algorithm a sender runs. The engine's default stays Reno, which the calibration was
/// made with: under CUBIC the published rows hold as well (a test compares), but HyStart
/// starves flows sharing flanneld's deep queue in the fairness check (one of six flows takes
/// 89 %), which wants understanding before CUBIC becomes the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    #[default]
    Reno,
    /// Linux's default since 2.6.19.
    Cubic,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Reno => "reno",
            Algorithm::Cubic => "cubic",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Algorithm, String> {
        match s {
            "reno" => Ok(Algorithm::Reno),
            "cubic" => Ok(Algorithm::Cubic),
            other => Err(format!(
                "unknown congestion control `{other}`; expected cubic or reno"
            )),
        }
    }
}

/// One sender's controller.
#[derive(Clone, Debug)]
pub enum Controller {
    Reno(reno::Reno),
    Cubic(cubic::Cubic),
}

impl Controller {
    /// A controller starting at `initial_cwnd` bytes, segments of `mss` bytes, its window
    /// never above `max_cwnd` (the receive window); CUBIC with `params`.
    pub fn new(
        algorithm: Algorithm,
        params: cubic::Params,
        mss: f64,
        initial_cwnd: f64,
        max_cwnd: f64,
    ) -> Controller {
        match algorithm {
            Algorithm::Reno => Controller::Reno(reno::Reno::new(mss, initial_cwnd, max_cwnd)),
            Algorithm::Cubic => Controller::Cubic(cubic::Cubic::with_params(
                params,
                mss,
                initial_cwnd,
                max_cwnd,
            )),
        }
    }

    fn inner(&mut self) -> &mut dyn CongestionControl {
        match self {
            Controller::Reno(c) => c,
            Controller::Cubic(c) => c,
        }
    }
}

impl CongestionControl for Controller {
    fn on_ack(&mut self, now_ns: u64, acked: f64, rtt_ns: Option<u64>) {
        self.inner().on_ack(now_ns, acked, rtt_ns);
    }
    fn on_loss(&mut self, now_ns: u64) {
        self.inner().on_loss(now_ns);
    }
    fn cwnd(&self) -> f64 {
        match self {
            Controller::Reno(c) => c.cwnd(),
            Controller::Cubic(c) => c.cwnd(),
        }
    }
    fn ssthresh(&self) -> f64 {
        match self {
            Controller::Reno(c) => c.ssthresh(),
            Controller::Cubic(c) => c.ssthresh(),
        }
    }
}
