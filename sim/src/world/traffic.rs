//! Service traffic on the placement (with `[[traffic]]`), and the datapath's CPU charged to
//! the hosts (with `[network] agents` or traffic).
//!
//! Whenever a pod starts or stops running or a host goes or comes (`network_epoch`), the
//! running pods decide where each edge's requests go: a caller's pods share its rate
//! evenly and each spreads its calls evenly over the callee's pods (kube-proxy's random
//! endpoint choice, in expectation), so the pair of hosts (h₁, h₂) carries
//! `rate × callers on h₁ / callers × callees on h₂ / callees`. A pair on one host costs the
//! host's own stack and never the datapath, a NIC or a WAN link; a pair across hosts costs the
//! datapath's per-message CPU on both hosts ([`orchsim_net::service`]) and both NICs, and a
//! pair across sites also its sites' link. Those rates hold until the next change, so the
//! totals are exact integrals over the run, not samples.
//!
//! Hosts are where the two halves meet. A host's CPU carries its running pods (each using what
//! it requests), its agents' idle use and its share of the network's per-message work; above
//! its cores everything there slows alike (CPU time shared in proportion to demand), so a
//! host over 100 % serves only its share of the requests that touch it and its pods get only
//! their share of CPU (`pod_cpu_starved_pct`). A NIC or a link direction over its rate serves
//! its share likewise. Latency is the messages' idle one-way times with their CPU part
//! stretched by the busier host's 1/(1 − ρ) (an M/M/1 queue's sojourn factor, ρ capped at
//! 0.95: an approximation of queueing on a loaded host, not a packet-level result), plus a
//! link's propagation and serialisation both ways.
//!
//! Calls find their endpoints through the Service proxy (`[network] proxy`): a connection's
//! first packet walks kube-proxy's iptables rules (its CPU on the caller's host, its time on the
//! call: only with `connection = "close"`, as conntrack carries a reused connection past the
//! rules) or one lookup (nftables, IPVS, Swarm) — [`orchsim_net::service_proxy`]. An endpoint
//! that is gone (its container exited, its pod deleted, its host dead) stays in the proxies'
//! tables until they learn: kube-proxy when the control plane has removed it (at once, or when
//! the host is declared failed) and its next sync has run (no sooner than `minSyncPeriod`
//! after the last, then taking its O(rules) time); Swarm after a gossip round, or memberlist's
//! verdict on a dead node. Calls sent to it meanwhile fail (`failed_pct`).
//!
//! Calls from outside (`entry`) come in by nodes instead of pods: any live node, which
//! forwards each call over the datapath to any pod (the routing mesh: the pair's source is the
//! entry node), or only nodes running the callee, each serving an equal share with its own
//! pods. The entry node pays the client's side of each message on the underlay.
//!
//! The work per change is one pass over the pods and two over each edge's (caller host,
//! callee host) pairs.

use std::borrow::Cow;
use std::collections::BTreeMap;

use orchsim_kernel::{Kernel, SimDuration, SimTime};
use orchsim_net::service::{self, MessageCost, Path};
use orchsim_net::service_proxy::{self, Cluster, Mode, Removal};

use super::{Event, PodState, World, TAG_TRAFFIC};
use crate::traffic::{Caller, Entry, Traffic};

/// A new connection's first-packet time over the proxy's rules is spread over this many
/// equally likely points of its distribution in the latency histogram.
const FIRST_PACKET_POINTS: usize = 32;

/// Latency histogram resolution: buckets 1 % wide.
const BUCKET_GROWTH: f64 = 1.01;

/// What one edge's requests cost on one kind of path.
#[derive(Clone, Copy, Debug)]
struct EdgeCost {
    request: MessageCost,
    response: MessageCost,
    /// A header-only segment (SYN, SYN-ACK, FIN): a new connection's handshake and close.
    segment: MessageCost,
}

impl EdgeCost {
    /// Wire bytes per call each way (caller to callee, back), with a new connection's
    /// segments.
    fn wire_bytes(&self, new_connection: bool) -> (f64, f64) {
        let segments = if new_connection {
            2.0 * self.segment.wire_bytes
        } else {
            0.0
        };
        (
            self.request.wire_bytes + segments,
            self.response.wire_bytes + segments,
        )
    }

    /// CPU per call on the caller's host and on the callee's, ns; with a new connection, its
    /// four header-only segments (SYN and FIN each way) too.
    fn cpu_ns(&self, new_connection: bool) -> (f64, f64) {
        let mut caller = self.request.sender_cpu_ns + self.response.receiver_cpu_ns;
        let mut callee = self.request.receiver_cpu_ns + self.response.sender_cpu_ns;
        if new_connection {
            let both = 2.0 * (self.segment.sender_cpu_ns + self.segment.receiver_cpu_ns);
            caller += both;
            callee += both;
        }
        (caller, callee)
    }
}

