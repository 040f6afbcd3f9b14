//! The algorithm catalog and the bin-packing algorithms.

use std::fmt;

use crate::model::{
    ClusterView, Decision, NodeId, NodeInfo, Outcome, PodSpec, Scheduler, Unschedulable, WorkCount,
};

/// Names accepted by [`by_name`], in the order they are listed to users.
pub const ALGORITHMS: &[&str] = &["first-fit"];

/// An algorithm name that is not in [`ALGORITHMS`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownAlgorithm(pub String);

impl fmt::Display for UnknownAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown scheduling algorithm `{}`; valid algorithms: {}",
            self.0,
            ALGORITHMS.join(", ")
        )
    }
}

impl std::error::Error for UnknownAlgorithm {}

/// Builds the algorithm called `name`. `seed` feeds algorithms that break ties randomly.
pub fn by_name(name: &str, _seed: u64) -> Result<Box<dyn Scheduler + Send>, UnknownAlgorithm> {
    match name {
        "first-fit" => Ok(Box::new(FirstFit)),
        other => Err(UnknownAlgorithm(other.to_string())),
    }
}

/// Why a node rejects a pod, in kube-scheduler's wording; `None` if it accepts it.
pub(crate) fn reject_reason(pod: &PodSpec, node: &NodeInfo) -> Option<String> {
    if !node.schedulable {
        return Some("node(s) were unschedulable".to_string());
    }
    let free = node.free();
    let mut short = pod.requests.shortfalls(&free).peekable();
    let first = short.next()?;
    // kube-scheduler reports every insufficient resource; aggregate them in one reason per
    // node so that the per-node count adds up to the number of nodes.
    let mut reason = insufficient(first);
    for r in short {
        reason.push_str(", ");
        reason.push_str(&insufficient(r));
    }
    Some(reason)
}

fn insufficient(r: crate::model::Resource) -> String {
    match r {
        crate::model::Resource::Pods => "Too many pods".to_string(),
        other => format!("Insufficient {}", other.k8s_name()),
    }
}

/// Places each pod on the first node, in view order, that has room for it.
///
/// The classic baseline: cheap (stops at the first fit) and packs the low-numbered nodes.
#[derive(Clone, Copy, Debug, Default)]
pub struct FirstFit;

impl Scheduler for FirstFit {
    fn name(&self) -> &'static str {
        "first-fit"
    }

    fn schedule(&mut self, pod: &PodSpec, view: &dyn ClusterView) -> Outcome {
        let nodes = view.nodes();
        for (i, node) in nodes.iter().enumerate() {
            if node.schedulable && pod.requests.fits(&node.free()) {
                let work = WorkCount {
                    nodes_filtered: i as u64 + 1,
                    nodes_scored: 0,
                    plugin_evals: i as u64 + 1,
                };
                return Outcome {
                    decision: Decision::Bind(NodeId(i)),
                    work,
                };
            }
        }
        let mut u = Unschedulable {
            nodes: nodes.len(),
            ..Default::default()
        };
        for node in nodes {
            if let Some(r) = reject_reason(pod, node) {
                *u.reasons.entry(r).or_insert(0) += 1;
            }
        }
        let n = nodes.len() as u64;
        Outcome {
            decision: Decision::Unschedulable(u),
            work: WorkCount {
                nodes_filtered: n,
                nodes_scored: 0,
                plugin_evals: n,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Resources;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn node(name: &str, cpu: u64, mem: u64, used_cpu: u64) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            allocatable: Resources {
                cpu_milli: cpu,
                memory_bytes: mem,
                pods: 110,
                ..Resources::ZERO
            },
            requested: Resources {
                cpu_milli: used_cpu,
                ..Resources::ZERO
            },
            labels: BTreeMap::new(),
            site: "dc".into(),
            schedulable: true,
        }
    }

    fn pod(cpu: u64, mem: u64) -> PodSpec {
        PodSpec {
            name: "p".into(),
            requests: Resources {
                cpu_milli: cpu,
                memory_bytes: mem,
                pods: 1,
                ..Resources::ZERO
            },
            labels: BTreeMap::new(),
            owner: "svc".into(),
            priority: 0,
        }
    }

    #[test]
    fn first_fit_takes_the_first_node_with_room() {
        let nodes = vec![
            node("a", 1000, 1 << 30, 900),
            node("b", 4000, 1 << 30, 0),
            node("c", 8000, 1 << 30, 0),
        ];
        let out = FirstFit.schedule(&pod(500, 1), &nodes);
        assert_eq!(out.decision, Decision::Bind(NodeId(1)));
        assert_eq!(out.work.nodes_filtered, 2);
    }

    #[test]
    fn first_fit_skips_unschedulable_nodes_and_explains_failures() {
        let mut a = node("a", 8000, 1 << 30, 0);
        a.schedulable = false;
        let nodes = vec![a, node("b", 1000, 1 << 30, 0), node("c", 1000, 1, 0)];
        let out = FirstFit.schedule(&pod(2000, 2), &nodes);
        let Decision::Unschedulable(u) = out.decision else {
            panic!("expected unschedulable");
        };
        assert_eq!(
            u.to_string(),
            "0/3 nodes are available: 1 Insufficient cpu, 1 Insufficient cpu, \
             Insufficient memory, 1 node(s) were unschedulable."
        );
        assert_eq!(out.work.nodes_filtered, 3);
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let err = by_name("best-fti", 0).err().expect("must fail");
        assert_eq!(
            err.to_string(),
            "unknown scheduling algorithm `best-fti`; valid algorithms: first-fit"
        );
        assert_eq!(by_name("first-fit", 0).unwrap().name(), "first-fit");
    }

    proptest! {
        /// First-fit binds only where the pod fits, never reports a feasible pod unschedulable,
        /// and picks the lowest-index feasible node.
        #[test]
        fn first_fit_binds_the_first_feasible_node(
            nodes in proptest::collection::vec((0u64..8000, 0u64..8000, any::<bool>()), 0..30),
            req in 0u64..6000,
        ) {
            let view: Vec<NodeInfo> = nodes.iter().enumerate().map(|(i, &(cap, used, ok))| {
                let mut n = node(&format!("n{i}"), cap, 1 << 30, used.min(cap));
                n.schedulable = ok;
                n
            }).collect();
            let p = pod(req, 1);
            let first = view.iter().position(|n| n.schedulable && p.requests.fits(&n.free()));
            match FirstFit.schedule(&p, &view).decision {
                Decision::Bind(NodeId(i)) => prop_assert_eq!(Some(i), first),
                Decision::Unschedulable(u) => {
                    prop_assert_eq!(first, None);
                    prop_assert_eq!(u.reasons.values().sum::<usize>(), view.len());
                }
            }
        }
    }
}
