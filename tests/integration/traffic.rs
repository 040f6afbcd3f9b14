//! Service traffic in the cluster simulation (`[[traffic]]`, `[network] agents`): the cluster
//! view agrees with `net compare`, same-host calls never touch the datapath, and bad input is
//! located.

use std::collections::BTreeMap;
use std::path::Path;

use crate::{num, orchsim, rows, run};

const DATAPATHS: [&str; 7] = [
    "host",
    "overlay",
    "flannel-udp",
    "flannel-vxlan",
    "flannel-host-gw",
    "calico-bgp",
    "calico-vxlan",
];

/// Pairs of datapaths `net compare` separates by more than `margin` (as a ratio) must come in
/// the same order in the cluster view. Closer pairs may swap: the cluster's hosts are loaded
/// (each datapath's own CPU cost stretches its latency), `net compare`'s are idle.
fn assert_same_order(
    what: &str,
    compare: &BTreeMap<&str, f64>,
    cluster: &BTreeMap<&str, f64>,
    margin: f64,
) {
    let mut checked = 0;
    for (a, ca) in compare {
        for (b, cb) in compare {
            if ca * (1.0 + margin) < *cb {
                checked += 1;
                assert!(
                    cluster[a] < cluster[b],
                    "{what}: net compare has {a} ({ca:.4}) well below {b} ({cb:.4}), the cluster view has {a} {} and {b} {}",
                    cluster[a],
                    cluster[b]
                );
            }
        }
    }
    assert!(
        checked >= 10,
        "{what}: only {checked} pairs far enough apart to compare"
    );
}

/// The issue's rule: the networks scenario cannot contradict the datapath view. The cluster's
/// CPU per gigabit also holds the agents' idle use (0.06 to 0.2 of 9 to 13 cores) and its
/// messages are of two sizes; the margins are wider than what those move.
#[test]
fn the_networks_scenario_orders_datapaths_as_net_compare_does() {
    let tmp = tempfile::tempdir().unwrap();
    let out = orchsim()
        .args(["sweep", "networks", "--set"])
        .arg(format!("network.datapath={}", DATAPATHS.join(",")))
        .arg("--out")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs = rows(&tmp.path().join("sweep.csv"));
    let mut cpu = BTreeMap::new();
    let mut p99 = BTreeMap::new();
    for d in DATAPATHS {
        let r = runs
            .iter()
            .find(|r| r["network.datapath"] == d)
            .unwrap_or_else(|| panic!("no run for {d}"));
        cpu.insert(d, num(r, "net_cpu_cores") / num(r, "net_gbit_s"));
        p99.insert(d, num(r, "net_latency_p99_us"));
    }
    // The scenario's responses are 4 and 16 KiB; 8 KiB messages sit between.
    let out = orchsim()
        .args([
            "net",
            "compare",
            "--platform",
            "reference-10g",
            "--msg-size",
            "8192",
            "--format",
            "json",
            "--datapaths",
        ])
        .arg(DATAPATHS.join(","))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut c_cpu = BTreeMap::new();
    let mut c_p99 = BTreeMap::new();
    for r in v["datapaths"].as_array().unwrap() {
        let name = DATAPATHS
            .iter()
            .find(|d| **d == r["name"].as_str().unwrap())
            .unwrap();
        c_cpu.insert(*name, r["cpu_s_per_gbit"].as_f64().unwrap());
        c_p99.insert(*name, r["latency_us"]["p99"].as_f64().unwrap());
    }
    assert_same_order("CPU per gigabit", &c_cpu, &cpu, 0.03);
    assert_same_order("p99 latency", &c_p99, &p99, 0.05);
}

