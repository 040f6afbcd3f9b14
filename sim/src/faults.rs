//! Fault injection: the `[[faults]]` of a scenario — host outages (expanded here before the
//! run), container crashes (drawn by the world as containers start) and slow registries.
//!
//! ```toml
//! [[faults]]
//! name = "lose-a-host"
//! hosts = ["worker-3"]          # which hosts: by name, and/or
//! # labels = { "topology.kubernetes.io/zone" = "dc1-a" }   # every host with these labels (a rack, a zone)
//! # site = "dc1"                # every host of a site
//! at_s = 600                    # all of them fail at this time …
//! recover_after_s = 900         # … and come back this much later (absent: never)
//!
//! [[faults]]
//! name = "wear"
//! mtbf_s = 2592000              # or: each host fails independently, exponential gaps (mean)
//! mttr_s = { dist = "lognormal", median = 3600, sigma = 1 }   # and is repaired after this
//!
//! [[faults]]
//! name = "web-crashes"
//! workload = "web"              # containers of a workload exit instead (a crash loop, a bug):
//! mtbf_s = 600                  # each after an exponential run time of this mean, or all
//! # at_s = 900                  # of them at once; the preset's restart policy takes over
//!
//! [[faults]]
//! name = "wan-cut"
//! site = "dc2"                  # a partition: the hosts lose the control plane, not their
//! partition = true              # containers (which run on, unseen, until it heals)
//! at_s = 600
//! recover_after_s = 900
//!
//! [[faults]]
//! name = "spot-wave"
//! spot_reclaim = true           # with [provisioning]: the cloud reclaims the selected spot
//! labels = { zone = "a" }       # hosts Ready at at_s (notice, drain, gone); several such
//! at_s = 7200                   # faults replay a trace of interruptions
//!
//! [[faults]]
//! name = "slow-registry"
//! registry_mbit_s = 20          # image pulls that start from at_s (until recover_after_s)
//! at_s = 600                    # fetch at this rate instead of [orchestrator] registry_mbit_s
//! recover_after_s = 1800
//! ```
//!
//! Without a selector a host fault covers every host. Random outages draw from the stream
//! `faults/<name>`, host by host in cluster order, so adding a fault never moves another's;
//! random crashes draw from the same stream as containers start.

use std::collections::BTreeMap;

use orchsim_kernel::{RngStreams, SimDuration, SimTime};
use serde::Deserialize;
use toml::Spanned;

use crate::dist::Dist;
use crate::scenario::{dist, non_negative_secs, positive_secs, Locator, RawDist, ScenarioError};

/// Most host outages a scenario's random faults may make on average (they are drawn before
/// the run).
pub const MAX_OUTAGES: u64 = 10_000_000;

/// When a fault strikes.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultTiming {
    /// Every selected host fails at `at`, and comes back `recover_after` later if given.
    At {
        at: SimDuration,
        recover_after: Option<SimDuration>,
    },
    /// Every selected host fails after exponential gaps of mean `mtbf` of up time, and is
    /// repaired after a draw of `mttr_s` (seconds).
    Random { mtbf: SimDuration, mttr_s: Dist },
}

/// One validated `[[faults]]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub name: String,
    /// A container fault: the index of the workload whose containers exit (its selectors
    /// are then empty and `Random` has no repair time).
    pub workload: Option<usize>,
    /// A slow image registry: pulls that start while it lasts fetch at this rate (Mbit/s);
    /// its selectors are then empty and its timing `At`.
    pub registry_mbit_s: Option<f64>,
    /// A network partition: the selected hosts lose the control plane but keep running their
    /// containers.
    pub partition: bool,
    /// Spot interruptions from a trace: the selected spot hosts Ready at `at` are reclaimed
    /// (its timing `At`, without recovery).
    pub spot_reclaim: bool,
    /// Host names; empty with no label and no site: every host.
    pub hosts: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub site: Option<String>,
    pub timing: FaultTiming,
}

impl Fault {
    /// Whether the fault takes hosts down (not a container or registry fault).
    pub fn is_host_fault(&self) -> bool {
        self.workload.is_none() && self.registry_mbit_s.is_none() && !self.spot_reclaim
    }

    /// A registry fault's rate at `now`, if it is in effect then.
    pub fn registry_rate_at(&self, now: SimTime) -> Option<f64> {
        let rate = self.registry_mbit_s?;
        match self.timing {
            FaultTiming::At { at, recover_after } => {
                let from = SimTime::ZERO + at;
                (now >= from && recover_after.is_none_or(|r| now < from + r)).then_some(rate)
            }
            FaultTiming::Random { .. } => None,
        }
    }

