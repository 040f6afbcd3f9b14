//! NetworkPolicy enforced for real, the way Calico's Felix does it: selectors resolved to the
//! member pods' addresses, one nftables chain per policed pod on its host, entered from the
//! `forward` hook by the pod's host-side veth (towards the pod for ingress, from it for
//! egress). A chain `return`s what its rules allow — so a connection between two policed pods
//! of one host passes the source's egress chain and then the destination's ingress chain —
//! and drops the rest; what every chain let through is accepted by the base chain's policy,
//! and replies of allowed connections pass by connection tracking. Only the Calico datapaths enforce policy; on the
//! others policies are accepted and not enforced, which is what really happens (flannel has
//! no policy engine) and is said so.

use std::fmt::Write;

use orchsim_net::policy::{Endpoint, NetworkPolicy, Peer, PolicySet, PortRange, Rule};
use orchsim_net::{capability, Base};

use crate::datapath::Network;
use crate::sys;
use crate::LiveError;

/// What became of the policies on a network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Enforcement {
    /// Programmed: this many policed pod chains.
    Enforced { chains: usize },
    /// Accepted but not enforced on this datapath, and why.
    NotEnforced(String),
}

/// The nftables matches for `rule`'s peers (`saddr` for ingress, `daddr` for egress): one
/// entry per peer, `None` when the rule matches every peer. Pod selectors become the set of
/// the member pods' addresses, as Felix resolves them into IP sets; a selector with no
/// member matches nothing and is left out.
fn peer_matches(
    set: &PolicySet,
    policy: &NetworkPolicy,
    rule: &Rule,
    endpoints: &[Endpoint],
    dir: &str,
) -> Option<Vec<String>> {
    let peers = rule.peers.as_ref()?;
    Some(
        peers
            .iter()
            .filter_map(|p| match p {
                Peer::Block(b) => {
                    let mut m = format!("ip {dir} {}", b.cidr);
                    if !b.except.is_empty() {
                        let ex: Vec<String> = b.except.iter().map(|c| c.to_string()).collect();
                        write!(m, " ip {dir} != {{ {} }}", ex.join(", ")).expect("String");
                    }
                    Some(m)
                }
                Peer::Pods { .. } => {
                    let ips: Vec<String> = endpoints
                        .iter()
                        .filter(|e| set.peer_matches(p, &policy.namespace, e))
                        .filter_map(|e| e.ip.map(|ip| ip.to_string()))
                        .collect();
                    (!ips.is_empty()).then(|| format!("ip {dir} {{ {} }}", ips.join(", ")))
                }
            })
            .collect(),
    )
}

fn port_matches(ports: &Option<Vec<PortRange>>) -> Vec<String> {
    match ports {
        None => vec![String::new()],
        Some(ps) => ps
            .iter()
            .map(|p| match p.ports {
                None => format!("meta l4proto {}", p.protocol.name()),
                Some((a, b)) if a == b => format!("{} dport {a}", p.protocol.name()),
                Some((a, b)) => format!("{} dport {a}-{b}", p.protocol.name()),
            })
            .collect(),
    }
}

/// One pod's chain body: a `return` per (peer, port) of every rule of every policy that
/// isolates it in this direction, then `drop`.
fn chain(set: &PolicySet, pod: &Endpoint, endpoints: &[Endpoint], egress: bool) -> String {
    let dir = if egress { "daddr" } else { "saddr" };
    let mut body = String::new();
    for policy in &set.policies {
        let rules = if egress {
            &policy.egress
        } else {
            &policy.ingress
        };
        let selects = pod.namespace == policy.namespace && policy.pod_selector.matches(&pod.labels);
        let Some(rules) = rules.as_ref().filter(|_| selects) else {
            continue;
        };
        for rule in rules {
            let peers = peer_matches(set, policy, rule, endpoints, dir)
                .unwrap_or_else(|| vec![String::new()]);
            for peer in &peers {
                for port in port_matches(&rule.ports) {
                    let m = [peer.as_str(), port.as_str()]
                        .iter()
                        .filter(|s| !s.is_empty())
                        .copied()
                        .collect::<Vec<_>>()
                        .join(" ");
                    // Names are DNS-1123 labels (checked when read): safe inside the quotes.
                    writeln!(
                        body,
                        "    {m} return comment \"{}/{}\"",
                        policy.namespace, policy.name
                    )
                    .expect("String");
                }
            }
        }
    }
    body + "    drop\n"
}

/// Programs `set` on `net`, whose pods are `endpoints` (same order: labels, namespace and
/// address of each). On a datapath without a policy engine nothing is programmed and the
/// reason is returned.
pub fn enforce(
    net: &Network,
    endpoints: &[Endpoint],
    set: &PolicySet,
) -> Result<Enforcement, LiveError> {
    if endpoints.len() != net.pods.len() {
        return Err(LiveError::Input(format!(
            "{} endpoints for {} pods",
            endpoints.len(),
            net.pods.len()
        )));
    }
    let base = net.datapath.base;
    if !matches!(base, Base::CalicoBgp | Base::CalicoVxlan) {
        let why = match capability::check(net.datapath, capability::Requirement::Isolation) {
            Err(r) => r.reason.to_string(),
            Ok(()) => format!(
                "{}: isolates {}, not by Kubernetes NetworkPolicy",
                base.name(),
                capability::isolation(net.datapath).unwrap_or("nothing")
            ),
        };
        return Ok(Enforcement::NotEnforced(format!(
            "{base} does not enforce NetworkPolicy (policies accepted, not enforced): {why}",
            base = base.name()
        )));
    }
    let mut chains = 0;
    for (h, host_ns) in net.hosts.iter().enumerate() {
        let mut hook = String::from("    ct state established,related accept\n");
        let mut bodies = String::new();
        for (pod, ep) in net.pods.iter().zip(endpoints).filter(|(p, _)| p.host == h) {
            let dev = pod.host_if.as_deref().ok_or_else(|| {
                LiveError::Input(format!("pod {} has no host-side interface", pod.name))
            })?;
            for (egress, dir, iface) in [(false, "in", "oifname"), (true, "out", "iifname")] {
                if !set.isolated(ep, egress) {
                    continue;
                }
                let name = format!("{dir}_{}", pod.name);
                writeln!(hook, "    {iface} \"{dev}\" jump {name}").expect("String");
                write!(
                    bodies,
                    "  chain {name} {{\n{}  }}\n",
                    chain(set, ep, endpoints, egress)
                )
                .expect("String");
                chains += 1;
            }
        }
        // Declaring then deleting the table makes a second `enforce` replace the first
        // atomically (one nft transaction) instead of appending behind its drops.
        let ruleset = format!(
            "table inet orchsim_policy\ndelete table inet orchsim_policy\ntable inet orchsim_policy {{\n  chain forward {{\n    type filter hook forward priority filter; policy accept;\n{hook}  }}\n{bodies}}}\n"
        );
        sys::nft(host_ns, &ruleset)?;
    }
    Ok(Enforcement::Enforced { chains })
}
