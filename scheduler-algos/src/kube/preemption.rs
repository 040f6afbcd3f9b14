//! DefaultPreemption (framework/preemption/preemption.go and
//! plugins/defaultpreemption/default_preemption.go, v1.33).
//!
//! Candidates are nodes whose filter failure is resolvable (`Unschedulable`, not
//! `UnschedulableAndUnresolvable`). On each, every lower-priority pod is removed; if the pod
//! then fits, victims are reprieved one by one, most important first (higher priority, then
//! earlier start), keeping every pod whose return still lets the pod fit. The node is chosen by
//! `pickOneNodeForPreemption`'s criteria in order: lowest highest-victim priority, lowest sum
//! of victim priorities, fewest victims, latest start among the highest-priority victims.
//! orchsim has no PodDisruptionBudgets (criterion 1 always ties) and uses bind order for start
//! time. Remaining ties go to the first candidate in node order, where upstream takes Go map
//! order. Only node-local filters are re-run on the trimmed node; spread and inter-pod
//! affinity keep their counts from before the eviction (upstream re-runs them via
//! `SelectVictimsOnNode`'s `RunFilterPluginsWithNominatedPods`).

use std::sync::Arc;

use crate::model::{NodeInfo, PodSpec};

use super::plugins::{CycleState, Plugin, Rejection};
use super::profile::Profile;

/// Filters whose verdict depends only on the node and the pod.
const NODE_LOCAL: [Plugin; 6] = [
    Plugin::NodeUnschedulable,
    Plugin::NodeName,
    Plugin::TaintToleration,
    Plugin::NodeAffinity,
    Plugin::NodePorts,
    Plugin::NodeResourcesFit,
];

fn fits(state: &CycleState, profile: &Profile, node: &NodeInfo) -> bool {
    profile
        .filters
        .iter()
        .filter(|p| NODE_LOCAL.contains(p))
        .all(|p| state.filter(*p, node).is_ok())
}

struct Candidate {
    node: usize,
    /// Most important first.
    victims: Vec<Arc<PodSpec>>,
    /// Bind order of each victim on its node (lower = started earlier).
    victim_starts: Vec<usize>,
}

/// `minCandidateNodesPercentage` and `minCandidateNodesAbsolute` defaults (DefaultPreemptionArgs).
const MIN_CANDIDATE_PERCENTAGE: usize = 10;
const MIN_CANDIDATE_ABSOLUTE: usize = 100;

/// The node to preempt on and the keys of the pods to evict, or `None`.
pub fn find(
    pod: &PodSpec,
    nodes: &[NodeInfo],
    rejections: &[Option<Rejection>],
    state: &CycleState,
    profile: &Profile,
) -> Option<(usize, Vec<String>)> {
    let potential: Vec<usize> = (0..nodes.len())
        .filter(|&i| rejections[i].as_ref().is_some_and(|r| r.resolvable))
        .collect();
    let wanted = (potential.len() * MIN_CANDIDATE_PERCENTAGE / 100)
        .max(MIN_CANDIDATE_ABSOLUTE)
        .min(potential.len());
    let mut candidates = Vec::new();
    for &i in &potential {
        if let Some(c) = victims_on(pod, i, &nodes[i], state, profile) {
            candidates.push(c);
            if candidates.len() >= wanted {
                break;
            }
        }
    }
    let best = pick(&candidates)?;
    Some((best.node, best.victims.iter().map(|p| p.key()).collect()))
}

fn victims_on(
    pod: &PodSpec,
    index: usize,
    node: &NodeInfo,
    state: &CycleState,
    profile: &Profile,
) -> Option<Candidate> {
    let mut trimmed = node.clone();
    let mut potential: Vec<(usize, Arc<PodSpec>)> = node
        .pods
        .iter()
        .enumerate()
        .filter(|(_, p)| p.priority < pod.priority)
        .map(|(k, p)| (k, p.clone()))
        .collect();
    if potential.is_empty() {
        return None;
    }
    for (_, p) in &potential {
        trimmed.remove_pod(&p.namespace, &p.name);
    }
    if !fits(state, profile, &trimmed) {
        return None;
    }
    // MoreImportantPod: higher priority first, then earlier start.
    potential.sort_by(|(ka, a), (kb, b)| b.priority.cmp(&a.priority).then(ka.cmp(kb)));
    let mut victims = Vec::new();
    let mut starts = Vec::new();
    for (k, p) in potential {
        trimmed.add_pod(p.clone());
        if !fits(state, profile, &trimmed) {
            trimmed.remove_pod(&p.namespace, &p.name);
            victims.push(p);
            starts.push(k);
        }
    }
    Some(Candidate {
        node: index,
        victims,
        victim_starts: starts,
    })
}

fn pick(candidates: &[Candidate]) -> Option<&Candidate> {
    let mut best: Vec<&Candidate> = candidates.iter().collect();
    // Priority-sum offset: upstream adds MaxInt32 + 1 so every term is positive.
    let offset = i64::from(i32::MAX) + 1;
    let highest = |c: &Candidate| {
        c.victims
            .first()
            .map_or(i64::from(i32::MIN), |p| i64::from(p.priority))
    };
    let sum = |c: &Candidate| {
        c.victims
            .iter()
            .map(|p| i64::from(p.priority) + offset)
            .sum::<i64>()
    };
    // Earliest start among the highest-priority victims; later is better.
    let earliest_top_start = |c: &Candidate| {
        let top = highest(c);
        c.victims
            .iter()
            .zip(&c.victim_starts)
            .filter(|(p, _)| i64::from(p.priority) == top)
            .map(|(_, s)| *s as i64)
            .min()
            .unwrap_or(i64::MAX)
    };
    let keep_min = |best: &mut Vec<&Candidate>, key: &dyn Fn(&Candidate) -> i64| {
        if let Some(m) = best.iter().map(|c| key(c)).min() {
            best.retain(|c| key(c) == m);
        }
    };
    keep_min(&mut best, &highest);
    keep_min(&mut best, &sum);
    keep_min(&mut best, &|c: &Candidate| c.victims.len() as i64);
    keep_min(&mut best, &|c: &Candidate| -earliest_top_start(c));
    best.first().copied()
}
