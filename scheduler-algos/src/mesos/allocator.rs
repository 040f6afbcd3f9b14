//! The Mesos master's hierarchical allocator: batch allocation of whole agents' free
//! resources as offers, DRF across roles and across frameworks within a role, offer filters
//! with refusal timeouts, and rescinding.
//!
//! Follows apache/mesos `src/master/allocator/mesos/hierarchical.cpp`:
//! - one batch per allocation interval (`--allocation_interval`, default 1 s); agents are
//!   visited in a random order; on each agent, roles in DRF order, then frameworks in DRF
//!   order; the first framework that is active and not filtered gets *everything* still free
//!   on the agent (if it is at least the minimum allocatable: 0.01 CPU or 32 MB);
//! - offered resources count as allocated for the sorters;
//! - a decline (or the unused rest of an accept) installs a filter for `refuse_seconds`
//!   (default 5 s; 0 installs none; at least one allocation interval), which hides the agent
//!   from that framework while what would be offered is contained in what was refused;
//! - a rescind returns the resources without a filter;
//! - reviving a framework clears its filters; suppressing it stops offers to it.
//!
//! Quota and reservations are not modelled (no role here has a guarantee or reserved
//! resources), so Mesos' first stage (quota guarantees) has nothing to do and is left out.
//! Times are nanoseconds supplied by the caller: this crate has no clock.

use std::collections::BTreeMap;
use std::fmt;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::drf::{DrfSorter, Vector, RESOURCES};

/// `--allocation_interval` default (src/master/constants.hpp: DEFAULT_ALLOCATION_INTERVAL).
pub const DEFAULT_ALLOCATION_INTERVAL_NS: u64 = 1_000_000_000;
/// `Filters.refuse_seconds` default (include/mesos/mesos.proto).
pub const DEFAULT_REFUSE_NS: u64 = 5_000_000_000;
/// Refusals longer than a year are clamped to a year (mesos.proto `Filters`).
pub const MAX_REFUSE_NS: u64 = 31_536_000 * 1_000_000_000;
/// `--min_allocatable_resources` default `cpus:0.01|mem:32` (src/master/constants.hpp
/// MIN_CPUS, MIN_MEM): an offer needs at least one of the two (GPUs alone never make one).
pub const MIN_ALLOCATABLE: Vector = [10, 32 << 20, 0];

/// An outstanding offer: all that was free on one agent, for one framework.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    pub id: u64,
    pub framework: String,
    pub agent: usize,
    pub resources: Vector,
}

/// A call the allocator refuses: a bug in the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllocError(pub String);

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AllocError {}

#[derive(Clone, Debug)]
struct Framework {
    role: String,
    active: bool,
}

#[derive(Clone, Debug)]
struct Filter {
    refused: Vector,
    until_ns: u64,
}

/// Counters of what the allocator did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OfferStats {
    pub made: u64,
    pub accepted: u64,
    pub declined: u64,
    pub rescinded: u64,
}

/// The allocator's state.
#[derive(Clone, Debug)]
pub struct Allocator {
    total: Vec<Vector>,
    /// Neither offered nor used.
    free: Vec<Vector>,
    /// Agents the master considers reachable; an unreachable one is never offered.
    reachable: Vec<bool>,
    frameworks: BTreeMap<String, Framework>,
    roles: DrfSorter,
    per_role: BTreeMap<String, DrfSorter>,
    filters: BTreeMap<(String, usize), Vec<Filter>>,
    offers: BTreeMap<u64, Offer>,
    /// Used (launched) resources per (framework, agent).
    used: BTreeMap<(String, usize), Vector>,
    next_offer: u64,
    interval_ns: u64,
    rng: ChaCha8Rng,
    pub stats: OfferStats,
}

fn add(a: &mut Vector, b: Vector) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

fn sub(a: &mut Vector, b: Vector) {
    for (x, y) in a.iter_mut().zip(b) {
        *x -= y;
    }
}

fn contains(big: &Vector, small: &Vector) -> bool {
    big.iter().zip(small).all(|(b, s)| b >= s)
}

