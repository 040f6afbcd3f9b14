//! Cluster provisioning, `[provisioning]`: hosts that appear when pods wait and go when they
//! are not needed — the Cluster Autoscaler over node groups, or Karpenter over a priced
//! catalogue of instance types — with spot hosts that the cloud takes back.
//!
//! ```toml
//! [provisioning]
//! provisioner = "cluster-autoscaler"   # or "karpenter"
//! expander = "least-waste"             # any value of presets/provisioning.toml
//! spot_interruption_mean_s = 86400     # spot hosts live a day on average
//!
//! [[hosts]]                            # a node group (CA) or an instance type (Karpenter)
//! name = "m5-large-spot"
//! count = 0                            # hosts at the start
//! max_count = 40                       # at most this many (min_count: at least; default 0)
//! capacity_type = "spot"               # or "on-demand" (the default)
//! cost_per_hour = 0.035
//! ```
//!
//! A host group with `min_count` or `max_count` is one the provisioner manages; the others are
//! fixed. This module holds the decisions, pure and with the time passed in: the Cluster
//! Autoscaler's binpacking estimator and expanders ([`estimate`], [`expand`]), its
//! scale-down test ([`fits_elsewhere`]), and Karpenter's packing of pending pods onto new
//! node claims with the cheapest instance type that holds them ([`pack`], [`cheapest`]).
//! `world/provision.rs` applies them to the running cluster.

use std::collections::BTreeMap;

use orchsim_kernel::SimDuration;
use orchsim_sched::{NodeInfo, PodSpec, Resources};
use rand::Rng;
use toml::Spanned;

use crate::scenario::{Locator, ScenarioError};
use crate::values_file::{
    self, check_value, key_list, number, seconds, Key, Replicas, Unit, ValuesFile,
};

/// The compiled-in defaults, with their sources.
pub const DEFAULTS: &str = include_str!("../presets/provisioning.toml");

const KEYS: &[Key] = &[
    (
        "provision_delay_s",
        Unit::Seconds,
        "from launching a host to it being Ready",
    ),
    (
        "scan_interval_s",
        Unit::Seconds,
        "Cluster Autoscaler: how often it looks for pending pods and unneeded hosts",
    ),
    (
        "expander",
        Unit::Word,
        "Cluster Autoscaler: which node group grows — random, most-pods or least-waste",
    ),
    (
        "scale_down_utilization_threshold",
        Unit::Fraction,
        "Cluster Autoscaler: a host below this share of CPU and of memory requested may go",
    ),
    (
        "scale_down_unneeded_s",
        Unit::Seconds,
        "Cluster Autoscaler: how long a host must be unneeded before it goes",
    ),
    (
        "scale_down_delay_after_add_s",
        Unit::Seconds,
        "Cluster Autoscaler: no scale-down this long after a scale-up",
    ),
    (
        "scale_down_delay_after_delete_s",
        Unit::Seconds,
        "Cluster Autoscaler: no scale-down this long after one",
    ),
    (
        "max_empty_bulk_delete",
        Unit::Count,
        "Cluster Autoscaler: empty hosts removed at once",
    ),
    (
        "batch_idle_s",
        Unit::Seconds,
        "Karpenter: a batch of pending pods ends after this long without a new one",
    ),
    (
        "batch_max_s",
        Unit::Seconds,
        "Karpenter: a batch lasts at most this long",
    ),
    (
        "consolidation_policy",
        Unit::Word,
        "Karpenter: WhenEmptyOrUnderutilized or WhenEmpty",
    ),
    (
        "consolidate_after_s",
        Unit::Seconds,
        "Karpenter: a host may be consolidated this long after its pods last changed",
    ),
    (
        "disruption_poll_s",
        Unit::Seconds,
        "Karpenter: how often consolidation looks for hosts to remove or replace",
    ),
    (
        "consolidation_validation_s",
        Unit::Seconds,
        "Karpenter: how long a consolidation waits before checking it still holds and acting",
    ),
    (
        "disruption_budget",
        Unit::Replicas,
        "Karpenter: hosts disrupted at once, a number or a percentage of the hosts",
    ),
    (
        "spot_to_spot_consolidation",
        Unit::Bool,
        "Karpenter: a spot host may be replaced by a cheaper spot host",
    ),
    (
        "spot_interruption_mean_s",
        Unit::Seconds,
        "mean run time of a spot host before the cloud reclaims it (0: never)",
    ),
    (
        "spot_notice_s",
        Unit::Seconds,
        "warning before a spot host is reclaimed; its pods are drained on the notice",
    ),
];

