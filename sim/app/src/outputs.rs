//! Output directories and the CSV files orchsim reads back (shards, baselines).

use std::path::{Path, PathBuf};

use orchsim_report::{Cell, Table};

use crate::error::{Error, Result};

/// The file in an output directory that says what orchsim wrote there — its version, the
/// command line, the scenario's hash and each file with its hash — and so the only files a
/// later run into the same directory removes.
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
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
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

/// A content hash as the manifest records it.
pub fn content_hash(bytes: &[u8]) -> String {
    format!("blake3:{}", blake3::hash(bytes).to_hex())
}

/// What an output directory's manifest says: who wrote it, from what, and each file's hash.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// `orchsim <version>`.
    pub version: String,
    /// The command line that wrote the directory.
    pub command: String,
    /// The scenario's [`content_hash`], if the outputs came from one.
    pub scenario: Option<String>,
    /// (file name, content hash; empty in manifests older than hashes).
    pub files: Vec<(String, String)>,
}

impl Manifest {
    /// Reads `dir`'s manifest; `None` if it has none.
    pub fn read(dir: &Path) -> Result<Option<Manifest>> {
        let path = dir.join(MANIFEST);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::bad_input(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        let mut m = Manifest::default();
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("orchsim ") {
                m.version = v.to_string();
            } else if let Some(v) = line.strip_prefix("command ") {
                m.command = v.to_string();
            } else if let Some(v) = line.strip_prefix("scenario ") {
                m.scenario = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("file ") {
                let (hash, name) = v.split_once(' ').unwrap_or(("", v));
                m.files.push((name.to_string(), hash.to_string()));
            } else if !line.is_empty() && !line.starts_with('#') && !line.contains(' ') {
                // Manifests before hashes: one bare name per line.
                m.files.push((line.to_string(), String::new()));
            }
        }
        Ok(Some(m))
    }

    fn text(&self) -> String {
        let mut t = String::from(
            "# orchsim outputs: the files below are orchsim's, and a rerun into this directory replaces them\n",
        );
        t.push_str(&format!(
            "orchsim {}\ncommand {}\n",
            self.version, self.command
        ));
        if let Some(s) = &self.scenario {
            t.push_str(&format!("scenario {s}\n"));
        }
        for (name, hash) in &self.files {
            t.push_str(&format!("file {hash} {name}\n"));
        }
        t
    }

    /// Checks that `file` in `dir` is the one orchsim wrote: a file changed, truncated or
    /// written by another run since the manifest was is refused. Files of manifests older
    /// than hashes are not checked.
    pub fn verify(&self, dir: &Path, file: &str) -> Result<()> {
        let Some((_, hash)) = self.files.iter().find(|(n, _)| n == file) else {
            return Err(Error::bad_input(format!(
                "{}: not among the files orchsim wrote there ({})",
                dir.join(file).display(),
                MANIFEST
            )));
        };
        if hash.is_empty() {
            return Ok(());
        }
        let path = dir.join(file);
        let bytes = std::fs::read(&path)
            .map_err(|e| Error::bad_input(format!("cannot read {}: {e}", path.display())))?;
        if content_hash(&bytes) != *hash {
            return Err(Error::bad_input(format!(
                "{}: differs from what `{}` wrote (its hash in {MANIFEST}): the file was changed or truncated since, or another run wrote over part of the directory; rerun that command",
                path.display(),
                self.command
            )));
        }
        Ok(())
    }
}

/// The command line this process was started with, as the manifest records it.
fn command_line() -> String {
    let mut args = std::env::args();
    let _ = args.next();
    std::iter::once("orchsim".to_string())
        .chain(args.map(|a| {
            // One line in the manifest, whatever the argument holds.
            let a = a.replace('\n', "\\n").replace('\r', "\\r");
            if a.is_empty() || a.contains(char::is_whitespace) {
                format!("'{a}'")
            } else {
                a
            }
        }))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where an output directory keeps each run's files: `<dir>/.orchsim/run-…/`, with
/// `<dir>/.orchsim/current` a symbolic link to the run the directory shows. The names a user
/// reads (`summary.csv`, `.orchsim-outputs`, …) are links into `current`.
const STORE: &str = ".orchsim";

/// The manifest's name inside a run's directory.
const RUN_MANIFEST: &str = "manifest";

/// Writes `files` and, if there is one, the report page (with the scenario text `source`)
/// into `dir`.
///
/// Everything is written into a new run directory under `<dir>/.orchsim/`, with its manifest
/// ([`MANIFEST`]: the orchsim version, the command line, the scenario's hash and each file's
/// hash). Then one atomic step — renaming a new `current` link over the old one — switches the
/// directory from the previous run's files to the new ones: a run killed at any point leaves
/// either the previous complete set or the new complete set, never a mix. The names in `dir`
/// are links into `current`, created before the switch; names of the previous set that this
/// run does not write (a `report.html`, a `sweep-summary.csv`) are removed after it, so nothing
/// stale stays beside new outputs. A file orchsim did not write is never touched.
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
    let cannot = |e: &dyn std::fmt::Display| {
        Error::bad_input(format!("cannot write into {}: {e}", dir.display()))
    };
    let store = dir.join(STORE);
    std::fs::create_dir_all(&store).map_err(|e| {
        Error::bad_input(format!(
            "cannot create output directory {}: {e}",
            dir.display()
        ))
    })?;
    let current = store.join("current");
    let previous_run = std::fs::read_link(&current).ok();
    remove_abandoned_runs(&store, previous_run.as_deref());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let id = format!("run-{}-{nanos}", std::process::id());
    let run = store.join(&id);
    std::fs::create_dir(&run).map_err(|e| cannot(&e))?;
    let staged = (|| -> Result<Vec<(String, String)>> {
        let mut names = Vec::new();
        for (file, bytes) in files {
            std::fs::write(run.join(file), bytes).map_err(|e| cannot(&e))?;
            names.push(file.to_string());
        }
        if let Some(r) = report {
            r.write(&run, source)?;
            names.push("report.html".into());
            for c in &r.charts {
                names.extend([format!("{}.svg", c.name), format!("{}.png", c.name)]);
            }
        }
        // A name written twice is one file (the last write): list it once.
        let mut seen = std::collections::BTreeSet::new();
        names.retain(|n| seen.insert(n.clone()));
        let mut hashed = Vec::new();
        for name in names {
            let bytes = std::fs::read(run.join(&name)).map_err(|e| cannot(&e))?;
            hashed.push((name, content_hash(&bytes)));
        }
        let manifest = Manifest {
            version: env!("CARGO_PKG_VERSION").to_string(),
            command: command_line(),
            scenario: (!source.is_empty()).then(|| content_hash(source.as_bytes())),
            files: hashed.clone(),
        };
        std::fs::write(run.join(RUN_MANIFEST), manifest.text()).map_err(|e| cannot(&e))?;
        Ok(hashed)
    })();
    let files = match staged {
        Ok(f) => f,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&run);
            return Err(e);
        }
    };
    let previous = Manifest::read(dir).ok().flatten().unwrap_or_default();
    // 1. A link for every name of the new set, into `current`: before the switch it shows the
    //    previous run's file of that name, or nothing.
    let mut links: Vec<(String, String)> = files
        .iter()
        .map(|(n, _)| (n.clone(), format!("{STORE}/current/{n}")))
        .collect();
    links.push((MANIFEST.into(), format!("{STORE}/current/{RUN_MANIFEST}")));
    for (name, target) in &links {
        link(dir, name, target).map_err(|e| cannot(&e))?;
    }
    // 2. The switch: one rename.
    let switch = store.join(format!("current.{}", std::process::id()));
    let _ = std::fs::remove_file(&switch);
    std::os::unix::fs::symlink(&id, &switch)
        .and_then(|()| std::fs::rename(&switch, &current))
        .map_err(|e| cannot(&e))?;
    // 3. The previous set's names this run does not have, and its files.
    for (old, _) in &previous.files {
        // Only plain names orchsim wrote: never a path out of the directory.
        let plain = !old.contains('/') && !old.starts_with('.') && !old.is_empty();
        if plain && !files.iter().any(|(n, _)| n == old) {
            let _ = std::fs::remove_file(dir.join(old));
        }
    }
    if let Some(prev) = previous_run.filter(|p| p.as_os_str() != id.as_str()) {
        let _ = std::fs::remove_dir_all(store.join(prev));
    }
    Ok(())
}

