//! Provisioning in the world: a burst the cluster cannot hold is met by the Cluster
//! Autoscaler or Karpenter at the times their defaults imply (derived here from
//! presets/provisioning.toml, not from a run), the hosts go again when they are not needed,
//! no pod ever lands on a host that is not there, and the bill adds up.

use orchsim_kernel::{SimDuration, SimTime};
use orchsim_sim::provisioning::defaults;
use orchsim_sim::{parse, run, PodState, RunResult};
use proptest::prelude::*;

/// A default of presets/provisioning.toml, in seconds.
fn default_s(key: &str) -> f64 {
    let d = defaults();
    match &d.values[key].0 {
        toml::Value::Integer(i) => *i as f64,
        toml::Value::Float(f) => *f,
        v => panic!("{key} is not a number: {v}"),
    }
}

/// Ten 1-core pods for 600 s, arriving at about 5 s on a cluster whose one fixed host holds
/// none of them; `pool` is the rest of the `[[hosts]]` and `[provisioning]`.
fn burst(pool: &str) -> String {
    format!(
        r#"
name = "burst"
seed = 3
duration_s = 2000
[[hosts]]
name = "fixed"
count = 1
cpu_milli = 500
memory_mib = 1024
[[workloads]]
name = "batch"
kind = "batch"
arrival_rate_per_s = 1000
start_s = 5
max_pods = 10
cpu_milli = 1000
memory_mib = 1024
duration_s = 600
[scheduler]
algorithm = "kubernetes"
cost = {{ t_job_ms = 0, t_task_ms = 0, t_node_us = 0 }}
{pool}
"#
    )
}

/// [`burst`] run.
fn run_burst(pool: &str) -> RunResult {
    run(&parse("burst.toml", &burst(pool)).unwrap()).unwrap()
}

fn secs(t: SimTime) -> f64 {
    t.as_nanos() as f64 / 1e9
}

/// (time, action, host name) of every provisioning record.
fn actions(r: &RunResult) -> Vec<(f64, &'static str, String)> {
    r.provisioning
        .as_ref()
        .expect("provisioning is on")
        .iter()
        .map(|p| (secs(p.time), p.action, r.node_names[p.node.0].clone()))
        .collect()
}

#[test]
fn the_cluster_autoscaler_grows_at_its_next_scan_and_shrinks_after_the_unneeded_time() {
    let r = run_burst(
        r#"
[[hosts]]
name = "pool"
count = 0
max_count = 10
cpu_milli = 4000
memory_mib = 16384
cost_per_hour = 1.0
[provisioning]
provisioner = "cluster-autoscaler"
"#,
    );
    let (scan, delay, unneeded) = (
        default_s("scan_interval_s"),
        default_s("provision_delay_s"),
        default_s("scale_down_unneeded_s"),
    );
    let a = actions(&r);
    // The pods park at about 5 s; the next scan (10 s) estimates ten 1-core pods onto
    // 4-core hosts: 4 + 4 + 2, three hosts.
    let launches: Vec<_> = a.iter().filter(|x| x.1 == "launch").collect();
    assert_eq!(launches.len(), 3, "{a:?}");
    assert!(launches
        .iter()
        .all(|x| x.0 == scan && x.2.starts_with("pool-")));
    // Ready `provision_delay` later, when every pod is bound.
    let ready = scan + delay;
    for p in &r.records {
        let b = secs(p.bound.expect("bound"));
        assert!((ready..ready + 0.001).contains(&b), "bound at {b}");
    }
    // They finish at ready + 600 s; the first scan from then on (one at that very instant
    // was queued after the finishes) finds the hosts empty and unneeded, and the scan
    // `scale_down_unneeded` later removes all three at once (at most max_empty_bulk_delete =
    // 10 empty hosts together).
    let finish = ready + 600.0;
    let first_unneeded = (finish / scan).ceil() * scan;
    let removals: Vec<_> = a.iter().filter(|x| x.1 == "remove").collect();
    assert_eq!(removals.len(), 3, "{a:?}");
    assert!(
        removals.iter().all(|x| x.0 == first_unneeded + unneeded),
        "{removals:?}"
    );
    // Three hosts billed from launch to removal at 1.0 per hour.
    let billed_s = first_unneeded + unneeded - scan;
    let cost = r.summary.cost.unwrap();
    assert!((cost - 3.0 * billed_s / 3600.0).abs() < 1e-9, "{cost}");
    assert_eq!(r.summary.hosts_peak, Some(4));
    assert_eq!(r.summary.hosts_launched, Some(3));
    assert_eq!(r.summary.hosts_removed, Some(3));
}

