//! `orchsim explain`: why a pod lands where it does.
//!
//! Inputs are Kubernetes objects as `kubectl get nodes,pods -o yaml` prints them (or a
//! scenario TOML for the nodes); the output is a per-node table or the documented JSON
//! contract (README, "orchsim explain").

use std::path::{Path, PathBuf};

use orchsim_report::{Cell, Table};
use orchsim_sched::kube::{config, objects, KubeScheduler, NodeReport, Profile};
use orchsim_sched::{Decision, NodeInfo, PodSpec};
use serde_json::{json, Map, Value};

use crate::{CliError, Format};

#[derive(clap::Args)]
pub struct ExplainArgs {
    /// Nodes: Kubernetes YAML (`kubectl get nodes -o yaml`, a List or a multi-document
    /// stream), or a scenario (a TOML file or an embedded name): its hosts, empty, or with
    /// `--at` as its run leaves them at that time.
    #[arg(long, required_unless_present = "study")]
    nodes: Option<PathBuf>,
    /// With a scenario for --nodes: simulate it to this many seconds and place the pod on the
    /// cluster as it is then (pods and GPU devices in use included).
    #[arg(long)]
    at: Option<f64>,
    /// Pods already bound (`spec.nodeName`), same shapes. Optional.
    #[arg(long)]
    pods: Option<PathBuf>,
    /// The pod to place: a YAML file with exactly one Pod.
    #[arg(long, required_unless_present = "study")]
    pod: Option<PathBuf>,
    /// kubernetes, swarm, or a bin-packing algorithm (first-fit, best-fit, worst-fit,
    /// dot-product).
    #[arg(long, default_value = "kubernetes")]
    scheduler: String,
    /// A KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) for `kubernetes`.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Seed of the tie-breaking stream (default 0); with --study, the experiment's seed
    /// (default: the scenario's first).
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// A GPU study scenario (file or embedded name, e.g. `fgd-atc23`): replay one of its
    /// experiments and explain the placement of one task, devices included.
    #[arg(long, conflicts_with_all = ["nodes", "pods", "pod", "profile", "at"])]
    study: Option<String>,
    /// With --study: the policy (default: the scenario's first).
    #[arg(long, requires = "study")]
    policy: Option<String>,
    /// With --study: tasks submitted before the one explained (default 0: the first).
    #[arg(long, requires = "study", default_value_t = 0)]
    after: usize,
    /// With --study: feasible nodes listed in the table, best first (JSON lists all).
    #[arg(long, requires = "study", default_value_t = 10)]
    top: usize,
}

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path)
        .map_err(|e| CliError(format!("cannot read {}: {e}", path.display())))
}

fn load_objects(path: &Path) -> Result<objects::Objects, CliError> {
    objects::parse(&read(path)?).map_err(|e| CliError(format!("{}: {e}", path.display())))
}

