//! Host failures under each orchestrator preset: the time from a failure to every lost
//! replica running again is derived here from the preset file's own values (detection on the
//! heartbeat and monitor grids, eviction, replacement, one decision per pod, the start), and
//! the replacements go through the scheduler like every other pod.

use orchsim_sim::orchestrator::builtin;
use orchsim_sim::{parse, run, PodState, RunResult};

/// 4 hosts with room for everything twice over, 12 replicas placed in the first seconds, a
/// host failing at `FAIL_AT_S` (off every grid) for good. Decisions take 10 ms each, starts
/// 0.8 s, no image pulls, so the expected times are exact.
fn scenario(preset: &str, extra: &str) -> String {
    format!(
        r#"
name = "lifecycle"
seed = 3
duration_s = 2000
[[hosts]]
name = "w"
count = 4
cpu_milli = 16000
memory_mib = 65536
[[workloads]]
name = "web"
kind = "service"
arrival_rate_per_s = 10
max_pods = 12
cpu_milli = 1000
memory_mib = 1024
labels = {{ app = "web" }}
[scheduler]
cost = {{ t_job_ms = 10, t_task_ms = 0 }}
[orchestrator]
preset = "{preset}"
start_latency_s = 0.8
{extra}
[[faults]]
name = "lose-w-1"
hosts = ["w-1"]
at_s = {FAIL_AT_S}
"#
    )
}

const FAIL_AT_S: f64 = 607.3;

fn secs(preset: &str, key: &str) -> f64 {
    let p = builtin(preset).unwrap();
    let (v, _) = &p.values[key];
    v.as_float()
        .or_else(|| v.as_integer().map(|i| i as f64))
        .unwrap()
}

/// When the preset's control plane declares a host failed at `t` (off every grid) failed: its
/// last heartbeat is the last multiple of the heartbeat interval before `t`; a per-node timer
/// fires at heartbeat + grace, a periodic monitor at its first tick strictly after that.
fn detection(preset: &str, t: f64) -> f64 {
    let hb = secs(preset, "heartbeat_interval_s");
    assert_ne!((t / hb).fract(), 0.0);
    let deadline = (t / hb).floor() * hb + secs(preset, "failure_grace_s");
    match secs(preset, "monitor_interval_s") {
        m if m > 0.0 => ((deadline / m).floor() + 1.0) * m,
        _ => deadline,
    }
}

fn lost_pods(r: &RunResult) -> Vec<usize> {
    (0..r.records.len())
        .filter(|&i| r.records[i].losses > 0)
        .collect()
}

#[test]
fn recovery_after_a_host_failure_follows_from_each_preset() {
    for preset in ["kubernetes", "swarm", "mesos-marathon"] {
        let r = run(&parse("lifecycle.toml", &scenario(preset, "")).unwrap()).unwrap();
        let lost = lost_pods(&r);
        assert!(
            lost.len() >= 2,
            "{preset}: the failed host held {} replicas",
            lost.len()
        );
        let detected = detection(preset, FAIL_AT_S);
        let queued =
            detected + secs(preset, "eviction_delay_s") + secs(preset, "replacement_delay_s");
        // The replacements are decided one after another, 10 ms each, then start in 0.8 s.
        let expected = queued + lost.len() as f64 * 0.010 + 0.8 - FAIL_AT_S;
        let o = &r.outages[0];
        let got = o.recovered.unwrap().since(o.down).as_secs_f64();
        assert!(
            (got - expected).abs() < 1e-6,
            "{preset}: recovery {got} s, expected {expected} s (detected at {detected} s)"
        );
        assert_eq!(o.detected.unwrap().as_secs_f64(), detected, "{preset}");
        assert_eq!(
            (o.pods_lost, o.replaced, o.restarted_in_place),
            (lost.len() as u32, lost.len() as u32, 0),
            "{preset}"
        );
        assert_eq!(
            r.summary.recovery_max.unwrap().as_secs_f64(),
            got,
            "{preset}"
        );
        for &p in &lost {
            let rec = &r.records[p];
            // Through the scheduler again: a second stay, elsewhere, after a new attempt.
            assert_eq!(rec.state, PodState::Running, "{preset}");
            assert_eq!(rec.placements.len(), 2, "{preset}");
            assert_ne!(rec.placements[1].node, rec.placements[0].node, "{preset}");
            assert_eq!(r.node_names[rec.placements[0].node.0], "w-1");
            assert!(rec.attempts >= 2, "{preset}");
        }
        // Each preset brings its orchestrator's scheduler.
        let scheduler = builtin(preset).unwrap().values["scheduler"].0.clone();
        assert_eq!(Some(r.summary.algorithm.as_str()), scheduler.as_str());
    }
}