/// Which provisioner runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provisioner {
    ClusterAutoscaler,
    Karpenter,
}

/// The Cluster Autoscaler's choice among node groups that could take the pending pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expander {
    Random,
    MostPods,
    LeastWaste,
}

/// Karpenter's consolidation policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consolidation {
    WhenEmpty,
    WhenEmptyOrUnderutilized,
}

/// `[provisioning]`, resolved from the defaults and the scenario's values.
#[derive(Clone, Debug, PartialEq)]
pub struct Provisioning {
    pub provisioner: Provisioner,
    pub provision_delay: SimDuration,
    pub scan_interval: SimDuration,
    pub expander: Expander,
    pub utilization_threshold: f64,
    pub unneeded: SimDuration,
    pub delay_after_add: SimDuration,
    pub delay_after_delete: SimDuration,
    pub max_empty_bulk_delete: u64,
    pub batch_idle: SimDuration,
    pub batch_max: SimDuration,
    pub consolidation: Consolidation,
    pub consolidate_after: SimDuration,
    pub disruption_poll: SimDuration,
    pub consolidation_validation: SimDuration,
    pub disruption_budget: Replicas,
    pub spot_to_spot: bool,
    /// `None`: spot hosts are never reclaimed.
    pub spot_interruption_mean: Option<SimDuration>,
    pub spot_notice: SimDuration,
}

/// The defaults file, checked.
pub fn defaults() -> ValuesFile {
    values_file::parse("provisioning", "presets/provisioning.toml", DEFAULTS, KEYS)
        .unwrap_or_else(|e| panic!("compiled-in provisioning defaults are broken: {e}"))
}

const PROVISIONERS: &[(&str, Provisioner)] = &[
    ("cluster-autoscaler", Provisioner::ClusterAutoscaler),
    ("karpenter", Provisioner::Karpenter),
];
const EXPANDERS: &[(&str, Expander)] = &[
    ("random", Expander::Random),
    ("most-pods", Expander::MostPods),
    ("least-waste", Expander::LeastWaste),
];
const POLICIES: &[(&str, Consolidation)] = &[
    ("WhenEmpty", Consolidation::WhenEmpty),
    (
        "WhenEmptyOrUnderutilized",
        Consolidation::WhenEmptyOrUnderutilized,
    ),
];

/// `word` among `choices`, or what was expected.
fn choose<T: Copy>(choices: &[(&str, T)], word: &str) -> Result<T, String> {
    choices
        .iter()
        .find(|(w, _)| *w == word)
        .map(|&(_, t)| t)
        .ok_or_else(|| {
            let names: Vec<String> = choices.iter().map(|(w, _)| format!("`{w}`")).collect();
            format!("expected one of {}, found `{word}`", names.join(", "))
        })
}

