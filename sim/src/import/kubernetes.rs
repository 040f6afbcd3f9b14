//! A Kubernetes cluster as a run's starting point, and what happens to it next.
//!
//! - The **snapshot** (`kubectl get nodes,pods -o yaml`: a `List` or a multi-document stream)
//!   gives the nodes (allocatable, labels, taints, cordons) and the pods on them. A pod bound
//!   to a listed node (`spec.nodeName`) is running there when the run begins; one that is
//!   not (pending, or on a node not listed) arrives at the start for the scheduler, after
//!   the running ones.
//! - The **manifests** (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, Pod)
//!   are applied at the start: DaemonSets first, a pod on every node their controller would
//!   put one on (node by node), then the other workloads in the order written, replica by
//!   replica — the order `orchsim fit` places them in. A CronJob's Jobs run at its schedule's
//!   times within the run ([`objects::CronSpec`], UTC), which needs the run's wall-clock start
//!   (`start`, else the event log's first event); without one it runs once at the start.
//!   A compose file, `docker service create` lines or Marathon JSON are read as well
//!   (`super::manifests`), but not a Swarm global service yet: its tasks would be placed by
//!   node name, which only kube-scheduler reads, and it ignores Swarm constraints.
//! - The **event log** (JSON lines, one watch event per line, as
//!   `kubectl get pods --watch --output-watch-events -o json | jq -c .` prints them:
//!   `{"type": "ADDED" | "MODIFIED" | "DELETED", "object": <Pod>}`, with an optional
//!   `"time": "<RFC 3339>"`) replays pods created and deleted later. An event's time is its
//!   `time`, else the pod's `metadata.creationTimestamp` (ADDED) or
//!   `metadata.deletionTimestamp` (DELETED); time 0 of the replay is `start` when given
//!   (a pod created earlier is there at time 0, one created and deleted earlier never is),
//!   else the earliest event kept.
//!   MODIFIED events are counted and not replayed (the simulation binds and runs pods itself);
//!   an ADDED pod already in the cluster (a watch starts by listing what exists) is skipped;
//!   one created again after its deletion (a StatefulSet's pod) lives again.
//!
//! A pod's runtime is its `orchsim.io/run-for-s` annotation ([`objects::RUN_FOR_ANNOTATION`]);
//! without one it runs until it is deleted or the run ends.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use orchsim_sched::kube::objects::{self, ConcurrencyPolicy, ObjectError, Objects, Workload};

use super::manifests::{self, Manifests};
use orchsim_sched::{NodeInfo, PodSpec};

use super::{ImportError, Summary};

/// The format's name in summaries and scenarios.
pub const FORMAT: &str = "kubernetes";

/// One pod of the cluster's future, in arrival order.
#[derive(Clone, Debug, PartialEq)]
pub struct KubePod {
    pub spec: PodSpec,
    /// Running on this node when the run begins (a snapshot's pod).
    pub running_on: Option<String>,
    /// Seconds from the start.
    pub arrival_s: f64,
    pub run_for_s: Option<f64>,
    /// Deleted at this time (s from the start), by the event log.
    pub deleted_s: Option<f64>,
}

/// The cluster and the pods that arrive on it.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    pub nodes: Vec<NodeInfo>,
    /// Arrivals never decrease.
    pub pods: Vec<KubePod>,
    /// Kinds in the manifests that are not workloads (Services, ConfigMaps, ...), counted.
    pub skipped_kinds: BTreeMap<String, usize>,
    pub summary: Summary,
}

/// A file given to the reader: a name for messages and its text.
pub struct Text<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

fn object_error(file: &str, e: ObjectError) -> ImportError {
    ImportError::Object {
        file: file.to_string(),
        message: e.to_string(),
    }
}

/// How [`read_with`] reads.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// A malformed event-log line is an error instead of skipped.
    pub strict: bool,
    /// The wall-clock time of the run's time 0 (else the log's first event's).
    pub start: Option<SystemTime>,
    /// The run's length in the trace's seconds: CronJobs run at their times up to it.
    pub until_s: Option<f64>,
}

/// [`read_with`] without a start time or a run length.
pub fn read(
    snapshot: Text<'_>,
    manifests: Option<Text<'_>>,
    log: Option<Text<'_>>,
    strict: bool,
) -> Result<Cluster, ImportError> {
    read_with(
        snapshot,
        manifests,
        log,
        Options {
            strict,
            ..Options::default()
        },
    )
}

