//! Marathon's placement as an ordinary [`Scheduler`]: the first node, in a seeded random
//! order, whose free resources fit the task and that meets every constraint of its app.
//!
//! Marathon places a queued task on the first offer it matches (mesosphere/marathon
//! `OfferMatcherManager`: an offer goes to the launch queue's apps in turn, the first whose
//! resources and constraints match takes it), and the Mesos allocator visits agents in a
//! random order each allocation cycle, so over the agents a framework holds Marathon is a
//! randomised first fit — the placement the Omega simulator also gives every scheduler. An app
//! is the pods sharing an `owner` (and namespace); constraints read the node's name
//! (`hostname`), `topology.kubernetes.io/region`/`zone` (`@region`/`@zone`) and its labels as
//! Mesos attributes. The app's placed instances are taken in node order (the cluster does not
//! keep launch order across nodes), which only matters for `CLUSTER` without a value: the
//! instance on the lowest node decides it.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::marathon::{AgentInfo, Constraint};
use crate::model::{
    ClusterView, Decision, NodeId, NodeInfo, Outcome, PodSpec, Resource, Scheduler, Unschedulable,
    WorkCount,
};

/// A pod's app placement: its Marathon constraints and the app's desired instance count
/// (`GROUP_BY` with a count spreads that many instances).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppPlacement {
    pub constraints: Vec<Constraint>,
    pub instances: u32,
}

/// Reason a node gives for failing the app's constraints.
pub const CONSTRAINT_REASON: &str = "node(s) didn't match the app's Marathon constraints";

/// The value a constraint on `field` reads on `node`, as [`AgentInfo::field`] reads it on
/// [`agent_info`]`(node)`.
fn field<'a>(node: &'a NodeInfo, field: &str) -> Option<&'a str> {
    let label = |k: &str| node.labels.get(k).map(String::as_str);
    match field {
        "hostname" | "@hostname" => Some(&node.name),
        "@region" => label("topology.kubernetes.io/region"),
        "@zone" => label("topology.kubernetes.io/zone"),
        other => label(other),
    }
}

/// What a constraint sees of `node`.
pub fn agent_info(node: &NodeInfo) -> AgentInfo {
    AgentInfo {
        hostname: node.name.clone(),
        region: node.labels.get("topology.kubernetes.io/region").cloned(),
        zone: node.labels.get("topology.kubernetes.io/zone").cloned(),
        attributes: node.labels.clone(),
    }
}

/// For each of `pod`'s constraints, the field values of the nodes its app's instances are
/// placed on (one entry per instance, in node order).
pub fn placed_values<'a>(pod: &PodSpec, nodes: &'a [NodeInfo]) -> Vec<Vec<Option<&'a str>>> {
    pod.marathon
        .constraints
        .iter()
        .map(|c| {
            nodes
                .iter()
                .flat_map(|n| {
                    std::iter::repeat_n(field(n, &c.field), n.owned_by(&pod.owner) as usize)
                })
                .collect()
        })
        .collect()
}

/// Whether `node` meets every constraint of `pod`'s app, given [`placed_values`].
pub fn meets_constraints(pod: &PodSpec, node: &NodeInfo, placed: &[Vec<Option<&str>>]) -> bool {
    let app = &pod.marathon;
    if app.constraints.is_empty() {
        return true;
    }
    let agent = agent_info(node);
    app.constraints
        .iter()
        .zip(placed)
        .all(|(c, placed)| c.meets(&agent, placed, app.instances.max(1)))
}

/// Marathon's randomised first fit.
pub struct MarathonScheduler {
    rng: ChaCha8Rng,
}

impl MarathonScheduler {
    pub fn new(seed: u64) -> Self {
        MarathonScheduler {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }
}

impl Scheduler for MarathonScheduler {
    fn name(&self) -> &'static str {
        "marathon"
    }

