//! The default kube-scheduler plugins' Filter, Score and NormalizeScore, following
//! Kubernetes v1.33.3 `pkg/scheduler/framework/plugins/*` (score arithmetic unchanged through
//! v1.35.4). Integer arithmetic is Go's: `/` truncates toward zero.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::cluster::{ClusterIndex, HOSTNAME_LABEL};
use crate::labels::{tolerated, LabelSelector, PodAffinityTerm, TaintEffect};
use crate::model::{
    label_key, ClusterView, InclusionPolicy, NodeInfo, PodSpec, PreparedSelector,
    TopologySpreadConstraint, WhenUnsatisfiable,
};

use super::profile::{FitStrategy, Profile, ResourceName, ScoringType};

/// framework/interface.go `MaxNodeScore`.
pub const MAX_NODE_SCORE: i64 = 100;

const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// A node's label value, with `kubernetes.io/hostname` defaulting to the node name as kubelet
/// guarantees (nodes built by the simulator need not repeat it).
pub fn node_label<'a>(node: &'a NodeInfo, key: &str) -> Option<&'a str> {
    match node.labels.get(key) {
        Some(v) => Some(v),
        None if key == HOSTNAME_LABEL => Some(&node.name),
        None => None,
    }
}

/// The plugins of the default profile, in MultiPoint (= execution) order
/// (apis/config/v1/default_plugins.go). Volume and gate plugins that never act on the inputs
/// we model are left out and listed by the profile loader as unmodeled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Plugin {
    NodeUnschedulable,
    NodeName,
    TaintToleration,
    NodeAffinity,
    NodePorts,
    NodeResourcesFit,
    PodTopologySpread,
    InterPodAffinity,
    NodeResourcesBalancedAllocation,
    ImageLocality,
}

impl Plugin {
    pub const ALL: [Plugin; 10] = [
        Plugin::NodeUnschedulable,
        Plugin::NodeName,
        Plugin::TaintToleration,
        Plugin::NodeAffinity,
        Plugin::NodePorts,
        Plugin::NodeResourcesFit,
        Plugin::PodTopologySpread,
        Plugin::InterPodAffinity,
        Plugin::NodeResourcesBalancedAllocation,
        Plugin::ImageLocality,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Plugin::NodeUnschedulable => "NodeUnschedulable",
            Plugin::NodeName => "NodeName",
            Plugin::TaintToleration => "TaintToleration",
            Plugin::NodeAffinity => "NodeAffinity",
            Plugin::NodePorts => "NodePorts",
            Plugin::NodeResourcesFit => "NodeResourcesFit",
            Plugin::PodTopologySpread => "PodTopologySpread",
            Plugin::InterPodAffinity => "InterPodAffinity",
            Plugin::NodeResourcesBalancedAllocation => "NodeResourcesBalancedAllocation",
            Plugin::ImageLocality => "ImageLocality",
        }
    }

    pub fn from_name(name: &str) -> Option<Plugin> {
        Plugin::ALL.into_iter().find(|p| p.name() == name)
    }

    pub fn has_filter(self) -> bool {
        !matches!(
            self,
            Plugin::NodeResourcesBalancedAllocation | Plugin::ImageLocality
        )
    }

    pub fn has_score(self) -> bool {
        matches!(
            self,
            Plugin::TaintToleration
                | Plugin::NodeAffinity
                | Plugin::NodeResourcesFit
                | Plugin::PodTopologySpread
                | Plugin::InterPodAffinity
                | Plugin::NodeResourcesBalancedAllocation
                | Plugin::ImageLocality
        )
    }

    /// Score weight in the default profile.
    pub fn default_weight(self) -> i64 {
        match self {
            Plugin::TaintToleration => 3,
            Plugin::NodeAffinity | Plugin::PodTopologySpread | Plugin::InterPodAffinity => 2,
            _ => 1,
        }
    }
}

/// A filter failure. `resolvable` is false for upstream's `UnschedulableAndUnresolvable`
/// (preemption cannot help on that node).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub plugin: Plugin,
    pub reasons: Vec<String>,
    pub resolvable: bool,
}

fn reject(plugin: Plugin, resolvable: bool, reason: impl Into<String>) -> Rejection {
    Rejection {
        plugin,
        reasons: vec![reason.into()],
        resolvable,
    }
}

/// Pods per (topology key, value).
type DomainCounts<'a> = FxHashMap<(&'a str, &'a str), i64>;

/// Per-pod state computed once before filtering and scoring (upstream PreFilter/PreScore).
pub struct CycleState<'a> {
    pod: &'a PodSpec,
    index: Option<&'a ClusterIndex>,
    /// Hard spread constraints and, per constraint, matching pods per topology value.
    hard_spread: Vec<(TopologySpreadConstraint, BTreeMap<&'a str, i64>, i64)>,
    /// Soft constraints' selectors prepared for counting, by index into `soft_spread`.
    soft_selectors: Vec<(Option<LabelSelector>, String)>,
    /// InterPodAffinity filter counts keyed by (topology key, value). Only looked up, never
    /// iterated, so hashing cannot affect results.
    affinity_counts: DomainCounts<'a>,
    anti_affinity_counts: DomainCounts<'a>,
    existing_anti_affinity_counts: DomainCounts<'a>,
    /// TaintToleration score: tolerations with empty or PreferNoSchedule effect.
    prefer_tolerations: Vec<&'a crate::labels::Toleration>,
    /// Soft spread constraints (pod's ScheduleAnyway or the system defaults).
    soft_spread: Vec<TopologySpreadConstraint>,
    soft_spread_require_all: bool,
}