/// What one call costs on one (source, callee) pair of hosts; the source is the caller's
/// host, or for a call from outside the node it enters by.
#[derive(Clone, Copy, Debug, Default)]
struct PairCost {
    /// CPU per call on the source host and on the callee's, ns.
    src_ns: f64,
    dst_ns: f64,
    /// Wire bytes per call between the hosts, source → callee and back (0 on one host).
    up: f64,
    down: f64,
    /// A client's wire bytes through the entry node's NIC, in and out (calls from outside).
    client_in: f64,
    client_out: f64,
    /// Idle one-way times of every message of the call, and their CPU part, ns.
    idle_ns: f64,
    cpu_path_ns: f64,
    /// Round trips between the hosts (a handshake adds one): each crosses their WAN link.
    trips: f64,
}

impl PairCost {
    /// Adds one leg's messages (request, response, and a new connection's handshake).
    fn leg(&mut self, c: &EdgeCost, new_connection: bool) {
        let handshake = if new_connection { 2.0 } else { 0.0 };
        self.idle_ns +=
            c.request.one_way_ns + c.response.one_way_ns + handshake * c.segment.one_way_ns;
        self.cpu_path_ns +=
            c.request.cpu_path_ns + c.response.cpu_path_ns + handshake * c.segment.cpu_path_ns;
    }
}

/// An endpoint gone that the Service proxies still send calls to.
#[derive(Clone, Copy, Debug)]
struct Stale {
    workload: usize,
    /// When the proxies have dropped it.
    until: SimTime,
}

/// Per-edge amounts: rates in a [`Rates`] snapshot (per second), totals over the run.
#[derive(Clone, Debug, Default)]
struct EdgeAmounts {
    /// Requests offered, served, failed for want of a running caller or callee, and served
    /// between pods of one host, across hosts, across sites.
    offered: f64,
    served: f64,
    no_endpoint: f64,
    /// Refused by NetworkPolicy on a datapath that enforces it: no byte sent.
    denied: f64,
    /// Sent to an endpoint already gone, before the Service proxies learnt.
    failed: f64,
    same_host: f64,
    cross_host: f64,
    cross_site: f64,
    /// Payload bytes served, both directions.
    bytes: f64,
    /// CPU cores (rates) or core-seconds (totals) the edge's served messages took.
    cpu: f64,
    /// Served requests by latency bucket.
    latency: BTreeMap<i32, f64>,
}

impl EdgeAmounts {
    fn add_scaled(&mut self, r: &EdgeAmounts, dt: f64) {
        self.offered += r.offered * dt;
        self.served += r.served * dt;
        self.no_endpoint += r.no_endpoint * dt;
        self.denied += r.denied * dt;
        self.failed += r.failed * dt;
        self.same_host += r.same_host * dt;
        self.cross_host += r.cross_host * dt;
        self.cross_site += r.cross_site * dt;
        self.bytes += r.bytes * dt;
        self.cpu += r.cpu * dt;
        for (&b, &w) in &r.latency {
            *self.latency.entry(b).or_default() += w * dt;
        }
    }
}

/// Cluster-wide amounts: rates (cores, hosts) in a snapshot, core- and host-seconds in totals.
#[derive(Clone, Debug, Default)]
struct HostAmounts {
    /// The network's CPU (served messages and agents' idle use).
    net_cores: f64,
    /// Cores of the hosts there, and the hosts.
    host_cores: f64,
    hosts: f64,
    /// The running pods' CPU requests, and what their hosts could not give them.
    pod_demand: f64,
    pod_starved: f64,
}

/// What the placement of one moment makes of the traffic, per second; it holds until a pod
/// starts or stops running or a host goes or comes.
#[derive(Clone, Debug, Default)]
struct Rates {
    edges: Vec<EdgeAmounts>,
    /// Wire bytes per second on each link, each way, and the busiest way's offered load.
    link_bytes: Vec<[f64; 2]>,
    link_load: Vec<f64>,
    hosts: HostAmounts,
}

/// One WAN link's totals.
#[derive(Clone, Debug, Default)]
struct LinkTotals {
    /// Wire bytes carried each way: `[sites[0] → sites[1], back]`.
    bytes: [f64; 2],
    /// The busiest direction's offered load over its capacity, at its peak.
    peak_load: f64,
}

/// One edge's row of `traffic.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct TrafficRecord {
    pub from: String,
    pub to: String,
    /// NetworkPolicy's verdict: `allowed`, `denied`, `denied, not enforced`; empty without
    /// policies.
    pub policy: String,
    pub requests_per_s: f64,
    pub served_pct: Option<f64>,
    pub no_endpoint_pct: Option<f64>,
    pub denied_pct: Option<f64>,
    /// Sent to an endpoint already gone (the Service proxies' lag).
    pub failed_pct: Option<f64>,
    pub same_host_pct: Option<f64>,
    pub cross_host_pct: Option<f64>,
    pub cross_site_pct: Option<f64>,
    pub gbit_s: f64,
    pub cpu_cores: f64,
    pub latency_p50_us: Option<f64>,
    pub latency_p99_us: Option<f64>,
}

/// One `[[links]]` row of `links.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkRecord {
    pub sites: [String; 2],
    pub gbit_s: f64,
    pub latency_ms: f64,
    /// Mean Gbit/s carried each way.
    pub gbit_s_mean: [f64; 2],
    pub load_peak_pct: f64,
    pub gb: f64,
    /// Per-GB charges plus the link's hours.
    pub cost: f64,
}