#[test]
fn karpenter_packs_the_batch_onto_one_host_of_the_cheapest_type_that_holds_it() {
    let r = run_burst(
        r#"
[[hosts]]
name = "small"
count = 0
max_count = 10
cpu_milli = 4000
memory_mib = 16384
cost_per_hour = 0.2
[[hosts]]
name = "big"
count = 0
max_count = 10
cpu_milli = 16000
memory_mib = 65536
cost_per_hour = 0.7
[provisioning]
provisioner = "karpenter"
"#,
    );
    let (idle, delay, poll, validation) = (
        default_s("batch_idle_s"),
        default_s("provision_delay_s"),
        default_s("disruption_poll_s"),
        default_s("consolidation_validation_s"),
    );
    let a = actions(&r);
    // Pods sorted by size join one claim while some type holds them all: after the fourth
    // only `big` does, and it holds all ten, so one `big` is launched (three `small` would
    // cost 0.6 but Karpenter packs before it prices). The batch closes `batch_idle` after
    // the last pending pod.
    let launches: Vec<_> = a.iter().filter(|x| x.1 == "launch").collect();
    assert_eq!(launches.len(), 1, "{a:?}");
    assert!(launches[0].2.starts_with("big-"));
    let last_parked = r
        .records
        .iter()
        .map(|p| secs(p.submitted))
        .fold(0.0, f64::max);
    let launched = launches[0].0;
    assert!(
        (launched - (last_parked + idle)).abs() < 0.001,
        "{launched} vs {last_parked}"
    );
    for p in &r.records {
        let b = secs(p.bound.expect("bound"));
        assert!((b - (launched + delay)).abs() < 0.001, "bound at {b}");
    }
    // Empty after 600 s of work: the next poll decides, the validation wait later it goes.
    let finish = launched + delay + 600.0;
    let removals: Vec<_> = a.iter().filter(|x| x.1 == "remove").collect();
    assert_eq!(removals.len(), 1, "{a:?}");
    let decided = (finish / poll).ceil() * poll;
    assert!(
        (removals[0].0 - (decided + validation)).abs() < 1e-6,
        "{removals:?}"
    );
}

#[test]
fn provisioning_needs_resizable_groups_and_a_provisioner_that_exists() {
    let no_table = burst(
        r#"
[[hosts]]
name = "pool"
count = 0
max_count = 4
cpu_milli = 4000
memory_mib = 16384
"#,
    );
    let e = parse("x.toml", &no_table).unwrap_err().to_string();
    assert!(
        e.contains("hosts[1].max_count") && e.contains("[provisioning]"),
        "{e}"
    );
    let fixed_only = burst(
        r#"
[[hosts]]
name = "pool"
count = 2
cpu_milli = 4000
memory_mib = 16384
[provisioning]
provisioner = "karpenter"
"#,
    );
    let e = parse("x.toml", &fixed_only).unwrap_err().to_string();
    assert!(e.contains("max_count"), "{e}");
    let unknown = burst(
        r#"
[[hosts]]
name = "pool"
count = 0
max_count = 4
cpu_milli = 4000
memory_mib = 16384
[provisioning]
provisioner = "nomad"
"#,
    );
    let e = parse("x.toml", &unknown).unwrap_err().to_string();
    assert!(
        e.contains("provisioning.provisioner") && e.contains("karpenter"),
        "{e}"
    );
    let bad_min = burst(
        r#"
[[hosts]]
name = "pool"
count = 2
min_count = 3
cpu_milli = 4000
memory_mib = 16384
[provisioning]
provisioner = "cluster-autoscaler"
"#,
    );
    let e = parse("x.toml", &bad_min).unwrap_err().to_string();
    assert!(e.contains("min_count ≤ count ≤ max_count"), "{e}");
}