    fn schedule(&mut self, pod: &PodSpec, view: &dyn ClusterView) -> Outcome {
        let nodes = view.nodes();
        let mut work = WorkCount::default();
        // Reasons are counted by kind and worded once, at the end: a failing scan must not
        // allocate per node.
        let mut reasons: BTreeMap<Reason, usize> = BTreeMap::new();
        if !nodes.is_empty() {
            let start = self.rng.random_range(0..nodes.len());
            let placed = placed_values(pod, nodes);
            for k in 0..nodes.len() {
                let i = (start + k) % nodes.len();
                let node = &nodes[i];
                work.nodes_filtered += 1;
                work.plugin_evals += 1;
                let mut tally = |r| *reasons.entry(r).or_insert(0) += 1;
                if node.unschedulable {
                    tally(Reason::Cordoned);
                    continue;
                }
                if !node.fits(pod) {
                    let mut any = false;
                    for r in pod.requests.shortfalls(&node.free()) {
                        any = true;
                        tally(Reason::Short(r));
                    }
                    match node.device_misfit(pod) {
                        Some(m) => tally(Reason::Devices(m.k8s_reason())),
                        None if !any => tally(Reason::Devices("node(s) didn't fit")),
                        None => {}
                    }
                    continue;
                }
                if !meets_constraints(pod, node, &placed) {
                    tally(Reason::Constraints);
                    continue;
                }
                return Outcome {
                    decision: Decision::bind_default(NodeId(i), pod, view),
                    work,
                };
            }
        }
        let mut why = Unschedulable {
            nodes: nodes.len(),
            ..Default::default()
        };
        for (r, n) in reasons {
            let text = match r {
                Reason::Cordoned => "node(s) were unschedulable".to_string(),
                Reason::Short(Resource::Pods) => "Too many pods".to_string(),
                Reason::Short(other) => format!("Insufficient {}", other.k8s_name()),
                Reason::Devices(m) => m.to_string(),
                Reason::Constraints => CONSTRAINT_REASON.to_string(),
            };
            *why.reasons.entry(text).or_insert(0) += n;
        }
        Outcome {
            decision: Decision::Unschedulable(why),
            work,
        }
    }
}

