//! Kubernetes label, selector, taint and toleration semantics, as the API defines them.
//!
//! Sources (Kubernetes v1.33): k8s.io/apimachinery `pkg/labels/selector.go` (requirement
//! operators), k8s.io/component-helpers `scheduling/corev1/nodeaffinity` (node selector terms,
//! `Gt`/`Lt` integer comparison), k8s.io/api `core/v1/toleration.go` (`ToleratesTaint`).

use std::collections::BTreeMap;

/// Labels are ordered so that every iteration over them is deterministic.
pub type Labels = BTreeMap<String, String>;

/// Operator of a selector requirement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectorOp {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    /// Node selectors only: the label's value, parsed as an integer, is greater than the one value.
    Gt,
    Lt,
}

impl SelectorOp {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "In" => SelectorOp::In,
            "NotIn" => SelectorOp::NotIn,
            "Exists" => SelectorOp::Exists,
            "DoesNotExist" => SelectorOp::DoesNotExist,
            "Gt" => SelectorOp::Gt,
            "Lt" => SelectorOp::Lt,
            _ => return None,
        })
    }
}

/// `key <op> values`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub op: SelectorOp,
    pub values: Vec<String>,
}

impl Requirement {
    /// Whether `labels` satisfy the requirement. `NotIn` and `DoesNotExist` match when the key is
    /// absent; `Gt`/`Lt` need the key present with an integer value (apimachinery selector.go).
    pub fn matches(&self, labels: &Labels) -> bool {
        let v = labels.get(&self.key);
        match self.op {
            SelectorOp::In => v.is_some_and(|v| self.values.iter().any(|x| x == v)),
            SelectorOp::NotIn => v.is_none_or(|v| !self.values.iter().any(|x| x == v)),
            SelectorOp::Exists => v.is_some(),
            SelectorOp::DoesNotExist => v.is_none(),
            SelectorOp::Gt | SelectorOp::Lt => {
                let (Some(v), Some(bound)) = (v, self.values.first()) else {
                    return false;
                };
                let (Ok(v), Ok(bound)) = (v.parse::<i64>(), bound.parse::<i64>()) else {
                    return false;
                };
                if self.op == SelectorOp::Gt {
                    v > bound
                } else {
                    v < bound
                }
            }
        }
    }
}

/// A `metav1.LabelSelector`: `matchLabels` and `matchExpressions`, ANDed. The empty selector
/// matches everything; a missing selector (`Option::None` where one is used) matches nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    pub match_labels: Labels,
    pub match_expressions: Vec<Requirement>,
}

impl LabelSelector {
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }

    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }
}

/// One `nodeSelectorTerm`: its expressions (on labels) and fields (`metadata.name` only) ANDed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSelectorTerm {
    pub match_expressions: Vec<Requirement>,
    pub match_fields: Vec<Requirement>,
}

impl NodeSelectorTerm {
    /// An empty term matches no node (component-helpers nodeaffinity: "empty term matches
    /// nothing").
    pub fn matches(&self, node_name: &str, labels: &Labels) -> bool {
        if self.match_expressions.is_empty() && self.match_fields.is_empty() {
            return false;
        }
        let mut fields = Labels::new();
        fields.insert("metadata.name".to_string(), node_name.to_string());
        self.match_expressions.iter().all(|r| r.matches(labels))
            && self.match_fields.iter().all(|r| r.matches(&fields))
    }
}

/// Node affinity of a pod.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeAffinity {
    /// `requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`, ORed. `None` means no
    /// requirement; `Some(vec![])` matches nothing.
    pub required: Option<Vec<NodeSelectorTerm>>,
    /// `preferredDuringSchedulingIgnoredDuringExecution`: (weight 1–100, term).
    pub preferred: Vec<(i32, NodeSelectorTerm)>,
}

/// One pod (anti-)affinity term.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodAffinityTerm {
    /// `None` matches no pod; an empty selector matches every pod.
    pub selector: Option<LabelSelector>,
    /// Namespaces the term applies to; empty means the owning pod's namespace.
    pub namespaces: Vec<String>,
    pub topology_key: String,
}

impl PodAffinityTerm {
    /// Whether `pod` (namespace, labels) is selected by the term owned by a pod in `owner_ns`.
    pub fn matches(&self, owner_ns: &str, ns: &str, labels: &Labels) -> bool {
        let ns_ok = if self.namespaces.is_empty() {
            ns == owner_ns
        } else {
            self.namespaces.iter().any(|n| n == ns)
        };
        ns_ok && self.selector.as_ref().is_some_and(|s| s.matches(labels))
    }
}

/// Pod affinity or anti-affinity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodAffinity {
    pub required: Vec<PodAffinityTerm>,
    pub preferred: Vec<(i32, PodAffinityTerm)>,
}

