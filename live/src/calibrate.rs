//! A netmodel profile fitted to this machine's measurements.
//!
//! On a veth underlay every datapath runs the same stages apart from what it adds, so the
//! constants are fitted in order, each to the datapaths that alone depend on it:
//! 1. the platform's `cpu_factor` to `host`'s goodput and the receive copy (`b_rx_llc`) to
//!    its CPU per gigabit, solved together;
//! 2. then, by least squares of the log errors of goodput and CPU per gigabit: `f_pod` (a pod's
//!    own veth and its host's route) to Calico's routed pods, `f_bridge` (a bridge in its
//!    place) to flannel's host-gw, `f_nat` to Docker's bridge, `e_vxlan`/`d_vxlan` scaled
//!    together to the VXLAN datapaths, and flanneld's per-packet constants scaled together to
//!    `flannel-udp`.
//!
//! Everything else keeps the base profile's value and source. The fitted constants are marked
//! `measured`, with a source line that says what was measured, when, on which kernel and CPU.
//! The calibrated profile has one platform, `live`: this machine.

use orchsim_net::compare::Comparison;
use orchsim_net::profile::{Kind, Underlay};
use orchsim_net::{Base, Datapath, Platform, Profile};
use serde::Serialize;

use crate::bench::{self, Measurements};
use crate::LiveError;

/// The platform a calibrated profile adds and makes its default.
pub const PLATFORM: &str = "live";

/// A constant before and after the fit.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    /// `cpu_factor` (the platform's) or a profile constant.
    pub constant: String,
    pub before: f64,
    pub after: f64,
}

/// One group of constants scaled together, and what it was fitted to.
#[derive(Clone, Debug, Serialize)]
pub struct Fitted {
    pub changes: Vec<Change>,
    pub datapaths: Vec<String>,
}

