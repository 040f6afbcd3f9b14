//! Scenario files: TOML read in two stages, raw (serde, spans kept) → validated [`Scenario`].
//!
//! Stage one rejects syntax errors, wrong types and unknown fields; stage two checks meaning
//! (positive capacities, a non-empty cluster, pods that fit some host, known algorithm and
//! datapath names). Either way the error names the file, line and column, the field by its path
//! (`hosts[1].cpu_milli`), and what was expected.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use orchsim_kernel::SimDuration;
use orchsim_net::service_proxy::Mode as ServiceProxy;
use orchsim_net::Datapath;
use orchsim_sched::Resources;

use crate::control_plane::{ControlPlane, RawCost};
use crate::dist::Dist;

mod error;
mod raw;
mod trace_table;

pub use error::ScenarioError;
pub(crate) use error::{
    deserialize_located, non_negative, non_negative_scaled, non_negative_secs, positive,
    positive_secs, workload_index, Locator,
};
pub(crate) use raw::RawDist;
use raw::*;
use trace_table::trace_source;

const MIB: u64 = 1024 * 1024;

/// Kubelet's default `--max-pods` (kubernetes pkg/kubelet/apis/config/v1beta1/defaults.go:
/// MaxPods = 110); used when a host group does not say how many pods it takes.
pub const DEFAULT_MAX_PODS: u64 = 110;
/// Default sampling period of `timeseries.csv`, in seconds.
pub const DEFAULT_SAMPLE_INTERVAL_S: f64 = 10.0;
/// Standard Ethernet MTU (IEEE 802.3), in bytes; the default underlay.
pub const DEFAULT_UNDERLAY_MTU: u32 = 1500;
/// Most pods one job may have: a job is decided in one piece.
pub const MAX_TASKS_PER_JOB: i64 = 10_000;
/// The highest rate a curve may reach, in jobs per second: a step at the run's last instant
/// adds nothing to the expected pods the budget counts, but its arrivals still come, one a
/// nanosecond at this rate.
pub const MAX_CURVE_RATE: f64 = 1e9;
/// The Omega simulator's abandonment limits (cluster-scheduler-simulator
/// `ClusterSimulator.scala`: a job is dropped after more than 1,000 attempts, or more than 100
/// with nothing scheduled).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 1000;

/// Default budgets (`[limits]`): what one run may ask of the machine before it is refused up
/// front instead of exhausting memory. Each is far above the project's scale target (a
/// 12,500-machine cell, tens of millions of pods over 30 days, samples every 10 s).
pub const DEFAULT_BUDGET_HOSTS: u64 = 1_000_000;
/// Pods a run is expected to submit (arrival rate × time × tasks per job, or `max_pods`).
pub const DEFAULT_BUDGET_PODS: u64 = 100_000_000;
/// Samples of the time series (duration ÷ sample interval).
pub const DEFAULT_BUDGET_SAMPLES: u64 = 10_000_000;
/// Events one run may handle before it stops with an error: unlike the others this cannot be
/// known up front (a saturated cluster retries), so the run checks it as it goes. The scale
/// target needs about 150 M (25 M pods × arrival, decision, start, finish, plus samples);
/// 2 G is tens of minutes of one core.
pub const DEFAULT_BUDGET_EVENTS: u64 = 2_000_000_000;
pub const DEFAULT_MAX_ATTEMPTS_WITHOUT_PROGRESS: u32 = 100;

/// Default registry → host bandwidth for image pulls, in Mbit/s: a host's 1 GbE link
/// (IEEE 802.3ab), the registry assumed not to be the bottleneck. A prior; override it with
/// `[orchestrator] registry_mbit_s` for a measured registry.
pub const DEFAULT_REGISTRY_MBIT_S: f64 = 1000.0;

/// Most GPU devices one host may have: devices are numbered `0..=255`.
const MAX_GPUS_PER_HOST: u64 = 256;

/// The trace formats `[trace]` reads.
const ALIBABA_GPU_V2023: &str = "alibaba-gpu-v2023";
const GOOGLE_2011: &str = crate::import::google_2011::FORMAT;
const GOOGLE_2019: &str = crate::import::google_2019::FORMAT;
const ALIBABA_2018: &str = "alibaba-2018";
const KUBERNETES: &str = crate::import::kubernetes::FORMAT;

/// Reads the files a scenario names (a trace's CSV files), by the path written in it.
pub trait ScenarioFiles: Sync {
    /// `(name to show in messages, contents)` of `path`, or why it cannot be read.
    fn read(&self, path: &str) -> Result<(String, String), String>;
}

/// For scenarios read without a place to find files in: refuses every read.
pub struct NoFiles;

impl ScenarioFiles for NoFiles {
    fn read(&self, path: &str) -> Result<(String, String), String> {
        Err(format!(
            "cannot read `{path}`: this scenario was given as text, with no directory to read files from"
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Stage two: the validated scenario

/// A validated scenario, ready to run. Construct it with [`parse`] or directly (tests do).
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Extra measurements, each writing a table of its own.
    pub observers: Observers,
    /// Nodes given one by one (from a trace's node list), after the host groups' nodes.
    pub trace_nodes: Vec<orchsim_sched::NodeInfo>,
    /// Pods replayed from a trace, beside the generated workloads.
    pub trace: Option<TraceReplay>,
    pub name: String,
    pub description: String,
    pub seed: u64,
    /// The run ends at this simulated time.
    pub duration: SimDuration,
    /// Period of `timeseries.csv` rows.
    pub sample_interval: SimDuration,
    pub hosts: Vec<HostGroup>,
    pub workloads: Vec<Workload>,
    pub scheduler: SchedulerConfig,
    /// How pods reach nodes: one scheduler, offers to frameworks, or shared state.
    pub control_plane: ControlPlane,
    /// What happens to a job with pods no node took: parked until resources are freed
    /// (`None`, kube-scheduler's unschedulable queue) or retried after a delay.
    pub retry: Option<Retry>,
    /// Bind → running delay (image pull and container start), in seconds.
    pub start_latency_s: Dist,
    pub datapath: Datapath,
    pub underlay_mtu: u32,
    /// The net profile's platform that prices service traffic (`[network] platform`).
    pub net_platform: String,
    /// `[network] agents = true`: the datapath's agents, their requests already taken off
    /// every host's capacity (as their DaemonSet's pods would reserve it), their idle use
    /// charged to every host's CPU.
    pub agents: Option<crate::traffic::Agents>,
    /// Service traffic (`[[traffic]]`).
    pub traffic: Vec<crate::traffic::Traffic>,
    /// WAN links between sites (`[[links]]`).
    pub links: Vec<crate::traffic::Link>,
    /// `[network] policies`: the NetworkPolicies read, and why the datapath does not enforce
    /// them (`None`: it does). Each traffic edge carries its verdict.
    pub policies: Option<crate::traffic::Policies>,
    /// `[network] proxy`: how Services find their endpoints (kube-proxy's mode, or Swarm's).
    pub proxy: ServiceProxy,
    /// `[network] services`: Service ports in the cluster, the ones kube-proxy's rules hold.
    pub services: u64,
    /// The run stops with [`crate::RunError::EventBudget`] after handling this many events
    /// (`[limits] max_events`).
    pub max_events: u64,
    /// The orchestrator preset with the scenario's overrides (`[orchestrator] preset`): node
    /// failure detection, eviction, replacement and restart timing. `None`: no preset, and
    /// then no faults.
    pub lifecycle: Option<crate::orchestrator::Lifecycle>,
    /// Faults injected (`[[faults]]`).
    pub faults: Vec<crate::faults::Fault>,
    /// Bandwidth from the image registry to each host, in Mbit/s: a pod whose image its host
    /// lacks waits `image_mib × 8 / registry_mbit_s` seconds before it starts.
    pub registry_mbit_s: f64,
    /// The control plane as a modeled resource (`[api_server]`): `None`, binds and status
    /// updates are free and instant.
    pub api_server: Option<crate::api_server::ApiConfig>,
    /// Upgrades of services to a new version (`[[upgrades]]`).
    pub upgrades: Vec<crate::upgrades::Upgrade>,
    /// Pod addresses (`[ipam]`): `None`, not modeled.
    pub ipam: Option<crate::ipam::Ipam>,
    /// Horizontal pod autoscalers (`[[autoscalers]]`).
    pub autoscalers: Vec<crate::autoscale::Autoscaler>,
    /// A provisioner adding and removing hosts (`[provisioning]`).
    pub provisioning: Option<crate::provisioning::Provisioning>,
}

/// `count` identical hosts named `<name>-<i>`.
#[derive(Clone, Debug, PartialEq)]
pub struct HostGroup {
    pub name: String,
    pub count: u64,
    pub capacity: Resources,
    pub site: String,
    pub labels: BTreeMap<String, String>,
    /// The model of the group's GPUs, if named.
    pub gpu_model: Option<String>,
    /// Price of one host per hour (currency of the user's choice); 0 when not given.
    pub cost_per_hour: f64,
    /// With `[provisioning]`: the group's size limits (`None`: fixed at `count`).
    pub scaling: Option<Scaling>,
    /// Spot capacity, which the cloud may reclaim.
    pub spot: bool,
}

/// The fewest and most hosts a provisioner may leave a host group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scaling {
    pub min: u64,
    pub max: u64,
}

impl HostGroup {
    /// The most hosts the group may ever have: `count`, or more with a provisioner.
    pub fn max_count(&self) -> u64 {
        self.scaling.map_or(self.count, |s| s.max)
    }
}

/// The observers a scenario turns on (see [`crate::observers`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observers {
    /// GPU fragmentation at every sample (`fragmentation.csv`).
    pub gpu_fragmentation: bool,
    /// GPU arrived, allocated and fragmented after every scheduling decision, for replays
    /// that reduce it per arrived workload as the ATC'23 study does (`RunResult::gpu_steps`).
    pub gpu_fragmentation_per_decision: bool,
    /// Each workload's dominant share of the cluster at every sample (`shares.csv`).
    pub dominant_shares: bool,
    /// The typical shapes the fragmentation is measured against, and the model names they
    /// were interned with; drawn from the workloads when absent.
    pub gpu_typical: Option<(
        orchsim_sched::gpu::frag::TypicalTasks,
        orchsim_sched::gpu::Models,
    )>,
}

/// Pods replayed in a given order at given times (a trace), with the owner name `name`.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceReplay {
    pub name: String,
    /// In arrival order; arrivals never decrease.
    pub pods: std::sync::Arc<Vec<TracePod>>,
}

