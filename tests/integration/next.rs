//! A real cluster as a run's starting point (`[trace] format = "kubernetes"`): a kubectl
//! snapshot with manifests applied at the start agrees with `orchsim fit` on the same
//! inputs, and a watch log replays on it.

use std::collections::BTreeMap;
use std::path::Path;

use crate::{orchsim, rows, stdout_of};

/// `examples/next` copied to `dir` with the manifests joined in one file, and a scenario
/// running it for `duration_s` with `extra` appended to its `[trace]`.
fn scenario(dir: &Path, manifests: &[&str], extra: &str, duration_s: u32) -> std::path::PathBuf {
    std::fs::copy("examples/next/cluster.yaml", dir.join("cluster.yaml")).unwrap();
    std::fs::copy("examples/next/events.jsonl", dir.join("events.jsonl")).unwrap();
    let joined: Vec<String> = manifests
        .iter()
        .map(|m| std::fs::read_to_string(format!("examples/next/{m}")).unwrap())
        .collect();
    std::fs::write(dir.join("manifests.yaml"), joined.join("\n---\n")).unwrap();
    let file = dir.join("s.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"next\"\nduration_s = {duration_s}\nseed = 3\n[scheduler]\nalgorithm = \"kubernetes\"\n[trace]\nformat = \"kubernetes\"\nnodes = \"cluster.yaml\"\npods = \"manifests.yaml\"\n{extra}"
        ),
    )
    .unwrap();
    file
}

