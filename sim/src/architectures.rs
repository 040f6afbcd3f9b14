//! Monolithic, two-level (Mesos) and shared-state (Omega) scheduling on the same workload,
//! after Schwarzkopf et al., "Omega: flexible, scalable schedulers for large compute
//! clusters" (EuroSys 2013) and its simulator (google/cluster-scheduler-simulator).
//!
//! Jobs of several workloads (batch, service) arrive as Poisson processes; each job has
//! tasks with CPU, memory and a duration. A scheduler takes one job at a time and spends
//! `t_job + t_task × tasks still to place` deciding (the simulator's `getThinkTime`), then:
//!
//! - `monolithic-single`: one scheduler and one FIFO queue for every workload, every job at
//!   the swept (service) decision time; `monolithic-multi`: the same queue, each workload at
//!   its own decision time. Placement reads the live cluster: no conflicts.
//! - `two-level`: the Mesos allocator (`orchsim_sched::mesos::allocator`) offers whole
//!   machines every allocation interval in DRF order; each workload's framework places its
//!   queued jobs on the machines it holds, one job after another, and answers only after its
//!   total decision time (the offered resources stay locked meanwhile); it accepts what it
//!   uses (the rest refused for `accept_refuse_s`, 0 as Marathon does) and declines offers it
//!   did not use (for `refuse_s`, Mesos' default 5 s); frameworks with nothing queued are
//!   suppressed. `offers = "whole-cell"` switches to the Omega simulator's Mesos model, where
//!   one framework at a time is offered everything free.
//! - `shared-state`: one scheduler per workload, each deciding on a snapshot of the cluster
//!   taken when it starts; the commit detects conflicts (`coarse`: any change to a machine
//!   since the snapshot; `fine`: the machine no longer has room) and applies the job
//!   `all-or-nothing` or `incremental`ly; a conflicted job is retried at once.
//!
//! A job with tasks left to place (no room, or a conflict) goes to the back of its queue after
//! 1 s; it is abandoned after more than 100 attempts with nothing placed or more than 1,000
//! in all (the simulator's `afterDelay(1)` and limits). Service jobs may carry Marathon
//! constraints (`orchsim_sched::mesos::marathon`) on `hostname` or the `rack` attribute,
//! honoured by every architecture.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;

use orchsim_kernel::{Digest, Handler, Kernel, RngStreams, SimDuration, SimTime, StreamRng};
use orchsim_sched::mesos::allocator::{Allocator, Offer};
use orchsim_sched::mesos::drf::dominant_share;
use orchsim_sched::mesos::marathon::{AgentInfo, Constraint};
use rand::Rng;
use rand_distr::{Distribution, Exp};
use rayon::prelude::*;
use serde::Deserialize;
use toml::Spanned;

use crate::scenario::{deserialize_located, Locator, ScenarioError};

const MIB: u64 = 1 << 20;
/// Retry delay for a job that did not fit (the simulator's `afterDelay(1)`).
const RETRY: SimDuration = SimDuration::from_secs(1);
/// The simulator's abandonment limits.
const MAX_ATTEMPTS_WITHOUT_PROGRESS: u32 = 100;
// (both are `>` limits: the 101st attempt with nothing placed abandons.)
const MAX_ATTEMPTS: u32 = 1000;

/// How jobs reach machines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Architecture {
    MonolithicSingle,
    MonolithicMulti,
    TwoLevel,
    SharedState,
}

impl Architecture {
    pub fn name(self) -> &'static str {
        match self {
            Architecture::MonolithicSingle => "monolithic-single",
            Architecture::MonolithicMulti => "monolithic-multi",
            Architecture::TwoLevel => "two-level",
            Architecture::SharedState => "shared-state",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Architecture::MonolithicSingle,
            Architecture::MonolithicMulti,
            Architecture::TwoLevel,
            Architecture::SharedState,
        ]
        .into_iter()
        .find(|a| a.name() == s)
    }
}

pub use crate::control_plane::{ConflictMode, Transaction};

/// One workload: a Poisson stream of jobs.
#[derive(Clone, Debug)]
pub struct Workload {
    pub name: String,
    pub mean_interarrival_s: f64,
    /// Tasks per job, uniform in this inclusive range.
    pub tasks: (u32, u32),
    pub mean_task_duration_s: f64,
    pub cpu_milli: u64,
    pub memory_mib: u64,
    /// Decision time per job and per task, in seconds (the swept workload's `t_job` is
    /// replaced by the sweep value).
    pub t_job_s: f64,
    pub t_task_s: f64,
    pub constraints: Vec<Constraint>,
}

/// Everything one run needs.
#[derive(Clone, Debug)]
pub struct Setup {
    pub machines: usize,
    pub cpu_milli: u64,
    pub memory_mib: u64,
    /// Machines per rack (the `rack` attribute constraints can use).
    pub machines_per_rack: usize,
    pub workloads: Vec<Workload>,
    /// The workload whose `t_job` is swept (the service scheduler in the paper).
    pub swept: usize,
    pub duration_s: f64,
    pub allocation_interval_s: f64,
    pub refuse_s: f64,
    /// Refusal of the unused part of an accepted offer (Marathon accepts with 0).
    pub accept_refuse_s: f64,
    /// Offer whole machines one by one in DRF order (Mesos), or everything to one framework
    /// (the Omega simulator's model).
    pub whole_cell_offers: bool,
    pub offer_timeout_s: Option<f64>,
    pub conflict: ConflictMode,
    pub transaction: Transaction,
    pub sample_interval_s: f64,
}

#[derive(Clone, Debug)]
struct Job {
    workload: usize,
    submitted: SimTime,
    tasks: u32,
    placed: u32,
    /// Machines its placed tasks run on, in launch order (for Marathon constraints).
    machines: Vec<usize>,
    first: Option<SimTime>,
    last: Option<SimTime>,
    /// When a scheduler first took it from its queue.
    dequeued: Option<SimTime>,
    attempts: u32,
    abandoned: bool,
    duration_s: Vec<f64>,
}

/// Per scheduler (or framework) counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SchedulerStats {
    pub name: String,
    pub busy_ns: u64,
    pub wasted_ns: u64,
    /// Attempts that placed at least one task or conflicted (Omega's transactions).
    pub transactions: u64,
    pub conflicts: u64,
    /// Attempts that found no room for any task (neither success nor conflict).
    pub no_room: u64,
    pub retries: u64,
    pub offers_received: u64,
    pub offers_declined: u64,
    pub offers_rescinded: u64,
}