fn load_nodes(path: &Path, at: Option<f64>) -> Result<Vec<NodeInfo>, CliError> {
    let arg = path.to_string_lossy();
    let scenario = path.extension().is_some_and(|e| e == "toml")
        || ((!path.exists() || path.is_dir()) && crate::catalog::find(&arg).is_some());
    if scenario {
        let (file, text) = crate::scenario_text(Some(&arg))?;
        let sc = crate::simulation_scenario(&file, &text)?;
        let Some(at) = at else {
            return Ok(sc.nodes());
        };
        let t = orchsim_kernel::SimDuration::try_from_secs_f64(at)
            .ok_or_else(|| CliError(format!("--at {at}: expected a time in seconds, 0 or more")))?;
        if t > sc.duration {
            return Err(CliError(format!(
                "--at {at}: the scenario ends at {} s",
                sc.duration.as_secs_f64()
            )));
        }
        let cluster = orchsim_sim::cluster_at(&sc, t).map_err(|e| CliError(e.to_string()))?;
        return Ok(cluster.into_nodes());
    }
    if at.is_some() {
        return Err(CliError(format!(
            "--at needs a scenario for --nodes (a .toml file or an embedded name); {} is Kubernetes YAML",
            path.display()
        )));
    }
    let objs = load_objects(path)?;
    if objs.nodes.is_empty() {
        return Err(CliError(format!(
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

pub fn explain(args: ExplainArgs) -> Result<(), CliError> {
    if let Some(study) = &args.study {
        return crate::study::explain(
            study,
            args.policy.as_deref(),
            args.seed,
            args.after,
            args.top,
            args.format,
        );
    }
    let (Some(nodes_path), Some(pod_path)) = (&args.nodes, &args.pod) else {
        return Err(CliError(
            "--nodes and --pod are required (or --study)".into(),
        ));
    };
    let seed = args.seed.unwrap_or(0);
    let mut nodes = load_nodes(nodes_path, args.at)?;
    if let Some(p) = &args.pods {
        let objs = load_objects(p)?;
        let unbound = objects::bind_existing(&mut nodes, objs.pods, &objs.pod_nodes);
        if !unbound.is_empty() {
            eprintln!(
                "orchsim: note: {} pod(s) in {} are not bound to a listed node and were ignored",
                unbound.len(),
                p.display()
            );
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
            return Err(CliError(format!(
                "{}: expected exactly one Pod to place, found {n}",
                pod_path.display()
            )))
        }
    };

    let mut notes = Vec::new();
    let (decision, rows, to_find) = if args.scheduler == "kubernetes" {
        let profile = match &args.profile {
            Some(p) => {
                let loaded = config::parse(&read(p)?, None)
                    .map_err(|e| CliError(format!("{}: {e}", p.display())))?;
                notes = loaded.notes;
                loaded.profile
            }
            None => Profile::default(),
        };
        let mut s = KubeScheduler::new(profile, seed);
        let e = s.explain(&pod, &nodes);
        let rows = e.nodes.into_iter().map(|report| Row { report }).collect();
        (e.outcome.decision, rows, Some(e.nodes_to_find))
    } else {
        if args.profile.is_some() {
            return Err(CliError(
                "--profile applies to --scheduler kubernetes only".into(),
            ));
        }
        let mut s = orchsim_sched::by_name(&args.scheduler, seed)?;
        let decision = s.schedule(&pod, &nodes).decision;
        // Feasibility per node: the same algorithm on that node alone.
        let rows = nodes
            .iter()
            .map(|n| {
                let mut one = orchsim_sched::by_name(&args.scheduler, seed)?;
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
            .collect::<Result<Vec<_>, CliError>>()?;
        (decision, rows, None)
    };
    for n in &notes {
        eprintln!("orchsim: note: profile: {n}");
    }

    let chosen = match &decision {
        Decision::Bind { node: id, .. } | Decision::Preempt { node: id, .. } => {
            Some(nodes[id.0].name.clone())
        }
        Decision::Unschedulable(_) => None,
    };
    match args.format {
        Format::Json => {
            let v = to_json(
                &pod,
                &args.scheduler,
                &nodes,
                &rows,
                &decision,
                chosen,
                to_find,
                &notes,
            );
            outln!("{}", serde_json::to_string_pretty(&v)?)?;
        }
        Format::Table | Format::Csv => {
            let t = table(&nodes, &rows);
            if args.format == Format::Csv {
                out!("{}", String::from_utf8_lossy(&t.to_csv()))?;
            } else {
                outln!("pod {} with scheduler {}", pod.key(), args.scheduler)?;
                if let Some(k) = to_find {
                    outln!(
                        "nodes to find: {k} of {} (percentageOfNodesToScore)",
                        nodes.len()
                    )?;
                }
                out!("{}", t.to_text())?;
                outln!("{}", verdict(&decision, &nodes))?;
            }
        }
    }
    Ok(())
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

fn table(nodes: &[NodeInfo], rows: &[Row]) -> Table {
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
        // Width matches the header built above.
        let _ = t.push(row);
    }
    t
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