impl Provisioning {
    /// The defaults with a scenario's `[provisioning]` values; `provisioner` is required,
    /// unknown keys and values of the wrong type are refused with their location.
    pub(crate) fn resolve(
        loc: &Locator,
        table: &Spanned<BTreeMap<String, Spanned<toml::Value>>>,
    ) -> Result<Provisioning, ScenarioError> {
        let mut values: BTreeMap<String, toml::Value> = defaults()
            .values
            .into_iter()
            .map(|(k, (v, _))| (k, v))
            .collect();
        let mut provisioner = None;
        for (key, v) in table.get_ref() {
            let field = format!("provisioning.{key}");
            let bad = |what: String| loc.error(Some(v.span()), &field, what);
            if key == "provisioner" {
                let word = v.get_ref().as_str().ok_or_else(|| {
                    bad("expected `cluster-autoscaler` or `karpenter` in quotes".into())
                })?;
                provisioner = Some(choose(PROVISIONERS, word).map_err(bad)?);
                continue;
            }
            let Some(&(k, unit, _)) = KEYS.iter().find(|k| k.0 == key) else {
                return Err(bad(format!(
                    "unknown key; expected `provisioner` or one of {}",
                    key_list(KEYS)
                )));
            };
            check_value(loc, key, unit, v, &field)?;
            let word = v.get_ref().as_str().unwrap_or_default();
            match k {
                "expander" => drop(choose(EXPANDERS, word).map_err(bad)?),
                "consolidation_policy" => drop(choose(POLICIES, word).map_err(bad)?),
                "provision_delay_s" | "scan_interval_s" | "batch_idle_s" | "disruption_poll_s"
                    if number(v.get_ref()).is_some_and(|x| x <= 0.0) =>
                {
                    return Err(bad(format!(
                        "expected a positive number of seconds for `{key}`"
                    )))
                }
                _ => {}
            }
            values.insert(k.to_string(), v.get_ref().clone());
        }
        let Some(provisioner) = provisioner else {
            return Err(loc.error(
                Some(table.span()),
                "provisioning.provisioner",
                "expected `provisioner = \"cluster-autoscaler\"` or `\"karpenter\"`".into(),
            ));
        };
        if seconds(&values["batch_max_s"]) < seconds(&values["batch_idle_s"]) {
            return Err(loc.error(
                Some(table.span()),
                "provisioning.batch_max_s",
                "expected a batch at least as long as its idle time (`batch_max_s` ≥ `batch_idle_s`)"
                    .into(),
            ));
        }
        Ok(Provisioning::from_values(provisioner, &values))
    }

    /// From checked values (every key present, each of its unit's type).
    fn from_values(provisioner: Provisioner, v: &BTreeMap<String, toml::Value>) -> Provisioning {
        let s = |k: &str| seconds(&v[k]);
        let word = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        let spot = s("spot_interruption_mean_s");
        Provisioning {
            provisioner,
            provision_delay: s("provision_delay_s"),
            scan_interval: s("scan_interval_s"),
            expander: choose(EXPANDERS, &word("expander")).unwrap_or(Expander::Random),
            utilization_threshold: number(&v["scale_down_utilization_threshold"]).unwrap_or(0.5),
            unneeded: s("scale_down_unneeded_s"),
            delay_after_add: s("scale_down_delay_after_add_s"),
            delay_after_delete: s("scale_down_delay_after_delete_s"),
            max_empty_bulk_delete: v["max_empty_bulk_delete"].as_integer().unwrap_or(10) as u64,
            batch_idle: s("batch_idle_s"),
            batch_max: s("batch_max_s"),
            consolidation: choose(POLICIES, &word("consolidation_policy"))
                .unwrap_or(Consolidation::WhenEmptyOrUnderutilized),
            consolidate_after: s("consolidate_after_s"),
            disruption_poll: s("disruption_poll_s"),
            consolidation_validation: s("consolidation_validation_s"),
            disruption_budget: Replicas::from_value(&v["disruption_budget"])
                .unwrap_or(Replicas::Percent(10)),
            spot_to_spot: v["spot_to_spot_consolidation"].as_bool().unwrap_or(false),
            spot_interruption_mean: (spot > SimDuration::ZERO).then_some(spot),
            spot_notice: s("spot_notice_s"),
        }
    }
}

/// Whether a new, empty host like `template` could take `pod` at all: its node selector and
/// required node affinity match, and its requests fit the whole host. Taints are not checked:
/// host groups have none.
pub fn admits(template: &NodeInfo, pod: &PodSpec) -> bool {
    labels_admit(template, pod) && pod.requests.fits(&template.allocatable)
}