impl PodAffinity {
    pub fn is_empty(&self) -> bool {
        self.required.is_empty() && self.preferred.is_empty()
    }
}

/// Effect of a taint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

impl TaintEffect {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "NoSchedule" => TaintEffect::NoSchedule,
            "PreferNoSchedule" => TaintEffect::PreferNoSchedule,
            "NoExecute" => TaintEffect::NoExecute,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: TaintEffect,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TolerationOp {
    Equal,
    Exists,
}

/// A toleration; an empty `key` with `Exists` tolerates every taint, `effect: None` every effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Toleration {
    pub key: String,
    pub op: TolerationOp,
    pub value: String,
    pub effect: Option<TaintEffect>,
}

impl Toleration {
    /// k8s.io/api core/v1 `Toleration.ToleratesTaint`.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if self.effect.is_some_and(|e| e != taint.effect) {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        match self.op {
            TolerationOp::Equal => self.value == taint.value,
            TolerationOp::Exists => true,
        }
    }
}

/// Whether any of `tolerations` tolerates `taint`.
pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| t.tolerates(taint))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(kv: &[(&str, &str)]) -> Labels {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn req(key: &str, op: SelectorOp, values: &[&str]) -> Requirement {
        Requirement {
            key: key.into(),
            op,
            values: values.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Operator semantics from the Kubernetes docs, "Assign Pods to Nodes": NotIn and
    /// DoesNotExist select nodes without the label; Gt/Lt compare integers.
    #[test]
    fn requirement_operators_follow_the_api() {
        let l = labels(&[("zone", "a"), ("cores", "16")]);
        use SelectorOp::*;
        let cases = [
            (req("zone", In, &["a", "b"]), true),
            (req("zone", In, &["b"]), false),
            (req("zone", NotIn, &["b"]), true),
            (req("missing", NotIn, &["b"]), true),
            (req("zone", Exists, &[]), true),
            (req("missing", DoesNotExist, &[]), true),
            (req("cores", Gt, &["8"]), true),
            (req("cores", Gt, &["16"]), false),
            (req("cores", Lt, &["32"]), true),
            (req("zone", Gt, &["1"]), false),
            (req("missing", Lt, &["1"]), false),
        ];
        for (r, want) in cases {
            assert_eq!(r.matches(&l), want, "{r:?}");
        }
    }

    #[test]
    fn empty_node_selector_term_matches_nothing() {
        let t = NodeSelectorTerm::default();
        assert!(!t.matches("n", &labels(&[("a", "b")])));
        let by_name = NodeSelectorTerm {
            match_fields: vec![req("metadata.name", SelectorOp::In, &["n1"])],
            ..Default::default()
        };
        assert!(by_name.matches("n1", &Labels::new()));
        assert!(!by_name.matches("n2", &Labels::new()));
    }

    /// core/v1 toleration.go: empty effect matches all effects; empty key with Exists matches
    /// all taints; Equal compares values.
    #[test]
    fn tolerations_follow_tolerates_taint() {
        let taint = Taint {
            key: "gpu".into(),
            value: "true".into(),
            effect: TaintEffect::NoSchedule,
        };
        let t = |key: &str, op, value: &str, effect| Toleration {
            key: key.into(),
            op,
            value: value.into(),
            effect,
        };
        use TolerationOp::*;
        assert!(t("gpu", Equal, "true", Some(TaintEffect::NoSchedule)).tolerates(&taint));
        assert!(t("gpu", Equal, "true", None).tolerates(&taint));
        assert!(!t("gpu", Equal, "false", None).tolerates(&taint));
        assert!(t("gpu", Exists, "", None).tolerates(&taint));
        assert!(t("", Exists, "", None).tolerates(&taint));
        assert!(!t("gpu", Exists, "", Some(TaintEffect::NoExecute)).tolerates(&taint));
        assert!(!t("other", Exists, "", None).tolerates(&taint));
    }

    #[test]
    fn pod_affinity_terms_default_to_the_owner_namespace() {
        let term = PodAffinityTerm {
            selector: Some(LabelSelector {
                match_labels: labels(&[("app", "db")]),
                ..Default::default()
            }),
            namespaces: vec![],
            topology_key: "zone".into(),
        };
        let db = labels(&[("app", "db")]);
        assert!(term.matches("prod", "prod", &db));
        assert!(!term.matches("prod", "dev", &db));
        let nil = PodAffinityTerm {
            selector: None,
            ..term.clone()
        };
        assert!(!nil.matches("prod", "prod", &db));
        let everything = PodAffinityTerm {
            selector: Some(LabelSelector::default()),
            ..term
        };
        assert!(everything.matches("prod", "prod", &Labels::new()));
    }
}
