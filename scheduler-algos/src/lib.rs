//! Placement algorithms over a read-only cluster view: the "real scheduler crate".
//!
//! The same code decides in the simulator and (later) in live mode, so this crate knows nothing
//! of either: no clock, no I/O, no randomness it does not own. A [`Scheduler`] reads a
//! [`ClusterView`] and returns a [`Decision`] plus a deterministic [`WorkCount`] that the caller
//! turns into decision latency through its own cost model.
//!
//! Algorithms are looked up by name with [`by_name`]; an unknown name is an error listing the
//! valid ones.

mod algorithms;
mod model;

pub use algorithms::{by_name, FirstFit, UnknownAlgorithm, ALGORITHMS};
pub use model::{
    ClusterView, Decision, NodeId, NodeInfo, Outcome, PodSpec, Resource, Resources, Scheduler,
    Unschedulable, WorkCount,
};