/// What growing one node group would do: its hosts and the pending pods they would take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Estimate {
    /// The node group (host group index).
    pub group: usize,
    pub nodes: u64,
    /// Indices into the pending pods, in the order they were placed.
    pub pods: Vec<usize>,
    pub requested: Resources,
}

/// The Cluster Autoscaler's binpacking estimator for one node group: the pods in decreasing
/// order of `cpu / host cpu + memory / host memory` (its `DecreasingPodOrderer`), each on the
/// first new host with room, a new host when none has one, at most `max_nodes` hosts; a pod
/// no empty host of the group could take is left out.
pub fn estimate(group: usize, template: &NodeInfo, pods: &[&PodSpec], max_nodes: u64) -> Estimate {
    let cap = template.allocatable;
    let share = |used: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            used as f64 / whole as f64
        }
    };
    let score = |p: &PodSpec| {
        share(p.requests.cpu_milli, cap.cpu_milli)
            + share(p.requests.memory_bytes, cap.memory_bytes)
    };
    let mut order: Vec<usize> = (0..pods.len())
        .filter(|&i| admits(template, pods[i]))
        .collect();
    order.sort_by(|&a, &b| score(pods[b]).total_cmp(&score(pods[a])).then(a.cmp(&b)));
    let mut hosts: Vec<Resources> = Vec::new();
    let mut placed = Vec::new();
    let mut requested = Resources::ZERO;
    for i in order {
        let r = pods[i].requests;
        let slot = match hosts
            .iter()
            .position(|used| r.fits(&cap.saturating_sub(used)))
        {
            Some(h) => h,
            None if (hosts.len() as u64) < max_nodes => {
                hosts.push(Resources::ZERO);
                hosts.len() - 1
            }
            None => continue,
        };
        hosts[slot] = hosts[slot].saturating_add(&r);
        requested = requested.saturating_add(&r);
        placed.push(i);
    }
    Estimate {
        group,
        nodes: hosts.len() as u64,
        pods: placed,
        requested,
    }
}

/// The expander's choice among the options that place at least one pod (`capacity`: one host
/// of each option's group); ties, and `random`, drawn from `rng` as upstream's random
/// fallback does. `None` when no option places a pod.
pub fn expand(
    expander: Expander,
    options: &[Estimate],
    capacity: impl Fn(usize) -> Resources,
    rng: &mut impl Rng,
) -> Option<usize> {
    let useful: Vec<usize> = (0..options.len())
        .filter(|&i| !options[i].pods.is_empty())
        .collect();
    let best: Vec<usize> = match expander {
        Expander::Random => useful,
        Expander::MostPods => {
            let most = useful.iter().map(|&i| options[i].pods.len()).max();
            useful
                .into_iter()
                .filter(|&i| Some(options[i].pods.len()) == most)
                .collect()
        }
        Expander::LeastWaste => {
            // expander/waste: wasted CPU fraction + wasted memory fraction of the new hosts.
            let waste = |o: &Estimate| {
                let cap = capacity(o.group);
                let avail_cpu = cap.cpu_milli as f64 * o.nodes as f64;
                let avail_mem = cap.memory_bytes as f64 * o.nodes as f64;
                (avail_cpu - o.requested.cpu_milli as f64) / avail_cpu
                    + (avail_mem - o.requested.memory_bytes as f64) / avail_mem
            };
            let least = useful
                .iter()
                .map(|&i| waste(&options[i]))
                .min_by(f64::total_cmp);
            useful
                .into_iter()
                .filter(|&i| Some(waste(&options[i])) == least)
                .collect()
        }
    };
    match best.len() {
        0 => None,
        1 => Some(best[0]),
        n => Some(best[rng.random_range(0..n)]),
    }
}