fn scenario(hosts: u64, datapath: &str, extra: &str) -> String {
    format!(
        r#"
name = "calls"
seed = 1
duration_s = 120
sample_interval_s = 1

[[hosts]]
name = "node"
count = {hosts}
cpu_milli = 16000
memory_mib = 65536

[[workloads]]
name = "web"
kind = "service"
arrival_rate_per_s = 100
max_pods = 4
cpu_milli = 500
memory_mib = 512

[[workloads]]
name = "api"
kind = "service"
arrival_rate_per_s = 100
max_pods = 4
cpu_milli = 500
memory_mib = 512

[scheduler]
algorithm = "kubernetes"    # spreads the pods (LeastAllocated) when there are hosts to spread on

[network]
datapath = "{datapath}"
{extra}

[[traffic]]
from = "web"
to = "api"
requests_per_s = 5000
request_bytes = 800
response_bytes = 20000
"#
    )
}

#[test]
fn calls_between_pods_of_one_host_never_touch_the_datapath() {
    let tmp = tempfile::tempdir().unwrap();
    let (calico, calico_edges) = run(tmp.path(), "one-calico", &scenario(1, "calico-bgp", ""));
    let (udp, udp_edges) = run(tmp.path(), "one-udp", &scenario(1, "flannel-udp", ""));
    for (s, e) in [(&calico, &calico_edges[0]), (&udp, &udp_edges[0])] {
        assert_eq!(num(e, "same_host_pct"), 100.0);
        assert_eq!(num(e, "cross_host_pct"), 0.0);
        assert_eq!(num(s, "net_cross_host_pct"), 0.0);
        assert!(num(e, "served_pct") > 95.0, "{e:?}");
    }
    // The same cost and latency whatever the datapath: it is never on the path.
    for key in ["cpu_cores", "latency_p50_us", "latency_p99_us", "gbit_s"] {
        assert_eq!(calico_edges[0][key], udp_edges[0][key], "{key}");
    }

    // Across hosts the datapath is paid: flannel's userspace daemon costs more than routes.
    let (_, spread_calico) = run(tmp.path(), "four-calico", &scenario(4, "calico-bgp", ""));
    let (_, spread_udp) = run(tmp.path(), "four-udp", &scenario(4, "flannel-udp", ""));
    assert!(num(&spread_calico[0], "cross_host_pct") > 0.0);
    assert!(num(&spread_udp[0], "cpu_cores") > num(&spread_calico[0], "cpu_cores"));
    assert!(num(&spread_udp[0], "latency_p99_us") > num(&spread_calico[0], "latency_p99_us"));
}

#[test]
fn agents_take_their_requests_and_idle_use_from_every_host() {
    let tmp = tempfile::tempdir().unwrap();
    let (free, _) = run(tmp.path(), "free", &scenario(4, "calico-bgp", ""));
    let (charged, _) = run(
        tmp.path(),
        "charged",
        &scenario(4, "calico-bgp", "agents = true"),
    );
    // calico-node's idle use: 80 mC per 3 nodes (network-measurements.md §8) on each of 4.
    let idle = num(&charged, "net_cpu_cores") - num(&free, "net_cpu_cores");
    assert!((idle - 4.0 * 0.080 / 3.0).abs() < 1e-3, "{idle}");
    // Its 250 m request is off each host's allocatable: the same pods fill more of it.
    assert!(num(&charged, "cpu_util_mean_pct") > num(&free, "cpu_util_mean_pct"));

    // A host smaller than the agents' request is refused, located.
    let file = tmp.path().join("tiny.toml");
    std::fs::write(
        &file,
        scenario(1, "calico-bgp", "agents = true")
            .replace("cpu_milli = 16000", "cpu_milli = 200")
            .replace("cpu_milli = 500", "cpu_milli = 100"),
    )
    .unwrap();
    let out = orchsim().arg("run").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tiny.toml:") && err.contains("network.agents"),
        "{err}"
    );
    assert!(err.contains("250 mCPU") && err.contains("`node`"), "{err}");
}

