//! What each datapath can carry and enforce: protocols, isolation, encryption, MTU.
//!
//! Every "no" cites where it comes from. Asking a datapath for something it cannot do gives a
//! [`Refusal`] with that reason, never a number.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::datapath::{Base, Datapath, Encryption};

/// Traffic a workload may need carried between pods on different hosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    Sctp,
    /// IP multicast between pods on different hosts.
    Multicast,
}

impl Protocol {
    pub const ALL: [Protocol; 6] = [
        Protocol::Tcp,
        Protocol::Udp,
        Protocol::Icmp,
        Protocol::Icmpv6,
        Protocol::Sctp,
        Protocol::Multicast,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
            Protocol::Icmpv6 => "icmpv6",
            Protocol::Sctp => "sctp",
            Protocol::Multicast => "multicast",
        }
    }
}

impl FromStr for Protocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Protocol::ALL
            .into_iter()
            .find(|p| p.name() == s.to_ascii_lowercase())
            .ok_or_else(|| {
                format!(
                    "unknown protocol `{s}`; expected one of: {}",
                    Protocol::ALL.map(|p| p.name()).join(", ")
                )
            })
    }
}

/// A capability a workload may require of the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Requirement {
    Protocol(Protocol),
    /// NetworkPolicy (or an equivalent per-network isolation) enforced by the datapath.
    Isolation,
    Encryption,
    /// Pod-to-pod traffic between hosts in different L3 subnets (another rack behind a router,
    /// another cloud region or site), over an underlay that does not route pod addresses.
    CrossSubnet,
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Requirement::Protocol(p) => f.write_str(p.name()),
            Requirement::Isolation => f.write_str("isolation"),
            Requirement::Encryption => f.write_str("encryption"),
            Requirement::CrossSubnet => f.write_str("cross-subnet"),
        }
    }
}

impl FromStr for Requirement {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "isolation" | "policy" => Ok(Requirement::Isolation),
            "encryption" => Ok(Requirement::Encryption),
            "cross-subnet" => Ok(Requirement::CrossSubnet),
            other => other.parse().map(Requirement::Protocol).map_err(|_| {
                format!(
                    "unknown requirement `{other}`; expected isolation, encryption, cross-subnet or a protocol: {}",
                    Protocol::ALL.map(|p| p.name()).join(", ")
                )
            }),
        }
    }
}

/// Why a datapath cannot meet a requirement, with the source of that fact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub requirement: String,
    pub reason: &'static str,
}

/// How a datapath isolates workloads.
pub fn isolation(d: Datapath) -> Option<&'static str> {
    match d.base {
        Base::Host => None,
        // Docker: containers on different user-defined networks cannot reach each other.
        Base::Bridge | Base::Overlay => {
            Some("per network (Docker networks are isolated from each other)")
        }
        Base::FlannelUdp | Base::FlannelVxlan | Base::FlannelHostGw => None,
        Base::CalicoBgp | Base::CalicoIpip | Base::CalicoVxlan => {
            Some("Kubernetes NetworkPolicy and Calico policy (iptables chains)")
        }
    }
}

/// Checks one requirement; `Ok(())` when the datapath meets it.
pub fn check(d: Datapath, req: Requirement) -> Result<(), Refusal> {
    let refuse = |reason| {
        Err(Refusal {
            requirement: req.to_string(),
            reason,
        })
    };
    match req {
        Requirement::Isolation => match (d.base, isolation(d)) {
            (_, Some(_)) => Ok(()),
            (Base::Host, None) => refuse("host networking shares the host's network namespace: nothing separates pods"),
            _ => refuse("flannel has no network policy: \"Flannel is focused on networking. For network policy, other projects such as Calico can be used\" (flannel README)"),
        },
        Requirement::Encryption => {
            if d.encryption.is_some() {
                Ok(())
            } else {
                refuse("no encryption on this datapath: choose a +wireguard or +ipsec variant")
            }
        }
        Requirement::Protocol(p) => protocol(d, p).map_or(Ok(()), refuse),
        Requirement::CrossSubnet => cross_subnet(d).map_or(Ok(()), refuse),
    }
}

