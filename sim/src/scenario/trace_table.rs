//! A scenario's `[trace]` table: the trace's files read through `ScenarioFiles`, its nodes
//! and the replay of its pods, checked against the rest of the scenario.

use super::*;
use crate::import::ImportError;

/// `[trace]`: the trace's nodes (if named) and its pods as a replay.
pub(super) fn trace_source(
    loc: &Locator,
    t: &RawTrace,
    files: &dyn ScenarioFiles,
    duration: SimDuration,
) -> Result<(Vec<orchsim_sched::NodeInfo>, TraceReplay), ScenarioError> {
    let err = |span: Range<usize>, field: &str, msg: String| loc.error(Some(span), field, msg);
    match t.format.get_ref().as_str() {
        ALIBABA_GPU_V2023 => {}
        GOOGLE_2011 | GOOGLE_2019 => return google_source(loc, t, files),
        ALIBABA_2018 => return alibaba_2018_source(loc, t, files),
        KUBERNETES => return kubernetes_source(loc, t, files, duration),
        other => {
            return Err(err(
                t.format.span(),
                "trace.format",
                format!("expected \"{ALIBABA_GPU_V2023}\", \"{ALIBABA_2018}\", \"{GOOGLE_2011}\", \"{GOOGLE_2019}\" or \"{KUBERNETES}\", found {other:?}"),
            ))
        }
    }
    refuse_foreign(loc, t, ALIBABA_GPU_V2023)?;
    let read = |path: &Spanned<String>, field: &str| {
        files
            .read(path.get_ref())
            .map_err(|e| err(path.span(), field, e))
    };
    let mut models = orchsim_sched::gpu::Models::default();
    let mut nodes = Vec::new();
    if let Some(n) = &t.nodes {
        let (name, text) = read(n, "trace.nodes")?;
        let mut list = crate::trace::alibaba_gpu_nodes(&name, &text, &mut models)?;
        if t.gpu_nodes_only {
            list.retain(|n| n.gpus > 0);
        }
        nodes = list.iter().map(|n| n.to_node_info(&models)).collect();
        // The trace's nodes carry kubelet's default pod limit like host groups do.
        for n in &mut nodes {
            n.allocatable.pods = DEFAULT_MAX_PODS;
        }
    }
    let (name, text) = read(&t.pods, "trace.pods")?;
    let tasks = crate::trace::alibaba_gpu_tasks(&name, &text, &mut models)?;
    let scale = time_scale(loc, t)?;
    let secs = |x: f64, span: Range<usize>, field: &str| {
        SimDuration::try_from_secs_f64(x * scale).ok_or_else(|| {
            err(
                span,
                field,
                format!(
                    "a trace time of {x} s scaled by {scale} is beyond what a run can simulate"
                ),
            )
        })
    };
    let file_order = match t.arrivals.get_ref().as_str() {
        "creation-time" => false,
        "file-order" => true,
        other => {
            return Err(err(
                t.arrivals.span(),
                "trace.arrivals",
                format!("expected \"creation-time\" or \"file-order\", found {other:?}"),
            ))
        }
    };
    let interval = match (&t.interval_s, file_order) {
        (Some(v), true) => positive_secs(v, "trace.interval_s", loc)?,
        (None, true) => SimDuration::from_secs(1),
        (Some(v), false) => {
            return Err(err(
                v.span(),
                "trace.interval_s",
                "expected no interval with arrivals = \"creation-time\": the trace's times are the arrivals".into(),
            ))
        }
        (None, false) => SimDuration::ZERO,
    };
    let limit = match &t.max_pods {
        Some(m) => non_negative(m, "trace.max_pods", "pods", loc)? as usize,
        None => usize::MAX,
    };
    let whole = t.pods.span();
    // Pods are told apart by name (preemption victims, the pods table): no two alike.
    let mut names = BTreeSet::new();
    for task in tasks.iter().take(limit) {
        if !names.insert(task.name.as_str()) {
            return Err(err(
                whole.clone(),
                "trace.pods",
                format!(
                    "{name}: pod name `{}` appears twice; expected unique names",
                    task.name
                ),
            ));
        }
    }
    let mut node_names = BTreeSet::new();
    for n in &nodes {
        if !node_names.insert(n.name.as_str()) {
            return Err(err(
                t.nodes.as_ref().map_or(whole.clone(), |n| n.span()),
                "trace.nodes",
                format!(
                    "node name `{}` appears twice; expected unique names",
                    n.name
                ),
            ));
        }
    }
    let mut pods = Vec::new();
    for (i, task) in tasks.iter().enumerate().take(limit) {
        let arrival = if file_order {
            interval.saturating_mul(i as u64)
        } else {
            let Some(c) = task.created_s else {
                return Err(err(
                    t.arrivals.span(),
                    "trace.arrivals",
                    format!(
                        "{name}: pod `{}` has no creation_time; expected every pod to have one with arrivals = \"creation-time\" (or use \"file-order\")",
                        task.name
                    ),
                ));
            };
            secs(c as f64, whole.clone(), "trace.pods")?
        };
        let run_for = match (t.departures, task.created_s, task.deleted_s) {
            (true, Some(c), Some(d)) if d >= c => {
                Some(secs((d - c) as f64, whole.clone(), "trace.pods")?)
            }
            (true, Some(c), Some(d)) => {
                return Err(err(
                    whole.clone(),
                    "trace.pods",
                    format!(
                        "{name}: pod `{}` is deleted ({d} s) before it is created ({c} s); expected deletion_time >= creation_time",
                        task.name
                    ),
                ))
            }
            _ => None,
        };
        pods.push(TracePod::new(
            task.task.to_pod(task.name.clone(), &models),
            arrival,
            run_for,
        ));
    }
    // Arrivals in time order; pods created at the same second keep the file's order.
    pods.sort_by_key(|p| p.arrival);
    Ok((
        nodes,
        TraceReplay {
            name: "trace".into(),
            pods: std::sync::Arc::new(pods),
        },
    ))
}