/// Reads the snapshot, the manifests and the event log into the cluster and its arrivals.
/// A malformed event-log line is skipped and counted, or fatal with `strict`; the YAML
/// files are read whole and any error in them is fatal (a snapshot or a manifest half read
/// would be a different cluster).
pub fn read_with(
    snapshot: Text<'_>,
    manifests: Option<Text<'_>>,
    log: Option<Text<'_>>,
    opts: Options,
) -> Result<Cluster, ImportError> {
    let mut summary = Summary {
        format: FORMAT.into(),
        ..Summary::default()
    };
    let snap = objects::parse(snapshot.text).map_err(|e| object_error(snapshot.name, e))?;
    if snap.nodes.is_empty() {
        return Err(ImportError::Object {
            file: snapshot.name.into(),
            message: "expected Node objects (`kubectl get nodes,pods -o yaml`), found none".into(),
        });
    }
    let mut cluster = Cluster {
        nodes: snap.nodes.clone(),
        ..Cluster::default()
    };
    summary.machines = cluster.nodes.len() as u64;
    let node_names: BTreeSet<&str> = snap.nodes.iter().map(|n| n.name.as_str()).collect();
    let mut keys = BTreeSet::new();
    let mut waiting = Vec::new();
    for (i, pod) in snap.pods.iter().enumerate() {
        keys.insert(pod.key());
        let on = snap.pod_nodes[i]
            .as_deref()
            .filter(|n| node_names.contains(n));
        if let (Some(n), None) = (&snap.pod_nodes[i], on) {
            summary.skip(
                snapshot.name,
                0,
                "bound to a node not in the snapshot",
                format!(
                    "Pod {} is bound to node {n}, which is not listed: the scheduler places it",
                    pod.key()
                ),
            );
        }
        let mut spec = pod.clone();
        if on.is_none() {
            spec.node_name = None;
        }
        let p = KubePod {
            spec,
            running_on: on.map(str::to_string),
            arrival_s: 0.0,
            run_for_s: snap.pod_run_for_s[i],
            deleted_s: None,
        };
        // Every running pod is in place before a waiting one is scheduled (kubectl lists
        // them by name, not by state).
        if on.is_some() {
            cluster.pods.push(p);
        } else {
            waiting.push(p);
        }
    }
    cluster.pods.extend(waiting);
    // PriorityClasses of the snapshot, then the manifests, hold for what comes after them.
    let mut classes = snap.priority_classes.clone();
    let mut crons = Vec::new();
    if let Some(m) = &manifests {
        let objs = manifests::read(m.name, m.text, &classes)?;
        classes.extend(objs.priority_classes.iter().cloned());
        crons = apply(&mut cluster, &mut keys, m.name, objs, &mut summary)?;
    }
    let mut origin = opts.start;
    if let Some(l) = log {
        origin = replay(&mut cluster, l, &opts, &classes, &mut summary)?;
    }
    if let Some(m) = &manifests {
        schedule(
            &mut cluster,
            &mut keys,
            m.name,
            &crons,
            origin,
            opts.until_s,
            &mut summary,
        )?;
    }
    // CronJobs' runs among the log's arrivals (a stable sort: the rest keep their order).
    cluster
        .pods
        .sort_by(|a, b| a.arrival_s.total_cmp(&b.arrival_s));
    summary.tasks = cluster.pods.len() as u64;
    summary.first_arrival_s = cluster.pods.first().map_or(0.0, |p| p.arrival_s);
    summary.last_arrival_s = cluster.pods.last().map_or(0.0, |p| p.arrival_s);
    cluster.summary = summary;
    Ok(cluster)
}

/// The manifests' pods at the start: DaemonSets node by node, then the rest in order; the
/// CronJobs are returned, for [`schedule`] once the run's start is known.
fn apply(
    cluster: &mut Cluster,
    keys: &mut BTreeSet<String>,
    file: &str,
    objs: Manifests,
    summary: &mut Summary,
) -> Result<Vec<Workload>, ImportError> {
    let mut add = |spec: PodSpec, run_for_s: Option<f64>, pods: &mut Vec<KubePod>| {
        if !keys.insert(spec.key()) {
            return Err(ImportError::Object {
                file: file.into(),
                message: format!(
                    "expected each pod once: `{}` is already in the cluster (the snapshot or an earlier manifest)",
                    spec.key()
                ),
            });
        }
        pods.push(KubePod {
            spec,
            running_on: None,
            arrival_s: 0.0,
            run_for_s,
            deleted_s: None,
        });
        Ok(())
    };
    // A CronJob's runs are counted as they are scheduled.
    let workloads = objs.workloads.iter().filter(|w| w.cron.is_none()).count();
    summary.jobs += (workloads + objs.pods.len()) as u64;
    let daemons: Vec<_> = objs.workloads.iter().filter(|w| w.per_node()).collect();
    if let Some(w) = daemons.iter().find(|w| w.kind == super::swarm::GLOBAL) {
        return Err(ImportError::Object {
            file: file.into(),
            message: format!(
                "{}: a global service's tasks are not modeled in a run yet (they would be placed by node name, which only the kubernetes scheduler reads, and it ignores Swarm constraints); `orchsim fit --scheduler swarm` fits it",
                w.key()
            ),
        });
    }
    for node in &cluster.nodes {
        for w in &daemons {
            if let Some(pod) = w.daemon_pod(node) {
                add(pod, w.run_for_s, &mut cluster.pods)?;
            }
        }
    }
    let mut crons = Vec::new();
    for w in objs.workloads.iter().filter(|w| !w.per_node()) {
        if w.cron.is_some() {
            crons.push(w.clone());
            continue;
        }
        for i in 0..w.pods {
            add(w.replica(i), w.run_for_s, &mut cluster.pods)?;
        }
    }
    for (p, run_for_s) in objs.pods {
        add(p, run_for_s, &mut cluster.pods)?;
    }
    for (kind, n) in objs.skipped {
        *cluster.skipped_kinds.entry(kind).or_default() += n;
    }
    if objs.nodes > 0 {
        summary.skip(
            file,
            0,
            "Node objects in the manifests",
            format!(
                "{} Node object(s) in the manifests were ignored (the cluster is the snapshot)",
                objs.nodes
            ),
        );
    }
    Ok(crons)
}

