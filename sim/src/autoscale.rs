//! `[[autoscalers]]`: Kubernetes' HorizontalPodAutoscaler on CPU utilisation, driven by a load
//! curve — how many replicas a service runs over a day, and when its demand outruns them.
//!
//! ```toml
//! [[autoscalers]]
//! workload = "web"            # a service with max_pods: its replicas at the start
//! min_replicas = 2            # default 1
//! max_replicas = 40
//! target_cpu_pct = 60         # averageUtilization of the pods' CPU requests (whole percent)
//! # the service's CPU demand in cores: a day's sine …
//! load_cores = { kind = "diurnal", mean = 12, amplitude = 0.8, period_s = 86400, peak_s = 50400 }
//! # … or steps: load_cores = { kind = "steps", at_s = [0, 600], cores = [4, 20] }
//! ```
//!
//! Every sync period the controller computes (v1.33 pkg/controller/podautoscaler
//! replica_calculator.go and horizontal.go, an HPA without `behavior`): the utilisation of the
//! ready pods in whole percent (the demand spread over them, over their CPU requests); within
//! the tolerance of the target, no change; otherwise `ceil(ratio × ready)`, recomputed with
//! unready pods at 0% before a scale-up and dropped if that no longer scales up; then
//! `normalizeDesiredReplicas` — the highest recommendation of the stabilisation window (the
//! replicas at the first sync recorded first), at most `max(2 × current, 4)`, clamped to min
//! and max.
//! [`recommend`] and [`Behavior`] are pure.

use std::collections::VecDeque;

use orchsim_kernel::{SimDuration, SimTime};
use serde::Deserialize;
use toml::Spanned;

use crate::curve::{Curve, RawCurve};
use crate::scenario::{workload_index, Locator, ScenarioError, WorkloadKind};

/// kube-controller-manager `--horizontal-pod-autoscaler-sync-period` default 15 s
/// (pkg/controller/podautoscaler/config/v1alpha1/defaults.go).
pub const SYNC_PERIOD: SimDuration = SimDuration(15_000_000_000);
/// `--horizontal-pod-autoscaler-tolerance` default 0.1 (same file).
pub const TOLERANCE: f64 = 0.1;
/// Default `behavior.scaleDown.stabilizationWindowSeconds` 300 (= the former
/// `--horizontal-pod-autoscaler-downscale-stabilization` 5m; pkg/apis/autoscaling/v2
/// defaults.go GenerateHPAScaleDownRules).
pub const DOWNSCALE_STABILIZATION: SimDuration = SimDuration(300_000_000_000);
/// Scale-up limit of an HPA without `behavior` (horizontal.go calculateScaleUpLimit:
/// `max(scaleUpLimitFactor × current, scaleUpLimitMinimum)`, factor 2.0, minimum 4).
pub const SCALE_UP_FACTOR: u64 = 2;
pub const SCALE_UP_MINIMUM: u64 = 4;
/// HPA `minReplicas` default 1 (autoscaling/v2 defaults.go).
pub const DEFAULT_MIN_REPLICAS: u64 = 1;
/// Most replicas an autoscaler may ask for: a bound of ours (one event creates them), far
/// above any service this simulator runs; upstream's field is an int32.
pub const MAX_REPLICAS: i64 = 1_000_000;

/// One validated autoscaler.
#[derive(Clone, Debug, PartialEq)]
pub struct Autoscaler {
    pub workload: usize,
    pub min_replicas: u64,
    pub max_replicas: u64,
    /// Target utilisation of the CPU request, in whole percent (autoscaling/v2's int32).
    pub target_cpu_pct: u32,
    /// The service's CPU demand over time, in cores.
    pub load: Curve,
}

