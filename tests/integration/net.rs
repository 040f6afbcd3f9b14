//! `orchsim net`: the documented JSON contract of `net compare`, `net explain`, `net profile`,
//! and the errors a user gets for bad input.

use serde_json::Value;

use crate::orchsim;

fn json(args: &[&str]) -> Value {
    let out = orchsim().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn error(args: &[&str]) -> String {
    let out = orchsim().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The shape the README documents (and the issue that asked for it).
#[test]
fn compare_json_has_the_documented_shape() {
    let v = json(&[
        "net",
        "compare",
        "--format",
        "json",
        "--link",
        "10g",
        "--msg-size",
        "1448",
    ]);
    assert_eq!(v["link_gbps"], 10.0);
    assert_eq!(v["msg_size"], 1448);
    assert_eq!(v["flows"], 1);
    assert_eq!(v["profile"], "default");
    let rows = v["datapaths"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 17);
    assert_eq!(&names[..3], ["host", "bridge", "overlay"]);
    assert!(names.contains(&"calico-vxlan+wireguard"));
    for r in rows {
        assert_eq!(r["supported"], true);
        for key in ["goodput_gbps", "cpu_s_per_gbit", "goodput_ratio_to_host"] {
            assert!(r[key].as_f64().unwrap() > 0.0, "{key} in {r}");
        }
        for p in ["p50", "p99", "p999"] {
            assert!(r["latency_us"][p].as_f64().unwrap() > 0.0);
        }
        assert!(r["mtu"].as_u64().unwrap() >= 1420);
    }
    let host = &rows[0];
    assert_eq!(host["goodput_ratio_to_host"], 1.0);
    assert_eq!(host["mtu"], 1500);
    // On a 10 GbE link the unencrypted kernel datapaths fill the wire; encryption does not.
    let by = |n: &str| rows.iter().find(|r| r["name"] == n).unwrap();
    assert!(by("calico-bgp")["goodput_ratio_to_host"].as_f64().unwrap() > 0.99);
    assert!(
        by("calico-bgp+wireguard")["goodput_ratio_to_host"]
            .as_f64()
            .unwrap()
            < 0.5
    );
    assert_eq!(by("flannel-vxlan")["mtu"], 1450);
}

#[test]
fn unsupported_requirements_are_explicit() {
    let v = json(&[
        "net",
        "compare",
        "--format",
        "json",
        "--datapaths",
        "calico-ipip,calico-vxlan,flannel-vxlan",
        "--require",
        "icmpv6,isolation",
    ]);
    let rows = v["datapaths"].as_array().unwrap();
    assert_eq!(
        v["requirements"],
        serde_json::json!(["icmpv6", "isolation"])
    );
    let ipip = &rows[0];
    assert_eq!(ipip["supported"], false);
    assert!(ipip["goodput_gbps"].is_null());
    assert!(ipip["unsupported"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("only IPv4"));
    assert_eq!(rows[1]["supported"], true);
    let flannel = &rows[2];
    assert_eq!(flannel["supported"], false);
    assert_eq!(flannel["unsupported"][0]["requirement"], "isolation");
}

#[test]
fn cross_subnet_rules_out_layer2_datapaths() {
    let v = json(&[
        "net",
        "compare",
        "--format",
        "json",
        "--datapaths",
        "flannel-host-gw,calico-bgp,calico-ipip,flannel-vxlan",
        "--require",
        "cross-subnet",
    ]);
    let supported: Vec<bool> = v["datapaths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["supported"].as_bool().unwrap())
        .collect();
    assert_eq!(supported, [false, false, true, true]);
    let stage_cpu = v["datapaths"][2]["stage_cpu"].as_array().unwrap();
    assert!(stage_cpu.len() > 5);
    let total: f64 = stage_cpu
        .iter()
        .map(|s| s["cpu_s_per_gbit"].as_f64().unwrap())
        .sum();
    let cpu = v["datapaths"][2]["cpu_s_per_gbit"].as_f64().unwrap();
    assert!(
        (total - cpu).abs() < 1e-9 * cpu.max(1.0),
        "{total} vs {cpu}"
    );
}

#[test]
fn compare_is_deterministic_and_prints_a_table() {
    let args = ["net", "compare", "--flows", "2", "--link", "40g"];
    let a = orchsim().args(args).args(["--jobs", "1"]).output().unwrap();
    let b = orchsim().args(args).args(["--jobs", "2"]).output().unwrap();
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout, "thread count must not change results");
    let text = String::from_utf8(a.stdout).unwrap();
    assert!(text.contains("calico-bgp"), "{text}");
    assert!(text.contains("digest "), "{text}");
    let csv = orchsim()
        .args(["net", "compare", "--format", "csv", "--datapaths", "host"])
        .output()
        .unwrap();
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert!(csv.starts_with("datapath,supported,goodput_gbps"), "{csv}");
}

#[test]
fn explain_shows_the_pipeline_and_shares() {
    let v = json(&[
        "net",
        "explain",
        "--datapath",
        "flannel-vxlan",
        "--format",
        "json",
    ]);
    let stages = v["stages"].as_array().unwrap();
    let total: f64 = stages.iter().map(|s| s["share"].as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-9, "shares sum to {total}");
    let names: Vec<&str> = stages
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert!(names.iter().any(|n| n.contains("encap")), "{names:?}");
    assert!(names.iter().any(|n| n.contains("decap")), "{names:?}");
    assert_eq!(v["mtu"], 1450);
    assert_eq!(v["overhead_bytes"], 50);
    let text = orchsim()
        .args(["net", "explain", "--datapath", "calico-bgp+wireguard"])
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("wireguard"), "{text}");
    assert!(
        text.contains("isolation: Kubernetes NetworkPolicy"),
        "{text}"
    );
}

#[test]
fn profile_lists_every_constant_with_its_source() {
    let v = json(&["net", "profile", "--format", "json"]);
    let constants = v["constants"].as_array().unwrap();
    assert!(constants.len() > 40);
    for c in constants {
        assert!(!c["source"].as_str().unwrap().is_empty(), "{c}");
        assert!(!c["unit"].as_str().unwrap().is_empty(), "{c}");
    }
    assert_eq!(v["default_platform"], "reference-10g");
}

#[test]
fn a_profile_file_is_loaded_and_its_errors_located() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("fast.toml");
    // A CPU twice as fast as the reference: encrypted goodput must rise.
    // The compiled-in profile, read as a user would copy it.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/netmodel/profiles/default.toml"
    ))
    .unwrap()
    .replace("name = \"default\"", "name = \"fast\"")
    .replacen("cpu_factor = 1.0", "cpu_factor = 0.5", 1);
    std::fs::write(&good, &text).unwrap();
    let base = json(&[
        "net",
        "compare",
        "--format",
        "json",
        "--datapaths",
        "calico-bgp+wireguard",
    ]);
    let fast = json(&[
        "net",
        "compare",
        "--format",
        "json",
        "--datapaths",
        "calico-bgp+wireguard",
        "--profile",
        good.to_str().unwrap(),
    ]);
    assert_eq!(fast["profile"], "fast");
    let g = |v: &Value| v["datapaths"][0]["goodput_gbps"].as_f64().unwrap();
    assert!(g(&fast) > 1.5 * g(&base), "{} vs {}", g(&fast), g(&base));

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        text.replacen("unit = \"ns/byte\"", "unit = \"bytes\"", 1),
    )
    .unwrap();
    let e = error(&["net", "compare", "--profile", bad.to_str().unwrap()]);
    assert!(e.contains("bad.toml:"), "{e}");
    assert!(
        e.contains("params.b_tx_copy.unit: expected unit \"ns/byte\""),
        "{e}"
    );
}

