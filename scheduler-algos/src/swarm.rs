//! Docker Swarm (swarmkit) placement: constraint expressions, the filter pipeline, and the
//! spread choice with placement preferences.
//!
//! Followed: moby/swarmkit `manager/constraint/constraint.go` (grammar, matching) and
//! `manager/scheduler/` (filters, nodeinfo ordering, decision tree).

use std::collections::BTreeMap;
use std::fmt;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::{
    ClusterView, Decision, NodeId, NodeInfo, Outcome, PodSpec, Scheduler, Unschedulable, WorkCount,
};

/// `==` or `!=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstraintOp {
    Eq,
    NotEq,
}

/// One parsed constraint, e.g. `node.labels.zone == east`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constraint {
    pub key: String,
    pub op: ConstraintOp,
    pub value: String,
}

/// A constraint expression that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConstraintError {
    pub expression: String,
    pub message: String,
}

impl fmt::Display for ConstraintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "constraint `{}`: {}", self.expression, self.message)
    }
}

impl std::error::Error for ConstraintError {}

/// constraint.go `alphaNumeric`: `^(?i)[a-z_][a-z0-9\-_.]+$`.
fn valid_key(k: &str) -> bool {
    let mut chars = k.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && k.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// constraint.go `valuePattern`: `^(?i)[a-z0-9:\-_\s\.\*\(\)\?\+\[\]\\\^\$\|\/]+$`.
fn valid_value(v: &str) -> bool {
    !v.is_empty()
        && v.chars().all(|c| {
            c.is_ascii_alphanumeric() || c.is_whitespace() || ":-_.*()?+[]\\^$|/".contains(c)
        })
}

impl Constraint {
    /// Parses one expression (constraint.go `Parse`): the first `==` or `!=` splits it; key and
    /// value are trimmed and checked against upstream's patterns.
    pub fn parse(expr: &str) -> Result<Constraint, ConstraintError> {
        let e = |m: &str| ConstraintError {
            expression: expr.to_string(),
            message: m.to_string(),
        };
        let (pos, op) = [("==", ConstraintOp::Eq), ("!=", ConstraintOp::NotEq)]
            .into_iter()
            .filter_map(|(s, op)| expr.find(s).map(|p| (p, op)))
            .min_by_key(|(p, _)| *p)
            .ok_or_else(|| e("invalid expression: expected `key==value` or `key!=value`"))?;
        let key = expr[..pos].trim();
        let value = expr[pos + 2..].trim();
        if !valid_key(key) {
            return Err(e(&format!("key '{key}' is invalid")));
        }
        if !valid_value(value) {
            return Err(e(&format!("value '{value}' is invalid")));
        }
        Ok(Constraint {
            key: key.to_string(),
            op,
            value: value.to_string(),
        })
    }

    /// constraint.go `Match`: case-insensitive comparison against any of `candidates`.
    pub fn matches(&self, candidates: &[&str]) -> bool {
        let hit = candidates
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&self.value));
        match self.op {
            ConstraintOp::Eq => hit,
            ConstraintOp::NotEq => !hit,
        }
    }
}

/// constraint.go `NodeMatches`: every constraint must hold on `node`. Missing values compare
/// as the empty string (so `==` fails and `!=` passes); unknown keys never match.
pub fn node_matches(constraints: &[Constraint], node: &NodeInfo) -> bool {
    constraints.iter().all(|c| {
        let key = c.key.to_ascii_lowercase();
        let label = |map: &crate::labels::Labels, prefix: &str| -> Option<String> {
            // The label name keeps its case; only the prefix is case-insensitive.
            (key.starts_with(prefix) && c.key.len() > prefix.len())
                .then(|| map.get(&c.key[prefix.len()..]).cloned().unwrap_or_default())
        };
        let value = match key.as_str() {
            "node.id" | "node.hostname" => Some(node.name.clone()),
            // swarmkit reports roles as WORKER / MANAGER; matching is case-insensitive.
            "node.role" => Some(node.role.name().to_string()),
            "node.platform.os" => Some(node.os.clone()),
            "node.platform.arch" => Some(node.arch.clone()),
            _ => label(&node.labels, "node.labels.")
                .or_else(|| label(&node.engine_labels, "engine.labels.")),
        };
        match value {
            Some(v) => c.matches(&[&v]),
            None => false,
        }
    })
}

/// The Swarm filters (manager/scheduler/filter.go) in pipeline order. Plugin, Platform and
/// CSI-volume filters need inputs orchsim does not model and are not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Filter {
    Ready,
    Resource,
    Constraint,
    HostPort,
    MaxReplicas,
}

impl Filter {
    const ALL: [Filter; 5] = [
        Filter::Ready,
        Filter::Resource,
        Filter::Constraint,
        Filter::HostPort,
        Filter::MaxReplicas,
    ];

