//! Google cluster-data 2011 (`clusterdata-2011-2`, schema v2.1): the `machine_events` and
//! `task_events` tables, read line by line into machines and tasks.
//!
//! The tables are headerless, unquoted CSV. `machine_events`: time, machine ID, event type
//! (0 ADD, 1 REMOVE, 2 UPDATE), platform ID, CPUs, memory. `task_events`: time, missing info,
//! job ID, task index, machine ID, event type (0 SUBMIT, 1 SCHEDULE, 2 EVICT, 3 FAIL,
//! 4 FINISH, 5 KILL, 6 LOST, 7 UPDATE_PENDING, 8 UPDATE_RUNNING), user, scheduling class,
//! priority (0–11, larger is more important), CPU request, memory request, disk request,
//! different-machines restriction. Times are µs from 600 s before the trace window (0: before
//! it, 2⁶³ − 1: after it); capacities and requests are normalised to the largest machine,
//! which the options turn back into cores and bytes.
//!
//! A task (job ID, task index) becomes one pod: it arrives at its first SUBMIT, requests what
//! that SUBMIT asked (or the first record that says), keeps its priority and scheduling class,
//! and runs for the time it spent between SCHEDULE and the event that ended each run (EVICT,
//! FAIL, FINISH, KILL, LOST) — resubmissions add their runs; the simulation places it again
//! itself. A task still running when the input (or the window) ends runs to the end of the
//! simulation. A task that never ran is not kept (counted).

use rustc_hash::FxHashMap as HashMap;

pub use super::lines::Input;
use super::lines::{for_each_line, Line};
use super::{ImportError, Summary};

/// 600 s: the trace window starts at this timestamp.
const WINDOW_START_US: u64 = 600_000_000;
/// "After the end of the trace".
const AFTER_END: u64 = i64::MAX as u64;

/// How to read the trace.
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

/// Cores of the trace's largest machine. A prior: the trace publishes no absolute capacity;
/// a two-socket server of 2011 (2 × 8 cores with hyper-threads off) is assumed.
pub const DEFAULT_CPU_UNIT_CORES: f64 = 16.0;
/// GiB of the trace's largest memory. A prior like the cores: 64 GiB.
pub const DEFAULT_MEMORY_UNIT_GIB: f64 = 64.0;

/// A machine, as first added (later UPDATEs change its capacity).
#[derive(Clone, Debug, PartialEq)]
pub struct Machine {
    pub id: u64,
    pub platform: String,
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
    pub priority: u8,
    pub scheduling_class: u8,
}

/// What the import produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// In order of first ADD.
    pub machines: Vec<Machine>,
    /// By arrival, then job and task index.
    pub tasks: Vec<Task>,
    pub summary: Summary,
}

struct TaskState {
    arrival_us: u64,
    cpu: Option<f64>,
    memory: Option<f64>,
    priority: u8,
    class: u8,
    running_since: Option<u64>,
    ran_us: u64,
    ran: bool,
}

/// Reads both tables. `progress` is called every 2²⁰ records with the count so far.
pub fn import(
    machine_events: Vec<Input>,
    task_events: Vec<Input>,
    opts: &Options,
    progress: &mut dyn FnMut(u64),
) -> Result<Trace, ImportError> {
    check(opts)?;
    let mut summary = Summary {
        format: "google-2011".into(),
        ..Summary::default()
    };
    let machines = read_machines(machine_events, opts, &mut summary, progress)?;
    let tasks = read_tasks(task_events, opts, &mut summary, progress)?;
    summary.machines = machines.len() as u64;
    summary.tasks = tasks.len() as u64;
    let jobs: std::collections::BTreeSet<u64> = tasks.iter().map(|t| t.job).collect();
    summary.jobs = jobs.len() as u64;
    summary.first_arrival_s = tasks.first().map_or(0.0, |t| t.arrival_us as f64 / 1e6);
    summary.last_arrival_s = tasks.last().map_or(0.0, |t| t.arrival_us as f64 / 1e6);
    Ok(Trace {
        machines,
        tasks,
        summary,
    })
}

