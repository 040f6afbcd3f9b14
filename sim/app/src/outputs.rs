//! Output directories and the CSV files orchsim reads back (shards, baselines).

use std::path::Path;

use orchsim_report::{Cell, Table};

use crate::error::{Error, Result};

/// Creates `dir` and writes each `(file name, bytes)` into it.
pub fn write_files(dir: &Path, files: &[(&str, Vec<u8>)]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::bad_input(format!(
            "cannot create output directory {}: {e}",
            dir.display()
        ))
    })?;
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::write(&path, bytes)
            .map_err(|e| Error::bad_input(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}

/// Writes `files` and, if there is one, the report page (with the scenario text `source`)
/// into `dir`.
pub fn write_with_report(
    dir: &Path,
    files: &[(&str, Vec<u8>)],
    report: Option<&crate::run::Report>,
    source: &str,
) -> Result<()> {
    write_files(dir, files)?;
    if let Some(r) = report {
        r.write(dir, source)?;
    }
    Ok(())
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
