//! `orchsim import`: a trace in its own format summarised, written as a scenario that runs,
//! byte for byte the same twice; malformed records skipped or fatal with where they are.

use std::path::{Path, PathBuf};

use crate::{orchsim, rows, stdout_of};

fn fixture(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/traces/google-2011")
        .join(file)
}

/// Copies the fixture tables into `dir` (so the scenario names them beside it).
fn tables_in(dir: &Path) -> (PathBuf, PathBuf) {
    let (m, t) = (dir.join("machine_events.csv"), dir.join("task_events.csv"));
    std::fs::copy(fixture("machine_events.csv"), &m).unwrap();
    std::fs::copy(fixture("task_events.csv"), &t).unwrap();
    (m, t)
}

fn import(dir: &Path, extra: &[&str]) -> assert_cmd::Command {
    let mut c = orchsim();
    c.current_dir(dir).args([
        "import",
        "google-2011",
        "--machine-events",
        "machine_events.csv",
        "--task-events",
        "task_events.csv",
    ]);
    c.args(extra);
    c
}

#[test]
fn google_2011_imports_into_a_scenario_that_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    tables_in(dir);
    let json = stdout_of(&mut import(dir, &["--out", "g.toml", "--format", "json"]));
    let s: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(s["format"], "google-2011");
    assert_eq!(
        (&s["records"], &s["machines"], &s["jobs"], &s["tasks"]),
        (&18.into(), &3.into(), &2.into(), &3.into())
    );
    assert_eq!(s["skipped"]["task never scheduled in the trace"], 1);
    let first = std::fs::read(dir.join("g.toml")).unwrap();
    let text = String::from_utf8(first.clone()).unwrap();
    assert!(text.contains("nodes = \"machine_events.csv\""), "{text}");
    // The same import, the same scenario, byte for byte.
    stdout_of(&mut import(dir, &["--out", "g.toml"]));
    assert_eq!(std::fs::read(dir.join("g.toml")).unwrap(), first);

    let out = dir.join("out");
    stdout_of(
        orchsim()
            .current_dir(dir)
            .args(["run", "g.toml", "-q", "--out"])
            .arg(&out),
    );
    let pods = rows(&out.join("pods.csv"));
    let got: Vec<(&str, &str, &str, &str, &str, &str)> = pods
        .iter()
        .map(|p| {
            (
                p["pod"].as_str(),
                p["priority"].as_str(),
                p["cpu_milli"].as_str(),
                p["memory_mib"].as_str(),
                p["submit_ms"].as_str(),
                p["finish_ms"].as_str(),
            )
        })
        .collect();
    // 0.0625 of 16 cores, 0.0159 of 64 GiB; task 12/0 arrives at 900 s and runs 100 s.
    assert_eq!(
        got,
        vec![
            ("j10-t0", "9", "1000", "1042", "0.000000", "300000.000000"),
            ("j10-t1", "9", "1000", "1042", "0.000000", ""),
            (
                "j12-t0",
                "4",
                "4000",
                "8192",
                "900000.000000",
                "1000000.000000"
            ),
        ]
    );
    // The machines are the nodes, with their denormalised capacity.
    let again = dir.join("again");
    stdout_of(
        orchsim()
            .current_dir(dir)
            .args(["run", "g.toml", "-q", "--out"])
            .arg(&again),
    );
    assert_eq!(
        std::fs::read(out.join("digest.txt")).unwrap(),
        std::fs::read(again.join("digest.txt")).unwrap()
    );
}

#[test]
fn malformed_records_are_skipped_or_stop_a_strict_import() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (_, tasks) = tables_in(dir);
    let mut text = std::fs::read_to_string(&tasks).unwrap();
    text.push_str("1800000000,,14,0,,0,u4,1,high,0.1,0.1,0.1,0\n");
    std::fs::write(&tasks, text).unwrap();
    let printed = stdout_of(&mut import(dir, &[]));
    assert!(
        printed.contains("skipped: 1 × malformed record"),
        "{printed}"
    );
    assert!(
        printed.contains(
            "task_events.csv:14: column 26, priority: expected a non-negative integer, found `high`"
        ),
        "{printed}"
    );
    let out = import(dir, &["--strict"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "task_events.csv:14:26: priority: expected a non-negative integer, found `high`"
        ),
        "{err}"
    );
}

#[test]
fn trace_options_belong_to_their_format() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    tables_in(dir);
    for (extra, field) in [
        ("arrivals = \"file-order\"", "trace.arrivals"),
        ("every_kth_job = 0", "trace.every_kth_job"),
        ("to_s = -5.0", "trace.to_s"),
    ] {
        let scenario = format!(
            "name = \"g\"\nduration_s = 100\n[trace]\nformat = \"google-2011\"\nnodes = \"machine_events.csv\"\npods = \"task_events.csv\"\n{extra}\n"
        );
        std::fs::write(dir.join("g.toml"), scenario).unwrap();
        let out = orchsim()
            .current_dir(dir)
            .args(["run", "g.toml", "-q"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{extra}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("g.toml:7:") && err.contains(field),
            "{extra}: {err}"
        );
    }
}

