//! Criterion benchmarks of orchsim's hot paths, and the workloads they drive.
//!
//! The benchmark targets live in `benches/benches/`; this library holds the synthetic models
//! they run, so tests can check the models do what the benchmarks claim to measure.

use orchsim_kernel::{Handler, Kernel, SimDuration, SimTime};

/// A model whose handler only reschedules the event it received: it measures the kernel's
/// queue and loop alone. Delays come from a 64-bit LCG (Knuth's MMIX constants), so the heap
/// sees realistic interleavings rather than a FIFO.
pub struct NoopChain {
    remaining: u64,
    lcg: u64,
}

impl NoopChain {
    pub fn new(events: u64) -> Self {
        NoopChain {
            remaining: events,
            lcg: 0x9E37_79B9_7F4A_7C15,
        }
    }
}

impl Handler<u32> for NoopChain {
    #[inline]
    fn handle(&mut self, k: &mut Kernel<u32>, ev: u32) {
        if self.remaining > 0 {
            self.remaining -= 1;
            self.lcg = self
                .lcg
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            // 1 ns to 1 µs ahead.
            k.schedule_in(SimDuration((self.lcg >> 54) + 1), ev);
        }
    }
}

/// Runs `events` no-op events with `in_flight` events always queued; returns events handled.
pub fn run_noop(in_flight: u32, events: u64) -> u64 {
    let mut k = Kernel::with_capacity(in_flight as usize);
    for i in 0..in_flight {
        k.schedule_at(SimTime(u64::from(i)), i);
    }
    let mut model = NoopChain::new(events.saturating_sub(u64::from(in_flight)));
    k.run(&mut model, SimTime::MAX).events
}

/// The embedded quickstart scenario, parsed.
pub fn quickstart() -> orchsim_sim::Scenario {
    orchsim_sim::parse(
        "quickstart.toml",
        include_str!("../../scenarios/quickstart.toml"),
    )
    .expect("the shipped quickstart scenario is valid")
}

#[cfg(test)]
mod tests {
    #[test]
    fn noop_chain_handles_exactly_the_requested_events() {
        assert_eq!(super::run_noop(100, 10_000), 10_000);
        assert_eq!(super::run_noop(1, 1), 1);
    }
}
