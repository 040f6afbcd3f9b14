//! A scenario's `[trace]` table: the trace's files read through `ScenarioFiles`, its nodes
//! and the replay of its pods, checked against the rest of the scenario.

use super::*;

/// `[trace]`: the trace's nodes (if named) and its pods as a replay.
pub(super) fn trace_source(
    loc: &Locator,
    t: &RawTrace,
    files: &dyn ScenarioFiles,
) -> Result<(Vec<orchsim_sched::NodeInfo>, TraceReplay), ScenarioError> {
    let err = |span: Range<usize>, field: &str, msg: String| loc.error(Some(span), field, msg);
    match t.format.get_ref().as_str() {
        ALIBABA_GPU_V2023 => {}
        GOOGLE_2011 => return google_source(loc, t, files),
        other => {
            return Err(err(
                t.format.span(),
                "trace.format",
                format!("expected \"{ALIBABA_GPU_V2023}\" or \"{GOOGLE_2011}\", found {other:?}"),
            ))
        }
    }
    let google_only = [
        (
            t.cpu_unit_cores.as_ref().map(|v| v.span()),
            "cpu_unit_cores",
        ),
        (
            t.memory_unit_gib.as_ref().map(|v| v.span()),
            "memory_unit_gib",
        ),
        (t.from_s.as_ref().map(|v| v.span()), "from_s"),
        (t.to_s.as_ref().map(|v| v.span()), "to_s"),
        (t.every_kth_job.as_ref().map(|v| v.span()), "every_kth_job"),
    ];
    if let Some((span, key)) = google_only.into_iter().find_map(|(s, k)| Some((s?, k))) {
        return Err(err(
            span,
            &format!("trace.{key}"),
            format!("expected no `{key}` with format = \"{ALIBABA_GPU_V2023}\": it is a \"{GOOGLE_2011}\" option"),
        ));
    }
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
    let scale = match &t.time_scale {
        Some(v) if v.get_ref().is_finite() && *v.get_ref() > 0.0 => *v.get_ref(),
        Some(v) => {
            return Err(err(
                v.span(),
                "trace.time_scale",
                format!(
                    "expected a positive factor for trace times (0.01 replays 100 times faster), found {}",
                    v.get_ref()
                ),
            ))
        }
        None => 1.0,
    };
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

/// `[trace] format = "google-2011"`: `nodes` the machine_events table, `pods` the
/// task_events table (`crate::import::google_2011`).
fn google_source(
    loc: &Locator,
    t: &RawTrace,
    files: &dyn ScenarioFiles,
) -> Result<(Vec<orchsim_sched::NodeInfo>, TraceReplay), ScenarioError> {
    use crate::import::google_2011::{self, Input};
    const GIB: f64 = (1u64 << 30) as f64;
    let err = |span: Range<usize>, field: &str, msg: String| loc.error(Some(span), field, msg);
    // The Alibaba replay's options have no meaning here: the trace's own times give the
    // arrivals and the departures.
    let alibaba_only = [
        (t.gpu_nodes_only, None, "gpu_nodes_only"),
        (
            t.arrivals.get_ref() != "creation-time",
            Some(t.arrivals.span()),
            "arrivals",
        ),
        (
            t.interval_s.is_some(),
            t.interval_s.as_ref().map(|v| v.span()),
            "interval_s",
        ),
        (t.departures, None, "departures"),
    ];
    if let Some((_, span, key)) = alibaba_only.into_iter().find(|(set, _, _)| *set) {
        return Err(err(
            span.unwrap_or_else(|| t.format.span()),
            &format!("trace.{key}"),
            format!(
                "expected no `{key}` with format = \"{GOOGLE_2011}\": the trace's own times give arrivals and departures"
            ),
        ));
    }
    let positive = |v: &Option<Spanned<f64>>, key: &str, default: f64| match v {
        Some(x) if x.get_ref().is_finite() && *x.get_ref() > 0.0 => Ok(*x.get_ref()),
        Some(x) => Err(err(
            x.span(),
            &format!("trace.{key}"),
            format!("expected a positive number, found {}", x.get_ref()),
        )),
        None => Ok(default),
    };
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
    let opts = google_2011::Options {
        cpu_unit_cores: positive(
            &t.cpu_unit_cores,
            "cpu_unit_cores",
            google_2011::DEFAULT_CPU_UNIT_CORES,
        )?,
        memory_unit_gib: positive(
            &t.memory_unit_gib,
            "memory_unit_gib",
            google_2011::DEFAULT_MEMORY_UNIT_GIB,
        )?,
        from_s,
        to_s,
        every_kth_job,
        strict: t.strict,
    };
    let scale = match &t.time_scale {
        Some(v) if v.get_ref().is_finite() && *v.get_ref() > 0.0 => *v.get_ref(),
        Some(v) => {
            return Err(err(
                v.span(),
                "trace.time_scale",
                format!(
                    "expected a positive factor for trace times (0.01 replays 100 times faster), found {}",
                    v.get_ref()
                ),
            ))
        }
        None => 1.0,
    };
    let limit = match &t.max_pods {
        Some(m) => non_negative(m, "trace.max_pods", "pods", loc)? as usize,
        None => usize::MAX,
    };
    let read = |path: &Spanned<String>, field: &str| {
        files
            .read(path.get_ref())
            .map_err(|e| err(path.span(), field, e))
    };
    let machines = match &t.nodes {
        Some(n) => Some(read(n, "trace.nodes")?),
        None => None,
    };
    let (pods_name, pods_text) = read(&t.pods, "trace.pods")?;
    let trace = google_2011::import(
        machines
            .as_ref()
            .map(|(name, text)| vec![Input::text(name.clone(), text)])
            .unwrap_or_default(),
        vec![Input::text(pods_name, &pods_text)],
        &opts,
        &mut |_| {},
    )
    .map_err(|e| err(t.pods.span(), "trace.pods", e.to_string()))?;
    let nodes = trace
        .machines
        .iter()
        .map(|m| {
            orchsim_sched::NodeInfo::new(
                format!("m{}", m.id),
                Resources {
                    cpu_milli: (m.cpu * opts.cpu_unit_cores * 1000.0).round() as u64,
                    memory_bytes: (m.memory * opts.memory_unit_gib * GIB).round() as u64,
                    pods: DEFAULT_MAX_PODS,
                    ..Resources::ZERO
                },
            )
        })
        .collect();
    let us = |x: u64| SimDuration((x as f64 * 1000.0 * scale).round() as u64);
    let pods = trace
        .tasks
        .iter()
        .take(limit)
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
                priority: task.priority as i32,
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