#[test]
fn alibaba_2018_imports_into_a_scenario_that_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/traces/alibaba-2018");
    for t in [
        "machine_meta.csv",
        "container_meta.csv",
        "batch_task.csv",
        "batch_instance.csv",
    ] {
        std::fs::copy(src.join(t), dir.join(t)).unwrap();
    }
    let args = [
        "import",
        "alibaba-2018",
        "--machine-meta",
        "machine_meta.csv",
        "--container-meta",
        "container_meta.csv",
        "--batch-task",
        "batch_task.csv",
        "--batch-instance",
        "batch_instance.csv",
        "--out",
        "a.toml",
        "--format",
        "json",
    ];
    let json = stdout_of(orchsim().current_dir(dir).args(args));
    let s: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (&s["records"], &s["machines"], &s["jobs"], &s["tasks"]),
        (&13.into(), &2.into(), &2.into(), &5.into())
    );
    assert_eq!(s["skipped"]["instance of an unknown task"], 1);
    let first = std::fs::read(dir.join("a.toml")).unwrap();
    stdout_of(orchsim().current_dir(dir).args(args));
    assert_eq!(std::fs::read(dir.join("a.toml")).unwrap(), first);
    let out = dir.join("out");
    stdout_of(
        orchsim()
            .current_dir(dir)
            .args(["run", "a.toml", "-q", "--out"])
            .arg(&out),
    );
    let pods = rows(&out.join("pods.csv"));
    let got: Vec<(&str, &str, &str, &str, &str)> = pods
        .iter()
        .map(|p| {
            (
                p["pod"].as_str(),
                p["cpu_milli"].as_str(),
                p["memory_mib"].as_str(),
                p["submit_ms"].as_str(),
                p["node"].as_str(),
            )
        })
        .collect();
    // Container c_1: 400 hundredths of a core and 1.59 % of 512 GiB (8,336 MiB); instance
    // ins_1: its task's plan_cpu 50 (half a core), from 100 s.
    assert_eq!(got[0].0, "c_1");
    assert_eq!((got[0].1, got[0].2, got[0].3), ("4000", "8336", "0.000000"));
    assert_eq!(got[2].0, "j_1/M1/ins_1-1");
    assert_eq!((got[2].1, got[2].3), ("500", "100000.000000"));
    assert!(pods
        .iter()
        .all(|p| p["node"] == "m_1" || p["node"] == "m_2"));
}

/// Google 2019 as BigQuery exports it: an alloc set's instance and a job's tasks replayed, a
/// task inside the alloc skipped; the scenario it writes runs, the same twice.
#[test]
fn google_2019_imports_into_a_scenario_that_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/traces/google-2019");
    for f in ["machine_events.json", "instance_events.json"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let import = || {
        let mut c = orchsim();
        c.current_dir(dir).args([
            "import",
            "google-2019",
            "--machine-events",
            "machine_events.json",
            "--instance-events",
            "instance_events.json",
            "--out",
            "g.toml",
            "--format",
            "json",
        ]);
        c
    };
    let s: serde_json::Value = serde_json::from_str(&stdout_of(&mut import())).unwrap();
    assert_eq!(s["format"], "google-2019");
    assert_eq!(
        (&s["records"], &s["machines"], &s["jobs"], &s["tasks"]),
        (&18.into(), &2.into(), &2.into(), &3.into())
    );
    let first = std::fs::read(dir.join("g.toml")).unwrap();
    stdout_of(&mut import());
    assert_eq!(std::fs::read(dir.join("g.toml")).unwrap(), first);
    let run = |out: &str| {
        stdout_of(
            orchsim()
                .current_dir(dir)
                .args(["run", "g.toml", "-q", "--out", out]),
        );
        (
            rows(&dir.join(out).join("pods.csv")),
            std::fs::read(dir.join(out).join("digest.txt")).unwrap(),
        )
    };
    let (pods, digest) = run("a");
    let got: Vec<(&str, &str, &str, &str, &str)> = pods
        .iter()
        .map(|p| {
            (
                p["pod"].as_str(),
                p["priority"].as_str(),
                p["cpu_milli"].as_str(),
                p["submit_ms"].as_str(),
                p["finish_ms"].as_str(),
            )
        })
        .collect();
    // The alloc instance (half of 16 cores) from 0 s on; the job's tasks at 10 s, the first
    // running its 300 s.
    assert_eq!(
        got,
        vec![
            ("j200-t0", "360", "8000", "0.000000", ""),
            ("j100-t0", "200", "1000", "10000.000000", "310000.000000"),
            ("j100-t1", "200", "1000", "10000.000000", ""),
        ]
    );
    assert_eq!(run("b").1, digest);
}
