//! The cluster world: hosts, pods, jobs, workload generators, trace replay and the control
//! plane that places them, as a [`Handler`] on the kernel.
//!
//! A job's life: it arrives (Poisson, per workload, or at its time in a replayed trace) with
//! one or more pods into the queue of the scheduler that serves its workload (FIFO, or by
//! priority then arrival for `kubernetes`, whose default profile sorts with PrioritySort).
//! Each scheduler is a single server, like kube-scheduler's one scheduling cycle at a time: it
//! takes the head job, decides a node for each of its pods, and stays busy for the decision's
//! modeled cost (`t_job + t_task × pods + t_node × nodes examined`). How a decision reaches
//! the cluster is the control plane's:
//!
//! - *monolithic*: one scheduler decides on the live cluster and its binds always commit;
//! - *shared state* (Omega): several schedulers each decide on the cluster as it was when
//!   they started, and commit as an optimistic transaction — a placement on a node that
//!   changed since (coarse) or that no longer has room (fine) conflicts, and the job keeps
//!   what did not conflict (incremental) or nothing (all-or-nothing);
//! - *two-level* (Mesos, in `two_level.rs`): the allocator offers free resources to
//!   frameworks; each framework's scheduler places its queued jobs on what it holds.
//!
//! A bind reserves the pod's requests and GPU devices on the node at once (the cluster refuses
//! one that would overcommit); after the start latency it runs; a batch pod then finishes
//! and frees them. A job with pods no node took is parked until resources are freed
//! (kube-scheduler's unschedulable queue, flushed on pod deletion), or, with
//! `[orchestrator] retry_after_s`, retried after that delay and abandoned past the attempt
//! limits, as the Omega simulator does.

mod api;
mod autoscale;
mod ipam;
mod jobs;
mod lifecycle;
mod parked;
mod provision;
mod traffic;
mod two_level;
mod upgrade;

pub use api::ClientStats;
pub(crate) use api::CLIENT_KINDS;
pub use autoscale::AutoscaleRecord;
pub use ipam::{AddressScope, Lease};
pub use lifecycle::OutageRecord;
pub use provision::{ProvisionRecord, ProvisionTotals};
pub use traffic::{LinkRecord, TrafficRecord};
pub use upgrade::RolloutRecord;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use orchsim_kernel::{Digest, Handler, Kernel, RngStreams, SimDuration, SimTime, StreamRng};
use orchsim_sched::mesos::allocator::{Allocator, Offer};
use orchsim_sched::mesos::drf::{dominant_share, Vector, RESOURCES};
use orchsim_sched::{Cluster, ClusterView, Decision, NodeId, PodSpec, Resources, Scheduler};
use rand::Rng;

use crate::control_plane::{ConflictMode, ControlPlaneKind, Transaction};
use crate::observers::{GpuFragmentation, GpuStep};
use crate::scenario::{DecisionCost, Scenario, WorkloadKind};
use parked::{Park, ParkKey, Parked};

/// Where a pod is in its life. At the end of a run every pod is in exactly one state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PodState {
    /// In the scheduling queue, never tried yet (or being decided right now for the first time).
    Pending,
    /// Its last scheduling attempt found no node.
    Unschedulable,
    /// Bound to a node, container starting.
    Starting,
    Running,
    Finished,
    /// Its job was given up after the retry limits (`[orchestrator] retry_after_s`).
    Abandoned,
    /// Its host failed under it: still bound there, not running, not yet given up by its
    /// controller (nor restarted in place).
    Lost,
    /// Deleted by its controller: an upgrade replaced it with a pod of the new version, an
    /// autoscaler scaled its service in, or its Job ended.
    Deleted,
    /// A Job's pod whose container exited with an error under restart policy `Never`.
    Failed,
}

impl PodState {
    pub fn name(self) -> &'static str {
        match self {
            PodState::Pending => "pending",
            PodState::Unschedulable => "unschedulable",
            PodState::Starting => "starting",
            PodState::Running => "running",
            PodState::Finished => "finished",
            PodState::Abandoned => "abandoned",
            PodState::Lost => "lost",
            PodState::Deleted => "deleted",
            PodState::Failed => "failed",
        }
    }
}

/// One stay of a pod on a node: from its bind until it finished or was evicted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub node: NodeId,
    /// The GPU devices held on that node (empty without GPUs).
    pub devices: Vec<u8>,
    pub bound: SimTime,
    /// Position of the bind and of the release in the run's event log (the kernel's count of
    /// handled events), which orders events that share a timestamp.
    pub bound_event: u64,
    pub released_event: Option<u64>,
}

/// Everything recorded about one pod.
#[derive(Clone, Debug)]
pub struct PodRecord {
    pub spec: Arc<PodSpec>,
    pub workload: usize,
    /// The job it arrived with (index into [`crate::RunResult::jobs`]).
    pub job: usize,
    /// `None` for long-running services.
    pub run_for: Option<SimDuration>,
    pub state: PodState,
    pub submitted: SimTime,
    /// When the pod last entered the queue: its submission, or its last eviction.
    pub queued: SimTime,
    pub bound: Option<SimTime>,
    /// When the API server answered its Bind (with `[api_server]`; `None` without).
    pub bind_answered: Option<SimTime>,
    pub started: Option<SimTime>,
    pub finished: Option<SimTime>,
    pub node: Option<NodeId>,
    /// Every stay on a node, in order; all but the last ended in eviction.
    pub placements: Vec<Placement>,
    /// Times the pod was evicted by preemption and re-queued.
    pub evictions: u32,
    /// Times its host failed under it.
    pub losses: u32,
    /// Times its container restarted in place after its host came back.
    pub restarts_in_place: u32,
    /// The outages it was lost in, until it runs again.
    lost_in: Vec<usize>,
    /// Times its container crashed (container faults).
    pub crashes: u32,
    /// Its version: 0, or the upgrade's (1) once created by it or rebuilt to it.
    pub version: u32,
    /// Times its container was rebuilt in place with a new version.
    pub rebuilds: u32,
    /// Crashes since its restart back-off last reset.
    backoff: u32,
    /// When its container last crashed, until it runs again.
    crashed_at: Option<SimTime>,
    /// Bumped on eviction so that the evicted stay's pending Started/Finished events are
    /// recognised as stale.
    incarnation: u32,
    /// Deleted, waiting for the API server to create its replacement: not for its scheduler
    /// yet (`api.rs`).
    held: bool,
    pub attempts: u32,
    /// kube-scheduler-style message of the last failed attempt.
    pub last_failure: Option<String>,
    /// Running on its node when the run began (a snapshot's pod): its first start is
    /// immediate, with no image pull or start latency.
    already_running: bool,
}

/// Where a job is between decisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JobPlace {
    /// Nothing of it waits for a decision.
    Idle,
    Queued,
    Deciding,
    /// Waiting for freed resources, filed under this key.
    Parked(ParkKey),
    /// Waiting out its retry delay.
    Retrying,
}

/// Pods that arrived together and are decided as one unit.
#[derive(Clone, Debug)]
pub struct JobRecord {
    pub workload: usize,
    pub pods: Vec<usize>,
    pub submitted: SimTime,
    /// When a scheduler first took it from its queue.
    pub dequeued: Option<SimTime>,
    /// When its first pod was bound, and when the last of its pods was (all placed once).
    pub first_bound: Option<SimTime>,
    pub all_bound: Option<SimTime>,
    /// Decisions that left some of its pods unplaced.
    pub attempts: u32,
    pub abandoned: bool,
    place: JobPlace,
    /// One of its pods went back to waiting while it was being decided (evicted, given up):
    /// the decision did not include it, so the job goes back to the queue after it.
    requeue: bool,
    /// Pods bound at least once.
    bound_pods: u32,
    /// Its pods' creations the API server has not answered yet: it is queued once they are.
    creating: u32,
}

impl JobRecord {
    /// A job of `pods` of `workload`, submitted at `now`, not yet queued.
    fn new(workload: usize, pods: Vec<usize>, now: SimTime) -> Self {
        JobRecord {
            workload,
            pods,
            submitted: now,
            dequeued: None,
            first_bound: None,
            all_bound: None,
            attempts: 0,
            abandoned: false,
            place: JobPlace::Idle,
            requeue: false,
            bound_pods: 0,
            creating: 0,
        }
    }
}

/// What one scheduler (a framework, in two-level) did over the run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchedulerStats {
    pub name: String,
    pub algorithm: String,
    /// Time spent deciding, up to the end of the run.
    pub busy_ns: u64,
    /// Time spent on decisions that conflicted.
    pub wasted_ns: u64,
    pub decisions: u64,
    /// Decisions that placed at least one pod or conflicted (Omega's transactions).
    pub transactions: u64,
    /// Transactions with at least one conflicting placement.
    pub conflicts: u64,
    /// Decisions that found no room for any pod.
    pub no_room: u64,
    pub retries: u64,
    pub offers_received: u64,
    pub offers_declined: u64,
    pub offers_rescinded: u64,
}

/// One `timeseries.csv` row.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub time: SimTime,
    pub requested: Resources,
    /// The cluster's capacity and its hosts (without those a provisioner has not launched).
    pub capacity: Resources,
    pub hosts: u64,
    pub pods_pending: u64,
    pub pods_running: u64,
    /// Fragment milli-GPU, when the fragmentation observer is on.
    pub gpu_fragment_milli: Option<f64>,
    /// Each workload's dominant share (trace last), when that observer is on.
    pub dominant_shares: Vec<f64>,
}

/// A scheduler's choice for one pod of the job it decides, with the node's commit count
/// when it chose (coarse conflict detection compares it at commit).
#[derive(Clone, Debug)]
pub(crate) struct Planned {
    pod: usize,
    decision: Decision,
    seq: u64,
}

