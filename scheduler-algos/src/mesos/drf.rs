//! Dominant Resource Fairness (Ghodsi et al., NSDI 2011) and Mesos' DRF sorter.
//!
//! A client's dominant share is the largest fraction it holds of any resource, measured
//! against the whole cluster, divided by its weight. The sorter orders clients by that share,
//! then by how many allocations they have received, then by name — Mesos'
//! `compareDRF` (src/master/allocator/mesos/sorter/drf/sorter.hpp). Offered resources count
//! as allocated, as in Mesos.

use std::collections::BTreeMap;

/// Resource kinds DRF compares: CPU (millicores), memory (bytes) and GPU (milli-GPU; Mesos
/// offers `gpus` as a scalar like the others, and a kind with no total is skipped).
pub const RESOURCES: usize = 3;

/// An amount of each resource kind.
pub type Vector = [u64; RESOURCES];

/// One client of the sorter: a role or a framework.
#[derive(Clone, Debug, PartialEq)]
struct Client {
    weight: f64,
    allocated: Vector,
    /// Allocations received, never decremented (Mesos' `allocation.count`).
    count: u64,
}

/// Mesos' DRF sorter over named clients.
#[derive(Clone, Debug, PartialEq)]
pub struct DrfSorter {
    total: Vector,
    clients: BTreeMap<String, Client>,
}

impl DrfSorter {
    /// A sorter measuring shares against `total` (the whole cluster).
    pub fn new(total: Vector) -> Self {
        DrfSorter {
            total,
            clients: BTreeMap::new(),
        }
    }

    /// Adds a client with `weight` (Mesos' default weight is 1.0). Re-adding keeps its
    /// allocation and sets the weight.
    pub fn add(&mut self, name: &str, weight: f64) {
        let c = self.clients.entry(name.to_string()).or_insert(Client {
            weight,
            allocated: [0; RESOURCES],
            count: 0,
        });
        c.weight = weight;
    }

    pub fn set_total(&mut self, total: Vector) {
        self.total = total;
    }

    /// Records resources given to `name` (in an offer or a launch).
    pub fn allocated(&mut self, name: &str, r: Vector) {
        if let Some(c) = self.clients.get_mut(name) {
            for (a, x) in c.allocated.iter_mut().zip(r) {
                *a += x;
            }
            c.count += 1;
        }
    }

    /// Records resources `name` gave back (declined, finished, rescinded).
    pub fn unallocated(&mut self, name: &str, r: Vector) {
        if let Some(c) = self.clients.get_mut(name) {
            for (a, x) in c.allocated.iter_mut().zip(r) {
                *a = a.saturating_sub(x);
            }
        }
    }

    /// `name`'s weighted dominant share (0 for an unknown client).
    pub fn share(&self, name: &str) -> f64 {
        self.clients.get(name).map_or(0.0, |c| {
            dominant_share(&c.allocated, &self.total) / c.weight
        })
    }

    pub fn allocation(&self, name: &str) -> Option<Vector> {
        self.clients.get(name).map(|c| c.allocated)
    }

    /// Client names, lowest weighted dominant share first; ties by fewer allocations, then
    /// by name.
    pub fn sort(&self) -> Vec<String> {
        let mut v: Vec<(&String, f64, u64)> = self
            .clients
            .iter()
            .map(|(n, c)| {
                (
                    n,
                    dominant_share(&c.allocated, &self.total) / c.weight,
                    c.count,
                )
            })
            .collect();
        v.sort_by(|a, b| {
            a.1.total_cmp(&b.1)
                .then(a.2.cmp(&b.2))
                .then_with(|| a.0.cmp(b.0))
        });
        v.into_iter().map(|(n, _, _)| n.clone()).collect()
    }
}

/// The largest fraction of `total` that `allocated` holds of any resource (resources with
/// a zero total are skipped, as Mesos does).
pub fn dominant_share(allocated: &Vector, total: &Vector) -> f64 {
    allocated
        .iter()
        .zip(total)
        .filter(|(_, &t)| t > 0)
        .map(|(&a, &t)| a as f64 / t as f64)
        .fold(0.0, f64::max)
}

/// One user of [`progressive_filling`]: the resources each of its tasks needs, and its weight.
#[derive(Clone, Debug, PartialEq)]
pub struct Demand {
    pub name: String,
    pub per_task: Vector,
    pub weight: f64,
}