    fn passes(self, pod: &PodSpec, node: &NodeInfo) -> bool {
        match self {
            Filter::Ready => !node.unschedulable,
            Filter::Resource => {
                // swarmkit reserves cpu and memory (and generic resources such as GPUs);
                // orchsim hosts also have a pod-slot limit, which is checked here too so a
                // decision never lands on a host that cannot take one more task.
                let free = node.free();
                let r = &pod.requests;
                r.cpu_milli <= free.cpu_milli
                    && r.memory_bytes <= free.memory_bytes
                    && r.gpu_milli <= free.gpu_milli
                    && r.pods <= free.pods
                    && (r.gpu_milli == 0 || node.device_misfit(pod).is_none())
            }
            Filter::Constraint => node_matches(&pod.swarm.constraints, node),
            Filter::HostPort => !pod.host_ports.iter().any(|want| {
                node.pods.iter().any(|p| {
                    p.host_ports
                        .iter()
                        .any(|used| used.port == want.port && used.protocol == want.protocol)
                })
            }),
            Filter::MaxReplicas => {
                pod.swarm.max_replicas == 0 || service_tasks(pod, node) < pod.swarm.max_replicas
            }
        }
    }

    /// filter.go `Explain(n)`.
    fn explain(self, n: usize) -> String {
        let (one, many) = match self {
            Filter::Ready => (
                "1 node not available for new tasks",
                "nodes not available for new tasks",
            ),
            Filter::Resource => (
                "insufficient resources on 1 node",
                "insufficient resources on",
            ),
            Filter::Constraint => (
                "scheduling constraints not satisfied on 1 node",
                "scheduling constraints not satisfied on",
            ),
            Filter::HostPort => (
                "host-mode port already in use on 1 node",
                "host-mode port already in use on",
            ),
            Filter::MaxReplicas => return "max replicas per node limit exceed".to_string(),
        };
        match (n, self) {
            (1, _) => one.to_string(),
            (_, Filter::Ready) => format!("{n} {many}"),
            _ => format!("{many} {n} nodes"),
        }
    }
}

/// Active tasks of the pod's service on the node (`ActiveTasksCountByService`).
fn service_tasks(pod: &PodSpec, node: &NodeInfo) -> u64 {
    node.owned_by(&pod.owner)
}

/// One level of swarmkit's decision tree: the nodes (or sub-branches) under one label value.
struct Branch {
    /// Service tasks on every node of the branch, eligible or not (tree build counts all).
    tasks: u64,
    eligible: Vec<usize>,
    children: BTreeMap<String, Branch>,
}

/// Docker Swarm's scheduler for one task at a time.
///
/// swarmkit schedules a service's pending tasks as a group; orchsim submits tasks one by one,
/// which is swarmkit's behaviour for a group of one. Go map iteration order (node insertion,
/// branch visiting) is replaced by a seeded shuffle, so ties are random like upstream's but
/// reproducible.
pub struct SwarmScheduler {
    rng: ChaCha8Rng,
}

