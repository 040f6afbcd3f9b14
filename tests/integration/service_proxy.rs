//! Service load balancing in the cluster simulation (`[network] proxy`, `services`, a
//! traffic edge's `connection`): a new connection pays kube-proxy's iptables walk as
//! `orchsim net proxy` prices it and a reused one does not; calls to an endpoint that is gone
//! fail until the proxies learn, as long as each proxy takes to learn; bad input is located.

use std::collections::BTreeMap;
use std::path::Path;

use crate::{num, orchsim, rows, run, stdout_of};

const DURATION_S: f64 = 300.0;

/// Four hosts of 16 cores running `workloads`, under `preset` on `datapath`.
fn four_nodes(preset: &str, datapath: &str, workloads: &str, network: &str, rest: &str) -> String {
    format!(
        r#"
name = "proxied"
seed = 3
duration_s = {DURATION_S}
sample_interval_s = 5

[[hosts]]
name = "node"
count = 4
cpu_milli = 16000
memory_mib = 65536
{workloads}
[scheduler]
algorithm = "kubernetes"

[orchestrator]
preset = "{preset}"

[network]
datapath = "{datapath}"
{network}
{rest}"#
    )
}

/// A service of `pods` replicas of half a core.
fn service(name: &str, pods: u64) -> String {
    format!(
        "\n[[workloads]]\nname = \"{name}\"\nkind = \"service\"\narrival_rate_per_s = 100\nmax_pods = {pods}\ncpu_milli = 500\nmemory_mib = 512\n"
    )
}

/// web calls api, 5,000 times a second.
fn scenario(preset: &str, network: &str, connection: &str, faults: &str) -> String {
    let traffic = format!(
        "\n[[traffic]]\nfrom = \"web\"\nto = \"api\"\nrequests_per_s = 5000\nrequest_bytes = 800\nresponse_bytes = 4000\nconnection = \"{connection}\"\n{faults}"
    );
    let workloads = service("web", 4) + &service("api", 4);
    four_nodes(preset, "calico-bgp", &workloads, network, &traffic)
}

/// `orchsim net proxy`'s row for `mode` at `services` Services of `endpoints` endpoints.
fn net_proxy(mode: &str, services: u64, endpoints: u64) -> BTreeMap<String, f64> {
    let out = stdout_of(
        orchsim()
            .args(["net", "proxy", "--format", "json", "--modes", mode])
            .arg(format!("--services={services}"))
            .arg(format!("--endpoints={endpoints}")),
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let row = &v.as_array().expect("one table of rows")[0];
    row.as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x)))
        .collect()
}

#[test]
fn new_connections_pay_the_iptables_walk_and_reused_ones_do_not() {
    let tmp = tempfile::tempdir().unwrap();
    let net = |proxy: &str| format!("proxy = \"{proxy}\"\nservices = 30000");
    let edge = |name: &str, proxy: &str, connection: &str| {
        let (s, e) = run(
            tmp.path(),
            name,
            &scenario("kubernetes", &net(proxy), connection, ""),
        );
        (s, e.into_iter().next().unwrap())
    };
    let (_, ipt_kept) = edge("ipt-kept", "iptables", "keep-alive");
    let (_, nft_kept) = edge("nft-kept", "nftables", "keep-alive");
    let (_, ipt_new) = edge("ipt-new", "iptables", "close");
    let (_, nft_new) = edge("nft-new", "nftables", "close");
    // Conntrack carries a reused connection past the rules: the mode changes nothing (EKS:
    // keep-alive traffic unaffected by 1,000 Services).
    for key in [
        "cpu_cores",
        "latency_p50_us",
        "latency_p99_us",
        "served_pct",
    ] {
        assert_eq!(ipt_kept[key], nft_kept[key], "{key}");
    }
    // A connection per call: the handshake costs both modes CPU and time...
    assert!(num(&nft_new, "cpu_cores") > num(&nft_kept, "cpu_cores"));
    assert!(num(&nft_new, "latency_p50_us") > num(&nft_kept, "latency_p50_us"));
    // ... and iptables' first packet walks 30,000 Services' rules on the caller's host: the
    // CPU `net proxy` prices, per call served.
    let served = 5000.0 * num(&ipt_new, "served_pct") / 100.0;
    assert_eq!(ipt_new["served_pct"], nft_new["served_pct"]);
    let walk_us = (num(&ipt_new, "cpu_cores") - num(&nft_new, "cpu_cores")) / served * 1e6;
    let priced = net_proxy("iptables", 30_000, 4);
    let want = priced["first_packet_cpu_us"];
    assert!(
        (walk_us - want).abs() <= 0.001 * want,
        "walk {walk_us} µs per call, net proxy {want} µs"
    );
    // Its time: the latency percentiles move by the walk's (within the histogram's 1 %
    // buckets and the spread of same-host and cross-host calls under it).
    for (q, key) in [("p50", "latency_p50_us"), ("p99", "latency_p99_us")] {
        let extra = num(&ipt_new, key) - num(&nft_new, key);
        let want = priced[&format!("first_packet_extra_{q}_us")];
        assert!(
            (extra - want).abs() <= 0.1 * want,
            "{q}: iptables adds {extra} µs, net proxy prices {want} µs"
        );
    }
}

