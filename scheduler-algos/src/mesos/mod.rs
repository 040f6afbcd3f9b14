//! Two-level scheduling as Apache Mesos and Marathon do it: the master's allocator offers
//! whole agents' free resources to frameworks in Dominant Resource Fairness order, and each
//! framework places its own tasks on what it is offered.
//!
//! - [`drf`]: dominant shares, Mesos' DRF sorter and progressive filling;
//! - [`allocator`]: batch allocation, offers, filters with refusal timeouts, rescinding;
//! - [`marathon`]: Marathon's placement constraints and their validation.

pub mod allocator;
pub mod drf;
pub mod marathon;