#[test]
fn a_call_to_an_unknown_service_or_an_empty_message_is_refused_with_its_location() {
    let tmp = tempfile::tempdir().unwrap();
    for (text, field, expect) in [
        (
            scenario(1, "host", "").replace("to = \"api\"", "to = \"apii\""),
            "traffic[0].to",
            "apii",
        ),
        (
            scenario(1, "host", "").replace("request_bytes = 800", "request_bytes = 0"),
            "traffic[0].request_bytes",
            "message size",
        ),
        (
            scenario(1, "host", "platform = \"moon\""),
            "network.platform",
            "reference-10g",
        ),
        (
            scenario(1, "calico-bgp", "policies = [\"missing.yaml\"]"),
            "network.policies",
            "missing.yaml",
        ),
        (
            scenario(1, "calico-bgp", "").replace(
                "name = \"web\"\n",
                "name = \"web\"\nnamespace = \"Tenant_A\"\n",
            ),
            "workloads[0].namespace",
            "Tenant_A",
        ),
    ] {
        let file = tmp.path().join("bad.toml");
        std::fs::write(&file, text).unwrap();
        let out = orchsim().arg("run").arg(&file).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("bad.toml:") && err.contains(field) && err.contains(expect),
            "{err}"
        );
    }
}

#[test]
fn a_host_full_of_local_calls_is_not_limited_by_its_nic() {
    let tmp = tempfile::tempdir().unwrap();
    // 100,000 calls/s of 20 kB answers: 16 Gbit/s, more than the 10 GbE NIC could carry.
    let text =
        scenario(1, "calico-bgp", "").replace("requests_per_s = 5000", "requests_per_s = 100000");
    let (summary, edges) = run(tmp.path(), "local-heavy", &text);
    assert!(num(&edges[0], "gbit_s") > 10.0, "{edges:?}");
    let lost = 100.0 - num(&edges[0], "served_pct") - num(&edges[0], "no_endpoint_pct");
    assert!(lost.abs() < 1e-6, "{edges:?}");
    assert_eq!(num(&summary, "pod_cpu_starved_pct"), 0.0);
}

/// Two sites, the callers pinned to one and the callees to the other by node labels.
fn two_sites(link: &str) -> String {
    scenario(2, "calico-bgp", link)
        .replace(
            "[[hosts]]\nname = \"node\"\ncount = 2\ncpu_milli = 16000\nmemory_mib = 65536\n",
            "[[hosts]]\nname = \"dc\"\ncount = 2\ncpu_milli = 16000\nmemory_mib = 65536\nsite = \"dc\"\nlabels = { side = \"dc\" }\n\n\
             [[hosts]]\nname = \"cloud\"\ncount = 2\ncpu_milli = 16000\nmemory_mib = 65536\nsite = \"cloud\"\nlabels = { side = \"cloud\" }\n",
        )
        .replace("name = \"web\"\n", "name = \"web\"\nnode_selector = { side = \"dc\" }\n")
        .replace("name = \"api\"\n", "name = \"api\"\nnode_selector = { side = \"cloud\" }\n")
}

#[test]
fn calls_across_sites_always_pay_the_link() {
    let tmp = tempfile::tempdir().unwrap();
    let link = "\n[[links]]\nsites = [\"dc\", \"cloud\"]\ngbit_s = 1.0\nlatency_ms = 10\ncost_per_gb = 0.05\ncost_per_hour = 0.5\n";
    let (summary, edges) = run(tmp.path(), "wan", &two_sites(link));
    let e = &edges[0];
    assert_eq!(num(e, "cross_site_pct"), 100.0, "{e:?}");
    // Two crossings of a 10 ms link per call, at least.
    assert!(num(e, "latency_p50_us") > 20_000.0, "{e:?}");
    let links = rows(&tmp.path().join("wan/links.csv"));
    assert_eq!(links.len(), 1);
    let l = &links[0];
    assert_eq!(
        (l["site_a"].as_str(), l["site_b"].as_str()),
        ("dc", "cloud")
    );
    // Requests go dc → cloud, answers (25 times larger) come back.
    assert!(
        num(l, "gbit_s_b_to_a") > 20.0 * num(l, "gbit_s_a_to_b"),
        "{l:?}"
    );
    let gb = num(l, "gb");
    assert!(gb > 0.0);
    // 120 s of the link: per-GB charges plus its hours.
    let cost = gb * 0.05 + 120.0 / 3600.0 * 0.5;
    assert!((num(l, "cost") - cost).abs() < 1e-3, "{l:?} vs {cost}");
    assert!((num(&summary, "cost_transfer") - num(l, "cost")).abs() < 1e-9);

    // A link too thin for the answers serves its share of the calls: 5,000 calls/s of
    // 20 kB is 0.8 Gbit/s, on a 0.1 Gbit/s link about an eighth gets through.
    let thin = link.replace("gbit_s = 1.0", "gbit_s = 0.1");
    let (_, edges) = run(tmp.path(), "thin", &two_sites(&thin));
    let served = num(&edges[0], "served_pct");
    assert!((10.0..16.0).contains(&served), "{edges:?}");

    // Sites with traffic between them but no link: refused, located.
    let file = tmp.path().join("nolink.toml");
    std::fs::write(&file, two_sites("")).unwrap();
    let out = orchsim().arg("run").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nolink.toml:")
            && err.contains("[[links]]")
            && err.contains("`cloud` and `dc`"),
        "{err}"
    );
}

