//! The control plane as a modeled resource: a burst of 10,000 pods on 1,000 nodes binds at
//! the rate client-go's limit on the scheduler's client allows, derived here from the
//! defaults file's own values, and at the scheduler's own rate once that limit is lifted.

use orchsim_kernel::{SimDuration, SimTime};
use orchsim_sim::api_server::defaults;
use orchsim_sim::{parse, run, PodState, RunResult, Scenario};

fn scenario(api_values: &str) -> Scenario {
    let text = include_str!("../../scenarios/control-plane.toml").replace(
        "\n[api_server]\n",
        &format!("\n[api_server]\n{api_values}\n"),
    );
    parse("control-plane.toml", &text).unwrap()
}

fn value(key: &str) -> f64 {
    let (v, _) = &defaults().values[key];
    v.as_float()
        .or_else(|| v.as_integer().map(|i| i as f64))
        .unwrap()
}

fn secs(t: SimTime) -> f64 {
    t.as_secs_f64()
}

/// Every pod runs, and (first, last) of the schedulers' binds and of the API's answers.
fn binds(r: &RunResult) -> ((SimTime, SimTime), (SimTime, SimTime)) {
    assert!(r.records.iter().all(|p| p.state == PodState::Running));
    let bound: Vec<SimTime> = r.records.iter().map(|p| p.bound.unwrap()).collect();
    let answered: Vec<SimTime> = r.records.iter().map(|p| p.bind_answered.unwrap()).collect();
    let span = |v: &[SimTime]| (*v.iter().min().unwrap(), *v.iter().max().unwrap());
    (span(&bound), span(&answered))
}

/// kube-scheduler's decision of one pod in this scenario: t_job + t_task + t_node × the nodes
/// it examines, numFeasibleNodesToFind for 1,000 nodes (v1.33 schedule_one.go: percentage
/// 50 − nodes/125 = 42 %, at least 100 nodes).
fn decision_s(sc: &Scenario) -> f64 {
    let nodes = sc.nodes().len() as f64;
    let examined = (nodes * (50.0 - nodes / 125.0).max(5.0) / 100.0).max(100.0);
    let c = &sc.scheduler.cost;
    (c.t_job + c.t_task).as_secs_f64() + c.t_node.as_secs_f64() * examined
}

/// At upstream defaults the scheduler's client has `burst` tokens and gains one every
/// 1/`qps`: the first Bind goes when the first decision ends (b0), the n-th no sooner than
/// b0 + (n − burst)/qps, so the 10,000th is answered at b0 + (10,000 − 100)/50 s plus etcd's
/// write latency — 198 s after the first, although the scheduler decided the last pod at
/// about 72 s.
#[test]
fn a_burst_binds_at_the_rate_the_api_limits_allow() {
    let sc = scenario("");
    let r = run(&sc).unwrap();
    let n = r.records.len() as f64;
    assert_eq!(n, 10_000.0);
    let ((b0, last_bound), (_, last_answered)) = binds(&r);
    let (qps, burst) = (value("scheduler_qps"), value("scheduler_burst"));
    let expected = secs(b0) + (n - burst) / qps + value("etcd_write_latency_ms") / 1e3;
    assert!(
        (secs(last_answered) - expected).abs() < 1e-6,
        "last Bind answered at {} s, derived {expected} s",
        secs(last_answered)
    );
    // The scheduler itself was done long before: its own pace is one pod per decision.
    let own = secs(b0) + (n - 1.0) * decision_s(&sc);
    assert!(
        (secs(last_bound) - own).abs() < 0.01,
        "{} vs {own}",
        secs(last_bound)
    );
    // Binds answered in a steady minute: qps per second, exactly.
    let window = r
        .records
        .iter()
        .filter(|p| {
            let a = secs(p.bind_answered.unwrap());
            (100.0..160.0).contains(&(a - secs(b0)))
        })
        .count();
    assert_eq!(window as f64, 60.0 * qps);
    // One create, one Bind and two status requests (GET + PATCH) per pod; only the
    // scheduler's client waited for tokens.
    let clients = r.api_clients.as_ref().unwrap();
    assert_eq!(r.summary.api_requests, Some(40_000));
    assert!(clients[0].1.throttled_ns > 0);
    assert_eq!(clients[2].1.throttled_ns, 0);
    assert!(r.summary.time_api_bind_mean.unwrap() > SimDuration::from_secs(30));
}

