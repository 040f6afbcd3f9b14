//! Crash tests: a sweep killed with SIGKILL at random points and resumed ends byte-identical
//! to an uninterrupted sweep, and a run killed while it writes leaves the previous outputs
//! whole.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::orchsim;

/// 40 quarter-hour runs: about half a second on 2 threads.
const SWEEP: [&str; 10] = [
    "sweep",
    "quickstart",
    "--quiet",
    "--set",
    "hosts.worker.count=10..29:1",
    "--set",
    "duration_s=900",
    "--seeds",
    "2",
    "--jobs",
];

fn binary() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("orchsim"))
}

/// Kill delays spread over the sweep's length, from a fixed generator (no clock in them).
fn delays(trials: usize, max_ms: u64) -> Vec<u64> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..trials)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            20 + x % max_ms
        })
        .collect()
}

fn kill_after(mut cmd: Command, ms: u64) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(ms));
    // SIGKILL: no handler, no cleanup, as a lost node or the OOM killer would.
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_sweep_killed_at_random_points_and_resumed_is_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = tmp.path().join("reference");
    let o = orchsim()
        .args(SWEEP)
        .arg("2")
        .arg("--out")
        .arg(&reference)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let read = |dir: &Path, f: &str| std::fs::read(dir.join(f)).unwrap();
    let mut resumed_some = 0;
    for (trial, ms) in delays(10, 500).into_iter().enumerate() {
        let dir = tmp.path().join(format!("trial-{trial}"));
        let mut cmd = binary();
        cmd.args(SWEEP).arg("2").arg("--out").arg(&dir);
        kill_after(cmd, ms);
        // Resumed with another thread count: results do not depend on it.
        let o = orchsim()
            .args(SWEEP)
            .arg("1")
            .args(["--resume", "--out"])
            .arg(&dir)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "trial {trial}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        if stdout.contains("from the journal") {
            resumed_some += 1;
        }
        for f in ["sweep.csv", "sweep-summary.csv"] {
            assert!(
                read(&dir, f) == read(&reference, f),
                "trial {trial} (killed after {ms} ms): {f} differs from the uninterrupted sweep's"
            );
        }
    }
    assert!(
        resumed_some >= 3,
        "only {resumed_some} of 10 kills landed while runs were finishing: the test proves little"
    );
}

#[test]
fn resume_refuses_the_journal_of_another_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s");
    let run = |set: &str, resume: bool| {
        let mut c = orchsim();
        c.args(["sweep", "quickstart", "--quiet", "--set", set, "--out"])
            .arg(&dir);
        if resume {
            c.arg("--resume");
        }
        c.output().unwrap()
    };
    assert!(run("hosts.worker.count=18,20", false).status.success());
    let o = run("hosts.worker.count=18,22", true);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("journal of another sweep"), "{err}");
    // The same sweep resumed after it finished runs nothing again.
    let o = run("hosts.worker.count=18,20", true);
    assert!(o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("2 of them from the journal"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// Every file the manifest lists is the one it hashed: a complete set from one run.
fn whole(dir: &Path) -> Result<(), String> {
    let manifest =
        std::fs::read_to_string(dir.join(".orchsim-outputs")).map_err(|e| e.to_string())?;
    for line in manifest.lines() {
        let Some(rest) = line.strip_prefix("file ") else {
            continue;
        };
        let (hash, name) = rest.split_once(' ').unwrap();
        let bytes = std::fs::read(dir.join(name)).map_err(|e| format!("{name}: {e}"))?;
        if format!("blake3:{}", blake3::hash(&bytes).to_hex()) != hash {
            return Err(format!("{name} is not the file the manifest lists"));
        }
    }
    Ok(())
}

#[test]
fn a_run_killed_while_writing_leaves_the_previous_outputs_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("q");
    let run = |seed: &str| {
        let mut c = binary();
        c.args(["run", "quickstart", "--report", "--seed", seed, "--out"])
            .arg(&dir);
        c
    };
    assert!(run("1").status().unwrap().success());
    whole(&dir).unwrap();
    let first = std::fs::read(dir.join("summary.csv")).unwrap();
    let mut replaced = 0;
    for (trial, ms) in delays(10, 900).into_iter().enumerate() {
        kill_after(run(&(trial + 2).to_string()), ms);
        whole(&dir).unwrap_or_else(|e| panic!("trial {trial} (killed after {ms} ms): {e}"));
        if std::fs::read(dir.join("summary.csv")).unwrap() != first {
            replaced += 1;
        }
    }
    // A later complete run cleans up what the killed ones wrote: one run and the link to it.
    assert!(run("1").status().unwrap().success());
    whole(&dir).unwrap();
    let runs = std::fs::read_dir(dir.join(".orchsim")).unwrap().count();
    assert_eq!(runs, 2, "run directories of killed runs were left");
    eprintln!("{replaced} of 10 killed runs had finished writing");
}

/// The journal's identity covers the files a scenario reads: a trace changed between a
/// killed sweep and its resume would mix runs of two traces.
#[test]
fn resume_refuses_a_journal_whose_trace_has_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let trace = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/alibaba-gpu-v2023/openb_pod_list_default.csv"
    ))
    .unwrap();
    let head = |n: usize| trace.lines().take(n).collect::<Vec<_>>().join("\n") + "\n";
    std::fs::write(tmp.path().join("pods.csv"), head(20)).unwrap();
    let scenario = tmp.path().join("replay.toml");
    std::fs::write(
        &scenario,
        "name = \"replay\"\nduration_s = 600\n[[hosts]]\nname = \"g\"\ncount = 4\n\
         cpu_milli = 96000\nmemory_mib = 524288\ngpus = 8\n\
         [trace]\npods = \"pods.csv\"\narrivals = \"file-order\"\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let sweep = |resume: bool| {
        let mut c = orchsim();
        c.arg("sweep")
            .arg(&scenario)
            .args(["--quiet", "--set", "hosts.g.count=4,5", "--out"])
            .arg(&out);
        if resume {
            c.arg("--resume");
        }
        c.output().unwrap()
    };
    let o = sweep(false);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(tmp.path().join("pods.csv"), head(15)).unwrap();
    let o = sweep(true);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("journal of another sweep"), "{err}");
}
