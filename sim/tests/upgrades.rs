//! Upgrades: a rolling upgrade keeps within its orchestrator's limits — never fewer than
//! desired − maxUnavailable ready replicas nor more than desired + maxSurge pods — and ends
//! with the desired count of new pods; a rebuild in place keeps every pod on its node with its
//! volume.

use orchsim_sim::upgrades::Strategy as UpgradeStrategy;
use orchsim_sim::{parse, run, PodState};
use proptest::prelude::*;

#[allow(clippy::too_many_arguments)]
fn scenario(
    preset: &str,
    hosts: u32,
    host_cpu_milli: u32,
    desired: u32,
    strategy: &str,
    surge: &str,
    unavailable: &str,
    ready_delay_s: u32,
    volume: &str,
) -> String {
    format!(
        r#"
name = "upgrade"
seed = {hosts}{desired}
duration_s = 20000
[[hosts]]
name = "w"
count = {hosts}
cpu_milli = {host_cpu_milli}
memory_mib = 65536
[[workloads]]
name = "web"
kind = "service"
arrival_rate_per_s = 100
max_pods = {desired}
cpu_milli = 100
memory_mib = 128
image_mib = 100
[scheduler]
cost = {{ t_job_ms = 2, t_task_ms = 1 }}
[orchestrator]
preset = "{preset}"
start_latency_s = {{ dist = "uniform", min = 0.5, max = 1.5 }}
[[upgrades]]
workload = "web"
at_s = 100
strategy = "{strategy}"
image_mib = 200
{surge}
{unavailable}
ready_delay_s = {ready_delay_s}
volume_gib = 5
volume = "{volume}"
"#
    )
}

fn replicas() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..4).prop_map(|n| n.to_string()),
        (0u32..=100).prop_map(|p| format!("\"{p}%\"")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn an_upgrade_stays_within_its_limits_and_completes(
        preset in prop_oneof![Just("kubernetes"), Just("swarm"), Just("mesos-marathon")],
        hosts in 1u32..8,
        desired in 1u32..30,
        rebuild in any::<bool>(),
        surge in proptest::option::of(replicas()),
        unavailable in proptest::option::of(replicas()),
        ready_delay_s in 0u32..20,
        distributed in any::<bool>(),
        spare in proptest::option::of(0u32..3),
    ) {
        let strategy = if rebuild { "rebuild-in-place" } else { "rolling" };
        // Room for every old replica, and then `spare` more pods per host (or plenty).
        let per_host = desired.div_ceil(hosts) + spare.unwrap_or(200);
        let text = scenario(
            preset,
            hosts,
            100 * per_host,
            desired,
            strategy,
            &surge.map(|s| format!("max_surge = {s}")).unwrap_or_default(),
            &unavailable.map(|s| format!("max_unavailable = {s}")).unwrap_or_default(),
            ready_delay_s,
            if distributed { "distributed" } else { "local" },
        );
        let sc = parse("upgrade.toml", &text).unwrap();
        let r = run(&sc).unwrap();
        let u = &r.upgrades[0];
        let d = u64::from(desired);
        prop_assert_eq!(u.ready_at_start, d, "every replica was ready before the upgrade");
        prop_assert!(u.min_ready + u.max_unavailable >= d, "{:?}", u);
        prop_assert!(u.max_pods <= d + u.max_surge, "{:?}", u);
        // It can only stall where it may neither add a pod (no room) nor take one down: a
        // real Deployment stalls there too.
        let room = u64::from(hosts * per_host) > d;
        if !(rebuild || room || u.max_unavailable > 0) {
            prop_assert!(u.finished.is_none());
            return Ok(());
        }
        prop_assert!(u.finished.is_some(), "{:?}", u);
        let running: Vec<_> = r.records.iter().filter(|p| p.state == PodState::Running).collect();
        prop_assert_eq!(running.len() as u64, d);
        prop_assert!(running.iter().all(|p| p.version == 1));
        if rebuild {
            prop_assert_eq!(u.strategy, UpgradeStrategy::RebuildInPlace);
            prop_assert_eq!(u.rebuilt, d);
            prop_assert_eq!(u.created + u.deleted + u.volume_copies + u.volume_reattached, 0);
            // Rebuilt where it ran: one stay each, on its node, its volume never moved.
            for p in &running {
                prop_assert_eq!(p.placements.len(), 1);
                prop_assert_eq!(p.rebuilds, 1);
                prop_assert_eq!(Some(p.placements[0].node), p.node);
            }
        } else {
            prop_assert_eq!((u.created, u.deleted, u.rebuilt), (d, d, 0));
            prop_assert_eq!(r.summary.pods_deleted, d);
            let moved = u.volume_copies + u.volume_reattached;
            prop_assert!(moved <= d);
            if distributed {
                prop_assert_eq!(u.volume_copies, 0);
            } else {
                prop_assert!((u.copied_gib - 5.0 * u.volume_copies as f64).abs() < 1e-9);
            }
        }
    }
}