/// Whether `node` passes the pod's nodeSelector and required node affinity.
fn matches_node_selector_and_affinity(pod: &PodSpec, node: &NodeInfo) -> bool {
    let selector_ok = pod
        .node_selector
        .iter()
        .all(|(k, v)| node.labels.get(k) == Some(v));
    selector_ok
        && pod
            .node_affinity
            .required
            .as_ref()
            .is_none_or(|terms| terms.iter().any(|t| t.matches(&node.name, &node.labels)))
}

fn count_matching(node: &NodeInfo, sel: &PreparedSelector) -> i64 {
    i64::from(node.count_prepared(sel))
}

/// The one `matchLabels` entry of a selector the cluster index can answer (no expressions).
fn single_label(sel: &Option<LabelSelector>) -> Option<(&str, &str)> {
    let s = sel.as_ref()?;
    if !s.match_expressions.is_empty() || s.match_labels.len() != 1 {
        return None;
    }
    s.match_labels
        .iter()
        .next()
        .map(|(k, v)| (k.as_str(), v.as_str()))
}

/// The namespaces an affinity term of a pod in `owner_ns` selects from.
fn term_namespaces<'t>(owner_ns: &'t str, t: &'t PodAffinityTerm) -> Vec<&'t str> {
    if t.namespaces.is_empty() {
        vec![owner_ns]
    } else {
        let mut v: Vec<&str> = t.namespaces.iter().map(String::as_str).collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// Whether every node counts toward spread constraint `c` for `pod`, so that a cluster-wide
/// count equals upstream's walk with `matchNodeInclusionPolicies`.
fn counts_every_node(c: &TopologySpreadConstraint, pod: &PodSpec) -> bool {
    (c.node_affinity_policy == InclusionPolicy::Ignore
        || (pod.node_selector.is_empty() && pod.node_affinity.required.is_none()))
        && c.node_taints_policy == InclusionPolicy::Ignore
}

/// `matchNodeInclusionPolicies`: which nodes count toward a spread constraint.
fn spread_includes(c: &TopologySpreadConstraint, pod: &PodSpec, node: &NodeInfo) -> bool {
    if c.node_affinity_policy == InclusionPolicy::Honor
        && !matches_node_selector_and_affinity(pod, node)
    {
        return false;
    }
    if c.node_taints_policy == InclusionPolicy::Honor {
        let untolerated = node.taints.iter().any(|t| {
            matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute)
                && !tolerated(&pod.tolerations, t)
        });
        if untolerated {
            return false;
        }
    }
    true
}

fn has_all_keys(node: &NodeInfo, cs: &[&TopologySpreadConstraint]) -> bool {
    cs.iter()
        .all(|c| node_label(node, &c.topology_key).is_some())
}

/// The pods a default spread constraint counts: upstream uses the selectors of the Services
/// and ReplicaSets that select this pod (podtopologyspread/plugin.go, DefaultSelector);
/// orchsim stands in for them with the pod's own labels, which is what a ReplicaSet's selector
/// matches for its pods. Pods without an owner or labels get no default constraints.
fn owner_selector(pod: &PodSpec) -> Option<LabelSelector> {
    if pod.owner.is_empty() || pod.labels.is_empty() {
        return None;
    }
    Some(LabelSelector {
        match_labels: pod.labels.clone(),
        match_expressions: Vec::new(),
    })
}

/// The system default spread constraints (podtopologyspread/plugin.go
/// systemDefaultConstraints): hostname maxSkew 3 and zone maxSkew 5, both ScheduleAnyway.
pub fn system_default_constraints(pod: &PodSpec) -> Vec<TopologySpreadConstraint> {
    let Some(selector) = owner_selector(pod) else {
        return Vec::new();
    };
    [(HOSTNAME_LABEL, 3), (ZONE_LABEL, 5)]
        .into_iter()
        .map(|(key, skew)| TopologySpreadConstraint {
            max_skew: skew,
            topology_key: key.to_string(),
            when_unsatisfiable: WhenUnsatisfiable::ScheduleAnyway,
            selector: Some(selector.clone()),
            min_domains: 1,
            node_affinity_policy: InclusionPolicy::Honor,
            node_taints_policy: InclusionPolicy::Ignore,
        })
        .collect()
}

/// The node list a cycle state is built over, with at most one node replaced (preemption
/// evaluates a node with its victims removed without copying the cluster).
#[derive(Clone, Copy)]
pub struct Nodes<'a> {
    base: &'a [NodeInfo],
    replaced: Option<(usize, &'a NodeInfo)>,
}

impl<'a> Nodes<'a> {
    fn iter(self) -> impl Iterator<Item = &'a NodeInfo> {
        self.base
            .iter()
            .enumerate()
            .map(move |(i, n)| match self.replaced {
                Some((r, node)) if r == i => node,
                _ => n,
            })
    }
}

impl<'a> CycleState<'a> {
    pub fn new(pod: &'a PodSpec, view: &'a dyn ClusterView, profile: &Profile) -> Self {
        let nodes = Nodes {
            base: view.nodes(),
            replaced: None,
        };
        Self::build(pod, nodes, view.index(), profile)
    }

    /// The state for `pod` on `base` with node `index` replaced by `node`, computed by walking
    /// the nodes (the cluster index describes `base`, not the replacement).
    pub fn with_replaced(
        pod: &'a PodSpec,
        base: &'a [NodeInfo],
        index: usize,
        node: &'a NodeInfo,
        profile: &Profile,
    ) -> Self {
        let nodes = Nodes {
            base,
            replaced: Some((index, node)),
        };
        Self::build(pod, nodes, None, profile)
    }

