//! Tidy tests that keep ARCHITECTURE.md true: the crate dependency graph points one way, and
//! every source file opens with a `//!` comment saying its one job.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace's crates: package name → (manifest directory, our crates it depends on, in
/// any dependency table).
fn workspace() -> BTreeMap<String, (PathBuf, Vec<String>)> {
    let manifest = |dir: &Path| -> toml::Table {
        let text = std::fs::read_to_string(dir.join("Cargo.toml")).expect("manifest");
        text.parse().expect("valid manifest")
    };
    let top = manifest(&root());
    let members = top["workspace"]["members"]
        .as_array()
        .expect("workspace members")
        .iter()
        .map(|m| root().join(m.as_str().expect("member path")))
        .chain([root()]);
    let mut crates = BTreeMap::new();
    for dir in members {
        let m = manifest(&dir);
        let name = m["package"]["name"]
            .as_str()
            .expect("package name")
            .to_string();
        let mut deps: Vec<String> = ["dependencies", "dev-dependencies", "build-dependencies"]
            .iter()
            .filter_map(|table| m.get(*table).and_then(|t| t.as_table()))
            .flat_map(|t| t.keys().cloned())
            .filter(|d| d.starts_with("orchsim"))
            .collect();
        deps.sort();
        deps.dedup();
        crates.insert(name, (dir, deps));
    }
    crates
}

/// Architecture Invariant: `orchsim-sched` and `orchsim-net` know nothing of the cluster
/// simulator (so live mode uses them unchanged), the kernel and the report crate depend on
/// none of ours, no library depends on the CLI crate, and the CLI depends only on the
/// application layer.
#[test]
fn dependencies_point_one_way() {
    let allowed: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("orchsim-kernel", &[][..]),
        ("orchsim-sched", &[]),
        ("orchsim-report", &[]),
        ("orchsim-net", &["orchsim-kernel"]),
        // Live mode builds real datapaths named and modeled by net (and, for its controller,
        // runs sched's schedulers): never the simulator.
        ("orchsim-live", &["orchsim-net", "orchsim-sched"]),
        (
            "orchsim-sim",
            &[
                "orchsim-kernel",
                "orchsim-net",
                "orchsim-report",
                "orchsim-sched",
            ],
        ),
        (
            "orchsim-app",
            &[
                "orchsim-kernel",
                "orchsim-live",
                "orchsim-net",
                "orchsim-report",
                "orchsim-sched",
                "orchsim-sim",
            ],
        ),
        (
            "orchsim-benches",
            &[
                "orchsim-kernel",
                "orchsim-net",
                "orchsim-sched",
                "orchsim-sim",
            ],
        ),
        // The CLI parses, calls the application layer and prints: nothing else.
        ("orchsim", &["orchsim-app"]),
    ]);
    let crates = workspace();
    for (name, (_, deps)) in &crates {
        let Some(ok) = allowed.get(name.as_str()) else {
            panic!("crate {name} is not in the dependency rules of this test: add it, with the edges ARCHITECTURE.md allows");
        };
        for d in deps {
            assert!(
                ok.contains(&d.as_str()),
                "forbidden dependency {name} -> {d} (allowed: {ok:?})"
            );
        }
    }
    assert_eq!(
        crates.len(),
        allowed.len(),
        "every rule names a crate that exists"
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        // Symlinks are not followed: the walk stays inside the repository.
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            rust_files(&p, out);
        } else if kind.is_file() && p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Architecture Invariant: every Rust file (crate roots, modules, tests, benches, examples)
