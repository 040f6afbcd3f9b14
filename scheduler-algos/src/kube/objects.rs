//! Kubernetes `v1.Node` and `v1.Pod` objects, as `kubectl get nodes,pods -o yaml` prints them
//! (a `kind: List` with `items`, or a multi-document stream), turned into [`NodeInfo`] and
//! [`PodSpec`]; and the workload objects that hold pod templates (Deployment, ReplicaSet,
//! StatefulSet, DaemonSet, Job, CronJob) as [`Workload`]s. Fields a live cluster adds and the scheduler ignores (status conditions,
//! managedFields, images, ...) are ignored; fields the scheduler reads are parsed strictly, and
//! errors name the document, the object and the field.
//!
//! Pod requests follow k8s.io/component-helpers `resource.PodRequests` (v1.33): containers
//! summed (with restartable init containers), the max with each init container plus the
//! sidecars before it, plus `spec.overhead`; quantities are summed exactly and rounded up once.
//!
//! A pod's priority is what the priority admission plugin gives it: its PriorityClass's value
//! (PriorityClass objects in the stream or read before it, and the two built-in system
//! classes), the global default class's without a class name ([`Objects::admit_priorities`]).
//!
//! A pod's runtime in a simulation comes from the annotation [`RUN_FOR_ANNOTATION`]
//! (`orchsim.io/run-for-s: "600"`, seconds): without it a pod runs until the end.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde_yaml_ng::{Mapping, Value};

use super::yaml::{get, join};

use crate::labels::*;
use crate::model::*;

use super::quantity::{parse_quantity, Quantity};

/// The annotation that gives a pod (or a workload's pod template) its runtime in a
/// simulation, in seconds: a positive number, as a string (annotations are strings).
pub const RUN_FOR_ANNOTATION: &str = "orchsim.io/run-for-s";

/// An object that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectError {
    /// 1-based document number in the stream.
    pub document: usize,
    /// `Pod default/web-1`, `Node worker-3`, or `items[4]` when the name is unknown.
    pub object: String,
    pub field: String,
    pub message: String,
    /// YAML syntax error position (1-based), when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl fmt::Display for ObjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, "{l}:{c}: ")?;
        }
        write!(f, "document {}", self.document)?;
        if !self.object.is_empty() {
            write!(f, ", {}", self.object)?;
        }
        if !self.field.is_empty() {
            write!(f, ": `{}`", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ObjectError {}

/// Nodes and pods read from a stream, in input order.
#[derive(Clone, Debug, Default)]
pub struct Objects {
    pub nodes: Vec<NodeInfo>,
    pub pods: Vec<PodSpec>,
    /// `spec.nodeName` of each pod in `pods` (same index).
    pub pod_nodes: Vec<Option<String>>,
    /// `status.podIP` of each pod in `pods` when it has an IPv4 one (same index).
    pub pod_ips: Vec<Option<std::net::Ipv4Addr>>,
    /// Each pod's [`RUN_FOR_ANNOTATION`], in seconds (same index).
    pub pod_run_for_s: Vec<Option<f64>>,
    /// Namespaces and their labels, from `kind: Namespace` objects (what NetworkPolicy's
    /// `namespaceSelector` reads).
    pub namespaces: Vec<(String, Labels)>,
    /// Objects with a pod template, in input order.
    pub workloads: Vec<Workload>,
    /// Kinds read and not used here (`Service`, `ConfigMap`, ...), with how many of each.
    pub skipped: BTreeMap<String, usize>,
    /// PriorityClass objects, in input order.
    pub priority_classes: Vec<PriorityClass>,
    /// What each pod in `pods` asks of the priority admission plugin (same index).
    pub pod_priority: Vec<PriorityRequest>,
}

/// A `scheduling.k8s.io/v1` PriorityClass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriorityClass {
    pub name: String,
    pub value: i32,
    pub global_default: bool,
    /// `preemptionPolicy: Never`.
    pub never_preempt: bool,
}

/// The highest value a user's PriorityClass may take (pkg/apis/scheduling/types.go
/// `HighestUserDefinablePriority`).
pub const HIGHEST_USER_DEFINABLE_PRIORITY: i32 = 1_000_000_000;

/// The built-in classes (pkg/apis/scheduling/types.go: `SystemCriticalPriority` = 2 ×
/// HighestUserDefinablePriority for `system-cluster-critical`, 1000 more for
/// `system-node-critical`).
pub fn system_priority_classes() -> [PriorityClass; 2] {
    let class = |name: &str, value: i32| PriorityClass {
        name: name.into(),
        value,
        global_default: false,
        never_preempt: false,
    };
    [
        class(
            "system-cluster-critical",
            2 * HIGHEST_USER_DEFINABLE_PRIORITY,
        ),
        class(
            "system-node-critical",
            2 * HIGHEST_USER_DEFINABLE_PRIORITY + 1000,
        ),
    ]
}

/// What a pod's spec says about its priority, kept until the PriorityClasses are known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PriorityRequest {
    pub document: usize,
    pub object: String,
    /// Where the pod's spec is (`spec`, `spec.template.spec`).
    pub field: String,
    /// `spec.priorityClassName`.
    pub class: Option<String>,
    /// `spec.priority`.
    pub priority: Option<i32>,
    /// `spec.preemptionPolicy`.
    pub preemption_policy: Option<String>,
}

impl Objects {
    /// The priority admission plugin (plugin/pkg/admission/priority `admitPod`, v1.33) on
    /// every pod and pod template read, with the classes read before this stream
    /// (`earlier`), this stream's and the built-in ones: a class name gives that class's
    /// value (a `spec.priority` that differs is refused), no name the global default class's
    /// (the lowest, if several) or 0; the class's preemption policy unless the pod gives one
    /// (a different one is refused). Kept lenient where a real cluster's dump needs it: a
    /// pod with `spec.priority` and no class name keeps it, and so does a pod naming a class
    /// the input lacks (`kubectl get nodes,pods` prints no classes; its pods were admitted).
    pub fn admit_priorities(&mut self, earlier: &[PriorityClass]) -> Result<(), ObjectError> {
        let mut classes: Vec<PriorityClass> = system_priority_classes().into();
        for c in earlier.iter().chain(&self.priority_classes) {
            // The same class in two files (a dump of the cluster's, and the manifests') is
            // one class; two different ones under one name, or two defaults, are not.
            let clash = |why: String| ObjectError {
                document: 0,
                object: format!("PriorityClass {}", c.name),
                field: String::new(),
                message: why,
                line: None,
                column: None,
            };
            match classes.iter().find(|x| x.name == c.name) {
                Some(x) if x == c => continue,
                Some(x) => {
                    return Err(clash(format!(
                        "defined twice differently (value {} and {})",
                        x.value, c.value
                    )))
                }
                None => {}
            }
            if let Some(d) = classes
                .iter()
                .find(|x| x.global_default && c.global_default)
            {
                return Err(clash(format!(
                    "only one default can exist: `{}` is one already",
                    d.name
                )));
            }
            classes.push(c.clone());
        }
        let default = classes
            .iter()
            .filter(|c| c.global_default)
            .min_by_key(|c| c.value);
        for (pod, req) in self.pods.iter_mut().zip(&self.pod_priority) {
            admit(pod, req, &classes, default)?;
        }
        for w in &mut self.workloads {
            admit(&mut w.template, &w.priority, &classes, default)?;
        }
        Ok(())
    }
}

fn admit(
    pod: &mut PodSpec,
    req: &PriorityRequest,
    classes: &[PriorityClass],
    default: Option<&PriorityClass>,
) -> Result<(), ObjectError> {
    let err = |field: &str, message: String| ObjectError {
        document: req.document,
        object: req.object.clone(),
        field: join(&req.field, field),
        message,
        line: None,
        column: None,
    };
    let class = match (&req.class, req.priority) {
        (Some(name), given) => match classes.iter().find(|c| c.name == *name) {
            Some(c) => Some(c),
            None if given.is_some() => None,
            None => {
                return Err(err(
                    "priorityClassName",
                    format!("no PriorityClass `{name}` was found: give its object in this file or one read before it (`kubectl get priorityclasses -o yaml`)"),
                ))
            }
        },
        (None, None) => default,
        (None, Some(_)) => None,
    };
    let Some(class) = class else {
        return Ok(());
    };
    if let Some(p) = req.priority.filter(|p| *p != class.value) {
        return Err(err(
            "priority",
            format!(
                "the integer value of priority ({p}) must not be provided in pod spec; priority admission controller computed {} from PriorityClass `{}`",
                class.value, class.name
            ),
        ));
    }
    pod.priority = class.value;
    let computed = if class.never_preempt {
        "Never"
    } else {
        "PreemptLowerPriority"
    };
    match req.preemption_policy.as_deref() {
        None => pod.never_preempt = class.never_preempt,
        Some(p) if p != computed => {
            return Err(err(
                "preemptionPolicy",
                format!("the string value of PreemptionPolicy ({p}) must not be provided in pod spec; priority admission controller computed {computed} from PriorityClass `{}`", class.name),
            ))
        }
        Some(_) => {}
    }
    Ok(())
}

