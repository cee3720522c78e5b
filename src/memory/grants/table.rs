//! One kind of entry (codes, access tokens or refresh tokens) in one shard: a hash table of
//! small slots, and the entries' blocks packed one after another into chunks.
//!
//! Blocks used to be one heap allocation each. Every stored code and token then took
//! malloc's slow path (nothing of its size had been freed to reuse), and every expired one a
//! `free` at the sweep: about 7 % of a flow's profile samples between the two. A block is
//! now appended to the chunk its thread's lane has open, whose end is in cache from the
//! previous append, and a chunk is freed in one call once the last block in it has been
//! removed (BENCHMARKS.md, "Thirteenth session").
//!
//! Entries of one table have similar lifetimes, so a chunk's blocks tend to expire together.
//! When they do not (a refresh token kept until its family expires, among tokens that have
//! expired), a sweep moves the few live blocks of a mostly empty chunk to an open one, so
//! that memory follows what is live ([`Blocks::sparse`]).

use std::sync::atomic::{AtomicUsize, Ordering};

use subtle::ConstantTimeEq as _;

use crate::secret::TokenDigest;

/// The size of a chunk: room for about a hundred blocks, so that a new chunk is allocated
/// once per hundred appends, and small enough that one left nearly empty costs little
/// before a sweep compacts it.
const CHUNK: usize = 16 * 1024;

/// How many chunks of a table are open for appending at once, each used by its own share of
/// the threads (see [`lane`]).
const LANES: usize = 4;

/// This thread's lane: which of a table's open chunks it appends to. Threads take lanes in
/// turn as they first store something, so that two threads rarely append to the same chunk:
/// the end of a chunk is then written by one core only, rather than passed between cores on
/// every append, and a block is not on a cache line another thread is writing.
fn lane() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static LANE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % LANES;
    }
    LANE.with(|lane| *lane)
}

/// The first 12 bytes of a code's or token's digest, as three words: the key of its slot.
/// The other 20 bytes are the first thing in the entry's block, and a lookup matches only
/// when all 32 bytes do ([`holds`]), compared in constant time like every digest. Two
/// digests that share their key are two entries, each found by its own digest.
///
/// A probe compares keys with `==`, as hashbrown compared its control tags: how long a
/// lookup takes can only tell whether a stored digest starts like the SHA-256 of a value
/// the caller chose, which says nothing about any stored token.
///
/// With a 12-byte key and the rest of the entry in its block, a slot is 32 bytes (the key,
/// the time the entry may be swept at, and where its block is), half a cache line. It was
/// 40 bytes plus a control byte in a `HashMap` with a 16-byte key, and 96 to 104 with the
/// whole digest and the fixed fields inline: less memory per entry, and fewer cache lines
/// per insert into a table far larger than the cache (BENCHMARKS.md, "A million grants").
type Key = [u32; 3];

/// The key of `digest`'s slot.
fn key_of(digest: &TokenDigest) -> Key {
    let b = digest.as_bytes();
    let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    [word(0), word(4), word(8)]
}

/// How many bytes of a digest its slot holds; its block starts with the rest.
const KEY_LEN: usize = 12;

/// The part of a digest stored at the start of its block.
fn tail(digest: &TokenDigest) -> &[u8] {
    &digest.as_bytes()[KEY_LEN..]
}

/// Whether the entry in `slot`, whose block is `block`, is the one `digest` names: all 32
/// bytes of the digest, compared in constant time.
fn holds(slot: &Slot, block: &[u8], digest: &TokenDigest) -> bool {
    let mut stored = [0u8; 32];
    for (to, word) in stored.chunks_exact_mut(4).zip(slot.key) {
        to.copy_from_slice(&word.to_le_bytes());
    }
    if let Some(rest) = block.get(..32 - KEY_LEN) {
        stored[KEY_LEN..].copy_from_slice(rest);
    }
    words(&stored).ct_eq(&words(digest.as_bytes())).into()
}

/// 32 bytes as four words, to compare a word at a time.
fn words(bytes: &[u8; 32]) -> [u64; 4] {
    let mut words = [0u64; 4];
    for (word, from) in words.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(from);
        *word = u64::from_le_bytes(b);
    }
    words
}

/// Where the probe for `key` starts in a table of `mask + 1` slots. The digest's first byte
/// chose the shard, so the index comes from the two words after the first (uniform bits:
/// digests are SHA-256 outputs, and only grantor chooses what is stored).
fn home(key: &Key, mask: usize) -> usize {
    ((u64::from(key[2]) << 32 | u64::from(key[1])) as usize) & mask
}