#[test]
fn a_host_back_before_its_pods_are_given_up_restarts_them_in_place() {
    // Kubernetes gives pods on an unreachable node 300 s: back after 120 s, they restart on
    // the same node, without a new decision.
    let text =
        scenario("kubernetes", "").replace("at_s = 607.3", "at_s = 607.3\nrecover_after_s = 120");
    let r = run(&parse("lifecycle.toml", &text).unwrap()).unwrap();
    let lost = lost_pods(&r);
    let o = &r.outages[0];
    assert_eq!(o.restarted_in_place as usize, lost.len());
    assert_eq!((o.replaced, o.evicted), (0, None));
    let back = FAIL_AT_S + 120.0;
    assert!((o.recovered.unwrap().as_secs_f64() - (back + 0.8)).abs() < 1e-6);
    for &p in &lost {
        let rec = &r.records[p];
        assert_eq!(rec.placements.len(), 1, "kept its one stay on w-1");
        assert_eq!(rec.restarts_in_place, 1);
        assert_eq!(rec.state, PodState::Running);
    }
    assert_eq!(r.summary.restarts_in_place, lost.len() as u64);
}

#[test]
fn a_host_that_never_returns_leaves_nothing_lost_once_replaced() {
    let r = run(&parse("lifecycle.toml", &scenario("swarm", "")).unwrap()).unwrap();
    assert_eq!(r.summary.pods_lost, 0);
    assert_eq!(r.summary.pod_losses, lost_pods(&r).len() as u64);
    assert_eq!(r.summary.outages_unrecovered, 0);
    // Nothing is placed on the failed host once it is declared failed.
    let detected = orchsim_kernel::SimTime::ZERO
        + orchsim_kernel::SimDuration::try_from_secs_f64(detection("swarm", FAIL_AT_S)).unwrap();
    for rec in &r.records {
        for p in &rec.placements {
            assert!(
                !(r.node_names[p.node.0] == "w-1" && p.bound >= detected),
                "{} bound to the failed host",
                rec.spec.name
            );
        }
    }
}

#[test]
fn overrides_change_the_timing_and_unknown_keys_are_refused() {
    let text = scenario(
        "kubernetes",
        "[orchestrator.override]\neviction_delay_s = 30",
    );
    let r = run(&parse("lifecycle.toml", &text).unwrap()).unwrap();
    let o = &r.outages[0];
    assert_eq!(
        o.evicted.unwrap().since(o.detected.unwrap()).as_secs_f64(),
        30.0
    );
    let bad = scenario("kubernetes", "[orchestrator.override]\neviction_s = 30");
    let e = parse("lifecycle.toml", &bad).unwrap_err().to_string();
    assert!(e.contains("orchestrator.override.eviction_s"), "{e}");
    assert!(e.contains("eviction_delay_s"), "{e}");
    let bad = scenario("kubernetes", "").replace("preset = \"kubernetes\"", "preset = \"k8s\"");
    let e = parse("lifecycle.toml", &bad).unwrap_err().to_string();
    assert!(
        e.contains("orchestrator.preset") && e.contains("`swarm`"),
        "{e}"
    );
    let bad = scenario("kubernetes", "").replace("preset = \"kubernetes\"\n", "");
    let e = parse("lifecycle.toml", &bad).unwrap_err().to_string();
    assert!(e.contains("faults need an orchestrator preset"), "{e}");
}

