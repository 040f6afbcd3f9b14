//! `[ipam]`: pod addresses. Each host gets a subnet of the cluster's range, as flannel leases
//! a /24 per node (kube-controller-manager's `--node-cidr-mask-size` 24) and the CNI
//! `host-local` plugin allocates from it; an application may have a reservation pool of its
//! own (the seed platform's customisation), from which its pods take addresses wherever they
//! run and to which a deleted pod's address returns.
//!
//! ```toml
//! [ipam]
//! cluster_cidr = "10.244.0.0/16"   # flannel's default Network
//! host_prefix = 24                 # each host's subnet: 2^(32−24) − 3 = 253 pod addresses
//! pools = { web = 32 }             # web's pods take their addresses from 32 reserved ones
//! ```
//!
//! A pod gets its address when its node's kubelet sets up its sandbox (CNI ADD), and gives it
//! back when its container stops for good; a container restarted in place keeps it. A pod that
//! finds no free address waits, as a kubelet retries a failed CNI ADD, and takes the next one
//! freed. Application pools need a datapath that routes each pod's address wherever it runs
//! (Calico's /32 routes); flannel routes a host's subnet to its host. The pools' last-in
//! first-out reuse is the seed platform's; Calico's own IPAM defers reuse as host-local does.
//! Docker's overlay hands out one network-wide subnet, which host subnets do not model.
//! [`HostSubnet`] and [`Pool`] are the allocators, pure.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use serde::Deserialize;
use toml::Spanned;

use crate::scenario::{Locator, ScenarioError};

/// flannel's default `Network` (Documentation/configuration.md: "10.244.0.0/16" in
/// kube-flannel.yml), and its default `SubnetLen` 24 (= kube-controller-manager
/// `--node-cidr-mask-size` for IPv4).
pub const DEFAULT_CLUSTER_CIDR: &str = "10.244.0.0/16";
pub const DEFAULT_HOST_PREFIX: u8 = 24;

/// Addresses of a subnet host-local does not hand out: the network address, the gateway (the
/// subnet's first address, on the host's bridge: host-local `gateway` default) and the
/// broadcast address (host-local `rangeEnd` default: the last address before it).
pub const RESERVED_PER_SUBNET: u32 = 3;

/// The validated `[ipam]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ipam {
    pub cluster: Ipv4Addr,
    pub cluster_prefix: u8,
    pub host_prefix: u8,
    /// Workload index → the size of its reservation pool.
    pub pools: BTreeMap<usize, u32>,
}

impl Ipam {
    /// Subnets the cluster range holds.
    pub fn subnets(&self) -> u64 {
        1u64 << (self.host_prefix - self.cluster_prefix)
    }

    /// Pod addresses in one host's subnet.
    pub fn per_host(&self) -> u32 {
        (1u32 << (32 - self.host_prefix)).saturating_sub(RESERVED_PER_SUBNET)
    }

    /// Host `i`'s subnet base address, if the range has one for it. Pools are carved from the
    /// top of the range, so hosts get the subnets below them.
    pub fn host_subnet(&self, i: usize) -> Option<u32> {
        let available = self.subnets().saturating_sub(self.pool_subnets());
        ((i as u64) < available)
            .then(|| u32::from(self.cluster) + ((i as u32) << (32 - self.host_prefix)))
    }

    /// Subnets the pools take, from the top of the range.
    pub fn pool_subnets(&self) -> u64 {
        let total: u64 = self.pools.values().map(|&n| u64::from(n)).sum();
        total.div_ceil(1u64 << (32 - self.host_prefix))
    }

    /// The first address of the pools' region.
    fn pools_base(&self) -> u32 {
        let top = u32::from(self.cluster) as u64 + (1u64 << (32 - self.cluster_prefix));
        (top - self.pool_subnets() * (1u64 << (32 - self.host_prefix))) as u32
    }

