//! Google cluster-data 2019 (`clusterdata-2019`, the "Google cluster-usage traces v3"):
//! the `machine_events` and `instance_events` tables as BigQuery exports them
//! (`bq extract --destination_format NEWLINE_DELIMITED_JSON`: one JSON object per line,
//! nested `capacity` and `resource_request` records; INT64 columns are written as JSON
//! strings, which is why numbers are read from strings as well as from numbers). Fields follow
//! `clusterdata_trace_format_v3.proto` in google/cluster-data; `super::borg` says how a task's
//! events become a pod.
//!
//! `machine_events`: `time`, `machine_id`, `type` (1 ADD, 2 REMOVE, 3 UPDATE), `switch_id`
//! (kept as the node label `google.com/switch`), `capacity.cpus`, `capacity.memory`,
//! `platform_id`. `instance_events`: `time`, `type` (0 SUBMIT, 1 QUEUE, 2 ENABLE, 3 SCHEDULE,
//! 4 EVICT, 5 FAIL, 6 FINISH, 7 KILL, 8 LOST, 9 UPDATE_PENDING, 10 UPDATE_RUNNING; the
//! names are read too), `collection_id`, `instance_index`, `scheduling_class` (0–3),
//! `collection_type` (0 JOB, 1 ALLOC_SET), `priority` (0–450 in the published cells, larger is
//! more important), `alloc_collection_id` (0: not in an alloc set), `resource_request.cpus`,
//! `resource_request.memory`. A task that runs inside an alloc set takes its resources from
//! the alloc instance, which is replayed itself: such tasks are counted and skipped (their
//! resources would be counted twice).

use serde_json::Value;

use super::borg::{self, MachineRecord, MachineStep, Machines, TaskRecord, TaskStep, Tasks};
pub use super::borg::{
    Machine, Options, Task, Trace, DEFAULT_CPU_UNIT_CORES, DEFAULT_MEMORY_UNIT_GIB,
};
use super::lines::for_each_text_line;
pub use super::lines::Input;
use super::{ImportError, Summary};

/// The format's name in summaries and scenarios.
pub const FORMAT: &str = "google-2019";

/// `instance_events.type`'s names, by value.
const EVENT_TYPES: [&str; 11] = [
    "SUBMIT",
    "QUEUE",
    "ENABLE",
    "SCHEDULE",
    "EVICT",
    "FAIL",
    "FINISH",
    "KILL",
    "LOST",
    "UPDATE_PENDING",
    "UPDATE_RUNNING",
];

/// `machine_events.type`'s names, by value.
const MACHINE_TYPES: [&str; 4] = ["EVENT_TYPE_UNKNOWN", "ADD", "REMOVE", "UPDATE"];

/// One JSON line, its fields read with their place for errors.
struct Record<'a> {
    file: &'a str,
    line: u64,
    value: Value,
}

impl Record<'_> {
    fn parse<'a>(file: &'a str, line: u64, text: &str) -> Result<Record<'a>, ImportError> {
        let value: Value = serde_json::from_str(text).map_err(|e| ImportError::Malformed {
            file: file.into(),
            line,
            column: e.column() as u64,
            field: "line".into(),
            message: format!("expected a JSON object: {e}"),
        })?;
        if !value.is_object() {
            return Err(ImportError::Malformed {
                file: file.into(),
                line,
                column: 1,
                field: "line".into(),
                message: "expected a JSON object".into(),
            });
        }
        Ok(Record { file, line, value })
    }

    fn error(&self, field: &str, message: String) -> ImportError {
        ImportError::Malformed {
            file: self.file.into(),
            line: self.line,
            column: 1,
            field: field.into(),
            message,
        }
    }

    /// The field at a dotted path (`resource_request.cpus`), absent when it or a record on
    /// the way is missing or null.
    fn get(&self, path: &str) -> Option<&Value> {
        let mut v = &self.value;
        for part in path.split('.') {
            v = v.get(part)?;
        }
        (!v.is_null()).then_some(v)
    }

    /// An integer in `lo..=hi`, written as a JSON number or a string.
    fn opt_int(&self, field: &str, lo: i64, hi: i64) -> Result<Option<i64>, ImportError> {
        let Some(v) = self.get(field) else {
            return Ok(None);
        };
        let x = match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        match x {
            Some(x) if (lo..=hi).contains(&x) => Ok(Some(x)),
            _ => Err(self.error(
                field,
                format!("expected an integer from {lo} to {hi}, found {v}"),
            )),
        }
    }

    fn int(&self, field: &str, lo: i64, hi: i64) -> Result<i64, ImportError> {
        self.opt_int(field, lo, hi)?
            .ok_or_else(|| self.error(field, "expected a value, found none".into()))
    }

    /// The trace's timestamps: µs, up to 2⁶³ − 1 ("after the end").
    fn time(&self) -> Result<u64, ImportError> {
        self.int("time", 0, i64::MAX).map(|t| t as u64)
    }

    /// An enum column: its number, or its name in `names`.
    fn kind(&self, names: &[&str]) -> Result<usize, ImportError> {
        let last = names.len() - 1;
        match self.get("type") {
            Some(Value::String(s)) if names.contains(&s.as_str()) => {
                Ok(names.iter().position(|n| n == s).unwrap_or_default())
            }
            Some(_) => self.int("type", 0, last as i64).map(|x| x as usize),
            None => Err(self.error(
                "type",
                format!(
                    "expected 0 to {last} or one of {}, found none",
                    names.join(", ")
                ),
            )),
        }
    }

    /// A normalised amount from 0 to 1 (a little above 1 is kept: the trace rounds).
    fn share(&self, field: &str) -> Result<Option<f64>, ImportError> {
        let Some(v) = self.get(field) else {
            return Ok(None);
        };
        let x = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match x {
            Some(x) if (0.0..=2.0).contains(&x) => Ok(Some(x)),
            _ => Err(self.error(
                field,
                format!("expected a normalised amount from 0 to 1, found {v}"),
            )),
        }
    }

    fn text(&self, field: &str) -> String {
        match self.get(field) {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
        }
    }
}

