//! The bin-packing family: first-fit, best-fit, worst-fit (spread), and the Tetris-style
//! dot-product alignment scorer (Grandl et al., "Multi-Resource Packing for Cluster
//! Schedulers", SIGCOMM 2014, §3.1: score = demand · available, both normalised to the
//! machine's capacity).
//!
//! They see resources only: a node qualifies if it is not cordoned, every requested
//! resource (cpu, memory, GPU, ephemeral storage, one pod slot) fits in what is free and its
//! GPU demand fits on the node's devices; the devices are the default choice
//! ([`NodeInfo::fit_devices`]). Ties go to the lowest node index, so results depend only on
//! the view's order.

use crate::model::{
    ClusterView, Decision, NodeId, NodeInfo, Outcome, PodSpec, Resource, Resources, Scheduler,
    Unschedulable, WorkCount,
};

/// kube-scheduler's wording for one node's rejection, one reason per failing resource.
fn reject_reasons(pod: &PodSpec, node: &NodeInfo) -> Vec<String> {
    if node.unschedulable {
        return vec!["node(s) were unschedulable".to_string()];
    }
    let mut reasons: Vec<String> = pod
        .requests
        .shortfalls(&node.free())
        .map(|r| match r {
            Resource::Pods => "Too many pods".to_string(),
            other => format!("Insufficient {}", other.k8s_name()),
        })
        .collect();
    if let Some(m) = node.device_misfit(pod) {
        if !reasons.iter().any(|r| r == m.k8s_reason()) {
            reasons.push(m.k8s_reason().to_string());
        }
    }
    reasons
}

fn qualifies(pod: &PodSpec, node: &NodeInfo) -> bool {
    !node.unschedulable && node.fits(pod)
}

fn unschedulable(pod: &PodSpec, nodes: &[NodeInfo]) -> Unschedulable {
    let mut u = Unschedulable {
        nodes: nodes.len(),
        ..Default::default()
    };
    for node in nodes {
        for r in reject_reasons(pod, node) {
            u.add(&r);
        }
    }
    u
}

/// The dimensions a pod is placed on, normalised by the node's allocatable: (request, free)
/// fractions for cpu, memory and, when the node has any, GPU.
fn fractions(req: &Resources, node: &NodeInfo) -> impl Iterator<Item = (f64, f64)> {
    let a = node.allocatable;
    let free = node.free();
    [
        (req.cpu_milli, free.cpu_milli, a.cpu_milli),
        (req.memory_bytes, free.memory_bytes, a.memory_bytes),
        (req.gpu_milli, free.gpu_milli, a.gpu_milli),
    ]
    .into_iter()
    .filter(|(_, _, cap)| *cap > 0)
    .map(|(r, f, cap)| (r as f64 / cap as f64, f as f64 / cap as f64))
}

/// Scans every node and keeps the qualifying one with the best score (`better(new, old)`).
fn best_by(
    pod: &PodSpec,
    view: &dyn ClusterView,
    score: impl Fn(&NodeInfo) -> f64,
    better: impl Fn(f64, f64) -> bool,
) -> Outcome {
    let nodes = view.nodes();
    let mut best: Option<(usize, f64)> = None;
    let mut scored = 0u64;
    for (i, node) in nodes.iter().enumerate() {
        if !qualifies(pod, node) {
            continue;
        }
        scored += 1;
        let s = score(node);
        if best.is_none_or(|(_, b)| better(s, b)) {
            best = Some((i, s));
        }
    }
    let n = nodes.len() as u64;
    let work = WorkCount {
        nodes_filtered: n,
        nodes_scored: scored,
        plugin_evals: n + scored,
    };
    let decision = match best {
        Some((i, _)) => Decision::bind_default(NodeId(i), pod, view),
        None => Decision::Unschedulable(unschedulable(pod, nodes)),
    };
    Outcome { decision, work }
}

/// Places each pod on the first node, in view order, that has room for it.
#[derive(Clone, Copy, Debug, Default)]
pub struct FirstFit;

impl Scheduler for FirstFit {
    fn name(&self) -> &'static str {
        "first-fit"
    }

    fn schedule(&mut self, pod: &PodSpec, view: &dyn ClusterView) -> Outcome {
        let nodes = view.nodes();
        match nodes.iter().position(|n| qualifies(pod, n)) {
            Some(i) => Outcome {
                decision: Decision::bind_default(NodeId(i), pod, view),
                work: WorkCount {
                    nodes_filtered: i as u64 + 1,
                    nodes_scored: 0,
                    plugin_evals: i as u64 + 1,
                },
            },
            None => {
                let n = nodes.len() as u64;
                Outcome {
                    decision: Decision::Unschedulable(unschedulable(pod, nodes)),
                    work: WorkCount {
                        nodes_filtered: n,
                        nodes_scored: 0,
                        plugin_evals: n,
                    },
                }
            }
        }
    }
}

/// Leftover after placement, summed over normalised dimensions: the tightest fit is smallest.
fn leftover(pod: &PodSpec, node: &NodeInfo) -> f64 {
    fractions(&pod.requests, node).map(|(r, f)| f - r).sum()
}

/// Places each pod on the node it leaves with the least normalised free capacity.
#[derive(Clone, Copy, Debug, Default)]
pub struct BestFit;

