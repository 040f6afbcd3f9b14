//! What Google's Borg traces (cluster-data 2011 and 2019) share, whatever their file format:
//! machines added, updated and removed, and tasks submitted, scheduled and ended, turned into
//! machines and tasks with the time each task ran. The formats' readers (`google_2011`,
//! `google_2019`) parse their records into these steps.
//!
//! A task (job ID, task index) becomes one pod: it arrives at its first SUBMIT, requests what
//! that SUBMIT asked (or the first record that says), keeps its priority and scheduling class,
//! and runs for the time it spent between SCHEDULE and the event that ended each run (EVICT,
//! FAIL, FINISH, KILL, LOST) — resubmissions add their runs; the simulation places it again
//! itself. A task still running when the input (or the window) ends runs to the end of the
//! simulation. A task that never ran is not kept (counted). Times are µs from 600 s before
//! the trace window (0: before it, 2⁶³ − 1: after it) in both traces; capacities and requests
//! are normalised to the largest machine, which the options turn back into cores and bytes.

use rustc_hash::FxHashMap as HashMap;

use super::{ImportError, Summary};

/// 600 s: the trace window starts at this timestamp.
const WINDOW_START_US: u64 = 600_000_000;
/// "After the end of the trace".
pub(crate) const AFTER_END: u64 = i64::MAX as u64;

/// Cores of the trace's largest machine. A prior: the traces publish no absolute capacity;
/// a two-socket server of 2011 (2 × 8 cores with hyper-threads off) is assumed.
pub const DEFAULT_CPU_UNIT_CORES: f64 = 16.0;
/// GiB of the trace's largest memory. A prior like the cores: 64 GiB.
pub const DEFAULT_MEMORY_UNIT_GIB: f64 = 64.0;

/// How to read a Borg trace.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Cores of a machine whose normalised CPU capacity is 1.0 (the trace's largest).
    pub cpu_unit_cores: f64,
    /// GiB of a machine whose normalised memory is 1.0.
    pub memory_unit_gib: f64,
    /// The window, s of trace time (0 is the trace's start, timestamp 600 s): tasks first
    /// submitted in `[from_s, to_s)` are kept, their arrivals counted from `from_s`.
    pub from_s: f64,
    pub to_s: Option<f64>,
    /// Keep every k-th job in order of first appearance (1: all).
    pub every_kth_job: u64,
    /// Stop at the first malformed record instead of skipping it.
    pub strict: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cpu_unit_cores: DEFAULT_CPU_UNIT_CORES,
            memory_unit_gib: DEFAULT_MEMORY_UNIT_GIB,
            from_s: 0.0,
            to_s: None,
            every_kth_job: 1,
            strict: false,
        }
    }
}

impl Options {
    pub(crate) fn check(&self) -> Result<(), ImportError> {
        let bad = |m: String| Err(ImportError::Options(m));
        if !(self.cpu_unit_cores.is_finite() && self.cpu_unit_cores > 0.0) {
            return bad(format!(
                "cpu unit: expected a positive number of cores, found {}",
                self.cpu_unit_cores
            ));
        }
        if !(self.memory_unit_gib.is_finite() && self.memory_unit_gib > 0.0) {
            return bad(format!(
                "memory unit: expected a positive number of GiB, found {}",
                self.memory_unit_gib
            ));
        }
        super::check_window(self.from_s, self.to_s, self.every_kth_job)
    }
}

/// A machine, as first added (later UPDATEs change its capacity).
#[derive(Clone, Debug, PartialEq)]
pub struct Machine {
    pub id: u64,
    pub platform: String,
    /// Its top-of-rack switch (2019; empty in 2011).
    pub switch: String,
    /// Normalised.
    pub cpu: f64,
    pub memory: f64,
}

