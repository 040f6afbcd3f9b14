//! `[[upgrades]]`: a service's pods replaced by a new version at a time — a rolling upgrade
//! (new pods through the scheduler, old ones deleted, within the orchestrator's surge and
//! unavailability limits) or a rebuild in place (each pod's container replaced on its own
//! node, its volume kept: the seed platform's customisation).
//!
//! ```toml
//! [[upgrades]]
//! workload = "web"           # a service with `max_pods`: its desired replica count
//! at_s = 900
//! strategy = "rolling"       # or "rebuild-in-place"
//! image_mib = 300            # the new version's image (default: the workload's)
//! max_surge = "25%"          # default: the preset's (Kubernetes 25%, Swarm 0, Marathon 100%)
//! max_unavailable = "25%"    # default: the preset's (Kubernetes 25%, Swarm 1, Marathon 0%)
//! # or Swarm's words: parallelism = 2, order = "start-first" (surge 2, unavailable 0) or
//! # "stop-first" (surge 0, unavailable 2; Swarm's default, with parallelism 1)
//! ready_delay_s = 10         # a pod is ready this long after its container starts
//! volume_gib = 50            # each pod's data volume …
//! volume = "local"           # … on its node's disk, copied to a new node over the network,
//!                            #   or "distributed" (reattached wherever the pod lands)
//! volume_copy_mbit_s = 1000  # the copy's bandwidth
//! ```

use orchsim_kernel::SimDuration;
use serde::Deserialize;
use toml::Spanned;

use crate::scenario::{non_negative_secs, workload_index, Locator, ScenarioError, WorkloadKind};
use crate::values_file::Replicas;

/// Default bandwidth of a volume copy between hosts, in Mbit/s: a host's 1 GbE link (IEEE
/// 802.3ab), as for image pulls; a prior.
pub const DEFAULT_VOLUME_COPY_MBIT_S: f64 = 1000.0;

/// How the new version replaces the old.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// New pods through the scheduler, old pods deleted (Kubernetes RollingUpdate, Swarm's
    /// update, Marathon's deployment).
    Rolling,
    /// Each pod's container replaced on its node, volume kept, no scheduling.
    RebuildInPlace,
}

/// Where a pod's data volume lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Volume {
    /// On its node's disk: a pod that moves has its data copied over the network.
    Local,
    /// On a distributed file system or object store: reattached wherever the pod lands.
    Distributed,
}

