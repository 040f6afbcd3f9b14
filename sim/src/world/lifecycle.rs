//! Hosts that fail and come back, as the orchestrator preset says the control plane sees
//! them (`crate::orchestrator::Lifecycle`), and image pulls on the way to a container start.
//!
//! A host outage (from `[[faults]]`) stops the host at once: its containers die, but the
//! control plane does not know yet — its pods stay bound and their resources held, and a
//! scheduler may still place pods there (they never start). At the preset's detection time
//! the host is declared failed: tainted `node.kubernetes.io/unreachable` (NoSchedule and
//! NoExecute, as the node lifecycle controller does) and, for schedulers that read only
//! cordons, marked unschedulable; a Mesos agent becomes unreachable and its outstanding offers
//! are rescinded. `eviction_delay` later its pods are given up: their resources are freed and,
//! `replacement_delay` after that, each goes back to its scheduler's queue as its controller's
//! replacement — through the same scheduler code as every other pod. A host that comes back
//! before its pods were given up restarts them in place (the kubelet's `restartPolicy:
//! Always`), with the image still there.
//!
//! A container that crashes (a container fault) is restarted after the preset's back-off:
//! in place on its node, image and state kept (Kubernetes; any preset with
//! `restart_in_place = true`, which is the seed platform's *container reuse*), or as a new
//! task through the scheduler, which may land on a host without its image (Swarm, Marathon).

use orchsim_kernel::{Kernel, SimDuration, SimTime};
use orchsim_sched::labels::{Taint, TaintEffect};
use orchsim_sched::NodeId;

use super::{Event, JobPlace, PodState, World, TAG_EVICTED};

// Digest record kinds of the lifecycle (continuing the world's).
const TAG_HOST_DOWN: u8 = 8;
const TAG_HOST_UP: u8 = 9;
const TAG_POD_LOST: u8 = 10;
const TAG_HOST_DETECTED: u8 = 11;
const TAG_CRASH: u8 = 12;
const TAG_RESTART: u8 = 21;

/// The taint key the node lifecycle controller puts on a node whose heartbeats stopped
/// (k8s.io/api core/v1 well_known_taints.go: TaintNodeUnreachable).
const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

/// Megabits (10⁶ bits, as link rates count) in a MiB (2²⁰ bytes): 8 × 1.048576.
const MBIT_PER_MIB: f64 = 8.388_608;

/// What one host outage did, for `faults.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutageRecord {
    /// The fault's name.
    pub fault: String,
    pub node: NodeId,
    pub down: SimTime,
    /// When the host came back (`None`: not within the run, or never).
    pub up: Option<SimTime>,
    /// When the control plane declared it failed, and when it gave up its pods.
    pub detected: Option<SimTime>,
    pub evicted: Option<SimTime>,
    /// Containers of pods that were on the host (or bound to it before detection) lost with
    /// it — a pod lost twice in one outage counts twice —, and what became of them.
    pub pods_lost: u32,
    pub restarted_in_place: u32,
    pub replaced: u32,
    /// When the last of its lost pods was running again (`None`: some never were, or none
    /// was lost).
    pub recovered: Option<SimTime>,
    /// Lost pods not running again yet.
    waiting: u32,
    /// Another outage of the same host was already in progress: this one changed nothing.
    pub overlapped: bool,
    /// A network partition: the host lost the control plane, not its containers.
    pub partition: bool,
    /// Partition: pods given up and replaced elsewhere while their containers still ran on
    /// the cut-off host (each ran twice until the partition healed).
    pub duplicated: u32,
}

/// A host as the control plane sees it.
#[derive(Clone, Debug, Default)]
pub(super) struct Health {
    /// Outages in progress.
    down: u32,
    /// The outage that took it down, while it is down.
    outage: Option<usize>,
    /// Bumped whenever it goes down or comes back, so that stale detection and eviction
    /// events are recognised.
    epoch: u64,
    /// Its containers died in the outages in progress (not only a partition).
    killed: bool,
    detected: bool,
    /// When it was last declared failed.
    detected_at: SimTime,
    /// When the control plane will declare it failed, from its last outage's start.
    detect_due: SimTime,
    evicted: bool,
}