/// Kernel events of the cluster world.
#[derive(Clone, Debug)]
pub enum Event {
    Arrival {
        workload: usize,
    },
    /// The trace's pod at `index` arrives.
    TraceArrival {
        index: usize,
    },
    /// A trace's pod is deleted (an event log's `DELETED`).
    TraceDelete {
        pod: usize,
    },
    DecisionDone {
        slot: usize,
        job: usize,
        plan: Vec<Planned>,
        release_epoch: u64,
    },
    /// A two-level framework answers the offers its decision used.
    FrameworkDone {
        slot: usize,
    },
    AllocationTick,
    OfferTimeout {
        id: u64,
    },
    /// A job's retry delay is over.
    Retry {
        job: usize,
    },
    Started {
        pod: usize,
        incarnation: u32,
    },
    Finished {
        pod: usize,
        incarnation: u32,
    },
    Sample,
    /// A host outage (`[[faults]]`) begins or ends.
    HostDown {
        outage: usize,
    },
    HostUp {
        outage: usize,
    },
    /// The control plane declares a host failed, or gives up its pods.
    HostDetected {
        node: NodeId,
        epoch: u64,
    },
    HostEvicted {
        node: NodeId,
        epoch: u64,
    },
    /// An upgrade (`[[upgrades]]`) begins.
    UpgradeStart {
        rollout: usize,
    },
    /// An autoscaler's sync period comes round.
    HpaSync {
        hpa: usize,
    },
    /// The Service load balancers have dropped an endpoint that was gone.
    EndpointsSynced,
    /// A pod of a workload being upgraded becomes ready.
    PodReady {
        workload: usize,
    },
    /// A container of a workload with a container fault exits.
    Crash {
        pod: usize,
        incarnation: u32,
    },
    /// Every running container of a container fault's workload exits.
    CrashAll {
        fault: usize,
    },
    /// The Cluster Autoscaler's scan interval comes round.
    ProvisionScan,
    /// Karpenter's batch window may be over.
    BatchCheck,
    /// Karpenter's disruption controller looks for hosts to remove or replace, and carries
    /// out what it decided after the validation wait.
    DisruptionPoll,
    DisruptionValidate,
    /// A launched host becomes Ready.
    NodeReady {
        node: NodeId,
        epoch: u64,
    },
    /// The cloud gives notice that it reclaims a spot host, and takes it.
    SpotNotice {
        node: NodeId,
        epoch: u64,
    },
    NodeGone {
        node: NodeId,
        epoch: u64,
    },
    /// A spot-reclaim fault (`[[faults]] spot_reclaim`) strikes.
    SpotReclaim {
        fault: usize,
    },
    /// A Job's back-off is over: its controller syncs.
    JobSync {
        job: usize,
    },
    /// An API request got its client's token and reaches the API server.
    ApiSend {
        id: u64,
    },
    /// The API server answers a request.
    ApiDone {
        id: u64,
    },
}

// Digest record kinds, one per event type; part of the digest contract.
const TAG_ARRIVAL: u8 = 0;
const TAG_DECISION: u8 = 1;
const TAG_STARTED: u8 = 2;
const TAG_FINISHED: u8 = 3;
const TAG_SAMPLE: u8 = 4;
/// The network's served requests and cores whenever its rates change (with `[[traffic]]` or
/// agents).
const TAG_TRAFFIC: u8 = 22;
const TAG_EVICTED: u8 = 5;
const TAG_OFFER: u8 = 6;
const TAG_ABANDONED: u8 = 7;
// Rollouts (lifecycle.rs has 8–12).
const TAG_DELETED: u8 = 13;
const TAG_REBUILT: u8 = 14;
// Second words of a TAG_DECISION record that placed nothing.
const NO_NODE: u64 = u64::MAX;
const REJECTED: u64 = u64::MAX - 1;
const CONFLICT: u64 = u64::MAX - 2;

struct Generator {
    arrivals: StreamRng,
    sizes: StreamRng,
    tasks: StreamRng,
    priorities: StreamRng,
    submitted: u64,
    jobs: u64,
    /// Pods an autoscaler added.
    scaled: u64,
}

/// A scheduler the caller lent, or one the world built.
enum SchedulerRef<'s> {
    Borrowed(&'s mut (dyn Scheduler + Send)),
    Owned(Box<dyn Scheduler + Send>),
}

impl SchedulerRef<'_> {
    fn get(&mut self) -> &mut (dyn Scheduler + Send) {
        match self {
            SchedulerRef::Borrowed(s) => &mut **s,
            SchedulerRef::Owned(s) => s.as_mut(),
        }
    }
}

/// One scheduler with its queue: the monolithic scheduler, an Omega scheduler or a Mesos
/// framework.
struct Slot<'s> {
    scheduler: SchedulerRef<'s>,
    cost: DecisionCost,
    /// Sort by priority (kube-scheduler's PrioritySort) instead of FIFO.
    priority_queue: bool,
    /// Jobs waiting for a decision, ordered by (key, tie) — see [`World::enqueue`].
    queue: BTreeSet<(i64, u64, usize)>,
    parked: Parked,
    busy: bool,
    started: SimTime,
    /// Decision time booked so far, the running decision's in full.
    booked_ns: u64,
    busy_until: SimTime,
    /// The release epoch when the running decision started.
    epoch: u64,
    /// Two-level: offers not yet looked at; those the running decision uses, its jobs and
    /// its placements.
    held: Vec<Offer>,
    deciding_offers: Vec<Offer>,
    deciding_jobs: Vec<usize>,
    planned: Vec<Planned>,
    stats: SchedulerStats,
    /// Its pods that may preempt park by the room evicting would make (`Park::Preempting`):
    /// the world built this scheduler from a profile without hard default spread
    /// constraints. A scheduler the caller passed in may spread pods in ways a release
    /// elsewhere unblocks, so its preemptors are woken by every release.
    preempting_parks: bool,
}

/// The simulated cluster.
pub struct World<'s> {
    scenario: &'s Scenario,
    /// GPU milli of every pod submitted so far (failed ones included).
    arrived_gpu_milli: u64,
    /// After every decision, when the per-decision fragmentation observer is on.
    pub(crate) gpu_steps: Vec<GpuStep>,
    pub(crate) cluster: Cluster,
    pub(crate) pods: Vec<PodRecord>,
    pub(crate) jobs: Vec<JobRecord>,
    generators: Vec<Generator>,
    start_latency: StreamRng,
    slots: Vec<Slot<'s>>,
    /// The slot serving each workload (the trace last).
    path: Vec<usize>,
    enqueued: u64,
    /// Incremented whenever resources are freed; a failed decision that started before the
    /// latest release is retried instead of parked, so no wake-up is lost.
    release_epoch: u64,
    /// Commits per node, for coarse conflict detection.
    node_seq: Vec<u64>,
    allocator: Option<Allocator>,
    /// Outstanding offer → the slot holding it.
    offer_of: BTreeMap<u64, usize>,
    pub(crate) total_capacity: Resources,
    pub(crate) requested: Resources,
    /// Integral of cluster-wide requested resources over time (resource·ns), per dimension.
    pub(crate) requested_integral: [u128; 3],
    /// Integral of the cluster's capacity over time, per dimension (hosts come and go with a
    /// provisioner).
    pub(crate) capacity_integral: [u128; 3],
    /// The highest requested/capacity seen, as (requested, capacity) per dimension
    /// (capacity 0: none yet).
    pub(crate) util_peak: [(u64, u64); 3],
    last_change: SimTime,
    /// CPU, memory and GPU bound per workload (the trace last), for dominant shares.
    in_use: Vec<Vector>,
    pub(crate) pods_running: u64,
    pub(crate) pods_pending: u64,
    pub(crate) evictions: u64,
    /// The lowest priority of any pod submitted so far: a pod above it may preempt.
    lowest_priority: i32,
    /// Pod key (`namespace/name`) → index, for preemption victims; built at the first
    /// preemption (most runs never preempt) and kept from then on.
    by_key: Option<BTreeMap<String, usize>>,
    pub(crate) samples: Vec<Sample>,
    fragmentation: Option<GpuFragmentation>,
    /// The first inconsistency the allocator reported (a bug if ever set).
    pub(crate) audit_error: Option<String>,
    pub(crate) digest: Digest,
    until: SimTime,
    /// Every host outage of the run, in time order, and what it did.
    pub(crate) outages: Vec<OutageRecord>,
    /// Each host as the control plane sees it.
    health: Vec<lifecycle::Health>,
    /// Pods bound to each host (a failure must find them); kept only when the scenario
    /// has faults, so runs without them pay nothing on every bind.
    on_node: Vec<BTreeSet<usize>>,
    /// Images on each host: (workload, version) → when its pull is done.
    images: Vec<BTreeMap<(usize, u32), SimTime>>,
    pub(crate) image_pulls: u64,
    pub(crate) restarts_in_place: u64,
    pub(crate) pods_lost: u64,
    /// One stream per fault (`faults/<name>`), for container crash times.
    crash_streams: Vec<StreamRng>,
    pub(crate) crashes: u64,
    /// Containers that completed and started again (`restart_policy = "Always"`).
    pub(crate) restarts_completed: u64,
    /// Crashed containers replaced by a new task through the scheduler.
    pub(crate) crash_reschedules: u64,
    /// Crash → running again, summed over the restarts that got there, and their count.
    pub(crate) crash_recovery_ns: u128,
    pub(crate) crash_recoveries: u64,
    /// The control plane's requests (`[api_server]`).
    pub(crate) api: Option<api::Api>,
    /// Upgrades (`[[upgrades]]`), the one of each workload, and the pods of each upgraded
    /// workload (empty for the others).
    rollouts: Vec<upgrade::Rollout>,
    rollout_of: Vec<Option<usize>>,
    /// Nodes by name, for trace pods bound where a snapshot found them (empty otherwise).
    node_by_name: BTreeMap<String, NodeId>,
    workload_pods: Vec<Vec<usize>>,
    /// A pod of the workload changed during the current event: its rollout looks after it.
    upgrade_dirty: Vec<bool>,
    /// Workloads whose pods are listed in `workload_pods` (upgraded or autoscaled).
    tracked: Vec<bool>,
    /// Horizontal pod autoscalers (`[[autoscalers]]`).
    hpas: Vec<autoscale::Hpa>,
    /// Service traffic and the datapath's charge to the hosts (`None`: the network is free).
    network: Option<traffic::Network>,
    /// Pods whose container exited on their own since the network last looked.
    exited_pods: BTreeSet<usize>,
    /// Bumped whenever what the traffic's rates depend on changes — a pod starts or stops
    /// running, a host goes down, comes back, is launched or removed — so the network
    /// recomputes them after that event.
    network_epoch: u64,
    /// Pod addresses (`[ipam]`).
    pub(crate) addresses: Option<ipam::Addresses>,
    /// Hosts launched and removed (`[provisioning]`).
    pub(crate) provision: Option<provision::Provision>,
    /// Kubernetes Jobs (workloads with `job`), by job index.
    pub(crate) job_runs: BTreeMap<usize, jobs::JobRun>,
}

