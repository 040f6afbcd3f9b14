//! Horizontal pod autoscalers in the world (`[[autoscalers]]`, `crate::autoscale`): every
//! sync period each measures its service's utilisation under the load curve, decides with
//! the HPA's arithmetic and behaviour, and creates or deletes replicas through the same
//! controller path as upgrades (new pods through the scheduler, deletions in the ReplicaSet
//! controller's order). What it did and how well the replicas kept up is `autoscale.csv`.

use orchsim_kernel::{Kernel, SimDuration, SimTime};

use super::{Event, JobPlace, PodState, World};
use crate::autoscale::{recommend, Behavior, SYNC_PERIOD};

/// One autoscaler over the run.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoscaleRecord {
    pub workload: String,
    pub min_replicas: u64,
    pub max_replicas: u64,
    pub syncs: u64,
    pub scale_ups: u64,
    pub scale_downs: u64,
    pub created: u64,
    pub deleted: u64,
    /// Replicas (live pods) seen at the syncs: fewest and most.
    pub replicas_min: u64,
    pub replicas_max: u64,
    /// Ready replicas × time, sampled at each sync (replica-seconds).
    pub ready_replica_s: f64,
    /// Time (sampled at each sync) when the demand exceeded what the ready pods request.
    pub overloaded_s: f64,
    pub load_peak_cores: f64,
}

pub(super) struct Hpa {
    index: usize,
    behavior: Behavior,
    pub(super) record: AutoscaleRecord,
}

impl World<'_> {
    /// Each autoscaler's first sync, one period in (kube-controller-manager's loop).
    pub(super) fn plan_autoscalers(&mut self, k: &mut Kernel<Event>) {
        for (i, a) in self.scenario.autoscalers.iter().enumerate() {
            self.tracked[a.workload] = true;
            self.hpas.push(Hpa {
                index: i,
                behavior: Behavior::default(),
                record: AutoscaleRecord {
                    workload: self.scenario.workloads[a.workload].name.clone(),
                    min_replicas: a.min_replicas,
                    max_replicas: a.max_replicas,
                    syncs: 0,
                    scale_ups: 0,
                    scale_downs: 0,
                    created: 0,
                    deleted: 0,
                    replicas_min: u64::MAX,
                    replicas_max: 0,
                    ready_replica_s: 0.0,
                    overloaded_s: 0.0,
                    load_peak_cores: 0.0,
                },
            });
            if SimTime::ZERO + SYNC_PERIOD <= self.until {
                k.schedule_at(SimTime::ZERO + SYNC_PERIOD, Event::HpaSync { hpa: i });
            }
        }
    }

    /// One sync of autoscaler `h`.
    pub(super) fn hpa_sync(&mut self, k: &mut Kernel<Event>, h: usize) {
        let now = k.now();
        let a = &self.scenario.autoscalers[self.hpas[h].index];
        let (w, min, max, target) = (a.workload, a.min_replicas, a.max_replicas, a.target_cpu_pct);
        let cores = a.load.at(now);
        let request = self.scenario.workloads[w]
            .cpu_milli
            .sample_constant()
            .unwrap_or(0.0);
        let (live, ready) = self.census(w, now, u32::MAX);
        let (current, ready) = (live.0 + live.1, ready.0 + ready.1);
        let usage = cores * 1000.0;
        let next = now + SYNC_PERIOD;
        if next <= self.until {
            k.schedule_at(next, Event::HpaSync { hpa: h });
        }
        // No replicas yet (the service's pods have not arrived): nothing to scale, as
        // upstream disables scaling at 0. No ready pod: no metrics, nothing recorded.
        if current == 0 || ready == 0 {
            return;
        }
        let rec = recommend(
            current,
            ready,
            current.saturating_sub(ready),
            usage,
            request,
            target,
        );
        let desired = self.hpas[h].behavior.decide(now, current, rec, min, max);
        let period = SYNC_PERIOD.as_secs_f64();
        let r = &mut self.hpas[h].record;
        r.syncs += 1;
        r.replicas_min = r.replicas_min.min(current);
        r.replicas_max = r.replicas_max.max(current);
        r.ready_replica_s += ready as f64 * period;
        if usage > ready as f64 * request {
            r.overloaded_s += period;
        }
        r.load_peak_cores = r.load_peak_cores.max(cores);
        if desired > current {
            let mut created = 0;
            for _ in current..desired {
                if self.create_replica(k, w, 0, true) {
                    created += 1;
                }
            }
            let r = &mut self.hpas[h].record;
            r.created += created;
            r.scale_ups += u64::from(created > 0);
        } else if desired < current {
            let victims: Vec<usize> = self
                .deletion_order(w, now)
                .into_iter()
                .take((current - desired) as usize)
                .collect();
            let r = &mut self.hpas[h].record;
            r.deleted += victims.len() as u64;
            r.scale_downs += u64::from(!victims.is_empty());
            for p in victims {
                self.delete_pod(k, p);
            }
            self.kick_all(k);
        }
    }

    /// The service's live pods in the order its ReplicaSet controller deletes them
    /// (controller.ActivePods): unassigned first, then Pending, Unknown, Running, not ready
    /// before ready, the newest first; none that a decision is placing right now.
    fn deletion_order(&self, w: usize, now: SimTime) -> Vec<usize> {
        let phase = |s: PodState| match s {
            PodState::Starting => 0,
            PodState::Lost => 1,
            _ => 2,
        };
        let mut pods: Vec<usize> = self.workload_pods[w]
            .iter()
            .copied()
            .filter(|&p| self.is_live(p) && self.jobs[self.pods[p].job].place != JobPlace::Deciding)
            .collect();
        pods.sort_by_key(|&p| {
            let rec = &self.pods[p];
            (
                rec.node.is_some(),
                phase(rec.state),
                self.is_ready(p, now, SimDuration::ZERO),
                std::cmp::Reverse(p),
            )
        });
        pods
    }

    /// The autoscalers' records at the end of the run.
    pub(crate) fn autoscale_records(&self) -> Vec<AutoscaleRecord> {
        self.hpas.iter().map(|h| h.record.clone()).collect()
    }
}
