//! A cluster of nodes with cluster-wide indexes kept in step with every bind and unbind.
//!
//! kube-scheduler's PreFilter and PreScore walk every node for every pod (spread counts per
//! topology domain, inter-pod (anti-)affinity). On thousands of nodes those walks dominate, so
//! [`Cluster`] maintains, per pod label, how many pods carry it in each topology domain, and
//! indexes existing pods' required anti-affinity terms by the label they select. Schedulers
//! use the index through [`ClusterView::index`] when it answers exactly what the walk would,
//! and walk otherwise; tests check both paths decide the same.
//!
//! The index is only looked up, never iterated in an order that reaches results (sums and
//! minima only), so hash maps cannot affect determinism.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::devices::Overcommit;
use crate::model::{label_key, ClusterView, NodeId, NodeInfo, PodSpec};

/// The label kubelet sets to the node name; every node has it.
pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";

/// A node's labels with the hostname default, as the scheduler sees them.
fn effective_labels(node: &NodeInfo) -> impl Iterator<Item = (&str, &str)> {
    let hostname =
        (!node.labels.contains_key(HOSTNAME_LABEL)).then_some((HOSTNAME_LABEL, node.name.as_str()));
    node.labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(hostname)
}

/// An existing pod's required anti-affinity term, by the pod's node and the term's index.
#[derive(Clone, Debug)]
pub struct AntiAffinityEntry {
    pub node: NodeId,
    pub pod: Arc<PodSpec>,
    pub term: usize,
}

/// Bound pods carrying one label: in all and per node position.
#[derive(Clone, Debug, Default)]
struct NodeCounts {
    total: u32,
    per_node: PerNode,
}

/// Counts by node position: a map while few nodes hold the label (a small Job's label must
/// not cost a slot per node of the cluster), a vector once a 32nd of the nodes do (read per
/// node examined, a vector is one load; a map a hash and a probe).
#[derive(Clone, Debug)]
pub enum PerNode {
    Sparse(FxHashMap<usize, u32>),
    Dense(Vec<u32>),
}

impl Default for PerNode {
    fn default() -> Self {
        PerNode::Sparse(FxHashMap::default())
    }
}

impl PerNode {
    /// Pods on the node at position `node`.
    #[inline]
    pub fn get(&self, node: usize) -> u32 {
        match self {
            PerNode::Sparse(m) => m.get(&node).copied().unwrap_or(0),
            PerNode::Dense(v) => v.get(node).copied().unwrap_or(0),
        }
    }

    /// Adds `sign` to `node`'s count (never below 0), `nodes` being the cluster's size.
    fn add(&mut self, node: usize, sign: i64, nodes: usize) {
        let step = |c: &mut u32| *c = (i64::from(*c) + sign).max(0) as u32;
        match self {
            PerNode::Sparse(m) => {
                let c = m.entry(node).or_insert(0);
                step(c);
                if *c == 0 {
                    m.remove(&node);
                } else if m.len() * 32 >= nodes.max(32) {
                    let mut v = vec![0; nodes.max(node + 1)];
                    for (&n, &c) in m.iter() {
                        if n >= v.len() {
                            v.resize(n + 1, 0);
                        }
                        v[n] = c;
                    }
                    *self = PerNode::Dense(v);
                }
            }
            PerNode::Dense(v) => {
                if v.len() <= node {
                    v.resize(node + 1, 0);
                }
                step(&mut v[node]);
            }
        }
    }
}

/// Cluster-wide counts; see the module documentation.
#[derive(Clone, Debug, Default)]
pub struct ClusterIndex {
    /// [`label_key`] of a pod label → node label key → node label value → pods.
    by_domain: FxHashMap<String, FxHashMap<String, FxHashMap<String, u32>>>,
    /// [`label_key`] of a pod label → the bound pods with it, in all and per node position:
    /// the hostname domain read without hashing a node name per node examined.
    by_node: FxHashMap<String, NodeCounts>,
    /// Node label key → value → number of nodes with it.
    node_values: FxHashMap<String, FxHashMap<String, u32>>,
    /// Existing required anti-affinity terms keyed by [`label_key`] of their selector's first
    /// `matchLabels` entry, once per namespace the term covers: a pod can only be selected by
    /// a term whose first label it carries.
    anti_by_label: FxHashMap<String, Vec<AntiAffinityEntry>>,
    /// Terms with no `matchLabels` (expressions only, or select-everything).
    anti_general: Vec<AntiAffinityEntry>,
    /// Bound pods whose affinity can contribute to InterPodAffinity scoring (any term but
    /// required anti-affinity).
    scoring_affinity_pods: u32,
    nodes: u32,
}

impl ClusterIndex {
    /// Pods carrying label `key` (a [`label_key`]) per value of node label `topology`, or
    /// `None` if none does.
    pub fn domain_counts(&self, key: &str, topology: &str) -> Option<&FxHashMap<String, u32>> {
        self.by_domain.get(key).and_then(|m| m.get(topology))
    }