/// Decision time for `pods` pods of a job after examining `nodes_filtered` nodes.
fn decision_time(cost: &DecisionCost, pods: usize, nodes_filtered: u64) -> SimDuration {
    cost.t_job
        + cost.t_task.saturating_mul(pods as u64)
        + cost.t_node.saturating_mul(nodes_filtered)
}

/// What `node` would have free if its pods of priority below `priority` were evicted.
fn room_below(node: &orchsim_sched::NodeInfo, priority: i32) -> Resources {
    let held = node
        .pods
        .iter()
        .filter(|p| p.priority >= priority)
        .fold(Resources::ZERO, |sum, p| sum.saturating_add(&p.requests));
    node.allocatable.saturating_sub(&held)
}

/// Whether a pod may preempt others when the lowest priority of any pod is `lowest`.
fn may_preempt(spec: &PodSpec, lowest: i32) -> bool {
    !spec.never_preempt && spec.priority > lowest
}

/// Whether `spec` could land on `node` as it is now (a parked pod's wake-up test): it fits
/// the free room, devices included, or it may preempt and its requests fit once the
/// lower-priority pods are gone (devices unchecked there: such a pod is woken more often,
/// never less).
fn could_land(node: &orchsim_sched::NodeInfo, spec: &PodSpec, lowest: i32) -> bool {
    node.fits(spec)
        || (may_preempt(spec, lowest) && spec.requests.fits(&room_below(node, spec.priority)))
}

/// What the allocator and DRF count of `r`: CPU, memory and GPU.
fn vector(r: &Resources) -> Vector {
    [r.cpu_milli, r.memory_bytes, r.gpu_milli]
}

/// Sum of the offers' resources.
fn offered_sum<'a>(offers: impl IntoIterator<Item = &'a Offer>) -> Vector {
    offers.into_iter().fold([0; RESOURCES], |mut r, o| {
        for (x, y) in r.iter_mut().zip(o.resources) {
            *x += y;
        }
        r
    })
}

impl<'s> World<'s> {
    /// Builds the cluster and the control plane and schedules the first events. `first`
    /// decides for the first scheduler (the monolithic one) when given; the others are built
    /// from the scenario, each with its own tie-breaking stream.
    pub fn new(
        scenario: &'s Scenario,
        first: Option<&'s mut (dyn Scheduler + Send)>,
        kernel: &mut Kernel<Event>,
    ) -> Result<Self, orchsim_sched::UnknownAlgorithm> {
        let streams = RngStreams::new(scenario.seed);
        let nodes = scenario.nodes();
        let pinned = scenario
            .trace
            .as_ref()
            .is_some_and(|t| t.pods.iter().any(|p| p.node.is_some()));
        let node_by_name: BTreeMap<String, NodeId> = if pinned {
            nodes
                .iter()
                .enumerate()
                .map(|(i, n)| (n.name.clone(), NodeId(i)))
                .collect()
        } else {
            BTreeMap::new()
        };
        let total_capacity = nodes
            .iter()
            .fold(Resources::ZERO, |acc, n| acc.saturating_add(&n.allocatable));
        let generators = scenario
            .workloads
            .iter()
            .map(|w| Generator {
                arrivals: streams.stream(&format!("workload/{}/arrivals", w.name)),
                sizes: streams.stream(&format!("workload/{}/sizes", w.name)),
                tasks: streams.stream(&format!("workload/{}/tasks", w.name)),
                priorities: streams.stream(&format!("workload/{}/priorities", w.name)),
                submitted: 0,
                jobs: 0,
                scaled: 0,
            })
            .collect();
        let paths = scenario.workloads.len() + 1;
        let cp = &scenario.control_plane;
        let mut first = first;
        let mut slots = Vec::new();
        let mut path = vec![0; paths];
        if cp.schedulers.is_empty() {
            let (scheduler, known) = match first.take() {
                Some(s) => (SchedulerRef::Borrowed(s), false),
                None => (SchedulerRef::Owned(crate::scheduler_for(scenario)?), true),
            };
            let hard_defaults = scenario.scheduler.profile.as_ref().is_some_and(|p| {
                p.default_spread.iter().flatten().any(|c| {
                    c.when_unsatisfiable == orchsim_sched::WhenUnsatisfiable::DoNotSchedule
                })
            });
            slots.push(Slot::new(
                scheduler,
                &scenario.scheduler.algorithm,
                &scenario.scheduler.algorithm,
                scenario.scheduler.cost,
                known && !hard_defaults,
            ));
        } else {
            for (i, spec) in cp.schedulers.iter().enumerate() {
                // Built by name: the default profile, whose spread defaults are soft.
                let (scheduler, known) = match first.take() {
                    Some(s) => (SchedulerRef::Borrowed(s), false),
                    None => {
                        let seed = streams
                            .stream(&format!("scheduler/{}/tie-break", spec.name))
                            .random();
                        let s = orchsim_sched::by_name(&spec.algorithm, seed)?;
                        (SchedulerRef::Owned(s), true)
                    }
                };
                slots.push(Slot::new(
                    scheduler,
                    &spec.name,
                    &spec.algorithm,
                    spec.cost,
                    known,
                ));
                for w in &spec.workloads {
                    if let Some(at) = scenario.workloads.iter().position(|x| &x.name == w) {
                        path[at] = i;
                    } else if scenario.trace.as_ref().is_some_and(|t| &t.name == w) {
                        path[paths - 1] = i;
                    }
                }
            }
        }
        let allocator = match cp.kind {
            ControlPlaneKind::TwoLevel(tl) => {
                let agents: Vec<Vector> = nodes.iter().map(|n| vector(&n.allocatable)).collect();
                let mut a = Allocator::new(
                    &agents,
                    tl.allocation_interval.as_nanos(),
                    streams.stream("control-plane/allocator").random(),
                );
                for spec in &cp.schedulers {
                    a.add_framework(&spec.name, &spec.name);
                }
                Some(a)
            }
            _ => None,
        };
        let node_count = nodes.len();
        let until = SimTime::ZERO + scenario.duration;
        let outages = crate::faults::outages(&scenario.faults, &nodes, scenario.seed, until);
        let mut world = World {
            scenario,
            arrived_gpu_milli: 0,
            gpu_steps: Vec::new(),
            cluster: Cluster::new(nodes),
            pods: Vec::new(),
            jobs: Vec::new(),
            generators,
            start_latency: streams.stream("orchestrator/start-latency"),
            slots,
            path,
            enqueued: 0,
            release_epoch: 0,
            node_seq: vec![0; node_count],
            allocator,
            offer_of: BTreeMap::new(),
            total_capacity,
            requested: Resources::ZERO,
            requested_integral: [0; 3],
            capacity_integral: [0; 3],
            util_peak: [(0, 0); 3],
            last_change: SimTime::ZERO,
            in_use: vec![[0; RESOURCES]; paths],
            pods_running: 0,
            pods_pending: 0,
            evictions: 0,
            lowest_priority: i32::MAX,
            by_key: None,
            samples: Vec::new(),
            fragmentation: (scenario.observers.gpu_fragmentation
                || scenario.observers.gpu_fragmentation_per_decision)
                .then(|| GpuFragmentation::new(scenario)),
            audit_error: None,
            digest: Digest::new(),
            until,
            outages: outages
                .iter()
                .map(|o| {
                    let f = &scenario.faults[o.fault];
                    OutageRecord::new(&f.name, NodeId(o.node), o.down, f.partition)
                })
                .collect(),
            health: vec![Default::default(); node_count],
            on_node: if scenario.faults.is_empty() && scenario.provisioning.is_none() {
                Vec::new()
            } else {
                vec![BTreeSet::new(); node_count]
            },
            images: vec![BTreeMap::new(); node_count],
            image_pulls: 0,
            restarts_in_place: 0,
            pods_lost: 0,
            crash_streams: scenario
                .faults
                .iter()
                .map(|f| streams.stream(&format!("faults/{}", f.name)))
                .collect(),
            crashes: 0,
            restarts_completed: 0,
            crash_reschedules: 0,
            crash_recovery_ns: 0,
            crash_recoveries: 0,
            api: None,
            rollouts: Vec::new(),
            rollout_of: vec![None; paths],
            node_by_name,
            workload_pods: vec![Vec::new(); paths],
            upgrade_dirty: vec![false; paths],
            tracked: vec![false; paths],
            hpas: Vec::new(),
            addresses: scenario
                .ipam
                .as_ref()
                .map(|c| ipam::Addresses::new(c, node_count)),
            provision: None,
            job_runs: BTreeMap::new(),
            network: traffic::Network::new(scenario),
            exited_pods: BTreeSet::new(),
            network_epoch: 0,
        };
        world.plan_provisioning(kernel, &streams);
        world.plan_rollouts(kernel);
        world.plan_autoscalers(kernel);
        // A host the cluster range has no subnet for never gets its network: nothing runs
        // there (flannel leaves it without a lease; the node stays NetworkUnavailable).
        for i in 0..node_count {
            if world.addresses.as_ref().is_some_and(|a| !a.has_subnet(i)) {
                world
                    .cluster
                    .update_node(NodeId(i), |n| n.unschedulable = true);
                if let Some(a) = world.allocator.as_mut() {
                    a.set_reachable(i, false);
                }
            }
        }
        world.api = scenario
            .api_server
            .as_ref()
            .map(|c| api::Api::new(c, world.slots.len(), node_count));
        for (f, fault) in scenario.faults.iter().enumerate() {
            if let (Some(_), crate::faults::FaultTiming::At { at, .. }) =
                (fault.workload, &fault.timing)
            {
                if SimTime::ZERO + *at <= until {
                    kernel.schedule_at(SimTime::ZERO + *at, Event::CrashAll { fault: f });
                }
            }
        }
        for (f, fault) in scenario.faults.iter().enumerate() {
            if let (true, crate::faults::FaultTiming::At { at, .. }) =
                (fault.spot_reclaim, &fault.timing)
            {
                if SimTime::ZERO + *at <= until {
                    kernel.schedule_at(SimTime::ZERO + *at, Event::SpotReclaim { fault: f });
                }
            }
        }
        for (i, o) in outages.iter().enumerate() {
            kernel.schedule_at(o.down, Event::HostDown { outage: i });
            if let Some(up) = o.up.filter(|&up| up <= until) {
                kernel.schedule_at(up, Event::HostUp { outage: i });
            }
        }
        for (i, w) in scenario.workloads.iter().enumerate() {
            if w.max_pods != Some(0) {
                let first = world.next_arrival(i, SimTime::ZERO + w.start);
                if first <= world.until {
                    kernel.schedule_at(first, Event::Arrival { workload: i });
                }
            }
        }
        if let Some(first) = scenario.trace.as_ref().and_then(|t| t.pods.first()) {
            let at = SimTime::ZERO + first.arrival;
            if at <= world.until {
                kernel.schedule_at(at, Event::TraceArrival { index: 0 });
            }
        }
        kernel.schedule_at(SimTime::ZERO, Event::Sample);
        if world.allocator.is_some() {
            kernel.schedule_at(SimTime::ZERO, Event::AllocationTick);
        }
        Ok(world)
    }

