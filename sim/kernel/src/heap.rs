//! The event queue's priority queue: a 4-ary min-heap on `u128` keys, keys and events in
//! separate arrays.
//!
//! With tens of thousands of events in flight the queue's cost is cache misses. A 4-ary heap
//! is half as deep as a binary one, and with the keys apart from the events the four children
//! compared at each level lie in one or two cache lines; the events move only along the one
//! path a push or pop walks. Keys are unique (the kernel's `(time, seq)`), so the pop order is
//! the key order whatever the heap's shape: a change of heap changes no result.

/// A min-heap of `(key, event)`; see the module documentation.
#[derive(Debug)]
pub(crate) struct QuadHeap<E> {
    keys: Vec<u128>,
    events: Vec<E>,
}

const ARITY: usize = 4;

impl<E> QuadHeap<E> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        QuadHeap {
            keys: Vec::with_capacity(capacity),
            events: Vec::with_capacity(capacity),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The smallest key, if any.
    pub(crate) fn peek_key(&self) -> Option<u128> {
        self.keys.first().copied()
    }

    pub(crate) fn push(&mut self, key: u128, event: E) {
        self.keys.push(key);
        self.events.push(event);
        // The new key rises through a hole; the events follow the same path.
        let keys = &mut self.keys[..];
        let mut i = keys.len() - 1;
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if keys[parent] <= key {
                break;
            }
            keys[i] = keys[parent];
            self.events.swap(i, parent);
            i = parent;
        }
        keys[i] = key;
    }

    /// Takes out the entry with the smallest key.
    pub(crate) fn pop(&mut self) -> Option<(u128, E)> {
        let last = self.keys.len().checked_sub(1)?;
        self.keys.swap(0, last);
        self.events.swap(0, last);
        let key = self.keys.pop()?;
        let event = self.events.pop()?;
        self.sift_down();
        Some((key, event))
    }

    /// Moves the root's entry down to where its key belongs.
    fn sift_down(&mut self) {
        let keys = &mut self.keys[..];
        let len = keys.len();
        let Some(&moving) = keys.first() else {
            return;
        };
        let mut i = 0;
        loop {
            let first = ARITY * i + 1;
            let (child, child_key) = if let Some(group) = keys.get(first..first + ARITY) {
                // A full group, the common case: four compares, no loop.
                let (mut m, mut mk) = (0, group[0]);
                for (c, &k) in group.iter().enumerate().skip(1) {
                    if k < mk {
                        (m, mk) = (c, k);
                    }
                }
                (first + m, mk)
            } else if first < len {
                let (mut m, mut mk) = (first, keys[first]);
                for (c, &k) in keys.iter().enumerate().skip(first + 1) {
                    if k < mk {
                        (m, mk) = (c, k);
                    }
                }
                (m, mk)
            } else {
                break;
            };
            if child_key >= moving {
                break;
            }
            keys[i] = child_key;
            self.events.swap(i, child);
            i = child;
        }
        keys[i] = moving;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Pops come out in key order, each with its own event, under any interleaving of
        /// pushes and pops.
        #[test]
        fn pops_in_key_order(ops in proptest::collection::vec(proptest::option::of(any::<u32>()), 0..400)) {
            let mut heap = QuadHeap::with_capacity(0);
            let mut model = std::collections::BTreeMap::new();
            for (seq, op) in ops.into_iter().enumerate() {
                match op {
                    // Unique keys, as the kernel's are: a time and a sequence number.
                    Some(t) => {
                        let key = (u128::from(t) << 64) | seq as u128;
                        heap.push(key, seq);
                        model.insert(key, seq);
                    }
                    None => prop_assert_eq!(heap.pop(), model.pop_first()),
                }
                prop_assert_eq!(heap.len(), model.len());
                prop_assert_eq!(heap.peek_key(), model.keys().next().copied());
            }
            while let Some(e) = model.pop_first() {
                prop_assert_eq!(heap.pop(), Some(e));
            }
            prop_assert_eq!(heap.pop(), None);
        }
    }
}