/// The run's network totals for the summary.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkTotals {
    pub requests_per_s: Option<f64>,
    pub served_pct: Option<f64>,
    pub failed_pct: Option<f64>,
    pub cross_host_pct: Option<f64>,
    pub cross_site_pct: Option<f64>,
    pub gbit_s: Option<f64>,
    /// Mean cores the network took, all hosts together (messages and agents' idle use).
    pub cpu_cores: f64,
    /// `cpu_cores` over the mean cores of a host there: the hosts' worth of CPU it takes.
    pub cpu_hosts: Option<f64>,
    pub latency_p99_us: Option<f64>,
    /// Share of the running pods' CPU requests their hosts could not give them (hosts above
    /// 100 %).
    pub pod_cpu_starved_pct: Option<f64>,
}

/// The network's state in a run.
pub(super) struct Network {
    /// Per edge: on one host, across hosts, and between an outside client and a node (the
    /// underlay, no encapsulation).
    local: Vec<EdgeCost>,
    remote: Vec<EdgeCost>,
    client: Vec<EdgeCost>,
    link_bytes_per_s: Option<f64>,
    /// The agents' idle use per host, cores.
    idle_cores: f64,
    /// Cores the agents' requests took off each host's allocatable (given back to compute its
    /// real cores).
    reserved_cores: f64,
    /// The rates since `since`, computed after the event that last changed them.
    rates: Rates,
    since: SimTime,
    /// The `network_epoch` the rates were computed at (`None`: never).
    epoch: Option<u64>,
    edges: Vec<EdgeAmounts>,
    links: Vec<LinkTotals>,
    hosts: HostAmounts,
    seconds: f64,
    proxy: service_proxy::Costs,
    /// Endpoints serving at the last change: (pod, host) → workload.
    serving: BTreeMap<(usize, usize), usize>,
    /// Endpoints gone that the proxies have not dropped yet, by (pod, host).
    stale: BTreeMap<(usize, usize), Stale>,
    /// When kube-proxy's syncs began or will begin (the last `minSyncPeriod`'s and later).
    syncs: std::collections::BTreeSet<SimTime>,
    /// When a stale endpoint is dropped: the caller schedules a change then.
    wakeups: Vec<SimTime>,
}

impl Network {
    pub(super) fn new(sc: &crate::scenario::Scenario) -> Option<Network> {
        if sc.traffic.is_empty() && sc.agents.is_none() {
            return None;
        }
        let profile = orchsim_net::Profile::default_profile();
        let mut platform = profile
            .platform(&sc.net_platform)
            .expect("the scenario checked its platform")
            .clone();
        // The scenario's underlay MTU sets the packets, as it sets the pod MTU it reports.
        platform.mtu = sc.underlay_mtu;
        let cost = |path: Path, t: &crate::traffic::Traffic| EdgeCost {
            request: service::message_cost(&profile, &platform, path, t.request_bytes),
            response: service::message_cost(&profile, &platform, path, t.response_bytes),
            segment: service::message_cost(&profile, &platform, path, 1),
        };
        Some(Network {
            local: sc.traffic.iter().map(|t| cost(Path::SameHost, t)).collect(),
            remote: sc
                .traffic
                .iter()
                .map(|t| cost(Path::CrossHost(sc.datapath), t))
                .collect(),
            client: sc
                .traffic
                .iter()
                .map(|t| {
                    cost(
                        Path::CrossHost(orchsim_net::Datapath::plain(orchsim_net::Base::Host)),
                        t,
                    )
                })
                .collect(),
            link_bytes_per_s: service::link_bytes_per_s(&platform),
            idle_cores: sc
                .agents
                .as_ref()
                .map_or(0.0, |a| a.idle_cpu_milli / 1000.0),
            reserved_cores: sc
                .agents
                .as_ref()
                .map_or(0.0, |a| a.request_cpu_milli as f64 / 1000.0),
            rates: Rates::default(),
            since: SimTime::ZERO,
            epoch: None,
            edges: vec![EdgeAmounts::default(); sc.traffic.len()],
            links: vec![LinkTotals::default(); sc.links.len()],
            hosts: HostAmounts::default(),
            seconds: 0.0,
            proxy: service_proxy::Costs::new(&profile.params),
            serving: BTreeMap::new(),
            stale: BTreeMap::new(),
            syncs: Default::default(),
            wakeups: Vec::new(),
        })
    }

    /// What a call of edge `e` costs from host `src` to a callee on `dst`, with the proxy's
    /// first-packet walk `walk_ns` on the source host.
    fn pair_cost(&self, e: usize, t: &Traffic, src: usize, dst: usize, walk_ns: f64) -> PairCost {
        let nc = t.new_connection;
        let mut p = PairCost {
            trips: if nc { 2.0 } else { 1.0 },
            ..PairCost::default()
        };
        let between = |c: &EdgeCost, p: &mut PairCost| {
            let (src_ns, dst_ns) = c.cpu_ns(nc);
            p.src_ns += src_ns;
            p.dst_ns += dst_ns;
            (p.up, p.down) = c.wire_bytes(nc);
            p.leg(c, nc);
        };
        match t.from {
            Caller::Workload(_) if src == dst => {
                let c = &self.local[e];
                (p.src_ns, p.dst_ns) = c.cpu_ns(nc);
                p.leg(c, nc);
            }
            Caller::Workload(_) => between(&self.remote[e], &mut p),
            Caller::Outside(_) => {
                // The entry node serves the client's side as a callee would, then forwards
                // the call over the datapath when the pod is elsewhere (the reply comes back
                // through it: the routing mesh's SNAT).
                let c = &self.client[e];
                p.src_ns = c.cpu_ns(nc).1;
                (p.client_in, p.client_out) = c.wire_bytes(nc);
                p.leg(c, nc);
                if src != dst {
                    between(&self.remote[e], &mut p);
                }
            }
        }
        p.src_ns += walk_ns;
        p
    }