    /// The cluster as it is (at the end of a run: as the run left it).
    pub(crate) fn into_cluster(self) -> Cluster {
        self.cluster
    }

    /// Every scheduler's counters, decision time counted up to `end`.
    pub(crate) fn scheduler_stats(&self, end: SimTime) -> Vec<SchedulerStats> {
        self.slots
            .iter()
            .map(|s| {
                let overhang = s.busy_until.since(end.min(s.busy_until)).as_nanos();
                SchedulerStats {
                    busy_ns: s.booked_ns.saturating_sub(overhang),
                    ..s.stats.clone()
                }
            })
            .collect()
    }

    /// Decision time booked by the busiest scheduler (decisions still running at the end in
    /// full).
    pub(crate) fn busiest_booked_ns(&self) -> u64 {
        self.slots.iter().map(|s| s.booked_ns).max().unwrap_or(0)
    }

    /// The workload's next arrival after `after` (past the run's end when none is within
    /// it), from its arrivals stream.
    fn next_arrival(&mut self, workload: usize, after: SimTime) -> SimTime {
        self.scenario.workloads[workload]
            .arrival_rate_per_s
            .next_arrival(after, self.until, &mut self.generators[workload].arrivals)
    }

    /// Advances the utilisation integrals to `now`; call before every change of `requested`.
    fn account(&mut self, now: SimTime) {
        let dt = now.since(self.last_change).as_nanos() as u128;
        let r = &self.requested;
        self.requested_integral[0] += r.cpu_milli as u128 * dt;
        self.requested_integral[1] += r.memory_bytes as u128 * dt;
        self.requested_integral[2] += r.gpu_milli as u128 * dt;
        let c = vector(&self.total_capacity);
        for (i, c) in self.capacity_integral.iter_mut().zip(c) {
            *i += c as u128 * dt;
        }
        self.last_change = now;
    }

    /// Keeps the highest requested/capacity ratio; call after `requested` grows or the
    /// capacity shrinks.
    fn note_peak(&mut self) {
        let (r, c) = (vector(&self.requested), vector(&self.total_capacity));
        for ((peak, r), c) in self.util_peak.iter_mut().zip(r).zip(c) {
            // r / c > peak.0 / peak.1, in integers.
            if c > 0
                && (peak.1 == 0
                    || u128::from(r) * u128::from(peak.1) > u128::from(peak.0) * u128::from(c))
            {
                *peak = (r, c);
            }
        }
    }

    /// A job of the workload arrives: one pod, or `tasks` pods that form one app, or a
    /// Kubernetes Job's first pods.
    fn arrive(&mut self, k: &mut Kernel<Event>, workload: usize) {
        let w = &self.scenario.workloads[workload];
        let g = &mut self.generators[workload];
        let mut tasks = match w.job {
            Some(j) => j.parallelism.min(j.completions),
            None => w.tasks.sample(&mut g.tasks),
        };
        let priority = w.priority.sample(&mut g.priorities);
        if let Some(m) = w.max_pods {
            tasks = tasks.min(m.saturating_sub(g.submitted).min(u64::from(u32::MAX)) as u32);
        }
        let job_index = g.jobs;
        g.jobs += 1;
        let owner = if w.tasks.is_single() && w.job.is_none() {
            w.name.clone()
        } else {
            format!("{}-job-{job_index}", w.name)
        };
        // The app is the job, or, for pods that come alone, the whole workload.
        let instances = match w.max_pods {
            Some(m) if w.tasks.is_single() => m.min(u64::from(u32::MAX)) as u32,
            _ => tasks,
        };
        let more = match w.job {
            Some(j) => j.max_jobs.is_none_or(|m| g.jobs < m),
            None => w
                .max_pods
                .is_none_or(|m| g.submitted + u64::from(tasks) < m),
        };
        let job_spec = w.job;
        let specs: Vec<_> = (0..tasks)
            .map(|_| self.draw_pod(workload, &owner, instances, priority))
            .collect();
        self.submit(k, specs, workload);
        if let Some(spec) = job_spec {
            self.job_runs
                .insert(self.jobs.len() - 1, jobs::JobRun::new(spec));
        }
        if more {
            let next = self.next_arrival(workload, k.now());
            if next <= self.until {
                k.schedule_at(next, Event::Arrival { workload });
            }
        }
        self.kick(k, self.path[workload]);
    }

    /// A new pod of a generated workload: its sizes and run time drawn from the workload's
    /// stream, its name the next of the workload's.
    fn draw_pod(
        &mut self,
        workload: usize,
        owner: &str,
        instances: u32,
        priority: i32,
    ) -> (PodSpec, Option<SimDuration>) {
        let w = &self.scenario.workloads[workload];
        let g = &mut self.generators[workload];
        let requests = Resources {
            cpu_milli: w.cpu_milli.sample_u64(&mut g.sizes),
            memory_bytes: w
                .memory_mib
                .sample_u64(&mut g.sizes)
                .saturating_mul(1024 * 1024),
            gpu_milli: w.gpu_milli.sample_u64(&mut g.sizes),
            ephemeral_storage_bytes: 0,
            pods: 1,
        };
        let run_for = match &w.kind {
            WorkloadKind::Service => None,
            WorkloadKind::Batch { duration_s } => Some(
                SimDuration::try_from_secs_f64(duration_s.sample(&mut g.sizes))
                    .unwrap_or(SimDuration(u64::MAX)),
            ),
        };
        let index = g.submitted;
        g.submitted += 1;
        let mut spec = PodSpec::new(format!("{}-{index}", w.name), requests);
        spec.labels = w.labels.clone();
        spec.node_selector = w.node_selector.clone();
        spec.gpu_models = w.gpu_models.clone();
        spec.owner = owner.to_string();
        spec.priority = priority;
        if !w.constraints.is_empty() {
            spec.marathon = orchsim_sched::mesos::placement::AppPlacement {
                constraints: w.constraints.clone(),
                instances,
            };
        }
        (spec, run_for)
    }