/// A table slot: the entry's key, when it may be swept (inline, so that a sweep reads no
/// block), and where its block is. A slot whose block is empty is free: every block holds
/// at least the digest's tail. Aligned to 32 bytes, so that a slot never spans two cache
/// lines.
#[derive(Clone, Copy, Default)]
#[repr(C, align(32))]
pub(super) struct Slot {
    until: u64,
    key: Key,
    at: Loc,
}

impl Slot {
    fn is_free(&self) -> bool {
        self.at.len == 0
    }
}

/// Where a block is: its chunk, and its range in that chunk.
#[derive(Clone, Copy, Default)]
struct Loc {
    chunk: u32,
    start: u32,
    len: u32,
}

/// The slots of a table: open addressing with linear probing, in one array.
///
/// This replaced a `HashMap` (hashbrown), which keeps a byte of control data per slot in an
/// array of its own. Each insert into a table far larger than the cache then missed it
/// twice, one miss after the other: reading the control bytes to find a free slot, then
/// writing the slot. Here a slot says itself whether it is free, so an insert reads and
/// writes one cache line. The table is kept at most half full, so that a probe meets a free
/// slot within a few slots (2.5 on average when half full), and a removal moves the entries
/// after it back into the gap rather than leaving a tombstone.
#[derive(Default)]
struct Slots {
    /// A power of two in number, or none before the first insert.
    slots: Vec<Slot>,
    /// How many slots are in use.
    len: usize,
}

/// The fewest slots a table has once it holds anything.
const MIN_SLOTS: usize = 16;