/// Places `pods` first-fit on hosts with the given free room, taking it as it goes; whether
/// every pod found a place. A host is `(template with its labels, free room)`.
pub fn fits_elsewhere(pods: &[&PodSpec], hosts: &mut [(&NodeInfo, Resources)]) -> bool {
    pods.iter().all(|pod| {
        let Some((_, free)) = hosts
            .iter_mut()
            .find(|(n, free)| pod.requests.fits(free) && labels_admit(n, pod))
        else {
            return false;
        };
        *free = free.saturating_sub(&pod.requests);
        true
    })
}

/// Whether the pod's node selector and required node affinity match the host.
fn labels_admit(node: &NodeInfo, pod: &PodSpec) -> bool {
    pod.node_selector
        .iter()
        .all(|(k, v)| node.labels.get(k) == Some(v))
        && pod
            .node_affinity
            .required
            .as_ref()
            .is_none_or(|terms| terms.iter().any(|t| t.matches(&node.name, &node.labels)))
}

/// One new host Karpenter would launch: its pods and the instance types that could hold them
/// all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// Indices into the pending pods.
    pub pods: Vec<usize>,
    pub requested: Resources,
    /// Host groups (instance types) that still hold every pod of the claim.
    pub types: Vec<usize>,
}

/// Karpenter's scheduling of pending pods onto new node claims: pods by CPU, then memory,
/// descending; each joins the first claim for which some instance type still holds all its
/// pods (the claim's types narrowed to those), or opens a new claim with every type that
/// admits it. A pod no type admits is left out. `types`: each candidate instance type's
/// host group index and template.
pub fn pack(pods: &[&PodSpec], types: &[(usize, &NodeInfo)]) -> Vec<Claim> {
    let mut order: Vec<usize> = (0..pods.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (&pods[a].requests, &pods[b].requests);
        rb.cpu_milli
            .cmp(&ra.cpu_milli)
            .then(rb.memory_bytes.cmp(&ra.memory_bytes))
            .then(a.cmp(&b))
    });
    let holds = |t: &NodeInfo, pod: &PodSpec, requested: &Resources| {
        labels_admit(t, pod) && requested.saturating_add(&pod.requests).fits(&t.allocatable)
    };
    let mut claims: Vec<Claim> = Vec::new();
    for i in order {
        let pod = pods[i];
        let joined = claims.iter_mut().any(|c| {
            let still: Vec<usize> = c
                .types
                .iter()
                .copied()
                .filter(|&g| {
                    types
                        .iter()
                        .find(|(tg, _)| *tg == g)
                        .is_some_and(|(_, t)| holds(t, pod, &c.requested))
                })
                .collect();
            if still.is_empty() {
                return false;
            }
            c.types = still;
            c.pods.push(i);
            c.requested = c.requested.saturating_add(&pod.requests);
            true
        });
        if !joined {
            let fit: Vec<usize> = types
                .iter()
                .filter(|(_, t)| holds(t, pod, &Resources::ZERO))
                .map(|&(g, _)| g)
                .collect();
            if !fit.is_empty() {
                claims.push(Claim {
                    pods: vec![i],
                    requested: pod.requests,
                    types: fit,
                });
            }
        }
    }
    claims
}