/// A rolling upgrade onto a host that holds no old replica copies every volume over the
/// network: the copy time (size × 8 / bandwidth) is in each new pod's start.
#[test]
fn a_local_volume_is_copied_when_its_pod_moves() {
    // First fit packs the 4 old replicas onto w-0, which has room for exactly 4; with a surge
    // of 4 and nothing unavailable the new ones can only go to new-0.
    let text = scenario("kubernetes", 1, 16000, 4, "rolling", "max_surge = 4", "max_unavailable = 0", 0, "local")
        .replace("cpu_milli = 16000\nmemory_mib = 65536\n[[workloads]]", "cpu_milli = 400\nmemory_mib = 65536\n[[hosts]]\nname = \"new\"\ncount = 1\ncpu_milli = 16000\nmemory_mib = 65536\n[[workloads]]")
        .replace("[scheduler]\n", "[scheduler]\nalgorithm = \"first-fit\"\n");
    let sc = parse("upgrade.toml", &text).unwrap();
    let r = run(&sc).unwrap();
    let u = &r.upgrades[0];
    assert!(u.finished.is_some());
    assert_eq!((u.volume_copies, u.volume_reattached), (4, 0));
    assert!((u.copied_gib - 20.0).abs() < 1e-9);
    let copy_s = 5.0 * 8_589.934_592 / 1000.0;
    for p in r.records.iter().filter(|p| p.version == 1) {
        assert_eq!(r.node_names[p.node.unwrap().0], "new-0");
        let start = p.started.unwrap().since(p.bound.unwrap()).as_secs_f64();
        // The copy, then the 200 MiB pull (1.68 s at 1 Gbit/s, once) and a 0.5–1.5 s start.
        assert!(start > copy_s && start < copy_s + 4.0, "{start}");
    }
    // Rebuilt in place instead: nothing moves.
    let sc = parse(
        "upgrade.toml",
        &text.replace("\"rolling\"", "\"rebuild-in-place\""),
    )
    .unwrap();
    let r = run(&sc).unwrap();
    assert_eq!(r.upgrades[0].volume_copies, 0);
    assert_eq!(r.upgrades[0].rebuilt, 4);
}

/// Swarm's update settings are the Kubernetes limits by other names: `parallelism` tasks at a
/// time, started before the old ones stop (`start-first`: surge) or after (`stop-first`:
/// unavailability); giving both pairs is refused.
#[test]
fn swarm_parallelism_and_order_are_surge_and_unavailability() {
    let base = |extra: &str| {
        format!(
            "name = \"u\"\nduration_s = 100\n[[hosts]]\nname = \"w\"\ncpu_milli = 8000\nmemory_mib = 8192\n[[workloads]]\nname = \"web\"\nkind = \"service\"\narrival_rate_per_s = 10\nmax_pods = 4\ncpu_milli = 100\nmemory_mib = 100\n[[upgrades]]\nworkload = \"web\"\nat_s = 10\n{extra}\n"
        )
    };
    use orchsim_sim::values_file::Replicas;
    let limits = |extra: &str| {
        let sc = orchsim_sim::parse("u.toml", &base(extra)).unwrap();
        (sc.upgrades[0].max_surge, sc.upgrades[0].max_unavailable)
    };
    assert_eq!(
        limits("parallelism = 2\norder = \"start-first\""),
        (Some(Replicas::Count(2)), Some(Replicas::Count(0)))
    );
    assert_eq!(
        limits("order = \"stop-first\""),
        (Some(Replicas::Count(0)), Some(Replicas::Count(1)))
    );
    let e = orchsim_sim::parse("u.toml", &base("parallelism = 2\nmax_surge = 1"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("one pair or the other"), "{e}");
}
