//! Placement algorithms over a read-only cluster view: the "real scheduler crate".
//!
//! The same code decides in the simulator and (later) in live mode, so this crate knows nothing
//! of either: no clock, no I/O. A [`Scheduler`] reads a [`ClusterView`] and returns a
//! [`Decision`] plus a deterministic [`WorkCount`] that the caller turns into decision latency
//! through its own cost model. Randomness (tie-breaking) comes from a seed the caller passes.
//!
//! - [`binpack`]: first-fit, best-fit, worst-fit and the Tetris-style dot-product scorer;
//! - [`kube`]: the Kubernetes scheduling framework with the default plugins and profiles;
//! - [`swarm`]: Docker Swarm constraints and spread;
//! - [`labels`]: Kubernetes label, selector, taint and toleration semantics;
//! - [`devices`]: GPUs as devices on nodes, what pods ask of them, the overcommit check;
//! - [`gpu`]: GPU devices (shared and whole) and the policies of the ATC'23 GPU fragmentation study;
//! - [`mesos`]: the Mesos allocator (DRF, offers, filters) and Marathon's placement constraints.
//!
//! Algorithms are looked up by name with [`by_name`]; an unknown name is an error listing the
//! valid ones.

mod algorithms;
pub mod binpack;
mod cluster;
pub mod devices;
pub mod gpu;
pub mod kube;
pub mod labels;
pub mod mesos;
mod model;
pub mod swarm;

pub use algorithms::{by_name, UnknownAlgorithm, ALGORITHMS};
pub use binpack::FirstFit;
pub use cluster::{AntiAffinityEntry, Cluster, ClusterIndex};
pub use devices::{DeviceMisfit, DeviceSet, GpuDemand, Overcommit, MILLI_PER_GPU};
pub use model::*;