    /// Each pool's addresses, in workload order, packed from the pools' region.
    pub fn pool_ranges(&self) -> BTreeMap<usize, (u32, u32)> {
        let mut next = u64::from(self.pools_base());
        self.pools
            .iter()
            .map(|(&w, &n)| {
                let r = (next as u32, n);
                next += u64::from(n);
                (w, r)
            })
            .collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIpam {
    cluster_cidr: Option<Spanned<String>>,
    host_prefix: Option<Spanned<i64>>,
    #[serde(default)]
    pools: BTreeMap<String, Spanned<i64>>,
}

/// Validates `[ipam]` against the workloads' names and the datapath (pools need one that
/// routes single addresses: Calico's).
pub(crate) fn validate(
    loc: &Locator,
    raw: &RawIpam,
    workloads: &[String],
    datapath: orchsim_net::Datapath,
) -> Result<Ipam, ScenarioError> {
    let (cidr, cidr_span) = match &raw.cluster_cidr {
        Some(c) => (c.get_ref().as_str(), Some(c.span())),
        None => (DEFAULT_CLUSTER_CIDR, None),
    };
    let bad_cidr = || {
        loc.error(
            cidr_span.clone(),
            "ipam.cluster_cidr",
            format!("expected an IPv4 range such as \"10.244.0.0/16\" (address/prefix up to /28, the address aligned to the prefix), found \"{cidr}\""),
        )
    };
    let (addr, prefix) = cidr.split_once('/').ok_or_else(bad_cidr)?;
    let addr: Ipv4Addr = addr.parse().map_err(|_| bad_cidr())?;
    let cluster_prefix: u8 = prefix.parse().map_err(|_| bad_cidr())?;
    // flannel refuses a Network smaller than /28.
    if !(1..=28).contains(&cluster_prefix)
        || u32::from(addr) & !(u32::MAX << (32 - cluster_prefix)) != 0
    {
        return Err(bad_cidr());
    }
    let host_prefix = match &raw.host_prefix {
        // flannel: SubnetLen 24, or the Network's prefix + 2 for a Network smaller than /22.
        None if cluster_prefix <= 22 => DEFAULT_HOST_PREFIX,
        None => (cluster_prefix + 2).min(30),
        Some(p) => {
            let v = *p.get_ref();
            if !(i64::from(cluster_prefix)..=30).contains(&v) {
                return Err(loc.error(
                    Some(p.span()),
                    "ipam.host_prefix",
                    format!("expected a host subnet prefix from the cluster range's /{cluster_prefix} to /30, found {v}"),
                ));
            }
            v as u8
        }
    };
    let mut pools = BTreeMap::new();
    for (name, size) in &raw.pools {
        let field = format!("ipam.pools.{name}");
        let Some(w) = workloads.iter().position(|x| x == name) else {
            return Err(loc.error(
                Some(size.span()),
                &field,
                format!(
                    "expected the name of a workload ({}), found `{name}`",
                    workloads.join(", ")
                ),
            ));
        };
        let n = *size.get_ref();
        if !(1..=i64::from(u32::MAX)).contains(&n) {
            return Err(loc.error(
                Some(size.span()),
                &field,
                format!("expected a pool of at least 1 address, found {n}"),
            ));
        }
        if !matches!(
            datapath.base,
            orchsim_net::Base::CalicoBgp
                | orchsim_net::Base::CalicoIpip
                | orchsim_net::Base::CalicoVxlan
        ) {
            return Err(loc.error(
                Some(size.span()),
                &field,
                format!("an application's address pool needs a datapath that routes each pod's address wherever it runs (Calico's /32 routes: calico-bgp, calico-ipip, calico-vxlan); {datapath} routes each host's subnet to its host"),
            ));
        }
        pools.insert(w, n as u32);
    }
    let ipam = Ipam {
        cluster: addr,
        cluster_prefix,
        host_prefix,
        pools,
    };
    if ipam.pool_subnets() > ipam.subnets() {
        return Err(loc.error(
            cidr_span,
            "ipam.pools",
            format!(
                "the pools need {} addresses, more than {cidr} holds",
                ipam.pools.values().map(|&n| u64::from(n)).sum::<u64>()
            ),
        ));
    }
    Ok(ipam)
}

/// A host's subnet as CNI host-local allocates it: round robin from the address after the
/// last one handed out (its `lastReservedIP`), so a freed address is not handed out again
/// until the others have been. Only the addresses in use are stored.
#[derive(Clone, Debug)]
pub struct HostSubnet {
    /// Offsets from the subnet base in use; offsets 2 ..= size − 2 are usable.
    taken: BTreeSet<u32>,
    last: u32,
    first: u32,
    end: u32,
    pub capacity: u32,
    pub peak: u32,
}

impl HostSubnet {
    pub fn new(size_bits: u8) -> HostSubnet {
        let size = 1u64 << size_bits;
        let end = size.saturating_sub(2).max(1) as u32;
        HostSubnet {
            taken: BTreeSet::new(),
            last: 1,
            first: 2,
            end,
            capacity: end.saturating_sub(1),
            peak: 0,
        }
    }

    /// The next free address after the last one given, wrapping; `None` when all are taken.
    pub fn take(&mut self) -> Option<u32> {
        if self.taken.len() as u32 >= self.capacity {
            return None;
        }
        let after = (self.last + 1..=self.end).find(|o| !self.taken.contains(o));
        let next = after.or_else(|| (self.first..=self.last).find(|o| !self.taken.contains(o)))?;
        self.taken.insert(next);
        self.last = next;
        self.peak = self.peak.max(self.taken.len() as u32);
        Some(next)
    }

    pub fn give_back(&mut self, offset: u32) {
        self.taken.remove(&offset);
    }
}

/// An application's reservation pool: the address its last deleted pod gave back is the
/// first its next pod takes (so a replacement keeps its predecessor's address, which is what
/// the pool is for: firewall rules and allowlists keyed by address stay valid).
#[derive(Clone, Debug)]
pub struct Pool {
    /// The next address never used yet (from `first` up to `first + capacity`), and those
    /// given back, most recent last.
    fresh: u32,
    returned: Vec<u32>,
    pub capacity: u32,
    pub peak: u32,
    in_use: u32,
    /// Addresses handed out that an earlier pod of the application had held.
    pub reused: u64,
    first: u32,
}

impl Pool {
    pub fn new(base: u32, size: u32) -> Pool {
        Pool {
            fresh: 0,
            returned: Vec::new(),
            capacity: size,
            peak: 0,
            in_use: 0,
            reused: 0,
            first: base,
        }
    }

    pub fn take(&mut self) -> Option<u32> {
        let ip = match self.returned.pop() {
            Some(ip) => {
                self.reused += 1;
                ip
            }
            None if self.fresh < self.capacity => {
                self.fresh += 1;
                self.first + self.fresh - 1
            }
            None => return None,
        };
        self.in_use += 1;
        self.peak = self.peak.max(self.in_use);
        Some(ip)
    }

    pub fn give_back(&mut self, ip: u32) {
        self.in_use -= 1;
        self.returned.push(ip);
    }

    /// The pool's first address.
    pub fn first(&self) -> u32 {
        self.first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// host-local hands out .2 to .254 of a /24 in turn and comes back to a freed one only
    /// after the end of the range.
    #[test]
    fn a_host_subnet_allocates_round_robin_like_host_local() {
        let mut s = HostSubnet::new(8);
        assert_eq!(s.capacity, 253);
        assert_eq!((s.take(), s.take(), s.take()), (Some(2), Some(3), Some(4)));
        s.give_back(3);
        assert_eq!(s.take(), Some(5));
        let rest: Vec<u32> = std::iter::from_fn(|| s.take()).collect();
        assert_eq!(rest.len(), 250);
        assert_eq!(
            *rest.last().unwrap(),
            3,
            "the freed address comes back last"
        );
        assert_eq!(s.take(), None);
        assert_eq!(s.peak, 253);
    }

    #[test]
    fn a_pool_gives_a_returned_address_to_the_next_pod() {
        let mut p = Pool::new(100, 3);
        assert_eq!((p.take(), p.take()), (Some(100), Some(101)));
        p.give_back(100);
        assert_eq!(p.take(), Some(100));
        assert_eq!(p.reused, 1);
        assert_eq!(p.take(), Some(102));
        assert_eq!(p.take(), None);
        assert_eq!(p.peak, 3);
    }

    #[test]
    fn pools_sit_above_the_host_subnets() {
        let ipam = Ipam {
            cluster: Ipv4Addr::new(10, 244, 0, 0),
            cluster_prefix: 16,
            host_prefix: 24,
            pools: [(0, 300), (2, 10)].into_iter().collect(),
        };
        assert_eq!(ipam.per_host(), 253);
        // 310 addresses take two /24s at the top: hosts get the 254 below.
        assert_eq!(ipam.pool_subnets(), 2);
        assert!(ipam.host_subnet(253).is_some());
        assert!(ipam.host_subnet(254).is_none());
        let r = ipam.pool_ranges();
        assert_eq!(Ipv4Addr::from(r[&0].0), Ipv4Addr::new(10, 244, 254, 0));
        assert_eq!(Ipv4Addr::from(r[&2].0), Ipv4Addr::new(10, 244, 255, 44));
    }
}
