//! The event queue and run loop.
//!
//! Events are ordered by `(time, seq)` where `seq` is assigned at insertion, so two events at the
//! same instant are handled in the order they were scheduled, on every machine and every run.
//! Both halves are packed into one `u128` key so that a heap comparison is a single integer
//! compare (this is the kernel's hot path; see `benches/benches/kernel.rs`), in the 4-ary
//! heap of `heap.rs`.

use crate::heap::QuadHeap;
use crate::time::{SimDuration, SimTime};

/// What a model implements: it receives each event in `(time, seq)` order and may schedule more.
pub trait Handler<E> {
    fn handle(&mut self, kernel: &mut Kernel<E>, event: E);
}

/// Why [`Kernel::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The next event lies after `until`; the clock was advanced to `until`.
    Until,
    /// No events were left.
    Drained,
    /// A handler called [`Kernel::stop`].
    Stopped,
}

/// The result of one call to [`Kernel::run`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    pub reason: StopReason,
    /// Events handled during this call.
    pub events: u64,
    /// The clock when the call returned.
    pub end: SimTime,
}

/// The discrete-event kernel: a clock and a `(time, seq)`-ordered queue of events of type `E`.
pub struct Kernel<E> {
    now: SimTime,
    heap: QuadHeap<E>,
    next_seq: u64,
    processed: u64,
    stop_requested: bool,
}