/// Most pods the CronJobs of one run may create: a schedule that would make more (every
/// minute for years) is refused rather than filling memory.
pub const MAX_CRON_PODS: usize = 10_000_000;

/// Each CronJob's Jobs at its schedule's times after `origin` (the run's time 0 on the
/// wall clock) and up to `until_s`, as the CronJob controller creates them
/// (pkg/controller/cronjob): a Job named `<cronjob>-<minutes since the epoch>` (one a
/// minute: a second one in the same minute already exists) of the template's pods.
/// `Forbid`: while the previous run runs, runs are missed, and when it ends the most recent
/// missed one starts then (unless later than `startingDeadlineSeconds` after its time) —
/// or the next scheduled one, if that comes first; `Replace` deletes the previous run's
/// pods. "Runs" is judged by the template's run time from the run's start, not counting the
/// time its pods wait for a node. Without a start or a run length, one run at time 0.
fn schedule(
    cluster: &mut Cluster,
    keys: &mut BTreeSet<String>,
    file: &str,
    crons: &[Workload],
    origin: Option<SystemTime>,
    until_s: Option<f64>,
    summary: &mut Summary,
) -> Result<(), ImportError> {
    let mut made = 0usize;
    // One run: its pods at `at` s, named after the Job; their indexes.
    let mut run = |cluster: &mut Cluster,
                   summary: &mut Summary,
                   w: &Workload,
                   job: &str,
                   at: f64|
     -> Result<Vec<usize>, ImportError> {
        let mut pods = Vec::new();
        for i in 0..w.pods {
            let mut spec = w.template.clone();
            spec.name = format!("{job}-{i}");
            if !keys.insert(spec.key()) {
                return Err(ImportError::Object {
                    file: file.into(),
                    message: format!(
                        "{}: its pod `{}` is already in the cluster (the snapshot, a manifest or the log)",
                        w.key(),
                        spec.key()
                    ),
                });
            }
            made += 1;
            if made > MAX_CRON_PODS {
                return Err(ImportError::Object {
                    file: file.into(),
                    message: format!(
                        "{}: its schedule would create more than {MAX_CRON_PODS} pods in the run; shorten the run or the schedule",
                        w.key()
                    ),
                });
            }
            cluster.pods.push(KubePod {
                spec,
                running_on: None,
                arrival_s: at,
                run_for_s: w.run_for_s,
                deleted_s: None,
            });
            pods.push(cluster.pods.len() - 1);
        }
        summary.jobs += 1;
        Ok(pods)
    };
    for w in crons {
        let Some(cron) = &w.cron else { continue };
        if cron.suspend {
            summary.skip(
                file,
                0,
                "suspended CronJob",
                format!("{} is suspended: no runs", w.key()),
            );
            continue;
        }
        let start = origin.and_then(|o| o.duration_since(SystemTime::UNIX_EPOCH).ok());
        let until = until_s.filter(|u| u.is_finite() && *u >= 0.0);
        let (Some(start), Some(until)) = (start, until) else {
            summary.skip(
                file,
                0,
                "CronJob without a start time: one run at the start",
                format!("{}: no wall-clock start ([trace] start or an event log) to place its schedule in: one run at time 0", w.key()),
            );
            run(cluster, summary, w, &w.name, 0.0)?;
            continue;
        };
        let start_s = start.as_secs_f64();
        let first = start.as_secs() as i64;
        let end = (start_s + until).min(i64::MAX as f64) as i64;
        let stops = |at: f64| w.run_for_s.map_or(f64::INFINITY, |r| at + r);
        let in_time = |busy: f64, m: i64| {
            let late = busy - (m as f64 - start_s);
            cron.starting_deadline_s.is_none_or(|d| late <= d as f64)
        };
        // The previous run's pods and when it stops running; a run missed under Forbid.
        let mut previous: Option<(Vec<usize>, f64)> = None;
        let mut missed: Option<i64> = None;
        let mut last_job = String::new();
        for t in cron.schedule.times(first, end) {
            let at = t as f64 - start_s;
            let job = format!("{}-{}", w.name, t.div_euclid(60));
            if job == last_job {
                continue;
            }
            // Forbid: the previous run ended before this time, with a run missed meanwhile.
            if let (Some(busy), Some(m)) = (previous.as_ref().map(|p| p.1), missed) {
                if busy < at && in_time(busy, m) {
                    let name = format!("{}-{}", w.name, m.div_euclid(60));
                    let pods = run(cluster, summary, w, &name, busy)?;
                    last_job = name;
                    previous = Some((pods, stops(busy)));
                }
            }
            let running = previous.as_ref().is_some_and(|p| p.1 > at);
            match cron.concurrency {
                ConcurrencyPolicy::Forbid if running => {
                    missed = Some(t);
                    summary.skip(
                        file,
                        0,
                        "CronJob run missed (concurrencyPolicy Forbid)",
                        format!("{}: the run at {at} s waits for the previous one", w.key()),
                    );
                    continue;
                }
                ConcurrencyPolicy::Replace if running => {
                    for &p in previous.iter().flat_map(|p| &p.0) {
                        cluster.pods[p].deleted_s = Some(at);
                    }
                }
                _ => {}
            }
            missed = None;
            let pods = run(cluster, summary, w, &job, at)?;
            last_job = job;
            previous = Some((pods, stops(at)));
        }
        // A run missed at the end starts when the previous one ends, within the run.
        if let (Some(busy), Some(m)) = (previous.as_ref().map(|p| p.1), missed) {
            if busy <= until && in_time(busy, m) {
                let name = format!("{}-{}", w.name, m.div_euclid(60));
                run(cluster, summary, w, &name, busy)?;
            }
        }
    }
    Ok(())
}

