//! `orchsim net compare` and `orchsim net explain` as data: every datapath measured on one
//! platform by the packet-level engine (stream and request/response), set against host
//! networking, checked against the flow-level engine, with what it cannot carry refused.
//!
//! The JSON form of [`Comparison`] is a documented, stable contract (README, "orchsim net").

use orchsim_kernel::{Digest, SimTime};
use serde::Serialize;

use crate::capability::{self, Capabilities, Requirement};
use crate::datapath::{Base, Datapath};
use crate::flow::{self, FlowSpec};
use crate::packet::{self, StreamConfig};
use crate::pipeline::{Options, Pipeline, Role, Trigger};
use crate::profile::{Platform, Profile};

/// What to compare.
#[derive(Clone, Debug)]
pub struct CompareSpec {
    pub platform: Platform,
    pub datapaths: Vec<Datapath>,
    pub flows: u32,
    pub msg_size: u32,
    pub requirements: Vec<Requirement>,
    /// Request/response exchanges for the latency percentiles.
    pub transactions: u32,
    /// The application's own work per byte (see [`Options::app_ns_per_byte`]).
    pub app_ns_per_byte: f64,
    /// The senders' congestion control.
    pub congestion: crate::congestion::Algorithm,
    /// The NICs' queue discipline.
    pub qdisc: crate::qdisc::Qdisc,
    /// Bulk flows running while the latency is measured a second time (0: only the idle path).
    pub load_flows: u32,
}

/// Latency percentiles of one request/response exchange, µs.
#[derive(Clone, Debug, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
}

impl From<&packet::RrResult> for Latency {
    fn from(r: &packet::RrResult) -> Self {
        Latency {
            p50: r.p50_us,
            p99: r.p99_us,
            p999: r.p999_us,
        }
    }
}

/// One datapath's row. Numbers are `null` when the datapath cannot meet the requirements.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub name: String,
    pub supported: bool,
    /// Why not, with its source, when `supported` is false.
    pub unsupported: Vec<capability::Refusal>,
    /// All flows together, Gb/s, from the packet-level engine.
    pub goodput_gbps: Option<f64>,
    pub latency_us: Option<Latency>,
    /// The same exchanges while `load_flows` bulk flows share the path (absent without load).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loaded_latency_us: Option<Latency>,
    /// CPU seconds per gigabit, both hosts together.
    pub cpu_s_per_gbit: Option<f64>,
    /// The MTU a container sees.
    pub mtu: u32,
    pub goodput_ratio_to_host: Option<f64>,
    pub latency_ratio_to_host: Option<f64>,
    pub cpu_ratio_to_host: Option<f64>,
    pub packets_per_s: Option<f64>,
    pub drops: Option<u64>,
    /// What limits the goodput in the analytic steady state (a CPU role, or `link`).
    pub bottleneck: Option<String>,
    /// The flow-level engine's goodput for the same flows, Gb/s.
    pub flow_level_goodput_gbps: Option<f64>,
    /// CPU seconds per gigabit spent in each stage, measured by the packet-level engine.
    pub stage_cpu: Vec<packet::StageCpu>,
}

impl Row {
    fn unsupported(d: Datapath, mtu: u32, why: Vec<capability::Refusal>) -> Row {
        Row {
            name: d.to_string(),
            supported: false,
            unsupported: why,
            goodput_gbps: None,
            latency_us: None,
            loaded_latency_us: None,
            cpu_s_per_gbit: None,
            mtu,
            goodput_ratio_to_host: None,
            latency_ratio_to_host: None,
            cpu_ratio_to_host: None,
            packets_per_s: None,
            drops: None,
            bottleneck: None,
            flow_level_goodput_gbps: None,
            stage_cpu: Vec::new(),
        }
    }
}

/// The whole comparison.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub link_gbps: f64,
    pub msg_size: u32,
    pub app_ns_per_byte: f64,
    pub flows: u32,
    pub qdisc: crate::qdisc::Qdisc,
    /// Bulk flows under the loaded latency (0: not measured).
    pub load_flows: u32,
    pub profile: String,
    pub platform: String,
    pub requirements: Vec<String>,
    pub datapaths: Vec<Row>,
    /// A hash of every number above; equal inputs give equal digests.
    pub digest: String,
}

#[derive(Clone)]
struct Measured {
    goodput: f64,
    latency: Latency,
    loaded: Option<Latency>,
    cpu: f64,
    pps: f64,
    drops: u64,
    bottleneck: String,
    flow_level: f64,
    stages: Vec<packet::StageCpu>,
}