    /// Whether the fault covers a host of this name, labels and site.
    pub fn selects(&self, name: &str, labels: &BTreeMap<String, String>, site: &str) -> bool {
        let everything = self.hosts.is_empty() && self.labels.is_empty() && self.site.is_none();
        everything
            || self.hosts.iter().any(|h| h == name)
            || (!(self.labels.is_empty() && self.site.is_none())
                && self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
                && self.site.as_deref().is_none_or(|s| s == site))
    }
}

/// One host down from `down` until `up` (never, when `None`), caused by fault `fault`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Outage {
    pub down: SimTime,
    pub node: usize,
    pub fault: usize,
    pub up: Option<SimTime>,
}

/// Every outage the faults cause before `until`, ordered by time then host.
pub fn outages(
    faults: &[Fault],
    nodes: &[orchsim_sched::NodeInfo],
    seed: u64,
    until: SimTime,
) -> Vec<Outage> {
    let streams = RngStreams::new(seed);
    let mut out = Vec::new();
    for (f, fault) in faults.iter().enumerate() {
        if !fault.is_host_fault() {
            continue;
        }
        let mut rng = streams.stream(&format!("faults/{}", fault.name));
        for (node, n) in nodes.iter().enumerate() {
            if !fault.selects(&n.name, &n.labels, &n.site) {
                continue;
            }
            match &fault.timing {
                FaultTiming::At { at, recover_after } => {
                    let down = SimTime::ZERO + *at;
                    if down <= until {
                        out.push(Outage {
                            down,
                            node,
                            fault: f,
                            up: recover_after.map(|r| down + r),
                        });
                    }
                }
                FaultTiming::Random { mtbf, mttr_s } => {
                    let mean = mtbf.as_nanos() as f64 / 1e9;
                    let mut t = SimTime::ZERO;
                    loop {
                        let gap = Dist::Exponential { mean }.sample(&mut rng);
                        let down = t + SimDuration::try_from_secs_f64(gap)
                            .unwrap_or(SimDuration(u64::MAX));
                        if down > until {
                            break;
                        }
                        let repair = SimDuration::try_from_secs_f64(mttr_s.sample(&mut rng))
                            .unwrap_or(SimDuration(u64::MAX));
                        let up = down + repair;
                        out.push(Outage {
                            down,
                            node,
                            fault: f,
                            up: Some(up),
                        });
                        t = up;
                    }
                }
            }
        }
    }
    out.sort();
    out
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFault {
    pub(crate) name: Spanned<String>,
    #[serde(default)]
    hosts: Vec<Spanned<String>>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    site: Option<Spanned<String>>,
    workload: Option<Spanned<String>>,
    registry_mbit_s: Option<Spanned<f64>>,
    #[serde(default)]
    partition: Option<Spanned<bool>>,
    spot_reclaim: Option<Spanned<bool>>,
    at_s: Option<Spanned<f64>>,
    recover_after_s: Option<Spanned<f64>>,
    mtbf_s: Option<Spanned<f64>>,
    mttr_s: Option<Spanned<RawDist>>,
}

/// Validates `[[faults]]` against the cluster's hosts and the workloads' names.
pub(crate) fn validate(
    loc: &Locator,
    raw: &[RawFault],
    nodes: &[orchsim_sched::NodeInfo],
    workloads: &[String],
    duration: SimDuration,
) -> Result<Vec<Fault>, ScenarioError> {
    let mut faults: Vec<Fault> = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let f = |k: &str| format!("faults[{i}].{k}");
        let err =
            |span: std::ops::Range<usize>, k: &str, m: String| loc.error(Some(span), &f(k), m);
        let name = r.name.get_ref().trim().to_string();
        if name.is_empty() || faults.iter().any(|x| x.name == name) {
            return Err(err(
                r.name.span(),
                "name",
                format!("expected a non-empty name no other fault has, found {name:?}"),
            ));
        }
        for (k, h) in r.hosts.iter().enumerate() {
            if !nodes.iter().any(|n| &n.name == h.get_ref()) {
                let some: Vec<&str> = nodes.iter().take(3).map(|n| n.name.as_str()).collect();
                return Err(err(
                    h.span(),
                    &format!("hosts[{k}]"),
                    format!(
                        "expected the name of a host of the cluster (hosts are `<group>-<i>`, e.g. {}), found `{}`",
                        some.join(", "),
                        h.get_ref()
                    ),
                ));
            }
        }
        let workload = match &r.workload {
            None => None,
            Some(w) => {
                let Some(i) = workloads.iter().position(|x| x == w.get_ref()) else {
                    return Err(err(
                        w.span(),
                        "workload",
                        format!(
                            "expected the name of a workload ({}), found `{}`",
                            workloads.join(", "),
                            w.get_ref()
                        ),
                    ));
                };
                if !(r.hosts.is_empty() && r.labels.is_empty() && r.site.is_none()) {
                    return Err(err(w.span(), "workload", "a container fault names a workload, a host fault its hosts; expected `workload` or `hosts`/`labels`/`site`, not both".into()));
                }
                for (key, v) in [
                    ("mttr_s", r.mttr_s.as_ref().map(|m| m.span())),
                    (
                        "recover_after_s",
                        r.recover_after_s.as_ref().map(|m| m.span()),
                    ),
                ] {
                    if let Some(span) = v {
                        return Err(err(span, key, "a crashed container is restarted by the orchestrator's restart policy (the preset's restart_* values), not repaired; expected no repair time".into()));
                    }
                }
                Some(i)
            }
        };
        let registry_mbit_s = match &r.registry_mbit_s {
            None => None,
            Some(rate) => {
                let x = *rate.get_ref();
                if !(x.is_finite() && x > 0.0) {
                    return Err(err(
                        rate.span(),
                        "registry_mbit_s",
                        format!("expected a positive rate in Mbit/s, found {x}"),
                    ));
                }
                if r.workload.is_some()
                    || !(r.hosts.is_empty() && r.labels.is_empty() && r.site.is_none())
                {
                    return Err(err(rate.span(), "registry_mbit_s", "a slow registry slows every image pull; expected no `workload`, `hosts`, `labels` or `site` with `registry_mbit_s`".into()));
                }
                if let Some(m) = &r.mtbf_s {
                    return Err(err(m.span(), "mtbf_s", "a slow registry is a period: expected `at_s` (and `recover_after_s`), not `mtbf_s`".into()));
                }
                Some(x)
            }
        };
        let partition = r.partition.as_ref().is_some_and(|p| *p.get_ref());
        if let (true, Some(p)) = (partition, &r.partition) {
            if r.workload.is_some() || r.registry_mbit_s.is_some() {
                return Err(err(p.span(), "partition", "a partition cuts hosts off the control plane; expected `hosts`, `labels` or `site` with it, not `workload` or `registry_mbit_s`".into()));
            }
        }
        let spot_reclaim = r.spot_reclaim.as_ref().is_some_and(|p| *p.get_ref());
        if let (true, Some(s)) = (spot_reclaim, &r.spot_reclaim) {
            if r.workload.is_some() || r.registry_mbit_s.is_some() || partition {
                return Err(err(s.span(), "spot_reclaim", "a spot reclaim takes spot hosts; expected `hosts`, `labels` or `site` (or none: every spot host) with it, not `workload`, `registry_mbit_s` or `partition`".into()));
            }
            if let Some(x) = r
                .mtbf_s
                .as_ref()
                .map(|m| m.span())
                .or(r.recover_after_s.as_ref().map(|m| m.span()))
            {
                return Err(err(x, "spot_reclaim", "a spot reclaim happens at `at_s` and is not repaired (random reclaims: `[provisioning] spot_interruption_mean_s`); expected neither `mtbf_s` nor `recover_after_s`".into()));
            }
        }
        let timing = match (&r.at_s, &r.mtbf_s) {
            (Some(at), None) => {
                if let Some(m) = &r.mttr_s {
                    return Err(err(m.span(), "mttr_s", "`mttr_s` goes with `mtbf_s`; a fault at a time recovers after `recover_after_s`".into()));
                }
                FaultTiming::At {
                    at: non_negative_secs(at, &f("at_s"), loc)?,
                    recover_after: match &r.recover_after_s {
                        Some(x) => Some(positive_secs(x, &f("recover_after_s"), loc)?),
                        None => None,
                    },
                }
            }
            (None, Some(mtbf)) => {
                if let Some(x) = &r.recover_after_s {
                    return Err(err(x.span(), "recover_after_s", "random failures recover after `mttr_s`; expected no `recover_after_s`".into()));
                }
                let mttr_s = match (&r.mttr_s, workload) {
                    (Some(mttr), _) => dist(mttr, &f("mttr_s"), "seconds", loc)?,
                    (None, Some(_)) => Dist::Constant(0.0),
                    (None, None) => {
                        return Err(err(mtbf.span(), "mttr_s", "expected `mttr_s` (seconds to repair, a number or a distribution) with `mtbf_s`".into()));
                    }
                };
                FaultTiming::Random {
                    mtbf: positive_secs(mtbf, &f("mtbf_s"), loc)?,
                    mttr_s,
                }
            }
            (Some(_), Some(m)) => {
                return Err(err(
                    m.span(),
                    "mtbf_s",
                    "expected either `at_s` (a failure at a time) or `mtbf_s` (random failures), not both".into(),
                ))
            }
            (None, None) => {
                return Err(err(
                    r.name.span(),
                    "at_s",
                    "expected `at_s` (seconds: when the hosts fail) or `mtbf_s` (mean seconds between random failures of each host)".into(),
                ))
            }
        };
        let fault = Fault {
            name,
            workload,
            registry_mbit_s,
            partition,
            spot_reclaim,
            hosts: r.hosts.iter().map(|h| h.get_ref().clone()).collect(),
            labels: r.labels.clone(),
            site: r.site.as_ref().map(|s| s.get_ref().clone()),
            timing,
        };
        if (fault.is_host_fault() || fault.spot_reclaim)
            && !nodes
                .iter()
                .any(|n| fault.selects(&n.name, &n.labels, &n.site))
        {
            return Err(err(
                r.name.span(),
                "labels",
                "expected the fault to select at least one host: no host has these labels and site"
                    .into(),
            ));
        }
        // Host outages are drawn before the run: bound how many.
        if let (true, FaultTiming::Random { mtbf, .. }) = (fault.is_host_fault(), &fault.timing) {
            let hosts = nodes
                .iter()
                .filter(|n| fault.selects(&n.name, &n.labels, &n.site))
                .count() as f64;
            let expected = hosts * duration.as_secs_f64() / mtbf.as_secs_f64();
            if expected > MAX_OUTAGES as f64 {
                return Err(err(
                    r.mtbf_s.as_ref().map_or(r.name.span(), |m| m.span()),
                    "mtbf_s",
                    format!("{hosts} hosts failing every {} s on average over {} s make about {expected:.0} outages; expected at most {MAX_OUTAGES} (a longer mtbf_s)", mtbf.as_secs_f64(), duration.as_secs_f64()),
                ));
            }
        }
        faults.push(fault);
    }
    Ok(faults)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes() -> Vec<orchsim_sched::NodeInfo> {
        (0..4)
            .map(|i| {
                let mut n =
                    orchsim_sched::NodeInfo::new(format!("w-{i}"), orchsim_sched::Resources::ZERO);
                n.labels
                    .insert("zone".into(), if i < 2 { "a" } else { "b" }.into());
                n.site = "dc1".into();
                n
            })
            .collect()
    }

    fn fault(hosts: &[&str], zone: Option<&str>, timing: FaultTiming) -> Fault {
        Fault {
            name: "f".into(),
            workload: None,
            registry_mbit_s: None,
            partition: false,
            spot_reclaim: false,
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            labels: zone
                .map(|z| [("zone".to_string(), z.to_string())].into())
                .unwrap_or_default(),
            site: None,
            timing,
        }
    }

    #[test]
    fn selectors_pick_hosts_by_name_labels_or_everything() {
        let at = FaultTiming::At {
            at: SimDuration::from_secs(10),
            recover_after: None,
        };
        let until = SimTime::ZERO + SimDuration::from_secs(100);
        let picked = |f: Fault| -> Vec<usize> {
            outages(&[f], &nodes(), 1, until)
                .iter()
                .map(|o| o.node)
                .collect()
        };
        assert_eq!(picked(fault(&["w-3"], None, at.clone())), [3]);
        assert_eq!(picked(fault(&[], Some("b"), at.clone())), [2, 3]);
        assert_eq!(picked(fault(&[], None, at)), [0, 1, 2, 3]);
    }

    #[test]
    fn random_outages_alternate_and_stay_in_the_run() {
        let f = fault(
            &["w-0"],
            None,
            FaultTiming::Random {
                mtbf: SimDuration::from_secs(100),
                mttr_s: Dist::Constant(10.0),
            },
        );
        let until = SimTime::ZERO + SimDuration::from_secs(10_000);
        let o = outages(std::slice::from_ref(&f), &nodes(), 7, until);
        assert!(o.len() > 50, "about 90 outages expected, got {}", o.len());
        for w in o.windows(2) {
            assert!(w[0].up.unwrap() <= w[1].down, "outages of one host overlap");
        }
        assert!(o.iter().all(|x| x.down <= until));
        assert_eq!(o, outages(&[f], &nodes(), 7, until), "deterministic");
    }
}