/// The api pods on `host` before any fault, from a run without one.
fn api_pods_on(dir: &Path, host: &str) -> (usize, usize) {
    let (_, _) = run(
        dir,
        "placement",
        &scenario("kubernetes", "", "keep-alive", ""),
    );
    let pods = rows(&dir.join("placement/pods.csv"));
    let api: Vec<_> = pods.iter().filter(|p| p["workload"] == "api").collect();
    (api.iter().filter(|p| p["node"] == host).count(), api.len())
}

#[test]
fn calls_to_a_dead_host_fail_until_the_proxies_learn() {
    let tmp = tempfile::tempdir().unwrap();
    let host = "node-1";
    let (on_host, api) = api_pods_on(tmp.path(), host);
    assert!(on_host > 0, "the test needs an api pod on {host}");
    let share = on_host as f64 / api as f64;
    let fault = format!(
        "\n[[faults]]\nname = \"power\"\nhosts = [\"{host}\"]\nat_s = 60\nrecover_after_s = 200\n"
    );

    // Kubernetes: the endpoints go when the node is declared failed, then at kube-proxy's
    // next sync (129.6 ms and 4 µs per rule: a few dozen rules here).
    let (summary, edges) = run(
        tmp.path(),
        "kube",
        &scenario("kubernetes", "", "keep-alive", &fault),
    );
    let faults = rows(&tmp.path().join("kube/faults.csv"));
    let lag = num(&faults[0], "detected_s") - num(&faults[0], "down_s") + 0.1297;
    let want = 100.0 * share * lag / DURATION_S;
    let failed = num(&edges[0], "failed_pct");
    assert!(
        (failed - want).abs() <= 0.005 * want,
        "failed {failed} %, expected {want} % ({on_host} of {api} endpoints for {lag} s)"
    );
    assert_eq!(summary["net_failed_pct"], edges[0]["failed_pct"]);

    // Swarm: memberlist finds the dead node in 1 s of probing and 4 s of suspicion, long
    // before the managers' heartbeats do.
    let (_, edges) = run(
        tmp.path(),
        "swarm",
        &scenario("swarm", "", "keep-alive", &fault),
    );
    let want = 100.0 * share * 5.0 / DURATION_S;
    let failed = num(&edges[0], "failed_pct");
    assert!(
        (failed - want).abs() <= 0.005 * want,
        "swarm: failed {failed} %, expected {want} %"
    );

    // Without a fault nothing fails.
    let (_, edges) = run(
        tmp.path(),
        "calm",
        &scenario("kubernetes", "", "keep-alive", ""),
    );
    assert_eq!(num(&edges[0], "failed_pct"), 0.0);
}