fn check(o: &Options) -> Result<(), ImportError> {
    let bad = |m: String| Err(ImportError::Options(m));
    if !(o.cpu_unit_cores.is_finite() && o.cpu_unit_cores > 0.0) {
        return bad(format!(
            "cpu unit: expected a positive number of cores, found {}",
            o.cpu_unit_cores
        ));
    }
    if !(o.memory_unit_gib.is_finite() && o.memory_unit_gib > 0.0) {
        return bad(format!(
            "memory unit: expected a positive number of GiB, found {}",
            o.memory_unit_gib
        ));
    }
    super::check_window(o.from_s, o.to_s, o.every_kth_job)
}

/// A normalised capacity or request: empty, or a number from 0 to 1 (a little above 1 is
/// kept: the trace rounds).
fn share(l: &Line, i: usize, field: &str) -> Result<Option<f64>, ImportError> {
    l.opt_float(i, field, 0.0, 2.0, "a normalised amount from 0 to 1")
}

fn read_machines(
    inputs: Vec<Input>,
    opts: &Options,
    summary: &mut Summary,
    progress: &mut dyn FnMut(u64),
) -> Result<Vec<Machine>, ImportError> {
    let mut machines: Vec<Machine> = Vec::new();
    let mut index: HashMap<u64, usize> = HashMap::default();
    for_each_line(inputs, 6, opts.strict, summary, progress, |l, summary| {
        l.int(0, "time", u64::MAX)?;
        let id = l.int(1, "machine ID", u64::MAX)?;
        let event = l.int(2, "event type", 2)?;
        let cpu = share(l, 4, "CPUs")?;
        let memory = share(l, 5, "memory")?;
        match (event, index.get(&id)) {
            (0, None) => match (cpu, memory) {
                (Some(cpu), Some(memory)) => {
                    index.insert(id, machines.len());
                    machines.push(Machine {
                        id,
                        platform: l.text(3).to_string(),
                        cpu,
                        memory,
                    });
                }
                _ => summary.skip(
                    l.file,
                    l.line,
                    "machine without capacity",
                    format!("machine {id} is added with no CPU or memory capacity"),
                ),
            },
            (0 | 2, Some(&i)) => {
                let m = &mut machines[i];
                m.cpu = cpu.unwrap_or(m.cpu);
                m.memory = memory.unwrap_or(m.memory);
            }
            (1, Some(_)) => {
                *summary
                    .skipped
                    .entry("machine removal (not replayed)".into())
                    .or_default() += 1;
            }
            _ => summary.skip(
                l.file,
                l.line,
                "event for an unknown machine",
                format!("machine {id}: event {event} before it is added"),
            ),
        }
        Ok(())
    })?;
    Ok(machines)
}