#[test]
fn marathon_replaces_lost_tasks_through_mesos_offers() {
    // Two-level: the agent becomes unreachable, its offers are rescinded, and the
    // replacements wait for the allocator's next offers (every second, on the second).
    let text = scenario("mesos-marathon", "").replace(
        "[scheduler]\ncost = { t_job_ms = 10, t_task_ms = 0 }",
        "[control_plane]\nkind = \"two-level\"\n[[control_plane.schedulers]]\nname = \"marathon\"\nalgorithm = \"marathon\"\nworkloads = [\"web\"]\ncost = { t_job_ms = 10, t_task_ms = 0 }",
    );
    let r = run(&parse("lifecycle.toml", &text).unwrap()).unwrap();
    assert!(r.audit_error.is_none(), "{:?}", r.audit_error);
    let lost = lost_pods(&r);
    assert!(lost.len() >= 2);
    let detected = detection("mesos-marathon", FAIL_AT_S);
    // Detected on a whole second, before that second's allocation (scheduled earlier): the
    // replacements are queued in time for its offers and decided one after another.
    assert_eq!(detected.fract(), 0.0);
    let expected = detected + lost.len() as f64 * 0.010 + 0.8 - FAIL_AT_S;
    let o = &r.outages[0];
    let got = o.recovered.unwrap().since(o.down).as_secs_f64();
    assert!(
        (got - expected).abs() < 1e-6,
        "recovery {got} s, expected {expected} s"
    );
    for &p in &lost {
        let rec = &r.records[p];
        assert_eq!(rec.placements.len(), 2);
        assert_ne!(r.node_names[rec.placements[1].node.0], "w-1");
    }
    assert!(r.schedulers[0].offers_received > 0);
}

/// 30 hosts, 12 replicas of an 800 MiB image crashing every 10 minutes on average, under
/// Swarm, with container reuse (`restart_in_place`) on or off.
fn crash_loop(reuse: bool) -> RunResult {
    let text = format!(
        r#"
name = "crashes"
seed = 5
duration_s = 7200
[[hosts]]
name = "n"
count = 30
cpu_milli = 8000
memory_mib = 32768
[[workloads]]
name = "api"
kind = "service"
arrival_rate_per_s = 1
max_pods = 12
cpu_milli = 1000
memory_mib = 2048
image_mib = 800
[orchestrator]
preset = "swarm"
start_latency_s = 0.8
[orchestrator.override]
restart_in_place = {reuse}
[[faults]]
name = "crash-loop"
workload = "api"
mtbf_s = 600
"#
    );
    run(&parse("crashes.toml", &text).unwrap()).unwrap()
}

#[test]
fn container_reuse_restarts_in_place_and_pulls_no_image() {
    let (off, on) = (crash_loop(false), crash_loop(true));
    let s = (&off.summary, &on.summary);
    assert!(s.0.crashes > 50, "{} crashes", s.0.crashes);
    // Without reuse every crash is a new task through the scheduler; spread sends some to
    // hosts without the image, which pull it.
    assert_eq!(s.0.crash_reschedules, s.0.crashes);
    assert_eq!(s.0.restarts_in_place, 0);
    assert!(s.0.image_pulls > 12, "{} pulls", s.0.image_pulls);
    assert!(off.records.iter().any(|p| p.placements.len() > 1));
    // With reuse: restarted where they were, one pull per host that ever ran a replica, and
    // back sooner on average.
    assert_eq!(s.1.crash_reschedules, 0);
    assert_eq!(s.1.restarts_in_place, s.1.crashes);
    assert_eq!(s.1.image_pulls, 12);
    assert!(on.records.iter().all(|p| p.placements.len() == 1));
    assert!(
        s.1.crash_recovery_mean.unwrap() < s.0.crash_recovery_mean.unwrap(),
        "reuse {:?} vs reschedule {:?}",
        s.1.crash_recovery_mean,
        s.0.crash_recovery_mean
    );
    // Swarm restarts after its 5 s delay, then the start: never sooner.
    assert!(s.1.crash_recovery_mean.unwrap().as_secs_f64() >= 5.8);
}

#[test]
fn kubernetes_crash_loop_back_off_restarts_at_once_then_after_10_s() {
    // Every container of `web` exits at 100 s and again at 200 s: the kubelet restarts the
    // first exit at once, the second after 10 s (CrashLoopBackOff), in place.
    let text = scenario("kubernetes", "")
        .replace(
            "[[faults]]\nname = \"lose-w-1\"\nhosts = [\"w-1\"]\nat_s = 607.3",
            "[[faults]]\nname = \"c1\"\nworkload = \"web\"\nat_s = 100\n\n[[faults]]\nname = \"c2\"\nworkload = \"web\"\nat_s = 200",
        );
    let r = run(&parse("lifecycle.toml", &text).unwrap()).unwrap();
    assert_eq!(r.summary.crashes, 24);
    assert_eq!(r.summary.restarts_in_place, 24);
    for p in &r.records {
        assert_eq!(p.crashes, 2);
        assert_eq!(p.placements.len(), 1, "restarted in place");
        assert!((p.started.unwrap().as_secs_f64() - 210.8).abs() < 1e-9);
    }
    // (0 + 0.8 s after the first, 10 + 0.8 s after the second) / 2
    let mean = r.summary.crash_recovery_mean.unwrap().as_secs_f64();
    assert!((mean - 5.8).abs() < 1e-6, "{mean}");
}

