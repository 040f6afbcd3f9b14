//! Request/response traffic between services priced per message: what one message of a given
//! size costs the sending and the receiving host's CPU, the wire, and the idle one-way latency,
//! on a datapath between two hosts or between two pods of one host.
//!
//! The bulk pipeline's costs per byte assume full GSO segments; a service's requests are
//! messages of a few hundred bytes to a few hundred KiB, whose per-call and per-packet costs
//! dominate. So a message is priced with the pipeline's request/response stages
//! ([`Pipeline::rr_stages`]), as the packet-level engine's request/response test runs them.
//!
//! Between two pods of one host a message never reaches the datapath or a NIC. That path is
//! priced as the `host` datapath's stages without a link (the host's own TCP/IP stack on both
//! sides), the same for every datapath: the cluster view's same-host traffic cannot depend on
//! an encapsulation it never touches. The two pods' veth hops are not charged (on a veth
//! platform the `host` stages' underlay traversal stands in for them).

use serde::Serialize;

use crate::datapath::{Base, Datapath};
use crate::pipeline::{Options, Pipeline};
use crate::profile::{Platform, Profile};

/// What one message costs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MessageCost {
    /// CPU ns on the sending host (application send, daemons, crypto, NIC softirq).
    pub sender_cpu_ns: f64,
    /// CPU ns on the receiving host.
    pub receiver_cpu_ns: f64,
    /// Bytes on the wire, headers included (0 between pods of one host).
    pub wire_bytes: f64,
    /// Idle one-way latency, ns: the CPU work on the path plus serialisation and propagation.
    pub one_way_ns: f64,
    /// The CPU part of `one_way_ns` (what queues behind other work on a loaded host).
    pub cpu_path_ns: f64,
}

/// Where a message goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Path {
    /// Between pods of one host: no datapath, no NIC.
    SameHost,
    /// Between hosts, over the datapath.
    CrossHost(Datapath),
}

/// The cost of one message of `bytes` payload bytes on `path`.
pub fn message_cost(profile: &Profile, platform: &Platform, path: Path, bytes: u32) -> MessageCost {
    let opts = Options {
        msg_size: bytes.max(1),
        mss: None,
        app_ns_per_byte: 0.0,
        ..Default::default()
    };
    let (datapath, link) = match path {
        Path::SameHost => (Datapath::plain(Base::Host), false),
        Path::CrossHost(d) => (d, true),
    };
    let pipe = Pipeline::new(profile, platform, datapath, &opts);
    let packets = pipe.rr_packets() as f64;
    let bytes = pipe.msg_size as f64;
    let mut out = MessageCost {
        sender_cpu_ns: 0.0,
        receiver_cpu_ns: 0.0,
        wire_bytes: 0.0,
        one_way_ns: 0.0,
        cpu_path_ns: 0.0,
    };
    for s in &pipe.rr_stages {
        let c = s.cost(packets, bytes);
        if s.role.on_sender() {
            out.sender_cpu_ns += c * s.busy;
        } else {
            out.receiver_cpu_ns += c * s.busy;
        }
        out.cpu_path_ns += c * s.on_path;
    }
    out.one_way_ns = out.cpu_path_ns;
    if link {
        out.wire_bytes =
            bytes + packets * f64::from(pipe.wire_bytes_per_pkt.saturating_sub(pipe.mss));
        out.one_way_ns += pipe.rr_wire_ns() as f64;
    }
    out
}

/// A link's line rate in bytes per second on `platform` (to compare with wire bytes) (`None`: no link, a veth
/// underlay without a rate).
pub fn link_bytes_per_s(platform: &Platform) -> Option<f64> {
    (platform.link_gbps > 0.0).then(|| platform.link_gbps * 1e9 / 8.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> (Profile, Platform) {
        let p = Profile::default_profile();
        let plat = p.platform("reference-10g").unwrap().clone();
        (p, plat)
    }

    #[test]
    fn same_host_messages_cost_no_wire_and_less_than_crossing_hosts() {
        let (p, plat) = reference();
        let local = message_cost(&p, &plat, Path::SameHost, 1024);
        assert_eq!(local.wire_bytes, 0.0);
        assert!(local.sender_cpu_ns > 0.0 && local.receiver_cpu_ns > 0.0);
        let host = message_cost(
            &p,
            &plat,
            Path::CrossHost(Datapath::plain(Base::Host)),
            1024,
        );
        // The same stages, plus the wire.
        assert!(host.one_way_ns > local.one_way_ns);
        assert!(host.wire_bytes > 1024.0);
    }

    #[test]
    fn encapsulation_costs_more_than_routing_and_flannel_udp_most() {
        let (p, plat) = reference();
        let cpu = |name: &str| {
            let d: Datapath = name.parse().unwrap();
            let c = message_cost(&p, &plat, Path::CrossHost(d), 8192);
            c.sender_cpu_ns + c.receiver_cpu_ns
        };
        // Within one plugin: routes, then VXLAN in the kernel, then flanneld's userspace hop.
        assert!(cpu("host") < cpu("flannel-host-gw"));
        assert!(cpu("flannel-host-gw") < cpu("flannel-vxlan"));
        assert!(cpu("flannel-vxlan") < cpu("flannel-udp"));
        assert!(cpu("calico-bgp") < cpu("calico-vxlan"));
    }

    #[test]
    fn wire_bytes_count_every_packet_header() {
        let (p, plat) = reference();
        let d: Datapath = "flannel-vxlan".parse().unwrap();
        let one = message_cost(&p, &plat, Path::CrossHost(d), 100);
        let many = message_cost(&p, &plat, Path::CrossHost(d), 100_000);
        let per_pkt_one = one.wire_bytes - 100.0;
        // 100 kB crosses in many packets, each with the same headers.
        assert!(many.wire_bytes - 100_000.0 > 50.0 * per_pkt_one);
    }
}