/// What a workload object asks for: `pods` copies of `template` (a DaemonSet: one per node
/// that admits it, `pods` is 0).
#[derive(Clone, Debug)]
pub struct Workload {
    /// `Deployment`, `ReplicaSet`, `StatefulSet`, `DaemonSet`, `Job`, `CronJob`.
    pub kind: String,
    pub name: String,
    pub namespace: String,
    /// `spec.replicas` (default 1); a Job's `parallelism` (default 1), a CronJob's job's.
    pub pods: u32,
    /// The pod template as a pod named after the workload, owned by it.
    pub template: PodSpec,
    /// The template's [`RUN_FOR_ANNOTATION`], in seconds.
    pub run_for_s: Option<f64>,
    /// What the template asks of the priority admission plugin.
    pub priority: PriorityRequest,
    /// A CronJob's schedule and policies.
    pub cron: Option<CronSpec>,
}

/// What a CronJob's spec says about when its Jobs run (batch/v1 `CronJobSpec`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronSpec {
    pub schedule: super::cron::Schedule,
    /// `spec.suspend`: no runs.
    pub suspend: bool,
    /// `spec.startingDeadlineSeconds`: a run started later than this after its time is
    /// missed.
    pub starting_deadline_s: Option<i64>,
    pub concurrency: ConcurrencyPolicy,
}

/// `spec.concurrencyPolicy` (default `Allow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConcurrencyPolicy {
    Allow,
    /// Skip a run while the previous one is running.
    Forbid,
    /// A run deletes the previous one's pods still running.
    Replace,
}

impl Workload {
    /// `Deployment default/web`; `Swarm service web` for a workload without a namespace.
    pub fn key(&self) -> String {
        if self.namespace.is_empty() {
            format!("{} {}", self.kind, self.name)
        } else {
            format!("{} {}/{}", self.kind, self.namespace, self.name)
        }
    }

    /// A bare Pod as a workload of one.
    pub fn of_pod(pod: PodSpec) -> Workload {
        Workload {
            kind: "Pod".into(),
            name: pod.name.clone(),
            namespace: pod.namespace.clone(),
            pods: 1,
            template: pod,
            run_for_s: None,
            priority: PriorityRequest::default(),
            cron: None,
        }
    }

    /// Whether it asks for a pod on every node that admits it (a DaemonSet, a Swarm global
    /// service) rather than a number of replicas.
    pub fn per_node(&self) -> bool {
        self.kind == "DaemonSet" || self.kind == "Swarm global service"
    }

    /// Replica `i`: the template named `<name>-<i>`.
    pub fn replica(&self, i: u32) -> PodSpec {
        let mut p = self.template.clone();
        p.name = format!("{}-{i}", self.name);
        p
    }

    /// The DaemonSet's (or Swarm global service's) pod for `node`, if its controller would
    /// create one there
    /// (pkg/controller/daemon `NodeShouldRunDaemonPod`: the pod's node selector and required
    /// node affinity match the node, and its taints with effect NoSchedule or NoExecute are
    /// tolerated, counting the tolerations the controller adds). The pod is named
    /// `<daemonset>-<node>` and asks for the node by name, as the controller's pods do.
    pub fn daemon_pod(&self, node: &NodeInfo) -> Option<PodSpec> {
        let mut pod = self.template.clone();
        daemon_tolerations(&mut pod);
        let selector = pod
            .node_selector
            .iter()
            .all(|(k, v)| node.labels.get(k) == Some(v));
        let affinity = pod
            .node_affinity
            .required
            .as_ref()
            .is_none_or(|terms| terms.iter().any(|t| t.matches(&node.name, &node.labels)));
        let taints = node
            .taints
            .iter()
            .all(|t| t.effect == TaintEffect::PreferNoSchedule || tolerated(&pod.tolerations, t));
        let admitted = if self.kind == "DaemonSet" {
            selector && affinity && taints
        } else {
            // A Swarm global service's orchestrator: its placement constraints, on nodes that
            // take tasks (a paused or drained node, here cordoned, takes none).
            !node.unschedulable && crate::swarm::node_matches(&pod.swarm.constraints, node)
        };
        if !admitted {
            return None;
        }
        pod.name = format!("{}-{}", self.name, node.name);
        pod.node_name = Some(node.name.clone());
        Some(pod)
    }
}

/// The tolerations the DaemonSet controller adds to its pods (pkg/controller/daemon/util
/// `AddOrUpdateDaemonPodTolerations`): not-ready and unreachable (NoExecute), disk, memory
/// and PID pressure and unschedulable (NoSchedule).
fn daemon_tolerations(pod: &mut PodSpec) {
    for (key, effect) in [
        ("node.kubernetes.io/not-ready", TaintEffect::NoExecute),
        ("node.kubernetes.io/unreachable", TaintEffect::NoExecute),
        ("node.kubernetes.io/disk-pressure", TaintEffect::NoSchedule),
        (
            "node.kubernetes.io/memory-pressure",
            TaintEffect::NoSchedule,
        ),
        ("node.kubernetes.io/pid-pressure", TaintEffect::NoSchedule),
        ("node.kubernetes.io/unschedulable", TaintEffect::NoSchedule),
    ] {
        pod.tolerations.push(Toleration {
            key: key.into(),
            op: TolerationOp::Exists,
            value: String::new(),
            effect: Some(effect),
        });
    }
}

/// The PriorityClasses in `text`, nothing admitted (for reading every file's classes before
/// any pods). Up to the first document that is not a Kubernetes object (a compose file, a
/// mistake): the file's own read reports that, located.
pub fn scan_priority_classes(text: &str) -> Vec<PriorityClass> {
    let mut out = Objects::default();
    for (d, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let read = Value::deserialize(doc)
            .ok()
            .and_then(|v| read_value(&v, d + 1, &mut out).ok());
        if read.is_none() {
            break;
        }
    }
    out.priority_classes
}

/// Reads every Node and Pod in `text`; other kinds are skipped. Pods' priorities are
/// admitted against the stream's PriorityClasses ([`parse_with_classes`] for classes read
/// before it).
pub fn parse(text: &str) -> Result<Objects, ObjectError> {
    parse_with_classes(text, &[])
}

/// [`parse`], with the PriorityClasses of files read before this one.
pub fn parse_with_classes(text: &str, earlier: &[PriorityClass]) -> Result<Objects, ObjectError> {
    let mut out = Objects::default();
    for (d, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let document = d + 1;
        let value = Value::deserialize(doc).map_err(|e| {
            let loc = e.location();
            ObjectError {
                document,
                object: String::new(),
                field: String::new(),
                message: format!("invalid YAML: {e}"),
                line: loc.as_ref().map(|l| l.line()),
                column: loc.as_ref().map(|l| l.column()),
            }
        })?;
        read_value(&value, document, &mut out)?;
    }
    out.admit_priorities(earlier)?;
    Ok(out)
}

/// Reads the objects in one already parsed document (number `document` in its stream) into
/// `out`: what [`parse`] does for each document, for callers that hold the object as a
/// value (a watch event's `object`). Priorities are not admitted yet
/// ([`Objects::admit_priorities`]).
pub fn read_value(value: &Value, document: usize, out: &mut Objects) -> Result<(), ObjectError> {
    if value.is_null() {
        return Ok(());
    }
    let mut ctx = Ctx {
        document,
        object: String::new(),
    };
    ctx.object(value, "", out)
}

struct Ctx {
    document: usize,
    object: String,
}

impl Ctx {
    fn err(&self, field: &str, message: impl Into<String>) -> ObjectError {
        ObjectError {
            document: self.document,
            object: self.object.clone(),
            field: field.to_string(),
            message: message.into(),
            line: None,
            column: None,
        }
    }

