//! `fit`: will an application fit on a cluster, and if not, why and what would make it. The
//! cluster is Kubernetes YAML (`kubectl get nodes,pods -o yaml`) or a scenario's hosts; the
//! application is Kubernetes manifests (workloads with pod templates, and bare Pods). Every
//! replica goes through the scheduler as `explain` runs it; what does not fit gets the
//! scheduler's own reason, and the cheapest number of nodes of one node type that would hold
//! it all.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use orchsim_report::{Cell, Table};
use orchsim_sched::kube::objects::{self, Workload};
use orchsim_sched::kube::{config, KubeScheduler, Profile};
use orchsim_sched::{Decision, NodeInfo, PodSpec, Scheduler};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::render::View;
use crate::source::Source;

/// The label that names a node's own topology domain.
const HOSTNAME: &str = "kubernetes.io/hostname";

/// Further replicas of one workload tried when counting how many more would fit.
pub const MAX_MORE: u32 = 10_000;
/// Nodes of one type added at most when looking for the cheapest scale-out.
pub const MAX_NEW_NODES: usize = 1_000;

/// What to fit.
#[derive(Clone, Debug)]
pub struct FitRequest {
    /// Kubernetes YAML with the nodes, or a scenario (file or embedded name).
    pub nodes: PathBuf,
    /// Pods already bound (`spec.nodeName`).
    pub pods: Option<PathBuf>,
    /// Manifests: YAML files, or directories of `*.yaml`/`*.yml`.
    pub manifests: Vec<PathBuf>,
    /// `kubernetes`, `swarm`, or a bin-packing algorithm.
    pub scheduler: String,
    /// A KubeSchedulerConfiguration for `kubernetes`.
    pub profile: Option<PathBuf>,
    pub seed: u64,
}

/// One workload's answer.
#[derive(Clone, Debug, Serialize)]
pub struct WorkloadFit {
    /// `Deployment default/web`.
    pub workload: String,
    /// Pods it asks for (a DaemonSet: the nodes that admit it).
    pub requested: u32,
    pub placed: u32,
    /// Further replicas that would fit after the whole application is placed (up to
    /// [`MAX_MORE`]); none for a DaemonSet.
    pub more: Option<u32>,
    /// The scheduler's reason for the first replica that did not fit.
    pub stopped_by: Option<String>,
}

/// Adding nodes of one type until everything fits.
#[derive(Clone, Debug, Serialize)]
pub struct ScaleOut {
    pub node_type: String,
    /// `None`: some pod fits on no node of this type.
    pub nodes: Option<usize>,
    pub cost_per_hour: Option<f64>,
    /// Why not, when `nodes` is `None`.
    pub why_not: Option<String>,
}

/// The whole answer (the JSON contract).
#[derive(Clone, Debug, Serialize)]
pub struct Fit {
    pub scheduler: String,
    pub nodes: usize,
    pub fits: bool,
    pub unplaced_pods: u64,
    pub workloads: Vec<WorkloadFit>,
    /// Each node type's answer, cheapest first; empty when everything fits.
    pub scale_out: Vec<ScaleOut>,
    /// Object kinds in the manifests that are not workloads, with their count.
    pub skipped_kinds: std::collections::BTreeMap<String, usize>,
}

/// The answer, the view of it and the notes worth telling.
pub struct Fitted {
    pub fit: Fit,
    pub view: View,
    pub notes: Vec<String>,
}

/// A kind of node the cluster can add: a template and its price.
struct NodeType {
    name: String,
    template: NodeInfo,
    cost_per_hour: f64,
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::bad_input(format!("cannot read {}: {e}", path.display())))
}

fn parse(path: &Path) -> Result<objects::Objects> {
    objects::parse(&read(path)?).map_err(|e| Error::bad_input(format!("{}: {e}", path.display())))
}