/// One replayed pod.
#[derive(Clone, Debug, PartialEq)]
pub struct TracePod {
    pub name: String,
    /// Requests (one pod slot included).
    pub requests: Resources,
    pub gpu_models: Vec<String>,
    /// Arrival, from the start of the run.
    pub arrival: SimDuration,
    /// `None`: runs until the end.
    pub run_for: Option<SimDuration>,
    /// The pod's priority (Kubernetes' `priority`: larger is more important).
    pub priority: i32,
    /// The whole pod when the trace has more than sizes (Kubernetes objects: labels,
    /// namespace, affinity, tolerations, spread); its name, requests, GPU models and
    /// priority are the fields above.
    pub spec: Option<std::sync::Arc<orchsim_sched::PodSpec>>,
    /// Running on this node when the run begins (a cluster snapshot's pod): bound there at
    /// its arrival without a scheduling decision.
    pub node: Option<String>,
    /// Deleted at this time from the start (an event log's `DELETED`), whatever its state.
    pub deleted_at: Option<SimDuration>,
}

impl TracePod {
    /// `pod` (its name, requests and GPU models) arriving `arrival` after the start.
    pub fn new(
        pod: orchsim_sched::PodSpec,
        arrival: SimDuration,
        run_for: Option<SimDuration>,
    ) -> Self {
        TracePod {
            name: pod.name,
            requests: pod.requests,
            gpu_models: pod.gpu_models,
            arrival,
            run_for,
            priority: 0,
            spec: None,
            node: None,
            deleted_at: None,
        }
    }
}

/// What happens when a pod's container exits: Kubernetes' `restartPolicy`, Swarm's restart
/// condition (`any`, `on-failure`, `none`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Restarted whatever its exit (a batch pod that finished starts again).
    Always,
    /// Restarted after an error exit (a crash); done after a successful one.
    OnFailure,
    /// Never restarted: a crash leaves the pod `failed`.
    Never,
}

/// Long-running services run until the end; batch pods run for a sampled duration.
#[derive(Clone, Debug, PartialEq)]
pub enum WorkloadKind {
    Service,
    Batch { duration_s: Dist },
}

/// A synthetic generator: Poisson arrivals of pods with sampled sizes.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    pub name: String,
    pub kind: WorkloadKind,
    /// Jobs per second.
    pub arrival_rate_per_s: crate::curve::Rate,
    pub max_pods: Option<u64>,
    pub start: SimDuration,
    pub cpu_milli: Dist,
    pub memory_mib: Dist,
    /// Milli-GPU per pod: below 1000 a share of one device, multiples of 1000 whole devices.
    pub gpu_milli: Dist,
    /// GPU models the pods accept; empty means any.
    pub gpu_models: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// Its jobs' priorities: one drawn per job.
    pub priority: Priorities,
    /// Pods per job.
    pub tasks: Tasks,
    /// Marathon constraints among the pods of one job (its app).
    pub constraints: Vec<orchsim_sched::mesos::marathon::Constraint>,
    /// Decision cost of this workload's jobs, instead of its scheduler's.
    pub cost: Option<DecisionCost>,
    /// Kubernetes `nodeSelector` of its pods (`kubernetes` placement only).
    pub node_selector: BTreeMap<String, String>,
    /// The Kubernetes namespace of its pods (`default`), for NetworkPolicy.
    pub namespace: String,
    /// Size of its container image in MiB; 0: no pull is modeled.
    pub image_mib: f64,
    /// A batch workload whose arrivals are Kubernetes Jobs.
    pub job: Option<crate::jobs::JobSpec>,
    /// Its pods' restart policy (services: `Always`; batch pods: `OnFailure`; Jobs: `Never`
    /// unless given).
    pub restart_policy: RestartPolicy,
}

/// Pods per job.
#[derive(Clone, Debug, PartialEq)]
pub enum Tasks {
    /// Uniform in this inclusive range (`(1, 1)`: every pod its own job).
    Range(u32, u32),
    /// Drawn from a distribution, rounded, at least 1 and at most [`MAX_TASKS_PER_JOB`].
    Drawn(Dist),
}

impl Tasks {
    pub const SINGLE: Tasks = Tasks::Range(1, 1);

    /// Every pod its own job.
    pub fn is_single(&self) -> bool {
        *self == Tasks::SINGLE
    }

    /// One job's pod count.
    pub fn sample(&self, rng: &mut orchsim_kernel::StreamRng) -> u32 {
        match self {
            Tasks::Range(lo, hi) if lo == hi => *lo,
            Tasks::Range(lo, hi) => rand::Rng::random_range(rng, *lo..=*hi),
            Tasks::Drawn(d) => d.sample_u64(rng).clamp(1, MAX_TASKS_PER_JOB as u64) as u32,
        }
    }

    /// The expected pods per job; for a distribution, an upper estimate (its mean plus the
    /// most rounding can add).
    pub fn mean(&self) -> f64 {
        match self {
            Tasks::Range(lo, hi) => (f64::from(*lo) + f64::from(*hi)) / 2.0,
            Tasks::Drawn(d) => (d.mean() + 0.5).clamp(1.0, MAX_TASKS_PER_JOB as f64),
        }
    }
}

/// Priorities of a workload's jobs: `values[i]` with probability proportional to
/// `weights[i]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Priorities {
    pub values: Vec<i32>,
    pub weights: Vec<f64>,
}

impl Priorities {
    pub fn fixed(p: i32) -> Self {
        Priorities {
            values: vec![p],
            weights: vec![1.0],
        }
    }

    /// One job's priority (no draw when there is one value).
    pub fn sample(&self, rng: &mut orchsim_kernel::StreamRng) -> i32 {
        if let [one] = self.values.as_slice() {
            return *one;
        }
        let total: f64 = self.weights.iter().sum();
        let mut x = rand::Rng::random::<f64>(rng) * total;
        for (v, w) in self.values.iter().zip(&self.weights) {
            if x < *w {
                return *v;
            }
            x -= w;
        }
        // Rounding can leave x just above the last weight.
        self.values.last().copied().unwrap_or(0)
    }
}

/// Retrying jobs that found no room, as the Omega simulator does: back to the end of the
/// queue after `after`; abandoned after more than `max_attempts` attempts, or more than
/// `max_attempts_without_progress` with none of its pods placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    pub after: SimDuration,
    pub max_attempts: u32,
    pub max_attempts_without_progress: u32,
}

/// Which algorithm decides, and how long deciding takes.
#[derive(Clone, Debug, PartialEq)]
pub struct SchedulerConfig {
    pub algorithm: String,
    /// The kube-scheduler profile for `kubernetes` (the default profile when `None`).
    pub profile: Option<orchsim_sched::kube::Profile>,
    pub cost: DecisionCost,
}

/// Scheduler busy time per decision: the Omega paper's `t_job + t_task × tasks` plus a per-node
/// term for the nodes the algorithm examined. All zero means instantaneous decisions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecisionCost {
    pub t_job: SimDuration,
    pub t_task: SimDuration,
    pub t_node: SimDuration,
}

impl Scenario {
    pub fn host_count(&self) -> u64 {
        self.hosts.iter().map(|h| h.count).sum::<u64>() + self.trace_nodes.len() as u64
    }

    /// The cluster's price per hour: Σ count × cost_per_hour.
    pub fn cost_per_hour(&self) -> f64 {
        self.hosts
            .iter()
            .map(|h| h.count as f64 * h.cost_per_hour)
            .sum()
    }

    /// The empty cluster: host groups in file order, hosts named `<group>-<i>` (every host the
    /// group may ever have: with a provisioner, those past `count` start absent), then the
    /// trace's nodes.
    pub fn nodes(&self) -> Vec<orchsim_sched::NodeInfo> {
        nodes_of(&self.hosts, &self.trace_nodes)
    }
}

fn nodes_of(
    hosts: &[HostGroup],
    trace_nodes: &[orchsim_sched::NodeInfo],
) -> Vec<orchsim_sched::NodeInfo> {
    let mut nodes = Vec::new();
    for g in hosts {
        for i in 0..g.max_count() {
            let mut n = orchsim_sched::NodeInfo::new(format!("{}-{i}", g.name), g.capacity);
            n.labels = g.labels.clone();
            n.site = g.site.clone();
            if let Some(m) = &g.gpu_model {
                n.gpus = orchsim_sched::DeviceSet::of_model(m.clone());
            }
            nodes.push(n);
        }
    }
    nodes.extend(trace_nodes.iter().cloned());
    nodes
}

/// Parses and validates a scenario. `file` names the source in error messages.
pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    parse_with_files(file, text, &NoFiles)
}

/// [`parse`] for a scenario that may name files (`[trace]`), read through `files`.
pub fn parse_with_files(
    file: &str,
    text: &str,
    files: &dyn ScenarioFiles,
) -> Result<Scenario, ScenarioError> {
    let loc = Locator { file, text };
    let raw: RawScenario = deserialize_located(&loc)?;
    validate(&loc, raw, files)
}

