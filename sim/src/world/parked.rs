//! Jobs parked until resources are freed, indexed so that a release wakes only the jobs that
//! could now fit instead of every parked job.
//!
//! kube-scheduler moves unschedulable pods back to its active queue on a pod deletion and
//! bounds the cost with per-pod backoff; re-deciding every parked job on every release made a
//! run's work grow with the square of its simulated time (every finish re-decided every pod
//! still waiting). A job is parked under its first waiting pod's CPU request: a release on a
//! node with `free` CPU looks only at the jobs asking for at most that, and wakes those whose
//! pod fits the node's free room — a necessary condition for the pod to land anywhere, since
//! no other node gained room. Jobs whose placement depends on other pods (anti-affinity,
//! topology spread, Marathon constraints, or a priority that may preempt) can be unblocked on
//! a node that did not change, so every release wakes them.

use std::collections::BTreeSet;

/// Where a parked job is filed, kept by the job to leave the index when it is woken otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ParkKey {
    /// Woken by every release.
    Always { seq: u64 },
    /// Woken by a release on a node its first waiting pod fits, with this CPU request.
    ByCpu { cpu_milli: u64, seq: u64 },
}

/// The parked jobs of one scheduler.
#[derive(Debug, Default)]
pub(super) struct Parked {
    by_cpu: BTreeSet<(u64, u64, usize)>,
    always: BTreeSet<(u64, usize)>,
    /// Parking order: woken jobs go back to the queue oldest first.
    next_seq: u64,
}

impl Parked {
    /// Files `job`; `cpu_milli` is its first waiting pod's CPU request, `None` for a job that
    /// every release must wake.
    pub(super) fn park(&mut self, job: usize, cpu_milli: Option<u64>) -> ParkKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        match cpu_milli {
            Some(cpu_milli) => {
                self.by_cpu.insert((cpu_milli, seq, job));
                ParkKey::ByCpu { cpu_milli, seq }
            }
            None => {
                self.always.insert((seq, job));
                ParkKey::Always { seq }
            }
        }
    }

    /// Takes `job` out of the index (it was woken by something other than a release).
    pub(super) fn remove(&mut self, job: usize, key: ParkKey) {
        match key {
            ParkKey::Always { seq } => self.always.remove(&(seq, job)),
            ParkKey::ByCpu { cpu_milli, seq } => self.by_cpu.remove(&(cpu_milli, seq, job)),
        };
    }

    /// Takes out and returns, oldest first, the jobs a release may have unblocked: every job
    /// filed as `Always`, and those asking for at most `free_cpu_milli` for which `fits` holds.
    /// With `all`, every parked job (the released pod itself constrained others).
    pub(super) fn wake(
        &mut self,
        free_cpu_milli: u64,
        all: bool,
        mut fits: impl FnMut(usize) -> bool,
    ) -> Vec<usize> {
        let mut woken: Vec<(u64, usize)> = std::mem::take(&mut self.always).into_iter().collect();
        if all {
            woken.extend(
                std::mem::take(&mut self.by_cpu)
                    .into_iter()
                    .map(|(_, seq, job)| (seq, job)),
            );
        } else {
            let candidates: Vec<(u64, u64, usize)> = self
                .by_cpu
                .range(..=(free_cpu_milli, u64::MAX, usize::MAX))
                .copied()
                .filter(|&(_, _, job)| fits(job))
                .collect();
            for c in candidates {
                self.by_cpu.remove(&c);
                woken.push((c.1, c.2));
            }
        }
        woken.sort_unstable();
        woken.into_iter().map(|(_, job)| job).collect()
    }

    /// Every parked job, those woken by any release first, each group oldest first.
    pub(super) fn jobs(&self) -> impl Iterator<Item = usize> + '_ {
        self.always
            .iter()
            .map(|&(_, job)| job)
            .chain(self.by_cpu.iter().map(|&(_, _, job)| job))
    }

    pub(super) fn is_empty(&self) -> bool {
        self.by_cpu.is_empty() && self.always.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_wakes_the_jobs_that_fit_and_those_always_woken_oldest_first() {
        let mut p = Parked::default();
        p.park(10, Some(4000));
        p.park(11, None);
        p.park(12, Some(1000));
        p.park(13, Some(1000));
        // 2 CPUs free: 12 and 13 ask for 1; 13 fails the node's other checks.
        assert_eq!(p.wake(2000, false, |j| j != 13), vec![11, 12]);
        // Still parked: 10 (too big) and 13 (did not fit); nothing is always woken now.
        assert_eq!(p.wake(2000, false, |_| true), vec![13]);
        assert_eq!(p.wake(8000, false, |_| true), vec![10]);
        assert!(p.is_empty());
    }

    #[test]
    fn waking_all_and_removing_keep_the_index_consistent() {
        let mut p = Parked::default();
        let a = p.park(1, Some(500));
        p.park(2, Some(9000));
        p.park(3, None);
        p.remove(1, a);
        assert_eq!(p.wake(0, true, |_| false), vec![2, 3]);
        assert!(p.is_empty());
    }
}
