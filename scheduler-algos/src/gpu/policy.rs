//! The six placement policies of the GPU fragmentation study, in the shape the authors ran
//! them: a kube-scheduler v1.20 profile with one score plugin (weight 1000), the
//! Open-Gpu-Share filter and reserve plugins, and `percentageOfNodesToScore: 100`.
//!
//! One decision: filter every node (CPU, memory, GPU model, devices); score the feasible ones
//! with the policy's plugin (integer 0..=100, min–max normalised for BestFit only); take the
//! highest score; break ties by a per-run random node order (the authors' fork of
//! `selectHost` takes the lexicographically smallest name, and their simulator prefixes every
//! node name with a seeded random permutation index); then pick the devices with the policy's
//! GPU selection method (tightest fit for DotProduct, GpuClustering, GpuPacking and BestFit;
//! random for Random; the FGD score itself for FGD). Whole-GPU requests take the first free
//! devices in index order under every policy.
//!
//! Sources: `pkg/simulator/plugin/*_score.go` and `open_gpu_share.go`,
//! `experiments/run_scripts/generate_run_scripts.py` (which policy uses which GPU selection)
//! and the vendored `generic_scheduler.go` (`selectHost`).

use std::collections::BTreeMap;
use std::fmt;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::frag::{Fragmentation, TypicalTasks};
use super::{GpuCluster, GpuDemand, GpuPlacement, GpuTask, Misfit, MILLI_PER_GPU};

/// A policy of the study.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Policy {
    Random,
    DotProduct,
    GpuClustering,
    GpuPacking,
    BestFit,
    Fgd,
}

/// Every policy, in the order the paper lists them (worst to best on its trace).
pub const POLICIES: [Policy; 6] = [
    Policy::Random,
    Policy::DotProduct,
    Policy::GpuClustering,
    Policy::GpuPacking,
    Policy::BestFit,
    Policy::Fgd,
];

/// A policy name that is not one of [`POLICIES`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownPolicy(pub String);

impl fmt::Display for UnknownPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = POLICIES.iter().map(|p| p.name()).collect();
        write!(
            f,
            "unknown GPU placement policy `{}`; valid policies: {}",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownPolicy {}

impl Policy {
    /// The name used in scenarios and output.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Random => "random",
            Policy::DotProduct => "dot-product",
            Policy::GpuClustering => "gpu-clustering",
            Policy::GpuPacking => "gpu-packing",
            Policy::BestFit => "best-fit",
            Policy::Fgd => "fgd",
        }
    }

    /// The paper's name.
    pub fn paper_name(self) -> &'static str {
        match self {
            Policy::Random => "Random",
            Policy::DotProduct => "DotProd",
            Policy::GpuClustering => "GpuClustering",
            Policy::GpuPacking => "GpuPacking",
            Policy::BestFit => "BestFit",
            Policy::Fgd => "FGD",
        }
    }

    /// Parses a name: ours (`dot-product`) or the paper's (`DotProd`), in any case, with or
    /// without dashes and underscores.
    pub fn parse(name: &str) -> Result<Self, UnknownPolicy> {
        let squashed: String = name
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .flat_map(char::to_lowercase)
            .collect();
        Ok(match squashed.as_str() {
            "random" => Policy::Random,
            "dotproduct" | "dotprod" => Policy::DotProduct,
            "gpuclustering" => Policy::GpuClustering,
            "gpupacking" => Policy::GpuPacking,
            "bestfit" => Policy::BestFit,
            "fgd" => Policy::Fgd,
            _ => return Err(UnknownPolicy(name.to_string())),
        })
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The outcome of placing one task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GpuDecision {
    Place(GpuPlacement),
    /// No node fits; each reason with the number of nodes it excluded.
    Unschedulable(Vec<(String, usize)>),
}

/// One node in an explanation: why it was filtered out, or its scores and devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeVerdict {
    pub node: usize,
    /// The node's place in the tie-break order (lower wins).
    pub rank: u32,
    pub outcome: Result<Scored, Misfit>,
}

/// A feasible node's scores and the devices the policy would use there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scored {
    /// The plugin's score.
    pub raw: i64,
    /// After normalisation (BestFit only; equal to `raw` otherwise).
    pub score: i64,
    pub devices: Vec<u8>,
}

/// Every node's verdict and the choice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    pub verdicts: Vec<NodeVerdict>,
    pub chosen: Option<GpuPlacement>,
}

