//! The Kubernetes scheduling framework: filter → score → normalize → weighted sum → select,
//! with the default plugins, `percentageOfNodesToScore` and DefaultPreemption.
//!
//! Followed: Kubernetes v1.33.3 `pkg/scheduler` (schedule_one.go, framework/runtime,
//! framework/plugins/*); the score arithmetic is unchanged through v1.35.4. Where upstream is
//! parallel or random, orchsim is sequential and seeded:
//! - filters run on nodes in view order from a rotating start index (`nextStartNodeIndex`),
//!   stopping after `numFeasibleNodesToFind` feasible nodes; upstream's 16 workers make the
//!   exact set found racy, the sequential walk is its deterministic equivalent;
//! - ties between top-scored nodes are broken uniformly at random (v1.33 `selectHost` reservoir
//!   sampling), with a seeded ChaCha8 stream instead of Go's global `math/rand`.

pub mod config;
pub mod cron;
pub mod objects;
mod plugins;
mod preemption;
mod profile;
pub mod quantity;
mod yaml;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::{
    ClusterView, Decision, NodeId, Outcome, PodSpec, Scheduler, Unschedulable, WorkCount,
};

pub use plugins::{
    balanced_score, default_normalize, fit_score, node_label, Plugin, Rejection, MAX_NODE_SCORE,
};
pub use profile::{FitStrategy, Profile, ResourceName, ScoringType};

/// One plugin's contribution to a node's total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginScore {
    pub plugin: Plugin,
    pub raw: i64,
    pub normalized: i64,
    pub weight: i64,
    pub weighted: i64,
}

/// What the pipeline did on one node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeReport {
    /// False if the node was not reached because enough feasible nodes were found first.
    pub examined: bool,
    pub feasible: bool,
    /// The failing filter's reasons (empty when feasible).
    pub reasons: Vec<String>,
    pub rejected_by: Option<Plugin>,
    /// Per-plugin scores, for feasible nodes that were scored.
    pub scores: Vec<PluginScore>,
    pub total: i64,
}

/// A decision with everything that led to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    pub outcome: Outcome,
    /// One report per node in view order.
    pub nodes: Vec<NodeReport>,
    /// `numFeasibleNodesToFind` for this cluster size.
    pub nodes_to_find: usize,
}

/// kube-scheduler with one profile.
pub struct KubeScheduler {
    profile: Profile,
    rng: ChaCha8Rng,
    next_start: usize,
}

impl KubeScheduler {
    pub fn new(profile: Profile, seed: u64) -> Self {
        KubeScheduler {
            profile,
            rng: ChaCha8Rng::seed_from_u64(seed),
            next_start: 0,
        }
    }

    /// Schedules `pod` and reports, per node, filter results and scores.
    pub fn explain(&mut self, pod: &PodSpec, view: &dyn ClusterView) -> Explanation {
        self.run(pod, view, true)
    }

