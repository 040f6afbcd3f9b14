//! `live net`: build each datapath between two hosts, run the traffic tests on it (repeated,
//! since a small machine is noisy), tear it down, and set the measurements beside the
//! model's prediction for the same flows and message size.

use std::time::Duration;

use orchsim_net::compare::{self, CompareSpec, Comparison, Row};
use orchsim_net::{Base, Datapath, Platform, Profile};
use serde::Serialize;

use crate::datapath::{self, Shaping, Topology};
use crate::lab::{self, Lab};
use crate::traffic;
use crate::{sys, LiveError};

/// What to measure.
#[derive(Clone, Debug)]
pub struct Plan {
    /// In order; `host` is measured first whether listed or not (every ratio is to it).
    pub datapaths: Vec<Datapath>,
    /// The stream test's length; request/response and UDP run a fifth of it each.
    pub duration: Duration,
    pub flows: u32,
    /// Bytes per application write in the stream test.
    pub write_size: u32,
    /// Bytes of each request and each response.
    pub rr_size: u32,
    /// Runs of the three tests per datapath.
    pub repeat: u32,
    /// What the underlay's links do to traffic (none by default).
    pub shaping: Shaping,
}

/// The machine the measurements belong to.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub kernel: String,
    pub cpu_model: String,
    pub cpus: usize,
    /// The day of the measurement, UTC (YYYY-MM-DD).
    pub date: String,
    /// `ethtool -k` of a host's underlay veth: feature → on/off, or why it could not be read.
    pub offloads: Vec<(String, String)>,
}

/// One run of the three tests.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    pub stream: traffic::Stream,
    pub request_response: traffic::RequestResponse,
    pub udp: traffic::Udp,
}

