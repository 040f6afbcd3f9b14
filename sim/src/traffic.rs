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
//!
//! [[traffic]]
//! from = "frontend"           # the calling workload (its running pods share the load)
//! to = "api"                  # the called workload (each caller spreads over its pods)
//! requests_per_s = 2000       # all callers together
//! request_bytes = 512
//! response_bytes = 8192
//! ```

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

/// One validated edge of the service graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Traffic {
    /// Workload indices.
    pub from: usize,
    pub to: usize,
    pub requests_per_s: f64,
    pub request_bytes: u32,
    pub response_bytes: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTraffic {
    from: Spanned<String>,
    to: Spanned<String>,
    requests_per_s: Spanned<f64>,
    request_bytes: Spanned<i64>,
    response_bytes: Spanned<i64>,
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
        let from = workload_index(loc, &f("from"), &r.from, workloads.iter().copied())?;
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
        out.push(Traffic {
            from,
            to,
            requests_per_s: rps,
            request_bytes: size(&r.request_bytes, "request_bytes")?,
            response_bytes: size(&r.response_bytes, "response_bytes")?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_values_are_valid_and_every_family_has_its_keys() {
        let d = defaults();
        assert_eq!(d.values.len(), KEYS.len());
        for name in [
            "host",
            "bridge",
            "overlay",
            "flannel-udp",
            "flannel-vxlan",
            "flannel-host-gw",
            "calico-bgp",
            "calico-ipip",
            "calico-vxlan",
        ] {
            let a = Agents::of(name.parse().unwrap());
            assert!(a.idle_cpu_milli <= a.request_cpu_milli as f64 || a.family == "docker");
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
