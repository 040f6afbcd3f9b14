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
use super::{GpuDemand, GpuPlacement, GpuTask, Misfit, ModelId, Models, MILLI_PER_GPU};
use crate::devices::{first_free, tightest, DemandError, DeviceMisfit};
use crate::model::{
    ClusterView, Decision, NodeId, NodeInfo, Outcome, PodSpec, Scheduler, Unschedulable, WorkCount,
};

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

    /// The name it is selected by among all of orchsim's algorithms, where `best-fit`,
    /// `dot-product` and `random` already name other things: `gpu-` in front of the study's
    /// generic names, the others as they are.
    pub fn algorithm_name(self) -> &'static str {
        match self {
            Policy::Random => "gpu-random",
            Policy::DotProduct => "gpu-dot-product",
            Policy::GpuClustering => "gpu-clustering",
            Policy::GpuPacking => "gpu-packing",
            Policy::BestFit => "gpu-best-fit",
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

    /// Parses a name: ours (`dot-product`), the algorithm catalog's (`gpu-dot-product`) or
    /// the paper's (`DotProd`), in any case, with or without dashes and underscores.
    pub fn parse(name: &str) -> Result<Self, UnknownPolicy> {
        let squashed: String = name
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .flat_map(char::to_lowercase)
            .collect();
        let squashed = match squashed.strip_prefix("gpu") {
            Some(rest @ ("random" | "dotproduct" | "dotprod" | "bestfit")) => rest.to_string(),
            _ => squashed,
        };
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

/// The outcome of placing one pod.
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

/// How FGD knows the workload it measures fragmentation against.
#[derive(Clone, Debug)]
enum Workload {
    /// Given up front (the study: the whole trace's typical shapes).
    Given,
    /// Estimated from the pods it was asked to place so far (a retried pod counts again),
    /// re-estimated each time their number doubles (so the memo is rebuilt O(log n) times).
    /// Shapes are counted, not kept one by one: memory stays bounded by the distinct shapes.
    Learned {
        seen: BTreeMap<GpuTask, u64>,
        decisions: u64,
        next_estimate: u64,
    },
}

/// Places pods with one policy over any [`ClusterView`]: an ordinary [`Scheduler`], selectable
/// by name like every other algorithm. Holds the run's random tie-break order and random
/// stream, and, for FGD, the fragmentation measure with its memo.
#[derive(Clone, Debug)]
pub struct GpuScheduler {
    policy: Policy,
    rank: Vec<u32>,
    rng: ChaCha8Rng,
    frag: Fragmentation,
    workload: Workload,
    /// GPU model names interned for the fragmentation measure.
    models: Models,
    /// Largest node CPU and GPU (milli) of the view, refreshed every decision.
    max_cpu: u64,
    max_gpu: u64,
    /// Per node: the generation at which its model was interned, and the model.
    node_models: Vec<Option<(u64, Option<ModelId>)>>,
    /// Reused device buffers.
    free: Vec<u32>,
    trial: Vec<u32>,
}

impl GpuScheduler {
    /// A scheduler whose FGD measures fragmentation against `typical` (other policies ignore
    /// it); `models` interns the GPU model names the shapes refer to. `seed` draws the
    /// tie-break order of the nodes and the Random policy's choices.
    pub fn new(policy: Policy, typical: TypicalTasks, models: Models, seed: u64) -> Self {
        GpuScheduler {
            policy,
            rank: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            frag: Fragmentation::new(typical),
            workload: Workload::Given,
            models,
            max_cpu: 1,
            max_gpu: 1,
            node_models: Vec::new(),
            free: Vec::new(),
            trial: Vec::new(),
        }
    }

    /// A scheduler that learns the workload from the pods it places (see [`Workload`]).
    pub fn learning(policy: Policy, seed: u64) -> Self {
        let mut s = Self::new(
            policy,
            TypicalTasks { shapes: vec![] },
            Models::default(),
            seed,
        );
        s.workload = Workload::Learned {
            seen: BTreeMap::new(),
            decisions: 0,
            next_estimate: 1,
        };
        s
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// The node's place in the tie-break order.
    pub fn rank(&self, node: usize) -> u32 {
        self.rank[node]
    }

    /// The pod as the study's task: CPU, memory, GPU demand, accepted models (interned).
    fn task_of(&mut self, pod: &PodSpec) -> Result<GpuTask, DemandError> {
        let gpu = pod.gpu_demand()?;
        let models = pod
            .gpu_models
            .iter()
            .map(|m| self.models.intern(m))
            .collect();
        Ok(GpuTask {
            cpu_milli: pod.requests.cpu_milli,
            memory_bytes: pod.requests.memory_bytes,
            gpu,
            models,
        })
    }

    /// Readies per-view state: the seeded tie-break order (drawn on the first decision, before
    /// any other draw, and extended for nodes added later) and the learned workload.
    fn prepare(&mut self, nodes: &[NodeInfo], task: &GpuTask) {
        if self.rank.len() < nodes.len() {
            let mut more: Vec<u32> = (self.rank.len() as u32..nodes.len() as u32).collect();
            more.shuffle(&mut self.rng);
            self.rank.extend(more);
        }
        if let Workload::Learned {
            seen,
            decisions,
            next_estimate,
        } = &mut self.workload
        {
            // Memory is not part of a shape.
            let shape = GpuTask {
                memory_bytes: 0,
                ..task.clone()
            };
            *seen.entry(shape).or_default() += 1;
            *decisions += 1;
            if *decisions >= *next_estimate {
                *next_estimate = decisions.saturating_mul(2);
                let typical = TypicalTasks::from_counts(
                    seen.iter().map(|(t, n)| (t, *n)),
                    &self.models,
                    DEFAULT_POPULARITY,
                );
                self.frag = Fragmentation::new(typical);
            }
        }
    }

    /// The study normalises by the largest node of its trace (128 CPUs, 8 GPUs, hard-coded as
    /// MaxSpecCpu/MaxSpecGpu); the largest node of the cluster at hand is the same there and
    /// stays meaningful on other clusters. Whole devices only (a node's GPU milli is a
    /// multiple of 1000 for every node built from a trace or a scenario).
    fn set_max_spec(&mut self, cpu: u64, gpu_milli: u64) {
        self.max_cpu = cpu.max(1);
        self.max_gpu = gpu_milli.max(1);
    }

    /// Decides where `pod` goes on `nodes`. The caller commits with [`crate::Cluster::bind`].
    pub fn decide(&mut self, nodes: &[NodeInfo], pod: &PodSpec) -> GpuDecision {
        self.decide_counted(nodes, pod).0
    }

    /// [`decide`](Self::decide) and the number of feasible (scored) nodes.
    fn decide_counted(&mut self, nodes: &[NodeInfo], pod: &PodSpec) -> (GpuDecision, usize) {
        let task = match self.task_of(pod) {
            Ok(t) => t,
            Err(e) => {
                return (
                    GpuDecision::Unschedulable(vec![(e.to_string(), nodes.len())]),
                    0,
                )
            }
        };
        self.prepare(nodes, &task);
        let mut feasible = Vec::new();
        let mut reasons: BTreeMap<&'static str, usize> = BTreeMap::new();
        let (mut max_cpu, mut max_gpu) = (1, 1);
        for (i, n) in nodes.iter().enumerate() {
            max_cpu = max_cpu.max(n.allocatable.cpu_milli);
            max_gpu = max_gpu.max(device_milli(n));
            match misfit_for(n, pod, task.gpu) {
                None => feasible.push(i),
                Some(m) => *reasons.entry(m.kind()).or_default() += 1,
            }
        }
        if feasible.is_empty() {
            let reasons = reasons
                .into_iter()
                .map(|(r, n)| (r.to_string(), n))
                .collect();
            return (GpuDecision::Unschedulable(reasons), 0);
        }
        self.set_max_spec(max_cpu, max_gpu);
        let scores = self.scores(nodes, &task, &feasible);
        let node = self.select(&feasible, &scores);
        let devices = self.devices(node, &nodes[node], &task);
        (
            GpuDecision::Place(GpuPlacement { node, devices }),
            feasible.len(),
        )
    }

    /// Like [`decide`](Self::decide), keeping every node's verdict. It draws from the same
    /// random stream, so explaining a decision replaces making it.
    pub fn explain(&mut self, nodes: &[NodeInfo], pod: &PodSpec) -> Explanation {
        let task = match self.task_of(pod) {
            Ok(t) => t,
            Err(e) => {
                let m = Misfit::Device(DeviceMisfit::Invalid(e));
                return Explanation {
                    verdicts: (0..nodes.len())
                        .map(|i| NodeVerdict {
                            node: i,
                            rank: 0,
                            outcome: Err(m.clone()),
                        })
                        .collect(),
                    chosen: None,
                };
            }
        };
        self.prepare(nodes, &task);
        self.set_max_spec(
            nodes
                .iter()
                .map(|n| n.allocatable.cpu_milli)
                .max()
                .unwrap_or(1),
            nodes.iter().map(device_milli).max().unwrap_or(1),
        );
        let mut feasible = Vec::new();
        let mut verdicts: Vec<NodeVerdict> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| NodeVerdict {
                node: i,
                rank: self.rank[i],
                outcome: match misfit(n, pod) {
                    Some(m) => Err(m),
                    None => {
                        feasible.push(i);
                        Ok(Scored {
                            raw: 0,
                            score: 0,
                            devices: Vec::new(),
                        })
                    }
                },
            })
            .collect();
        if feasible.is_empty() {
            return Explanation {
                verdicts,
                chosen: None,
            };
        }
        let raw = self.raw_scores(nodes, &task, &feasible);
        let mut scores = raw.clone();
        self.normalize(&mut scores);
        let node = self.select(&feasible, &scores);
        let devices = self.devices(node, &nodes[node], &task);
        for (k, &i) in feasible.iter().enumerate() {
            let d = if i == node {
                devices.clone()
            } else {
                self.devices_for_explain(i, &nodes[i], &task)
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

    fn scores(&mut self, nodes: &[NodeInfo], task: &GpuTask, feasible: &[usize]) -> Vec<i64> {
        let mut s = self.raw_scores(nodes, task, feasible);
        self.normalize(&mut s);
        s
    }

    fn raw_scores(&mut self, nodes: &[NodeInfo], task: &GpuTask, feasible: &[usize]) -> Vec<i64> {
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
                .map(|&i| self.score(i, &nodes[i], task).0)
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

    /// The policy's score of `node` and, for FGD on a shared task, the device it chose.
    fn score(&mut self, i: usize, node: &NodeInfo, task: &GpuTask) -> (i64, Option<u8>) {
        let cpu_free = node.free().cpu_milli;
        match self.policy {
            Policy::Random => (0, None),
            Policy::Fgd => self.fgd(i, node, task),
            Policy::DotProduct => {
                // DotProductScore with dimExtMethod=merge, normMethod=max.
                let (mc, mg) = (self.max_cpu as f64, self.max_gpu as f64);
                let node_vec = [cpu_free as f64 / mc, free_milli(node) as f64 / mg];
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
                let part = 100 / 4 * (mg - free_milli(node) as i64) / mg;
                let (same, classes) = classes_on(node, class);
                let score = if same > 0 {
                    if classes == 1 {
                        part + 100 * 3 / 4
                    } else {
                        part + 100 * 2 / 4
                    }
                } else if classes == 0 {
                    part + 100 / 4
                } else {
                    part
                };
                (score, None)
            }
            Policy::GpuPacking => {
                node.gpu_free_into(&mut self.free);
                (
                    gpu_packing(task.gpu, &self.free, node.gpu_count() as u32),
                    None,
                )
            }
            Policy::BestFit => {
                let free = [cpu_free as f64, free_milli(node) as f64];
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

    /// The interned model of node `i`, cached until the node changes.
    fn model_of(&mut self, i: usize, node: &NodeInfo) -> Option<ModelId> {
        if self.node_models.len() <= i {
            self.node_models.resize(i + 1, None);
        }
        match self.node_models[i] {
            Some((generation, model)) if generation == node.generation => model,
            _ => {
                let model = node.gpus.model.as_deref().map(|m| self.models.intern(m));
                self.node_models[i] = Some((node.generation, model));
                model
            }
        }
    }

    /// FGDScore: how much placing the task lowers the node's fragmentation, squashed by a
    /// sigmoid into 0..=100. For a shared task every fitting device is tried and the best
    /// (first among equals) is the one FGD's reserve step uses.
    fn fgd(&mut self, i: usize, node: &NodeInfo, task: &GpuTask) -> (i64, Option<u8>) {
        let model = self.model_of(i, node);
        let before = self.frag.of_node(i, node, &mut self.models);
        let cpu_after = node.free().cpu_milli as i64 - task.cpu_milli as i64;
        let mut orig = std::mem::take(&mut self.free);
        let mut free = std::mem::take(&mut self.trial);
        node.gpu_free_into(&mut orig);
        free.clear();
        free.extend_from_slice(&orig);
        let result = match task.gpu {
            GpuDemand::Shared(m) => {
                let mut best: Option<(i64, u8)> = None;
                for d in 0..free.len() {
                    let f = orig[d];
                    // A device with the same free amount as an earlier one gives the same
                    // node state, so the same score; the earlier one wins ties anyway.
                    if f < m || orig[..d].contains(&f) {
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
                for d in first_free(&orig, k) {
                    free[d as usize] = 0;
                }
                let after = self.frag.of_state(cpu_after, &free, model);
                (sigmoid_score(before, after), None)
            }
            GpuDemand::None => {
                let after = self.frag.of_state(cpu_after, &free, model);
                (sigmoid_score(before, after), None)
            }
        };
        self.free = orig;
        self.trial = free;
        result
    }

    /// The devices the policy's reserve step takes on `node`.
    fn devices(&mut self, i: usize, node: &NodeInfo, task: &GpuTask) -> Vec<u8> {
        let free = node.gpu_free();
        match task.gpu {
            GpuDemand::None => Vec::new(),
            GpuDemand::Whole(k) => first_free(&free, k),
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
                Policy::Fgd => self.fgd(i, node, task).1.into_iter().collect(),
                _ => tightest(&free, m).into_iter().collect(),
            },
        }
    }

    /// Devices shown for a node that was not chosen: never draws randomness.
    fn devices_for_explain(&mut self, i: usize, node: &NodeInfo, task: &GpuTask) -> Vec<u8> {
        match (task.gpu, self.policy) {
            (GpuDemand::Shared(m), Policy::Random) => {
                // Random picks among these at reserve time.
                let free = node.gpu_free();
                (0..free.len())
                    .filter(|&d| free[d] >= m)
                    .map(|d| d as u8)
                    .collect()
            }
            _ => self.devices(i, node, task),
        }
    }
}

impl Scheduler for GpuScheduler {
    fn name(&self) -> &'static str {
        self.policy.algorithm_name()
    }

    fn schedule(&mut self, pod: &PodSpec, view: &dyn ClusterView) -> Outcome {
        let nodes = view.nodes();
        let (decision, feasible) = self.decide_counted(nodes, pod);
        let n = nodes.len() as u64;
        let (decision, scored) = match decision {
            GpuDecision::Place(p) => (
                Decision::Bind {
                    node: NodeId(p.node),
                    devices: p.devices,
                },
                // Every feasible node was scored.
                feasible as u64,
            ),
            GpuDecision::Unschedulable(reasons) => {
                let mut u = Unschedulable {
                    nodes: nodes.len(),
                    ..Default::default()
                };
                u.reasons = reasons.into_iter().collect();
                (Decision::Unschedulable(u), 0)
            }
        };
        Outcome {
            decision,
            work: WorkCount {
                nodes_filtered: n,
                nodes_scored: scored,
                plugin_evals: n + scored,
            },
        }
    }
}

/// The share of shapes the learned workload's typical tasks cover (the study's default).
const DEFAULT_POPULARITY: u32 = 95;

/// Why `pod` cannot go on `node`, as the study's filters decide: cordon, NodeResourcesFit for
/// CPU, memory and the other resources, Open-Gpu-Share for devices.
pub fn misfit(node: &NodeInfo, pod: &PodSpec) -> Option<Misfit> {
    match pod.gpu_demand() {
        Ok(demand) => misfit_for(node, pod, demand),
        Err(e) => Some(Misfit::Device(DeviceMisfit::Invalid(e))),
    }
}

/// [`misfit`] with the pod's GPU demand read once per decision.
fn misfit_for(node: &NodeInfo, pod: &PodSpec, demand: GpuDemand) -> Option<Misfit> {
    if node.unschedulable {
        return Some(Misfit::Cordoned);
    }
    let free = node.free();
    let r = &pod.requests;
    if r.cpu_milli > free.cpu_milli {
        return Some(Misfit::Cpu {
            free: free.cpu_milli,
        });
    }
    if r.memory_bytes > free.memory_bytes {
        return Some(Misfit::Memory {
            free: free.memory_bytes,
        });
    }
    if r.pods > free.pods {
        return Some(Misfit::Resource(crate::Resource::Pods));
    }
    if r.ephemeral_storage_bytes > free.ephemeral_storage_bytes {
        return Some(Misfit::Resource(crate::Resource::EphemeralStorage));
    }
    node.demand_misfit(demand, &pod.gpu_models)
        .map(Misfit::Device)
}

/// Free milli-GPU over all of a node's devices.
fn free_milli(node: &NodeInfo) -> u64 {
    node.gpus.free_total(node.gpu_count())
}

/// Milli-GPU over all of a node's devices: its allocatable GPU, counted in the devices it has
/// (bounded, whatever a node object claims).
fn device_milli(node: &NodeInfo) -> u64 {
    node.gpu_count() as u64 * u64::from(MILLI_PER_GPU)
}

/// GPU pods of `class` on the node, and the number of distinct classes there.
fn classes_on(node: &NodeInfo, class: u32) -> (u32, usize) {
    let mut classes: Vec<u32> = Vec::new();
    let mut same = 0;
    for p in &node.pods {
        if let Some(c) = p.gpu_demand().ok().and_then(GpuDemand::class) {
            if c == class {
                same += 1;
            }
            if !classes.contains(&c) {
                classes.push(c);
            }
        }
    }
    (same, classes.len())
}

/// `int64(sigmoid((before - after) / 1000) * 100)`, as FGDScore computes it.
fn sigmoid_score(before: f64, after: f64) -> i64 {
    let x = (before - after) / 1000.0;
    (1.0 / (1.0 + (-x).exp()) * 100.0) as i64
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
