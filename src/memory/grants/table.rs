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

use crate::memory::DigestMap as Map;
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

/// The first half of a code's or token's digest: the key of its table. The second half is
/// the first thing in the entry's block, and a lookup matches only when both halves do
/// ([`holds`]), so all 256 bits are compared, in constant time like every digest.
///
/// With a 16-byte key and the rest of the entry in its block, a table slot is 40 bytes (the
/// key, the time the entry may be swept at, and where its block is), where it was 96 to 104
/// with the whole digest and the fixed fields inline: less memory per entry, and fewer cache
/// lines per insert into a table far larger than the cache (BENCHMARKS.md, "A million
/// grants").
///
/// Two digests that share their first 16 bytes (a chance of 2^-128 for any pair) would share
/// a slot: the later insert replaces the earlier entry, whose token then reads as not found,
/// like an expired one. A lookup never returns another token's record.
#[derive(Clone, Copy, Eq)]
pub(super) struct Key([u8; 16]);

impl Key {
    fn of(digest: &TokenDigest) -> Key {
        let mut key = [0; 16];
        key.copy_from_slice(&digest.as_bytes()[..16]);
        Key(key)
    }

    fn words(&self) -> [u64; 2] {
        let mut low = [0; 8];
        let mut high = [0; 8];
        low.copy_from_slice(&self.0[..8]);
        high.copy_from_slice(&self.0[8..]);
        [u64::from_le_bytes(low), u64::from_le_bytes(high)]
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.words().ct_eq(&other.words()).into()
    }
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // The bytes of a digest are uniform: the map's prehashed hasher takes the first eight.
        state.write(&self.0)
    }
}

/// The second half of a digest, as stored at the start of a block.
fn tail(digest: &TokenDigest) -> &[u8] {
    &digest.as_bytes()[16..]
}

/// Whether `block` is the one `digest` names (its key already matched the first half).
fn holds(block: &[u8], digest: &TokenDigest) -> bool {
    let stored = Key(block
        .get(..16)
        .and_then(|b| b.try_into().ok())
        .unwrap_or([0; 16]));
    let mut presented = [0; 16];
    presented.copy_from_slice(tail(digest));
    stored == Key(presented)
}

/// A table's value: when the entry may be swept (inline, so that a sweep reads no block),
/// and where its block is.
#[derive(Clone, Copy)]
pub(super) struct Slot {
    until: u64,
    at: Loc,
}

/// Where a block is: its chunk, and its range in that chunk.
#[derive(Clone, Copy)]
struct Loc {
    chunk: u32,
    start: u32,
    len: u32,
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
    slots: Map<Key, Slot>,
    blocks: Blocks,
}

impl Table {
    /// Stores an entry under `digest`, to be swept after `until`: its block is the digest's
    /// second half, then the `N` bytes of fixed fields, then the number of strings and each
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
        let len = 16 + N + 4 + 4 * count + bytes;
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
        if let Some(replaced) = self.slots.insert(Key::of(digest), Slot { until, at }) {
            self.blocks.release(replaced.at);
        }
    }

    /// The entry `digest` names, if there is one.
    pub(super) fn get(&self, digest: &TokenDigest) -> Option<Entry<'_>> {
        let slot = self.slots.get(&Key::of(digest))?;
        let block = self.blocks.get(slot.at);
        holds(block, digest).then(|| Entry {
            until: slot.until,
            block: block.get(16..).unwrap_or_default(),
        })
    }

    /// The entry `digest` names, to change in place.
    pub(super) fn get_mut(&mut self, digest: &TokenDigest) -> Option<EntryMut<'_>> {
        let slot = self.slots.get_mut(&Key::of(digest))?;
        let block = self.blocks.get_mut(slot.at);
        if !holds(block, digest) {
            return None;
        }
        Some(EntryMut {
            until: &mut slot.until,
            block: block.get_mut(16..).unwrap_or_default(),
        })
    }

    /// Removes the entry `digest` names, if there is one.
    pub(super) fn remove(&mut self, digest: &TokenDigest) {
        if self.get(digest).is_some() {
            if let Some(slot) = self.slots.remove(&Key::of(digest)) {
                self.blocks.release(slot.at);
            }
        }
    }

    /// Removes every entry whose `until` is before `now`, then moves the live blocks out of
    /// mostly empty chunks, and shrinks the table if it is mostly empty (see
    /// [`shrink`](super::shrink)).
    pub(super) fn sweep(&mut self, now: u64) {
        let blocks = &mut self.blocks;
        self.slots.retain(|_, slot| {
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
            for slot in self.slots.values_mut() {
                if sparse.get(slot.at.chunk as usize) == Some(&true) {
                    slot.at = blocks.relocate(slot.at, &mut buffer);
                }
            }
        }
        super::shrink(&mut self.slots);
    }

    /// The number of entries.
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// How many entries the table can hold without growing.
    pub(super) fn capacity(&self) -> usize {
        self.slots.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What BENCHMARKS.md's memory figures rest on: a table slot (key and value) is 40 bytes.
    #[test]
    fn a_table_slot_is_40_bytes() {
        assert_eq!(std::mem::size_of::<(Key, Slot)>(), 40);
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
