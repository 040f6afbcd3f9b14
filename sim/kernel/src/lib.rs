//! The discrete-event kernel of orchsim, and nothing else.
//!
//! It knows no domain: no hosts, pods or packets. It provides what every simulator in the
//! project shares so that they obey one event-order discipline (DESIGN.md §3):
//!
//! - [`SimTime`] / [`SimDuration`]: integer nanoseconds; there is no floating-point time here;
//! - [`Kernel`]: an event queue ordered by `(time, insertion sequence)` and a run loop that
//!   stops at `until` or when the queue drains;
//! - [`RngStreams`]: one `rand_chacha` stream per component, derived from `(master seed, name)`,
//!   so adding a component never shifts another component's numbers;
//! - [`Digest`]: a stable hash over the ordered event log, printed at the end of every run.

mod digest;
mod heap;
mod queue;
mod rng;
mod time;

pub use digest::Digest;
pub use queue::{Handler, Kernel, RunOutcome, StopReason};
pub use rng::{RngStreams, StreamRng};
pub use time::{SimDuration, SimTime};