    /// When a kube-proxy sync that sees a change made at `t` begins: the first one already
    /// planned from `t` on if none can start sooner, else at `t` or, after the last begun,
    /// `minSyncPeriod` or its running time if longer (its BoundedFrequencyRunner runs one sync
    /// at a time; its burst of two is not modeled, nor syncs for endpoints added).
    fn sync_start(&mut self, t: SimTime, now: SimTime, sync_ns: f64) -> SimTime {
        let min = SimDuration::from_nanos(self.proxy.min_sync_ns().max(sync_ns).round() as u64);
        let earliest = match self.syncs.range(..=t).next_back() {
            Some(&p) => (p + min).max(t),
            None => t,
        };
        if let Some(&s) = self.syncs.range(t..).next() {
            if s <= earliest {
                return s;
            }
        }
        self.syncs.insert(earliest);
        // Syncs older than one period no longer hold any back.
        let keep = self
            .syncs
            .iter()
            .position(|&s| s + min >= now)
            .unwrap_or(self.syncs.len());
        for _ in 0..keep {
            self.syncs.pop_first();
        }
        earliest
    }

    /// Adds the current rates over `[since, now)`.
    fn accumulate(&mut self, now: SimTime) {
        let dt = now.since(self.since).as_secs_f64();
        self.since = now;
        if dt <= 0.0 {
            return;
        }
        self.seconds += dt;
        for (total, rate) in self.edges.iter_mut().zip(&self.rates.edges) {
            total.add_scaled(rate, dt);
        }
        for (l, total) in self.links.iter_mut().enumerate() {
            if let Some(bytes) = self.rates.link_bytes.get(l) {
                total.bytes[0] += bytes[0] * dt;
                total.bytes[1] += bytes[1] * dt;
                total.peak_load = total.peak_load.max(self.rates.link_load[l]);
            }
        }
        let (t, r) = (&mut self.hosts, &self.rates.hosts);
        t.net_cores += r.net_cores * dt;
        t.host_cores += r.host_cores * dt;
        t.hosts += r.hosts * dt;
        t.pod_demand += r.pod_demand * dt;
        t.pod_starved += r.pod_starved * dt;
    }
}

/// The link joining two different sites, and the direction from `from` to `to` on it.
fn link_between(links: &[crate::traffic::Link], from: &str, to: &str) -> Option<(usize, usize)> {
    let i = links
        .iter()
        .position(|l| l.sites.iter().any(|s| s == from) && l.sites.iter().any(|s| s == to))?;
    Some((i, usize::from(links[i].sites[0] != from)))
}

fn bucket(latency_ns: f64) -> i32 {
    (latency_ns.max(1.0).ln() / BUCKET_GROWTH.ln()).floor() as i32
}

fn bucket_value_ns(b: i32) -> f64 {
    // The bucket's geometric middle.
    BUCKET_GROWTH.powf(f64::from(b) + 0.5)
}

fn bucket_value_us(b: i32) -> f64 {
    bucket_value_ns(b) / 1e3
}

/// Nearest-rank percentile of a weighted histogram.
fn percentile(h: &BTreeMap<i32, f64>, q: f64) -> Option<f64> {
    let total: f64 = h.values().sum();
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut seen = 0.0;
    for (&b, &w) in h {
        seen += w;
        if seen >= rank {
            return Some(bucket_value_us(b));
        }
    }
    h.keys().next_back().map(|&b| bucket_value_us(b))
}

/// One edge's calls on the placement of the moment.
struct Split<'a> {
    /// The callers' pods by host, or the nodes calls from outside enter by (one each).
    callers: Cow<'a, BTreeMap<usize, u64>>,
    callees: &'a BTreeMap<usize, u64>,
    /// Of the edge's calls, what each (caller pod, live callee pod) pair gets.
    pair_share: f64,
    /// Calls from outside entering only by nodes running the callee, served there: each
    /// node gets 1/`entries` of them.
    local: bool,
    entries: f64,
    /// What goes to gone endpoints.
    failed_share: f64,
    /// A new connection's mean CPU in the proxy's rules, ns, and its extra first-packet times.
    walk_ns: f64,
    extra_ns: Vec<f64>,
}

impl Split<'_> {
    /// The rate from `a` callers on `src` to `b` live callees on `dst`; `None` for a pair
    /// that carries none (a node serving calls from outside only with its own pods).
    fn rate(&self, t: &Traffic, src: usize, a: u64, dst: usize, b: u64) -> Option<f64> {
        if self.local {
            return (src == dst).then(|| t.requests_per_s / self.entries);
        }
        Some(t.requests_per_s * (a * b) as f64 * self.pair_share)
    }
}