/// A pod a log event names: one the cluster had before the log, or the log's k-th creation.
#[derive(Clone, Copy)]
enum Target {
    Cluster(usize),
    Added(usize),
}

/// One event of the log, read.
struct LogEvent {
    line: u64,
    added: bool,
    at: SystemTime,
    pod: PodSpec,
    run_for_s: Option<f64>,
}

/// The event log's creations and deletions, after the pods already there; returns the wall
/// time of the run's time 0 (`opts.start`, else the first event's).
fn replay(
    cluster: &mut Cluster,
    log: Text<'_>,
    opts: &Options,
    classes: &[objects::PriorityClass],
    summary: &mut Summary,
) -> Result<Option<SystemTime>, ImportError> {
    let strict = opts.strict;
    let mut events: Vec<LogEvent> = Vec::new();
    for (i, text) in log.text.lines().enumerate() {
        let line = i as u64 + 1;
        if text.trim().is_empty() {
            continue;
        }
        summary.records += 1;
        match event(log.name, line, text, classes) {
            Ok(Some(e)) => events.push(e),
            Ok(None) => summary.skip(
                log.name,
                line,
                "MODIFIED (the simulation binds and runs pods itself)",
                "a MODIFIED event is not replayed".into(),
            ),
            Err(e) if strict => return Err(e),
            Err(e) => {
                let reason = match &e {
                    ImportError::Malformed { field, .. } => format!("malformed `{field}`"),
                    _ => "malformed".into(),
                };
                summary.skip(log.name, line, &reason, e.to_string());
            }
        }
    }
    // In time order (ties in log order), each name's lives followed: an ADDED pod whose
    // name is alive is the watch's first list of what exists; one whose earlier life was
    // deleted is created again (a StatefulSet's pod).
    events.sort_by_key(|e| (e.at, e.line));
    let mut live: BTreeMap<String, Target> = cluster
        .pods
        .iter()
        .enumerate()
        .map(|(i, p)| (p.spec.key(), Target::Cluster(i)))
        .collect();
    let mut added: Vec<&LogEvent> = Vec::new();
    let mut deletions: Vec<(SystemTime, Target)> = Vec::new();
    for e in &events {
        let key = e.pod.key();
        match (e.added, live.get(&key).copied()) {
            (true, Some(_)) => summary.skip(
                log.name,
                e.line,
                "ADDED pod already in the cluster",
                format!("Pod {key} is already in the cluster"),
            ),
            (true, None) => {
                live.insert(key, Target::Added(added.len()));
                added.push(e);
            }
            (false, Some(t)) => {
                live.remove(&key);
                deletions.push((e.at, t));
            }
            (false, None) => summary.skip(
                log.name,
                e.line,
                "DELETED pod not in the cluster",
                format!("Pod {key} is deleted but is not in the cluster then"),
            ),
        }
    }
    let Some(t0) = opts.start.or_else(|| {
        added
            .iter()
            .map(|e| e.at)
            .chain(deletions.iter().map(|d| d.0))
            .min()
    }) else {
        return Ok(None);
    };
    let secs = |t: SystemTime| t.duration_since(t0).map_or(0.0, |d| d.as_secs_f64());
    // Before `start`: a pod created then is there at time 0; one created and deleted then
    // never is.
    let gone: BTreeSet<usize> = deletions
        .iter()
        .filter_map(|(at, t)| match t {
            Target::Added(k) if *at < t0 => Some(*k),
            _ => None,
        })
        .collect();
    let first_new = cluster.pods.len();
    let mut index = vec![usize::MAX; added.len()];
    for (k, e) in added.iter().enumerate() {
        if gone.contains(&k) {
            summary.skip(
                log.name,
                e.line,
                "created and deleted before the start",
                format!("Pod {}: its life ends before `start`", e.pod.key()),
            );
            continue;
        }
        index[k] = cluster.pods.len();
        // The scheduler places it; a pod created bound asks for its node by name.
        cluster.pods.push(KubePod {
            spec: e.pod.clone(),
            running_on: None,
            arrival_s: secs(e.at),
            run_for_s: e.run_for_s,
            deleted_s: None,
        });
    }
    for (at, t) in deletions {
        let p = &mut cluster.pods[match t {
            Target::Cluster(i) => i,
            Target::Added(k) if gone.contains(&k) => continue,
            Target::Added(k) => index[k],
        }];
        // Deleted no earlier than it arrived.
        p.deleted_s = Some(secs(at).max(p.arrival_s));
    }
    summary.jobs += (cluster.pods.len() - first_new) as u64;
    Ok(Some(t0))
}

