//! Alibaba cluster-trace-v2018: `machine_meta`, `container_meta` (online services),
//! `batch_task` and `batch_instance` (batch jobs), read line by line into machines and pods.
//!
//! The tables are headerless, unquoted CSV with the columns of the trace's `schema.txt`; times
//! are seconds from the start of the 8-day period; CPU is in hundredths of a core (100 is one
//! core); memory is normalised to [0, 100] (the options give the GiB of 100), with −1 and 101
//! marking invalid values.
//!
//! - A machine (first `machine_meta` record) has `cpu_num` cores, its memory, and its two
//!   failure domains as labels (`alibaba.com/failure-domain-1`, `-2`).
//! - A container (first `container_meta` record) is a pod of its deploy unit (`app_du`),
//!   arriving at its time stamp, requesting `cpu_request` and `mem_size`, running to the end
//!   (later records of it are counted, not replayed).
//! - A batch instance (a `batch_instance` record) is a pod arriving at its `start_time`,
//!   running to `end_time` (to the end when it has none), requesting its task's `plan_cpu`
//!   and `plan_mem` (`batch_task`). Without instances, each task's `instance_num` pods run
//!   over the task's times.

use rustc_hash::FxHashMap as HashMap;

use super::lines::{for_each_line, Line};
use super::{ImportError, Input, Summary};

/// GiB of a machine whose normalised memory is 100. A prior: the trace publishes no absolute
/// memory; a 96-core server of 2018 with 512 GiB is assumed.
pub const DEFAULT_MEMORY_UNIT_GIB: f64 = 512.0;

/// How to read the trace.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub memory_unit_gib: f64,
    /// Pods arriving in `[from_s, to_s)` of trace time are kept, their arrivals counted from
    /// `from_s`.
    pub from_s: f64,
    pub to_s: Option<f64>,
    /// Keep every k-th job (a batch job, or a container's deploy unit) in order of first
    /// appearance.
    pub every_kth_job: u64,
    pub strict: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            memory_unit_gib: DEFAULT_MEMORY_UNIT_GIB,
            from_s: 0.0,
            to_s: None,
            every_kth_job: 1,
            strict: false,
        }
    }
}

/// The tables to read (any may be empty but the batch tasks when instances are given).
#[derive(Default)]
pub struct Tables<'a> {
    pub machine_meta: Vec<Input<'a>>,
    pub container_meta: Vec<Input<'a>>,
    pub batch_task: Vec<Input<'a>>,
    pub batch_instance: Vec<Input<'a>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Machine {
    pub id: String,
    pub cores: u64,
    /// Normalised to 1.
    pub memory: f64,
    pub failure_domain_1: String,
    pub failure_domain_2: String,
}

/// Which part of the trace a pod comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An online service's container (Sigma).
    Container,
    /// A batch instance (Fuxi).
    Batch,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pod {
    /// `c_1` for a container; `j_1/M1/ins_9-1` (job, task, instance, seq_no) for an instance.
    pub name: String,
    /// The deploy unit or the job.
    pub owner: String,
    pub kind: Kind,
    /// From the window's start, s.
    pub arrival_s: u64,
    /// `None`: runs to the end.
    pub run_s: Option<u64>,
    pub cpu_milli: u64,
    /// Normalised to 1.
    pub memory: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    pub machines: Vec<Machine>,
    /// By arrival, then name.
    pub pods: Vec<Pod>,
    pub summary: Summary,
}

fn check(o: &Options) -> Result<(), ImportError> {
    let bad = |m: String| Err(ImportError::Options(m));
    if !(o.memory_unit_gib.is_finite() && o.memory_unit_gib > 0.0) {
        return bad(format!(
            "memory unit: expected a positive number of GiB, found {}",
            o.memory_unit_gib
        ));
    }
    super::check_window(o.from_s, o.to_s, o.every_kth_job)
}

/// Normalised memory or CPU in hundredths: −1 and 101 (the trace's invalid marks) and
/// anything outside [0, 100] are refused.
fn hundredths(l: &Line, i: usize, field: &str, max: f64) -> Result<f64, ImportError> {
    l.opt_float(i, field, 0.0, max, &format!("a value from 0 to {max}"))?
        .ok_or_else(|| l.error(i, field, "expected a value, found nothing".into()))
}

/// Keeps every k-th job in order of first appearance.
struct Sampler {
    every: u64,
    seen: HashMap<String, bool>,
}

impl Sampler {
    fn keep(&mut self, job: &str) -> bool {
        if let Some(&k) = self.seen.get(job) {
            return k;
        }
        let k = (self.seen.len() as u64).is_multiple_of(self.every);
        self.seen.insert(job.to_string(), k);
        k
    }
}

