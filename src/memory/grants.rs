use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use crate::error::StoreError;
use crate::pkce::{ChallengeMethod, CodeChallenge};
use crate::scope::ScopeSet;
use crate::secret::TokenDigest;
use crate::store::{
    AccessTokenRecord, CodeGrant, CodeRedemption, EndUser, GrantId, GrantStore,
    PendingAuthorization, RefreshLookup, RefreshTokenRecord, Rotation,
};

const SHARDS: usize = 16;
/// How often (in seconds of the server's clock) a shard is swept of expired entries.
const SWEEP_INTERVAL: u64 = 30;

use super::DigestMap as Map;

mod table;

use table::{Entry, Table};

/// Fixed fields in the order given, as one array for [`Table::insert`].
fn fixed_fields<const N: usize>(parts: &[&[u8]]) -> [u8; N] {
    let mut out = [0; N];
    let mut at = 0;
    for part in parts {
        if let Some(dst) = out.get_mut(at..at + part.len()) {
            dst.copy_from_slice(part);
        }
        at += part.len();
    }
    out
}

/// Reads back what [`Table::insert`] wrote after the digest: fixed fields in order, then
/// [`strings`](Self::strings). A block is only ever read as it was written; a short one reads
/// as zeros and empty strings, never a panic.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let (value, rest) = self.0.split_at_checked(N).unwrap_or((&[], &[]));
        self.0 = rest;
        value.try_into().unwrap_or([0; N])
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.bytes())
    }

    fn flag(&mut self) -> u8 {
        let [b] = self.bytes();
        b
    }

    fn grant_id(&mut self) -> GrantId {
        GrantId::from_bytes(self.bytes())
    }

    /// The strings after the fixed fields: their count, their lengths, then their bytes,
    /// checked as UTF-8 once for all of them.
    fn strings(mut self) -> Strings<'a> {
        let count = u32::from_le_bytes(self.bytes()) as usize;
        let (lengths, text) = self
            .0
            .split_at_checked(count.saturating_mul(4))
            .unwrap_or((&[], &[]));
        Strings {
            lengths,
            // What insert wrote was strings.
            text: std::str::from_utf8(text).unwrap_or_default(),
        }
    }
}

/// The strings of a block, in the order written (see [`Fields::strings`]).
struct Strings<'a> {
    lengths: &'a [u8],
    text: &'a str,
}

impl<'a> Strings<'a> {
    fn next(&mut self) -> &'a str {
        let Some((length, rest)) = self.lengths.split_first_chunk::<4>() else {
            return "";
        };
        self.lengths = rest;
        // Each string ends where the next begins, so on a char boundary; `split_at_checked`
        // keeps that from being an assumption.
        let (value, rest) = self
            .text
            .split_at_checked(u32::from_le_bytes(*length) as usize)
            .unwrap_or((self.text, ""));
        self.text = rest;
        value
    }

    /// The end of an [`EndUser`] packed by [`user_tail`]: its `acr` (when `has_acr`), then
    /// every string left as an `amr` value.
    fn user(mut self, subject: String, auth_time: u64, has_acr: bool) -> EndUser {
        let acr = has_acr.then(|| self.next().to_owned());
        let mut amr = Vec::new();
        while !self.lengths.is_empty() {
            amr.push(self.next().to_owned());
        }
        EndUser {
            subject,
            auth_time,
            acr,
            amr,
        }
    }
}

/// The end of a packed [`EndUser`]: its `acr` when it has one, then every `amr` value (read
/// back by [`Strings::user`]).
fn user_tail(user: &EndUser) -> impl Iterator<Item = &str> + Clone {
    user.acr
        .as_deref()
        .into_iter()
        .chain(user.amr.iter().map(String::as_str))
}

const HAS_NONCE: u8 = 1;
const HAS_CHALLENGE: u8 = 2;
const HAS_ACR: u8 = 4;
const PLAIN_CHALLENGE: u8 = 8;

/// A code's block: grant id, issued at, `auth_time`, flags, redeemed; then client id,
/// redirect URI, scope and subject, the nonce, the code challenge and the `acr` when the
/// flags say they are present, then each `amr` value. Its expiry is the slot's `until`.
mod codes {
    use super::*;

