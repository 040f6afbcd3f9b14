//! Output directories and the CSV files orchsim reads back (shards, baselines).

use std::path::Path;

use orchsim_report::{Cell, Table};

use crate::error::{Error, Result};

/// What an output directory orchsim wrote holds: file names of these kinds and nothing else
/// (no subdirectory). A directory holding anything more is the user's, never replaced.
const OUTPUT_EXTENSIONS: &[&str] = &["csv", "txt", "svg", "png", "html"];

/// Whether `dir` is absent, empty, or holds only files orchsim writes: the only directories
/// an output may replace.
fn replaceable(dir: &Path) -> Result<bool> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => {
            return Err(Error::bad_input(format!(
                "cannot read output directory {}: {e}",
                dir.display()
            )))
        }
    };
    for e in entries {
        let e = e.map_err(|e| Error::bad_input(format!("{}: {e}", dir.display())))?;
        let is_file = e.file_type().is_ok_and(|t| t.is_file());
        let ours = Path::new(&e.file_name())
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| OUTPUT_EXTENSIONS.contains(&x));
        if !(is_file && ours) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Refuses an output directory that is, or would replace, one of the command's `inputs` (a
/// scenario file, a shard directory): replacing it would destroy what the command reads.
pub fn check_not_input(dir: &Path, inputs: &[&Path]) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::bad_input(format!(
            "--out {}: is a file, expected a directory (it would be replaced)",
            dir.display()
        )));
    }
    let Ok(out) = absolute(dir) else {
        return Ok(());
    };
    for input in inputs {
        let Ok(i) = absolute(input) else { continue };
        if i.starts_with(&out) || out == i {
            return Err(Error::bad_input(format!(
                "--out {}: holds the input {}, which writing the outputs would replace; choose another directory",
                dir.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

/// `p` with symbolic links resolved as far as the path exists (an output directory may not
/// exist yet).
fn absolute(p: &Path) -> std::io::Result<std::path::PathBuf> {
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

/// Writes `files` and, if there is one, the report page (with the scenario text `source`) as
/// the complete contents of `dir`.
///
/// Everything is written into a new directory beside `dir` first and renamed into place, so
/// a reader (or a run that dies mid-write) sees the previous complete set or the new one,
/// never a mix, and no file of an earlier run stays beside the new ones. A `dir` holding
/// anything but orchsim's output files is refused, not replaced.
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
    if !replaceable(dir)? {
        return Err(Error::bad_input(format!(
            "--out {}: holds files orchsim did not write (only .csv, .txt, .svg, .png and .html files are replaced); choose a new or empty directory",
            dir.display()
        )));
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| {
        Error::bad_input(format!(
            "cannot create output directory {}: {e}",
            parent.display()
        ))
    })?;
    // Beside the target, so the renames stay on one file system.
    let staging = parent.join(format!(".{name}.orchsim-new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let written = (|| -> Result<()> {
        std::fs::create_dir(&staging)
            .map_err(|e| Error::bad_input(format!("cannot create {}: {e}", staging.display())))?;
        for (file, bytes) in files {
            let path = staging.join(file);
            std::fs::write(&path, bytes)
                .map_err(|e| Error::bad_input(format!("cannot write {}: {e}", path.display())))?;
        }
        if let Some(r) = report {
            r.write(&staging, source)?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    let old = parent.join(format!(".{name}.orchsim-old-{}", std::process::id()));
    let had_old = dir.exists();
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(dir, &old)
            .map_err(|e| Error::bad_input(format!("cannot replace {}: {e}", dir.display())))?;
    }
    if let Err(e) = std::fs::rename(&staging, dir) {
        // Put the previous outputs back rather than leave nothing.
        if had_old {
            let _ = std::fs::rename(&old, dir);
        }
        let _ = std::fs::remove_dir_all(&staging);
        return Err(Error::bad_input(format!(
            "cannot move the outputs into {}: {e}",
            dir.display()
        )));
    }
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}

/// Writes `files` as the complete contents of `dir` (see [`write_with_report`]).
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