/// The cluster's nodes as they are (no pods yet) and the node types it could add.
fn cluster(path: &Path) -> Result<(Vec<NodeInfo>, Vec<NodeType>)> {
    let arg = path.to_string_lossy();
    let scenario = path.extension().is_some_and(|e| e == "toml")
        || ((!path.exists() || path.is_dir()) && crate::catalog::find(&arg).is_some());
    if scenario {
        let sc = Source::resolve(Some(&arg))?.simulation("fit --nodes")?;
        let mut nodes = Vec::new();
        let mut types = Vec::new();
        for g in &sc.hosts {
            let make = |name: String| {
                let mut n = NodeInfo::new(name, g.capacity);
                n.labels = g.labels.clone();
                n.site = g.site.clone();
                if let Some(m) = &g.gpu_model {
                    n.gpus = orchsim_sched::DeviceSet::of_model(m.clone());
                }
                n
            };
            // The hosts it starts with: an autoscaled group's initial count.
            for i in 0..g.count {
                nodes.push(make(format!("{}-{i}", g.name)));
            }
            types.push(NodeType {
                name: g.name.clone(),
                template: make(g.name.clone()),
                cost_per_hour: g.cost_per_hour,
            });
        }
        nodes.extend(sc.trace_nodes.iter().cloned());
        return Ok((nodes, types));
    }
    let objs = parse(path)?;
    if objs.nodes.is_empty() {
        return Err(Error::bad_input(format!(
            "{}: no Node objects found",
            path.display()
        )));
    }
    // Node types: the instance-type label where there is one, else each distinct shape.
    let mut types: Vec<NodeType> = Vec::new();
    for n in &objs.nodes {
        let name = n
            .labels
            .get("node.kubernetes.io/instance-type")
            .or_else(|| n.labels.get("beta.kubernetes.io/instance-type"))
            .cloned()
            .unwrap_or_else(|| {
                format!(
                    "{}m-{}Mi",
                    n.allocatable.cpu_milli,
                    n.allocatable.memory_bytes >> 20
                )
            });
        if !types.iter().any(|t| t.name == name) {
            let mut template = n.clone();
            template.unschedulable = false;
            types.push(NodeType {
                name,
                template,
                cost_per_hour: 0.0,
            });
        }
    }
    Ok((objs.nodes, types))
}

/// Makes the request's scheduler afresh (same seed, same profile) for each question asked.
struct Schedulers {
    name: String,
    seed: u64,
    /// The KubeSchedulerConfiguration's profile for `kubernetes`.
    profile: Option<Profile>,
}

impl Schedulers {
    /// Checks the request's scheduler and reads its profile once; returns the profile's notes.
    fn new(req: &FitRequest) -> Result<(Self, Vec<String>)> {
        let (profile, notes) = match (&req.profile, req.scheduler.as_str()) {
            (Some(p), "kubernetes") => {
                let loaded = config::parse(&read(p)?, None)
                    .map_err(|e| Error::bad_input(format!("{}: {e}", p.display())))?;
                (Some(loaded.profile), loaded.notes)
            }
            (Some(_), _) => {
                return Err(Error::bad_input(
                    "--profile applies to --scheduler kubernetes only",
                ))
            }
            (None, "kubernetes") => (Some(Profile::default()), Vec::new()),
            (None, other) => {
                // An unknown name is refused here, with the catalog.
                orchsim_sched::by_name(other, req.seed)?;
                (None, Vec::new())
            }
        };
        let s = Schedulers {
            name: req.scheduler.clone(),
            seed: req.seed,
            profile,
        };
        Ok((s, notes))
    }

    fn make(&self) -> Box<dyn Scheduler + Send> {
        match &self.profile {
            Some(p) => Box::new(KubeScheduler::new(p.clone(), self.seed)),
            None => orchsim_sched::by_name(&self.name, self.seed)
                .unwrap_or_else(|_| unreachable!("checked in Schedulers::new")),
        }
    }
}

/// Binds `pod` where the scheduler puts it, or returns the scheduler's reason.
fn place(
    s: &mut dyn Scheduler,
    nodes: &mut Vec<NodeInfo>,
    pod: PodSpec,
) -> std::result::Result<(), String> {
    match s.schedule(&pod, &*nodes).decision {
        Decision::Bind { node, devices } => {
            nodes[node.0].add_pod_on(Arc::new(pod), devices);
            Ok(())
        }
        Decision::Preempt { why, victims, .. } => Err(format!(
            "{why} (it would fit by preempting {})",
            victims.join(", ")
        )),
        Decision::Unschedulable(why) => Err(why.to_string()),
    }
}