fn validate(
    loc: &Locator,
    raw: RawScenario,
    files: &dyn ScenarioFiles,
) -> Result<Scenario, ScenarioError> {
    let err = |span: Range<usize>, field: &str, msg: String| loc.error(Some(span), field, msg);

    let name = raw.name.get_ref().trim().to_string();
    if !is_output_name(&name) {
        return Err(err(
            raw.name.span(),
            "name",
            format!("{OUTPUT_NAME}, found {:?}", raw.name.get_ref()),
        ));
    }
    let duration = positive_secs(&raw.duration_s, "duration_s", loc)?;
    let sample_interval = match &raw.sample_interval_s {
        Some(s) => positive_secs(s, "sample_interval_s", loc)?,
        None => SimDuration::try_from_secs_f64(DEFAULT_SAMPLE_INTERVAL_S).unwrap_or_default(),
    };

    let (mut trace_nodes, trace) = match &raw.trace {
        Some(t) => {
            let (nodes, replay) = trace_source(loc, t, files, duration)?;
            (nodes, Some(replay))
        }
        None => (Vec::new(), None),
    };

    // Hosts.
    if raw.hosts.get_ref().is_empty() && trace_nodes.is_empty() {
        return Err(err(
            raw.hosts.span(),
            "hosts",
            "expected at least one host group (or a `[trace]` with `nodes`): the cluster is empty"
                .into(),
        ));
    }
    let mut hosts = Vec::new();
    let mut seen = BTreeMap::new();
    for (i, h) in raw.hosts.get_ref().iter().enumerate() {
        let f = |k: &str| format!("hosts[{i}].{k}");
        let hname = unique_name(&h.name, &f("name"), "host group", &mut seen, loc)?;
        let count = non_negative(&h.count, &f("count"), "hosts", loc)?;
        let cpu = positive(&h.cpu_milli, &f("cpu_milli"), "millicores", loc)?;
        let mem = positive(&h.memory_mib, &f("memory_mib"), "MiB", loc)?;
        let gpus = non_negative(&h.gpus, &f("gpus"), "GPU devices", loc)?;
        if gpus > MAX_GPUS_PER_HOST {
            return Err(err(
                h.gpus.span(),
                &f("gpus"),
                format!("expected at most {MAX_GPUS_PER_HOST} GPU devices per host (devices are numbered in a byte), found {gpus}"),
            ));
        }
        let pods = match &h.pods {
            Some(p) => positive(p, &f("pods"), "pod slots", loc)?,
            None => DEFAULT_MAX_PODS,
        };
        let memory_bytes = mem.checked_mul(MIB).ok_or_else(|| {
            err(
                h.memory_mib.span(),
                &f("memory_mib"),
                format!("expected at most {} MiB", u64::MAX / MIB),
            )
        })?;
        let gpu_milli = gpus.checked_mul(1000).ok_or_else(|| {
            err(
                h.gpus.span(),
                &f("gpus"),
                "expected a realistic number of GPU devices".into(),
            )
        })?;
        hosts.push(HostGroup {
            name: hname,
            count,
            capacity: Resources {
                cpu_milli: cpu,
                memory_bytes,
                gpu_milli,
                ephemeral_storage_bytes: 0,
                pods,
            },
            site: h.site.clone(),
            labels: h.labels.clone(),
            gpu_model: h.gpu_model.as_ref().map(|m| m.get_ref().clone()),
            cost_per_hour: {
                let c = *h.cost_per_hour.get_ref();
                if !(c.is_finite() && c >= 0.0) {
                    return Err(err(
                        h.cost_per_hour.span(),
                        &f("cost_per_hour"),
                        format!("expected a non-negative price per host-hour, found {c}"),
                    ));
                }
                c
            },
            scaling: scaling(loc, h, count, &f)?,
            spot: match h.capacity_type.as_ref().map(|c| (c, c.get_ref().as_str())) {
                None | Some((_, "on-demand")) => false,
                Some((_, "spot")) => true,
                Some((c, other)) => {
                    return Err(err(
                        c.span(),
                        &f("capacity_type"),
                        format!("expected `on-demand` or `spot`, found `{other}`"),
                    ))
                }
            },
        });
    }
    if let Some((a, b)) = clashing(hosts.iter().map(|h| h.name.as_str())) {
        let span = raw
            .hosts
            .get_ref()
            .iter()
            .find(|h| h.name.get_ref().trim() == b)
            .map_or(raw.hosts.span(), |h| h.name.span());
        return Err(err(span, "hosts", format!("host group names `{a}` and `{b}` can generate the same host name (`{a}-1` + `1` = `{b}1`); expected names that are not `<other>-<number>…`")));
    }
    if hosts.iter().all(|h| h.max_count() == 0) && trace_nodes.is_empty() {
        return Err(err(
            raw.hosts.span(),
            "hosts",
            "expected at least one host: every host group has count = 0, the cluster is empty"
                .into(),
        ));
    }
    let datapath = match &raw.network.datapath {
        Some(d) => d
            .get_ref()
            .parse::<Datapath>()
            .map_err(|e| err(d.span(), "network.datapath", e.to_string()))?,
        None => Datapath::plain(orchsim_net::Base::Host),
    };
    let net_profile = orchsim_net::Profile::default_profile();
    let net_platform = match &raw.network.platform {
        Some(p) => {
            net_profile
                .platform(p.get_ref())
                .map_err(|e| err(p.span(), "network.platform", e))?;
            p.get_ref().clone()
        }
        None => net_profile.default_platform.clone(),
    };
    let agents = match &raw.network.agents {
        Some(a) if *a.get_ref() => {
            let agents = crate::traffic::Agents::of(datapath);
            let short = hosts
                .iter()
                .filter(|g| g.max_count() > 0)
                .map(|g| (g.name.as_str(), g.capacity))
                .chain(trace_nodes.iter().map(|n| (n.name.as_str(), n.allocatable)))
                .find(|(_, c)| {
                    c.cpu_milli < agents.request_cpu_milli
                        || c.memory_bytes < agents.request_memory_bytes
                });
            if let Some((name, c)) = short {
                return Err(err(
                    a.span(),
                    "network.agents",
                    format!(
                        "the {} agents request {} mCPU and {} MiB on every host, more than host `{name}` has ({} mCPU, {} MiB)",
                        agents.family,
                        agents.request_cpu_milli,
                        agents.request_memory_bytes >> 20,
                        c.cpu_milli,
                        c.memory_bytes >> 20
                    ),
                ));
            }
            // (A group of no hosts may be smaller than the request: it has nothing to reserve.)
            for g in &mut hosts {
                g.capacity.cpu_milli = g
                    .capacity
                    .cpu_milli
                    .saturating_sub(agents.request_cpu_milli);
                g.capacity.memory_bytes = g
                    .capacity
                    .memory_bytes
                    .saturating_sub(agents.request_memory_bytes);
            }
            for n in &mut trace_nodes {
                n.allocatable.cpu_milli -= agents.request_cpu_milli;
                n.allocatable.memory_bytes -= agents.request_memory_bytes;
            }
            Some(agents)
        }
        _ => None,
    };
    let capacities = || {
        hosts
            .iter()
            .filter(|h| h.max_count() > 0)
            .map(|h| h.capacity)
            .chain(trace_nodes.iter().map(|n| n.allocatable))
    };
    let largest = Resources {
        cpu_milli: capacities().map(|c| c.cpu_milli).max().unwrap_or(0),
        memory_bytes: capacities().map(|c| c.memory_bytes).max().unwrap_or(0),
        gpu_milli: capacities().map(|c| c.gpu_milli).max().unwrap_or(0),
        ephemeral_storage_bytes: 0,
        pods: capacities().map(|c| c.pods).max().unwrap_or(0),
    };

    // Workloads.
    let mut workloads = Vec::new();
    let mut seen = BTreeMap::new();
    // GPU models the host groups name, for checking what workloads require.
    let models: BTreeSet<String> = hosts
        .iter()
        .filter_map(|h| h.gpu_model.clone())
        .chain(trace_nodes.iter().filter_map(|n| n.gpus.model.clone()))
        .collect();
    for (i, w) in raw.workloads.iter().enumerate() {
        let f = |k: &str| format!("workloads[{i}].{k}");
        let wname = unique_name(&w.name, &f("name"), "workload", &mut seen, loc)?;
        let rate = match w.arrival_rate_per_s.get_ref() {
            crate::curve::RawRate::Number(rate) => {
                if !(rate.is_finite() && *rate > 0.0) {
                    return Err(err(
                        w.arrival_rate_per_s.span(),
                        &f("arrival_rate_per_s"),
                        format!(
                            "expected a positive arrival rate in jobs per second, found {rate}"
                        ),
                    ));
                }
                crate::curve::Rate::Constant(*rate)
            }
            crate::curve::RawRate::Curve(c) => {
                let c = c.validate(
                    w.arrival_rate_per_s.span(),
                    &f("arrival_rate_per_s"),
                    ("jobs per second", "values"),
                    duration,
                    loc,
                )?;
                if !(c.max() > 0.0 && c.max() <= MAX_CURVE_RATE) {
                    return Err(err(
                        w.arrival_rate_per_s.span(),
                        &f("arrival_rate_per_s"),
                        format!("expected a curve that rises above 0 jobs per second and stays at most {MAX_CURVE_RATE:e}"),
                    ));
                }
                crate::curve::Rate::Curve(c)
            }
        };
        let max_pods = match &w.max_pods {
            Some(m) => Some(non_negative(m, &f("max_pods"), "pods", loc)?),
            None => None,
        };
        let start = non_negative_secs(&w.start_s, &f("start_s"), loc)?;
        let cpu_milli = resource_dist(&w.cpu_milli, &f("cpu_milli"), "millicores", loc)?;
        let memory_mib = resource_dist(&w.memory_mib, &f("memory_mib"), "MiB", loc)?;
        let gpu_milli = match &w.gpu_milli {
            Some(g) => {
                let d = resource_dist(g, &f("gpu_milli"), "milli-GPUs", loc)?;
                gpu_demands(&d).map_err(|m| err(g.span(), &f("gpu_milli"), m))?;
                d
            }
            None => Dist::Constant(0.0),
        };
        for (k, m) in w.gpu_models.iter().enumerate() {
            if !models.contains(m.get_ref()) {
                let known: Vec<&str> = models.iter().map(String::as_str).collect();
                return Err(err(
                    m.span(),
                    &f(&format!("gpu_models[{k}]")),
                    format!(
                        "expected a GPU model some host group has (`gpu_model`): {}; found `{}`",
                        if known.is_empty() {
                            "no host group names one".to_string()
                        } else {
                            known.join(", ")
                        },
                        m.get_ref()
                    ),
                ));
            }
        }
        // A dimension whose largest request exceeds every host can never be placed.
        for (dist, span, key, cap, unit) in [
            (
                &cpu_milli,
                w.cpu_milli.span(),
                "cpu_milli",
                largest.cpu_milli as f64,
                "millicores",
            ),
            (
                &memory_mib,
                w.memory_mib.span(),
                "memory_mib",
                (largest.memory_bytes / MIB) as f64,
                "MiB",
            ),
            (
                &gpu_milli,
                w.gpu_milli
                    .as_ref()
                    .map(|g| g.span())
                    .unwrap_or(w.name.span()),
                "gpu_milli",
                largest.gpu_milli as f64,
                "milli-GPUs",
            ),
        ] {
            let max = dist.max().unwrap_or(f64::INFINITY).round();
            if max > cap {
                return Err(err(
                    span,
                    &f(key),
                    format!(
                        "a pod larger than every host: requests can reach {max} {unit} but the largest host has {cap} {unit}; expected requests that fit at least one host"
                    ),
                ));
            }
        }
        let kind = match w.kind.get_ref().as_str() {
            "service" => {
                if let Some(d) = &w.duration_s {
                    return Err(err(d.span(), &f("duration_s"), "expected no duration for a `service` workload: services run until the end (use kind = \"batch\" for pods that finish)".into()));
                }
                WorkloadKind::Service
            }
            "batch" => {
                let Some(d) = &w.duration_s else {
                    return Err(err(
                        w.kind.span(),
                        &f("duration_s"),
                        "expected `duration_s` (seconds) for a `batch` workload".into(),
                    ));
                };
                WorkloadKind::Batch {
                    duration_s: dist(d, &f("duration_s"), "seconds", loc)?,
                }
            }
            other => {
                return Err(err(
                    w.kind.span(),
                    &f("kind"),
                    format!("expected `service` or `batch`, found `{other}`"),
                ));
            }
        };
        let policy = restart_policy(
            loc,
            w,
            &f("restart_policy"),
            raw.orchestrator.preset.as_ref(),
        )?;
        workloads.push(Workload {
            name: wname,
            kind,
            arrival_rate_per_s: rate,
            max_pods,
            start,
            cpu_milli,
            memory_mib,
            gpu_milli,
            gpu_models: w.gpu_models.iter().map(|m| m.get_ref().clone()).collect(),
            labels: w.labels.clone(),
            priority: match &w.priority {
                None => Priorities::fixed(0),
                Some(p) => priorities(p, &f("priority"), loc)?,
            },
            tasks: match &w.tasks {
                None => Tasks::SINGLE,
                Some(t) => tasks(t, &f("tasks"), loc)?,
            },
            constraints: w
                .constraints
                .iter()
                .enumerate()
                .map(|(k, c)| {
                    let parts: Vec<&str> = c.get_ref().iter().map(String::as_str).collect();
                    orchsim_sched::mesos::marathon::Constraint::parse(&parts).map_err(|e| {
                        err(c.span(), &f(&format!("constraints[{k}]")), format!("{e} (a Marathon constraint: [field, OPERATOR] or [field, OPERATOR, value])"))
                    })
                })
                .collect::<Result<_, _>>()?,
            cost: match &w.cost {
                Some(c) => Some(c.validate(&f("cost"), loc)?),
                None => None,
            },
            node_selector: w
                .node_selector
                .as_ref()
                .map(|n| n.get_ref().clone())
                .unwrap_or_default(),
            namespace: match &w.namespace {
                Some(n) if orchsim_net::policy::is_dns_label(n.get_ref()) => n.get_ref().clone(),
                Some(n) => {
                    return Err(err(
                        n.span(),
                        &f("namespace"),
                        format!(
                            "expected a Kubernetes namespace name (lowercase letters, digits and `-`, at most 63), found `{}`",
                            n.get_ref()
                        ),
                    ))
                }
                None => "default".into(),
            },
            image_mib: match &w.image_mib {
                Some(m) => {
                    let x = *m.get_ref();
                    if !(x.is_finite() && x >= 0.0) {
                        return Err(err(
                            m.span(),
                            &f("image_mib"),
                            format!("expected a non-negative image size in MiB, found {x}"),
                        ));
                    }
                    x
                }
                None => 0.0,
            },
            job: match &w.job {
                None => None,
                Some(j) => Some(job_spec(
                    loc,
                    w,
                    j,
                    &f("job"),
                    raw.orchestrator.preset.as_ref(),
                    policy,
                )?),
            },
            restart_policy: policy,
        });
    }

    if let Some((a, b)) = clashing(workloads.iter().map(|w| w.name.as_str())) {
        let span = raw
            .workloads
            .iter()
            .find(|w| w.name.get_ref().trim() == b)
            .map_or(0..0, |w| w.name.span());
        return Err(err(span, "workloads", format!("workload names `{a}` and `{b}` can generate the same pod name; expected names that are not `<other>-<number>…`")));
    }

    let lifecycle = crate::orchestrator::resolve(
        loc,
        crate::orchestrator::RawChoice {
            preset: raw.orchestrator.preset.as_ref(),
            overrides: &raw.orchestrator.overrides,
        },
        files,
    )?;

    // Scheduler.
    let algorithm = match &raw.scheduler.algorithm {
        Some(a) => {
            if let Err(e) = orchsim_sched::by_name(a.get_ref(), 0) {
                return Err(err(a.span(), "scheduler.algorithm", e.to_string()));
            }
            a.get_ref().clone()
        }
        // A Kubernetes cluster's snapshot is scheduled by kube-scheduler unless told otherwise.
        None if raw
            .trace
            .as_ref()
            .is_some_and(|t| t.format.get_ref() == KUBERNETES) =>
        {
            "kubernetes".to_string()
        }
        None => lifecycle
            .as_ref()
            .map_or("first-fit", |l| l.scheduler.as_str())
            .to_string(),
    };
    let profile = match &raw.scheduler.profile {
        None => None,
        Some(p) => {
            if algorithm != "kubernetes" {
                return Err(err(p.span(), "scheduler.profile", format!("a KubeSchedulerConfiguration applies to algorithm = \"kubernetes\" only, not `{algorithm}`")));
            }
            let path = std::path::Path::new(loc.file)
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .join(p.get_ref());
            let text = std::fs::read_to_string(&path).map_err(|e| {
                err(
                    p.span(),
                    "scheduler.profile",
                    format!(
                        "expected a readable KubeSchedulerConfiguration file, cannot read {}: {e}",
                        path.display()
                    ),
                )
            })?;
            let loaded = orchsim_sched::kube::config::parse(&text, None).map_err(|e| {
                err(
                    p.span(),
                    "scheduler.profile",
                    format!("{}: {e}", path.display()),
                )
            })?;
            Some(loaded.profile)
        }
    };
    let cost = match &raw.scheduler.cost {
        Some(c) => c.validate("scheduler.cost", loc)?,
        None => DecisionCost::default(),
    };
    let paths: Vec<String> = workloads
        .iter()
        .map(|w| w.name.clone())
        .chain(trace.as_ref().map(|t| t.name.clone()))
        .collect();
    let control_plane = crate::control_plane::validate(loc, &raw.control_plane, &paths)?;
    if !control_plane.schedulers.is_empty() {
        // The control plane's schedulers decide; a `[scheduler]` would be silently unused.
        let unused = [
            raw.scheduler
                .algorithm
                .as_ref()
                .map(|a| ("algorithm", a.span())),
            raw.scheduler
                .profile
                .as_ref()
                .map(|p| ("profile", p.span())),
        ];
        if let Some((key, span)) = unused.into_iter().flatten().next() {
            return Err(err(span, &format!("scheduler.{key}"), format!("a {} control plane's schedulers are its `[[control_plane.schedulers]]`; expected no `[scheduler] {key}` (give each scheduler its `algorithm` and `cost` there)", control_plane.kind.name())));
        }
    }
    if let Some(i) = workloads
        .iter()
        .position(|w| trace.as_ref().is_some_and(|t| t.name == w.name))
    {
        return Err(err(
            raw.workloads[i].name.span(),
            &format!("workloads[{i}].name"),
            "`trace` names the replayed trace's pods when the scenario has a `[trace]`; expected another workload name".into(),
        ));
    }
    // Marathon constraints are Marathon's: only the `marathon` placement reads them.
    for (i, w) in workloads.iter().enumerate() {
        let algorithm = control_plane
            .schedulers
            .iter()
            .find(|s| s.workloads.contains(&w.name))
            .map_or(algorithm.as_str(), |s| s.algorithm.as_str());
        let counted = w.constraints.iter().any(|c| {
            c.op == orchsim_sched::mesos::marathon::Operator::GroupBy && c.value.is_some()
        });
        if counted && w.tasks.is_single() && w.max_pods.is_none() {
            return Err(err(
                raw.workloads[i].constraints[0].span(),
                &format!("workloads[{i}].constraints"),
                "GROUP_BY with a count spreads an app's instances, so it needs the app's size: `tasks` (each job is an app) or `max_pods` (the workload is one app)".into(),
            ));
        }
        if !w.node_selector.is_empty() && algorithm != "kubernetes" {
            return Err(err(
                raw.workloads[i]
                    .node_selector
                    .as_ref()
                    .map_or(raw.workloads[i].name.span(), |n| n.span()),
                &format!("workloads[{i}].node_selector"),
                format!("a nodeSelector is honoured by the `kubernetes` scheduler only; workload `{}` is placed by `{algorithm}` (a `marathon` workload can use an `IS` constraint)", w.name),
            ));
        }
        if !w.constraints.is_empty() && algorithm != "marathon" {
            let span = raw.workloads[i].constraints[0].span();
            return Err(err(
                span,
                &format!("workloads[{i}].constraints"),
                format!("Marathon constraints are honoured by the `marathon` scheduler only; workload `{}` is placed by `{algorithm}` (use its own placement rules, or serve the workload with algorithm = \"marathon\")", w.name),
            ));
        }
    }
    let o = &raw.orchestrator;
    let retry = match &o.retry_after_s {
        Some(after) => Some(Retry {
            after: positive_secs(after, "orchestrator.retry_after_s", loc)?,
            max_attempts: match &o.max_attempts {
                Some(m) => positive(m, "orchestrator.max_attempts", "attempts", loc)?
                    .min(u64::from(u32::MAX)) as u32,
                None => DEFAULT_MAX_ATTEMPTS,
            },
            max_attempts_without_progress: match &o.max_attempts_without_progress {
                Some(m) => positive(
                    m,
                    "orchestrator.max_attempts_without_progress",
                    "attempts",
                    loc,
                )?
                .min(u64::from(u32::MAX)) as u32,
                None => DEFAULT_MAX_ATTEMPTS_WITHOUT_PROGRESS,
            },
        }),
        None => {
            for (name, v) in [
                ("max_attempts", &o.max_attempts),
                (
                    "max_attempts_without_progress",
                    &o.max_attempts_without_progress,
                ),
            ] {
                if let Some(v) = v {
                    return Err(err(v.span(), &format!("orchestrator.{name}"), "applies only with `retry_after_s` (without it, jobs that find no room wait for freed resources and are never abandoned)".into()));
                }
            }
            None
        }
    };

    let start_latency_s = match &raw.orchestrator.start_latency_s {
        Some(d) => dist(d, "orchestrator.start_latency_s", "seconds", loc)?,
        None => Dist::Constant(0.0),
    };

    let underlay_mtu = match &raw.network.underlay_mtu {
        Some(m) => {
            let v = *m.get_ref();
            // 576 is the minimum IPv4 datagram every host must accept (RFC 791); 65535 is the
            // largest IPv4 packet.
            if !(576..=65535).contains(&v) {
                return Err(err(
                    m.span(),
                    "network.underlay_mtu",
                    format!("expected an MTU in bytes between 576 and 65535, found {v}"),
                ));
            }
            v as u32
        }
        None => DEFAULT_UNDERLAY_MTU,
    };

    if let Some(t) = &raw.trace {
        // Pods bound where a snapshot found them bypass the offers a two-level control plane
        // keeps its books by.
        let pinned = trace
            .iter()
            .flat_map(|r| r.pods.iter())
            .any(|p| p.node.is_some());
        if pinned
            && matches!(
                control_plane.kind,
                crate::control_plane::ControlPlaneKind::TwoLevel(_)
            )
        {
            return Err(err(
                t.nodes.as_ref().map_or(t.pods.span(), |n| n.span()),
                "trace.nodes",
                "a snapshot's running pods are bound without a decision, which a two-level control plane's offers do not account for; expected a monolithic or shared-state control plane".into(),
            ));
        }
        // A pod that asks for its node by name (a DaemonSet's, `spec.nodeName`) needs a
        // scheduler that reads the name.
        let algorithm = control_plane
            .schedulers
            .iter()
            .find(|s| {
                trace
                    .as_ref()
                    .is_some_and(|r| s.workloads.contains(&r.name))
            })
            .map_or(algorithm.as_str(), |s| s.algorithm.as_str());
        let named = trace
            .iter()
            .flat_map(|r| r.pods.iter())
            .find(|p| p.node.is_none() && p.spec.as_ref().is_some_and(|s| s.node_name.is_some()));
        if let (Some(p), false) = (named, algorithm == "kubernetes") {
            return Err(err(
                t.pods.span(),
                "trace.pods",
                format!(
                    "pod `{}` asks for node `{}` by name (a DaemonSet's pod, or `spec.nodeName`), which only the `kubernetes` scheduler reads; the trace is placed by `{algorithm}`",
                    p.name,
                    p.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or_default()
                ),
            ));
        }
        // A trace's names must not be ones the host groups and workloads generate.
        let generated = |name: &str, prefix: &str| {
            name.strip_prefix(prefix)
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        };
        for p in trace.iter().flat_map(|r| r.pods.iter()) {
            if let Some(w) = workloads.iter().find(|w| generated(&p.name, &w.name)) {
                return Err(err(
                    t.pods.span(),
                    "trace.pods",
                    format!(
                        "trace pod `{}` has a name workload `{}` generates; expected names that are not `{}-<number>`",
                        p.name, w.name, w.name
                    ),
                ));
            }
        }
        for n in &trace_nodes {
            if let Some(h) = hosts.iter().find(|h| generated(&n.name, &h.name)) {
                return Err(err(
                    t.nodes.as_ref().map_or(t.pods.span(), |s| s.span()),
                    "trace.nodes",
                    format!(
                        "trace node `{}` has a name host group `{}` generates; expected names that are not `{}-<number>`",
                        n.name, h.name, h.name
                    ),
                ));
            }
        }
    }
    let gpu_fragmentation = match &raw.observers.gpu_fragmentation {
        Some(on) if *on.get_ref() => {
            let has_gpus = hosts
                .iter()
                .any(|h| h.max_count() > 0 && h.capacity.gpu_milli > 0)
                || trace_nodes.iter().any(|n| n.allocatable.gpu_milli > 0);
            let asks_gpus = workloads
                .iter()
                .any(|w| w.gpu_milli.max().unwrap_or(0.0) > 0.0)
                || trace
                    .as_ref()
                    .is_some_and(|t| t.pods.iter().any(|p| p.requests.gpu_milli > 0));
            if !(has_gpus && asks_gpus) {
                return Err(loc.error(
                    Some(on.span()),
                    "observers.gpu_fragmentation",
                    "expected a cluster with GPUs and a workload that requests them: GPU fragmentation has nothing to measure otherwise".into(),
                ));
            }
            true
        }
        _ => false,
    };
    let registry_mbit_s = match &raw.orchestrator.registry_mbit_s {
        Some(r) => {
            let x = *r.get_ref();
            if !(x.is_finite() && x > 0.0) {
                return Err(err(
                    r.span(),
                    "orchestrator.registry_mbit_s",
                    format!("expected a positive bandwidth in Mbit/s, found {x}"),
                ));
            }
            x
        }
        None => DEFAULT_REGISTRY_MBIT_S,
    };
    let mut traffic = crate::traffic::validate(
        loc,
        &raw.traffic,
        &workloads
            .iter()
            .map(|w| w.name.as_str())
            .collect::<Vec<_>>(),
    )?;
    let swarm = raw
        .orchestrator
        .preset
        .as_ref()
        .is_some_and(|p| p.get_ref() == "swarm");
    let proxy = match &raw.network.proxy {
        None if swarm => ServiceProxy::Swarm,
        None => ServiceProxy::Iptables,
        Some(p) => {
            let mode = p
                .get_ref()
                .parse::<ServiceProxy>()
                .map_err(|e| err(p.span(), "network.proxy", e.to_string()))?;
            // Swarm's load balancer comes with Swarm, kube-proxy with Kubernetes.
            if (mode == ServiceProxy::Swarm) != swarm {
                return Err(err(
                    p.span(),
                    "network.proxy",
                    if swarm {
                        format!("a Swarm cluster balances Services with its own IPVS load balancer: expected `swarm` (or no proxy) with the swarm preset, found `{mode}`")
                    } else {
                        "`swarm` is Docker Swarm's load balancer: expected `[orchestrator] preset = \"swarm\"` with it, or iptables, nftables or ipvs".into()
                    },
                ));
            }
            mode
        }
    };
    let services = match &raw.network.services {
        None => workloads.len() as u64,
        Some(n) if (1..=1_000_000).contains(n.get_ref()) => *n.get_ref() as u64,
        Some(n) => {
            return Err(err(
                n.span(),
                "network.services",
                format!(
                    "expected a number of Service ports from 1 to 1000000, found {}",
                    n.get_ref()
                ),
            ))
        }
    };
    let policies = match &raw.network.policies {
        Some(paths) => Some(crate::traffic::read_policies(
            loc,
            paths,
            files,
            datapath,
            &workloads,
            &mut traffic,
        )?),
        None => None,
    };
    let sites: Vec<String> = {
        let mut v: Vec<String> = hosts
            .iter()
            .filter(|g| g.max_count() > 0)
            .map(|g| g.site.clone())
            .chain(trace_nodes.iter().map(|n| n.site.clone()))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let links = crate::traffic::validate_links(loc, &raw.links, &sites, &raw.traffic)?;
    let max_events = check_budgets(
        loc,
        &raw.limits,
        &raw,
        duration,
        sample_interval,
        &hosts,
        trace_nodes.len(),
        &workloads,
    )?;
    // After the budgets: the faults read the host list, which the budgets bound.
    let faults = if raw.faults.is_empty() {
        Vec::new()
    } else {
        crate::faults::validate(
            loc,
            &raw.faults,
            &nodes_of(&hosts, &trace_nodes),
            &workloads.iter().map(|w| w.name.clone()).collect::<Vec<_>>(),
            duration,
        )?
    };
    // Restarting completed containers takes the preset's restart back-off.
    if let (None, Some(i)) = (
        &lifecycle,
        workloads.iter().position(|w| {
            matches!(w.kind, WorkloadKind::Batch { .. })
                && w.restart_policy == RestartPolicy::Always
        }),
    ) {
        return Err(loc.error(
            raw.workloads[i].restart_policy.as_ref().map(|p| p.span()),
            &format!("workloads[{i}].restart_policy"),
            "a batch pod restarted `Always` starts again after the preset's restart back-off: expected `[orchestrator] preset` with it".into(),
        ));
    }
    // A slow registry needs no failure handling; every other fault does.
    let needs_preset = faults
        .iter()
        .position(|f| f.registry_mbit_s.is_none() && !f.spot_reclaim)
        .map(|i| (i, &raw.faults[i]));
    if let (Some((i, first)), None) = (needs_preset, &lifecycle) {
        return Err(loc.error(
            Some(first.name.span()),
            &format!("faults[{i}]"),
            "faults need an orchestrator preset to say how failures are detected and handled: expected `[orchestrator] preset = \"kubernetes\"` (or \"swarm\", \"mesos-marathon\")".into(),
        ));
    }

    let upgrades = crate::upgrades::validate(
        loc,
        &raw.upgrades,
        &workloads
            .iter()
            .map(|w| (w.name.clone(), w.kind.clone(), w.max_pods, w.image_mib))
            .collect::<Vec<_>>(),
        duration,
    )?;
    if let (Some(first), None, true) = (
        raw.upgrades.first(),
        &lifecycle,
        upgrades
            .iter()
            .any(|u| u.max_surge.is_none() || u.max_unavailable.is_none()),
    ) {
        return Err(loc.error(
            Some(first.workload_span()),
            "upgrades[0]",
            "an upgrade takes its surge and unavailability limits from the orchestrator preset: expected `[orchestrator] preset = \"kubernetes\"` (or \"swarm\", \"mesos-marathon\"), or `max_surge` and `max_unavailable` in every upgrade".into(),
        ));
    }
    let autoscalers = crate::autoscale::validate(
        loc,
        &raw.autoscalers,
        &workloads
            .iter()
            .map(|w| {
                let request = w.cpu_milli.sample_constant();
                (w.name.clone(), w.kind.clone(), w.max_pods, request)
            })
            .collect::<Vec<_>>(),
        duration,
    )?;
    if let Some((i, a)) = autoscalers
        .iter()
        .enumerate()
        .find(|(_, a)| upgrades.iter().any(|u| u.workload == a.workload))
    {
        return Err(loc.error(
            Some(raw.autoscalers[i].workload_span()),
            &format!("autoscalers[{i}].workload"),
            format!("`{}` has an upgrade too; expected an autoscaler and an upgrade on different workloads (both changing its replicas at once is not modeled)", workloads[a.workload].name),
        ));
    }
    let ipam = match &raw.ipam {
        None => None,
        Some(r) => Some(crate::ipam::validate(
            loc,
            r,
            &workloads.iter().map(|w| w.name.clone()).collect::<Vec<_>>(),
            datapath,
        )?),
    };
    let api_server = match &raw.api_server {
        None => None,
        Some(table) => {
            // A span to point at: the table's first value, or (an empty table) the preset.
            let span = table
                .values()
                .next()
                .map(|v| v.span())
                .or_else(|| raw.orchestrator.preset.as_ref().map(|p| p.span()));
            if let crate::control_plane::ControlPlaneKind::TwoLevel(_) = control_plane.kind {
                return Err(loc.error(
                    span,
                    "api_server",
                    "the API server model is Kubernetes' control plane; a two-level control plane is Mesos', whose master has no client rate limits or etcd: expected no `[api_server]` with `[control_plane] kind = \"two-level\"`".into(),
                ));
            }
            if let Some(p) = raw
                .orchestrator
                .preset
                .as_ref()
                .filter(|p| matches!(p.get_ref().as_str(), "swarm" | "mesos-marathon"))
            {
                return Err(loc.error(
                    Some(p.span()),
                    "orchestrator.preset",
                    format!("the API server model is Kubernetes' control plane (its controllers replace failed pods); expected the `kubernetes` preset (or your own) with `[api_server]`, found `{}`", p.get_ref()),
                ));
            }
            Some(crate::api_server::ApiConfig::resolve(loc, table)?)
        }
    };

    let provisioning = provisioning(loc, &raw, &hosts, &control_plane, &algorithm)?;
    if let (None, Some(i)) = (&provisioning, faults.iter().position(|f| f.spot_reclaim)) {
        return Err(loc.error(
            Some(raw.faults[i].name.span()),
            &format!("faults[{i}].spot_reclaim"),
            "spot hosts are launched and reclaimed by a provisioner: expected a `[provisioning]` table with `spot_reclaim`".into(),
        ));
    }
    if let (Some(i), Some(_)) = (workloads.iter().position(|w| w.job.is_some()), &retry) {
        return Err(loc.error(
            raw.workloads[i].job.as_ref().map(|j| j.span()),
            &format!("workloads[{i}].job"),
            "a Job's controller replaces its pods and fails it past its backoff_limit; with `[orchestrator] retry_after_s` its pods would be abandoned instead: expected no retry settings with `job`".into(),
        ));
    }
    if let (Some(_), Some(_), Some(table)) = (&provisioning, &retry, &raw.provisioning) {
        return Err(loc.error(
            Some(table.span()),
            "provisioning",
            "a provisioner acts on the pods the scheduler parked as unschedulable; with `[orchestrator] retry_after_s` jobs are retried instead and never park: expected no retry settings with `[provisioning]`".into(),
        ));
    }

    Ok(Scenario {
        observers: Observers {
            gpu_fragmentation,
            dominant_shares: raw.observers.dominant_shares,
            ..Observers::default()
        },
        control_plane,
        retry,
        trace_nodes,
        trace,
        name,
        description: raw.description.trim().to_string(),
        seed: raw.seed,
        duration,
        sample_interval,
        hosts,
        workloads,
        scheduler: SchedulerConfig {
            algorithm,
            profile,
            cost,
        },
        start_latency_s,
        datapath,
        underlay_mtu,
        net_platform,
        agents,
        traffic,
        links,
        policies,
        proxy,
        services,
        max_events,
        lifecycle,
        faults,
        registry_mbit_s,
        api_server,
        upgrades,
        ipam,
        autoscalers,
        provisioning,
    })
}

/// Schedulers that keep pods off a cordoned host, which is how hosts not (or no longer) there
/// are kept out of placement.
const PROVISIONED_ALGORITHMS: &[&str] = &[
    "kubernetes",
    "swarm",
    "first-fit",
    "best-fit",
    "worst-fit",
    "dot-product",
];

/// `[provisioning]` checked against the hosts and the control plane it needs.
fn provisioning(
    loc: &Locator,
    raw: &RawScenario,
    hosts: &[HostGroup],
    control_plane: &ControlPlane,
    algorithm: &str,
) -> Result<Option<crate::provisioning::Provisioning>, ScenarioError> {
    let managed = hosts.iter().position(|h| h.scaling.is_some());
    let Some(table) = &raw.provisioning else {
        if let Some(i) = managed {
            let h = &raw.hosts.get_ref()[i];
            let span = h
                .max_count
                .as_ref()
                .or(h.min_count.as_ref())
                .map(|s| s.span());
            return Err(loc.error(
                span,
                &format!("hosts[{i}].max_count"),
                "a host group's min_count and max_count are a provisioner's limits: expected a `[provisioning]` table (provisioner = \"cluster-autoscaler\" or \"karpenter\") or no min_count/max_count".into(),
            ));
        }
        return Ok(None);
    };
    let p = crate::provisioning::Provisioning::resolve(loc, table)?;
    let here = Some(table.span());
    if !matches!(
        control_plane.kind,
        crate::control_plane::ControlPlaneKind::Monolithic
    ) || !control_plane.schedulers.is_empty()
    {
        return Err(loc.error(
            here,
            "provisioning",
            format!("a provisioner works with one scheduler over the whole cluster: expected the monolithic control plane with `[scheduler]`, found `{}`", control_plane.kind.name()),
        ));
    }
    if !PROVISIONED_ALGORITHMS.contains(&algorithm) {
        return Err(loc.error(
            here,
            "provisioning",
            format!("hosts not yet launched are cordoned, and `{algorithm}` does not read cordons: expected one of {}", PROVISIONED_ALGORITHMS.join(", ")),
        ));
    }
    if !hosts.iter().any(|h| {
        h.scaling
            .is_some_and(|s| s.max > h.count || s.min < h.count)
    }) {
        return Err(loc.error(
            here,
            "provisioning",
            "expected at least one host group the provisioner may resize: give a group `max_count` above its `count` (or `min_count` below it)".into(),
        ));
    }
    Ok(Some(p))
}

/// A workload's `restart_policy`, or its kind's default: `Always` for services, `OnFailure`
/// for batch pods, `Never` for Jobs (as `kubectl create job` writes it).
fn restart_policy(
    loc: &Locator,
    w: &raw::RawWorkload,
    field: &str,
    preset: Option<&Spanned<String>>,
) -> Result<RestartPolicy, ScenarioError> {
    let Some(p) = &w.restart_policy else {
        return Ok(match (w.kind.get_ref().as_str(), &w.job) {
            ("service", _) => RestartPolicy::Always,
            (_, Some(_)) => RestartPolicy::Never,
            _ => RestartPolicy::OnFailure,
        });
    };
    let policy = match p.get_ref().as_str() {
        "Always" | "any" => RestartPolicy::Always,
        "OnFailure" | "on-failure" => RestartPolicy::OnFailure,
        "Never" | "none" => RestartPolicy::Never,
        other => {
            return Err(loc.error(
                Some(p.span()),
                field,
                format!("expected `Always`, `OnFailure` or `Never` (Swarm's `any`, `on-failure`, `none`), found `{other}`"),
            ))
        }
    };
    let swarm = preset.is_some_and(|p| p.get_ref() == "swarm");
    if policy != RestartPolicy::Always && w.kind.get_ref() == "service" && !swarm {
        return Err(loc.error(
            Some(p.span()),
            field,
            "a Deployment's or a Marathon app's pods restart `Always` (the only policy they allow); a Swarm service may use `on-failure` or `none`: expected `Always` for a service, or the `swarm` preset".into(),
        ));
    }
    if policy == RestartPolicy::Always && w.job.is_some() {
        return Err(loc.error(
            Some(p.span()),
            field,
            "a Job's pods may not restart `Always` (the Job API allows `OnFailure` or `Never`)"
                .into(),
        ));
    }
    Ok(policy)
}

/// A workload's `job` table: a batch workload, without `tasks` or `max_pods` (its Jobs make
/// its pods), under the Kubernetes preset or none.
fn job_spec(
    loc: &Locator,
    w: &raw::RawWorkload,
    j: &Spanned<crate::jobs::RawJob>,
    field: &str,
    preset: Option<&Spanned<String>>,
    policy: RestartPolicy,
) -> Result<crate::jobs::JobSpec, ScenarioError> {
    let here = |what: &str| loc.error(Some(j.span()), field, what.to_string());
    if w.kind.get_ref() != "batch" {
        return Err(here(
            "a Job runs pods to completion: expected `kind = \"batch\"` with `job`",
        ));
    }
    if w.tasks.is_some() || w.max_pods.is_some() {
        return Err(here("a Job's pods are its completions and parallelism: expected no `tasks` or `max_pods` with `job` (limit the Jobs with `job.max_jobs`)"));
    }
    if let Some(p) = preset.filter(|p| matches!(p.get_ref().as_str(), "swarm" | "mesos-marathon")) {
        return Err(loc.error(
            Some(p.span()),
            "orchestrator.preset",
            format!("`job` is a Kubernetes Job (its controller, back-off and restart policies); expected the `kubernetes` preset (or none) with it, found `{}`", p.get_ref()),
        ));
    }
    crate::jobs::validate(loc, j.get_ref(), field, policy)
}

/// A host group's `min_count` and `max_count`: absent both, a fixed group; one of them, the
/// other defaults to 0 (min) or `count` (max).
fn scaling(
    loc: &Locator,
    h: &raw::RawHostGroup,
    count: u64,
    f: &dyn Fn(&str) -> String,
) -> Result<Option<Scaling>, ScenarioError> {
    if h.min_count.is_none() && h.max_count.is_none() {
        return Ok(None);
    }
    let min = match &h.min_count {
        Some(m) => non_negative(m, &f("min_count"), "hosts", loc)?,
        None => 0,
    };
    let max = match &h.max_count {
        Some(m) => non_negative(m, &f("max_count"), "hosts", loc)?,
        None => count,
    };
    let span = h
        .max_count
        .as_ref()
        .or(h.min_count.as_ref())
        .map(|s| s.span());
    if !(min <= count && count <= max) {
        return Err(loc.error(
            span,
            &f("max_count"),
            format!("expected min_count ≤ count ≤ max_count, found {min} ≤ {count} ≤ {max}"),
        ));
    }
    Ok(Some(Scaling { min, max }))
}

/// What a scenario's name must be, as an error message says it.
pub const OUTPUT_NAME: &str = "expected a name of letters, digits, `-`, `_` and `.`, not starting with `.` (it names the output directory out/<name>)";

/// Whether `name` can name an output directory: nothing that leaves `out/` (`..`, `/`), is
/// hidden or empty.
pub fn is_output_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// A trimmed, non-empty name not seen before among `what`s.
fn unique_name(
    name: &Spanned<String>,
    field: &str,
    what: &str,
    seen: &mut BTreeMap<String, ()>,
    loc: &Locator,
) -> Result<String, ScenarioError> {
    let n = name.get_ref().trim().to_string();
    if n.is_empty() {
        return Err(loc.error(
            Some(name.span()),
            field,
            format!("expected a non-empty {what} name"),
        ));
    }
    if seen.insert(n.clone(), ()).is_some() {
        return Err(loc.error(
            Some(name.span()),
            field,
            format!("expected unique {what} names, `{n}` appears twice"),
        ));
    }
    Ok(n)
}

/// Refuses a scenario whose hosts, expected pods or samples exceed its budgets, naming what
/// it would need and the `[limits]` key that raises the budget; returns the event budget,
/// which the run itself checks.
#[allow(clippy::too_many_arguments)]
fn check_budgets(
    loc: &Locator,
    limits: &RawLimits,
    raw: &RawScenario,
    duration: SimDuration,
    sample_interval: SimDuration,
    hosts: &[HostGroup],
    trace_nodes: usize,
    workloads: &[Workload],
) -> Result<u64, ScenarioError> {
    let limit = |v: &Option<Spanned<i64>>, key: &str, default: u64| -> Result<u64, ScenarioError> {
        match v {
            Some(v) => positive(v, &format!("limits.{key}"), "a count", loc),
            None => Ok(default),
        }
    };
    let over = |span: Option<Range<usize>>,
                field: &str,
                what: &str,
                needed: f64,
                max: u64,
                key: &str| {
        loc.error(
            span,
            field,
            format!(
                "this run needs about {needed:.0} {what}, over the budget of {max}; raise `[limits] {key}` if the machine has the memory"
            ),
        )
    };
    let max_events = limit(&limits.max_events, "max_events", DEFAULT_BUDGET_EVENTS)?;
    let max_hosts = limit(&limits.max_hosts, "max_hosts", DEFAULT_BUDGET_HOSTS)?;
    // Saturating: counts are user numbers, and their sum must not wrap past the budget.
    let host_count = hosts
        .iter()
        .fold(trace_nodes as u64, |n, h| n.saturating_add(h.max_count()));
    if host_count > max_hosts {
        return Err(over(
            raw.hosts.span().into(),
            "hosts",
            "hosts",
            host_count as f64,
            max_hosts,
            "max_hosts",
        ));
    }
    let max_samples = limit(&limits.max_samples, "max_samples", DEFAULT_BUDGET_SAMPLES)?;
    let samples = duration.as_nanos() as f64 / sample_interval.as_nanos().max(1) as f64;
    if samples > max_samples as f64 {
        let (span, field) = match &raw.sample_interval_s {
            Some(s) => (s.span(), "sample_interval_s"),
            None => (raw.duration_s.span(), "duration_s"),
        };
        return Err(over(
            Some(span),
            field,
            "samples",
            samples,
            max_samples,
            "max_samples",
        ));
    }
    let max_pods = limit(&limits.max_pods, "max_pods", DEFAULT_BUDGET_PODS)?;
    let mut pods = 0.0;
    for (i, w) in workloads.iter().enumerate() {
        let jobs = w
            .arrival_rate_per_s
            .expected(w.start.as_secs_f64(), duration.as_secs_f64());
        // A Kubernetes Job runs to its completions, for at most `max_jobs` jobs.
        let tasks = w.tasks.mean();
        let expected = match w.job {
            Some(j) => {
                // A failed pod (`Never`) is replaced, up to the back-off limit.
                let replaced = match j.restart_policy {
                    RestartPolicy::Never => j.backoff_limit,
                    _ => 0,
                };
                j.max_jobs.map_or(jobs, |m| jobs.min(m as f64))
                    * f64::from(j.completions + replaced)
            }
            None => jobs * tasks,
        };
        pods += w.max_pods.map_or(expected, |m| expected.min(m as f64));
        // A NaN estimate is over budget too.
        if pods.is_nan() || pods > max_pods as f64 {
            let span = raw.workloads.get(i).map(|r| r.arrival_rate_per_s.span());
            return Err(over(
                span,
                &format!("workloads[{i}].arrival_rate_per_s"),
                "pods",
                pods,
                max_pods,
                "max_pods",
            ));
        }
    }
    Ok(max_events)
}

/// Generated names are `<name>-<i>`; `web` and `web-1` would both make `web-11`. Returns the
/// pair that can clash, if any.
fn clashing<'n>(names: impl Iterator<Item = &'n str> + Clone) -> Option<(&'n str, &'n str)> {
    // `b` clashes with `a` when `b` is `a-<digit>…`: look up each such prefix of every name,
    // so many groups cost n log n, not n².
    let all: BTreeSet<&str> = names.clone().collect();
    for b in names {
        for (i, _) in b.match_indices('-') {
            let rest = &b[i + 1..];
            if rest.starts_with(|c: char| c.is_ascii_digit()) {
                if let Some(a) = all.get(&b[..i]) {
                    return Some((a, b));
                }
            }
        }
    }
    None
}