/// A random mix: service and batch pods on fixed and resizable groups, on-demand and spot,
/// under either provisioner, with hosts (launched or not) failing and coming back.
fn random_scenario(
    karpenter: bool,
    seed: u64,
    pods: u64,
    run_s: u64,
    spot_mean_s: u64,
    cpus: (u64, u64),
) -> String {
    let provisioner = if karpenter {
        "karpenter"
    } else {
        "cluster-autoscaler"
    };
    format!(
        r#"
name = "random"
seed = {seed}
duration_s = 4000
[[hosts]]
name = "fixed"
count = 1
cpu_milli = 4000
memory_mib = 16384
cost_per_hour = 0.5
[[hosts]]
name = "a"
count = 1
min_count = 0
max_count = 6
cpu_milli = {}
memory_mib = 16384
cost_per_hour = 0.3
[[hosts]]
name = "b"
count = 0
max_count = 6
cpu_milli = {}
memory_mib = 32768
capacity_type = "spot"
cost_per_hour = 0.1
[[workloads]]
name = "web"
kind = "service"
arrival_rate_per_s = 0.05
max_pods = 6
cpu_milli = 1000
memory_mib = 1024
[[workloads]]
name = "jobs"
kind = "batch"
arrival_rate_per_s = 0.05
max_pods = {pods}
cpu_milli = {{ dist = "choice", values = [500, 1000, 2000] }}
memory_mib = 2048
duration_s = {{ dist = "exponential", mean = {run_s} }}
[scheduler]
algorithm = "kubernetes"
[orchestrator]
preset = "kubernetes"
[[faults]]
name = "wear"
mtbf_s = 3000
mttr_s = 100
[provisioning]
provisioner = "{provisioner}"
spot_interruption_mean_s = {spot_mean_s}
"#,
        cpus.0, cpus.1
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// No pod is bound to a host outside its launched-and-Ready life, the summary's counts
    /// are the records', and the bill recomputed from the records is the summary's.
    #[test]
    fn pods_land_only_on_hosts_that_are_there_and_the_bill_adds_up(
        karpenter in any::<bool>(),
        seed in 0u64..1000,
        pods in 10u64..80,
        run_s in 50u64..1500,
        spot_mean_s in 200u64..5000,
        cpus in (2000u64..8000, 2000u64..16000),
    ) {
        let sc = parse("random.toml", &random_scenario(karpenter, seed, pods, run_s, spot_mean_s, cpus)).unwrap();
        let r = run(&sc).unwrap();
        let recs = r.provisioning.as_ref().unwrap();
        let end = r.summary.sim_time;
        // Each host's lives: [ready, gone) for launched ones; hosts there from the start
        // (the fixed one, `a-0`) from 0.
        let mut lives: Vec<Vec<(SimTime, SimTime)>> = vec![Vec::new(); r.node_names.len()];
        let mut open: Vec<Option<SimTime>> = r
            .node_names
            .iter()
            .map(|n| (n == "fixed-0" || n == "a-0").then_some(SimTime::ZERO))
            .collect();
        let mut billed_from: Vec<Option<SimTime>> = open.clone();
        let price = |name: &str| match name.split('-').next() {
            Some("fixed") => 0.5,
            Some("a") => 0.3,
            _ => 0.1,
        };
        let mut cost = 0.0;
        let hours = |a: SimTime, b: SimTime| b.since(a).as_nanos() as f64 / 3600e9;
        for p in recs {
            let n = p.node.0;
            match p.action {
                "launch" => billed_from[n] = Some(p.time),
                "ready" => open[n] = Some(p.time),
                "remove" | "gone" => {
                    if let Some(from) = open[n].take() {
                        lives[n].push((from, p.time));
                    }
                    let from = billed_from[n].take().expect("a host removed was billed");
                    cost += price(&r.node_names[n]) * hours(from, p.time);
                }
                "spot-notice" => {
                    // Cordoned on the notice: no pod lands from here on.
                    if let Some(from) = open[n].take() {
                        lives[n].push((from, p.time));
                    }
                }
                other => panic!("unknown action {other}"),
            }
        }
        for (n, from) in open.iter().enumerate() {
            if let Some(from) = from {
                lives[n].push((*from, end + SimDuration(1)));
            }
        }
        for (n, from) in billed_from.iter().enumerate() {
            if let Some(from) = from {
                cost += price(&r.node_names[n]) * hours(*from, end);
            }
        }
        for p in &r.records {
            for pl in &p.placements {
                let n = pl.node.0;
                prop_assert!(
                    lives[n].iter().any(|&(a, b)| a <= pl.bound && pl.bound < b),
                    "{} bound to {} at {:?} outside its lives {:?}", p.spec.name, r.node_names[n], pl.bound, lives[n]
                );
            }
        }
        // Nothing is left on a host that is not there at the end.
        for p in &r.records {
            if let (Some(n), true) = (p.node, matches!(p.state, PodState::Starting | PodState::Running | PodState::Lost)) {
                prop_assert!(
                    lives[n.0].iter().any(|&(_, b)| b > end),
                    "{} still on {}, which is gone", p.spec.name, r.node_names[n.0]
                );
            }
        }
        let count = |a: &str| recs.iter().filter(|p| p.action == a).count() as u64;
        // A case where nothing was launched checks nothing about provisioning.
        prop_assume!(count("launch") > 0);
        prop_assert_eq!(r.summary.hosts_launched, Some(count("launch")));
        prop_assert_eq!(r.summary.hosts_removed, Some(count("remove")));
        prop_assert_eq!(r.summary.spot_interruptions, Some(count("spot-notice")));
        let got = r.summary.cost.unwrap();
        prop_assert!((got - cost).abs() < 1e-6 * cost.max(1.0), "summary {} vs records {}", got, cost);
    }
}

#[test]
fn a_traced_spot_reclaim_drains_the_host_and_karpenter_replaces_it() {
    let r = run_burst(
        r#"
[[hosts]]
name = "spot"
count = 0
max_count = 4
cpu_milli = 16000
memory_mib = 65536
capacity_type = "spot"
cost_per_hour = 0.2
[provisioning]
provisioner = "karpenter"
[[faults]]
name = "reclaim"
spot_reclaim = true
at_s = 300
"#,
    );
    let (idle, delay, notice) = (
        default_s("batch_idle_s"),
        default_s("provision_delay_s"),
        default_s("spot_notice_s"),
    );
    let a = actions(&r);
    let at = |what: &str| -> Vec<f64> { a.iter().filter(|x| x.1 == what).map(|x| x.0).collect() };
    assert_eq!(at("spot-notice"), vec![300.0], "{a:?}");
    assert_eq!(at("gone"), vec![300.0 + notice]);
    // The drained pods park at once, the batch closes `batch_idle` later and a second spot
    // host is Ready `provision_delay` after that; every pod is bound there again.
    let launches = at("launch");
    assert_eq!(launches.len(), 2, "{a:?}");
    assert!((launches[1] - (300.0 + idle)).abs() < 1e-9);
    for p in &r.records {
        assert_eq!(p.placements.len(), 2, "{}", p.spec.name);
        assert!((secs(p.placements[1].bound) - (300.0 + idle + delay)).abs() < 1e-6);
    }
    assert_eq!(r.summary.pods_drained, Some(10));
    assert_eq!(r.summary.spot_interruptions, Some(1));
}
