//! Pod addresses in the world (`[ipam]`, `crate::ipam`): a pod takes one from its
//! application's pool or its host's subnet when its kubelet sets up its sandbox, waits if
//! there is none, and gives it back when its container stops for good; every lease is kept so
//! that tests can check no address is ever held twice at once.

use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv4Addr;

use orchsim_kernel::{Kernel, SimTime};
use orchsim_sched::NodeId;

use super::{Event, PodState, World};
use crate::ipam::{HostSubnet, Ipam, Pool};

/// Where a pod's address comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Host(usize),
    Pool(usize),
}

/// One pod's hold on one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub ip: Ipv4Addr,
    pub pod: usize,
    pub from: SimTime,
    /// `None`: held at the end.
    pub to: Option<SimTime>,
}

/// One subnet's or pool's use over the run (`ipam.csv`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressScope {
    /// `host <name>` or `pool <workload>`.
    pub scope: String,
    pub first: Ipv4Addr,
    pub capacity: u32,
    pub peak: u32,
    /// Times a pod found no free address there.
    pub exhaustions: u64,
    /// Addresses handed out again to the same application (pools).
    pub reused: u64,
}

pub(crate) struct Addresses {
    hosts: Vec<Option<(u32, HostSubnet)>>,
    pools: BTreeMap<usize, Pool>,
    /// Pods waiting for an address, with the incarnation they wait in.
    waiting: BTreeMap<Source, VecDeque<(usize, u32)>>,
    exhaustions: BTreeMap<Source, u64>,
    /// Sources that got an address back during the current event.
    freed: Vec<Source>,
    /// Each pod's current lease.
    lease_of: BTreeMap<usize, (Source, u32, usize)>,
    pub(crate) leases: Vec<Lease>,
    pub(crate) hosts_without_subnet: u64,
}

impl Addresses {
    pub(super) fn new(cfg: &Ipam, nodes: usize) -> Addresses {
        let bits = 32 - cfg.host_prefix;
        let hosts: Vec<_> = (0..nodes)
            .map(|i| cfg.host_subnet(i).map(|base| (base, HostSubnet::new(bits))))
            .collect();
        Addresses {
            hosts_without_subnet: hosts.iter().filter(|h| h.is_none()).count() as u64,
            hosts,
            pools: cfg
                .pool_ranges()
                .into_iter()
                .map(|(w, (base, n))| (w, Pool::new(base, n)))
                .collect(),
            waiting: BTreeMap::new(),
            exhaustions: BTreeMap::new(),
            freed: Vec::new(),
            lease_of: BTreeMap::new(),
            leases: Vec::new(),
        }
    }

    /// A hosts without a subnet (the cluster range ran out): nothing may run there.
    pub(super) fn has_subnet(&self, node: usize) -> bool {
        self.hosts.get(node).is_some_and(|h| h.is_some())
    }

    fn take(&mut self, source: Source) -> Option<u32> {
        match source {
            Source::Host(n) => {
                let (base, s) = self.hosts.get_mut(n)?.as_mut()?;
                s.take().map(|o| *base + o)
            }
            Source::Pool(w) => self.pools.get_mut(&w)?.take(),
        }
    }

    fn give_back(&mut self, source: Source, ip: u32) {
        match source {
            Source::Host(n) => {
                if let Some((base, s)) = self.hosts.get_mut(n).and_then(|h| h.as_mut()) {
                    s.give_back(ip - *base);
                }
            }
            Source::Pool(w) => {
                if let Some(p) = self.pools.get_mut(&w) {
                    p.give_back(ip);
                }
            }
        }
        self.freed.push(source);
    }

    /// `pod` takes an address from `source` at `now`, if one is free.
    fn lease(&mut self, now: SimTime, pod: usize, source: Source) -> bool {
        let Some(ip) = self.take(source) else {
            return false;
        };
        self.lease_of.insert(pod, (source, ip, self.leases.len()));
        self.leases.push(Lease {
            ip: Ipv4Addr::from(ip),
            pod,
            from: now,
            to: None,
        });
        true
    }

