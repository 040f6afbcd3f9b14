//! Work that a small scenario can ask for: parked pods cost work in proportion to what could
//! fit, and a run stops at its event budget with an error instead of running for hours.

use orchsim_sim::{parse, run, RunError};

/// One host; a service workload whose replicas after the first never fit, and a stream of
/// tiny one-second batch pods whose every finish frees room.
fn saturated(duration_s: u64, limits: &str) -> String {
    format!(
        r#"
name = "parked"
seed = 1
duration_s = {duration_s}
sample_interval_s = 10

[[hosts]]
name = "h"
count = 1
cpu_milli = 16000
memory_mib = 8192
pods = 110

[[workloads]]
name = "big"
kind = "service"
arrival_rate_per_s = 1
cpu_milli = 12000
memory_mib = 100

[[workloads]]
name = "tiny"
kind = "batch"
arrival_rate_per_s = 20
cpu_milli = 100
memory_mib = 10
duration_s = 1

[scheduler]
algorithm = "first-fit"
{limits}
"#
    )
}

#[test]
fn parked_pods_that_cannot_fit_cost_no_work_per_release() {
    let events = |d| {
        let sc = parse("parked.toml", &saturated(d, "")).unwrap();
        run(&sc).unwrap().summary.events
    };
    let (short, long) = (events(240), events(960));
    // Four times the simulated time: linear work is about 4× the events; re-deciding every
    // parked service replica on every finish was 16× (570 k → 9.2 M events).
    let ratio = long as f64 / short as f64;
    assert!(ratio < 5.0, "{short} → {long} events: ×{ratio:.1}");
    // Every tiny pod still runs: the wake-ups that matter are not lost.
    let sc = parse("parked.toml", &saturated(240, "")).unwrap();
    let r = run(&sc).unwrap();
    let tiny_waiting = r
        .records
        .iter()
        .filter(|p| p.spec.name.starts_with("tiny") && p.bound.is_none())
        .count();
    assert!(tiny_waiting < 30, "{tiny_waiting} tiny pods never placed");
}

#[test]
fn a_run_stops_at_its_event_budget_with_an_error_that_says_how_to_raise_it() {
    let sc = parse(
        "parked.toml",
        &saturated(240, "[limits]\nmax_events = 1000\n"),
    )
    .unwrap();
    assert_eq!(sc.max_events, 1000);
    match run(&sc) {
        Err(e @ RunError::EventBudget { events, at, .. }) => {
            assert_eq!(events, 1000);
            assert!(at.as_secs_f64() > 0.0 && at.as_secs_f64() < 240.0);
            assert!(e.to_string().contains("[limits] max_events"), "{e}");
        }
        other => panic!("expected the event budget error, got {other:?}"),
    }
    // The default budget lets the same run finish.
    let sc = parse("parked.toml", &saturated(240, "")).unwrap();
    assert!(run(&sc).is_ok());
}

/// A job parked when no lower priority existed is woken when one arrives: it may now preempt,
/// which no release on a node it does not fit would ever wake it for.
#[test]
fn a_parked_job_that_may_now_preempt_is_retried() {
    let text = r#"
name = "preempt-later"
seed = 1
duration_s = 600
[[hosts]]
name = "h"
count = 1
cpu_milli = 4000
memory_mib = 8192
[[workloads]]
name = "fill"
kind = "batch"
priority = 10
arrival_rate_per_s = 100
max_pods = 4
cpu_milli = 1000
memory_mib = 10
duration_s = 60
[[workloads]]
name = "big"
kind = "service"
priority = 10
start_s = 1
arrival_rate_per_s = 1
max_pods = 1
cpu_milli = 3000
memory_mib = 10
[[workloads]]
name = "low"
kind = "service"
priority = 0
start_s = 2
arrival_rate_per_s = 5
max_pods = 50
cpu_milli = 1000
memory_mib = 10
[scheduler]
algorithm = "kubernetes"
"#;
    let sc = parse("preempt-later.toml", text).unwrap();
    let r = run(&sc).unwrap();
    let big = r
        .records
        .iter()
        .find(|p| p.spec.name.starts_with("big"))
        .unwrap();
    let bound = big.placements.first().map(|p| p.bound.as_secs_f64());
    // The node fills with priority-0 pods as the fill pods finish; the big pod preempts them.
    assert!(
        bound.is_some_and(|t| t < 120.0),
        "the big pod waited for the whole run: {bound:?}"
    );
}
