//! `net compare`, `net explain` and `net profile`: container network datapaths on a platform,
//! from the cost profile — the options checked, the engines run, their tables and the JSON
//! contract (README, "orchsim net") — and the network `bench` rows.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use orchsim_net::capability::Requirement;
use orchsim_net::compare::{self, CompareSpec, Comparison};
use orchsim_net::{Datapath, Platform, Profile};
use orchsim_report::{Cell, Table};

use crate::error::Error;
use crate::render::View;

/// What every `net` command models: the profile, the platform and the workload's shape.
#[derive(Clone, Debug)]
pub struct NetSetup {
    /// A cost profile (TOML); default the compiled-in one.
    pub profile: Option<PathBuf>,
    /// A platform of the profile; default its `default_platform`.
    pub platform: Option<String>,
    /// Link rate such as `10g` or `500m`; default the platform's.
    pub link: Option<String>,
    /// Bytes per application write and per request/response message.
    pub msg_size: u32,
    /// A NIC that cannot offload tunnelled TCP.
    pub no_tunnel_offload: bool,
    /// The application's own CPU work per payload byte, ns on the reference CPU.
    pub app_ns_per_byte: f64,
    /// The senders' congestion control: `reno` (the calibration's) or `cubic` (Linux's default).
    pub congestion: String,
    /// The NICs' queue discipline: `fq_codel` (the distributions' default) or `pfifo`.
    pub qdisc: String,
    /// Extra one-way delay on the path, ms (a long link), and the share of packets it loses.
    pub delay_ms: f64,
    pub loss: f64,
}

/// `net compare`'s request.
#[derive(Clone, Debug)]
pub struct CompareRequest {
    pub setup: NetSetup,
    /// `all` or a comma-separated list of datapaths.
    pub datapaths: String,
    /// Parallel bulk TCP flows between the two hosts.
    pub flows: u32,
    /// What the workload needs (`isolation`, `encryption`, `cross-subnet`, protocols).
    pub require: Vec<String>,
    /// Request/response exchanges measured for the latency percentiles.
    pub transactions: u32,
    /// Bulk flows sharing the path while the exchanges are measured again (0: idle path only).
    pub load: u32,
    /// Worker threads (default all cores); results do not depend on it.
    pub jobs: Option<usize>,
}

/// `net explain`'s request.
#[derive(Clone, Debug)]
pub struct ExplainRequest {
    pub setup: NetSetup,
    /// The datapath, e.g. `calico-bgp`.
    pub datapath: String,
}

/// The cost profile at `path`, or the compiled-in one.
pub fn load_profile(path: Option<&Path>) -> Result<Profile, Error> {
    match path {
        None => Ok(Profile::default_profile()),
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                Error::bad_input(format!("{}: cannot read the profile: {e}", p.display()))
            })?;
            Ok(Profile::parse(&p.display().to_string(), &text)?)
        }
    }
}

/// Parses `10g`, `100G`, `2.5g`, `500m`, `10` (Gb/s) into Gb/s.
fn parse_link(s: &str) -> Result<f64, Error> {
    let t = s.trim().to_ascii_lowercase();
    let t = t
        .strip_suffix("bps")
        .or_else(|| t.strip_suffix("bit/s"))
        .unwrap_or(&t);
    let (num, scale) = match t.chars().last() {
        Some('g') => (&t[..t.len() - 1], 1.0),
        Some('m') => (&t[..t.len() - 1], 1e-3),
        Some('t') => (&t[..t.len() - 1], 1e3),
        _ => (t, 1.0),
    };
    match num.parse::<f64>() {
        Ok(v) if v.is_finite() && v * scale >= 1e-3 && v * scale <= 1e4 => Ok(v * scale),
        _ => Err(Error::bad_input(format!(
            "--link: expected a rate such as 10g, 40g, 100g, 2.5g or 500m (from 1m to 10t), found `{s}`"
        ))),
    }
}

