use std::sync::{Arc, Mutex, MutexGuard};

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

/// An authorization code's grant as stored: the fixed fields inline and every string packed
/// into one heap block, so that an outstanding code costs its table slot and one allocation
/// (BENCHMARKS.md, "memory per outstanding code"). Unpacked into a [`CodeGrant`] on redemption.
struct CodeEntry {
    grant_id: GrantId,
    issued_at: u64,
    expires_at: u64,
    auth_time: u64,
    /// client id, redirect URI, scope and subject, then the nonce, the code challenge and the
    /// `acr` when `flags` says they are present, then each `amr` value: each a little-endian
    /// `u32` length and its UTF-8 bytes.
    text: Box<[u8]>,
    flags: u8,
    redeemed: bool,
}

const HAS_NONCE: u8 = 1;
const HAS_CHALLENGE: u8 = 2;
const HAS_ACR: u8 = 4;
const PLAIN_CHALLENGE: u8 = 8;

impl CodeEntry {
    fn pack(grant: CodeGrant) -> CodeEntry {
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
        CodeEntry {
            grant_id: grant.grant_id,
            issued_at: grant.issued_at,
            expires_at: grant.expires_at,
            auth_time: user.auth_time,
            text: pack(strings),
            flags,
            redeemed: false,
        }
    }

    fn unpack(&self) -> CodeGrant {
        let mut text = Packed(&self.text);
        let client_id = text.next().into();
        let redirect_uri = text.next().into();
        let scope = ScopeSet::from_wire(text.next());
        let subject = text.next().to_owned();
        let nonce = (self.flags & HAS_NONCE != 0).then(|| text.next().into());
        let code_challenge = (self.flags & HAS_CHALLENGE != 0).then(|| {
            let method = if self.flags & PLAIN_CHALLENGE != 0 {
                ChallengeMethod::Plain
            } else {
                ChallengeMethod::S256
            };
            CodeChallenge::from_stored(text.next(), method)
        });
        let user = text.user(subject, self.auth_time, self.flags & HAS_ACR != 0);
        CodeGrant {
            grant_id: self.grant_id,
            client_id,
            redirect_uri,
            scope,
            user,
            nonce,
            code_challenge,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
        }
    }
}

/// `strings` in one heap block: each a little-endian `u32` length and its UTF-8 bytes.
fn pack<'s>(strings: impl Iterator<Item = &'s str> + Clone) -> Box<[u8]> {
    let len = strings.clone().map(|s| 4 + s.len()).sum();
    let mut text = Vec::with_capacity(len);
    for s in strings {
        // Every value came through a request or host code bounded far below 4 GiB.
        text.extend_from_slice(&(s.len() as u32).to_le_bytes());
        text.extend_from_slice(s.as_bytes());
    }
    text.into_boxed_slice()
}

/// The end of a packed [`EndUser`]: its `acr` when it has one, then every `amr` value (read
/// back by [`Packed::user`]).
fn user_tail(user: &EndUser) -> impl Iterator<Item = &str> + Clone {
    user.acr
        .as_deref()
        .into_iter()
        .chain(user.amr.iter().map(String::as_str))
}

/// Reads back what [`pack`] wrote.
struct Packed<'a>(&'a [u8]);

impl<'a> Packed<'a> {
    /// The end of an [`EndUser`] packed as its `acr` (when `has_acr`), then every `amr`
    /// value to the end of the block.
    fn user(mut self, subject: String, auth_time: u64, has_acr: bool) -> EndUser {
        let acr = has_acr.then(|| self.next().to_owned());
        let mut amr = Vec::new();
        while !self.0.is_empty() {
            amr.push(self.next().to_owned());
        }
        EndUser {
            subject,
            auth_time,
            acr,
            amr,
        }
    }

    fn next(&mut self) -> &'a str {
        let (len, rest) = self.0.split_at_checked(4).unwrap_or((&[0; 4], &[]));
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let (value, rest) = rest.split_at_checked(len).unwrap_or((rest, &[]));
        self.0 = rest;
        // What pack wrote was a str.
        std::str::from_utf8(value).unwrap_or_default()
    }
}

/// An opaque access token's record as stored: like [`CodeEntry`], its strings (client id,
/// scope, then the subject when there is one) packed into one block.
struct AccessEntry {
    grant_id: GrantId,
    issued_at: u64,
    expires_at: u64,
    text: Box<[u8]>,
    has_subject: bool,
}

impl AccessEntry {
    fn pack(record: AccessTokenRecord) -> AccessEntry {
        let mut strings = [&*record.client_id, record.scope.as_str(), ""];
        let n = match &record.subject {
            Some(subject) => {
                strings[2] = subject;
                3
            }
            None => 2,
        };
        AccessEntry {
            grant_id: record.grant_id,
            issued_at: record.issued_at,
            expires_at: record.expires_at,
            text: pack(strings[..n].iter().copied()),
            has_subject: record.subject.is_some(),
        }
    }

    fn unpack(&self) -> AccessTokenRecord {
        let mut text = Packed(&self.text);
        AccessTokenRecord {
            grant_id: self.grant_id,
            client_id: text.next().into(),
            scope: ScopeSet::from_wire(text.next()),
            subject: self.has_subject.then(|| text.next().into()),
            issued_at: self.issued_at,
            expires_at: self.expires_at,
        }
    }
}

/// A refresh token's record as stored: client id, scope, subject, then the user's `acr` and
/// `amr` values, packed into one block.
struct RefreshEntry {
    grant_id: GrantId,
    issued_at: u64,
    expires_at: u64,
    family_expires_at: u64,
    auth_time: u64,
    text: Box<[u8]>,
    has_acr: bool,
    rotated: bool,
}