/// Per workload results.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadStats {
    pub name: String,
    pub jobs: u64,
    pub scheduled: u64,
    pub abandoned: u64,
    pub pending: u64,
    pub tasks_placed: u64,
    /// Submission to the first time a scheduler takes the job (the Omega simulator's
    /// `timeInQueueTillFirstScheduled`: no decision time).
    pub queue_mean_s: f64,
    pub queue_p90_s: f64,
    pub wait_first_mean_s: f64,
    pub wait_first_p90_s: f64,
    pub wait_last_mean_s: f64,
    pub wait_last_p90_s: f64,
    /// Mean of the workload's dominant share of the cluster, sampled.
    pub dominant_share_mean: f64,
}

/// One run's results.
#[derive(Clone, Debug, PartialEq)]
pub struct RunStats {
    pub architecture: Architecture,
    pub t_job_s: f64,
    pub duration_s: f64,
    pub workloads: Vec<WorkloadStats>,
    pub schedulers: Vec<SchedulerStats>,
    pub offers_made: u64,
    pub digest: String,
    /// Each workload's dominant share of the cluster at every sample: `(time s, shares)`.
    pub shares: Vec<(f64, Vec<f64>)>,
    /// `Some` if the end-of-run audit found an inconsistency (a bug): resources in two
    /// places, a machine over capacity, or more tasks placed than a job has.
    pub audit_error: Option<String>,
}

#[derive(Clone, Debug)]
enum Event {
    Arrival(usize),
    Decided(usize),
    Retry(usize),
    TaskEnd { job: usize, machine: usize },
    AllocationTick,
    OfferTimeout(u64),
    Sample,
}

/// A scheduler: a queue and, when busy, the job and plan it is deciding.
#[derive(Clone, Debug, Default)]
struct Sched {
    queue: VecDeque<usize>,
    busy: bool,
    /// Shared state: the job being decided and the snapshot it decides on.
    current: Vec<usize>,
    snapshot: Vec<([u64; 2], u64)>,
    /// Two-level: offers received and not yet looked at, the ones the current decision
    /// uses, and the placements planned on them.
    held: Vec<Offer>,
    deciding: Vec<Offer>,
    planned: Vec<(usize, usize)>,
    started: SimTime,
    stats: SchedulerStats,
}

struct World<'a> {
    setup: &'a Setup,
    arch: Architecture,
    t_job_s: f64,
    free: Vec<[u64; 2]>,
    seq: Vec<u64>,
    agents: Vec<AgentInfo>,
    jobs: Vec<Job>,
    scheds: Vec<Sched>,
    allocator: Option<Allocator>,
    offer_of: BTreeMap<u64, usize>,
    arrivals: Vec<StreamRng>,
    sizes: Vec<StreamRng>,
    placement: StreamRng,
    /// Resources in use per workload (for dominant shares).
    in_use: Vec<[u64; 2]>,
    /// Resources used by running tasks per machine, kept apart from `free` for the audit.
    used: Vec<[u64; 2]>,
    share_sum: Vec<f64>,
    samples: u64,
    shares: Vec<(f64, Vec<f64>)>,
    /// Jobs waiting out their 1 s retry delay.
    retrying: std::collections::BTreeSet<usize>,
    /// The first inconsistency found by a periodic audit or the allocator.
    error: Option<String>,
    digest: Digest,
    end: SimTime,
}

/// Seconds to simulated time; negative or NaN → 0, beyond a thousand years → a thousand
/// years (inputs are validated, but decision times multiply).
fn secs(s: f64) -> SimDuration {
    let s = if s.is_finite() {
        s.clamp(0.0, 3.15e10)
    } else {
        0.0
    };
    SimDuration::try_from_secs_f64(s).unwrap_or(SimDuration::from_secs(0))
}

