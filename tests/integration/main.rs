//! The integration tests, one binary: each module drives the `orchsim` command line (or
//! reads the workspace) for one area, with the helpers shared here.

mod architecture;
mod architectures;
mod characterize;
mod cli;
mod control_planes;
mod explain;
mod fgd_atc23;
mod fit;
mod import;
mod inputs;
mod live;
mod net;
mod next;
mod outputs;
mod readme;
mod report_browser;
mod resume;
mod service_proxy;
mod sweep;
mod traffic;

use std::collections::BTreeMap;
use std::path::Path;

/// The `orchsim` binary cargo built for this test run.
pub fn orchsim() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("orchsim").expect("binary built by cargo test")
}

/// Runs `cmd`, which must succeed (else the test fails with what it printed on stderr), and
/// returns its standard output.
pub fn stdout_of(cmd: &mut assert_cmd::Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A CSV file's rows, each by column name.
pub fn rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

pub fn num(row: &BTreeMap<String, String>, key: &str) -> f64 {
    row[key]
        .parse()
        .unwrap_or_else(|_| panic!("{key} = {:?}", row[key]))
}

/// Runs scenario `text` (written as `dir/name.toml`) into `dir/name`: its summary row and its
/// `traffic.csv` rows.
pub fn run(
    dir: &Path,
    name: &str,
    text: &str,
) -> (BTreeMap<String, String>, Vec<BTreeMap<String, String>>) {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    let out_dir = dir.join(name);
    stdout_of(orchsim().arg("run").arg(&file).arg("--out").arg(&out_dir));
    let summary = rows(&out_dir.join("summary.csv")).remove(0);
    (summary, rows(&out_dir.join("traffic.csv")))
}
