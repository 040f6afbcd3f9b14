//! Service traffic on the placement (with `[[traffic]]`), and the datapath's CPU charged to
//! the hosts (with `[network] agents` or traffic).
//!
//! At every sample the running pods decide where each edge's requests go: a caller's pods
//! share its rate evenly and each spreads its calls evenly over the callee's pods (kube-proxy's
//! random endpoint choice, in expectation), so the pair of hosts (h₁, h₂) carries
//! `rate × callers on h₁ / callers × callees on h₂ / callees`. A pair on one host costs the
//! host's own stack and never the datapath or a NIC; a pair across hosts costs the datapath's
//! per-message CPU on both hosts ([`orchsim_net::service`]) and both NICs. The rates hold
//! until the next sample.
//!
//! Hosts are where the two halves meet. A host's CPU carries its pods (each using what it
//! requests), its agents' idle use and its share of the network's per-message work; above its
//! cores everything there slows alike (CPU time shared in proportion to demand), so a host
//! over 100 % serves only its share of the requests that touch it and its pods get only their
//! share of CPU (`pod_cpu_starved_pct`). A NIC over its link rate serves its share likewise.
//! Latency is the message's idle one-way time with its CPU part stretched by the busier
//! host's 1/(1 − ρ) (an M/M/1 queue's sojourn factor, ρ capped at 0.95): an approximation of
//! queueing on a loaded host, not a packet-level result.

use std::collections::BTreeMap;

use orchsim_kernel::SimTime;
use orchsim_net::service::{self, MessageCost, Path};

use super::{PodState, World, TAG_TRAFFIC};

/// Latency histogram resolution: buckets 1 % wide.
const BUCKET_GROWTH: f64 = 1.01;

/// What one edge's requests cost on one kind of path.
#[derive(Clone, Copy, Debug)]
struct EdgeCost {
    request: MessageCost,
    response: MessageCost,
}

/// Per-edge totals over the run.
#[derive(Clone, Debug, Default)]
struct EdgeTotals {
    /// Requests offered, served, and served between pods of one host, across hosts, across
    /// sites.
    offered: f64,
    served: f64,
    no_endpoint: f64,
    same_host: f64,
    cross_host: f64,
    cross_site: f64,
    /// Payload bytes served, both directions.
    bytes: f64,
    /// CPU core-seconds the edge's messages took.
    cpu_core_s: f64,
    /// Served requests by latency bucket.
    latency: BTreeMap<i32, f64>,
}

/// One edge's row of `traffic.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct TrafficRecord {
    pub from: String,
    pub to: String,
    pub requests_per_s: f64,
    pub served_pct: Option<f64>,
    pub no_endpoint_pct: Option<f64>,
    pub same_host_pct: Option<f64>,
    pub cross_host_pct: Option<f64>,
    pub cross_site_pct: Option<f64>,
    pub gbit_s: f64,
    pub cpu_cores: f64,
    pub latency_p50_us: Option<f64>,
    pub latency_p99_us: Option<f64>,
}

/// The run's network totals for the summary.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkTotals {
    pub requests_per_s: Option<f64>,
    pub served_pct: Option<f64>,
    pub cross_host_pct: Option<f64>,
    pub cross_site_pct: Option<f64>,
    pub gbit_s: Option<f64>,
    /// Mean cores the network took over all hosts (messages and agents' idle use).
    pub cpu_cores: f64,
    /// `cpu_cores` over the mean cores of a host: the hosts' worth of CPU the network takes.
    pub cpu_hosts: Option<f64>,
    pub latency_p99_us: Option<f64>,
    /// Share of the pods' CPU demand their hosts could not give them (hosts above 100 %).
    pub pod_cpu_starved_pct: Option<f64>,
}

/// The network's state in a run.
pub(super) struct Network {
    /// Per edge: on one host, and across hosts.
    local: Vec<EdgeCost>,
    remote: Vec<EdgeCost>,
    link_bytes_per_s: Option<f64>,
    /// The agents' idle use per host, cores.
    idle_cores: f64,
    /// Cores the agents' requests took off each host's allocatable (given back to compute its
    /// real cores).
    reserved_cores: f64,
    totals: Vec<EdgeTotals>,
    /// Network core-seconds, host core-seconds, pods' demanded and starved core-seconds,
    /// simulated seconds.
    net_core_s: f64,
    host_core_s: f64,
    pod_demand_core_s: f64,
    pod_starved_core_s: f64,
    seconds: f64,
}