impl OutageRecord {
    pub(super) fn new(fault: &str, node: NodeId, down: SimTime, partition: bool) -> Self {
        OutageRecord {
            partition,
            duplicated: 0,
            fault: fault.to_string(),
            node,
            down,
            up: None,
            detected: None,
            evicted: None,
            pods_lost: 0,
            restarted_in_place: 0,
            replaced: 0,
            recovered: None,
            waiting: 0,
            overlapped: false,
        }
    }
}

impl Health {
    pub(super) fn is_down(&self) -> bool {
        self.down > 0
    }

    /// Down with its containers dead (not merely cut off by a partition).
    pub(super) fn dead(&self) -> bool {
        self.down > 0 && self.killed
    }

    /// When the control plane declares (or declared) it failed in its last outage.
    pub(super) fn detect_due(&self) -> SimTime {
        self.detect_due
    }

    /// Declared failed by the control plane and not back since.
    pub(super) fn declared_failed(&self) -> bool {
        self.detected
    }

    /// Declared failed after `t` (while a decision that began at `t` was being made).
    pub(super) fn declared_failed_since(&self, t: SimTime) -> bool {
        self.detected && self.detected_at > t
    }
}

impl World<'_> {
    /// An outage begins: the host's containers die, unbeknown to the control plane.
    pub(super) fn host_down(&mut self, k: &mut Kernel<Event>, outage: usize) {
        // The hosts the traffic runs on may change.
        self.network_epoch += 1;
        let now = k.now();
        let node = self.outages[outage].node;
        let partition = self.outages[outage].partition;
        let h = &mut self.health[node.0];
        h.down += 1;
        // A partition leaves the host's containers running; only the control plane loses
        // sight of them. A crash during a partition kills them all the same.
        let kill = !partition && !h.killed;
        h.killed |= !partition;
        if h.down > 1 {
            self.outages[outage].overlapped = true;
            if kill {
                self.kill_containers(now, node, outage);
            }
            return;
        }
        h.epoch += 1;
        h.outage = Some(outage);
        let epoch = h.epoch;
        self.digest
            .record(now, TAG_HOST_DOWN, &[node.0 as u64, outage as u64]);
        if kill {
            self.kill_containers(now, node, outage);
        }
        let lifecycle = self
            .scenario
            .lifecycle
            .as_ref()
            .expect("faults need a lifecycle (checked by the scenario)");
        let due = lifecycle.detected_at(now).max(now);
        self.health[node.0].detect_due = due;
        k.schedule_at(due, Event::HostDetected { node, epoch });
    }

    /// The host's containers die in `outage`, and any image pull in progress.
    fn kill_containers(&mut self, now: SimTime, node: NodeId, outage: usize) {
        self.images[node.0].retain(|_, ready| *ready <= now);
        let on: Vec<usize> = self.on_node[node.0].iter().copied().collect();
        for pod in on {
            if matches!(self.pods[pod].state, PodState::Starting | PodState::Running) {
                self.lose(now, pod, outage);
            }
        }
    }

    /// The control plane no longer counts `pod`'s container: the pod is `Lost`, its pending
    /// events stale. A restart in place starts a new container; a crash it was restarting
    /// from is now a loss, measured as one.
    fn mark_lost(&mut self, pod: usize) {
        let rec = &mut self.pods[pod];
        if rec.state == PodState::Running {
            self.pods_running -= 1;
            self.network_epoch += 1;
        }
        rec.state = PodState::Lost;
        rec.started = None;
        rec.crashed_at = None;
        rec.incarnation += 1;
    }

    /// `pod`'s container died with its host in `outage`.
    pub(super) fn lose(&mut self, now: SimTime, pod: usize, outage: usize) {
        self.mark_lost(pod);
        let rec = &mut self.pods[pod];
        rec.losses += 1;
        self.pods_lost += 1;
        // Every loss counts in its outage (a pod bound to the host again before it was
        // declared failed, or replaced onto it behind a partition, loses again), so the
        // outages' losses add up to the run's; the recovery waits for each pod once.
        self.outages[outage].pods_lost += 1;
        if !rec.lost_in.contains(&outage) {
            rec.lost_in.push(outage);
            self.outages[outage].waiting += 1;
        }
        self.digest.record(now, TAG_POD_LOST, &[pod as u64]);
        self.touched(pod);
    }

    /// The control plane declares the host failed.
    pub(super) fn host_detected(&mut self, k: &mut Kernel<Event>, node: NodeId, epoch: u64) {
        let h = &mut self.health[node.0];
        if h.epoch != epoch || !h.is_down() {
            return;
        }
        h.detected = true;
        h.detected_at = k.now();
        let now = k.now();
        if let Some(o) = h.outage {
            self.outages[o].detected = Some(now);
        }
        self.digest.record(now, TAG_HOST_DETECTED, &[node.0 as u64]);
        // Kubernetes filters the node by its taints; the other schedulers read only the cordon
        // (swarm's ReadyFilter and Marathon's offers stand in for the node's status).
        let cordon = self.slots.iter().any(|s| s.stats.algorithm != "kubernetes");
        self.cluster.update_node(node, |n| {
            for effect in [TaintEffect::NoSchedule, TaintEffect::NoExecute] {
                n.taints.push(Taint {
                    key: UNREACHABLE.into(),
                    value: String::new(),
                    effect,
                });
            }
            n.unschedulable |= cordon;
        });
        if let Some(a) = self.allocator.as_mut() {
            a.set_reachable(node.0, false);
            let ids: Vec<u64> = a
                .outstanding()
                .filter(|o| o.agent == node.0)
                .map(|o| o.id)
                .collect();
            for id in ids {
                self.rescind(id);
            }
        }
        let delay = self.lifecycle().eviction_delay;
        if delay == SimDuration::ZERO {
            self.host_evicted(k, node, epoch);
        } else {
            k.schedule_in(delay, Event::HostEvicted { node, epoch });
        }
    }

    pub(super) fn lifecycle(&self) -> &crate::orchestrator::Lifecycle {
        self.scenario
            .lifecycle
            .as_ref()
            .expect("host events come from faults, which need a lifecycle")
    }

    /// The pods bound to `node` whose containers died with it.
    fn lost_on(&self, node: NodeId) -> Vec<usize> {
        self.on_node[node.0]
            .iter()
            .copied()
            .filter(|&p| self.pods[p].state == PodState::Lost)
            .collect()
    }

    /// The pods of a failed host are given up and replaced.
    pub(super) fn host_evicted(&mut self, k: &mut Kernel<Event>, node: NodeId, epoch: u64) {
        let h = &mut self.health[node.0];
        if h.epoch != epoch || !h.is_down() {
            return;
        }
        h.evicted = true;
        let outage = h.outage;
        if let Some(o) = outage {
            self.outages[o].evicted = Some(k.now());
        }
        // Behind a partition the pods still run: the controller deletes and replaces them
        // all the same, and their containers run on, unseen, until the partition heals.
        if let Some(o) = outage.filter(|&o| self.outages[o].partition) {
            let running: Vec<usize> = self.on_node[node.0]
                .iter()
                .copied()
                .filter(|&p| matches!(self.pods[p].state, PodState::Starting | PodState::Running))
                .collect();
            for pod in running {
                self.partition_give_up(k, pod, o);
            }
        }
        let lost = self.lost_on(node);
        for pod in lost {
            self.give_up(k, pod);
        }
        self.kick_all(k);
    }

    /// A pod still running behind a partition is given up by its controller: replaced
    /// through the scheduler, its old container counted as running twice.
    /// (Counted as `duplicated`, not as lost or replaced: no container died.)
    fn partition_give_up(&mut self, k: &mut Kernel<Event>, pod: usize, outage: usize) {
        let o = &mut self.outages[outage];
        o.waiting += 1;
        o.duplicated += 1;
        // Given up as a lost pod is (the same delays), its container left to run unseen.
        self.mark_lost(pod);
        self.pods[pod].lost_in.push(outage);
        self.give_up(k, pod);
        self.touched(pod);
    }

    /// A lost pod's controller gives it up: its resources are freed and its replacement
    /// queued after the preset's replacement delay.
    pub(super) fn give_up(&mut self, k: &mut Kernel<Event>, pod: usize) {
        let restarts_in_place = self.lifecycle().restart_in_place;
        self.release(k, pod);
        let now = k.now();
        let rec = &mut self.pods[pod];
        rec.state = PodState::Pending;
        rec.queued = now;
        rec.bound = None;
        rec.bind_answered = None;
        rec.started = None;
        rec.node = None;
        rec.crashed_at = None;
        if let Some(&o) = rec.lost_in.last() {
            let o = &mut self.outages[o];
            // A pod given up behind a partition is duplicated, not replaced after a loss.
            if !o.partition {
                o.replaced += 1;
            }
        }
        // Its replacement is a new pod: the kubelet's back-off is per pod (a preset that
        // restarts in place); Marathon keeps its launch delay (per app).
        if restarts_in_place {
            rec.backoff = 0;
        }
        self.pods_pending += 1;
        self.digest.record(now, TAG_EVICTED, &[pod as u64]);
        let job = rec.job;
        if self.api.is_some() {
            // The taint-eviction controller deletes it; the ReplicaSet controller creates the
            // replacement once the deletion is answered (`api.rs`).
            self.delete_and_replace(k, super::api::Client::TaintEviction, pod);
            return;
        }
        let delay = self.lifecycle().replacement_delay;
        self.requeue_after(k, job, delay);
    }

    /// Queues `job` for a decision `delay` from now (its controller's replacement), unless it
    /// is on its way to one already, which will take its waiting pods too.
    pub(super) fn requeue_after(&mut self, k: &mut Kernel<Event>, job: usize, delay: SimDuration) {
        let requeue = match self.jobs[job].place {
            JobPlace::Idle => true,
            JobPlace::Parked(key) => {
                let s = self.path[self.jobs[job].workload];
                self.slots[s].parked.remove(job, key);
                true
            }
            // Being decided on the pods that waited when the decision began: back in the
            // queue once it ends.
            JobPlace::Deciding => {
                self.jobs[job].requeue = true;
                false
            }
            // Already on its way to a decision, which will take this pod too.
            JobPlace::Queued | JobPlace::Retrying => false,
        };
        if requeue {
            if delay == SimDuration::ZERO {
                self.enqueue(job);
            } else {
                self.jobs[job].place = JobPlace::Retrying;
                k.schedule_in(delay, Event::Retry { job });
            }
        }
    }

    /// An outage ends; when it was the host's last, the host is back: cordon and taints
    /// lifted, and pods not given up yet restart in place.
    pub(super) fn host_up(&mut self, k: &mut Kernel<Event>, outage: usize) {
        // The hosts the traffic runs on may change.
        self.network_epoch += 1;
        let now = k.now();
        let node = self.outages[outage].node;
        self.outages[outage].up = Some(now);
        let h = &mut self.health[node.0];
        h.down -= 1;
        if h.down > 0 {
            return;
        }
        h.epoch += 1;
        h.outage = None;
        h.evicted = false;
        h.killed = false;
        let was_detected = std::mem::take(&mut h.detected);
        self.digest.record(now, TAG_HOST_UP, &[node.0 as u64]);
        if was_detected {
            // A host without a pod subnet stays out of reach: it never had a network.
            let networked = self.addresses.as_ref().is_none_or(|a| a.has_subnet(node.0));
            // A host a provisioner has not launched (or removed) stays out of placement.
            let held_out = self.held_out(node.0);
            self.cluster.update_node(node, |n| {
                n.taints.retain(|t| t.key != UNREACHABLE);
                n.unschedulable = !networked || held_out;
            });
            if let Some(a) = self.allocator.as_mut() {
                a.set_reachable(node.0, networked);
            }
        }
        let lost = self.lost_on(node);
        let in_place = self.lifecycle().restart_in_place;
        for pod in lost {
            if !in_place {
                // Swarm and Marathon hear from the returning agent that its tasks died and
                // replace them as new tasks through the scheduler.
                self.give_up(k, pod);
                continue;
            }
            let rec = &mut self.pods[pod];
            rec.state = PodState::Starting;
            rec.restarts_in_place += 1;
            if let Some(&o) = rec.lost_in.last() {
                self.outages[o].restarted_in_place += 1;
            }
            self.restarts_in_place += 1;
            let incarnation = rec.incarnation;
            if self.api.is_some() && rec.bind_answered.is_none() {
                // Its Bind is still on its way: the kubelet starts it once it is answered.
                continue;
            }
            // A pod bound while the host was down never had its sandbox: it needs an
            // address (and may wait for one).
            if !self.address_for(k, pod, node) {
                continue;
            }
            // The image may not be there: the pod may have been bound while the host was
            // down, or its pull died with the host.
            let delay = self.pull_and_start(now, pod, node);
            k.schedule_in(delay, Event::Started { pod, incarnation });
        }
        // Parked jobs may fit on the host again.
        for s in 0..self.slots.len() {
            for job in self.slots[s].parked.wake(0, true, |_| 0, |_| true) {
                self.enqueue(job);
            }
        }
        self.kick_all(k);
    }

    /// A pod was just bound to `node`: on a host that is down it never starts (lost at
    /// once, and given up at once if the host's pods already were).
    pub(super) fn bound_to_down_host(&mut self, k: &mut Kernel<Event>, pod: usize, node: NodeId) {
        let h = &self.health[node.0];
        let (outage, evicted) = (h.outage, h.evicted);
        if let Some(o) = outage {
            self.lose(k.now(), pod, o);
            if evicted {
                self.give_up(k, pod);
            }
        }
    }

    /// A container of `pod` started: a lost pod counts towards its outage's recovery.
    pub(super) fn recovered(&mut self, now: SimTime, pod: usize) {
        for o in std::mem::take(&mut self.pods[pod].lost_in) {
            let rec = &mut self.outages[o];
            rec.waiting -= 1;
            if rec.waiting == 0 {
                rec.recovered = Some(now);
            }
        }
    }

    /// Delay from a bind on `node` to the container running: the image pull if the host
    /// lacks the pod's image (or waits for one in progress), then the container start.
    pub(super) fn pull_and_start(&mut self, now: SimTime, pod: usize, node: NodeId) -> SimDuration {
        let (workload, version) = (self.pods[pod].workload, self.pods[pod].version);
        // The new version's image is its upgrade's.
        let image_mib = match version {
            0 => self
                .scenario
                .workloads
                .get(workload)
                .map_or(0.0, |w| w.image_mib),
            _ => self
                .scenario
                .upgrades
                .iter()
                .find(|u| u.workload == workload)
                .map_or(0.0, |u| u.image_mib),
        };
        let pull = if image_mib > 0.0 {
            let images = &mut self.images[node.0];
            let ready = match images.get(&(workload, version)) {
                Some(&ready) => ready,
                None => {
                    // A slow-registry fault in effect now slows the whole pull.
                    let rate = self
                        .scenario
                        .faults
                        .iter()
                        .filter_map(|f| f.registry_rate_at(now))
                        .fold(self.scenario.registry_mbit_s, f64::min);
                    let secs = image_mib * MBIT_PER_MIB / rate;
                    let ready =
                        now + SimDuration::try_from_secs_f64(secs).unwrap_or(SimDuration(u64::MAX));
                    images.insert((workload, version), ready);
                    self.image_pulls += 1;
                    ready
                }
            };
            ready.since(now.min(ready))
        } else {
            SimDuration::ZERO
        };
        pull + self.start_delay()
    }

    /// A container just started: containers of a workload with random crashes get their
    /// crash time (drawn from the fault's stream); a restarted one counts its recovery.
    pub(super) fn container_started(&mut self, k: &mut Kernel<Event>, pod: usize) {
        let now = k.now();
        let (workload, incarnation) = (self.pods[pod].workload, self.pods[pod].incarnation);
        for (f, fault) in self.scenario.faults.iter().enumerate() {
            if let (Some(w), crate::faults::FaultTiming::Random { mtbf, .. }) =
                (fault.workload, &fault.timing)
            {
                if w == workload {
                    let mean = mtbf.as_secs_f64();
                    let draw =
                        crate::dist::Dist::Exponential { mean }.sample(&mut self.crash_streams[f]);
                    let at =
                        now + SimDuration::try_from_secs_f64(draw).unwrap_or(SimDuration(u64::MAX));
                    if at <= self.until {
                        k.schedule_at(at, Event::Crash { pod, incarnation });
                    }
                }
            }
        }
        if let Some(crashed) = self.pods[pod].crashed_at.take() {
            self.crash_recovery_ns += u128::from(now.since(crashed).as_nanos());
            self.crash_recoveries += 1;
        }
    }

    /// Every running container of the fault's workload crashes now.
    pub(super) fn crash_all(&mut self, k: &mut Kernel<Event>, fault: usize) {
        let Some(w) = self.scenario.faults[fault].workload else {
            return;
        };
        let running: Vec<(usize, u32)> = (0..self.pods.len())
            .filter(|&p| self.pods[p].workload == w && self.pods[p].state == PodState::Running)
            .map(|p| (p, self.pods[p].incarnation))
            .collect();
        for (pod, incarnation) in running {
            self.crash(k, pod, incarnation);
        }
    }

    /// `pod`'s container exits with an error: its Job's controller takes it over, or under
    /// restart policy `Never` the pod fails, or it is restarted (`exited`).
    pub(super) fn crash(&mut self, k: &mut Kernel<Event>, pod: usize, incarnation: u32) {
        let rec = &self.pods[pod];
        if rec.incarnation != incarnation || rec.state != PodState::Running {
            return;
        }
        let workload = rec.workload;
        if self.job_pod_crashed(k, pod) {
            return;
        }
        let never = self
            .scenario
            .workloads
            .get(workload)
            .is_some_and(|w| w.restart_policy == crate::scenario::RestartPolicy::Never);
        if never {
            self.fail_pod(k, pod);
            return;
        }
        self.exited(k, pod, true);
    }

    /// `pod`'s container exited — with an error (`failed`), or after its run under
    /// `restart_policy = "Always"` — and is restarted after the preset's back-off: in place,
    /// or as a new task through the scheduler.
    pub(super) fn exited(&mut self, k: &mut Kernel<Event>, pod: usize, failed: bool) {
        let now = k.now();
        self.network_exited(pod);
        let l = self.lifecycle();
        let (in_place, reset) = (l.restart_in_place, l.restart_reset);
        let rec = &mut self.pods[pod];
        // A container that ran long enough starts its back-off over (the kubelet after 10
        // minutes; 0: never).
        if reset > SimDuration::ZERO && rec.started.is_some_and(|s| now.since(s) >= reset) {
            rec.backoff = 0;
        }
        rec.backoff += 1;
        if failed {
            rec.crashes += 1;
            rec.crashed_at = Some(now);
        }
        rec.incarnation += 1;
        rec.started = None;
        let (n, job) = (rec.backoff, rec.job);
        self.pods_running -= 1;
        self.network_epoch += 1;
        self.touched(pod);
        if failed {
            self.crashes += 1;
            self.digest.record(now, TAG_CRASH, &[pod as u64]);
        } else {
            self.digest.record(now, TAG_RESTART, &[pod as u64]);
        }
        let delay = self.lifecycle().restart_backoff(n);
        if !failed {
            self.restarts_completed += 1;
        }
        if in_place {
            let rec = &mut self.pods[pod];
            rec.state = PodState::Starting;
            if failed {
                rec.restarts_in_place += 1;
                self.restarts_in_place += 1;
            }
            let incarnation = rec.incarnation;
            let start = self.start_delay();
            k.schedule_in(delay + start, Event::Started { pod, incarnation });
        } else {
            self.release(k, pod);
            let rec = &mut self.pods[pod];
            rec.state = PodState::Pending;
            rec.queued = now;
            rec.bound = None;
            rec.bind_answered = None;
            rec.node = None;
            self.pods_pending += 1;
            if failed {
                self.crash_reschedules += 1;
            }
            self.requeue_after(k, job, delay);
            self.kick_all(k);
        }
    }

    /// A container start (`[orchestrator] start_latency_s`).
    pub(super) fn start_delay(&mut self) -> SimDuration {
        let delay = self
            .scenario
            .start_latency_s
            .sample(&mut self.start_latency);
        SimDuration::try_from_secs_f64(delay).unwrap_or(SimDuration(u64::MAX))
    }
}
