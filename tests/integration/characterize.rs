//! `orchsim characterize`: a replayed trace's shape, and generators written from it that a
//! scenario runs; the same trace writes the same file; what it refuses.

use std::path::Path;

use crate::{orchsim, stdout_of};

const GPU: &str = "examples/characterize/alibaba-gpu.toml";

#[test]
fn the_generators_written_run_and_are_the_same_each_time() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a.toml"), tmp.path().join("b.toml"));
    for out in [&a, &b] {
        stdout_of(orchsim().args(["characterize", GPU, "--out"]).arg(out));
    }
    let written = std::fs::read_to_string(&a).unwrap();
    assert_eq!(written, std::fs::read_to_string(&b).unwrap());
    assert!(written.contains("kind = \"diurnal\""), "{written}");
    let scenario = tmp.path().join("gen.toml");
    std::fs::write(
        &scenario,
        format!(
            "name = \"gen\"\nduration_s = 86400\nsample_interval_s = 600\n\
             [[hosts]]\nname = \"g\"\ncount = 20\ncpu_milli = 128000\nmemory_mib = 786432\ngpus = 8\n{written}"
        ),
    )
    .unwrap();
    let printed = stdout_of(
        orchsim()
            .args(["run", "--quiet", "--out"])
            .arg(tmp.path().join("out"))
            .arg(&scenario),
    );
    assert!(printed.contains("submitted"), "{printed}");
}

#[test]
fn json_has_the_cycle_and_services_are_told_from_batch() {
    let out = stdout_of(orchsim().args(["characterize", GPU, "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let batch = &v["classes"][0];
    assert_eq!(batch["kind"], "batch");
    let amplitude = batch["cycle"]["amplitude"].as_f64().unwrap();
    assert!((0.3..0.6).contains(&amplitude), "{amplitude}");
    assert_eq!(batch["hourly_rate_per_s"].as_array().unwrap().len(), 24);

    // Google 2011: tasks still running at the trace's end are services.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("g.toml");
    std::fs::write(
        &scenario,
        format!(
            "name = \"g\"\nduration_s = 86400\n[trace]\nformat = \"google-2011\"\nnodes = \"{}\"\npods = \"{}\"\n",
            repo.join("tests/traces/google-2011/machine_events.csv").display(),
            repo.join("tests/traces/google-2011/task_events.csv").display()
        ),
    )
    .unwrap();
    let out = stdout_of(
        orchsim()
            .arg("characterize")
            .arg(&scenario)
            .args(["--format", "json"]),
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let kinds: Vec<&str> = v["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["service", "batch"], "{out}");
}

#[test]
fn a_scenario_without_a_trace_and_a_short_period_are_refused() {
    let out = orchsim()
        .args(["characterize", "quickstart"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("expected a scenario with a [trace] table"),
        "{stderr}"
    );
    let out = orchsim()
        .args(["characterize", GPU, "--period-s", "10"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--period-s"));
}