/// The DaemonSets' pods for the node at `index`: placed where they fit; returns (wanted,
/// placed, first reason) per DaemonSet in `daemons`. A DaemonSet wants a pod only on nodes
/// its controller would create one on ([`Workload::daemon_pod`]).
fn place_daemons(
    s: &mut dyn Scheduler,
    nodes: &mut [NodeInfo],
    index: usize,
    daemons: &[&Workload],
) -> Vec<(bool, bool, Option<String>)> {
    daemons
        .iter()
        .map(|w| {
            let Some(pod) = w.daemon_pod(&nodes[index]) else {
                return (false, false, None);
            };
            // The node alone: every scheduler then answers for it, and the reason is its own.
            let mut one = vec![nodes[index].clone()];
            match place(s, &mut one, pod) {
                Ok(()) => {
                    nodes[index] = one.remove(0);
                    (true, true, None)
                }
                Err(why) => (true, false, Some(why)),
            }
        })
        .collect()
}

/// Places `w`'s replicas in order until one does not fit; that one and the rest go to
/// `unplaced`.
fn place_replicas<'w>(
    s: &mut dyn Scheduler,
    nodes: &mut Vec<NodeInfo>,
    w: &'w Workload,
    a: &mut WorkloadFit,
    unplaced: &mut Vec<(&'w Workload, u32, u32)>,
) {
    for i in 0..w.pods {
        let pod = if w.kind == "Pod" {
            w.template.clone()
        } else {
            w.replica(i)
        };
        match place(s, nodes, pod) {
            Ok(()) => a.placed += 1,
            Err(why) => {
                // Nothing changed since: the next replicas would be refused alike.
                a.stopped_by = Some(why);
                unplaced.push((w, i, w.pods - i));
                break;
            }
        }
    }
}

