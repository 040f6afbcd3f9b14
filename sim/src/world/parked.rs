//! Jobs parked until resources are freed, indexed so that a release wakes only the jobs that
//! could now fit instead of every parked job.
//!
//! kube-scheduler moves unschedulable pods back to its active queue on a pod deletion and
//! bounds the cost with per-pod backoff; re-deciding every parked job on every release made a
//! run's work grow with the square of its simulated time (every finish re-decided every pod
//! still waiting). A job is parked under its first waiting pod's CPU request: a release on a
//! node with `free` CPU looks only at the jobs asking for at most that, and wakes those whose
//! pod fits the node's free room — a necessary condition for the pod to land anywhere, since
//! no other node gained room.
//!
//! A pod that may preempt needs no free room, only room once the node's pods of lower
//! priority are gone: it is filed by priority and woken by a release on a node where that
//! room fits it. Binds never open such room (a lower-priority pod moves its request from free
//! to evictable, a higher one takes room away), so releases are the only events to watch.
//! Jobs whose placement depends on other pods (anti-affinity, topology spread, Marathon
//! constraints) can be unblocked on a node that did not change, so every release wakes them.

use std::collections::{BTreeMap, BTreeSet};

/// How a job is filed when it parks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Park {
    /// Woken by every release.
    Always,
    /// Woken by a release on a node with this much CPU free.
    ByCpu { cpu_milli: u64 },
    /// Woken by a release on a node with this much CPU free once its pods of lower priority
    /// than `priority` are evicted.
    Preempting { priority: i32, cpu_milli: u64 },
}

/// Where a parked job is filed, kept by the job to leave the index when it is woken otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ParkKey {
    park: Park,
    seq: u64,
}

/// The parked jobs of one scheduler.
#[derive(Debug, Default)]
pub(super) struct Parked {
    by_cpu: BTreeSet<(u64, u64, usize)>,
    /// Priority → (CPU request, seq, job).
    preempting: BTreeMap<i32, BTreeSet<(u64, u64, usize)>>,
    always: BTreeSet<(u64, usize)>,
    /// Parking order: woken jobs go back to the queue oldest first.
    next_seq: u64,
}