/// One datapath as measured: every run, and the medians and spread over them.
#[derive(Clone, Debug, Serialize)]
pub struct Measured {
    pub name: String,
    /// Why this kernel or live mode cannot build it; then there are no runs.
    pub unavailable: Option<String>,
    pub mtu: u32,
    pub runs: Vec<Run>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

impl Measured {
    fn each(&self, f: impl Fn(&Run) -> f64) -> Vec<f64> {
        self.runs.iter().map(f).collect()
    }
    pub fn goodput_gbps(&self) -> f64 {
        median(self.each(|r| r.stream.gbps))
    }
    pub fn goodput_min_max(&self) -> (f64, f64) {
        let v = self.each(|r| r.stream.gbps);
        (
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )
    }
    pub fn cpu_s_per_gbit(&self) -> f64 {
        median(self.each(|r| r.stream.cpu_s_per_gbit))
    }
    pub fn p50_us(&self) -> f64 {
        median(self.each(|r| r.request_response.p50_us))
    }
    pub fn p99_us(&self) -> f64 {
        median(self.each(|r| r.request_response.p99_us))
    }
    pub fn p999_us(&self) -> f64 {
        median(self.each(|r| r.request_response.p999_us))
    }
    pub fn udp_gbps(&self) -> f64 {
        median(self.each(|r| r.udp.received_gbps))
    }
    pub fn udp_loss(&self) -> f64 {
        median(self.each(|r| r.udp.loss))
    }
}

/// Every datapath of a plan, measured on this machine.
#[derive(Clone, Debug, Serialize)]
pub struct Measurements {
    pub machine: Machine,
    pub duration_s: f64,
    pub flows: u32,
    pub write_size: u32,
    pub rr_size: u32,
    pub repeat: u32,
    pub shaping: Shaping,
    /// `host` first.
    pub datapaths: Vec<Measured>,
}

impl Measurements {
    /// The measured row of `d`, if it was measured.
    pub fn get(&self, d: Datapath) -> Option<&Measured> {
        let name = d.to_string();
        self.datapaths
            .iter()
            .find(|m| m.name == name && m.unavailable.is_none())
    }
}

/// Today's date (UTC) from the system clock, as YYYY-MM-DD.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Civil from days (H. Hinnant's algorithm), valid for every date after 1970.
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The offload features that decide what a segment costs, from `ethtool -k` of `dev` in `ns`.
fn offloads(ns: &str, dev: &str) -> Vec<(String, String)> {
    const KEEP: [&str; 7] = [
        "tx-checksumming",
        "scatter-gather",
        "tcp-segmentation-offload",
        "generic-segmentation-offload",
        "generic-receive-offload",
        "tx-udp_tnl-segmentation",
        "rx-gro-list",
    ];
    match sys::run("ip", &["netns", "exec", ns, "ethtool", "-k", dev]) {
        Ok(out) => out
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .filter(|(k, _)| KEEP.contains(&k.as_str()))
            .collect(),
        Err(e) => vec![("ethtool".into(), format!("not read: {e}"))],
    }
}

/// The machine, with the offloads of a veth in a scratch namespace (what every underlay link
/// of a run is).
pub fn machine() -> Result<Machine, LiveError> {
    let mut lab = Lab::new()?;
    let ns = lab.add_ns("machine")?;
    sys::ip(
        &ns,
        &["link", "add", "v0", "type", "veth", "peer", "name", "v1"],
    )?;
    let offloads = offloads(&ns, "v0");
    lab.teardown()?;
    Ok(Machine {
        kernel: sys::kernel_release(),
        cpu_model: sys::cpu_model(),
        cpus: sys::cpus(),
        date: today(),
        offloads,
    })
}

/// Builds, measures and tears down every datapath of `plan`, `host` first. Repeats go round
/// all datapaths in turn (a fresh build each time), so a machine whose speed drifts during the
/// run does not favour the datapaths measured first. `progress` hears one line per step. A
/// datapath this kernel cannot build is recorded as unavailable with the reason; one that
/// fails while built fails the whole run (after removing what it built).
pub fn measure(plan: &Plan, progress: &mut dyn FnMut(&str)) -> Result<Measurements, LiveError> {
    if !(1..=64).contains(&plan.flows) {
        return Err(LiveError::Input(format!(
            "--flows: expected 1 to 64, found {}",
            plan.flows
        )));
    }
    if !(1..=20).contains(&plan.repeat) {
        return Err(LiveError::Input(format!(
            "--repeat: expected 1 to 20, found {}",
            plan.repeat
        )));
    }
    if plan.duration < Duration::from_millis(100) || plan.duration > Duration::from_secs(600) {
        return Err(LiveError::Input(format!(
            "--duration: expected 100ms to 600s, found {:?}",
            plan.duration
        )));
    }
    for (flag, v) in [
        ("--write-size", plan.write_size),
        ("--msg-size", plan.rr_size),
    ] {
        if !(1..=1 << 20).contains(&v) {
            return Err(LiveError::Input(format!(
                "{flag}: expected 1 to 1048576 bytes, found {v}"
            )));
        }
    }
    let removed = lab::clean(false)?;
    if !removed.is_empty() {
        progress(&format!(
            "removed {} namespace(s) a previous run left behind: {}",
            removed.len(),
            removed.join(", ")
        ));
    }
    let machine = machine()?;
    let host = Datapath::plain(Base::Host);
    let mut todo = vec![host];
    todo.extend(plan.datapaths.iter().filter(|&&d| d != host));
    let side = (plan.duration / 5).max(Duration::from_millis(200));
    let mut out: Vec<Measured> = todo
        .iter()
        .map(|d| Measured {
            name: d.to_string(),
            unavailable: None,
            mtu: d.pod_mtu(1500),
            runs: Vec::new(),
        })
        .collect();
    for r in 0..plan.repeat {
        for (&d, row) in todo.iter().zip(out.iter_mut()) {
            if row.unavailable.is_some() {
                continue;
            }
            if lab::interrupted() {
                return Err(LiveError::Interrupted);
            }
            let net = match datapath::build(
                d,
                Topology {
                    shaping: plan.shaping,
                    ..Topology::default()
                },
            ) {
                Ok(n) => n,
                Err(LiveError::Input(why)) if d != host => {
                    progress(&format!("{d}: skipped: {why}"));
                    row.unavailable = Some(why);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let (a, z) = (&net.pods[0], &net.pods[1]);
            let stream =
                traffic::stream(a, z, plan.flows, plan.duration, plan.write_size as usize)?;
            let request_response = traffic::request_response(a, z, side, plan.rr_size as usize)?;
            let udp = traffic::udp(a, z, side, net.pod_mtu - 28)?;
            progress(&format!(
                "{d} run {}/{}: {:.2} Gb/s, {:.3} CPU s/Gbit, p50 {:.1} µs, UDP {:.2} Gb/s",
                r + 1,
                plan.repeat,
                stream.gbps,
                stream.cpu_s_per_gbit,
                request_response.p50_us,
                udp.received_gbps
            ));
            row.runs.push(Run {
                stream,
                request_response,
                udp,
            });
            net.teardown()?;
        }
    }
    Ok(Measurements {
        machine,
        duration_s: plan.duration.as_secs_f64(),
        flows: plan.flows,
        write_size: plan.write_size,
        rr_size: plan.rr_size,
        repeat: plan.repeat,
        shaping: plan.shaping,
        datapaths: out,
    })
}

/// The model's prediction for every measured datapath: the packet-level engine with `profile`
/// on `platform`, the same flows and write size for the stream, and the same message size for
/// the request/response latency.
pub fn model(profile: &Profile, platform: &Platform, m: &Measurements) -> Comparison {
    // A shaped underlay is the model's link: its rate serialises packets, its delay is the
    // propagation.
    let mut platform = platform.clone();
    if m.shaping.rate_mbit > 0 {
        platform.link_gbps = m.shaping.rate_mbit as f64 / 1000.0;
    }
    platform.propagation_ns += m.shaping.delay_us as u64 * 1000;
    let spec = |msg_size| CompareSpec {
        platform: platform.clone(),
        datapaths: m
            .datapaths
            .iter()
            .filter_map(|r| r.name.parse().ok())
            .collect(),
        flows: m.flows,
        msg_size,
        requirements: Vec::new(),
        transactions: 1000,
        app_ns_per_byte: 0.0,
        congestion: Default::default(),
        qdisc: Default::default(),
        load_flows: 0,
    };
    let mut stream = compare::compare(profile, &spec(m.write_size));
    if m.rr_size != m.write_size {
        let rr = compare::compare(profile, &spec(m.rr_size));
        for (s, r) in stream.datapaths.iter_mut().zip(rr.datapaths) {
            s.latency_us = r.latency_us;
            s.latency_ratio_to_host = r.latency_ratio_to_host;
        }
    }
    stream
}

/// A measured datapath beside its prediction.
#[derive(Clone, Debug, Serialize)]
pub struct SideBySide {
    pub measured: Measured,
    pub model: Row,
    /// measured / model − 1, for goodput and CPU per gigabit.
    pub goodput_error: Option<f64>,
    pub cpu_error: Option<f64>,
}

/// Pairs every measured datapath with the model's row of the same name.
pub fn side_by_side(m: &Measurements, model: &Comparison) -> Vec<SideBySide> {
    m.datapaths
        .iter()
        .map(|meas| {
            let row = model
                .datapaths
                .iter()
                .find(|r| r.name == meas.name)
                .expect("the model was asked for every measured datapath")
                .clone();
            let err = |measured: f64, modeled: Option<f64>| {
                modeled
                    .filter(|_| meas.unavailable.is_none())
                    .map(|v| measured / v - 1.0)
            };
            SideBySide {
                goodput_error: err(meas.goodput_gbps(), row.goodput_gbps),
                cpu_error: err(meas.cpu_s_per_gbit(), row.cpu_s_per_gbit),
                measured: meas.clone(),
                model: row,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
    }

    #[test]
    fn today_is_a_date() {
        let d = today();
        assert_eq!(d.len(), 10);
        assert!(d.starts_with("20"), "{d}");
    }
}