impl Network {
    pub(super) fn new(sc: &crate::scenario::Scenario) -> Option<Network> {
        if sc.traffic.is_empty() && sc.agents.is_none() {
            return None;
        }
        let profile = orchsim_net::Profile::default_profile();
        let platform = profile
            .platform(&sc.net_platform)
            .expect("the scenario checked its platform")
            .clone();
        let cost = |path: Path, t: &crate::traffic::Traffic| EdgeCost {
            request: service::message_cost(&profile, &platform, path, t.request_bytes),
            response: service::message_cost(&profile, &platform, path, t.response_bytes),
        };
        Some(Network {
            local: sc.traffic.iter().map(|t| cost(Path::SameHost, t)).collect(),
            remote: sc
                .traffic
                .iter()
                .map(|t| cost(Path::CrossHost(sc.datapath), t))
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
            totals: vec![EdgeTotals::default(); sc.traffic.len()],
            net_core_s: 0.0,
            host_core_s: 0.0,
            pod_demand_core_s: 0.0,
            pod_starved_core_s: 0.0,
            seconds: 0.0,
        })
    }
}

/// One host pair's share of an edge at a sample.
struct Pair {
    edge: usize,
    src: usize,
    dst: usize,
    rate: f64,
}

fn bucket(latency_ns: f64) -> i32 {
    (latency_ns.max(1.0).ln() / BUCKET_GROWTH.ln()).floor() as i32
}

