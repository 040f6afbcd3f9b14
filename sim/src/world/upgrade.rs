//! Rollouts (`[[upgrades]]`): a service's pods replaced by a new version, as the
//! orchestrator's controller does it, and what the service's availability was meanwhile.
//!
//! *Rolling* follows kube-controller-manager's Deployment controller (v1.33
//! pkg/controller/deployment/rolling.go) at every change of the service's pods: the new
//! version scales up to at most `desired + max_surge` pods in all (and `desired` new ones),
//! then old pods go — first those not ready, then ready ones while more than
//! `desired − max_unavailable` are ready (`maxScaledDown = all − minAvailable −
//! newUnavailable`). Swarm's stop-first update of one task at a time and Marathon's
//! minimumHealthCapacity / maximumOverCapacity are the same rule with their presets' numbers.
//! New pods go through the scheduler like every other pod; deleted old pods end `deleted`.
//!
//! *Rebuild in place* replaces each running old container on its own node — new image pulled
//! there, volume kept, no scheduling — taking down at most as many as `max_unavailable` (at
//! least one) allows.
//!
//! A pod is ready `ready_delay` after its container starts. Between changes the ready and live
//! counts are constant, so the time below the desired count and the missing replica-seconds
//! are exact.

use std::collections::BTreeSet;

use orchsim_kernel::{Kernel, SimDuration, SimTime};
use orchsim_sched::NodeId;

use super::{Event, JobPlace, PodState, World};
use crate::upgrades::{Strategy, Volume};

/// Megabits (10⁶ bits) in a GiB (2³⁰ bytes).
const MBIT_PER_GIB: f64 = 8_589.934_592;

/// One upgrade's progress and what it measured (`upgrades.csv`).
#[derive(Clone, Debug, PartialEq)]
pub struct RolloutRecord {
    pub workload: String,
    pub strategy: Strategy,
    pub desired: u64,
    /// Surge and unavailability in replicas, after rounding (and Kubernetes' fenceposts).
    pub max_surge: u64,
    pub max_unavailable: u64,
    pub started: Option<SimTime>,
    /// When no old pod was left and `desired` new ones were ready.
    pub finished: Option<SimTime>,
    /// Ready pods at the start, the fewest and the most pods alive at once during it.
    pub ready_at_start: u64,
    pub min_ready: u64,
    pub max_pods: u64,
    /// Time with fewer than `desired` ready, and the missing replica-time, in ns.
    pub below_desired_ns: u128,
    pub deficit_replica_ns: u128,
    pub created: u64,
    pub deleted: u64,
    pub rebuilt: u64,
    /// New pods that took over an old pod's volume by copying it, by reattaching it, and the
    /// data copied (GiB).
    pub volume_copies: u64,
    pub volume_reattached: u64,
    pub copied_gib: f64,
}

/// A rollout in the world.
pub(super) struct Rollout {
    upgrade: usize,
    pub(super) record: RolloutRecord,
    version: u32,
    last: SimTime,
    ready: u64,
    /// Old pods whose volumes no new pod has taken yet, and new pods that took one.
    unclaimed: BTreeSet<usize>,
    claimed: BTreeSet<usize>,
}

