//! Service load balancing: how a call to a Service's virtual IP finds one of its endpoints,
//! and what that costs — kube-proxy in its iptables, nftables and IPVS modes, and Swarm's
//! IPVS load balancer. Three numbers matter to a cluster: the first packet of every new
//! connection (the only one that walks the rules: conntrack carries the rest), the rules a
//! node holds and how long rewriting them takes, and how long a node keeps sending calls to an
//! endpoint that is gone.
//!
//! The constants are the profile's `kp_*` and `sw_*` entries, each with its source; the
//! iptables walk is fitted to the first-packet percentiles of the Kubernetes blog's
//! nftables article (network-measurements.md §7), and [`bench_rtt_quantile`] reproduces that
//! benchmark so a test can hold the fit to it.

use std::fmt;
use std::str::FromStr;

use crate::profile::Params;

/// A Service load balancer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    /// kube-proxy `--proxy-mode=iptables` (the default on Linux): one rule per Service
    /// port in `KUBE-SERVICES`, walked in order by every connection's first packet.
    Iptables,
    /// kube-proxy `nftables` (GA in Kubernetes 1.33): verdict maps, one lookup.
    Nftables,
    /// kube-proxy `ipvs`: a hash lookup in the kernel's IPVS table (deprecated in 1.35).
    Ipvs,
    /// Docker Swarm: IPVS round robin in each network's load-balancer sandbox on every node,
    /// its backends spread by gossip (NetworkDB).
    Swarm,
}

impl Mode {
    pub const ALL: [Mode; 4] = [Mode::Iptables, Mode::Nftables, Mode::Ipvs, Mode::Swarm];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Iptables => "iptables",
            Mode::Nftables => "nftables",
            Mode::Ipvs => "ipvs",
            Mode::Swarm => "swarm",
        }
    }

    /// Why a user should think twice before choosing this mode, if there is a reason.
    pub fn warning(self) -> Option<&'static str> {
        match self {
            Mode::Ipvs => Some(
                "kube-proxy's ipvs mode is deprecated since Kubernetes 1.35; nftables replaces it",
            ),
            _ => None,
        }
    }

    fn is_kube_proxy(self) -> bool {
        self != Mode::Swarm
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A mode name that is none of [`Mode::ALL`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownMode(pub String);

impl fmt::Display for UnknownMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown service proxy `{}`; expected iptables, nftables, ipvs or swarm",
            self.0
        )
    }
}

impl std::error::Error for UnknownMode {}

impl FromStr for Mode {
    type Err = UnknownMode;
    fn from_str(s: &str) -> Result<Mode, UnknownMode> {
        Mode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| UnknownMode(s.to_string()))
    }
}

/// The nat-table rules iptables mode writes for one ClusterIP Service port with `endpoints`
/// ready endpoints (pkg/proxy/iptables/proxier.go): its `KUBE-SERVICES` rule, the
/// `KUBE-SVC-*` chain's masquerade rule and one jump per endpoint, and two rules in each
/// endpoint's `KUBE-SEP-*` chain. Without endpoints it writes one filter-table `REJECT`
/// instead, counted here as one rule.
pub fn iptables_rules_per_service(endpoints: u64) -> u64 {
    if endpoints == 0 {
        1
    } else {
        (rules_per_service(endpoints as f64)) as u64
    }
}

/// [`iptables_rules_per_service`] for a mean number of endpoints (at least one).
fn rules_per_service(endpoints: f64) -> f64 {
    3.0 * endpoints + 2.0
}

/// The `--probability` of each jump rule in a Service's `KUBE-SVC-*` chain: the i-th of n
/// (from 0) matches with 1/(n − i) of what reaches it, the last always (`None`), so that each
/// endpoint gets 1/n of the connections.
pub fn endpoint_probabilities(endpoints: usize) -> Vec<Option<f64>> {
    (0..endpoints)
        .map(|i| (i + 1 < endpoints).then(|| 1.0 / (endpoints - i) as f64))
        .collect()
}