/// The replica calculator: the replicas the metric asks for, before behaviour and limits.
/// `usage_milli` is the pods' total CPU use, `request_milli` each pod's request; unready pods
/// have no usable metric (they count as 0% when a scale-up is checked).
pub fn recommend(
    current: u64,
    ready: u64,
    unready: u64,
    usage_milli: f64,
    request_milli: f64,
    target_pct: u32,
) -> u64 {
    if ready == 0 || request_milli <= 0.0 {
        return current;
    }
    // metrics/utilization.go GetResourceUtilizationRatio: int32(usage × 100 / requests), then
    // over the target as float64.
    let ratio = |pods: u64| {
        let util = (usage_milli * 100.0 / (pods as f64 * request_milli)).floor();
        util / f64::from(target_pct)
    };
    let within = |r: f64| (1.0 - TOLERANCE..=1.0 + TOLERANCE).contains(&r);
    let r = ratio(ready);
    if within(r) {
        return current;
    }
    if r > 1.0 && unready > 0 {
        // Unready pods at 0% may turn the scale-up into nothing (or a scale-down, which is
        // then not done either).
        let r2 = ratio(ready + unready);
        if within(r2) || r2 < 1.0 {
            return current;
        }
        return (r2 * (ready + unready) as f64).ceil() as u64;
    }
    (r * ready as f64).ceil() as u64
}

/// The default scaling behaviour: recommendations kept for the stabilisation window.
#[derive(Clone, Debug, Default)]
pub struct Behavior {
    history: VecDeque<(SimTime, u64)>,
}

