//! The flow-level engine: max-min fair rates for thousands of long-lived flows over host links,
//! per-host datapath CPU and the per-peer serial stages, with each flow's cost per byte taken from
//! its datapath's pipeline.
//!
//! Resources and what a flow needs of each, in ns per payload byte (a resource's capacity is in
//! ns of work per ns):
//! - the sending host's NIC and the receiving host's NIC (wire bytes per payload byte at link
//!   rate; capacity 1 each, full duplex);
//! - the CPU of each host (the flow's non-pool stages on that side; capacity = hardware threads);
//! - each host's WireGuard worker pool (capacity = its servers);
//! - serial stages shared by all flows of a host pair (WireGuard/ESP receive, IPIP's single RSS
//!   queue; capacity 1) or of a host (flanneld; capacity 1);
//! - and, per flow, its most loaded own core (a flow cannot use more than one core per role).
//!
//! Rates come from progressive filling: every unfrozen flow's rate rises together until a
//! resource saturates or a flow reaches its own core limit; those flows freeze and the rest go on.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use serde::Serialize;

use crate::datapath::Datapath;
use crate::pipeline::{Options, Pipeline, Placement, Role};
use crate::profile::{Platform, Profile, Underlay};

/// One flow: from host `src` to host `dst` over `datapath`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowSpec {
    pub src: u32,
    pub dst: u32,
    pub datapath: Datapath,
}

/// What limits a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Resource {
    NicTx {
        host: u32,
    },
    NicRx {
        host: u32,
    },
    /// A host's CPUs (worker pools included); on a veth underlay every host is host 0, the
    /// one machine.
    Cpu {
        host: u32,
    },
    /// One core, placed as the packet-level engine places work: each flow's roles by its
    /// index among the flows its host sends (or receives), flanneld, the per-peer crypto stage
    /// and IPIP's single RSS queue on their shared cores.
    Core {
        host: u32,
        index: u32,
    },
    /// The flow's receive window per round trip.
    Window {
        flow: u32,
    },
}

/// Rates of every flow and the load they put on each host.
#[derive(Clone, Debug, Serialize)]
pub struct Allocation {
    /// Goodput of each flow, Gb/s, in input order.
    pub gbps: Vec<f64>,
    /// The resource that froze each flow.
    pub bottleneck: Vec<Resource>,
    /// Datapath CPU in use on each host, in cores.
    pub host_cpu_cores: Vec<f64>,
    /// Progressive-filling rounds.
    pub rounds: u32,
}

/// An error in the flow set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlowError {
    HostOutOfRange { flow: usize, host: u32, hosts: u32 },
    SameHost { flow: usize },
}

impl std::fmt::Display for FlowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlowError::HostOutOfRange { flow, host, hosts } => write!(
                f,
                "flow {flow}: host {host} does not exist (hosts are 0..{hosts})"
            ),
            FlowError::SameHost { flow } => write!(
                f,
                "flow {flow}: source and destination are the same host; the flow-level engine \
                 models traffic between hosts"
            ),
        }
    }
}

impl std::error::Error for FlowError {}

/// The per-byte demands of one datapath, computed once per datapath.
struct Demand {
    pipe: Pipeline,
    nic: f64,
    /// ns per byte of each role (pools included).
    roles: Vec<(Role, f64)>,
    /// Window per round trip, payload bytes per ns.
    window: f64,
    veth: bool,
}

fn demand(pipe: Pipeline) -> Demand {
    Demand {
        nic: if pipe.has_link() {
            pipe.wire_bytes_per_pkt as f64 * 8.0 / (pipe.mss as f64 * pipe.platform.link_gbps)
        } else {
            0.0
        },
        roles: pipe.role_ns_per_byte(),
        window: pipe.tcp_rwnd_bytes.max(pipe.mss as u64) as f64 / pipe.bulk_rtt_ns(),
        veth: pipe.platform.underlay == Underlay::Veth,
        pipe,
    }
}

/// `n` flows between distinct hosts drawn uniformly from `hosts` (at least 2), each on a
/// datapath drawn from `datapaths` (not empty), from the named stream `net-flows` of `seed`:
/// a synthetic all-to-all traffic matrix for benchmarks and studies.
pub fn random_flows(hosts: u32, n: usize, datapaths: &[Datapath], seed: u64) -> Vec<FlowSpec> {
    use rand::Rng;
    assert!(
        hosts >= 2 && !datapaths.is_empty(),
        "need two hosts and a datapath"
    );
    let mut rng = orchsim_kernel::RngStreams::new(seed).stream("net-flows");
    (0..n)
        .map(|_| {
            let src = rng.random_range(0..hosts);
            let dst = (src + rng.random_range(1..hosts)) % hosts;
            FlowSpec {
                src,
                dst,
                datapath: datapaths[rng.random_range(0..datapaths.len())],
            }
        })
        .collect()
}