    pub(crate) fn exhaustions(&self) -> u64 {
        self.exhaustions.values().sum()
    }

    pub(crate) fn reused(&self) -> u64 {
        self.pools.values().map(|p| p.reused).sum()
    }

    /// Every subnet in use and every pool, for `ipam.csv`.
    pub(crate) fn scopes(&self, node_names: &[String], workloads: &[String]) -> Vec<AddressScope> {
        let hosts = self.hosts.iter().enumerate().filter_map(|(i, h)| {
            let (base, s) = h.as_ref()?;
            Some(AddressScope {
                scope: format!("host {}", node_names[i]),
                first: Ipv4Addr::from(*base),
                capacity: s.capacity,
                peak: s.peak,
                exhaustions: self.exhaustions.get(&Source::Host(i)).copied().unwrap_or(0),
                reused: 0,
            })
        });
        let pools = self.pools.iter().map(|(&w, p)| AddressScope {
            scope: format!("pool {}", workloads[w]),
            first: Ipv4Addr::from(p.first()),
            capacity: p.capacity,
            peak: p.peak,
            exhaustions: self.exhaustions.get(&Source::Pool(w)).copied().unwrap_or(0),
            reused: p.reused,
        });
        hosts.chain(pools).collect()
    }
}

impl World<'_> {
    /// `pod`'s sandbox on `node` needs an address: true if it got one (or has one), false if
    /// it waits for one.
    pub(super) fn address_for(&mut self, k: &Kernel<Event>, pod: usize, node: NodeId) -> bool {
        let workload = self.pods[pod].workload;
        let incarnation = self.pods[pod].incarnation;
        let Some(a) = self.addresses.as_mut() else {
            return true;
        };
        if a.lease_of.contains_key(&pod) {
            return true;
        }
        // A host without a subnet has no pod network at all (it is cordoned; this is for a
        // pod that got there anyway): it waits there, for ever.
        let source = if a.pools.contains_key(&workload) && a.has_subnet(node.0) {
            Source::Pool(workload)
        } else {
            Source::Host(node.0)
        };
        if !a.lease(k.now(), pod, source) {
            *a.exhaustions.entry(source).or_default() += 1;
            a.waiting
                .entry(source)
                .or_default()
                .push_back((pod, incarnation));
            return false;
        }
        true
    }

    /// `pod`'s container stopped for good: its address goes back.
    pub(super) fn address_released(&mut self, now: SimTime, pod: usize) {
        let Some(a) = self.addresses.as_mut() else {
            return;
        };
        if let Some((source, ip, lease)) = a.lease_of.remove(&pod) {
            a.leases[lease].to = Some(now);
            a.give_back(source, ip);
        }
    }

    /// After an event: pods waiting where addresses were freed take them, in the order they
    /// came, and start.
    pub(super) fn serve_address_waiters(&mut self, k: &mut Kernel<Event>) {
        let Some(a) = self.addresses.as_mut() else {
            return;
        };
        let freed = std::mem::take(&mut a.freed);
        for source in freed {
            loop {
                let Some(a) = self.addresses.as_mut() else {
                    return;
                };
                let Some(&(pod, incarnation)) = a.waiting.get(&source).and_then(|q| q.front())
                else {
                    break;
                };
                let rec = &self.pods[pod];
                let stale = rec.incarnation != incarnation || rec.state != PodState::Starting;
                let Some(node) = rec.node.filter(|_| !stale) else {
                    a.waiting.get_mut(&source).map(|q| q.pop_front());
                    continue;
                };
                let a = self.addresses.as_mut().expect("checked above");
                if !a.lease(k.now(), pod, source) {
                    break;
                }
                a.waiting.get_mut(&source).map(|q| q.pop_front());
                let delay = self.pull_and_start(k.now(), pod, node) + self.claim_volume(pod, node);
                k.schedule_in(delay, Event::Started { pod, incarnation });
            }
        }
    }
}