    /// Where the redeemed flag is in the fixed fields.
    pub(super) const REDEEMED: usize = 16 + 8 + 8 + 1;

    pub(super) fn store(table: &mut Table, digest: &TokenDigest, grant: &CodeGrant) {
        let user = &grant.user;
        let mut flags = 0;
        if grant.nonce.is_some() {
            flags |= HAS_NONCE;
        }
        if let Some(challenge) = &grant.code_challenge {
            flags |= HAS_CHALLENGE;
            if challenge.method() == ChallengeMethod::Plain {
                flags |= PLAIN_CHALLENGE;
            }
        }
        if user.acr.is_some() {
            flags |= HAS_ACR;
        }
        let strings = [
            &*grant.client_id,
            &grant.redirect_uri,
            grant.scope.as_str(),
            &user.subject,
        ]
        .into_iter()
        .chain(grant.nonce.as_deref())
        .chain(grant.code_challenge.as_ref().map(CodeChallenge::as_str))
        .chain(user_tail(user));
        let fixed: [u8; REDEEMED + 1] = fixed_fields(&[
            grant.grant_id.as_bytes(),
            &grant.issued_at.to_le_bytes(),
            &user.auth_time.to_le_bytes(),
            &[flags],
            &[0],
        ]);
        table.insert(digest, grant.expires_at, fixed, strings);
    }

    /// The grant, and whether it was already redeemed.
    pub(super) fn unpack(entry: Entry<'_>) -> (CodeGrant, bool) {
        let mut f = Fields(entry.block);
        let grant_id = f.grant_id();
        let issued_at = f.u64();
        let auth_time = f.u64();
        let flags = f.flag();
        let redeemed = f.flag() != 0;
        let mut f = f.strings();
        let client_id = f.next().into();
        let redirect_uri = f.next().into();
        let scope = ScopeSet::from_wire(f.next());
        let subject = f.next().to_owned();
        let nonce = (flags & HAS_NONCE != 0).then(|| f.next().into());
        let code_challenge = (flags & HAS_CHALLENGE != 0).then(|| {
            let method = if flags & PLAIN_CHALLENGE != 0 {
                ChallengeMethod::Plain
            } else {
                ChallengeMethod::S256
            };
            CodeChallenge::from_stored(f.next(), method)
        });
        let user = f.user(subject, auth_time, flags & HAS_ACR != 0);
        let grant = CodeGrant {
            grant_id,
            client_id,
            redirect_uri,
            scope,
            user,
            nonce,
            code_challenge,
            issued_at,
            expires_at: entry.until,
        };
        (grant, redeemed)
    }
}

/// An opaque access token's block: grant id, issued at, whether there is a subject; then
/// the client id, the scope and the subject. Its expiry is the slot's `until`.
mod access {
    use super::*;

    pub(super) fn store(table: &mut Table, digest: &TokenDigest, record: &AccessTokenRecord) {
        let strings = [&*record.client_id, record.scope.as_str()]
            .into_iter()
            .chain(record.subject.as_deref());
        let fixed: [u8; 16 + 8 + 1] = fixed_fields(&[
            record.grant_id.as_bytes(),
            &record.issued_at.to_le_bytes(),
            &[u8::from(record.subject.is_some())],
        ]);
        table.insert(digest, record.expires_at, fixed, strings);
    }

    pub(super) fn unpack(entry: Entry<'_>) -> AccessTokenRecord {
        let mut f = Fields(entry.block);
        let grant_id = f.grant_id();
        let issued_at = f.u64();
        let has_subject = f.flag() != 0;
        let mut f = f.strings();
        AccessTokenRecord {
            grant_id,
            client_id: f.next().into(),
            scope: ScopeSet::from_wire(f.next()),
            subject: has_subject.then(|| f.next().into()),
            issued_at,
            expires_at: entry.until,
        }
    }
}

/// A refresh token's block: grant id, issued at, expires at, the family's expiry,
/// `auth_time`, whether there is an `acr`, rotated; then the client id, the scope, the
/// subject, the `acr` and each `amr` value. The slot's `until` is the token's own expiry
/// while it is live, and the family's once it is rotated: a rotated token is kept to
/// recognise its reuse.
mod refresh {
    use super::*;