/// A task kept.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    pub job: u64,
    pub index: u32,
    /// From the window's start, µs.
    pub arrival_us: u64,
    /// Time running, µs; `None`: still running when the input ends.
    pub run_us: Option<u64>,
    /// Normalised requests.
    pub cpu: f64,
    pub memory: f64,
    /// Larger is more important (2011: 0–11; 2019: 0–450).
    pub priority: i32,
    pub scheduling_class: u8,
}

/// What an import produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// In order of first ADD.
    pub machines: Vec<Machine>,
    /// By arrival, then job and task index.
    pub tasks: Vec<Task>,
    pub summary: Summary,
}

/// A machine event's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MachineStep {
    Add,
    Remove,
    Update,
}

/// One machine event, parsed.
pub(crate) struct MachineRecord<'a> {
    pub(crate) id: u64,
    pub(crate) step: MachineStep,
    pub(crate) platform: &'a str,
    pub(crate) switch: &'a str,
    pub(crate) cpu: Option<f64>,
    pub(crate) memory: Option<f64>,
}

/// The machines so far.
#[derive(Default)]
pub(crate) struct Machines {
    list: Vec<Machine>,
    index: HashMap<u64, usize>,
}

impl Machines {
    pub(crate) fn step(&mut self, file: &str, line: u64, r: MachineRecord, summary: &mut Summary) {
        match (r.step, self.index.get(&r.id)) {
            (MachineStep::Add, None) => match (r.cpu, r.memory) {
                (Some(cpu), Some(memory)) => {
                    self.index.insert(r.id, self.list.len());
                    self.list.push(Machine {
                        id: r.id,
                        platform: r.platform.to_string(),
                        switch: r.switch.to_string(),
                        cpu,
                        memory,
                    });
                }
                _ => summary.skip(
                    file,
                    line,
                    "machine without capacity",
                    format!("machine {} is added with no CPU or memory capacity", r.id),
                ),
            },
            (MachineStep::Add | MachineStep::Update, Some(&i)) => {
                let m = &mut self.list[i];
                m.cpu = r.cpu.unwrap_or(m.cpu);
                m.memory = r.memory.unwrap_or(m.memory);
            }
            (MachineStep::Remove, Some(_)) => {
                *summary
                    .skipped
                    .entry("machine removal (not replayed)".into())
                    .or_default() += 1;
            }
            (step, None) => summary.skip(
                file,
                line,
                "event for an unknown machine",
                format!("machine {}: {step:?} before it is added", r.id),
            ),
        }
    }

    pub(crate) fn finish(self) -> Vec<Machine> {
        self.list
    }
}

/// A task event's meaning for the replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TaskStep {
    Submit,
    Schedule,
    /// EVICT, FAIL, FINISH, KILL, LOST: a run ends.
    End,
    /// Updates, and 2019's QUEUE and ENABLE: no change to the replay.
    Other,
}

/// One task event, parsed.
pub(crate) struct TaskRecord {
    /// As in the trace (µs, 600 s before the window's start).
    pub(crate) time_us: u64,
    pub(crate) job: u64,
    pub(crate) index: u32,
    pub(crate) step: TaskStep,
    pub(crate) class: u8,
    pub(crate) priority: i32,
    pub(crate) cpu: Option<f64>,
    pub(crate) memory: Option<f64>,
}

struct TaskState {
    arrival_us: u64,
    cpu: Option<f64>,
    memory: Option<f64>,
    priority: i32,
    class: u8,
    running_since: Option<u64>,
    ran_us: u64,
    ran: bool,
}

/// The tasks so far, within the window and the sample.
pub(crate) struct Tasks {
    from_us: u64,
    to_us: u64,
    every_kth_job: u64,
    /// Whether each job seen is kept, in order of first appearance.
    jobs: HashMap<u64, bool>,
    tasks: HashMap<(u64, u32), TaskState>,
}

impl Tasks {
    pub(crate) fn new(opts: &Options) -> Self {
        Tasks {
            from_us: (opts.from_s * 1e6) as u64,
            to_us: opts.to_s.map_or(u64::MAX, |t| (t * 1e6) as u64),
            every_kth_job: opts.every_kth_job,
            jobs: HashMap::default(),
            tasks: HashMap::default(),
        }
    }