impl Slots {
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// The index of the slot holding the entry with `key` for which `is` holds, if any.
    fn find(&self, key: &Key, mut is: impl FnMut(&Slot) -> bool) -> Option<usize> {
        let mask = self.mask();
        let mut i = home(key, mask);
        // Bounded, though the table is never full: a free slot ends every probe.
        for _ in 0..self.slots.len() {
            let slot = self.slots.get(i)?;
            if slot.is_free() {
                return None;
            }
            if slot.key == *key && is(slot) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// Puts `new` in place of the entry with its key for which `is` holds, and returns that
    /// entry; otherwise puts it in the first free slot from its home.
    fn insert(&mut self, new: Slot, mut is: impl FnMut(&Slot) -> bool) -> Option<Slot> {
        if new.is_free() {
            return None;
        }
        if 2 * (self.len + 1) > self.slots.len() {
            self.resize((2 * self.slots.len()).max(MIN_SLOTS));
        }
        let mask = self.mask();
        let mut i = home(&new.key, mask);
        for _ in 0..self.slots.len() {
            let slot = self.slots.get_mut(i)?;
            if slot.is_free() {
                *slot = new;
                self.len += 1;
                return None;
            }
            if slot.key == new.key && is(slot) {
                return Some(std::mem::replace(slot, new));
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// Empties slot `i` and returns what it held. The entries after it in its run move back
    /// into the gap when their probe passes it, so that every entry stays reachable from its
    /// home, without tombstones.
    fn remove_at(&mut self, i: usize) -> Option<Slot> {
        let removed = *self.slots.get(i).filter(|s| !s.is_free())?;
        let mask = self.mask();
        let mut gap = i;
        let mut j = i;
        for _ in 0..self.slots.len() {
            j = (j + 1) & mask;
            let Some(&next) = self.slots.get(j).filter(|s| !s.is_free()) else {
                break;
            };
            // The gap is on `next`'s probe when `next` is at least as far from its home as
            // from the gap.
            if j.wrapping_sub(home(&next.key, mask)) & mask >= j.wrapping_sub(gap) & mask {
                if let Some(to) = self.slots.get_mut(gap) {
                    *to = next;
                }
                gap = j;
            }
        }
        if let Some(to) = self.slots.get_mut(gap) {
            *to = Slot::default();
        }
        self.len -= 1;
        Some(removed)
    }

    /// Removes every entry for which `keep` is false.
    fn retain(&mut self, mut keep: impl FnMut(&Slot) -> bool) {
        let mut i = 0;
        while i < self.slots.len() {
            match self.slots.get(i) {
                // A removal may move a later entry into slot `i`: look at it again. One moved
                // there from the start of the table, where a run wrapped around, has been
                // kept already, and is kept again.
                Some(slot) if !slot.is_free() && !keep(slot) => {
                    self.remove_at(i);
                }
                _ => i += 1,
            }
        }
    }

    /// Moves every entry into `slots` new slots (a power of two, at least twice the entries).
    fn resize(&mut self, slots: usize) {
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); slots]);
        let mask = self.mask();
        for slot in old.into_iter().filter(|s| !s.is_free()) {
            let mut i = home(&slot.key, mask);
            while self.slots.get(i).is_some_and(|s| !s.is_free()) {
                i = (i + 1) & mask;
            }
            if let Some(to) = self.slots.get_mut(i) {
                *to = slot;
            }
        }
    }

    /// Gives back most of the memory once the table is less than a quarter full (after a
    /// burst has expired), keeping room for twice what is left, as [`shrink`](super::shrink)
    /// does for the store's other maps.
    fn shrink(&mut self) {
        if self.capacity() > 1024 && self.len < self.capacity() / 4 {
            self.resize((4 * self.len).next_power_of_two().max(MIN_SLOTS));
        }
    }

    /// How many entries fit before the table grows.
    fn capacity(&self) -> usize {
        self.slots.len() / 2
    }

    /// The slots in use.
    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Slot> {
        self.slots.iter_mut().filter(|s| !s.is_free())
    }
}

/// A chunk of blocks: its bytes, and how many of its blocks (and bytes) are still live.
#[derive(Default)]
struct Chunk {
    bytes: Vec<u8>,
    live: u32,
    live_bytes: usize,
}

/// The chunks of one table. Blocks are appended to the current chunk of the thread's lane;
/// a chunk whose blocks have all been removed is freed, except that one is kept, emptied, to
/// become the next current chunk without an allocation.
#[derive(Default)]
struct Blocks {
    /// Every chunk by number; a freed chunk's number holds an empty one until reused.
    chunks: Vec<Chunk>,
    /// The chunk each lane appends to.
    current: [Option<u32>; LANES],
    /// The numbers of freed chunks.
    vacant: Vec<u32>,
    /// A freed chunk's buffer, emptied, kept for the next chunk.
    spare: Vec<u8>,
}

impl Blocks {
    /// Appends a block of `len` bytes, written by `write`, and says where it is.
    fn push(&mut self, len: usize, write: impl FnOnce(&mut Vec<u8>)) -> Loc {
        let fits = |c: &Chunk| c.bytes.capacity() - c.bytes.len() >= len;
        let lane = lane();
        let number = match self.current.get(lane).copied().flatten() {
            Some(n) if self.chunks.get(n as usize).is_some_and(fits) => n,
            _ => self.open(lane, len),
        };
        let Some(chunk) = self.chunks.get_mut(number as usize) else {
            // `open` returned a chunk that exists.
            return Loc {
                chunk: u32::MAX,
                start: 0,
                len: 0,
            };
        };
        let start = chunk.bytes.len();
        write(&mut chunk.bytes);
        let len = chunk.bytes.len() - start;
        chunk.live += 1;
        chunk.live_bytes += len;
        // Chunks are far below 4 GiB, and so is every block.
        Loc {
            chunk: number,
            start: start as u32,
            len: len as u32,
        }
    }

    /// A new current chunk for `lane` with room for at least `len` bytes (a block larger
    /// than a chunk gets a chunk of its own size).
    fn open(&mut self, lane: usize, len: usize) -> u32 {
        if let Some(old) = self.current.get_mut(lane).and_then(Option::take) {
            // Nothing will be appended to it any more: free it if it is already empty.
            self.free_if_empty(old);
        }
        let mut bytes = std::mem::take(&mut self.spare);
        if bytes.capacity() < len.max(CHUNK) {
            bytes = Vec::with_capacity(len.max(CHUNK));
        }
        let chunk = Chunk {
            bytes,
            live: 0,
            live_bytes: 0,
        };
        let number = match self.vacant.pop() {
            Some(n) if (n as usize) < self.chunks.len() => {
                self.chunks[n as usize] = chunk;
                n
            }
            _ => {
                self.chunks.push(chunk);
                (self.chunks.len() - 1) as u32
            }
        };
        if let Some(current) = self.current.get_mut(lane) {
            *current = Some(number);
        }
        number
    }

    /// Forgets the block at `at`; its chunk is freed with its last block.
    fn release(&mut self, at: Loc) {
        if let Some(chunk) = self.chunks.get_mut(at.chunk as usize) {
            chunk.live = chunk.live.saturating_sub(1);
            chunk.live_bytes = chunk.live_bytes.saturating_sub(at.len as usize);
            self.free_if_empty(at.chunk);
        }
    }

    /// Frees chunk `number` if no live block is left in it; a current chunk with no live
    /// block is kept, and appended to from its start again.
    fn free_if_empty(&mut self, number: u32) {
        let current = self.current.contains(&Some(number));
        let Some(chunk) = self.chunks.get_mut(number as usize) else {
            return;
        };
        if chunk.live > 0 || chunk.bytes.capacity() == 0 {
            return;
        }
        if current {
            chunk.bytes.clear();
            return;
        }
        let mut bytes = std::mem::take(&mut chunk.bytes);
        if self.spare.capacity() == 0 && bytes.capacity() == CHUNK {
            bytes.clear();
            self.spare = bytes;
        }
        self.vacant.push(number);
    }

    fn get(&self, at: Loc) -> &[u8] {
        let range = at.start as usize..(at.start as usize + at.len as usize);
        self.chunks
            .get(at.chunk as usize)
            .and_then(|c| c.bytes.get(range))
            .unwrap_or_default()
    }

    fn get_mut(&mut self, at: Loc) -> &mut [u8] {
        let range = at.start as usize..(at.start as usize + at.len as usize);
        self.chunks
            .get_mut(at.chunk as usize)
            .and_then(|c| c.bytes.get_mut(range))
            .unwrap_or_default()
    }

    /// Whether chunk `number` is less than a quarter full of live blocks, and not a current
    /// one: its live blocks are worth moving so that it can be freed.
    fn sparse(&self, number: u32) -> bool {
        !self.current.contains(&Some(number))
            && self
                .chunks
                .get(number as usize)
                .is_some_and(|c| c.live > 0 && c.live_bytes < c.bytes.capacity() / 4)
    }

    /// Moves the block at `at` to this thread's current chunk and says where it now is.
    fn relocate(&mut self, at: Loc, buffer: &mut Vec<u8>) -> Loc {
        buffer.clear();
        buffer.extend_from_slice(self.get(at));
        let moved = self.push(buffer.len(), |out| out.extend_from_slice(buffer));
        self.release(at);
        moved
    }

    /// The bytes held in chunks, live or not (for tests).
    #[cfg(test)]
    fn held(&self) -> usize {
        self.chunks.iter().map(|c| c.bytes.capacity()).sum()
    }
}

/// An entry found by its digest (all 256 bits matched): when it may be swept, and its block
/// after the digest's second half.
pub(super) struct Entry<'a> {
    pub(super) until: u64,
    pub(super) block: &'a [u8],
}

/// An entry found by its digest, to change in place: its sweep time, and its block after
/// the digest's second half.
pub(super) struct EntryMut<'a> {
    pub(super) until: &'a mut u64,
    pub(super) block: &'a mut [u8],
}

