//! DefaultPreemption (framework/preemption/preemption.go and
//! plugins/defaultpreemption/default_preemption.go, v1.33).
//!
//! Candidates are nodes whose filter failure is resolvable (`Unschedulable`, not
//! `UnschedulableAndUnresolvable`), visited from a random offset. On each, every lower-priority
//! pod is removed; if the pod then passes every filter (re-run with the spread and affinity
//! counts of the trimmed cluster, as upstream's RemovePod hooks do), victims are reprieved one by
//! one, most important first (higher priority, then earlier bind), keeping every pod whose
//! return still lets the pod pass. The node is chosen by `pickOneNodeForPreemption`'s criteria
//! in order: lowest highest-victim priority, lowest sum of victim priorities, fewest victims.
//! orchsim has no PodDisruptionBudgets (criterion 1 always ties) and no start times (criterion 5
//! is skipped); remaining ties are broken by the seeded stream, where upstream's map order
//! decides.

use std::sync::Arc;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::model::{NodeInfo, PodSpec, Resources};

use super::plugins::{CycleState, Plugin, Rejection};
use super::profile::Profile;

/// Whether `pod` passes every filter on `trimmed`, standing in for node `index` of `nodes`.
fn fits(
    pod: &PodSpec,
    nodes: &[NodeInfo],
    index: usize,
    trimmed: &NodeInfo,
    profile: &Profile,
) -> bool {
    let state = CycleState::with_replaced(pod, nodes, index, trimmed, profile);
    profile
        .filters
        .iter()
        .all(|p| state.filter(*p, trimmed).is_ok())
}

/// Whether `pod` passes NodeResourcesFit's pod count, CPU, memory and ephemeral storage on
/// `node` once every pod of lower priority is gone — what the first dry run below would find,
/// without cloning the node: on a saturated cluster most nodes fail here.
fn fits_without_lower(pod: &PodSpec, node: &NodeInfo) -> bool {
    let mut freed = Resources::ZERO;
    let mut evicted = 0u64;
    for p in node.pods.iter().filter(|p| p.priority < pod.priority) {
        freed = freed.saturating_add(&p.requests);
        evicted += 1;
    }
    let free = node
        .allocatable
        .saturating_sub(&node.requested.saturating_sub(&freed));
    let r = &pod.requests;
    let fits = |want: u64, free: u64| want == 0 || want <= free;
    node.pods.len() as u64 - evicted < node.allocatable.pods
        && fits(r.cpu_milli, free.cpu_milli)
        && fits(r.memory_bytes, free.memory_bytes)
        && fits(r.ephemeral_storage_bytes, free.ephemeral_storage_bytes)
}

struct Candidate {
    node: usize,
    /// Most important first.
    victims: Vec<Arc<PodSpec>>,
}

/// `minCandidateNodesPercentage` and `minCandidateNodesAbsolute` defaults (DefaultPreemptionArgs).
const MIN_CANDIDATE_PERCENTAGE: usize = 10;
const MIN_CANDIDATE_ABSOLUTE: usize = 100;

/// The node to preempt on and the keys of the pods to evict, or `None`.
pub fn find(
    pod: &PodSpec,
    nodes: &[NodeInfo],
    rejections: &[Option<Rejection>],
    profile: &Profile,
    rng: &mut ChaCha8Rng,
) -> Option<(usize, Vec<String>)> {
    let potential: Vec<usize> = (0..nodes.len())
        .filter(|&i| rejections[i].as_ref().is_some_and(|r| r.resolvable))
        .collect();
    if potential.is_empty() {
        return None;
    }
    let wanted = (potential.len() * MIN_CANDIDATE_PERCENTAGE / 100)
        .max(MIN_CANDIDATE_ABSOLUTE)
        .min(potential.len());
    // Upstream starts the dry run at a random offset (rand.Int31n(numNodes)).
    let offset = rng.random_range(0..potential.len());
    let mut candidates = Vec::new();
    for k in 0..potential.len() {
        let i = potential[(offset + k) % potential.len()];
        if let Some(c) = victims_on(pod, nodes, i, profile) {
            candidates.push(c);
            if candidates.len() >= wanted {
                break;
            }
        }
    }
    let best = pick(&candidates, rng)?;
    Some((best.node, best.victims.iter().map(|p| p.key()).collect()))
}

fn victims_on(
    pod: &PodSpec,
    nodes: &[NodeInfo],
    index: usize,
    profile: &Profile,
) -> Option<Candidate> {
    let node = &nodes[index];
    if profile.filters.contains(&Plugin::NodeResourcesFit) && !fits_without_lower(pod, node) {
        return None;
    }
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
        trimmed.remove_pod_arc(p);
    }
    if !fits(pod, nodes, index, &trimmed, profile) {
        return None;
    }
    // MoreImportantPod: higher priority first, then earlier start (bind order on the node).
    potential.sort_by(|(ka, a), (kb, b)| b.priority.cmp(&a.priority).then(ka.cmp(kb)));
    let mut victims = Vec::new();
    for (_, p) in potential {
        // A spared pod keeps the devices it really holds, so the victims are chosen against
        // the node's real device layout.
        let devices = node.devices_of_pod(&p).to_vec();
        trimmed.add_pod_on(p.clone(), devices);
        if !fits(pod, nodes, index, &trimmed, profile) {
            trimmed.remove_pod_arc(&p);
            victims.push(p);
        }
    }
    // A node that needs no eviction would have passed the filters in the first place.
    (!victims.is_empty()).then_some(Candidate {
        node: index,
        victims,
    })
}

fn pick<'c>(candidates: &'c [Candidate], rng: &mut ChaCha8Rng) -> Option<&'c Candidate> {
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
    let keep_min = |best: &mut Vec<&Candidate>, key: &dyn Fn(&Candidate) -> i64| {
        if let Some(m) = best.iter().map(|c| key(c)).min() {
            best.retain(|c| key(c) == m);
        }
    };
    keep_min(&mut best, &highest);
    keep_min(&mut best, &sum);
    keep_min(&mut best, &|c: &Candidate| c.victims.len() as i64);
    if best.is_empty() {
        return None;
    }
    let k = rng.random_range(0..best.len());
    Some(best[k])
}