    /// Bound pods carrying label `key` (a [`label_key`]), wherever they are.
    pub fn pods_with_label(&self, key: &str) -> u32 {
        self.by_node.get(key).map_or(0, |c| c.total)
    }

    /// Bound pods carrying label `key` (a [`label_key`]) per node position, `None` if none
    /// does: what PodTopologySpread's score counts for the hostname key (scoring.go counts
    /// the node's own pods there, not its domain's).
    pub fn pods_per_node(&self, key: &str) -> Option<&PerNode> {
        self.by_node.get(key).map(|c| &c.per_node)
    }

    /// Whether every node carries node label `key`.
    pub fn all_nodes_have(&self, key: &str) -> bool {
        let with_key: u32 = self
            .node_values
            .get(key)
            .map_or(0, |values| values.values().sum());
        with_key == self.nodes
    }

    /// The values node label `key` takes on some node (the topology domains), with the number
    /// of nodes in each; values of removed nodes stay with a count of 0.
    pub fn domains(&self, key: &str) -> impl Iterator<Item = &str> {
        self.node_values
            .get(key)
            .into_iter()
            .flat_map(|m| m.iter().filter(|(_, n)| **n > 0).map(|(v, _)| v.as_str()))
    }

    /// Required anti-affinity terms of existing pods that might select a pod with `labels` in
    /// `namespace` (candidates; callers check the full term).
    pub fn anti_affinity_candidates<'a>(
        &'a self,
        namespace: &str,
        labels: &'a crate::labels::Labels,
    ) -> impl Iterator<Item = &'a AntiAffinityEntry> + 'a {
        let keyed: Vec<&'a Vec<AntiAffinityEntry>> = labels
            .iter()
            .filter_map(|(k, v)| self.anti_by_label.get(&label_key(namespace, k, v)))
            .collect();
        keyed.into_iter().flatten().chain(self.anti_general.iter())
    }

    pub fn scoring_affinity_pods(&self) -> u32 {
        self.scoring_affinity_pods
    }

    fn pod(&mut self, node_id: NodeId, node: &NodeInfo, pod: &Arc<PodSpec>, sign: i64) {
        for (k, v) in &pod.labels {
            let key = label_key(&pod.namespace, k, v);
            let counts = match self.by_node.get_mut(&key) {
                Some(c) => c,
                None => self.by_node.entry(key.clone()).or_default(),
            };
            counts.total = (i64::from(counts.total) + sign).max(0) as u32;
            counts.per_node.add(node_id.0, sign, self.nodes as usize);
            if counts.total == 0 {
                self.by_node.remove(&key);
            }
            let by_topology = self.by_domain.entry(key).or_default();
            for (tk, tv) in effective_labels(node) {
                // Look up before inserting: binds are frequent, new keys rare.
                let values = match by_topology.get_mut(tk) {
                    Some(m) => m,
                    None => by_topology.entry(tk.to_string()).or_default(),
                };
                let c = match values.get_mut(tv) {
                    Some(c) => c,
                    None => values.entry(tv.to_string()).or_insert(0),
                };
                *c = (i64::from(*c) + sign).max(0) as u32;
            }
        }
        let scoring = !pod.pod_affinity.is_empty() || !pod.pod_anti_affinity.preferred.is_empty();
        if scoring {
            self.scoring_affinity_pods =
                (i64::from(self.scoring_affinity_pods) + sign).max(0) as u32;
        }
        for (ti, t) in pod.pod_anti_affinity.required.iter().enumerate() {
            let entry = AntiAffinityEntry {
                node: node_id,
                pod: pod.clone(),
                term: ti,
            };
            let first = t
                .selector
                .as_ref()
                .and_then(|s| s.match_labels.iter().next());
            match first {
                None => {
                    if sign > 0 {
                        self.anti_general.push(entry);
                    } else {
                        self.anti_general
                            .retain(|e| !(Arc::ptr_eq(&e.pod, pod) && e.term == ti));
                    }
                }
                Some((k, v)) => {
                    let mut namespaces: Vec<&str> = if t.namespaces.is_empty() {
                        vec![pod.namespace.as_str()]
                    } else {
                        t.namespaces.iter().map(String::as_str).collect()
                    };
                    namespaces.sort_unstable();
                    namespaces.dedup();
                    for ns in namespaces {
                        let list = self.anti_by_label.entry(label_key(ns, k, v)).or_default();
                        if sign > 0 {
                            list.push(entry.clone());
                        } else {
                            list.retain(|e| !(Arc::ptr_eq(&e.pod, pod) && e.term == ti));
                        }
                    }
                }
            }
        }
    }

    fn node(&mut self, node: &NodeInfo, sign: i64) {
        for (k, v) in effective_labels(node) {
            let c = self
                .node_values
                .entry(k.to_string())
                .or_default()
                .entry(v.to_string())
                .or_insert(0);
            *c = (i64::from(*c) + sign).max(0) as u32;
        }
        self.nodes = (i64::from(self.nodes) + sign).max(0) as u32;
    }
}

