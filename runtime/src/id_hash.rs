//! A fast hasher for maps keyed by server-made v4 UUIDs.

/// Hashes ids by folding their bytes with a per-map random seed: event and user ids are v4
/// UUIDs made by the server, random already, so SipHash's work buys nothing on every call.
#[derive(Clone)]
pub(crate) struct IdHasher {
    seed: u64,
}

impl IdHasher {
    pub(crate) fn new() -> Self {
        IdHasher {
            seed: std::hash::BuildHasher::hash_one(
                &std::collections::hash_map::RandomState::new(),
                0_u8,
            ),
        }
    }
}

impl std::hash::BuildHasher for IdHasher {
    type Hasher = FoldHasher;
    fn build_hasher(&self) -> FoldHasher {
        FoldHasher(self.seed)
    }
}

pub(crate) struct FoldHasher(u64);

impl std::hash::Hasher for FoldHasher {
    fn finish(&self) -> u64 {
        // A multiply spreads the folded bits over the whole word (the table uses the top bits).
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0_u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0 ^ u64::from_le_bytes(word)).rotate_left(29);
        }
    }
}