/// Places tasks with one policy. Holds the run's random tie-break order and random stream,
/// and, for FGD, the fragmentation measure with its memo.
#[derive(Clone, Debug)]
pub struct GpuScheduler {
    policy: Policy,
    rank: Vec<u32>,
    rng: ChaCha8Rng,
    frag: Fragmentation,
    max_cpu: u64,
    max_gpu: u64,
}

impl GpuScheduler {
    /// A scheduler for `cluster`. `typical` is the workload's typical shapes (FGD measures
    /// fragmentation against them; other policies ignore them); `seed` draws the tie-break
    /// order of the nodes and the Random policy's choices.
    pub fn new(policy: Policy, cluster: &GpuCluster, typical: TypicalTasks, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut rank: Vec<u32> = (0..cluster.len() as u32).collect();
        rank.shuffle(&mut rng);
        // The study normalises by the largest node of its trace (128 CPUs, 8 GPUs, hard-coded
        // as MaxSpecCpu/MaxSpecGpu); the largest node of the cluster at hand is the same
        // there and stays meaningful on other clusters.
        let (max_cpu, max_gpu) = cluster.max_spec();
        GpuScheduler {
            policy,
            rank,
            rng,
            frag: Fragmentation::new(typical),
            max_cpu: max_cpu.max(1),
            max_gpu: max_gpu.max(1),
        }
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Decides where `task` goes. The caller commits with [`GpuCluster::place`].
    pub fn schedule(&mut self, cluster: &GpuCluster, task: &GpuTask) -> GpuDecision {
        let mut feasible = Vec::new();
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        for i in 0..cluster.len() {
            match cluster.fits(i, task) {
                Ok(()) => feasible.push(i),
                Err(m) => *reasons.entry(m.kind().to_string()).or_default() += 1,
            }
        }
        if feasible.is_empty() {
            return GpuDecision::Unschedulable(reasons.into_iter().collect());
        }
        let scores = self.scores(cluster, task, &feasible);
        let node = self.select(&feasible, &scores);
        let devices = self.devices(cluster, task, node);
        GpuDecision::Place(GpuPlacement { node, devices })
    }

    /// Like [`schedule`](Self::schedule), keeping every node's verdict. It draws from the
    /// same random stream, so explaining a decision replaces making it.
    pub fn explain(&mut self, cluster: &GpuCluster, task: &GpuTask) -> Explanation {
        let mut feasible = Vec::new();
        let mut verdicts: Vec<NodeVerdict> = (0..cluster.len())
            .map(|i| NodeVerdict {
                node: i,
                rank: self.rank[i],
                outcome: cluster.fits(i, task).map(|()| {
                    feasible.push(i);
                    Scored {
                        raw: 0,
                        score: 0,
                        devices: Vec::new(),
                    }
                }),
            })
            .collect();
        if feasible.is_empty() {
            return Explanation {
                verdicts,
                chosen: None,
            };
        }
        let raw = self.raw_scores(cluster, task, &feasible);
        let mut scores = raw.clone();
        self.normalize(&mut scores);
        let node = self.select(&feasible, &scores);
        let devices = self.devices(cluster, task, node);
        for (k, &i) in feasible.iter().enumerate() {
            let d = if i == node {
                devices.clone()
            } else {
                self.devices_for_explain(cluster, task, i)
            };
            verdicts[i].outcome = Ok(Scored {
                raw: raw[k],
                score: scores[k],
                devices: d,
            });
        }
        Explanation {
            verdicts,
            chosen: Some(GpuPlacement { node, devices }),
        }
    }

    fn scores(&mut self, cluster: &GpuCluster, task: &GpuTask, feasible: &[usize]) -> Vec<i64> {
        let mut s = self.raw_scores(cluster, task, feasible);
        self.normalize(&mut s);
        s
    }

    fn raw_scores(&mut self, cluster: &GpuCluster, task: &GpuTask, feasible: &[usize]) -> Vec<i64> {
        match self.policy {
            // RandomScore's PreScore picks one feasible node uniformly; it scores 100, the
            // rest 0.
            Policy::Random => {
                let pick = self.rng.random_range(0..feasible.len());
                (0..feasible.len())
                    .map(|k| if k == pick { 100 } else { 0 })
                    .collect()
            }
            _ => feasible
                .iter()
                .map(|&i| self.score(cluster, task, i).0)
                .collect(),
        }
    }

    /// BestFit's NormalizeScore (min–max to 0..=100, all 0 when equal); the other plugins
    /// have no score extension.
    fn normalize(&self, scores: &mut [i64]) {
        if self.policy != Policy::BestFit {
            return;
        }
        let hi = scores.iter().copied().max().unwrap_or(0);
        let lo = scores.iter().copied().min().unwrap_or(0);
        let range = hi - lo;
        for s in scores.iter_mut() {
            *s = if range == 0 {
                0
            } else {
                (*s - lo) * 100 / range
            };
        }
    }

    /// The highest score; among equals, the node earliest in the tie-break order.
    fn select(&self, feasible: &[usize], scores: &[i64]) -> usize {
        let mut best = 0;
        for k in 1..feasible.len() {
            let better = scores[k] > scores[best]
                || (scores[k] == scores[best]
                    && self.rank[feasible[k]] < self.rank[feasible[best]]);
            if better {
                best = k;
            }
        }
        feasible[best]
    }

    /// The policy's score of node `i` and, for FGD on a shared task, the device it chose.
    fn score(&mut self, cluster: &GpuCluster, task: &GpuTask, i: usize) -> (i64, Option<u8>) {
        let s = cluster.state(i);
        let node = cluster.node(i);
        match self.policy {
            Policy::Random => (0, None),
            Policy::Fgd => self.fgd(cluster, task, i),
            Policy::DotProduct => {
                // DotProductScore with dimExtMethod=merge, normMethod=max.
                let (mc, mg) = (self.max_cpu as f64, self.max_gpu as f64);
                let node_vec = [s.cpu_free as f64 / mc, s.free_milli() as f64 / mg];
                let pod_vec = [
                    task.cpu_milli as f64 / mc,
                    task.gpu.total_milli() as f64 / mg,
                ];
                let mut dot = 0.0;
                for (a, b) in node_vec.iter().zip(&pod_vec) {
                    dot += a * b;
                }
                let score = 1.0 - dot / 2.0;
                ((100.0 * score) as i64, None)
            }
            Policy::GpuClustering => {
                let Some(class) = task.gpu.class() else {
                    return (0, None);
                };
                let mg = self.max_gpu as i64;
                let part = 100 / 4 * (mg - s.free_milli() as i64) / mg;
                let score = if s.tasks_of_class(class) > 0 {
                    if s.class_count() == 1 {
                        part + 100 * 3 / 4
                    } else {
                        part + 100 * 2 / 4
                    }
                } else if s.class_count() == 0 {
                    part + 100 / 4
                } else {
                    part
                };
                (score, None)
            }
            Policy::GpuPacking => (gpu_packing(task.gpu, &s.free, node.gpus), None),
            Policy::BestFit => {
                let free = [s.cpu_free as f64, s.free_milli() as f64];
                let req = [task.cpu_milli as f64, task.gpu.total_milli() as f64];
                let max = [self.max_cpu as f64, self.max_gpu as f64];
                let mut score = 0.0;
                for k in 0..2 {
                    score += (free[k] - req[k]) / max[k] * 0.5;
                }
                (((1.0 - score) * 100.0) as i64, None)
            }
        }
    }

    /// FGDScore: how much placing the task lowers the node's fragmentation, squashed by a
    /// sigmoid into 0..=100. For a shared task every fitting device is tried and the best
    /// (first among equals) is the one FGD's reserve step uses.
    fn fgd(&mut self, cluster: &GpuCluster, task: &GpuTask, i: usize) -> (i64, Option<u8>) {
        let model = cluster.node(i).model;
        let before = self.frag.of_node(cluster, i);
        let s = cluster.state(i);
        let cpu_after = s.cpu_free as i64 - task.cpu_milli as i64;
        let mut free = s.free.clone();
        match task.gpu {
            GpuDemand::Shared(m) => {
                let mut best: Option<(i64, u8)> = None;
                for d in 0..free.len() {
                    let f = s.free[d];
                    // A device with the same free amount as an earlier one gives the same
                    // node state, so the same score; the earlier one wins ties anyway.
                    if f < m || s.free[..d].contains(&f) {
                        continue;
                    }
                    free[d] = f - m;
                    let after = self.frag.of_state(cpu_after, &free, model);
                    free[d] = f;
                    let score = sigmoid_score(before, after);
                    if best.is_none_or(|(b, _)| score > b) {
                        best = Some((score, d as u8));
                    }
                }
                best.map_or((0, None), |(score, d)| (score, Some(d)))
            }
            GpuDemand::Whole(k) => {
                for d in first_free(&s.free, k) {
                    free[d as usize] = 0;
                }
                let after = self.frag.of_state(cpu_after, &free, model);
                (sigmoid_score(before, after), None)
            }
            GpuDemand::None => {
                let after = self.frag.of_state(cpu_after, &free, model);
                (sigmoid_score(before, after), None)
            }
        }
    }

    /// The devices the policy's reserve step takes on `node`.
    fn devices(&mut self, cluster: &GpuCluster, task: &GpuTask, node: usize) -> Vec<u8> {
        let free = &cluster.state(node).free;
        match task.gpu {
            GpuDemand::None => Vec::new(),
            GpuDemand::Whole(k) => first_free(free, k),
            GpuDemand::Shared(m) => match self.policy {
                Policy::Random => {
                    // allocateGpuIdBasedOnRandomFit: reservoir sampling over fitting devices.
                    let mut chosen = None;
                    let mut seen = 0u32;
                    for (d, &f) in free.iter().enumerate() {
                        if f >= m {
                            seen += 1;
                            if self.rng.random_range(0..seen) == 0 {
                                chosen = Some(d as u8);
                            }
                        }
                    }
                    chosen.into_iter().collect()
                }
                Policy::Fgd => self.fgd(cluster, task, node).1.into_iter().collect(),
                _ => tightest(free, m).into_iter().collect(),
            },
        }
    }

    /// Devices shown for a node that was not chosen: never draws randomness.
    fn devices_for_explain(
        &mut self,
        cluster: &GpuCluster,
        task: &GpuTask,
        node: usize,
    ) -> Vec<u8> {
        let free = &cluster.state(node).free;
        match (task.gpu, self.policy) {
            (GpuDemand::Shared(m), Policy::Random) => {
                // Random picks among these at reserve time.
                (0..free.len() as u8)
                    .filter(|&d| free[d as usize] >= m)
                    .collect()
            }
            _ => self.devices(cluster, task, node),
        }
    }
}

/// `int64(sigmoid((before - after) / 1000) * 100)`, as FGDScore computes it.
fn sigmoid_score(before: f64, after: f64) -> i64 {
    let x = (before - after) / 1000.0;
    (1.0 / (1.0 + (-x).exp()) * 100.0) as i64
}

/// The first `k` fully free devices in index order (`AllocateExclusiveGpuId`).
fn first_free(free: &[u32], k: u32) -> Vec<u8> {
    free.iter()
        .enumerate()
        .filter(|(_, &f)| f == MILLI_PER_GPU)
        .take(k as usize)
        .map(|(d, _)| d as u8)
        .collect()
}

/// The device with the least free that still fits `m`, first among equals
/// (`allocateGpuIdBasedOnBestFit`).
fn tightest(free: &[u32], m: u32) -> Option<u8> {
    let mut best: Option<usize> = None;
    for (d, &f) in free.iter().enumerate() {
        if f >= m && best.is_none_or(|b| f < free[b]) {
            best = Some(d);
        }
    }
    best.map(|d| d as u8)
}

/// GpuPackingScore (`gpu_packing_score.go`). The code caps the all-free case with
/// `max(33 - free, free)` where its comment says a cap at 33; this follows the code.
fn gpu_packing(gpu: GpuDemand, free: &[u32], gpus: u32) -> i64 {
    if gpu == GpuDemand::None {
        return 0;
    }
    let fully_free = free.iter().filter(|&&f| f == MILLI_PER_GPU).count() as i64;
    if fully_free == i64::from(gpus) {
        return (100 / 3 - fully_free).max(fully_free);
    }
    let mut order: Vec<usize> = (0..free.len()).collect();
    order.sort_by_key(|&d| free[d]); // stable: equal amounts keep index order
    let milli = gpu.milli_per_gpu();
    let mut want = gpu.count();
    let mut used = Vec::new();
    let mut fully_free_used = 0;
    for d in order {
        if want == 0 {
            break;
        }
        if milli <= free[d] {
            want -= 1;
            used.push(d);
            if free[d] == MILLI_PER_GPU {
                fully_free_used += 1;
            }
        }
    }
    if want != 0 {
        return 0;
    }
    if fully_free_used > 0 {
        return (100 / 2 - fully_free_used).max(100 / 3);
    }
    let ratio: i64 = used
        .iter()
        .map(|&d| i64::from(free[d]) * 100 / i64::from(MILLI_PER_GPU))
        .sum();
    (100 - ratio / 10).max(100 / 2)
}

#[cfg(test)]
mod tests;