    pub(crate) fn step(&mut self, r: TaskRecord, summary: &mut Summary) {
        if r.time_us == AFTER_END {
            return;
        }
        // Trace time: 0 at the window's start; events before it count as at its start.
        let t = r.time_us.saturating_sub(WINDOW_START_US);
        let key = (r.job, r.index);
        if t >= self.to_us {
            if let Some(s) = self.tasks.get_mut(&key) {
                // Past the window: a task running now runs on to the end.
                if let Some(since) = s.running_since.take() {
                    s.ran_us += self.to_us.saturating_sub(since);
                    s.running_since = Some(self.to_us);
                }
            }
            return;
        }
        let next = self.jobs.len() as u64;
        let kept = *self
            .jobs
            .entry(r.job)
            .or_insert(next.is_multiple_of(self.every_kth_job));
        if !kept {
            return;
        }
        match self.tasks.get_mut(&key) {
            None if r.step == TaskStep::Submit => {
                if t < self.from_us {
                    *summary
                        .skipped
                        .entry("task submitted before the window".into())
                        .or_default() += 1;
                    return;
                }
                self.tasks.insert(
                    key,
                    TaskState {
                        arrival_us: t - self.from_us,
                        cpu: r.cpu,
                        memory: r.memory,
                        priority: r.priority,
                        class: r.class,
                        running_since: None,
                        ran_us: 0,
                        ran: false,
                    },
                );
            }
            // Events of a task first seen without its SUBMIT (before the window, or the
            // input starts in the middle of the trace) are not replayed.
            None => {}
            Some(s) => {
                s.cpu = s.cpu.or(r.cpu);
                s.memory = s.memory.or(r.memory);
                match r.step {
                    TaskStep::Schedule => {
                        s.running_since = Some(t);
                        s.ran = true;
                    }
                    TaskStep::End => {
                        if let Some(since) = s.running_since.take() {
                            s.ran_us += t.saturating_sub(since);
                        }
                    }
                    TaskStep::Submit | TaskStep::Other => {}
                }
            }
        }
    }

    /// The tasks that ran, by arrival, then job and index.
    pub(crate) fn finish(self, summary: &mut Summary) -> Vec<Task> {
        let mut out = Vec::with_capacity(self.tasks.len());
        let mut never_ran = 0;
        for ((job, index), s) in self.tasks {
            if !s.ran {
                never_ran += 1;
                continue;
            }
            out.push(Task {
                job,
                index,
                arrival_us: s.arrival_us,
                run_us: if s.running_since.is_some() {
                    None
                } else {
                    Some(s.ran_us)
                },
                cpu: s.cpu.unwrap_or(0.0),
                memory: s.memory.unwrap_or(0.0),
                priority: s.priority,
                scheduling_class: s.class,
            });
        }
        if never_ran > 0 {
            *summary
                .skipped
                .entry("task never scheduled in the trace".into())
                .or_default() += never_ran;
        }
        out.sort_unstable_by_key(|t| (t.arrival_us, t.job, t.index));
        out
    }
}

/// The trace with its summary's counts.
pub(crate) fn trace(machines: Vec<Machine>, tasks: Vec<Task>, mut summary: Summary) -> Trace {
    summary.machines = machines.len() as u64;
    summary.tasks = tasks.len() as u64;
    let jobs: std::collections::BTreeSet<u64> = tasks.iter().map(|t| t.job).collect();
    summary.jobs = jobs.len() as u64;
    summary.first_arrival_s = tasks.first().map_or(0.0, |t| t.arrival_us as f64 / 1e6);
    summary.last_arrival_s = tasks.last().map_or(0.0, |t| t.arrival_us as f64 / 1e6);
    Trace {
        machines,
        tasks,
        summary,
    }
}
