//! Criterion benchmarks of orchsim's hot paths, and the workloads they drive.
//!
//! The benchmark targets live in `benches/benches/`; this library holds the synthetic models
//! they run, so tests can check the models do what the benchmarks claim to measure.

use std::sync::Arc;

use orchsim_kernel::{Handler, Kernel, SimDuration, SimTime};
use orchsim_sched::labels::{
    LabelSelector, NodeSelectorTerm, PodAffinityTerm, Requirement, SelectorOp, Taint, TaintEffect,
};
use orchsim_sched::{Cluster, Decision, NodeInfo, PodSpec, Resources, Scheduler};

/// A model whose handler only reschedules the event it received: it measures the kernel's
/// queue and loop alone. Delays come from a 64-bit LCG (Knuth's MMIX constants), so the heap
/// sees realistic interleavings rather than a FIFO.
pub struct NoopChain {
    remaining: u64,
    lcg: u64,
}

impl NoopChain {
    pub fn new(events: u64) -> Self {
        NoopChain {
            remaining: events,
            lcg: 0x9E37_79B9_7F4A_7C15,
        }
    }
}

impl Handler<u32> for NoopChain {
    #[inline]
    fn handle(&mut self, k: &mut Kernel<u32>, ev: u32) {
        if self.remaining > 0 {
            self.remaining -= 1;
            self.lcg = self
                .lcg
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            // 1 ns to 1 µs ahead.
            k.schedule_in(SimDuration((self.lcg >> 54) + 1), ev);
        }
    }
}

/// Runs `events` no-op events with `in_flight` events always queued; returns events handled.
pub fn run_noop(in_flight: u32, events: u64) -> u64 {
    let mut k = Kernel::with_capacity(in_flight as usize);
    for i in 0..in_flight {
        k.schedule_at(SimTime::from_nanos(u64::from(i)), i);
    }
    let mut model = NoopChain::new(events.saturating_sub(u64::from(in_flight)));
    k.run(&mut model, SimTime::MAX).events
}

/// A cluster with a realistic mix for scheduler benchmarks: 3 zones, 10% of nodes with a
/// PreferNoSchedule taint, 5% GPU nodes tainted NoSchedule, two node sizes, and
/// `pods_per_node` pods of 50 services already bound. Deterministic in `nodes`.
pub fn bench_cluster(nodes: usize, pods_per_node: usize) -> Cluster {
    let mut out = Vec::with_capacity(nodes);
    for i in 0..nodes {
        let big = i.is_multiple_of(4);
        let mut n = NodeInfo::new(
            format!("node-{i}"),
            Resources {
                cpu_milli: if big { 64_000 } else { 16_000 },
                memory_bytes: if big { 256 << 30 } else { 64 << 30 },
                gpu_milli: if i % 20 == 7 { 8000 } else { 0 },
                ephemeral_storage_bytes: 0,
                pods: 110,
            },
        );
        n.labels.insert(
            "topology.kubernetes.io/zone".into(),
            format!("zone-{}", i % 3),
        );
        n.labels.insert(
            "node.kubernetes.io/instance-type".into(),
            if big { "xl" } else { "m" }.into(),
        );
        if i % 10 == 3 {
            n.taints.push(Taint {
                key: "maintenance".into(),
                value: "soon".into(),
                effect: TaintEffect::PreferNoSchedule,
            });
        }
        if i % 20 == 7 {
            n.taints.push(Taint {
                key: "nvidia.com/gpu".into(),
                value: "present".into(),
                effect: TaintEffect::NoSchedule,
            });
        }
        for k in 0..pods_per_node {
            n.add_pod(Arc::new(bench_pod(i * pods_per_node + k)));
        }
        out.push(n);
    }
    Cluster::new(out)
}

/// The `k`-th pod of the benchmark mix: one of 50 services, 250m–1 core, 256Mi–2Gi; every
/// 5th prefers instance type `xl`, every 10th has required anti-affinity to its own service
/// per hostname.
pub fn bench_pod(k: usize) -> PodSpec {
    let svc = format!("svc-{}", k % 50);
    let mut p = PodSpec::new(
        format!("pod-{k}"),
        Resources {
            cpu_milli: 250 * (1 + (k % 4) as u64),
            memory_bytes: (256 << 20) * (1 + (k % 8) as u64),
            ..Resources::ZERO
        },
    );
    p.labels.insert("app".into(), svc.clone());
    p.owner = svc.clone();
    if k.is_multiple_of(5) {
        p.node_affinity.preferred.push((
            10,
            NodeSelectorTerm {
                match_expressions: vec![Requirement {
                    key: "node.kubernetes.io/instance-type".into(),
                    op: SelectorOp::In,
                    values: vec!["xl".into()],
                }],
                match_fields: vec![],
            },
        ));
    }
    if k.is_multiple_of(10) {
        p.pod_anti_affinity.required.push(PodAffinityTerm {
            selector: Some(LabelSelector {
                match_labels: [("app".to_string(), svc)].into_iter().collect(),
                match_expressions: vec![],
            }),
            namespaces: vec![],
            topology_key: "kubernetes.io/hostname".into(),
        });
    }
    p
}

/// Schedules `pods` pods from the mix with `scheduler`, binding each decision; returns how
/// many were bound.
pub fn schedule_stream(
    scheduler: &mut dyn Scheduler,
    cluster: &mut Cluster,
    first: usize,
    pods: usize,
) -> usize {
    let mut bound = 0;
    for k in first..first + pods {
        let p = bench_pod(k);
        if let Decision::Bind { node, devices } = scheduler.schedule(&p, &*cluster).decision {
            cluster
                .bind(node, Arc::new(p), devices)
                .expect("schedulers bind only where the pod fits");
            bound += 1;
        }
    }
    bound
}

/// The embedded quickstart scenario, parsed.
pub fn quickstart() -> orchsim_sim::Scenario {
    orchsim_sim::parse(
        "quickstart.toml",
        include_str!("../../scenarios/quickstart.toml"),
    )
    .expect("the shipped quickstart scenario is valid")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_benchmark_mix_schedules() {
        let cluster = super::bench_cluster(200, 5);
        assert_eq!(cluster.nodes()[0].pods.len(), 5);
        for name in orchsim_sched::ALGORITHMS {
            let mut s = orchsim_sched::by_name(name, 1).unwrap();
            let mut copy = cluster.clone();
            assert_eq!(
                super::schedule_stream(s.as_mut(), &mut copy, 1000, 50),
                50,
                "{name}"
            );
        }
    }

    #[test]
    fn noop_chain_handles_exactly_the_requested_events() {
        assert_eq!(super::run_noop(100, 10_000), 10_000);
        assert_eq!(super::run_noop(1, 1), 1);
    }
}