fn measure(profile: &Profile, spec: &CompareSpec, d: Datapath) -> Measured {
    let opts = Options {
        msg_size: spec.msg_size,
        mss: None,
        app_ns_per_byte: spec.app_ns_per_byte,
        congestion: spec.congestion,
        qdisc: spec.qdisc,
    };
    let pipe = Pipeline::new(profile, &spec.platform, d, &opts);
    let s = packet::stream(&pipe, &StreamConfig::flows(spec.flows));
    let rr = packet::request_response(&pipe, spec.transactions);
    let loaded = (spec.load_flows > 0).then(|| {
        Latency::from(&packet::request_response_loaded(
            &pipe,
            spec.transactions,
            spec.load_flows,
        ))
    });
    let flows: Vec<FlowSpec> = (0..spec.flows.max(1))
        .map(|_| FlowSpec {
            src: 0,
            dst: 1,
            datapath: d,
        })
        .collect();
    let fl = flow::allocate(profile, &spec.platform, 2, &flows, &opts)
        .expect("two hosts and flows between them are valid");
    Measured {
        goodput: s.goodput_gbps,
        latency: Latency::from(&rr),
        loaded,
        cpu: s.cpu_s_per_gbit,
        pps: s.packets_per_s,
        drops: s.drops,
        bottleneck: pipe.steady(spec.flows).bottleneck,
        flow_level: fl.gbps.iter().sum(),
        stages: s.stages,
    }
}

/// Runs the comparison.
pub fn compare(profile: &Profile, spec: &CompareSpec) -> Comparison {
    use rayon::prelude::*;
    let host_dp = Datapath::plain(Base::Host);
    let refusals: Vec<Vec<capability::Refusal>> = spec
        .datapaths
        .iter()
        .map(|&d| {
            spec.requirements
                .iter()
                .filter_map(|&r| capability::check(d, r).err())
                .collect()
        })
        .collect();
    // Each datapath is simulated on its own (in parallel); rows and the digest are assembled
    // in input order, so the output does not depend on the thread count.
    let mut todo: Vec<Datapath> = vec![host_dp];
    todo.extend(
        spec.datapaths
            .iter()
            .zip(&refusals)
            .filter(|(d, r)| r.is_empty() && **d != host_dp)
            .map(|(d, _)| *d),
    );
    let results: Vec<(Datapath, Measured)> = todo
        .par_iter()
        .map(|&d| (d, measure(profile, spec, d)))
        .collect();
    let host = &results[0].1;
    let mut digest = Digest::new();
    let rows = spec
        .datapaths
        .iter()
        .zip(refusals)
        .map(|(&d, refusals)| {
            let mtu = d.pod_mtu(spec.platform.mtu);
            // The row's name and whether it is supported are part of the result too.
            let name: Vec<u64> = d
                .to_string()
                .as_bytes()
                .chunks(8)
                .map(|c| c.iter().fold(0u64, |a, &b| a << 8 | b as u64))
                .collect();
            digest.record(SimTime::from_nanos(0), 1, &name);
            digest.record(SimTime::from_nanos(0), 2, &[refusals.len() as u64]);
            let Some((_, m)) = results
                .iter()
                .find(|(x, _)| *x == d)
                .filter(|_| refusals.is_empty())
            else {
                return Row::unsupported(d, mtu, refusals);
            };
            let m = m.clone();
            digest.record(
                SimTime::from_nanos(0),
                3,
                &[
                    m.goodput.to_bits(),
                    m.latency.p50.to_bits(),
                    m.latency.p99.to_bits(),
                    m.latency.p999.to_bits(),
                    m.cpu.to_bits(),
                    m.pps.to_bits(),
                    m.drops,
                    m.flow_level.to_bits(),
                    mtu as u64,
                ],
            );
            // Recorded only when measured: digests without load stay as they were.
            if let Some(l) = &m.loaded {
                digest.record(
                    SimTime::from_nanos(0),
                    4,
                    &[l.p50.to_bits(), l.p99.to_bits(), l.p999.to_bits()],
                );
            }
            Row {
                name: d.to_string(),
                supported: true,
                unsupported: Vec::new(),
                goodput_gbps: Some(m.goodput),
                latency_ratio_to_host: Some(m.latency.p50 / host.latency.p50),
                latency_us: Some(m.latency),
                loaded_latency_us: m.loaded,
                cpu_s_per_gbit: Some(m.cpu),
                mtu,
                goodput_ratio_to_host: Some(m.goodput / host.goodput),
                cpu_ratio_to_host: Some(m.cpu / host.cpu),
                packets_per_s: Some(m.pps),
                drops: Some(m.drops),
                bottleneck: Some(m.bottleneck),
                flow_level_goodput_gbps: Some(m.flow_level),
                stage_cpu: m.stages,
            }
        })
        .collect();
    Comparison {
        link_gbps: spec.platform.link_gbps,
        msg_size: spec.msg_size,
        app_ns_per_byte: spec.app_ns_per_byte,
        flows: spec.flows.max(1),
        qdisc: spec.qdisc,
        load_flows: spec.load_flows,
        profile: profile.name.clone(),
        platform: spec.platform.name.clone(),
        requirements: spec.requirements.iter().map(|r| r.to_string()).collect(),
        datapaths: rows,
        digest: digest.hex(),
    }
}