#[test]
fn bad_input_is_explained() {
    let e = error(&["net", "compare", "--datapaths", "weave"]);
    assert!(e.contains("unknown datapath `weave`"), "{e}");
    let e = error(&["net", "compare", "--link", "fast"]);
    assert!(e.contains("--link: expected a rate such as 10g"), "{e}");
    let e = error(&["net", "compare", "--platform", "mainframe"]);
    assert!(e.contains("platforms: cilium-bench"), "{e}");
    let e = error(&["net", "compare", "--require", "smtp"]);
    assert!(e.contains("--require: unknown requirement `smtp`"), "{e}");
    let e = error(&["net", "compare", "--flows", "0"]);
    assert!(e.contains("--flows"), "{e}");
    let e = error(&["net", "explain", "--datapath", "flannel-udp+wireguard"]);
    assert!(e.contains("does not exist upstream"), "{e}");
    let e = error(&["net", "compare", "--platform", "local-vm", "--link", "10g"]);
    assert!(e.contains("no physical link"), "{e}");
    let e = error(&["net", "compare", "--profile", "/nonexistent/p.toml"]);
    assert!(e.contains("cannot read the profile"), "{e}");
}

/// `net policy --format json` on the example's pods with `args` added.
fn policy_json(args: &[&str]) -> Value {
    let mut all = vec![
        "net",
        "policy",
        "--pods",
        "examples/policy/pods.yaml",
        "--format",
        "json",
    ];
    all.extend_from_slice(args);
    json(&all)
}

