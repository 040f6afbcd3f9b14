//! A kube-scheduler profile: which plugins run, their weights and their arguments.
//! Defaults are the v1 defaults of Kubernetes v1.33 (apis/config/v1/default_plugins.go,
//! defaults.go).

use crate::model::TopologySpreadConstraint;

use super::plugins::Plugin;

/// A resource named in plugin arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResourceName {
    Cpu,
    Memory,
    EphemeralStorage,
    /// `nvidia.com/gpu`, backed by [`crate::Resources::gpu_milli`].
    Gpu,
    /// Any other extended resource.
    Extended(String),
}

impl ResourceName {
    pub fn parse(name: &str) -> ResourceName {
        match name {
            "cpu" => ResourceName::Cpu,
            "memory" => ResourceName::Memory,
            "ephemeral-storage" => ResourceName::EphemeralStorage,
            "nvidia.com/gpu" => ResourceName::Gpu,
            other => ResourceName::Extended(other.to_string()),
        }
    }
}

/// NodeResourcesFit `scoringStrategy.type`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScoringType {
    LeastAllocated,
    MostAllocated,
    /// Shape points as (utilization 0–100, score 0–100); the config's 0–10 scores are scaled
    /// by 10 when loaded (requested_to_capacity_ratio.go).
    RequestedToCapacityRatio {
        shape: Vec<(i64, i64)>,
    },
}

/// NodeResourcesFit scoring: the strategy and (resource, weight) pairs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FitStrategy {
    pub kind: ScoringType,
    pub resources: Vec<(ResourceName, i64)>,
}

/// One scheduling profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    /// Enabled plugins in execution order.
    pub filters: Vec<Plugin>,
    /// Enabled score plugins with their weights.
    pub scores: Vec<(Plugin, i64)>,
    pub fit: FitStrategy,
    pub balanced_resources: Vec<ResourceName>,
    /// `PodTopologySpreadArgs.defaultConstraints` with `defaultingType: List`; `None` means the
    /// System defaults.
    pub default_spread: Option<Vec<TopologySpreadConstraint>>,
    /// 0 = adaptive (the default).
    pub percentage_of_nodes_to_score: u32,
    /// InterPodAffinityArgs.hardPodAffinityWeight (default 1).
    pub hard_pod_affinity_weight: i64,
    /// Whether DefaultPreemption runs.
    pub preemption: bool,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            name: "default-scheduler".into(),
            filters: Plugin::ALL.into_iter().filter(|p| p.has_filter()).collect(),
            scores: Plugin::ALL
                .into_iter()
                .filter(|p| p.has_score())
                .map(|p| (p, p.default_weight()))
                .collect(),
            fit: FitStrategy {
                kind: ScoringType::LeastAllocated,
                resources: vec![(ResourceName::Cpu, 1), (ResourceName::Memory, 1)],
            },
            balanced_resources: vec![ResourceName::Cpu, ResourceName::Memory],
            default_spread: None,
            percentage_of_nodes_to_score: 0,
            hard_pod_affinity_weight: 1,
            preemption: true,
        }
    }
}

/// schedule_one.go `minFeasibleNodesToFind`.
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// schedule_one.go `minFeasibleNodesPercentageToFind`.
const MIN_FEASIBLE_NODES_PERCENTAGE: i64 = 5;

impl Profile {
    /// schedule_one.go `numFeasibleNodesToFind` (no extenders).
    pub fn num_feasible_nodes_to_find(&self, num_all_nodes: usize) -> usize {
        if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND {
            return num_all_nodes;
        }
        let mut percentage = i64::from(self.percentage_of_nodes_to_score);
        if percentage == 0 {
            percentage = 50 - num_all_nodes as i64 / 125;
            if percentage < MIN_FEASIBLE_NODES_PERCENTAGE {
                percentage = MIN_FEASIBLE_NODES_PERCENTAGE;
            }
        }
        let num = (num_all_nodes as i64 * percentage / 100) as usize;
        if num < MIN_FEASIBLE_NODES_TO_FIND {
            return MIN_FEASIBLE_NODES_TO_FIND;
        }
        num
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// schedule_one.go numFeasibleNodesToFind: all nodes below 100; 50 - n/125 percent,
    /// at least 5%, at least 100 nodes.
    #[test]
    fn adaptive_percentage_of_nodes_to_score() {
        let p = Profile::default();
        for (n, want) in [
            (10, 10),
            (99, 99),
            (100, 100),
            (200, 100),
            (1000, 420),
            (5000, 500),
            (6000, 300),
            (15000, 750),
        ] {
            assert_eq!(p.num_feasible_nodes_to_find(n), want, "{n} nodes");
        }
        let fixed = Profile {
            percentage_of_nodes_to_score: 100,
            ..Profile::default()
        };
        assert_eq!(fixed.num_feasible_nodes_to_find(5000), 5000);
    }

    #[test]
    fn default_profile_weights() {
        let p = Profile::default();
        let w = |name: &str| {
            p.scores
                .iter()
                .find(|(pl, _)| pl.name() == name)
                .map(|(_, w)| *w)
        };
        assert_eq!(w("TaintToleration"), Some(3));
        assert_eq!(w("NodeAffinity"), Some(2));
        assert_eq!(w("PodTopologySpread"), Some(2));
        assert_eq!(w("InterPodAffinity"), Some(2));
        assert_eq!(w("NodeResourcesFit"), Some(1));
        assert_eq!(w("NodeResourcesBalancedAllocation"), Some(1));
        assert_eq!(w("ImageLocality"), Some(1));
        assert_eq!(w("NodePorts"), None);
    }
}
