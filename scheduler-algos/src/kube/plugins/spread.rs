//! PodTopologySpread (podtopologyspread/*.go): which nodes and pods a constraint counts, the
//! system default constraints, and the score with its normalisation.

use super::*;

/// Whether every node counts toward spread constraint `c` for `pod`, so that a cluster-wide
/// count equals upstream's walk with `matchNodeInclusionPolicies`.
pub(super) fn counts_every_node(c: &TopologySpreadConstraint, pod: &PodSpec) -> bool {
    (c.node_affinity_policy == InclusionPolicy::Ignore
        || (pod.node_selector.is_empty() && pod.node_affinity.required.is_none()))
        && c.node_taints_policy == InclusionPolicy::Ignore
}

/// `matchNodeInclusionPolicies`: which nodes count toward a spread constraint.
pub(super) fn spread_includes(
    c: &TopologySpreadConstraint,
    pod: &PodSpec,
    node: &NodeInfo,
) -> bool {
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

pub(super) fn has_all_keys(node: &NodeInfo, cs: &[&TopologySpreadConstraint]) -> bool {
    cs.iter()
        .all(|c| node_label(node, &c.topology_key).is_some())
}

/// The pods a default spread constraint counts: upstream uses the selectors of the Services
/// and ReplicaSets that select this pod (podtopologyspread/plugin.go, DefaultSelector);
/// orchsim stands in for them with the pod's own labels, which is what a ReplicaSet's selector
/// matches for its pods. Pods without an owner or labels get no default constraints.
pub(super) fn owner_selector(pod: &PodSpec) -> Option<LabelSelector> {
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

impl CycleState<'_> {
    /// PodTopologySpread PreScore + Score (scoring.go).
    pub(super) fn spread_raw(&self, nodes: &[NodeInfo], feasible: &[usize]) -> Vec<i64> {
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
        // Per-node counts of single-label selectors from the index, by node position, instead
        // of each node's own label table.
        let host_counts: Vec<Option<Option<&PerNode>>> = cs
            .iter()
            .map(|c| {
                let (Some(ix), Some((k, v)), true) = (
                    self.index,
                    single_label(&c.selector),
                    c.topology_key == HOSTNAME_LABEL,
                ) else {
                    return None;
                };
                Some(ix.pods_per_node(&label_key(&pod.namespace, k, v)))
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
                        let cnt = if let Some(per_node) = host_counts[ci] {
                            i64::from(per_node.map_or(0, |m| m.get(i)))
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

    pub(super) fn spread_normalize(
        &self,
        nodes: &[NodeInfo],
        feasible: &[usize],
        raw: &[i64],
    ) -> Vec<i64> {
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
}
