//! `orchsim fit`: an application's manifests on a cluster (kubectl YAML or a scenario) —
//! replicas placed, the scheduler's own reason for the rest, the nodes to add, and exit
//! status 1 as a CI gate.

use crate::{orchsim, stdout_of};

fn json(args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let out = orchsim()
        .arg("fit")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    (out.status.code(), v, stderr)
}

#[test]
fn a_snapshot_that_cannot_hold_the_database_says_why_and_what_to_add() {
    let (code, f, stderr) = json(&[
        "--nodes",
        "tests/k8s/cluster.yaml",
        "--manifests",
        "examples/app/shop.yaml",
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("not workloads, skipped: 1 Service"),
        "{stderr}"
    );
    let rows: Vec<(String, u64, u64)> = f["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["workload"].as_str().unwrap().to_string(),
                w["requested"].as_u64().unwrap(),
                w["placed"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("Deployment shop/storefront".into(), 4, 4),
            ("StatefulSet shop/orders-db".into(), 2, 1),
            // The control-plane node's taint keeps the agent off it: two nodes want it.
            ("DaemonSet monitoring/node-exporter".into(), 2, 2),
            ("CronJob shop/nightly-report".into(), 1, 1),
        ]
    );
    // kube-scheduler's FitError, one count per reason.
    assert_eq!(
        f["workloads"][1]["stopped_by"],
        "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match pod anti-affinity rules, 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }."
    );
    assert_eq!(f["unplaced_pods"], 1);
    // One more worker of either shape holds the second replica (a node of its own
    // hostname, so the anti-affinity lets it); another control-plane node cannot.
    let scale: Vec<(String, Option<u64>)> = f["scale_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["node_type"].as_str().unwrap().to_string(),
                s["nodes"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        scale,
        vec![
            ("3800m-15360Mi".into(), Some(1)),
            ("8000m-31744Mi".into(), Some(1)),
            ("4000m-7776Mi".into(), None),
        ]
    );
}

#[test]
fn a_scenario_cluster_fits_and_prices_the_cheapest_scale_out() {
    let (code, f, stderr) = json(&[
        "--nodes",
        "quickstart",
        "--manifests",
        "examples/app/shop.yaml",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(f["fits"], true);
    assert!(f["scale_out"].as_array().unwrap().is_empty());

    // Seventy web replicas on spot-provisioning's two base hosts: the cheapest way out is
    // priced from the scenario's host groups.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string("examples/app/shop.yaml")
        .unwrap()
        .replace("replicas: 4", "replicas: 70");
    let big = dir.path().join("big.yaml");
    std::fs::write(&big, text).unwrap();
    let (code, f, stderr) = json(&[
        "--nodes",
        "spot-provisioning",
        "--manifests",
        big.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    let first = &f["scale_out"][0];
    assert_eq!(first["node_type"], "m5-xl-spot", "{f}");
    let costs: Vec<f64> = f["scale_out"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["cost_per_hour"].as_f64())
        .collect();
    assert!(
        costs.windows(2).all(|w| w[0] <= w[1]),
        "cheapest first: {costs:?}"
    );
    // Two 16-core hosts: the exporter takes 0.2 cores, 62 web replicas 31 more; the 0.8 left
    // holds neither the database (2 cores each) nor the report (1): 8 + 2 + 1 pods wait.
    let placed: Vec<u64> = f["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["placed"].as_u64().unwrap())
        .collect();
    assert_eq!(placed, vec![62, 0, 2, 0]);
    assert_eq!(f["unplaced_pods"].as_u64(), Some(11));
}

#[test]
fn fit_refuses_what_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let services = dir.path().join("svc.yaml");
    std::fs::write(&services, "kind: Service\nmetadata: {name: web}\n").unwrap();
    let out = orchsim()
        .args(["fit", "--nodes", "tests/k8s/cluster.yaml", "--manifests"])
        .arg(&services)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no workloads found"), "{err}");
    // Another scheduler, CSV: the same table.
    let out = orchsim()
        .args([
            "fit",
            "--nodes",
            "tests/k8s/cluster.yaml",
            "--manifests",
            "examples/app/shop.yaml",
            "--scheduler",
            "first-fit",
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.starts_with("workload,requested,placed,more,stopped_by\n"),
        "{printed}"
    );
    let none = stdout_of(orchsim().args([
        "fit",
        "--nodes",
        "tests/k8s/cluster.yaml",
        "--manifests",
        "tests/k8s/pending-pod.yaml",
    ]));
    assert!(none.contains("fits: every pod has a node"), "{none}");
}

/// The same application as a Docker stack, as `docker service create` lines and as a
/// Marathon group, each fitted with its own orchestrator's scheduler on a scenario's hosts.
#[test]
fn swarm_and_marathon_definitions_fit_with_their_schedulers() {
    let rows = |f: &serde_json::Value| -> Vec<(String, u64, u64)> {
        f["workloads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                (
                    w["workload"].as_str().unwrap().to_string(),
                    w["requested"].as_u64().unwrap(),
                    w["placed"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let nodes = "examples/app/swarm-cluster.toml";
    let (code, f, stderr) = json(&[
        "--nodes",
        nodes,
        "--manifests",
        "examples/app/stack.yml",
        "--scheduler",
        "swarm",
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        rows(&f),
        vec![
            ("Swarm service storefront".into(), 4, 4),
            // One SSD node, at most one replica per node.
            ("Swarm service orders-db".into(), 2, 1),
            // A task on each of the four nodes.
            ("Swarm global service node-exporter".into(), 4, 4),
        ]
    );
    // Only another SSD node helps.
    assert_eq!(f["scale_out"][0]["node_type"], "ssd");
    assert_eq!(f["scale_out"][0]["nodes"], 1);
    assert_eq!(f["scale_out"][1]["nodes"], serde_json::Value::Null);

    // The seed document's line: no manager with the engine label, so nothing is placed.
    let (code, f, stderr) = json(&[
        "--nodes",
        nodes,
        "--manifests",
        "examples/app/hello.sh",
        "--scheduler",
        "swarm",
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(rows(&f), vec![("Swarm service helloworld".into(), 5, 0)]);
    assert_eq!(
        f["workloads"][0]["stopped_by"],
        "no suitable node (scheduling constraints not satisfied on 4 nodes)"
    );

    let (code, f, stderr) = json(&[
        "--nodes",
        nodes,
        "--manifests",
        "examples/app/shop-marathon.json",
        "--scheduler",
        "marathon",
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        rows(&f),
        vec![
            ("Marathon app /shop/storefront".into(), 4, 4),
            ("Marathon app /shop/data/orders-db".into(), 2, 1),
        ]
    );
    assert!(
        f["workloads"][1]["stopped_by"]
            .as_str()
            .unwrap()
            .contains("3 node(s) didn't match the app's Marathon constraints"),
        "{}",
        f["workloads"][1]["stopped_by"]
    );
}