/// One validated upgrade.
#[derive(Clone, Debug, PartialEq)]
pub struct Upgrade {
    pub workload: usize,
    pub at: SimDuration,
    pub strategy: Strategy,
    pub image_mib: f64,
    /// `None`: the preset's.
    pub max_surge: Option<Replicas>,
    pub max_unavailable: Option<Replicas>,
    pub ready_delay: SimDuration,
    pub volume_gib: f64,
    pub volume: Volume,
    pub volume_copy_mbit_s: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUpgrade {
    workload: Spanned<String>,
    at_s: Spanned<f64>,
    #[serde(default)]
    strategy: Option<Spanned<String>>,
    image_mib: Option<Spanned<f64>>,
    max_surge: Option<Spanned<toml::Value>>,
    max_unavailable: Option<Spanned<toml::Value>>,
    /// Swarm's `--update-parallelism` and `--update-order`, instead of the two above.
    parallelism: Option<Spanned<i64>>,
    order: Option<Spanned<String>>,
    ready_delay_s: Option<Spanned<f64>>,
    volume_gib: Option<Spanned<f64>>,
    volume: Option<Spanned<String>>,
    volume_copy_mbit_s: Option<Spanned<f64>>,
}

impl RawUpgrade {
    /// Where its workload is named, for errors about the upgrade as a whole.
    pub(crate) fn workload_span(&self) -> std::ops::Range<usize> {
        self.workload.span()
    }
}

/// Validates `[[upgrades]]` against the workloads (`(name, kind, max_pods, image_mib)`).
pub(crate) fn validate(
    loc: &Locator,
    raw: &[RawUpgrade],
    workloads: &[(String, WorkloadKind, Option<u64>, f64)],
    duration: SimDuration,
) -> Result<Vec<Upgrade>, ScenarioError> {
    let mut out: Vec<Upgrade> = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let f = |k: &str| format!("upgrades[{i}].{k}");
        let err =
            |span: std::ops::Range<usize>, k: &str, m: String| loc.error(Some(span), &f(k), m);
        let name = r.workload.get_ref();
        let w = workload_index(
            loc,
            &f("workload"),
            &r.workload,
            workloads.iter().map(|x| x.0.as_str()),
        )?;
        let (_, kind, max_pods, image_mib) = &workloads[w];
        if *kind != WorkloadKind::Service || max_pods.is_none() {
            return Err(err(
                r.workload.span(),
                "workload",
                format!("expected a service with `max_pods` (its desired replica count): only a service's replicas are upgraded, and `{name}` is not one"),
            ));
        }
        let at = non_negative_secs(&r.at_s, &f("at_s"), loc)?;
        if at > duration {
            return Err(err(
                r.at_s.span(),
                "at_s",
                format!(
                    "expected a time within the run's {} s, found {}",
                    duration.as_secs_f64(),
                    r.at_s.get_ref()
                ),
            ));
        }
        if out.iter().any(|u| u.workload == w) {
            return Err(err(
                r.workload.span(),
                "workload",
                format!("expected one upgrade per workload; `{name}` already has one"),
            ));
        }
        let strategy = match r.strategy.as_ref().map(|s| s.get_ref().as_str()) {
            None | Some("rolling") => Strategy::Rolling,
            Some("rebuild-in-place") => Strategy::RebuildInPlace,
            Some(other) => {
                return Err(err(
                    r.strategy.as_ref().map_or(0..0, |s| s.span()),
                    "strategy",
                    format!("expected \"rolling\" or \"rebuild-in-place\", found \"{other}\""),
                ))
            }
        };
        let replicas = |v: &Option<Spanned<toml::Value>>, k: &str| {
            match v {
            None => Ok(None),
            Some(v) => Replicas::from_value(v.get_ref()).map(Some).ok_or_else(|| {
                err(
                    v.span(),
                    k,
                    format!(
                        "expected a number of replicas (0 or more) or a percentage such as \"25%\", found {}",
                        v.get_ref()
                    ),
                )
            }),
        }
        };
        let size = |v: &Option<Spanned<f64>>, k: &str, default: f64, what: &str| match v {
            None => Ok(default),
            Some(v) => {
                let x = *v.get_ref();
                if x.is_finite() && x >= 0.0 {
                    Ok(x)
                } else {
                    Err(err(v.span(), k, format!("expected {what}, found {x}")))
                }
            }
        };
        let volume = match r.volume.as_ref().map(|s| s.get_ref().as_str()) {
            None | Some("local") => Volume::Local,
            Some("distributed") => Volume::Distributed,
            Some(other) => {
                return Err(err(
                    r.volume.as_ref().map_or(0..0, |s| s.span()),
                    "volume",
                    format!("expected \"local\" or \"distributed\", found \"{other}\""),
                ))
            }
        };
        let volume_copy_mbit_s = size(
            &r.volume_copy_mbit_s,
            "volume_copy_mbit_s",
            DEFAULT_VOLUME_COPY_MBIT_S,
            "a positive bandwidth in Mbit/s",
        )?;
        if volume_copy_mbit_s <= 0.0 {
            let span = r.volume_copy_mbit_s.as_ref().map_or(0..0, |v| v.span());
            return Err(err(
                span,
                "volume_copy_mbit_s",
                "expected a positive bandwidth in Mbit/s, found 0".into(),
            ));
        }
        // Swarm's update settings: a batch of `parallelism` tasks started before (start-first)
        // or after (stop-first) the old ones stop (swarmkit api UpdateConfig; its defaults:
        // parallelism 1, stop-first).
        let mut max_surge = replicas(&r.max_surge, "max_surge")?;
        let mut max_unavailable = replicas(&r.max_unavailable, "max_unavailable")?;
        if r.parallelism.is_some() || r.order.is_some() {
            let span = r
                .parallelism
                .as_ref()
                .map(|p| p.span())
                .or(r.order.as_ref().map(|o| o.span()))
                .unwrap_or(0..0);
            if max_surge.is_some() || max_unavailable.is_some() {
                return Err(err(span, "parallelism", "Swarm's `parallelism`/`order` and Kubernetes' `max_surge`/`max_unavailable` say the same thing: expected one pair or the other".into()));
            }
            let n = match &r.parallelism {
                None => 1,
                Some(p) if (1..=i64::from(u32::MAX)).contains(p.get_ref()) => *p.get_ref() as u64,
                Some(p) => {
                    return Err(err(
                        p.span(),
                        "parallelism",
                        format!("expected at least 1 task at a time, found {}", p.get_ref()),
                    ))
                }
            };
            let start_first = match r.order.as_ref().map(|o| o.get_ref().as_str()) {
                None | Some("stop-first") => false,
                Some("start-first") => true,
                Some(other) => {
                    return Err(err(
                        span,
                        "order",
                        format!("expected \"stop-first\" or \"start-first\", found \"{other}\""),
                    ))
                }
            };
            let (surge, unavailable) = if start_first { (n, 0) } else { (0, n) };
            max_surge = Some(Replicas::Count(surge));
            max_unavailable = Some(Replicas::Count(unavailable));
        }
        out.push(Upgrade {
            workload: w,
            at,
            strategy,
            image_mib: size(
                &r.image_mib,
                "image_mib",
                *image_mib,
                "a non-negative size in MiB",
            )?,
            max_surge,
            max_unavailable,
            ready_delay: match &r.ready_delay_s {
                Some(v) => non_negative_secs(v, &f("ready_delay_s"), loc)?,
                None => SimDuration::ZERO,
            },
            volume_gib: size(
                &r.volume_gib,
                "volume_gib",
                0.0,
                "a non-negative size in GiB",
            )?,
            volume,
            volume_copy_mbit_s,
        });
    }
    Ok(out)
}