    /// The trace's pod `index` arrives; the next one is scheduled.
    fn arrive_from_trace(&mut self, k: &mut Kernel<Event>, index: usize) {
        let trace = self
            .scenario
            .trace
            .as_ref()
            .expect("trace events come from a trace");
        let p = &trace.pods[index];
        let mut spec = match &p.spec {
            Some(s) => PodSpec::clone(s),
            None => {
                let mut s = PodSpec::new(p.name.clone(), p.requests);
                s.owner = trace.name.clone();
                s
            }
        };
        spec.name = p.name.clone();
        spec.requests = p.requests;
        spec.gpu_models = p.gpu_models.clone();
        spec.priority = p.priority;
        // Trace pods count as the workload after the generated ones.
        let workload = self.scenario.workloads.len();
        let pod = self.pods.len();
        let pinned = p
            .node
            .as_ref()
            .and_then(|n| self.node_by_name.get(n))
            .copied();
        match pinned {
            Some(node) => self.bind_running(k, spec, p.run_for, workload, node),
            None => self.submit(k, vec![(spec, p.run_for)], workload),
        }
        if let Some(d) = p.deleted_at {
            k.schedule_at((SimTime::ZERO + d).max(k.now()), Event::TraceDelete { pod });
        }
        if let Some(next) = trace.pods.get(index + 1) {
            let at = SimTime::ZERO + next.arrival;
            if at <= self.until {
                k.schedule_at(at.max(k.now()), Event::TraceArrival { index: index + 1 });
            }
        }
        self.kick(k, self.path[workload]);
    }

    /// A pod found running on `node` (a snapshot's): bound there without a decision, as the
    /// kubelet that runs it would report it — on a cordoned node too (a cordon stops new
    /// pods only). One the node cannot hold (its allocatable is smaller than what the
    /// snapshot's pods request) goes to the scheduler instead, for any node.
    fn bind_running(
        &mut self,
        k: &mut Kernel<Event>,
        spec: PodSpec,
        run_for: Option<SimDuration>,
        workload: usize,
        node: NodeId,
    ) {
        let job = self.jobs.len();
        let (pod, woken) = self.new_pod(k, spec, run_for, workload, job, 0);
        // Never queued nor decided: no scheduling latency to count.
        self.jobs.push(JobRecord::new(workload, vec![pod], k.now()));
        let spec = self.pods[pod].spec.clone();
        let devices = self.cluster.nodes()[node.0]
            .fit_devices(&spec)
            .unwrap_or_default();
        self.account(k.now());
        match self.cluster.bind(node, spec, devices.clone()) {
            Ok(()) => {
                self.pods[pod].already_running = true;
                self.bound(k, pod, node, devices);
            }
            Err(why) => {
                self.pods[pod].last_failure = Some(format!("not bound where it ran: {why}"));
                self.enqueue(job);
            }
        }
        if woken {
            self.kick_all(k);
        }
    }

    /// A trace's pod deleted: whatever it holds is freed (it is gone from the queue if it
    /// still waits there).
    fn trace_delete(&mut self, k: &mut Kernel<Event>, pod: usize) {
        if matches!(
            self.pods[pod].state,
            PodState::Finished | PodState::Deleted | PodState::Failed | PodState::Abandoned
        ) {
            return;
        }
        self.delete_pod(k, pod);
        self.kick_all(k);
    }

    /// Records a new job and its pods and queues it.
    fn submit(
        &mut self,
        k: &mut Kernel<Event>,
        pods: Vec<(PodSpec, Option<SimDuration>)>,
        workload: usize,
    ) {
        self.submit_as(k, pods, workload, 0, api::Client::User);
    }

    /// Records one new pod of `job` (which the caller files it in); whether parked jobs
    /// were woken (a new lowest priority lets them preempt).
    fn new_pod(
        &mut self,
        k: &mut Kernel<Event>,
        spec: PodSpec,
        run_for: Option<SimDuration>,
        workload: usize,
        job: usize,
        version: u32,
    ) -> (usize, bool) {
        let pod = self.pods.len();
        let requests = spec.requests;
        let mut woken = false;
        self.arrived_gpu_milli += requests.gpu_milli;
        if spec.priority < self.lowest_priority {
            // Parked jobs above the new lowest priority may now preempt, which a release
            // on a node they do not fit would never wake them for: retry them all.
            self.lowest_priority = spec.priority;
            for s in 0..self.slots.len() {
                let parked = self.slots[s].parked.wake(0, true, |_| 0, |_| true);
                woken |= !parked.is_empty();
                for job in parked {
                    self.enqueue(job);
                }
            }
        }
        if let Some(by_key) = self.by_key.as_mut() {
            by_key.insert(spec.key(), pod);
        }
        self.pods.push(PodRecord {
            spec: Arc::new(spec),
            workload,
            job,
            run_for,
            state: PodState::Pending,
            submitted: k.now(),
            queued: k.now(),
            bound: None,
            bind_answered: None,
            started: None,
            finished: None,
            node: None,
            placements: Vec::new(),
            evictions: 0,
            losses: 0,
            restarts_in_place: 0,
            lost_in: Vec::new(),
            crashes: 0,
            version,
            rebuilds: 0,
            backoff: 0,
            crashed_at: None,
            incarnation: 0,
            held: false,
            attempts: 0,
            last_failure: None,
            already_running: false,
        });
        self.pods_pending += 1;
        if self.tracked[workload] {
            self.workload_pods[workload].push(pod);
            self.upgrade_dirty[workload] = true;
        }
        self.digest.record(
            k.now(),
            TAG_ARRIVAL,
            &[pod as u64, requests.cpu_milli, requests.memory_bytes],
        );
        (pod, woken)
    }

    /// [`World::submit`] of pods of `version`, created by `creator` (with `[api_server]`).
    fn submit_as(
        &mut self,
        k: &mut Kernel<Event>,
        pods: Vec<(PodSpec, Option<SimDuration>)>,
        workload: usize,
        version: u32,
        creator: api::Client,
    ) {
        if pods.is_empty() {
            return;
        }
        let job = self.jobs.len();
        let mut ids = Vec::with_capacity(pods.len());
        let mut woken = false;
        for (spec, run_for) in pods {
            let (pod, w) = self.new_pod(k, spec, run_for, workload, job, version);
            woken |= w;
            ids.push(pod);
        }
        self.jobs.push(JobRecord::new(workload, ids, k.now()));
        if self.api.is_some() {
            // Queued once the API server has created every pod of it.
            self.jobs[job].creating = self.jobs[job].pods.len() as u32;
            for i in 0..self.jobs[job].pods.len() {
                let pod = self.jobs[job].pods[i];
                self.api_request(
                    k,
                    creator,
                    crate::api_server::Verb::Write,
                    api::Then::Created { pod, job },
                );
            }
        } else {
            self.enqueue(job);
        }
        if woken {
            self.kick_all(k);
        }
    }

    /// The job's pods that wait for a node.
    fn unplaced(&self, job: usize) -> Vec<usize> {
        self.jobs[job]
            .pods
            .iter()
            .copied()
            .filter(|&p| {
                matches!(
                    self.pods[p].state,
                    PodState::Pending | PodState::Unschedulable
                ) && !self.pods[p].held
            })
            .collect()
    }

    /// Queues `job` with its scheduler: FIFO by enqueue order, or, for kube-scheduler, higher
    /// priority first and then earlier arrival (queuesort/priority_sort.go compares priority,
    /// then timestamp).
    fn enqueue(&mut self, job: usize) {
        self.enqueued += 1;
        let j = &mut self.jobs[job];
        j.place = JobPlace::Queued;
        let first = j.pods[0];
        let slot = &mut self.slots[self.path[j.workload]];
        let key = if slot.priority_queue {
            (
                -i64::from(self.pods[first].spec.priority),
                first as u64,
                job,
            )
        } else {
            (0, self.enqueued, job)
        };
        slot.queue.insert(key);
    }

    fn kick_all(&mut self, k: &mut Kernel<Event>) {
        for s in 0..self.slots.len() {
            self.kick(k, s);
        }
    }

    /// Starts a decision if scheduler `s` is idle and a job waits. A two-level framework
    /// decides only on offers it holds.
    fn kick(&mut self, k: &mut Kernel<Event>, s: usize) {
        if self.allocator.is_some() {
            self.framework_decides(k, s);
            return;
        }
        if self.slots[s].busy {
            return;
        }
        let (job, pods) = loop {
            let Some((_, _, job)) = self.slots[s].queue.pop_first() else {
                return;
            };
            let pods = self.unplaced(job);
            if pods.is_empty() {
                self.jobs[job].place = JobPlace::Idle;
                continue;
            }
            break (job, pods);
        };
        let now = k.now();
        self.jobs[job].dequeued.get_or_insert(now);
        self.jobs[job].place = JobPlace::Deciding;
        let (plan, filtered) = self.plan_on_live(s, &pods);
        let cost = self.cost_of(s, job);
        let busy = decision_time(&cost, pods.len(), filtered);
        let slot = &mut self.slots[s];
        slot.busy = true;
        slot.started = now;
        slot.booked_ns = slot.booked_ns.saturating_add(busy.as_nanos());
        slot.busy_until = now + busy;
        k.schedule_in(
            busy,
            Event::DecisionDone {
                slot: s,
                job,
                plan,
                release_epoch: self.release_epoch,
            },
        );
    }

    /// The decision cost of `job`: its workload's, or its scheduler's.
    fn cost_of(&self, s: usize, job: usize) -> DecisionCost {
        self.scenario
            .workloads
            .get(self.jobs[job].workload)
            .and_then(|w| w.cost)
            .unwrap_or(self.slots[s].cost)
    }

    /// Decides `pods` one after another on the live cluster, each seeing the ones before it
    /// placed (bound for the moment, unbound before returning), and stops at the first that
    /// finds no node. Returns the plan and the nodes examined.
    fn plan_on_live(&mut self, s: usize, pods: &[usize]) -> (Vec<Planned>, u64) {
        let mut tentative = Vec::new();
        let planned = self.plan_pods(s, pods, false, &mut tentative);
        self.undo(tentative);
        planned
    }

