//! Output directories as an unattended user relies on them: complete and from one run, never
//! replacing what a command reads or files orchsim did not write, and bounded in the threads
//! and seeds a number on the command line can ask for.

use std::path::Path;

use crate::orchsim;

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A rerun replaces the output set it wrote before: a report from an earlier run does not
/// stay beside outputs it does not describe, and no temporary file is left behind.
#[test]
fn a_rerun_leaves_only_its_own_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("q");
    orchsim()
        .args(["run", "quickstart", "--quiet", "--report", "--out"])
        .arg(&out)
        .assert()
        .success();
    assert!(out.join("report.html").exists());
    orchsim()
        .args(["run", "quickstart", "--quiet", "--out"])
        .arg(&out)
        .assert()
        .success();
    assert_eq!(
        names(&out),
        [
            ".orchsim",
            ".orchsim-outputs",
            "digest.txt",
            "pods.csv",
            "schedulers.csv",
            "summary.csv",
            "timeseries.csv",
            "workloads.csv"
        ]
    );
    assert_eq!(names(tmp.path()), ["q"]);
    // The run's files, and the link saying which run the directory shows.
    assert_eq!(
        names(&out.join(".orchsim")).len(),
        2,
        "{:?}",
        names(&out.join(".orchsim"))
    );
}

/// An output directory that holds the scenario, or files orchsim did not write, is refused
/// before anything is replaced.
#[test]
fn outputs_never_replace_inputs_or_foreign_files() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("d");
    std::fs::create_dir(&d).unwrap();
    let scenario = d.join("mine.toml");
    std::fs::write(
        &scenario,
        "name = \"mine\"\nduration_s = 10\n[[hosts]]\nname = \"w\"\ncount = 1\ncpu_milli = 1000\nmemory_mib = 1024\n",
    )
    .unwrap();
    for cmd in [
        vec!["run", scenario.to_str().unwrap()],
        vec![
            "sweep",
            scenario.to_str().unwrap(),
            "--set",
            "duration_s=5,10",
        ],
    ] {
        let o = orchsim()
            .args(&cmd)
            .args(["--quiet", "--out"])
            .arg(&d)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{cmd:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("holds the input"), "{err}");
    }
    assert_eq!(names(&d), ["mine.toml"], "nothing written or removed");

    // Files orchsim did not write are never touched, even CSVs like an output's (a
    // directory of baselines), and `--out .` works.
    let mine = tmp.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("baseline.csv"), "kept").unwrap();
    std::fs::write(mine.join("notes.md"), "kept").unwrap();
    for _ in 0..2 {
        orchsim()
            .current_dir(&mine)
            .args(["run", "quickstart", "--quiet", "--report", "--out", "."])
            .assert()
            .success();
    }
    orchsim()
        .current_dir(&mine)
        .args(["run", "quickstart", "--quiet", "--out", "."])
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(mine.join("baseline.csv")).unwrap(),
        "kept"
    );
    assert_eq!(
        std::fs::read_to_string(mine.join("notes.md")).unwrap(),
        "kept"
    );
    assert!(mine.join("summary.csv").exists() && !mine.join("report.html").exists());

    // A file where the directory should go is refused before the sweep runs.
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let o = orchsim()
        .args([
            "sweep",
            "quickstart",
            "--set",
            "workloads.web.max_pods=100,101",
            "--quiet",
            "--out",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is a file"));
}

/// `merge` into one of its own shard directories is refused.
#[test]
fn merge_never_writes_over_a_shard() {
    let tmp = tempfile::tempdir().unwrap();
    let shard = |i: u32| {
        let d = tmp.path().join(format!("s{i}"));
        orchsim()
            .args([
                "sweep",
                "quickstart",
                "--set",
                "workloads.web.max_pods=100,101",
                "--quiet",
            ])
            .args(["--shard", &format!("{i}/2"), "--out"])
            .arg(&d)
            .assert()
            .success();
        d
    };
    let (s1, s2) = (shard(1), shard(2));
    let before = std::fs::read(s1.join("sweep.csv")).unwrap();
    let o = orchsim()
        .arg("merge")
        .args([&s1, &s2])
        .arg("--out")
        .arg(&s1)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(s1.join("sweep.csv")).unwrap(), before);
    assert!(s1.join("shard.txt").exists());
}

/// Numbers on the command line cannot ask for unbounded threads or seeds: threads are capped
/// at the cores and the work, and a seed count past the limit is refused (it used to panic
/// with a capacity overflow).
#[test]
fn threads_and_seeds_are_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let o = orchsim()
        .args([
            "sweep",
            "quickstart",
            "--set",
            "workloads.web.max_pods=100,101",
            "--quiet",
        ])
        .args(["--jobs", "100000000", "--out"])
        .arg(tmp.path().join("s"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line = String::from_utf8_lossy(&o.stdout);
    let threads: usize = line
        .split(" on ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(
        (1..=2).contains(&threads),
        "two runs need at most two threads: {line}"
    );

    let o = orchsim()
        .args(["plan", "quickstart", "--vary", "hosts.worker.count=1..5"])
        .args([
            "--target",
            "unschedulable_pct<1",
            "--seeds",
            "18446744073709551615",
        ])
        .arg("--out")
        .arg(tmp.path().join("p"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--seeds: expected 1 to 1000"));
}

/// The manifest records who wrote a directory and each file's hash; `compare` refuses a
/// results file changed or truncated since.
#[test]
fn the_manifest_records_provenance_and_compare_checks_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("q");
    let o = orchsim()
        .args(["run", "quickstart", "--seed", "3", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success());
    let manifest = std::fs::read_to_string(out.join(".orchsim-outputs")).unwrap();
    assert!(manifest.contains(&format!("orchsim {}\n", env!("CARGO_PKG_VERSION"))));
    assert!(
        manifest.contains("command orchsim run quickstart --seed 3 --out "),
        "{manifest}"
    );
    let hash = |b: &[u8]| format!("blake3:{}", blake3::hash(b).to_hex());
    let scenario = include_str!("../../scenarios/quickstart.toml");
    assert!(manifest.contains(&format!("scenario {}\n", hash(scenario.as_bytes()))));
    let summary = std::fs::read(out.join("summary.csv")).unwrap();
    assert!(manifest.contains(&format!("file {} summary.csv\n", hash(&summary))));
    // The names are links into the run `current` shows, and no temporary link is left.
    assert_eq!(
        std::fs::read_link(out.join("summary.csv")).unwrap(),
        Path::new(".orchsim/current/summary.csv")
    );
    assert!(std::fs::read_dir(&out).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains("orchsim-link")));

    std::fs::write(out.join("summary.csv"), &summary[..summary.len() - 10]).unwrap();
    let o = orchsim()
        .arg("compare")
        .arg(&out)
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("summary.csv: differs from what `orchsim run quickstart"),
        "{err}"
    );
}