/// A workload's `tasks`: `[min, max]`, or a distribution that can draw at least one pod.
fn tasks(t: &Spanned<RawTasks>, field: &str, loc: &Locator) -> Result<Tasks, ScenarioError> {
    match t.get_ref() {
        RawTasks::Range(r) => match r.as_slice() {
            &[lo, hi] if 1 <= lo && lo <= hi && hi <= MAX_TASKS_PER_JOB => {
                Ok(Tasks::Range(lo as u32, hi as u32))
            }
            other => Err(loc.error(
                Some(t.span()),
                field,
                format!("expected [min, max] pods per job with 1 <= min <= max <= {MAX_TASKS_PER_JOB}, found {other:?}"),
            )),
        },
        RawTasks::Dist(table) => {
            let d = dist(
                &Spanned::new(t.span(), RawDist::Table(table.clone())),
                field,
                "pods per job",
                loc,
            )?;
            if d.max().is_none_or(|m| m > MAX_TASKS_PER_JOB as f64) {
                return Err(loc.error(
                    Some(t.span()),
                    field,
                    format!("expected a distribution of pods per job whose largest value is at most {MAX_TASKS_PER_JOB} (constant, uniform, choice, empirical, or pareto with `max`)"),
                ));
            }
            Ok(Tasks::Drawn(d))
        }
    }
}