    /// Decides `pods` of one job one after another on the cluster as it is, binding each
    /// placed pod for the moment (into `tentative`, for the caller to [`World::undo`]) so the
    /// next sees it; stops at the first pod without a node. Returns the plan and the nodes
    /// examined. A monolithic or shared-state scheduler does not bind its job's last pod (no
    /// pod after it looks) and leaves a refused bind to the commit; a two-level `framework`
    /// binds every pod (its later jobs look), and a bind refused or a preemption asked for is
    /// no room for it (a framework cannot preempt).
    pub(super) fn plan_pods(
        &mut self,
        s: usize,
        pods: &[usize],
        framework: bool,
        tentative: &mut Vec<(NodeId, Arc<PodSpec>)>,
    ) -> (Vec<Planned>, u64) {
        let no_room = |why: String| {
            Decision::Unschedulable(orchsim_sched::Unschedulable {
                message: Some(why),
                ..Default::default()
            })
        };
        let mut plan = Vec::with_capacity(pods.len());
        let mut filtered = 0u64;
        for (i, &pod) in pods.iter().enumerate() {
            self.pods[pod].attempts += 1;
            let spec = self.pods[pod].spec.clone();
            let outcome = self.slots[s]
                .scheduler
                .get()
                .schedule(&spec, &self.cluster as &dyn ClusterView);
            filtered = filtered.saturating_add(outcome.work.nodes_filtered);
            let seq = outcome.decision.node().map_or(0, |n| self.node_seq[n.0]);
            let decision = match outcome.decision {
                Decision::Bind { node, devices } if framework || i + 1 < pods.len() => {
                    match self.cluster.bind(node, spec.clone(), devices.clone()) {
                        Ok(()) => {
                            tentative.push((node, spec));
                            Decision::Bind { node, devices }
                        }
                        Err(e) if framework => no_room(e.to_string()),
                        Err(_) => Decision::Bind { node, devices },
                    }
                }
                Decision::Preempt { .. } if framework => {
                    no_room("no room in the offers held, and a framework cannot preempt".into())
                }
                d => d,
            };
            let placed = matches!(decision, Decision::Bind { .. });
            plan.push(Planned { pod, decision, seq });
            if !placed {
                break;
            }
        }
        (plan, filtered)
    }

    /// Unbinds what [`World::plan_pods`] bound for the moment, last first.
    pub(super) fn undo(&mut self, tentative: Vec<(NodeId, Arc<PodSpec>)>) {
        for (node, spec) in tentative.into_iter().rev() {
            self.cluster.unbind_pod(node, &spec);
        }
    }

    /// A monolithic or shared-state decision ends: its placements are committed (shared
    /// state: those that do not conflict), the rest of the job waits or retries.
    fn decided(
        &mut self,
        k: &mut Kernel<Event>,
        s: usize,
        job: usize,
        plan: Vec<Planned>,
        epoch: u64,
    ) {
        let now = k.now();
        let spent = now.since(self.slots[s].started).as_nanos();
        self.slots[s].busy = false;
        let shared = match self.scenario.control_plane.kind {
            ControlPlaneKind::SharedState(ss) => Some(ss),
            _ => None,
        };
        let mut committed: Vec<(usize, NodeId, Vec<u8>)> = Vec::new();
        let mut failed: Vec<(usize, String, u64)> = Vec::new();
        let mut no_node = false;
        let mut any_choice = false;
        let mut preempted = false;
        // A placement on a host cordoned or declared failed during the decision.
        let mut node_gone = false;
        let mut preemption: Option<(usize, NodeId, Vec<String>)> = None;
        for p in plan {
            if self.pods[p.pod].state == PodState::Deleted {
                // Deleted while its scheduler decided: nothing to bind.
                continue;
            }
            match p.decision {
                Decision::Bind { node, devices } => {
                    any_choice = true;
                    if shared.is_some_and(|ss| ss.conflict == ConflictMode::Coarse)
                        && self.node_seq[node.0] != p.seq
                    {
                        failed.push((
                            p.pod,
                            format!(
                                "conflict: {} changed since the scheduler's snapshot",
                                self.cluster.nodes()[node.0].name
                            ),
                            CONFLICT,
                        ));
                        continue;
                    }
                    match self.commit_to_cluster(now, p.pod, node, Some(devices)) {
                        Ok(devices) => committed.push((p.pod, node, devices)),
                        // Only a host declared failed during this decision: one the scheduler
                        // chose although it was already declared failed (a profile without
                        // TaintToleration) would be chosen again at once, for ever.
                        Err(why)
                            if self.health[node.0].declared_failed_since(self.slots[s].started) =>
                        {
                            node_gone = true;
                            failed.push((p.pod, format!("bind rejected: {why}"), REJECTED))
                        }
                        Err(why) if shared.is_some() => {
                            failed.push((p.pod, format!("conflict: {why}"), CONFLICT))
                        }
                        Err(why) => failed.push((p.pod, format!("bind rejected: {why}"), REJECTED)),
                    }
                }
                Decision::Preempt { node, victims, .. } => {
                    any_choice = true;
                    // The plan stopped here: the job's remaining pods were not tried. The
                    // victims go only once the transaction is known to stand (below).
                    preempted = true;
                    preemption = Some((p.pod, node, victims));
                }
                Decision::Unschedulable(why) => {
                    no_node = true;
                    let rec = &mut self.pods[p.pod];
                    rec.state = PodState::Unschedulable;
                    rec.last_failure = Some(why.to_string());
                    self.digest
                        .record(now, TAG_DECISION, &[p.pod as u64, NO_NODE]);
                }
            }
        }
        let conflicted = failed.iter().any(|f| f.2 == CONFLICT);
        let rolled_back =
            conflicted && shared.is_some_and(|ss| ss.transaction == Transaction::AllOrNothing);
        if let Some((pod, node, victims)) = preemption {
            if rolled_back {
                // A transaction that does not commit evicts nobody.
                failed.push((
                    pod,
                    "rolled back: another pod of its job conflicted".into(),
                    CONFLICT,
                ));
            } else if self.health[node.0].declared_failed() {
                // Evict nobody for a host that can no longer take the preemptor, and retry
                // at once only if it failed during this decision (a scheduler that chose it
                // anyway would choose it again, for ever).
                let during = self.health[node.0].declared_failed_since(self.slots[s].started);
                node_gone |= during;
                preempted = during;
                failed.push((
                    pod,
                    format!(
                        "bind rejected: {} was declared failed (unreachable)",
                        self.cluster.nodes()[node.0].name
                    ),
                    REJECTED,
                ));
            } else {
                for key in &victims {
                    let pods = &self.pods;
                    let by_key = self.by_key.get_or_insert_with(|| {
                        pods.iter()
                            .enumerate()
                            .map(|(i, p)| (p.spec.key(), i))
                            .collect()
                    });
                    if let Some(&victim) = by_key.get(key) {
                        if self.evict(k, victim, true) && self.api.is_some() {
                            // The scheduler deletes it; its controller replaces it.
                            self.delete_and_replace(k, api::Client::Scheduler(s), victim);
                        }
                    }
                }
                match self.commit_to_cluster(now, pod, node, None) {
                    Ok(devices) => committed.push((pod, node, devices)),
                    Err(why) => failed.push((pod, format!("bind rejected: {why}"), REJECTED)),
                }
            }
        }
        if rolled_back {
            for (pod, node, _) in committed.drain(..) {
                let spec = self.pods[pod].spec.clone();
                self.cluster.unbind_pod(node, &spec);
                failed.push((
                    pod,
                    "rolled back: another pod of its job conflicted".into(),
                    CONFLICT,
                ));
            }
        }
        for (pod, node, devices) in committed.iter().cloned() {
            self.bound(k, pod, node, devices);
        }
        for (pod, why, tag) in failed {
            let rec = &mut self.pods[pod];
            rec.state = PodState::Unschedulable;
            rec.last_failure = Some(why);
            self.digest.record(now, TAG_DECISION, &[pod as u64, tag]);
        }
        let st = &mut self.slots[s].stats;
        st.decisions += 1;
        if any_choice {
            st.transactions += 1;
        } else {
            st.no_room += 1;
        }
        if conflicted {
            st.conflicts += 1;
            st.wasted_ns += spent;
        }
        // Back in the queue at once when the cluster changed under the decision: resources
        // freed meanwhile, a conflict with another scheduler's commit, a host cordoned or
        // declared failed, or the job's own preemption (its other pods were not tried).
        let retry_now =
            (no_node && epoch != self.release_epoch) || conflicted || preempted || node_gone;
        self.after_attempt(k, job, retry_now);
        self.observe_decision();
        // Evictions may have re-queued other schedulers' parked jobs.
        self.kick_all(k);
    }