/// NetworkPolicy in the cluster: on Calico a denied call carries no byte; on flannel it is
/// carried and the run says the policies were not enforced.
#[test]
fn denied_calls_carry_no_bytes_where_policy_is_enforced() {
    let tmp = tempfile::tempdir().unwrap();
    // The scenario beside a link to the repository's data/, which its policies are in.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::os::unix::fs::symlink(repo.join("data"), tmp.path().join("data")).unwrap();
    std::fs::create_dir(tmp.path().join("scenarios")).unwrap();
    let text = std::fs::read_to_string(repo.join("scenarios/policy-isolation.toml")).unwrap();
    let mut by_datapath = BTreeMap::new();
    for d in ["calico-bgp", "flannel-vxlan"] {
        let file = tmp.path().join(format!("scenarios/{d}.toml"));
        std::fs::write(
            &file,
            text.replace("datapath = \"calico-bgp\"", &format!("datapath = \"{d}\"")),
        )
        .unwrap();
        let out_dir = tmp.path().join(d);
        let out = orchsim()
            .arg("run")
            .arg(&file)
            .arg("--out")
            .arg(&out_dir)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        by_datapath.insert(d, (stdout, rows(&out_dir.join("traffic.csv"))));
    }
    let (calico_text, calico) = &by_datapath["calico-bgp"];
    let (flannel_text, flannel) = &by_datapath["flannel-vxlan"];
    assert!(
        calico_text.contains("enforced by calico-bgp: 2 of 4 calls denied"),
        "{calico_text}"
    );
    // The README shows that line.
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    let line = calico_text
        .lines()
        .find(|l| l.starts_with("policy "))
        .unwrap();
    assert!(
        readme.contains(&format!("$ orchsim run policy-isolation\n{line}\n")),
        "{line}"
    );
    assert!(flannel_text.contains("NOT enforced"), "{flannel_text}");
    for (c, f) in calico.iter().zip(flannel) {
        let within = c["from"][..1] == c["to"][..1];
        if within {
            assert_eq!(c["policy"], "allowed");
            assert!(num(c, "served_pct") > 99.0, "{c:?}");
        } else {
            // Refused where the policy holds: no request served, no byte, no CPU.
            assert_eq!(c["policy"], "denied");
            assert_eq!(num(c, "served_pct"), 0.0, "{c:?}");
            assert_eq!(num(c, "gbit_s"), 0.0);
            assert_eq!(num(c, "cpu_cores"), 0.0);
            assert_eq!(num(c, "denied_pct"), 100.0, "{c:?}");
            // Carried where nothing applies it.
            assert_eq!(f["policy"], "denied, not enforced");
            assert!(num(f, "served_pct") > 99.0, "{f:?}");
            assert!(num(f, "gbit_s") > 0.0);
        }
    }
}