/// `net policy` on the NetworkPolicy documentation's example (examples/policy, addresses moved
/// into 198.18.0.0/15). The expected answers are worked out from the documentation's
/// semantics, pair by pair, not read off our output.
#[test]
fn policy_reachability_follows_the_documentations_example() {
    let v = policy_json(&["--policies", "examples/policy/policies"]);
    assert_eq!(v["enforced"], true);
    let labels: Vec<&str> = v["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["tcp/5978", "tcp/6379", "tcp/other"]);
    let allowed = |src: &str, dst: &str| -> Vec<String> {
        let pair = v["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["source"] == src && p["destination"] == dst)
            .unwrap_or_else(|| panic!("{src} → {dst} missing"));
        pair["allowed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    };
    let all = ["tcp/5978", "tcp/6379", "tcp/other"]
        .map(String::from)
        .to_vec();
    // Into db: Redis only, from the ipBlock (batch), from namespaces labelled
    // project=myproject (analytics) and from frontend pods of its namespace — frontend's
    // address is in the block's `except`, but the podSelector peer admits it (peers are ORed).
    for src in ["default/batch", "myproject/analytics", "default/frontend"] {
        assert_eq!(allowed(src, "default/db"), ["tcp/6379"], "{src}");
    }
    assert!(allowed("shop/cart", "default/db").is_empty());
    // Out of db: 198.19.0.0/24 on 5978 only (analytics is 198.19.0.40).
    assert_eq!(allowed("default/db", "myproject/analytics"), ["tcp/5978"]);
    assert!(allowed("default/db", "default/frontend").is_empty());
    // shop denies all ingress; nothing isolates the others.
    for src in ["default/db", "default/frontend", "myproject/analytics"] {
        assert!(allowed(src, "shop/cart").is_empty(), "{src}");
    }
    assert_eq!(allowed("shop/cart", "default/frontend"), all);
    // db may open connections to analytics only, so no pod is reachable from every other
    // pod; three are isolated by no ingress policy at all.
    assert_eq!(v["reachable_from_everywhere"], serde_json::json!([]));
    assert_eq!(
        v["ingress_not_isolated"],
        serde_json::json!(["default/frontend", "default/batch", "myproject/analytics"])
    );
    // Without the db policy, everyone outside `shop` is reachable from every pod.
    let d = policy_json(&[
        "--policies",
        "examples/policy/policies/default-deny-ingress.yaml",
    ]);
    let open: Vec<&str> = d["reachable_from_everywhere"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pod"].as_str().unwrap())
        .collect();
    assert_eq!(
        open,
        [
            "default/db",
            "default/frontend",
            "default/batch",
            "myproject/analytics"
        ]
    );
    let selects: Vec<(String, u64)> = v["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["policy"].as_str().unwrap().to_string(),
                p["selects"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        selects,
        [
            ("shop/default-deny-ingress".to_string(), 1),
            ("default/test-network-policy".to_string(), 1)
        ]
    );

    // On flannel the same policies decide nothing: said, and every pair is reachable.
    let f = policy_json(&[
        "--policies",
        "examples/policy/policies",
        "--datapath",
        "flannel-vxlan",
    ]);
    assert_eq!(f["enforced"], false);
    assert!(f["warnings"][0]
        .as_str()
        .unwrap()
        .contains("does not enforce"));
    for p in f["pairs"].as_array().unwrap() {
        assert_eq!(p["effective"].as_array().unwrap().len(), 3, "{p}");
    }
    let text = crate::orchsim()
        .args([
            "net",
            "policy",
            "--policies",
            "examples/policy/policies",
            "--pods",
            "examples/policy/pods.yaml",
            "--datapath",
            "flannel-vxlan",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("NOT enforced"), "{text}");
}

#[test]
fn policy_input_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "kind: NetworkPolicy\nmetadata: {name: a, namespace: d}\nspec:\n  podSelectr: {}\n",
    )
    .unwrap();
    let e = error(&[
        "net",
        "policy",
        "--policies",
        bad.to_str().unwrap(),
        "--pods",
        "examples/policy/pods.yaml",
    ]);
    assert!(e.contains("bad.yaml") && e.contains("podSelectr"), "{e}");
    let pods = dir.path().join("pods.yaml");
    std::fs::write(&pods, "kind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c}]}\nstatus: {podIP: nowhere}\n").unwrap();
    let e = error(&[
        "net",
        "policy",
        "--policies",
        "examples/policy/policies",
        "--pods",
        pods.to_str().unwrap(),
    ]);
    assert!(e.contains("pods.yaml") && e.contains("status.podIP"), "{e}");
    let e = error(&[
        "net",
        "policy",
        "--policies",
        "examples/policy/policies",
        "--pods",
        "examples/policy/pods.yaml",
        "--port",
        "http",
    ]);
    assert!(e.contains("--port"), "{e}");
    let e = error(&[
        "net",
        "policy",
        "--policies",
        "examples/policy/policies",
        "--policies",
        "examples/policy/policies/default-deny-ingress.yaml",
        "--pods",
        "examples/policy/pods.yaml",
    ]);
    assert!(
        e.contains("shop/default-deny-ingress is defined twice"),
        "{e}"
    );
}

/// CUBIC (`--cc cubic`) against the Reno the profile was calibrated with: one flow in a
/// datacenter is bound by CPU or the link, not by its window's growth, so every published
/// row's datapath comes out the same under both (within 3 %); an unknown name is refused.
#[test]
fn cubic_keeps_the_calibrated_datacenter_rows() {
    for platform in ["cilium-bench", "infrabuilder"] {
        let run = |cc: &str| {
            json(&[
                "net",
                "compare",
                "--format",
                "json",
                "--platform",
                platform,
                "--cc",
                cc,
                "--datapaths",
                "host,calico-bgp,calico-vxlan,flannel-vxlan,calico-bgp+wireguard",
            ])
        };
        let (reno, cubic) = (run("reno"), run("cubic"));
        for (r, c) in reno["datapaths"]
            .as_array()
            .unwrap()
            .iter()
            .zip(cubic["datapaths"].as_array().unwrap())
        {
            let (a, b) = (
                r["goodput_gbps"].as_f64().unwrap(),
                c["goodput_gbps"].as_f64().unwrap(),
            );
            assert!(
                (a / b - 1.0).abs() < 0.03,
                "{platform} {}: reno {a} Gb/s, cubic {b} Gb/s",
                r["name"]
            );
        }
    }
    assert!(error(&["net", "compare", "--cc", "bbr"]).contains("expected cubic or reno"));
}
