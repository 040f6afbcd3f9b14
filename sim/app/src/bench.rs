//! `bench`: wall-clock performance of the embedded scenarios (best of several runs, peak
//! memory), the network engines' rows, and criterion's estimates folded in, as one table that
//! `compare` reads, for tracking speed over time.

use std::path::{Path, PathBuf};
use std::time::Instant;

use orchsim_report::{Cell, Table};

use crate::catalog;
use crate::error::{Error, Result};
use crate::run::{OnProgress, Progress};
use crate::source::{Kind, Source};

/// Peak resident memory of this process so far (VmHWM), in MiB; Linux only.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Criterion's `new/estimates.json` mean (ns per iteration) for every benchmark under `dir`.
fn criterion_results(dir: &Path) -> Result<Vec<(String, f64)>, Error> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).map_err(|e| Error::bad_input(format!("{}: {e}", d.display())))?;
        // The entry's own type, not its target's: a symlink to a parent directory must not
        // walk forever.
        let mut entries: Vec<(PathBuf, bool)> = entries
            .filter_map(|e| e.ok())
            .map(|e| (e.path(), e.file_type().is_ok_and(|t| t.is_dir())))
            .collect();
        entries.sort();
        for (p, is_dir) in entries {
            if is_dir
                && p.file_name()
                    .is_some_and(|n| n != "report" && n != "base" && n != "change")
            {
                stack.push(p);
            } else if p.ends_with("new/estimates.json") {
                let text = std::fs::read_to_string(&p)
                    .map_err(|e| Error::bad_input(format!("{}: {e}", p.display())))?;
                let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                    Error::bad_input(format!(
                        "{}:{}:{}: expected criterion's estimates JSON: {e}",
                        p.display(),
                        e.line(),
                        e.column()
                    ))
                })?;
                let Some(mean) = v["mean"]["point_estimate"].as_f64() else {
                    continue;
                };
                let name = p
                    .parent()
                    .and_then(Path::parent)
                    .and_then(|b| b.strip_prefix(dir).ok())
                    .map(|r| r.display().to_string())
                    .unwrap_or_default();
                found.push((name, mean));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// bench.csv: every embedded scenario but the scale ones (best of `repeat` runs), the
/// network rows and, from `criterion` (e.g. target/criterion), every benchmark's mean.
pub fn table(repeat: usize, criterion: Option<&Path>, progress: OnProgress) -> Result<Table> {
    if repeat == 0 {
        return Err(Error::bad_input("--repeat: expected at least 1"));
    }
    // Read before minutes of timing, so a bad directory or file fails at once.
    let criterion = match criterion {
        Some(dir) if !dir.is_dir() => {
            return Err(Error::bad_input(format!(
            "--criterion {}: not a directory (expected criterion's output, e.g. target/criterion)",
            dir.display()
        )))
        }
        Some(dir) => criterion_results(dir)?,
        None => Vec::new(),
    };
    let mut t = Table::new([
        "name",
        "wall_s",
        "events",
        "events_per_s",
        "pods_per_s",
        "peak_rss_mib",
        "mean_ns",
    ]);
    let repeat = repeat.max(1);
    // Every embedded scenario, then the network rows.
    progress(Progress::Start {
        total: catalog::CATALOG.len() as u64 + 1,
        unit: "benchmarks",
    });
    for (file, text) in catalog::CATALOG {
        progress(Progress::Advance(1));
        if SCALE_SCENARIOS.contains(&file.trim_end_matches(".toml")) {
            continue;
        }
        let source = Source::embedded(file, text);
        let sc = match source.kind() {
            Kind::Architectures => {
                crate::architectures::bench_row(&source, repeat, &mut t)?;
                continue;
            }
            Kind::GpuStudy => {
                crate::gpu_study::bench_rows(&source, repeat, &mut t)?;
                continue;
            }
            Kind::Simulation => source.simulation("bench")?,
        };
        // Reset the peak-RSS high-water mark (Linux: `5` clears VmHWM) so each row is its own.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let mut best = f64::MAX;
        let mut summary = None;
        for _ in 0..repeat {
            let started = Instant::now();
            let r = orchsim_sim::run(&sc)?;
            best = best.min(started.elapsed().as_secs_f64());
            summary = Some(r.summary);
        }
        let Some(s) = summary else { continue };
        t.push(vec![
            format!("scenario/{}", sc.name).into(),
            Cell::Float(best, 6),
            s.events.into(),
            Cell::Float(s.events as f64 / best, 0),
            Cell::Float(s.pods_submitted as f64 / best, 0),
            peak_rss_mib().map_or(Cell::Empty, |m| Cell::Float(m, 1)),
            Cell::Empty,
        ])?;
    }
    crate::net::bench_rows(repeat, &mut t)?;
    progress(Progress::Advance(1));
    for (name, mean) in criterion {
        t.push(vec![
            format!("criterion/{name}").into(),
            Cell::Empty,
            Cell::Empty,
            Cell::Empty,
            Cell::Empty,
            Cell::Empty,
            Cell::Float(mean, 1),
        ])?;
    }
    Ok(t)
}

/// The scenarios `orchsim bench scale` runs when given none: kept out of `bench`'s every-
/// scenario table, which they would slow by minutes.
pub const SCALE_SCENARIOS: &[&str] = &["google-scale-1day"];

/// scale.csv: each scenario (a name or a file, [`SCALE_SCENARIOS`] when none) run once, with
/// its size, counts and digest (which `compare` checks exactly) and its wall time, event and
/// pod rates and peak memory (compared only when a threshold names them).
pub fn scale(scenarios: &[String], progress: OnProgress) -> Result<Table> {
    let names: Vec<&str> = if scenarios.is_empty() {
        SCALE_SCENARIOS.to_vec()
    } else {
        scenarios.iter().map(String::as_str).collect()
    };
    // Every scenario is read before the first is timed, so a typo fails at once.
    let parsed = names
        .iter()
        .map(|n| Source::resolve(Some(n))?.simulation("bench scale"))
        .collect::<Result<Vec<_>>>()?;
    let mut t = Table::new([
        "name",
        "hosts",
        "pods",
        "pods_pending",
        "events",
        "digest",
        "wall_s",
        "events_per_s",
        "pods_per_s",
        "peak_rss_mib",
    ]);
    let total: u64 = parsed
        .iter()
        .map(|sc| sc.duration.as_nanos() / 1_000_000_000)
        .sum();
    progress(Progress::Start {
        total,
        unit: "simulated s",
    });
    let mut done = 0;
    for sc in &parsed {
        // The peak is reset before each row (Linux: `5` clears VmHWM); memory the allocator
        // kept from earlier rows still counts.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let started = Instant::now();
        let r = orchsim_sim::run_with_progress(sc, &mut |at| {
            progress(Progress::At(done + at.as_nanos() / 1_000_000_000));
        })?;
        let wall = started.elapsed().as_secs_f64();
        done += sc.duration.as_nanos() / 1_000_000_000;
        let s = &r.summary;
        t.push(vec![
            sc.name.as_str().into(),
            Cell::UInt(s.hosts),
            Cell::UInt(s.pods_submitted),
            Cell::UInt(s.pods_pending),
            Cell::UInt(s.events),
            s.digest.as_str().into(),
            Cell::Float(wall, 3),
            Cell::Float(s.events as f64 / wall, 0),
            Cell::Float(s.pods_submitted as f64 / wall, 0),
            peak_rss_mib().map_or(Cell::Empty, |m| Cell::Float(m, 1)),
        ])?;
    }
    Ok(t)
}