/// Nodes and their index. Mutate only through [`Cluster::bind`], [`Cluster::unbind`] and
/// [`Cluster::update_node`] so the index stays exact.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    nodes: Vec<NodeInfo>,
    index: ClusterIndex,
}

impl Cluster {
    /// Indexes `nodes` and the pods already bound to them.
    pub fn new(nodes: Vec<NodeInfo>) -> Self {
        let mut index = ClusterIndex::default();
        for (i, n) in nodes.iter().enumerate() {
            index.node(n, 1);
            for p in &n.pods {
                index.pod(NodeId(i), n, p, 1);
            }
        }
        Cluster { nodes, index }
    }

    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    pub fn into_nodes(self) -> Vec<NodeInfo> {
        self.nodes
    }

    /// Commits `pod` to `node` on `devices`, after checking that its requests fit and the
    /// devices can take it ([`NodeInfo::check_bind`]); a refused bind changes nothing.
    pub fn bind(
        &mut self,
        node: NodeId,
        pod: Arc<PodSpec>,
        devices: Vec<u8>,
    ) -> Result<(), Overcommit> {
        let n = self
            .nodes
            .get(node.0)
            .ok_or_else(|| Overcommit(format!("no node {}", node.0)))?;
        n.check_bind(&pod, &devices)?;
        self.index.pod(node, n, &pod, 1);
        self.nodes[node.0].add_pod_on(pod, devices);
        Ok(())
    }

    /// Unbinds this very pod (the same `Arc` that was bound) from `node`: exact even when two
    /// pods share a name.
    pub fn unbind_pod(&mut self, node: NodeId, pod: &Arc<PodSpec>) -> Option<Arc<PodSpec>> {
        let pod = self.nodes[node.0].remove_pod_arc(pod)?;
        self.index.pod(node, &self.nodes[node.0], &pod, -1);
        Some(pod)
    }

    /// Unbinds `namespace/name` from `node`, returning it if it was there.
    pub fn unbind(&mut self, node: NodeId, namespace: &str, name: &str) -> Option<Arc<PodSpec>> {
        let pod = self.nodes[node.0].remove_pod(namespace, name)?;
        self.index.pod(node, &self.nodes[node.0], &pod, -1);
        Some(pod)
    }

    /// Sets a node's allocatable resources and returns the old ones. Cheaper than
    /// [`Cluster::update_node`]: the index does not depend on capacity. What a two-level
    /// framework's view does: free on each node only what it was offered there.
    pub fn set_allocatable(
        &mut self,
        node: NodeId,
        allocatable: crate::Resources,
    ) -> crate::Resources {
        let n = &mut self.nodes[node.0];
        n.touch();
        std::mem::replace(&mut n.allocatable, allocatable)
    }

    /// Changes a node (labels, taints, capacity, cordon) and re-indexes it.
    pub fn update_node(&mut self, node: NodeId, f: impl FnOnce(&mut NodeInfo)) {
        let pods = self.nodes[node.0].pods.clone();
        for p in &pods {
            self.index.pod(node, &self.nodes[node.0], p, -1);
        }
        self.index.node(&self.nodes[node.0], -1);
        f(&mut self.nodes[node.0]);
        self.nodes[node.0].touch();
        self.index.node(&self.nodes[node.0], 1);
        for p in &self.nodes[node.0].pods.clone() {
            self.index.pod(node, &self.nodes[node.0], p, 1);
        }
    }
}

impl ClusterView for Cluster {
    fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    fn index(&self) -> Option<&ClusterIndex> {
        Some(&self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts stay exact as a label spreads from a few nodes (a map) to many (a vector) and
    /// back; a count never goes below zero.
    #[test]
    fn per_node_counts_survive_the_switch_to_a_vector() {
        let nodes = 64;
        let mut c = PerNode::default();
        c.add(5, -1, nodes);
        assert_eq!(c.get(5), 0);
        c.add(5, 1, nodes);
        c.add(5, 1, nodes);
        assert!(matches!(c, PerNode::Sparse(_)));
        for n in 10..12 {
            c.add(n, 1, nodes);
        }
        // Three nodes of 64 hold it: past a 32nd, so a vector now.
        assert!(matches!(c, PerNode::Dense(_)));
        assert_eq!((c.get(5), c.get(10), c.get(11), c.get(12)), (2, 1, 1, 0));
        c.add(5, -1, nodes);
        c.add(100, 1, nodes);
        assert_eq!((c.get(5), c.get(100), c.get(1_000)), (1, 1, 0));
    }
}