/// `orchsim fit`'s answer: per workload (`Kind ns/name`), placed and stopped_by.
fn fit(manifests: &[&str]) -> Vec<(String, u64, Option<String>)> {
    let mut cmd = orchsim();
    cmd.args([
        "fit",
        "--nodes",
        "examples/next/cluster.yaml",
        "--seed",
        "3",
    ]);
    for m in manifests {
        cmd.args(["--manifests", &format!("examples/next/{m}")]);
    }
    let out = cmd.args(["--format", "json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    v["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["workload"].as_str().unwrap().to_string(),
                w["placed"].as_u64().unwrap(),
                w["stopped_by"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// Whether a `pods.csv` row is one of workload `Kind ns/name`'s pods (a bare Pod is its own).
fn belongs(row: &BTreeMap<String, String>, workload: &str) -> bool {
    let (kind, key) = workload.split_once(' ').unwrap();
    let name = key.split_once('/').unwrap().1;
    if kind == "Pod" {
        row["pod"] == name
    } else {
        row["workload"] == name
    }
}

#[test]
fn fit_and_run_place_the_same_replicas_and_give_the_same_reasons() {
    let manifests = ["app.yaml", "more.yaml"];
    let answers = fit(&manifests);
    // Something must not fit, or the test would not compare reasons.
    assert!(
        answers.iter().any(|a| a.2.is_some()),
        "every pod fits: {answers:?}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let file = scenario(tmp.path(), &manifests, "", 60);
    let out = tmp.path().join("out");
    stdout_of(orchsim().arg("run").arg(&file).arg("--out").arg(&out));
    let pods = rows(&out.join("pods.csv"));
    for (workload, placed, stopped_by) in &answers {
        let mine: Vec<_> = pods.iter().filter(|r| belongs(r, workload)).collect();
        let bound = mine.iter().filter(|r| !r["node"].is_empty()).count() as u64;
        assert_eq!(
            bound, *placed,
            "{workload}: run bound {bound}, fit placed {placed}"
        );
        // The first pod without a node waits for the reason fit gives.
        let waiting = mine.iter().find(|r| r["node"].is_empty());
        assert_eq!(
            waiting.map(|r| r["last_failure"].clone()),
            stopped_by.clone(),
            "{workload}"
        );
    }
    // The snapshot's own pod ran where it was, from the start, with no decision.
    let db = pods.iter().find(|r| r["pod"] == "db-0").unwrap();
    assert_eq!(
        (
            db["node"].as_str(),
            db["start_ms"].as_str(),
            db["attempts"].as_str()
        ),
        ("node-a", "0.000000", "0")
    );
}

#[test]
fn the_watch_log_replays_creations_and_deletions_on_the_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let file = scenario(
        tmp.path(),
        &["app.yaml"],
        "events = \"events.jsonl\"\n",
        900,
    );
    let run = |out: &str| {
        let dir = tmp.path().join(out);
        stdout_of(orchsim().arg("run").arg(&file).arg("--out").arg(&dir));
        (
            rows(&dir.join("pods.csv")),
            std::fs::read_to_string(dir.join("digest.txt")).unwrap(),
        )
    };
    let (pods, digest) = run("a");
    let pod = |name: &str| pods.iter().find(|r| r["pod"] == name).unwrap().clone();
    // events.jsonl: `late` created at 10:00:00 (time 0) with a 30 s runtime annotation,
    // deleted at 10:01:30 after it finished; `later` created 45.5 s in; db-0 (running in the
    // snapshot) deleted at 10:02:00.
    let late = pod("late");
    assert_eq!(
        (late["state"].as_str(), late["finish_ms"].as_str()),
        ("finished", "30000.000000")
    );
    let later = pod("later");
    assert_eq!(later["submit_ms"], "45500.000000");
    assert_eq!(later["state"], "running");
    let db = pod("db-0");
    assert_eq!(
        (db["state"].as_str(), db["finish_ms"].as_str()),
        ("deleted", "120000.000000")
    );
    // The Job's pod ran its annotated 600 s.
    assert_eq!(pod("batch-0")["finish_ms"], "600000.000000");
    // Every pod of the cluster and the log, once each.
    assert_eq!(pods.len(), 10);
    // Deterministic: the same digest again.
    assert_eq!(run("b").1, digest);
}

/// A cordon stops new pods, not those running: the snapshot's database stays on its
/// cordoned node, bound at 0, and nothing new lands there.
#[test]
fn running_pods_stay_on_a_cordoned_node() {
    let tmp = tempfile::tempdir().unwrap();
    let file = scenario(tmp.path(), &["app.yaml"], "", 60);
    let snapshot = std::fs::read_to_string(tmp.path().join("cluster.yaml")).unwrap();
    let cordoned = snapshot.replacen(
        "  status:\n    allocatable: {cpu: \"4\"",
        "  spec: {unschedulable: true}\n  status:\n    allocatable: {cpu: \"4\"",
        1,
    );
    assert_ne!(cordoned, snapshot, "node-a is cordoned");
    std::fs::write(tmp.path().join("cluster.yaml"), cordoned).unwrap();
    let out = tmp.path().join("out");
    stdout_of(orchsim().arg("run").arg(&file).arg("--out").arg(&out));
    let pods = rows(&out.join("pods.csv"));
    let db = pods.iter().find(|r| r["pod"] == "db-0").unwrap();
    assert_eq!(
        (db["node"].as_str(), db["bind_ms"].as_str()),
        ("node-a", "0.000000")
    );
    let others: Vec<&str> = pods
        .iter()
        .filter(|r| r["pod"] != "db-0" && r["pod"] != "agent-node-a")
        .map(|r| r["node"].as_str())
        .collect();
    assert!(!others.contains(&"node-a"), "{others:?}");
}

#[test]
fn a_cluster_run_refuses_what_it_cannot_honour() {
    let tmp = tempfile::tempdir().unwrap();
    let file = scenario(tmp.path(), &["app.yaml"], "", 60);
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("\"kubernetes\"\n[trace]", "\"first-fit\"\n[trace]");
    std::fs::write(&file, text).unwrap();
    let out = orchsim().arg("run").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("s.toml:9:8: `trace.pods`: pod `agent-node-a` asks for node `node-a` by name"),
        "{err}"
    );
    // A malformed log line is named by file and line when strict.
    let file = scenario(
        tmp.path(),
        &["app.yaml"],
        "events = \"bad.jsonl\"\nstrict = true\n",
        60,
    );
    std::fs::write(tmp.path().join("bad.jsonl"), "{\"type\": \"ADDED\"}\n").unwrap();
    let out = orchsim().arg("run").arg(&file).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("s.toml:10:10: `trace.events`: ")
            && err.contains("bad.jsonl:1:1: object: expected the event's Pod object"),
        "{err}"
    );
}

/// PriorityClasses in the manifests give their pods — the manifests' and a watch log's
/// after them — the class's priority in the run, and fit refuses a class no file defines.
#[test]
fn priority_classes_reach_the_run_and_fit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::copy("examples/next/cluster.yaml", dir.join("cluster.yaml")).unwrap();
    let manifests = "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: urgent}\nvalue: 5000\n---\n\
        apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: urgent}\nspec:\n  replicas: 2\n  template:\n    spec:\n      priorityClassName: urgent\n      containers: [{name: c, resources: {requests: {cpu: 100m}}}]\n";
    std::fs::write(dir.join("manifests.yaml"), manifests).unwrap();
    let event = r#"{"type":"ADDED","time":"2026-12-07T10:00:00Z","object":{"kind":"Pod","metadata":{"name":"later","namespace":"default"},"spec":{"priorityClassName":"urgent","containers":[{"name":"l","resources":{"requests":{"cpu":"100m"}}}]},"status":{"phase":"Pending"}}}"#;
    std::fs::write(dir.join("events.jsonl"), format!("{event}\n")).unwrap();
    let file = dir.join("s.toml");
    std::fs::write(
        &file,
        "name = \"next\"\nduration_s = 60\n[trace]\nformat = \"kubernetes\"\nnodes = \"cluster.yaml\"\npods = \"manifests.yaml\"\nevents = \"events.jsonl\"\n",
    )
    .unwrap();
    let out = dir.join("out");
    stdout_of(
        orchsim()
            .args(["run", "--quiet", "--report", "--out"])
            .arg(&out)
            .arg(&file),
    );
    let urgent: Vec<(String, String)> = rows(&out.join("pods.csv"))
        .into_iter()
        .filter(|r| r["pod"].contains("urgent") || r["pod"].contains("later"))
        .map(|r| (r["pod"].clone(), r["priority"].clone()))
        .collect();
    assert_eq!(urgent.len(), 3, "{urgent:?}");
    assert!(urgent.iter().all(|(_, p)| p == "5000"), "{urgent:?}");

    std::fs::write(
        dir.join("orphan.yaml"),
        manifests.split("---\n").nth(1).unwrap(),
    )
    .unwrap();
    let o = orchsim()
        .args([
            "fit",
            "--nodes",
            "examples/next/cluster.yaml",
            "--manifests",
        ])
        .arg(dir.join("orphan.yaml"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("no PriorityClass `urgent`"), "{stderr}");
}

/// A CronJob in a run: its Jobs arrive at the schedule's times after `start`; a `start`
/// that is not a time is refused at its key.
#[test]
fn a_cronjob_runs_on_its_schedule_from_the_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::copy("examples/next/cluster.yaml", dir.join("cluster.yaml")).unwrap();
    std::fs::write(
        dir.join("cron.yaml"),
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: tick}\nspec:\n  schedule: '*/10 * * * *'\n  jobTemplate:\n    spec:\n      template:\n        metadata: {annotations: {orchsim.io/run-for-s: '60'}}\n        spec: {containers: [{name: c, resources: {requests: {cpu: 100m}}}]}\n",
    )
    .unwrap();
    let scenario = |start: &str| {
        let file = dir.join("s.toml");
        std::fs::write(
            &file,
            format!("name = \"cron\"\nduration_s = 3600\n[trace]\nformat = \"kubernetes\"\nnodes = \"cluster.yaml\"\npods = \"cron.yaml\"\nstart = \"{start}\"\n"),
        )
        .unwrap();
        file
    };
    let out = dir.join("out");
    stdout_of(
        orchsim()
            .args(["run", "--quiet", "--report", "--out"])
            .arg(&out)
            .arg(scenario("2026-12-07T09:05:00Z")),
    );
    let submitted: Vec<String> = rows(&out.join("pods.csv"))
        .into_iter()
        .filter(|r| r["pod"].contains("tick"))
        .map(|r| r["submit_ms"].clone())
        .collect();
    // 09:10, 09:20, … 10:00: 5 to 55 minutes after the start.
    let minutes: Vec<f64> = submitted
        .iter()
        .map(|s| s.parse::<f64>().unwrap() / 60_000.0)
        .collect();
    assert_eq!(
        minutes,
        [5.0, 15.0, 25.0, 35.0, 45.0, 55.0],
        "{submitted:?}"
    );

    let o = orchsim()
        .args(["run", "--quiet"])
        .arg(scenario("yesterday"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("trace.start") && stderr.contains("RFC 3339"),
        "{stderr}"
    );
}
