//! The Kubernetes Job controller (workloads with `job`, `crate::jobs`): each Job keeps
//! `min(parallelism, completions − succeeded)` pods active until `completions` succeeded;
//! a failed pod (restart policy `Never`) is replaced after the controller's back-off, a
//! container restarted in place (`OnFailure`) counts as a failure too, and past
//! `backoff_limit` failures the Job fails and its active pods are deleted. Its pods go
//! through the scheduler like every other pod.

use orchsim_kernel::{Kernel, SimTime};

use super::{api, Event, PodState, World};
use crate::jobs::{JobSpec, RestartPolicy};

// Digest record kinds of Jobs (continuing the world's).
const TAG_POD_FAILED: u8 = 19;
const TAG_JOB_DONE: u8 = 20;

/// One Job's progress.
#[derive(Clone, Debug)]
pub(crate) struct JobRun {
    pub(crate) spec: JobSpec,
    /// Failed pods (`Never`) or container restarts (`OnFailure`) so far, and since the last
    /// pod that succeeded (the back-off counts only those).
    pub(crate) failed: u32,
    failed_since_success: u32,
    /// No pod is created before this (the back-off after the last failure).
    not_before: SimTime,
    /// When it completed (`true`) or failed (`false`).
    pub(crate) outcome: Option<(SimTime, bool)>,
}

impl JobRun {
    pub(super) fn new(spec: JobSpec) -> JobRun {
        JobRun {
            spec,
            failed: 0,
            failed_since_success: 0,
            not_before: SimTime::ZERO,
            outcome: None,
        }
    }
}

