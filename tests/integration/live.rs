//! `orchsim live`: a short real measurement through the command line (files, JSON contract,
//! the calibrated profile that `net compare` then reads), bad input, Ctrl-C and `live clean`.
//! Needs root and network namespaces (CI runs as root); without them these fail with the reason.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::orchsim;

fn namespaces() -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip is installed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn live_net_measures_models_calibrates_and_net_compare_reads_the_profile() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let profile = dir.path().join("this-machine.toml");
    let child = Command::new(assert_cmd::cargo::cargo_bin("orchsim"))
        .args([
            "live",
            "net",
            "--datapaths",
            "calico-bgp,calico-ipip",
            "--duration",
            "400ms",
        ])
        .args([
            "--repeat", "1", "--format", "json", "--report", "-q", "--out",
        ])
        .arg(&out_dir)
        .arg("--write-profile")
        .arg(&profile)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let tag = format!("orchsim-{}-", child.id());
    let run = child.wait_with_output().unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let v: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert!(!v["machine"]["kernel"].as_str().unwrap().is_empty());
    assert!(!v["machine"]["cpu_model"].as_str().unwrap().is_empty());
    assert_eq!(v["platform"], "local-vm");
    let rows = v["datapaths"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["host", "calico-bgp", "calico-ipip"],
        "host is measured first"
    );
    let bgp = &rows[1];
    assert!(
        bgp["measured"]["goodput_gbps"].as_f64().unwrap() > 0.1,
        "{bgp}"
    );
    assert!(bgp["measured"]["cpu_s_per_gbit"].as_f64().unwrap() > 0.0);
    assert!(bgp["measured"]["latency_us"]["p99"].as_f64().unwrap() > 0.0);
    assert!(bgp["model"]["goodput_gbps"].as_f64().unwrap() > 0.0);
    assert!(bgp["calibrated"]["goodput_gbps"].as_f64().unwrap() > 0.0);
    assert_eq!(bgp["runs"].as_array().unwrap().len(), 1);
    // This kernel has no ipip device (DESIGN.md §7): said, not faked.
    let ipip = &rows[2];
    assert!(
        ipip["unavailable"].as_str().unwrap().contains("ipip"),
        "{ipip}"
    );
    assert!(ipip["measured"].is_null());

    // The CSV has net compare's columns first, a live and a model row per datapath.
    let csv = std::fs::read_to_string(out_dir.join("live-net.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.starts_with("datapath,source,supported,goodput_gbps,goodput_x_host,p50_us,p99_us,p999_us,latency_x_host,cpu_s_per_gbit,cpu_x_host,mtu"), "{header}");
    for source in ["live", "model", "calibrated"] {
        assert!(csv.contains(&format!("calico-bgp,{source},yes,")), "{csv}");
    }
    for f in [
        "live-net.json",
        "report.html",
        "live-goodput.svg",
        "live-cpu.png",
    ] {
        assert!(out_dir.join(f).exists(), "{f} was not written");
    }

    // The calibrated profile is a netmodel profile: net compare predicts this machine with it.
    let text = std::fs::read_to_string(&profile).unwrap();
    assert!(text.contains("kind = \"measured\""));
    let cmp = orchsim()
        .args([
            "net",
            "compare",
            "--datapaths",
            "host,calico-bgp",
            "--msg-size",
            "131072",
        ])
        .args(["--format", "json", "--profile"])
        .arg(&profile)
        .output()
        .unwrap();
    assert!(
        cmp.status.success(),
        "{}",
        String::from_utf8_lossy(&cmp.stderr)
    );
    let c: Value = serde_json::from_slice(&cmp.stdout).unwrap();
    assert_eq!(c["platform"], "live");
    let predicted = c["datapaths"][1]["goodput_gbps"].as_f64().unwrap();
    let calibrated = bgp["calibrated"]["goodput_gbps"].as_f64().unwrap();
    assert!(
        (predicted - calibrated).abs() < 1e-9,
        "{predicted} vs {calibrated}"
    );

    let left: Vec<String> = namespaces()
        .into_iter()
        .filter(|n| n.starts_with(&tag))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn bad_live_options_are_refused_before_anything_is_built() {
    for (args, says) in [
        (vec!["--duration", "soon"], "--duration"),
        (vec!["--datapaths", "calico-magic"], "unknown datapath"),
        (vec!["--platform", "reference-10g"], "veth"),
        (vec!["--repeat", "0"], "--repeat"),
        (vec!["--underlay-rate", "fast"], "--underlay-rate"),
        (vec!["--underlay-delay", "20s"], "--underlay-delay"),
        (
            vec!["--underlay-rate", "1gbit", "--write-profile", "p.toml"],
            "unshaped",
        ),
    ] {
        let out = orchsim()
            .args(["live", "net"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn ctrl_c_stops_a_measurement_and_removes_what_it_built() {
    let bin = assert_cmd::cargo::cargo_bin("orchsim");
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(bin)
        .args([
            "live",
            "net",
            "--datapaths",
            "flannel-vxlan",
            "--duration",
            "30s",
            "-q",
            "--out",
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let tag = format!("orchsim-{}-", child.id());
    // Wait until its namespaces exist, then interrupt it mid-test.
    let mut seen = false;
    for _ in 0..100 {
        if namespaces().iter().any(|n| n.starts_with(&tag)) {
            seen = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(seen, "the run never built anything");
    std::thread::sleep(Duration::from_millis(1500));
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("interrupted"), "{err}");
    let left: Vec<String> = namespaces()
        .into_iter()
        .filter(|n| n.starts_with(&tag))
        .collect();
    assert!(left.is_empty(), "left behind after Ctrl-C: {left:?}");
}

#[test]
fn live_clean_says_when_there_is_nothing_to_remove() {
    let out = orchsim()
        .args(["live", "clean", "--format", "csv"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("removed"));
}

const SERVICES: &str = r#"
name = "live-services"
description = "4 nodes and 12 web replicas: placements that no timing can change"
seed = 7
duration_s = 120

[[hosts]]
name = "node"
count = 4
cpu_milli = 4000
memory_mib = 8192
pods = 110

[[workloads]]
name = "web"
kind = "service"
arrival_rate_per_s = 0.5
max_pods = 12
cpu_milli = { dist = "choice", values = [250, 500, 1000] }
memory_mib = { dist = "uniform", min = 128, max = 512 }
labels = { app = "web" }

[scheduler]
algorithm = "kubernetes"
"#;

fn csv_table(path: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

fn live_run(dir: &std::path::Path, extra: &[&str]) -> (std::process::Output, String) {
    std::fs::write(dir.join("services.toml"), SERVICES).unwrap();
    let child = Command::new(assert_cmd::cargo::cargo_bin("orchsim"))
        .current_dir(dir)
        .args([
            "live",
            "run",
            "services.toml",
            "--local",
            "--time-scale",
            "0.05",
        ])
        .args(["--out", "live"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let tag = format!("orchsim-{}-", child.id());
    (child.wait_with_output().unwrap(), tag)
}

fn agent_cgroups() -> Vec<String> {
    [
        "/sys/fs/cgroup",
        "/sys/fs/cgroup/cpu",
        "/sys/fs/cgroup/memory",
    ]
    .iter()
    .filter_map(|d| std::fs::read_dir(d).ok())
    .flatten()
    .flatten()
    .map(|e| e.file_name().to_string_lossy().into_owned())
    .filter(|n| n.starts_with("orchsim-agent-"))
    .collect()
}

#[test]
fn live_run_places_pods_on_real_agents_as_the_simulator_does() {
    let dir = tempfile::tempdir().unwrap();
    let (out, tag) = live_run(dir.path(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("12 of 12 pods bound in both runs are on the same node"),
        "{text}"
    );
    // Every agent limits its workloads with the kernel's cgroups (an agent started with
    // `ip netns exec` would see no /sys/fs/cgroup and limit nothing).
    let progress = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        progress.matches("workloads limited by cgroup v").count(),
        4,
        "{progress}"
    );
    // The simulator's tables and live mode's, same columns.
    let live = dir.path().join("live");
    for f in ["pods.csv", "summary.csv"] {
        let (a, _) = csv_table(&live.join("sim").join(f));
        let (b, _) = csv_table(&live.join(f));
        assert_eq!(a, b, "{f}: the same columns");
    }
    let (cols, sim_rows) = csv_table(&live.join("sim/pods.csv"));
    let (_, live_rows) = csv_table(&live.join("pods.csv"));
    let node = cols.iter().position(|c| c == "node").unwrap();
    let state = cols.iter().position(|c| c == "state").unwrap();
    assert_eq!(sim_rows.len(), 12);
    for (s, l) in sim_rows.iter().zip(&live_rows) {
        assert_eq!(s[node], l[node], "pod {}", s[0]);
        assert_eq!(l[state], "running", "a service runs to the end");
    }
    // orchsim compare sets the two summaries side by side (they differ: exit 1, not 2).
    let cmp = crate::orchsim()
        .current_dir(dir.path())
        .args(["compare", "live/sim/summary.csv", "live/summary.csv"])
        .output()
        .unwrap();
    assert_ne!(
        cmp.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&cmp.stderr)
    );
    // Only what differs is listed: the live waits (a real bind takes milliseconds).
    assert!(String::from_utf8_lossy(&cmp.stdout).contains("wait_p50_ms"));
    let left: Vec<String> = namespaces()
        .into_iter()
        .filter(|n| n.starts_with(&tag))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_killed_agents_pods_are_rescheduled_on_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = live_run(dir.path(), &["--fault", "kill-agent:node-1@40"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let live = dir.path().join("live");
    let (cols, sim_rows) = csv_table(&live.join("sim/pods.csv"));
    let (_, live_rows) = csv_table(&live.join("pods.csv"));
    let at = |c: &str| cols.iter().position(|x| x == c).unwrap();
    let (node, submit, evictions) = (at("node"), at("submit_ms"), at("evictions"));
    let mut moved = 0;
    for (s, l) in sim_rows.iter().zip(&live_rows) {
        let before_fault = s[submit].parse::<f64>().unwrap() < 40_000.0;
        if before_fault && s[node] == "node-1" {
            // It was there when the agent died: evicted once, and now elsewhere.
            assert_eq!(l[evictions], "1", "pod {}", s[0]);
            assert_ne!(l[node], "node-1", "pod {}", s[0]);
            assert!(!l[node].is_empty(), "pod {} found room elsewhere", s[0]);
            moved += 1;
        } else {
            assert_eq!(l[evictions], "0", "pod {}", s[0]);
            assert_ne!(l[node], "node-1", "nothing is placed on a failed node");
        }
    }
    assert!(moved >= 1, "the killed node had pods to move");
    let (_, nodes) = csv_table(&live.join("nodes.csv"));
    let failed: f64 = nodes.iter().find(|n| n[0] == "node-1").unwrap()[1]
        .parse()
        .unwrap();
    assert!(
        (40_000.0..80_000.0).contains(&failed),
        "node-1 found failed at {failed} ms"
    );
    // The killed agent's workloads and cgroups are gone too.
    let mine: Vec<String> = agent_cgroups();
    assert!(
        mine.iter().all(|c| {
            let pid = c
                .trim_start_matches("orchsim-agent-")
                .split('-')
                .next()
                .unwrap();
            std::path::Path::new(&format!("/proc/{pid}")).exists()
        }),
        "cgroups of dead agents left: {mine:?}"
    );
}

#[test]
fn a_fault_on_a_node_the_scenario_lacks_is_refused_before_anything_runs() {
    let out = crate::orchsim()
        .args([
            "live",
            "run",
            "live-run",
            "--local",
            "--fault",
            "kill-agent:nowhere@1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has no node `nowhere`") && err.contains("node-0"),
        "{err}"
    );
    assert!(
        !err.contains("starting"),
        "refused before agents start: {err}"
    );
}