impl World<'_> {
    fn demand(&self, job: usize) -> [u64; 2] {
        let w = &self.setup.workloads[self.jobs[job].workload];
        [w.cpu_milli, w.memory_mib * MIB]
    }

    /// The scheduler serving workload `w`.
    fn sched_of(&self, w: usize) -> usize {
        match self.arch {
            Architecture::MonolithicSingle | Architecture::MonolithicMulti => 0,
            _ => w,
        }
    }

    fn decision_time(&self, job: usize) -> SimDuration {
        let j = &self.jobs[job];
        let w = &self.setup.workloads[j.workload];
        let swept = self.arch == Architecture::MonolithicSingle || j.workload == self.setup.swept;
        let (t_job, t_task) = if swept {
            let s = &self.setup.workloads[self.setup.swept];
            (self.t_job_s, s.t_task_s)
        } else {
            (w.t_job_s, w.t_task_s)
        };
        secs(t_job + t_task * f64::from(j.tasks - j.placed))
    }

    /// Whether `machine` (with free resources `free`) can take the job's next task.
    fn fits(&self, job: usize, machine: usize, free: &[u64; 2], extra: &[usize]) -> bool {
        let d = self.demand(job);
        if free[0] < d[0] || free[1] < d[1] {
            return false;
        }
        let j = &self.jobs[job];
        let cs = &self.setup.workloads[j.workload].constraints;
        if cs.is_empty() {
            return true;
        }
        let agent = &self.agents[machine];
        cs.iter().all(|c| {
            let placed: Vec<Option<&str>> = j
                .machines
                .iter()
                .chain(extra)
                .map(|&m| self.agents[m].field(&c.field))
                .collect();
            c.meets(agent, &placed, j.tasks)
        })
    }

    /// Randomised first fit: each task scans machines from a random start.
    fn plan(&mut self, job: usize, free: &mut [[u64; 2]], allowed: Option<&[usize]>) -> Vec<usize> {
        let want = (self.jobs[job].tasks - self.jobs[job].placed) as usize;
        let d = self.demand(job);
        let candidates: Vec<usize> = match allowed {
            Some(a) => a.to_vec(),
            None => (0..free.len()).collect(),
        };
        let mut out = Vec::new();
        if candidates.is_empty() {
            return out;
        }
        for _ in 0..want {
            let start = self.placement.random_range(0..candidates.len());
            let found = (0..candidates.len())
                .map(|k| candidates[(start + k) % candidates.len()])
                .find(|&m| self.fits(job, m, &free[m], &out));
            let Some(m) = found else { break };
            free[m][0] -= d[0];
            free[m][1] -= d[1];
            out.push(m);
        }
        out
    }

    /// Starts tasks of `job` on `machines` (resources already taken from `free`).
    fn launch(&mut self, kernel: &mut Kernel<Event>, job: usize, machines: &[usize]) {
        let now = kernel.now();
        let d = self.demand(job);
        let w = self.jobs[job].workload;
        for &m in machines {
            let j = &mut self.jobs[job];
            let dur = j.duration_s[j.placed as usize];
            j.placed += 1;
            j.machines.push(m);
            j.first.get_or_insert(now);
            if j.placed == j.tasks {
                j.last = Some(now);
            }
            self.seq[m] += 1;
            self.used[m][0] += d[0];
            self.used[m][1] += d[1];
            self.in_use[w][0] += d[0];
            self.in_use[w][1] += d[1];
            self.digest.record(now, 1, &[job as u64, m as u64]);
            kernel.schedule_in(secs(dur), Event::TaskEnd { job, machine: m });
        }
    }

    /// After an attempt: done, retry in 1 s at the back of the queue, or abandon (more than
    /// 100 attempts with nothing placed, or more than 1,000).
    fn after_attempt(&mut self, kernel: &mut Kernel<Event>, job: usize) {
        let j = &mut self.jobs[job];
        j.attempts += 1;
        if j.placed == j.tasks {
            return;
        }
        if (j.placed == 0 && j.attempts > MAX_ATTEMPTS_WITHOUT_PROGRESS)
            || j.attempts > MAX_ATTEMPTS
        {
            j.abandoned = true;
            self.digest.record(kernel.now(), 3, &[job as u64]);
            return;
        }
        let workload = j.workload;
        let s = self.sched_of(workload);
        self.scheds[s].stats.retries += 1;
        self.retrying.insert(job);
        kernel.schedule_in(RETRY, Event::Retry(job));
    }

    fn start_next(&mut self, kernel: &mut Kernel<Event>, s: usize) {
        if self.arch == Architecture::TwoLevel || self.scheds[s].busy {
            return;
        }
        let Some(job) = self.scheds[s].queue.pop_front() else {
            return;
        };
        self.jobs[job].dequeued.get_or_insert(kernel.now());
        let d = self.decision_time(job);
        let sc = &mut self.scheds[s];
        sc.busy = true;
        sc.started = kernel.now();
        sc.current = vec![job];
        if self.arch == Architecture::SharedState {
            sc.snapshot = self
                .free
                .iter()
                .copied()
                .zip(self.seq.iter().copied())
                .collect();
        }
        kernel.schedule_in(d, Event::Decided(s));
    }

    fn decided(&mut self, kernel: &mut Kernel<Event>, s: usize) {
        let now = kernel.now();
        let spent = now.since(self.scheds[s].started).as_nanos();
        self.scheds[s].busy = false;
        self.scheds[s].stats.busy_ns += spent;
        match self.arch {
            Architecture::TwoLevel => self.framework_answers(kernel, s),
            Architecture::SharedState => {
                let job = std::mem::take(&mut self.scheds[s].current)[0];
                let mut view: Vec<[u64; 2]> = self.scheds[s].snapshot.iter().map(|x| x.0).collect();
                let plan = self.plan(job, &mut view, None);
                let d = self.demand(job);
                let conflicting: Vec<bool> = plan
                    .iter()
                    .map(|&m| match self.setup.conflict {
                        ConflictMode::Coarse => self.seq[m] != self.scheds[s].snapshot[m].1,
                        ConflictMode::Fine => false,
                    })
                    .collect();
                // Fine-grained: check room as the claims apply, in plan order.
                let mut live = self.free.clone();
                let mut commit = Vec::new();
                let mut conflicts = 0;
                for (k, &m) in plan.iter().enumerate() {
                    let room = live[m][0] >= d[0] && live[m][1] >= d[1];
                    if conflicting[k] || !room {
                        conflicts += 1;
                        continue;
                    }
                    live[m][0] -= d[0];
                    live[m][1] -= d[1];
                    commit.push(m);
                }
                if conflicts > 0 && self.setup.transaction == Transaction::AllOrNothing {
                    commit.clear();
                }
                let st = &mut self.scheds[s].stats;
                if plan.is_empty() {
                    st.no_room += 1;
                } else {
                    st.transactions += 1;
                }
                if conflicts > 0 {
                    st.conflicts += 1;
                    st.wasted_ns += spent;
                }
                for &m in &commit {
                    self.free[m][0] -= d[0];
                    self.free[m][1] -= d[1];
                }
                self.launch(kernel, job, &commit);
                self.after_attempt(kernel, job);
            }
            _ => {
                let job = std::mem::take(&mut self.scheds[s].current)[0];
                let mut live = self.free.clone();
                let plan = self.plan(job, &mut live, None);
                self.free = live;
                if plan.is_empty() {
                    self.scheds[s].stats.no_room += 1;
                } else {
                    self.scheds[s].stats.transactions += 1;
                }
                self.launch(kernel, job, &plan);
                self.after_attempt(kernel, job);
            }
        }
        self.start_next(kernel, s);
    }

    // ---- two-level -------------------------------------------------------------------

    fn allocation_tick(&mut self, kernel: &mut Kernel<Event>) {
        let now = kernel.now().as_nanos();
        let cell = self.setup.whole_cell_offers;
        let names: Vec<String> = self
            .setup
            .workloads
            .iter()
            .map(|w| w.name.clone())
            .collect();
        let mut offers = Vec::new();
        if let Some(a) = self.allocator.as_mut() {
            for (s, name) in names.iter().enumerate() {
                // A framework with work asks for offers; without, it suppresses them
                // (Marathon's default `--suppress_offers`).
                let sc = &self.scheds[s];
                a.set_active(name, !sc.queue.is_empty() || sc.busy);
            }
            offers = if cell {
                a.allocate_cell(now)
            } else {
                a.allocate(now)
            };
        }
        for o in offers {
            let s = names.iter().position(|n| *n == o.framework).unwrap_or(0);
            self.offer_of.insert(o.id, s);
            self.scheds[s].stats.offers_received += 1;
            if let Some(t) = self.setup.offer_timeout_s {
                kernel.schedule_in(secs(t), Event::OfferTimeout(o.id));
            }
            self.scheds[s].held.push(o);
        }
        for s in 0..self.scheds.len() {
            self.framework_decides(kernel, s);
        }
        kernel.schedule_in(
            secs(self.setup.allocation_interval_s),
            Event::AllocationTick,
        );
    }

    /// A framework with offers and queued jobs plans its jobs on the offered machines, one
    /// after another, and answers after the sum of their decision times. Offers arriving
    /// meanwhile wait for its next decision.
    fn framework_decides(&mut self, kernel: &mut Kernel<Event>, s: usize) {
        if self.scheds[s].busy || self.scheds[s].held.is_empty() {
            return;
        }
        if self.scheds[s].queue.is_empty() {
            // Nothing to place: give the offers back.
            self.scheds[s].deciding = std::mem::take(&mut self.scheds[s].held);
            self.framework_answers(kernel, s);
            return;
        }
        let offers = std::mem::take(&mut self.scheds[s].held);
        let mut view: Vec<[u64; 2]> = vec![[0, 0]; self.free.len()];
        for o in &offers {
            view[o.agent][0] += o.resources[0];
            view[o.agent][1] += o.resources[1];
        }
        let mut allowed: Vec<usize> = offers.iter().map(|o| o.agent).collect();
        allowed.sort_unstable();
        allowed.dedup();
        let mut think = SimDuration::from_secs(0);
        let mut planned = Vec::new();
        let mut considered = Vec::new();
        let now = kernel.now();
        while let Some(job) = self.scheds[s].queue.pop_front() {
            self.jobs[job].dequeued.get_or_insert(now);
            think = think + self.decision_time(job);
            let plan = self.plan(job, &mut view, Some(&allowed));
            let stuck = plan.is_empty();
            for m in plan {
                planned.push((job, m));
            }
            considered.push(job);
            // The offers are used up as far as this framework can tell: stop rather than walk
            // the whole backlog (each job tried costs its decision time).
            if stuck || view.iter().all(|r| r[0] == 0 && r[1] == 0) {
                break;
            }
        }
        let sc = &mut self.scheds[s];
        sc.busy = true;
        sc.started = now;
        sc.current = considered;
        sc.planned = planned;
        sc.deciding = offers;
        kernel.schedule_in(think, Event::Decided(s));
    }

    /// Answers the offers the decision used: launches the planned tasks that still fit in
    /// what it holds on each machine (an offer rescinded meanwhile takes its share away),
    /// accepts what they use (the rest refused for `accept_refuse_s`) and declines offers it
    /// did not use (refused for `refuse_s`). Then decides again on offers that came meanwhile.
    fn framework_answers(&mut self, kernel: &mut Kernel<Event>, s: usize) {
        let now = kernel.now().as_nanos();
        let deciding = std::mem::take(&mut self.scheds[s].deciding);
        let planned = std::mem::take(&mut self.scheds[s].planned);
        let considered = std::mem::take(&mut self.scheds[s].current);
        let refuse = (self.setup.refuse_s * 1e9) as u64;
        let accept_refuse = (self.setup.accept_refuse_s * 1e9) as u64;
        let mut by_agent: BTreeMap<usize, Vec<Offer>> = BTreeMap::new();
        for o in deciding {
            self.offer_of.remove(&o.id);
            by_agent.entry(o.agent).or_default().push(o);
        }
        let mut placed_per_job: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (agent, offers) in by_agent {
            let mut room = [0u64; 2];
            for o in &offers {
                room[0] += o.resources[0];
                room[1] += o.resources[1];
            }
            let mut used = [0u64; 2];
            for &(job, m) in planned.iter().filter(|(_, m)| *m == agent) {
                let d = self.demand(job);
                if used[0] + d[0] <= room[0] && used[1] + d[1] <= room[1] {
                    used[0] += d[0];
                    used[1] += d[1];
                    placed_per_job.entry(job).or_default().push(m);
                }
            }
            let alloc = self.allocator.as_mut().expect("two-level has an allocator");
            for o in offers {
                let take = [used[0].min(o.resources[0]), used[1].min(o.resources[1])];
                used[0] -= take[0];
                used[1] -= take[1];
                let answer = if take == [0, 0] {
                    self.scheds[s].stats.offers_declined += 1;
                    alloc.decline(o.id, Some(refuse), now)
                } else {
                    alloc.accept(o.id, take, Some(accept_refuse), now)
                };
                if let Err(e) = answer {
                    self.error.get_or_insert(format!("offer {}: {e}", o.id));
                }
            }
        }
        for (&job, machines) in &placed_per_job {
            let d = self.demand(job);
            for &m in machines {
                self.free[m][0] -= d[0];
                self.free[m][1] -= d[1];
            }
            self.launch(kernel, job, machines);
        }
        for &job in &considered {
            if placed_per_job.contains_key(&job) {
                self.scheds[s].stats.transactions += 1;
            } else {
                self.scheds[s].stats.no_room += 1;
            }
        }
        for job in considered {
            self.after_attempt(kernel, job);
        }
        self.framework_decides(kernel, s);
    }

    fn offer_timeout(&mut self, id: u64) {
        let Some(&s) = self.offer_of.get(&id) else {
            return;
        };
        let Some(alloc) = self.allocator.as_mut() else {
            return;
        };
        if alloc.rescind(id).is_ok() {
            self.offer_of.remove(&id);
            let sc = &mut self.scheds[s];
            sc.stats.offers_rescinded += 1;
            sc.held.retain(|o| o.id != id);
            sc.deciding.retain(|o| o.id != id);
        }
    }
}

