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
    if t.format.get_ref() != ALIBABA_GPU_V2023 {
        return Err(err(
            t.format.span(),
            "trace.format",
            format!(
                "expected \"{ALIBABA_GPU_V2023}\" (the only trace format read so far), found {:?}",
                t.format.get_ref()
            ),
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