/// `None` if pods on hosts in different subnets can reach each other, else why not.
fn cross_subnet(d: Datapath) -> Option<&'static str> {
    match (d.base, d.encryption) {
        // Encryption backends tunnel (WireGuard/ESP outer packets carry host addresses).
        (_, Some(_)) => None,
        (Base::FlannelHostGw, None) => Some("host-gw \"requires direct layer2 connectivity between hosts\" (flannel Documentation/backends.md); use vxlan, or vxlan with DirectRouting"),
        (Base::CalicoBgp, None) => Some("unencapsulated Calico routes pod addresses on the underlay, which must be one L2 segment or BGP-peered routers; across subnets use IPIP or VXLAN (CrossSubnet mode) (Calico docs, \"Overlay networking\")"),
        _ => None,
    }
}

/// `None` if the datapath carries `p` between hosts, else why not.
fn protocol(d: Datapath, p: Protocol) -> Option<&'static str> {
    match p {
        // Every datapath here forwards IP packets of any protocol number. Calico routes them and
        // its policy matches TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite and protocol numbers 1-255
        // (Calico network policy reference, "protocol" field); the seed document's claim that
        // Calico carries only TCP/UDP/ICMP/ICMPv6 is about the protocols its policy names, not
        // what its routes forward.
        Protocol::Tcp | Protocol::Udp | Protocol::Icmp | Protocol::Sctp => None,
        Protocol::Icmpv6 => match (d.base, d.encryption) {
            (Base::CalicoIpip, None) => Some("IP-in-IP carries only IPv4 (Calico docs, \"Overlay networking\": IP in IP supports only IPv4)"),
            _ => None,
        },
        Protocol::Multicast => match d.base {
            Base::Host => None,
            Base::Bridge => Some("docker0 floods multicast only within one host; nothing carries it to other hosts"),
            Base::Overlay => Some("Docker's overlay uses unicast VXLAN and does not replicate multicast (moby/libnetwork#552, open; moby/moby#49733 closed unmerged)"),
            Base::FlannelUdp | Base::FlannelVxlan | Base::FlannelHostGw => Some("flannel routes one subnet per host; no multicast routing between hosts"),
            Base::CalicoBgp | Base::CalicoIpip | Base::CalicoVxlan => Some("Calico is pure L3 with /32 routes and proxy ARP: no broadcast domain, no multicast between hosts"),
        },
    }
}

/// The capability row of a datapath, for `net explain` and `net compare --format json`.
#[derive(Clone, Debug, Serialize)]
pub struct Capabilities {
    pub protocols: Vec<(&'static str, bool)>,
    pub isolation: Option<&'static str>,
    pub encryption: Option<&'static str>,
    /// `None` when hosts may sit in different subnets, else the restriction.
    pub same_subnet_only: Option<&'static str>,
}

pub fn capabilities(d: Datapath) -> Capabilities {
    Capabilities {
        protocols: Protocol::ALL
            .iter()
            .map(|&p| (p.name(), protocol(d, p).is_none()))
            .collect(),
        isolation: isolation(d),
        encryption: d.encryption.map(|e| match e {
            Encryption::WireGuard => "wireguard",
            Encryption::Ipsec => "ipsec",
        }),
        same_subnet_only: cross_subnet(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dp(s: &str) -> Datapath {
        s.parse().unwrap()
    }

    #[test]
    fn refusals_are_explicit_and_cited() {
        let r = check(dp("calico-ipip"), Requirement::Protocol(Protocol::Icmpv6)).unwrap_err();
        assert!(r.reason.contains("only IPv4"), "{r:?}");
        assert!(check(dp("calico-vxlan"), "icmpv6".parse().unwrap()).is_ok());
        let r = check(dp("flannel-vxlan"), Requirement::Isolation).unwrap_err();
        assert!(r.reason.contains("flannel"));
        assert!(check(dp("calico-bgp"), Requirement::Isolation).is_ok());
        let r = check(dp("overlay"), "multicast".parse().unwrap()).unwrap_err();
        assert!(r.reason.contains("libnetwork#552"));
        assert!(check(dp("calico-bgp"), "sctp".parse().unwrap()).is_ok());
        assert!(check(dp("overlay+ipsec"), Requirement::Encryption).is_ok());
        assert!(check(dp("overlay"), Requirement::Encryption).is_err());
        assert!("smtp"
            .parse::<Requirement>()
            .unwrap_err()
            .contains("multicast"));
    }
}