impl Allocator {
    /// An allocator over agents with these totals; `seed` drives the agent shuffle.
    pub fn new(agents: &[Vector], interval_ns: u64, seed: u64) -> Self {
        let mut total = [0; RESOURCES];
        for a in agents {
            add(&mut total, *a);
        }
        Allocator {
            total: agents.to_vec(),
            free: agents.to_vec(),
            reachable: vec![true; agents.len()],
            frameworks: BTreeMap::new(),
            roles: DrfSorter::new(total),
            per_role: BTreeMap::new(),
            filters: BTreeMap::new(),
            offers: BTreeMap::new(),
            used: BTreeMap::new(),
            next_offer: 0,
            interval_ns: interval_ns.max(1),
            rng: ChaCha8Rng::seed_from_u64(seed),
            stats: OfferStats::default(),
        }
    }

    fn cluster_total(&self) -> Vector {
        let mut t = [0; RESOURCES];
        for a in &self.total {
            add(&mut t, *a);
        }
        t
    }

    /// Registers a framework in `role` (active). Role weights default to 1.
    pub fn add_framework(&mut self, name: &str, role: &str) {
        let total = self.cluster_total();
        // A role may already have a weight (set before its first framework).
        if self.roles.allocation(role).is_none() {
            self.roles.add(role, 1.0);
        }
        self.per_role
            .entry(role.to_string())
            .or_insert_with(|| DrfSorter::new(total))
            .add(name, 1.0);
        self.frameworks.insert(
            name.to_string(),
            Framework {
                role: role.to_string(),
                active: true,
            },
        );
    }

    /// Sets a role's weight (Mesos `/weights`).
    pub fn set_role_weight(&mut self, role: &str, weight: f64) {
        self.roles.add(role, weight);
    }

    /// Suppress (false) or un-suppress (true) offers to `framework`; filters stay.
    pub fn set_active(&mut self, framework: &str, active: bool) {
        if let Some(f) = self.frameworks.get_mut(framework) {
            f.active = active;
        }
    }

    /// Mesos `REVIVE`: un-suppresses `framework` and clears all its offer filters.
    pub fn revive(&mut self, framework: &str) {
        self.filters.retain(|(fw, _), _| fw != framework);
        self.set_active(framework, true);
    }

    /// `framework`'s weighted dominant share within its role's sorter (against the cluster).
    pub fn share(&self, framework: &str) -> f64 {
        self.frameworks
            .get(framework)
            .and_then(|f| self.per_role.get(&f.role))
            .map_or(0.0, |s| s.share(framework))
    }

    /// Marks `agent` unreachable (the master's health checks failed: `markUnreachable`) or
    /// reachable again (it re-registered). An unreachable agent is offered to no one; its
    /// outstanding offers are the caller's to [`Allocator::rescind`], its tasks' resources
    /// to [`Allocator::release`] as they are given up.
    pub fn set_reachable(&mut self, agent: usize, reachable: bool) {
        if let Some(r) = self.reachable.get_mut(agent) {
            *r = reachable;
        }
    }

    /// Resources neither offered nor used on `agent`.
    pub fn free(&self, agent: usize) -> Vector {
        self.free[agent]
    }

    pub fn outstanding(&self) -> impl Iterator<Item = &Offer> {
        self.offers.values()
    }

    pub fn offer(&self, id: u64) -> Option<&Offer> {
        self.offers.get(&id)
    }

    fn charge(&mut self, framework: &str, r: Vector) {
        let role = self.frameworks[framework].role.clone();
        self.roles.allocated(&role, r);
        if let Some(s) = self.per_role.get_mut(&role) {
            s.allocated(framework, r);
        }
    }

    fn credit(&mut self, framework: &str, r: Vector) {
        let role = self.frameworks[framework].role.clone();
        self.roles.unallocated(&role, r);
        if let Some(s) = self.per_role.get_mut(&role) {
            s.unallocated(framework, r);
        }
    }

    fn filtered(&self, framework: &str, agent: usize, candidate: &Vector, now_ns: u64) -> bool {
        self.filters
            .get(&(framework.to_string(), agent))
            .is_some_and(|fs| {
                fs.iter()
                    .any(|f| now_ns < f.until_ns && contains(&f.refused, candidate))
            })
    }

