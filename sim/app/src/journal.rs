//! The sweep journal: every finished run's rows, appended to a file in the output directory as
//! the run finishes, so that an interrupted sweep (Ctrl-C, SIGKILL, a node lost mid-job) can
//! be resumed with `--resume` without recomputing the runs it finished.
//!
//! One JSON object per line: first the sweep's identity, then one line per run (its index, its
//! columns, its rows as the CSV text they become, or why it failed). Each line goes to the file
//! in one `write` of a whole line; a process killed mid-line leaves a last line that does not
//! parse, which resuming drops (that run is simply run again). The outputs are assembled from
//! these lines whether or not the sweep was interrupted, so a resumed sweep writes exactly the
//! bytes an uninterrupted one does.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use orchsim_report::{Cell, Table};
use serde_json::{json, Value};

use crate::error::{Error, Result};

/// The journal's file name in the output directory.
pub const JOURNAL: &str = ".orchsim-sweep-journal";

/// One finished run: its table (a sweep row, or a study's rows) as text, or its failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub run: usize,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub error: Option<String>,
}

impl Entry {
    /// `table`'s rows as the text CSV will hold.
    pub fn new(run: usize, table: &Table, error: Option<String>) -> Entry {
        Entry {
            run,
            columns: table.columns.clone(),
            rows: table
                .rows
                .iter()
                .map(|r| r.iter().map(Cell::text).collect())
                .collect(),
            error,
        }
    }

    /// The rows as table cells (empty text is an empty cell, as when read back from CSV).
    pub fn cells(&self) -> Vec<Vec<Cell>> {
        self.rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|c| {
                        if c.is_empty() {
                            Cell::Empty
                        } else {
                            Cell::Str(c.clone())
                        }
                    })
                    .collect()
            })
            .collect()
    }

    fn json(&self) -> Value {
        json!({"run": self.run, "columns": self.columns, "rows": self.rows, "error": self.error})
    }

    fn from_json(v: &Value) -> Option<Entry> {
        let strings = |v: &Value| -> Option<Vec<String>> {
            v.as_array()?
                .iter()
                .map(|s| s.as_str().map(String::from))
                .collect()
        };
        Some(Entry {
            run: usize::try_from(v.get("run")?.as_u64()?).ok()?,
            columns: strings(v.get("columns")?)?,
            rows: v
                .get("rows")?
                .as_array()?
                .iter()
                .map(strings)
                .collect::<Option<_>>()?,
            error: match v.get("error")? {
                Value::Null => None,
                e => Some(e.as_str()?.to_string()),
            },
        })
    }
}

/// An open journal, appended to from the worker threads.
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
}