/// Makes `dir/name` a symbolic link to `target` (relative to `dir`), replacing what was there
/// in one rename.
fn link(dir: &Path, name: &str, target: &str) -> std::io::Result<()> {
    let path = dir.join(name);
    if std::fs::read_link(&path).is_ok_and(|t| t == Path::new(target)) {
        return Ok(());
    }
    let tmp = dir.join(format!(".{name}.orchsim-link-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, &path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Removes run directories and switch links left by runs that died (their process is gone),
/// never the run `current` shows.
fn remove_abandoned_runs(store: &Path, current: Option<&Path>) {
    let Ok(entries) = std::fs::read_dir(store) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if current.is_some_and(|c| c.as_os_str() == name.as_str()) {
            continue;
        }
        let pid = name
            .strip_prefix("run-")
            .and_then(|r| r.split('-').next())
            .or_else(|| name.strip_prefix("current."));
        let Some(pid) = pid else { continue };
        let alive = pid
            .parse::<u32>()
            .is_ok_and(|p| Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ = match e.file_type() {
                Ok(t) if t.is_dir() => std::fs::remove_dir_all(e.path()),
                _ => std::fs::remove_file(e.path()),
            };
        }
    }
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

/// Reads a CSV written by orchsim into a table of text cells, first checking it against its
/// directory's manifest when it has one (a file changed, truncated or overwritten since is
/// refused).
pub fn read_table(path: &Path) -> Result<Table> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    if let (Some(m), Some(name)) = (Manifest::read(dir)?, path.file_name()) {
        let name = name.to_string_lossy();
        if m.files.iter().any(|(n, _)| *n == name) {
            m.verify(dir, &name)?;
        }
    }
    read_table_unchecked(path)
}

fn read_table_unchecked(path: &Path) -> Result<Table> {
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
