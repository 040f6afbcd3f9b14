//! The two-level control plane: the Mesos allocator offers free resources to frameworks
//! every allocation interval, and each framework's scheduler — an ordinary one from
//! `orchsim-sched` — places its queued jobs on what it holds.
//!
//! As the Omega paper's Mesos model and Mesos itself do it: a framework with offers and
//! queued jobs decides its jobs one after another on a view of the cluster in which only the
//! offered resources are free, and answers only after the sum of their decision times (the
//! offers stay locked meanwhile); it launches what still fits in the offers it holds (one
//! rescinded meanwhile takes its share away), accepts what that uses (refusing the rest for
//! `accept_refuse_s`) and declines offers it did not use (refused for `refuse_s`). A
//! framework with nothing queued is suppressed (Marathon's default `--suppress_offers`) and
//! gives back offers it holds. Frameworks cannot preempt: a pod that would need it counts as
//! finding no room. Offers carry CPU, memory and GPU (milli-GPU, as Mesos offers `gpus` as a
//! scalar); which devices a GPU pod gets is the framework's choice on the node, and a device
//! another framework took meanwhile makes the cluster refuse the launch, which then counts as
//! a failed launch.

use std::collections::BTreeMap;

use orchsim_kernel::{Kernel, SimDuration};
use orchsim_sched::mesos::allocator::Offer;
use orchsim_sched::mesos::drf::{Vector, RESOURCES};
use orchsim_sched::{Decision, NodeId};

use super::{
    decision_time, offered_sum, vector, Event, JobPlace, PodState, World, NO_NODE, TAG_DECISION,
    TAG_OFFER,
};
use crate::control_plane::{ControlPlaneKind, TwoLevel};