/// The platform the common options describe, and the pipeline options, both checked.
fn setup(profile: &Profile, c: &NetSetup) -> Result<(Platform, orchsim_net::Options), Error> {
    let name = c.platform.as_deref().unwrap_or(&profile.default_platform);
    let mut p = profile.platform(name).map_err(Error::bad_input)?.clone();
    if let Some(link) = &c.link {
        if p.underlay == orchsim_net::profile::Underlay::Veth {
            return Err(Error::bad_input(format!(
                "--link: platform `{name}` has no physical link (hosts are namespaces joined by veth)"
            )));
        }
        p.link_gbps = parse_link(link)?;
    }
    if c.no_tunnel_offload {
        p.tunnel_offload = false;
    }
    if !(0.0..=1000.0).contains(&c.delay_ms) {
        return Err(Error::bad_input(format!(
            "--delay-ms: expected 0 to 1000 ms one way, found {}",
            c.delay_ms
        )));
    }
    p.propagation_ns += (c.delay_ms * 1e6).round() as u64;
    if !(0.0..0.5).contains(&c.loss) {
        return Err(Error::bad_input(format!(
            "--loss: expected a share of packets from 0 to below 0.5, e.g. 0.0001, found {}",
            c.loss
        )));
    }
    p.loss = c.loss;
    if !(0.0..=1e6).contains(&c.app_ns_per_byte) {
        return Err(Error::bad_input(format!(
            "--app-ns-per-byte: expected 0 to 1000000, found {}",
            c.app_ns_per_byte
        )));
    }
    if !(1..=16 << 20).contains(&c.msg_size) {
        return Err(Error::bad_input(format!(
            "--msg-size: expected 1 to 16777216 bytes, found {}",
            c.msg_size
        )));
    }
    let congestion = c
        .congestion
        .parse()
        .map_err(|e| Error::bad_input(format!("--cc: {e}")))?;
    let qdisc = c
        .qdisc
        .parse()
        .map_err(|e| Error::bad_input(format!("--qdisc: {e}")))?;
    let opts = orchsim_net::Options {
        msg_size: c.msg_size,
        mss: None,
        app_ns_per_byte: c.app_ns_per_byte,
        congestion,
        qdisc,
    };
    Ok((p, opts))
}

fn datapaths(list: &str) -> Result<Vec<Datapath>, Error> {
    if list.trim() == "all" {
        return Ok(Datapath::all().collect());
    }
    let mut out: Vec<Datapath> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let d: Datapath = name
            .parse()
            .map_err(|e| Error::bad_input(format!("--datapaths: {e}")))?;
        if out.contains(&d) {
            return Err(Error::bad_input(format!(
                "--datapaths: `{d}` is listed twice"
            )));
        }
        out.push(d);
    }
    if out.is_empty() {
        return Err(Error::bad_input(
            "--datapaths: expected `all` or at least one datapath",
        ));
    }
    Ok(out)
}

fn opt(x: Option<f64>, d: usize) -> Cell {
    match x {
        Some(v) if v.is_finite() => Cell::Float(v, d),
        _ => Cell::Empty,
    }
}

/// `net compare`'s table columns; `live net` sets its measurements beside the model's in the
/// same ones.
pub const COMPARE_COLUMNS: [&str; 13] = [
    "datapath",
    "supported",
    "goodput_gbps",
    "goodput_x_host",
    "p50_us",
    "p99_us",
    "p999_us",
    "latency_x_host",
    "cpu_s_per_gbit",
    "cpu_x_host",
    "mtu",
    "bottleneck",
    "flow_level_gbps",
];

/// The columns `net compare --load` adds.
const LOADED_COLUMNS: [&str; 3] = ["loaded_p50_us", "loaded_p99_us", "loaded_p999_us"];