    /// Where the rotated flag is in the fixed fields.
    pub(super) const ROTATED: usize = 16 + 8 * 4 + 1;

    pub(super) fn store(table: &mut Table, digest: &TokenDigest, record: &RefreshTokenRecord) {
        let user = &record.user;
        let strings = [&*record.client_id, record.scope.as_str(), &user.subject]
            .into_iter()
            .chain(user_tail(user));
        let fixed: [u8; ROTATED + 1] = fixed_fields(&[
            record.grant_id.as_bytes(),
            &record.issued_at.to_le_bytes(),
            &record.expires_at.to_le_bytes(),
            &record.family_expires_at.to_le_bytes(),
            &user.auth_time.to_le_bytes(),
            &[u8::from(user.acr.is_some())],
            &[0],
        ]);
        table.insert(digest, record.expires_at, fixed, strings);
    }

    /// The token's own expiry, its family's, and whether it was rotated, without reading
    /// its strings.
    pub(super) fn lifetime(block: &[u8]) -> (u64, u64, bool) {
        let mut f = Fields(block);
        let _grant_id_and_issued_at: [u8; 16 + 8] = f.bytes();
        let expires_at = f.u64();
        let family_expires_at = f.u64();
        let _auth_time_and_has_acr: [u8; 8 + 1] = f.bytes();
        (expires_at, family_expires_at, f.flag() != 0)
    }

    /// The record, and whether the token was rotated.
    pub(super) fn unpack(entry: Entry<'_>) -> (RefreshTokenRecord, bool) {
        let mut f = Fields(entry.block);
        let grant_id = f.grant_id();
        let issued_at = f.u64();
        let expires_at = f.u64();
        let family_expires_at = f.u64();
        let auth_time = f.u64();
        let has_acr = f.flag() != 0;
        let rotated = f.flag() != 0;
        let mut f = f.strings();
        let client_id = f.next();
        let scope = ScopeSet::from_wire(f.next());
        let subject = f.next().to_owned();
        let record = RefreshTokenRecord::new(
            grant_id,
            client_id,
            f.user(subject, auth_time, has_acr),
            scope,
            issued_at,
            expires_at,
            family_expires_at,
        );
        (record, rotated)
    }
}

#[derive(Default)]
struct Shard {
    refresh_tokens: Table,
    codes: Table,
    access_tokens: Table,
    revoked: Map<GrantId, u64>,
    assertion_ids: Map<TokenDigest, u64>,
    interactions: Map<TokenDigest, PendingAuthorization>,
    next_sweep: u64,
}

impl Shard {
    fn sweep(&mut self, now: u64) {
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now + SWEEP_INTERVAL;
        self.codes.sweep(now);
        self.access_tokens.sweep(now);
        self.refresh_tokens.sweep(now);
        self.revoked.retain(|_, until| *until >= now);
        self.assertion_ids.retain(|_, until| *until >= now);
        self.interactions.retain(|_, p| p.expires_at >= now);
        shrink(&mut self.revoked);
        shrink(&mut self.assertion_ids);
        shrink(&mut self.interactions);
    }
}

/// Gives back most of a table's memory once it is less than a quarter full (after a burst
/// has expired), keeping room for twice what is left: memory follows what is live, not the
/// peak, and a sparse table's lookups stop missing the cache. Tables of up to 1,024 slots
/// are left alone.
fn shrink<K: std::hash::Hash + Eq, V>(map: &mut Map<K, V>) {
    if map.capacity() > 1024 && map.len() < map.capacity() / 4 {
        map.shrink_to(map.len() * 2);
    }
}

/// Grants held in memory: the reference [`GrantStore`].
///
/// Entries are spread over 16 shards, each behind its own mutex, held only for a map
/// operation and never across an `.await`. Each shard is swept of expired entries at most
/// every 30 seconds of the server's clock, on writes, and its tables shrink when mostly
/// empty, so memory stays bounded by what is live. Codes and tokens are packed into
/// 16 KiB chunks rather than allocated one by one: a chunk is freed with its last entry,
/// and a sweep moves what is left in mostly empty chunks, so the chunks follow what is live
/// too.
#[derive(Clone, Default)]
pub struct MemoryGrantStore {
    shards: Arc<[Mutex<Shard>; SHARDS]>,
}

