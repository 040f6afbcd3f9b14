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
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("namespace"));
}