/// The options the streaming trace formats share: the window, the sampling, the replay's
/// speed and length, and which keys belong to another format.
struct Streamed {
    from_s: f64,
    to_s: Option<f64>,
    every_kth_job: u64,
    time_scale: f64,
    max_pods: usize,
}

/// Refuses the `[trace]` keys that belong to other formats than `format`, at the key.
fn refuse_foreign(loc: &Locator, t: &RawTrace, format: &str) -> Result<(), ScenarioError> {
    fn at<T>(v: &Option<Spanned<T>>) -> (bool, Option<Range<usize>>) {
        (v.is_some(), v.as_ref().map(|v| v.span()))
    }
    const GPU: &[&str] = &[ALIBABA_GPU_V2023];
    const GOOGLE: &[&str] = &[GOOGLE_2011, GOOGLE_2019];
    const STREAMED: &[&str] = &[GOOGLE_2011, GOOGLE_2019, ALIBABA_2018];
    const LOGGED: &[&str] = &[GOOGLE_2011, GOOGLE_2019, ALIBABA_2018, KUBERNETES];
    /// Whether a key is given, and where.
    type Given = (bool, Option<Range<usize>>);
    // (key, given, the formats that take it)
    let keys: [(&str, Given, &[&str]); 14] = [
        ("gpu_nodes_only", (t.gpu_nodes_only, None), GPU),
        (
            "arrivals",
            (
                t.arrivals.get_ref() != "creation-time",
                Some(t.arrivals.span()),
            ),
            GPU,
        ),
        ("interval_s", at(&t.interval_s), GPU),
        ("departures", (t.departures, None), GPU),
        ("cpu_unit_cores", at(&t.cpu_unit_cores), GOOGLE),
        ("memory_unit_gib", at(&t.memory_unit_gib), STREAMED),
        ("from_s", at(&t.from_s), STREAMED),
        ("to_s", at(&t.to_s), STREAMED),
        ("every_kth_job", at(&t.every_kth_job), STREAMED),
        ("containers", at(&t.containers), &[ALIBABA_2018]),
        ("instances", at(&t.instances), &[ALIBABA_2018]),
        ("events", at(&t.events), &[KUBERNETES]),
        ("start", at(&t.start), &[KUBERNETES]),
        // The GPU trace's files are read strictly already.
        ("strict", (t.strict, None), LOGGED),
    ];
    match keys
        .into_iter()
        .find(|(_, (given, _), formats)| *given && !formats.contains(&format))
    {
        Some((key, (_, span), formats)) => Err(loc.error(
            Some(span.unwrap_or_else(|| t.format.span())),
            &format!("trace.{key}"),
            format!(
                "expected no `{key}` with format = \"{format}\": it belongs to {}",
                formats
                    .iter()
                    .map(|f| format!("\"{f}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// Reads [`Streamed`] and refuses the keys `format` does not take.
fn streamed(loc: &Locator, t: &RawTrace, format: &str) -> Result<Streamed, ScenarioError> {
    let err = |span: Range<usize>, field: &str, msg: String| loc.error(Some(span), field, msg);
    refuse_foreign(loc, t, format)?;
    let from_s = match &t.from_s {
        Some(x) if x.get_ref().is_finite() && *x.get_ref() >= 0.0 => *x.get_ref(),
        Some(x) => {
            return Err(err(
                x.span(),
                "trace.from_s",
                format!(
                    "expected seconds from the trace's start (0 or more), found {}",
                    x.get_ref()
                ),
            ))
        }
        None => 0.0,
    };
    let to_s = match &t.to_s {
        Some(x) if x.get_ref().is_finite() && *x.get_ref() > from_s => Some(*x.get_ref()),
        Some(x) => {
            return Err(err(
                x.span(),
                "trace.to_s",
                format!(
                    "expected a time after from_s ({from_s} s), found {}",
                    x.get_ref()
                ),
            ))
        }
        None => None,
    };
    let every_kth_job = match &t.every_kth_job {
        Some(k) if *k.get_ref() >= 1 => *k.get_ref() as u64,
        Some(k) => {
            return Err(err(
                k.span(),
                "trace.every_kth_job",
                format!("expected 1 or more, found {}", k.get_ref()),
            ))
        }
        None => 1,
    };
    let time_scale = time_scale(loc, t)?;
    let max_pods = match &t.max_pods {
        Some(m) => non_negative(m, "trace.max_pods", "pods", loc)? as usize,
        None => usize::MAX,
    };
    Ok(Streamed {
        from_s,
        to_s,
        every_kth_job,
        time_scale,
        max_pods,
    })
}

/// `time_scale`: what multiplies the trace's times (default 1).
fn time_scale(loc: &Locator, t: &RawTrace) -> Result<f64, ScenarioError> {
    match &t.time_scale {
        Some(v) if v.get_ref().is_finite() && *v.get_ref() > 0.0 => Ok(*v.get_ref()),
        Some(v) => Err(loc.error(
            Some(v.span()),
            "trace.time_scale",
            format!(
                "expected a positive factor for trace times (0.01 replays 100 times faster), found {}",
                v.get_ref()
            ),
        )),
        None => Ok(1.0),
    }
}

/// A positive factor, or its default.
fn positive(
    loc: &Locator,
    v: &Option<Spanned<f64>>,
    key: &str,
    default: f64,
) -> Result<f64, ScenarioError> {
    match v {
        Some(x) if x.get_ref().is_finite() && *x.get_ref() > 0.0 => Ok(*x.get_ref()),
        Some(x) => Err(loc.error(
            Some(x.span()),
            &format!("trace.{key}"),
            format!("expected a positive number, found {}", x.get_ref()),
        )),
        None => Ok(default),
    }
}

/// A file the trace names, as input for a streaming importer.
fn read_table(
    loc: &Locator,
    files: &dyn ScenarioFiles,
    path: &Spanned<String>,
    field: &str,
) -> Result<(String, String), ScenarioError> {
    files
        .read(path.get_ref())
        .map_err(|e| loc.error(Some(path.span()), field, e))
}

const GIB: f64 = (1u64 << 30) as f64;

/// The node label holding a Google 2019 machine's top-of-rack switch.
const SWITCH_LABEL: &str = "google.com/switch";

/// An import error at the key naming its table: `nodes` when it is the machines' file.
fn located(loc: &Locator, t: &RawTrace, e: &ImportError, machines: Option<&str>) -> ScenarioError {
    let in_machines =
        matches!(e, ImportError::Malformed { file, .. } if Some(file.as_str()) == machines);
    match (&t.nodes, in_machines) {
        (Some(n), true) => loc.error(Some(n.span()), "trace.nodes", e.to_string()),
        _ => loc.error(Some(t.pods.span()), "trace.pods", e.to_string()),
    }
}

/// `[trace] format = "google-2011"` or `"google-2019"`: `nodes` the machine_events table,
/// `pods` the task_events (2011) or instance_events (2019) table
/// (`crate::import::{google_2011, google_2019}`).
fn google_source(
    loc: &Locator,
    t: &RawTrace,
    files: &dyn ScenarioFiles,
) -> Result<(Vec<orchsim_sched::NodeInfo>, TraceReplay), ScenarioError> {
    use crate::import::{borg, google_2011, google_2019, Input};
    let format = t.format.get_ref().as_str();
    let o = streamed(loc, t, format)?;
    let opts = borg::Options {
        cpu_unit_cores: positive(
            loc,
            &t.cpu_unit_cores,
            "cpu_unit_cores",
            borg::DEFAULT_CPU_UNIT_CORES,
        )?,
        memory_unit_gib: positive(
            loc,
            &t.memory_unit_gib,
            "memory_unit_gib",
            borg::DEFAULT_MEMORY_UNIT_GIB,
        )?,
        from_s: o.from_s,
        to_s: o.to_s,
        every_kth_job: o.every_kth_job,
        strict: t.strict,
    };
    let machines = match &t.nodes {
        Some(n) => Some(read_table(loc, files, n, "trace.nodes")?),
        None => None,
    };
    let (pods_name, pods_text) = read_table(loc, files, &t.pods, "trace.pods")?;
    let import = if format == GOOGLE_2019 {
        google_2019::import
    } else {
        google_2011::import
    };
    let trace = import(
        machines
            .as_ref()
            .map(|(name, text)| vec![Input::text(name.clone(), text)])
            .unwrap_or_default(),
        vec![Input::text(pods_name, &pods_text)],
        &opts,
        &mut |_| {},
    )
    .map_err(|e| located(loc, t, &e, machines.as_ref().map(|m| m.0.as_str())))?;
    let nodes = trace
        .machines
        .iter()
        .map(|m| {
            let mut n = orchsim_sched::NodeInfo::new(
                format!("m{}", m.id),
                Resources {
                    cpu_milli: (m.cpu * opts.cpu_unit_cores * 1000.0).round() as u64,
                    memory_bytes: (m.memory * opts.memory_unit_gib * GIB).round() as u64,
                    pods: DEFAULT_MAX_PODS,
                    ..Resources::ZERO
                },
            );
            // 2019's top-of-rack switch: a topology domain for spread and anti-affinity.
            if !m.switch.is_empty() {
                n.labels.insert(SWITCH_LABEL.into(), m.switch.clone());
            }
            n
        })
        .collect();
    let us = |x: u64| SimDuration((x as f64 * 1000.0 * o.time_scale).round() as u64);
    let pods = trace
        .tasks
        .iter()
        .take(o.max_pods)
        .map(|task| {
            let pod = orchsim_sched::PodSpec::new(
                format!("j{}-t{}", task.job, task.index),
                Resources {
                    cpu_milli: (task.cpu * opts.cpu_unit_cores * 1000.0).round() as u64,
                    memory_bytes: (task.memory * opts.memory_unit_gib * GIB).round() as u64,
                    ..Resources::ZERO
                },
            );
            TracePod {
                priority: task.priority,
                ..TracePod::new(pod, us(task.arrival_us), task.run_us.map(us))
            }
        })
        .collect();
    Ok((
        nodes,
        TraceReplay {
            name: "trace".into(),
            pods: std::sync::Arc::new(pods),
        },
    ))
}

/// `[trace] format = "alibaba-2018"`: `nodes` machine_meta, `pods` batch_task, `instances`
/// batch_instance, `containers` container_meta (`crate::import::alibaba_2018`).
fn alibaba_2018_source(
    loc: &Locator,
    t: &RawTrace,
    files: &dyn ScenarioFiles,
) -> Result<(Vec<orchsim_sched::NodeInfo>, TraceReplay), ScenarioError> {
    use crate::import::alibaba_2018::{self, Tables};
    use crate::import::Input;
    let o = streamed(loc, t, ALIBABA_2018)?;
    let opts = alibaba_2018::Options {
        memory_unit_gib: positive(
            loc,
            &t.memory_unit_gib,
            "memory_unit_gib",
            alibaba_2018::DEFAULT_MEMORY_UNIT_GIB,
        )?,
        from_s: o.from_s,
        to_s: o.to_s,
        every_kth_job: o.every_kth_job,
        strict: t.strict,
    };
    let optional = |v: &Option<Spanned<String>>, field: &str| match v {
        Some(p) => read_table(loc, files, p, field).map(Some),
        None => Ok(None),
    };
    let machines = optional(&t.nodes, "trace.nodes")?;
    let containers = optional(&t.containers, "trace.containers")?;
    let instances = optional(&t.instances, "trace.instances")?;
    let tasks = read_table(loc, files, &t.pods, "trace.pods")?;
    fn input(x: &Option<(String, String)>) -> Vec<Input<'_>> {
        x.as_ref()
            .map(|(name, text)| vec![Input::text(name.clone(), text)])
            .unwrap_or_default()
    }
    let trace = alibaba_2018::import(
        Tables {
            machine_meta: input(&machines),
            container_meta: input(&containers),
            batch_task: vec![Input::text(tasks.0.clone(), &tasks.1)],
            batch_instance: input(&instances),
        },
        &opts,
        &mut |_| {},
    )
    .map_err(|e| {
        // Each table's errors point at the key that names it.
        let span = |k: &Option<Spanned<String>>, name: &Option<(String, String)>| {
            name.as_ref().zip(k.as_ref()).and_then(|((n, _), k)| {
                matches!(&e, ImportError::Malformed { file, .. } if file == n).then(|| k.span())
            })
        };
        let (span, field) = span(&t.nodes, &machines)
            .map(|s| (s, "trace.nodes"))
            .or_else(|| span(&t.containers, &containers).map(|s| (s, "trace.containers")))
            .or_else(|| span(&t.instances, &instances).map(|s| (s, "trace.instances")))
            .unwrap_or((t.pods.span(), "trace.pods"));
        loc.error(Some(span), field, e.to_string())
    })?;
    let nodes = trace
        .machines
        .iter()
        .map(|m| {
            let mut n = orchsim_sched::NodeInfo::new(
                m.id.clone(),
                Resources {
                    cpu_milli: m.cores * 1000,
                    memory_bytes: (m.memory * opts.memory_unit_gib * GIB).round() as u64,
                    pods: DEFAULT_MAX_PODS,
                    ..Resources::ZERO
                },
            );
            n.labels.insert(
                "alibaba.com/failure-domain-1".into(),
                m.failure_domain_1.clone(),
            );
            n.labels.insert(
                "alibaba.com/failure-domain-2".into(),
                m.failure_domain_2.clone(),
            );
            n
        })
        .collect();
    let secs = |x: u64| SimDuration((x as f64 * 1e9 * o.time_scale).round() as u64);
    let pods = trace
        .pods
        .iter()
        .take(o.max_pods)
        .map(|p| {
            let pod = orchsim_sched::PodSpec::new(
                p.name.clone(),
                Resources {
                    cpu_milli: p.cpu_milli,
                    memory_bytes: (p.memory * opts.memory_unit_gib * GIB).round() as u64,
                    ..Resources::ZERO
                },
            );
            TracePod::new(pod, secs(p.arrival_s), p.run_s.map(secs))
        })
        .collect();
    Ok((
        nodes,
        TraceReplay {
            name: "trace".into(),
            pods: std::sync::Arc::new(pods),
        },
    ))
}

/// `[trace] format = "kubernetes"`: `nodes` a cluster snapshot, `pods` the manifests applied
/// at the start, `events` a watch log replayed on it (`crate::import::kubernetes`).
fn kubernetes_source(
    loc: &Locator,
    t: &RawTrace,
    files: &dyn ScenarioFiles,
    duration: SimDuration,
) -> Result<(Vec<orchsim_sched::NodeInfo>, TraceReplay), ScenarioError> {
    use crate::import::kubernetes::{self, Text};
    let err = |span: Range<usize>, field: &str, msg: String| loc.error(Some(span), field, msg);
    refuse_foreign(loc, t, KUBERNETES)?;
    let Some(nodes_key) = &t.nodes else {
        return Err(err(
            t.format.span(),
            "trace.nodes",
            format!("expected `nodes`, the cluster snapshot (`kubectl get nodes,pods -o yaml`), with format = \"{KUBERNETES}\""),
        ));
    };
    let scale = time_scale(loc, t)?;
    let max_pods = match &t.max_pods {
        Some(m) => non_negative(m, "trace.max_pods", "pods", loc)? as usize,
        None => usize::MAX,
    };
    let snapshot = read_table(loc, files, nodes_key, "trace.nodes")?;
    let manifests = read_table(loc, files, &t.pods, "trace.pods")?;
    let log = match &t.events {
        Some(e) => Some(read_table(loc, files, e, "trace.events")?),
        None => None,
    };
    fn text(x: &(String, String)) -> Text<'_> {
        Text {
            name: &x.0,
            text: &x.1,
        }
    }
    let start = match &t.start {
        Some(s) => Some(humantime::parse_rfc3339_weak(s.get_ref()).map_err(|e| {
            err(
                s.span(),
                "trace.start",
                format!("expected an RFC 3339 time such as \"2026-12-07T09:00:00Z\": {e}"),
            )
        })?),
        None => None,
    };
    let cluster = kubernetes::read_with(
        text(&snapshot),
        Some(text(&manifests)),
        log.as_ref().map(text),
        kubernetes::Options {
            strict: t.strict,
            start,
            until_s: Some(duration.as_secs_f64() / scale),
        },
    )
    .map_err(|e| {
        // The error at the key naming its file.
        let file = match &e {
            ImportError::Malformed { file, .. }
            | ImportError::Object { file, .. }
            | ImportError::Io { file, .. } => Some(file.as_str()),
            ImportError::Options(_) => None,
        };
        let (span, field) = match (file, &t.events, &log) {
            (Some(f), Some(k), Some(l)) if f == l.0 => (k.span(), "trace.events"),
            (Some(f), _, _) if f == snapshot.0 => (nodes_key.span(), "trace.nodes"),
            _ => (t.pods.span(), "trace.pods"),
        };
        err(span, field, e.to_string())
    })?;
    let secs = |x: f64, field: &str| {
        SimDuration::try_from_secs_f64(x * scale).ok_or_else(|| {
            err(
                t.pods.span(),
                field,
                format!("a time of {x} s scaled by {scale} is beyond what a run can simulate"),
            )
        })
    };
    let mut pods = Vec::new();
    for p in cluster.pods.into_iter().take(max_pods) {
        pods.push(TracePod {
            name: p.spec.name.clone(),
            requests: p.spec.requests,
            gpu_models: p.spec.gpu_models.clone(),
            arrival: secs(p.arrival_s, "trace.events")?,
            run_for: p.run_for_s.map(|s| secs(s, "trace.pods")).transpose()?,
            priority: p.spec.priority,
            node: p.running_on,
            deleted_at: p.deleted_s.map(|s| secs(s, "trace.events")).transpose()?,
            spec: Some(std::sync::Arc::new(p.spec)),
        });
    }
    Ok((
        cluster.nodes,
        TraceReplay {
            name: "cluster".into(),
            pods: std::sync::Arc::new(pods),
        },
    ))
}
