//! The HorizontalPodAutoscaler in the world: on a step of demand it settles where upstream's
//! formula says (ceil(demand / (request × target))), scales up within its rate limit, and
//! scales down only once the stabilisation window has passed — times derived here from the
//! upstream defaults, not from a run.

use orchsim_kernel::{SimDuration, SimTime};
use orchsim_sim::autoscale::{DOWNSCALE_STABILIZATION, SYNC_PERIOD};
use orchsim_sim::{parse, run, PodState, RunResult};

const SCENARIO: &str = r#"
name = "hpa"
seed = 4
duration_s = 3000
[[hosts]]
name = "w"
count = 4
cpu_milli = 32000
memory_mib = 131072
[[workloads]]
name = "web"
kind = "service"
arrival_rate_per_s = 100
max_pods = 2
cpu_milli = 1000
memory_mib = 512
[orchestrator]
preset = "kubernetes"
start_latency_s = 1
[[autoscalers]]
workload = "web"
min_replicas = 1
max_replicas = 50
target_cpu_pct = 50
load_cores = { kind = "steps", at_s = [0, 1000], cores = [4, 1] }
"#;

fn live_at(r: &RunResult, t: SimTime) -> usize {
    r.records
        .iter()
        .filter(|p| p.submitted <= t && p.finished.is_none_or(|f| f > t))
        .count()
}

#[test]
fn a_step_of_demand_settles_where_the_formula_says() {
    let r = run(&parse("hpa.toml", SCENARIO).unwrap()).unwrap();
    let a = &r.autoscalers[0];
    // 4 cores at 50% of 1-core requests: 8 replicas; 1 core: 2.
    assert_eq!(a.replicas_max, 8);
    // Up from 2: the first sync (15 s) may go to at most max(2 × 2, 4) = 4, the next one to
    // max(2 × 4, 4) = 8.
    let first = SimTime::ZERO + SYNC_PERIOD;
    assert_eq!(live_at(&r, first), 4);
    assert_eq!(live_at(&r, first + SYNC_PERIOD), 8);
    assert_eq!(live_at(&r, SimTime::ZERO + SimDuration::from_secs(999)), 8);
    // Down to 2 only once every recommendation of the last 300 s asks for 2: the last sync
    // before the drop (at 990 s) leaves the window after 1,290 s, so the first sync after
    // that, at 1,305 s, scales in.
    let deleted: Vec<f64> = r
        .records
        .iter()
        .filter(|p| p.state == PodState::Deleted)
        .map(|p| p.finished.unwrap().as_secs_f64())
        .collect();
    assert_eq!(deleted.len(), 6);
    let last_high = 990.0;
    let expected =
        ((last_high + DOWNSCALE_STABILIZATION.as_secs_f64()) / 15.0).floor() * 15.0 + 15.0;
    assert!(
        deleted.iter().all(|&t| t == expected),
        "{deleted:?}, expected {expected}"
    );
    assert_eq!(live_at(&r, SimTime::ZERO + SimDuration::from_secs(2999)), 2);
    assert_eq!((a.scale_ups, a.scale_downs), (2, 1));
    assert_eq!(
        a.overloaded_s, 15.0,
        "only the first sync saw 4 cores on 2 ready pods"
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Whatever the demand, the replicas stay within [min, max] at every sync after the
        /// first, a sync never more than doubles them (or adds more than 4 when that is more),
        /// and every pod ends in one state.
        #[test]
        fn replicas_stay_within_bounds_and_rate(
            cores in proptest::collection::vec(0u32..40, 1..6),
            min in 1u32..4,
            span in 0u32..30,
            target in 20u32..120,
        ) {
            let max = min + span;
            let at: Vec<String> = (0..cores.len()).map(|i| (i * 400).to_string()).collect();
            let text = SCENARIO
                .replace("min_replicas = 1", &format!("min_replicas = {min}"))
                .replace("max_replicas = 50", &format!("max_replicas = {max}"))
                .replace("target_cpu_pct = 50", &format!("target_cpu_pct = {target}"))
                .replace(
                    "at_s = [0, 1000], cores = [4, 1]",
                    &format!(
                        "at_s = [{}], cores = [{}]",
                        at.join(", "),
                        cores.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")
                    ),
                );
            let r = run(&parse("hpa.toml", &text).unwrap()).unwrap();
            let mut prev = 2usize;
            for i in 1..(3000 / 15) {
                let t = SimTime::ZERO + SYNC_PERIOD.saturating_mul(i) + SimDuration(1);
                let live = live_at(&r, t);
                prop_assert!(live >= min as usize && live <= max as usize, "{} replicas at {}", live, t);
                prop_assert!(live <= (2 * prev).max(4).max(min as usize), "{} → {} at {}", prev, live, t);
                prev = live;
            }
            let s = &r.summary;
            prop_assert_eq!(
                s.pods_submitted,
                s.pods_finished + s.pods_running + s.pods_starting + s.pods_pending
                    + s.pods_unschedulable + s.pods_abandoned + s.pods_lost + s.pods_deleted
            );
        }
    }
}
