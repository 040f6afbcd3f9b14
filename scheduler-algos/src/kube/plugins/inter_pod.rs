//! InterPodAffinity (interpodaffinity/*.go): required (anti-)affinity as a filter, preferred
//! terms and existing pods' terms as a score.

use super::*;

/// The namespaces an affinity term of a pod in `owner_ns` selects from.
pub(super) fn term_namespaces<'t>(owner_ns: &'t str, t: &'t PodAffinityTerm) -> Vec<&'t str> {
    if t.namespaces.is_empty() {
        vec![owner_ns]
    } else {
        let mut v: Vec<&str> = t.namespaces.iter().map(String::as_str).collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

impl CycleState<'_> {
    /// The selectors of term `t` of a pod in `owner_ns`, one per namespace it applies to.
    pub(super) fn prepare<'t>(
        owner_ns: &'t str,
        t: &'t PodAffinityTerm,
    ) -> Vec<PreparedSelector<'t>> {
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
    pub(super) fn term_count(node: &NodeInfo, sels: &[PreparedSelector]) -> i64 {
        sels.iter().map(|s| i64::from(node.count_prepared(s))).sum()
    }

    pub(super) fn inter_pod_affinity_filter(&self, node: &NodeInfo) -> Result<(), Rejection> {
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

    /// InterPodAffinity PreScore + Score (scoring.go).
    /// `None` when no pod contributes: upstream's PreScore then returns Skip.
    pub(super) fn inter_pod_raw(
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