/// Reads the tables.
pub fn import(
    tables: Tables,
    opts: &Options,
    progress: &mut dyn FnMut(u64),
) -> Result<Trace, ImportError> {
    check(opts)?;
    if !tables.batch_instance.is_empty() && tables.batch_task.is_empty() {
        return Err(ImportError::Options(
            "batch instances need their tasks (batch_task): the requests are the task's".into(),
        ));
    }
    let mut summary = Summary {
        format: "alibaba-2018".into(),
        ..Summary::default()
    };
    let strict = opts.strict;
    let from = opts.from_s as u64;
    let to = opts.to_s.map_or(u64::MAX, |t| t as u64);
    let mut jobs = Sampler {
        every: opts.every_kth_job,
        seen: HashMap::default(),
    };
    // Arrival in the window, shifted to its start.
    let window = |t: u64| (from..to).contains(&t).then(|| t - from);

    let mut machines: Vec<Machine> = Vec::new();
    let mut machine_index: HashMap<String, ()> = HashMap::default();
    for_each_line(
        tables.machine_meta,
        7,
        strict,
        &mut summary,
        progress,
        |l, s| {
            let id = l.text(0);
            l.int(1, "time_stamp", u64::MAX)?;
            let cores = l.int(4, "cpu_num", 1 << 20)?;
            let memory = hundredths(l, 5, "mem_size", 100.0)? / 100.0;
            if machine_index.contains_key(id) {
                *s.skipped
                    .entry("machine event (not replayed)".into())
                    .or_default() += 1;
                return Ok(());
            }
            machine_index.insert(id.to_string(), ());
            machines.push(Machine {
                id: id.to_string(),
                cores,
                memory,
                failure_domain_1: l.text(2).to_string(),
                failure_domain_2: l.text(3).to_string(),
            });
            Ok(())
        },
    )?;

    let mut pods: Vec<Pod> = Vec::new();
    let mut containers: HashMap<String, ()> = HashMap::default();
    for_each_line(
        tables.container_meta,
        8,
        strict,
        &mut summary,
        progress,
        |l, s| {
            let id = l.text(0);
            let t = l.int(2, "time_stamp", u64::MAX)?;
            let cpu = l.int(5, "cpu_request", 1 << 24)?;
            let memory = hundredths(l, 7, "mem_size", 100.0)? / 100.0;
            if containers.contains_key(id) {
                *s.skipped
                    .entry("container event (not replayed)".into())
                    .or_default() += 1;
                return Ok(());
            }
            containers.insert(id.to_string(), ());
            let app = l.text(3);
            if !jobs.keep(app) {
                return Ok(());
            }
            let Some(arrival_s) = window(t) else {
                *s.skipped
                    .entry("arrival outside the window".into())
                    .or_default() += 1;
                return Ok(());
            };
            pods.push(Pod {
                name: id.to_string(),
                owner: app.to_string(),
                kind: Kind::Container,
                arrival_s,
                run_s: None,
                cpu_milli: cpu * 10,
                memory,
            });
            Ok(())
        },
    )?;

    // Tasks: requests and, without instances, the pods themselves.
    struct TaskRow {
        instances: u64,
        start: u64,
        end: u64,
        cpu_milli: u64,
        memory: f64,
    }
    let mut tasks: HashMap<(String, String), TaskRow> = HashMap::default();
    let mut task_order: Vec<(String, String)> = Vec::new();
    for_each_line(
        tables.batch_task,
        9,
        strict,
        &mut summary,
        progress,
        |l, s| {
            let key = (l.text(2).to_string(), l.text(0).to_string());
            let row = TaskRow {
                instances: l.int(1, "instance_num", 1 << 24)?,
                start: l.int(5, "start_time", u64::MAX)?,
                end: l.int(6, "end_time", u64::MAX)?,
                cpu_milli: (hundredths(l, 7, "plan_cpu", 1e6)? * 10.0).round() as u64,
                memory: hundredths(l, 8, "plan_mem", 100.0)? / 100.0,
            };
            if tasks.contains_key(&key) {
                s.skip(
                    l.file,
                    l.line,
                    "duplicate task",
                    format!("task {}/{} appears again", key.0, key.1),
                );
                return Ok(());
            }
            task_order.push(key.clone());
            tasks.insert(key, row);
            Ok(())
        },
    )?;

    let run = |start: u64, end: u64| (end >= start && end > 0).then(|| end - start);
    if tables.batch_instance.is_empty() {
        for key in &task_order {
            let t = &tasks[key];
            if !jobs.keep(&key.0) {
                continue;
            }
            let Some(arrival_s) = window(t.start) else {
                *summary
                    .skipped
                    .entry("arrival outside the window".into())
                    .or_default() += t.instances;
                continue;
            };
            for i in 0..t.instances {
                pods.push(Pod {
                    name: format!("{}/{}/{i}", key.0, key.1),
                    owner: key.0.clone(),
                    kind: Kind::Batch,
                    arrival_s,
                    run_s: run(t.start, t.end),
                    cpu_milli: t.cpu_milli,
                    memory: t.memory,
                });
            }
        }
    } else {
        let mut names: HashMap<String, ()> = HashMap::default();
        for_each_line(
            tables.batch_instance,
            14,
            strict,
            &mut summary,
            progress,
            |l, s| {
                let start = l.int(5, "start_time", u64::MAX)?;
                let end = l.int(6, "end_time", u64::MAX)?;
                let seq = l.opt_int(8, "seq_no", u64::MAX)?.unwrap_or(0);
                let (job, task) = (l.text(2), l.text(1));
                let Some(t) = tasks.get(&(job.to_string(), task.to_string())) else {
                    s.skip(
                        l.file,
                        l.line,
                        "instance of an unknown task",
                        format!("task {job}/{task} is not in batch_task"),
                    );
                    return Ok(());
                };
                if !jobs.keep(job) {
                    return Ok(());
                }
                if start == 0 {
                    *s.skipped
                        .entry("instance never started".into())
                        .or_default() += 1;
                    return Ok(());
                }
                let Some(arrival_s) = window(start) else {
                    *s.skipped
                        .entry("arrival outside the window".into())
                        .or_default() += 1;
                    return Ok(());
                };
                let name = format!("{job}/{task}/{}-{seq}", l.text(0));
                if names.insert(name.clone(), ()).is_some() {
                    s.skip(
                        l.file,
                        l.line,
                        "duplicate instance",
                        format!("instance {name} appears again"),
                    );
                    return Ok(());
                }
                pods.push(Pod {
                    name,
                    owner: job.to_string(),
                    kind: Kind::Batch,
                    arrival_s,
                    run_s: run(start, end),
                    cpu_milli: t.cpu_milli,
                    memory: t.memory,
                });
                Ok(())
            },
        )?;
    }
    pods.sort_by(|a, b| (a.arrival_s, &a.name).cmp(&(b.arrival_s, &b.name)));
    summary.machines = machines.len() as u64;
    summary.tasks = pods.len() as u64;
    let owners: std::collections::BTreeSet<&str> = pods.iter().map(|p| p.owner.as_str()).collect();
    summary.jobs = owners.len() as u64;
    summary.first_arrival_s = pods.first().map_or(0.0, |p| p.arrival_s as f64);
    summary.last_arrival_s = pods.last().map_or(0.0, |p| p.arrival_s as f64);
    Ok(Trace {
        machines,
        pods,
        summary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str) -> &'static str {
        match name {
            "machine_meta.csv" => {
                include_str!("../../../tests/traces/alibaba-2018/machine_meta.csv")
            }
            "container_meta.csv" => {
                include_str!("../../../tests/traces/alibaba-2018/container_meta.csv")
            }
            "batch_task.csv" => include_str!("../../../tests/traces/alibaba-2018/batch_task.csv"),
            _ => include_str!("../../../tests/traces/alibaba-2018/batch_instance.csv"),
        }
    }

    fn run(opts: &Options, instances: bool) -> Result<Trace, ImportError> {
        let (m, c, t, i) = (
            table("machine_meta.csv"),
            table("container_meta.csv"),
            table("batch_task.csv"),
            table("batch_instance.csv"),
        );
        import(
            Tables {
                machine_meta: vec![Input::text("machine_meta.csv", m)],
                container_meta: vec![Input::text("container_meta.csv", c)],
                batch_task: vec![Input::text("batch_task.csv", t)],
                batch_instance: if instances {
                    vec![Input::text("batch_instance.csv", i)]
                } else {
                    Vec::new()
                },
            },
            opts,
            &mut |_| {},
        )
    }

    #[test]
    fn maps_every_field() {
        let t = run(&Options::default(), true).unwrap();
        assert_eq!(
            t.machines,
            vec![
                Machine {
                    id: "m_1".into(),
                    cores: 96,
                    memory: 1.0,
                    failure_domain_1: "1".into(),
                    failure_domain_2: "3d".into()
                },
                Machine {
                    id: "m_2".into(),
                    cores: 64,
                    memory: 0.5,
                    failure_domain_1: "2".into(),
                    failure_domain_2: "3e".into()
                },
            ]
        );
        type Row<'a> = (&'a str, &'a str, Kind, u64, Option<u64>, u64, f64);
        let pods: Vec<Row> = t
            .pods
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.owner.as_str(),
                    p.kind,
                    p.arrival_s,
                    p.run_s,
                    p.cpu_milli,
                    p.memory,
                )
            })
            .collect();
        assert_eq!(
            pods,
            vec![
                ("c_1", "app_5", Kind::Container, 0, None, 4000, 1.59 / 100.0),
                (
                    "c_2",
                    "app_5",
                    Kind::Container,
                    10,
                    None,
                    8000,
                    3.18 / 100.0
                ),
                (
                    "j_1/M1/ins_1-1",
                    "j_1",
                    Kind::Batch,
                    100,
                    Some(50),
                    500,
                    0.39 / 100.0
                ),
                (
                    "j_1/M1/ins_2-1",
                    "j_1",
                    Kind::Batch,
                    100,
                    Some(70),
                    500,
                    0.39 / 100.0
                ),
                // Still running at the end of the trace: no end_time.
                (
                    "j_1/R2_1/ins_3-1",
                    "j_1",
                    Kind::Batch,
                    170,
                    None,
                    1000,
                    2.0 / 100.0
                ),
            ]
        );
        let s = &t.summary;
        assert_eq!((s.records, s.machines, s.jobs, s.tasks), (13, 2, 2, 5));
        assert_eq!(s.skipped["machine event (not replayed)"], 1);
        assert_eq!(s.skipped["container event (not replayed)"], 1);
        assert_eq!(s.skipped["instance never started"], 1);
        assert_eq!(s.skipped["instance of an unknown task"], 1);
    }

    #[test]
    fn without_instances_tasks_expand_into_their_instances() {
        let t = run(&Options::default(), false).unwrap();
        let batch: Vec<(&str, u64, Option<u64>)> = t
            .pods
            .iter()
            .filter(|p| p.kind == Kind::Batch)
            .map(|p| (p.name.as_str(), p.arrival_s, p.run_s))
            .collect();
        assert_eq!(
            batch,
            vec![
                ("j_1/M1/0", 100, Some(70)),
                ("j_1/M1/1", 100, Some(70)),
                ("j_1/R2_1/0", 170, Some(30)),
            ]
        );
    }

    #[test]
    fn windows_sampling_and_malformed_records() {
        let o = Options {
            from_s: 50.0,
            to_s: Some(150.0),
            ..Options::default()
        };
        let names: Vec<String> = run(&o, true)
            .unwrap()
            .pods
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, vec!["j_1/M1/ins_1-1", "j_1/M1/ins_2-1"]);
        // Deploy unit app_5 first, then job j_1: every second keeps app_5 only.
        let o = Options {
            every_kth_job: 2,
            ..Options::default()
        };
        let owners: Vec<String> = run(&o, true)
            .unwrap()
            .pods
            .into_iter()
            .map(|p| p.owner)
            .collect();
        assert_eq!(owners, vec!["app_5", "app_5"]);
        // An invalid memory mark (101) and a short line.
        let bad = format!(
            "{}m_3,0,1,3d,96,101,USING\nm_4,0,1\n",
            table("machine_meta.csv")
        );
        let e = import(
            Tables {
                machine_meta: vec![Input::text("machine_meta.csv", &bad)],
                ..Tables::default()
            },
            &Options {
                strict: true,
                ..Options::default()
            },
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "machine_meta.csv:4:15: mem_size: expected a value from 0 to 100, found `101`"
        );
        let t = import(
            Tables {
                machine_meta: vec![Input::text("machine_meta.csv", &bad)],
                ..Tables::default()
            },
            &Options::default(),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(t.summary.skipped["malformed record"], 2);
        assert_eq!(t.machines.len(), 2);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_input(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
                                          lines in proptest::collection::vec("[0-9,._a-z-]{0,50}", 0..20)) {
            let text = lines.join("\n");
            for strict in [false, true] {
                let o = Options { strict, ..Options::default() };
                let _ = import(
                    Tables {
                        machine_meta: vec![Input::text("m", &text)],
                        container_meta: vec![Input { name: "c".into(), reader: Box::new(&bytes[..]) }],
                        batch_task: vec![Input::text("t", &text)],
                        batch_instance: vec![Input::text("i", &text)],
                    },
                    &o,
                    &mut |_| {},
                );
            }
        }
    }
}
