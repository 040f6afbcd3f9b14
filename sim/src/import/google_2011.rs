//! Google cluster-data 2011 (`clusterdata-2011-2`, schema v2.1): the `machine_events` and
//! `task_events` tables, read line by line into machines and tasks (`super::borg` says how a
//! task's events become a pod).
//!
//! The tables are headerless, unquoted CSV. `machine_events`: time, machine ID, event type
//! (0 ADD, 1 REMOVE, 2 UPDATE), platform ID, CPUs, memory. `task_events`: time, missing info,
//! job ID, task index, machine ID, event type (0 SUBMIT, 1 SCHEDULE, 2 EVICT, 3 FAIL,
//! 4 FINISH, 5 KILL, 6 LOST, 7 UPDATE_PENDING, 8 UPDATE_RUNNING), user, scheduling class,
//! priority (0–11, larger is more important), CPU request, memory request, disk request,
//! different-machines restriction.

use super::borg::{self, MachineRecord, MachineStep, Machines, TaskRecord, TaskStep, Tasks};
pub use super::borg::{
    Machine, Options, Task, Trace, DEFAULT_CPU_UNIT_CORES, DEFAULT_MEMORY_UNIT_GIB,
};
pub use super::lines::Input;
use super::lines::{for_each_line, Line};
use super::{ImportError, Summary};

/// The format's name in summaries and scenarios.
pub const FORMAT: &str = "google-2011";

/// Reads both tables. `progress` is called every 2²⁰ records with the count so far.
pub fn import(
    machine_events: Vec<Input>,
    task_events: Vec<Input>,
    opts: &Options,
    progress: &mut dyn FnMut(u64),
) -> Result<Trace, ImportError> {
    opts.check()?;
    let mut summary = Summary {
        format: FORMAT.into(),
        ..Summary::default()
    };
    let mut machines = Machines::default();
    for_each_line(
        machine_events,
        6,
        opts.strict,
        &mut summary,
        progress,
        |l, summary| {
            l.int(0, "time", u64::MAX)?;
            let step = match l.int(2, "event type", 2)? {
                0 => MachineStep::Add,
                1 => MachineStep::Remove,
                _ => MachineStep::Update,
            };
            let record = MachineRecord {
                id: l.int(1, "machine ID", u64::MAX)?,
                step,
                platform: l.text(3),
                switch: "",
                cpu: share(l, 4, "CPUs")?,
                memory: share(l, 5, "memory")?,
            };
            machines.step(l.file, l.line, record, summary);
            Ok(())
        },
    )?;
    let mut tasks = Tasks::new(opts);
    for_each_line(
        task_events,
        13,
        opts.strict,
        &mut summary,
        progress,
        |l, summary| {
            let time_us = l.int(0, "time", u64::MAX)?;
            let job = l.int(2, "job ID", u64::MAX)?;
            let index = l.int(3, "task index", u32::MAX as u64)? as u32;
            let step = match l.int(5, "event type", 8)? {
                0 => TaskStep::Submit,
                1 => TaskStep::Schedule,
                2..=6 => TaskStep::End,
                _ => TaskStep::Other,
            };
            let record = TaskRecord {
                time_us,
                job,
                index,
                step,
                class: l.opt_int(7, "scheduling class", 3)?.unwrap_or(0) as u8,
                priority: l.int(8, "priority", 11)? as i32,
                cpu: share(l, 9, "CPU request")?,
                memory: share(l, 10, "memory request")?,
            };
            tasks.step(record, summary);
            Ok(())
        },
    )?;
    let tasks = tasks.finish(&mut summary);
    Ok(borg::trace(machines.finish(), tasks, summary))
}

/// A normalised capacity or request: empty, or a number from 0 to 1 (a little above 1 is
/// kept: the trace rounds).
fn share(l: &Line, i: usize, field: &str) -> Result<Option<f64>, ImportError> {
    l.opt_float(i, field, 0.0, 2.0, "a normalised amount from 0 to 1")
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
                    switch: String::new(),
                    cpu: 0.5,
                    memory: 0.2493
                },
                Machine {
                    id: 6,
                    platform: "HJmRkpuC".into(),
                    switch: String::new(),
                    cpu: 0.5,
                    memory: 0.4995
                },
                Machine {
                    id: 7,
                    platform: "70ZOvysY".into(),
                    switch: String::new(),
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