/// The instance type Karpenter launches for a claim among `types`: spot before on-demand
/// when both are allowed (Karpenter prioritises spot), then the lowest price, then the
/// first listed. `offer(g)`: whether group `g` is spot, and its price per hour.
pub fn cheapest(types: &[usize], offer: impl Fn(usize) -> (bool, f64)) -> Option<usize> {
    types.iter().copied().min_by(|&a, &b| {
        let ((sa, pa), (sb, pb)) = (offer(a), offer(b));
        sb.cmp(&sa).then(pa.total_cmp(&pb)).then(a.cmp(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn host(cpu_milli: u64, mem_gib: u64) -> NodeInfo {
        NodeInfo::new(
            "template",
            Resources {
                cpu_milli,
                memory_bytes: mem_gib * GIB,
                gpu_milli: 0,
                ephemeral_storage_bytes: 0,
                pods: 110,
            },
        )
    }

    fn pod(name: &str, cpu_milli: u64, mem_gib: u64) -> PodSpec {
        PodSpec::new(
            name,
            Resources {
                cpu_milli,
                memory_bytes: mem_gib * GIB,
                ..Resources::ZERO
            },
        )
    }

    #[test]
    fn the_defaults_file_loads_and_every_value_has_a_source() {
        let d = defaults();
        assert_eq!(d.values.len(), KEYS.len());
        assert!(d.values.values().all(|(_, s)| !s.trim().is_empty()));
    }

    #[test]
    fn the_estimator_packs_largest_first_and_respects_the_group_limit() {
        let t = host(4000, 16);
        let pods = [
            pod("a", 1000, 1),
            pod("b", 3000, 1),
            pod("c", 2000, 1),
            pod("d", 2000, 1),
            pod("huge", 8000, 1),
        ];
        let refs: Vec<&PodSpec> = pods.iter().collect();
        // Decreasing: b (3000), c, d (2000), a (1000): b+a on one host, c+d on another.
        let e = estimate(0, &t, &refs, 10);
        assert_eq!(e.nodes, 2);
        assert_eq!(e.pods, vec![1, 2, 3, 0]);
        assert_eq!(e.requested.cpu_milli, 8000);
        // One host at most: b then a fit; c and d wait.
        let e = estimate(0, &t, &refs, 1);
        assert_eq!((e.nodes, e.pods.clone()), (1, vec![1, 0]));
    }

    // expander/waste's rule: a group whose new hosts the pods fill more wastes less.
    #[test]
    fn least_waste_takes_the_group_the_pods_fill_best() {
        let big = host(16000, 64);
        let small = host(4000, 16);
        let pods = [pod("a", 3000, 12)];
        let refs: Vec<&PodSpec> = pods.iter().collect();
        let options = [estimate(0, &big, &refs, 5), estimate(1, &small, &refs, 5)];
        let caps = [big.allocatable, small.allocatable];
        let mut rng = orchsim_kernel::RngStreams::new(1).stream("test");
        let pick = expand(Expander::LeastWaste, &options, |g| caps[g], &mut rng);
        assert_eq!(pick, Some(1));
        // most-pods ties (one pod each), so it draws between both.
        let picks: std::collections::BTreeSet<_> = (0..64)
            .filter_map(|_| expand(Expander::MostPods, &options, |g| caps[g], &mut rng))
            .collect();
        assert_eq!(picks.into_iter().collect::<Vec<_>>(), vec![0, 1]);
    }

    #[test]
    fn karpenter_packs_onto_one_claim_while_a_type_holds_them_and_picks_spot_then_price() {
        let types = [host(2000, 8), host(8000, 32)];
        let t: Vec<(usize, &NodeInfo)> = types.iter().enumerate().collect();
        let pods = [pod("a", 1000, 1), pod("b", 3000, 1), pod("c", 3000, 1)];
        let refs: Vec<&PodSpec> = pods.iter().collect();
        let claims = pack(&refs, &t);
        assert_eq!(claims.len(), 1);
        assert_eq!(claims[0].types, vec![1]);
        assert_eq!(claims[0].requested.cpu_milli, 7000);
        // A spot type wins over a cheaper on-demand one; among spot, the cheaper.
        let offers = [(false, 0.05), (true, 0.09), (true, 0.07)];
        assert_eq!(cheapest(&[0, 1, 2], |g| offers[g]), Some(2));
        assert_eq!(cheapest(&[0], |g| offers[g]), Some(0));
    }

    #[test]
    fn pods_fit_elsewhere_only_if_every_one_finds_room() {
        let a = host(2000, 8);
        let b = host(2000, 8);
        let pods = [pod("x", 1500, 1), pod("y", 1500, 1)];
        let refs: Vec<&PodSpec> = pods.iter().collect();
        let mut hosts = vec![(&a, a.allocatable), (&b, b.allocatable)];
        assert!(fits_elsewhere(&refs, &mut hosts));
        let mut one = vec![(&a, a.allocatable)];
        assert!(!fits_elsewhere(&refs, &mut one));
    }
}
