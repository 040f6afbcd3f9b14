//! The GPU-sharing fragmentation experiment of Weng et al. (USENIX ATC 2023), as a scenario.
//!
//! A scenario with a `[study]` table names a node list and a task list (Alibaba GPU trace
//! format), the policies and the seeds. Each (policy, seed) experiment:
//!
//! 1. orders the trace's tasks randomly (sorted by name, then shuffled);
//! 2. inflates the workload: appends tasks sampled with replacement from the trace until the
//!    requested GPUs reach `target_pct` of cluster capacity (or drops random tasks if the
//!    trace already exceeds it);
//! 3. submits the tasks one by one, without departures: each is placed by the policy or
//!    counted as failed. This runs in the cluster world like any scenario ([`Replay::scenario`]:
//!    the trace's nodes, the tasks replayed 1 ns apart, decisions that take no time, the policy
//!    as an ordinary `Scheduler`, every bind through the cluster's overcommit check);
//! 4. after each task records arrived GPU milli (failed tasks included), allocated GPU milli
//!    and the cluster's fragmentation (the world's per-decision fragmentation observer), and
//!    reduces them to one point per 1% of arrived workload exactly as the authors'
//!    `merge_alloc_discrete.py` does.
//!
//! Sources: hkust-adsl/kubernetes-scheduler-simulator (`pkg/simulator/core.go`,
//! `simulator.go`: `SortClusterPods`, `TunePodsByNodeTotalResource`, `SchedulePods`;
//! `analysis.go`: `ClusterGpuFragReport`; `experiments/analysis/merge_*_discrete.py`).
//! Deliberate differences: our own random streams (ChaCha8 per seed and purpose) instead of
//! Go's global `math/rand`, so seed 42 here is not seed 42 there; a fragment ratio of 0
//! (not NaN) when no GPU is idle; and floating-point sums in a fixed order of our own where
//! upstream's depends on its node listing, which can move a value in its last bit.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use orchsim_kernel::{RngStreams, SimDuration};
use orchsim_net::{Base, Datapath};
use orchsim_sched::gpu::frag::TypicalTasks;
use orchsim_sched::gpu::policy::{GpuScheduler, Policy};
use orchsim_sched::gpu::{GpuNode, GpuTask, Models, MILLI_PER_GPU};
use orchsim_sched::Cluster;
use rand::seq::SliceRandom;
use rand::{Rng, RngCore};
use rayon::prelude::*;
use serde::Deserialize;
use toml::Spanned;

use crate::dist::Dist;
use crate::scenario::{
    deserialize_located, DecisionCost, Locator, Observers, Scenario, ScenarioError,
    SchedulerConfig, TracePod, TraceReplay,
};
use crate::trace::{self, NamedTask};

/// Tasks one experiment may replay after inflation: each is a task and a step of the curve in
/// memory (about 100 bytes), and the published study replays about 10,000.
pub const MAX_STUDY_TASKS: u64 = 10_000_000;

/// A validated study scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Study {
    pub name: String,
    pub description: String,
    /// Node list, as written (relative to the scenario file).
    pub nodes: String,
    /// Task list, as written (relative to the scenario file).
    pub tasks: String,
    /// Use only the nodes with GPUs (the study's cluster: 1,213 of the trace's 1,523 nodes).
    pub gpu_nodes_only: bool,
    /// Inflate the workload until requested GPUs reach this share of capacity, in percent.
    pub target_pct: f64,
    /// Share of tasks the typical shapes cover, in percent (the study's default: 95).
    pub typical_percent: u32,
    pub policies: Vec<Policy>,
    pub seeds: Vec<u64>,
    pub published: Option<Published>,
}

impl Study {
    /// The arrived shares (%) the results are compared at: the published ones, or 100% and
    /// the target; only those up to the target, which the curve can reach.
    pub fn compared_shares(&self) -> Vec<u32> {
        let mut v: Vec<u32> = match &self.published {
            Some(p) => p.alloc_pct.keys().copied().collect(),
            None => vec![100, self.target_pct.floor() as u32],
        };
        v.retain(|&p| f64::from(p) <= self.target_pct.ceil());
        v.dedup();
        v
    }
}