/// One stage in `net explain`.
#[derive(Clone, Debug, Serialize)]
pub struct StageCost {
    pub stage: &'static str,
    pub role: Role,
    pub trigger: Trigger,
    /// CPU ns per wire packet of payload (the stage's cost per byte × MSS).
    pub ns_per_packet: f64,
    /// Share of the whole path's CPU cost per packet.
    pub share: f64,
    /// Share of the stage's cost on the latency path.
    pub on_path: f64,
    /// Profile constants the cost is built from.
    pub params: String,
}

/// A latency stage of one request/response message in `net explain`.
#[derive(Clone, Debug, Serialize)]
pub struct LatencyCost {
    pub stage: &'static str,
    /// `None` for the NIC and the wire.
    pub role: Option<Role>,
    /// On-path ns of one message.
    pub ns: f64,
    pub share: f64,
}

/// `net explain`: the pipeline of one datapath with each stage's share.
#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    pub datapath: String,
    pub profile: String,
    pub platform: String,
    pub mtu: u32,
    pub mss: u32,
    pub overhead_bytes: u32,
    pub segment_bytes: u32,
    pub packets_per_segment: u32,
    pub acks_per_segment: f64,
    pub ns_per_packet: f64,
    pub stages: Vec<StageCost>,
    pub cores: Vec<(Role, f64)>,
    pub steady_goodput_gbps: f64,
    pub bottleneck: String,
    pub latency_stages: Vec<LatencyCost>,
    pub rtt_us: f64,
    pub capabilities: Capabilities,
}

pub fn explain(profile: &Profile, platform: &Platform, d: Datapath, opts: &Options) -> Explanation {
    let msg_size = opts.msg_size;
    let pipe = Pipeline::new(profile, platform, d, opts);
    let mss = pipe.mss as f64;
    let per_pkt: Vec<f64> = pipe
        .stages
        .iter()
        .map(|s| pipe.stage_ns_per_byte(s) * mss)
        .collect();
    let total: f64 = per_pkt.iter().sum();
    let stages = pipe
        .stages
        .iter()
        .zip(&per_pkt)
        .map(|(s, &c)| StageCost {
            stage: s.name,
            role: s.role,
            trigger: s.trigger,
            ns_per_packet: c,
            share: c / total,
            on_path: s.on_path,
            params: s.params.clone(),
        })
        .collect();
    let pkts = pipe.rr_packets() as f64;
    let lat: Vec<f64> = pipe
        .rr_stages
        .iter()
        .map(|s| s.cost(pkts, msg_size as f64) * s.on_path)
        .collect();
    let wire = pipe.rr_wire_ns() as f64;
    let one_way: f64 = lat.iter().sum::<f64>() + wire;
    let mut latency_stages: Vec<LatencyCost> = pipe
        .rr_stages
        .iter()
        .zip(&lat)
        .map(|(s, &ns)| LatencyCost {
            stage: s.name,
            role: Some(s.role),
            ns,
            share: ns / one_way,
        })
        .collect();
    latency_stages.push(LatencyCost {
        stage: "NIC serialisation + wire",
        role: None,
        ns: wire,
        share: wire / one_way,
    });
    let steady = pipe.steady(1);
    Explanation {
        datapath: d.to_string(),
        profile: profile.name.clone(),
        platform: platform.name.clone(),
        mtu: pipe.pod_mtu,
        mss: pipe.mss,
        overhead_bytes: d.overhead_bytes(),
        segment_bytes: pipe.seg_bytes,
        packets_per_segment: pipe.pkts_per_seg,
        acks_per_segment: pipe.acks_per_seg,
        ns_per_packet: total,
        stages,
        cores: steady.per_core.iter().map(|&(r, c)| (r, c * mss)).collect(),
        steady_goodput_gbps: steady.goodput_gbps,
        bottleneck: steady.bottleneck,
        latency_stages,
        rtt_us: pipe.rr_rtt_ns() / 1000.0,
        capabilities: capability::capabilities(d),
    }
}