/// A probability as kube-proxy writes it (`%0.10f`).
pub fn probability_arg(p: f64) -> String {
    format!("{p:.10}")
}

/// What a Service's load balancing costs in a cluster of `services` Service ports with
/// `endpoints` endpoints each on average.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cluster {
    pub services: u64,
    pub endpoints: f64,
}

const MS: f64 = 1e6;

/// The profile's load-balancing constants, in ns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Costs {
    ipt_rule_ns: f64,
    ipt_jitter_ns: f64,
    bench_rtt_ns: f64,
    bench_jitter_ns: f64,
    ipt_sync_ns: f64,
    ipt_sync_rule_ns: f64,
    endpoints: f64,
    nft_sync_ns: f64,
    min_sync_ns: f64,
    gossip_ns: f64,
    probe_ns: f64,
    suspicion_mult: f64,
    converge_ns: f64,
}

impl Costs {
    pub fn new(p: &Params) -> Costs {
        Costs {
            ipt_rule_ns: p.kp_ipt_rule,
            ipt_jitter_ns: p.kp_ipt_jitter,
            bench_rtt_ns: p.kp_bench_rtt,
            bench_jitter_ns: p.kp_bench_jitter,
            ipt_sync_ns: p.kp_ipt_sync * MS,
            ipt_sync_rule_ns: p.kp_ipt_sync_rule,
            endpoints: p.kp_endpoints,
            nft_sync_ns: p.kp_nft_sync * MS,
            min_sync_ns: p.kp_min_sync * MS,
            gossip_ns: p.sw_gossip * MS,
            probe_ns: p.sw_probe * MS,
            suspicion_mult: p.sw_suspicion_mult,
            converge_ns: p.sw_converge * MS,
        }
    }

    /// The extra first-packet time of `mode` over one map lookup: a uniform part (the rules
    /// walked before the Service's own, its position uniform as the chain's order is new at
    /// every sync, plus its endpoint chain) and an exponential jitter that grows with the
    /// chain. `(fixed, uniform span, jitter mean)`, ns.
    fn first_packet_parts(&self, mode: Mode, c: Cluster) -> (f64, f64, f64) {
        match mode {
            Mode::Iptables => {
                // The Service's endpoint chain: the jumps up to the chosen one (half of them
                // on average), then its KUBE-SEP chain's two rules.
                let walk = (c.endpoints + 1.0) / 2.0 + 2.0;
                let services = c.services as f64;
                (
                    walk * self.ipt_rule_ns,
                    services * self.ipt_rule_ns,
                    services * self.ipt_jitter_ns,
                )
            }
            // One lookup whatever the number of Services (verdict maps; IPVS's hash table).
            Mode::Nftables | Mode::Ipvs | Mode::Swarm => (0.0, 0.0, 0.0),
        }
    }

    /// The mean CPU a new connection's first packet spends in the rules, ns (the uniform
    /// walk; the jitter is waiting, not work).
    pub fn first_packet_cpu_ns(&self, mode: Mode, c: Cluster) -> f64 {
        let (fixed, span, _) = self.first_packet_parts(mode, c);
        fixed + span / 2.0
    }

    /// Quantile `q` of the first packet's extra time over one lookup, ns.
    pub fn first_packet_extra_quantile(&self, mode: Mode, c: Cluster, q: f64) -> f64 {
        let (fixed, span, jitter) = self.first_packet_parts(mode, c);
        fixed + uniform_plus_exponential_quantile(span, jitter, q)
    }

    /// Quantile `q` of the first-packet round trip the §7 benchmark measures with `services`
    /// Services, ns: its floor and jitter, plus the mode's walk and jitter.
    pub fn bench_rtt_quantile(&self, mode: Mode, services: u64, q: f64) -> f64 {
        let c = Cluster {
            services,
            endpoints: 1.0,
        };
        let (_, span, jitter) = self.first_packet_parts(mode, c);
        self.bench_rtt_ns
            + uniform_plus_exponential_quantile(span, self.bench_jitter_ns + jitter, q)
    }