    fn run(&mut self, pod: &PodSpec, view: &dyn ClusterView, detail: bool) -> Explanation {
        let nodes = view.nodes();
        let n = nodes.len();
        let to_find = self.profile.num_feasible_nodes_to_find(n);
        let mut reports = if detail {
            vec![NodeReport::default(); n]
        } else {
            Vec::new()
        };
        let mut work = WorkCount::default();
        if n == 0 {
            return Explanation {
                outcome: Outcome {
                    decision: Decision::Unschedulable(Unschedulable::default()),
                    work,
                },
                nodes: reports,
                nodes_to_find: 0,
            };
        }
        let state = plugins::CycleState::new(pod, view, &self.profile);

        // Filter, from the rotating start, until enough feasible nodes are found.
        let mut feasible = Vec::new();
        // Only examined nodes are rejected; a per-node table is built only for preemption.
        let mut rejected: Vec<(usize, Rejection)> = Vec::new();
        let mut processed = 0;
        let active: Vec<(u64, Plugin)> = (1..)
            .zip(self.profile.filters.iter().copied())
            .filter(|&(_, p)| state.filters(p))
            .collect();
        let all_filters = self.profile.filters.len() as u64;
        for k in 0..n {
            let i = (self.next_start + k) % n;
            processed += 1;
            let mut verdict = Ok(());
            // Every filter counts as evaluated up to the one that rejects, as upstream runs them.
            let mut evals = all_filters;
            for &(position, p) in &active {
                verdict = state.filter(p, &nodes[i]);
                if verdict.is_err() {
                    evals = position;
                    break;
                }
            }
            work.plugin_evals += evals;
            if detail {
                reports[i].examined = true;
            }
            match verdict {
                Ok(()) => {
                    if detail {
                        reports[i].feasible = true;
                    }
                    feasible.push(i);
                    if feasible.len() >= to_find {
                        break;
                    }
                }
                Err(r) => {
                    if detail {
                        reports[i].reasons = r.reasons.iter().map(str::to_string).collect();
                        reports[i].rejected_by = Some(r.plugin);
                    }
                    rejected.push((i, r));
                }
            }
        }
        work.nodes_filtered = processed as u64;
        self.next_start = (self.next_start + processed) % n;

        if feasible.is_empty() {
            let mut why = Unschedulable {
                nodes: n,
                ..Default::default()
            };
            for (_, r) in &rejected {
                for reason in r.reasons.iter() {
                    why.add(reason);
                }
            }
            let mut rejections: Vec<Option<Rejection>> = vec![None; n];
            for (i, r) in rejected {
                rejections[i] = Some(r);
            }
            let decision = if self.profile.preemption && !pod.never_preempt {
                match preemption::find(pod, nodes, &rejections, &self.profile, &mut self.rng) {
                    Some((node, victims)) => Decision::Preempt {
                        node: NodeId(node),
                        victims,
                        why,
                    },
                    None => Decision::Unschedulable(why),
                }
            } else {
                Decision::Unschedulable(why)
            };
            return Explanation {
                outcome: Outcome { decision, work },
                nodes: reports,
                nodes_to_find: to_find,
            };
        }

        // One feasible node: upstream binds it without scoring. Explain still shows scores.
        let chosen = if feasible.len() == 1 && !detail {
            feasible[0]
        } else {
            let mut totals = vec![0i64; feasible.len()];
            for &(plugin, weight) in &self.profile.scores {
                if !state.scores(plugin, &self.profile) {
                    continue;
                }
                work.plugin_evals += feasible.len() as u64;
                let Some((raw, norm)) = state.score(plugin, &self.profile, nodes, &feasible) else {
                    continue;
                };
                for (k, &i) in feasible.iter().enumerate() {
                    let weighted = norm[k] * weight;
                    totals[k] += weighted;
                    if detail {
                        reports[i].scores.push(PluginScore {
                            plugin,
                            raw: raw[k],
                            normalized: norm[k],
                            weight,
                            weighted,
                        });
                    }
                }
            }
            work.nodes_scored = feasible.len() as u64;
            if detail {
                for (k, &i) in feasible.iter().enumerate() {
                    reports[i].total = totals[k];
                }
            }
            if feasible.len() == 1 {
                feasible[0]
            } else {
                self.select_host(&feasible, &totals)
            }
        };
        Explanation {
            outcome: Outcome {
                decision: Decision::bind_default(NodeId(chosen), pod, view),
                work,
            },
            nodes: reports,
            nodes_to_find: to_find,
        }
    }

    /// v1.33 `selectHost`: uniform choice among the nodes with the highest total (reservoir
    /// sampling over the feasible list).
    fn select_host(&mut self, feasible: &[usize], totals: &[i64]) -> usize {
        let max = totals.iter().copied().max().unwrap_or(0);
        let mut count = 0u32;
        let mut chosen = feasible[0];
        for (k, &i) in feasible.iter().enumerate() {
            if totals[k] == max {
                count += 1;
                if self.rng.random_range(0..count) == 0 {
                    chosen = i;
                }
            }
        }
        chosen
    }
}

impl Scheduler for KubeScheduler {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn schedule(&mut self, pod: &PodSpec, view: &dyn ClusterView) -> Outcome {
        self.run(pod, view, false).outcome
    }
}

#[cfg(test)]
mod tests;