impl EntryMut<'_> {
    /// The entry, to read.
    pub(super) fn as_entry(&self) -> Entry<'_> {
        Entry {
            until: *self.until,
            block: self.block,
        }
    }
}

/// One kind of entry in one shard (see the module's doc).
#[derive(Default)]
pub(super) struct Table {
    slots: Slots,
    blocks: Blocks,
}

impl Table {
    /// Stores an entry under `digest`, to be swept after `until`: its block is the digest's
    /// last 20 bytes, then the `N` bytes of fixed fields, then the number of strings and each
    /// one's length (little-endian `u32`s), then the strings' UTF-8 bytes one after another,
    /// so that a reader checks them as UTF-8 once, not once each.
    pub(super) fn insert<'s, const N: usize>(
        &mut self,
        digest: &TokenDigest,
        until: u64,
        fixed: [u8; N],
        strings: impl Iterator<Item = &'s str> + Clone,
    ) {
        let (count, bytes) = strings
            .clone()
            .fold((0, 0), |(count, bytes), s| (count + 1, bytes + s.len()));
        let len = 32 - KEY_LEN + N + 4 + 4 * count + bytes;
        let at = self.blocks.push(len, |block| {
            block.extend_from_slice(tail(digest));
            block.extend_from_slice(&fixed);
            // Every value came through a request or host code bounded far below 4 GiB.
            block.extend_from_slice(&(count as u32).to_le_bytes());
            // One pass: each length goes into its place, reserved here, as its string is
            // appended.
            let mut at = block.len();
            block.resize(at + 4 * count, 0);
            // `for_each`, not `for`: a chain of iterators runs faster driven from inside.
            strings.for_each(|s| {
                if let Some(length) = block.get_mut(at..at + 4) {
                    length.copy_from_slice(&(s.len() as u32).to_le_bytes());
                }
                at += 4;
                block.extend_from_slice(s.as_bytes());
            });
        });
        let new = Slot {
            until,
            key: key_of(digest),
            at,
        };
        let blocks = &self.blocks;
        if let Some(replaced) = self
            .slots
            .insert(new, |s| holds(s, blocks.get(s.at), digest))
        {
            self.blocks.release(replaced.at);
        }
    }

    /// The index of the slot holding `digest`'s entry, if there is one.
    fn find(&self, digest: &TokenDigest) -> Option<usize> {
        let blocks = &self.blocks;
        self.slots
            .find(&key_of(digest), |s| holds(s, blocks.get(s.at), digest))
    }

    /// The entry `digest` names, if there is one.
    pub(super) fn get(&self, digest: &TokenDigest) -> Option<Entry<'_>> {
        let slot = self.slots.slots.get(self.find(digest)?)?;
        Some(Entry {
            until: slot.until,
            block: self
                .blocks
                .get(slot.at)
                .get(32 - KEY_LEN..)
                .unwrap_or_default(),
        })
    }

    /// The entry `digest` names, to change in place.
    pub(super) fn get_mut(&mut self, digest: &TokenDigest) -> Option<EntryMut<'_>> {
        let i = self.find(digest)?;
        let slot = self.slots.slots.get_mut(i)?;
        Some(EntryMut {
            until: &mut slot.until,
            block: self
                .blocks
                .get_mut(slot.at)
                .get_mut(32 - KEY_LEN..)
                .unwrap_or_default(),
        })
    }

    /// Removes the entry `digest` names, if there is one.
    pub(super) fn remove(&mut self, digest: &TokenDigest) {
        if let Some(slot) = self.find(digest).and_then(|i| self.slots.remove_at(i)) {
            self.blocks.release(slot.at);
        }
    }

    /// Removes every entry whose `until` is before `now`, then moves the live blocks out of
    /// mostly empty chunks, and shrinks the table if it is mostly empty.
    pub(super) fn sweep(&mut self, now: u64) {
        let blocks = &mut self.blocks;
        self.slots.retain(|slot| {
            let keep = slot.until >= now;
            if !keep {
                blocks.release(slot.at);
            }
            keep
        });
        let sparse: Vec<bool> = (0..blocks.chunks.len() as u32)
            .map(|n| blocks.sparse(n))
            .collect();
        if sparse.contains(&true) {
            let mut buffer = Vec::new();
            for slot in self.slots.iter_mut() {
                if sparse.get(slot.at.chunk as usize) == Some(&true) {
                    slot.at = blocks.relocate(slot.at, &mut buffer);
                }
            }
        }
        self.slots.shrink();
    }

    /// The number of entries.
    pub(super) fn len(&self) -> usize {
        self.slots.len
    }

    /// How many entries the table can hold without growing.
    pub(super) fn capacity(&self) -> usize {
        self.slots.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What BENCHMARKS.md's memory figures rest on: a table slot is 32 bytes, aligned so
    /// that it never spans two cache lines.
    #[test]
    fn a_table_slot_is_32_bytes_on_one_cache_line() {
        assert_eq!(std::mem::size_of::<Slot>(), 32);
        assert_eq!(std::mem::align_of::<Slot>(), 32);
    }

    /// A slot for the model test: `id` (in `at.chunk`) tells entries apart, the key only
    /// places them.
    fn slot(key: Key, id: u32, until: u64) -> Slot {
        Slot {
            until,
            key,
            at: Loc {
                chunk: id,
                start: 0,
                len: 1,
            },
        }
    }

    /// Linear probing with backward-shift removal, checked against a map through pseudo-random
    /// inserts, replacements, removals, sweeps and shrinks. Keys are drawn from a few values,
    /// several homes sit at the end of the table so that runs wrap around to its start, and
    /// several entries share a key: every entry is found, by its own identity, after every
    /// step.
    #[test]
    fn slots_match_a_model_through_inserts_removals_and_sweeps() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let mut slots = Slots::default();
        // Ordered, so that the same steps run every time.
        let mut model: std::collections::BTreeMap<u32, (Key, u64)> = Default::default();
        let mut next_id = 0u32;
        let mut shrunk = 0;
        let mut wrapped = 0;
        for step in 0..20_000 {
            // A burst of inserts grows the table past where a sweep can leave it a quarter
            // full, and the shrinks that follow move it to fewer slots.
            let op = if (8_000..11_000).contains(&step) {
                0
            } else {
                next(100)
            };
            match op {
                0..=54 => {
                    // The low bits of the second word place the entry: near the top of any
                    // table, or anywhere.
                    let low = if next(2) == 0 {
                        u32::MAX - next(4) as u32
                    } else {
                        next(64) as u32
                    };
                    let key = [0, low, next(3) as u32];
                    let until = next(1_000);
                    let id = next_id;
                    next_id += 1;
                    let replaced = slots.insert(slot(key, id, until), |s| s.at.chunk == id);
                    assert!(replaced.is_none(), "step {step}");
                    model.insert(id, (key, until));
                }
                55..=64 if !model.is_empty() => {
                    let id = *model.keys().nth(next(model.len() as u64) as usize).unwrap();
                    let (key, _) = model[&id];
                    let until = next(1_000);
                    let replaced = slots.insert(slot(key, id, until), |s| s.at.chunk == id);
                    assert_eq!(replaced.map(|s| s.at.chunk), Some(id), "step {step}");
                    model.insert(id, (key, until));
                }
                65..=94 if !model.is_empty() => {
                    let id = *model.keys().nth(next(model.len() as u64) as usize).unwrap();
                    let (key, _) = model.remove(&id).unwrap();
                    let i = slots.find(&key, |s| s.at.chunk == id).unwrap();
                    assert_eq!(slots.remove_at(i).map(|s| s.at.chunk), Some(id));
                }
                95..=97 => {
                    let now = next(1_000);
                    let mut dropped = 0;
                    slots.retain(|s| {
                        dropped += usize::from(s.until < now);
                        s.until >= now
                    });
                    let before = model.len();
                    model.retain(|_, (_, until)| *until >= now);
                    assert_eq!(dropped, before - model.len(), "step {step}");
                }
                _ => {
                    let before = slots.slots.len();
                    slots.shrink();
                    shrunk += usize::from(slots.slots.len() < before);
                }
            }
            assert_eq!(slots.len, model.len(), "step {step}");
            assert!(2 * slots.len <= slots.slots.len().max(1), "step {step}");
            if step % 97 == 0 || model.len() < 40 {
                for (&id, &(key, until)) in &model {
                    let i = slots.find(&key, |s| s.at.chunk == id);
                    let found = i.and_then(|i| slots.slots.get(i));
                    assert_eq!(found.map(|s| s.until), Some(until), "step {step}, id {id}");
                    wrapped += usize::from(i < Some(home(&key, slots.mask())));
                }
            }
        }
        assert!(next_id > 5_000, "the test inserted {next_id} entries");
        assert!(shrunk > 0, "a shrink moved the entries to fewer slots");
        assert!(
            wrapped > 0,
            "entries were found past the table's end, at its start"
        );
    }

    /// Two digests that share the 12 bytes of a key are two entries, each found by its own
    /// digest, and removing one leaves the other.
    #[test]
    fn digests_sharing_a_key_are_two_entries() {
        let mut table = Table::default();
        let a = digest(1);
        let mut bytes = *a.as_bytes();
        bytes[KEY_LEN] ^= 1;
        let b = TokenDigest::from_bytes(bytes);
        assert_eq!(key_of(&a), key_of(&b));
        table.insert(&a, 10, [1u8], std::iter::empty());
        table.insert(&b, 20, [2u8], std::iter::empty());
        assert_eq!(table.len(), 2);
        assert_eq!(value(&table, 1).map(|v| v.0), Some(10));
        assert_eq!(table.get(&b).map(|e| e.until), Some(20));
        table.remove(&a);
        assert!(table.get(&a).is_none());
        assert_eq!(table.get(&b).map(|e| (e.until, e.block[0])), Some((20, 2)));
    }

    fn digest(i: u32) -> TokenDigest {
        TokenDigest::of(&format!("token-{i}"))
    }

    fn insert(table: &mut Table, i: u32, until: u64) {
        let text = format!("value-{i}");
        table.insert(
            &digest(i),
            until,
            i.to_le_bytes(),
            [text.as_str()].into_iter(),
        );
    }

    fn value(table: &Table, i: u32) -> Option<(u64, Vec<u8>)> {
        table.get(&digest(i)).map(|e| (e.until, e.block.to_vec()))
    }

    fn expected(i: u32) -> Vec<u8> {
        let text = format!("value-{i}");
        let mut block = i.to_le_bytes().to_vec();
        block.extend_from_slice(&1u32.to_le_bytes());
        block.extend_from_slice(&(text.len() as u32).to_le_bytes());
        block.extend_from_slice(text.as_bytes());
        block
    }

    /// Blocks share chunks and read back exactly as written, across chunk boundaries and
    /// with a block larger than a chunk; a sweep removes what expired and nothing else.
    #[test]
    fn blocks_read_back_as_written_and_sweeps_remove_only_what_expired() {
        let mut table = Table::default();
        for i in 0..2_000 {
            insert(&mut table, i, if i % 2 == 0 { 100 } else { 200 });
        }
        let big = "x".repeat(3 * CHUNK);
        table.insert(&digest(9_999), 300, [7u8], [big.as_str()].into_iter());
        assert!(table.blocks.chunks.len() > 2, "several chunks");
        for i in 0..2_000 {
            assert_eq!(
                value(&table, i).map(|v| v.1),
                Some(expected(i)),
                "entry {i}"
            );
        }
        let e = table.get(&digest(9_999)).unwrap();
        assert_eq!((e.until, e.block.len()), (300, 1 + 4 + 4 + big.len()));

        table.sweep(150);
        for i in 0..2_000 {
            let found = value(&table, i);
            if i % 2 == 0 {
                assert_eq!(found, None, "entry {i} expired at 100");
            } else {
                assert_eq!(found, Some((200, expected(i))), "entry {i}");
            }
        }
        assert_eq!(table.len(), 1_001);
    }

    /// Memory follows what is live: chunks are freed with their last block, and a sweep
    /// moves the few live blocks of mostly empty chunks so that those chunks are freed too.
    #[test]
    fn chunks_are_freed_when_empty_and_compacted_when_sparse() {
        let mut table = Table::default();
        // One entry in fifty lives long (a rotated refresh token among expired ones).
        for i in 0..10_000 {
            insert(&mut table, i, if i % 50 == 0 { 1_000 } else { 100 });
        }
        let full = table.blocks.held();
        assert!(full >= 10_000 * 20, "{full}");
        table.sweep(150);
        let after = table.blocks.held();
        assert!(
            after <= 2 * CHUNK,
            "{after} bytes held for 200 small entries"
        );
        for i in (0..10_000).step_by(50) {
            assert_eq!(value(&table, i), Some((1_000, expected(i))), "entry {i}");
        }
        table.sweep(1_001);
        assert_eq!(table.len(), 0);
        assert!(
            table.blocks.held() <= CHUNK,
            "one chunk at most (the current one)"
        );
    }

    /// Removing an entry frees its block: a table filled and emptied by removals holds at
    /// most the current chunk; removing an unknown digest changes nothing.
    #[test]
    fn removals_release_blocks() {
        let mut table = Table::default();
        for i in 0..5_000 {
            insert(&mut table, i, 100);
        }
        table.remove(&digest(99_999));
        assert_eq!(table.len(), 5_000);
        for i in 0..5_000 {
            table.remove(&digest(i));
            assert_eq!(value(&table, i), None);
        }
        assert_eq!(table.len(), 0);
        assert!(table.blocks.held() <= CHUNK);
        assert!(table.blocks.chunks.iter().all(|c| c.live == 0));
    }

    /// Chunks are reused: filling, emptying and filling again does not grow the number of
    /// chunks, and memory held between rounds is at most the spare chunk.
    #[test]
    fn freed_chunks_are_reused() {
        let mut table = Table::default();
        let mut first = None;
        for round in 0..5u64 {
            for i in 0..3_000 {
                insert(&mut table, i, round * 10);
            }
            let chunks = table.blocks.chunks.len();
            assert!(chunks <= *first.get_or_insert(chunks), "round {round}");
            table.sweep(round * 10 + 1);
            assert_eq!(table.len(), 0);
            assert!(table.blocks.held() <= CHUNK, "round {round}");
        }
    }
}
