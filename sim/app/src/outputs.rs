//! Output directories and the CSV files orchsim reads back (shards, baselines).

use std::path::{Path, PathBuf};

use orchsim_report::{Cell, Table};

use crate::error::{Error, Result};

/// The file in an output directory that lists what orchsim wrote there, one name per line:
/// the only files a later run into the same directory removes.
pub const MANIFEST: &str = ".orchsim-outputs";

/// Refuses an output directory that is, or holds, one of the command's `inputs` (a scenario
/// file, a shard directory), or that is a file: writing the outputs there could overwrite
/// what the command reads. Checked before any work.
pub fn check_not_input(dir: &Path, inputs: &[&Path]) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::bad_input(format!(
            "--out {}: is a file, expected a directory",
            dir.display()
        )));
    }
    let Ok(out) = absolute(dir) else {
        return Ok(());
    };
    for input in inputs {
        let Ok(i) = absolute(input) else { continue };
        if i.starts_with(&out) {
            return Err(Error::bad_input(format!(
                "--out {}: holds the input {}, which the outputs could overwrite; choose another directory",
                dir.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

/// `p` with symbolic links resolved as far as the path exists (an output directory may not
/// exist yet).
fn absolute(p: &Path) -> std::io::Result<PathBuf> {
    if let Ok(c) = p.canonicalize() {
        return Ok(c);
    }
    let parent = p.parent().filter(|x| !x.as_os_str().is_empty());
    let base = match parent {
        Some(parent) => absolute(parent)?,
        None => std::env::current_dir()?,
    };
    Ok(base.join(p.file_name().unwrap_or_default()))
}

/// Writes `bytes` to `path` through a temporary file beside it and a rename, so the file is
/// either the old one or the complete new one, never a truncated mix.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.orchsim-{}", std::process::id()));
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::bad_input(format!("cannot write {}: {e}", path.display()))
    })
}

/// Writes `files` and, if there is one, the report page (with the scenario text `source`)
/// into `dir`.
///
/// Each file is written whole (a temporary file renamed into place). The directory's
/// manifest ([`MANIFEST`]) lists what orchsim wrote: files an earlier run listed that this
/// run does not write (a `report.html`, a `sweep-summary.csv`) are removed, so nothing stale
/// stays beside new outputs; a file orchsim did not write is never touched.
pub fn write_with_report(
    dir: &Path,
    files: &[(&str, Vec<u8>)],
    report: Option<&crate::run::Report>,
    source: &str,
) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::bad_input(format!(
            "--out {}: is a file, expected a directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::bad_input(format!(
            "cannot create output directory {}: {e}",
            dir.display()
        ))
    })?;
    let manifest = dir.join(MANIFEST);
    let previous: Vec<String> = std::fs::read_to_string(&manifest)
        .map(|t| t.lines().map(String::from).collect())
        .unwrap_or_default();
    let mut names: Vec<String> = files.iter().map(|(n, _)| n.to_string()).collect();
    if let Some(r) = report {
        names.push("report.html".into());
        for c in &r.charts {
            names.extend([format!("{}.svg", c.name), format!("{}.png", c.name)]);
        }
    }
    // The stale files go first: a run that dies after this leaves a manifest naming only
    // files that are either still there or about to be rewritten.
    for old in previous.iter().filter(|o| !names.contains(o)) {
        // Only plain names orchsim wrote: never a path out of the directory.
        if !old.contains('/') && !old.starts_with('.') && !old.is_empty() {
            let _ = std::fs::remove_file(dir.join(old));
        }
    }
    for (file, bytes) in files {
        write_atomically(&dir.join(file), bytes)?;
    }
    if let Some(r) = report {
        r.write(dir, source)?;
    }
    let mut listing = names.join("\n");
    listing.push('\n');
    write_atomically(&manifest, listing.as_bytes())
}

/// Writes `files` into `dir` (see [`write_with_report`]).
pub fn write_files(dir: &Path, files: &[(&str, Vec<u8>)]) -> Result<()> {
    write_with_report(dir, files, None, "")
}

/// The `wrote …` line that ends a table-format run.
pub fn wrote_line(dir: &Path, files: &[&str], report: bool) -> String {
    format!(
        "wrote      {}/{{{}{}}}",
        dir.display(),
        files.join(", "),
        if report {
            ", report.html, *.svg, *.png"
        } else {
            ""
        }
    )
}

/// Reads a CSV written by orchsim into a table of text cells.
pub fn read_table(path: &Path) -> Result<Table> {
    let located = |e: &dyn std::fmt::Display| Error::bad_input(format!("{}: {e}", path.display()));
    let mut r = csv::Reader::from_path(path)
        .map_err(|e| Error::bad_input(format!("cannot read {}: {e}", path.display())))?;
    let headers = r
        .headers()
        .map_err(|e| located(&e))?
        .iter()
        .map(String::from)
        .collect::<Vec<_>>();
    let mut t = Table::new(headers);
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| located(&e))?;
        let row = rec
            .iter()
            .map(|c| {
                if c.is_empty() {
                    Cell::Empty
                } else {
                    Cell::Str(c.into())
                }
            })
            .collect();
        t.push(row).map_err(|e| {
            Error::bad_input(format!(
                "{}: row {}: expected {} fields, found {}",
                path.display(),
                i + 2,
                e.expected,
                e.got
            ))
        })?;
    }
    Ok(t)
}