/// Fits the manifests on the cluster.
pub fn fit(req: &FitRequest) -> Result<Fitted> {
    let (mut nodes, types) = cluster(&req.nodes)?;
    let mut notes = Vec::new();
    // Running pods: --pods, else those of a snapshot given as --nodes.
    let pods_from = req.pods.clone().or_else(|| {
        let yaml = req
            .nodes
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json");
        yaml.then(|| req.nodes.clone())
    });
    // Pods of the snapshot that wait for a node: placed first, as `orchsim run` of the
    // snapshot does (before the manifests' DaemonSets).
    let mut workloads: Vec<Workload> = Vec::new();
    // Every file's PriorityClasses, before any pods are admitted (kubectl applies a
    // directory in name order, and a Deployment's pods come after its class anyway).
    let files = crate::net_policy::yaml_files(&req.manifests)?;
    let mut classes = Vec::new();
    for f in pods_from.iter().chain(&files) {
        for c in objects::scan_priority_classes(&read(f)?) {
            if !classes.contains(&c) {
                classes.push(c);
            }
        }
    }
    if let Some(p) = &pods_from {
        let objs = objects::parse_with_classes(&read(p)?, &classes)
            .map_err(|e| Error::bad_input(format!("{}: {e}", p.display())))?;
        let unbound = objects::bind_existing(&mut nodes, objs.pods, &objs.pod_nodes);
        if !unbound.is_empty() {
            notes.push(format!(
                "{} pod(s) in {} are not bound to a listed node: placed first",
                unbound.len(),
                p.display()
            ));
        }
        for mut p in unbound {
            // Bound to a node not listed: the scheduler places it anew.
            p.node_name = None;
            workloads.push(Workload::of_pod(p));
        }
    }
    let pending = workloads.len();
    let mut skipped = std::collections::BTreeMap::new();
    for f in files {
        let name = f.display().to_string();
        let objs = orchsim_sim::import::manifests::read(&name, &read(&f)?, &classes)
            .map_err(|e| Error::bad_input(e.to_string()))?;
        workloads.extend(objs.workloads);
        // A bare Pod is a workload of one.
        for (p, _) in objs.pods {
            workloads.push(Workload::of_pod(p));
        }
        for (k, n) in objs.skipped {
            *skipped.entry(k).or_default() += n;
        }
        if objs.nodes > 0 {
            notes.push(format!(
                "{}: {} Node object(s) in the manifests were ignored (the cluster is --nodes)",
                f.display(),
                objs.nodes
            ));
        }
    }
    if workloads.is_empty() {
        return Err(Error::bad_input(
            "--manifests: no workloads found (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob or Pod; compose services, docker service create lines, Marathon apps)",
        ));
    }
    if !skipped.is_empty() {
        notes.push(format!(
            "not workloads, skipped: {}",
            skipped
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let (schedulers, profile_notes) = Schedulers::new(req)?;
    let mut s = schedulers.make();
    notes.extend(profile_notes.iter().map(|n| format!("profile: {n}")));

    // DaemonSets first (their pods exist on every node before anything is scaled), then the
    // rest in manifest order, replica by replica.
    let daemons: Vec<&Workload> = workloads.iter().filter(|w| w.per_node()).collect();
    let mut answers: Vec<WorkloadFit> = workloads
        .iter()
        .map(|w| WorkloadFit {
            workload: w.key(),
            requested: w.pods,
            placed: 0,
            more: None,
            stopped_by: None,
        })
        .collect();
    let daemon_index: Vec<usize> = workloads
        .iter()
        .enumerate()
        .filter(|(_, w)| w.per_node())
        .map(|(i, _)| i)
        .collect();
    // What did not fit: each workload's first replica that did not, and how many of it.
    let mut first_unplaced: Vec<(&Workload, u32, u32)> = Vec::new();
    for (w, a) in workloads.iter().zip(&mut answers).take(pending) {
        place_replicas(s.as_mut(), &mut nodes, w, a, &mut first_unplaced);
    }
    for n in 0..nodes.len() {
        for (d, (wanted, placed, why)) in place_daemons(s.as_mut(), &mut nodes, n, &daemons)
            .into_iter()
            .enumerate()
        {
            let a = &mut answers[daemon_index[d]];
            a.requested += wanted as u32;
            a.placed += placed as u32;
            if a.stopped_by.is_none() {
                a.stopped_by = why;
            }
        }
    }
    let mut unplaced = first_unplaced;
    for (w, a) in workloads.iter().zip(&mut answers).skip(pending) {
        if !w.per_node() {
            place_replicas(s.as_mut(), &mut nodes, w, a, &mut unplaced);
        }
    }
    // How many more of each would fit on what is left.
    for (w, a) in workloads.iter().zip(&mut answers) {
        if w.per_node() {
            continue;
        }
        let mut left = nodes.clone();
        let mut extra = schedulers.make();
        let mut more = 0;
        while more < MAX_MORE {
            if place(extra.as_mut(), &mut left, w.replica(w.pods + more)).is_err() {
                break;
            }
            more += 1;
        }
        a.more = Some(more);
    }
    let unplaced_pods = answers
        .iter()
        .map(|a| (a.requested - a.placed) as u64)
        .sum::<u64>();
    let daemons_short = answers
        .iter()
        .zip(&workloads)
        .any(|(a, w)| w.per_node() && a.placed < a.requested);
    let scale_out = if unplaced_pods == 0 {
        Vec::new()
    } else if daemons_short {
        // New nodes do not make room on the nodes a DaemonSet's pods are pinned to.
        types
            .iter()
            .map(|t| ScaleOut {
                node_type: t.name.clone(),
                nodes: None,
                cost_per_hour: None,
                why_not: Some(
                    "a DaemonSet's (or global service's) pods do not fit on existing nodes; more nodes do not help"
                        .into(),
                ),
            })
            .collect()
    } else {
        let mut v: Vec<ScaleOut> = types
            .iter()
            .map(|t| scale_out(&schedulers, &nodes, t, &daemons, &unplaced))
            .collect::<Result<_>>()?;
        v.sort_by(|a, b| {
            let key = |x: &ScaleOut| (x.nodes.is_none(), x.cost_per_hour.unwrap_or(f64::MAX));
            let (ka, kb) = (key(a), key(b));
            ka.0.cmp(&kb.0)
                .then(ka.1.total_cmp(&kb.1))
                .then(a.nodes.cmp(&b.nodes))
        });
        v
    };
    let fit = Fit {
        scheduler: req.scheduler.clone(),
        nodes: nodes.len(),
        fits: unplaced_pods == 0,
        unplaced_pods,
        workloads: answers,
        scale_out,
        skipped_kinds: skipped,
    };
    let view = view(&fit)?;
    Ok(Fitted { fit, view, notes })
}

/// Adds nodes of type `t` one at a time (each gets the DaemonSets' pods first) until every
/// unplaced pod fits.
fn scale_out(
    schedulers: &Schedulers,
    nodes: &[NodeInfo],
    t: &NodeType,
    daemons: &[&Workload],
    unplaced: &[(&Workload, u32, u32)],
) -> Result<ScaleOut> {
    let mut s = schedulers.make();
    let mut nodes = nodes.to_vec();
    let mut added = 0usize;
    let add = |s: &mut dyn Scheduler, nodes: &mut Vec<NodeInfo>, added: &mut usize| {
        *added += 1;
        let mut n = t.template.clone();
        n.name = format!("{}-new-{}", t.name, *added);
        // A node of its own: the hostname topology (anti-affinity, spread) must not make it
        // the template's twin.
        if n.labels.contains_key(HOSTNAME) {
            n.labels.insert(HOSTNAME.into(), n.name.clone());
        }
        nodes.push(n);
        let i = nodes.len() - 1;
        place_daemons(s, nodes, i, daemons)
    };
    let mut why_not = None;
    let pods = unplaced
        .iter()
        .flat_map(|&(w, first, n)| (first..first + n).map(move |i| w.replica(i)));
    for pod in pods {
        let mut tried_fresh = false;
        loop {
            match place(s.as_mut(), &mut nodes, pod.clone()) {
                Ok(()) => break,
                Err(why) => {
                    if tried_fresh || added >= MAX_NEW_NODES {
                        why_not = Some(if added >= MAX_NEW_NODES {
                            format!("more than {MAX_NEW_NODES} nodes")
                        } else {
                            format!(
                                "{} does not fit on an empty {}: {why}",
                                if pod.namespace.is_empty() {
                                    pod.name.clone()
                                } else {
                                    pod.key()
                                },
                                t.name
                            )
                        });
                        break;
                    }
                    add(s.as_mut(), &mut nodes, &mut added);
                    tried_fresh = true;
                }
            }
        }
        if why_not.is_some() {
            break;
        }
    }
    Ok(match why_not {
        Some(w) => ScaleOut {
            node_type: t.name.clone(),
            nodes: None,
            cost_per_hour: None,
            why_not: Some(w),
        },
        None => ScaleOut {
            node_type: t.name.clone(),
            nodes: Some(added),
            cost_per_hour: Some(added as f64 * t.cost_per_hour),
            why_not: None,
        },
    })
}

fn view(f: &Fit) -> Result<View> {
    let mut t = Table::new(["workload", "requested", "placed", "more", "stopped_by"]);
    for w in &f.workloads {
        t.push(vec![
            w.workload.as_str().into(),
            Cell::UInt(w.requested as u64),
            Cell::UInt(w.placed as u64),
            w.more.map_or(Cell::Empty, |m| Cell::UInt(m as u64)),
            w.stopped_by.clone().map_or(Cell::Empty, Cell::from),
        ])?;
    }
    let mut v = View::of(t);
    v.json_text = Some(serde_json::to_string_pretty(f)?);
    v.before.push(format!(
        "{} workload(s) on {} node(s) with scheduler {}",
        f.workloads.len(),
        f.nodes,
        f.scheduler
    ));
    if f.fits {
        v.after.push("fits: every pod has a node".into());
    } else {
        v.after.push(format!(
            "does not fit: {} pod(s) without a node",
            f.unplaced_pods
        ));
        for s in &f.scale_out {
            v.after.push(match (s.nodes, s.cost_per_hour) {
                (Some(n), Some(c)) if c > 0.0 => {
                    format!("  add {n} × {}: {c:.3} per hour", s.node_type)
                }
                (Some(n), _) => format!("  add {n} × {}", s.node_type),
                _ => format!(
                    "  {}: cannot ({})",
                    s.node_type,
                    s.why_not.as_deref().unwrap_or("")
                ),
            });
        }
    }
    Ok(v)
}