/// A resource waiting to saturate at `level` (valid while `version` is current).
#[derive(Clone, Copy, PartialEq)]
struct Pending {
    level: f64,
    resource: usize,
    version: u32,
}

impl Eq for Pending {}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.level
            .total_cmp(&other.level)
            .then(self.resource.cmp(&other.resource))
            .then(self.version.cmp(&other.version))
    }
}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The state of progressive filling.
struct Filling {
    capacity: Vec<f64>,
    frozen_load: Vec<f64>,
    active_coef: Vec<f64>,
    active_users: Vec<usize>,
    version: Vec<u32>,
    heap: BinaryHeap<Reverse<Pending>>,
    rate: Vec<f64>,
}

impl Filling {
    fn push(&mut self, r: usize) {
        let level = (self.capacity[r] - self.frozen_load[r]).max(0.0) / self.active_coef[r];
        self.heap.push(Reverse(Pending {
            level,
            resource: r,
            version: self.version[r],
        }));
    }

    /// Freezes flow `f` at `level` and re-keys the resources it used.
    fn freeze(&mut self, f: usize, level: f64, need: &[(usize, f64)]) {
        self.rate[f] = level;
        for &(r, c) in need {
            self.active_coef[r] -= c;
            self.active_users[r] -= 1;
            self.frozen_load[r] += c * level;
            self.version[r] += 1;
            if self.active_users[r] > 0 {
                self.push(r);
            }
        }
    }
}