fn read_tasks(
    inputs: Vec<Input>,
    opts: &Options,
    summary: &mut Summary,
    progress: &mut dyn FnMut(u64),
) -> Result<Vec<Task>, ImportError> {
    let from_us = (opts.from_s * 1e6) as u64;
    let to_us = opts.to_s.map_or(u64::MAX, |t| (t * 1e6) as u64);
    let mut jobs: HashMap<u64, bool> = HashMap::default();
    let mut tasks: HashMap<(u64, u32), TaskState> = HashMap::default();
    for_each_line(inputs, 13, opts.strict, summary, progress, |l, summary| {
        let time = l.int(0, "time", u64::MAX)?;
        let job = l.int(2, "job ID", u64::MAX)?;
        let index = l.int(3, "task index", u32::MAX as u64)? as u32;
        let event = l.int(5, "event type", 8)?;
        let class = l.opt_int(7, "scheduling class", 3)?.unwrap_or(0) as u8;
        let priority = l.int(8, "priority", 11)? as u8;
        let cpu = share(l, 9, "CPU request")?;
        let memory = share(l, 10, "memory request")?;
        if time == AFTER_END {
            return Ok(());
        }
        // Trace time: 0 at the window's start; events before it count as at its start.
        let t = time.saturating_sub(WINDOW_START_US);
        if t >= to_us {
            if let Some(s) = tasks.get_mut(&(job, index)) {
                // Past the window: a task running now runs on to the end.
                if let Some(since) = s.running_since.take() {
                    s.ran_us += to_us.saturating_sub(since);
                    s.running_since = Some(to_us);
                }
            }
            return Ok(());
        }
        let next = jobs.len() as u64;
        let kept = *jobs
            .entry(job)
            .or_insert(next.is_multiple_of(opts.every_kth_job));
        if !kept {
            return Ok(());
        }
        match tasks.get_mut(&(job, index)) {
            None if event == 0 => {
                if t < from_us {
                    *summary
                        .skipped
                        .entry("task submitted before the window".into())
                        .or_default() += 1;
                    return Ok(());
                }
                tasks.insert(
                    (job, index),
                    TaskState {
                        arrival_us: t - from_us,
                        cpu,
                        memory,
                        priority,
                        class,
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
                s.cpu = s.cpu.or(cpu);
                s.memory = s.memory.or(memory);
                match event {
                    1 => {
                        s.running_since = Some(t);
                        s.ran = true;
                    }
                    2..=6 => {
                        if let Some(since) = s.running_since.take() {
                            s.ran_us += t.saturating_sub(since);
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    })?;
    let mut out = Vec::with_capacity(tasks.len());
    let mut never_ran = 0;
    for ((job, index), s) in tasks {
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
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MACHINES: &str = include_str!("../../../tests/traces/google-2011/machine_events.csv");

    /// Job 10: two tasks, one finishes, one is evicted, resubmitted and still runs at the
    /// end. Job 11: submitted before the trace, killed while pending. Job 12: a task whose
    /// requests come with its SCHEDULE record only.
    const TASKS: &str = include_str!("../../../tests/traces/google-2011/task_events.csv");

    fn run(opts: &Options, tasks: &str) -> Result<Trace, ImportError> {
        import(
            vec![Input::text("machine_events.csv", MACHINES)],
            vec![Input::text("task_events.csv", tasks)],
            opts,
            &mut |_| {},
        )
    }

    #[test]
    fn maps_every_field() {
        let t = run(&Options::default(), TASKS).unwrap();
        assert_eq!(
            t.machines,
            vec![
                Machine {
                    id: 5,
                    platform: "HJmRkpuC".into(),
                    cpu: 0.5,
                    memory: 0.2493
                },
                Machine {
                    id: 6,
                    platform: "HJmRkpuC".into(),
                    cpu: 0.5,
                    memory: 0.4995
                },
                Machine {
                    id: 7,
                    platform: "70ZOvysY".into(),
                    cpu: 1.0,
                    memory: 1.0
                },
            ]
        );
        let task =
            |job, index, arrival_s: u64, run_s: Option<u64>, cpu, memory, priority, class| Task {
                job,
                index,
                arrival_us: arrival_s * 1_000_000,
                run_us: run_s.map(|s| s * 1_000_000),
                cpu,
                memory,
                priority,
                scheduling_class: class,
            };
        assert_eq!(
            t.tasks,
            vec![
                // Scheduled at 0 s (600 s), finished at 300 s.
                task(10, 0, 0, Some(300), 0.0625, 0.0159, 9, 2),
                // Ran 0–400 s, evicted, resubmitted, runs again from 500 s to the end.
                task(10, 1, 0, None, 0.0625, 0.0159, 9, 2),
                task(12, 0, 900, Some(100), 0.25, 0.125, 4, 1),
            ]
        );
        let s = &t.summary;
        assert_eq!((s.records, s.machines, s.jobs, s.tasks), (18, 3, 2, 3));
        assert_eq!((s.first_arrival_s, s.last_arrival_s), (0.0, 900.0));
        assert_eq!(s.skipped["task never scheduled in the trace"], 1);
        assert_eq!(s.skipped["machine removal (not replayed)"], 1);
        assert_eq!(s.skipped_total(), 2);
    }

    #[test]
    fn windows_and_sampling_select_tasks() {
        let window = Options {
            from_s: 800.0,
            to_s: Some(1050.0),
            ..Options::default()
        };
        let t = run(&window, TASKS).unwrap();
        assert_eq!(t.tasks.len(), 1);
        // Scheduled at 1000 s, still running when the window closes.
        let first = &t.tasks[0];
        assert_eq!(
            (first.job, first.arrival_us, first.run_us),
            (12, 100_000_000, None)
        );
        // Three SUBMITs at 0 s and task 10/1's resubmission at 400 s.
        assert_eq!(t.summary.skipped["task submitted before the window"], 4);
        // Jobs in order of appearance: 10, 11, 12; every second keeps 10 and 12.
        let every = Options {
            every_kth_job: 2,
            ..Options::default()
        };
        let jobs: Vec<u64> = run(&every, TASKS)
            .unwrap()
            .tasks
            .iter()
            .map(|t| t.job)
            .collect();
        assert_eq!(jobs, vec![10, 10, 12]);
        let every3 = Options {
            every_kth_job: 3,
            ..Options::default()
        };
        let jobs: Vec<u64> = run(&every3, TASKS)
            .unwrap()
            .tasks
            .iter()
            .map(|t| t.job)
            .collect();
        assert_eq!(jobs, vec![10, 10]);
    }

    #[test]
    fn malformed_records_are_skipped_or_fatal() {
        let bad = format!(
            "{TASKS}1800000000,,13,0,,0,u4,1,4,0.1,0.1,0.1\n1800000000,,14,0,,0,u4,1,high,0.1,0.1,0.1,0\n1800000000,,15,0,,9,u4,1,4,0.1,0.1,0.1,0\n1800000000,,16,0,,0,u4,1,4,0.1,lots,0.1,0\n"
        );
        let t = run(&Options::default(), &bad).unwrap();
        assert_eq!(t.summary.skipped["malformed record"], 4);
        let reasons: Vec<&str> = t
            .summary
            .examples
            .iter()
            .map(|s| s.reason.as_str())
            .collect();
        assert_eq!(
            reasons,
            vec![
                "column 1, line: expected 13 comma-separated columns, found 12",
                "column 26, priority: expected a non-negative integer, found `high`",
                "column 19, event type: expected at most 8, found 9",
                "column 32, memory request: expected a normalised amount from 0 to 1, found `lots`",
            ]
        );
        assert_eq!(t.summary.examples[0].line, 14);
        assert_eq!(t.tasks.len(), 3, "the good records still count");
        let strict = Options {
            strict: true,
            ..Options::default()
        };
        let e = run(&strict, &bad).unwrap_err().to_string();
        assert_eq!(
            e,
            "task_events.csv:14:1: line: expected 13 comma-separated columns, found 12"
        );
    }

    #[test]
    fn importing_twice_gives_the_same_trace() {
        let a = run(&Options::default(), TASKS).unwrap();
        let b = run(&Options::default(), TASKS).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn bad_options_are_refused() {
        for o in [
            Options {
                cpu_unit_cores: 0.0,
                ..Options::default()
            },
            Options {
                every_kth_job: 0,
                ..Options::default()
            },
            Options {
                from_s: 10.0,
                to_s: Some(5.0),
                ..Options::default()
            },
        ] {
            assert!(matches!(run(&o, TASKS), Err(ImportError::Options(_))));
        }
    }

    proptest::proptest! {
        /// Random bytes and random lines of the right shape never panic the reader.
        #[test]
        fn never_panics_on_arbitrary_input(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
                                          lines in proptest::collection::vec("[0-9,.a-z-]{0,40}", 0..20)) {
            let text = lines.join("\n");
            for strict in [false, true] {
                let o = Options { strict, ..Options::default() };
                let _ = import(
                    vec![Input { name: "m".into(), reader: Box::new(&bytes[..]) }],
                    vec![Input::text("t", &text), Input { name: "b".into(), reader: Box::new(&bytes[..]) }],
                    &o,
                    &mut |_| {},
                );
            }
        }
    }
}