    fn map<'a>(&self, v: &'a Value, field: &str) -> Result<&'a Mapping, ObjectError> {
        v.as_mapping()
            .ok_or_else(|| self.err(field, "expected a mapping"))
    }

    fn seq<'a>(&self, v: Option<&'a Value>, field: &str) -> Result<&'a [Value], ObjectError> {
        match v {
            None => Ok(&[]),
            Some(v) => v
                .as_sequence()
                .map(|s| s.as_slice())
                .ok_or_else(|| self.err(field, "expected a list")),
        }
    }

    /// A boolean field, false when absent.
    fn boolean(&self, v: Option<&Value>, field: &str) -> Result<bool, ObjectError> {
        match v {
            None => Ok(false),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| self.err(field, "expected true or false")),
        }
    }

    fn string(&self, v: Option<&Value>, field: &str) -> Result<Option<String>, ObjectError> {
        match v {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            // YAML scalars such as `true` or `5` are strings in label maps and the like.
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(self.err(field, "expected a string")),
        }
    }

    fn int(&self, v: Option<&Value>, field: &str) -> Result<Option<i64>, ObjectError> {
        match v {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.err(field, "expected an integer")),
        }
    }

    /// An integer field that must fit in `lo..=hi` (the API's int32 fields).
    fn int32(
        &self,
        v: Option<&Value>,
        field: &str,
        lo: i32,
        hi: i32,
    ) -> Result<Option<i32>, ObjectError> {
        match self.int(v, field)? {
            None => Ok(None),
            Some(x) => i32::try_from(x)
                .ok()
                .filter(|x| (lo..=hi).contains(x))
                .map(Some)
                .ok_or_else(|| {
                    self.err(
                        field,
                        format!("expected an integer between {lo} and {hi}, found {x}"),
                    )
                }),
        }
    }

    fn string_map(&self, v: Option<&Value>, field: &str) -> Result<Labels, ObjectError> {
        let mut out = Labels::new();
        if let Some(v) = v {
            for (k, val) in self.map(v, field)? {
                let key = self
                    .string(Some(k), field)?
                    .ok_or_else(|| self.err(field, "expected string keys"))?;
                let value = self
                    .string(Some(val), &join(field, &key))?
                    .unwrap_or_default();
                out.insert(key, value);
            }
        }
        Ok(out)
    }

    fn quantity(&self, v: &Value, field: &str) -> Result<Quantity, ObjectError> {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Err(self.err(field, "expected a quantity such as `500m`, `2Gi` or `1.5`")),
        };
        let q = parse_quantity(&text)
            .map_err(|e| self.err(field, format!("invalid quantity `{text}`: {e}")))?;
        if q.is_negative() {
            return Err(self.err(
                field,
                format!("expected a non-negative quantity, found `{text}`"),
            ));
        }
        Ok(q)
    }

    /// A resource list (`requests`, `allocatable`, `overhead`) as exact quantities by name.
    fn resource_list(
        &self,
        v: Option<&Value>,
        field: &str,
    ) -> Result<BTreeMap<String, Quantity>, ObjectError> {
        let mut out = BTreeMap::new();
        if let Some(v) = v {
            for (k, q) in self.map(v, field)? {
                let name = self
                    .string(Some(k), field)?
                    .ok_or_else(|| self.err(field, "expected resource names"))?;
                out.insert(name.clone(), self.quantity(q, &join(field, &name))?);
            }
        }
        Ok(out)
    }

    fn object(&mut self, v: &Value, path: &str, out: &mut Objects) -> Result<(), ObjectError> {
        let m = self.map(v, path)?;
        let kind = self
            .string(get(m, "kind"), &join(path, "kind"))?
            .unwrap_or_default();
        match kind.as_str() {
            "List" | "NodeList" | "PodList" | "NamespaceList" => {
                for (i, item) in self
                    .seq(get(m, "items"), &join(path, "items"))?
                    .iter()
                    .enumerate()
                {
                    self.object = String::new();
                    self.object(
                        item,
                        &format!("{}items[{i}]", if path.is_empty() { "" } else { "." }),
                        out,
                    )?;
                }
                Ok(())
            }
            "Node" => {
                let n = self.node(m)?;
                // The API server holds one object per name: two would be two dumps mixed.
                if out.nodes.iter().any(|x| x.name == n.name) {
                    return Err(self.err(
                        "metadata.name",
                        format!("expected each Node once, `{}` appears twice", n.name),
                    ));
                }
                out.nodes.push(n);
                Ok(())
            }
            "Pod" => {
                let (p, node, run_for_s, priority) = self.pod(m)?;
                if out.pods.iter().any(|x| x.key() == p.key()) {
                    return Err(self.err(
                        "metadata.name",
                        format!("expected each Pod once, `{}` appears twice", p.key()),
                    ));
                }
                // Terminated pods hold no resources.
                let status = get(m, "status").and_then(|s| s.as_mapping());
                let phase = status.and_then(|s| get(s, "phase")).and_then(Value::as_str);
                let ip = match self.string(status.and_then(|s| get(s, "podIP")), "status.podIP")? {
                    None => None,
                    Some(s) => match s.parse::<std::net::IpAddr>() {
                        Ok(std::net::IpAddr::V4(a)) => Some(a),
                        // An IPv6 pod: what reads IPv4 addresses sees none.
                        Ok(std::net::IpAddr::V6(_)) => None,
                        Err(_) => {
                            return Err(self.err(
                                "status.podIP",
                                format!("expected an IP address, found `{s}`"),
                            ))
                        }
                    },
                };
                if !matches!(phase, Some("Succeeded" | "Failed")) {
                    out.pods.push(p);
                    out.pod_nodes.push(node);
                    out.pod_ips.push(ip);
                    out.pod_run_for_s.push(run_for_s);
                    out.pod_priority.push(priority);
                }
                Ok(())
            }
            "PriorityClass" => {
                let c = self.priority_class(m)?;
                if out.priority_classes.iter().any(|x| x.name == c.name) {
                    return Err(self.err(
                        "metadata.name",
                        format!(
                            "expected each PriorityClass once, `{}` appears twice",
                            c.name
                        ),
                    ));
                }
                if let Some(d) = out
                    .priority_classes
                    .iter()
                    .find(|x| x.global_default && c.global_default)
                {
                    return Err(self.err(
                        "globalDefault",
                        format!("only one default can exist: `{}` is one already", d.name),
                    ));
                }
                out.priority_classes.push(c);
                Ok(())
            }
            "Namespace" => {
                let (name, _, labels) = self.metadata(m, "Namespace")?;
                if out.namespaces.iter().any(|(n, _)| *n == name) {
                    return Err(self.err(
                        "metadata.name",
                        format!("expected each Namespace once, `{name}` appears twice"),
                    ));
                }
                out.namespaces.push((name, labels));
                Ok(())
            }
            "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Job" | "CronJob" => {
                let w = self.workload(&kind, m)?;
                if out
                    .workloads
                    .iter()
                    .any(|x| x.kind == w.kind && x.namespace == w.namespace && x.name == w.name)
                {
                    return Err(self.err(
                        "metadata.name",
                        format!("expected each {kind} once, `{}` appears twice", w.key()),
                    ));
                }
                out.workloads.push(w);
                Ok(())
            }
            "" => Err(self.err(&join(path, "kind"), "expected `kind` (Node, Pod or List)")),
            other => {
                *out.skipped.entry(other.to_string()).or_default() += 1;
                Ok(())
            }
        }
    }

    /// The pods a Job runs at once (pkg/controller/job): `parallelism` (default 1), no more
    /// than `completions` when set, none while `suspend`ed.
    fn job_pods(&self, spec: &Mapping, prefix: &str) -> Result<i32, ObjectError> {
        let parallelism = self
            .int32(
                get(spec, "parallelism"),
                &join(prefix, "parallelism"),
                0,
                i32::MAX,
            )?
            .unwrap_or(1);
        let completions = self.int32(
            get(spec, "completions"),
            &join(prefix, "completions"),
            0,
            i32::MAX,
        )?;
        let suspended = get(spec, "suspend").and_then(Value::as_bool) == Some(true);
        Ok(if suspended {
            0
        } else {
            completions.map_or(parallelism, |c| c.min(parallelism))
        })
    }

    /// A workload object: its replica count and its pod template, read as a pod named after
    /// the workload in its namespace (so errors name `spec.template...` fields as a pod's).
    fn workload(&mut self, kind: &str, m: &Mapping) -> Result<Workload, ObjectError> {
        let (name, namespace, _) = self.metadata(m, kind)?;
        let object = self.object.clone();
        let spec = get(m, "spec").ok_or_else(|| self.err("spec", "expected a spec"))?;
        let mut spec = self.map(spec, "spec")?;
        let mut prefix = "spec".to_string();
        let cron = if kind == "CronJob" {
            Some(self.cron_spec(spec)?)
        } else {
            None
        };
        let pods = match kind {
            "CronJob" => {
                let jt = get(spec, "jobTemplate")
                    .ok_or_else(|| self.err("spec.jobTemplate", "expected a job template"))?;
                let jt = self.map(jt, "spec.jobTemplate")?;
                let js = get(jt, "spec")
                    .ok_or_else(|| self.err("spec.jobTemplate.spec", "expected a job spec"))?;
                spec = self.map(js, "spec.jobTemplate.spec")?;
                prefix = "spec.jobTemplate.spec".into();
                self.job_pods(spec, &prefix)?
            }
            "Job" => self.job_pods(spec, "spec")?,
            "DaemonSet" => 0,
            _ => self
                .int32(get(spec, "replicas"), "spec.replicas", 0, i32::MAX)?
                .unwrap_or(1),
        } as u32;
        let field = join(&prefix, "template");
        let template =
            get(spec, "template").ok_or_else(|| self.err(&field, "expected a pod template"))?;
        let template = self.map(template, &field)?;
        // The template as a Pod object: the workload's name and namespace, the template's
        // labels and spec.
        let mut md = match get(template, "metadata") {
            Some(v) => self.map(v, &join(&field, "metadata"))?.clone(),
            None => Mapping::new(),
        };
        md.insert("name".into(), Value::String(name.clone()));
        md.insert("namespace".into(), Value::String(namespace.clone()));
        md.remove("ownerReferences");
        let mut pod = template.clone();
        pod.insert("metadata".into(), Value::Mapping(md));
        let (mut template, _, run_for_s, mut priority) = self.pod(&pod).map_err(|mut e| {
            e.object = object.clone();
            e.field = join(&field, &e.field);
            e
        })?;
        priority.object = object.clone();
        priority.field = join(&field, "spec");
        self.object = object;
        template.owner = name.clone();
        Ok(Workload {
            kind: kind.to_string(),
            name,
            namespace,
            pods,
            template,
            run_for_s,
            priority,
            cron,
        })
    }

    /// A CronJob's `schedule` (robfig/cron's standard syntax, [`super::cron`]), `timeZone`
    /// (UTC only: the times are computed without a time-zone database), `suspend` and
    /// `concurrencyPolicy`.
    fn cron_spec(&self, spec: &Mapping) -> Result<CronSpec, ObjectError> {
        let text = self
            .string(get(spec, "schedule"), "spec.schedule")?
            .ok_or_else(|| {
                self.err(
                    "spec.schedule",
                    "expected a schedule such as \"*/5 * * * *\"",
                )
            })?;
        let schedule =
            super::cron::Schedule::parse(&text).map_err(|e| self.err("spec.schedule", e))?;
        match self
            .string(get(spec, "timeZone"), "spec.timeZone")?
            .as_deref()
        {
            None | Some("UTC" | "Etc/UTC") => {}
            Some(other) => {
                return Err(self.err(
                    "spec.timeZone",
                    format!("expected UTC (schedules are computed in UTC here), found `{other}`"),
                ))
            }
        }
        let starting_deadline_s = self
            .int32(
                get(spec, "startingDeadlineSeconds"),
                "spec.startingDeadlineSeconds",
                0,
                i32::MAX,
            )?
            .map(i64::from);
        let suspend = self.boolean(get(spec, "suspend"), "spec.suspend")?;
        let concurrency = match self
            .string(get(spec, "concurrencyPolicy"), "spec.concurrencyPolicy")?
            .as_deref()
        {
            None | Some("Allow") => ConcurrencyPolicy::Allow,
            Some("Forbid") => ConcurrencyPolicy::Forbid,
            Some("Replace") => ConcurrencyPolicy::Replace,
            Some(other) => {
                return Err(self.err(
                    "spec.concurrencyPolicy",
                    format!("expected Allow, Forbid or Replace, found `{other}`"),
                ))
            }
        };
        Ok(CronSpec {
            schedule,
            suspend,
            starting_deadline_s,
            concurrency,
        })
    }

    /// A PriorityClass: `value` (at most [`HIGHEST_USER_DEFINABLE_PRIORITY`] unless it is a
    /// built-in `system-` class, as pkg/apis/scheduling/validation checks), `globalDefault`,
    /// `preemptionPolicy`.
    fn priority_class(&mut self, m: &Mapping) -> Result<PriorityClass, ObjectError> {
        let (name, _, _) = self.metadata(m, "PriorityClass")?;
        let value = self
            .int32(get(m, "value"), "value", i32::MIN, i32::MAX)?
            .ok_or_else(|| self.err("value", "expected the class's integer value"))?;
        if let Some(builtin) = name.strip_prefix("system-").map(|_| {
            system_priority_classes()
                .into_iter()
                .find(|c| c.name == name)
        }) {
            let global = get(m, "globalDefault").and_then(Value::as_bool) == Some(true);
            if global || builtin.is_none_or(|b| b.value != value) {
                return Err(self.err(
                    "value",
                    format!("expected a `system-` class to be a built-in one (system-cluster-critical {}, system-node-critical {}, neither a global default): `{name}` with {value} is not", 2 * HIGHEST_USER_DEFINABLE_PRIORITY, 2 * HIGHEST_USER_DEFINABLE_PRIORITY + 1000),
                ));
            }
        } else if value > HIGHEST_USER_DEFINABLE_PRIORITY {
            return Err(self.err(
                "value",
                format!("expected at most {HIGHEST_USER_DEFINABLE_PRIORITY} (HighestUserDefinablePriority), found {value}"),
            ));
        }
        let global_default = self.boolean(get(m, "globalDefault"), "globalDefault")?;
        let never_preempt = match self
            .string(get(m, "preemptionPolicy"), "preemptionPolicy")?
            .as_deref()
        {
            None | Some("PreemptLowerPriority") => false,
            Some("Never") => true,
            Some(other) => {
                return Err(self.err(
                    "preemptionPolicy",
                    format!("expected PreemptLowerPriority or Never, found `{other}`"),
                ))
            }
        };
        Ok(PriorityClass {
            name,
            value,
            global_default,
            never_preempt,
        })
    }

    fn metadata(
        &mut self,
        m: &Mapping,
        kind: &str,
    ) -> Result<(String, String, Labels), ObjectError> {
        let md = get(m, "metadata")
            .ok_or_else(|| self.err("metadata", "expected metadata with a name"))?;
        let md = self.map(md, "metadata")?;
        let name = self
            .string(get(md, "name"), "metadata.name")?
            .ok_or_else(|| self.err("metadata.name", "expected a name"))?;
        let ns = self.string(get(md, "namespace"), "metadata.namespace")?;
        self.object = match (kind, &ns) {
            ("Pod", ns) => format!("Pod {}/{name}", ns.as_deref().unwrap_or("default")),
            _ => format!("{kind} {name}"),
        };
        let labels = self.string_map(get(md, "labels"), "metadata.labels")?;
        Ok((name, ns.unwrap_or_else(|| "default".into()), labels))
    }

    fn node(&mut self, m: &Mapping) -> Result<NodeInfo, ObjectError> {
        let (name, _, labels) = self.metadata(m, "Node")?;
        let empty = Mapping::new();
        let spec = match get(m, "spec") {
            Some(s) => self.map(s, "spec")?,
            None => &empty,
        };
        let status = match get(m, "status") {
            Some(s) => self.map(s, "status")?,
            None => &empty,
        };
        let (field, list) = match get(status, "allocatable") {
            Some(a) => ("status.allocatable", Some(a)),
            None => ("status.capacity", get(status, "capacity")),
        };
        let res = self.resource_list(list, field)?;
        let mut alloc = Resources::ZERO;
        let mut extended = BTreeMap::new();
        for (k, q) in &res {
            let f = join(field, k);
            let too_big = || self.err(&f, "quantity too large");
            match k.as_str() {
                "cpu" => alloc.cpu_milli = q.milli_value().ok_or_else(too_big)?,
                "memory" => alloc.memory_bytes = q.value().ok_or_else(too_big)?,
                "ephemeral-storage" => {
                    alloc.ephemeral_storage_bytes = q.value().ok_or_else(too_big)?
                }
                "pods" => alloc.pods = q.value().ok_or_else(too_big)?,
                "nvidia.com/gpu" => {
                    alloc.gpu_milli = q.value().ok_or_else(too_big)?.saturating_mul(1000)
                }
                other => {
                    extended.insert(other.to_string(), q.value().ok_or_else(too_big)?);
                }
            }
        }
        let mut node = NodeInfo::new(name, alloc);
        node.labels = labels;
        node.extended_allocatable = extended;
        node.unschedulable = get(spec, "unschedulable")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        for (i, t) in self
            .seq(get(spec, "taints"), "spec.taints")?
            .iter()
            .enumerate()
        {
            let f = format!("spec.taints[{i}]");
            let tm = self.map(t, &f)?;
            let effect = self
                .string(get(tm, "effect"), &join(&f, "effect"))?
                .unwrap_or_default();
            node.taints.push(Taint {
                key: self
                    .string(get(tm, "key"), &join(&f, "key"))?
                    .unwrap_or_default(),
                value: self
                    .string(get(tm, "value"), &join(&f, "value"))?
                    .unwrap_or_default(),
                effect: TaintEffect::parse(&effect).ok_or_else(|| {
                    self.err(
                        &join(&f, "effect"),
                        format!(
                            "expected NoSchedule, PreferNoSchedule or NoExecute, found `{effect}`"
                        ),
                    )
                })?,
            });
        }
        if let Some(info) = get(status, "nodeInfo").and_then(Value::as_mapping) {
            if let Some(os) = self.string(
                get(info, "operatingSystem"),
                "status.nodeInfo.operatingSystem",
            )? {
                node.os = os;
            }
            if let Some(arch) =
                self.string(get(info, "architecture"), "status.nodeInfo.architecture")?
            {
                node.arch = arch;
            }
        }
        node.site = node
            .labels
            .get("topology.kubernetes.io/region")
            .cloned()
            .unwrap_or_default();
        Ok(node)
    }

    /// A pod, the node it is bound to, its [`RUN_FOR_ANNOTATION`] and what it asks of the
    /// priority admission plugin.
    #[allow(clippy::type_complexity)]
    fn pod(
        &mut self,
        m: &Mapping,
    ) -> Result<(PodSpec, Option<String>, Option<f64>, PriorityRequest), ObjectError> {
        let (name, namespace, labels) = self.metadata(m, "Pod")?;
        let annotations = get(m, "metadata")
            .and_then(Value::as_mapping)
            .and_then(|md| get(md, "annotations"));
        let annotations = self.string_map(annotations, "metadata.annotations")?;
        let run_for_s = match annotations.get(RUN_FOR_ANNOTATION) {
            None => None,
            Some(v) => {
                let field = format!("metadata.annotations.{RUN_FOR_ANNOTATION}");
                match v.trim().parse::<f64>() {
                    Ok(x) if x.is_finite() && x > 0.0 => Some(x),
                    _ => {
                        return Err(self.err(
                            &field,
                            format!(
                            "expected a positive number of seconds such as \"600\", found {v:?}"
                        ),
                        ))
                    }
                }
            }
        };
        let spec = get(m, "spec").ok_or_else(|| self.err("spec", "expected a pod spec"))?;
        let spec = self.map(spec, "spec")?;
        let mut pod = PodSpec::new(name, Resources::ZERO);
        pod.namespace = namespace;
        pod.labels = labels;
        if let Some(md) = get(m, "metadata").and_then(Value::as_mapping) {
            if let Some(owner) = self
                .seq(get(md, "ownerReferences"), "metadata.ownerReferences")?
                .first()
            {
                let om = self.map(owner, "metadata.ownerReferences[0]")?;
                pod.owner = self
                    .string(get(om, "name"), "metadata.ownerReferences[0].name")?
                    .unwrap_or_default();
            }
        }
        self.requests(spec, &mut pod)?;
        let node_name = self.string(get(spec, "nodeName"), "spec.nodeName")?;
        pod.node_selector = self.string_map(get(spec, "nodeSelector"), "spec.nodeSelector")?;
        let priority = PriorityRequest {
            document: self.document,
            object: self.object.clone(),
            field: "spec".into(),
            class: self
                .string(get(spec, "priorityClassName"), "spec.priorityClassName")?
                .filter(|c| !c.is_empty()),
            priority: self.int32(get(spec, "priority"), "spec.priority", i32::MIN, i32::MAX)?,
            preemption_policy: self
                .string(get(spec, "preemptionPolicy"), "spec.preemptionPolicy")?,
        };
        pod.priority = priority.priority.unwrap_or(0);
        pod.never_preempt = priority.preemption_policy.as_deref() == Some("Never");
        for (i, t) in self
            .seq(get(spec, "tolerations"), "spec.tolerations")?
            .iter()
            .enumerate()
        {
            pod.tolerations
                .push(self.toleration(t, &format!("spec.tolerations[{i}]"))?);
        }
        if let Some(aff) = get(spec, "affinity") {
            let am = self.map(aff, "spec.affinity")?;
            if let Some(na) = get(am, "nodeAffinity") {
                pod.node_affinity = self.node_affinity(na, "spec.affinity.nodeAffinity")?;
            }
            if let Some(pa) = get(am, "podAffinity") {
                pod.pod_affinity = self.pod_affinity(pa, "spec.affinity.podAffinity")?;
            }
            if let Some(pa) = get(am, "podAntiAffinity") {
                pod.pod_anti_affinity = self.pod_affinity(pa, "spec.affinity.podAntiAffinity")?;
            }
        }
        for (i, c) in self
            .seq(
                get(spec, "topologySpreadConstraints"),
                "spec.topologySpreadConstraints",
            )?
            .iter()
            .enumerate()
        {
            pod.topology_spread
                .push(self.spread(c, &format!("spec.topologySpreadConstraints[{i}]"))?);
        }
        pod.node_name = node_name.clone();
        Ok((pod, node_name, run_for_s, priority))
    }

    fn requests(&self, spec: &Mapping, pod: &mut PodSpec) -> Result<(), ObjectError> {
        // Exact sums per resource, for raw and non-zero (scoring) requests.
        type Sums = BTreeMap<String, Quantity>;
        let add = |a: &mut Sums, b: &Sums| -> Result<(), ObjectError> {
            for (k, q) in b {
                let sum = match a.get(k) {
                    Some(x) => x.checked_add(q).ok_or_else(|| {
                        self.err(
                            &format!("spec.containers[*].resources.requests.{k}"),
                            "the pod's total request is too large",
                        )
                    })?,
                    None => q.clone(),
                };
                a.insert(k.clone(), sum);
            }
            Ok(())
        };
        let max_into = |a: &mut Sums, b: &Sums| {
            for (k, q) in b {
                let bigger = a.get(k).is_none_or(|x| q.cmp_value(x).is_gt());
                if bigger {
                    a.insert(k.clone(), q.clone());
                }
            }
        };
        let default_cpu = parse_quantity("100m").expect("valid literal");
        let default_mem = parse_quantity("200Mi").expect("valid literal");
        let with_defaults = |r: &Sums| {
            let mut r = r.clone();
            r.entry("cpu".into()).or_insert_with(|| default_cpu.clone());
            r.entry("memory".into())
                .or_insert_with(|| default_mem.clone());
            r
        };
        let container = |c: &Value, f: &str| -> Result<(Sums, Vec<HostPort>, bool), ObjectError> {
            let cm = self.map(c, f)?;
            let reqs = match get(cm, "resources") {
                Some(r) => self.resource_list(
                    get(self.map(r, &join(f, "resources"))?, "requests"),
                    &join(f, "resources.requests"),
                )?,
                None => Sums::new(),
            };
            let mut ports = Vec::new();
            for (i, p) in self
                .seq(get(cm, "ports"), &join(f, "ports"))?
                .iter()
                .enumerate()
            {
                let pf = format!("{f}.ports[{i}]");
                let pm = self.map(p, &pf)?;
                let hp = self
                    .int(get(pm, "hostPort"), &join(&pf, "hostPort"))?
                    .unwrap_or(0);
                if hp > 0 {
                    ports.push(HostPort {
                        ip: self
                            .string(get(pm, "hostIP"), &join(&pf, "hostIP"))?
                            .unwrap_or_default(),
                        protocol: self
                            .string(get(pm, "protocol"), &join(&pf, "protocol"))?
                            .unwrap_or_else(|| "TCP".into()),
                        port: u16::try_from(hp).map_err(|_| {
                            self.err(
                                &join(&pf, "hostPort"),
                                "expected a port between 1 and 65535",
                            )
                        })?,
                    });
                }
            }
            let sidecar = self
                .string(get(cm, "restartPolicy"), &join(f, "restartPolicy"))?
                .as_deref()
                == Some("Always");
            Ok((reqs, ports, sidecar))
        };
        let (mut raw, mut nz) = (Sums::new(), Sums::new());
        for (i, c) in self
            .seq(get(spec, "containers"), "spec.containers")?
            .iter()
            .enumerate()
        {
            let (r, ports, _) = container(c, &format!("spec.containers[{i}]"))?;
            add(&mut raw, &r)?;
            add(&mut nz, &with_defaults(&r))?;
            pod.host_ports.extend(ports);
        }
        let (mut init_raw, mut init_nz) = (Sums::new(), Sums::new());
        let (mut side_raw, mut side_nz) = (Sums::new(), Sums::new());
        for (i, c) in self
            .seq(get(spec, "initContainers"), "spec.initContainers")?
            .iter()
            .enumerate()
        {
            let (r, _, sidecar) = container(c, &format!("spec.initContainers[{i}]"))?;
            if sidecar {
                add(&mut raw, &r)?;
                add(&mut nz, &with_defaults(&r))?;
                add(&mut side_raw, &r)?;
                add(&mut side_nz, &with_defaults(&r))?;
            } else {
                let mut t = r.clone();
                add(&mut t, &side_raw)?;
                max_into(&mut init_raw, &t);
                let mut t = with_defaults(&r);
                add(&mut t, &side_nz)?;
                max_into(&mut init_nz, &t);
            }
        }
        max_into(&mut raw, &init_raw);
        max_into(&mut nz, &init_nz);
        let overhead = self.resource_list(get(spec, "overhead"), "spec.overhead")?;
        add(&mut raw, &overhead)?;
        add(&mut nz, &overhead)?;

        let too_big = |k: &str| {
            self.err(
                &format!("spec.containers[*].resources.requests.{k}"),
                "quantity too large",
            )
        };
        for (k, q) in &raw {
            match k.as_str() {
                "cpu" => pod.requests.cpu_milli = q.milli_value().ok_or_else(|| too_big(k))?,
                "memory" => pod.requests.memory_bytes = q.value().ok_or_else(|| too_big(k))?,
                "ephemeral-storage" => {
                    pod.requests.ephemeral_storage_bytes = q.value().ok_or_else(|| too_big(k))?
                }
                "nvidia.com/gpu" => {
                    pod.requests.gpu_milli =
                        q.value().ok_or_else(|| too_big(k))?.saturating_mul(1000)
                }
                other => {
                    pod.extended_requests
                        .insert(other.to_string(), q.value().ok_or_else(|| too_big(k))?);
                }
            }
        }
        pod.non_zero = NonZeroRequests {
            cpu_milli: nz.get("cpu").and_then(Quantity::milli_value).unwrap_or(0),
            memory_bytes: nz.get("memory").and_then(Quantity::value).unwrap_or(0),
        };
        Ok(())
    }

    fn toleration(&self, t: &Value, f: &str) -> Result<Toleration, ObjectError> {
        let tm = self.map(t, f)?;
        let op = match self
            .string(get(tm, "operator"), &join(f, "operator"))?
            .as_deref()
        {
            None | Some("Equal") => TolerationOp::Equal,
            Some("Exists") => TolerationOp::Exists,
            Some(other) => {
                return Err(self.err(
                    &join(f, "operator"),
                    format!("expected Equal or Exists, found `{other}`"),
                ))
            }
        };
        let effect = match self
            .string(get(tm, "effect"), &join(f, "effect"))?
            .as_deref()
        {
            None | Some("") => None,
            Some(e) => Some(TaintEffect::parse(e).ok_or_else(|| {
                self.err(
                    &join(f, "effect"),
                    format!("expected NoSchedule, PreferNoSchedule or NoExecute, found `{e}`"),
                )
            })?),
        };
        Ok(Toleration {
            key: self
                .string(get(tm, "key"), &join(f, "key"))?
                .unwrap_or_default(),
            op,
            value: self
                .string(get(tm, "value"), &join(f, "value"))?
                .unwrap_or_default(),
            effect,
        })
    }

    fn requirements(
        &self,
        v: Option<&Value>,
        f: &str,
        node: bool,
    ) -> Result<Vec<Requirement>, ObjectError> {
        let mut out = Vec::new();
        for (i, r) in self.seq(v, f)?.iter().enumerate() {
            let rf = format!("{f}[{i}]");
            let rm = self.map(r, &rf)?;
            let op_text = self
                .string(get(rm, "operator"), &join(&rf, "operator"))?
                .unwrap_or_default();
            let op = SelectorOp::parse(&op_text)
                .filter(|op| node || !matches!(op, SelectorOp::Gt | SelectorOp::Lt))
                .ok_or_else(|| {
                    let valid = if node {
                        "In, NotIn, Exists, DoesNotExist, Gt, Lt"
                    } else {
                        "In, NotIn, Exists, DoesNotExist"
                    };
                    self.err(
                        &join(&rf, "operator"),
                        format!("expected one of {valid}, found `{op_text}`"),
                    )
                })?;
            let mut values = Vec::new();
            for (k, v) in self
                .seq(get(rm, "values"), &join(&rf, "values"))?
                .iter()
                .enumerate()
            {
                values.push(
                    self.string(Some(v), &format!("{rf}.values[{k}]"))?
                        .unwrap_or_default(),
                );
            }
            out.push(Requirement {
                key: self
                    .string(get(rm, "key"), &join(&rf, "key"))?
                    .unwrap_or_default(),
                op,
                values,
            });
        }
        Ok(out)
    }

    fn node_term(&self, t: &Value, f: &str) -> Result<NodeSelectorTerm, ObjectError> {
        let tm = self.map(t, f)?;
        Ok(NodeSelectorTerm {
            match_expressions: self.requirements(
                get(tm, "matchExpressions"),
                &join(f, "matchExpressions"),
                true,
            )?,
            match_fields: self.requirements(
                get(tm, "matchFields"),
                &join(f, "matchFields"),
                true,
            )?,
        })
    }

    fn node_affinity(&self, v: &Value, f: &str) -> Result<NodeAffinity, ObjectError> {
        let m = self.map(v, f)?;
        let mut out = NodeAffinity::default();
        if let Some(req) = get(m, "requiredDuringSchedulingIgnoredDuringExecution") {
            let rf = join(f, "requiredDuringSchedulingIgnoredDuringExecution");
            let rm = self.map(req, &rf)?;
            let mut terms = Vec::new();
            for (i, t) in self
                .seq(
                    get(rm, "nodeSelectorTerms"),
                    &join(&rf, "nodeSelectorTerms"),
                )?
                .iter()
                .enumerate()
            {
                terms.push(self.node_term(t, &format!("{rf}.nodeSelectorTerms[{i}]"))?);
            }
            out.required = Some(terms);
        }
        out.preferred = self.preferred(
            m,
            f,
            "preference",
            Some(NodeSelectorTerm::default()),
            |t, tf| self.node_term(t, tf),
        )?;
        Ok(out)
    }

    /// `preferredDuringSchedulingIgnoredDuringExecution`: (weight, term under `term_key`),
    /// weights 1–100 as API validation allows (core/v1 PreferredSchedulingTerm,
    /// WeightedPodAffinityTerm). A missing term is `missing`, or an error if `None`.
    fn preferred<T>(
        &self,
        m: &Mapping,
        f: &str,
        term_key: &str,
        missing: Option<T>,
        term: impl Fn(&Value, &str) -> Result<T, ObjectError>,
    ) -> Result<Vec<(i32, T)>, ObjectError>
    where
        T: Clone,
    {
        let pf = join(f, "preferredDuringSchedulingIgnoredDuringExecution");
        let mut out = Vec::new();
        for (i, p) in self
            .seq(
                get(m, "preferredDuringSchedulingIgnoredDuringExecution"),
                &pf,
            )?
            .iter()
            .enumerate()
        {
            let ef = format!("{pf}[{i}]");
            let pm = self.map(p, &ef)?;
            let w = self
                .int32(get(pm, "weight"), &join(&ef, "weight"), 1, 100)?
                .unwrap_or(0);
            let t = match (get(pm, term_key), &missing) {
                (Some(t), _) => term(t, &join(&ef, term_key))?,
                (None, Some(d)) => d.clone(),
                (None, None) => return Err(self.err(&ef, format!("expected {term_key}"))),
            };
            out.push((w, t));
        }
        Ok(out)
    }

    fn selector(&self, v: Option<&Value>, f: &str) -> Result<Option<LabelSelector>, ObjectError> {
        let Some(v) = v else { return Ok(None) };
        let m = self.map(v, f)?;
        Ok(Some(LabelSelector {
            match_labels: self.string_map(get(m, "matchLabels"), &join(f, "matchLabels"))?,
            match_expressions: self.requirements(
                get(m, "matchExpressions"),
                &join(f, "matchExpressions"),
                false,
            )?,
        }))
    }

    fn affinity_term(&self, v: &Value, f: &str) -> Result<PodAffinityTerm, ObjectError> {
        let m = self.map(v, f)?;
        let mut namespaces = Vec::new();
        for (i, n) in self
            .seq(get(m, "namespaces"), &join(f, "namespaces"))?
            .iter()
            .enumerate()
        {
            namespaces.push(
                self.string(Some(n), &format!("{f}.namespaces[{i}]"))?
                    .unwrap_or_default(),
            );
        }
        let topology_key = self
            .string(get(m, "topologyKey"), &join(f, "topologyKey"))?
            .filter(|k| !k.is_empty())
            .ok_or_else(|| self.err(&join(f, "topologyKey"), "expected a non-empty topologyKey"))?;
        Ok(PodAffinityTerm {
            selector: self.selector(get(m, "labelSelector"), &join(f, "labelSelector"))?,
            namespaces,
            topology_key,
        })
    }

    fn pod_affinity(&self, v: &Value, f: &str) -> Result<PodAffinity, ObjectError> {
        let m = self.map(v, f)?;
        let mut out = PodAffinity::default();
        let rf = join(f, "requiredDuringSchedulingIgnoredDuringExecution");
        for (i, t) in self
            .seq(
                get(m, "requiredDuringSchedulingIgnoredDuringExecution"),
                &rf,
            )?
            .iter()
            .enumerate()
        {
            out.required
                .push(self.affinity_term(t, &format!("{rf}[{i}]"))?);
        }
        out.preferred = self.preferred(m, f, "podAffinityTerm", None, |t, tf| {
            self.affinity_term(t, tf)
        })?;
        Ok(out)
    }

    fn spread(&self, v: &Value, f: &str) -> Result<TopologySpreadConstraint, ObjectError> {
        let m = self.map(v, f)?;
        let when = match self
            .string(get(m, "whenUnsatisfiable"), &join(f, "whenUnsatisfiable"))?
            .as_deref()
        {
            Some("DoNotSchedule") | None => WhenUnsatisfiable::DoNotSchedule,
            Some("ScheduleAnyway") => WhenUnsatisfiable::ScheduleAnyway,
            Some(o) => {
                return Err(self.err(
                    &join(f, "whenUnsatisfiable"),
                    format!("expected DoNotSchedule or ScheduleAnyway, found `{o}`"),
                ))
            }
        };
        let policy =
            |key: &str, default: InclusionPolicy| -> Result<InclusionPolicy, ObjectError> {
                match self.string(get(m, key), &join(f, key))?.as_deref() {
                    None => Ok(default),
                    Some("Honor") => Ok(InclusionPolicy::Honor),
                    Some("Ignore") => Ok(InclusionPolicy::Ignore),
                    Some(o) => Err(self.err(
                        &join(f, key),
                        format!("expected Honor or Ignore, found `{o}`"),
                    )),
                }
            };
        let max_skew = self
            .int32(get(m, "maxSkew"), &join(f, "maxSkew"), 1, i32::MAX)?
            .ok_or_else(|| self.err(&join(f, "maxSkew"), "expected an integer of at least 1"))?;
        Ok(TopologySpreadConstraint {
            max_skew,
            topology_key: self
                .string(get(m, "topologyKey"), &join(f, "topologyKey"))?
                .ok_or_else(|| self.err(&join(f, "topologyKey"), "expected a topologyKey"))?,
            when_unsatisfiable: when,
            selector: self.selector(get(m, "labelSelector"), &join(f, "labelSelector"))?,
            min_domains: self
                .int32(get(m, "minDomains"), &join(f, "minDomains"), 1, i32::MAX)?
                .unwrap_or(1),
            node_affinity_policy: policy("nodeAffinityPolicy", InclusionPolicy::Honor)?,
            node_taints_policy: policy("nodeTaintsPolicy", InclusionPolicy::Ignore)?,
        })
    }
}

