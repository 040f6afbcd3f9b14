//! `explain`: why a pod lands where it does. The nodes are Kubernetes objects as `kubectl get
//! nodes,pods -o yaml` prints them, or a scenario's hosts (empty, or as its run leaves them
//! at a simulated time); the result is a per-node table with every plugin's score, or the
//! documented JSON contract (README, "orchsim explain").

use std::path::{Path, PathBuf};

use orchsim_report::{Cell, Table};
use orchsim_sched::kube::{config, objects, KubeScheduler, NodeReport, Profile};
use orchsim_sched::{Decision, NodeInfo, PodSpec};
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::render::View;
use crate::source::Source;

/// What to explain.
#[derive(Clone, Debug)]
pub struct ExplainRequest {
    /// Kubernetes YAML with the nodes, or a scenario (file or embedded name).
    pub nodes: PathBuf,
    /// With a scenario: its cluster as the run leaves it at this many seconds.
    pub at: Option<f64>,
    /// Pods already bound (`spec.nodeName`).
    pub pods: Option<PathBuf>,
    /// A YAML file with exactly one Pod.
    pub pod: PathBuf,
    /// `kubernetes`, `swarm`, or a bin-packing algorithm.
    pub scheduler: String,
    /// A KubeSchedulerConfiguration for `kubernetes`.
    pub profile: Option<PathBuf>,
    /// Seed of the tie-breaking stream.
    pub seed: u64,
}

/// An explanation and the notes worth telling the user (profile settings applied, pods
/// ignored).
pub struct Explained {
    pub view: View,
    pub notes: Vec<String>,
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::bad_input(format!("cannot read {}: {e}", path.display())))
}

fn load_objects(path: &Path) -> Result<objects::Objects, Error> {
    objects::parse(&read(path)?).map_err(|e| Error::bad_input(format!("{}: {e}", path.display())))
}

fn load_nodes(path: &Path, at: Option<f64>) -> Result<Vec<NodeInfo>, Error> {
    let arg = path.to_string_lossy();
    let scenario = path.extension().is_some_and(|e| e == "toml")
        || ((!path.exists() || path.is_dir()) && crate::catalog::find(&arg).is_some());
    if scenario {
        let sc = Source::resolve(Some(&arg))?.simulation("explain --nodes")?;
        let Some(at) = at else {
            return Ok(sc.nodes());
        };
        let t = orchsim_kernel::SimDuration::try_from_secs_f64(at).ok_or_else(|| {
            Error::bad_input(format!("--at {at}: expected a time in seconds, 0 or more"))
        })?;
        if t > sc.duration {
            return Err(Error::bad_input(format!(
                "--at {at}: the scenario ends at {} s",
                sc.duration.as_secs_f64()
            )));
        }
        let cluster =
            orchsim_sim::cluster_at(&sc, t).map_err(|e| Error::bad_input(e.to_string()))?;
        return Ok(cluster.into_nodes());
    }
    if at.is_some() {
        return Err(Error::bad_input(format!(
            "--at needs a scenario for --nodes (a .toml file or an embedded name); {} is Kubernetes YAML",
            path.display()
        )));
    }
    let objs = load_objects(path)?;
    if objs.nodes.is_empty() {
        return Err(Error::bad_input(format!(
            "{}: no Node objects found",
            path.display()
        )));
    }
    Ok(objs.nodes)
}

/// One node's line of the explanation.
struct Row {
    report: NodeReport,
}

