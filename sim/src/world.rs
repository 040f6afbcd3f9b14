//! The cluster world: hosts, pods, workload generators, trace replay and the scheduling loop,
//! as a [`Handler`] on the kernel.
//!
//! A pod's life: it arrives (Poisson, per workload, or at its time in a replayed trace) into
//! the scheduling queue (FIFO, or by priority then arrival for `kubernetes`, whose default
//! profile sorts with PrioritySort); the scheduler — a single server, like kube-scheduler's one
//! scheduling cycle at a time — takes the head, decides, and stays busy for the decision's
//! modeled cost; a bind reserves the pod's requests and GPU devices on the node at once (the
//! cluster refuses one that would overcommit); after the start latency it runs; a batch pod
//! then finishes and frees its requests and devices. A pod that fits nowhere is parked until
//! resources are freed (kube-scheduler's unschedulable queue, flushed on pod deletion).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use orchsim_kernel::{Digest, Handler, Kernel, RngStreams, SimDuration, SimTime, StreamRng};
use orchsim_sched::{Cluster, ClusterView, Decision, NodeId, PodSpec, Resources, Scheduler};

use crate::dist::Dist;
use crate::observers::{GpuFragmentation, GpuStep};
use crate::scenario::{Scenario, WorkloadKind};

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
}