impl std::fmt::Debug for MemoryGrantStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (codes, tokens) = self.counts();
        f.debug_struct("MemoryGrantStore")
            .field("codes", &codes)
            .field("access_tokens", &tokens)
            .finish_non_exhaustive()
    }
}

impl MemoryGrantStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn shard(&self, key: &[u8]) -> MutexGuard<'_, Shard> {
        let i = key[0] as usize % SHARDS;
        self.shards[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The number of stored codes (live or spent) and access tokens, for tests and metrics.
    pub fn counts(&self) -> (usize, usize) {
        let mut codes = 0;
        let mut tokens = 0;
        for s in self.shards.iter() {
            let s = s.lock().unwrap_or_else(PoisonError::into_inner);
            codes += s.codes.len();
            tokens += s.access_tokens.len();
        }
        (codes, tokens)
    }

    /// Removes every expired entry now, whatever the sweep schedule.
    pub fn purge_expired(&self, now: u64) {
        for s in self.shards.iter() {
            let mut s = s.lock().unwrap_or_else(PoisonError::into_inner);
            s.next_sweep = 0;
            s.sweep(now);
        }
    }

    /// The number of entries held, of every kind: codes (live or spent), access tokens,
    /// refresh tokens (live or rotated), grant revocations, client assertion ids and pending
    /// authorizations. Expired entries count until a sweep removes them (see
    /// [`purge_expired`](Self::purge_expired)); for tests and metrics.
    pub fn len(&self) -> usize {
        self.fold(|s| {
            s.codes.len()
                + s.access_tokens.len()
                + s.refresh_tokens.len()
                + s.revoked.len()
                + s.assertion_ids.len()
                + s.interactions.len()
        })
    }

    /// Whether the store holds no entry at all (see [`len`](Self::len)).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many entries the store's maps can hold without growing (a lower bound, summed over
    /// every kind and shard): roughly what its memory is sized for. A sweep removes expired
    /// entries, and shrinks a map that is left less than a quarter full to twice what it
    /// holds, so after a burst expires the memory follows what is live. For tests and metrics.
    pub fn capacity(&self) -> usize {
        self.fold(|s| {
            s.codes.capacity()
                + s.access_tokens.capacity()
                + s.refresh_tokens.capacity()
                + s.revoked.capacity()
                + s.assertion_ids.capacity()
                + s.interactions.capacity()
        })
    }

    fn fold(&self, count: impl Fn(&Shard) -> usize) -> usize {
        self.shards
            .iter()
            .map(|s| count(&s.lock().unwrap_or_else(PoisonError::into_inner)))
            .sum()
    }

    fn is_revoked(&self, grant: &GrantId, now: u64) -> bool {
        self.shard(grant.as_bytes())
            .revoked
            .get(grant)
            .is_some_and(|until| *until >= now)
    }
}

#[async_trait]
impl GrantStore for MemoryGrantStore {
    async fn store_code(&self, code: TokenDigest, grant: CodeGrant) -> Result<(), StoreError> {
        let mut shard = self.shard(code.as_bytes());
        shard.sweep(grant.issued_at);
        codes::store(&mut shard.codes, &code, &grant);
        Ok(())
    }

    async fn redeem_code(
        &self,
        code: &TokenDigest,
        now: u64,
    ) -> Result<CodeRedemption, StoreError> {
        let mut shard = self.shard(code.as_bytes());
        Ok(match shard.codes.get_mut(code) {
            Some(e) if !crate::clock::expired(*e.until, now) => {
                let (grant, redeemed) = codes::unpack(e.as_entry());
                if redeemed {
                    CodeRedemption::AlreadyRedeemed(grant)
                } else {
                    if let Some(flag) = e.block.get_mut(codes::REDEEMED) {
                        *flag = 1;
                    }
                    CodeRedemption::Redeemed(grant)
                }
            }
            _ => CodeRedemption::NotFound,
        })
    }

    async fn store_access_token(
        &self,
        token: TokenDigest,
        record: AccessTokenRecord,
    ) -> Result<(), StoreError> {
        let mut shard = self.shard(token.as_bytes());
        shard.sweep(record.issued_at);
        access::store(&mut shard.access_tokens, &token, &record);
        Ok(())
    }