/// Regressions from review: a decision that commits onto a host declared failed while it
/// was being made, and a job whose pods are given up while it is being decided, are both
/// decided again at once — neither is left waiting for a release that never comes.
#[test]
fn decisions_overtaken_by_a_failure_are_retried() {
    for (name, text) in [("stuck", STUCK), ("deciding", DECIDING)] {
        let r = run(&parse(name, text).unwrap()).unwrap();
        let s = &r.summary;
        assert_eq!(
            (s.pods_pending, s.pods_unschedulable, s.pods_lost),
            (0, 0, 0),
            "{name}: every pod placed again"
        );
        assert!(s.pod_losses > 0, "{name}");
    }
}

/// A 1-pod service whose decision (3 s) runs while w-0 is declared failed at 115 s.
const STUCK: &str = r#"name = "stuck"
seed = 1
duration_s = 600
[[hosts]]
name = "w"
count = 2
cpu_milli = 16000
memory_mib = 65536
[[workloads]]
name = "a"
kind = "service"
arrival_rate_per_s = 1000
max_pods = 1
cpu_milli = 1000
memory_mib = 1024
[[workloads]]
name = "b"
kind = "service"
arrival_rate_per_s = 1000
start_s = 114
max_pods = 1
cpu_milli = 1000
memory_mib = 1024
cost = { t_job_ms = 3000, t_task_ms = 0 }
[scheduler]
algorithm = "first-fit"
cost = { t_job_ms = 1, t_task_ms = 0 }
[orchestrator]
preset = "swarm"
start_latency_s = 0.5
[[faults]]
name = "lose-w-0"
hosts = ["w-0"]
at_s = 100
"#;

/// A 5-pod job re-decided from 114 s while w-0, holding three of its pods, has them given up
/// at 115 s.
const DECIDING: &str = r#"name = "deciding"
seed = 1
duration_s = 600
[[hosts]]
name = "w"
count = 1
cpu_milli = 3000
memory_mib = 65536
[[hosts]]
name = "x"
count = 1
cpu_milli = 1000
memory_mib = 65536
[[hosts]]
name = "y"
count = 1
cpu_milli = 4000
memory_mib = 65536
[[workloads]]
name = "f"
kind = "batch"
arrival_rate_per_s = 1000
max_pods = 1
cpu_milli = 4000
memory_mib = 1024
duration_s = 113.5
[[workloads]]
name = "j"
kind = "service"
arrival_rate_per_s = 1000
start_s = 1
max_pods = 5
tasks = [5, 5]
cpu_milli = 1000
memory_mib = 1024
cost = { t_job_ms = 3000, t_task_ms = 0 }
[scheduler]
algorithm = "first-fit"
cost = { t_job_ms = 1, t_task_ms = 0 }
[orchestrator]
preset = "swarm"
start_latency_s = 0.5
[[faults]]
name = "lose-w-0"
hosts = ["w-0"]
at_s = 100
"#;

/// A replacement pod is a new pod: its kubelet back-off starts over. Four crashes (restarts
/// after 0, 10, 20, 40 s), its host lost for good at 500 s and the pod replaced elsewhere, then
/// a crash at 1000 s restarts at once: (0 + 10 + 20 + 40 + 0) / 5 + 0.5 s start = 14.5 s.
#[test]
fn a_replaced_pod_starts_its_back_off_over() {
    let r = run(&parse("kubebackoff.toml", KUBE_BACKOFF).unwrap()).unwrap();
    assert_eq!(r.summary.crashes, 5);
    assert_eq!(r.records[0].placements.len(), 2, "replaced once");
    let mean = r.summary.crash_recovery_mean.unwrap().as_secs_f64();
    assert!((mean - 14.5).abs() < 1e-6, "{mean}");
}