impl PodState {
    pub fn name(self) -> &'static str {
        match self {
            PodState::Pending => "pending",
            PodState::Unschedulable => "unschedulable",
            PodState::Starting => "starting",
            PodState::Running => "running",
            PodState::Finished => "finished",
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
    /// `None` for long-running services.
    pub run_for: Option<SimDuration>,
    pub state: PodState,
    pub submitted: SimTime,
    /// When the pod last entered the queue: its submission, or its last eviction.
    pub queued: SimTime,
    pub bound: Option<SimTime>,
    pub started: Option<SimTime>,
    pub finished: Option<SimTime>,
    pub node: Option<NodeId>,
    /// Every stay on a node, in order; all but the last ended in eviction.
    pub placements: Vec<Placement>,
    /// Times the pod was evicted by preemption and re-queued.
    pub evictions: u32,
    /// Bumped on eviction so that the evicted stay's pending Started/Finished events are
    /// recognised as stale.
    incarnation: u32,
    pub attempts: u32,
    /// kube-scheduler-style message of the last failed attempt.
    pub last_failure: Option<String>,
}

/// One `timeseries.csv` row.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub time: SimTime,
    pub requested: Resources,
    pub pods_pending: u64,
    pub pods_running: u64,
    /// Fragment milli-GPU, when the fragmentation observer is on.
    pub gpu_fragment_milli: Option<f64>,
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
    DecisionDone {
        pod: usize,
        decision: Decision,
        release_epoch: u64,
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
}

// Digest record kinds, one per event type; part of the digest contract.
const TAG_ARRIVAL: u8 = 0;
const TAG_DECISION: u8 = 1;
const TAG_STARTED: u8 = 2;
const TAG_FINISHED: u8 = 3;
const TAG_SAMPLE: u8 = 4;
const TAG_EVICTED: u8 = 5;

struct Generator {
    arrivals: StreamRng,
    sizes: StreamRng,
    submitted: u64,
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
    generators: Vec<Generator>,
    start_latency: StreamRng,
    scheduler: &'s mut (dyn Scheduler + Send),
    /// Pods waiting for a decision, ordered by (key, tie) — see [`World::enqueue`].
    queue: BTreeSet<(i64, u64, usize)>,
    /// Sort by priority (kube-scheduler's PrioritySort) instead of FIFO.
    priority_queue: bool,
    enqueued: u64,
    parked: Vec<usize>,
    scheduler_busy: bool,
    pub(crate) scheduler_busy_ns: u64,
    /// Incremented whenever resources are freed; a failed decision that started before the
    /// latest release is retried instead of parked, so no wake-up is lost.
    release_epoch: u64,
    pub(crate) total_capacity: Resources,
    pub(crate) requested: Resources,
    /// Integral of cluster-wide requested resources over time (resource·ns), per dimension.
    pub(crate) requested_integral: [u128; 3],
    pub(crate) requested_peak: Resources,
    last_change: SimTime,
    pub(crate) pods_running: u64,
    pub(crate) pods_pending: u64,
    pub(crate) evictions: u64,
    /// Pod key (`namespace/name`) → index, for preemption victims.
    by_key: BTreeMap<String, usize>,
    pub(crate) samples: Vec<Sample>,
    fragmentation: Option<GpuFragmentation>,
    pub(crate) digest: Digest,
    until: SimTime,
}

impl<'s> World<'s> {
    /// Builds the cluster and schedules the first events.
    pub fn new(
        scenario: &'s Scenario,
        scheduler: &'s mut (dyn Scheduler + Send),
        kernel: &mut Kernel<Event>,
    ) -> Self {
        let streams = RngStreams::new(scenario.seed);
        let nodes = scenario.nodes();
        let total_capacity = nodes
            .iter()
            .fold(Resources::ZERO, |acc, n| acc.saturating_add(&n.allocatable));
        let generators = scenario
            .workloads
            .iter()
            .map(|w| Generator {
                arrivals: streams.stream(&format!("workload/{}/arrivals", w.name)),
                sizes: streams.stream(&format!("workload/{}/sizes", w.name)),
                submitted: 0,
            })
            .collect();
        let mut world = World {
            scenario,
            arrived_gpu_milli: 0,
            gpu_steps: Vec::new(),
            cluster: Cluster::new(nodes),
            pods: Vec::new(),
            generators,
            start_latency: streams.stream("orchestrator/start-latency"),
            scheduler,
            queue: BTreeSet::new(),
            priority_queue: scenario.scheduler.algorithm == "kubernetes",
            enqueued: 0,
            parked: Vec::new(),
            scheduler_busy: false,
            scheduler_busy_ns: 0,
            release_epoch: 0,
            total_capacity,
            requested: Resources::ZERO,
            requested_integral: [0; 3],
            requested_peak: Resources::ZERO,
            last_change: SimTime::ZERO,
            pods_running: 0,
            pods_pending: 0,
            evictions: 0,
            by_key: BTreeMap::new(),
            samples: Vec::new(),
            fragmentation: (scenario.observers.gpu_fragmentation
                || scenario.observers.gpu_fragmentation_per_decision)
                .then(|| GpuFragmentation::new(scenario)),
            digest: Digest::new(),
            until: SimTime::ZERO + scenario.duration,
        };
        for (i, w) in scenario.workloads.iter().enumerate() {
            if w.max_pods != Some(0) {
                let first = SimTime::ZERO + w.start + world.interarrival(i);
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
        world
    }

    /// The cluster as it is (at the end of a run: as the run left it).
    pub(crate) fn into_cluster(self) -> Cluster {
        self.cluster
    }

    fn interarrival(&mut self, workload: usize) -> SimDuration {
        let rate = self.scenario.workloads[workload].arrival_rate_per_s;
        let secs =
            Dist::Exponential { mean: 1.0 / rate }.sample(&mut self.generators[workload].arrivals);
        SimDuration::try_from_secs_f64(secs).unwrap_or(SimDuration(u64::MAX))
    }

    /// Advances the utilisation integrals to `now`; call before every change of `requested`.
    fn account(&mut self, now: SimTime) {
        let dt = now.since(self.last_change).as_nanos() as u128;
        let r = &self.requested;
        self.requested_integral[0] += r.cpu_milli as u128 * dt;
        self.requested_integral[1] += r.memory_bytes as u128 * dt;
        self.requested_integral[2] += r.gpu_milli as u128 * dt;
        self.last_change = now;
    }

    fn arrive(&mut self, k: &mut Kernel<Event>, workload: usize) {
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
        let more = w.max_pods.is_none_or(|m| g.submitted < m);
        let mut spec = PodSpec::new(format!("{}-{index}", w.name), requests);
        spec.labels = w.labels.clone();
        spec.gpu_models = w.gpu_models.clone();
        spec.owner = w.name.clone();
        spec.priority = w.priority;
        self.submit(k, spec, workload, run_for);
        if more {
            let next = k.now() + self.interarrival(workload);
            if next <= self.until {
                k.schedule_at(next, Event::Arrival { workload });
            }
        }
        self.kick(k);
    }

    /// The trace's pod `index` arrives; the next one is scheduled.
    fn arrive_from_trace(&mut self, k: &mut Kernel<Event>, index: usize) {
        let trace = self
            .scenario
            .trace
            .as_ref()
            .expect("trace events come from a trace");
        let p = &trace.pods[index];
        let mut spec = PodSpec::new(p.name.clone(), p.requests);
        spec.gpu_models = p.gpu_models.clone();
        spec.owner = trace.name.clone();
        // Trace pods count as the workload after the generated ones.
        self.submit(k, spec, self.scenario.workloads.len(), p.run_for);
        if let Some(next) = trace.pods.get(index + 1) {
            let at = SimTime::ZERO + next.arrival;
            if at <= self.until {
                k.schedule_at(at.max(k.now()), Event::TraceArrival { index: index + 1 });
            }
        }
        self.kick(k);
    }

    /// Records a new pod and queues it.
    fn submit(
        &mut self,
        k: &mut Kernel<Event>,
        spec: PodSpec,
        workload: usize,
        run_for: Option<SimDuration>,
    ) {
        let pod = self.pods.len();
        let requests = spec.requests;
        self.arrived_gpu_milli += requests.gpu_milli;
        self.by_key.insert(spec.key(), pod);
        self.pods.push(PodRecord {
            spec: Arc::new(spec),
            workload,
            run_for,
            state: PodState::Pending,
            submitted: k.now(),
            queued: k.now(),
            bound: None,
            started: None,
            finished: None,
            node: None,
            placements: Vec::new(),
            evictions: 0,
            incarnation: 0,
            attempts: 0,
            last_failure: None,
        });
        self.pods_pending += 1;
        self.enqueue(pod);
        self.digest.record(
            k.now(),
            TAG_ARRIVAL,
            &[pod as u64, requests.cpu_milli, requests.memory_bytes],
        );
    }

    /// Queues `pod`: FIFO by enqueue order, or, for kube-scheduler, higher priority first and
    /// then earlier arrival (queuesort/priority_sort.go compares priority, then timestamp).
    fn enqueue(&mut self, pod: usize) {
        self.enqueued += 1;
        let key = if self.priority_queue {
            (-i64::from(self.pods[pod].spec.priority), pod as u64, pod)
        } else {
            (0, self.enqueued, pod)
        };
        self.queue.insert(key);
    }

    /// Starts a decision if the scheduler is idle and a pod waits.
    fn kick(&mut self, k: &mut Kernel<Event>) {
        if self.scheduler_busy {
            return;
        }
        let Some((_, _, pod)) = self.queue.pop_first() else {
            return;
        };
        let rec = &mut self.pods[pod];
        rec.attempts += 1;
        let outcome = self
            .scheduler
            .schedule(&rec.spec, &self.cluster as &dyn ClusterView);
        let c = &self.scenario.scheduler.cost;
        // One pod is one task; the Omega model charges t_job per decision and t_task per task.
        let busy = c.t_job + c.t_task + c.t_node.saturating_mul(outcome.work.nodes_filtered);
        self.scheduler_busy = true;
        self.scheduler_busy_ns = self.scheduler_busy_ns.saturating_add(busy.as_nanos());
        k.schedule_in(
            busy,
            Event::DecisionDone {
                pod,
                decision: outcome.decision,
                release_epoch: self.release_epoch,
            },
        );
    }

    fn decided(&mut self, k: &mut Kernel<Event>, pod: usize, decision: Decision, epoch: u64) {
        self.scheduler_busy = false;
        let now = k.now();
        match decision {
            Decision::Bind { node, devices } => self.bind(k, pod, node, Some(devices)),
            Decision::Preempt { node, victims, .. } => {
                for key in &victims {
                    if let Some(&victim) = self.by_key.get(key) {
                        self.evict(k, victim);
                    }
                }
                self.bind(k, pod, node, None);
            }
            Decision::Unschedulable(why) => {
                let rec = &mut self.pods[pod];
                rec.state = PodState::Unschedulable;
                rec.last_failure = Some(why.to_string());
                if epoch != self.release_epoch {
                    self.enqueue(pod);
                } else {
                    self.parked.push(pod);
                }
                self.digest
                    .record(now, TAG_DECISION, &[pod as u64, u64::MAX]);
            }
        }
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
        self.kick(k);
    }

    /// Commits `pod` to `node` on `devices` (`None`: the node's default device choice, for
    /// a preemption, whose victims have just freed room).
    fn bind(&mut self, k: &mut Kernel<Event>, pod: usize, node: NodeId, devices: Option<Vec<u8>>) {
        let now = k.now();
        let spec = self.pods[pod].spec.clone();
        let n = &self.cluster.nodes()[node.0];
        let devices = devices.unwrap_or_else(|| n.fit_devices(&spec).unwrap_or_default());
        // Only this scheduler binds and releases only add room, so the decision is still
        // valid; the cluster checks anyway, because overcommit is the one thing we must never
        // do.
        let refused = if n.unschedulable {
            Some(format!("{} is cordoned", n.name))
        } else {
            self.account(now);
            self.cluster
                .bind(node, spec.clone(), devices.clone())
                .err()
                .map(|e| e.to_string())
        };
        if let Some(why) = refused {
            // Parked like an unschedulable pod, so a scheduler that keeps choosing this node
            // cannot spin without time advancing; freed resources wake it.
            self.pods[pod].state = PodState::Unschedulable;
            self.pods[pod].last_failure = Some(format!("bind rejected: {why}"));
            self.parked.push(pod);
            self.digest
                .record(now, TAG_DECISION, &[pod as u64, u64::MAX - 1]);
            return;
        }
        self.requested = self.requested.saturating_add(&spec.requests);
        self.requested_peak = Resources {
            cpu_milli: self.requested_peak.cpu_milli.max(self.requested.cpu_milli),
            memory_bytes: self
                .requested_peak
                .memory_bytes
                .max(self.requested.memory_bytes),
            gpu_milli: self.requested_peak.gpu_milli.max(self.requested.gpu_milli),
            ..self.requested_peak
        };
        self.pods_pending -= 1;
        let rec = &mut self.pods[pod];
        rec.state = PodState::Starting;
        rec.bound = Some(now);
        rec.node = Some(node);
        rec.placements.push(Placement {
            node,
            devices: devices.clone(),
            bound: now,
            bound_event: k.processed(),
            released_event: None,
        });
        let incarnation = rec.incarnation;
        let delay = self
            .scenario
            .start_latency_s
            .sample(&mut self.start_latency);
        let delay = SimDuration::try_from_secs_f64(delay).unwrap_or(SimDuration(u64::MAX));
        k.schedule_in(delay, Event::Started { pod, incarnation });
        // Devices join the record only when there are any, so runs without GPUs keep the
        // digests they had before devices were modelled.
        let mut rec = vec![pod as u64, node.0 as u64];
        rec.extend(devices.iter().map(|&d| u64::from(d)));
        self.digest.record(now, TAG_DECISION, &rec);
    }

    /// Frees `pod`'s requests on its node and ends its current placement.
    fn release(&mut self, k: &Kernel<Event>, pod: usize) {
        self.account(k.now());
        let rec = &mut self.pods[pod];
        if let Some(node) = rec.node {
            self.cluster.unbind_pod(node, &rec.spec);
        }
        if let Some(p) = rec.placements.last_mut() {
            p.released_event = Some(k.processed());
        }
        self.requested = self.requested.saturating_sub(&rec.spec.requests);
        self.release_epoch += 1;
        // Freed room may fit parked pods: retry them, oldest first.
        for pod in std::mem::take(&mut self.parked) {
            self.enqueue(pod);
        }
    }

    /// Preemption victim: removed from its node at once (no termination grace period) and
    /// re-queued as its controller would re-create it.
    fn evict(&mut self, k: &mut Kernel<Event>, pod: usize) {
        if !matches!(self.pods[pod].state, PodState::Starting | PodState::Running) {
            return;
        }
        self.release(k, pod);
        let rec = &mut self.pods[pod];
        if rec.state == PodState::Running {
            self.pods_running -= 1;
        }
        rec.state = PodState::Pending;
        rec.queued = k.now();
        rec.bound = None;
        rec.started = None;
        rec.node = None;
        rec.evictions += 1;
        rec.incarnation += 1;
        self.evictions += 1;
        self.pods_pending += 1;
        self.enqueue(pod);
        self.digest.record(k.now(), TAG_EVICTED, &[pod as u64]);
    }

    fn started(&mut self, k: &mut Kernel<Event>, pod: usize, incarnation: u32) {
        let rec = &mut self.pods[pod];
        if rec.incarnation != incarnation {
            return;
        }
        rec.state = PodState::Running;
        rec.started = Some(k.now());
        self.pods_running += 1;
        if let Some(d) = rec.run_for {
            k.schedule_in(d, Event::Finished { pod, incarnation });
        }
        self.digest.record(k.now(), TAG_STARTED, &[pod as u64]);
    }

    fn finished(&mut self, k: &mut Kernel<Event>, pod: usize, incarnation: u32) {
        if self.pods[pod].incarnation != incarnation {
            return;
        }
        let now = k.now();
        self.release(k, pod);
        let rec = &mut self.pods[pod];
        rec.state = PodState::Finished;
        rec.finished = Some(now);
        self.pods_running -= 1;
        self.digest.record(now, TAG_FINISHED, &[pod as u64]);
        self.kick(k);
    }

    fn sample(&mut self, k: &mut Kernel<Event>) {
        let now = k.now();
        self.digest
            .record(now, TAG_SAMPLE, &[self.pods_pending, self.pods_running]);
        self.samples.push(Sample {
            time: now,
            requested: self.requested,
            pods_pending: self.pods_pending,
            pods_running: self.pods_running,
            gpu_fragment_milli: self
                .fragmentation
                .as_mut()
                .map(|f| f.measure(self.cluster.nodes())),
        });
        if now < self.until {
            let next = (now + self.scenario.sample_interval).min(self.until);
            k.schedule_at(next, Event::Sample);
        }
    }

    /// Closes the utilisation integrals at the end of the run.
    pub(crate) fn finish(&mut self, end: SimTime) {
        self.account(end);
    }
}

impl Handler<Event> for World<'_> {
    fn handle(&mut self, k: &mut Kernel<Event>, event: Event) {
        match event {
            Event::Arrival { workload } => self.arrive(k, workload),
            Event::TraceArrival { index } => self.arrive_from_trace(k, index),
            Event::DecisionDone {
                pod,
                decision,
                release_epoch,
            } => self.decided(k, pod, decision, release_epoch),
            Event::Started { pod, incarnation } => self.started(k, pod, incarnation),
            Event::Finished { pod, incarnation } => self.finished(k, pod, incarnation),
            Event::Sample => self.sample(k),
        }
    }
}
