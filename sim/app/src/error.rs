//! The application layer's error: what went wrong, said so a person can act on it, and which
//! kind of failure it is, which decides the exit status a front-end reports.

use std::fmt;

/// Which kind of failure an [`Error`] is. The CLI maps each to its documented exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A scenario, file or argument that cannot be used (exit 2).
    BadInput,
    /// orchsim found an inconsistency in its own results, such as a failed end-of-run audit:
    /// a bug, not the user's input (exit 1).
    Internal,
    /// The reader of the output went away (`orchsim … | head -1`): not a failure, the reader
    /// has what it wanted (exit 0, nothing printed).
    BrokenPipe,
}

/// A failure of a command, with its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    /// Input the user can fix.
    pub fn bad_input(message: impl fmt::Display) -> Self {
        Error {
            kind: ErrorKind::BadInput,
            message: message.to_string(),
        }
    }

    /// An inconsistency orchsim found in its own results.
    pub fn internal(message: impl fmt::Display) -> Self {
        Error {
            kind: ErrorKind::Internal,
            message: format!("{message} (a bug in orchsim; please report it with the scenario)"),
        }
    }

    /// The same error with `context: ` before its message.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Error {
                kind: ErrorKind::BrokenPipe,
                message: "broken pipe".into(),
            };
        }
        Error::bad_input(e)
    }
}

/// A table row of the wrong width is orchsim's own mistake.
impl From<orchsim_report::RowWidthError> for Error {
    fn from(e: orchsim_report::RowWidthError) -> Self {
        Error::internal(e)
    }
}

/// Formatting into a `String` fails only if a `Display` implementation of ours does.
impl From<std::fmt::Error> for Error {
    fn from(e: std::fmt::Error) -> Self {
        Error::internal(e)
    }
}

/// The libraries' errors are all the user's input (a scenario, a file, an argument): each
/// becomes a [`ErrorKind::BadInput`] with its own message, which already names what it
/// needs to (file, line, column, field).
macro_rules! bad_input_from {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::bad_input(e)
            }
        }
    )*};
}

bad_input_from!(
    orchsim_sim::ScenarioError,
    orchsim_sim::sweep::SweepError,
    orchsim_sim::plan::PlanError,
    orchsim_sim::RunError,
    orchsim_sched::UnknownAlgorithm,
    orchsim_sched::gpu::policy::UnknownPolicy,
    orchsim_sched::kube::config::ConfigError,
    orchsim_sched::kube::objects::ObjectError,
    orchsim_net::DatapathError,
    orchsim_net::flow::FlowError,
    orchsim_net::profile::ProfileError,
    orchsim_report::charts::ChartError,
    orchsim_report::compare::CompareError,
    serde_json::Error,
    toml::de::Error,
    rayon::ThreadPoolBuildError,
);

/// A result whose error is the application layer's.
pub type Result<T, E = Error> = std::result::Result<T, E>;