impl Handler<Event> for World<'_> {
    fn handle(&mut self, kernel: &mut Kernel<Event>, event: Event) {
        let now = kernel.now();
        match event {
            Event::Arrival(w) => {
                let wl = &self.setup.workloads[w];
                let tasks = self.sizes[w].random_range(wl.tasks.0..=wl.tasks.1);
                let exp = Exp::new(1.0 / wl.mean_task_duration_s).ok();
                let duration_s = (0..tasks)
                    .map(|_| exp.map_or(wl.mean_task_duration_s, |e| e.sample(&mut self.sizes[w])))
                    .collect();
                let job = self.jobs.len();
                self.jobs.push(Job {
                    workload: w,
                    submitted: now,
                    tasks,
                    placed: 0,
                    machines: Vec::new(),
                    first: None,
                    last: None,
                    dequeued: None,
                    attempts: 0,
                    abandoned: false,
                    duration_s,
                });
                self.digest
                    .record(now, 0, &[job as u64, w as u64, u64::from(tasks)]);
                let s = self.sched_of(w);
                self.scheds[s].queue.push_back(job);
                self.start_next(kernel, s);
                if let Ok(e) = Exp::new(1.0 / wl.mean_interarrival_s) {
                    let gap = e.sample(&mut self.arrivals[w]);
                    kernel.schedule_in(secs(gap), Event::Arrival(w));
                }
            }
            Event::Decided(s) => self.decided(kernel, s),
            Event::Retry(job) => {
                self.retrying.remove(&job);
                let s = self.sched_of(self.jobs[job].workload);
                self.scheds[s].queue.push_back(job);
                self.start_next(kernel, s);
            }
            Event::TaskEnd { job, machine } => {
                let d = self.demand(job);
                let w = self.jobs[job].workload;
                self.free[machine][0] += d[0];
                self.free[machine][1] += d[1];
                self.used[machine][0] -= d[0];
                self.used[machine][1] -= d[1];
                self.in_use[w][0] -= d[0];
                self.in_use[w][1] -= d[1];
                if let Some(a) = self.allocator.as_mut() {
                    let name = self.setup.workloads[w].name.clone();
                    if let Err(e) = a.release(&name, machine, d) {
                        self.error.get_or_insert(e.to_string());
                    }
                }
                self.digest.record(now, 2, &[job as u64, machine as u64]);
            }
            Event::AllocationTick => self.allocation_tick(kernel),
            Event::OfferTimeout(id) => self.offer_timeout(id),
            Event::Sample => {
                let total = [
                    self.setup.machines as u64 * self.setup.cpu_milli,
                    self.setup.machines as u64 * self.setup.memory_mib * MIB,
                ];
                let mut now_shares = Vec::with_capacity(self.in_use.len());
                for w in 0..self.in_use.len() {
                    let share = dominant_share(&self.in_use[w], &total);
                    self.share_sum[w] += share;
                    now_shares.push(share);
                }
                self.shares.push((now.as_secs_f64(), now_shares));
                if self.error.is_none() {
                    self.error = self.audit();
                }
                self.samples += 1;
                kernel.schedule_in(secs(self.setup.sample_interval_s), Event::Sample);
            }
        }
    }
}