/// Binds `pods` to `nodes` by their `spec.nodeName` (pods without one, or naming an unknown
/// node, are returned as unbound).
pub fn bind_existing(
    nodes: &mut [NodeInfo],
    objects_pods: Vec<PodSpec>,
    pod_nodes: &[Option<String>],
) -> Vec<PodSpec> {
    let mut unbound = Vec::new();
    for (p, node) in objects_pods.into_iter().zip(pod_nodes) {
        match node
            .as_ref()
            .and_then(|n| nodes.iter_mut().find(|x| &x.name == n))
        {
            Some(n) => n.add_pod(Arc::new(p)),
            None => unbound.push(p),
        }
    }
    unbound
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_pod(spec: &str) -> PodSpec {
        let text = format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n{spec}");
        let mut objs = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        objs.pods.remove(0)
    }

    #[test]
    fn the_runtime_annotation_is_read_and_checked() {
        let text = "kind: Pod\nmetadata:\n  name: p\n  annotations: {orchsim.io/run-for-s: \"90.5\"}\nspec: {containers: [{name: c}]}\n";
        assert_eq!(parse(text).unwrap().pod_run_for_s, [Some(90.5)]);
        let bad = text.replace("90.5", "-3");
        let e = parse(&bad).unwrap_err().to_string();
        assert_eq!(
            e,
            "document 1, Pod default/p: `metadata.annotations.orchsim.io/run-for-s`: expected a positive number of seconds such as \"600\", found \"-3\""
        );
    }

    /// The DaemonSet controller's admission: selector, required affinity, NoSchedule and
    /// NoExecute taints (PreferNoSchedule does not keep it off), with its own tolerations.
    #[test]
    fn a_daemonset_wants_the_nodes_its_controller_admits() {
        let text = "kind: DaemonSet\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      nodeSelector: {pool: a}\n      containers: [{name: c}]\n";
        let w = parse(text).unwrap().workloads.remove(0);
        let node = |labels: &[(&str, &str)], taint: Option<(&str, TaintEffect)>, cordoned: bool| {
            let mut n = NodeInfo::new("n1", Resources::ZERO);
            n.labels = labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            if let Some((key, effect)) = taint {
                n.taints.push(Taint {
                    key: key.into(),
                    value: String::new(),
                    effect,
                });
            }
            n.unschedulable = cordoned;
            n
        };
        let pod = w.daemon_pod(&node(&[("pool", "a")], None, false)).unwrap();
        assert_eq!(
            (pod.name.as_str(), pod.node_name.as_deref()),
            ("d-n1", Some("n1"))
        );
        assert!(w.daemon_pod(&node(&[("pool", "b")], None, false)).is_none());
        assert!(w
            .daemon_pod(&node(
                &[("pool", "a")],
                Some(("gpu", TaintEffect::NoSchedule)),
                false
            ))
            .is_none());
        assert!(w
            .daemon_pod(&node(
                &[("pool", "a")],
                Some(("gpu", TaintEffect::PreferNoSchedule)),
                false
            ))
            .is_some());
        // A Swarm global service: its constraints, and no task on a cordoned (drained) node.
        let mut global = w.clone();
        global.kind = "Swarm global service".into();
        global.template.node_selector.clear();
        global.template.swarm.constraints =
            vec![crate::swarm::Constraint::parse("node.labels.pool==a").unwrap()];
        assert!(global
            .daemon_pod(&node(
                &[("pool", "a")],
                Some(("gpu", TaintEffect::NoSchedule)),
                false
            ))
            .is_some());
        assert!(global
            .daemon_pod(&node(&[("pool", "b")], None, false))
            .is_none());
        assert!(global
            .daemon_pod(&node(&[("pool", "a")], None, true))
            .is_none());
        // The DaemonSet controller's own tolerations: a node under memory pressure, and a
        // cordoned one (its unschedulable taint).
        assert!(w
            .daemon_pod(&node(
                &[("pool", "a")],
                Some((
                    "node.kubernetes.io/memory-pressure",
                    TaintEffect::NoSchedule
                )),
                true
            ))
            .is_some());
    }

    /// The Kubernetes documentation's Deployment example (concepts/workloads/controllers/
    /// deployment: `nginx-deployment`, 3 replicas, `app: nginx`) beside a DaemonSet, a
    /// CronJob, a Job and kinds read elsewhere.
    #[test]
    fn workloads_carry_their_pod_templates() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: nginx-deployment\n  labels:\n    app: nginx\nspec:\n  replicas: 3\n  selector:\n    matchLabels:\n      app: nginx\n  template:\n    metadata:\n      labels:\n        app: nginx\n    spec:\n      containers:\n      - name: nginx\n        image: nginx:1.14.2\n        resources: {requests: {cpu: 250m, memory: 64Mi}}\n        ports:\n        - containerPort: 80\n---\nkind: DaemonSet\nmetadata: {name: agent, namespace: kube-system}\nspec:\n  template:\n    spec:\n      tolerations: [{operator: Exists}]\n      containers: [{name: a, resources: {requests: {cpu: 100m}}}]\n---\nkind: CronJob\nmetadata: {name: report}\nspec:\n  schedule: '@hourly'\n  jobTemplate:\n    spec:\n      parallelism: 2\n      template:\n        spec: {containers: [{name: r, resources: {requests: {memory: 1Gi}}}]}\n---\nkind: Job\nmetadata: {name: once}\nspec:\n  parallelism: 4\n  completions: 1\n  template:\n    spec: {priority: 5, containers: [{name: j}]}\n---\nkind: Service\nmetadata: {name: web}\n---\nkind: ConfigMap\nmetadata: {name: c}\n---\nkind: Service\nmetadata: {name: db}\n";
        let o = parse(text).unwrap();
        let got: Vec<(String, u32, u64, u64)> = o
            .workloads
            .iter()
            .map(|w| {
                (
                    w.key(),
                    w.pods,
                    w.template.requests.cpu_milli,
                    w.template.requests.memory_bytes,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "Deployment default/nginx-deployment".into(),
                    3,
                    250,
                    64 << 20
                ),
                ("DaemonSet kube-system/agent".into(), 0, 100, 0),
                ("CronJob default/report".into(), 2, 0, 1 << 30),
                ("Job default/once".into(), 1, 0, 0),
            ]
        );
        let d = &o.workloads[0];
        let r = d.replica(2);
        assert_eq!(
            (r.name.as_str(), r.owner.as_str()),
            ("nginx-deployment-2", "nginx-deployment")
        );
        assert_eq!(r.labels.get("app").map(String::as_str), Some("nginx"));
        assert_eq!(o.workloads[1].template.tolerations.len(), 1);
        assert_eq!(o.workloads[3].template.priority, 5);
        assert_eq!(o.skipped.get("Service"), Some(&2));
        assert_eq!(o.skipped.get("ConfigMap"), Some(&1));
        // A template's error names the workload and the template's field.
        let e = parse("kind: Deployment\nmetadata: {name: w}\nspec:\n  template:\n    spec: {containers: [{name: c, resources: {requests: {cpu: lots}}}]}\n").unwrap_err();
        assert_eq!(e.object, "Deployment w");
        assert!(e.field.starts_with("spec.template.spec.containers"), "{e}");
        let suspended = parse("kind: Job\nmetadata: {name: j}\nspec:\n  suspend: true\n  template: {spec: {containers: [{name: c}]}}\n").unwrap();
        assert_eq!(suspended.workloads[0].pods, 0);
        let e = parse("kind: Deployment\nmetadata: {name: w}\nspec: {replicas: -1}\n").unwrap_err();
        assert_eq!(e.field, "spec.replicas", "{e}");
    }

    /// What NetworkPolicy needs of a dump: pod addresses (IPv4 only) and namespace labels.
    #[test]
    fn pod_ips_and_namespaces_are_read() {
        let text = "kind: List\nitems:\n- kind: Namespace\n  metadata: {name: shop, labels: {team: a}}\n- kind: Pod\n  metadata: {name: a, namespace: shop}\n  spec: {containers: [{name: c}]}\n  status: {podIP: 10.0.0.7}\n- kind: Pod\n  metadata: {name: b}\n  spec: {containers: [{name: c}]}\n  status: {podIP: 'fd00::1'}\n- kind: Pod\n  metadata: {name: c}\n  spec: {containers: [{name: c}]}\n";
        let o = parse(text).unwrap();
        assert_eq!(
            o.pod_ips,
            vec![Some("10.0.0.7".parse().unwrap()), None, None]
        );
        assert_eq!(o.namespaces.len(), 1);
        assert_eq!(o.namespaces[0].1.get("team").map(String::as_str), Some("a"));
        let e = parse("kind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c}]}\nstatus: {podIP: ten}\n")
            .unwrap_err();
        assert_eq!(e.field, "status.podIP");
    }

    /// component-helpers resource.PodRequests: max(sum of containers, each init container),
    /// quantities summed exactly then rounded up once (0.1 + 0.25 + 0.0005 cores → 351m).
    #[test]
    fn requests_follow_pod_requests() {
        let p = one_pod(
            "  initContainers:\n  - name: init\n    resources: {requests: {cpu: '2', memory: 10Mi}}\n  containers:\n  - name: a\n    resources: {requests: {cpu: 100m, memory: 1Gi}}\n  - name: b\n    resources: {requests: {cpu: '0.25'}}\n  - name: c\n    resources: {requests: {cpu: 0.5m}}\n",
        );
        assert_eq!(p.requests.cpu_milli, 2000, "init container dominates cpu");
        assert_eq!(
            p.requests.memory_bytes,
            1 << 30,
            "containers dominate memory"
        );
        let q = one_pod(
            "  containers:\n  - name: a\n    resources: {requests: {cpu: 100m}}\n  - name: b\n    resources: {requests: {cpu: '0.25'}}\n  - name: c\n    resources: {requests: {cpu: 0.5m}}\n",
        );
        assert_eq!(q.requests.cpu_milli, 351);
    }

    /// pod_resources.go: 100m / 200Mi per container that sets no request, scoring only; an
    /// explicit zero stays zero.
    #[test]
    fn non_zero_defaults_per_container() {
        let p = one_pod(
            "  containers:\n  - name: a\n  - name: b\n    resources: {requests: {cpu: '0', memory: 1Gi}}\n",
        );
        assert_eq!(p.requests.cpu_milli, 0);
        assert_eq!(
            p.non_zero.cpu_milli, 100,
            "only container a gets the default"
        );
        assert_eq!(p.non_zero.memory_bytes, 200 * 1024 * 1024 + (1 << 30));
    }

    /// Sidecars (restartable init containers) add to the sum and to later init containers.
    #[test]
    fn sidecars_count_like_containers() {
        let p = one_pod(
            "  initContainers:\n  - name: side\n    restartPolicy: Always\n    resources: {requests: {cpu: 500m}}\n  - name: init\n    resources: {requests: {cpu: '1'}}\n  containers:\n  - name: a\n    resources: {requests: {cpu: 200m}}\n",
        );
        // max(200 + 500, 1000 + 500) = 1500.
        assert_eq!(p.requests.cpu_milli, 1500);
    }

    #[test]
    fn errors_name_object_and_field() {
        let e = parse("kind: List\nitems:\n- kind: Node\n  metadata: {name: n1}\n  status: {allocatable: {memory: 12Qi}}\n")
            .unwrap_err();
        assert_eq!(e.object, "Node n1");
        assert_eq!(e.field, "status.allocatable.memory");
        assert!(
            e.message.contains("invalid quantity `12Qi`"),
            "{}",
            e.message
        );
        let e = parse(
            "kind: Pod\nmetadata: {name: p}\nspec:\n  tolerations: [{key: a, operator: Maybe}]\n",
        )
        .unwrap_err();
        assert_eq!(e.field, "spec.tolerations[0].operator");
    }

    const CLASSES: &str = "kind: PriorityClass\nmetadata: {name: high}\nvalue: 1000\n---\nkind: PriorityClass\nmetadata: {name: batch}\nvalue: -5\nglobalDefault: true\npreemptionPolicy: Never\n---\n";

    fn pod_with(spec: &str) -> String {
        format!("kind: Pod\nmetadata: {{name: p}}\nspec: {{{spec}containers: [{{name: c}}]}}\n")
    }

    /// The priority admission plugin: a class's value and preemption policy, the global
    /// default for a pod without a class, the built-in system classes, and upstream's
    /// refusals (plugin/pkg/admission/priority admission.go messages).
    #[test]
    fn priority_classes_are_admitted_as_upstream_does() {
        let priority = |spec: &str| {
            let o = parse(&format!("{CLASSES}{}", pod_with(spec))).unwrap();
            (o.pods[0].priority, o.pods[0].never_preempt)
        };
        assert_eq!(priority("priorityClassName: high, "), (1000, false));
        assert_eq!(priority(""), (-5, true), "the global default");
        assert_eq!(
            priority("priority: 7, "),
            (7, false),
            "explicit, no class: kept"
        );
        assert_eq!(
            priority("priorityClassName: system-node-critical, "),
            (2_000_001_000, false)
        );
        assert_eq!(
            priority("priorityClassName: high, priority: 1000, "),
            (1000, false)
        );
        // A class the input lacks: kept as admitted when the pod carries its priority.
        assert_eq!(
            priority("priorityClassName: gone, priority: 3, "),
            (3, false)
        );
        let err = |spec: &str| {
            parse(&format!("{CLASSES}{}", pod_with(spec)))
                .unwrap_err()
                .to_string()
        };
        let e = err("priorityClassName: gone, ");
        assert!(
            e.contains("Pod default/p: `spec.priorityClassName`: no PriorityClass `gone`"),
            "{e}"
        );
        let e = err("priorityClassName: high, priority: 5, ");
        assert!(
            e.contains("`spec.priority`: the integer value of priority (5) must not be provided"),
            "{e}"
        );
        let e = err("priorityClassName: batch, preemptionPolicy: PreemptLowerPriority, ");
        assert!(e.contains("computed Never"), "{e}");
        // Classes of an earlier file, and a workload's template.
        let earlier = parse(CLASSES).unwrap().priority_classes;
        let deployment = "kind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec: {priorityClassName: high, containers: [{name: c}]}\n";
        let o = parse_with_classes(deployment, &earlier).unwrap();
        assert_eq!(o.workloads[0].template.priority, 1000);
        let e = parse(deployment).unwrap_err().to_string();
        assert!(
            e.contains("Deployment d: `spec.template.spec.priorityClassName`"),
            "{e}"
        );
    }

    #[test]
    fn cronjob_specs_are_read_and_checked() {
        let cron = |spec: &str| {
            format!("kind: CronJob\nmetadata: {{name: c}}\nspec:\n{spec}  jobTemplate:\n    spec:\n      template:\n        spec: {{containers: [{{name: c}}]}}\n")
        };
        let o = parse(&cron(
            "  schedule: '0 2 * * *'\n  concurrencyPolicy: Replace\n  suspend: true\n",
        ))
        .unwrap();
        let c = o.workloads[0].cron.as_ref().unwrap();
        assert_eq!(
            (c.concurrency, c.suspend),
            (ConcurrencyPolicy::Replace, true)
        );
        for (spec, field, says) in [
            ("", "spec.schedule", "expected a schedule"),
            (
                "  schedule: '0 2 * *'\n",
                "spec.schedule",
                "exactly 5 fields",
            ),
            (
                "  schedule: '@daily'\n  timeZone: Europe/Paris\n",
                "spec.timeZone",
                "expected UTC",
            ),
            (
                "  schedule: '@daily'\n  concurrencyPolicy: Sometimes\n",
                "spec.concurrencyPolicy",
                "Allow, Forbid or Replace",
            ),
            (
                "  schedule: '@daily'\n  suspend: maybe\n",
                "spec.suspend",
                "true or false",
            ),
        ] {
            let e = parse(&cron(spec)).unwrap_err();
            assert_eq!(e.field, field, "{spec}: {e}");
            assert!(e.message.contains(says), "{spec}: {e}");
        }
    }

    #[test]
    fn priority_classes_are_validated() {
        let cases = [
            ("value: 1000000001", "at most 1000000000"),
            (
                "value: 5\npreemptionPolicy: Sometimes",
                "PreemptLowerPriority or Never",
            ),
            ("globalDefault: true", "expected the class's integer value"),
            (
                "value: 1\nglobalDefault: yes please",
                "expected true or false",
            ),
        ];
        for (body, message) in cases {
            let text = format!("kind: PriorityClass\nmetadata: {{name: c}}\n{body}\n");
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains(message), "{body}: {e}");
        }
        let e = parse("kind: PriorityClass\nmetadata: {name: system-mine}\nvalue: 5\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("built-in"), "{e}");
        // A dump of a cluster's classes lists the built-ins as they are.
        parse(
            "kind: PriorityClass\nmetadata: {name: system-cluster-critical}\nvalue: 2000000000\n",
        )
        .unwrap();
        let e = parse(&format!("{CLASSES}{CLASSES}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected each PriorityClass once"), "{e}");
        let e = parse("kind: PriorityClass\nmetadata: {name: system-cluster-critical}\nvalue: 2000000000\nglobalDefault: true\n").unwrap_err().to_string();
        assert!(e.contains("built-in"), "{e}");
        let two = "kind: PriorityClass\nmetadata: {name: a}\nvalue: 1\nglobalDefault: true\n---\nkind: PriorityClass\nmetadata: {name: b}\nvalue: 2\nglobalDefault: true\n";
        assert!(parse(two)
            .unwrap_err()
            .to_string()
            .contains("only one default"));
        // Across files: the same class twice is one; two different ones under a name are not.
        let earlier = parse(CLASSES).unwrap().priority_classes;
        parse_with_classes(CLASSES, &earlier).unwrap();
        let other = "kind: PriorityClass\nmetadata: {name: high}\nvalue: 7\n";
        let e = parse_with_classes(other, &earlier).unwrap_err().to_string();
        assert!(
            e.contains("defined twice differently (value 1000 and 7)"),
            "{e}"
        );
        assert_eq!(scan_priority_classes(CLASSES), earlier);
        assert!(scan_priority_classes("services:\n  web: {image: nginx}\n").is_empty());
    }
}