impl Parked {
    /// Files `job` as `park` says.
    pub(super) fn park(&mut self, job: usize, park: Park) -> ParkKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        match park {
            Park::Always => self.always.insert((seq, job)),
            Park::ByCpu { cpu_milli } => self.by_cpu.insert((cpu_milli, seq, job)),
            Park::Preempting {
                priority,
                cpu_milli,
            } => self
                .preempting
                .entry(priority)
                .or_default()
                .insert((cpu_milli, seq, job)),
        };
        ParkKey { park, seq }
    }

    /// Takes `job` out of the index (it was woken by something other than a release).
    pub(super) fn remove(&mut self, job: usize, key: ParkKey) {
        let seq = key.seq;
        match key.park {
            Park::Always => {
                self.always.remove(&(seq, job));
            }
            Park::ByCpu { cpu_milli } => {
                self.by_cpu.remove(&(cpu_milli, seq, job));
            }
            Park::Preempting {
                priority,
                cpu_milli,
            } => {
                if let Some(set) = self.preempting.get_mut(&priority) {
                    set.remove(&(cpu_milli, seq, job));
                    if set.is_empty() {
                        self.preempting.remove(&priority);
                    }
                }
            }
        }
    }

    /// Takes out and returns, oldest first, the jobs a release may have unblocked: every job
    /// filed as `Always`; those asking for at most `free_cpu_milli`, and those of priority p
    /// asking for at most `room_cpu_milli(p)`, for which `fits` holds. With `all`, every
    /// parked job (the released pod itself constrained others).
    pub(super) fn wake(
        &mut self,
        free_cpu_milli: u64,
        all: bool,
        room_cpu_milli: impl Fn(i32) -> u64,
        mut fits: impl FnMut(usize) -> bool,
    ) -> Vec<usize> {
        let mut woken: Vec<(u64, usize)> = std::mem::take(&mut self.always).into_iter().collect();
        if all {
            let sets = std::iter::once(std::mem::take(&mut self.by_cpu))
                .chain(std::mem::take(&mut self.preempting).into_values());
            for set in sets {
                woken.extend(set.into_iter().map(|(_, seq, job)| (seq, job)));
            }
        } else {
            let mut take = |set: &mut BTreeSet<(u64, u64, usize)>, room: u64| {
                let candidates: Vec<(u64, u64, usize)> = set
                    .range(..=(room, u64::MAX, usize::MAX))
                    .copied()
                    .filter(|&(_, _, job)| fits(job))
                    .collect();
                for c in candidates {
                    set.remove(&c);
                    woken.push((c.1, c.2));
                }
            };
            take(&mut self.by_cpu, free_cpu_milli);
            for (&priority, set) in self.preempting.iter_mut() {
                take(set, room_cpu_milli(priority));
            }
            self.preempting.retain(|_, set| !set.is_empty());
        }
        woken.sort_unstable();
        woken.into_iter().map(|(_, job)| job).collect()
    }

    /// Every parked job: those a release on a node they do not fit may wake (always and
    /// preempting) oldest first, then the others oldest first.
    pub(super) fn jobs(&self) -> impl Iterator<Item = usize> + '_ {
        let mut first: Vec<(u64, usize)> = self.always.iter().copied().collect();
        first.extend(
            self.preempting
                .values()
                .flat_map(|set| set.iter().map(|&(_, seq, job)| (seq, job))),
        );
        first.sort_unstable();
        first
            .into_iter()
            .map(|(_, job)| job)
            .chain(self.by_cpu.iter().map(|&(_, _, job)| job))
    }

    pub(super) fn is_empty(&self) -> bool {
        self.by_cpu.is_empty() && self.always.is_empty() && self.preempting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_wakes_the_jobs_that_fit_and_those_always_woken_oldest_first() {
        let mut p = Parked::default();
        p.park(10, Park::ByCpu { cpu_milli: 4000 });
        p.park(11, Park::Always);
        p.park(12, Park::ByCpu { cpu_milli: 1000 });
        p.park(13, Park::ByCpu { cpu_milli: 1000 });
        // 2 CPUs free: 12 and 13 ask for 1; 13 fails the node's other checks.
        assert_eq!(p.wake(2000, false, |_| 0, |j| j != 13), vec![11, 12]);
        // Still parked: 10 (too big) and 13 (did not fit); nothing is always woken now.
        assert_eq!(p.wake(2000, false, |_| 0, |_| true), vec![13]);
        assert_eq!(p.wake(8000, false, |_| 0, |_| true), vec![10]);
        assert!(p.is_empty());
    }

    #[test]
    fn waking_all_and_removing_keep_the_index_consistent() {
        let mut p = Parked::default();
        let a = p.park(1, Park::ByCpu { cpu_milli: 500 });
        p.park(2, Park::ByCpu { cpu_milli: 9000 });
        p.park(3, Park::Always);
        let d = p.park(
            4,
            Park::Preempting {
                priority: 5,
                cpu_milli: 100,
            },
        );
        p.park(
            5,
            Park::Preempting {
                priority: 5,
                cpu_milli: 200,
            },
        );
        p.remove(4, d);
        p.remove(1, a);
        assert_eq!(p.wake(0, true, |_| 0, |_| false), vec![2, 3, 5]);
        assert!(p.is_empty());
    }

    #[test]
    fn a_preemptor_wakes_where_evicting_lower_priority_pods_would_make_room() {
        let mut p = Parked::default();
        p.park(
            1,
            Park::Preempting {
                priority: 9,
                cpu_milli: 3000,
            },
        );
        p.park(
            2,
            Park::Preempting {
                priority: 2,
                cpu_milli: 3000,
            },
        );
        p.park(3, Park::ByCpu { cpu_milli: 3000 });
        // 1 CPU free, and 4 more held by pods of priority below 9 but none below 2.
        let room = |priority: i32| if priority > 5 { 5000 } else { 1000 };
        assert_eq!(p.wake(1000, false, room, |_| true), vec![1]);
        // Listed with the always-woken, oldest first, before those waiting for free room.
        assert_eq!(p.jobs().collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(p.wake(3000, false, |_| 3000, |_| true), vec![2, 3]);
        assert!(p.is_empty());
    }
}