impl RefreshEntry {
    fn pack(record: RefreshTokenRecord) -> RefreshEntry {
        let user = &record.user;
        let strings = [&*record.client_id, record.scope.as_str(), &user.subject]
            .into_iter()
            .chain(user_tail(user));
        RefreshEntry {
            grant_id: record.grant_id,
            issued_at: record.issued_at,
            expires_at: record.expires_at,
            family_expires_at: record.family_expires_at,
            auth_time: user.auth_time,
            text: pack(strings),
            has_acr: user.acr.is_some(),
            rotated: false,
        }
    }

    fn unpack(&self) -> RefreshTokenRecord {
        let mut text = Packed(&self.text);
        let client_id = text.next();
        let scope = ScopeSet::from_wire(text.next());
        let subject = text.next().to_owned();
        RefreshTokenRecord::new(
            self.grant_id,
            client_id,
            text.user(subject, self.auth_time, self.has_acr),
            scope,
            self.issued_at,
            self.expires_at,
            self.family_expires_at,
        )
    }

    /// A live token lives until its own expiry; a rotated one is kept until the family
    /// expires, to recognise reuse.
    fn keep_until(&self) -> u64 {
        if self.rotated {
            self.family_expires_at
        } else {
            self.expires_at
        }
    }
}

#[derive(Default)]
struct Shard {
    refresh_tokens: Map<TokenDigest, RefreshEntry>,
    codes: Map<TokenDigest, CodeEntry>,
    access_tokens: Map<TokenDigest, AccessEntry>,
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
        self.codes.retain(|_, e| e.expires_at >= now);
        self.access_tokens.retain(|_, r| r.expires_at >= now);
        self.refresh_tokens.retain(|_, e| e.keep_until() >= now);
        self.revoked.retain(|_, until| *until >= now);
        self.assertion_ids.retain(|_, until| *until >= now);
        self.interactions.retain(|_, p| p.expires_at >= now);
        shrink(&mut self.codes);
        shrink(&mut self.access_tokens);
        shrink(&mut self.refresh_tokens);
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
/// empty, so memory stays bounded by what is live.
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
        match self.shards[i].lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The number of stored codes (live or spent) and access tokens, for tests and metrics.
    pub fn counts(&self) -> (usize, usize) {
        let mut codes = 0;
        let mut tokens = 0;
        for s in self.shards.iter() {
            let s = match s.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            codes += s.codes.len();
            tokens += s.access_tokens.len();
        }
        (codes, tokens)
    }

    /// Removes every expired entry now, whatever the sweep schedule.
    pub fn purge_expired(&self, now: u64) {
        for s in self.shards.iter() {
            let mut s = match s.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
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
            .map(|s| match s.lock() {
                Ok(g) => count(&g),
                Err(poisoned) => count(&poisoned.into_inner()),
            })
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
        let now = grant.issued_at;
        let entry = CodeEntry::pack(grant);
        let mut shard = self.shard(code.as_bytes());
        shard.sweep(now);
        shard.codes.insert(code, entry);
        Ok(())
    }

    async fn redeem_code(
        &self,
        code: &TokenDigest,
        now: u64,
    ) -> Result<CodeRedemption, StoreError> {
        let mut shard = self.shard(code.as_bytes());
        Ok(match shard.codes.get_mut(code) {
            Some(e) if e.expires_at < now => CodeRedemption::NotFound,
            Some(e) if e.redeemed => CodeRedemption::AlreadyRedeemed(e.unpack()),
            Some(e) => {
                e.redeemed = true;
                CodeRedemption::Redeemed(e.unpack())
            }
            None => CodeRedemption::NotFound,
        })
    }

    async fn store_access_token(
        &self,
        token: TokenDigest,
        record: AccessTokenRecord,
    ) -> Result<(), StoreError> {
        let now = record.issued_at;
        let entry = AccessEntry::pack(record);
        let mut shard = self.shard(token.as_bytes());
        shard.sweep(now);
        shard.access_tokens.insert(token, entry);
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
                Some(e) if e.expires_at >= now => e.unpack(),
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
        let now = record.issued_at;
        let entry = RefreshEntry::pack(record);
        let mut shard = self.shard(token.as_bytes());
        shard.sweep(now);
        shard.refresh_tokens.insert(token, entry);
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
                Some(e) if e.keep_until() >= now => (e.unpack(), e.rotated),
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
        let entry = RefreshEntry::pack(record);
        {
            let mut shard = self.shard(old.as_bytes());
            match shard.refresh_tokens.get_mut(old) {
                Some(e) if e.rotated => return Ok(Rotation::AlreadyRotated),
                Some(e) if e.expires_at >= now => e.rotated = true,
                _ => return Ok(Rotation::NotFound),
            }
        }
        // Only this caller got past the check above, and nobody knows `new` yet.
        let mut shard = self.shard(new.as_bytes());
        shard.sweep(now);
        shard.refresh_tokens.insert(new, entry);
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
            .filter(|p| p.expires_at >= now)
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
            .filter(|p| p.expires_at >= now))
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
            let back = CodeEntry::pack(g.clone()).unpack();
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
            let back = AccessEntry::pack(record.clone()).unpack();
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
            let back = RefreshEntry::pack(record.clone()).unpack();
            assert_eq!(format!("{back:?}"), format!("{record:?}"));
            assert_eq!(back.user, record.user);
            assert_eq!(back.grant_id, record.grant_id);
        }
    }
}