#[test]
fn proxy_settings_are_checked_where_they_are_written() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, preset, network, connection, expect) in [
        (
            "swarm-lb-on-kubernetes",
            "kubernetes",
            "proxy = \"swarm\"",
            "keep-alive",
            "network.proxy",
        ),
        (
            "kube-proxy-on-swarm",
            "swarm",
            "proxy = \"nftables\"",
            "keep-alive",
            "expected `swarm` (or no proxy) with the swarm preset",
        ),
        (
            "userspace",
            "kubernetes",
            "proxy = \"userspace\"",
            "keep-alive",
            "expected iptables, nftables, ipvs or swarm",
        ),
        (
            "no-services",
            "kubernetes",
            "services = 0",
            "keep-alive",
            "network.services",
        ),
        (
            "sometimes",
            "kubernetes",
            "",
            "sometimes",
            "expected keep-alive or close",
        ),
    ] {
        let file = tmp.path().join(format!("{name}.toml"));
        std::fs::write(&file, scenario(preset, network, connection, "")).unwrap();
        let out = orchsim()
            .arg("run")
            .arg(&file)
            .arg("--out")
            .arg(tmp.path().join(name))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} ran");
        assert!(err.contains(expect), "{name}: {err}");
        // file:line:column.
        assert!(err.contains(&format!("{name}.toml:")), "{name}: {err}");
    }
}

/// Clients outside call web's `pods` replicas, 4,000 times a second, through Swarm.
fn outside(entry: &str, pods: u64) -> String {
    let traffic = format!(
        "\n[[traffic]]\nentry = \"{entry}\"\nto = \"web\"\nrequests_per_s = 4000\nrequest_bytes = 1024\nresponse_bytes = 20000\n"
    );
    four_nodes("swarm", "overlay", &service("web", pods), "", &traffic)
}

#[test]
fn calls_from_outside_take_the_mesh_s_extra_hop_and_none_through_their_own_node() {
    let tmp = tempfile::tempdir().unwrap();
    // The routing mesh: a call enters by any of the 4 nodes and goes to any of the pods, so
    // one in 4 lands on a node running the pod it is sent to, wherever the pods are.
    for pods in [1, 2, 3] {
        let (_, edges) = run(
            tmp.path(),
            &format!("mesh-{pods}"),
            &outside("cluster", pods),
        );
        let e = &edges[0];
        assert_eq!(e["from"], "outside:cluster");
        assert_eq!(num(e, "same_host_pct"), 25.0, "{pods} pods: {e:?}");
        assert_eq!(num(e, "cross_host_pct"), 75.0, "{pods} pods: {e:?}");
    }
    // Published on the nodes running the pods: never a hop, so less CPU and less time.
    let (_, mesh) = run(tmp.path(), "mesh", &outside("cluster", 2));
    let (_, local) = run(tmp.path(), "local", &outside("local", 2));
    assert_eq!(local[0]["from"], "outside:local");
    assert_eq!(num(&local[0], "same_host_pct"), 100.0);
    assert_eq!(num(&mesh[0], "served_pct"), num(&local[0], "served_pct"));
    assert!(num(&local[0], "cpu_cores") < num(&mesh[0], "cpu_cores"));
    for key in ["latency_p50_us", "latency_p99_us"] {
        assert!(num(&local[0], key) < num(&mesh[0], key), "{key}");
    }
    // The hop is the datapath's: the mesh's p99 call is forwarded, the local p50 is not,
    // and the difference is one overlay round trip at least.
    assert!(num(&mesh[0], "latency_p99_us") > num(&local[0], "latency_p50_us") + 20.0);
}

#[test]
fn a_call_needs_one_caller() {
    let tmp = tempfile::tempdir().unwrap();
    let both =
        outside("cluster", 2).replace("entry = \"cluster\"", "entry = \"cluster\"\nfrom = \"web\"");
    let neither = outside("cluster", 2).replace("entry = \"cluster\"\n", "");
    let bad = outside("everywhere", 2);
    for (name, text, expect) in [
        ("both", both, "not both"),
        (
            "neither",
            neither,
            "expected `from` (the calling workload) or `entry",
        ),
        ("bad", bad, "expected cluster or local, found `everywhere`"),
    ] {
        let file = tmp.path().join(format!("{name}.toml"));
        std::fs::write(&file, text).unwrap();
        let out = orchsim()
            .arg("run")
            .arg(&file)
            .arg("--out")
            .arg(tmp.path().join(name))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} ran");
        assert!(err.contains(expect), "{name}: {err}");
        assert!(err.contains(&format!("{name}.toml:")), "{name}: {err}");
    }
}