/// A workload's `priority`: an integer, or a `choice` of integers.
fn priorities(
    p: &Spanned<RawDist>,
    field: &str,
    loc: &Locator,
) -> Result<Priorities, ScenarioError> {
    let int = |x: f64| {
        (x.fract() == 0.0 && (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&x))
            .then_some(x as i32)
    };
    let e = |m: String| loc.error(Some(p.span()), field, m);
    match p.get_ref() {
        RawDist::Number(x) => int(*x)
            .map(Priorities::fixed)
            .ok_or_else(|| e(format!("expected an integer priority, found {x}"))),
        RawDist::Table(t) => {
            let usage = "expected an integer or { dist = \"choice\", values = [integers], weights = [non-negative numbers, as many, not all zero] }";
            let (true, Some(values), None, None, None, None, None, None, None, None) = (
                t.dist == "choice",
                &t.values,
                t.value,
                t.min,
                t.max,
                t.mean,
                t.median,
                t.sigma,
                t.alpha,
                &t.percentiles,
            ) else {
                return Err(e(usage.into()));
            };
            let weights = t.weights.clone().unwrap_or_else(|| vec![1.0; values.len()]);
            let ints: Option<Vec<i32>> = values.iter().map(|&v| int(v)).collect();
            match ints {
                Some(values)
                    if !values.is_empty()
                        && values.len() == weights.len()
                        && weights.iter().all(|w| w.is_finite() && *w >= 0.0)
                        && weights.iter().sum::<f64>() > 0.0
                        && t.scale.is_none() =>
                {
                    Ok(Priorities { values, weights })
                }
                _ => Err(e(usage.into())),
            }
        }
    }
}

