//! The cluster world on the orchsim kernel: hosts, pods, workload generators, the scheduling
//! loop, and the metrics a run produces.
//!
//! [`scenario::parse`] turns a TOML scenario into a validated [`Scenario`]; [`run`] simulates
//! it with the scheduler it names from `orchsim-sched` and returns the result tables and the
//! run digest. Everything here is deterministic: the same scenario and seed give the same
//! bytes and digest on every machine (DESIGN.md §3).

pub mod api_server;
pub mod architectures;
pub mod autoscale;
pub mod characterize;
pub mod control_plane;
pub mod curve;
pub mod dist;
pub mod faults;
pub mod gpu_study;
pub mod import;
pub mod ipam;
pub mod jobs;
mod observers;
pub mod orchestrator;
pub mod plan;
pub mod provisioning;
mod results;
pub mod scenario;
pub mod sweep;
pub mod trace;
pub mod traffic;
pub mod upgrades;
pub mod values_file;
mod world;

pub use observers::GpuStep;
pub use results::{RunResult, Summary, WorkloadStats};
pub use scenario::{parse, parse_with_files, NoFiles, Scenario, ScenarioError, ScenarioFiles};
pub use world::{
    AutoscaleRecord, JobRecord, OutageRecord, Placement, PodRecord, PodState, ProvisionRecord,
    ProvisionTotals, RolloutRecord, SchedulerStats,
};

use orchsim_kernel::{Kernel, RngStreams, SimTime, StopReason};

/// One digest over several runs' digests (hex strings), in order: what a study prints.
pub fn combine_digests<'a>(digests: impl IntoIterator<Item = &'a str>) -> String {
    let mut d = orchsim_kernel::Digest::new();
    for (i, hex) in digests.into_iter().enumerate() {
        let words: Vec<u64> = hex
            .as_bytes()
            .chunks(16)
            .map(|c| {
                std::str::from_utf8(c)
                    .ok()
                    .and_then(|h| u64::from_str_radix(h, 16).ok())
                    .unwrap_or(0)
            })
            .collect();
        d.record(SimTime::from_nanos(i as u64), 0, &words);
    }
    d.hex()
}

/// The `kind` of a study scenario (one with a top-level `[study]` table; `""` if the table has
/// no kind), or `None` for a simulation scenario.
pub fn study_kind(text: &str) -> Option<String> {
    let t = text.parse::<toml::Table>().ok()?;
    let study = t.get("study")?;
    Some(
        study
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or("")
            .to_string(),
    )
}
use orchsim_sched::UnknownAlgorithm;
use rand::RngCore;

/// Why a run did not complete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunError {
    /// The scenario names an algorithm `orchsim-sched` does not have ([`parse`] already
    /// rejects it; scenarios built in code can still get it wrong).
    UnknownAlgorithm(UnknownAlgorithm),
    /// The run handled its `[limits] max_events` (`events`) before its end.
    EventBudget {
        events: u64,
        at: SimTime,
        duration: orchsim_kernel::SimDuration,
    },
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::UnknownAlgorithm(e) => e.fmt(f),
            RunError::EventBudget {
                events,
                at,
                duration,
            } => write!(
                f,
                "the run stopped after its budget of {events} events, at simulated time {:.3} s of {:.3} s; raise `[limits] max_events` to let it finish (an event costs about a microsecond)",
                at.as_secs_f64(),
                duration.as_secs_f64()
            ),
        }
    }
}

impl std::error::Error for RunError {}

impl From<UnknownAlgorithm> for RunError {
    fn from(e: UnknownAlgorithm) -> Self {
        RunError::UnknownAlgorithm(e)
    }
}

/// Simulates `scenario` from time zero to its duration.
///
/// Fails if the run reaches its event budget, or if the scenario names an algorithm
/// `orchsim-sched` does not have (which [`parse`] already rejects).
pub fn run(scenario: &Scenario) -> Result<RunResult, RunError> {
    run_with_progress(scenario, &mut |_| {})
}

/// Number of slices a run is cut into for progress reports.
const PROGRESS_STEPS: u64 = 100;

/// Like [`run`], calling `progress(now)` after each hundredth of the simulated duration.
/// Slicing the run does not change it: the kernel resumes in the same `(time, seq)` order.
pub fn run_with_progress(
    scenario: &Scenario,
    progress: &mut dyn FnMut(SimTime),
) -> Result<RunResult, RunError> {
    Ok(simulate(scenario, None, progress)?.0)
}

/// The cluster as `scenario`'s run leaves it at simulated time `at` (or at its end, if
/// sooner): every node with the pods bound to it then, and their devices. What `orchsim
/// explain --at` places a pod against.
pub fn cluster_at(
    scenario: &Scenario,
    at: orchsim_kernel::SimDuration,
) -> Result<orchsim_sched::Cluster, RunError> {
    let mut until = scenario.clone();
    until.duration = at.min(scenario.duration);
    // Sampling does not change the run; one sample at each end keeps it cheap.
    until.sample_interval = until.duration.max(orchsim_kernel::SimDuration(1));
    Ok(simulate(&until, None, &mut |_| {})?.1)
}

/// The monolithic scheduler `scenario` names, with its tie-breaking stream.
pub fn scheduler_for(
    scenario: &Scenario,
) -> Result<Box<dyn orchsim_sched::Scheduler + Send>, UnknownAlgorithm> {
    // The scheduler's tie-breaking draws from its own stream, like every other component.
    let tie_seed = RngStreams::new(scenario.seed)
        .stream("scheduler/tie-break")
        .next_u64();
    Ok(match &scenario.scheduler.profile {
        Some(p) => Box::new(orchsim_sched::kube::KubeScheduler::new(p.clone(), tie_seed)),
        None => orchsim_sched::by_name(&scenario.scheduler.algorithm, tie_seed)?,
    })
}

/// Like [`run_with_progress`] with a scheduler the caller built and keeps (a study's policy
/// with its workload, or one to explain a decision with afterwards) deciding for the first
/// scheduler of the control plane (the monolithic one); returns the cluster as the run left
/// it too.
pub fn run_with_scheduler(
    scenario: &Scenario,
    scheduler: &mut (dyn orchsim_sched::Scheduler + Send),
    progress: &mut dyn FnMut(SimTime),
) -> Result<(RunResult, orchsim_sched::Cluster), RunError> {
    simulate(scenario, Some(scheduler), progress)
}

fn simulate<'a>(
    scenario: &'a Scenario,
    first: Option<&'a mut (dyn orchsim_sched::Scheduler + Send)>,
    progress: &mut dyn FnMut(SimTime),
) -> Result<(RunResult, orchsim_sched::Cluster), RunError> {
    let mut kernel = Kernel::with_capacity(1024);
    let mut world = world::World::new(scenario, first, &mut kernel)?;
    let until = SimTime::ZERO + scenario.duration;
    let step = (until.as_nanos() / PROGRESS_STEPS).max(1);
    let mut end = SimTime::ZERO;
    for i in 1..=PROGRESS_STEPS {
        let slice_end = if i == PROGRESS_STEPS {
            until
        } else {
            SimTime::from_nanos(step * i).min(until)
        };
        let outcome = kernel.run(&mut world, slice_end);
        end = outcome.end;
        if outcome.reason == StopReason::Stopped {
            return Err(RunError::EventBudget {
                events: scenario.max_events,
                at: kernel.now(),
                duration: scenario.duration,
            });
        }
        progress(end);
        if outcome.reason == StopReason::Drained {
            break;
        }
    }
    world.finish(end);
    let result = results::collect(scenario, &mut world, end, kernel.processed());
    Ok((result, world.into_cluster()))
}
