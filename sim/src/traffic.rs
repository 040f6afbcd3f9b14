//! `[[traffic]]` and `[network]`'s charge to the hosts: which services call which, how often
//! and with what messages, and what the datapath's agents take from every host
//! (`presets/network-agents.toml`).
//!
//! ```toml
//! [network]
//! datapath = "calico-bgp"
//! platform = "reference-10g"  # the net profile's platform that prices each message
//!                             # (default: the profile's default platform)
//! agents = true               # the datapath's DaemonSet requests are reserved on every host
//!                             # and its idle use charged (default false: agents are free)
//! proxy = "nftables"          # Service load balancing: iptables (default), nftables, ipvs,
//!                             # or swarm (the default with the swarm preset)
//! services = 30000            # Service ports in the cluster, for the proxy's rules (default:
//!                             # one per workload)
//!
//! [[traffic]]
//! from = "frontend"           # the calling workload (its running pods share the load)
//! to = "api"                  # the called workload (each caller spreads over its pods)
//! requests_per_s = 2000       # all callers together
//! request_bytes = 512
//! response_bytes = 8192
//! port = 8080                 # the callee's port and protocol, for NetworkPolicy (80, tcp)
//! connection = "close"        # a connection per request: its handshake and the Service
//!                             # proxy's first packet (default "keep-alive": one reused)
//!
//! [[traffic]]
//! entry = "cluster"           # instead of `from`: clients outside the cluster, entering by
//! to = "frontend"             #   any node (the routing mesh) or "local" (only nodes running
//! requests_per_s = 500        #   the callee)
//! request_bytes = 600
//! response_bytes = 30000
//!
//! [[links]]                   # sites joined by a WAN link (needed between every two sites
//! sites = ["dc1", "cloud"]    #   when there is traffic): calls between them pay it
//! gbit_s = 1.0                # capacity each way
//! latency_ms = 8.0            # one way
//! cost_per_gb = 0.05          # per GB carried, either way
//! cost_per_hour = 0.05        # the link itself (a VPN gateway, a dedicated port)
//! ```

use orchsim_kernel::SimDuration;
use orchsim_net::policy::{Endpoint, PolicySet, Protocol, Side};
use orchsim_net::{Base, Datapath};
use serde::Deserialize;
use toml::Spanned;

use crate::scenario::{workload_index, Locator, ScenarioError};
use crate::values_file::{self, Key, Unit, ValuesFile};

/// The compiled-in agents' values.
pub const DEFAULTS: &str = include_str!("../presets/network-agents.toml");

/// Largest message a traffic edge may name: 64 MiB (a request larger than that is a bulk
/// transfer, not a service call).
pub const MAX_MESSAGE_BYTES: i64 = 64 << 20;

const KEYS: &[Key] = &[
    (
        "flannel_request_cpu_milli",
        Unit::Millicores,
        "flanneld's DaemonSet CPU request",
    ),
    (
        "flannel_request_memory_mib",
        Unit::Mebibytes,
        "flanneld's DaemonSet memory request",
    ),
    (
        "flannel_idle_cpu_milli",
        Unit::Millicores,
        "flannel + kube-proxy idle CPU per node",
    ),
    (
        "flannel_idle_memory_mib",
        Unit::Mebibytes,
        "flannel + kube-proxy idle memory per node",
    ),
    (
        "calico_request_cpu_milli",
        Unit::Millicores,
        "calico-node's DaemonSet CPU request",
    ),
    (
        "calico_request_memory_mib",
        Unit::Mebibytes,
        "calico-node's DaemonSet memory request",
    ),
    (
        "calico_idle_cpu_milli",
        Unit::Millicores,
        "calico + kube-proxy idle CPU per node",
    ),
    (
        "calico_idle_memory_mib",
        Unit::Mebibytes,
        "calico + kube-proxy idle memory per node",
    ),
    (
        "docker_request_cpu_milli",
        Unit::Millicores,
        "Docker networking's reservation",
    ),
    (
        "docker_request_memory_mib",
        Unit::Mebibytes,
        "Docker networking's reservation",
    ),
    (
        "docker_idle_cpu_milli",
        Unit::Millicores,
        "Docker networking's idle CPU",
    ),
    (
        "docker_idle_memory_mib",
        Unit::Mebibytes,
        "Docker networking's idle memory",
    ),
];

