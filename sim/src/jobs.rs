//! Kubernetes Jobs: a batch workload whose arrivals are Job objects, each run to a number of
//! successful pods with at most so many at once, its failed pods replaced after a back-off
//! until too many failed.
//!
//! ```toml
//! [[workloads]]
//! name = "train"
//! kind = "batch"
//! arrival_rate_per_s = 0.01
//! cpu_milli = 2000
//! memory_mib = 4096
//! duration_s = 600
//! restart_policy = "Never"     # or "OnFailure" (the workload's, as for every pod)
//! job = { completions = 8, parallelism = 2, backoff_limit = 6, max_jobs = 10 }
//! ```
//!
//! Every value defaults as the Job API does (`completions` 1, `parallelism` 1,
//! `backoff_limit` 6) and the workload's `restart_policy` as `kubectl create job` writes it
//! (`Never`). A pod
//! fails when its container exits with an error — a container fault (`[[faults]] workload`)
//! striking before its run is done. With `Never` the pod is failed and the Job controller
//! creates a new one after its back-off (10 s, doubled per failure, at most 10 minutes); with
//! `OnFailure` the kubelet restarts the container in place (the preset's crash-loop
//! back-off) and every restart counts as a failure. Past `backoff_limit` failures the Job
//! fails and its pods are deleted; once `completions` pods succeeded it is complete.

use orchsim_kernel::SimDuration;
use serde::Deserialize;
use toml::Spanned;

use crate::scenario::{Locator, ScenarioError, MAX_TASKS_PER_JOB};

/// Upstream defaults (k8s.io/api batch/v1 types.go, the Job controller).
pub const DEFAULT_BACKOFF_LIMIT: u32 = 6;
/// The Job controller's first delay before re-creating a failed pod
/// (pkg/controller/job/job_controller.go DefaultJobPodFailureBackOff = 10 s) …
pub const POD_FAILURE_BACKOFF: SimDuration = SimDuration(10_000_000_000);
/// … doubled per failure (backoff_utils.go getRemainingTimeForFailuresCount) up to
/// MaxJobPodFailureBackOff = 10 minutes (the Job docs still say six).
pub const MAX_POD_FAILURE_BACKOFF: SimDuration = SimDuration(600_000_000_000);

pub use crate::scenario::RestartPolicy;

/// One workload's Job spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobSpec {
    pub completions: u32,
    pub parallelism: u32,
    pub backoff_limit: u32,
    pub restart_policy: RestartPolicy,
    /// Jobs the workload submits at most (`None`: as many as arrive).
    pub max_jobs: Option<u64>,
}

impl JobSpec {
    /// The Job controller's delay before it creates pods again after the `failures`-th
    /// failure: 10 s × 2^(failures − 1), at most 600 s.
    pub fn backoff(failures: u32) -> SimDuration {
        let mut d = POD_FAILURE_BACKOFF;
        for _ in 1..failures.max(1) {
            d = d.saturating_mul(2);
            if d >= MAX_POD_FAILURE_BACKOFF {
                return MAX_POD_FAILURE_BACKOFF;
            }
        }
        d.min(MAX_POD_FAILURE_BACKOFF)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawJob {
    completions: Option<Spanned<i64>>,
    parallelism: Option<Spanned<i64>>,
    backoff_limit: Option<Spanned<i64>>,
    max_jobs: Option<Spanned<i64>>,
}

/// Checks a workload's `job` table; `field` is its path (`workloads[2].job`), `restart_policy`
/// the workload's (checked: `Never` or `OnFailure`).
pub(crate) fn validate(
    loc: &Locator,
    raw: &RawJob,
    field: &str,
    restart_policy: RestartPolicy,
) -> Result<JobSpec, ScenarioError> {
    let count = |v: &Option<Spanned<i64>>, key: &str, min: i64, default: i64| {
        let Some(v) = v else {
            return Ok(default);
        };
        let x = *v.get_ref();
        if (min..=MAX_TASKS_PER_JOB).contains(&x) {
            Ok(x)
        } else {
            Err(loc.error(
                Some(v.span()),
                &format!("{field}.{key}"),
                format!("expected a whole number from {min} to {MAX_TASKS_PER_JOB}, found {x}"),
            ))
        }
    };
    let max_jobs = match &raw.max_jobs {
        None => None,
        Some(m) if *m.get_ref() >= 1 => Some(*m.get_ref() as u64),
        Some(m) => {
            return Err(loc.error(
                Some(m.span()),
                &format!("{field}.max_jobs"),
                format!("expected at least 1 Job, found {}", m.get_ref()),
            ))
        }
    };
    Ok(JobSpec {
        completions: count(&raw.completions, "completions", 1, 1)? as u32,
        parallelism: count(&raw.parallelism, "parallelism", 1, 1)? as u32,
        backoff_limit: count(
            &raw.backoff_limit,
            "backoff_limit",
            0,
            i64::from(DEFAULT_BACKOFF_LIMIT),
        )? as u32,
        restart_policy,
        max_jobs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pod_failure_backoff_doubles_to_ten_minutes() {
        let s = |n| JobSpec::backoff(n).as_secs_f64();
        assert_eq!(
            [s(1), s(2), s(3), s(4), s(5), s(6), s(7)],
            [10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 600.0]
        );
        assert_eq!(s(60), 600.0);
    }
}