impl World<'_> {
    fn two_level(&self) -> TwoLevel {
        match self.scenario.control_plane.kind {
            ControlPlaneKind::TwoLevel(tl) => tl,
            _ => unreachable!("offers exist only in a two-level control plane"),
        }
    }

    /// One allocation cycle: frameworks with work ask for offers, the allocator makes them,
    /// every framework decides on what it holds.
    pub(super) fn allocation_tick(&mut self, k: &mut Kernel<Event>) {
        let tl = self.two_level();
        let now = k.now();
        let Some(a) = self.allocator.as_mut() else {
            return;
        };
        for (s, spec) in self.scenario.control_plane.schedulers.iter().enumerate() {
            let slot = &self.slots[s];
            a.set_active(&spec.name, !slot.queue.is_empty() || slot.busy);
        }
        let offers = if tl.whole_cell {
            a.allocate_cell(now.as_nanos())
        } else {
            a.allocate(now.as_nanos())
        };
        for o in offers {
            let Some(s) = self
                .scenario
                .control_plane
                .schedulers
                .iter()
                .position(|f| f.name == o.framework)
            else {
                self.audit_error.get_or_insert(format!(
                    "offer {} to unknown framework {}",
                    o.id, o.framework
                ));
                continue;
            };
            self.digest.record(
                now,
                TAG_OFFER,
                &[
                    s as u64,
                    o.agent as u64,
                    o.resources[0],
                    o.resources[1],
                    o.resources[2],
                ],
            );
            self.offer_of.insert(o.id, s);
            self.slots[s].stats.offers_received += 1;
            if let Some(t) = tl.offer_timeout {
                k.schedule_in(t, Event::OfferTimeout { id: o.id });
            }
            self.slots[s].held.push(o);
        }
        for s in 0..self.slots.len() {
            self.framework_decides(k, s);
        }
        let next = now + tl.allocation_interval;
        if next <= self.until {
            k.schedule_at(next, Event::AllocationTick);
        }
    }

    /// Makes the live cluster look as a framework holding `offers` sees it: every node with
    /// its pods, but free only what is offered to it there. Returns what to restore with
    /// [`World::lift_offer_view`]; nothing else happens in between (a framework plans in one
    /// instant), so the cluster is never seen this way by anyone else.
    fn offer_view(&mut self, offers: &[Offer]) -> Vec<orchsim_sched::Resources> {
        let mut offered = vec![[0u64; RESOURCES]; self.cluster.nodes().len()];
        for o in offers {
            for (x, y) in offered[o.agent].iter_mut().zip(o.resources) {
                *x += y;
            }
        }
        offered
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let n = &self.cluster.nodes()[i];
                let mut view = n.allocatable;
                view.cpu_milli = n.requested.cpu_milli + o[0];
                view.memory_bytes = n.requested.memory_bytes + o[1];
                view.gpu_milli = n.requested.gpu_milli + o[2];
                if o.iter().all(|&x| x == 0) {
                    view.pods = n.requested.pods;
                }
                self.cluster.set_allocatable(NodeId(i), view)
            })
            .collect()
    }

    fn lift_offer_view(&mut self, saved: Vec<orchsim_sched::Resources>) {
        for (i, a) in saved.into_iter().enumerate() {
            self.cluster.set_allocatable(NodeId(i), a);
        }
    }

    /// A framework with offers and queued jobs plans its jobs on the offered resources, one
    /// after another, and answers after the sum of their decision times. Offers arriving
    /// meanwhile wait for its next decision.
    pub(super) fn framework_decides(&mut self, k: &mut Kernel<Event>, s: usize) {
        if self.slots[s].busy || self.slots[s].held.is_empty() {
            return;
        }
        let now = k.now();
        let offers = std::mem::take(&mut self.slots[s].held);
        if self.slots[s].queue.is_empty() {
            // Nothing to place: give the offers back.
            self.slots[s].deciding_offers = offers;
            self.slots[s].busy = true;
            self.slots[s].started = now;
            self.framework_answers(k, s);
            return;
        }
        let saved = self.offer_view(&offers);
        let mut tentative = Vec::new();
        let mut think = SimDuration::ZERO;
        let mut planned = Vec::new();
        let mut considered = Vec::new();
        while let Some((_, _, job)) = self.slots[s].queue.pop_first() {
            let pods = self.unplaced(job);
            if pods.is_empty() {
                self.jobs[job].place = JobPlace::Idle;
                continue;
            }
            self.jobs[job].dequeued.get_or_insert(now);
            self.jobs[job].place = JobPlace::Deciding;
            let (plan, filtered) = self.plan_pods(s, &pods, true, &mut tentative);
            let placed_any = plan
                .first()
                .is_some_and(|p| matches!(p.decision, Decision::Bind { .. }));
            planned.extend(plan);
            let cost = self.cost_of(s, job);
            think = think + decision_time(&cost, pods.len(), filtered);
            considered.push(job);
            // The offers are used up as far as this framework can tell: stop rather than walk
            // the whole backlog (each job tried costs its decision time).
            let exhausted = offers.iter().all(|o| {
                vector(&self.cluster.nodes()[o.agent].free())
                    .iter()
                    .all(|&x| x == 0)
            });
            if !placed_any || exhausted {
                break;
            }
        }
        self.undo(tentative);
        self.lift_offer_view(saved);
        let slot = &mut self.slots[s];
        slot.busy = true;
        slot.started = now;
        slot.epoch = self.release_epoch;
        slot.booked_ns = slot.booked_ns.saturating_add(think.as_nanos());
        slot.busy_until = now + think;
        slot.deciding_jobs = considered;
        slot.planned = planned;
        slot.deciding_offers = offers;
        k.schedule_in(think, Event::FrameworkDone { slot: s });
    }

    /// Answers the offers the decision used: launches the planned pods that still fit in
    /// what it holds on each node, accepts what they use and declines the rest; then decides
    /// again on offers that came meanwhile.
    pub(super) fn framework_answers(&mut self, k: &mut Kernel<Event>, s: usize) {
        let tl = self.two_level();
        let now = k.now();
        let slot = &mut self.slots[s];
        slot.busy = false;
        let offers = std::mem::take(&mut slot.deciding_offers);
        let planned = std::mem::take(&mut slot.planned);
        let considered = std::mem::take(&mut slot.deciding_jobs);
        let epoch = slot.epoch;
        let mut by_agent: BTreeMap<usize, Vec<Offer>> = BTreeMap::new();
        for o in offers {
            self.offer_of.remove(&o.id);
            by_agent.entry(o.agent).or_default().push(o);
        }
        let mut launched: Vec<(usize, orchsim_sched::NodeId, Vec<u8>)> = Vec::new();
        let mut lost: Vec<(usize, String)> = Vec::new();
        let mut no_node: Vec<(usize, String)> = Vec::new();
        let mut room_left: BTreeMap<usize, Vector> = by_agent
            .iter()
            .map(|(&a, os)| (a, offered_sum(os)))
            .collect();
        for p in planned {
            match p.decision {
                // Mesos offers GPUs as a count; the agent's GPU isolator picks the devices at
                // launch (src/slave/containerizer/mesos/isolators/gpu/allocator.hpp,
                // `NvidiaGpuAllocator::allocate(count)`), so the framework's own device choice
                // is not what binds. Two frameworks planning on parts of one host's GPUs cannot
                // collide on a device that way.
                Decision::Bind { node, .. } => {
                    let d = vector(&self.pods[p.pod].spec.requests);
                    let fits = room_left
                        .get(&node.0)
                        .is_some_and(|r| r.iter().zip(&d).all(|(r, d)| r >= d));
                    if !fits {
                        lost.push((p.pod, "the offer it was planned on was rescinded".into()));
                        continue;
                    }
                    match self.commit_to_cluster(now, p.pod, node, None) {
                        Ok(devices) => {
                            if let Some(r) = room_left.get_mut(&node.0) {
                                for (r, d) in r.iter_mut().zip(d) {
                                    *r -= d;
                                }
                            }
                            launched.push((p.pod, node, devices));
                        }
                        Err(why) => lost.push((p.pod, format!("launch failed: {why}"))),
                    }
                }
                Decision::Unschedulable(why) => no_node.push((p.pod, why.to_string())),
                Decision::Preempt { .. } => {
                    no_node.push((p.pod, "a framework cannot preempt".into()))
                }
            }
        }
        // Accept what was launched on each agent, offer by offer; decline offers not used.
        let frameworks = &self.scenario.control_plane.schedulers;
        if let Some(a) = self.allocator.as_mut() {
            for (agent, offers) in by_agent {
                let total = offered_sum(&offers);
                let left = room_left.get(&agent).copied().unwrap_or(total);
                let mut used: Vector = std::array::from_fn(|d| total[d] - left[d]);
                for o in offers {
                    let take: Vector = std::array::from_fn(|d| used[d].min(o.resources[d]));
                    for (u, t) in used.iter_mut().zip(take) {
                        *u -= t;
                    }
                    let answer = if take.iter().all(|&x| x == 0) {
                        self.slots[s].stats.offers_declined += 1;
                        a.decline(o.id, Some(tl.refuse.as_nanos()), now.as_nanos())
                    } else {
                        a.accept(
                            o.id,
                            take,
                            Some(tl.accept_refuse.as_nanos()),
                            now.as_nanos(),
                        )
                    };
                    if let Err(e) = answer {
                        self.audit_error
                            .get_or_insert(format!("{}: offer {}: {e}", frameworks[s].name, o.id));
                    }
                }
            }
        }
        for (pod, node, devices) in launched.iter().cloned() {
            self.bound(k, pod, node, devices);
        }
        for (pod, why) in lost.into_iter().chain(no_node) {
            let rec = &mut self.pods[pod];
            rec.state = PodState::Unschedulable;
            rec.last_failure = Some(why);
            self.digest
                .record(now, TAG_DECISION, &[pod as u64, NO_NODE]);
        }
        for job in considered {
            let placed = launched.iter().any(|(p, _, _)| self.pods[*p].job == job);
            let st = &mut self.slots[s].stats;
            st.decisions += 1;
            if placed {
                st.transactions += 1;
            } else {
                st.no_room += 1;
            }
            self.after_attempt(k, job, epoch != self.release_epoch);
        }
        self.observe_decision();
        self.framework_decides(k, s);
    }

    /// An offer not answered in time is rescinded (Mesos `--offer_timeout`).
    pub(super) fn offer_timeout(&mut self, id: u64) {
        self.rescind(id);
    }

    /// Takes an outstanding offer back from the framework holding it (offer timeout, agent
    /// unreachable).
    pub(super) fn rescind(&mut self, id: u64) {
        let Some(&s) = self.offer_of.get(&id) else {
            return;
        };
        let Some(a) = self.allocator.as_mut() else {
            return;
        };
        if a.rescind(id).is_ok() {
            self.offer_of.remove(&id);
            let slot = &mut self.slots[s];
            slot.stats.offers_rescinded += 1;
            slot.held.retain(|o| o.id != id);
            slot.deciding_offers.retain(|o| o.id != id);
        }
    }
}