    /// The rules (iptables) a node holds for the cluster's Services; `None` for modes whose
    /// lookup does not grow with them.
    pub fn rules(&self, mode: Mode, c: Cluster) -> Option<u64> {
        (mode == Mode::Iptables)
            .then(|| (c.services as f64 * rules_per_service(c.endpoints)).round() as u64)
    }

    /// How long one kube-proxy sync takes, ns: iptables rewrites its chains (O(rules)),
    /// nftables and IPVS apply what changed.
    pub fn sync_ns(&self, mode: Mode, c: Cluster) -> f64 {
        match self.rules(mode, c) {
            Some(rules) => self.ipt_sync_ns + rules as f64 * self.ipt_sync_rule_ns,
            None => self.nft_sync_ns,
        }
    }

    /// Mean endpoints of a cluster's Services (for those a scenario does not model).
    pub fn typical_endpoints(&self) -> f64 {
        self.endpoints
    }

    /// kube-proxy's `minSyncPeriod`: a sync starts no sooner than this after the last began.
    pub fn min_sync_ns(&self) -> f64 {
        self.min_sync_ns
    }

    /// How long after an endpoint is gone a node stops sending it calls, when nothing else is
    /// being synced, ns; `mode`'s own rule for how it learns:
    /// - kube-proxy: the endpoint leaves its EndpointSlice when the control plane learns
    ///   (at once for a deletion or a container's exit, when the node is declared failed for
    ///   a host that died), then the next sync applies it: [`Costs::sync_ns`] (a sync right
    ///   after another waits for `minSyncPeriod`: the caller's business, as only it knows when
    ///   the last one ran);
    /// - Swarm: a task being stopped leaves the load balancers before its container stops
    ///   (no lag); one that exits leaves after a gossip round; a dead node's after memberlist
    ///   declares it dead (probe interval + suspicion), long before the managers do.
    pub fn removal_lag_ns(&self, mode: Mode, c: Cluster, cause: Removal, nodes: usize) -> f64 {
        if mode.is_kube_proxy() {
            return self.sync_ns(mode, c);
        }
        match cause {
            // The executor waits for the gossip to converge before it stops the container:
            // calls fail only if the gossip is slower.
            Removal::Deleted => (self.gossip_ns - self.converge_ns).max(0.0),
            Removal::Exited => self.gossip_ns,
            Removal::HostDied => {
                let n = (nodes.max(1)) as f64;
                self.probe_ns + self.suspicion_mult * n.log10().max(1.0) * self.probe_ns
            }
        }
    }
}

/// Why an endpoint left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    /// Its controller deleted it (scale-in, rollout, eviction, drain).
    Deleted,
    /// Its container exited (finished, failed, crashed).
    Exited,
    /// Its host died under it.
    HostDied,
}