/// DRF by progressive filling (the paper's Algorithm 1, continuing past users whose next
/// task no longer fits): repeatedly launch one task of the user with the lowest weighted
/// dominant share (ties as the Mesos sorter orders them) among those whose task still fits.
/// Returns the tasks launched per user, in input order.
pub fn progressive_filling(total: Vector, demands: &[Demand]) -> Vec<u64> {
    let mut sorter = DrfSorter::new(total);
    for d in demands {
        sorter.add(&d.name, d.weight);
    }
    let mut free = total;
    let mut tasks = vec![0u64; demands.len()];
    let mut blocked = vec![false; demands.len()];
    loop {
        let next = sorter.sort().into_iter().find_map(|name| {
            let i = demands.iter().position(|d| d.name == name)?;
            (!blocked[i]).then_some(i)
        });
        let Some(i) = next else { break };
        let need = demands[i].per_task;
        if need.iter().all(|&x| x == 0) || need.iter().zip(&free).any(|(n, f)| n > f) {
            blocked[i] = true;
            continue;
        }
        for (f, n) in free.iter_mut().zip(need) {
            *f -= n;
        }
        sorter.allocated(&demands[i].name, need);
        tasks[i] += 1;
    }
    tasks
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const GB: u64 = 1 << 30;

    fn demand(name: &str, cpu: u64, mem: u64, weight: f64) -> Demand {
        Demand {
            name: name.into(),
            per_task: [cpu, mem, 0],
            weight,
        }
    }

    /// The DRF paper's worked example (§4.1): 9 CPUs and 18 GB; user A runs tasks of
    /// ⟨1 CPU, 4 GB⟩, user B ⟨3 CPUs, 1 GB⟩. DRF gives A three tasks ⟨3 CPUs, 12 GB⟩ and B
    /// two ⟨6 CPUs, 2 GB⟩, equalising dominant shares at 2/3.
    #[test]
    fn the_papers_worked_example() {
        let total = [9_000, 18 * GB, 0];
        let d = [demand("A", 1_000, 4 * GB, 1.0), demand("B", 3_000, GB, 1.0)];
        assert_eq!(progressive_filling(total, &d), vec![3, 2]);
        let mut s = DrfSorter::new(total);
        s.add("A", 1.0);
        s.add("B", 1.0);
        for _ in 0..3 {
            s.allocated("A", d[0].per_task);
        }
        for _ in 0..2 {
            s.allocated("B", d[1].per_task);
        }
        assert!((s.share("A") - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.share("B") - 2.0 / 3.0).abs() < 1e-12);
    }

    /// Weighted DRF equalises share / weight: with weights 2 and 1 and identical tasks, the
    /// heavier user ends with twice the tasks (8 and 4 of 12).
    #[test]
    fn weights_divide_the_share() {
        let total = [12_000, 12 * GB, 0];
        let d = [
            demand("heavy", 1_000, GB, 2.0),
            demand("light", 1_000, GB, 1.0),
        ];
        assert_eq!(progressive_filling(total, &d), vec![8, 4]);
    }

    /// Mesos' comparator: share, then allocation count, then name.
    #[test]
    fn ties_by_allocation_count_then_name() {
        let mut s = DrfSorter::new([10, 10, 0]);
        for n in ["b", "a", "c"] {
            s.add(n, 1.0);
        }
        assert_eq!(s.sort(), vec!["a", "b", "c"]);
        // b receives and returns an allocation: same share as the others, one more count.
        s.allocated("b", [1, 0, 0]);
        s.unallocated("b", [1, 0, 0]);
        assert_eq!(s.sort(), vec!["a", "c", "b"]);
        s.allocated("c", [5, 0, 0]);
        assert_eq!(s.sort(), vec!["a", "b", "c"]);
    }

    proptest! {
        /// Progressive filling's result is DRF-fair by the definition: no user's next task
        /// fits in what is left (no one can grow without taking from someone), and if taking
        /// one task from user j would make room for user i's next task, then j's share
        /// without that task is no higher than i's — so raising i's share would lower a share
        /// that is lower or equal. Also: nothing is over-allocated.
        #[test]
        fn progressive_filling_is_drf_fair(
            total in (1_000u64..50_000, 1u64..64).prop_map(|(c, m)| [c, m * GB, 0]),
            users in prop::collection::vec((1u64..8_000, 0u64..16 * GB, 1u32..4), 1..5),
        ) {
            let d: Vec<Demand> = users
                .iter()
                .enumerate()
                .map(|(i, &(c, m, w))| demand(&format!("u{i}"), c, m, f64::from(w)))
                .collect();
            let tasks = progressive_filling(total, &d);
            let used: Vec<u64> = (0..RESOURCES)
                .map(|r| d.iter().zip(&tasks).map(|(u, &t)| u.per_task[r] * t).sum())
                .collect();
            prop_assert!(used[0] <= total[0] && used[1] <= total[1]);
            let free = [total[0] - used[0], total[1] - used[1], 0];
            let share = |i: usize, n: u64| {
                let a = [d[i].per_task[0] * n, d[i].per_task[1] * n, 0];
                dominant_share(&a, &total) / d[i].weight
            };
            for i in 0..d.len() {
                let fits = |room: [u64; 3]| d[i].per_task.iter().zip(&room).all(|(n, f)| n <= f);
                prop_assert!(!fits(free), "u{i} could still launch a task");
                for j in 0..d.len() {
                    if j == i || tasks[j] == 0 {
                        continue;
                    }
                    let room = [free[0] + d[j].per_task[0], free[1] + d[j].per_task[1], 0];
                    if fits(room) {
                        prop_assert!(
                            share(j, tasks[j] - 1) <= share(i, tasks[i]) + 1e-12,
                            "u{j} holds more than u{i} could claim"
                        );
                    }
                }
            }
        }
    }
}