impl<E> Default for Kernel<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Kernel<E> {
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Kernel {
            now: SimTime::ZERO,
            heap: QuadHeap::with_capacity(capacity),
            next_seq: 0,
            processed: 0,
            stop_requested: false,
        }
    }

    /// The current simulated time.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at absolute time `at` and returns its sequence number.
    ///
    /// # Panics
    /// If `at` is earlier than [`Kernel::now`]: time never goes backwards, and a model that asks
    /// for it has a bug (this is never reachable from user input, which is validated upstream).
    #[inline]
    pub fn schedule_at(&mut self, at: SimTime, event: E) -> u64 {
        assert!(
            at >= self.now,
            "event scheduled in the past: at {at}, now {}",
            self.now
        );
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap
            .push(((at.as_nanos() as u128) << 64) | seq as u128, event);
        seq
    }

    /// Schedules `event` after `delay` from now.
    #[inline]
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) -> u64 {
        self.schedule_at(self.now + delay, event)
    }

    /// Events waiting in the queue.
    pub fn pending(&self) -> usize {
        self.heap.len()
    }

    /// Events handled since the kernel was created.
    pub fn processed(&self) -> u64 {
        self.processed
    }

    /// The time of the next event, if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap
            .peek_key()
            .map(|key| SimTime::from_nanos((key >> 64) as u64))
    }

    /// Asks the run loop to return after the current event.
    pub fn stop(&mut self) {
        self.stop_requested = true;
    }

    /// Handles events in `(time, seq)` order until the next one lies after `until`, the queue is
    /// empty, or a handler calls [`Kernel::stop`]. Events at exactly `until` are handled.
    pub fn run<H: Handler<E>>(&mut self, handler: &mut H, until: SimTime) -> RunOutcome {
        self.stop_requested = false;
        let until_key = ((until.as_nanos() as u128) << 64) | u64::MAX as u128;
        let mut events = 0u64;
        let reason = loop {
            match self.heap.peek_key() {
                None => break StopReason::Drained,
                Some(key) if key > until_key => {
                    self.now = self.now.max(until);
                    break StopReason::Until;
                }
                Some(_) => {}
            }
            let Some((key, event)) = self.heap.pop() else {
                break StopReason::Drained;
            };
            self.now = SimTime::from_nanos((key >> 64) as u64);
            self.processed += 1;
            events += 1;
            handler.handle(self, event);
            if self.stop_requested {
                break StopReason::Stopped;
            }
        };
        RunOutcome {
            reason,
            events,
            end: self.now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Records `(time, payload)` of every handled event.
    struct Recorder(Vec<(SimTime, u32)>);
    impl Handler<u32> for Recorder {
        fn handle(&mut self, k: &mut Kernel<u32>, ev: u32) {
            self.0.push((k.now(), ev));
        }
    }

    #[test]
    fn same_time_events_run_in_insertion_order() {
        let mut k = Kernel::new();
        k.schedule_at(SimTime::from_nanos(10), 1);
        k.schedule_at(SimTime::from_nanos(5), 2);
        k.schedule_at(SimTime::from_nanos(10), 3);
        k.schedule_at(SimTime::from_nanos(5), 4);
        let mut r = Recorder(vec![]);
        let out = k.run(&mut r, SimTime::MAX);
        assert_eq!(out.reason, StopReason::Drained);
        let order: Vec<u32> = r.0.iter().map(|x| x.1).collect();
        assert_eq!(order, vec![2, 4, 1, 3]);
    }

    #[test]
    fn run_stops_at_until_and_handles_events_at_until() {
        let mut k = Kernel::new();
        for t in [1, 5, 6, 9] {
            k.schedule_at(SimTime::from_nanos(t), t as u32);
        }
        let mut r = Recorder(vec![]);
        let out = k.run(&mut r, SimTime::from_nanos(6));
        assert_eq!(out.reason, StopReason::Until);
        assert_eq!(out.end, SimTime::from_nanos(6));
        assert_eq!(out.events, 3);
        assert_eq!(k.pending(), 1);
        assert_eq!(k.peek_time(), Some(SimTime::from_nanos(9)));
        // Resuming continues where it left off.
        let out = k.run(&mut r, SimTime::from_nanos(100));
        assert_eq!(out.reason, StopReason::Drained);
        assert_eq!(out.end, SimTime::from_nanos(9));
    }

    #[test]
    fn until_advances_the_clock_even_without_events() {
        let mut k: Kernel<u32> = Kernel::new();
        k.schedule_at(SimTime::from_nanos(50), 0);
        let out = k.run(&mut Recorder(vec![]), SimTime::from_nanos(20));
        assert_eq!(
            (out.reason, out.end),
            (StopReason::Until, SimTime::from_nanos(20))
        );
    }

    struct Stopper;
    impl Handler<u32> for Stopper {
        fn handle(&mut self, k: &mut Kernel<u32>, ev: u32) {
            if ev == 2 {
                k.stop();
            }
        }
    }

    #[test]
    fn a_handler_can_stop_the_run() {
        let mut k = Kernel::new();
        for i in 0..5 {
            k.schedule_at(SimTime::from_nanos(i), i as u32);
        }
        let out = k.run(&mut Stopper, SimTime::MAX);
        assert_eq!(out.reason, StopReason::Stopped);
        assert_eq!(out.events, 3);
        assert_eq!(k.pending(), 2);
    }

    #[test]
    #[should_panic(expected = "event scheduled in the past")]
    fn scheduling_in_the_past_is_a_bug() {
        let mut k = Kernel::new();
        k.schedule_at(SimTime::from_nanos(10), 0u32);
        k.run(&mut Recorder(vec![]), SimTime::MAX);
        k.schedule_at(SimTime::from_nanos(3), 1);
    }

    /// Handler that, for each event, schedules children at random offsets (given up front).
    struct Spawner {
        seen: Vec<(SimTime, u32)>,
        delays: Vec<u64>,
        next: usize,
    }
    impl Handler<u32> for Spawner {
        fn handle(&mut self, k: &mut Kernel<u32>, ev: u32) {
            self.seen.push((k.now(), ev));
            if self.next < self.delays.len() {
                let d = self.delays[self.next];
                self.next += 1;
                k.schedule_in(SimDuration(d), self.next as u32);
            }
        }
    }

    proptest! {
        /// Time never goes backwards, every scheduled event is handled exactly once, and events
        /// at the same time come out in insertion order.
        #[test]
        fn order_is_time_then_insertion(
            initial in proptest::collection::vec(0u64..1000, 1..50),
            delays in proptest::collection::vec(0u64..50, 0..200),
        ) {
            let mut k = Kernel::new();
            for (i, t) in initial.iter().enumerate() {
                k.schedule_at(SimTime::from_nanos(*t), 10_000 + i as u32);
            }
            let mut h = Spawner { seen: vec![], delays: delays.clone(), next: 0 };
            k.run(&mut h, SimTime::MAX);
            prop_assert_eq!(h.seen.len(), initial.len() + delays.len());
            for w in h.seen.windows(2) {
                prop_assert!(w[0].0 <= w[1].0, "time went backwards: {:?}", w);
            }
            // Initial events with equal times keep their insertion order.
            let firsts: Vec<u32> = h.seen.iter().map(|x| x.1).filter(|&e| e >= 10_000).collect();
            for w in firsts.windows(2) {
                let (a, b) = ((w[0] - 10_000) as usize, (w[1] - 10_000) as usize);
                prop_assert!(initial[a] < initial[b] || (initial[a] == initial[b] && a < b));
            }
        }
    }
}