/// Checks that every GPU request a distribution can draw is a share of one device (up to
/// 1000 milli) or whole devices (a multiple of 1000): nothing else can be placed on devices.
fn gpu_demands(d: &Dist) -> Result<(), String> {
    let whole_or_share = |v: f64| orchsim_sched::GpuDemand::from_milli(v.round() as u64);
    match d {
        Dist::Constant(v) => whole_or_share(*v).map(|_| ()).map_err(|e| format!("expected a GPU request of 1..=1000 milli-GPU (a share of one device) or a multiple of 1000 (whole devices): {e}")),
        Dist::Choice { values, .. } => values.iter().try_for_each(|v| {
            whole_or_share(*v).map(|_| ()).map_err(|e| format!("expected every value to be 1..=1000 milli-GPU (a share of one device) or a multiple of 1000 (whole devices): {e}"))
        }),
        _ => match d.max() {
            Some(max) if max.round() <= 1000.0 => Ok(()),
            _ => Err("expected a continuous GPU distribution to stay within one device (at most 1000 milli-GPU); use a `choice` of 1000, 2000, … for whole devices".into()),
        },
    }
}

/// A distribution of resource amounts: bounded (so a pod's largest request is known) and
/// non-negative.
fn resource_dist(
    v: &Spanned<RawDist>,
    field: &str,
    unit: &str,
    loc: &Locator,
) -> Result<Dist, ScenarioError> {
    let d = dist(v, field, unit, loc)?;
    if d.max().is_none() {
        return Err(loc.error(
            Some(v.span()),
            field,
            format!("expected a bounded distribution of {unit} (a number, `constant`, `uniform`, `choice`, `empirical` or `pareto` with `max`): resource requests need a known maximum"),
        ));
    }
    Ok(d)
}

