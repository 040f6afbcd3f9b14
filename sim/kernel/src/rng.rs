//! Named random-number streams.
//!
//! Every component draws from its own stream, seeded by hashing `(master seed, stream name)`.
//! A new component therefore gets fresh numbers without shifting anybody else's, and a run is
//! reproducible from the master seed alone. The derivation below is part of the determinism
//! contract: changing it changes every digest.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The generator behind every stream. ChaCha8 is portable (same output on every platform),
/// seekable, and fast enough that drawing numbers never dominates a simulation.
pub type StreamRng = ChaCha8Rng;

const DERIVE_CONTEXT: &str = "orchsim 2026 rng stream v1";

/// Derives independent, named [`StreamRng`]s from one master seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RngStreams {
    master: u64,
}

impl RngStreams {
    pub fn new(master_seed: u64) -> Self {
        RngStreams {
            master: master_seed,
        }
    }

    pub fn master_seed(&self) -> u64 {
        self.master
    }

    /// The stream called `name`. Asking twice for the same name gives two generators that
    /// produce the same numbers; components must therefore use distinct names.
    pub fn stream(&self, name: &str) -> StreamRng {
        let mut material = Vec::with_capacity(8 + name.len());
        material.extend_from_slice(&self.master.to_le_bytes());
        material.extend_from_slice(name.as_bytes());
        StreamRng::from_seed(blake3::derive_key(DERIVE_CONTEXT, &material))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn same_seed_and_name_give_the_same_numbers() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = RngStreams::new(7).stream("arrivals");
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = RngStreams::new(7).stream("arrivals");
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
    }

    #[test]
    fn names_and_seeds_separate_streams() {
        let s = RngStreams::new(7);
        let x = s.stream("arrivals").next_u64();
        assert_ne!(x, s.stream("sizes").next_u64());
        assert_ne!(x, RngStreams::new(8).stream("arrivals").next_u64());
        // A name that extends another's bytes must not collide with a different seed's stream.
        assert_ne!(s.stream("a").next_u64(), s.stream("a\0").next_u64());
    }

    #[test]
    fn derivation_is_pinned() {
        // Guards the determinism contract: if this changes, every published digest changes.
        let v = RngStreams::new(42).stream("pinned").next_u64();
        assert_eq!(v, PINNED);
    }

    const PINNED: u64 = 4_999_516_347_327_672_669;
}