/// Places `req.pod` on `req.nodes` with `req.scheduler` and says why, node by node.
pub fn explain(req: &ExplainRequest) -> Result<Explained> {
    let (nodes_path, pod_path) = (&req.nodes, &req.pod);
    let mut notes = Vec::new();
    let seed = req.seed;
    let mut nodes = load_nodes(nodes_path, req.at)?;
    if let Some(p) = &req.pods {
        let objs = load_objects(p)?;
        let unbound = objects::bind_existing(&mut nodes, objs.pods, &objs.pod_nodes);
        if !unbound.is_empty() {
            notes.push(format!(
                "{} pod(s) in {} are not bound to a listed node and were ignored",
                unbound.len(),
                p.display()
            ));
        }
    }
    let pod_objs = load_objects(pod_path)?;
    let pod: PodSpec = match pod_objs.pods.len() {
        1 => pod_objs
            .pods
            .into_iter()
            .next()
            .unwrap_or_else(|| unreachable!()),
        n => {
            return Err(Error::bad_input(format!(
                "{}: expected exactly one Pod to place, found {n}",
                pod_path.display()
            )))
        }
    };

    let mut profile_notes = Vec::new();
    let (decision, rows, to_find) = if req.scheduler == "kubernetes" {
        let profile = match &req.profile {
            Some(p) => {
                let loaded = config::parse(&read(p)?, None)
                    .map_err(|e| Error::bad_input(format!("{}: {e}", p.display())))?;
                profile_notes = loaded.notes;
                loaded.profile
            }
            None => Profile::default(),
        };
        let mut s = KubeScheduler::new(profile, seed);
        let e = s.explain(&pod, &nodes);
        let rows = e.nodes.into_iter().map(|report| Row { report }).collect();
        (e.outcome.decision, rows, Some(e.nodes_to_find))
    } else {
        if req.profile.is_some() {
            return Err(Error::bad_input(
                "--profile applies to --scheduler kubernetes only",
            ));
        }
        let mut s = orchsim_sched::by_name(&req.scheduler, seed)?;
        let decision = s.schedule(&pod, &nodes).decision;
        // Feasibility per node: the same algorithm on that node alone.
        let rows = nodes
            .iter()
            .map(|n| {
                let mut one = orchsim_sched::by_name(&req.scheduler, seed)?;
                let d = one.schedule(&pod, &vec![n.clone()]).decision;
                let (feasible, reasons) = match d {
                    Decision::Bind { .. } => (true, vec![]),
                    Decision::Preempt { why, .. } | Decision::Unschedulable(why) => (
                        false,
                        match &why.message {
                            Some(m) => vec![m.clone()],
                            None => why.reasons.keys().cloned().collect(),
                        },
                    ),
                };
                Ok(Row {
                    report: NodeReport {
                        examined: true,
                        feasible,
                        reasons,
                        ..Default::default()
                    },
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        (decision, rows, None)
    };

    let chosen = match &decision {
        Decision::Bind { node: id, .. } | Decision::Preempt { node: id, .. } => {
            Some(nodes[id.0].name.clone())
        }
        Decision::Unschedulable(_) => None,
    };
    let json = to_json(
        &pod,
        &req.scheduler,
        &nodes,
        &rows,
        &decision,
        chosen,
        to_find,
        &profile_notes,
    );
    notes.extend(profile_notes.iter().map(|n| format!("profile: {n}")));
    let mut view = View::of(table(&nodes, &rows)?);
    view.json = Some(json);
    view.before.push(format!(
        "pod {} with scheduler {}",
        pod.key(),
        req.scheduler
    ));
    if let Some(k) = to_find {
        view.before.push(format!(
            "nodes to find: {k} of {} (percentageOfNodesToScore)",
            nodes.len()
        ));
    }
    view.after.push(verdict(&decision, &nodes));
    Ok(Explained { view, notes })
}

fn verdict(d: &Decision, nodes: &[NodeInfo]) -> String {
    match d {
        Decision::Bind { node, devices } if devices.is_empty() => {
            format!("chosen: {}", nodes[node.0].name)
        }
        Decision::Bind { node, devices } => {
            format!("chosen: {} on GPU devices {devices:?}", nodes[node.0].name)
        }
        Decision::Preempt { node, victims, why } => format!(
            "chosen: {} after preempting {} ({why})",
            nodes[node.0].name,
            victims.join(", ")
        ),
        Decision::Unschedulable(why) => format!("unschedulable: {why}"),
    }
}

/// Plugins that scored on any node, in profile order of first appearance.
fn plugin_columns(rows: &[Row]) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    for r in rows {
        for s in &r.report.scores {
            let name = s.plugin.name().to_string();
            if !cols.contains(&name) {
                cols.push(name);
            }
        }
    }
    cols
}

fn table(nodes: &[NodeInfo], rows: &[Row]) -> Result<Table> {
    let plugins = plugin_columns(rows);
    let mut cols = vec!["node".to_string(), "feasible".into()];
    cols.extend(plugins.iter().cloned());
    cols.extend(["total".to_string(), "reasons".into()]);
    let mut t = Table::new(cols);
    for (n, r) in nodes.iter().zip(rows) {
        let rep = &r.report;
        let mut row: Vec<Cell> = vec![
            n.name.as_str().into(),
            if !rep.examined {
                "not examined".into()
            } else if rep.feasible {
                "yes".into()
            } else {
                "no".into()
            },
        ];
        for p in &plugins {
            row.push(
                rep.scores
                    .iter()
                    .find(|s| s.plugin.name() == p)
                    .map_or(Cell::Empty, |s| Cell::Int(s.weighted)),
            );
        }
        row.push(if rep.feasible && !rep.scores.is_empty() {
            Cell::Int(rep.total)
        } else {
            Cell::Empty
        });
        row.push(rep.reasons.join("; ").into());
        t.push(row)?;
    }
    Ok(t)
}

#[allow(clippy::too_many_arguments)]
fn to_json(
    pod: &PodSpec,
    scheduler: &str,
    nodes: &[NodeInfo],
    rows: &[Row],
    decision: &Decision,
    chosen: Option<String>,
    to_find: Option<usize>,
    notes: &[String],
) -> Value {
    let node_list: Vec<Value> = nodes
        .iter()
        .zip(rows)
        .map(|(n, r)| {
            let rep = &r.report;
            let mut o = Map::new();
            o.insert("name".into(), json!(n.name));
            o.insert("examined".into(), json!(rep.examined));
            o.insert("feasible".into(), json!(rep.feasible));
            o.insert("reasons".into(), json!(rep.reasons));
            if rep.feasible {
                let mut scores = Map::new();
                for s in &rep.scores {
                    scores.insert(
                        s.plugin.name().into(),
                        json!({"raw": s.raw, "normalized": s.normalized, "weight": s.weight, "weighted": s.weighted}),
                    );
                }
                o.insert("scores".into(), Value::Object(scores));
                o.insert("total".into(), json!(rep.total));
            }
            if let Some(p) = rep.rejected_by {
                o.insert("rejected_by".into(), json!(p.name()));
            }
            Value::Object(o)
        })
        .collect();
    let (kind, victims) = match decision {
        Decision::Bind { .. } => ("bind", vec![]),
        Decision::Preempt { victims, .. } => ("preempt", victims.clone()),
        Decision::Unschedulable(_) => ("unschedulable", vec![]),
    };
    json!({
        "pod": pod.key(),
        "scheduler": scheduler,
        "chosen": chosen,
        "decision": kind,
        "message": verdict(decision, nodes),
        "victims": victims,
        "nodes_to_find": to_find,
        "profile_notes": notes,
        "nodes": node_list,
    })
}