/// Why one node refused a pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Reason {
    Cordoned,
    Short(Resource),
    Devices(&'static str),
    Constraints,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Resources;
    use crate::Cluster;
    use std::sync::Arc;

    fn node(name: &str, rack: &str) -> NodeInfo {
        let mut n = NodeInfo::new(
            name,
            Resources {
                cpu_milli: 4000,
                memory_bytes: 16 << 30,
                pods: 110,
                ..Resources::ZERO
            },
        );
        n.labels.insert("rack".into(), rack.into());
        n
    }

    fn pod(name: &str, app: &str, cs: &[&[&str]], instances: u32) -> PodSpec {
        let mut p = PodSpec::new(
            name,
            Resources {
                cpu_milli: 500,
                memory_bytes: 1 << 30,
                ..Resources::ZERO
            },
        );
        p.owner = app.into();
        p.marathon = AppPlacement {
            constraints: cs.iter().map(|c| Constraint::parse(c).unwrap()).collect(),
            instances,
        };
        p
    }

    /// Places `n` instances of one app one after another, binding each.
    fn place(
        cluster: &mut Cluster,
        s: &mut MarathonScheduler,
        cs: &[&[&str]],
        n: u32,
    ) -> Vec<usize> {
        (0..n)
            .map_while(|i| {
                let p = pod(&format!("web-{i}"), "web", cs, n);
                match s.schedule(&p, cluster as &dyn ClusterView).decision {
                    Decision::Bind { node, devices } => {
                        cluster.bind(node, Arc::new(p), devices).unwrap();
                        Some(node.0)
                    }
                    _ => None,
                }
            })
            .collect()
    }

    #[test]
    fn unique_hostname_puts_each_instance_on_its_own_node_and_refuses_the_next() {
        let mut c = Cluster::new((0..4).map(|i| node(&format!("n{i}"), "r0")).collect());
        let mut s = MarathonScheduler::new(7);
        let mut on = place(&mut c, &mut s, &[&["hostname", "UNIQUE"]], 4);
        on.sort_unstable();
        assert_eq!(on, vec![0, 1, 2, 3]);
        let fifth = pod("web-4", "web", &[&["hostname", "UNIQUE"]], 5);
        match s.schedule(&fifth, &c as &dyn ClusterView).decision {
            Decision::Unschedulable(u) => {
                assert_eq!(u.reasons.get(CONSTRAINT_REASON), Some(&4), "{u:?}")
            }
            d => panic!("placed {d:?}"),
        }
        // Another app is not affected by web's instances.
        let other = pod("db-0", "db", &[&["hostname", "UNIQUE"]], 1);
        assert!(s
            .schedule(&other, &c as &dyn ClusterView)
            .decision
            .node()
            .is_some());
    }

    #[test]
    fn group_by_rack_spreads_evenly_and_cluster_pins_to_the_value() {
        let nodes = (0..6)
            .map(|i| node(&format!("n{i}"), &format!("r{}", i % 3)))
            .collect();
        let mut c = Cluster::new(nodes);
        let mut s = MarathonScheduler::new(1);
        let on = place(&mut c, &mut s, &[&["rack", "GROUP_BY", "3"]], 6);
        let mut per_rack = [0; 3];
        for n in on {
            per_rack[n % 3] += 1;
        }
        assert_eq!(per_rack, [2, 2, 2]);

        let mut c = Cluster::new(
            (0..6)
                .map(|i| node(&format!("n{i}"), &format!("r{}", i % 3)))
                .collect(),
        );
        let on = place(&mut c, &mut s, &[&["rack", "CLUSTER", "r1"]], 2);
        assert!(on.iter().all(|n| n % 3 == 1), "{on:?}");
    }

    #[test]
    fn zone_constraints_read_the_zone_label_of_placed_instances_too() {
        let zone = |i: usize| format!("z{}", i % 2);
        let nodes = (0..6)
            .map(|i| {
                let mut n = node(&format!("n{i}"), "r");
                n.labels
                    .insert("topology.kubernetes.io/zone".into(), zone(i));
                n
            })
            .collect();
        let mut c = Cluster::new(nodes);
        let mut s = MarathonScheduler::new(5);
        let on = place(&mut c, &mut s, &[&["@zone", "CLUSTER"]], 3);
        assert_eq!(on.len(), 3, "every instance placed");
        assert!(on.iter().all(|&n| zone(n) == zone(on[0])), "{on:?}");
        let mut c = Cluster::new(
            (0..6)
                .map(|i| {
                    let mut n = node(&format!("n{i}"), "r");
                    n.labels
                        .insert("topology.kubernetes.io/zone".into(), zone(i));
                    n
                })
                .collect(),
        );
        let on = place(&mut c, &mut s, &[&["@zone", "UNIQUE"]], 3);
        assert_eq!(on.len(), 2, "two zones, two instances: {on:?}");
    }

    #[test]
    fn the_random_start_depends_on_the_seed_only() {
        let c = Cluster::new((0..50).map(|i| node(&format!("n{i}"), "r")).collect());
        let first = |seed| {
            let mut s = MarathonScheduler::new(seed);
            (0..5)
                .map(|i| {
                    s.schedule(&pod(&format!("p{i}"), "a", &[], 1), &c as &dyn ClusterView)
                        .decision
                        .node()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(first(3), first(3));
        assert_ne!(first(3), first(4));
    }

    #[test]
    fn resources_are_reported_as_kube_scheduler_words_them() {
        let c = Cluster::new(vec![node("n0", "r")]);
        let mut big = pod("big", "a", &[], 1);
        big.requests.cpu_milli = 5000;
        match MarathonScheduler::new(0)
            .schedule(&big, &c as &dyn ClusterView)
            .decision
        {
            Decision::Unschedulable(u) => assert_eq!(u.reasons.get("Insufficient cpu"), Some(&1)),
            d => panic!("{d:?}"),
        }
    }
}