/// Computes max-min fair rates for `flows` among `hosts` identical hosts of `platform`.
pub fn allocate(
    profile: &Profile,
    platform: &Platform,
    hosts: u32,
    flows: &[FlowSpec],
    opts: &Options,
) -> Result<Allocation, FlowError> {
    let mut demands: BTreeMap<Datapath, Demand> = BTreeMap::new();
    for (i, f) in flows.iter().enumerate() {
        for h in [f.src, f.dst] {
            if h >= hosts {
                return Err(FlowError::HostOutOfRange {
                    flow: i,
                    host: h,
                    hosts,
                });
            }
        }
        if f.src == f.dst {
            return Err(FlowError::SameHost { flow: i });
        }
        demands
            .entry(f.datapath)
            .or_insert_with(|| demand(Pipeline::new(profile, platform, f.datapath, opts)));
    }

    // Resources, indexed; each flow lists (resource, ns per byte).
    let mut index: BTreeMap<Resource, usize> = BTreeMap::new();
    let mut capacity: Vec<f64> = Vec::new();
    let mut kinds: Vec<Resource> = Vec::new();
    let mut users: Vec<Vec<(usize, f64)>> = Vec::new();
    let mut needs: Vec<Vec<(usize, f64)>> = Vec::with_capacity(flows.len());
    // A flow's window per round trip caps it alone; kept out of the shared resources.
    let mut own_cap: Vec<f64> = Vec::with_capacity(flows.len());
    let mut sent_by = vec![0u32; hosts as usize];
    let mut received_by = vec![0u32; hosts as usize];
    for (i, f) in flows.iter().enumerate() {
        let d = &demands[&f.datapath];
        let mut need: Vec<(usize, f64)> = Vec::with_capacity(12);
        let mut add = |r: Resource, cap: f64, c: f64| {
            if c <= 0.0 {
                return;
            }
            let id = *index.entry(r).or_insert_with(|| {
                capacity.push(cap);
                kinds.push(r);
                users.push(Vec::new());
                capacity.len() - 1
            });
            // A flow with several roles on one core needs their sum of it.
            match need.iter_mut().find(|(x, _)| *x == id) {
                Some((_, have)) => *have += c,
                None => need.push((id, c)),
            }
        };
        let machine = |h: u32| if d.veth { 0 } else { h };
        let threads = platform.threads as f64;
        add(Resource::NicTx { host: f.src }, 1.0, d.nic);
        // A shaped veth underlay limits what each host sends, not what it receives.
        if !d.veth {
            add(Resource::NicRx { host: f.dst }, 1.0, d.nic);
        }
        // The flow's index among those its sender sends and its receiver receives; between the
        // two namespaces of a veth machine both are the index of the flow between them.
        let (tx_index, rx_index) = (sent_by[f.src as usize], received_by[f.dst as usize]);
        sent_by[f.src as usize] += 1;
        received_by[f.dst as usize] += 1;
        for &(role, c) in &d.roles {
            let (host, idx) = if role.on_sender() {
                (f.src, tx_index)
            } else {
                (f.dst, rx_index)
            };
            add(
                Resource::Cpu {
                    host: machine(host),
                },
                threads,
                c,
            );
            if let Placement::Core { index, .. } = d.pipe.placement(role, idx, 0) {
                // On a veth machine a receive softirq runs on the sending CPU, and the
                // placement says which core of the one machine that is.
                let host = if d.veth { 0 } else { host };
                add(Resource::Core { host, index }, 1.0, c);
            }
        }
        for &(r, c) in &need {
            users[r].push((i, c));
        }
        needs.push(need);
        own_cap.push(d.window);
    }

    // Progressive filling. Active flows all sit at `level` (bytes per ns), so resource r
    // saturates at the level (capacity − load of frozen users) / (active users' need). That
    // level moves only when one of r's users freezes: resources wait in a heap keyed by it and
    // are re-entered with a new version when it moves (stale entries are skipped).
    let mut st = Filling {
        capacity,
        frozen_load: vec![0.0; index.len()],
        active_coef: vec![0.0; index.len()],
        active_users: vec![0; index.len()],
        version: vec![0; index.len()],
        heap: BinaryHeap::new(),
        rate: vec![f64::NAN; flows.len()],
    };
    for need in &needs {
        for &(r, c) in need {
            st.active_coef[r] += c;
            st.active_users[r] += 1;
        }
    }
    for r in 0..st.capacity.len() {
        if st.active_users[r] > 0 {
            st.push(r);
        }
    }
    let mut bottleneck: Vec<Resource> = (0..flows.len() as u32)
        .map(|flow| Resource::Window { flow })
        .collect();
    let mut by_cap: Vec<usize> = (0..flows.len()).collect();
    by_cap.sort_by(|&a, &b| own_cap[a].total_cmp(&own_cap[b]).then(a.cmp(&b)));
    let mut next_cap = 0;
    let mut active = flows.len();
    let mut rounds = 0;
    while active > 0 {
        rounds += 1;
        while next_cap < by_cap.len() && !st.rate[by_cap[next_cap]].is_nan() {
            next_cap += 1;
        }
        while st
            .heap
            .peek()
            .is_some_and(|Reverse(p)| p.version != st.version[p.resource])
        {
            st.heap.pop();
        }
        let by_resource = st.heap.peek().map_or(f64::INFINITY, |Reverse(p)| p.level);
        let by_window = by_cap.get(next_cap).map_or(f64::INFINITY, |&f| own_cap[f]);
        let level = by_resource.min(by_window);
        if !level.is_finite() {
            // What is left needs nothing that is limited (a profile of zero costs on a machine
            // without a link): those flows are unbounded.
            for r in st.rate.iter_mut().filter(|r| r.is_nan()) {
                *r = f64::INFINITY;
            }
            break;
        }
        let tie = level * (1.0 + 1e-9);
        while next_cap < by_cap.len() && own_cap[by_cap[next_cap]] <= tie {
            let f = by_cap[next_cap];
            if st.rate[f].is_nan() {
                st.freeze(f, level, &needs[f]);
                active -= 1;
            }
            next_cap += 1;
        }
        while let Some(&Reverse(p)) = st.heap.peek() {
            if p.version != st.version[p.resource] {
                st.heap.pop();
                continue;
            }
            if p.level > tie {
                break;
            }
            st.heap.pop();
            // Saturated: every user still rising stops here.
            for &(f, _) in &users[p.resource] {
                if st.rate[f].is_nan() {
                    bottleneck[f] = kinds[p.resource];
                    st.freeze(f, level, &needs[f]);
                    active -= 1;
                }
            }
        }
    }
    let rate = st.rate;
    let mut host_cpu = vec![0.0; hosts as usize];
    for (f, need) in needs.iter().enumerate() {
        for &(r, c) in need {
            if let Resource::Cpu { host } = kinds[r] {
                host_cpu[host as usize] += c * rate[f];
            }
        }
    }
    Ok(Allocation {
        gbps: rate.iter().map(|r| r * 8.0).collect(),
        bottleneck,
        host_cpu_cores: host_cpu,
        rounds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn setup(plat: &str) -> (Profile, Platform) {
        let p = Profile::default_profile();
        let plat = p.platform(plat).unwrap().clone();
        (p, plat)
    }

    fn flow(src: u32, dst: u32, dp: &str) -> FlowSpec {
        FlowSpec {
            src,
            dst,
            datapath: dp.parse().unwrap(),
        }
    }

    #[test]
    fn one_flow_gets_the_pipeline_steady_rate() {
        let (prof, plat) = setup("cilium-bench");
        for dp in ["host", "calico-bgp", "flannel-udp", "calico-bgp+wireguard"] {
            let a = allocate(&prof, &plat, 2, &[flow(0, 1, dp)], &Options::default()).unwrap();
            let pipe = Pipeline::new(&prof, &plat, dp.parse().unwrap(), &Options::default());
            let want = pipe.steady(1).goodput_gbps;
            assert!(
                (a.gbps[0] - want).abs() / want < 1e-6,
                "{dp}: {} vs {want}",
                a.gbps[0]
            );
        }
    }

    #[test]
    fn flows_into_one_host_share_its_link_fairly() {
        let (prof, plat) = setup("reference-10g");
        let flows: Vec<_> = (1..5).map(|s| flow(s, 0, "calico-bgp")).collect();
        let a = allocate(&prof, &plat, 5, &flows, &Options::default()).unwrap();
        let link = Pipeline::new(
            &prof,
            &plat,
            "calico-bgp".parse().unwrap(),
            &Options::default(),
        )
        .link_payload_bytes_per_s()
            * 8.0
            / 1e9;
        for (g, b) in a.gbps.iter().zip(&a.bottleneck) {
            assert!((g - link / 4.0).abs() < 1e-9, "{g}");
            assert_eq!(*b, Resource::NicRx { host: 0 });
        }
    }

    #[test]
    fn errors_name_the_flow() {
        let (prof, plat) = setup("reference-10g");
        let e = allocate(&prof, &plat, 2, &[flow(0, 2, "host")], &Options::default()).unwrap_err();
        assert!(
            e.to_string().contains("flow 0: host 2 does not exist"),
            "{e}"
        );
        let e = allocate(&prof, &plat, 2, &[flow(1, 1, "host")], &Options::default()).unwrap_err();
        assert_eq!(e, FlowError::SameHost { flow: 0 });
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Max-min: no resource over capacity, and every flow is held by a saturated resource
        /// on which it has a rate no lower than any other flow there.
        #[test]
        fn allocation_is_feasible_and_max_min_fair(
            pairs in proptest::collection::vec((0u32..6, 0u32..6, 0usize..5), 1..40)
        ) {
            let (prof, plat) = setup("cilium-bench");
            let dps = ["host", "calico-bgp", "calico-ipip", "flannel-vxlan+wireguard", "flannel-udp"];
            let flows: Vec<_> = pairs
                .iter()
                .filter(|(s, d, _)| s != d)
                .map(|&(s, d, i)| flow(s, d, dps[i]))
                .collect();
            prop_assume!(!flows.is_empty());
            let a = allocate(&prof, &plat, 6, &flows, &Options::default()).unwrap();
            let mut nic_tx = [0.0f64; 6];
            for (f, g) in flows.iter().zip(&a.gbps) {
                prop_assert!(*g > 0.0 && g.is_finite());
                let pipe = Pipeline::new(&prof, &plat, f.datapath, &Options::default());
                nic_tx[f.src as usize] += g / (pipe.link_payload_bytes_per_s() * 8.0 / 1e9);
            }
            for u in nic_tx {
                prop_assert!(u <= 1.0 + 1e-6, "link over capacity: {u}");
            }
            // Worker pools run on the host's own cores.
            for c in &a.host_cpu_cores {
                prop_assert!(*c <= plat.threads as f64 + 1e-6);
            }
            // Flows frozen by the same shared resource have equal rates.
            for (i, b) in a.bottleneck.iter().enumerate() {
                if matches!(b, Resource::Window { .. }) { continue; }
                for (j, b2) in a.bottleneck.iter().enumerate() {
                    if b == b2 {
                        prop_assert!((a.gbps[i] - a.gbps[j]).abs() < 1e-6 * a.gbps[i].max(1.0));
                    }
                }
            }
        }
    }
}