    /// After a decision on `job`: done, or its unplaced pods wait — back in the queue at once
    /// (`retry_now`: resources were freed while it was decided), parked until resources are
    /// freed, or, with a retry policy, retried after its delay or abandoned.
    fn after_attempt(&mut self, k: &mut Kernel<Event>, job: usize, retry_now: bool) {
        // A Job that ended while it was decided deletes its pods now.
        if self.job_runs.get(&job).is_some_and(|r| r.outcome.is_some()) {
            for pod in self.job_active(job) {
                self.delete_pod(k, pod);
            }
        }
        // A rollout skips pods being decided: it looks again once the decision is over.
        if let Some(d) = self.upgrade_dirty.get_mut(self.jobs[job].workload) {
            *d = true;
        }
        let left = self.unplaced(job);
        let retry_now = retry_now || std::mem::take(&mut self.jobs[job].requeue);
        let j = &mut self.jobs[job];
        if left.is_empty() {
            j.place = JobPlace::Idle;
            return;
        }
        j.attempts += 1;
        let s = self.path[j.workload];
        match self.scenario.retry {
            None => {
                // A framework waits for its next offers, not for freed resources: parked, it
                // would be suppressed and never offered anything again.
                if retry_now || self.allocator.is_some() {
                    self.enqueue(job);
                } else {
                    let park = self.park_as(&self.pods[left[0]].spec, s);
                    let key = self.slots[s].parked.park(job, park);
                    self.jobs[job].place = JobPlace::Parked(key);
                    self.provision_pending(k);
                }
            }
            Some(r) => {
                if (j.bound_pods == 0 && j.attempts > r.max_attempts_without_progress)
                    || j.attempts > r.max_attempts
                {
                    j.abandoned = true;
                    j.place = JobPlace::Idle;
                    for pod in left {
                        self.pods[pod].state = PodState::Abandoned;
                        self.pods_pending -= 1;
                        self.touched(pod);
                    }
                    self.digest.record(k.now(), TAG_ABANDONED, &[job as u64]);
                } else {
                    j.place = JobPlace::Retrying;
                    self.slots[s].stats.retries += 1;
                    k.schedule_in(r.after, Event::Retry { job });
                }
            }
        }
    }

    /// GPU after a decision, when the per-decision fragmentation observer is on.
    fn observe_decision(&mut self) {
        if self.scenario.observers.gpu_fragmentation_per_decision {
            let fragment_milli = self
                .fragmentation
                .as_mut()
                .map_or(0.0, |f| f.measure(self.cluster.nodes()));
            self.gpu_steps.push(GpuStep {
                arrived_milli: self.arrived_gpu_milli,
                allocated_milli: self.requested.gpu_milli,
                fragment_milli,
            });
        }
    }

    /// Binds `pod` to `node` in the cluster on `devices` (`None`: the node's default device
    /// choice, for a preemption, whose victims have just freed room); the cluster checks the
    /// room, because overcommit is the one thing we must never do. The world's books follow
    /// in [`World::bound`].
    fn commit_to_cluster(
        &mut self,
        now: SimTime,
        pod: usize,
        node: NodeId,
        devices: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, String> {
        let spec = self.pods[pod].spec.clone();
        let n = &self.cluster.nodes()[node.0];
        let devices = devices.unwrap_or_else(|| n.fit_devices(&spec).unwrap_or_default());
        if n.unschedulable {
            return Err(format!("{} is cordoned", n.name));
        }
        if self.health[node.0].declared_failed() {
            return Err(format!("{} was declared failed (unreachable)", n.name));
        }
        self.account(now);
        self.cluster
            .bind(node, spec, devices.clone())
            .map_err(|e| e.to_string())?;
        Ok(devices)
    }

    /// The books of a bind [`World::commit_to_cluster`] made: requests, the pod's record and
    /// placement, its start.
    fn bound(&mut self, k: &mut Kernel<Event>, pod: usize, node: NodeId, devices: Vec<u8>) {
        let now = k.now();
        let requests = self.pods[pod].spec.requests;
        self.requested = self.requested.saturating_add(&requests);
        self.note_peak();
        self.node_seq[node.0] += 1;
        self.pods_pending -= 1;
        let rec = &mut self.pods[pod];
        for (u, r) in self.in_use[rec.workload].iter_mut().zip(vector(&requests)) {
            *u += r;
        }
        rec.state = PodState::Starting;
        rec.bound = Some(now);
        rec.node = Some(node);
        let first_stay = rec.placements.is_empty();
        rec.placements.push(Placement {
            node,
            devices: devices.clone(),
            bound: now,
            bound_event: k.processed(),
            released_event: None,
        });
        let incarnation = rec.incarnation;
        let j = &mut self.jobs[rec.job];
        j.first_bound.get_or_insert(now);
        if first_stay {
            j.bound_pods += 1;
            // A Job's later waves join its record: the first time all were bound counts.
            if j.bound_pods as usize == j.pods.len() && j.all_bound.is_none() {
                j.all_bound = Some(now);
            }
        }
        if let Some(on) = self.on_node.get_mut(node.0) {
            on.insert(pod);
        }
        self.provision_pods_changed(now, node);
        // Devices join the record only when there are any, so runs without GPUs keep the
        // digests they had before devices were modelled.
        let mut rec = vec![pod as u64, node.0 as u64];
        rec.extend(devices.iter().map(|&d| u64::from(d)));
        self.digest.record(now, TAG_DECISION, &rec);
        if self.api.is_some() {
            let s = self.path[self.pods[pod].workload];
            let stay = self.pods[pod].placements.len() - 1;
            self.api_request(
                k,
                api::Client::Scheduler(s),
                crate::api_server::Verb::Write,
                api::Then::Bound { pod, stay },
            );
        } else {
            self.start_on(k, pod, node, incarnation);
        }
    }

    /// `pod` is bound to `node` as its kubelet sees it: its container starts after the image
    /// pull and the start latency (on a host that is down it never does).
    fn start_on(&mut self, k: &mut Kernel<Event>, pod: usize, node: NodeId, incarnation: u32) {
        if self.health[node.0].is_down() {
            self.bound_to_down_host(k, pod, node);
        } else if self.address_for(k, pod, node) {
            let delay = if std::mem::take(&mut self.pods[pod].already_running) {
                SimDuration::ZERO
            } else {
                self.pull_and_start(k.now(), pod, node) + self.claim_volume(pod, node)
            };
            k.schedule_in(delay, Event::Started { pod, incarnation });
        }
    }

    /// A pod changed in a way an upgrade of its workload counts (alive, ready).
    fn touched(&mut self, pod: usize) {
        if let Some(d) = self.upgrade_dirty.get_mut(self.pods[pod].workload) {
            *d = true;
        }
    }

    /// Frees `pod`'s requests on its node and ends its current placement.
    fn release(&mut self, k: &Kernel<Event>, pod: usize) {
        self.account(k.now());
        self.touched(pod);
        // A placement after this one starts its container anew.
        self.pods[pod].already_running = false;
        self.address_released(k.now(), pod);
        let rec = &mut self.pods[pod];
        if let Some(node) = rec.node {
            if let Some(on) = self.on_node.get_mut(node.0) {
                on.remove(&pod);
            }
            if let Some(p) = self.provision.as_mut() {
                p.pods_changed(k.now(), node);
            }
            self.cluster.unbind_pod(node, &rec.spec);
            if let Some(a) = self.allocator.as_mut() {
                let framework =
                    &self.scenario.control_plane.schedulers[self.path[rec.workload]].name;
                if let Err(e) = a.release(framework, node.0, vector(&rec.spec.requests)) {
                    self.audit_error.get_or_insert(e.to_string());
                }
            }
        }
        if let Some(p) = rec.placements.last_mut() {
            p.released_event = Some(k.processed());
        }
        for (u, r) in self.in_use[rec.workload]
            .iter_mut()
            .zip(vector(&rec.spec.requests))
        {
            *u -= r;
        }
        self.requested = self.requested.saturating_sub(&rec.spec.requests);
        self.release_epoch += 1;
        // Freed room may fit parked jobs: retry those it may fit, oldest first. A released pod
        // with anti-affinity kept pods off every node of its topology domain: wake them all.
        let all = !rec.spec.pod_anti_affinity.required.is_empty();
        if let Some(node) = rec.node {
            for s in 0..self.slots.len() {
                if self.slots[s].parked.is_empty() {
                    continue;
                }
                let node = &self.cluster.nodes()[node.0];
                let free_cpu = node.free().cpu_milli;
                let (jobs, pods) = (&self.jobs, &self.pods);
                // The job's first waiting pod blocks it: a decision stops at the first pod
                // that finds no node.
                let room_cpu = |priority| room_below(node, priority).cpu_milli;
                let lowest = self.lowest_priority;
                let woken = self.slots[s].parked.wake(free_cpu, all, room_cpu, |job| {
                    jobs[job]
                        .pods
                        .iter()
                        .find(|&&p| {
                            matches!(pods[p].state, PodState::Pending | PodState::Unschedulable)
                        })
                        .is_some_and(|&p| could_land(node, &pods[p].spec, lowest))
                });
                for job in woken {
                    self.enqueue(job);
                }
            }
        }
    }

    /// How a job waiting for `spec` on scheduler `s` parks: woken by every release when its
    /// placement depends on other pods (anti-affinity, topology spread, Marathon
    /// constraints), which a release on one node can change on others; when it may preempt,
    /// by a release that leaves room once lower-priority pods are evicted — unless pod
    /// affinity or its scheduler's spread can also hold it back, then by every release as
    /// before; else by one that leaves free room for it.
    fn park_as(&self, spec: &PodSpec, s: usize) -> Park {
        if !spec.pod_anti_affinity.required.is_empty()
            || !spec.topology_spread.is_empty()
            || !spec.marathon.constraints.is_empty()
        {
            Park::Always
        } else if may_preempt(spec, self.lowest_priority) {
            if spec.pod_affinity.required.is_empty() && self.slots[s].preempting_parks {
                Park::Preempting {
                    priority: spec.priority,
                    cpu_milli: spec.requests.cpu_milli,
                }
            } else {
                Park::Always
            }
        } else {
            Park::ByCpu {
                cpu_milli: spec.requests.cpu_milli,
            }
        }
    }

    /// A preemption victim (`preempted`) or a pod of a host being drained: removed from its
    /// node at once (no termination grace period) and re-queued as its controller would
    /// re-create it (with `[api_server]`, once the caller's delete and the re-creation are
    /// answered). Whether there was anything to evict.
    fn evict(&mut self, k: &mut Kernel<Event>, pod: usize, preempted: bool) -> bool {
        if !matches!(
            self.pods[pod].state,
            PodState::Starting | PodState::Running | PodState::Lost
        ) {
            return false;
        }
        self.release(k, pod);
        let rec = &mut self.pods[pod];
        rec.crashed_at = None;
        if rec.state == PodState::Lost {
            // Deleted while its host is down: its controller replaces it now.
            if let Some(&o) = rec.lost_in.last() {
                self.outages[o].replaced += 1;
            }
        }
        if rec.state == PodState::Running {
            self.pods_running -= 1;
            self.network_epoch += 1;
        }
        rec.state = PodState::Pending;
        rec.queued = k.now();
        rec.bound = None;
        rec.bind_answered = None;
        rec.started = None;
        rec.node = None;
        rec.evictions += 1;
        rec.incarnation += 1;
        if preempted {
            self.evictions += 1;
        }
        self.pods_pending += 1;
        let job = rec.job;
        self.digest.record(k.now(), TAG_EVICTED, &[pod as u64]);
        if self.api.is_some() {
            return true;
        }
        match self.jobs[job].place {
            JobPlace::Idle => self.enqueue(job),
            JobPlace::Parked(key) => {
                let s = self.path[self.jobs[job].workload];
                self.slots[s].parked.remove(job, key);
                self.enqueue(job);
            }
            JobPlace::Deciding => self.jobs[job].requeue = true,
            JobPlace::Queued | JobPlace::Retrying => {}
        }
        true
    }

    fn started(&mut self, k: &mut Kernel<Event>, pod: usize, incarnation: u32) {
        let rec = &mut self.pods[pod];
        if rec.incarnation != incarnation {
            return;
        }
        rec.state = PodState::Running;
        rec.started = Some(k.now());
        self.pods_running += 1;
        self.network_epoch += 1;
        if let Some(d) = rec.run_for {
            k.schedule_in(d, Event::Finished { pod, incarnation });
        }
        self.digest.record(k.now(), TAG_STARTED, &[pod as u64]);
        self.touched(pod);
        if let (Some(node), true) = (self.pods[pod].node, self.api.is_some()) {
            self.kubelet_status(k, node.0);
        }
        self.recovered(k.now(), pod);
        self.container_started(k, pod);
        self.schedule_ready(k, pod);
    }

    fn finished(&mut self, k: &mut Kernel<Event>, pod: usize, incarnation: u32) {
        if self.pods[pod].incarnation != incarnation {
            return;
        }
        // `restartPolicy: Always` (Swarm's `any`): a container that completed starts again.
        let always = self
            .scenario
            .workloads
            .get(self.pods[pod].workload)
            .is_some_and(|w| w.restart_policy == crate::scenario::RestartPolicy::Always);
        if always {
            if let (Some(node), true) = (self.pods[pod].node, self.api.is_some()) {
                self.kubelet_status(k, node.0);
            }
            self.exited(k, pod, false);
            return;
        }
        let now = k.now();
        if let (Some(node), true) = (self.pods[pod].node, self.api.is_some()) {
            self.kubelet_status(k, node.0);
        }
        self.release(k, pod);
        self.network_exited(pod);
        let rec = &mut self.pods[pod];
        rec.state = PodState::Finished;
        rec.finished = Some(now);
        self.pods_running -= 1;
        self.network_epoch += 1;
        self.digest.record(now, TAG_FINISHED, &[pod as u64]);
        self.job_pod_finished(k, pod);
        self.kick_all(k);
    }

    fn retry(&mut self, k: &mut Kernel<Event>, job: usize) {
        if self.jobs[job].place != JobPlace::Retrying {
            return;
        }
        self.enqueue(job);
        self.kick(k, self.path[self.jobs[job].workload]);
    }

    fn sample(&mut self, k: &mut Kernel<Event>) {
        let now = k.now();
        self.digest
            .record(now, TAG_SAMPLE, &[self.pods_pending, self.pods_running]);
        let dominant_shares = if self.scenario.observers.dominant_shares {
            let total = vector(&self.total_capacity);
            let paths = self.scenario.workloads.len() + usize::from(self.scenario.trace.is_some());
            self.in_use[..paths]
                .iter()
                .map(|u| dominant_share(u, &total))
                .collect()
        } else {
            Vec::new()
        };
        self.network_update(k);
        let hosts = self.hosts_up();
        self.samples.push(Sample {
            time: now,
            requested: self.requested,
            capacity: self.total_capacity,
            hosts,
            pods_pending: self.pods_pending,
            pods_running: self.pods_running,
            gpu_fragment_milli: self
                .fragmentation
                .as_mut()
                .map(|f| f.measure(self.cluster.nodes())),
            dominant_shares,
        });
        if now < self.until {
            let next = (now + self.scenario.sample_interval).min(self.until);
            k.schedule_at(next, Event::Sample);
        }
    }

    /// Closes the utilisation integrals at the end of the run and checks the books: with an
    /// allocator, what it holds free, offered and used on every agent adds up to the agent,
    /// and what it counts as used is what the cluster has bound there.
    pub(crate) fn finish(&mut self, end: SimTime) {
        self.account(end);
        self.network_flush(end, false);
        if self.audit_error.is_some() {
            return;
        }
        let Some(a) = &self.allocator else { return };
        if let Err(e) = a.check() {
            self.audit_error = Some(e.to_string());
            return;
        }
        let mut by_agent: BTreeMap<usize, Vec<&Offer>> = BTreeMap::new();
        for o in a.outstanding() {
            by_agent.entry(o.agent).or_default().push(o);
        }
        for (i, n) in self.cluster.nodes().iter().enumerate() {
            let free = a.free(i);
            let offered = offered_sum(by_agent.get(&i).into_iter().flatten().copied());
            let used = vector(&n.requested);
            let total = vector(&n.allocatable);
            if (0..RESOURCES).any(|d| free[d] + offered[d] + used[d] != total[d]) {
                self.audit_error = Some(format!(
                    "node {}: allocator free {free:?} + offered {offered:?} + bound {used:?} != allocatable {total:?}",
                    n.name
                ));
                return;
            }
        }
    }
}

impl Slot<'_> {
    fn new<'a>(
        scheduler: SchedulerRef<'a>,
        name: &str,
        algorithm: &str,
        cost: DecisionCost,
        preempting_parks: bool,
    ) -> Slot<'a> {
        Slot {
            preempting_parks,
            scheduler,
            cost,
            priority_queue: algorithm == "kubernetes",
            queue: BTreeSet::new(),
            parked: Parked::default(),
            busy: false,
            started: SimTime::ZERO,
            booked_ns: 0,
            busy_until: SimTime::ZERO,
            epoch: 0,
            held: Vec::new(),
            deciding_offers: Vec::new(),
            deciding_jobs: Vec::new(),
            planned: Vec::new(),
            stats: SchedulerStats {
                name: name.to_string(),
                algorithm: algorithm.to_string(),
                ..Default::default()
            },
        }
    }
}