/// The agents' values file, checked.
pub fn defaults() -> ValuesFile {
    values_file::parse(
        "network-agents",
        "presets/network-agents.toml",
        DEFAULTS,
        KEYS,
    )
    .unwrap_or_else(|e| panic!("compiled-in network agents' values are broken: {e}"))
}

/// What a datapath's agents take from one host.
#[derive(Clone, Debug, PartialEq)]
pub struct Agents {
    /// The agents' family in `presets/network-agents.toml` (`none` for host networking).
    pub family: &'static str,
    /// Reserved by their DaemonSet: the scheduler places pods in what is left.
    pub request_cpu_milli: u64,
    pub request_memory_bytes: u64,
    /// Used when idle: taken from the host's CPU before any traffic.
    pub idle_cpu_milli: f64,
    pub idle_memory_mib: f64,
}

impl Agents {
    /// The agents `datapath` runs on every host.
    pub fn of(datapath: Datapath) -> Agents {
        let family = match datapath.base {
            Base::Host => {
                return Agents {
                    family: "none",
                    request_cpu_milli: 0,
                    request_memory_bytes: 0,
                    idle_cpu_milli: 0.0,
                    idle_memory_mib: 0.0,
                }
            }
            Base::Bridge | Base::Overlay => "docker",
            Base::FlannelUdp | Base::FlannelVxlan | Base::FlannelHostGw => "flannel",
            Base::CalicoBgp | Base::CalicoIpip | Base::CalicoVxlan => "calico",
        };
        let v = defaults().values;
        let num = |k: &str| values_file::number(&v[&format!("{family}_{k}")].0).unwrap_or(0.0);
        Agents {
            family,
            request_cpu_milli: num("request_cpu_milli").round() as u64,
            request_memory_bytes: (num("request_memory_mib") * 1024.0 * 1024.0).round() as u64,
            idle_cpu_milli: num("idle_cpu_milli"),
            idle_memory_mib: num("idle_memory_mib"),
        }
    }
}

/// Who makes an edge's calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A workload's running pods (its index).
    Workload(usize),
    /// Clients outside the cluster, through its nodes' published port.
    Outside(Entry),
}

/// How calls from outside enter the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// Through any live node, which forwards each call to any of the callee's pods (Swarm's
    /// ingress routing mesh; Kubernetes NodePort/LoadBalancer with `externalTrafficPolicy:
    /// Cluster`): the client's share of the nodes, an extra hop when the pod is elsewhere.
    Cluster,
    /// Only through nodes running the callee, each serving its calls with its own pods
    /// (Swarm's `mode=host` publishing; `externalTrafficPolicy: Local`): no extra hop, the
    /// nodes sharing alike however many pods each runs.
    Local,
}

impl Caller {
    /// `traffic.csv`'s `from`: the workload's name, or `outside:cluster`, `outside:local`.
    pub fn name(self, workloads: &[crate::scenario::Workload]) -> String {
        match self {
            Caller::Workload(w) => workloads[w].name.clone(),
            Caller::Outside(Entry::Cluster) => "outside:cluster".into(),
            Caller::Outside(Entry::Local) => "outside:local".into(),
        }
    }
}

/// One validated edge of the service graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Traffic {
    pub from: Caller,
    /// The callee's workload index.
    pub to: usize,
    pub requests_per_s: f64,
    pub request_bytes: u32,
    pub response_bytes: u32,
    /// The port and protocol the callee serves on (NetworkPolicy's ports).
    pub port: u16,
    pub protocol: Protocol,
    /// `connection = "close"`: every request opens a connection (its handshake, and the
    /// Service proxy's first-packet walk); `"keep-alive"` (the default) reuses one, which
    /// conntrack then carries past the proxy's rules.
    pub new_connection: bool,
    /// With `[network] policies`: whether NetworkPolicy allows the connection, and which
    /// policies decide (`None` without policies).
    pub verdict: Option<EdgeVerdict>,
}

/// NetworkPolicy's answer for one edge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeVerdict {
    pub allowed: bool,
    /// `namespace/name` of the policies that allow it, or that isolate and deny it.
    pub by: Vec<String>,
}