fn bucket_value_us(b: i32) -> f64 {
    // The bucket's geometric middle.
    BUCKET_GROWTH.powf(f64::from(b) + 0.5) / 1e3
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

impl World<'_> {
    /// The traffic from `now` until the next sample, on the placement as it is.
    pub(super) fn sample_network(&mut self, now: SimTime) {
        if self.network.is_none() {
            return;
        }
        let dt = self
            .until
            .since(now)
            .min(self.scenario.sample_interval)
            .as_secs_f64();
        // Hosts a provisioner has not launched run nothing, not even agents.
        let present: Vec<bool> = (0..self.cluster.nodes().len())
            .map(|h| !self.held_out(h))
            .collect();
        let Some(net) = self.network.as_mut() else {
            return;
        };
        let nodes = self.cluster.nodes();
        let hosts = nodes.len();
        // Running pods per workload, by host (in host order).
        let mut running: BTreeMap<usize, BTreeMap<usize, u64>> = BTreeMap::new();
        for p in &self.pods {
            if let (PodState::Running, Some(n)) = (p.state, p.node) {
                *running
                    .entry(p.workload)
                    .or_default()
                    .entry(n.0)
                    .or_default() += 1;
            }
        }
        let empty = BTreeMap::new();
        let mut pairs: Vec<Pair> = Vec::new();
        let mut cpu = vec![0.0f64; hosts];
        let mut tx = vec![0.0f64; hosts];
        let mut rx = vec![0.0f64; hosts];
        for (e, t) in self.scenario.traffic.iter().enumerate() {
            let callers = running.get(&t.from).unwrap_or(&empty);
            let callees = running.get(&t.to).unwrap_or(&empty);
            let (n_from, n_to) = (
                callers.values().sum::<u64>() as f64,
                callees.values().sum::<u64>() as f64,
            );
            let totals = &mut net.totals[e];
            totals.offered += t.requests_per_s * dt;
            if n_from == 0.0 || n_to == 0.0 {
                totals.no_endpoint += t.requests_per_s * dt;
                continue;
            }
            for (&src, &a) in callers {
                for (&dst, &b) in callees {
                    let rate = t.requests_per_s * a as f64 / n_from * b as f64 / n_to;
                    let c = if src == dst {
                        &net.local[e]
                    } else {
                        &net.remote[e]
                    };
                    cpu[src] += rate * (c.request.sender_cpu_ns + c.response.receiver_cpu_ns) / 1e9;
                    cpu[dst] += rate * (c.request.receiver_cpu_ns + c.response.sender_cpu_ns) / 1e9;
                    tx[src] += rate * c.request.wire_bytes;
                    rx[dst] += rate * c.request.wire_bytes;
                    tx[dst] += rate * c.response.wire_bytes;
                    rx[src] += rate * c.response.wire_bytes;
                    pairs.push(Pair {
                        edge: e,
                        src,
                        dst,
                        rate,
                    });
                }
            }
        }
        // Each host's load and the share of its demand it can serve.
        let mut rho = vec![0.0f64; hosts];
        let mut share = vec![1.0f64; hosts];
        let mut nic_share = vec![1.0f64; hosts];
        let mut net_cores = 0.0;
        for (h, node) in nodes.iter().enumerate() {
            if !present[h] {
                continue;
            }
            let cores = node.allocatable.cpu_milli as f64 / 1000.0 + net.reserved_cores;
            let pods = node.requested.cpu_milli as f64 / 1000.0;
            let demand = pods + net.idle_cores + cpu[h];
            rho[h] = if cores > 0.0 { demand / cores } else { 0.0 };
            share[h] = if rho[h] > 1.0 { 1.0 / rho[h] } else { 1.0 };
            if let Some(link) = net.link_bytes_per_s {
                let busiest = tx[h].max(rx[h]);
                if busiest > link {
                    nic_share[h] = link / busiest;
                }
            }
            net_cores += (net.idle_cores + cpu[h]) * share[h];
            net.host_core_s += cores * dt;
            net.pod_demand_core_s += pods * dt;
            net.pod_starved_core_s += pods * (1.0 - share[h]) * dt;
        }
        net.net_core_s += net_cores * dt;
        net.seconds += dt;
        let mut served_total = 0.0;
        for p in &pairs {
            let (c, t) = if p.src == p.dst {
                (&net.local[p.edge], &mut net.totals[p.edge])
            } else {
                (&net.remote[p.edge], &mut net.totals[p.edge])
            };
            let spec = &self.scenario.traffic[p.edge];
            let served_share = share[p.src]
                .min(share[p.dst])
                .min(nic_share[p.src])
                .min(nic_share[p.dst]);
            let served = p.rate * served_share * dt;
            served_total += served;
            t.served += served;
            if p.src == p.dst {
                t.same_host += served;
            } else {
                t.cross_host += served;
                if nodes[p.src].site != nodes[p.dst].site {
                    t.cross_site += served;
                }
            }
            t.bytes += served * f64::from(spec.request_bytes + spec.response_bytes);
            t.cpu_core_s += served
                * (c.request.sender_cpu_ns
                    + c.request.receiver_cpu_ns
                    + c.response.sender_cpu_ns
                    + c.response.receiver_cpu_ns)
                / 1e9;
            if served > 0.0 {
                let load = rho[p.src].max(rho[p.dst]).min(0.95);
                let stretch = 1.0 / (1.0 - load);
                let one_way = |m: &MessageCost| m.one_way_ns + m.cpu_path_ns * (stretch - 1.0);
                let latency = one_way(&c.request) + one_way(&c.response);
                *t.latency.entry(bucket(latency)).or_default() += served;
            }
        }
        self.digest.record(
            now,
            TAG_TRAFFIC,
            &[
                served_total.round() as u64,
                (net_cores * 1e6).round() as u64,
            ],
        );
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
        let mut all = EdgeTotals::default();
        for (t, spec) in net.totals.iter().zip(&self.scenario.traffic) {
            rows.push(TrafficRecord {
                from: names(spec.from),
                to: names(spec.to),
                requests_per_s: per_s(t.offered),
                served_pct: pct(t.served, t.offered),
                no_endpoint_pct: pct(t.no_endpoint, t.offered),
                same_host_pct: pct(t.same_host, t.served),
                cross_host_pct: pct(t.cross_host, t.served),
                cross_site_pct: pct(t.cross_site, t.served),
                gbit_s: per_s(t.bytes) * 8.0 / 1e9,
                cpu_cores: per_s(t.cpu_core_s),
                latency_p50_us: percentile(&t.latency, 0.5),
                latency_p99_us: percentile(&t.latency, 0.99),
            });
            all.offered += t.offered;
            all.served += t.served;
            all.cross_host += t.cross_host;
            all.cross_site += t.cross_site;
            all.bytes += t.bytes;
            for (&b, &w) in &t.latency {
                *all.latency.entry(b).or_default() += w;
            }
        }
        let traffic = !self.scenario.traffic.is_empty();
        let hosts = self.cluster.nodes().len().max(1) as f64;
        let host_cores = per_s(net.host_core_s) / hosts;
        let cpu_cores = per_s(net.net_core_s);
        let totals = NetworkTotals {
            requests_per_s: traffic.then(|| per_s(all.offered)),
            served_pct: pct(all.served, all.offered),
            cross_host_pct: pct(all.cross_host, all.served),
            cross_site_pct: pct(all.cross_site, all.served),
            gbit_s: traffic.then(|| per_s(all.bytes) * 8.0 / 1e9),
            cpu_cores,
            cpu_hosts: (host_cores > 0.0).then(|| cpu_cores / host_cores),
            latency_p99_us: percentile(&all.latency, 0.99),
            pod_cpu_starved_pct: pct(net.pod_starved_core_s, net.pod_demand_core_s),
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
