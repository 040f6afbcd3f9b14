//! The default kube-scheduler plugins' Filter, Score and NormalizeScore, following
//! Kubernetes v1.33.3 `pkg/scheduler/framework/plugins/*` (score arithmetic unchanged through
//! v1.35.4). Integer arithmetic is Go's: `/` truncates toward zero.

use std::borrow::Cow;
use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::cluster::{ClusterIndex, PerNode, HOSTNAME_LABEL};
use crate::labels::{tolerated, LabelSelector, PodAffinityTerm, TaintEffect};
use crate::model::{
    label_key, ClusterView, InclusionPolicy, NodeInfo, PodSpec, PreparedSelector,
    TopologySpreadConstraint, WhenUnsatisfiable,
};

use super::profile::{FitStrategy, Profile, ResourceName, ScoringType};

mod inter_pod;
mod resources;
mod spread;

use inter_pod::term_namespaces;
use resources::fit_filter;
pub use resources::{balanced_score, fit_score};
pub use spread::system_default_constraints;
use spread::{counts_every_node, has_all_keys, owner_selector, spread_includes};

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
    pub reasons: Reasons,
    pub resolvable: bool,
}

/// A rejection's reasons. Almost every one is a fixed string and one reason is the rule, so
/// rejecting a node allocates nothing (nodes are rejected by the thousand per pod).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reasons {
    first: Option<Cow<'static, str>>,
    rest: Vec<Cow<'static, str>>,
}

impl Reasons {
    pub fn push(&mut self, reason: impl Into<Cow<'static, str>>) {
        if self.first.is_none() {
            self.first = Some(reason.into());
        } else {
            self.rest.push(reason.into());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.first.iter().chain(&self.rest).map(|r| r.as_ref())
    }
}

fn reject(plugin: Plugin, resolvable: bool, reason: impl Into<Cow<'static, str>>) -> Rejection {
    let mut reasons = Reasons::default();
    reasons.push(reason);
    Rejection {
        plugin,
        reasons,
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
    /// NodeUnschedulable: the pod tolerates `node.kubernetes.io/unschedulable:NoSchedule`.
    tolerates_unschedulable: bool,
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
        let tolerates_unschedulable = tolerated(
            &pod.tolerations,
            &crate::labels::Taint {
                key: "node.kubernetes.io/unschedulable".into(),
                value: String::new(),
                effect: TaintEffect::NoSchedule,
            },
        );
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
            tolerates_unschedulable,
        }
    }

    /// Runs `plugin`'s filter on `node`.
    pub fn filter(&self, plugin: Plugin, node: &NodeInfo) -> Result<(), Rejection> {
        let pod = self.pod;
        match plugin {
            Plugin::NodeUnschedulable => {
                if node.unschedulable && !self.tolerates_unschedulable {
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

    /// Whether `plugin`'s filter can reject any node for this pod. One that cannot is not
    /// run per node (its evaluation is still counted): most pods name no node, ports or
    /// affinity, and every filter run touches the node's memory.
    pub fn filters(&self, plugin: Plugin) -> bool {
        let pod = self.pod;
        match plugin {
            Plugin::NodeUnschedulable => !self.tolerates_unschedulable,
            Plugin::NodeName => pod.node_name.is_some(),
            Plugin::NodePorts => !pod.host_ports.is_empty(),
            Plugin::NodeAffinity => {
                !pod.node_selector.is_empty() || pod.node_affinity.required.is_some()
            }
            Plugin::PodTopologySpread => !self.hard_spread.is_empty(),
            Plugin::InterPodAffinity => {
                !pod.pod_affinity.required.is_empty()
                    || !(self.anti_affinity_counts.is_empty()
                        || pod.pod_anti_affinity.required.is_empty())
                    || !self.existing_anti_affinity_counts.is_empty()
            }
            Plugin::TaintToleration | Plugin::NodeResourcesFit => true,
            Plugin::NodeResourcesBalancedAllocation | Plugin::ImageLocality => false,
        }
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