/// `[network] policies`, read.
#[derive(Clone, Debug, PartialEq)]
pub struct Policies {
    pub count: usize,
    /// Why the datapath does not enforce them (`None`: it does).
    pub not_enforced: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTraffic {
    from: Option<Spanned<String>>,
    entry: Option<Spanned<String>>,
    to: Spanned<String>,
    requests_per_s: Spanned<f64>,
    request_bytes: Spanned<i64>,
    response_bytes: Spanned<i64>,
    port: Option<Spanned<i64>>,
    protocol: Option<Spanned<String>>,
    connection: Option<Spanned<String>>,
}

/// Reads `[network] policies` (Kubernetes NetworkPolicy YAML files, through `files`) and gives
/// every traffic edge its verdict: the workloads' pods as endpoints with their namespace and
/// labels (no address, so no `ipBlock` matches them).
pub(crate) fn read_policies(
    loc: &Locator,
    paths: &Spanned<Vec<String>>,
    files: &dyn crate::scenario::ScenarioFiles,
    datapath: Datapath,
    workloads: &[crate::scenario::Workload],
    traffic: &mut [Traffic],
) -> Result<Policies, ScenarioError> {
    let mut set = PolicySet {
        policies: Vec::new(),
        namespace_labels: Default::default(),
    };
    if paths.get_ref().is_empty() {
        return Err(loc.error(
            Some(paths.span()),
            "network.policies",
            "expected at least one NetworkPolicy YAML file".into(),
        ));
    }
    for path in paths.get_ref() {
        let (name, text) = files
            .read(path)
            .map_err(|e| loc.error(Some(paths.span()), "network.policies", e))?;
        let (policies, skipped) = orchsim_net::policy::parse_yaml(&name, &text)
            .map_err(|e| loc.error(Some(paths.span()), "network.policies", e.to_string()))?;
        // A Namespace's labels would change what namespaceSelectors match, and the scenario
        // has no place for them: refused rather than silently ignored.
        if !skipped.is_empty() {
            return Err(loc.error(
                Some(paths.span()),
                "network.policies",
                format!(
                    "{name}: expected NetworkPolicy documents only, found {} (a namespace here carries only its `kubernetes.io/metadata.name` label)",
                    skipped.join(", ")
                ),
            ));
        }
        for p in policies {
            if set
                .policies
                .iter()
                .any(|q| q.namespace == p.namespace && q.name == p.name)
            {
                return Err(loc.error(
                    Some(paths.span()),
                    "network.policies",
                    format!(
                        "{name}: NetworkPolicy {}/{} is defined twice",
                        p.namespace, p.name
                    ),
                ));
            }
            set.policies.push(p);
        }
    }
    let endpoint = |w: &crate::scenario::Workload| Endpoint {
        name: w.name.clone(),
        namespace: w.namespace.clone(),
        labels: w.labels.clone(),
        ip: None,
    };
    for t in traffic.iter_mut() {
        // A client outside has no address here: no policy can be asked about it.
        let Caller::Workload(from) = t.from else {
            continue;
        };
        let v = set.verdict(
            &endpoint(&workloads[from]),
            &endpoint(&workloads[t.to]),
            t.protocol,
            t.port,
        );
        let mut by = Vec::new();
        for side in [&v.egress, &v.ingress] {
            match side {
                Side::AllowedBy(p) | Side::Denied(p) => by.extend(p.iter().cloned()),
                Side::NotIsolated => {}
            }
        }
        t.verdict = Some(EdgeVerdict {
            allowed: v.allowed(),
            by,
        });
    }
    Ok(Policies {
        count: set.policies.len(),
        not_enforced: orchsim_net::policy::not_enforced(datapath),
    })
}

/// A WAN link between two sites.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub sites: [String; 2],
    /// Capacity each way.
    pub gbit_s: f64,
    /// One-way latency.
    pub latency: SimDuration,
    pub cost_per_gb: f64,
    pub cost_per_hour: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLink {
    sites: Spanned<Vec<String>>,
    gbit_s: Spanned<f64>,
    latency_ms: Spanned<f64>,
    #[serde(default)]
    cost_per_gb: Option<Spanned<f64>>,
    #[serde(default)]
    cost_per_hour: Option<Spanned<f64>>,
}

/// Validates `[[links]]` against the hosts' sites; with traffic, every two sites must be
/// joined (a call between sites without a link would have no way to go).
pub(crate) fn validate_links(
    loc: &Locator,
    raw: &[RawLink],
    sites: &[String],
    traffic: &[RawTraffic],
) -> Result<Vec<Link>, ScenarioError> {
    let mut out: Vec<Link> = Vec::with_capacity(raw.len());
    for (i, r) in raw.iter().enumerate() {
        let f = |k: &str| format!("links[{i}].{k}");
        let pair = r.sites.get_ref();
        let [a, b] = &pair[..] else {
            return Err(loc.error(
                Some(r.sites.span()),
                &f("sites"),
                format!("expected two sites, found {}", pair.len()),
            ));
        };
        for site in [a, b] {
            if !sites.contains(site) {
                return Err(loc.error(
                    Some(r.sites.span()),
                    &f("sites"),
                    format!("no host is in site `{site}`; sites: {}", sites.join(", ")),
                ));
            }
        }
        if a == b {
            return Err(loc.error(
                Some(r.sites.span()),
                &f("sites"),
                format!("expected two different sites, found `{a}` twice"),
            ));
        }
        if out
            .iter()
            .any(|l| l.sites.contains(a) && l.sites.contains(b))
        {
            return Err(loc.error(
                Some(r.sites.span()),
                &f("sites"),
                format!("`{a}` and `{b}` are already joined by an earlier link"),
            ));
        }
        let gbit_s = *r.gbit_s.get_ref();
        if !(gbit_s.is_finite() && gbit_s > 0.0 && gbit_s <= 1e6) {
            return Err(loc.error(
                Some(r.gbit_s.span()),
                &f("gbit_s"),
                format!("expected a capacity above 0 and at most 1e6 Gbit/s, found {gbit_s}"),
            ));
        }
        let ms = *r.latency_ms.get_ref();
        let latency = (ms.is_finite() && ms >= 0.0)
            .then(|| SimDuration::try_from_secs_f64(ms / 1e3))
            .flatten()
            .filter(|d| *d <= SimDuration::from_secs(60))
            .ok_or_else(|| {
                loc.error(
                    Some(r.latency_ms.span()),
                    &f("latency_ms"),
                    format!("expected a one-way latency from 0 to 60000 ms, found {ms}"),
                )
            })?;
        let money = |v: &Option<Spanned<f64>>, k: &str| -> Result<f64, ScenarioError> {
            match v {
                None => Ok(0.0),
                Some(x) if x.get_ref().is_finite() && *x.get_ref() >= 0.0 => Ok(*x.get_ref()),
                Some(x) => Err(loc.error(
                    Some(x.span()),
                    &f(k),
                    format!("expected a price of 0 or more, found {}", x.get_ref()),
                )),
            }
        };
        out.push(Link {
            sites: [a.clone(), b.clone()],
            gbit_s,
            latency,
            cost_per_gb: money(&r.cost_per_gb, "cost_per_gb")?,
            cost_per_hour: money(&r.cost_per_hour, "cost_per_hour")?,
        });
    }
    if let Some(first) = traffic.first() {
        for (i, a) in sites.iter().enumerate() {
            for b in &sites[i + 1..] {
                if !out
                    .iter()
                    .any(|l| l.sites.contains(a) && l.sites.contains(b))
                {
                    return Err(loc.error(
                        Some(first.to.span()),
                        "traffic[0]",
                        format!(
                            "hosts are in sites {} and calls may go between them: expected a `[[links]]` table joining `{a}` and `{b}` (sites = [\"{a}\", \"{b}\"], gbit_s, latency_ms)",
                            sites.join(", ")
                        ),
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// Validates `[[traffic]]` against the workloads' names.
pub(crate) fn validate(
    loc: &Locator,
    raw: &[RawTraffic],
    workloads: &[&str],
) -> Result<Vec<Traffic>, ScenarioError> {
    let mut out = Vec::with_capacity(raw.len());
    for (i, r) in raw.iter().enumerate() {
        let f = |k: &str| format!("traffic[{i}].{k}");
        let from = match (&r.from, &r.entry) {
            (Some(from), None) => Caller::Workload(workload_index(
                loc,
                &f("from"),
                from,
                workloads.iter().copied(),
            )?),
            (None, Some(e)) => Caller::Outside(match e.get_ref().as_str() {
                "cluster" => Entry::Cluster,
                "local" => Entry::Local,
                other => {
                    return Err(loc.error(
                        Some(e.span()),
                        &f("entry"),
                        format!("expected cluster or local, found `{other}`"),
                    ))
                }
            }),
            (Some(from), Some(_)) => {
                return Err(loc.error(
                    Some(from.span()),
                    &f("from"),
                    "expected `from` (a workload calls) or `entry` (clients outside call through the nodes), not both".into(),
                ))
            }
            (None, None) => {
                return Err(loc.error(
                    Some(r.to.span()),
                    &f("from"),
                    "expected `from` (the calling workload) or `entry = \"cluster\"` / `\"local\"` (clients outside the cluster)".into(),
                ))
            }
        };
        let to = workload_index(loc, &f("to"), &r.to, workloads.iter().copied())?;
        let rps = *r.requests_per_s.get_ref();
        if !(rps.is_finite() && rps > 0.0 && rps <= 1e9) {
            return Err(loc.error(
                Some(r.requests_per_s.span()),
                &f("requests_per_s"),
                format!("expected a rate above 0 and at most 1e9 requests per second, found {rps}"),
            ));
        }
        let size = |v: &Spanned<i64>, k: &str| -> Result<u32, ScenarioError> {
            let b = *v.get_ref();
            if !(1..=MAX_MESSAGE_BYTES).contains(&b) {
                return Err(loc.error(
                    Some(v.span()),
                    &f(k),
                    format!(
                        "expected a message size from 1 to {MAX_MESSAGE_BYTES} bytes, found {b}"
                    ),
                ));
            }
            Ok(b as u32)
        };
        let port = match &r.port {
            None => 80,
            Some(p) => u16::try_from(*p.get_ref())
                .ok()
                .filter(|&x| x > 0)
                .ok_or_else(|| {
                    loc.error(
                        Some(p.span()),
                        &f("port"),
                        format!("expected a port from 1 to 65535, found {}", p.get_ref()),
                    )
                })?,
        };
        let protocol = match r.protocol.as_ref().map(|p| (p, p.get_ref().as_str())) {
            None | Some((_, "tcp")) => Protocol::Tcp,
            Some((_, "udp")) => Protocol::Udp,
            Some((_, "sctp")) => Protocol::Sctp,
            Some((p, other)) => {
                return Err(loc.error(
                    Some(p.span()),
                    &f("protocol"),
                    format!("expected tcp, udp or sctp, found `{other}`"),
                ))
            }
        };
        let new_connection = match r.connection.as_ref().map(|c| (c, c.get_ref().as_str())) {
            None | Some((_, "keep-alive")) => false,
            Some((_, "close")) => true,
            Some((c, other)) => {
                return Err(loc.error(
                    Some(c.span()),
                    &f("connection"),
                    format!("expected keep-alive or close, found `{other}`"),
                ))
            }
        };
        out.push(Traffic {
            new_connection,
            from,
            to,
            requests_per_s: rps,
            request_bytes: size(&r.request_bytes, "request_bytes")?,
            response_bytes: size(&r.response_bytes, "response_bytes")?,
            port,
            protocol,
            verdict: None,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_datapath_has_its_agents_family() {
        for (name, family) in [
            ("host", "none"),
            ("bridge", "docker"),
            ("overlay", "docker"),
            ("flannel-udp", "flannel"),
            ("flannel-vxlan", "flannel"),
            ("flannel-host-gw", "flannel"),
            ("calico-bgp", "calico"),
            ("calico-ipip", "calico"),
            ("calico-vxlan+wireguard", "calico"),
        ] {
            assert_eq!(Agents::of(name.parse().unwrap()).family, family, "{name}");
        }
    }

    #[test]
    fn the_manifests_requests_and_the_measured_idle_use_are_read() {
        let calico = Agents::of("calico-vxlan".parse().unwrap());
        assert_eq!(calico.request_cpu_milli, 250);
        assert!((calico.idle_cpu_milli - 80.0 / 3.0).abs() < 0.1);
        let flannel = Agents::of("flannel-udp".parse().unwrap());
        assert_eq!(flannel.request_cpu_milli, 100);
        assert_eq!(flannel.request_memory_bytes, 50 << 20);
        assert_eq!(Agents::of("host".parse().unwrap()).request_cpu_milli, 0);
    }
}