/// Running pods of each workload per host, and their CPU requests per host.
struct Running {
    by_workload: BTreeMap<usize, BTreeMap<usize, u64>>,
    /// Gone endpoints the proxies still hold, per workload and host.
    stale: BTreeMap<usize, BTreeMap<usize, u64>>,
    cpu_cores: Vec<f64>,
}

impl World<'_> {
    /// After every event: when a pod started or stopped running or a host went or came, the
    /// rates until then are added up and new ones computed from the cluster as the event left
    /// it.
    pub(super) fn network_after_event(&mut self, k: &mut Kernel<Event>) {
        if self
            .network
            .as_ref()
            .is_some_and(|n| n.epoch != Some(self.network_epoch))
        {
            self.network_update(k);
        }
    }

    /// Adds up the rates until now and takes new ones; schedules a change for when the
    /// proxies drop an endpoint gone.
    pub(super) fn network_update(&mut self, k: &mut Kernel<Event>) {
        self.network_flush(k.now(), true);
        if let Some(net) = self.network.as_mut() {
            for t in net.wakeups.drain(..) {
                k.schedule_at(t, Event::EndpointsSynced);
            }
        }
    }

    /// A container that exited on its own (finished, failed, crashed or restarted), for the
    /// proxies' account of how they learn it is gone.
    pub(super) fn network_exited(&mut self, pod: usize) {
        if self.network.is_some() {
            self.exited_pods.insert(pod);
        }
    }

    /// Compares the endpoints serving now with those at the last change: each one gone
    /// becomes stale until the proxies learn, and is dropped then.
    fn track_endpoints(&mut self, now: SimTime) {
        let Some(net) = self.network.as_ref() else {
            return;
        };
        let mut serving = BTreeMap::new();
        for (pod, p) in self.pods.iter().enumerate() {
            if let (PodState::Running, Some(n)) = (p.state, p.node) {
                serving.insert((pod, n.0), p.workload);
            }
        }
        let mode = self.scenario.proxy;
        // The rules: the workloads' Services with their pods, the cluster's other Services
        // with the typical number.
        let services = self.scenario.services;
        let others = services.saturating_sub(self.scenario.workloads.len() as u64);
        let cluster = Cluster {
            services,
            endpoints: (serving.len() as f64 + others as f64 * net.proxy.typical_endpoints())
                / services.max(1) as f64,
        };
        let gone: Vec<((usize, usize), usize, Removal, SimTime)> = net
            .serving
            .iter()
            .filter(|(key, _)| !serving.contains_key(key))
            .map(|(&(pod, host), &workload)| {
                let health = &self.health[host];
                let (cause, notice) = if health.dead() {
                    // The control plane learns when it declares the host failed; Swarm's
                    // load balancers from memberlist, at once here.
                    let due = if mode == Mode::Swarm {
                        now
                    } else {
                        health.detect_due().max(now)
                    };
                    (Removal::HostDied, due)
                } else if self.exited_pods.contains(&pod) {
                    (Removal::Exited, now)
                } else {
                    (Removal::Deleted, now)
                };
                ((pod, host), workload, cause, notice)
            })
            .collect();
        let nodes = self.cluster.nodes().len();
        self.exited_pods.clear();
        let net = self.network.as_mut().expect("checked above");
        for (key, workload, cause, notice) in gone {
            let lag = net.proxy.removal_lag_ns(mode, cluster, cause, nodes);
            let start = if mode == Mode::Swarm {
                notice
            } else {
                net.sync_start(notice, now, lag)
            };
            let until = start + SimDuration::from_nanos(lag.round() as u64);
            if until > now {
                let s = net.stale.entry(key).or_insert(Stale { workload, until });
                s.until = s.until.max(until);
                net.wakeups.push(until);
            }
        }
        net.stale
            .retain(|key, s| s.until > now && !serving.contains_key(key));
        net.serving = serving;
    }

    /// Adds up the rates until `now`; with `recompute`, takes new ones from the cluster (at
    /// every sample too: the digest records the rates there).
    pub(super) fn network_flush(&mut self, now: SimTime, recompute: bool) {
        let Some(net) = self.network.as_mut() else {
            return;
        };
        net.accumulate(now);
        if !recompute {
            return;
        }
        self.track_endpoints(now);
        let rates = self.network_rates();
        let served: f64 = rates.edges.iter().map(|e| e.served).sum();
        self.digest.record(
            now,
            TAG_TRAFFIC,
            &[
                (served * 1e3).round() as u64,
                (rates.hosts.net_cores * 1e6).round() as u64,
            ],
        );
        let epoch = self.network_epoch;
        if let Some(net) = self.network.as_mut() {
            net.rates = rates;
            net.epoch = Some(epoch);
        }
    }

    /// Whether the scenario has NetworkPolicies and its datapath enforces them.
    fn policy_enforced(&self) -> bool {
        self.scenario
            .policies
            .as_ref()
            .is_some_and(|p| p.not_enforced.is_none())
    }

    /// Whether NetworkPolicy stops `t`'s connections: denied, on a datapath that enforces it.
    fn denies(&self, t: &crate::traffic::Traffic) -> bool {
        self.policy_enforced() && t.verdict.as_ref().is_some_and(|v| !v.allowed)
    }

    fn running(&self) -> Running {
        let mut out = Running {
            by_workload: BTreeMap::new(),
            stale: BTreeMap::new(),
            cpu_cores: vec![0.0; self.cluster.nodes().len()],
        };
        if let Some(net) = &self.network {
            for (&(_, host), s) in &net.stale {
                *out.stale
                    .entry(s.workload)
                    .or_default()
                    .entry(host)
                    .or_default() += 1;
            }
        }
        for p in &self.pods {
            if let (PodState::Running, Some(n)) = (p.state, p.node) {
                *out.by_workload
                    .entry(p.workload)
                    .or_default()
                    .entry(n.0)
                    .or_default() += 1;
                out.cpu_cores[n.0] += p.spec.requests.cpu_milli as f64 / 1000.0;
            }
        }
        out
    }

    /// The traffic's rates on the placement as it is.
    fn network_rates(&self) -> Rates {
        let net = self.network.as_ref().expect("called with a network");
        let nodes = self.cluster.nodes();
        let hosts = nodes.len();
        let running = self.running();
        let empty = BTreeMap::new();
        let links = &self.scenario.links;
        // First pass: each host's network CPU and NIC bytes, each link's bytes, per second.
        let mut cpu = vec![0.0f64; hosts];
        let mut tx = vec![0.0f64; hosts];
        let mut rx = vec![0.0f64; hosts];
        let mut link_demand = vec![[0.0f64; 2]; links.len()];
        let mut rates = Rates {
            edges: vec![EdgeAmounts::default(); self.scenario.traffic.len()],
            link_bytes: vec![[0.0; 2]; links.len()],
            link_load: vec![0.0; links.len()],
            hosts: HostAmounts::default(),
        };
        // Per edge: its callers and live callees by host, and the share of its calls each
        // caller-callee pair of pods gets (gone endpoints the proxies still hold take theirs).
        let mode = self.scenario.proxy;
        let splits: Vec<Option<Split>> = self
            .scenario
            .traffic
            .iter()
            .map(|t| {
                let callees = running.by_workload.get(&t.to).unwrap_or(&empty);
                let callers = match t.from {
                    Caller::Workload(w) => {
                        Cow::Borrowed(running.by_workload.get(&w).unwrap_or(&empty))
                    }
                    // Any node that runs at all: the client's load balancer spreads over them.
                    Caller::Outside(Entry::Cluster) => Cow::Owned(
                        (0..hosts)
                            .filter(|&h| self.launched(h) && !self.health[h].dead())
                            .map(|h| (h, 1))
                            .collect(),
                    ),
                    Caller::Outside(Entry::Local) => {
                        Cow::Owned(callees.keys().map(|&h| (h, 1)).collect())
                    }
                };
                let local = t.from == Caller::Outside(Entry::Local);
                let n_from = callers.values().sum::<u64>() as f64;
                let n_live = callees.values().sum::<u64>() as f64;
                let n_stale = running
                    .stale
                    .get(&t.to)
                    .map_or(0, |s| s.values().sum::<u64>()) as f64;
                // Nodes serving only their own pods send nothing to another's gone ones.
                let n_stale = if local { 0.0 } else { n_stale };
                let n_to = n_live + n_stale;
                (n_from > 0.0 && n_to > 0.0 && !self.denies(t)).then(|| {
                    let cluster = Cluster {
                        services: self.scenario.services,
                        endpoints: n_live + n_stale,
                    };
                    // The first packet's walk: its mean CPU on the caller's host, and its time
                    // as equally likely points of its distribution.
                    let walks = t.new_connection
                        && net.proxy.first_packet_extra_quantile(mode, cluster, 1.0) > 0.0;
                    let (walk_ns, extra_ns) = if walks {
                        let points = (0..FIRST_PACKET_POINTS)
                            .map(|i| {
                                let q = (i as f64 + 0.5) / FIRST_PACKET_POINTS as f64;
                                net.proxy.first_packet_extra_quantile(mode, cluster, q)
                            })
                            .collect();
                        (net.proxy.first_packet_cpu_ns(mode, cluster), points)
                    } else {
                        (0.0, vec![0.0])
                    };
                    Split {
                        callers,
                        callees,
                        pair_share: 1.0 / (n_from * n_to),
                        local,
                        entries: n_from,
                        failed_share: n_stale / n_to,
                        walk_ns,
                        extra_ns,
                    }
                })
            })
            .collect();
        for (e, t) in self.scenario.traffic.iter().enumerate() {
            rates.edges[e].offered = t.requests_per_s;
            // The policy holds whether or not pods run: a denied call is denied.
            if self.denies(t) {
                rates.edges[e].denied = t.requests_per_s;
                continue;
            }
            let Some(s) = &splits[e] else {
                rates.edges[e].no_endpoint = t.requests_per_s;
                continue;
            };
            rates.edges[e].failed = t.requests_per_s * s.failed_share;
            for (&src, &a) in s.callers.iter() {
                for (&dst, &b) in s.callees {
                    let Some(rate) = s.rate(t, src, a, dst, b) else {
                        continue;
                    };
                    let p = net.pair_cost(e, t, src, dst, s.walk_ns);
                    cpu[src] += rate * p.src_ns / 1e9;
                    cpu[dst] += rate * p.dst_ns / 1e9;
                    rx[src] += rate * p.client_in;
                    tx[src] += rate * p.client_out;
                    if src == dst {
                        continue;
                    }
                    let (up, down) = (p.up, p.down);
                    tx[src] += rate * up;
                    rx[dst] += rate * up;
                    tx[dst] += rate * down;
                    rx[src] += rate * down;
                    if nodes[src].site != nodes[dst].site {
                        if let Some((l, dir)) =
                            link_between(links, &nodes[src].site, &nodes[dst].site)
                        {
                            link_demand[l][dir] += rate * up;
                            link_demand[l][1 - dir] += rate * down;
                        }
                    }
                }
            }
        }
        // Each host's load and the share of its demand it can serve.
        let mut rho = vec![0.0f64; hosts];
        let mut share = vec![1.0f64; hosts];
        let mut nic_share = vec![1.0f64; hosts];
        for (h, node) in nodes.iter().enumerate() {
            // A host not launched (or gone), or down with its containers, runs nothing.
            if !self.launched(h) || self.health[h].dead() {
                continue;
            }
            let cores = node.allocatable.cpu_milli as f64 / 1000.0 + net.reserved_cores;
            let pods = running.cpu_cores[h];
            let demand = pods + net.idle_cores + cpu[h];
            rho[h] = if cores > 0.0 { demand / cores } else { 0.0 };
            share[h] = if rho[h] > 1.0 { 1.0 / rho[h] } else { 1.0 };
            if let Some(link) = net.link_bytes_per_s {
                let busiest = tx[h].max(rx[h]);
                if busiest > link {
                    nic_share[h] = link / busiest;
                }
            }
            let r = &mut rates.hosts;
            // The messages' CPU is added from what is served (below): a call a link or a
            // NIC could not carry costs nothing.
            r.net_cores += net.idle_cores * share[h];
            r.host_cores += cores;
            r.hosts += 1.0;
            r.pod_demand += pods;
            r.pod_starved += pods * (1.0 - share[h]);
        }
        let mut link_share = vec![[1.0f64; 2]; links.len()];
        for (l, demand) in link_demand.iter().enumerate() {
            let cap = links[l].gbit_s * 1e9 / 8.0;
            for dir in 0..2 {
                if demand[dir] > cap {
                    link_share[l][dir] = cap / demand[dir];
                }
                rates.link_load[l] = rates.link_load[l].max(demand[dir] / cap);
            }
        }
        // Second pass: what each host pair is served, and at what latency.
        for (e, t) in self.scenario.traffic.iter().enumerate() {
            let Some(s) = &splits[e] else {
                continue;
            };
            let r = &mut rates.edges[e];
            // The pairs' latencies before the first packet's walk, spread over its points
            // once per bucket below (not once per pair).
            let mut before_walk: BTreeMap<i32, f64> = BTreeMap::new();
            for (&src, &a) in s.callers.iter() {
                for (&dst, &b) in s.callees {
                    let Some(rate) = s.rate(t, src, a, dst, b) else {
                        continue;
                    };
                    let same = src == dst;
                    let p = net.pair_cost(e, t, src, dst, s.walk_ns);
                    let mut served_share = share[src].min(share[dst]);
                    if !same {
                        served_share = served_share.min(nic_share[src]).min(nic_share[dst]);
                    } else if p.client_in > 0.0 {
                        served_share = served_share.min(nic_share[src]);
                    }
                    let link = if same || nodes[src].site == nodes[dst].site {
                        None
                    } else {
                        link_between(links, &nodes[src].site, &nodes[dst].site)
                    };
                    if let Some((l, dir)) = link {
                        served_share = served_share
                            .min(link_share[l][dir])
                            .min(link_share[l][1 - dir]);
                    }
                    let served = rate * served_share;
                    if served <= 0.0 {
                        continue;
                    }
                    r.served += served;
                    if same {
                        r.same_host += served;
                    } else {
                        r.cross_host += served;
                        if nodes[src].site != nodes[dst].site {
                            r.cross_site += served;
                        }
                    }
                    r.bytes += served * f64::from(t.request_bytes + t.response_bytes);
                    r.cpu += served * (p.src_ns + p.dst_ns) / 1e9;
                    let stretch = 1.0 / (1.0 - rho[src].max(rho[dst]).min(0.95));
                    let mut latency = p.idle_ns + p.cpu_path_ns * (stretch - 1.0);
                    if let Some((l, dir)) = link {
                        rates.link_bytes[l][dir] += served * p.up;
                        rates.link_bytes[l][1 - dir] += served * p.down;
                        // Every round trip crosses the link: its propagation, and the
                        // messages' serialisation at its rate.
                        let link = &links[l];
                        latency += p.trips * 2.0 * link.latency.as_nanos() as f64
                            + (p.up + p.down) * 8.0 / link.gbit_s;
                    }
                    *before_walk.entry(bucket(latency)).or_default() += served;
                }
            }
            if let [extra] = s.extra_ns[..] {
                for (b, w) in before_walk {
                    let b = if extra > 0.0 {
                        bucket(bucket_value_ns(b) + extra)
                    } else {
                        b
                    };
                    *r.latency.entry(b).or_default() += w;
                }
            } else {
                let points = s.extra_ns.len() as f64;
                for (b, w) in before_walk {
                    let base = bucket_value_ns(b);
                    for extra in &s.extra_ns {
                        *r.latency.entry(bucket(base + extra)).or_default() += w / points;
                    }
                }
            }
        }
        rates.hosts.net_cores += rates.edges.iter().map(|e| e.cpu).sum::<f64>();
        rates
    }

    /// `links.csv`'s rows: what each WAN link carried and cost over `hours`.
    pub(crate) fn link_records(&self, hours: f64) -> Vec<LinkRecord> {
        let Some(net) = self
            .network
            .as_ref()
            .filter(|_| !self.scenario.traffic.is_empty())
        else {
            return Vec::new();
        };
        let per_s = |x: f64| {
            if net.seconds > 0.0 {
                x / net.seconds
            } else {
                0.0
            }
        };
        self.scenario
            .links
            .iter()
            .zip(&net.links)
            .map(|(l, t)| {
                let gb = (t.bytes[0] + t.bytes[1]) / 1e9;
                LinkRecord {
                    sites: l.sites.clone(),
                    gbit_s: l.gbit_s,
                    latency_ms: l.latency.as_nanos() as f64 / 1e6,
                    gbit_s_mean: [per_s(t.bytes[0]) * 8.0 / 1e9, per_s(t.bytes[1]) * 8.0 / 1e9],
                    load_peak_pct: 100.0 * t.peak_load,
                    gb,
                    cost: gb * l.cost_per_gb + hours * l.cost_per_hour,
                }
            })
            .collect()
    }

    /// `traffic.csv`'s rows and the summary's totals (`None` without `[[traffic]]` or agents).
    pub(crate) fn network_records(&self) -> Option<(Vec<TrafficRecord>, NetworkTotals)> {
        let net = self.network.as_ref()?;
        let pct = |part: f64, whole: f64| (whole > 0.0).then(|| 100.0 * part / whole);
        let per_s = |x: f64| {
            if net.seconds > 0.0 {
                x / net.seconds
            } else {
                0.0
            }
        };
        let names = |w: usize| self.scenario.workloads[w].name.clone();
        let mut rows = Vec::new();
        let mut all = EdgeAmounts::default();
        let enforced = self.policy_enforced();
        for (t, spec) in net.edges.iter().zip(&self.scenario.traffic) {
            let policy = match &spec.verdict {
                None => "",
                Some(v) if v.allowed => "allowed",
                Some(_) if enforced => "denied",
                Some(_) => "denied, not enforced",
            };
            rows.push(TrafficRecord {
                from: spec.from.name(&self.scenario.workloads),
                to: names(spec.to),
                policy: policy.into(),
                requests_per_s: per_s(t.offered),
                served_pct: pct(t.served, t.offered),
                no_endpoint_pct: pct(t.no_endpoint, t.offered),
                denied_pct: pct(t.denied, t.offered),
                failed_pct: pct(t.failed, t.offered),
                same_host_pct: pct(t.same_host, t.served),
                cross_host_pct: pct(t.cross_host, t.served),
                cross_site_pct: pct(t.cross_site, t.served),
                gbit_s: per_s(t.bytes) * 8.0 / 1e9,
                cpu_cores: per_s(t.cpu),
                latency_p50_us: percentile(&t.latency, 0.5),
                latency_p99_us: percentile(&t.latency, 0.99),
            });
            all.add_scaled(t, 1.0);
        }
        let traffic = !self.scenario.traffic.is_empty();
        let h = &net.hosts;
        let cpu_cores = per_s(h.net_cores);
        let totals = NetworkTotals {
            requests_per_s: traffic.then(|| per_s(all.offered)),
            served_pct: pct(all.served, all.offered),
            failed_pct: pct(all.failed, all.offered),
            cross_host_pct: pct(all.cross_host, all.served),
            cross_site_pct: pct(all.cross_site, all.served),
            gbit_s: traffic.then(|| per_s(all.bytes) * 8.0 / 1e9),
            cpu_cores,
            // Host-seconds over the run: the mean host's cores are host_cores / hosts.
            cpu_hosts: (h.host_cores > 0.0).then(|| cpu_cores * h.hosts / h.host_cores),
            latency_p99_us: percentile(&all.latency, 0.99),
            pod_cpu_starved_pct: pct(h.pod_starved, h.pod_demand),
        };
        Some((rows, totals))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_percentiles_take_the_nearest_rank() {
        let mut h = BTreeMap::new();
        h.insert(bucket(10_000.0), 98.0);
        h.insert(bucket(1_000_000.0), 2.0);
        let p50 = percentile(&h, 0.5).unwrap();
        let p99 = percentile(&h, 0.99).unwrap();
        assert!((p50 - 10.0).abs() / 10.0 < 0.01, "{p50}");
        assert!((p99 - 1000.0).abs() / 1000.0 < 0.01, "{p99}");
        assert_eq!(percentile(&BTreeMap::new(), 0.5), None);
    }
}