impl World<'_> {
    /// Every machine's free plus used resources equal its capacity; no job has more tasks
    /// placed than it has; the allocator's books balance.
    fn audit(&self) -> Option<String> {
        let cap = [self.setup.cpu_milli, self.setup.memory_mib * MIB];
        for m in 0..self.free.len() {
            let sum = [
                self.free[m][0].checked_add(self.used[m][0]),
                self.free[m][1].checked_add(self.used[m][1]),
            ];
            if sum != [Some(cap[0]), Some(cap[1])] {
                return Some(format!(
                    "machine {m}: free {:?} + used {:?} != capacity {cap:?}",
                    self.free[m], self.used[m]
                ));
            }
        }
        if let Some((i, j)) = self
            .jobs
            .iter()
            .enumerate()
            .find(|(_, j)| j.placed > j.tasks)
        {
            return Some(format!("job {i}: {} of {} tasks placed", j.placed, j.tasks));
        }
        // Every unfinished job is in exactly one place: a queue, a decision, or its retry
        // delay.
        let mut places = vec![0u32; self.jobs.len()];
        for sc in &self.scheds {
            for &j in sc.queue.iter().chain(&sc.current) {
                places[j] += 1;
            }
        }
        for &j in &self.retrying {
            places[j] += 1;
        }
        for (i, j) in self.jobs.iter().enumerate() {
            let done = j.abandoned || j.placed == j.tasks;
            let expected = u32::from(!done);
            if places[i] != expected {
                return Some(format!(
                    "job {i} ({} of {} placed, abandoned {}) is in {} places",
                    j.placed, j.tasks, j.abandoned, places[i]
                ));
            }
        }
        // Marathon constraints held for every task, in launch order.
        for (i, j) in self.jobs.iter().enumerate() {
            for c in &self.setup.workloads[j.workload].constraints {
                for (k, &m) in j.machines.iter().enumerate() {
                    let before: Vec<Option<&str>> = j.machines[..k]
                        .iter()
                        .map(|&p| self.agents[p].field(&c.field))
                        .collect();
                    if !c.meets(&self.agents[m], &before, j.tasks) {
                        return Some(format!("job {i}: task {k} on machine {m} breaks {c:?}"));
                    }
                }
            }
        }
        if let Some(a) = &self.allocator {
            if let Err(e) = a.check() {
                return Some(e.to_string());
            }
        }
        None
    }
}

fn mean_p90(mut v: Vec<f64>) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    v.sort_by(f64::total_cmp);
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let rank = ((0.9 * v.len() as f64).ceil() as usize).clamp(1, v.len());
    (mean, v[rank - 1])
}

/// Runs one architecture with the swept workload's `t_job` set to `t_job_s`.
pub fn run(setup: &Setup, arch: Architecture, t_job_s: f64, seed: u64) -> RunStats {
    let streams = RngStreams::new(seed);
    let n = setup.machines;
    let agents: Vec<AgentInfo> = (0..n)
        .map(|m| AgentInfo {
            hostname: format!("m{m}"),
            region: None,
            zone: None,
            attributes: [(
                "rack".to_string(),
                format!("rack-{}", m / setup.machines_per_rack.max(1)),
            )]
            .into_iter()
            .collect(),
        })
        .collect();
    let schedulers = match arch {
        Architecture::MonolithicSingle | Architecture::MonolithicMulti => 1,
        _ => setup.workloads.len(),
    };
    let allocator = (arch == Architecture::TwoLevel).then(|| {
        let mut a = Allocator::new(
            &vec![[setup.cpu_milli, setup.memory_mib * MIB]; n],
            (setup.allocation_interval_s * 1e9) as u64,
            streams.stream("arch/allocator").random(),
        );
        for w in &setup.workloads {
            a.add_framework(&w.name, &w.name);
        }
        a
    });
    let mut world = World {
        setup,
        arch,
        t_job_s,
        free: vec![[setup.cpu_milli, setup.memory_mib * MIB]; n],
        seq: vec![0; n],
        agents,
        jobs: Vec::new(),
        scheds: (0..schedulers)
            .map(|s| Sched {
                stats: SchedulerStats {
                    name: if schedulers == 1 {
                        "monolithic".into()
                    } else {
                        setup.workloads[s].name.clone()
                    },
                    ..Default::default()
                },
                ..Default::default()
            })
            .collect(),
        allocator,
        offer_of: BTreeMap::new(),
        arrivals: setup
            .workloads
            .iter()
            .map(|w| streams.stream(&format!("arch/{}/arrivals", w.name)))
            .collect(),
        sizes: setup
            .workloads
            .iter()
            .map(|w| streams.stream(&format!("arch/{}/sizes", w.name)))
            .collect(),
        placement: streams.stream("arch/placement"),
        in_use: vec![[0, 0]; setup.workloads.len()],
        used: vec![[0, 0]; n],
        share_sum: vec![0.0; setup.workloads.len()],
        samples: 0,
        shares: Vec::new(),
        retrying: std::collections::BTreeSet::new(),
        error: None,
        digest: Digest::new(),
        end: SimTime::ZERO + secs(setup.duration_s),
    };
    let mut kernel = Kernel::with_capacity(1024);
    for w in 0..setup.workloads.len() {
        kernel.schedule_at(SimTime::ZERO, Event::Arrival(w));
    }
    if arch == Architecture::TwoLevel {
        kernel.schedule_at(SimTime::ZERO, Event::AllocationTick);
    }
    kernel.schedule_at(SimTime::ZERO, Event::Sample);
    let end = world.end;
    kernel.run(&mut world, end);

    let workloads = setup
        .workloads
        .iter()
        .enumerate()
        .map(|(w, wl)| {
            let jobs: Vec<&Job> = world.jobs.iter().filter(|j| j.workload == w).collect();
            let first = jobs
                .iter()
                .filter_map(|j| j.first.map(|t| t.since(j.submitted).as_secs_f64()))
                .collect();
            let last = jobs
                .iter()
                .filter_map(|j| j.last.map(|t| t.since(j.submitted).as_secs_f64()))
                .collect();
            let queued = jobs
                .iter()
                .filter_map(|j| j.dequeued.map(|t| t.since(j.submitted).as_secs_f64()))
                .collect();
            let (queue_mean_s, queue_p90_s) = mean_p90(queued);
            let (wait_first_mean_s, wait_first_p90_s) = mean_p90(first);
            let (wait_last_mean_s, wait_last_p90_s) = mean_p90(last);
            let scheduled = jobs.iter().filter(|j| j.placed == j.tasks).count() as u64;
            let abandoned = jobs.iter().filter(|j| j.abandoned).count() as u64;
            WorkloadStats {
                name: wl.name.clone(),
                jobs: jobs.len() as u64,
                scheduled,
                abandoned,
                pending: jobs.len() as u64 - scheduled - abandoned,
                tasks_placed: jobs.iter().map(|j| u64::from(j.placed)).sum(),
                queue_mean_s,
                queue_p90_s,
                wait_first_mean_s,
                wait_first_p90_s,
                wait_last_mean_s,
                wait_last_p90_s,
                dominant_share_mean: world.share_sum[w] / world.samples.max(1) as f64,
            }
        })
        .collect();
    let schedulers = world
        .scheds
        .iter()
        .map(|s| {
            let mut st = s.stats.clone();
            // A decision still running at the end counts up to the end.
            if s.busy {
                st.busy_ns += end.since(s.started).as_nanos();
            }
            st
        })
        .collect::<Vec<_>>();
    RunStats {
        architecture: arch,
        t_job_s,
        duration_s: setup.duration_s,
        workloads,
        schedulers,
        offers_made: world.allocator.as_ref().map_or(0, |a| a.stats.made),
        digest: world.digest.hex(),
        audit_error: world.error.clone().or_else(|| world.audit()),
        shares: std::mem::take(&mut world.shares),
    }
}