/// Reads both tables (JSON lines; files, or parts in order). `progress` is called every 2²⁰
/// records with the count so far.
pub fn import(
    machine_events: Vec<Input>,
    instance_events: Vec<Input>,
    opts: &Options,
    progress: &mut dyn FnMut(u64),
) -> Result<Trace, ImportError> {
    opts.check()?;
    let mut summary = Summary {
        format: FORMAT.into(),
        ..Summary::default()
    };
    let mut machines = Machines::default();
    for_each_text_line(
        machine_events,
        opts.strict,
        &mut summary,
        progress,
        |file, line, text, summary| {
            let r = Record::parse(file, line, text)?;
            r.time()?;
            let id = r.int("machine_id", 0, i64::MAX)? as u64;
            let step = match r.kind(&MACHINE_TYPES)? {
                1 => MachineStep::Add,
                2 => MachineStep::Remove,
                3 => MachineStep::Update,
                _ => {
                    return Err(r.error(
                        "type",
                        "expected ADD (1), REMOVE (2) or UPDATE (3), found EVENT_TYPE_UNKNOWN"
                            .into(),
                    ))
                }
            };
            let (platform, switch) = (r.text("platform_id"), r.text("switch_id"));
            let record = MachineRecord {
                id,
                step,
                platform: &platform,
                switch: &switch,
                cpu: r.share("capacity.cpus")?,
                memory: r.share("capacity.memory")?,
            };
            machines.step(file, line, record, summary);
            Ok(())
        },
    )?;
    let mut tasks = Tasks::new(opts);
    for_each_text_line(
        instance_events,
        opts.strict,
        &mut summary,
        progress,
        |file, line, text, summary| {
            let r = Record::parse(file, line, text)?;
            let time_us = r.time()?;
            let step = match r.kind(&EVENT_TYPES)? {
                0 => TaskStep::Submit,
                3 => TaskStep::Schedule,
                4..=8 => TaskStep::End,
                _ => TaskStep::Other,
            };
            let job = r.int("collection_id", 0, i64::MAX)? as u64;
            let index = r.int("instance_index", 0, i32::MAX as i64)? as u32;
            let class = r.opt_int("scheduling_class", 0, 3)?.unwrap_or(0) as u8;
            let priority = r.opt_int("priority", 0, i32::MAX as i64)?.unwrap_or(0) as i32;
            r.opt_int("collection_type", 0, 1)?;
            let in_alloc = r.opt_int("alloc_collection_id", 0, i64::MAX)?.unwrap_or(0) != 0;
            let cpu = r.share("resource_request.cpus")?;
            let memory = r.share("resource_request.memory")?;
            if in_alloc {
                if step == TaskStep::Submit {
                    *summary
                        .skipped
                        .entry(
                            "task in an alloc set (its alloc instance holds the resources)".into(),
                        )
                        .or_default() += 1;
                }
                return Ok(());
            }
            tasks.step(
                TaskRecord {
                    time_us,
                    job,
                    index,
                    step,
                    class,
                    priority,
                    cpu,
                    memory,
                },
                summary,
            );
            Ok(())
        },
    )?;
    let tasks = tasks.finish(&mut summary);
    Ok(borg::trace(machines.finish(), tasks, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MACHINES: &str = include_str!("../../../tests/traces/google-2019/machine_events.json");

    /// Collection 100 (a job): instance 0 scheduled and finished, instance 1 evicted,
    /// resubmitted and running at the end. Collection 200 (an alloc set): its instance runs
    /// to the end; collection 300's task runs inside it (skipped). Collection 400: queued and
    /// killed before it ran. Numbers as strings and as numbers, types by value and by name.
    const INSTANCES: &str = include_str!("../../../tests/traces/google-2019/instance_events.json");

    fn run(opts: &Options, instances: &str) -> Result<Trace, ImportError> {
        import(
            vec![Input::text("machine_events.json", MACHINES)],
            vec![Input::text("instance_events.json", instances)],
            opts,
            &mut |_| {},
        )
    }

    #[test]
    fn maps_every_field() {
        let t = run(&Options::default(), INSTANCES).unwrap();
        assert_eq!(
            t.machines,
            vec![
                Machine {
                    id: 1001,
                    platform: "p1".into(),
                    switch: "s1".into(),
                    cpu: 0.5,
                    memory: 0.25
                },
                Machine {
                    id: 1002,
                    platform: "p2".into(),
                    switch: "s2".into(),
                    // Its UPDATE at 700 s.
                    cpu: 1.0,
                    memory: 0.75
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
                // The alloc set's instance, from 0 s to the end.
                task(200, 0, 0, None, 0.5, 0.5, 360, 3),
                // Submitted at 10 s, scheduled 20 s, finished 320 s.
                task(100, 0, 10, Some(300), 0.0625, 0.03125, 200, 2),
                // 20–120 s, evicted, rescheduled at 220 s, running at the end.
                task(100, 1, 10, None, 0.0625, 0.03125, 200, 2),
            ]
        );
        let s = &t.summary;
        assert_eq!((s.records, s.machines, s.jobs, s.tasks), (18, 2, 2, 3));
        assert_eq!(s.skipped["task never scheduled in the trace"], 1);
        assert_eq!(s.skipped["machine removal (not replayed)"], 1);
        assert_eq!(
            s.skipped["task in an alloc set (its alloc instance holds the resources)"],
            1
        );
    }

    #[test]
    fn malformed_records_are_skipped_or_fatal() {
        let bad = format!(
            "{INSTANCES}{{\"time\": \"9000000000\", \"type\": 11, \"collection_id\": 500, \"instance_index\": 0}}\n{{\"time\": 1, \"type\": \"SUBMIT\", \"collection_id\": \"x\", \"instance_index\": 0}}\nnot json\n{{\"time\": 1, \"type\": 0, \"collection_id\": 5, \"instance_index\": 0, \"resource_request\": {{\"cpus\": 3}}}}\n"
        );
        let t = run(&Options::default(), &bad).unwrap();
        assert_eq!(t.summary.skipped["malformed record"], 4);
        let reasons: Vec<&str> = t
            .summary
            .examples
            .iter()
            .filter(|e| e.reason.starts_with("column"))
            .map(|e| e.reason.as_str())
            .collect();
        assert_eq!(
            reasons,
            vec![
                "column 1, type: expected an integer from 0 to 10, found 11",
                "column 1, collection_id: expected an integer from 0 to 9223372036854775807, found \"x\"",
                "column 2, line: expected a JSON object: expected ident at line 1 column 2",
                "column 1, resource_request.cpus: expected a normalised amount from 0 to 1, found 3",
            ]
        );
        assert_eq!(t.tasks.len(), 3, "the good records still count");
        let strict = Options {
            strict: true,
            ..Options::default()
        };
        let e = run(&strict, &bad).unwrap_err().to_string();
        assert_eq!(
            e,
            "instance_events.json:15:1: type: expected an integer from 0 to 10, found 11"
        );
    }

    #[test]
    fn windows_and_sampling_select_tasks() {
        let window = Options {
            from_s: 5.0,
            to_s: Some(200.0),
            ..Options::default()
        };
        let t = run(&window, INSTANCES).unwrap();
        // The alloc instance was submitted before the window; collection 100's tasks arrive
        // 5 s into it; instance 1 was evicted at 120 s and not rescheduled before 200 s.
        let got: Vec<(u64, u32, u64, Option<u64>)> = t
            .tasks
            .iter()
            .map(|t| (t.job, t.index, t.arrival_us, t.run_us))
            .collect();
        assert_eq!(
            got,
            vec![
                (100, 0, 5_000_000, None),
                (100, 1, 5_000_000, Some(100_000_000))
            ]
        );
        // Collections replayed, in order of appearance: 200, 100, 400 (300 runs inside an
        // alloc set); every second keeps 200 and 400, which never ran.
        let every = Options {
            every_kth_job: 2,
            ..Options::default()
        };
        let jobs: Vec<u64> = run(&every, INSTANCES)
            .unwrap()
            .tasks
            .iter()
            .map(|t| t.job)
            .collect();
        assert_eq!(jobs, vec![200]);
    }

    proptest::proptest! {
        /// Random bytes, and lines shaped like events with random values, never panic.
        #[test]
        fn never_panics_on_arbitrary_input(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            fields in proptest::collection::vec(("[a-z_.]{1,12}", "(-?[0-9]{1,20}|\"[A-Z0-9_]{0,8}\"|null|\\{\\}|0\\.[0-9]{1,3})"), 0..8),
        ) {
            let line = format!(
                "{{{}}}",
                fields.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect::<Vec<_>>().join(", ")
            );
            for strict in [false, true] {
                let o = Options { strict, ..Options::default() };
                let _ = import(
                    vec![Input::text("m", &line), Input { name: "b".into(), reader: Box::new(&bytes[..]) }],
                    vec![Input::text("t", &line), Input { name: "b".into(), reader: Box::new(&bytes[..]) }],
                    &o,
                    &mut |_| {},
                );
            }
        }
    }
}
