//! `orchsim explain` on Kubernetes-shaped inputs shipped in tests/k8s/. Expected scores are
//! worked by hand from the upstream formulas (see the comments), not copied from output.

use std::path::PathBuf;

use crate::orchsim;

fn k8s(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/k8s")
        .join(file)
}

fn explain(extra: &[&str]) -> std::process::Output {
    orchsim()
        .arg("explain")
        .arg("--nodes")
        .arg(k8s("cluster.yaml"))
        .arg("--pods")
        .arg(k8s("cluster.yaml"))
        .args(extra)
        .output()
        .unwrap()
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

/// The kubectl-shaped cluster: cp-1 (tainted control plane), worker-1 (3800m / 15Gi, runs one
/// web pod of 1750m / 2176Mi, disktype=ssd), worker-2 (8 cores / 31Gi, PreferNoSchedule taint).
/// The pending web pod (1750m / 2176Mi, prefers ssd):
/// - LeastAllocated on worker-1: cpu (3800−3500)·100/3800 = 7, memory (15360−4352)·100/15360
///   = 71 → (7+71)/2 = 39;
/// - BalancedAllocation on worker-1: |0.921 − 0.283|/2 = 0.319 → 68;
/// - TaintToleration: worker-2 has 1 intolerable PreferNoSchedule taint → 0, worker-1 → 100;
/// - NodeAffinity: only worker-1 matches the weight-10 preference → 100;
/// - PodTopologySpread (system defaults, hostname skew 3 + zone skew 5, ln(4) weights):
///   worker-1 raw round(1.386+2 + 1.386+4) = 9, worker-2 raw 6 → 100·(9+6−9)/9 = 66 and 100.
#[test]
fn explains_the_kubernetes_choice_with_upstream_scores() {
    let v = json(&explain(&[
        "--pod",
        k8s("pending-pod.yaml").to_str().unwrap(),
        "--format",
        "json",
    ]));
    assert_eq!(v["pod"], "shop/web-7d4b9c-fghij");
    assert_eq!(v["scheduler"], "kubernetes");
    assert_eq!(v["chosen"], "worker-1");
    let nodes = v["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    assert_eq!(nodes[0]["name"], "cp-1");
    assert_eq!(nodes[0]["feasible"], false);
    assert_eq!(
        nodes[0]["reasons"][0],
        "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"
    );
    assert!(
        nodes[0].get("scores").is_none(),
        "scores only for feasible nodes"
    );
    let w1 = &nodes[1]["scores"];
    assert_eq!(w1["NodeResourcesFit"]["raw"], 39);
    assert_eq!(w1["NodeResourcesBalancedAllocation"]["normalized"], 68);
    assert_eq!(w1["TaintToleration"]["weighted"], 300);
    assert_eq!(w1["NodeAffinity"]["raw"], 10);
    assert_eq!(w1["NodeAffinity"]["normalized"], 100);
    assert_eq!(w1["PodTopologySpread"]["raw"], 9);
    assert_eq!(w1["PodTopologySpread"]["normalized"], 66);
    assert_eq!(nodes[1]["total"], 300 + 200 + 39 + 132 + 68);
    assert_eq!(nodes[2]["scores"]["TaintToleration"]["normalized"], 0);
    assert_eq!(nodes[2]["scores"]["PodTopologySpread"]["normalized"], 100);
    assert_eq!(nodes[2]["reasons"].as_array().unwrap().len(), 0);
}

/// A KubeSchedulerConfiguration switching NodeResourcesFit to MostAllocated with weight 5 and
/// disabling BalancedAllocation: worker-1 → (92 + 28)/2 = 60 × 5 = 300. Unmodeled fields are
/// reported on stderr.
#[test]
fn profiles_change_weights_strategies_and_plugins() {
    let out = explain(&[
        "--pod",
        k8s("pending-pod.yaml").to_str().unwrap(),
        "--profile",
        k8s("most-allocated.yaml").to_str().unwrap(),
        "--format",
        "json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let v = json(&out);
    let w1 = &v["nodes"][1]["scores"];
    assert_eq!(w1["NodeResourcesFit"]["raw"], 60);
    assert_eq!(w1["NodeResourcesFit"]["weighted"], 300);
    assert!(w1.get("NodeResourcesBalancedAllocation").is_none());
    assert!(
        stderr.contains("`clientConnection` is not modeled"),
        "{stderr}"
    );
    assert_eq!(
        v["profile_notes"][0],
        "`clientConnection` is not modeled by orchsim and was ignored"
    );
}

#[test]
fn table_output_lists_every_node() {
    let out = explain(&["--pod", k8s("pending-pod.yaml").to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "cp-1",
        "worker-1",
        "worker-2",
        "NodeResourcesFit",
        "chosen: worker-1",
    ] {
        assert!(text.contains(want), "missing {want}:\n{text}");
    }
}

#[test]
fn other_schedulers_explain_feasibility() {
    for s in ["swarm", "first-fit", "best-fit", "worst-fit", "dot-product"] {
        let v = json(&explain(&[
            "--pod",
            k8s("pending-pod.yaml").to_str().unwrap(),
            "--scheduler",
            s,
            "--format",
            "json",
        ]));
        assert_eq!(v["scheduler"], s);
        assert!(v["chosen"].is_string(), "{s}: {v}");
    }
}

#[test]
fn bad_inputs_name_the_object_and_field() {
    let run = |pod: &str| explain(&["--pod", k8s(pod).to_str().unwrap()]);
    let out = run("bad-unit-pod.yaml");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Pod shop/web-7d4b9c-fghij"), "{err}");
    assert!(
        err.contains("`spec.containers[0].resources.requests.cpu`"),
        "{err}"
    );
    assert!(err.contains("invalid quantity `1.5x`"), "{err}");
    assert!(!err.contains("panicked"));

    let out = run("malformed.yaml");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("malformed.yaml: 6:1: document 1: invalid YAML"),
        "{err}"
    );

    // A multi-document stream with two pods: not one pod to place.
    let out = run("two-pods.yaml");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("expected exactly one Pod to place, found 2")
    );
}

#[test]
fn unknown_scheduler_lists_the_valid_ones() {
    let out = explain(&[
        "--pod",
        k8s("pending-pod.yaml").to_str().unwrap(),
        "--scheduler",
        "mesos",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "valid algorithms: first-fit, best-fit, worst-fit, dot-product, kubernetes, swarm"
        ),
        "{err}"
    );
}

/// `--nodes` takes a scenario by its embedded name, and `--at` places the pod on the cluster
/// as the scenario's run leaves it then: an 8-GPU pod fits a V100 node of the empty
/// gpu-sharing cluster (taking all eight devices) but no node two simulated hours in, when
/// shared and training pods hold devices everywhere.
#[test]
fn explain_at_a_time_of_a_scenario_run() {
    let run = |extra: &[&str]| {
        orchsim()
            .args(["explain", "--nodes", "gpu-sharing", "--pod"])
            .arg(k8s("gpu-8-pod.yaml"))
            .args(extra)
            .output()
            .unwrap()
    };
    let empty = json(&run(&["--format", "json"]));
    assert_eq!(empty["decision"], "bind");
    assert!(
        empty["chosen"].as_str().unwrap().starts_with("v100-"),
        "{empty}"
    );
    let later = json(&run(&["--at", "7200", "--format", "json"]));
    assert_eq!(later["decision"], "unschedulable", "{later}");
    let why = later["message"].as_str().unwrap();
    assert!(
        why.starts_with("unschedulable: 0/20 nodes are available: 20 Insufficient nvidia.com/gpu"),
        "{why}"
    );
    // --at needs a scenario to simulate.
    let out = orchsim()
        .args(["explain", "--at", "10", "--nodes"])
        .arg(k8s("cluster.yaml"))
        .arg("--pod")
        .arg(k8s("pending-pod.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--at needs a scenario"));
}

/// Two objects of one name are two dumps mixed, not a cluster: refused, naming the object.
#[test]
fn a_node_listed_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = std::fs::read_to_string(k8s("cluster.yaml")).unwrap();
    let first_node = cluster
        .split("\n- apiVersion")
        .nth(1)
        .expect("cluster.yaml lists items");
    let file = dir.path().join("twice.yaml");
    std::fs::write(&file, format!("{cluster}\n- apiVersion{first_node}")).unwrap();
    let o = orchsim()
        .args(["explain", "--nodes"])
        .arg(&file)
        .arg("--pod")
        .arg(k8s("pending-pod.yaml"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("expected each Node once, `cp-1` appears twice"),
        "{err}"
    );
}