    async fn access_token(
        &self,
        token: &TokenDigest,
        now: u64,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        let record = {
            let shard = self.shard(token.as_bytes());
            match shard.access_tokens.get(token) {
                Some(e) if !crate::clock::expired(e.until, now) => access::unpack(e),
                _ => return Ok(None),
            }
        };
        if self.is_revoked(&record.grant_id, now) {
            return Ok(None);
        }
        Ok(Some(record))
    }

    async fn consume_assertion_id(&self, id: TokenDigest, until: u64) -> Result<bool, StoreError> {
        let mut shard = self.shard(id.as_bytes());
        Ok(shard.assertion_ids.insert(id, until).is_none())
    }

    async fn revoke_access_token(&self, token: &TokenDigest) -> Result<(), StoreError> {
        self.shard(token.as_bytes()).access_tokens.remove(token);
        Ok(())
    }

    async fn revoke_grant(&self, grant: &GrantId, until: u64) -> Result<(), StoreError> {
        let mut shard = self.shard(grant.as_bytes());
        let entry = shard.revoked.entry(*grant).or_insert(until);
        *entry = (*entry).max(until);
        Ok(())
    }

    async fn store_refresh_token(
        &self,
        token: TokenDigest,
        record: RefreshTokenRecord,
    ) -> Result<(), StoreError> {
        let mut shard = self.shard(token.as_bytes());
        shard.sweep(record.issued_at);
        refresh::store(&mut shard.refresh_tokens, &token, &record);
        Ok(())
    }

    async fn refresh_token(
        &self,
        token: &TokenDigest,
        now: u64,
    ) -> Result<RefreshLookup, StoreError> {
        let (record, rotated) = {
            let shard = self.shard(token.as_bytes());
            match shard.refresh_tokens.get(token) {
                Some(e) if !crate::clock::expired(e.until, now) => refresh::unpack(e),
                _ => return Ok(RefreshLookup::NotFound),
            }
        };
        if self.is_revoked(&record.grant_id, now) {
            return Ok(RefreshLookup::NotFound);
        }
        Ok(if rotated {
            RefreshLookup::Rotated(record)
        } else {
            RefreshLookup::Active(record)
        })
    }

    async fn rotate_refresh_token(
        &self,
        old: &TokenDigest,
        new: TokenDigest,
        record: RefreshTokenRecord,
        now: u64,
    ) -> Result<Rotation, StoreError> {
        if self.is_revoked(&record.grant_id, now) {
            return Ok(Rotation::NotFound);
        }
        {
            let mut shard = self.shard(old.as_bytes());
            match shard.refresh_tokens.get_mut(old) {
                Some(e) => {
                    let (expires_at, family_expires_at, rotated) = refresh::lifetime(e.block);
                    if rotated {
                        return Ok(Rotation::AlreadyRotated);
                    }
                    if crate::clock::expired(expires_at, now) {
                        return Ok(Rotation::NotFound);
                    }
                    // Kept until the family expires, to recognise its reuse.
                    *e.until = family_expires_at;
                    if let Some(flag) = e.block.get_mut(refresh::ROTATED) {
                        *flag = 1;
                    }
                }
                _ => return Ok(Rotation::NotFound),
            }
        }
        // Only this caller got past the check above, and nobody knows `new` yet.
        let mut shard = self.shard(new.as_bytes());
        shard.sweep(now);
        refresh::store(&mut shard.refresh_tokens, &new, &record);
        Ok(Rotation::Rotated)
    }

    async fn save_interaction(
        &self,
        id: TokenDigest,
        pending: PendingAuthorization,
    ) -> Result<(), StoreError> {
        let now = pending.request.requested_at;
        let mut shard = self.shard(id.as_bytes());
        shard.sweep(now);
        shard.interactions.insert(id, pending);
        Ok(())
    }

    async fn interaction(
        &self,
        id: &TokenDigest,
        now: u64,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        let shard = self.shard(id.as_bytes());
        Ok(shard
            .interactions
            .get(id)
            .filter(|p| !crate::clock::expired(p.expires_at, now))
            .cloned())
    }