impl World<'_> {
    /// The rollouts of the scenario's upgrades, each waiting for its time.
    pub(super) fn plan_rollouts(&mut self, k: &mut Kernel<Event>) {
        for (i, u) in self.scenario.upgrades.iter().enumerate() {
            let w = &self.scenario.workloads[u.workload];
            let desired = w.max_pods.unwrap_or(0);
            let l = self.scenario.lifecycle.as_ref();
            let surge = u
                .max_surge
                .or(l.map(|l| l.upgrade_max_surge))
                .map_or(0, |r| r.of(desired, true));
            let mut unavailable = u
                .max_unavailable
                .or(l.map(|l| l.upgrade_max_unavailable))
                .map_or(1, |r| r.of(desired, false));
            // deployment/util ResolveFenceposts: both zero would never make progress.
            if surge == 0 && unavailable == 0 || u.strategy == Strategy::RebuildInPlace {
                unavailable = unavailable.max(1);
            }
            self.rollout_of[u.workload] = Some(self.rollouts.len());
            self.tracked[u.workload] = true;
            self.rollouts.push(Rollout {
                upgrade: i,
                record: RolloutRecord {
                    workload: w.name.clone(),
                    strategy: u.strategy,
                    desired,
                    max_surge: surge,
                    max_unavailable: unavailable,
                    started: None,
                    finished: None,
                    ready_at_start: 0,
                    min_ready: u64::MAX,
                    max_pods: 0,
                    below_desired_ns: 0,
                    deficit_replica_ns: 0,
                    created: 0,
                    deleted: 0,
                    rebuilt: 0,
                    volume_copies: 0,
                    volume_reattached: 0,
                    copied_gib: 0.0,
                },
                version: 1,
                last: SimTime::ZERO,
                ready: 0,
                unclaimed: BTreeSet::new(),
                claimed: BTreeSet::new(),
            });
            k.schedule_at(SimTime::ZERO + u.at, Event::UpgradeStart { rollout: i });
        }
    }

    /// The upgrade's time has come.
    pub(super) fn upgrade_start(&mut self, k: &mut Kernel<Event>, rollout: usize) {
        let now = k.now();
        let w = self.scenario.upgrades[self.rollouts[rollout].upgrade].workload;
        let (live, ready) = self.census(w, now, u32::MAX);
        // Volumes with data: those of the pods placed somewhere.
        let unclaimed = self.workload_pods[w]
            .iter()
            .copied()
            .filter(|&p| self.is_live(p) && self.pods[p].node.is_some())
            .collect();
        let r = &mut self.rollouts[rollout];
        r.unclaimed = unclaimed;
        r.record.started = Some(now);
        r.record.ready_at_start = ready.0 + ready.1;
        r.last = now;
        r.ready = ready.0 + ready.1;
        r.record.min_ready = r.ready;
        r.record.max_pods = live.0 + live.1;
        self.workload_changed(k, w);
    }

    pub(super) fn is_live(&self, p: usize) -> bool {
        matches!(
            self.pods[p].state,
            PodState::Pending
                | PodState::Unschedulable
                | PodState::Starting
                | PodState::Running
                | PodState::Lost
        )
    }

    pub(super) fn is_ready(&self, p: usize, now: SimTime, delay: SimDuration) -> bool {
        let rec = &self.pods[p];
        rec.state == PodState::Running && rec.started.is_some_and(|s| s + delay <= now)
    }

    /// Live and ready pods of workload `w`, each as (older than `version`, the rest).
    pub(super) fn census(&self, w: usize, now: SimTime, version: u32) -> ((u64, u64), (u64, u64)) {
        let delay = self
            .rollout_of
            .get(w)
            .copied()
            .flatten()
            .map_or(SimDuration::ZERO, |r| {
                self.scenario.upgrades[self.rollouts[r].upgrade].ready_delay
            });
        let (mut live, mut ready) = ((0, 0), (0, 0));
        for &p in &self.workload_pods[w] {
            let old = self.pods[p].version < version;
            if self.is_live(p) {
                if old {
                    live.0 += 1
                } else {
                    live.1 += 1
                }
            }
            if self.is_ready(p, now, delay) {
                if old {
                    ready.0 += 1
                } else {
                    ready.1 += 1
                }
            }
        }
        (live, ready)
    }

    /// After an event that touched a pod of a workload being upgraded (`upgrade_dirty`): its
    /// rollout accounts for the time since the last change (nothing changes between such
    /// events) and acts on the pods as they are.
    pub(super) fn poke_rollouts(&mut self, k: &mut Kernel<Event>) {
        for r in 0..self.rollouts.len() {
            let w = self.scenario.upgrades[self.rollouts[r].upgrade].workload;
            if std::mem::take(&mut self.upgrade_dirty[w]) {
                self.workload_changed(k, w);
            }
        }
    }

    /// A pod of workload `w` may have changed: an upgrade in progress accounts for the time
    /// since the last change and acts — step after step, as the controller resyncs on its own
    /// changes, until a step changes nothing.
    pub(super) fn workload_changed(&mut self, k: &mut Kernel<Event>, w: usize) {
        let Some(r) = self.rollout_of.get(w).copied().flatten() else {
            return;
        };
        let rec = &self.rollouts[r].record;
        if rec.started.is_none() || rec.finished.is_some() {
            return;
        }
        self.observe(k.now(), r);
        let mut changed = false;
        // Each step creates or deletes at least one pod or rebuilds one, so the loop ends;
        // the bound only guards against a bug turning into a hang.
        for _ in 0..4 * self.rollouts[r].record.desired + 4 {
            let step = match self.rollouts[r].record.strategy {
                Strategy::Rolling => self.reconcile_rolling(k, r),
                Strategy::RebuildInPlace => self.reconcile_rebuild(k, r),
            };
            if !step {
                break;
            }
            changed = true;
        }
        self.upgrade_dirty[w] = false;
        if changed {
            // Deletions freed room that parked pods may take.
            self.kick_all(k);
        }
        self.observe(k.now(), r);
        let version = self.rollouts[r].version;
        let (live, ready) = self.census(w, k.now(), version);
        let desired = self.rollouts[r].record.desired;
        if live.0 == 0 && ready.1 >= desired {
            self.rollouts[r].record.finished = Some(k.now());
        }
    }

    /// Closes the interval since the last change with the counts that held over it, and
    /// takes the new counts.
    fn observe(&mut self, now: SimTime, r: usize) {
        let w = self.scenario.upgrades[self.rollouts[r].upgrade].workload;
        let (live, ready) = self.census(w, now, u32::MAX);
        let ro = &mut self.rollouts[r];
        let dt = u128::from(now.since(ro.last).as_nanos());
        let missing = ro.record.desired.saturating_sub(ro.ready);
        if missing > 0 {
            ro.record.below_desired_ns += dt;
            ro.record.deficit_replica_ns += dt * u128::from(missing);
        }
        ro.last = now;
        ro.ready = ready.0 + ready.1;
        ro.record.min_ready = ro.record.min_ready.min(ro.ready);
        ro.record.max_pods = ro.record.max_pods.max(live.0 + live.1);
    }

    /// Kubernetes' rolling update, one step; whether it changed anything.
    fn reconcile_rolling(&mut self, k: &mut Kernel<Event>, r: usize) -> bool {
        let now = k.now();
        let (upgrade, version) = (self.rollouts[r].upgrade, self.rollouts[r].version);
        let w = self.scenario.upgrades[upgrade].workload;
        let rec = &self.rollouts[r].record;
        let (desired, surge, unavailable) = (rec.desired, rec.max_surge, rec.max_unavailable);
        let (live, ready) = self.census(w, now, version);
        // reconcileNewReplicaSet: up to desired + surge pods in all, desired new ones.
        let all = live.0 + live.1;
        let up = (desired + surge)
            .saturating_sub(all)
            .min(desired.saturating_sub(live.1));
        let mut created = 0;
        for _ in 0..up {
            if !self.create_new_version(k, r) {
                // No pod to take the template from yet: nothing to do before one exists.
                break;
            }
            created += 1;
        }
        let up = created;
        let all = all + up;
        let new_unavailable = (live.1 + up).saturating_sub(ready.1);
        // reconcileOldReplicaSets: maxScaledDown = all − minAvailable − newUnavailable.
        let min_available = desired.saturating_sub(unavailable);
        let mut budget = all
            .saturating_sub(min_available)
            .saturating_sub(new_unavailable);
        if budget == 0 {
            return up > 0;
        }
        // cleanupUnhealthyReplicas: old pods that are not ready go first, in the order of
        // controller.ActivePods: unassigned, then by phase (Pending, Unknown, Running), the
        // newest first among equals.
        let delay = self.scenario.upgrades[upgrade].ready_delay;
        let mut unready: Vec<usize> = self.workload_pods[w]
            .iter()
            .copied()
            .filter(|&p| {
                self.pods[p].version < version
                    && self.is_live(p)
                    && !self.is_ready(p, now, delay)
                    && self.jobs[self.pods[p].job].place != JobPlace::Deciding
            })
            .collect();
        let phase = |s: PodState| match s {
            PodState::Starting => 0,
            PodState::Lost => 1,
            _ => 2,
        };
        unready.sort_by_key(|&p| {
            let rec = &self.pods[p];
            (rec.node.is_some(), phase(rec.state), std::cmp::Reverse(p))
        });
        let mut deleted = 0;
        for p in unready.into_iter().take(budget as usize) {
            self.delete_pod(k, p);
            budget -= 1;
            deleted += 1;
        }
        // scaleDownOldReplicaSetsForRollingUpdate: ready old pods while more than
        // minAvailable are ready.
        let (_, ready) = self.census(w, now, version);
        let available = ready.0 + ready.1;
        let down = available.saturating_sub(min_available).min(budget);
        let victims: Vec<usize> = self.workload_pods[w]
            .iter()
            .rev()
            .copied()
            .filter(|&p| self.pods[p].version < version && self.is_ready(p, now, delay))
            .take(down as usize)
            .collect();
        deleted += victims.len();
        for p in victims {
            self.delete_pod(k, p);
        }
        up > 0 || deleted > 0
    }

    /// Rebuild in place, one step: running old containers replaced on their nodes while
    /// enough stay ready; whether it changed anything.
    fn reconcile_rebuild(&mut self, k: &mut Kernel<Event>, r: usize) -> bool {
        let now = k.now();
        let (upgrade, version) = (self.rollouts[r].upgrade, self.rollouts[r].version);
        let w = self.scenario.upgrades[upgrade].workload;
        let rec = &self.rollouts[r].record;
        let min_available = rec.desired.saturating_sub(rec.max_unavailable);
        // Old pods not placed yet simply start as the new version.
        let unplaced: Vec<usize> = self.workload_pods[w]
            .iter()
            .copied()
            .filter(|&p| {
                self.pods[p].version < version
                    && matches!(
                        self.pods[p].state,
                        PodState::Pending | PodState::Unschedulable
                    )
            })
            .collect();
        let bumped = !unplaced.is_empty();
        for p in unplaced {
            // It starts as the new version with a volume of its own.
            self.pods[p].version = version;
            self.rollouts[r].claimed.insert(p);
        }
        let (_, ready) = self.census(w, now, version);
        let can = (ready.0 + ready.1).saturating_sub(min_available);
        let victims: Vec<usize> = self.workload_pods[w]
            .iter()
            .copied()
            .filter(|&p| self.pods[p].version < version && self.pods[p].state == PodState::Running)
            .take(can as usize)
            .collect();
        let rebuilt = !victims.is_empty();
        for p in victims {
            self.rebuild(k, r, p);
        }
        bumped || rebuilt
    }

    /// The new version's pod, created by the workload's controller, to its scheduler.
    fn create_new_version(&mut self, k: &mut Kernel<Event>, r: usize) -> bool {
        let upgrade = self.rollouts[r].upgrade;
        let w = self.scenario.upgrades[upgrade].workload;
        let version = self.rollouts[r].version;
        let created = self.create_replica(k, w, version, false);
        if created {
            self.rollouts[r].record.created += 1;
        }
        created
    }

    /// A pod of `version` of service `w`, created by its ReplicaSet controller from the pod
    /// template (the service's first pod: a Deployment's pods share one template); false if
    /// the service has no pod yet to take it from. An autoscaler's pods are named apart
    /// (`<service>-h<n>`, which no generator makes) and leave the service's own arrivals, up
    /// to its `max_pods`, alone.
    pub(super) fn create_replica(
        &mut self,
        k: &mut Kernel<Event>,
        w: usize,
        version: u32,
        by_autoscaler: bool,
    ) -> bool {
        let Some(&template) = self.workload_pods[w].first() else {
            return false;
        };
        let g = &mut self.generators[w];
        let name = if by_autoscaler {
            g.scaled += 1;
            format!("{}-h{}", self.scenario.workloads[w].name, g.scaled - 1)
        } else {
            g.submitted += 1;
            format!("{}-{}", self.scenario.workloads[w].name, g.submitted - 1)
        };
        let old = &self.pods[template];
        let mut spec = (*old.spec).clone();
        spec.name = name;
        let run_for = old.run_for;
        self.submit_as(
            k,
            vec![(spec, run_for)],
            w,
            version,
            super::api::Client::ReplicaSet,
        );
        self.kick(k, self.path[w]);
        true
    }

    /// An old pod deleted by its controller: its container stops, its resources are freed.
    pub(super) fn delete_pod(&mut self, k: &mut Kernel<Event>, pod: usize) {
        let now = k.now();
        let state = self.pods[pod].state;
        if matches!(
            state,
            PodState::Starting | PodState::Running | PodState::Lost
        ) {
            self.release(k, pod);
        }
        // Its outages no longer wait for it: it is replaced, by the new version (counted as
        // a replacement of the outage it was last lost in, if it was still lost).
        if state == PodState::Lost {
            if let Some(&o) = self.pods[pod].lost_in.last() {
                self.outages[o].replaced += 1;
            }
        }
        if !self.pods[pod].lost_in.is_empty() {
            self.recovered(now, pod);
        }
        match state {
            PodState::Running => {
                self.pods_running -= 1;
                self.network_epoch += 1;
            }
            PodState::Pending | PodState::Unschedulable => self.pods_pending -= 1,
            _ => {}
        }
        let rec = &mut self.pods[pod];
        rec.state = PodState::Deleted;
        rec.finished = Some(now);
        rec.incarnation += 1;
        rec.crashed_at = None;
        self.api_request(
            k,
            super::api::Client::ReplicaSet,
            crate::api_server::Verb::Write,
            super::api::Then::Nothing,
        );
        if let Some(r) = self.rollout_of[self.pods[pod].workload] {
            self.rollouts[r].record.deleted += 1;
        }
        // A parked job left with nothing to place leaves the parked index.
        let job = self.pods[pod].job;
        if let JobPlace::Parked(key) = self.jobs[job].place {
            if self.unplaced(job).is_empty() {
                let s = self.path[self.jobs[job].workload];
                self.slots[s].parked.remove(job, key);
                self.jobs[job].place = JobPlace::Idle;
            }
        }
        self.digest.record(now, super::TAG_DELETED, &[pod as u64]);
    }

    /// `pod`'s container replaced by the new version's on its node: the new image pulled
    /// there, then started; its volume stays.
    fn rebuild(&mut self, k: &mut Kernel<Event>, r: usize, pod: usize) {
        let now = k.now();
        let version = self.rollouts[r].version;
        let rec = &mut self.pods[pod];
        let Some(node) = rec.node else { return };
        rec.state = PodState::Starting;
        rec.started = None;
        rec.incarnation += 1;
        rec.version = version;
        rec.rebuilds += 1;
        let incarnation = rec.incarnation;
        self.pods_running -= 1;
        self.network_epoch += 1;
        self.rollouts[r].record.rebuilt += 1;
        // Its volume stays its own.
        self.rollouts[r].unclaimed.remove(&pod);
        self.rollouts[r].claimed.insert(pod);
        self.digest.record(now, super::TAG_REBUILT, &[pod as u64]);
        let delay = self.pull_and_start(now, pod, node);
        k.schedule_in(delay, Event::Started { pod, incarnation });
    }

    /// A new-version pod about to start on `node` takes over an old pod's volume: one on the
    /// same node costs nothing, another is copied over the network (a local volume) or
    /// reattached (a distributed one). Returns the copy's time.
    pub(super) fn claim_volume(&mut self, pod: usize, node: NodeId) -> SimDuration {
        let w = self.pods[pod].workload;
        let Some(r) = self.rollout_of.get(w).copied().flatten() else {
            return SimDuration::ZERO;
        };
        let u = &self.scenario.upgrades[self.rollouts[r].upgrade];
        if u.volume_gib <= 0.0
            || self.pods[pod].version < self.rollouts[r].version
            || self.rollouts[r].claimed.contains(&pod)
        {
            return SimDuration::ZERO;
        }
        let unclaimed = &self.rollouts[r].unclaimed;
        let same = unclaimed
            .iter()
            .copied()
            .find(|&p| self.pods[p].node == Some(node));
        // A volume on a host that is down cannot be read.
        let elsewhere = || {
            unclaimed.iter().copied().find(|&p| {
                self.pods[p]
                    .node
                    .is_some_and(|n| !self.health[n.0].is_down())
            })
        };
        let (taken, moved) = match same {
            Some(p) => (p, false),
            None => match elsewhere() {
                Some(p) => (p, true),
                None => return SimDuration::ZERO,
            },
        };
        let (gib, volume, mbit_s) = (u.volume_gib, u.volume, u.volume_copy_mbit_s);
        let ro = &mut self.rollouts[r];
        ro.unclaimed.remove(&taken);
        ro.claimed.insert(pod);
        if !moved {
            return SimDuration::ZERO;
        }
        match volume {
            Volume::Distributed => {
                ro.record.volume_reattached += 1;
                SimDuration::ZERO
            }
            Volume::Local => {
                ro.record.volume_copies += 1;
                ro.record.copied_gib += gib;
                SimDuration::try_from_secs_f64(gib * MBIT_PER_GIB / mbit_s)
                    .unwrap_or(SimDuration(u64::MAX))
            }
        }
    }

    /// The upgrades' records at the end of the run (intervals closed at `end`).
    pub(crate) fn rollout_records(&mut self, end: SimTime) -> Vec<RolloutRecord> {
        for r in 0..self.rollouts.len() {
            let rec = &self.rollouts[r].record;
            if rec.started.is_some() && rec.finished.is_none() {
                self.observe(end, r);
            }
        }
        self.rollouts.iter().map(|r| r.record.clone()).collect()
    }

    /// A container of a workload with an upgrade started: it becomes ready after the
    /// upgrade's ready delay (an event, so the rollout sees it then).
    pub(super) fn schedule_ready(&mut self, k: &mut Kernel<Event>, pod: usize) {
        let w = self.pods[pod].workload;
        if let Some(r) = self.rollout_of.get(w).copied().flatten() {
            let u = &self.scenario.upgrades[self.rollouts[r].upgrade];
            let ready = k.now() + u.ready_delay;
            // Only readiness the rollout can see: not before it starts, not after it ends.
            if u.ready_delay > SimDuration::ZERO
                && ready > SimTime::ZERO + u.at
                && self.rollouts[r].record.finished.is_none()
            {
                k.schedule_at(ready, Event::PodReady { workload: w });
            }
        }
    }
}