fn compare_table(c: &Comparison) -> Result<Table, Error> {
    let mut columns = COMPARE_COLUMNS.to_vec();
    if c.load_flows > 0 {
        columns.extend(LOADED_COLUMNS);
    }
    let mut t = Table::new(columns);
    for r in &c.datapaths {
        let lat = r.latency_us.as_ref();
        let loaded = r.loaded_latency_us.as_ref();
        let mut row = vec![
            r.name.clone().into(),
            if r.supported { "yes" } else { "no" }.into(),
            opt(r.goodput_gbps, 3),
            opt(r.goodput_ratio_to_host, 3),
            opt(lat.map(|l| l.p50), 1),
            opt(lat.map(|l| l.p99), 1),
            opt(lat.map(|l| l.p999), 1),
            opt(r.latency_ratio_to_host, 3),
            opt(r.cpu_s_per_gbit, 4),
            opt(r.cpu_ratio_to_host, 2),
            Cell::UInt(r.mtu as u64),
            r.bottleneck.clone().map_or(Cell::Empty, Cell::from),
            opt(r.flow_level_goodput_gbps, 3),
        ];
        if c.load_flows > 0 {
            row.extend([
                opt(loaded.map(|l| l.p50), 1),
                opt(loaded.map(|l| l.p99), 1),
                opt(loaded.map(|l| l.p999), 1),
            ]);
        }
        t.push(row)?;
    }
    Ok(t)
}

