//! In-memory implementations of every host trait, for tests, demos and single-process
//! deployments.
//!
//! * [`MemoryClientStore`]: clients registered at start or at run time.
//! * [`MemoryGrantStore`]: codes, tokens, revocations and pending authorizations, sharded
//!   so that requests do not contend on one lock, with expired entries purged as it goes.
//! * [`MemorySessions`]: a cookie-session [`UserAuthenticator`](crate::UserAuthenticator).
//! * [`MemoryConsent`]: remembered consent with a built-in consent page.
//! * [`MemoryClaims`]: user claims for ID tokens and userinfo.
//!
//! Each lock is held for one map operation that leaves the map consistent, so a lock
//! poisoned by a panic on another thread is taken over (`PoisonError::into_inner`) rather
//! than turned into a panic of every later request.

mod claims;
mod clients;
mod consent;
mod grants;
mod sessions;

pub use claims::MemoryClaims;
pub use clients::MemoryClientStore;
pub use consent::{ConsentPage, MemoryConsent};
pub use grants::MemoryGrantStore;
pub use sessions::MemorySessions;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Keys are SHA-256 digests or random ids, already uniformly distributed, and only grantor
/// inserts them (a request can look a digest up, never choose what is stored), so hashing
/// them again is wasted work: take eight bytes.
#[derive(Default)]
pub(crate) struct PrehashedHasher(u64);

impl Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8).take(1) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(b);
        }
    }
}

/// A map keyed by digests or random ids (see [`PrehashedHasher`]).
pub(crate) type DigestMap<K, V> = HashMap<K, V, BuildHasherDefault<PrehashedHasher>>;