/// Published values to set the results beside.
#[derive(Clone, Debug, PartialEq)]
pub struct Published {
    pub source: String,
    /// Largest acceptable |ours − published| in percentage points.
    pub tolerance_pp: f64,
    /// Per arrived-workload percentage: each policy's mean GPU allocation ratio (%).
    pub alloc_pct: BTreeMap<u32, BTreeMap<Policy, f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStudyFile {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    study: RawStudy,
    published: Option<RawPublished>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStudy {
    kind: Spanned<String>,
    nodes: Spanned<String>,
    tasks: Spanned<String>,
    #[serde(default = "yes")]
    gpu_nodes_only: bool,
    target_pct: Spanned<f64>,
    #[serde(default = "default_typical")]
    typical_percent: Spanned<u32>,
    policies: Spanned<Vec<Spanned<String>>>,
    seeds: Spanned<Vec<u64>>,
}

fn yes() -> bool {
    true
}

fn default_typical() -> Spanned<u32> {
    Spanned::new(0..0, 95)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPublished {
    source: String,
    tolerance_pp: Spanned<f64>,
    alloc_pct: Vec<RawPublishedPoint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPublishedPoint {
    arrived_pct: Spanned<u32>,
    values: Spanned<BTreeMap<String, f64>>,
}

/// Parses and validates a study scenario; errors are located like scenario errors.
pub fn parse(file: &str, text: &str) -> Result<Study, ScenarioError> {
    let loc = Locator { file, text };
    let raw: RawStudyFile = deserialize_located(&loc)?;
    let err = |span: Range<usize>, field: &str, msg: String| loc.error(Some(span), field, msg);
    let s = raw.study;
    if s.kind.get_ref() != "gpu-fragmentation" {
        return Err(err(
            s.kind.span(),
            "study.kind",
            format!(
                "expected a study kind: \"gpu-fragmentation\" or \"scheduler-architectures\", found \"{}\"",
                s.kind.get_ref()
            ),
        ));
    }
    let name = raw.name.get_ref().trim().to_string();
    if !crate::scenario::is_output_name(&name) {
        return Err(err(
            raw.name.span(),
            "name",
            format!("{}, found {name:?}", crate::scenario::OUTPUT_NAME),
        ));
    }
    let target = *s.target_pct.get_ref();
    if !(target.is_finite() && target > 0.0 && target <= 1000.0) {
        return Err(err(
            s.target_pct.span(),
            "study.target_pct",
            format!("expected a percentage of GPU capacity in (0, 1000], found {target}"),
        ));
    }
    let typical = *s.typical_percent.get_ref();
    if !(1..=100).contains(&typical) {
        return Err(err(
            s.typical_percent.span(),
            "study.typical_percent",
            format!("expected a percentage in 1..=100, found {typical}"),
        ));
    }
    let mut policies = Vec::new();
    for (i, p) in s.policies.get_ref().iter().enumerate() {
        let policy = Policy::parse(p.get_ref())
            .map_err(|e| err(p.span(), &format!("study.policies[{i}]"), e.to_string()))?;
        if policies.contains(&policy) {
            return Err(err(
                p.span(),
                &format!("study.policies[{i}]"),
                format!("policy `{policy}` is listed twice"),
            ));
        }
        policies.push(policy);
    }
    if policies.is_empty() {
        return Err(err(
            s.policies.span(),
            "study.policies",
            "expected at least one policy".into(),
        ));
    }
    let seeds = s.seeds.get_ref().clone();
    if let Some(dup) = seeds
        .iter()
        .enumerate()
        .find(|(i, x)| seeds[..*i].contains(x))
    {
        return Err(err(
            s.seeds.span(),
            "study.seeds",
            format!("seed {} is listed twice", dup.1),
        ));
    }
    if seeds.is_empty() {
        return Err(err(
            s.seeds.span(),
            "study.seeds",
            "expected at least one seed".into(),
        ));
    }
    let published = match raw.published {
        None => None,
        Some(p) => {
            let tol = *p.tolerance_pp.get_ref();
            if !(tol.is_finite() && tol >= 0.0) {
                return Err(err(
                    p.tolerance_pp.span(),
                    "published.tolerance_pp",
                    format!("expected a non-negative number of percentage points, found {tol}"),
                ));
            }
            let mut alloc_pct = BTreeMap::new();
            for (i, point) in p.alloc_pct.iter().enumerate() {
                let mut values = BTreeMap::new();
                for (k, v) in point.values.get_ref() {
                    let policy = Policy::parse(k).map_err(|e| {
                        err(
                            point.values.span(),
                            &format!("published.alloc_pct[{i}].values.{k}"),
                            e.to_string(),
                        )
                    })?;
                    values.insert(policy, *v);
                }
                alloc_pct.insert(*point.arrived_pct.get_ref(), values);
            }
            Some(Published {
                source: p.source,
                tolerance_pp: tol,
                alloc_pct,
            })
        }
    };
    Ok(Study {
        name,
        description: raw.description,
        nodes: s.nodes.into_inner(),
        tasks: s.tasks.into_inner(),
        gpu_nodes_only: s.gpu_nodes_only,
        target_pct: target,
        typical_percent: typical,
        policies,
        seeds,
        published,
    })
}

/// The traces a study runs on, loaded once and shared by every experiment.
#[derive(Clone, Debug)]
pub struct StudyInput {
    pub models: Models,
    pub nodes: Vec<GpuNode>,
    /// Sorted by name.
    pub tasks: Vec<NamedTask>,
}

impl StudyInput {
    /// Reads the node and task lists (`(file name, text)` each).
    pub fn load(
        study: &Study,
        nodes: (&str, &str),
        tasks: (&str, &str),
    ) -> Result<Self, ScenarioError> {
        let mut models = Models::default();
        let mut node_list = trace::alibaba_gpu_nodes(nodes.0, nodes.1, &mut models)?;
        if study.gpu_nodes_only {
            node_list.retain(|n| n.gpus > 0);
        }
        let mut task_list = trace::alibaba_gpu_tasks(tasks.0, tasks.1, &mut models)?;
        let empty = |file: &str, what: &str| ScenarioError {
            file: file.to_string(),
            line: 1,
            column: 1,
            field: String::new(),
            message: format!("expected at least one {what}"),
            source_line: String::new(),
        };
        if node_list.is_empty() {
            return Err(empty(nodes.0, "node (with GPUs, as gpu_nodes_only is set)"));
        }
        if task_list.is_empty() {
            return Err(empty(tasks.0, "task"));
        }
        // Inflation adds tasks until their GPU requests reach a share of capacity: without
        // GPUs on either side it has nothing to measure (upstream panics on both).
        if node_list.iter().all(|n| n.gpus == 0) {
            return Err(empty(nodes.0, "node with GPUs"));
        }
        if task_list.iter().all(|t| t.task.gpu.count() == 0) {
            return Err(empty(tasks.0, "task requesting a GPU"));
        }
        // Inflation appends tasks until the target: bound the count up front (the study
        // holds every task and a step per task in memory), from the tasks' mean GPU request.
        let capacity: u64 = node_list
            .iter()
            .map(|n| u64::from(n.gpus) * u64::from(MILLI_PER_GPU))
            .sum();
        let mean_milli = task_list
            .iter()
            .map(|t| t.task.gpu.total_milli() as f64)
            .sum::<f64>()
            / task_list.len() as f64;
        let needed =
            (study.target_pct / 100.0 * capacity as f64 / mean_milli).max(task_list.len() as f64);
        if needed > MAX_STUDY_TASKS as f64 {
            return Err(ScenarioError {
                file: tasks.0.to_string(),
                line: 1,
                column: 1,
                field: "study.target_pct".into(),
                message: format!(
                    "inflating to {}% of {} GPUs with tasks of {mean_milli:.1} milli-GPU on average needs about {needed:.0} tasks, over the study's limit of {MAX_STUDY_TASKS}; lower study.target_pct or use a task list with larger requests",
                    study.target_pct,
                    capacity / u64::from(MILLI_PER_GPU),
                ),
                source_line: String::new(),
            });
        }
        task_list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(StudyInput {
            models,
            nodes: node_list,
            tasks: task_list,
        })
    }

    pub fn total_gpu_milli(&self) -> u64 {
        self.nodes
            .iter()
            .map(|n| u64::from(n.gpus) * u64::from(MILLI_PER_GPU))
            .sum()
    }
}

/// The state after one task: the raw series the curves are reduced from.
pub use crate::observers::GpuStep as Step;

/// One (policy, seed) experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct Experiment {
    pub policy: Policy,
    pub seed: u64,
    pub tasks: usize,
    pub failed: usize,
    pub total_gpu_milli: u64,
    pub steps: Vec<Step>,
    pub curve: Vec<CurvePoint>,
    pub digest: String,
}

/// One point per 1% of arrived workload.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurvePoint {
    pub arrived_pct: u32,
    /// GPU allocation ratio, % of capacity.
    pub alloc_pct: f64,
    /// Fragment GPU, % of capacity.
    pub frag_pct: f64,
    /// Fragment GPU, % of idle GPU.
    pub frag_ratio_pct: f64,
}

/// One experiment set up: the ordered, inflated workload and the policy that places it. It
/// runs as an ordinary scenario of the cluster world ([`Replay::scenario`]): the trace's nodes,
/// the tasks arriving one nanosecond apart in this order and never leaving, decisions that
/// take no time, and the fragmentation observer after every decision. `run_experiment` runs
/// it to the end; `orchsim explain --study` stops it part way.
#[derive(Clone, Debug)]
pub struct Replay {
    pub policy: Policy,
    pub seed: u64,
    /// Every task in arrival order.
    pub order: Vec<GpuTask>,
    /// The trace's GPU model names (task constraints and node models are interned here).
    pub models: Models,
    typical: TypicalTasks,
    scheduler_seed: u64,
    nodes: Vec<orchsim_sched::NodeInfo>,
    study_name: String,
}

impl Replay {
    /// Orders and inflates the workload (steps 1 and 2).
    pub fn new(study: &Study, input: &StudyInput, policy: Policy, seed: u64) -> Self {
        let streams = RngStreams::new(seed);
        let target = study.target_pct / 100.0 * input.total_gpu_milli() as f64;

        // 1. The trace in random order (SortClusterPods with shufflePod).
        let mut order: Vec<GpuTask> = input.tasks.iter().map(|t| t.task.clone()).collect();
        order.shuffle(&mut streams.stream("gpu-study/order"));

        // 2. Inflation (TunePodsByNodeTotalResource).
        let mut requested: u64 = order.iter().map(|t| t.gpu.total_milli()).sum();
        let mut inflate = streams.stream("gpu-study/inflation");
        if (requested as f64) < target {
            loop {
                let t = &input.tasks[inflate.random_range(0..input.tasks.len())].task;
                // tuneUpPods stops at the first sample that would pass the target, testing
                // the per-device share (MilliGpu), not the task's total; this follows the
                // code.
                if (requested + u64::from(t.gpu.milli_per_gpu())) as f64 > target {
                    break;
                }
                requested += t.gpu.total_milli();
                order.push(t.clone());
            }
        } else {
            while requested as f64 > target && !order.is_empty() {
                let t = order.remove(inflate.random_range(0..order.len()));
                requested -= t.gpu.total_milli();
            }
        }

        let tasks: Vec<GpuTask> = input.tasks.iter().map(|t| t.task.clone()).collect();
        Replay {
            policy,
            seed,
            order,
            models: input.models.clone(),
            typical: TypicalTasks::from_tasks(&tasks, &input.models, study.typical_percent),
            scheduler_seed: streams.stream("gpu-study/scheduler").next_u64(),
            nodes: input
                .nodes
                .iter()
                .map(|n| n.to_node_info(&input.models))
                .collect(),
            study_name: study.name.clone(),
        }
    }

    /// Task `i` as the pod the scheduler places.
    pub fn pod(&self, i: usize) -> Option<orchsim_sched::PodSpec> {
        Some(self.order.get(i)?.to_pod(format!("task-{i}"), &self.models))
    }

    /// The policy as the study runs it: FGD measures fragmentation against the whole trace's
    /// typical shapes.
    pub fn scheduler(&self) -> GpuScheduler {
        GpuScheduler::new(
            self.policy,
            self.typical.clone(),
            self.models.clone(),
            self.scheduler_seed,
        )
    }

    /// The experiment's first `tasks` tasks as a scenario of the cluster world.
    pub fn scenario(&self, tasks: usize) -> Scenario {
        let tasks = tasks.min(self.order.len());
        let pods: Vec<TracePod> = (0..tasks)
            .filter_map(|i| Some(TracePod::new(self.pod(i)?, SimDuration(i as u64), None)))
            .collect();
        // The last task arrives at tasks - 1 ns and is decided at once.
        let duration = SimDuration((tasks as u64).max(1));
        Scenario {
            observers: Observers {
                gpu_fragmentation: false,
                gpu_fragmentation_per_decision: true,
                dominant_shares: false,
                gpu_typical: Some((self.typical.clone(), self.models.clone())),
            },
            trace_nodes: self.nodes.clone(),
            trace: Some(TraceReplay {
                name: "trace".into(),
                pods: std::sync::Arc::new(pods),
            }),
            name: self.study_name.clone(),
            description: String::new(),
            seed: self.seed,
            duration,
            sample_interval: duration,
            hosts: Vec::new(),
            workloads: Vec::new(),
            scheduler: SchedulerConfig {
                algorithm: self.policy.algorithm_name().to_string(),
                profile: None,
                cost: DecisionCost::default(),
            },
            control_plane: Default::default(),
            retry: None,
            start_latency_s: Dist::Constant(0.0),
            datapath: Datapath::plain(Base::Host),
            underlay_mtu: 1500,
            net_platform: orchsim_net::Profile::default_profile().default_platform,
            agents: None,
            traffic: Vec::new(),
            links: Vec::new(),
            policies: None,
            proxy: orchsim_net::service_proxy::Mode::Iptables,
            services: 1,
            // The study bounds its own work (tasks, inflation): no event budget.
            max_events: u64::MAX,
            lifecycle: None,
            faults: Vec::new(),
            registry_mbit_s: crate::scenario::DEFAULT_REGISTRY_MBIT_S,
            api_server: None,
            upgrades: Vec::new(),
            ipam: None,
            autoscalers: Vec::new(),
            provisioning: None,
        }
    }

    /// Runs the first `tasks` tasks through the world: the run's result, the cluster after
    /// them, and the scheduler as it is then (its random stream advanced by those decisions).
    pub fn run(&self, tasks: usize) -> (crate::RunResult, Cluster, GpuScheduler) {
        let scenario = self.scenario(tasks);
        let mut scheduler = self.scheduler();
        // A monolithic scenario with its scheduler given builds no other: nothing can fail.
        let (result, cluster) = crate::run_with_scheduler(&scenario, &mut scheduler, &mut |_| {})
            .expect("the study's monolithic scenario needs no scheduler by name");
        (result, cluster, scheduler)
    }
}

/// Runs one experiment.
pub fn run_experiment(study: &Study, input: &StudyInput, policy: Policy, seed: u64) -> Experiment {
    let replay = Replay::new(study, input, policy, seed);
    let (result, _, _) = replay.run(replay.order.len());
    let total = input.total_gpu_milli();
    let steps = result.gpu_steps;
    let curve = discrete_curve(&steps, total, study.target_pct.ceil() as u32);
    Experiment {
        policy,
        seed,
        tasks: replay.order.len(),
        failed: result.summary.pods_unschedulable as usize,
        total_gpu_milli: total,
        steps,
        curve,
        digest: result.summary.digest,
    }
}

/// Python's `round(x, 0)`: halves to even.
fn round0(x: f64) -> f64 {
    x.round_ties_even()
}

/// Python's `round(x, 2)` (correctly rounded decimal).
fn round2(x: f64) -> f64 {
    format!("{x:.2}").parse().unwrap_or(x)
}

/// The authors' reduction (`merge_alloc_discrete.py`, `merge_frag_discrete.py`,
/// `merge_frag_ratio_discrete.py`), with their operation order: each step gets its arrived
/// share rounded to a whole percent (halves to even); a percent's value is the mean over the
/// steps rounded to it, or, if there are none, over those within ±1.
pub fn discrete_curve(steps: &[Step], total_milli: u64, max_pct: u32) -> Vec<CurvePoint> {
    let total = total_milli as f64;
    let gpus = (total_milli / u64::from(MILLI_PER_GPU)) as f64;
    let rows: Vec<(f64, f64, f64, f64)> = steps
        .iter()
        .map(|s| {
            let arrive = round0(s.arrived_milli as f64 / gpus / 10.0);
            let alloc = round2(s.allocated_milli as f64 / gpus / 10.0);
            let idle = total - s.allocated_milli as f64;
            let ratio = if idle > 0.0 {
                100.0 * s.fragment_milli / idle
            } else {
                0.0
            };
            (arrive, alloc, s.fragment_milli, ratio)
        })
        .collect();
    let mut out = Vec::new();
    for pct in 0..=max_pct {
        let p = f64::from(pct);
        let mut pick: Vec<&(f64, f64, f64, f64)> = rows.iter().filter(|r| r.0 == p).collect();
        if pick.is_empty() {
            pick = rows
                .iter()
                .filter(|r| r.0 >= p - 1.0 && r.0 <= p + 1.0)
                .collect();
        }
        if pick.is_empty() {
            continue;
        }
        let n = pick.len() as f64;
        let mean = |f: fn(&(f64, f64, f64, f64)) -> f64| pick.iter().map(|r| f(r)).sum::<f64>() / n;
        out.push(CurvePoint {
            arrived_pct: pct,
            alloc_pct: round2(mean(|r| r.1)),
            frag_pct: round2(100.0 * mean(|r| r.2) / 1000.0 / gpus),
            frag_ratio_pct: mean(|r| r.3),
        });
    }
    out
}

/// Every experiment of a study, in (policy, seed) order.
#[derive(Clone, Debug)]
pub struct StudyResult {
    pub experiments: Vec<Experiment>,
}

/// Runs every (policy, seed) experiment on `jobs` threads. The result does not depend on
/// `jobs`: experiments are independent and collected in input order. `progress(done, all)`
/// is called as experiments finish.
pub fn run_study(
    study: &Study,
    input: &StudyInput,
    jobs: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<StudyResult, rayon::ThreadPoolBuildError> {
    let runs: Vec<(Policy, u64)> = study
        .policies
        .iter()
        .flat_map(|&p| study.seeds.iter().map(move |&s| (p, s)))
        .collect();
    let done = AtomicUsize::new(0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()?;
    let experiments = pool.install(|| {
        runs.par_iter()
            .map(|&(policy, seed)| {
                let e = run_experiment(study, input, policy, seed);
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, runs.len());
                e
            })
            .collect()
    });
    Ok(StudyResult { experiments })
}

/// One policy's mean over seeds at one arrived percentage, beside the published value.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub policy: Policy,
    pub arrived_pct: u32,
    pub seeds: usize,
    pub mean_alloc_pct: f64,
    pub published_pct: Option<f64>,
}

impl Comparison {
    pub fn diff_pp(&self) -> Option<f64> {
        self.published_pct.map(|p| self.mean_alloc_pct - p)
    }
}

impl StudyResult {
    /// One digest over every experiment's digest, in order.
    pub fn digest(&self) -> String {
        crate::combine_digests(self.experiments.iter().map(|e| e.digest.as_str()))
    }

    /// Mean allocation ratio per policy at `arrived_pct` (over the seeds that reach it).
    pub fn mean_alloc(&self, policy: Policy, arrived_pct: u32) -> Option<(f64, usize)> {
        let vals: Vec<f64> = self
            .experiments
            .iter()
            .filter(|e| e.policy == policy)
            .filter_map(|e| {
                e.curve
                    .iter()
                    .find(|c| c.arrived_pct == arrived_pct)
                    .map(|c| c.alloc_pct)
            })
            .collect();
        (!vals.is_empty()).then(|| (vals.iter().sum::<f64>() / vals.len() as f64, vals.len()))
    }

    /// Every policy at each published percentage (or at 100% and the target if nothing is
    /// published), in the study's policy order.
    pub fn comparisons(&self, study: &Study) -> Vec<Comparison> {
        let mut out = Vec::new();
        for pct in study.compared_shares() {
            for &policy in &study.policies {
                if let Some((mean, seeds)) = self.mean_alloc(policy, pct) {
                    out.push(Comparison {
                        policy,
                        arrived_pct: pct,
                        seeds,
                        mean_alloc_pct: mean,
                        published_pct: study
                            .published
                            .as_ref()
                            .and_then(|p| p.alloc_pct.get(&pct))
                            .and_then(|v| v.get(&policy))
                            .copied(),
                    });
                }
            }
        }
        out
    }

    /// Whether, at `arrived_pct`, the policies rank as the published values do.
    pub fn same_order_as_published(&self, study: &Study, arrived_pct: u32) -> Option<bool> {
        let published = study.published.as_ref()?.alloc_pct.get(&arrived_pct)?;
        let mut ours: Vec<(Policy, f64)> = Vec::new();
        let mut theirs: Vec<(Policy, f64)> = Vec::new();
        for (&p, &v) in published {
            ours.push((p, self.mean_alloc(p, arrived_pct)?.0));
            theirs.push((p, v));
        }
        let rank = |v: &mut Vec<(Policy, f64)>| {
            v.sort_by(|a, b| a.1.total_cmp(&b.1));
            v.iter().map(|x| x.0).collect::<Vec<_>>()
        };
        Some(rank(&mut ours) == rank(&mut theirs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STUDY: &str = r#"
name = "tiny"
[study]
kind = "gpu-fragmentation"
nodes = "nodes.csv"
tasks = "tasks.csv"
target_pct = 130
policies = ["random", "FGD", "best-fit"]
seeds = [1, 2]
"#;

    const NODES: &str = "sn,cpu_milli,memory_mib,gpu,model\n\
                         c0,32000,262144,0,\n\
                         n0,64000,262144,4,A\n\
                         n1,64000,262144,8,B\n\
                         n2,32000,131072,2,A\n";

    const TASKS: &str = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n\
                         t0,4000,8192,1,500,\n\
                         t1,8000,8192,1,1000,\n\
                         t2,2000,4096,0,0,\n\
                         t3,16000,8192,2,1000,\n\
                         t4,4000,8192,1,250,A\n\
                         t5,4000,8192,1,750,\n";

    fn input(study: &Study) -> StudyInput {
        StudyInput::load(study, ("nodes.csv", NODES), ("tasks.csv", TASKS)).unwrap()
    }

    #[test]
    fn parses_and_reports_located_errors() {
        let s = parse("s.toml", STUDY).unwrap();
        assert_eq!(
            s.policies,
            vec![Policy::Random, Policy::Fgd, Policy::BestFit]
        );
        assert_eq!(s.typical_percent, 95);
        assert!(s.gpu_nodes_only);

        let bad = STUDY.replace("\"FGD\"", "\"FDG\"");
        let e = parse("s.toml", &bad).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (8, "study.policies[1]"));
        assert!(
            e.message.contains("unknown GPU placement policy `FDG`"),
            "{e}"
        );

        let bad = STUDY.replace("target_pct = 130", "target_pct = -1");
        let e = parse("s.toml", &bad).unwrap_err();
        assert_eq!(e.field, "study.target_pct");

        let bad = STUDY.replace("seeds = [1, 2]", "seeds = [1, 2]\nsed = 3");
        let e = parse("s.toml", &bad).unwrap_err();
        assert!(e.message.contains("unknown field `sed`"), "{e}");
    }

    #[test]
    fn an_inflation_past_the_task_limit_is_refused_before_any_task_is_made() {
        let s = parse(
            "s.toml",
            &STUDY.replace("target_pct = 130", "target_pct = 1000"),
        )
        .unwrap();
        // 1,000% of 1,600 GPUs with 1-milli tasks: 16 million tasks.
        let mut nodes = String::from("sn,cpu_milli,memory_mib,gpu,model\n");
        for i in 0..200 {
            nodes.push_str(&format!("n{i},64000,262144,8,A\n"));
        }
        let tiny = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\nt0,1,1,1,1,\n";
        let e = StudyInput::load(&s, ("nodes.csv", &nodes), ("tasks.csv", tiny)).unwrap_err();
        assert_eq!(e.field, "study.target_pct");
        assert!(e.message.contains("about 16000000 tasks"), "{e}");
        // The study's own inputs are far inside the limit.
        assert!(StudyInput::load(&s, ("nodes.csv", NODES), ("tasks.csv", TASKS)).is_ok());
    }

    #[test]
    fn inflation_reaches_the_target_and_everything_is_accounted() {
        let s = parse("s.toml", STUDY).unwrap();
        let inp = input(&s);
        assert_eq!(inp.nodes.len(), 3, "the CPU-only node is dropped");
        let total = inp.total_gpu_milli();
        for policy in [Policy::Random, Policy::Fgd, Policy::BestFit] {
            let e = run_experiment(&s, &inp, policy, 7);
            let last = e.steps.last().unwrap();
            // Inflation stops near the target: below it by less than one task, above it by
            // at most the devices past the first of a multi-GPU task (the authors' check
            // tests one device's share; the largest task here takes 2 GPUs).
            assert!(last.arrived_milli as f64 <= 1.3 * total as f64 + 1000.0);
            assert!(last.arrived_milli as f64 > 1.3 * total as f64 - 8000.0);
            assert_eq!(e.steps.len(), e.tasks);
            assert!(e.failed > 0, "130% cannot all fit");
            assert!(last.allocated_milli <= total);
            // Allocation never decreases without departures.
            assert!(e
                .steps
                .windows(2)
                .all(|w| w[1].allocated_milli >= w[0].allocated_milli));
            assert_eq!(e, run_experiment(&s, &inp, policy, 7), "deterministic");
        }
    }

    #[test]
    fn curve_reduction_matches_the_authors_script() {
        // 1000 milli capacity: steps at 0.4%, 0.6% (→ 1%), 2.5% (→ 2, half to even), 4%.
        let steps = [(4, 4), (6, 6), (25, 20), (40, 30)].map(|(a, u)| Step {
            arrived_milli: a,
            allocated_milli: u,
            fragment_milli: 0.0,
        });
        let c = discrete_curve(&steps, 1000, 5);
        let got: Vec<(u32, f64)> = c.iter().map(|p| (p.arrived_pct, p.alloc_pct)).collect();
        // 0 → the 0.4% step; 1 → 0.6%; 2 → 2.5% rounds to 2; 3 → none exactly, so the mean of
        // those within ±1 (2 and 4); 4 → 4%; 5 → within ±1 of 5: the 4% step.
        assert_eq!(
            got,
            vec![(0, 0.4), (1, 0.6), (2, 2.0), (3, 2.5), (4, 3.0), (5, 3.0)]
        );
    }

    /// The script divides by the GPU count, then by 10: 6212 GPUs with 6212 × 545 milli
    /// arrived is exactly 54.5%, which rounds to 54 (half to even); computing
    /// milli / capacity × 100 instead gives 54.50000000000001 and 55.
    #[test]
    fn curve_uses_the_scripts_operation_order() {
        let step = Step {
            arrived_milli: 6212 * 545,
            allocated_milli: 0,
            fragment_milli: 0.0,
        };
        let c = discrete_curve(&[step], 6212 * 1000, 60);
        assert_eq!(
            c.iter().map(|p| p.arrived_pct).collect::<Vec<_>>(),
            vec![53, 54, 55]
        );
        assert_eq!(c[1].arrived_pct, 54);
        // The other order lands just above the half and would round up.
        let other: fn(u64, u64) -> f64 = |a, t| a as f64 / t as f64 * 100.0;
        assert!(other(6212 * 545, 6_212_000) > 54.5);
    }

    #[test]
    fn traces_without_gpus_are_refused() {
        let s = parse("s.toml", STUDY).unwrap();
        let cpu_tasks = "name,cpu_milli,memory_mib,num_gpu,gpu_milli\nt0,1000,1,0,0\n";
        let e = StudyInput::load(&s, ("nodes.csv", NODES), ("tasks.csv", cpu_tasks)).unwrap_err();
        assert!(e.message.contains("requesting a GPU"), "{e}");
        let mut s2 = s.clone();
        s2.gpu_nodes_only = false;
        let cpu_nodes = "sn,cpu_milli,memory_mib,gpu,model\nc0,1000,1,0,\n";
        let e = StudyInput::load(&s2, ("nodes.csv", cpu_nodes), ("tasks.csv", TASKS)).unwrap_err();
        assert!(e.message.contains("node with GPUs"), "{e}");
    }

    #[test]
    fn study_results_do_not_depend_on_threads() {
        let s = parse("s.toml", STUDY).unwrap();
        let inp = input(&s);
        let one = run_study(&s, &inp, 1, &|_, _| {}).unwrap();
        let two = run_study(&s, &inp, 2, &|_, _| {}).unwrap();
        assert_eq!(one.experiments, two.experiments);
        assert_eq!(one.experiments.len(), 6);
    }
}