const KUBE_BACKOFF: &str = r#"name = "kubebackoff"
seed = 1
duration_s = 1500
[[hosts]]
name = "w"
count = 2
cpu_milli = 2000
memory_mib = 65536
[[workloads]]
name = "web"
kind = "service"
arrival_rate_per_s = 1000
max_pods = 1
cpu_milli = 1000
memory_mib = 1024
[scheduler]
cost = { t_job_ms = 1, t_task_ms = 0 }
[orchestrator]
preset = "kubernetes"
start_latency_s = 0.5
[[faults]]
name = "c1"
workload = "web"
at_s = 100
[[faults]]
name = "c2"
workload = "web"
at_s = 200
[[faults]]
name = "c3"
workload = "web"
at_s = 300
[[faults]]
name = "c4"
workload = "web"
at_s = 400
[[faults]]
name = "host"
hosts = ["w-1"]
at_s = 500
[[faults]]
name = "c5"
workload = "web"
at_s = 1000
"#;

/// A slow registry: a pull that starts while it lasts fetches the image at its rate, one that
/// starts after it at the scenario's; the container starts once its pull is done.
#[test]
fn a_slow_registry_slows_the_pulls_that_start_while_it_lasts() {
    let text = r#"
name = "slow-registry"
seed = 1
duration_s = 3000
[[hosts]]
name = "w"
count = 2
cpu_milli = 4000
memory_mib = 16384
[[workloads]]
name = "early"
kind = "service"
arrival_rate_per_s = 1000
start_s = 10
max_pods = 1
cpu_milli = 1000
memory_mib = 1024
image_mib = 100
[[workloads]]
name = "late"
kind = "service"
arrival_rate_per_s = 1000
start_s = 1000
max_pods = 1
cpu_milli = 1000
memory_mib = 1024
image_mib = 100
[scheduler]
algorithm = "kubernetes"
cost = { t_job_ms = 0, t_task_ms = 0, t_node_us = 0 }
[orchestrator]
registry_mbit_s = 100
[[faults]]
name = "slow-registry"
registry_mbit_s = 10
at_s = 0
recover_after_s = 500
"#;
    let r = orchsim_sim::run(&orchsim_sim::parse("slow.toml", text).unwrap()).unwrap();
    // 100 MiB = 838.8608 Mbit: 83.89 s at 10 Mbit/s, 8.39 s at 100 Mbit/s; no start latency.
    let pull = |name: &str| {
        let p = r
            .records
            .iter()
            .find(|p| p.spec.name.starts_with(name))
            .expect("the pod exists");
        p.started.unwrap().since(p.bound.unwrap()).as_secs_f64()
    };
    assert!(
        (pull("early") - 83.886_08).abs() < 1e-6,
        "{}",
        pull("early")
    );
    assert!((pull("late") - 8.388_608).abs() < 1e-6, "{}", pull("late"));
    // Needs no preset (nothing fails), and writes no faults.csv rows (no host fault).
    assert!(r.outages.is_empty());
}

/// Two hosts in two sites with two replicas each; `far` (site dc2) is cut off the control
/// plane at 100 s for `cut_s` seconds.
fn partitioned(cut_s: u32) -> RunResult {
    let text = format!(
        r#"
name = "partition"
seed = 1
duration_s = 2000
[[hosts]]
name = "near"
site = "dc1"
cpu_milli = 4000
memory_mib = 16384
[[hosts]]
name = "far"
site = "dc2"
cpu_milli = 4000
memory_mib = 16384
[[workloads]]
name = "web"
kind = "service"
arrival_rate_per_s = 1000
max_pods = 4
cpu_milli = 1000
memory_mib = 1024
[scheduler]
algorithm = "kubernetes"
cost = {{ t_job_ms = 0, t_task_ms = 0, t_node_us = 0 }}
[orchestrator]
preset = "kubernetes"
[[faults]]
name = "wan-cut"
site = "dc2"
partition = true
at_s = 100
recover_after_s = {cut_s}
"#
    );
    run(&parse("partition.toml", &text).unwrap()).unwrap()
}