/// With the scheduler's limit lifted (client-go: QPS < 0), each Bind is answered one etcd
/// write after the decision: the burst binds at the scheduler's own rate.
#[test]
fn with_the_limits_lifted_it_binds_at_the_schedulers_own_rate() {
    let sc = scenario("scheduler_qps = -1");
    let r = run(&sc).unwrap();
    let n = r.records.len() as f64;
    let ((b0, last_bound), (_, last_answered)) = binds(&r);
    let own = secs(b0) + (n - 1.0) * decision_s(&sc);
    assert!(
        (secs(last_bound) - own).abs() < 0.01,
        "{} vs {own}",
        secs(last_bound)
    );
    let latency = value("etcd_write_latency_ms") / 1e3;
    // The first second's Binds share etcd with the 10,000 creations (22.6 µs of etcd each);
    // after that each waits for nothing but its own write.
    for p in r
        .records
        .iter()
        .filter(|p| secs(p.bound.unwrap()) > secs(b0) + 1.0)
    {
        let wait = secs(p.bind_answered.unwrap()) - secs(p.bound.unwrap());
        assert!(
            (wait - latency).abs() < 1e-6,
            "{}: Bind took {wait} s",
            p.spec.name
        );
    }
    assert!(secs(last_answered) < 73.0);
    assert_eq!(r.api_clients.as_ref().unwrap()[0].1.throttled_ns, 0);
}

/// Without the watch cache every one of the 1,002 pod watchers (the scheduler, the
/// controller manager, each kubelet) has its own etcd watch: each write costs etcd 1,002
/// watch events, which makes etcd the bottleneck; the same burst takes longer than with the
/// cache.
#[test]
fn without_the_watch_cache_etcd_becomes_the_bottleneck() {
    let cached = run(&scenario("scheduler_qps = -1")).unwrap();
    let direct = run(&scenario("scheduler_qps = -1\nwatch_cache = false")).unwrap();
    let last = |r: &RunResult| binds(r).1 .1;
    assert!(secs(last(&direct)) > 1.5 * secs(last(&cached)));
    assert!(direct.summary.etcd_busy_pct.unwrap() > 20.0 * cached.summary.etcd_busy_pct.unwrap());
}

/// A host that fails while Binds to it wait for tokens, and comes back before its pods are
/// given up: its pods start only once their Binds are answered, never before.
#[test]
fn a_pod_never_starts_before_its_bind_is_answered() {
    let text = r#"
name = "slow-binds"
seed = 5
duration_s = 600
[[hosts]]
name = "w"
count = 4
cpu_milli = 16000
memory_mib = 65536
[[workloads]]
name = "web"
kind = "service"
arrival_rate_per_s = 1000
max_pods = 12
cpu_milli = 1000
memory_mib = 1024
[scheduler]
cost = { t_job_ms = 1, t_task_ms = 0 }
[orchestrator]
preset = "kubernetes"
start_latency_s = 0.5
[api_server]
scheduler_qps = 0.1
scheduler_burst = 1
[[faults]]
name = "blip"
hosts = ["w-1"]
at_s = 5
recover_after_s = 25
"#;
    let sc = parse("slow-binds.toml", text).unwrap();
    let r = run(&sc).unwrap();
    assert!(r.records.iter().all(|p| p.state == PodState::Running));
    let mut restarted = 0;
    for p in &r.records {
        let (answered, started) = (p.bind_answered.unwrap(), p.started.unwrap());
        assert!(
            answered <= started,
            "{} started before its Bind",
            p.spec.name
        );
        restarted += p.restarts_in_place;
    }
    // Binds one every 10 s: the last answered at 110 s, long after the host's return at 30 s.
    let last = r
        .records
        .iter()
        .map(|p| p.bind_answered.unwrap())
        .max()
        .unwrap();
    assert!((secs(last) - 110.0).abs() < 0.1, "{}", secs(last));
    assert!(
        restarted > 0,
        "no pod of w-1 was waiting for its Bind when it failed"
    );
}