    async fn take_interaction(
        &self,
        id: &TokenDigest,
        now: u64,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        let mut shard = self.shard(id.as_bytes());
        Ok(shard
            .interactions
            .remove(id)
            .filter(|p| !crate::clock::expired(p.expires_at, now)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(
        nonce: bool,
        challenge: Option<ChallengeMethod>,
        acr: bool,
        amr: &[&str],
    ) -> CodeGrant {
        let mut user = EndUser::new("alice-sub", 1_700_000_000);
        user.acr = acr.then(|| "urn:acr:ü".to_owned());
        user.amr = amr.iter().map(|s| s.to_string()).collect();
        CodeGrant {
            grant_id: GrantId::generate(),
            client_id: "web-app".into(),
            redirect_uri: "https://app.example/cb?x=é".into(),
            scope: ScopeSet::parse("openid read").unwrap(),
            user,
            nonce: nonce.then(|| "n-0S6_WzA2Mj".into()),
            code_challenge: challenge.map(|m| {
                CodeChallenge::parse(
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                    Some(m.as_str()),
                    true,
                )
                .unwrap()
            }),
            issued_at: 10,
            expires_at: 70,
        }
    }

    /// A stored code reads back exactly as it was given, whatever is present.
    #[test]
    fn packed_codes_unpack_to_the_same_grant() {
        for g in [
            grant(false, None, false, &[]),
            grant(true, Some(ChallengeMethod::S256), false, &[]),
            grant(true, Some(ChallengeMethod::Plain), true, &["pwd", "otp"]),
            grant(false, Some(ChallengeMethod::S256), true, &[""]),
        ] {
            let mut table = Table::default();
            let digest = TokenDigest::of("c");
            codes::store(&mut table, &digest, &g);
            let (back, redeemed) = codes::unpack(table.get(&digest).unwrap());
            assert!(!redeemed);
            assert_eq!(format!("{back:?}"), format!("{g:?}"));
            assert_eq!(back.user, g.user);
            assert_eq!(back.code_challenge, g.code_challenge);
            assert_eq!(back.grant_id, g.grant_id);
            assert_eq!(back.client_id, g.client_id);
            assert_eq!(back.redirect_uri, g.redirect_uri);
            assert_eq!(back.nonce, g.nonce);
            assert_eq!(back.scope, g.scope);
            assert_eq!(
                (back.issued_at, back.expires_at),
                (g.issued_at, g.expires_at)
            );
        }
    }

    /// Stored access and refresh tokens read back exactly as they were given, with and
    /// without a subject, `acr` and `amr`.
    #[test]
    fn packed_tokens_unpack_to_the_same_records() {
        for subject in [None, Some("alice-sub"), Some("")] {
            let record = AccessTokenRecord {
                grant_id: GrantId::generate(),
                client_id: "web-app".into(),
                subject: subject.map(Into::into),
                scope: ScopeSet::parse("openid read").unwrap(),
                issued_at: 10,
                expires_at: 70,
            };
            let mut table = Table::default();
            let digest = TokenDigest::of("a");
            access::store(&mut table, &digest, &record);
            let back = access::unpack(table.get(&digest).unwrap());
            assert_eq!(format!("{back:?}"), format!("{record:?}"));
            assert_eq!(back.grant_id, record.grant_id);
        }
        for (acr, amr) in [
            (false, &[][..]),
            (true, &["pwd", "otp"][..]),
            (false, &[""][..]),
        ] {
            let mut user = EndUser::new("alice-sub", 1_700_000_000);
            user.acr = acr.then(|| "urn:acr:ü".to_owned());
            user.amr = amr.iter().map(|s| s.to_string()).collect();
            let record = RefreshTokenRecord::new(
                GrantId::generate(),
                "web-app",
                user,
                ScopeSet::parse("openid offline_access").unwrap(),
                10,
                100,
                1_000,
            );
            let mut table = Table::default();
            let digest = TokenDigest::of("r");
            refresh::store(&mut table, &digest, &record);
            let entry = table.get(&digest).unwrap();
            assert_eq!(refresh::lifetime(entry.block), (100, 1_000, false));
            let (back, rotated) = refresh::unpack(entry);
            assert!(!rotated);
            assert_eq!(format!("{back:?}"), format!("{record:?}"));
            assert_eq!(back.user, record.user);
            assert_eq!(back.grant_id, record.grant_id);
        }
    }

    /// `digest` with byte `at` (12 or later: past the slot's key) changed: the same table
    /// key, another token.
    fn same_key(digest: &TokenDigest, at: usize) -> TokenDigest {
        let mut bytes = *digest.as_bytes();
        bytes[at] ^= 1;
        TokenDigest::from_bytes(bytes)
    }

    /// The tables are keyed by the first 12 bytes of a digest; a token whose digest shares
    /// those but not the rest is another token, found nowhere and revoking nothing.
    #[tokio::test]
    async fn lookups_match_all_256_bits_of_the_digest() {
        let store = MemoryGrantStore::new();
        let code = TokenDigest::of("code");
        let access = TokenDigest::of("access");
        let refresh = TokenDigest::of("refresh");
        let g = grant(true, Some(ChallengeMethod::S256), false, &[]);
        let record = AccessTokenRecord {
            grant_id: g.grant_id,
            client_id: "web-app".into(),
            subject: Some("alice-sub".into()),
            scope: ScopeSet::parse("read").unwrap(),
            issued_at: 10,
            expires_at: 70,
        };
        let rt = RefreshTokenRecord::new(
            g.grant_id,
            "web-app",
            EndUser::new("alice-sub", 1),
            ScopeSet::parse("read").unwrap(),
            10,
            100,
            1_000,
        );
        store.store_code(code, g.clone()).await.unwrap();
        store.store_access_token(access, record).await.unwrap();
        store
            .store_refresh_token(refresh, rt.clone())
            .await
            .unwrap();

        // The first byte after the key and the last byte: each end of the block's part.
        for at in [12, 31] {
            let redeemed = store.redeem_code(&same_key(&code, at), 20).await.unwrap();
            assert!(matches!(redeemed, CodeRedemption::NotFound), "byte {at}");
            let access_record = store
                .access_token(&same_key(&access, at), 20)
                .await
                .unwrap();
            assert!(access_record.is_none(), "byte {at}");
            let found = store
                .refresh_token(&same_key(&refresh, at), 20)
                .await
                .unwrap();
            assert!(matches!(found, RefreshLookup::NotFound), "byte {at}");
            let next = TokenDigest::of("next");
            let rotation = store
                .rotate_refresh_token(&same_key(&refresh, at), next, rt.clone(), 20)
                .await
                .unwrap();
            assert!(matches!(rotation, Rotation::NotFound), "byte {at}");
            store
                .revoke_access_token(&same_key(&access, at))
                .await
                .unwrap();
        }

        // The real ones are all still there, untouched.
        let redeemed = store.redeem_code(&code, 20).await.unwrap();
        assert!(matches!(redeemed, CodeRedemption::Redeemed(r) if r.grant_id == g.grant_id));
        assert!(store.access_token(&access, 20).await.unwrap().is_some());
        let found = store.refresh_token(&refresh, 20).await.unwrap();
        assert!(matches!(found, RefreshLookup::Active(_)));
    }

    /// Redeeming a code and rotating a refresh token set a flag inside the entry's block:
    /// what is read back afterwards is the same record, now marked, and a rotated token is
    /// kept until its family expires, not its own expiry.
    #[tokio::test]
    async fn flags_set_in_place_leave_the_records_intact() {
        let store = MemoryGrantStore::new();
        let code = TokenDigest::of("code");
        let g = grant(true, Some(ChallengeMethod::Plain), true, &["pwd", "otp"]);
        let mut user = EndUser::new("alice-sub", 1_700_000_000);
        user.acr = Some("urn:acr:ü".to_owned());
        user.amr = vec!["pwd".to_owned()];
        let rt = RefreshTokenRecord::new(
            g.grant_id,
            "web-app",
            user,
            ScopeSet::parse("openid offline_access").unwrap(),
            10,
            100,
            1_000,
        );
        let refresh = TokenDigest::of("refresh");
        store.store_code(code, g.clone()).await.unwrap();
        let first = store.redeem_code(&code, 20).await.unwrap();
        let CodeRedemption::Redeemed(first) = first else {
            panic!("first redemption: {first:?}")
        };
        let again = store.redeem_code(&code, 20).await.unwrap();
        let CodeRedemption::AlreadyRedeemed(again) = again else {
            panic!("second redemption: {again:?}")
        };
        assert_eq!(format!("{first:?}"), format!("{g:?}"));
        assert_eq!(format!("{again:?}"), format!("{g:?}"));

        store
            .store_refresh_token(refresh, rt.clone())
            .await
            .unwrap();
        let rotation = store
            .rotate_refresh_token(&refresh, TokenDigest::of("next"), rt.clone(), 20)
            .await
            .unwrap();
        assert!(matches!(rotation, Rotation::Rotated));
        // Past its own expiry (100), within its family's (1,000): kept, as rotated.
        match store.refresh_token(&refresh, 500).await.unwrap() {
            RefreshLookup::Rotated(back) => {
                assert_eq!(format!("{back:?}"), format!("{rt:?}"));
                assert_eq!(back.user, rt.user);
            }
            other => panic!("after rotation: {other:?}"),
        }
        store.purge_expired(500);
        assert!(matches!(
            store.refresh_token(&refresh, 500).await.unwrap(),
            RefreshLookup::Rotated(_)
        ));
        store.purge_expired(1_001);
        assert!(matches!(
            store.refresh_token(&refresh, 1_001).await.unwrap(),
            RefreshLookup::NotFound
        ));
    }

    /// Every lookup treats an entry as expired from its `expires_at` second on, as grantor
    /// does (`clock::expired`, RFC 7519 §4.1.4): live one second before, gone at it. A rotated
    /// refresh token is recognised until its family's expiry, exclusive.
    #[tokio::test]
    async fn entries_expire_at_their_expires_at_second() {
        let store = MemoryGrantStore::new();
        let g = grant(false, None, false, &[]); // expires at 70
        let (early, late) = (TokenDigest::of("c1"), TokenDigest::of("c2"));
        store.store_code(early, g.clone()).await.unwrap();
        store.store_code(late, g.clone()).await.unwrap();
        let r = store.redeem_code(&early, 69).await.unwrap();
        assert!(matches!(r, CodeRedemption::Redeemed(_)), "{r:?}");
        let r = store.redeem_code(&late, 70).await.unwrap();
        assert!(matches!(r, CodeRedemption::NotFound), "{r:?}");

        let at = TokenDigest::of("at");
        let record = AccessTokenRecord {
            grant_id: g.grant_id,
            client_id: "web-app".into(),
            subject: None,
            scope: ScopeSet::parse("read").unwrap(),
            issued_at: 10,
            expires_at: 70,
        };
        store.store_access_token(at, record).await.unwrap();
        assert!(store.access_token(&at, 69).await.unwrap().is_some());
        assert!(store.access_token(&at, 70).await.unwrap().is_none());

        let rt = |expires_at| {
            let user = EndUser::new("alice-sub", 0);
            let scope = ScopeSet::parse("read").unwrap();
            RefreshTokenRecord::new(g.grant_id, "web-app", user, scope, 10, expires_at, 1_000)
        };
        let (old, new) = (TokenDigest::of("rt1"), TokenDigest::of("rt2"));
        store.store_refresh_token(old, rt(70)).await.unwrap();
        let r = store.refresh_token(&old, 69).await.unwrap();
        assert!(matches!(r, RefreshLookup::Active(_)), "{r:?}");
        let r = store.refresh_token(&old, 70).await.unwrap();
        assert!(matches!(r, RefreshLookup::NotFound), "{r:?}");
        let r = store.rotate_refresh_token(&old, new, rt(200), 70).await;
        assert!(matches!(r, Ok(Rotation::NotFound)), "{r:?}");
        let r = store.rotate_refresh_token(&old, new, rt(200), 69).await;
        assert!(matches!(r, Ok(Rotation::Rotated)), "{r:?}");
        let r = store.refresh_token(&old, 999).await.unwrap();
        assert!(matches!(r, RefreshLookup::Rotated(_)), "{r:?}");
        let r = store.refresh_token(&old, 1_000).await.unwrap();
        assert!(matches!(r, RefreshLookup::NotFound), "{r:?}");
    }
}