impl Scheduler for BestFit {
    fn name(&self) -> &'static str {
        "best-fit"
    }

    fn schedule(&mut self, pod: &PodSpec, view: &dyn ClusterView) -> Outcome {
        best_by(pod, view, |n| leftover(pod, n), |new, old| new < old)
    }
}

/// Places each pod on the node it leaves with the most normalised free capacity: spreading.
#[derive(Clone, Copy, Debug, Default)]
pub struct WorstFit;

impl Scheduler for WorstFit {
    fn name(&self) -> &'static str {
        "worst-fit"
    }

    fn schedule(&mut self, pod: &PodSpec, view: &dyn ClusterView) -> Outcome {
        best_by(pod, view, |n| leftover(pod, n), |new, old| new > old)
    }
}

/// Tetris alignment: the node maximising demand · free (both as fractions of capacity).
#[derive(Clone, Copy, Debug, Default)]
pub struct DotProduct;

impl Scheduler for DotProduct {
    fn name(&self) -> &'static str {
        "dot-product"
    }

    fn schedule(&mut self, pod: &PodSpec, view: &dyn ClusterView) -> Outcome {
        best_by(
            pod,
            view,
            |n| fractions(&pod.requests, n).map(|(r, f)| r * f).sum(),
            |new, old| new > old,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn node(name: &str, cpu: u64, mem_gib: u64, used_cpu: u64, used_mem_gib: u64) -> NodeInfo {
        let mut n = NodeInfo::new(
            name,
            Resources {
                cpu_milli: cpu,
                memory_bytes: mem_gib << 30,
                pods: 110,
                ..Resources::ZERO
            },
        );
        n.requested = Resources {
            cpu_milli: used_cpu,
            memory_bytes: used_mem_gib << 30,
            ..Resources::ZERO
        };
        n
    }

    fn pod(cpu: u64, mem_gib: u64) -> PodSpec {
        PodSpec::new(
            "p",
            Resources {
                cpu_milli: cpu,
                memory_bytes: mem_gib << 30,
                ..Resources::ZERO
            },
        )
    }

    fn bind(s: &mut dyn Scheduler, p: &PodSpec, nodes: &[NodeInfo]) -> Option<usize> {
        match s.schedule(p, &nodes.to_vec()).decision {
            Decision::Bind {
                node: NodeId(i), ..
            } => Some(i),
            _ => None,
        }
    }

    /// Three nodes of 4 cores / 8 GiB with 1, 3 and 2 cores in use.
    fn cluster() -> Vec<NodeInfo> {
        vec![
            node("a", 4000, 8, 1000, 2),
            node("b", 4000, 8, 3000, 2),
            node("c", 4000, 8, 2000, 2),
        ]
    }

    #[test]
    fn each_algorithm_makes_its_textbook_choice() {
        let p = pod(1000, 1);
        assert_eq!(bind(&mut FirstFit, &p, &cluster()), Some(0));
        assert_eq!(bind(&mut BestFit, &p, &cluster()), Some(1), "tightest: b");
        assert_eq!(bind(&mut WorstFit, &p, &cluster()), Some(0), "emptiest: a");
        assert_eq!(bind(&mut DotProduct, &p, &cluster()), Some(0));
    }

    /// Tetris prefers the machine whose free resources align with the demand: a cpu-heavy pod
    /// goes where cpu, not memory, is free.
    #[test]
    fn dot_product_aligns_demand_with_free_resources() {
        let nodes = vec![
            node("mem-free", 4000, 16, 3000, 0),
            node("cpu-free", 4000, 16, 0, 14),
        ];
        assert_eq!(bind(&mut DotProduct, &pod(1000, 1), &nodes), Some(1));
        assert_eq!(bind(&mut DotProduct, &pod(100, 2), &nodes), Some(0));
    }

    #[test]
    fn failures_are_reported_per_resource_and_node() {
        let mut nodes = cluster();
        nodes[2].unschedulable = true;
        let out = BestFit.schedule(&pod(3500, 7), &nodes);
        let Decision::Unschedulable(u) = out.decision else {
            panic!("must not fit")
        };
        assert_eq!(
            u.to_string(),
            "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu, \
             2 Insufficient memory."
        );
    }

    proptest! {
        /// Every bin-packing algorithm binds only to a node with room, and reports a pod
        /// unschedulable only if no node has room.
        #[test]
        fn binds_only_where_the_pod_fits(
            spec in proptest::collection::vec((1u64..8000, 0u64..8000, 1u64..64, 0u64..64, any::<bool>()), 0..20),
            req in (0u64..6000, 0u64..32),
        ) {
            let nodes: Vec<NodeInfo> = spec.iter().enumerate().map(|(i, &(cpu, used, mem, used_mem, cordon))| {
                let mut n = node(&format!("n{i}"), cpu, mem, used.min(cpu), used_mem.min(mem));
                n.unschedulable = cordon;
                n
            }).collect();
            let p = pod(req.0, req.1);
            let any = nodes.iter().any(|n| qualifies(&p, n));
            let algos: [&mut dyn Scheduler; 4] = [&mut FirstFit, &mut BestFit, &mut WorstFit, &mut DotProduct];
            for s in algos {
                match bind(s, &p, &nodes) {
                    Some(i) => prop_assert!(qualifies(&p, &nodes[i])),
                    None => prop_assert!(!any, "{} missed a feasible node", s.name()),
                }
            }
        }
    }
}