pub(crate) fn dist(
    v: &Spanned<RawDist>,
    field: &str,
    unit: &str,
    loc: &Locator,
) -> Result<Dist, ScenarioError> {
    let e = |msg: String| loc.error(Some(v.span()), field, msg);
    let ok = |x: f64| x.is_finite() && x >= 0.0;
    let t = match v.get_ref() {
        RawDist::Number(x) => {
            return if ok(*x) {
                Ok(Dist::Constant(*x))
            } else {
                Err(e(format!(
                    "expected a non-negative number of {unit}, found {x}"
                )))
            };
        }
        RawDist::Table(t) => t,
    };
    // Which keys each kind takes; any other key present is an error.
    let (need, d): (&[&str], Option<Dist>) = match t.dist.as_str() {
        "constant" => (&["value"], t.value.map(Dist::Constant)),
        "uniform" => (
            &["min", "max"],
            t.min
                .zip(t.max)
                .map(|(min, max)| Dist::Uniform { min, max }),
        ),
        "exponential" => (&["mean"], t.mean.map(|mean| Dist::Exponential { mean })),
        "lognormal" => (
            &["median", "sigma"],
            t.median
                .zip(t.sigma)
                .map(|(median, sigma)| Dist::LogNormal { median, sigma }),
        ),
        "choice" => (
            &["values", "weights"],
            t.values.clone().map(|values| {
                let weights = t.weights.clone().unwrap_or_else(|| vec![1.0; values.len()]);
                Dist::Choice { values, weights }
            }),
        ),
        "pareto" => (
            &["min", "alpha", "max"],
            t.min.zip(t.alpha).map(|(min, alpha)| Dist::Pareto {
                min,
                alpha,
                max: t.max,
            }),
        ),
        "empirical" => {
            let log = match t.scale.as_deref() {
                None | Some("linear") => false,
                Some("log") => true,
                Some(other) => {
                    return Err(e(format!(
                        "expected `scale` to be \"linear\" or \"log\", found \"{other}\""
                    )))
                }
            };
            (
                &["percentiles", "values", "scale"],
                t.percentiles
                    .clone()
                    .zip(t.values.clone())
                    .map(|(percentiles, values)| Dist::Empirical {
                        percentiles,
                        values,
                        log,
                    }),
            )
        }
        other => {
            return Err(e(format!("expected `dist` to be one of constant, uniform, exponential, lognormal, choice, pareto, empirical; found `{other}`")));
        }
    };
    let present = [
        ("value", t.value.is_some()),
        ("min", t.min.is_some()),
        ("max", t.max.is_some()),
        ("mean", t.mean.is_some()),
        ("median", t.median.is_some()),
        ("sigma", t.sigma.is_some()),
        ("values", t.values.is_some()),
        ("weights", t.weights.is_some()),
        ("alpha", t.alpha.is_some()),
        ("percentiles", t.percentiles.is_some()),
        ("scale", t.scale.is_some()),
    ];
    for (k, is) in present {
        if is && !need.contains(&k) {
            return Err(e(format!(
                "`{}` takes only {}; `{k}` does not belong",
                t.dist,
                need.join(" and ")
            )));
        }
    }
    let Some(d) = d else {
        let required = match t.dist.as_str() {
            "choice" => "values (weights optional)".to_string(),
            "pareto" => "min and alpha (max optional)".to_string(),
            "empirical" => "percentiles and values (scale optional)".to_string(),
            _ => need.join(" and "),
        };
        return Err(e(format!("`{}` needs {required}", t.dist)));
    };
    let valid = match &d {
        Dist::Constant(x) => ok(*x),
        Dist::Uniform { min, max } => ok(*min) && ok(*max) && min <= max,
        Dist::Exponential { mean } => ok(*mean) && *mean > 0.0,
        Dist::LogNormal { median, sigma } => ok(*median) && *median > 0.0 && ok(*sigma),
        Dist::Choice { values, weights } => {
            !values.is_empty()
                && values.len() == weights.len()
                && values.iter().all(|x| ok(*x))
                && weights.iter().all(|x| ok(*x))
                && weights.iter().sum::<f64>() > 0.0
        }
        Dist::Pareto { min, alpha, max } => {
            ok(*min)
                && *min > 0.0
                && ok(*alpha)
                && *alpha > 0.0
                && max.is_none_or(|h| ok(h) && h >= *min)
        }
        Dist::Empirical {
            percentiles,
            values,
            ..
        } => {
            percentiles.len() >= 2
                && percentiles.len() == values.len()
                && percentiles.first() == Some(&0.0)
                && percentiles.last() == Some(&100.0)
                && percentiles.windows(2).all(|w| w[0] <= w[1])
                && values.iter().all(|x| ok(*x))
                && values.windows(2).all(|w| w[0] <= w[1])
        }
    };
    if !valid {
        let expected = match t.dist.as_str() {
            "constant" => format!("a non-negative value in {unit}"),
            "uniform" => format!("0 <= min <= max, in {unit}"),
            "exponential" => format!("a positive mean in {unit}"),
            "lognormal" => format!("a positive median in {unit} and a non-negative sigma"),
            "pareto" => format!("a positive min in {unit}, a positive alpha and max >= min"),
            "empirical" => format!(
                "`percentiles` rising from 0 to 100 and as many non-decreasing, non-negative `values` in {unit}"
            ),
            _ => format!(
                "non-empty `values` in {unit} and as many non-negative `weights`, not all zero"
            ),
        };
        return Err(e(format!("expected {expected}")));
    }
    Ok(d)
}

#[cfg(test)]
mod tests;