impl Journal {
    /// Starts the journal of the sweep `identity` in `dir`; with `resume`, keeps the runs an
    /// earlier start of the same sweep finished and returns them. A journal of another sweep
    /// is refused (the outputs would mix two sweeps); without `resume` any journal is
    /// replaced.
    pub fn open(dir: &Path, identity: &str, resume: bool) -> Result<(Journal, Vec<Entry>)> {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::bad_input(format!(
                "cannot create output directory {}: {e}",
                dir.display()
            ))
        })?;
        let path = dir.join(JOURNAL);
        let finished = if resume {
            Self::read(&path, identity)?
        } else {
            Vec::new()
        };
        // Rewritten whole, without a torn last line, before anything is appended to it.
        let mut text = json!({ "sweep": identity }).to_string();
        text.push('\n');
        for e in &finished {
            text.push_str(&e.json().to_string());
            text.push('\n');
        }
        crate::outputs::write_atomically(&path, text.as_bytes())?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| Error::bad_input(format!("cannot open {}: {e}", path.display())))?;
        Ok((
            Journal {
                path,
                file: Mutex::new(file),
            },
            finished,
        ))
    }

    /// The runs a journal at `path` holds, if it is the journal of `identity`.
    fn read(path: &Path, identity: &str) -> Result<Vec<Entry>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            // Nothing to resume: the sweep starts from its first run.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::bad_input(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        let lines: Vec<&str> = text.lines().collect();
        let header = lines
            .first()
            .and_then(|l| serde_json::from_str::<Value>(l).ok());
        let theirs = header
            .as_ref()
            .and_then(|h| h.get("sweep")?.as_str().map(String::from));
        match theirs {
            Some(t) if t == identity => {}
            Some(t) => {
                return Err(Error::bad_input(format!(
                    "--resume: {} is the journal of another sweep (`{t}`, not `{identity}`); run without --resume to start this one over, or give another --out",
                    path.display()
                )))
            }
            None => {
                return Err(Error::bad_input(format!(
                    "--resume: {}:1: expected a sweep journal's first line; run without --resume to start over",
                    path.display()
                )))
            }
        }
        let mut finished: BTreeMap<usize, Entry> = BTreeMap::new();
        // A line torn by a kill can only be the last one, and only if the file does not end
        // with a newline; anything else unreadable was changed by someone else.
        let complete = text.ends_with('\n');
        for (i, line) in lines.iter().enumerate().skip(1) {
            let entry = serde_json::from_str::<Value>(line)
                .ok()
                .and_then(|v| Entry::from_json(&v));
            match entry {
                Some(e) => {
                    finished.insert(e.run, e);
                }
                None if i + 1 == lines.len() && !complete => {}
                None => {
                    return Err(Error::bad_input(format!(
                        "--resume: {}:{}: expected a finished run's record; the journal was changed, so run without --resume to start over",
                        path.display(),
                        i + 1
                    )))
                }
            }
        }
        Ok(finished.into_values().collect())
    }

    /// Appends a finished run: one whole line in one write.
    pub fn record(&self, entry: &Entry) -> Result<()> {
        let mut line = entry.json().to_string();
        line.push('\n');
        let mut f = self
            .file
            .lock()
            .map_err(|_| Error::internal("a sweep worker panicked while writing the journal"))?;
        f.write_all(line.as_bytes())
            .map_err(|e| Error::bad_input(format!("cannot write {}: {e}", self.path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(run: usize) -> Entry {
        Entry {
            run,
            columns: vec!["run".into(), "x".into()],
            rows: vec![vec![run.to_string(), "a,b \"q\"".into()]],
            error: (run == 2).then(|| "it failed".into()),
        }
    }

    #[test]
    fn finished_runs_survive_a_torn_last_line_and_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (j, none) = Journal::open(dir.path(), "sweep A", true).unwrap();
        assert!(none.is_empty());
        for r in [3, 0, 2] {
            j.record(&entry(r)).unwrap();
        }
        drop(j);
        // A kill in the middle of the next line.
        let path = dir.path().join(JOURNAL);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"run\": 1, \"colu").unwrap();
        let (j, done) = Journal::open(dir.path(), "sweep A", true).unwrap();
        assert_eq!(done, vec![entry(0), entry(2), entry(3)]);
        j.record(&entry(1)).unwrap();
        let (_, done) = Journal::open(dir.path(), "sweep A", true).unwrap();
        assert_eq!(done.len(), 4);
        // Without --resume, it starts over.
        let (_, done) = Journal::open(dir.path(), "sweep A", false).unwrap();
        assert!(done.is_empty());
    }

    #[test]
    fn another_sweeps_journal_or_a_changed_line_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _) = Journal::open(dir.path(), "sweep A", false).unwrap();
        j.record(&entry(0)).unwrap();
        j.record(&entry(1)).unwrap();
        drop(j);
        let e = Journal::open(dir.path(), "sweep B", true).err().unwrap();
        assert!(e.message.contains("journal of another sweep"), "{e}");
        let path = dir.path().join(JOURNAL);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("\"run\":0", "\"run\":\"zero\"", 1)).unwrap();
        let e = Journal::open(dir.path(), "sweep A", true).err().unwrap();
        assert!(e.message.contains(":2: expected a finished run"), "{e}");
    }
}