impl Handler<Event> for World<'_> {
    fn handle(&mut self, k: &mut Kernel<Event>, event: Event) {
        // Counted before this one is handled: `processed` includes it.
        if k.processed() > self.scenario.max_events {
            k.stop();
            return;
        }
        match event {
            Event::Arrival { workload } => self.arrive(k, workload),
            Event::TraceArrival { index } => self.arrive_from_trace(k, index),
            Event::TraceDelete { pod } => self.trace_delete(k, pod),
            Event::DecisionDone {
                slot,
                job,
                plan,
                release_epoch,
            } => self.decided(k, slot, job, plan, release_epoch),
            Event::FrameworkDone { slot } => self.framework_answers(k, slot),
            Event::AllocationTick => self.allocation_tick(k),
            Event::OfferTimeout { id } => self.offer_timeout(id),
            Event::Retry { job } => self.retry(k, job),
            Event::Started { pod, incarnation } => self.started(k, pod, incarnation),
            Event::Finished { pod, incarnation } => self.finished(k, pod, incarnation),
            Event::Sample => self.sample(k),
            Event::HostDown { outage } => self.host_down(k, outage),
            Event::HostUp { outage } => self.host_up(k, outage),
            Event::HostDetected { node, epoch } => self.host_detected(k, node, epoch),
            Event::HostEvicted { node, epoch } => self.host_evicted(k, node, epoch),
            Event::Crash { pod, incarnation } => self.crash(k, pod, incarnation),
            Event::CrashAll { fault } => self.crash_all(k, fault),
            Event::ApiSend { id } => self.api_arrive(k, id),
            Event::ApiDone { id } => self.api_done(k, id),
            Event::UpgradeStart { rollout } => self.upgrade_start(k, rollout),
            Event::HpaSync { hpa } => self.hpa_sync(k, hpa),
            Event::PodReady { workload } => self.upgrade_dirty[workload] = true,
            // The load balancers drop endpoints that are gone: calls stop failing there.
            Event::EndpointsSynced => self.network_epoch += 1,
            Event::JobSync { job } => self.job_sync(k, job),
            Event::SpotReclaim { fault } => self.spot_reclaim(k, fault),
            Event::ProvisionScan => self.ca_scan(k),
            Event::BatchCheck => self.batch_check(k),
            Event::DisruptionPoll => self.disruption_poll(k),
            Event::DisruptionValidate => self.disruption_validate(k),
            Event::NodeReady { node, epoch } => self.node_ready(k, node, epoch),
            Event::SpotNotice { node, epoch } => self.spot_notice(k, node, epoch),
            Event::NodeGone { node, epoch } => self.node_gone(k, node, epoch),
        }
        if !self.rollouts.is_empty() {
            self.poke_rollouts(k);
        }
        if self.addresses.is_some() {
            self.serve_address_waiters(k);
        }
        self.network_after_event(k);
    }
}
