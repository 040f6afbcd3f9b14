//! The run digest: a stable hash over the ordered event log.
//!
//! Models feed one fixed-layout record per handled event (time, a kind tag, and a few integer
//! fields). Only integers go in, in little-endian order, so the digest is identical on every
//! machine. BLAKE3 is used for speed; the digest is truncated to 128 bits for display.

use crate::time::SimTime;

/// Accumulates event records into a 128-bit hex digest.
#[derive(Clone)]
pub struct Digest {
    hasher: blake3::Hasher,
    buf: Vec<u8>,
    records: u64,
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Digest({} records, {})", self.records(), self.hex())
    }
}

/// Buffer size before handing bytes to BLAKE3, which is much faster on large inputs.
const FLUSH_BYTES: usize = 16 * 1024;

impl Default for Digest {
    fn default() -> Self {
        Self::new()
    }
}

impl Digest {
    pub fn new() -> Self {
        Digest {
            hasher: blake3::Hasher::new(),
            buf: Vec::with_capacity(FLUSH_BYTES + 256),
            records: 0,
        }
    }

    /// Adds one event record: its time, a model-defined kind tag, and its integer fields.
    #[inline]
    pub fn record(&mut self, time: SimTime, kind: u8, fields: &[u64]) {
        self.buf.extend_from_slice(&time.as_nanos().to_le_bytes());
        self.buf.push(kind);
        self.buf.push(fields.len() as u8);
        for f in fields {
            self.buf.extend_from_slice(&f.to_le_bytes());
        }
        self.records += 1;
        if self.buf.len() >= FLUSH_BYTES {
            self.hasher.update(&self.buf);
            self.buf.clear();
        }
    }

    /// Records fed so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The digest as 32 lowercase hex characters. Does not consume: more records may follow.
    pub fn hex(&self) -> String {
        let mut h = self.hasher.clone();
        h.update(&self.buf);
        let out = h.finalize();
        out.as_bytes()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_depends_on_content_and_order() {
        let mut a = Digest::new();
        a.record(SimTime::from_nanos(1), 0, &[1, 2]);
        a.record(SimTime::from_nanos(2), 1, &[3]);
        let mut b = Digest::new();
        b.record(SimTime::from_nanos(2), 1, &[3]);
        b.record(SimTime::from_nanos(1), 0, &[1, 2]);
        let mut c = Digest::new();
        c.record(SimTime::from_nanos(1), 0, &[1, 2]);
        c.record(SimTime::from_nanos(2), 1, &[3]);
        assert_ne!(a.hex(), b.hex());
        assert_eq!(a.hex(), c.hex());
        assert_eq!(a.hex().len(), 32);
    }

    #[test]
    fn flushing_does_not_change_the_digest() {
        // Many records cross the flush threshold; the result must equal one big update.
        let mut d = Digest::new();
        let mut raw = Vec::new();
        for i in 0..5000u64 {
            d.record(SimTime::from_nanos(i), 3, &[i, i * 7]);
            raw.extend_from_slice(&i.to_le_bytes());
            raw.extend_from_slice(&[3, 2]);
            raw.extend_from_slice(&i.to_le_bytes());
            raw.extend_from_slice(&(i * 7).to_le_bytes());
        }
        let expect: String = blake3::hash(&raw).as_bytes()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(d.hex(), expect);
        assert_eq!(d.records(), 5000);
    }
}
