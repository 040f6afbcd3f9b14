//! orchsim's application layer: what every front-end (the CLI, live mode, a library user)
//! calls. It loads any scenario — a file or an embedded one, a simulation or a study — runs
//! it, and returns its output files, the view a person or a program reads (one renderer for
//! text, JSON and CSV), its digest and its report; it searches capacity plans, runs sweeps and
//! explains placements. Errors are typed ([`Error`] with its [`ErrorKind`]), so a front-end
//! decides exit statuses without reading messages.
//!
//! ```no_run
//! use orchsim_app::{run, Format, RunOptions, Source};
//!
//! let source = Source::resolve(Some("quickstart"))?;
//! let outcome = run::run(&source, &RunOptions::default(), &|_| {})?;
//! outcome.write(&outcome.default_dir())?;
//! orchsim_app::render::print(&outcome.view(&outcome.default_dir()), Format::Table)?;
//! # Ok::<(), orchsim_app::Error>(())
//! ```

pub mod agent;
pub mod architectures;
pub mod bench;
pub mod catalog;
pub mod characterize;
pub mod compare;
pub mod error;
pub mod explain;
pub mod fit;
pub mod gpu_study;
pub mod import;
pub mod journal;
pub mod live;
pub mod live_run;
pub mod net;
pub mod net_policy;
pub mod outputs;
pub mod plan;
pub mod render;
pub mod run;
pub mod simulation;
pub mod source;
pub mod sweep;

pub use error::{Error, ErrorKind, Result};
pub use render::{Format, View};
pub use run::{Outcome, Progress, RunOptions};
pub use source::{Kind, Source};