/// A validated architectures study: runs every architecture at every swept `t_job`.
#[derive(Clone, Debug)]
pub struct Study {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub architectures: Vec<Architecture>,
    pub t_job_s: Vec<f64>,
    pub setup: Setup,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    seed: u64,
    duration_s: Spanned<f64>,
    #[serde(default = "default_sample")]
    sample_interval_s: Spanned<f64>,
    study: RawStudy,
    cluster: RawCluster,
    workloads: Spanned<Vec<RawWorkload>>,
    #[serde(default)]
    two_level: RawTwoLevel,
    #[serde(default)]
    shared_state: RawSharedState,
}

fn default_sample() -> Spanned<f64> {
    Spanned::new(0..0, 10.0)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStudy {
    #[allow(dead_code)]
    kind: String,
    architectures: Spanned<Vec<Spanned<String>>>,
    t_job_s: Spanned<Vec<f64>>,
    swept: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    machines: Spanned<u64>,
    cpu_milli: Spanned<u64>,
    memory_mib: Spanned<u64>,
    #[serde(default = "one")]
    machines_per_rack: Spanned<u64>,
}

fn one() -> Spanned<u64> {
    Spanned::new(0..0, 1)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    name: Spanned<String>,
    interarrival_s: Spanned<f64>,
    tasks: Spanned<[u32; 2]>,
    task_duration_s: Spanned<f64>,
    cpu_milli: Spanned<u64>,
    memory_mib: Spanned<u64>,
    t_job_s: Spanned<f64>,
    t_task_s: Spanned<f64>,
    #[serde(default)]
    constraints: Vec<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTwoLevel {
    #[serde(default = "interval")]
    allocation_interval_s: Spanned<f64>,
    #[serde(default = "refuse")]
    refuse_s: Spanned<f64>,
    #[serde(default = "zero")]
    accept_refuse_s: Spanned<f64>,
    offers: Option<Spanned<String>>,
    offer_timeout_s: Option<Spanned<f64>>,
}

fn zero() -> Spanned<f64> {
    Spanned::new(0..0, 0.0)
}

fn interval() -> Spanned<f64> {
    Spanned::new(0..0, 1.0)
}

fn refuse() -> Spanned<f64> {
    Spanned::new(0..0, 5.0)
}

impl Default for RawTwoLevel {
    fn default() -> Self {
        RawTwoLevel {
            allocation_interval_s: interval(),
            refuse_s: refuse(),
            accept_refuse_s: zero(),
            offers: None,
            offer_timeout_s: None,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSharedState {
    conflict: Option<Spanned<String>>,
    transaction: Option<Spanned<String>>,
}

/// Parses and validates an architectures study; errors are located like scenario errors.
pub fn parse(file: &str, text: &str) -> Result<Study, ScenarioError> {
    let loc = Locator { file, text };
    let raw: RawFile = deserialize_located(&loc)?;
    let err = |span: Range<usize>, field: &str, msg: String| loc.error(Some(span), field, msg);
    // Intervals below a millisecond would flood the event queue (below a nanosecond they
    // would not advance time at all).
    let positive = |v: &Spanned<f64>, field: &str| -> Result<f64, ScenarioError> {
        let x = *v.get_ref();
        if x.is_finite() && (0.001..=1e7).contains(&x) {
            Ok(x)
        } else {
            Err(err(
                v.span(),
                field,
                format!("expected seconds in 0.001..=1e7, found {x}"),
            ))
        }
    };
    let count = |v: &Spanned<u64>, field: &str, max: u64| -> Result<u64, ScenarioError> {
        let x = *v.get_ref();
        if (1..=max).contains(&x) {
            Ok(x)
        } else {
            Err(err(
                v.span(),
                field,
                format!("expected an integer in 1..={max}, found {x}"),
            ))
        }
    };
    let name = raw.name.get_ref().trim().to_string();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(err(
            raw.name.span(),
            "name",
            "expected a non-empty name of letters, digits, `-`, `_` or `.`".into(),
        ));
    }
    let duration_s = positive(&raw.duration_s, "duration_s")?;
    let sample_interval_s = positive(&raw.sample_interval_s, "sample_interval_s")?;
    if duration_s / sample_interval_s > 1e6 {
        return Err(err(
            raw.sample_interval_s.span(),
            "sample_interval_s",
            format!("expected at most a million samples per run; {duration_s} s / {sample_interval_s} s is more"),
        ));
    }
    let mut architectures = Vec::new();
    for (i, a) in raw.study.architectures.get_ref().iter().enumerate() {
        let arch = Architecture::parse(a.get_ref()).ok_or_else(|| {
            err(a.span(), &format!("study.architectures[{i}]"), format!(
                "unknown architecture `{}`; expected monolithic-single, monolithic-multi, two-level or shared-state",
                a.get_ref()
            ))
        })?;
        if architectures.contains(&arch) {
            return Err(err(
                a.span(),
                &format!("study.architectures[{i}]"),
                format!("`{}` is listed twice", arch.name()),
            ));
        }
        architectures.push(arch);
    }
    if architectures.is_empty() {
        return Err(err(
            raw.study.architectures.span(),
            "study.architectures",
            "expected at least one architecture".into(),
        ));
    }
    let t_job_s = raw.study.t_job_s.get_ref().clone();
    if t_job_s.is_empty()
        || t_job_s
            .iter()
            .any(|t| !(t.is_finite() && *t >= 0.0 && *t <= 1e6))
    {
        return Err(err(
            raw.study.t_job_s.span(),
            "study.t_job_s",
            "expected a non-empty list of decision times in seconds (0..=1e6)".into(),
        ));
    }
    // Bounds that keep cluster totals (machines × capacity, in bytes) inside u64.
    let machines = count(&raw.cluster.machines, "cluster.machines", 100_000)? as usize;
    let cpu_milli = count(&raw.cluster.cpu_milli, "cluster.cpu_milli", 1 << 32)?;
    let memory_mib = count(&raw.cluster.memory_mib, "cluster.memory_mib", 1 << 24)?;
    let machines_per_rack = count(
        &raw.cluster.machines_per_rack,
        "cluster.machines_per_rack",
        1_000_000,
    )? as usize;
    let mut workloads = Vec::new();
    for (i, w) in raw.workloads.get_ref().iter().enumerate() {
        let f = |k: &str| format!("workloads[{i}].{k}");
        let wname = w.name.get_ref().trim().to_string();
        if wname.is_empty() || workloads.iter().any(|x: &Workload| x.name == wname) {
            return Err(err(
                w.name.span(),
                &f("name"),
                format!("expected a unique, non-empty workload name, found `{wname}`"),
            ));
        }
        let [lo, hi] = *w.tasks.get_ref();
        if lo == 0 || lo > hi || hi > 100_000 {
            return Err(err(w.tasks.span(), &f("tasks"), format!("expected [min, max] tasks per job with 1 <= min <= max <= 100000, found [{lo}, {hi}]")));
        }
        let cpu = count(&w.cpu_milli, &f("cpu_milli"), cpu_milli).map_err(|mut e| {
            e.message = format!(
                "expected 1..={cpu_milli} (a task must fit on a machine), found {}",
                w.cpu_milli.get_ref()
            );
            e
        })?;
        let mem = count(&w.memory_mib, &f("memory_mib"), memory_mib).map_err(|mut e| {
            e.message = format!(
                "expected 1..={memory_mib} (a task must fit on a machine), found {}",
                w.memory_mib.get_ref()
            );
            e
        })?;
        let t = |v: &Spanned<f64>, k: &str| -> Result<f64, ScenarioError> {
            let x = *v.get_ref();
            if x.is_finite() && (0.0..=1e6).contains(&x) {
                Ok(x)
            } else {
                Err(err(
                    v.span(),
                    &f(k),
                    format!("expected seconds in 0..=1e6, found {x}"),
                ))
            }
        };
        let mut constraints = Vec::new();
        for (k, c) in w.constraints.iter().enumerate() {
            let parts: Vec<&str> = c.get_ref().iter().map(String::as_str).collect();
            constraints.push(
                Constraint::parse(&parts)
                    .map_err(|e| err(c.span(), &f(&format!("constraints[{k}]")), e.to_string()))?,
            );
        }
        let interarrival = positive(&w.interarrival_s, &f("interarrival_s"))?;
        if duration_s / interarrival > 1e7 {
            return Err(err(
                w.interarrival_s.span(),
                &f("interarrival_s"),
                format!("expected at most ten million jobs per run; {duration_s} s / {interarrival} s is more"),
            ));
        }
        workloads.push(Workload {
            name: wname,
            mean_interarrival_s: interarrival,
            tasks: (lo, hi),
            mean_task_duration_s: positive(&w.task_duration_s, &f("task_duration_s"))?,
            cpu_milli: cpu,
            memory_mib: mem,
            t_job_s: t(&w.t_job_s, "t_job_s")?,
            t_task_s: t(&w.t_task_s, "t_task_s")?,
            constraints,
        });
    }
    if workloads.is_empty() {
        return Err(err(
            raw.workloads.span(),
            "workloads",
            "expected at least one workload".into(),
        ));
    }
    let swept = workloads
        .iter()
        .position(|w| &w.name == raw.study.swept.get_ref())
        .ok_or_else(|| {
            err(
                raw.study.swept.span(),
                "study.swept",
                format!(
                    "expected the name of a workload ({}), found `{}`",
                    workloads
                        .iter()
                        .map(|w| w.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    raw.study.swept.get_ref()
                ),
            )
        })?;
    let conflict = match raw
        .shared_state
        .conflict
        .as_ref()
        .map(|c| (c.get_ref().as_str(), c.span()))
    {
        None | Some(("fine", _)) => ConflictMode::Fine,
        Some(("coarse", _)) => ConflictMode::Coarse,
        Some((other, span)) => {
            return Err(err(
                span,
                "shared_state.conflict",
                format!("expected \"fine\" or \"coarse\", found \"{other}\""),
            ))
        }
    };
    let transaction = match raw
        .shared_state
        .transaction
        .as_ref()
        .map(|c| (c.get_ref().as_str(), c.span()))
    {
        None | Some(("incremental", _)) => Transaction::Incremental,
        Some(("all-or-nothing", _)) => Transaction::AllOrNothing,
        Some((other, span)) => {
            return Err(err(
                span,
                "shared_state.transaction",
                format!("expected \"incremental\" or \"all-or-nothing\", found \"{other}\""),
            ))
        }
    };
    let offer_timeout_s = match &raw.two_level.offer_timeout_s {
        Some(v) => Some(positive(v, "two_level.offer_timeout_s")?),
        None => None,
    };
    let refusal = |v: &Spanned<f64>, field: &str| -> Result<f64, ScenarioError> {
        let x = *v.get_ref();
        if x.is_finite() && (0.0..=31_536_000.0).contains(&x) {
            Ok(x)
        } else {
            Err(err(
                v.span(),
                field,
                format!(
                    "expected seconds in 0..=31536000 (Mesos caps refusals at a year), found {x}"
                ),
            ))
        }
    };
    let refuse_s = refusal(&raw.two_level.refuse_s, "two_level.refuse_s")?;
    let accept_refuse_s = refusal(&raw.two_level.accept_refuse_s, "two_level.accept_refuse_s")?;
    let whole_cell_offers = match raw.two_level.offers.as_ref().map(|o| (o.get_ref().as_str(), o.span())) {
        None | Some(("per-agent", _)) => false,
        Some(("whole-cell", _)) => true,
        Some((other, span)) => {
            return Err(err(
                span,
                "two_level.offers",
                format!("expected \"per-agent\" (Mesos) or \"whole-cell\" (the Omega simulator's model), found \"{other}\""),
            ))
        }
    };
    Ok(Study {
        name,
        description: raw.description,
        seed: raw.seed,
        architectures,
        t_job_s,
        setup: Setup {
            machines,
            cpu_milli,
            memory_mib,
            machines_per_rack,
            workloads,
            swept,
            duration_s,
            allocation_interval_s: positive(
                &raw.two_level.allocation_interval_s,
                "two_level.allocation_interval_s",
            )?,
            refuse_s,
            accept_refuse_s,
            whole_cell_offers,
            offer_timeout_s,
            conflict,
            transaction,
            sample_interval_s,
        },
    })
}

/// Runs every (architecture, t_job) pair on `jobs` threads, results in input order.
pub fn run_study(study: &Study, jobs: usize) -> Result<Vec<RunStats>, rayon::ThreadPoolBuildError> {
    let runs: Vec<(Architecture, f64)> = study
        .architectures
        .iter()
        .flat_map(|&a| study.t_job_s.iter().map(move |&t| (a, t)))
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()?;
    Ok(pool.install(|| {
        runs.par_iter()
            .map(|&(a, t)| run(&study.setup, a, t, study.seed))
            .collect()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn setup() -> Setup {
        let wl = |name: &str, ia: f64, tasks: (u32, u32), dur: f64, t_job: f64| Workload {
            name: name.into(),
            mean_interarrival_s: ia,
            tasks,
            mean_task_duration_s: dur,
            cpu_milli: 500,
            memory_mib: 1024,
            t_job_s: t_job,
            t_task_s: 0.005,
            constraints: vec![],
        };
        Setup {
            machines: 20,
            cpu_milli: 4000,
            memory_mib: 16384,
            machines_per_rack: 5,
            workloads: vec![
                wl("batch", 1.0, (1, 10), 30.0, 0.1),
                wl("service", 10.0, (1, 5), 600.0, 0.1),
            ],
            swept: 1,
            duration_s: 600.0,
            allocation_interval_s: 1.0,
            refuse_s: 5.0,
            accept_refuse_s: 0.0,
            whole_cell_offers: false,
            offer_timeout_s: None,
            conflict: ConflictMode::Fine,
            transaction: Transaction::Incremental,
            sample_interval_s: 10.0,
        }
    }

    #[test]
    fn every_architecture_runs_and_accounts_for_every_job() {
        let s = setup();
        for arch in [
            Architecture::MonolithicSingle,
            Architecture::MonolithicMulti,
            Architecture::TwoLevel,
            Architecture::SharedState,
        ] {
            let r = run(&s, arch, 0.1, 1);
            assert_eq!(r.audit_error, None);
            for w in &r.workloads {
                assert!(w.jobs > 0, "{arch:?} {}", w.name);
                assert_eq!(w.jobs, w.scheduled + w.abandoned + w.pending);
                assert!(w.tasks_placed > 0);
            }
            assert_eq!(
                format!("{r:?}"),
                format!("{:?}", run(&s, arch, 0.1, 1)),
                "deterministic"
            );
        }
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// For random clusters, loads, decision times and modes, audited every sample and at
        /// the end: no machine is over capacity or holds resources in two places, the
        /// allocator's books balance, every unfinished job is in exactly one queue, decision
        /// or retry delay, every placed task met its Marathon constraints, and runs repeat
        /// exactly.
        #[test]
        fn no_overcommit_and_every_job_accounted(
            machines in 1usize..12,
            arch in prop::sample::select(vec![
                Architecture::MonolithicSingle,
                Architecture::MonolithicMulti,
                Architecture::TwoLevel,
                Architecture::SharedState,
            ]),
            t_job in prop::sample::select(vec![0.0, 0.05, 0.5, 3.0]),
            coarse in any::<bool>(),
            gang in any::<bool>(),
            cell in any::<bool>(),
            constraint in prop::sample::select(vec![
                vec![],
                vec!["hostname", "UNIQUE"],
                vec!["rack", "MAX_PER", "2"],
                vec!["rack", "GROUP_BY", "2"],
                vec!["rack", "CLUSTER"],
            ]),
            refuse in prop::sample::select(vec![0.0, 1.0, 5.0, 30.0]),
            interval in prop::sample::select(vec![0.2, 1.0, 3.0]),
            timeout in prop::option::of(1.0f64..20.0),
            seed in any::<u64>(),
        ) {
            let mut s = setup();
            s.machines = machines;
            s.machines_per_rack = 3;
            s.duration_s = 120.0;
            s.sample_interval_s = 2.0;
            s.conflict = if coarse { ConflictMode::Coarse } else { ConflictMode::Fine };
            s.transaction = if gang { Transaction::AllOrNothing } else { Transaction::Incremental };
            s.whole_cell_offers = cell;
            s.refuse_s = refuse;
            s.allocation_interval_s = interval;
            s.offer_timeout_s = timeout;
            if !constraint.is_empty() {
                s.workloads[1].constraints = vec![Constraint::parse(&constraint).unwrap()];
            }
            let r = run(&s, arch, t_job, seed);
            prop_assert_eq!(&r.audit_error, &None);
            for w in &r.workloads {
                prop_assert_eq!(w.jobs, w.scheduled + w.abandoned + w.pending);
            }
            // Debug text compares NaN waits (no job finished) as equal.
            prop_assert_eq!(format!("{r:?}"), format!("{:?}", run(&s, arch, t_job, seed)));
        }
    }
}