/// Quantile `q` of U·`span` + E, U uniform on [0, 1) and E exponential of mean `mean`.
fn uniform_plus_exponential_quantile(span: f64, mean: f64, q: f64) -> f64 {
    let q = q.clamp(0.0, 1.0 - 1e-12);
    if mean <= 0.0 {
        return span * q;
    }
    if span <= 0.0 {
        return -mean * (1.0 - q).ln();
    }
    let cdf = |x: f64| {
        if x <= 0.0 {
            0.0
        } else if x >= span {
            1.0 - mean / span * (-x / mean).exp() * ((span / mean).exp() - 1.0)
        } else {
            x / span - mean / span * (1.0 - (-x / mean).exp())
        }
    };
    // The cdf is continuous and increasing: bisection to well under a nanosecond.
    let (mut lo, mut hi) = (0.0, span + 50.0 * mean);
    for _ in 0..80 {
        let mid = (lo + hi) / 2.0;
        if cdf(mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Profile;

    fn costs() -> Costs {
        Costs::new(&Profile::default_profile().params)
    }

    /// The first-packet round trips of network-measurements.md §7 (Kubernetes blog
    /// 2025-02-28, iptables-only.svg), ms: Services, then p01, p50, p90, p99.
    const SECTION_7: [(u64, [f64; 4]); 3] = [
        (5_000, [0.015, 0.047, 0.120, 0.153]),
        (10_000, [0.011, 0.062, 0.189, 0.258]),
        (30_000, [0.040, 0.273, 0.495, 0.716]),
    ];
    const QUANTILES: [f64; 4] = [0.01, 0.5, 0.9, 0.99];

    #[test]
    fn iptables_first_packets_follow_the_blogs_percentiles() {
        // Within 30 % or 10 µs (the points are read from a chart to ±4 µs, and the 10k row's
        // p01 is below the 5k row's: noise no monotone model can follow).
        let c = costs();
        for (services, row) in SECTION_7 {
            for (q, want) in QUANTILES.into_iter().zip(row) {
                let got = c.bench_rtt_quantile(Mode::Iptables, services, q) / 1e6;
                let tol = (0.3 * want).max(0.010);
                assert!(
                    (got - want).abs() <= tol,
                    "{services} Services p{}: model {got:.4} ms, blog {want} ms",
                    q * 100.0
                );
            }
        }
    }

    #[test]
    fn nftables_is_what_the_blog_says_of_it() {
        let c = costs();
        let rtt = |m: Mode, s: u64, q: f64| c.bench_rtt_quantile(m, s, q) / 1e6;
        // "At 5k and 10k Services, the nftables p50 is about the iptables p01."
        for (services, row) in &SECTION_7[..2] {
            let p50 = rtt(Mode::Nftables, *services, 0.5);
            assert!((p50 - row[0]).abs() <= 0.004, "{services}: {p50}");
        }
        // "At 30k Services, the nftables p99 beats the iptables p01 by a few µs."
        let p99 = rtt(Mode::Nftables, 30_000, 0.99);
        assert!(
            p99 < SECTION_7[2].1[0] && p99 > SECTION_7[2].1[0] - 0.010,
            "{p99}"
        );
        // O(1): the same at any number of Services; iptables grows.
        assert_eq!(
            rtt(Mode::Nftables, 100, 0.9),
            rtt(Mode::Nftables, 100_000, 0.9)
        );
        assert!(rtt(Mode::Iptables, 30_000, 0.5) > 4.0 * rtt(Mode::Iptables, 1_000, 0.5));
    }

    #[test]
    fn endpoint_rules_choose_uniformly_as_upstream_writes_them() {
        // pkg/proxy/iptables/proxier_test.go, TestInternalTrafficPolicyE2E: three endpoints.
        let args: Vec<Option<String>> = endpoint_probabilities(3)
            .into_iter()
            .map(|p| p.map(probability_arg))
            .collect();
        assert_eq!(
            args,
            [
                Some("0.3333333333".to_string()),
                Some("0.5000000000".to_string()),
                None
            ]
        );
        for n in 1..=20 {
            let mut reach = 1.0;
            for p in endpoint_probabilities(n) {
                let take = reach * p.unwrap_or(1.0);
                assert!((take - 1.0 / n as f64).abs() < 1e-12, "{n}");
                reach -= take;
            }
            assert!(reach.abs() < 1e-12);
        }
    }

    #[test]
    fn rules_and_sync_time_follow_the_eks_measurements() {
        let c = costs();
        assert_eq!(iptables_rules_per_service(1), 5);
        assert_eq!(iptables_rules_per_service(3), 11);
        assert_eq!(iptables_rules_per_service(0), 1);
        // EKS 1.31: 10,059 rules, a 170 ms sync; 99 rules, 130 ms.
        let cluster = |rules: f64| Cluster {
            services: 1000,
            endpoints: (rules / 1000.0 - 2.0) / 3.0,
        };
        let ms = |rules: f64| c.sync_ns(Mode::Iptables, cluster(rules)) / 1e6;
        assert!((ms(10_059.0) - 170.0).abs() < 0.5, "{}", ms(10_059.0));
        assert!((ms(99.0) - 130.0).abs() < 0.5, "{}", ms(99.0));
        // nftables applies what changed: no growth with the cluster.
        let big = Cluster {
            services: 30_000,
            endpoints: 3.0,
        };
        assert_eq!(c.rules(Mode::Nftables, big), None);
        assert!(c.sync_ns(Mode::Nftables, big) < c.sync_ns(Mode::Iptables, big) / 3.0);
    }

    #[test]
    fn only_iptables_charges_the_first_packet() {
        let c = costs();
        let cl = Cluster {
            services: 10_000,
            endpoints: 3.0,
        };
        // The mean walk: half the Services' rules, then the endpoint chain.
        let want = (5_000.0 + 2.0 + 2.0) * 6.4;
        assert!((c.first_packet_cpu_ns(Mode::Iptables, cl) - want).abs() < 1e-6);
        for m in [Mode::Nftables, Mode::Ipvs, Mode::Swarm] {
            assert_eq!(c.first_packet_cpu_ns(m, cl), 0.0);
            assert_eq!(c.first_packet_extra_quantile(m, cl, 0.99), 0.0);
        }
        let p50 = c.first_packet_extra_quantile(Mode::Iptables, cl, 0.5);
        let p99 = c.first_packet_extra_quantile(Mode::Iptables, cl, 0.99);
        assert!(p99 > p50 && p50 > 0.0);
    }

    #[test]
    fn swarm_learns_of_a_dead_node_from_memberlist() {
        let c = costs();
        let cl = Cluster {
            services: 10,
            endpoints: 2.0,
        };
        let lag = |cause, nodes| c.removal_lag_ns(Mode::Swarm, cl, cause, nodes) / 1e9;
        assert_eq!(lag(Removal::Deleted, 8), 0.0);
        assert!((lag(Removal::Exited, 8) - 0.2).abs() < 1e-9);
        // 1 s probe + 4 × max(1, log10 n) s suspicion.
        assert!((lag(Removal::HostDied, 8) - 5.0).abs() < 1e-9);
        assert!((lag(Removal::HostDied, 1000) - 13.0).abs() < 1e-9);
        // kube-proxy: its sync, whatever the cause.
        let ipt = c.removal_lag_ns(Mode::Iptables, cl, Removal::HostDied, 8);
        assert_eq!(ipt, c.sync_ns(Mode::Iptables, cl));
    }

    #[test]
    fn the_quantile_inverts_the_distribution() {
        // Pure uniform, pure exponential, and a mixture's median between the two parts'.
        assert!((uniform_plus_exponential_quantile(100.0, 0.0, 0.25) - 25.0).abs() < 1e-9);
        let e = uniform_plus_exponential_quantile(0.0, 10.0, 0.5);
        assert!((e - 10.0 * 2f64.ln()).abs() < 1e-9);
        let m = uniform_plus_exponential_quantile(100.0, 10.0, 0.5);
        assert!(m > 50.0 && m < 60.0, "{m}");
        assert!(
            uniform_plus_exponential_quantile(100.0, 10.0, 0.99)
                > uniform_plus_exponential_quantile(100.0, 10.0, 0.9)
        );
    }

    #[test]
    fn modes_parse_by_name() {
        for m in Mode::ALL {
            assert_eq!(m.name().parse::<Mode>(), Ok(m));
        }
        let e = "userspace".parse::<Mode>().unwrap_err();
        assert!(e
            .to_string()
            .contains("expected iptables, nftables, ipvs or swarm"));
        assert!(Mode::Ipvs.warning().unwrap().contains("deprecated"));
    }
}