/// A partition is not a failure: the cut-off host's containers keep running; the control
/// plane declares it failed on its usual timers and, past the eviction delay, replaces its
/// pods elsewhere — so those pods run twice until the partition heals.
#[test]
fn a_partition_replaces_pods_that_still_run_and_a_short_one_changes_nothing() {
    let preset = builtin("kubernetes").unwrap();
    let eviction = match &preset.values["eviction_delay_s"].0 {
        toml::Value::Integer(i) => *i as f64,
        v => panic!("eviction_delay_s {v}"),
    };
    let far_pods = |r: &RunResult| {
        r.records
            .iter()
            .filter(|p| {
                p.placements
                    .first()
                    .is_some_and(|pl| r.node_names[pl.node.0] == "far-0")
            })
            .count() as u32
    };
    let r = partitioned(900);
    let o = &r.outages[0];
    assert!(o.partition);
    let (detected, evicted) = (o.detected.unwrap(), o.evicted.unwrap());
    assert!((evicted.since(detected).as_secs_f64() - eviction).abs() < 1e-9);
    // Nothing was lost at the cut: every pod on `far` ran until the eviction, then was
    // replaced on `near` — duplicated, not restarted.
    let on_far = far_pods(&r);
    assert!(on_far > 0, "the spread put pods on far");
    assert_eq!((o.pods_lost, o.replaced, o.duplicated), (0, 0, on_far));
    assert_eq!(o.restarted_in_place, 0);
    assert_eq!(r.summary.pod_losses, 0, "no container died");
    assert!(r.records.iter().all(|p| p.state == PodState::Running));
    for p in r.records.iter().filter(|p| p.placements.len() == 2) {
        assert_eq!(p.placements[1].bound, evicted);
        assert_eq!(r.node_names[p.placements[1].node.0], "near-0");
    }
    // Healed before the eviction delay ran out: the pods never moved.
    let r = partitioned(60);
    assert_eq!(r.outages[0].duplicated, 0);
    assert!(r
        .records
        .iter()
        .all(|p| p.placements.len() == 1 && p.state == PodState::Running));
}

/// One 100-s batch pod at 10 s under `preset` with `restart_policy`; `extra`: more TOML.
fn one_batch_pod(preset: &str, policy: &str, extra: &str) -> RunResult {
    let text = format!(
        r#"
name = "restart"
seed = 1
duration_s = 400
[[hosts]]
name = "w"
count = 2
cpu_milli = 4000
memory_mib = 16384
[[workloads]]
name = "task"
kind = "batch"
arrival_rate_per_s = 1000
start_s = 10
max_pods = 1
cpu_milli = 1000
memory_mib = 1024
duration_s = 100
restart_policy = "{policy}"
[scheduler]
cost = {{ t_job_ms = 0, t_task_ms = 0, t_node_us = 0 }}
[orchestrator]
preset = "{preset}"
{extra}
"#
    );
    run(&parse("restart.toml", &text).unwrap()).unwrap()
}

/// Restart policies: `Never`/`none` leaves a crashed pod failed; `OnFailure`/`on-failure`
/// lets a completed one finish; `Always`/`any` starts a completed one again — in place at
/// once (the kubelet's first restart) or as a new task after Swarm's restart delay.
#[test]
fn restart_policies_decide_what_an_exit_leads_to() {
    let crash = "[[faults]]\nname = \"oom\"\nworkload = \"task\"\nat_s = 50\n";
    for (preset, never) in [("kubernetes", "Never"), ("swarm", "none")] {
        let r = one_batch_pod(preset, never, crash);
        assert_eq!(r.records[0].state, PodState::Failed, "{preset}");
        assert_eq!((r.summary.pods_failed, r.summary.crashes), (1, 1));
    }
    for (preset, on_failure) in [("kubernetes", "OnFailure"), ("swarm", "on-failure")] {
        let r = one_batch_pod(preset, on_failure, "");
        assert_eq!(r.records[0].state, PodState::Finished, "{preset}");
    }
    // Kubernetes `Always`: the container that completed at ~110 s restarts in place at once,
    // no crash counted; it runs until 400 s in 100-s rounds and back-offs of 0, 10, 20 s.
    let r = one_batch_pod("kubernetes", "Always", "");
    let p = &r.records[0];
    assert_eq!(p.placements.len(), 1);
    assert_eq!(r.summary.restarts_completed, 3);
    assert_eq!((r.summary.crashes, r.summary.restarts_in_place), (0, 0));
    // Swarm `any`: a new task through the scheduler after the 5 s restart delay.
    let r = one_batch_pod("swarm", "any", "");
    let p = &r.records[0];
    assert!(p.placements.len() >= 2);
    let gap = p.placements[1]
        .bound
        .since(p.placements[0].bound)
        .as_secs_f64();
    let delay = match &builtin("swarm").unwrap().values["restart_delay_s"].0 {
        toml::Value::Integer(i) => *i as f64,
        toml::Value::Float(f) => *f,
        v => panic!("{v}"),
    };
    assert!((gap - (100.0 + delay)).abs() < 1e-6, "{gap}");
}