impl World<'_> {
    /// The pods of `job` still to finish: waiting, starting, running, or lost with their
    /// host.
    pub(super) fn job_active(&self, job: usize) -> Vec<usize> {
        self.jobs[job]
            .pods
            .iter()
            .copied()
            .filter(|&p| self.is_live(p))
            .collect()
    }

    /// The Job controller's sync: complete once enough pods succeeded, else (out of its
    /// back-off) top the active pods up to what parallelism allows.
    pub(super) fn job_sync(&mut self, k: &mut Kernel<Event>, job: usize) {
        let now = k.now();
        let Some(run) = self.job_runs.get(&job) else {
            return;
        };
        if run.outcome.is_some() {
            return;
        }
        let spec = run.spec;
        let succeeded = self.jobs[job]
            .pods
            .iter()
            .filter(|&&p| self.pods[p].state == PodState::Finished)
            .count() as u32;
        let active = self.job_active(job);
        if succeeded >= spec.completions {
            self.job_done(k, job, true, active);
            return;
        }
        if now < run.not_before {
            return;
        }
        let want = spec.parallelism.min(spec.completions - succeeded);
        let missing = want.saturating_sub(active.len() as u32);
        if missing > 0 {
            self.add_job_pods(k, job, missing);
        }
    }

    /// A pod of a Job succeeded: the back-off starts over (the Job controller's
    /// failuresAfterLastSuccess).
    pub(super) fn job_pod_finished(&mut self, k: &mut Kernel<Event>, pod: usize) {
        let job = self.pods[pod].job;
        if let Some(run) = self.job_runs.get_mut(&job) {
            run.failed_since_success = 0;
            self.job_sync(k, job);
        }
    }

    /// A Job pod's container exited with an error: with `Never` the pod fails (and is
    /// replaced after the back-off), with `OnFailure` it counts and the kubelet restarts it.
    /// Whether the Job controller took the pod over (the crash goes no further).
    pub(super) fn job_pod_crashed(&mut self, k: &mut Kernel<Event>, pod: usize) -> bool {
        let now = k.now();
        let job = self.pods[pod].job;
        let Some(run) = self.job_runs.get_mut(&job) else {
            return false;
        };
        if run.outcome.is_some() {
            return false;
        }
        run.failed += 1;
        run.failed_since_success += 1;
        let (spec, failed, recent) = (run.spec, run.failed, run.failed_since_success);
        let never = spec.restart_policy == RestartPolicy::Never;
        if never {
            self.fail_pod(k, pod);
        }
        if failed > spec.backoff_limit {
            if !never {
                // The exit that ends the Job is a crash like the others.
                self.pods[pod].crashes += 1;
                self.crashes += 1;
            }
            let active = self.job_active(job);
            self.job_done(k, job, false, active);
            self.kick_all(k);
            return true;
        }
        if never {
            let at = now + JobSpec::backoff(recent);
            if let Some(run) = self.job_runs.get_mut(&job) {
                run.not_before = at;
            }
            k.schedule_at(at, Event::JobSync { job });
            self.kick_all(k);
        }
        never
    }

    /// A running pod whose container exited with an error, under restart policy `Never`: it
    /// ends `failed`, its resources freed.
    pub(super) fn fail_pod(&mut self, k: &mut Kernel<Event>, pod: usize) {
        let now = k.now();
        self.release(k, pod);
        self.network_exited(pod);
        let rec = &mut self.pods[pod];
        rec.state = PodState::Failed;
        rec.finished = Some(now);
        rec.incarnation += 1;
        rec.crashes += 1;
        self.pods_running -= 1;
        self.network_epoch += 1;
        self.crashes += 1;
        self.digest.record(now, TAG_POD_FAILED, &[pod as u64]);
        self.kick_all(k);
    }

    /// The Job is over: its remaining pods are deleted (once its decision is over, if one
    /// is being made: `after_attempt` does it).
    fn job_done(&mut self, k: &mut Kernel<Event>, job: usize, complete: bool, active: Vec<usize>) {
        let now = k.now();
        if let Some(run) = self.job_runs.get_mut(&job) {
            run.outcome = Some((now, complete));
        }
        self.digest
            .record(now, TAG_JOB_DONE, &[job as u64, u64::from(complete)]);
        // Pods waiting for the decision under way go once it is over (`after_attempt`); the
        // others at once.
        let deciding = self.jobs[job].place == super::JobPlace::Deciding;
        for pod in active {
            let waiting = matches!(
                self.pods[pod].state,
                PodState::Pending | PodState::Unschedulable
            );
            if !(deciding && waiting) {
                self.delete_pod(k, pod);
            }
        }
    }

    /// `n` more pods of the Job, queued with its others (created through the API server
    /// with `[api_server]`).
    fn add_job_pods(&mut self, k: &mut Kernel<Event>, job: usize, n: u32) {
        let workload = self.jobs[job].workload;
        let first = &self.pods[self.jobs[job].pods[0]].spec;
        let (owner, priority) = (first.owner.clone(), first.priority);
        let mut added = Vec::new();
        for _ in 0..n {
            let (spec, run_for) = self.draw_pod(workload, &owner, n, priority);
            let (pod, _) = self.new_pod(k, spec, run_for, workload, job, 0);
            self.jobs[job].pods.push(pod);
            added.push(pod);
            // Not schedulable before the API server created it.
            self.pods[pod].held = self.api.is_some();
        }
        if self.api.is_some() {
            self.jobs[job].creating += n;
            for pod in added {
                self.api_request(
                    k,
                    api::Client::JobController,
                    crate::api_server::Verb::Write,
                    api::Then::Created { pod, job },
                );
            }
        } else {
            self.requeue_after(k, job, orchsim_kernel::SimDuration::ZERO);
        }
        self.kick(k, self.path[workload]);
    }

    /// Succeeded and failed Jobs, and the mean time from a Job's arrival to its completion.
    pub(crate) fn job_totals(&self) -> Option<(u64, u64, Option<orchsim_kernel::SimDuration>)> {
        if self.job_runs.is_empty() && self.scenario.workloads.iter().all(|w| w.job.is_none()) {
            return None;
        }
        let mut ok = 0u64;
        let mut failed = 0u64;
        let mut total: u128 = 0;
        for (&job, run) in &self.job_runs {
            match run.outcome {
                Some((t, true)) => {
                    ok += 1;
                    total += u128::from(t.since(self.jobs[job].submitted).as_nanos());
                }
                Some((_, false)) => failed += 1,
                None => {}
            }
        }
        let mean = (ok > 0).then(|| {
            orchsim_kernel::SimDuration((total / u128::from(ok)).min(u128::from(u64::MAX)) as u64)
        });
        Some((ok, failed, mean))
    }
}