/// One line of the log: an ADDED or DELETED pod, `None` for MODIFIED.
fn event(
    file: &str,
    line: u64,
    text: &str,
    classes: &[objects::PriorityClass],
) -> Result<Option<LogEvent>, ImportError> {
    let bad = |column: u64, field: &str, message: String| ImportError::Malformed {
        file: file.into(),
        line,
        column,
        field: field.into(),
        message,
    };
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        bad(
            e.column() as u64,
            "event",
            format!("expected a JSON watch event: {e}"),
        )
    })?;
    let kind = v.get("type").and_then(|t| t.as_str()).unwrap_or_default();
    let added = match kind {
        "ADDED" => true,
        "DELETED" => false,
        "MODIFIED" => return Ok(None),
        other => {
            return Err(bad(
                1,
                "type",
                format!("expected \"ADDED\", \"MODIFIED\" or \"DELETED\", found {other:?}"),
            ))
        }
    };
    let object = v
        .get("object")
        .ok_or_else(|| bad(1, "object", "expected the event's Pod object".into()))?;
    if object.get("kind").and_then(|k| k.as_str()) != Some("Pod") {
        return Err(bad(1, "object.kind", "expected a Pod".into()));
    }
    // A pod that ended (a Job's, removed after it) is read for its name only: it holds
    // nothing, and a deletion needs no more.
    let ended = matches!(
        object.pointer("/status/phase").and_then(|p| p.as_str()),
        Some("Succeeded" | "Failed")
    );
    let object = &if ended && !added {
        let mut o = object.clone();
        if let Some(s) = o.get_mut("status") {
            *s = serde_json::json!({"phase": "Running"});
        }
        o
    } else {
        object.clone()
    };
    let value: serde_yaml_ng::Value = serde_yaml_ng::to_value(object)
        .map_err(|e| bad(1, "object", format!("cannot read the object: {e}")))?;
    let mut objs = Objects::default();
    objects::read_value(&value, line as usize, &mut objs)
        // A deletion needs no admission (its pod's class may be gone by then).
        .and_then(|()| {
            if added {
                objs.admit_priorities(classes)
            } else {
                Ok(())
            }
        })
        .map_err(|e| {
            bad(
                1,
                &format!("object.{}", e.field),
                format!("{}: {}", e.object, e.message),
            )
        })?;
    let Some(pod) = objs.pods.pop() else {
        // A pod that already ended (Succeeded, Failed) holds nothing.
        return Err(bad(
            1,
            "object.status.phase",
            "the pod has ended (Succeeded or Failed): nothing to replay".into(),
        ));
    };
    let (field, at) = match v.get("time") {
        Some(t) => ("time", t.as_str()),
        None if added => (
            "object.metadata.creationTimestamp",
            object
                .pointer("/metadata/creationTimestamp")
                .and_then(|t| t.as_str()),
        ),
        None => (
            "object.metadata.deletionTimestamp",
            object
                .pointer("/metadata/deletionTimestamp")
                .and_then(|t| t.as_str()),
        ),
    };
    let at = at.ok_or_else(|| bad(1, field, "expected an RFC 3339 time".into()))?;
    let at = humantime::parse_rfc3339_weak(at).map_err(|e| {
        bad(
            1,
            field,
            format!("expected an RFC 3339 time such as 2026-12-07T10:00:00Z, found {at:?}: {e}"),
        )
    })?;
    Ok(Some(LogEvent {
        line,
        added,
        at,
        pod,
        run_for_s: objs.pod_run_for_s.pop().flatten(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNAPSHOT: &str = include_str!("../../../examples/next/cluster.yaml");
    const MANIFESTS: &str = include_str!("../../../examples/next/app.yaml");
    const LOG: &str = include_str!("../../../tests/k8s/watch-log.jsonl");

    fn read_all(strict: bool) -> Result<Cluster, ImportError> {
        read(
            Text {
                name: "cluster.yaml",
                text: SNAPSHOT,
            },
            Some(Text {
                name: "app.yaml",
                text: MANIFESTS,
            }),
            Some(Text {
                name: "events.jsonl",
                text: LOG,
            }),
            strict,
        )
    }

    fn pod<'a>(c: &'a Cluster, key: &str) -> &'a KubePod {
        c.pods
            .iter()
            .find(|p| p.spec.key() == key)
            .unwrap_or_else(|| panic!("no pod {key}"))
    }

    /// A CronJob every 30 minutes of 2 pods running 40 minutes, over 3 hours from 09:00:
    /// runs at 09:30 … 12:00 (after the start, up to its end), named as the controller names
    /// its Jobs; `Forbid` misses runs while the previous one runs and starts the latest
    /// missed one when it ends (or the next scheduled one if that comes at once), `Replace`
    /// deletes it; suspended, none; without a start time, one at time 0.
    #[test]
    fn cronjobs_run_on_their_schedule() {
        let start = humantime::parse_rfc3339("2026-12-07T09:00:00Z").unwrap();
        let cron = |extra: &str| {
            format!("kind: CronJob\nmetadata: {{name: tick}}\nspec:\n  schedule: '*/30 * * * *'\n{extra}  jobTemplate:\n    spec:\n      parallelism: 2\n      template:\n        metadata: {{annotations: {{orchsim.io/run-for-s: '2400'}}}}\n        spec: {{containers: [{{name: c, resources: {{requests: {{cpu: 100m}}}}}}]}}\n")
        };
        let run = |extra: &str, start: Option<SystemTime>| {
            let text = cron(extra);
            let c = read_with(
                Text {
                    name: "cluster.yaml",
                    text: SNAPSHOT,
                },
                Some(Text {
                    name: "cron.yaml",
                    text: &text,
                }),
                None,
                Options {
                    strict: true,
                    start,
                    until_s: Some(3.0 * 3600.0),
                },
            )
            .unwrap();
            let ticks: Vec<(String, f64, Option<f64>)> = c
                .pods
                .iter()
                .filter(|p| p.spec.name.starts_with("tick"))
                .map(|p| (p.spec.name.clone(), p.arrival_s, p.deleted_s))
                .collect();
            (ticks, c.summary)
        };
        let (allow, _) = run("", Some(start));
        let at: Vec<f64> = allow.iter().map(|t| t.1).step_by(2).collect();
        assert_eq!(at, [1800.0, 3600.0, 5400.0, 7200.0, 9000.0, 10_800.0]);
        // 09:30 is minute 29,943,930 since the epoch (1,796,635,800 s ÷ 60).
        assert_eq!(allow[0].0, "tick-29943930-0");
        assert_eq!(allow[1].0, "tick-29943930-1");
        assert!(allow.iter().all(|t| t.2.is_none()));
        let (forbid, summary) = run("  concurrencyPolicy: Forbid\n", Some(start));
        let at: Vec<f64> = forbid.iter().map(|t| t.1).step_by(2).collect();
        // 09:30 runs to 10:10, when the missed 10:00 starts (to 10:50, when 10:30's starts,
        // to 11:30: 11:00's is missed and 11:30's own time has come).
        assert_eq!(at, [1800.0, 4200.0, 6600.0, 9000.0]);
        assert_eq!(
            forbid[2].0, "tick-29943960-0",
            "named after its scheduled 10:00"
        );
        assert_eq!(
            summary.skipped["CronJob run missed (concurrencyPolicy Forbid)"],
            4
        );
        let (late, _) = run(
            "  concurrencyPolicy: Forbid\n  startingDeadlineSeconds: 300\n",
            Some(start),
        );
        let at: Vec<f64> = late.iter().map(|t| t.1).step_by(2).collect();
        assert_eq!(
            at,
            [1800.0, 5400.0, 9000.0],
            "missed runs would start 10 minutes late"
        );
        let (replace, _) = run("  concurrencyPolicy: Replace\n", Some(start));
        let deleted: Vec<Option<f64>> = replace.iter().map(|t| t.2).step_by(2).collect();
        assert_eq!(
            deleted,
            [
                Some(3600.0),
                Some(5400.0),
                Some(7200.0),
                Some(9000.0),
                Some(10_800.0),
                None
            ]
        );
        let (suspended, _) = run("  suspend: true\n", Some(start));
        assert!(suspended.is_empty());
        let (once, summary) = run("", None);
        assert_eq!(once.iter().map(|t| t.1).collect::<Vec<_>>(), [0.0, 0.0]);
        assert_eq!(
            summary.skipped["CronJob without a start time: one run at the start"],
            1
        );
    }

    /// A Job's name takes the minute: `@every 20s` runs once a minute; a CronJob's pods
    /// whose names another workload's pods have are refused.
    #[test]
    fn cronjob_pods_have_names_of_their_own() {
        let start = humantime::parse_rfc3339("2026-12-07T09:00:00Z").unwrap();
        let read_cron = |text: &str, start: Option<SystemTime>| {
            read_with(
                Text {
                    name: "cluster.yaml",
                    text: SNAPSHOT,
                },
                Some(Text {
                    name: "cron.yaml",
                    text,
                }),
                None,
                Options {
                    strict: true,
                    start,
                    until_s: Some(300.0),
                },
            )
        };
        let cron = |schedule: &str| {
            format!("kind: CronJob\nmetadata: {{name: tick}}\nspec:\n  schedule: '{schedule}'\n  jobTemplate:\n    spec:\n      template:\n        spec: {{containers: [{{name: c}}]}}\n")
        };
        let c = read_cron(&cron("@every 20s"), Some(start)).unwrap();
        let ticks = c
            .pods
            .iter()
            .filter(|p| p.spec.name.starts_with("tick"))
            .count();
        // Runs at 20 s, 40 s, … 300 s: one in each minute from 09:00 to 09:05.
        assert_eq!(ticks, 6, "one a minute");
        let both = format!("{}---\nkind: Deployment\nmetadata: {{name: tick}}\nspec:\n  template:\n    spec: {{containers: [{{name: c}}]}}\n", cron("@hourly"));
        let e = read_cron(&both, None).unwrap_err().to_string();
        assert!(
            e.contains("`default/tick-0` is already in the cluster"),
            "{e}"
        );
    }

    #[test]
    fn snapshot_pods_run_where_they_are_and_the_rest_arrive() {
        let c = read_all(false).unwrap();
        assert_eq!(
            c.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
            ["node-a", "node-b", "gpu-1"]
        );
        // The snapshot: bound pods run where they are, a pending one arrives for the scheduler.
        let db = pod(&c, "default/db-0");
        assert_eq!(db.running_on.as_deref(), Some("node-a"));
        assert_eq!(db.arrival_s, 0.0);
        assert_eq!(db.spec.requests.cpu_milli, 1000);
        let pending = pod(&c, "default/queued");
        assert_eq!(pending.running_on, None);
        assert_eq!(pending.spec.node_name, None);
        // DaemonSet: one pod per node its controller admits (gpu-1 is tainted, not
        // tolerated), named for the node and asking for it; then the Deployment's replicas.
        let keys: Vec<String> = c.pods.iter().map(|p| p.spec.key()).collect();
        assert_eq!(
            keys,
            [
                "default/db-0",
                "default/queued",
                "kube-system/agent-node-a",
                "kube-system/agent-node-b",
                "default/web-0",
                "default/web-1",
                "default/web-2",
                "default/batch-0",
                "default/late",
                "default/later",
            ]
        );
        let agent = pod(&c, "kube-system/agent-node-b");
        assert_eq!(agent.spec.node_name.as_deref(), Some("node-b"));
        assert_eq!(agent.spec.requests.cpu_milli, 100);
        let web = pod(&c, "default/web-2");
        assert_eq!(web.spec.owner, "web");
        assert_eq!(web.spec.requests.memory_bytes, 256 << 20);
        assert_eq!(web.spec.labels.get("app").map(String::as_str), Some("web"));
        assert_eq!(web.run_for_s, None);
        // The annotation gives the Job's pods their runtime.
        assert_eq!(pod(&c, "default/batch-0").run_for_s, Some(600.0));
        assert_eq!(c.skipped_kinds.get("Service"), Some(&1));
    }

    #[test]
    fn the_log_replays_creations_and_deletions_at_their_times() {
        let c = read_all(false).unwrap();
        // Time 0 is the first event kept (late's creation at 10:00:00).
        let late = pod(&c, "default/late");
        assert_eq!(late.arrival_s, 0.0);
        assert_eq!(late.deleted_s, Some(90.0));
        assert_eq!(late.run_for_s, Some(30.0));
        let later = pod(&c, "default/later");
        assert_eq!(later.arrival_s, 45.5);
        assert_eq!(later.deleted_s, None);
        // A snapshot pod deleted by the log (its event's own `time`).
        assert_eq!(pod(&c, "default/db-0").deleted_s, Some(120.0));
        let s = &c.summary;
        assert_eq!(s.records, 7);
        assert_eq!(s.machines, 3);
        assert_eq!(s.tasks, 10);
        assert_eq!(s.skipped.get("ADDED pod already in the cluster"), Some(&1));
        assert_eq!(
            s.skipped
                .get("MODIFIED (the simulation binds and runs pods itself)"),
            Some(&1)
        );
        assert_eq!(s.skipped.get("malformed `time`"), Some(&1));
        assert!(s
            .examples
            .iter()
            .any(|x| x.line == 6 && x.file == "events.jsonl"));
    }

    #[test]
    fn strict_stops_at_the_malformed_line() {
        let e = read_all(true).unwrap_err().to_string();
        assert!(
            e.starts_with("events.jsonl:6:1: time: expected an RFC 3339 time"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_the_file_and_the_object() {
        let e = read(
            Text {
                name: "c.yaml",
                text: "kind: Node\nmetadata: {name: n}\nstatus: {allocatable: {cpu: lots}}\n",
            },
            None,
            None,
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("c.yaml: document 1, Node n: `status.allocatable.cpu`"),
            "{e}"
        );
        let e = read(
            Text {
                name: "c.yaml",
                text: SNAPSHOT,
            },
            Some(Text {
                name: "m.yaml",
                text: "kind: Pod\nmetadata: {name: db-0}\nspec: {containers: [{name: c}]}\n",
            }),
            None,
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("`default/db-0` is already in the cluster"),
            "{e}"
        );
        let e = read(
            Text {
                name: "c.yaml",
                text: "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\n",
            },
            None,
            None,
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("expected Node objects"), "{e}");
    }

    /// kubectl lists pods by name: a waiting pod listed before running ones still arrives
    /// after every running pod is in place.
    #[test]
    fn running_pods_come_before_waiting_ones() {
        let snapshot = "kind: Node\nmetadata: {name: n}\nstatus: {allocatable: {cpu: '4', memory: 8Gi, pods: '110'}}\n---\nkind: Pod\nmetadata: {name: a-waits}\nspec: {containers: [{name: c}]}\n---\nkind: Pod\nmetadata: {name: b-runs}\nspec: {nodeName: n, containers: [{name: c}]}\n";
        let c = read(
            Text {
                name: "s",
                text: snapshot,
            },
            None,
            None,
            false,
        )
        .unwrap();
        let order: Vec<(&str, Option<&str>)> = c
            .pods
            .iter()
            .map(|p| (p.spec.name.as_str(), p.running_on.as_deref()))
            .collect();
        assert_eq!(order, [("b-runs", Some("n")), ("a-waits", None)]);
    }

    /// A StatefulSet's pod deleted and created again under its name: two lives.
    #[test]
    fn a_pod_recreated_under_its_name_lives_twice() {
        let ev = |kind: &str, t: &str| {
            format!(
                r#"{{"type":"{kind}","time":"2026-12-07T10:00:{t}Z","object":{{"kind":"Pod","metadata":{{"name":"db-1"}},"spec":{{"containers":[{{"name":"c"}}]}}}}}}"#
            )
        };
        let log = [
            ev("ADDED", "00"),
            ev("DELETED", "10"),
            ev("ADDED", "20"),
            ev("DELETED", "30"),
            ev("DELETED", "40"),
        ]
        .join("\n");
        let c = read(
            Text {
                name: "s",
                text: SNAPSHOT,
            },
            None,
            Some(Text {
                name: "l",
                text: &log,
            }),
            false,
        )
        .unwrap();
        let lives: Vec<(f64, Option<f64>)> = c
            .pods
            .iter()
            .filter(|p| p.spec.name == "db-1")
            .map(|p| (p.arrival_s, p.deleted_s))
            .collect();
        assert_eq!(lives, [(0.0, Some(10.0)), (20.0, Some(30.0))]);
        assert_eq!(c.summary.skipped["DELETED pod not in the cluster"], 1);
    }

    /// A Job's pod that succeeded and was then removed: its DELETED event is a deletion, not a
    /// malformed line, even when strict.
    #[test]
    fn deleting_an_ended_pod_is_read() {
        let log = r#"{"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"j","creationTimestamp":"2026-12-07T10:00:00Z"},"spec":{"containers":[{"name":"c"}]}}}
{"type":"DELETED","object":{"kind":"Pod","metadata":{"name":"j","deletionTimestamp":"2026-12-07T10:05:00Z"},"spec":{"containers":[{"name":"c"}]},"status":{"phase":"Succeeded"}}}
"#;
        let c = read(
            Text {
                name: "s",
                text: SNAPSHOT,
            },
            None,
            Some(Text {
                name: "l",
                text: log,
            }),
            true,
        )
        .unwrap();
        assert_eq!(pod(&c, "default/j").deleted_s, Some(300.0));
    }

    #[test]
    fn a_global_service_in_a_run_is_refused_with_what_fits_it() {
        let e = read(
            Text {
                name: "s",
                text: SNAPSHOT,
            },
            Some(Text {
                name: "stack.yml",
                text: "services:\n  agent:\n    image: a\n    deploy: {mode: global}\n",
            }),
            None,
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("stack.yml: Swarm global service agent: a global service's tasks are not modeled in a run yet"),
            "{e}"
        );
    }

    proptest::proptest! {
        /// Any bytes as an event log: read or refused, never a panic.
        #[test]
        fn any_log_is_read_or_refused(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = read(
                Text { name: "c.yaml", text: SNAPSHOT },
                None,
                Some(Text { name: "l.jsonl", text: &text }),
                false,
            );
        }

        /// Lines shaped like watch events with random fields: never a panic.
        #[test]
        fn event_like_lines_never_panic(
            kind in "(ADDED|DELETED|MODIFIED|X)",
            name in "[a-z0-9-]{0,8}",
            time in "[0-9T:Z-]{0,24}",
            cpu in "[0-9a-zm.-]{0,6}",
        ) {
            let line = format!(
                r#"{{"type":"{kind}","time":"{time}","object":{{"kind":"Pod","metadata":{{"name":"{name}"}},"spec":{{"containers":[{{"name":"c","resources":{{"requests":{{"cpu":"{cpu}"}}}}}}]}}}}}}"#
            );
            let _ = read(
                Text { name: "c.yaml", text: SNAPSHOT },
                None,
                Some(Text { name: "l.jsonl", text: &line }),
                true,
            );
        }
    }
}
