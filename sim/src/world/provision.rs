//! Hosts that a provisioner launches and removes (`[provisioning]`), and what they cost.
//!
//! Every host a group may ever have exists in the cluster from the start; those not launched
//! are *absent*: cordoned, outside the cluster's capacity and unbilled. A launch bills the
//! host at once and makes it Ready `provision_delay` later (uncordoned, its capacity counted,
//! parked pods woken). Removal drains it — its pods evicted and re-created through the
//! scheduler by their controllers — and ends its bill; a terminated host comes back without
//! images, as a new instance does.
//!
//! - **Cluster Autoscaler**: every `scan_interval`, the pods the scheduler parked that would
//!   not fit on hosts still launching are estimated onto each node group with room left
//!   (`provisioning::estimate`), the expander picks one group and it grows by the estimate.
//!   Without a scale-up in that scan, hosts of resizable groups whose requests are below the
//!   utilisation threshold and whose pods would all fit on the other Ready hosts are unneeded;
//!   after `scale_down_unneeded` (and out of the cooldowns after a scale-up or a removal) up
//!   to `max_empty_bulk_delete` empty ones, or one with pods, are removed.
//! - **Karpenter**: a parked pod opens a batch that closes after `batch_idle` without another
//!   (at most `batch_max`); its pods are packed onto new claims (`provisioning::pack`), each
//!   launched as the cheapest instance type that holds it. Every `disruption_poll`, within the
//!   disruption budget: empty hosts are removed; with `WhenEmptyOrUnderutilized`, the host
//!   cheapest to disrupt whose pods fit elsewhere is removed, or replaced by one cheaper host
//!   that takes the pods that do not (drained once the replacement is Ready).
//! - **Spot**: a Ready spot host is reclaimed after an exponential time of mean
//!   `spot_interruption_mean`; on the notice it is drained, and it is gone `spot_notice` later.

use orchsim_kernel::{Kernel, SimDuration, SimTime, StreamRng};
use orchsim_sched::{NodeId, NodeInfo, PodSpec, Resources};

use super::{Event, PodState, World};
use crate::provisioning::{self, Consolidation, Provisioner, Provisioning};

// Digest record kinds of provisioning (continuing the world's).
const TAG_LAUNCH: u8 = 15;
const TAG_NODE_READY: u8 = 16;
const TAG_NODE_GONE: u8 = 17;
const TAG_SPOT_NOTICE: u8 = 18;

/// Where a host stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Presence {
    Absent,
    Launching,
    Ready,
    /// Cordoned and drained, waiting for the end of its spot notice.
    Draining,
}

/// One host's book.
#[derive(Clone, Debug)]
struct Book {
    /// The host group (`None`: a trace node).
    group: Option<usize>,
    presence: Presence,
    /// Bumped at every launch and removal, so stale events are recognised.
    epoch: u64,
    billed_since: Option<SimTime>,
    /// Cluster Autoscaler: unneeded since.
    unneeded_since: Option<SimTime>,
    /// When a pod was last bound to it or left it (Karpenter's consolidateAfter).
    pods_changed: SimTime,
    /// A host to drain once this one is Ready (Karpenter's replacement).
    replaces: Option<usize>,
    /// Being replaced: no other disruption picks it.
    replaced: bool,
}

/// What the provisioner did, one row of `provisioning.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct ProvisionRecord {
    pub time: SimTime,
    /// `launch`, `ready`, `remove`, `spot-notice`, `gone`.
    pub action: &'static str,
    pub node: NodeId,
    pub group: usize,
    pub spot: bool,
    pub price_per_hour: f64,
    pub reason: String,
}

/// The provisioner's state.
pub(crate) struct Provision {
    config: Provisioning,
    books: Vec<Book>,
    /// One host of each group, as a new host of it would be.
    templates: Vec<NodeInfo>,
    expander: StreamRng,
    spot: StreamRng,
    last_scale_up: Option<SimTime>,
    last_scale_down: Option<SimTime>,
    /// Karpenter's open batch: (opened, last pending pod).
    batch: Option<(SimTime, SimTime)>,
    /// Karpenter's disruption waiting for its validation.
    command: Option<Command>,
    pub(crate) records: Vec<ProvisionRecord>,
    /// Hosts billed now, their integral (host·ns) and peak, and when it last changed.
    billed: u64,
    billed_integral: u128,
    pub(crate) billed_peak: u64,
    billed_changed: SimTime,
    /// Money spent on hosts that are gone, on-demand and spot.
    spent: [f64; 2],
    pub(crate) launches: u64,
    pub(crate) removals: u64,
    pub(crate) interruptions: u64,
    pub(crate) drained: u64,
}

impl Provision {
    /// A pod was bound to `node` or left it.
    pub(super) fn pods_changed(&mut self, now: SimTime, node: NodeId) {
        self.books[node.0].pods_changed = now;
    }
}