    fn build(
        pod: &'a PodSpec,
        nodes: Nodes<'a>,
        index: Option<&'a ClusterIndex>,
        profile: &Profile,
    ) -> Self {
        // The pod's constraints, or the profile's defaults when it sets none
        // (podtopologyspread/common.go): split into hard (filter) and soft (score).
        let system_defaulted = pod.topology_spread.is_empty() && profile.default_spread.is_none();
        let constraints: Vec<TopologySpreadConstraint> = if pod.topology_spread.is_empty() {
            match (&profile.default_spread, owner_selector(pod)) {
                (None, _) => system_default_constraints(pod),
                (Some(list), Some(sel)) => list
                    .iter()
                    .map(|c| TopologySpreadConstraint {
                        selector: Some(sel.clone()),
                        ..c.clone()
                    })
                    .collect(),
                (Some(_), None) => Vec::new(),
            }
        } else {
            pod.topology_spread.clone()
        };
        let (hard_list, soft_spread): (Vec<_>, Vec<_>) = constraints
            .into_iter()
            .partition(|c| c.when_unsatisfiable == WhenUnsatisfiable::DoNotSchedule);
        // requireAllTopologies = pod has constraints || !systemDefaulted.
        let soft_spread_require_all = !system_defaulted;

        // PodTopologySpread PreFilter: hard constraints, counted over all eligible nodes.
        let hard: Vec<&TopologySpreadConstraint> = hard_list.iter().collect();
        let mut hard_spread: Vec<(TopologySpreadConstraint, BTreeMap<&str, i64>, i64)> = hard_list
            .iter()
            .map(|c| (c.clone(), BTreeMap::new(), 0))
            .collect();
        let hard_indexed = index.filter(|ix| {
            hard.iter().all(|c| {
                ix.all_nodes_have(&c.topology_key)
                    && counts_every_node(c, pod)
                    && single_label(&c.selector).is_some()
            })
        });
        if let (false, Some(ix)) = (hard.is_empty(), hard_indexed) {
            for (c, counts, _) in hard_spread.iter_mut() {
                let Some((k, v)) = single_label(&c.selector) else {
                    continue;
                };
                let pods = ix.domain_counts(&label_key(&pod.namespace, k, v), &c.topology_key);
                for value in ix.domains(&c.topology_key) {
                    let n = pods.and_then(|m| m.get(value)).copied().unwrap_or(0);
                    counts.insert(value, i64::from(n));
                }
            }
        } else if !hard.is_empty() {
            let prepared: Vec<PreparedSelector> = hard
                .iter()
                .map(|c| PreparedSelector::new(c.selector.as_ref(), &pod.namespace))
                .collect();
            for node in nodes.iter() {
                if !has_all_keys(node, &hard) {
                    continue;
                }
                for ((c, counts, _), sel) in hard_spread.iter_mut().zip(&prepared) {
                    if !spread_includes(c, pod, node) {
                        continue;
                    }
                    let Some(v) = node_label(node, &c.topology_key) else {
                        continue;
                    };
                    *counts.entry(v).or_insert(0) += count_matching(node, sel);
                }
            }
        }
        for (c, counts, min) in hard_spread.iter_mut() {
            *min = if (counts.len() as i64) < i64::from(c.min_domains) {
                0
            } else {
                counts.values().copied().min().unwrap_or(0)
            };
        }

        // InterPodAffinity PreFilter.
        let mut affinity_counts = DomainCounts::default();
        let mut anti_affinity_counts = DomainCounts::default();
        let mut existing_anti_affinity_counts = DomainCounts::default();
        let req_aff = &pod.pod_affinity.required;
        let req_anti = &pod.pod_anti_affinity.required;
        // Single-label terms come from the cluster index; the rest walk the nodes.
        let from_index =
            |t: &PodAffinityTerm| index.is_some() && single_label(&t.selector).is_some();
        let add_indexed = |counts: &mut DomainCounts<'a>, t: &'a PodAffinityTerm| {
            let (Some(ix), Some((k, v))) = (index, single_label(&t.selector)) else {
                return;
            };
            for ns in term_namespaces(&pod.namespace, t) {
                if let Some(m) = ix.domain_counts(&label_key(ns, k, v), &t.topology_key) {
                    for (value, n) in m {
                        if *n > 0 {
                            *counts
                                .entry((t.topology_key.as_str(), value.as_str()))
                                .or_insert(0) += i64::from(*n);
                        }
                    }
                }
            }
        };
        let aff_indexed = req_aff.len() == 1 && from_index(&req_aff[0]);
        if aff_indexed {
            add_indexed(&mut affinity_counts, &req_aff[0]);
        }
        let anti_indexed: Vec<bool> = req_anti.iter().map(from_index).collect();
        for (t, indexed) in req_anti.iter().zip(&anti_indexed) {
            if *indexed {
                add_indexed(&mut anti_affinity_counts, t);
            }
        }
        let aff_sel: Vec<Vec<PreparedSelector>> = req_aff
            .iter()
            .map(|t| Self::prepare(&pod.namespace, t))
            .collect();
        let anti_sel: Vec<Vec<PreparedSelector>> = req_anti
            .iter()
            .map(|t| Self::prepare(&pod.namespace, t))
            .collect();
        let walk_aff = !req_aff.is_empty() && !aff_indexed;
        let walk_anti = anti_indexed.iter().any(|x| !x);
        if walk_aff || walk_anti || index.is_none() {
            for node in nodes.iter() {
                if walk_aff && req_aff.len() == 1 {
                    let t = &req_aff[0];
                    let n = Self::term_count(node, &aff_sel[0]);
                    if n > 0 {
                        if let Some(v) = node_label(node, &t.topology_key) {
                            *affinity_counts
                                .entry((t.topology_key.as_str(), v))
                                .or_insert(0) += n;
                        }
                    }
                } else if walk_aff {
                    // Affinity counts only pods that match every term.
                    for e in &node.pods {
                        if req_aff
                            .iter()
                            .all(|t| t.matches(&pod.namespace, &e.namespace, &e.labels))
                        {
                            for t in req_aff {
                                if let Some(v) = node_label(node, &t.topology_key) {
                                    *affinity_counts
                                        .entry((t.topology_key.as_str(), v))
                                        .or_insert(0) += 1;
                                }
                            }
                        }
                    }
                }
                for ((t, sel), indexed) in req_anti.iter().zip(&anti_sel).zip(&anti_indexed) {
                    if *indexed {
                        continue;
                    }
                    let n = Self::term_count(node, sel);
                    if n > 0 {
                        if let Some(v) = node_label(node, &t.topology_key) {
                            *anti_affinity_counts
                                .entry((t.topology_key.as_str(), v))
                                .or_insert(0) += n;
                        }
                    }
                }
                if index.is_none() {
                    for e in &node.required_anti_affinity_pods {
                        for t in &e.pod_anti_affinity.required {
                            if t.matches(&e.namespace, &pod.namespace, &pod.labels) {
                                if let Some(v) = node_label(node, &t.topology_key) {
                                    *existing_anti_affinity_counts
                                        .entry((t.topology_key.as_str(), v))
                                        .or_insert(0) += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        if let Some(ix) = index {
            for e in ix.anti_affinity_candidates(&pod.namespace, &pod.labels) {
                let t = &e.pod.pod_anti_affinity.required[e.term];
                if t.matches(&e.pod.namespace, &pod.namespace, &pod.labels) {
                    if let Some(v) = node_label(&nodes.base[e.node.0], &t.topology_key) {
                        *existing_anti_affinity_counts
                            .entry((t.topology_key.as_str(), v))
                            .or_insert(0) += 1;
                    }
                }
            }
        }

        let prefer_tolerations = pod
            .tolerations
            .iter()
            .filter(|t| t.effect.is_none() || t.effect == Some(TaintEffect::PreferNoSchedule))
            .collect();

        let soft_selectors = soft_spread
            .iter()
            .map(|c| (c.selector.clone(), pod.namespace.clone()))
            .collect();
        CycleState {
            pod,
            index,
            hard_spread,
            soft_selectors,
            affinity_counts,
            anti_affinity_counts,
            existing_anti_affinity_counts,
            prefer_tolerations,
            soft_spread,
            soft_spread_require_all,
        }
    }

    /// The selectors of term `t` of a pod in `owner_ns`, one per namespace it applies to.
    fn prepare<'t>(owner_ns: &'t str, t: &'t PodAffinityTerm) -> Vec<PreparedSelector<'t>> {
        if t.namespaces.is_empty() {
            vec![PreparedSelector::for_affinity(
                t.selector.as_ref(),
                owner_ns,
            )]
        } else {
            t.namespaces
                .iter()
                .map(|ns| PreparedSelector::for_affinity(t.selector.as_ref(), ns))
                .collect()
        }
    }

    /// Pods on `node` selected by a prepared term.
    fn term_count(node: &NodeInfo, sels: &[PreparedSelector]) -> i64 {
        sels.iter().map(|s| i64::from(node.count_prepared(s))).sum()
    }

    /// Runs `plugin`'s filter on `node`.
    pub fn filter(&self, plugin: Plugin, node: &NodeInfo) -> Result<(), Rejection> {
        let pod = self.pod;
        match plugin {
            Plugin::NodeUnschedulable => {
                // Tolerating node.kubernetes.io/unschedulable:NoSchedule lets a pod in.
                let taint = crate::labels::Taint {
                    key: "node.kubernetes.io/unschedulable".into(),
                    value: String::new(),
                    effect: TaintEffect::NoSchedule,
                };
                if node.unschedulable && !tolerated(&pod.tolerations, &taint) {
                    return Err(reject(plugin, false, "node(s) were unschedulable"));
                }
            }
            Plugin::NodeName => {
                if pod.node_name.as_ref().is_some_and(|n| *n != node.name) {
                    return Err(reject(
                        plugin,
                        false,
                        "node(s) didn't match the requested node name",
                    ));
                }
            }
            Plugin::TaintToleration => {
                let bad = node.taints.iter().find(|t| {
                    matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute)
                        && !tolerated(&pod.tolerations, t)
                });
                if let Some(t) = bad {
                    // v1.33 wording (v1.34+ says "node(s) had untolerated taint(s)").
                    return Err(reject(
                        plugin,
                        false,
                        format!("node(s) had untolerated taint {{{}: {}}}", t.key, t.value),
                    ));
                }
            }
            Plugin::NodeAffinity => {
                if !matches_node_selector_and_affinity(pod, node) {
                    return Err(reject(
                        plugin,
                        false,
                        "node(s) didn't match Pod's node affinity/selector",
                    ));
                }
            }
            Plugin::NodePorts => {
                let clash = pod.host_ports.iter().any(|want| {
                    node.pods
                        .iter()
                        .any(|p| p.host_ports.iter().any(|used| want.conflicts(used)))
                });
                if clash {
                    return Err(reject(
                        plugin,
                        true,
                        "node(s) didn't have free ports for the requested pod ports",
                    ));
                }
            }
            Plugin::NodeResourcesFit => return fit_filter(pod, node),
            Plugin::PodTopologySpread => {
                for (c, counts, min) in &self.hard_spread {
                    let Some(v) = node_label(node, &c.topology_key) else {
                        return Err(reject(
                            plugin,
                            false,
                            "node(s) didn't match pod topology spread constraints (missing required label)",
                        ));
                    };
                    let self_match =
                        i64::from(c.selector.as_ref().is_some_and(|s| s.matches(&pod.labels)));
                    let matched = counts.get(v).copied().unwrap_or(0);
                    if matched + self_match - min > i64::from(c.max_skew) {
                        return Err(reject(
                            plugin,
                            true,
                            "node(s) didn't match pod topology spread constraints",
                        ));
                    }
                }
            }
            Plugin::InterPodAffinity => return self.inter_pod_affinity_filter(node),
            Plugin::NodeResourcesBalancedAllocation | Plugin::ImageLocality => {}
        }
        Ok(())
    }

    fn inter_pod_affinity_filter(&self, node: &NodeInfo) -> Result<(), Rejection> {
        let pod = self.pod;
        // satisfyPodAffinity
        let mut pods_exist = true;
        for t in &pod.pod_affinity.required {
            match node_label(node, &t.topology_key) {
                Some(v) => {
                    if self
                        .affinity_counts
                        .get(&(t.topology_key.as_str(), v))
                        .copied()
                        .unwrap_or(0)
                        <= 0
                    {
                        pods_exist = false;
                    }
                }
                None => {
                    return Err(reject(
                        Plugin::InterPodAffinity,
                        false,
                        "node(s) didn't match pod affinity rules",
                    ))
                }
            }
        }
        if !pods_exist {
            // The first pod of a group with affinity to itself may go anywhere.
            let self_match = pod
                .pod_affinity
                .required
                .iter()
                .all(|t| t.matches(&pod.namespace, &pod.namespace, &pod.labels));
            if !(self.affinity_counts.is_empty() && self_match) {
                return Err(reject(
                    Plugin::InterPodAffinity,
                    false,
                    "node(s) didn't match pod affinity rules",
                ));
            }
        }
        // satisfyPodAntiAffinity
        if !self.anti_affinity_counts.is_empty() {
            for t in &pod.pod_anti_affinity.required {
                if let Some(v) = node_label(node, &t.topology_key) {
                    if self
                        .anti_affinity_counts
                        .get(&(t.topology_key.as_str(), v))
                        .is_some_and(|c| *c > 0)
                    {
                        return Err(reject(
                            Plugin::InterPodAffinity,
                            true,
                            "node(s) didn't match pod anti-affinity rules",
                        ));
                    }
                }
            }
        }
        // satisfyExistingPodsAntiAffinity: any of the node's labels in a forbidden domain.
        if !self.existing_anti_affinity_counts.is_empty() {
            // Look the node's labels up in the map rather than walking the map: the map can
            // hold a domain per node of a large anti-affine service.
            let hostname = (!node.labels.contains_key(HOSTNAME_LABEL))
                .then_some((HOSTNAME_LABEL, node.name.as_str()));
            let hit = node
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .chain(hostname)
                .any(|kv| {
                    self.existing_anti_affinity_counts
                        .get(&kv)
                        .is_some_and(|c| *c > 0)
                });
            if hit {
                return Err(reject(
                    Plugin::InterPodAffinity,
                    true,
                    "node(s) didn't satisfy existing pods anti-affinity rules",
                ));
            }
        }
        Ok(())
    }

    /// Whether `plugin` takes part in scoring this pod (upstream PreScore may return Skip).
    pub fn scores(&self, plugin: Plugin, profile: &Profile) -> bool {
        let pod = self.pod;
        match plugin {
            Plugin::NodeAffinity => !pod.node_affinity.preferred.is_empty(),
            Plugin::NodeResourcesBalancedAllocation => {
                // Skipped when the pod requests none of the configured resources
                // (balanced_allocation.go PreScore).
                profile.balanced_resources.iter().any(|r| match r {
                    ResourceName::Cpu => pod.requests.cpu_milli != 0,
                    ResourceName::Memory => pod.requests.memory_bytes != 0,
                    ResourceName::EphemeralStorage => pod.requests.ephemeral_storage_bytes != 0,
                    ResourceName::Gpu => pod.requests.gpu_milli != 0,
                    ResourceName::Extended(name) => {
                        pod.extended_requests.get(name).is_some_and(|v| *v != 0)
                    }
                })
            }
            Plugin::PodTopologySpread => !self.soft_spread.is_empty(),
            // Decided in `score`: it skips when no pod contributes (PreScore's empty map).
            Plugin::InterPodAffinity
            | Plugin::TaintToleration
            | Plugin::NodeResourcesFit
            | Plugin::ImageLocality => true,
            _ => false,
        }
    }

    /// Raw and normalized scores of `plugin` for the `feasible` nodes (indices into `nodes`);
    /// `None` if the plugin skips this pod.
    pub fn score(
        &self,
        plugin: Plugin,
        profile: &Profile,
        nodes: &[NodeInfo],
        feasible: &[usize],
    ) -> Option<(Vec<i64>, Vec<i64>)> {
        let pod = self.pod;
        let raw: Vec<i64> = match plugin {
            Plugin::TaintToleration => feasible
                .iter()
                .map(|&i| {
                    nodes[i]
                        .taints
                        .iter()
                        .filter(|t| {
                            t.effect == TaintEffect::PreferNoSchedule
                                && !self.prefer_tolerations.iter().any(|tol| tol.tolerates(t))
                        })
                        .count() as i64
                })
                .collect(),
            Plugin::NodeAffinity => feasible
                .iter()
                .map(|&i| {
                    pod.node_affinity
                        .preferred
                        .iter()
                        .filter(|(w, t)| *w != 0 && t.matches(&nodes[i].name, &nodes[i].labels))
                        .map(|(w, _)| i64::from(*w))
                        .sum()
                })
                .collect(),
            Plugin::NodeResourcesFit => feasible
                .iter()
                .map(|&i| fit_score(&profile.fit, pod, &nodes[i]))
                .collect(),
            Plugin::NodeResourcesBalancedAllocation => feasible
                .iter()
                .map(|&i| balanced_score(&profile.balanced_resources, pod, &nodes[i]))
                .collect(),
            // orchsim models no container images: every node has none of the pod's images,
            // which upstream scores 0 (image_locality.go: sum clamps to minThreshold).
            Plugin::ImageLocality => vec![0; feasible.len()],
            Plugin::PodTopologySpread => self.spread_raw(nodes, feasible),
            Plugin::InterPodAffinity => self.inter_pod_raw(profile, nodes, feasible)?,
            _ => vec![0; feasible.len()],
        };
        let normalized = match plugin {
            Plugin::TaintToleration => default_normalize(&raw, true),
            Plugin::NodeAffinity => default_normalize(&raw, false),
            Plugin::PodTopologySpread => self.spread_normalize(nodes, feasible, &raw),
            Plugin::InterPodAffinity => {
                let (min, max) = (
                    raw.iter().copied().min().unwrap_or(0),
                    raw.iter().copied().max().unwrap_or(0),
                );
                let diff = max - min;
                raw.iter()
                    .map(|&s| {
                        if diff > 0 {
                            (MAX_NODE_SCORE as f64 * ((s - min) as f64 / diff as f64)) as i64
                        } else {
                            0
                        }
                    })
                    .collect()
            }
            _ => raw.clone(),
        };
        Some((raw, normalized))
    }

    /// PodTopologySpread PreScore + Score (scoring.go).
    fn spread_raw(&self, nodes: &[NodeInfo], feasible: &[usize]) -> Vec<i64> {
        let pod = self.pod;
        let cs: Vec<&TopologySpreadConstraint> = self.soft_spread.iter().collect();
        let sels: Vec<PreparedSelector> = self
            .soft_selectors
            .iter()
            .map(|(sel, ns)| PreparedSelector::new(sel.as_ref(), ns))
            .collect();
        let ignored: Vec<bool> = feasible
            .iter()
            .map(|&i| self.soft_spread_require_all && !has_all_keys(&nodes[i], &cs))
            .collect();
        let n_ignored = ignored.iter().filter(|x| **x).count();
        // Count slots exist only for values seen on feasible nodes.
        let mut counts: Vec<BTreeMap<&str, i64>> = vec![BTreeMap::new(); cs.len()];
        for (k, &i) in feasible.iter().enumerate() {
            if ignored[k] {
                continue;
            }
            for (ci, c) in cs.iter().enumerate() {
                if c.topology_key == HOSTNAME_LABEL {
                    continue;
                }
                // A node without the key forms the "" domain (scoring.go reads the missing
                // label as ""); it widens the weight but scores nothing itself.
                counts[ci]
                    .entry(node_label(&nodes[i], &c.topology_key).unwrap_or(""))
                    .or_insert(0);
            }
        }
        let weights: Vec<f64> = cs
            .iter()
            .enumerate()
            .map(|(ci, c)| {
                let size = if c.topology_key == HOSTNAME_LABEL {
                    feasible.len() - n_ignored
                } else {
                    counts[ci].len()
                };
                ((size + 2) as f64).ln()
            })
            .collect();
        // Domain counts from the cluster index where it equals the walk: every node counts
        // (inclusion policies) and, with requireAllTopologies, every node has every key.
        let all_keys = |ix: &ClusterIndex| cs.iter().all(|c| ix.all_nodes_have(&c.topology_key));
        let indexed: Vec<bool> = cs
            .iter()
            .map(|c| {
                self.index.is_some_and(|ix| {
                    c.topology_key != HOSTNAME_LABEL
                        && counts_every_node(c, pod)
                        && single_label(&c.selector).is_some()
                        && (!self.soft_spread_require_all || all_keys(ix))
                })
            })
            .collect();
        for (ci, c) in cs.iter().enumerate() {
            let (true, Some(ix), Some((k, v))) =
                (indexed[ci], self.index, single_label(&c.selector))
            else {
                continue;
            };
            let key = label_key(&pod.namespace, k, v);
            let by_value = ix.domain_counts(&key, &c.topology_key);
            for (value, slot) in counts[ci].iter_mut() {
                *slot += i64::from(if value.is_empty() {
                    // Pods on nodes without the key: all pods with the label minus those
                    // on nodes that have it.
                    let labelled: u32 = by_value.map_or(0, |m| m.values().sum());
                    ix.pods_with_label(&key).saturating_sub(labelled)
                } else {
                    by_value.and_then(|m| m.get(*value)).copied().unwrap_or(0)
                });
            }
        }
        let walk = cs
            .iter()
            .enumerate()
            .any(|(ci, c)| !indexed[ci] && c.topology_key != HOSTNAME_LABEL);
        for node in nodes.iter().filter(|_| walk) {
            if self.soft_spread_require_all && !has_all_keys(node, &cs) {
                continue;
            }
            for (ci, c) in cs.iter().enumerate() {
                if indexed[ci] || c.topology_key == HOSTNAME_LABEL || !spread_includes(c, pod, node)
                {
                    continue;
                }
                let v = node_label(node, &c.topology_key).unwrap_or("");
                if let Some(slot) = counts[ci].get_mut(v) {
                    *slot += count_matching(node, &sels[ci]);
                }
            }
        }
        // Per-host counts of single-label selectors from the index's one compact map, which
        // stays in cache, instead of each node's own label table.
        let host_counts: Vec<Option<Option<&FxHashMap<String, u32>>>> = cs
            .iter()
            .map(|c| {
                let (Some(ix), Some((k, v)), true) = (
                    self.index,
                    single_label(&c.selector),
                    c.topology_key == HOSTNAME_LABEL,
                ) else {
                    return None;
                };
                Some(ix.domain_counts(&label_key(&pod.namespace, k, v), HOSTNAME_LABEL))
            })
            .collect();
        feasible
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                if ignored[k] {
                    return 0;
                }
                let node = &nodes[i];
                let mut score = 0f64;
                for (ci, c) in cs.iter().enumerate() {
                    if let Some(v) = node_label(node, &c.topology_key) {
                        let cnt = if let Some(hosts) = host_counts[ci] {
                            hosts.and_then(|m| m.get(v)).map_or(0, |n| i64::from(*n))
                        } else if c.topology_key == HOSTNAME_LABEL {
                            count_matching(node, &sels[ci])
                        } else {
                            counts[ci].get(v).copied().unwrap_or(0)
                        };
                        score += cnt as f64 * weights[ci] + f64::from(c.max_skew - 1);
                    }
                }
                score.round() as i64
            })
            .collect()
    }

    fn spread_normalize(&self, nodes: &[NodeInfo], feasible: &[usize], raw: &[i64]) -> Vec<i64> {
        let cs: Vec<&TopologySpreadConstraint> = self.soft_spread.iter().collect();
        let ignored: Vec<bool> = feasible
            .iter()
            .map(|&i| self.soft_spread_require_all && !has_all_keys(&nodes[i], &cs))
            .collect();
        let mut min = i64::MAX;
        let mut max = 0i64;
        for (k, &s) in raw.iter().enumerate() {
            if ignored[k] {
                continue;
            }
            min = min.min(s);
            max = max.max(s);
        }
        raw.iter()
            .enumerate()
            .map(|(k, &s)| {
                if ignored[k] {
                    0
                } else if max == 0 {
                    MAX_NODE_SCORE
                } else {
                    MAX_NODE_SCORE * (max + min - s) / max
                }
            })
            .collect()
    }

    /// InterPodAffinity PreScore + Score (scoring.go).
    /// `None` when no pod contributes: upstream's PreScore then returns Skip.
    fn inter_pod_raw(
        &self,
        profile: &Profile,
        nodes: &[NodeInfo],
        feasible: &[usize],
    ) -> Option<Vec<i64>> {
        let pod = self.pod;
        let has_constraints =
            !pod.pod_affinity.preferred.is_empty() || !pod.pod_anti_affinity.preferred.is_empty();
        if !has_constraints && self.index.is_some_and(|ix| ix.scoring_affinity_pods() == 0) {
            return None;
        }
        let mut topo: BTreeMap<(String, String), i64> = BTreeMap::new();
        let mut add = |node: &NodeInfo, key: &str, w: i64| {
            if let Some(v) = node_label(node, key) {
                *topo.entry((key.to_string(), v.to_string())).or_insert(0) += w;
            }
        };
        for node in nodes {
            // Without preferred terms of its own, only pods with affinity can contribute.
            let candidates = if has_constraints {
                &node.pods
            } else {
                &node.affinity_pods
            };
            // Upstream skips existing pods only when their node has no labels, which never
            // happens: every node carries kubernetes.io/hostname.
            for e in candidates {
                for (w, t) in &pod.pod_affinity.preferred {
                    if t.matches(&pod.namespace, &e.namespace, &e.labels) {
                        add(node, &t.topology_key, i64::from(*w));
                    }
                }
                for (w, t) in &pod.pod_anti_affinity.preferred {
                    if t.matches(&pod.namespace, &e.namespace, &e.labels) {
                        add(node, &t.topology_key, -i64::from(*w));
                    }
                }
                for t in &e.pod_affinity.required {
                    if t.matches(&e.namespace, &pod.namespace, &pod.labels) {
                        add(node, &t.topology_key, profile.hard_pod_affinity_weight);
                    }
                }
                for (w, t) in &e.pod_affinity.preferred {
                    if t.matches(&e.namespace, &pod.namespace, &pod.labels) {
                        add(node, &t.topology_key, i64::from(*w));
                    }
                }
                for (w, t) in &e.pod_anti_affinity.preferred {
                    if t.matches(&e.namespace, &pod.namespace, &pod.labels) {
                        add(node, &t.topology_key, -i64::from(*w));
                    }
                }
            }
        }
        if topo.is_empty() {
            return None;
        }
        Some(
            feasible
                .iter()
                .map(|&i| {
                    topo.iter()
                        .filter(|((k, v), _)| node_label(&nodes[i], k) == Some(v.as_str()))
                        .map(|(_, s)| *s)
                        .sum()
                })
                .collect::<Vec<i64>>(),
        )
    }
}

/// helper/normalize_score.go `DefaultNormalizeScore(MaxNodeScore, reverse, scores)`.
pub fn default_normalize(raw: &[i64], reverse: bool) -> Vec<i64> {
    let max = raw.iter().copied().max().unwrap_or(0).max(0);
    if max == 0 {
        return raw
            .iter()
            .map(|&s| if reverse { MAX_NODE_SCORE } else { s })
            .collect();
    }
    raw.iter()
        .map(|&s| {
            let s = MAX_NODE_SCORE * s / max;
            if reverse {
                MAX_NODE_SCORE - s
            } else {
                s
            }
        })
        .collect()
}

/// NodeResourcesFit filter (fit.go `fitsRequest`): every insufficient resource is a reason.
fn fit_filter(pod: &PodSpec, node: &NodeInfo) -> Result<(), Rejection> {
    let mut reasons = Vec::new();
    if node.pods.len() as u64 + 1 > node.allocatable.pods {
        reasons.push("Too many pods".to_string());
    }
    let r = &pod.requests;
    let free = node.free();
    if r.cpu_milli > 0 && r.cpu_milli > free.cpu_milli {
        reasons.push("Insufficient cpu".into());
    }
    if r.memory_bytes > 0 && r.memory_bytes > free.memory_bytes {
        reasons.push("Insufficient memory".into());
    }
    if r.ephemeral_storage_bytes > 0 && r.ephemeral_storage_bytes > free.ephemeral_storage_bytes {
        reasons.push("Insufficient ephemeral-storage".into());
    }
    // nvidia.com/gpu is an extended resource upstream, counted in whole devices; fractional
    // requests share one device as the Open-Gpu-Share filter of the ATC'23 study allows. Both
    // are checked on the node's devices, not only on the sum (three 600-milli shares do not
    // fit on two GPUs).
    if r.gpu_milli > 0 {
        if let Some(m) = node.device_misfit(pod) {
            reasons.push(m.k8s_reason().into());
        }
    }
    for (name, q) in &pod.extended_requests {
        if *q == 0 {
            continue;
        }
        let alloc = node.extended_allocatable.get(name).copied().unwrap_or(0);
        let used = node.extended_requested.get(name).copied().unwrap_or(0);
        if *q > alloc.saturating_sub(used) {
            reasons.push(format!("Insufficient {name}"));
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Rejection {
            plugin: Plugin::NodeResourcesFit,
            reasons,
            resolvable: true,
        })
    }
}

/// (allocatable, requested including the pod) for one resource, as resource_allocation.go
/// builds them. `non_zero` selects the scoring requests with defaults (Fit) or the raw ones
/// (BalancedAllocation). `(0, 0)` means "skip this resource".
fn alloc_and_requested(
    res: &ResourceName,
    pod: &PodSpec,
    node: &NodeInfo,
    non_zero: bool,
) -> (i64, i64) {
    let a = &node.allocatable;
    let (alloc, used, want) = match res {
        ResourceName::Cpu => {
            if non_zero {
                (
                    a.cpu_milli,
                    node.non_zero_requested.cpu_milli,
                    pod.non_zero.cpu_milli,
                )
            } else {
                (
                    a.cpu_milli,
                    node.requested.cpu_milli,
                    pod.requests.cpu_milli,
                )
            }
        }
        ResourceName::Memory => {
            if non_zero {
                (
                    a.memory_bytes,
                    node.non_zero_requested.memory_bytes,
                    pod.non_zero.memory_bytes,
                )
            } else {
                (
                    a.memory_bytes,
                    node.requested.memory_bytes,
                    pod.requests.memory_bytes,
                )
            }
        }
        ResourceName::EphemeralStorage => (
            a.ephemeral_storage_bytes,
            node.requested.ephemeral_storage_bytes,
            pod.requests.ephemeral_storage_bytes,
        ),
        ResourceName::Gpu => {
            // A scalar resource the pod does not request is skipped.
            if pod.requests.gpu_milli == 0 {
                return (0, 0);
            }
            (
                a.gpu_milli,
                node.requested.gpu_milli,
                pod.requests.gpu_milli,
            )
        }
        ResourceName::Extended(name) => {
            let want = pod.extended_requests.get(name).copied().unwrap_or(0);
            if want == 0 {
                return (0, 0);
            }
            match node.extended_allocatable.get(name) {
                Some(alloc) => (
                    *alloc,
                    node.extended_requested.get(name).copied().unwrap_or(0),
                    want,
                ),
                None => return (0, 0),
            }
        }
    };
    (alloc as i64, used.saturating_add(want) as i64)
}

/// NodeResourcesFit score for one node.
pub fn fit_score(strategy: &FitStrategy, pod: &PodSpec, node: &NodeInfo) -> i64 {
    let mut node_score = 0i64;
    let mut weight_sum = 0i64;
    for (res, weight) in &strategy.resources {
        let (alloc, req) = alloc_and_requested(res, pod, node, true);
        if alloc == 0 {
            continue;
        }
        let s = match &strategy.kind {
            ScoringType::LeastAllocated => {
                if req > alloc {
                    0
                } else {
                    (alloc - req) * MAX_NODE_SCORE / alloc
                }
            }
            ScoringType::MostAllocated => req.min(alloc) * MAX_NODE_SCORE / alloc,
            ScoringType::RequestedToCapacityRatio { shape } => {
                let util = if req > alloc {
                    MAX_NODE_SCORE
                } else {
                    req * MAX_NODE_SCORE / alloc
                };
                let s = broken_linear(shape, util);
                // requested_to_capacity_ratio.go: only positive scores count toward the mean.
                if s > 0 {
                    node_score += s * weight;
                    weight_sum += weight;
                }
                continue;
            }
        };
        node_score += s * weight;
        weight_sum += weight;
    }
    if weight_sum == 0 {
        return 0;
    }
    match strategy.kind {
        ScoringType::RequestedToCapacityRatio { .. } => {
            // math.Round: half away from zero.
            (node_score as f64 / weight_sum as f64).round() as i64
        }
        _ => node_score / weight_sum,
    }
}

/// helper/shape_score.go `BuildBrokenLinearFunction`; shape scores already scaled to 0–100.
fn broken_linear(shape: &[(i64, i64)], p: i64) -> i64 {
    for i in 0..shape.len() {
        if p <= shape[i].0 {
            if i == 0 {
                return shape[0].1;
            }
            let (u0, s0) = shape[i - 1];
            let (u1, s1) = shape[i];
            return s0 + (s1 - s0) * (p - u0) / (u1 - u0);
        }
    }
    shape.last().map_or(0, |s| s.1)
}

/// NodeResourcesBalancedAllocation score (balanced_allocation.go, v1.33 std-dev form).
pub fn balanced_score(resources: &[ResourceName], pod: &PodSpec, node: &NodeInfo) -> i64 {
    let mut fractions = Vec::with_capacity(resources.len());
    let mut total = 0f64;
    for res in resources {
        let (alloc, req) = alloc_and_requested(res, pod, node, false);
        if alloc == 0 {
            continue;
        }
        let f = (req as f64 / alloc as f64).min(1.0);
        total += f;
        fractions.push(f);
    }
    let std = match fractions.len() {
        2 => ((fractions[0] - fractions[1]) / 2.0).abs(),
        n if n > 2 => {
            let mean = total / n as f64;
            let var = fractions
                .iter()
                .map(|f| (f - mean) * (f - mean))
                .sum::<f64>()
                / n as f64;
            var.sqrt()
        }
        _ => 0.0,
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}