    /// Offers everything free on `agent` to `framework`, charging it to the sorters.
    fn offer_whole_agent(&mut self, framework: String, agent: usize) -> Offer {
        let resources = self.free[agent];
        self.free[agent] = [0; RESOURCES];
        self.charge(&framework, resources);
        let offer = Offer {
            id: self.next_offer,
            framework,
            agent,
            resources,
        };
        self.next_offer += 1;
        self.stats.made += 1;
        self.offers.insert(offer.id, offer.clone());
        offer
    }

    /// One allocation batch at `now_ns`: returns the offers made, in the order made.
    pub fn allocate(&mut self, now_ns: u64) -> Vec<Offer> {
        self.filters.retain(|_, fs| {
            fs.retain(|f| now_ns < f.until_ns);
            !fs.is_empty()
        });
        let mut agents: Vec<usize> = (0..self.total.len()).collect();
        agents.shuffle(&mut self.rng);
        let mut made = Vec::new();
        for agent in agents {
            if !self.reachable[agent] {
                continue;
            }
            let candidate = self.free[agent];
            if !(candidate[0] >= MIN_ALLOCATABLE[0] || candidate[1] >= MIN_ALLOCATABLE[1]) {
                continue;
            }
            let mut chosen = None;
            'roles: for role in self.roles.sort() {
                let Some(sorter) = self.per_role.get(&role) else {
                    continue;
                };
                for fw in sorter.sort() {
                    let f = &self.frameworks[&fw];
                    if f.active && !self.filtered(&fw, agent, &candidate, now_ns) {
                        chosen = Some(fw);
                        break 'roles;
                    }
                }
            }
            let Some(framework) = chosen else { continue };
            made.push(self.offer_whole_agent(framework, agent));
        }
        made
    }

    /// The Omega simulator's model of Mesos (`MesosAllocator.buildAndSendOffer`): the one
    /// framework lowest in DRF order that is active gets *every* agent with free resources
    /// it has not filtered, in one batch. Real Mesos (`allocate`) decides agent by agent.
    pub fn allocate_cell(&mut self, now_ns: u64) -> Vec<Offer> {
        self.filters.retain(|_, fs| {
            fs.retain(|f| now_ns < f.until_ns);
            !fs.is_empty()
        });
        let mut chosen = None;
        'roles: for role in self.roles.sort() {
            let Some(sorter) = self.per_role.get(&role) else {
                continue;
            };
            for fw in sorter.sort() {
                if self.frameworks[&fw].active {
                    chosen = Some(fw);
                    break 'roles;
                }
            }
        }
        let Some(framework) = chosen else {
            return Vec::new();
        };
        let mut made = Vec::new();
        for agent in 0..self.total.len() {
            let candidate = self.free[agent];
            if !self.reachable[agent]
                || !(candidate[0] >= MIN_ALLOCATABLE[0] || candidate[1] >= MIN_ALLOCATABLE[1])
                || self.filtered(&framework, agent, &candidate, now_ns)
            {
                continue;
            }
            made.push(self.offer_whole_agent(framework.clone(), agent));
        }
        made
    }

    fn take(&mut self, id: u64) -> Result<Offer, AllocError> {
        self.offers
            .remove(&id)
            .ok_or_else(|| AllocError(format!("no outstanding offer {id}")))
    }

    fn install_filter(
        &mut self,
        framework: &str,
        agent: usize,
        refused: Vector,
        refuse_ns: Option<u64>,
        now_ns: u64,
    ) {
        let refuse = refuse_ns.unwrap_or(DEFAULT_REFUSE_NS).min(MAX_REFUSE_NS);
        if refuse == 0 {
            return;
        }
        let until_ns = now_ns.saturating_add(refuse.max(self.interval_ns));
        self.filters
            .entry((framework.to_string(), agent))
            .or_default()
            .push(Filter { refused, until_ns });
    }

    /// Launches `used` (contained in the offer) and returns the rest, refused for
    /// `refuse_ns` (`None`: Mesos' default; `Some(0)`: no filter, as Marathon accepts).
    pub fn accept(
        &mut self,
        id: u64,
        used: Vector,
        refuse_ns: Option<u64>,
        now_ns: u64,
    ) -> Result<(), AllocError> {
        let offer = self.take(id)?;
        if !contains(&offer.resources, &used) {
            let msg = format!("offer {id} holds {:?}, {used:?} used", offer.resources);
            self.offers.insert(id, offer);
            return Err(AllocError(msg));
        }
        let mut rest = offer.resources;
        sub(&mut rest, used);
        add(&mut self.free[offer.agent], rest);
        self.credit(&offer.framework, rest);
        add(
            self.used
                .entry((offer.framework.clone(), offer.agent))
                .or_insert([0; RESOURCES]),
            used,
        );
        self.stats.accepted += 1;
        if rest.iter().any(|&x| x > 0) {
            self.install_filter(&offer.framework, offer.agent, rest, refuse_ns, now_ns);
        }
        Ok(())
    }

    /// Returns the whole offer, refused for `refuse_ns` (`None`: the default 5 s).
    pub fn decline(
        &mut self,
        id: u64,
        refuse_ns: Option<u64>,
        now_ns: u64,
    ) -> Result<(), AllocError> {
        let offer = self.take(id)?;
        add(&mut self.free[offer.agent], offer.resources);
        self.credit(&offer.framework, offer.resources);
        self.stats.declined += 1;
        self.install_filter(
            &offer.framework,
            offer.agent,
            offer.resources,
            refuse_ns,
            now_ns,
        );
        Ok(())
    }

    /// Takes an offer back (offer timeout, agent lost): no filter.
    pub fn rescind(&mut self, id: u64) -> Result<Offer, AllocError> {
        let offer = self.take(id)?;
        add(&mut self.free[offer.agent], offer.resources);
        self.credit(&offer.framework, offer.resources);
        self.stats.rescinded += 1;
        Ok(offer)
    }

    /// A task of `framework` on `agent` ended: its resources are free again.
    pub fn release(&mut self, framework: &str, agent: usize, r: Vector) -> Result<(), AllocError> {
        let key = (framework.to_string(), agent);
        let used = self
            .used
            .get_mut(&key)
            .filter(|u| contains(u, &r))
            .ok_or_else(|| {
                AllocError(format!("{framework} does not use {r:?} on agent {agent}"))
            })?;
        sub(used, r);
        add(&mut self.free[agent], r);
        self.credit(framework, r);
        Ok(())
    }

    /// Checks that every agent's resources are exactly free + offered + used, each offer
    /// on its agent; `Err` names the first agent where they are not.
    pub fn check(&self) -> Result<(), AllocError> {
        for agent in 0..self.total.len() {
            let mut sum = self.free[agent];
            for o in self.offers.values().filter(|o| o.agent == agent) {
                add(&mut sum, o.resources);
            }
            for ((_, a), u) in &self.used {
                if *a == agent {
                    add(&mut sum, *u);
                }
            }
            if sum != self.total[agent] {
                return Err(AllocError(format!(
                    "agent {agent}: free + offered + used = {sum:?}, total {:?}",
                    self.total[agent]
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const S: u64 = 1_000_000_000;

    fn two_frameworks() -> Allocator {
        let mut a = Allocator::new(&[[4000, 8 << 30, 0]; 4], S, 1);
        a.add_framework("batch", "batch");
        a.add_framework("service", "service");
        a
    }

    #[test]
    fn whole_agents_alternate_by_dominant_share() {
        let mut a = two_frameworks();
        let offers = a.allocate(0);
        assert_eq!(offers.len(), 4);
        // Each offer is a whole agent; DRF alternates between the two equal frameworks.
        let per: Vec<usize> = ["batch", "service"]
            .iter()
            .map(|f| offers.iter().filter(|o| o.framework == *f).count())
            .collect();
        assert_eq!(per, vec![2, 2]);
        assert!(offers.iter().all(|o| o.resources == [4000, 8 << 30, 0]));
        a.check().unwrap();
        // Nothing is left to offer.
        assert!(a.allocate(S).is_empty());
    }

    #[test]
    fn a_decline_hides_the_agent_for_refuse_seconds_but_at_least_one_interval() {
        let mut a = Allocator::new(&[[4000, 8 << 30, 0]], S, 1);
        a.add_framework("fw", "r");
        let o = a.allocate(0).remove(0);
        a.decline(o.id, None, 0).unwrap();
        assert!(a.allocate(S).is_empty(), "filtered for 5 s");
        assert!(a.allocate(5 * S - 1).is_empty());
        assert_eq!(a.allocate(5 * S).len(), 1, "filter expired");
        let o = a.outstanding().next().unwrap().id;
        // refuse_seconds = 0.1 s is raised to the 1 s interval.
        a.decline(o, Some(S / 10), 5 * S).unwrap();
        assert!(a.allocate(5 * S + S / 2).is_empty());
        assert_eq!(a.allocate(6 * S).len(), 1);
        // refuse_seconds = 0: no filter at all.
        let o = a.outstanding().next().unwrap().id;
        a.decline(o, Some(0), 6 * S).unwrap();
        assert_eq!(a.allocate(6 * S).len(), 1);
        assert_eq!(a.stats.declined, 3);
    }

    #[test]
    fn a_filter_only_hides_offers_it_contains() {
        let mut a = Allocator::new(&[[4000, 8 << 30, 0]], S, 1);
        a.add_framework("fw", "r");
        let o = a.allocate(0).remove(0);
        // Launch half, refuse the other half for 5 s.
        a.accept(o.id, [2000, 4 << 30, 0], None, 0).unwrap();
        assert!(a.allocate(S).is_empty());
        // The task ends: more is free than was refused, so the filter no longer covers it.
        a.release("fw", 0, [2000, 4 << 30, 0]).unwrap();
        assert_eq!(a.allocate(S).len(), 1);
        a.check().unwrap();
    }

    #[test]
    fn filters_send_offers_to_the_other_framework_and_revive_clears_them() {
        let mut a = Allocator::new(&[[4000, 8 << 30, 0]], S, 1);
        a.add_framework("a", "r");
        a.add_framework("b", "r");
        let o = a.allocate(0).remove(0);
        assert_eq!(o.framework, "a");
        a.decline(o.id, None, 0).unwrap();
        let o = a.allocate(S).remove(0);
        assert_eq!(o.framework, "b", "a is filtered");
        a.rescind(o.id).unwrap();
        a.set_active("b", false);
        assert!(a.allocate(2 * S).is_empty(), "a filtered, b suppressed");
        a.set_active("a", true);
        assert!(a.allocate(2 * S).is_empty(), "un-suppressing keeps filters");
        a.revive("a");
        assert_eq!(
            a.allocate(2 * S)[0].framework,
            "a",
            "revive cleared a's filter"
        );
        assert_eq!(a.stats.rescinded, 1);
    }

    #[test]
    fn role_weights_skew_offers() {
        let mut a = Allocator::new(&[[1000, 1 << 30, 0]; 12], S, 3);
        a.add_framework("heavy", "heavy");
        a.add_framework("light", "light");
        a.set_role_weight("heavy", 2.0);
        let offers = a.allocate(0);
        let heavy = offers.iter().filter(|o| o.framework == "heavy").count();
        assert_eq!(heavy, 8, "weight 2 : 1 gives 8 of 12 agents");
    }

    #[test]
    fn weights_set_before_the_first_framework_stay() {
        let mut a = Allocator::new(&[[1000, 1 << 30, 0]; 12], S, 3);
        a.set_role_weight("heavy", 2.0);
        a.add_framework("heavy", "heavy");
        a.add_framework("light", "light");
        let heavy = a
            .allocate(0)
            .iter()
            .filter(|o| o.framework == "heavy")
            .count();
        assert_eq!(heavy, 8);
    }

    #[test]
    fn two_filters_on_one_agent_both_apply() {
        let mut a = Allocator::new(&[[4000, 8 << 30, 0]], S, 1);
        a.add_framework("fw", "r");
        let o = a.allocate(0).remove(0);
        a.accept(o.id, [2000, 4 << 30, 0], Some(0), 0).unwrap();
        let o = a.allocate(0).remove(0);
        // Refuse the rest for a long time, then the released half for a short one.
        a.decline(o.id, Some(100 * S), 0).unwrap();
        a.release("fw", 0, [2000, 4 << 30, 0]).unwrap();
        let o = a.allocate(S).remove(0);
        assert_eq!(
            o.resources,
            [4000, 8 << 30, 0],
            "the whole agent is not contained in the first filter"
        );
        a.decline(o.id, Some(2 * S), S).unwrap();
        assert!(a.allocate(2 * S).is_empty());
        assert_eq!(
            a.allocate(3 * S).len(),
            1,
            "the short filter expired; the long one does not cover the whole agent"
        );
    }

    #[test]
    fn cell_offers_go_to_one_framework() {
        let mut a = two_frameworks();
        let offers = a.allocate_cell(0);
        assert_eq!(offers.len(), 4);
        assert!(offers.iter().all(|o| o.framework == "batch"));
        assert!(a.allocate_cell(0).is_empty(), "nothing left");
        a.check().unwrap();
    }

    #[test]
    fn misuse_is_refused() {
        let mut a = two_frameworks();
        let o = a.allocate(0).remove(0);
        assert!(a.accept(o.id, [5000, 0, 0], None, 0).is_err());
        assert!(a.offer(o.id).is_some(), "a refused accept keeps the offer");
        assert!(a.decline(999, None, 0).is_err());
        assert!(a.release("batch", 0, [1, 0, 0]).is_err());
    }

    #[derive(Clone, Debug)]
    enum Op {
        Allocate,
        Accept(usize, u64),
        Decline(usize, u64),
        Rescind(usize),
        Release(usize),
        Toggle(bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            Just(Op::Allocate),
            (any::<usize>(), 0u64..4).prop_map(|(i, r)| Op::Accept(i, r)),
            (any::<usize>(), 0u64..8).prop_map(|(i, r)| Op::Decline(i, r)),
            any::<usize>().prop_map(Op::Rescind),
            any::<usize>().prop_map(Op::Release),
            any::<bool>().prop_map(Op::Toggle),
        ]
    }

    proptest! {
        /// Under any sequence of allocations, accepts, declines, rescinds and releases, an
        /// agent's resources are never in two places: free + outstanding offers + used equals
        /// its total, and no offer is ever empty.
        #[test]
        fn offers_never_double_allocate(ops in prop::collection::vec(op(), 1..60), seed in any::<u64>()) {
            let mut a = Allocator::new(&[[4000, 8 << 30, 2000], [2000, 4 << 30, 0], [8000, 2 << 30, 8000]], S, seed);
            a.add_framework("x", "r1");
            a.add_framework("y", "r1");
            a.add_framework("z", "r2");
            let mut now = 0;
            let mut launched: Vec<(String, usize, Vector)> = Vec::new();
            for op in ops {
                now += S / 2;
                let ids: Vec<u64> = a.outstanding().map(|o| o.id).collect();
                match op {
                    Op::Allocate => {
                        for o in a.allocate(now) {
                            prop_assert!(o.resources.iter().any(|&x| x > 0));
                        }
                    }
                    Op::Accept(i, r) if !ids.is_empty() => {
                        let o = a.offer(ids[i % ids.len()]).unwrap().clone();
                        let used = [o.resources[0] / 2, o.resources[1] / 2, o.resources[2] / 2];
                        a.accept(o.id, used, Some(r * S), now).unwrap();
                        launched.push((o.framework, o.agent, used));
                    }
                    Op::Decline(i, r) if !ids.is_empty() => {
                        a.decline(ids[i % ids.len()], Some(r * S / 2), now).unwrap();
                    }
                    Op::Rescind(i) if !ids.is_empty() => {
                        a.rescind(ids[i % ids.len()]).unwrap();
                    }
                    Op::Release(i) if !launched.is_empty() => {
                        let (f, ag, r) = launched.remove(i % launched.len());
                        a.release(&f, ag, r).unwrap();
                    }
                    Op::Toggle(on) => a.set_active("y", on),
                    _ => {}
                }
                prop_assert_eq!(a.check(), Ok(()));
            }
        }
    }

    #[test]
    fn an_unreachable_agent_is_never_offered() {
        let mut a = Allocator::new(&[[4000, 8 << 30, 0], [4000, 8 << 30, 0]], 1, 7);
        a.add_framework("marathon", "marathon");
        a.set_reachable(1, false);
        let offers = a.allocate(0);
        assert_eq!(offers.iter().map(|o| o.agent).collect::<Vec<_>>(), [0]);
        for o in offers {
            a.decline(o.id, Some(0), 0).unwrap();
        }
        assert!(a.allocate_cell(1).iter().all(|o| o.agent == 0));
        a.set_reachable(1, true);
        assert!(a.allocate(2).iter().any(|o| o.agent == 1));
    }
}