/// A disruption Karpenter decided and carries out after its validation wait.
#[derive(Clone, Debug)]
pub(crate) struct Command {
    decided: SimTime,
    /// The hosts to remove (empty ones), or the one host to remove or replace.
    nodes: Vec<usize>,
    /// The instance type (host group) of its replacement.
    replacement: Option<usize>,
    reason: String,
}

/// Totals of a run, for the summary.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProvisionTotals {
    pub hosts_mean: f64,
    pub hosts_peak: u64,
    pub launches: u64,
    pub removals: u64,
    pub interruptions: u64,
    pub drained: u64,
    pub cost_on_demand: f64,
    pub cost_spot: f64,
}

const NS_PER_HOUR: f64 = 3600e9;

impl World<'_> {
    /// Sets the provisioner up: hosts past their group's `count` absent, the first ticks.
    pub(super) fn plan_provisioning(
        &mut self,
        k: &mut Kernel<Event>,
        streams: &orchsim_kernel::RngStreams,
    ) {
        let Some(config) = self.scenario.provisioning.clone() else {
            return;
        };
        let mut books = Vec::new();
        let mut templates = Vec::new();
        for (g, h) in self.scenario.hosts.iter().enumerate() {
            let mut t = NodeInfo::new(format!("{}-new", h.name), h.capacity);
            t.labels = h.labels.clone();
            t.site = h.site.clone();
            templates.push(t);
            for i in 0..h.max_count() {
                books.push(Book {
                    group: Some(g),
                    presence: if i < h.count {
                        Presence::Ready
                    } else {
                        Presence::Absent
                    },
                    epoch: 0,
                    billed_since: (i < h.count).then_some(SimTime::ZERO),
                    unneeded_since: None,
                    pods_changed: SimTime::ZERO,
                    replaces: None,
                    replaced: false,
                });
            }
        }
        books.resize(
            self.cluster.nodes().len(),
            Book {
                group: None,
                presence: Presence::Ready,
                epoch: 0,
                billed_since: None,
                unneeded_since: None,
                pods_changed: SimTime::ZERO,
                replaces: None,
                replaced: false,
            },
        );
        let billed = books.iter().filter(|b| b.billed_since.is_some()).count() as u64;
        for (i, b) in books.iter().enumerate() {
            if b.presence == Presence::Absent {
                self.cluster
                    .update_node(NodeId(i), |n| n.unschedulable = true);
                let n = &self.cluster.nodes()[i];
                self.total_capacity = self.total_capacity.saturating_sub(&n.allocatable);
            }
        }
        let first = match config.provisioner {
            Provisioner::ClusterAutoscaler => Event::ProvisionScan,
            Provisioner::Karpenter => Event::DisruptionPoll,
        };
        k.schedule_at(SimTime::ZERO, first);
        self.provision = Some(Provision {
            config,
            books,
            templates,
            expander: streams.stream("provisioning/expander"),
            spot: streams.stream("provisioning/spot"),
            last_scale_up: None,
            last_scale_down: None,
            batch: None,
            command: None,
            records: Vec::new(),
            billed,
            billed_integral: 0,
            billed_peak: billed,
            billed_changed: SimTime::ZERO,
            spent: [0.0; 2],
            launches: 0,
            removals: 0,
            interruptions: 0,
            drained: 0,
        });
        let ready: Vec<usize> = (0..self.cluster.nodes().len())
            .filter(|&i| {
                self.provision
                    .as_ref()
                    .is_some_and(|p| p.books[i].presence == Presence::Ready)
            })
            .collect();
        for node in ready {
            self.arm_spot(k, node);
        }
    }

    /// Hosts in the cluster's capacity now (Ready, or draining at the end of a spot notice).
    pub(super) fn hosts_up(&self) -> u64 {
        match &self.provision {
            None => self.cluster.nodes().len() as u64,
            Some(p) => p
                .books
                .iter()
                .filter(|b| matches!(b.presence, Presence::Ready | Presence::Draining))
                .count() as u64,
        }
    }

    /// Whether `node` is there at all: launched and not gone (without a provisioner, always).
    pub(super) fn launched(&self, node: usize) -> bool {
        self.provision
            .as_ref()
            .is_none_or(|p| matches!(p.books[node].presence, Presence::Ready | Presence::Draining))
    }

    /// Whether a provisioner keeps `node` out of placement: not launched, still launching,
    /// removed or drained, or cordoned for its replacement.
    pub(super) fn held_out(&self, node: usize) -> bool {
        self.provision.as_ref().is_some_and(|p| {
            let b = &p.books[node];
            b.presence != Presence::Ready || b.replaced
        })
    }

    /// Whether an absent host may be launched: with `[ipam]`, only one the cluster range
    /// gave a subnet (a host without one would never run anything).
    fn launchable(&self, node: usize) -> bool {
        self.provision
            .as_ref()
            .is_some_and(|p| p.books[node].presence == Presence::Absent)
            && self.addresses.as_ref().is_none_or(|a| a.has_subnet(node))
    }

    /// A pod was bound to `node` or left it.
    pub(super) fn provision_pods_changed(&mut self, now: SimTime, node: NodeId) {
        if let Some(p) = self.provision.as_mut() {
            p.pods_changed(now, node);
        }
    }

    /// A job was parked: Karpenter's batch opens, or learns of one more pending pod.
    pub(super) fn provision_pending(&mut self, k: &mut Kernel<Event>) {
        let now = k.now();
        let Some(p) = self.provision.as_mut() else {
            return;
        };
        if p.config.provisioner != Provisioner::Karpenter {
            return;
        }
        match &mut p.batch {
            Some((_, last)) => *last = now,
            None => {
                p.batch = Some((now, now));
                k.schedule_in(p.config.batch_idle, Event::BatchCheck);
            }
        }
    }

    /// Pods the scheduler found no room for, in pod order.
    fn pending_pods(&self) -> Vec<usize> {
        let mut pods: Vec<usize> = self
            .slots
            .iter()
            .flat_map(|s| s.parked.jobs())
            .flat_map(|job| self.jobs[job].pods.iter().copied())
            .filter(|&p| {
                matches!(
                    self.pods[p].state,
                    PodState::Pending | PodState::Unschedulable
                ) && !self.pods[p].held
            })
            .collect();
        pods.sort_unstable();
        pods.dedup();
        pods
    }

    /// The pending pods that would not fit on the hosts still launching (which the
    /// provisioner counts as if they were there, empty).
    fn beyond_upcoming(&self, pending: &[usize]) -> Vec<usize> {
        let p = self.provision.as_ref().expect("provisioning is on");
        let mut upcoming: Vec<(&NodeInfo, Resources)> = p
            .books
            .iter()
            .enumerate()
            .filter(|(_, b)| b.presence == Presence::Launching)
            .map(|(i, _)| {
                let n = &self.cluster.nodes()[i];
                (n, n.allocatable)
            })
            .collect();
        pending
            .iter()
            .copied()
            .filter(|&pod| {
                let spec = &self.pods[pod].spec;
                !provisioning::fits_elsewhere(&[spec.as_ref()], &mut upcoming)
            })
            .collect()
    }

    /// Hosts of group `g` launching or Ready (what the cloud counts as its size).
    fn group_size(&self, g: usize) -> u64 {
        let p = self.provision.as_ref().expect("provisioning is on");
        p.books
            .iter()
            .filter(|b| {
                b.group == Some(g) && matches!(b.presence, Presence::Launching | Presence::Ready)
            })
            .count() as u64
    }

    /// Hosts a group may still launch: below its maximum, and no more than it has absent
    /// hosts that may be launched.
    fn headroom(&self, g: usize) -> u64 {
        let Some(s) = self.scenario.hosts[g].scaling else {
            return 0;
        };
        let p = self.provision.as_ref().expect("provisioning is on");
        let left = (0..p.books.len())
            .filter(|&i| p.books[i].group == Some(g) && self.launchable(i))
            .count() as u64;
        s.max.saturating_sub(self.group_size(g)).min(left)
    }

    /// Launches one absent host of group `g`; `replaces`: a host to drain once it is Ready.
    fn launch(
        &mut self,
        k: &mut Kernel<Event>,
        g: usize,
        replaces: Option<usize>,
        reason: String,
    ) -> bool {
        let now = k.now();
        self.bill(now);
        let Some(node) = (0..self.cluster.nodes().len()).find(|&i| {
            self.provision.as_ref().expect("provisioning is on").books[i].group == Some(g)
                && self.launchable(i)
        }) else {
            return false;
        };
        if let Some(old) = replaces {
            // Karpenter taints the host it replaces (karpenter.sh/disrupted:NoSchedule)
            // before it launches the replacement.
            self.cluster
                .update_node(NodeId(old), |n| n.unschedulable = true);
        }
        let p = self.provision.as_mut().expect("provisioning is on");
        let b = &mut p.books[node];
        b.presence = Presence::Launching;
        b.epoch += 1;
        b.billed_since = Some(now);
        b.unneeded_since = None;
        b.replaces = replaces;
        let epoch = b.epoch;
        if let Some(r) = replaces {
            p.books[r].replaced = true;
        }
        p.billed += 1;
        p.billed_peak = p.billed_peak.max(p.billed);
        p.launches += 1;
        k.schedule_in(
            p.config.provision_delay,
            Event::NodeReady {
                node: NodeId(node),
                epoch,
            },
        );
        self.record(now, "launch", node, reason);
        self.digest.record(now, TAG_LAUNCH, &[node as u64]);
        true
    }

    /// Advances the billed-host integral to `now`.
    fn bill(&mut self, now: SimTime) {
        if let Some(p) = self.provision.as_mut() {
            p.billed_integral +=
                u128::from(p.billed) * u128::from(now.since(p.billed_changed).as_nanos());
            p.billed_changed = now;
        }
    }

    fn record(&mut self, now: SimTime, action: &'static str, node: usize, reason: String) {
        let Some(p) = self.provision.as_mut() else {
            return;
        };
        let g = p.books[node].group.unwrap_or(0);
        let h = &self.scenario.hosts[g];
        p.records.push(ProvisionRecord {
            time: now,
            action,
            node: NodeId(node),
            group: g,
            spot: h.spot,
            price_per_hour: h.cost_per_hour,
            reason,
        });
    }

    /// A launched host is Ready: uncordoned, its capacity counted, parked pods woken.
    pub(super) fn node_ready(&mut self, k: &mut Kernel<Event>, node: NodeId, epoch: u64) {
        // The hosts the traffic runs on may change.
        self.network_epoch += 1;
        let now = k.now();
        let Some(p) = self.provision.as_mut() else {
            return;
        };
        let b = &mut p.books[node.0];
        if b.epoch != epoch || b.presence != Presence::Launching {
            return;
        }
        b.presence = Presence::Ready;
        b.pods_changed = now;
        let replaces = b.replaces.take();
        self.account(now);
        let networked = self.addresses.as_ref().is_none_or(|a| a.has_subnet(node.0));
        let failed = self.health[node.0].declared_failed();
        self.cluster
            .update_node(node, |n| n.unschedulable = !networked || failed);
        let cap = self.cluster.nodes()[node.0].allocatable;
        self.total_capacity = self.total_capacity.saturating_add(&cap);
        self.record(now, "ready", node.0, String::new());
        self.digest.record(now, TAG_NODE_READY, &[node.0 as u64]);
        self.arm_spot(k, node.0);
        if let Some(old) = replaces {
            let still = self
                .provision
                .as_ref()
                .is_some_and(|p| p.books[old].presence == Presence::Ready);
            if still {
                let name = self.cluster.nodes()[node.0].name.clone();
                self.remove(k, old, format!("replaced by the cheaper {name}"));
            }
        }
        for s in 0..self.slots.len() {
            for job in self.slots[s].parked.wake(0, true, |_| 0, |_| true) {
                self.enqueue(job);
            }
        }
        self.kick_all(k);
    }

    /// Draws when a Ready spot host will be reclaimed.
    fn arm_spot(&mut self, k: &mut Kernel<Event>, node: usize) {
        let until = self.until;
        let Some(p) = self.provision.as_mut() else {
            return;
        };
        let b = &p.books[node];
        let (Some(g), Some(mean)) = (b.group, p.config.spot_interruption_mean) else {
            return;
        };
        if !self.scenario.hosts[g].spot {
            return;
        }
        let draw = crate::dist::Dist::Exponential {
            mean: mean.as_secs_f64(),
        }
        .sample(&mut p.spot);
        let at = k.now() + SimDuration::try_from_secs_f64(draw).unwrap_or(SimDuration(u64::MAX));
        if at <= until {
            k.schedule_at(
                at,
                Event::SpotNotice {
                    node: NodeId(node),
                    epoch: b.epoch,
                },
            );
        }
    }

    /// A spot-reclaim fault: every spot host it selects that is Ready now gets its notice.
    pub(super) fn spot_reclaim(&mut self, k: &mut Kernel<Event>, fault: usize) {
        let f = &self.scenario.faults[fault];
        let Some(p) = self.provision.as_ref() else {
            return;
        };
        let hit: Vec<(usize, u64)> = self
            .cluster
            .nodes()
            .iter()
            .enumerate()
            .filter(|(i, n)| {
                let b = &p.books[*i];
                b.presence == Presence::Ready
                    && b.group.is_some_and(|g| self.scenario.hosts[g].spot)
                    && f.selects(&n.name, &n.labels, &n.site)
            })
            .map(|(i, _)| (i, p.books[i].epoch))
            .collect();
        for (node, epoch) in hit {
            self.spot_notice(k, NodeId(node), epoch);
        }
    }

    /// The cloud gives notice that it reclaims a spot host: it is drained now and gone at the
    /// end of the notice.
    pub(super) fn spot_notice(&mut self, k: &mut Kernel<Event>, node: NodeId, epoch: u64) {
        let now = k.now();
        let Some(p) = self.provision.as_mut() else {
            return;
        };
        let b = &mut p.books[node.0];
        if b.epoch != epoch || b.presence != Presence::Ready {
            return;
        }
        b.presence = Presence::Draining;
        p.interruptions += 1;
        let notice = p.config.spot_notice;
        self.record(now, "spot-notice", node.0, "spot interruption".into());
        self.digest.record(now, TAG_SPOT_NOTICE, &[node.0 as u64]);
        self.drain(k, node.0);
        k.schedule_in(notice, Event::NodeGone { node, epoch });
    }

    /// The end of a spot notice: the host is gone.
    pub(super) fn node_gone(&mut self, k: &mut Kernel<Event>, node: NodeId, epoch: u64) {
        // The hosts the traffic runs on may change.
        self.network_epoch += 1;
        let ok = self.provision.as_ref().is_some_and(|p| {
            p.books[node.0].epoch == epoch && p.books[node.0].presence == Presence::Draining
        });
        if ok {
            self.terminate(
                k,
                node.0,
                "gone",
                "reclaimed at the end of the spot notice".into(),
            );
        }
    }

    /// Cordons `node` and evicts its pods, which their controllers re-create through the
    /// scheduler.
    fn drain(&mut self, k: &mut Kernel<Event>, node: usize) {
        self.cluster
            .update_node(NodeId(node), |n| n.unschedulable = true);
        let pods: Vec<usize> = self.on_node[node].iter().copied().collect();
        for pod in pods {
            if self.evict(k, pod, false) {
                if let Some(p) = self.provision.as_mut() {
                    p.drained += 1;
                }
                if self.api.is_some() {
                    self.delete_and_replace(k, super::api::Client::Provisioner, pod);
                }
            }
        }
        self.kick_all(k);
    }

    /// The provisioner removes a host: drained, then terminated.
    fn remove(&mut self, k: &mut Kernel<Event>, node: usize, reason: String) {
        self.drain(k, node);
        if let Some(p) = self.provision.as_mut() {
            p.removals += 1;
            p.last_scale_down = Some(k.now());
        }
        self.terminate(k, node, "remove", reason);
    }

    /// The host's instance ends: absent again, unbilled, its capacity and images gone.
    fn terminate(
        &mut self,
        k: &mut Kernel<Event>,
        node: usize,
        action: &'static str,
        reason: String,
    ) {
        self.network_epoch += 1;
        let now = k.now();
        // Whatever is still bound there (a pod placed while a failed host's cordon was
        // lifted) goes with the host.
        if !self.on_node[node].is_empty() {
            self.drain(k, node);
        }
        self.bill(now);
        self.account(now);
        let p = self.provision.as_mut().expect("provisioning is on");
        let b = &mut p.books[node];
        let was_capacity = matches!(b.presence, Presence::Ready | Presence::Draining);
        b.presence = Presence::Absent;
        b.epoch += 1;
        b.unneeded_since = None;
        b.replaced = false;
        if let (Some(since), Some(g)) = (b.billed_since.take(), b.group) {
            let h = &self.scenario.hosts[g];
            p.spent[usize::from(h.spot)] +=
                h.cost_per_hour * now.since(since).as_nanos() as f64 / NS_PER_HOUR;
            p.billed -= 1;
        }
        if was_capacity {
            let cap = self.cluster.nodes()[node].allocatable;
            self.total_capacity = self.total_capacity.saturating_sub(&cap);
            self.note_peak();
        }
        self.cluster
            .update_node(NodeId(node), |n| n.unschedulable = true);
        self.images[node].clear();
        self.record(now, action, node, reason);
        self.digest.record(now, TAG_NODE_GONE, &[node as u64]);
        // Room under a group's maximum again: pods Karpenter could not place may now get a
        // host (its batches open only as pods park).
        let karpenter = self
            .provision
            .as_ref()
            .is_some_and(|p| p.config.provisioner == Provisioner::Karpenter);
        if karpenter && !self.pending_pods().is_empty() {
            self.provision_pending(k);
        }
    }

    /// The pods bound to a host, as specs.
    fn specs_on(&self, node: usize) -> Vec<&PodSpec> {
        self.cluster.nodes()[node]
            .pods
            .iter()
            .map(|p| p.as_ref())
            .collect()
    }

    /// Ready hosts other than `except` that pods may move to, with their free room.
    fn destinations(&self, except: &[usize]) -> Vec<(usize, Resources)> {
        let p = self.provision.as_ref().expect("provisioning is on");
        (0..self.cluster.nodes().len())
            .filter(|&i| {
                p.books[i].presence == Presence::Ready
                    && !p.books[i].replaced
                    && !except.contains(&i)
                    && !self.cluster.nodes()[i].unschedulable
                    && !self.health[i].declared_failed()
            })
            .map(|i| (i, self.cluster.nodes()[i].free()))
            .collect()
    }

    /// Whether the pods of `node` fit on `dest` (free room taken as they are placed).
    fn movable(&self, node: usize, dest: &mut [(usize, Resources)]) -> bool {
        let nodes = self.cluster.nodes();
        let mut hosts: Vec<(&NodeInfo, Resources)> =
            dest.iter().map(|&(i, free)| (&nodes[i], free)).collect();
        let ok = provisioning::fits_elsewhere(&self.specs_on(node), &mut hosts);
        if ok {
            for (d, h) in dest.iter_mut().zip(hosts) {
                d.1 = h.1;
            }
        }
        ok
    }

    /// The Cluster Autoscaler's loop: scale up for pending pods, else look for hosts to
    /// remove.
    pub(super) fn ca_scan(&mut self, k: &mut Kernel<Event>) {
        let now = k.now();
        let interval = self
            .provision
            .as_ref()
            .expect("provisioning is on")
            .config
            .scan_interval;
        if now + interval <= self.until {
            k.schedule_in(interval, Event::ProvisionScan);
        }
        let pending = self.pending_pods();
        let waiting = self.beyond_upcoming(&pending);
        if !waiting.is_empty() && self.ca_scale_up(k, &waiting) {
            return;
        }
        self.ca_scale_down(k);
    }

    /// Grows the group the expander picks; whether it did.
    fn ca_scale_up(&mut self, k: &mut Kernel<Event>, waiting: &[usize]) -> bool {
        let specs: Vec<&PodSpec> = waiting
            .iter()
            .map(|&p| self.pods[p].spec.as_ref())
            .collect();
        let p = self.provision.as_ref().expect("provisioning is on");
        let options: Vec<provisioning::Estimate> = (0..self.scenario.hosts.len())
            .filter_map(|g| {
                let room = self.headroom(g);
                (room > 0).then(|| provisioning::estimate(g, &p.templates[g], &specs, room))
            })
            .collect();
        let expander = p.config.expander;
        let hosts = &self.scenario.hosts;
        let p = self.provision.as_mut().expect("provisioning is on");
        let Some(pick) =
            provisioning::expand(expander, &options, |g| hosts[g].capacity, &mut p.expander)
        else {
            return false;
        };
        let o = &options[pick];
        let reason = format!("{} pending pods fit on {} new hosts", o.pods.len(), o.nodes);
        let mut launched = false;
        for _ in 0..o.nodes {
            launched |= self.launch(k, o.group, None, reason.clone());
        }
        if launched {
            self.provision
                .as_mut()
                .expect("provisioning is on")
                .last_scale_up = Some(k.now());
        }
        launched
    }

    /// The Cluster Autoscaler's scale-down: which hosts are unneeded, and the removal of those
    /// unneeded long enough.
    fn ca_scale_down(&mut self, k: &mut Kernel<Event>) {
        let now = k.now();
        let p = self.provision.as_ref().expect("provisioning is on");
        let c = &p.config;
        let threshold = c.utilization_threshold;
        let candidates: Vec<usize> = (0..self.cluster.nodes().len())
            .filter(|&i| {
                let b = &p.books[i];
                b.presence == Presence::Ready
                    && b.group
                        .is_some_and(|g| self.scenario.hosts[g].scaling.is_some())
                    && !self.cluster.nodes()[i].unschedulable
                    && utilization(&self.cluster.nodes()[i]) < threshold
            })
            .collect();
        // Pods of an unneeded host are moved in the simulation: later candidates cannot
        // count on the room they took, nor be removed themselves once they took some.
        let mut removed: Vec<usize> = Vec::new();
        let mut dest = self.destinations(&[]);
        let mut unneeded = vec![false; self.cluster.nodes().len()];
        for &cand in &candidates {
            if dest
                .iter()
                .any(|&(i, free)| i == cand && free != self.cluster.nodes()[i].free())
            {
                // It took pods of a host found unneeded before it.
                continue;
            }
            let mut trial: Vec<(usize, Resources)> = dest
                .iter()
                .copied()
                .filter(|(i, _)| *i != cand && !removed.contains(i))
                .collect();
            if self.movable(cand, &mut trial) {
                for (i, free) in trial {
                    if let Some(d) = dest.iter_mut().find(|d| d.0 == i) {
                        d.1 = free;
                    }
                }
                removed.push(cand);
                unneeded[cand] = true;
            }
        }
        let p = self.provision.as_mut().expect("provisioning is on");
        for (i, b) in p.books.iter_mut().enumerate() {
            if unneeded[i] {
                b.unneeded_since.get_or_insert(now);
            } else {
                b.unneeded_since = None;
            }
        }
        let c = &p.config;
        let cooling = p.last_scale_up.is_some_and(|t| now < t + c.delay_after_add)
            || p.last_scale_down
                .is_some_and(|t| now < t + c.delay_after_delete);
        if cooling {
            return;
        }
        let ripe: Vec<usize> = removed
            .into_iter()
            .filter(|&i| {
                p.books[i]
                    .unneeded_since
                    .is_some_and(|s| now.since(s) >= c.unneeded)
            })
            .collect();
        let bulk = c.max_empty_bulk_delete;
        let (empty, busy): (Vec<usize>, Vec<usize>) = ripe
            .into_iter()
            .partition(|&i| self.cluster.nodes()[i].pods.is_empty());
        let mut taken = 0;
        for node in empty {
            if taken >= bulk {
                break;
            }
            if self.above_min(node) {
                self.remove(k, node, "empty and unneeded".into());
                taken += 1;
            }
        }
        if taken == 0 {
            if let Some(&node) = busy.iter().find(|&&n| self.above_min(n)) {
                let u = utilization(&self.cluster.nodes()[node]);
                self.remove(
                    k,
                    node,
                    format!(
                        "unneeded: {:.0}% requested, its pods fit elsewhere",
                        u * 100.0
                    ),
                );
            }
        }
    }

    /// Whether removing `node` leaves its group at or above its minimum.
    fn above_min(&self, node: usize) -> bool {
        let p = self.provision.as_ref().expect("provisioning is on");
        p.books[node].group.is_some_and(|g| {
            self.scenario.hosts[g]
                .scaling
                .is_some_and(|s| self.group_size(g) > s.min)
        })
    }

    /// Karpenter's batch window: closes once no pending pod arrived for `batch_idle` or it
    /// lasted `batch_max`, then provisions for what is pending.
    pub(super) fn batch_check(&mut self, k: &mut Kernel<Event>) {
        let now = k.now();
        let p = self.provision.as_mut().expect("provisioning is on");
        let Some((opened, last)) = p.batch else {
            return;
        };
        let end = (last + p.config.batch_idle).min(opened + p.config.batch_max);
        if now < end {
            k.schedule_at(end, Event::BatchCheck);
            return;
        }
        p.batch = None;
        let pending = self.pending_pods();
        let waiting = self.beyond_upcoming(&pending);
        if waiting.is_empty() {
            return;
        }
        let specs: Vec<&PodSpec> = waiting
            .iter()
            .map(|&p| self.pods[p].spec.as_ref())
            .collect();
        let claims = provisioning::pack(&specs, &self.catalogue());
        for claim in claims {
            let reason = format!("{} pending pods", claim.pods.len());
            if let Some(g) = self.cheapest_available(&claim.types) {
                self.launch(k, g, None, reason);
            }
        }
    }

    /// The instance types Karpenter may launch: resizable groups with room left.
    fn catalogue(&self) -> Vec<(usize, &NodeInfo)> {
        let p = self.provision.as_ref().expect("provisioning is on");
        (0..self.scenario.hosts.len())
            .filter(|&g| self.headroom(g) > 0)
            .map(|g| (g, &p.templates[g]))
            .collect()
    }

    /// The cheapest of `types` with a host left, spot first.
    fn cheapest_available(&self, types: &[usize]) -> Option<usize> {
        let hosts = &self.scenario.hosts;
        let open: Vec<usize> = types
            .iter()
            .copied()
            .filter(|&g| self.headroom(g) > 0)
            .collect();
        provisioning::cheapest(&open, |g| (hosts[g].spot, hosts[g].cost_per_hour))
    }

    /// Karpenter's disruption controller: within the budget, find empty hosts to remove or,
    /// with `WhenEmptyOrUnderutilized`, one underused host to remove or replace; the command
    /// is carried out after its validation wait if it still holds.
    pub(super) fn disruption_poll(&mut self, k: &mut Kernel<Event>) {
        let now = k.now();
        let c = self
            .provision
            .as_ref()
            .expect("provisioning is on")
            .config
            .clone();
        match self.disruption_command(now) {
            Some(cmd) => {
                self.provision.as_mut().expect("provisioning is on").command = Some(cmd);
                k.schedule_in(c.consolidation_validation, Event::DisruptionValidate);
            }
            None if now + c.disruption_poll <= self.until => {
                k.schedule_in(c.disruption_poll, Event::DisruptionPoll);
            }
            None => {}
        }
    }

    /// The command's validation wait is over: carried out if every host is still as it was
    /// when it was decided (Ready, no pod bound or gone since) and, for a removal of a host
    /// with pods, they still fit on the others; then the next poll.
    pub(super) fn disruption_validate(&mut self, k: &mut Kernel<Event>) {
        let now = k.now();
        let p = self.provision.as_mut().expect("provisioning is on");
        let poll = p.config.disruption_poll;
        let Some(cmd) = p.command.take() else {
            return;
        };
        if now + poll <= self.until {
            k.schedule_in(poll, Event::DisruptionPoll);
        }
        let p = self.provision.as_ref().expect("provisioning is on");
        let unchanged = cmd.nodes.iter().all(|&n| {
            let b = &p.books[n];
            b.presence == Presence::Ready && !b.replaced && b.pods_changed <= cmd.decided
        });
        if !unchanged {
            return;
        }
        match cmd.replacement {
            Some(t) => {
                let old = cmd.nodes[0];
                if self.headroom(t) > 0 {
                    self.launch(k, t, Some(old), cmd.reason);
                }
            }
            None => {
                for node in cmd.nodes {
                    let mut dest = self.destinations(&[node]);
                    if self.above_min(node) && self.movable(node, &mut dest) {
                        self.remove(k, node, cmd.reason.clone());
                    }
                }
            }
        }
    }

    /// What Karpenter would disrupt now: every empty host (within the budget) or else, the
    /// host with the fewest pods first, one whose pods fit on the others or on one cheaper
    /// new host.
    fn disruption_command(&self, now: SimTime) -> Option<Command> {
        let p = self.provision.as_ref().expect("provisioning is on");
        let c = &p.config;
        let managed = |i: usize| {
            p.books[i]
                .group
                .is_some_and(|g| self.scenario.hosts[g].scaling.is_some())
        };
        let pool = (0..p.books.len())
            .filter(|&i| {
                managed(i) && matches!(p.books[i].presence, Presence::Launching | Presence::Ready)
            })
            .count() as u64;
        let disrupting = (0..p.books.len())
            .filter(|&i| p.books[i].replaced || p.books[i].presence == Presence::Draining)
            .count() as u64;
        let allowed = c
            .disruption_budget
            .of(pool, true)
            .saturating_sub(disrupting);
        if allowed == 0 {
            return None;
        }
        let mut candidates: Vec<usize> = (0..p.books.len())
            .filter(|&i| {
                let b = &p.books[i];
                managed(i)
                    && b.presence == Presence::Ready
                    && !b.replaced
                    && !self.cluster.nodes()[i].unschedulable
                    && now.since(b.pods_changed.min(now)) >= c.consolidate_after
                    && self.above_min(i)
            })
            .collect();
        // Emptiness first.
        let empty: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&i| self.cluster.nodes()[i].pods.is_empty())
            .take(allowed.min(usize::MAX as u64) as usize)
            .collect();
        if !empty.is_empty() {
            return Some(Command {
                decided: now,
                nodes: empty,
                replacement: None,
                reason: "empty".into(),
            });
        }
        if c.consolidation == Consolidation::WhenEmpty {
            return None;
        }
        // Single-node consolidation, the host with the fewest pods first.
        candidates.sort_by_key(|&i| (self.cluster.nodes()[i].pods.len(), i));
        for cand in candidates {
            let mut dest = self.destinations(&[cand]);
            if self.movable(cand, &mut dest) {
                return Some(Command {
                    decided: now,
                    nodes: vec![cand],
                    replacement: None,
                    reason: "underutilized: its pods fit on the other hosts".into(),
                });
            }
            let g = p.books[cand].group.expect("managed hosts have a group");
            if self.scenario.hosts[g].spot && !c.spot_to_spot {
                // A spot host may only be deleted (SpotToSpotConsolidation is off).
                continue;
            }
            // A replacement: the pods that do not fit elsewhere, all on one cheaper new host.
            let nodes = self.cluster.nodes();
            let mut hosts: Vec<(&NodeInfo, Resources)> = self
                .destinations(&[cand])
                .into_iter()
                .map(|(i, free)| (&nodes[i], free))
                .collect();
            let rest: Vec<&PodSpec> = self
                .specs_on(cand)
                .into_iter()
                .filter(|s| !provisioning::fits_elsewhere(&[*s], &mut hosts))
                .collect();
            let claims = provisioning::pack(&rest, &self.catalogue());
            let [claim] = claims.as_slice() else {
                continue;
            };
            if claim.pods.len() != rest.len() {
                continue;
            }
            let Some(t) = self.cheapest_available(&claim.types) else {
                continue;
            };
            let (price, new_price) = (
                self.scenario.hosts[g].cost_per_hour,
                self.scenario.hosts[t].cost_per_hour,
            );
            if new_price < price {
                return Some(Command {
                    decided: now,
                    nodes: vec![cand],
                    replacement: Some(t),
                    reason: format!("replaces {} ({price}/h) at {new_price}/h", nodes[cand].name),
                });
            }
        }
        None
    }

    /// Totals at `end` (hosts still billed counted up to it).
    pub(crate) fn provision_totals(&mut self, end: SimTime) -> Option<ProvisionTotals> {
        self.bill(end);
        let p = self.provision.as_ref()?;
        let mut spent = p.spent;
        for b in &p.books {
            if let (Some(since), Some(g)) = (b.billed_since, b.group) {
                let h = &self.scenario.hosts[g];
                spent[usize::from(h.spot)] +=
                    h.cost_per_hour * end.since(since.min(end)).as_nanos() as f64 / NS_PER_HOUR;
            }
        }
        Some(ProvisionTotals {
            hosts_mean: if end.as_nanos() > 0 {
                p.billed_integral as f64 / end.as_nanos() as f64
            } else {
                p.billed as f64
            },
            hosts_peak: p.billed_peak,
            launches: p.launches,
            removals: p.removals,
            interruptions: p.interruptions,
            drained: p.drained,
            cost_on_demand: spent[0],
            cost_spot: spent[1],
        })
    }
}

/// What the Cluster Autoscaler compares with its threshold: the larger of the CPU and memory
/// shares requested (the GPU share on a host with GPUs).
fn utilization(n: &NodeInfo) -> f64 {
    let share = |used: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            used as f64 / whole as f64
        }
    };
    if n.allocatable.gpu_milli > 0 {
        return share(n.requested.gpu_milli, n.allocatable.gpu_milli);
    }
    share(n.requested.cpu_milli, n.allocatable.cpu_milli)
        .max(share(n.requested.memory_bytes, n.allocatable.memory_bytes))
}