/// `net compare`: every requested datapath against host networking.
pub fn compare(a: &CompareRequest) -> Result<View, Error> {
    let profile = load_profile(a.setup.profile.as_deref())?;
    let (platform, opts) = setup(&profile, &a.setup)?;
    if !(1..=256).contains(&a.flows) {
        return Err(Error::bad_input(format!(
            "--flows: expected 1 to 256, found {}",
            a.flows
        )));
    }
    if !(1..=1_000_000).contains(&a.transactions) {
        return Err(Error::bad_input(format!(
            "--transactions: expected 1 to 1000000, found {}",
            a.transactions
        )));
    }
    if a.load > 256 {
        return Err(Error::bad_input(format!(
            "--load: expected 0 to 256 bulk flows, found {}",
            a.load
        )));
    }
    let requirements = a
        .require
        .iter()
        .map(|r| {
            r.trim()
                .parse::<Requirement>()
                .map_err(|e| Error::bad_input(format!("--require: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let spec = CompareSpec {
        platform,
        datapaths: datapaths(&a.datapaths)?,
        flows: a.flows,
        msg_size: opts.msg_size,
        requirements,
        transactions: a.transactions,
        app_ns_per_byte: opts.app_ns_per_byte,
        congestion: opts.congestion,
        qdisc: opts.qdisc,
        load_flows: a.load,
    };
    if a.jobs == Some(0) {
        return Err(Error::bad_input("--jobs: expected at least 1"));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(crate::run::threads(a.jobs, spec.datapaths.len()))
        .build()?;
    let c = pool.install(|| compare::compare(&profile, &spec));
    let json = serde_json::to_string_pretty(&c)?;
    let mut text = String::new();
    let p = &spec.platform;
    writeln!(text,
        "profile {}, platform {} ({} Gb/s link{}, MTU {}, {} threads, CPU ×{}); {} flow(s), {}-byte messages",
        c.profile,
        c.platform,
        p.link_gbps,
        if p.link_gbps == 0.0 { ": none, veth" } else { "" },
        p.mtu,
        p.threads,
        p.cpu_factor,
        c.flows,
        c.msg_size
    )?;
    let table = compare_table(&c)?;
    write!(text, "{}", table.to_text())?;
    for r in c.datapaths.iter().filter(|r| !r.supported) {
        for why in &r.unsupported {
            writeln!(
                text,
                "{}: cannot meet `{}`: {}",
                r.name, why.requirement, why.reason
            )?;
        }
    }
    writeln!(text,
        "latency: {}-byte request/response on an idle path; the model has no scheduler noise, so the percentiles coincide",
        c.msg_size
    )?;
    if c.load_flows > 0 {
        writeln!(
            text,
            "loaded latency: the same exchanges while {} bulk flow(s) send the same way, behind {}{}",
            c.load_flows,
            c.qdisc,
            match c.qdisc {
                orchsim_net::qdisc::Qdisc::FqCodel =>
                    " (a message waits for the packet on the wire, not the backlog)",
                orchsim_net::qdisc::Qdisc::Pfifo =>
                    " (a message waits behind every queued packet)",
            }
        )?;
    }
    writeln!(text, "digest {}", c.digest)?;

    let mut view = View::of(table);
    view.json_text = Some(json);
    view.text = Some(text);
    Ok(view)
}

/// `net explain`: one datapath's stages, per-CPU load, latency budget and capabilities.
pub fn explain(a: &ExplainRequest) -> Result<View, Error> {
    let profile = load_profile(a.setup.profile.as_deref())?;
    let (platform, opts) = setup(&profile, &a.setup)?;
    let d: Datapath = a
        .datapath
        .parse()
        .map_err(|e| Error::bad_input(format!("--datapath: {e}")))?;
    let e = compare::explain(&profile, &platform, d, &opts);
    let mut stages = Table::new([
        "stage",
        "cpu",
        "unit",
        "ns_per_packet",
        "share",
        "on_path",
        "constants",
    ]);
    for s in &e.stages {
        stages.push(vec![
            s.stage.into(),
            s.role.name().into(),
            format!("{:?}", s.trigger).to_lowercase().into(),
            Cell::Float(s.ns_per_packet, 1),
            Cell::Float(s.share * 100.0, 1),
            Cell::Float(s.on_path, 2),
            s.params.clone().into(),
        ])?;
    }
    let json = serde_json::to_string_pretty(&e)?;
    let mut text = String::new();
    writeln!(text,
        "{} on {} (profile {}): pod MTU {}, MSS {}, {} header bytes; segments of {} B = {} packets, {:.2} ACKs each",
        e.datapath,
        e.platform,
        e.profile,
        e.mtu,
        e.mss,
        e.overhead_bytes,
        e.segment_bytes,
        e.packets_per_segment,
        e.acks_per_segment
    )?;
    writeln!(
        text,
        "\nBulk stream: CPU per wire packet of payload, {:.0} ns in all (share in %):",
        e.ns_per_packet
    )?;
    write!(text, "{}", stages.to_text())?;
    let cores: Vec<String> = e
        .cores
        .iter()
        .map(|(r, ns)| format!("{} {:.0} ns", r.name(), ns))
        .collect();
    writeln!(text, "per CPU and packet: {}", cores.join(", "))?;
    writeln!(
        text,
        "one flow: {:.2} Gb/s, limited by {}",
        e.steady_goodput_gbps, e.bottleneck
    )?;
    let mut lat = Table::new(["stage", "cpu", "ns", "share"]);
    for s in &e.latency_stages {
        lat.push(vec![
            s.stage.into(),
            s.role.map_or("nic + wire", orchsim_net::Role::name).into(),
            Cell::Float(s.ns, 0),
            Cell::Float(s.share * 100.0, 1),
        ])?;
    }
    writeln!(
        text,
        "\nOne {}-byte message, one way (round trip {:.1} µs):",
        a.setup.msg_size, e.rtt_us
    )?;
    write!(text, "{}", lat.to_text())?;
    let c = &e.capabilities;
    let protos: Vec<String> = c
        .protocols
        .iter()
        .map(|(p, ok)| format!("{p} {}", if *ok { "yes" } else { "no" }))
        .collect();
    writeln!(text, "\ncarries: {}", protos.join(", "))?;
    writeln!(text, "isolation: {}", c.isolation.unwrap_or("none"))?;
    writeln!(text, "encryption: {}", c.encryption.unwrap_or("none"))?;
    writeln!(
        text,
        "hosts in different subnets: {}",
        c.same_subnet_only
            .map_or("yes".to_string(), |why| format!("no: {why}"))
    )?;

    let mut view = View::of(stages);
    view.json_text = Some(json);
    view.text = Some(text);
    Ok(view)
}

/// `net profile`: every constant with its unit, kind and source, and the platforms.
pub fn profile(path: Option<&Path>) -> Result<View, Error> {
    let profile = load_profile(path)?;
    let mut t = Table::new(["constant", "value", "unit", "kind", "source"]);
    for (name, p) in &profile.entries {
        t.push(vec![
            name.clone().into(),
            Cell::Float(p.value, 4),
            p.unit.clone().into(),
            format!("{:?}", p.kind).to_lowercase().into(),
            p.source.clone().into(),
        ])?;
    }
    let mut plats = Table::new([
        "platform",
        "cpu_factor",
        "link_gbps",
        "mtu",
        "threads",
        "rx_llc",
        "underlay",
        "description",
    ]);
    for p in profile.platforms.values() {
        plats.push(vec![
            p.name.clone().into(),
            Cell::Float(p.cpu_factor, 4),
            Cell::Float(p.link_gbps, 1),
            Cell::UInt(p.mtu as u64),
            Cell::UInt(p.threads as u64),
            if p.rx_llc { "yes" } else { "no" }.into(),
            format!("{:?}", p.underlay).to_lowercase().into(),
            p.description.clone().into(),
        ])?;
    }
    let json = serde_json::json!({
        "profile": profile.name,
        "description": profile.description,
        "default_platform": profile.default_platform,
        "constants": t.to_json_rows(),
        "platforms": plats.to_json_rows(),
    });
    let mut text = String::new();
    writeln!(text, "profile {}: {}", profile.name, profile.description)?;
    writeln!(
        text,
        "CPU costs are ns on the reference CPU; a platform's cpu_factor scales them.\n"
    )?;
    write!(text, "{}", t.to_text())?;
    writeln!(text, "\nplatforms (default {}):", profile.default_platform)?;
    write!(text, "{}", plats.to_text())?;

    let mut view = View::of(t);
    view.json = Some(json);
    view.text = Some(text);
    Ok(view)
}

/// What `net proxy` is asked.
#[derive(Clone, Debug)]
pub struct ProxyRequest {
    pub profile: Option<PathBuf>,
    /// Service ports in the cluster, one row per mode for each.
    pub services: Vec<u64>,
    /// Endpoints per Service.
    pub endpoints: f64,
    /// Modes, comma-separated (`all`: iptables, nftables, ipvs, swarm).
    pub modes: String,
}

/// `orchsim net proxy`: what Service load balancing costs per mode and cluster size — the
/// rules a node holds, a new connection's first packet (its extra time over one lookup and
/// its CPU), a sync's time, and the §7 benchmark's first-packet round trip the model was
/// fitted to.
pub fn proxy(r: &ProxyRequest) -> Result<View, Error> {
    use orchsim_net::service_proxy::{Cluster, Costs, Mode};
    let profile = load_profile(r.profile.as_deref())?;
    let modes: Vec<Mode> = if r.modes == "all" {
        Mode::ALL.to_vec()
    } else {
        r.modes
            .split(',')
            .map(|m| {
                m.trim()
                    .parse::<Mode>()
                    .map_err(|e| Error::bad_input(format!("--modes: {e}")))
            })
            .collect::<Result<_, _>>()?
    };
    if r.services.is_empty() || r.services.iter().any(|&s| s == 0 || s > 1_000_000) {
        return Err(Error::bad_input(
            "--services: expected Service counts from 1 to 1000000, e.g. 5000,10000,30000",
        ));
    }
    if !(r.endpoints.is_finite() && r.endpoints >= 1.0 && r.endpoints <= 10_000.0) {
        return Err(Error::bad_input(format!(
            "--endpoints: expected from 1 to 10000 endpoints per Service, found {}",
            r.endpoints
        )));
    }
    let costs = Costs::new(&profile.params);
    let mut t = Table::new([
        "mode",
        "services",
        "endpoints",
        "rules",
        "first_packet_extra_p50_us",
        "first_packet_extra_p99_us",
        "first_packet_cpu_us",
        "sync_ms",
        "bench_rtt_p50_us",
        "bench_rtt_p99_us",
    ]);
    for &services in &r.services {
        for &mode in &modes {
            let c = Cluster {
                services,
                endpoints: r.endpoints,
            };
            let us = |ns: f64| Cell::Float(ns / 1e3, 2);
            t.push(vec![
                mode.name().into(),
                Cell::UInt(services),
                Cell::Float(r.endpoints, 1),
                costs.rules(mode, c).map_or(Cell::Empty, Cell::UInt),
                us(costs.first_packet_extra_quantile(mode, c, 0.5)),
                us(costs.first_packet_extra_quantile(mode, c, 0.99)),
                us(costs.first_packet_cpu_ns(mode, c)),
                if mode == Mode::Swarm {
                    Cell::Empty
                } else {
                    Cell::Float(costs.sync_ns(mode, c) / 1e6, 1)
                },
                us(costs.bench_rtt_quantile(mode, services, 0.5)),
                us(costs.bench_rtt_quantile(mode, services, 0.99)),
            ])?;
        }
    }
    let mut text = t.to_text();
    text.push_str(
        "\nfirst_packet_*: a new connection's first packet, over one lookup: its walk of the rules\n\
         (conntrack carries the rest of the connection past them).\n\
         sync_ms: one kube-proxy sync (iptables rewrites O(rules); nftables, IPVS apply what changed).\n\
         bench_rtt_*: the first-packet round trip of the benchmark the model is fitted to\n\
         (network-measurements.md section 7; `orchsim net profile`: the kp_* constants).\n",
    );
    for m in &modes {
        if let Some(w) = m.warning() {
            writeln!(text, "warning: {w}")?;
        }
    }
    let mut view = View::of(t);
    view.text = Some(text);
    Ok(view)
}

/// `orchsim bench` rows: the packet-level engine over every datapath (one flow, 100 GbE, 25 ms
/// simulated each; `events` counts stage traversals) and one flow-level recomputation of
/// 10,000 flows on 1,000 hosts; best of `repeat`.
pub fn bench_rows(repeat: usize, t: &mut Table) -> Result<(), Error> {
    use orchsim_net::flow::{allocate, random_flows};
    use orchsim_net::packet::{stream, StreamConfig};
    use orchsim_net::{Options, Pipeline};
    use std::time::Instant;

    let profile = Profile::default_profile();
    let fast = profile
        .platform("cilium-bench")
        .map_err(Error::bad_input)?
        .clone();
    let cfg = StreamConfig {
        flows: 1,
        warmup_ns: Some(5_000_000),
        measure_ns: Some(20_000_000),
    };
    let pipes: Vec<Pipeline> = Datapath::all()
        .map(|d| Pipeline::new(&profile, &fast, d, &Options::default()))
        .collect();
    let mut best = f64::MAX;
    let mut events = 0;
    for _ in 0..repeat {
        let started = Instant::now();
        events = pipes
            .iter()
            .map(|p| stream(p, &cfg).stage_events)
            .sum::<u64>();
        best = best.min(started.elapsed().as_secs_f64());
    }
    let row = |name: &str, wall: f64, events: Option<u64>| -> Vec<Cell> {
        vec![
            name.into(),
            Cell::Float(wall, 6),
            events.map_or(Cell::Empty, Cell::UInt),
            events.map_or(Cell::Empty, |e| Cell::Float(e as f64 / wall, 0)),
            Cell::Empty,
            Cell::Empty,
            Cell::Empty,
        ]
    };
    t.push(row("net/packet-stream-all-datapaths", best, Some(events)))?;
    let ten_g = profile
        .platform(&profile.default_platform)
        .map_err(Error::bad_input)?
        .clone();
    let all: Vec<Datapath> = Datapath::all().collect();
    let flows = random_flows(1000, 10_000, &all, 7);
    let mut best = f64::MAX;
    for _ in 0..repeat {
        let started = Instant::now();
        allocate(&profile, &ten_g, 1000, &flows, &Options::default())?;
        best = best.min(started.elapsed().as_secs_f64());
    }
    t.push(row("net/flow-level-10k-flows-1k-hosts", best, None))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_rates_parse() {
        assert_eq!(parse_link("10g").ok(), Some(10.0));
        assert_eq!(parse_link("100G").ok(), Some(100.0));
        assert_eq!(parse_link("2.5g").ok(), Some(2.5));
        assert_eq!(parse_link("500m").ok(), Some(0.5));
        assert_eq!(parse_link("25").ok(), Some(25.0));
        for bad in ["", "fast", "-1g", "0", "nan", "1e9g", "0.5m"] {
            assert!(parse_link(bad).is_err(), "{bad}");
        }
    }
}