/// opens with a `//!` comment that says its job.
#[test]
fn every_source_file_says_its_job() {
    let mut files = Vec::new();
    for (dir, _) in workspace().values() {
        for sub in ["src", "tests", "benches", "examples"] {
            rust_files(&dir.join(sub), &mut files);
        }
    }
    files.sort();
    files.dedup();
    assert!(files.len() > 50, "found only {} files", files.len());
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|f| f.strip_prefix(root()).unwrap_or(f).display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` opening comment: {missing:?}"
    );
}

/// Architecture Invariant: the cluster simulator has one event loop, `sim/src/world/`; the
/// studies build world scenarios instead of handling kernel events of their own.
#[test]
fn one_event_loop_for_cluster_simulations() {
    let mut files = Vec::new();
    rust_files(&root().join("sim/src"), &mut files);
    assert!(files.iter().any(|f| f.ends_with("world/mod.rs")));
    let loops: Vec<String> = files
        .iter()
        .filter(|f| !f.starts_with(root().join("sim/src/world")))
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            text.contains("impl Handler<") || text.contains("impl orchsim_kernel::Handler<")
        })
        .map(|f| f.strip_prefix(root()).unwrap_or(f).display().to_string())
        .collect();
    assert!(
        loops.is_empty(),
        "kernel event handlers outside sim/src/world: {loops:?}"
    );
}

/// Every dotted IPv4 address (or its first two octets before a `{` of a format string) and
/// every `Ipv4Addr::new(a, b, …)` in `text`, as its first two octets.
fn ipv4_prefixes(text: &str) -> Vec<(String, u8, u8)> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let number = |i: usize| -> Option<(u32, usize)> {
        let len = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        (1..=3)
            .contains(&len)
            .then(|| (text[i..i + len].parse().unwrap(), i + len))
    };
    let mut i = 0;
    while i < b.len() {
        let starts = b[i].is_ascii_digit()
            && (i == 0
                || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.' || b[i - 1] == b'_'));
        if starts {
            if let Some((o1, j)) = number(i) {
                if b.get(j) == Some(&b'.') {
                    if let Some((o2, k)) = number(j + 1) {
                        if b.get(k) == Some(&b'.')
                            && matches!(b.get(k + 1), Some(c) if c.is_ascii_digit() || *c == b'{')
                        {
                            let end = text[i..]
                                .find(|c: char| !(c.is_ascii_alphanumeric() || ".{}/".contains(c)))
                                .map_or(text.len(), |e| i + e);
                            out.push((text[i..end].to_string(), o1 as u8, o2 as u8));
                            i = end;
                            continue;
                        }
                    }
                }
            }
        }
        i += 1;
    }
    for (at, _) in text.match_indices("Ipv4Addr::new(") {
        let args: Vec<u32> = text[at + 14..]
            .split([',', ')'])
            .take(2)
            .filter_map(|a| a.trim().parse().ok())
            .collect();
        if let [o1, o2] = args[..] {
            out.push((format!("Ipv4Addr::new({o1}, {o2}, …)"), o1 as u8, o2 as u8));
        }
    }
    out
}

/// Architecture Invariant: live mode's addresses come from 198.18.0.0/15 (RFC 2544's
/// benchmarking range) and never from the private ranges or anything routable; the one
/// exception is Calico's link-local next hop 169.254.1.1, which never leaves a pod's veth.
#[test]
fn live_mode_uses_only_benchmarking_addresses() {
    let mut files = Vec::new();
    for sub in ["src", "tests", "examples"] {
        rust_files(&root().join("live").join(sub), &mut files);
    }
    assert!(files.len() >= 5, "live/ has {} files", files.len());
    let mut found = 0;
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (addr, o1, o2) in ipv4_prefixes(&text) {
            found += 1;
            let ok =
                (o1, o2) == (198, 18) || (o1, o2) == (198, 19) || addr.starts_with("169.254.1.1");
            if !ok {
                bad.push(format!(
                    "{}: {addr}",
                    f.strip_prefix(root()).unwrap_or(f).display()
                ));
            }
        }
    }
    assert!(
        found > 5,
        "the scan found only {found} addresses: it is not reading them"
    );
    assert!(
        bad.is_empty(),
        "addresses outside 198.18.0.0/15 in live mode: {bad:?}"
    );
    let probe = ipv4_prefixes("a 10.0.0.1 b 198.19.{i}.0/24 Ipv4Addr::new(192, 168, 1, 1) v0.2.3");
    assert_eq!(
        probe.iter().map(|p| (p.1, p.2)).collect::<Vec<_>>(),
        [(10, 0), (198, 19), (192, 168)],
        "{probe:?}"
    );
}

/// Architecture Invariant: scenario kinds are told apart in one place, `Source::kind` in the
/// application layer; front-ends and other modules never read `[study]` themselves.
#[test]
fn scenario_kinds_are_told_apart_in_one_place() {
    let mut files = Vec::new();
    for dir in ["src", "sim/app/src", "sim/src", "benches", "tests"] {
        rust_files(&root().join(dir), &mut files);
    }
    let here = root().join("tests/integration/architecture.rs");
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| !f.ends_with("sim/app/src/source.rs") && **f != here)
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            // Definitions (`fn study_kind(`) are allowed; calls are not.
            ["study_kind(", "is_study("].iter().any(|call| {
                text.match_indices(call)
                    .any(|(i, _)| !text[..i].ends_with("fn "))
            })
        })
        .map(|f| f.strip_prefix(root()).unwrap_or(f).display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "files telling scenario kinds apart outside Source::kind: {offenders:?}"
    );
}
