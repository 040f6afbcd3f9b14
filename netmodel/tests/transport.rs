//! TCP on long, lossy paths (the inter-site case): with random loss a bulk flow's average rate
//! follows the published response functions — Reno's (Mathis et al., "The Macroscopic
//! Behavior of the TCP Congestion Avoidance Algorithm", CCR 1997: MSS/RTT · √(3/2) / √p) and
//! CUBIC's (RFC 9438 §5.1: an average window of (C(3 + β) / (4(1 − β)))^¼ · RTT^¾ / p^¾
//! segments) — and on a short path CUBIC keeps to its Reno-friendly region.

use orchsim_net::congestion::Algorithm;
use orchsim_net::packet::{self, StreamConfig};
use orchsim_net::{Options, Pipeline, Profile};

/// Goodput (Gb/s) of one flow over 1 Gb/s with `one_way_ms` of propagation and `loss`, run
/// long enough for hundreds of loss events; and the path's MSS.
fn goodput(cc: Algorithm, gbps: f64, one_way_ms: f64, loss: f64) -> (f64, f64) {
    let profile = Profile::default_profile();
    let mut plat = profile.platform("reference-10g").unwrap().clone();
    plat.link_gbps = gbps;
    plat.propagation_ns = (one_way_ms * 1e6) as u64;
    plat.loss = loss;
    let opts = Options {
        congestion: cc,
        ..Default::default()
    };
    let mut pipe = Pipeline::new(&profile, &plat, "calico-bgp".parse().unwrap(), &opts);
    // A window that never binds: loss sets the pace.
    pipe.tcp_rwnd_bytes = 1 << 30;
    let cfg = StreamConfig {
        flows: 1,
        warmup_ns: Some(60_000_000_000),
        measure_ns: Some(3_000_000_000_000),
    };
    (packet::stream(&pipe, &cfg).goodput_gbps, pipe.mss as f64)
}

#[test]
fn reno_and_cubic_follow_their_response_functions_on_a_long_lossy_path() {
    let p = orchsim_net::congestion::cubic::Params::default();
    let cubic_factor = (p.c * (3.0 + p.beta) / (4.0 * (1.0 - p.beta))).powf(0.25);
    for (gbps, loss) in [(1.0, 1e-4), (10.0, 1e-5)] {
        let rtt = 0.1;
        let (reno, mss) = goodput(Algorithm::Reno, gbps, 50.0, loss);
        let (cubic, _) = goodput(Algorithm::Cubic, gbps, 50.0, loss);
        let per_window = mss * 8.0 / rtt / 1e9;
        let mathis = per_window * 1.5f64.sqrt() / loss.sqrt();
        let rfc = per_window * cubic_factor * rtt.powf(0.75) / loss.powf(0.75);
        assert!(
            (reno / mathis - 1.0).abs() < 0.2,
            "p = {loss}: reno {reno:.4} Gb/s, Mathis {mathis:.4}"
        );
        assert!(
            (cubic / rfc - 1.0).abs() < 0.2,
            "p = {loss}: cubic {cubic:.4} Gb/s, RFC 9438 {rfc:.4}"
        );
        // What CUBIC is for: far more of a long fat pipe than Reno.
        assert!(cubic > 1.4 * reno, "p = {loss}: cubic {cubic}, reno {reno}");
    }
    // 20 ms: the cubic curve would be slower than Reno; the TCP-friendly region keeps CUBIC
    // level with it.
    let (reno, _) = goodput(Algorithm::Reno, 1.0, 10.0, 1e-4);
    let (cubic, _) = goodput(Algorithm::Cubic, 1.0, 10.0, 1e-4);
    assert!(
        (cubic / reno - 1.0).abs() < 0.15,
        "cubic {cubic}, reno {reno}"
    );
}

#[test]
fn the_same_loss_gives_the_same_run() {
    let a = goodput(Algorithm::Cubic, 1.0, 20.0, 1e-3);
    let b = goodput(Algorithm::Cubic, 1.0, 20.0, 1e-3);
    assert_eq!(a, b);
    let clean = goodput(Algorithm::Cubic, 1.0, 20.0, 0.0);
    assert!(clean.0 > 2.0 * a.0, "loss costs: {} vs {}", clean.0, a.0);
}