impl Fitted {
    /// `name before→after` for each constant, e.g. `f_pod 0→412.3`.
    pub fn describe(&self) -> String {
        self.changes
            .iter()
            .map(|c| format!("{} {}→{}", c.constant, round(c.before), round(c.after)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Four significant digits, for people.
fn round(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (3 - v.abs().log10().floor() as i32).max(0) as usize;
    format!("{v:.digits$}")
}

fn changes(before: &Profile, after: &Profile, names: &[&str]) -> Vec<Change> {
    names
        .iter()
        .map(|n| Change {
            constant: n.to_string(),
            before: before.entries[*n].value,
            after: after.entries[*n].value,
        })
        .collect()
}

/// A calibrated profile, how it was fitted, and its predictions for the measurements.
#[derive(Clone, Debug)]
pub struct Calibration {
    pub profile: Profile,
    pub fitted: Vec<Fitted>,
    pub prediction: Comparison,
    /// What the measurements could not pin down.
    pub warnings: Vec<String>,
}

/// A group of constants and the datapaths fitted with it.
struct Knob {
    constants: &'static [&'static str],
    owners: &'static [Base],
}

/// What only `flannel-udp` costs on a veth underlay with tunnel offload: flanneld's
/// per-packet work, the software GSO and checksums in front of its TUN device, and per-packet
/// receive without GRO. (`u_wake` is on the latency path only, so goodput and CPU say
/// nothing about it.)
const FLANNEL_UDP: &[&str] = &[
    "u_read", "u_send", "u_recv", "u_write", "u_loop", "u_udp_rx", "g_rx_pkt", "gso_sw", "b_csum",
    "p_rx",
];

const KNOBS: [Knob; 5] = [
    Knob {
        constants: &["f_pod"],
        owners: &[Base::CalicoBgp],
    },
    Knob {
        constants: &["f_bridge"],
        owners: &[Base::FlannelHostGw],
    },
    Knob {
        constants: &["f_nat"],
        owners: &[Base::Bridge],
    },
    Knob {
        constants: &["e_vxlan", "d_vxlan"],
        owners: &[Base::Overlay, Base::FlannelVxlan, Base::CalicoVxlan],
    },
    Knob {
        constants: FLANNEL_UDP,
        owners: &[Base::FlannelUdp],
    },
];

/// Squared log errors of the model's goodput and CPU per gigabit for `owners`, against the
/// measurements.
fn error(profile: &Profile, platform: &Platform, m: &Measurements, owners: &[Datapath]) -> f64 {
    let sub = Measurements {
        datapaths: m
            .datapaths
            .iter()
            .filter(|r| owners.iter().any(|d| d.to_string() == r.name))
            .cloned()
            .collect(),
        ..m.clone()
    };
    let model = bench::model(profile, platform, &sub);
    sub.datapaths
        .iter()
        .zip(&model.datapaths)
        .map(|(meas, row)| {
            let g = (row.goodput_gbps.unwrap_or(f64::NAN) / meas.goodput_gbps()).ln();
            let c = (row.cpu_s_per_gbit.unwrap_or(f64::NAN) / meas.cpu_s_per_gbit()).ln();
            g * g + c * c
        })
        .sum::<f64>()
        .max(0.0)
}

/// The model's goodput, CPU per gigabit and request/response p50 for `d`.
fn predict(
    profile: &Profile,
    platform: &Platform,
    m: &Measurements,
    d: Datapath,
) -> (f64, f64, f64) {
    let sub = Measurements {
        datapaths: m
            .datapaths
            .iter()
            .filter(|r| r.name == d.to_string())
            .cloned()
            .collect(),
        ..m.clone()
    };
    let row = &bench::model(profile, platform, &sub).datapaths[0];
    (
        row.goodput_gbps.unwrap_or(f64::NAN),
        row.cpu_s_per_gbit.unwrap_or(f64::NAN),
        row.latency_us.as_ref().map_or(f64::NAN, |l| l.p50),
    )
}

/// The multiplier in [1/256, 64] at which the increasing function `f` reaches `target`, by
/// bisection on its log (the nearer end when it does not).
fn solve(target: f64, f: impl Fn(f64) -> f64) -> f64 {
    let (mut lo, mut hi) = ((1.0f64 / 256.0).ln(), 64f64.ln());
    for _ in 0..50 {
        let mid = (lo + hi) / 2.0;
        if f(mid.exp()) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    ((lo + hi) / 2.0).exp()
}

/// The multiplier in [1/256, 64] that minimises `f`, by golden-section search on its log.
fn golden(mut f: impl FnMut(f64) -> f64) -> f64 {
    let phi = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = ((1.0f64 / 256.0).ln(), 64f64.ln());
    let mut c = b - phi * (b - a);
    let mut d = a + phi * (b - a);
    let (mut fc, mut fd) = (f(c.exp()), f(d.exp()));
    for _ in 0..48 {
        if fc.is_nan() || fc > fd {
            a = c;
            c = d;
            fc = fd;
            d = a + phi * (b - a);
            fd = f(d.exp());
        } else {
            b = d;
            d = c;
            fd = fc;
            c = b - phi * (b - a);
            fc = f(c.exp());
        }
    }
    ((a + b) / 2.0).exp()
}

/// `base` with each of `names` multiplied by `k`. A constant that is 0 (a prior saying "no
/// cost") is scaled from a neighbour of its unit instead — `f_vm`, one namespace traversal,
/// for a per-segment cost, 1 ns otherwise: 0 times anything would never move.
fn scaled(base: &Profile, names: &[&str], k: f64, source: &str) -> Profile {
    let mut p = base.clone();
    for n in names {
        let v0 = base.entries[*n].value;
        let from = match (v0 == 0.0, base.entries[*n].unit.as_str()) {
            (false, _) => v0,
            (true, "ns/segment") => base.entries["f_vm"].value,
            (true, _) => 1.0,
        };
        let v = from * k;
        // Values outside the schema's range cannot come out of a [1/256, 64] scale of a valid
        // profile except above 1e9 ns, which no fit of a real machine reaches.
        let _ = p.set_param(n, v, Kind::Measured, source.to_string());
    }
    p
}

/// Fits `base` (on `platform`, which must be a veth underlay) to `m` and returns the profile
/// with a `live` platform as its default.
pub fn fit(
    base: &Profile,
    platform: &Platform,
    m: &Measurements,
) -> Result<Calibration, LiveError> {
    if platform.underlay != Underlay::Veth || !platform.tunnel_offload {
        return Err(LiveError::Input(format!(
            "platform `{}` is not a veth underlay with tunnel offload; live mode measures namespaces joined by veth (whose VXLAN segments are offloaded the way the model's tunnel offload assumes), so calibrate from one such (e.g. local-vm)",
            platform.name
        )));
    }
    let host = Datapath::plain(Base::Host);
    if m.get(host).is_none() {
        return Err(LiveError::Input(
            "calibration needs the host datapath measured".into(),
        ));
    }
    let mc = &m.machine;
    let what = |d: &str| {
        let r = m.datapaths.iter().find(|r| r.name == d);
        let (g, c) = r.map_or((f64::NAN, f64::NAN), |r| {
            (r.goodput_gbps(), r.cpu_s_per_gbit())
        });
        format!("{d} {g:.2} Gb/s, {c:.3} CPU s/Gbit")
    };
    let stamp = format!(
        "orchsim live net {}: Linux {}, {} ({} CPUs); {} flow(s) of {}-byte writes, {} run(s) of {} s; median",
        mc.date, mc.kernel, mc.cpu_model, mc.cpus, m.flows, m.write_size, m.repeat, m.duration_s
    );
    let mut profile = base.clone();
    let mut plat = platform.clone();
    plat.name = PLATFORM.into();
    plat.threads = mc.cpus as u32;
    let mut fitted = Vec::new();

    // 1. cpu_factor to host's goodput and the receive copy to its CPU per gigabit: goodput
    // falls as cpu_factor rises, CPU per gigabit rises with the copy; alternate until both
    // hold (a copy already at its bound leaves the CPU error as it is).
    let copy = if plat.rx_llc { "b_rx_llc" } else { "b_rx_dram" };
    let host_source = format!("{stamp}: fitted to {}", what("host"));
    let host_m = m.get(host).expect("checked above");
    let (goodput, cpu) = (host_m.goodput_gbps(), host_m.cpu_s_per_gbit());
    let cf0 = plat.cpu_factor;
    for _ in 0..12 {
        let cur = plat.clone();
        let k = solve(1.0 / goodput, |k| {
            let mut p = cur.clone();
            p.cpu_factor = (cur.cpu_factor * k).min(1000.0);
            1.0 / predict(&profile, &p, m, host).0
        });
        plat.cpu_factor = (plat.cpu_factor * k).min(1000.0);
        let cur = profile.clone();
        let k = solve(cpu, |k| {
            predict(&scaled(&cur, &[copy], k, ""), &plat, m, host).1
        });
        profile = scaled(&profile, &[copy], k, &host_source);
        let (g, c, _) = predict(&profile, &plat, m, host);
        if (g / goodput - 1.0).abs() < 0.002 && (c / cpu - 1.0).abs() < 0.002 {
            break;
        }
    }
    let mut host_changes = vec![Change {
        constant: "cpu_factor".into(),
        before: cf0,
        after: plat.cpu_factor,
    }];
    host_changes.extend(changes(base, &profile, &[copy]));
    fitted.push(Fitted {
        changes: host_changes,
        datapaths: vec!["host".into()],
    });
    // The reader's wake-up is on the latency path only (no CPU share): solved to host's
    // request/response p50.
    let p50 = host_m.p50_us();
    let cur = profile.clone();
    let k = solve(p50, |k| {
        predict(&scaled(&cur, &["rr_wake"], k, ""), &plat, m, host).2
    });
    profile = scaled(
        &profile,
        &["rr_wake"],
        k,
        &format!("{stamp}: fitted to host's request/response p50 {p50:.1} µs"),
    );
    fitted.push(Fitted {
        changes: changes(&cur, &profile, &["rr_wake"]),
        datapaths: vec!["host (p50 latency)".into()],
    });

    // 2–4. Each group to the datapaths that alone depend on it (those measured).
    let mut warnings = Vec::new();
    for knob in &KNOBS {
        if crate::lab::interrupted() {
            return Err(LiveError::Interrupted);
        }
        let owners: Vec<Datapath> = knob
            .owners
            .iter()
            .map(|&b| Datapath::plain(b))
            .filter(|&d| m.get(d).is_some())
            .collect();
        if owners.is_empty() {
            let why = match knob.constants {
                ["f_pod"] => "f_pod (a pod's own veth and host route) was not fitted: measure calico-bgp too",
                ["f_bridge"] => "f_bridge (a host bridge in place of a route) was not fitted: measure flannel-host-gw too",
                _ => "",
            };
            if !why.is_empty() {
                warnings.push(format!(
                    "{why}, or the other pod datapaths' constants absorb it"
                ));
            }
            continue;
        }
        let names: Vec<String> = owners.iter().map(|d| d.to_string()).collect();
        let source = format!(
            "{stamp}: fitted to {}",
            names.iter().map(|n| what(n)).collect::<Vec<_>>().join("; ")
        );
        let cur = profile.clone();
        let k = golden(|k| error(&scaled(&cur, knob.constants, k, ""), &plat, m, &owners));
        profile = scaled(&profile, knob.constants, k, &source);
        fitted.push(Fitted {
            changes: changes(&cur, &profile, knob.constants),
            datapaths: names,
        });
    }

    plat.description = format!(
        "this machine as orchsim live net measured it: {} ({} CPUs), Linux {}; hosts are network namespaces joined by veth + a bridge",
        mc.cpu_model, mc.cpus, mc.kernel
    );
    plat.source = format!("{stamp}: cpu_factor fitted to {}", what("host"));
    profile.name = format!("live-{}", mc.date);
    profile.description = format!(
        "{} with constants fitted to orchsim live net on {} ({}, Linux {})",
        base.name, mc.date, mc.cpu_model, mc.kernel
    );
    // The fitted constants describe this machine; the base profile's other platforms would be
    // predicted with them and wrongly, so the calibrated profile has only this one.
    profile.platforms.clear();
    profile.platforms.insert(PLATFORM.into(), plat.clone());
    profile.default_platform = PLATFORM.into();
    let prediction = bench::model(&profile, &plat, m);
    Ok(Calibration {
        profile,
        fitted,
        prediction,
        warnings,
    })
}

/// The calibrated profile as a file: a header saying where it came from, then the profile.
pub fn profile_file(c: &Calibration, m: &Measurements) -> String {
    let mut header = format!(
        "netmodel profile written by `orchsim live net --write-profile` on {}.\n\
         Machine: {} ({} CPUs), Linux {}.\n\
         Measured: {} flow(s), {}-byte writes, {} run(s) of {} s per datapath; the medians were fitted.\n\
         Fitted (kind = \"measured\"):\n",
        m.machine.date,
        m.machine.cpu_model,
        m.machine.cpus,
        m.machine.kernel,
        m.flows,
        m.write_size,
        m.repeat,
        m.duration_s
    );
    for f in &c.fitted {
        header += &format!("  {} to {}\n", f.describe(), f.datapaths.join(", "));
    }
    header += "Everything else is the base profile's, with its own source. The one platform,\n\
               `live`, is this machine; the base profile's others are left out, since the\n\
               fitted constants do not describe them.\n\
               Use: orchsim net compare --profile THIS_FILE";
    c.profile.to_toml(&header)
}

#[cfg(test)]
mod tests {
    use super::golden;

    #[test]
    fn golden_section_finds_the_minimum_of_a_valley() {
        let k = golden(|k| (k.ln() - 3f64.ln()).powi(2));
        assert!((k - 3.0).abs() < 1e-6, "{k}");
        // A minimum beyond the range ends at its edge.
        let k = golden(|k| -k);
        assert!((k - 64.0).abs() < 1e-3, "{k}");
    }
}