impl Behavior {
    /// What to scale to at `now` from `current`, given the calculator's `rec`
    /// (normalizeDesiredReplicas: stabilizeRecommendation, then
    /// convertDesiredReplicasWithRules).
    pub fn decide(&mut self, now: SimTime, current: u64, rec: u64, min: u64, max: u64) -> u64 {
        if self.history.is_empty() {
            // recordInitialRecommendation: the replicas the HPA found.
            self.history.push_back((now, current));
        }
        // Older than the window (`timestamp.Before(now − window)`) drops out.
        while self
            .history
            .front()
            .is_some_and(|&(t, _)| now.since(t.min(now)) > DOWNSCALE_STABILIZATION)
        {
            self.history.pop_front();
        }
        let stabilized = self.history.iter().map(|&(_, r)| r).fold(rec, u64::max);
        self.history.push_back((now, rec));
        let limit = (SCALE_UP_FACTOR * current).max(SCALE_UP_MINIMUM).min(max);
        if stabilized < min {
            min
        } else {
            stabilized.min(limit).max(min)
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAutoscaler {
    workload: Spanned<String>,
    min_replicas: Option<Spanned<i64>>,
    max_replicas: Spanned<i64>,
    target_cpu_pct: Spanned<i64>,
    load_cores: Spanned<RawCurve>,
}

impl RawAutoscaler {
    pub(crate) fn workload_span(&self) -> std::ops::Range<usize> {
        self.workload.span()
    }
}

/// Validates `[[autoscalers]]` against the workloads (`(name, kind, max_pods, cpu request
/// when constant)`).
pub(crate) fn validate(
    loc: &Locator,
    raw: &[RawAutoscaler],
    workloads: &[(String, WorkloadKind, Option<u64>, Option<f64>)],
    duration: SimDuration,
) -> Result<Vec<Autoscaler>, ScenarioError> {
    let mut out: Vec<Autoscaler> = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let f = |k: &str| format!("autoscalers[{i}].{k}");
        let err =
            |span: std::ops::Range<usize>, k: &str, m: String| loc.error(Some(span), &f(k), m);
        let name = r.workload.get_ref();
        let w = workload_index(
            loc,
            &f("workload"),
            &r.workload,
            workloads.iter().map(|x| x.0.as_str()),
        )?;
        let (_, kind, max_pods, request) = &workloads[w];
        if *kind != WorkloadKind::Service
            || max_pods.is_none_or(|m| m == 0)
            || request.is_none_or(|r| r <= 0.0)
        {
            return Err(err(
                r.workload.span(),
                "workload",
                format!("expected a service with `max_pods` of at least 1 (its replicas at the start) and a constant, positive `cpu_milli` (the request utilisation is measured against): `{name}` is not one"),
            ));
        }
        if out.iter().any(|a| a.workload == w) {
            return Err(err(
                r.workload.span(),
                "workload",
                format!("expected one autoscaler per workload; `{name}` already has one"),
            ));
        }
        let min = match &r.min_replicas {
            Some(m) if (1..=MAX_REPLICAS).contains(m.get_ref()) => *m.get_ref() as u64,
            Some(m) => {
                return Err(err(
                    m.span(),
                    "min_replicas",
                    format!("expected from 1 to {MAX_REPLICAS}, found {}", m.get_ref()),
                ))
            }
            None => DEFAULT_MIN_REPLICAS,
        };
        let max = *r.max_replicas.get_ref();
        if max < min as i64 || max > MAX_REPLICAS {
            return Err(err(
                r.max_replicas.span(),
                "max_replicas",
                format!("expected at least min_replicas ({min}) and at most {MAX_REPLICAS}, found {max}"),
            ));
        }
        let target = *r.target_cpu_pct.get_ref();
        if !(1..=i64::from(i32::MAX)).contains(&target) {
            return Err(err(
                r.target_cpu_pct.span(),
                "target_cpu_pct",
                format!("expected a positive whole percentage of the CPU request, found {target}"),
            ));
        }
        let target = target as u32;
        let load = r.load_cores.get_ref().validate(
            r.load_cores.span(),
            &f("load_cores"),
            ("cores", "cores"),
            duration,
            loc,
        )?;
        out.push(Autoscaler {
            workload: w,
            min_replicas: min,
            max_replicas: max as u64,
            target_cpu_pct: target,
            load,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upstream's replica calculator tests (v1.33 pkg/controller/podautoscaler
    /// replica_calculator_test.go), requests of 1 core unless said:
    /// - TestReplicaCalcScaleUp: 3 pods using 300, 500, 700 m, target 30% → 5;
    /// - TestReplicaCalcScaleDown: 5 pods using 100, 300, 500, 250, 250 m, target 50% → 3;
    /// - TestReplicaCalcTolerance: 3 pods using 1010, 1030, 1020 m of 0.9, 1.0, 1.1 cores,
    ///   target 100% (102%, within 10%) → 3;
    /// - TestReplicaCalcScaleUpUnreadyLessScale: the first of 300, 500, 700 m unready, target
    ///   30%: 60% on the ready two, 40% with the unready one at 0 → 4;
    /// - TestReplicaCalcScaleDownIgnoresUnreadyPods: 100, 300, 500 m ready, two unready,
    ///   target 50% → 2.
    #[test]
    fn the_replica_calculator_matches_upstreams_cases() {
        assert_eq!(recommend(3, 3, 0, 1500.0, 1000.0, 30), 5);
        assert_eq!(recommend(5, 5, 0, 1400.0, 1000.0, 50), 3);
        assert_eq!(recommend(3, 3, 0, 3060.0, 1000.0, 100), 3);
        assert_eq!(recommend(3, 2, 1, 1200.0, 1000.0, 30), 4);
        assert_eq!(recommend(5, 3, 2, 900.0, 1000.0, 50), 2);
    }

    #[test]
    fn scale_down_waits_for_the_stabilisation_window_and_scale_up_is_rate_limited() {
        let t = |s: u64| SimTime::ZERO + SimDuration::from_secs(s);
        let mut b = Behavior::default();
        // The replicas found at the first sync are a recommendation of the window.
        assert_eq!(b.decide(t(0), 10, 4, 1, 100), 10);
        assert_eq!(b.decide(t(15), 10, 4, 1, 100), 10);
        assert_eq!(b.decide(t(300), 10, 4, 1, 100), 10);
        assert_eq!(b.decide(t(301), 10, 4, 1, 100), 4);
        // Up: at most max(2 × current, 4), and max_replicas.
        assert_eq!(b.decide(t(316), 4, 50, 1, 100), 8);
        assert_eq!(b.decide(t(331), 1, 50, 1, 100), 4);
        assert_eq!(b.decide(t(346), 30, 500, 1, 40), 40);
        // min_replicas wins over everything.
        assert_eq!(Behavior::default().decide(t(0), 1, 0, 3, 40), 3);
    }

    /// Utilisation is whole percent before it meets the tolerance: 1,990 m on 3 pods of
    /// 1,000 m is 66%, and 66/60 is within 10% of the target (1.1 floored would not be).
    #[test]
    fn utilisation_is_truncated_to_whole_percent() {
        assert_eq!(recommend(3, 3, 0, 1990.0, 1000.0, 60), 3);
        assert_eq!(recommend(3, 3, 0, 2010.0, 1000.0, 60), 4);
    }
}