impl SwarmScheduler {
    pub fn new(seed: u64) -> Self {
        SwarmScheduler {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// nodeLess: fewer tasks of this service, then fewer tasks in total.
    fn key(pod: &PodSpec, node: &NodeInfo) -> (u64, u64) {
        (service_tasks(pod, node), node.pods.len() as u64)
    }

    /// The best eligible node of a leaf; ties go to a uniformly random one (upstream: the first
    /// seen in map order survives the heap).
    fn best(&mut self, pod: &PodSpec, nodes: &[NodeInfo], eligible: &[usize]) -> Option<usize> {
        let best = eligible.iter().map(|&i| Self::key(pod, &nodes[i])).min()?;
        let tied: Vec<usize> = eligible
            .iter()
            .copied()
            .filter(|&i| Self::key(pod, &nodes[i]) == best)
            .collect();
        Some(tied[self.rng.random_range(0..tied.len())])
    }

    /// scheduleNTasksOnSubtree for n = 1.
    fn pick(&mut self, pod: &PodSpec, nodes: &[NodeInfo], tree: &Branch) -> Option<usize> {
        if tree.children.is_empty() {
            return self.best(pod, nodes, &tree.eligible);
        }
        let mut order: Vec<&Branch> = tree.children.values().collect();
        let mut no_room = vec![false; order.len()];
        let mut in_usable = tree.tasks;
        let mut converging = true;
        while converging && no_room.iter().any(|x| !x) {
            let usable = no_room.iter().filter(|x| !**x).count() as u64;
            let desired = (in_usable + 1) / usable;
            let remainder = (in_usable + 1) % usable;
            converging = false;
            order.shuffle(&mut self.rng);
            for (k, sub) in order.iter().enumerate() {
                if no_room[k] {
                    continue;
                }
                if sub.tasks < desired || (sub.tasks == desired && remainder > 0) {
                    converging = true;
                    match self.pick(pod, nodes, sub) {
                        Some(i) => return Some(i),
                        None => {
                            no_room[k] = true;
                            in_usable -= sub.tasks;
                        }
                    }
                }
            }
        }
        None
    }
}

impl Scheduler for SwarmScheduler {
    fn name(&self) -> &'static str {
        "swarm"
    }

    fn schedule(&mut self, pod: &PodSpec, view: &dyn ClusterView) -> Outcome {
        let nodes = view.nodes();
        let mut failures = [0usize; Filter::ALL.len()];
        let mut root = Branch {
            tasks: 0,
            eligible: Vec::new(),
            children: BTreeMap::new(),
        };
        let mut evals = 0u64;
        for (i, node) in nodes.iter().enumerate() {
            let mut tree = &mut root;
            for pref in &pod.swarm.preferences {
                let lower = pref.to_ascii_lowercase();
                let value = if lower.starts_with("node.labels.") && pref.len() > 12 {
                    node.labels.get(&pref[12..]).cloned().unwrap_or_default()
                } else if lower.starts_with("engine.labels.") && pref.len() > 14 {
                    node.engine_labels
                        .get(&pref[14..])
                        .cloned()
                        .unwrap_or_default()
                } else {
                    // Unsupported descriptors are skipped silently upstream (nodeset.go).
                    continue;
                };
                tree.tasks += service_tasks(pod, node);
                tree = tree.children.entry(value).or_insert_with(|| Branch {
                    tasks: 0,
                    eligible: Vec::new(),
                    children: BTreeMap::new(),
                });
            }
            tree.tasks += service_tasks(pod, node);
            let failed = Filter::ALL.iter().position(|f| {
                evals += 1;
                !f.passes(pod, node)
            });
            match failed {
                Some(k) => failures[k] += 1,
                None => tree.eligible.push(i),
            }
        }
        let work = WorkCount {
            nodes_filtered: nodes.len() as u64,
            nodes_scored: 0,
            plugin_evals: evals,
        };
        if let Some(i) = self.pick(pod, nodes, &root) {
            return Outcome {
                decision: Decision::bind_default(NodeId(i), pod, view),
                work,
            };
        }
        // pipeline.go Explain: counts descending, ties in pipeline order, joined by "; ".
        let mut counted: Vec<(usize, Filter)> = Filter::ALL
            .iter()
            .zip(failures)
            .filter(|(_, n)| *n > 0)
            .map(|(f, n)| (n, *f))
            .collect();
        counted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let parts: Vec<String> = counted.iter().map(|(n, f)| f.explain(*n)).collect();
        let mut why = Unschedulable {
            nodes: nodes.len(),
            ..Default::default()
        };
        for (n, f) in &counted {
            why.reasons.insert(f.explain(1), *n);
        }
        why.message = Some(if parts.is_empty() {
            "no suitable node".to_string()
        } else {
            format!("no suitable node ({})", parts.join("; "))
        });
        Outcome {
            decision: Decision::Unschedulable(why),
            work,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_upstream_forms() {
        let c = Constraint::parse("node.labels.zone == east").unwrap();
        assert_eq!(
            (c.key.as_str(), c.op, c.value.as_str()),
            ("node.labels.zone", ConstraintOp::Eq, "east")
        );
        let c = Constraint::parse("node.role!=manager").unwrap();
        assert_eq!(c.op, ConstraintOp::NotEq);
        assert!(Constraint::parse("node.role").is_err());
        assert!(Constraint::parse("==x").is_err());
        assert!(Constraint::parse("node.role==").is_err());
        assert!(Constraint::parse("node.labels.a==b;c").is_err());
    }

    use crate::model::Resources;
    use std::sync::Arc;

    fn node(name: &str, labels: &[(&str, &str)]) -> NodeInfo {
        let mut n = NodeInfo::new(
            name,
            Resources {
                cpu_milli: 4000,
                memory_bytes: 8 << 30,
                pods: 100,
                ..Resources::ZERO
            },
        );
        n.labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        n
    }

    fn task(service: &str) -> PodSpec {
        let mut p = PodSpec::new(
            format!("{service}-task"),
            Resources {
                cpu_milli: 100,
                memory_bytes: 1 << 20,
                ..Resources::ZERO
            },
        );
        p.owner = service.into();
        p
    }

    fn place(s: &mut SwarmScheduler, p: &PodSpec, nodes: &mut [NodeInfo], n: usize) -> Vec<usize> {
        let mut counts = vec![0; nodes.len()];
        for k in 0..n {
            let Decision::Bind {
                node: NodeId(i), ..
            } = s.schedule(p, &nodes.to_vec()).decision
            else {
                panic!("task {k} unschedulable");
            };
            let mut t = p.clone();
            t.name = format!("{}-{k}", p.name);
            nodes[i].add_pod(Arc::new(t));
            counts[i] += 1;
        }
        counts
    }

    /// constraint.go NodeMatches: labels by name (case-sensitive name, case-insensitive value);
    /// a missing label makes `==` fail and `!=` pass; unknown keys never match.
    #[test]
    fn node_matches_follows_swarmkit() {
        let mut n = node("w1", &[("zone", "East")]);
        n.role = crate::model::NodeRole::Manager;
        let m = |e: &str| node_matches(&[Constraint::parse(e).unwrap()], &n);
        assert!(m("node.labels.zone==east"));
        assert!(
            !m("node.labels.Zone==east"),
            "label names are case-sensitive"
        );
        assert!(m("node.labels.rack!=r1"), "missing label: != passes");
        assert!(!m("node.labels.rack==r1"), "missing label: == fails");
        assert!(m("node.role==manager") && m("NODE.ROLE==MANAGER"));
        assert!(m("node.hostname==W1"));
        assert!(m("node.platform.os==linux"));
        assert!(
            !m("node.foo==x") && !m("node.foo!=x"),
            "unknown keys never match"
        );
    }

    /// scheduler.go nodeLess: spread over nodes by this service's task count, then by total.
    #[test]
    fn spread_fills_nodes_evenly() {
        let mut nodes = vec![node("a", &[]), node("b", &[]), node("c", &[])];
        let mut busy = task("other");
        busy.name = "x".into();
        nodes[0].add_pod(Arc::new(busy));
        let mut s = SwarmScheduler::new(3);
        // The first task avoids `a`, which runs another service's task.
        let first = place(&mut s, &task("web"), &mut nodes, 1);
        assert_eq!(first[0], 0);
        let rest = place(&mut s, &task("web"), &mut nodes, 5);
        let total: Vec<usize> = first.iter().zip(&rest).map(|(a, b)| a + b).collect();
        assert_eq!(total, vec![2, 2, 2]);
    }

    /// swarmkit scheduler_test.go testPreferences: spread=node.labels.az over az1 (1 node) and
    /// az2 (4 nodes); 8 tasks split evenly per label value: 4 on the az1 node, 1 on each az2 node.
    #[test]
    fn placement_preferences_split_per_label_value() {
        let mut nodes = vec![
            node("id1", &[("az", "az1")]),
            node("id2", &[("az", "az2")]),
            node("id3", &[("az", "az2")]),
            node("id4", &[("az", "az2")]),
            node("id5", &[("az", "az2")]),
        ];
        let mut t = task("svc");
        t.swarm.preferences = vec!["node.labels.az".into()];
        let counts = place(&mut SwarmScheduler::new(1), &t, &mut nodes, 8);
        assert_eq!(counts, vec![4, 1, 1, 1, 1]);
    }

    /// filter.go explanations and pipeline.go ordering: counts descending, joined by "; ".
    #[test]
    fn no_suitable_node_message_matches_swarmkit() {
        let mut down = node("d", &[]);
        down.unschedulable = true;
        let nodes = vec![
            down,
            node("a", &[("zone", "west")]),
            node("b", &[("zone", "west")]),
        ];
        let mut t = task("svc");
        t.swarm.constraints = vec![Constraint::parse("node.labels.zone==east").unwrap()];
        let out = SwarmScheduler::new(1).schedule(&t, &nodes);
        let Decision::Unschedulable(u) = out.decision else {
            panic!()
        };
        assert_eq!(
            u.to_string(),
            "no suitable node (scheduling constraints not satisfied on 2 nodes; 1 node not available for new tasks)"
        );
        let mut t = task("svc");
        t.swarm.max_replicas = 1;
        let mut one = vec![node("a", &[])];
        one[0].add_pod(Arc::new(task("svc")));
        let Decision::Unschedulable(u) = SwarmScheduler::new(1).schedule(&t, &one).decision else {
            panic!()
        };
        assert_eq!(
            u.to_string(),
            "no suitable node (max replicas per node limit exceed)"
        );
    }

    #[test]
    fn matching_ignores_case() {
        let c = Constraint::parse("node.hostname==Worker-1").unwrap();
        assert!(c.matches(&["worker-1"]));
        assert!(!c.matches(&["worker-2"]));
        let c = Constraint::parse("node.hostname!=worker-1").unwrap();
        assert!(!c.matches(&["WORKER-1"]));
    }
}
