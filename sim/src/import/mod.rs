//! Workload importers: production traces read as streams into machines and tasks, and a
//! Kubernetes cluster with what happens to it next, with what was skipped and where. Each format is a module; they share the summary and the error.

pub mod alibaba_2018;
pub mod borg;
pub mod google_2011;
pub mod google_2019;
pub mod kubernetes;
mod lines;
pub mod manifests;
pub mod marathon;
pub mod swarm;

pub use lines::Input;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// A record that could not be read, or was read and not kept.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Skip {
    pub file: String,
    /// 1-based.
    pub line: u64,
    pub reason: String,
}

/// Skipped records listed in full in the summary; the rest are counted by reason.
const SKIPS_LISTED: usize = 20;

/// What an import read and kept.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub format: String,
    /// Records (lines) read, skipped ones included.
    pub records: u64,
    pub machines: u64,
    pub jobs: u64,
    pub tasks: u64,
    /// Arrivals of the first and last task kept, s from the window's start.
    pub first_arrival_s: f64,
    pub last_arrival_s: f64,
    /// Records skipped, and tasks or machines read but not kept, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// The first skipped records, where they are.
    pub examples: Vec<Skip>,
}

impl Summary {
    /// Counts one skip; lists it if it is among the first.
    pub(crate) fn skip(&mut self, file: &str, line: u64, kind: &str, detail: String) {
        *self.skipped.entry(kind.to_string()).or_default() += 1;
        if self.examples.len() < SKIPS_LISTED {
            self.examples.push(Skip {
                file: file.to_string(),
                line,
                reason: detail,
            });
        }
    }

    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }
}

/// Checks the window and sampling options every importer takes.
pub(crate) fn check_window(
    from_s: f64,
    to_s: Option<f64>,
    every_kth_job: u64,
) -> Result<(), ImportError> {
    let bad = |m: String| Err(ImportError::Options(m));
    if !(from_s.is_finite() && from_s >= 0.0) {
        return bad(format!(
            "from: expected seconds from the trace's start (0 or more), found {from_s}"
        ));
    }
    if let Some(to) = to_s {
        if !(to.is_finite() && to > from_s) {
            return bad(format!(
                "to: expected a time after from ({from_s} s), found {to}"
            ));
        }
    }
    if every_kth_job == 0 || every_kth_job > i64::MAX as u64 {
        return bad(format!(
            "every k-th job: expected 1 to {}, found {every_kth_job}",
            i64::MAX
        ));
    }
    Ok(())
}

/// Why an import stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum ImportError {
    /// A malformed record (with `strict`, or where nothing can be read past it).
    Malformed {
        file: String,
        line: u64,
        column: u64,
        field: String,
        message: String,
    },
    /// A file that cannot be read.
    Io { file: String, message: String },
    /// A YAML object that cannot be read (the message names the document, object and
    /// field, and the line where YAML itself failed).
    Object { file: String, message: String },
    /// Options that make no sense.
    Options(String),
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::Malformed {
                file,
                line,
                column,
                field,
                message,
            } => write!(f, "{file}:{line}:{column}: {field}: {message}"),
            ImportError::Io { file, message } | ImportError::Object { file, message } => {
                write!(f, "{file}: {message}")
            }
            ImportError::Options(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ImportError {}
