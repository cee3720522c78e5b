//! Bounded memory (GrantStore contract: "expired records should be purged so that storage does
//! not grow without bound"; DESIGN "Open": the in-memory store's expiry sweeping): 1,000,000
//! codes that are issued and never redeemed leave `memory::MemoryGrantStore` once they
//! expire, through the sweep that writes trigger (each of the 16 shards at most every 30 s of
//! the injected clock) and through `purge_expired`.
//!
//! About 6 s and 0.7 GiB of resident memory in a debug build. Run with `--nocapture` to see
//! the timings and the resident memory per outstanding code (from `/proc/self/status` on
//! Linux).

mod common;
use common::*;

use std::sync::Arc;
use std::time::{Duration, Instant};

use grantor::memory::MemoryGrantStore;
use grantor::{Clock, CodeGrant, CodeRedemption, GrantStore, ManualClock, TokenDigest};

/// The default code lifetime (`Policy::code_lifetime`, RFC 6749 §4.1.2).
const CODE_LIFETIME: u64 = 60;
/// The sweep interval of `MemoryGrantStore`, in seconds of the injected clock.
const SWEEP_INTERVAL: u64 = 30;
const SHARDS: u8 = 16;

/// A real grant, as /authorize binds it (client, redirect URI, scope, user, nonce, PKCE), to
/// copy: `CodeGrant` is `#[non_exhaustive]`, so this is how code outside grantor gets one.
async fn real_grant() -> CodeGrant {
    let h = harness();
    let code = h.code(&[]).await;
    match h
        .grants
        .redeem_code(&TokenDigest::of(&code), h.clock.now())
        .await
        .unwrap()
    {
        CodeRedemption::Redeemed(g) => g,
        r => panic!("{r:?}"),
    }
}

/// A well-spread 32-byte key for code number `i` (SplitMix64), cheaper than SHA-256 in a debug
/// build; the store sees keys exactly like real code digests.
fn key(i: u64) -> TokenDigest {
    let mut bytes = [0u8; 32];
    let mut x = i;
    for chunk in bytes.chunks_mut(8) {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    TokenDigest::from_bytes(bytes)
}

/// A key in shard `shard` (the store picks the shard from the first byte).
fn key_in_shard(shard: u8, salt: u64) -> TokenDigest {
    let mut bytes = *key(u64::MAX - salt).as_bytes();
    bytes[0] = shard;
    TokenDigest::from_bytes(bytes)
}

/// Resident memory of this process in bytes (Linux), `None` elsewhere.
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Issues `n` codes that are never redeemed, lets them expire, and checks that the sweep
/// triggered by later writes, then `purge_expired`, leave nothing behind.
async fn issue_expire_and_sweep(n: u64) {
    let template = real_grant().await;
    let clock = Arc::new(ManualClock::new(T0));
    let store = MemoryGrantStore::new();
    assert!(store.is_empty());

    let rss_before = rss_bytes();
    let started = Instant::now();
    let issued_at = clock.now();
    for i in 0..n {
        let mut grant = template.clone();
        grant.issued_at = issued_at;
        grant.expires_at = issued_at + CODE_LIFETIME;
        store.store_code(key(i), grant).await.unwrap();
    }
    let fill = started.elapsed();
    let rss_full = rss_bytes();
    assert_eq!(store.len(), n as usize, "every code is held while live");
    assert_eq!(store.counts(), (n as usize, 0));
    let capacity_full = store.capacity();

    // Past expiry and past every shard's next sweep: the next write to a shard sweeps it.
    clock.advance(Duration::from_secs(CODE_LIFETIME + SWEEP_INTERVAL + 1));
    let now = clock.now();
    let swept = Instant::now();
    for shard in 0..SHARDS {
        let mut grant = template.clone();
        grant.issued_at = now;
        grant.expires_at = now + CODE_LIFETIME;
        store
            .store_code(key_in_shard(shard, u64::from(shard)), grant)
            .await
            .unwrap();
    }
    let sweep = swept.elapsed();
    assert_eq!(
        store.len(),
        usize::from(SHARDS),
        "after one write per shard, only those {SHARDS} live codes remain"
    );
    // An expired code is never redeemed, swept or not.
    match store.redeem_code(&key(0), now).await.unwrap() {
        CodeRedemption::NotFound => {}
        r => panic!("an expired code: {r:?}"),
    }

    // purge_expired removes the rest once they expire too.
    clock.advance(Duration::from_secs(CODE_LIFETIME + 1));
    store.purge_expired(clock.now());
    assert_eq!(store.len(), 0);
    assert!(store.is_empty());
    let capacity_after = store.capacity();
    let rss_after = rss_bytes();
    // The sweep gives the tables' memory back once they are mostly empty: what is left is
    // at most a few small tables (1,024 slots or less each), not the burst's peak.
    assert!(
        capacity_full >= n as usize,
        "full: {capacity_full} slots for {n} codes"
    );
    assert!(
        capacity_after <= 6 * 16 * 1024,
        "after the purge: {capacity_after} slots (full: {capacity_full})"
    );

    eprintln!(
        "bounded_memory: {n} codes stored in {fill:?} ({:.2} µs/code), swept in {sweep:?}",
        fill.as_secs_f64() * 1e6 / n as f64
    );
    if let (Some(before), Some(full), Some(after)) = (rss_before, rss_full, rss_after) {
        eprintln!(
            "bounded_memory: RSS {} MiB before, {} MiB with {n} codes ({} bytes/code), {} MiB \
             after the purge (the allocator may keep freed pages)",
            before >> 20,
            full >> 20,
            full.saturating_sub(before) / n,
            after >> 20
        );
    }
    eprintln!(
        "bounded_memory: size_of CodeGrant {} bytes, TokenDigest {} bytes (plus the grant's \
         strings on the heap)",
        std::mem::size_of::<CodeGrant>(),
        std::mem::size_of::<TokenDigest>()
    );
    eprintln!(
        "bounded_memory: map capacity {capacity_full} slots when full, {capacity_after} after the \
         purge (sweeps shrink mostly empty maps)"
    );
}

/// 1,000,000 outstanding codes are all purged once expired: the write-triggered sweep leaves
/// only the 16 live codes written after expiry, `purge_expired` leaves 0 (GrantStore contract:
/// expired records are purged; RFC 6749 §4.1.2 short-lived codes).
#[tokio::test]
async fn a_million_expired_codes_are_swept() {
    issue_expire_and_sweep(1_000_000).await;
}
