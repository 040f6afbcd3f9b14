//! Two-level scheduling as Apache Mesos and Marathon do it: the master's allocator offers
//! whole agents' free resources to frameworks in Dominant Resource Fairness order, and each
//! framework places its own tasks on what it is offered.
//!
//! - [`drf`]: dominant shares, Mesos' DRF sorter and progressive filling;
//! - [`allocator`]: batch allocation, offers, filters with refusal timeouts, rescinding;
//! - [`marathon`]: Marathon's placement constraints and their validation;
//! - [`placement`]: Marathon's placement (randomised first fit under the app's constraints)
//!   as an ordinary scheduler.

pub mod allocator;
pub mod drf;
pub mod marathon;
pub mod placement;
