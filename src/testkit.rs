//! Contract tests for [`GrantStore`] implementations, and stores that fail on purpose.
//!
//! Available with the `testkit` cargo feature (off by default). A host that writes its own
//! [`GrantStore`] (over a database, Redis, …) runs these checks against it in its own tests:
//! they are the rules grantor's security relies on, written down in the trait's contract and
//! checked here call by call. Each rule is a `pub async fn` taking a fresh store; a broken
//! rule panics with a message that names the contract clause it checks, like any test
//! assertion.
//!
//! * [`grant_store_contract`] runs every rule, each on a fresh store from a factory.
//! * [`grant_store_tests!`](crate::grant_store_tests) generates one `#[test]` per rule, so a
//!   failure names its rule in the test output, and builds the runtime itself.
//! * The rules one by one: codes ([`code_is_single_use`], [`code_redemption_is_atomic`],
//!   [`code_expires`], [`code_replay_is_reported_until_expiry`]), access tokens
//!   ([`access_token_round_trips`], [`access_token_expires`], [`access_token_revocation`],
//!   [`revoke_grant_revokes_access_tokens`]), refresh tokens ([`refresh_token_round_trips`],
//!   [`refresh_rotation`], [`refresh_rotation_is_atomic`],
//!   [`refresh_reuse_is_reported_until_family_expiry`], [`refresh_token_idle_expiry`],
//!   [`refresh_token_absolute_expiry`], [`revoke_grant_revokes_refresh_family`]), client
//!   assertion ids ([`assertion_id_is_single_use`], [`assertion_id_consumption_is_atomic`])
//!   and pending authorizations ([`interaction_round_trips`],
//!   [`interaction_take_is_single_use`], [`interaction_expires`],
//!   [`interaction_take_is_atomic`]).
//! * [`FailingGrantStore`] and [`FailingClientStore`] return [`StoreError`] on the calls you
//!   choose, to test what your service does when storage is down.
//!
//! ## Running the kit
//!
//! The concurrency rules race [`RACERS`] Tokio tasks for one record, [`ROUNDS`] times, and
//! need a multi-thread Tokio runtime (they panic on a current-thread one, where an in-process
//! store would never really be raced). Times are taken around the real current time, so a
//! store that also expires records natively (a TTL) keeps them while the kit runs; expiry is
//! judged only by the `now` each call passes, as the contract says. Keys are random digests,
//! so the rules may share one database, but each rule is given its own store value.
//!
//! ```
//! use grantor::memory::MemoryGrantStore;
//!
//! # fn main() {
//! let runtime = tokio::runtime::Builder::new_multi_thread().build().unwrap();
//! runtime.block_on(async {
//!     // Your store here: `|| async { MyStore::connect(&url).await.unwrap() }`.
//!     grantor::testkit::grant_store_contract(|| async { MemoryGrantStore::new() }).await;
//!
//!     // Or one rule at a time.
//!     grantor::testkit::code_redemption_is_atomic(MemoryGrantStore::new()).await;
//! });
//! # }
//! ```
//!
//! In a test file, the macro gives one test per rule:
//!
//! ```
//! mod my_store_contract {
//!     grantor::grant_store_tests!(|| async { grantor::memory::MemoryGrantStore::new() });
//! }
//! # fn main() {}
//! ```

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::client::Client;
use crate::error::{ErrorCode, ProtocolError, StoreError};
use crate::memory::{MemoryClientStore, MemoryGrantStore};
use crate::pkce::CodeChallenge;
use crate::scope::ScopeSet;
use crate::secret::TokenDigest;
use crate::store::{
    AccessTokenRecord, AuthorizationRequest, ClientStore, CodeGrant, CodeRedemption, EndUser,
    GrantId, GrantStore, PendingAuthorization, Prompt, RefreshLookup, RefreshTokenRecord,
    ResponseMode, Rotation,
};

/// How many tasks race for one record in each concurrency rule.
pub const RACERS: usize = 16;
/// How many races each concurrency rule runs.
pub const ROUNDS: usize = 20;

// ---------------------------------------------------------------------------------------------
// Running the kit
// ---------------------------------------------------------------------------------------------

/// Runs every rule of the [`GrantStore`] contract, each against a fresh store from `make`.
///
/// Panics at the first broken rule, naming it. Call it inside a multi-thread Tokio runtime
/// (`#[tokio::test(flavor = "multi_thread")]`), or see [`grant_store_tests!`](crate::grant_store_tests).
pub async fn grant_store_contract<S, F, Fut>(mut make: F)
where
    S: GrantStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    code_is_single_use(make().await).await;
    code_redemption_is_atomic(make().await).await;
    code_expires(make().await).await;
    code_replay_is_reported_until_expiry(make().await).await;
    access_token_round_trips(make().await).await;
    access_token_expires(make().await).await;
    access_token_revocation(make().await).await;
    revoke_grant_revokes_access_tokens(make().await).await;
    refresh_token_round_trips(make().await).await;
    refresh_rotation(make().await).await;
    refresh_rotation_is_atomic(make().await).await;
    refresh_reuse_is_reported_until_family_expiry(make().await).await;
    refresh_token_idle_expiry(make().await).await;
    refresh_token_absolute_expiry(make().await).await;
    revoke_grant_revokes_refresh_family(make().await).await;
    assertion_id_is_single_use(make().await).await;
    assertion_id_consumption_is_atomic(make().await).await;
    interaction_round_trips(make().await).await;
    interaction_take_is_single_use(make().await).await;
    interaction_expires(make().await).await;
    interaction_take_is_atomic(make().await).await;
}

/// Runs `future` to completion on a fresh multi-thread Tokio runtime (four workers, every
/// driver the build enables). [`grant_store_tests!`](crate::grant_store_tests) uses it, so a
/// host needs no Tokio test macro of its own.
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("grantor testkit: cannot build a Tokio runtime")
        .block_on(future)
}

/// Generates one `#[test]` per rule of the [`GrantStore`] contract (see [`testkit`](crate::testkit)).
///
/// The argument is an expression that evaluates to a closure returning a future of a fresh
/// store, like `|| async { MyStore::connect().await }`. Each test runs on its own
/// multi-thread runtime ([`testkit::block_on`](crate::testkit::block_on)). Invoke it inside a
/// module, since the tests are named after the rules (`code_is_single_use`, …).
///
/// ```
/// mod grant_store {
///     grantor::grant_store_tests!(|| async { grantor::memory::MemoryGrantStore::new() });
/// }
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! grant_store_tests {
    ($make:expr) => {
        $crate::__grant_store_tests!(
            $make;
            code_is_single_use,
            code_redemption_is_atomic,
            code_expires,
            code_replay_is_reported_until_expiry,
            access_token_round_trips,
            access_token_expires,
            access_token_revocation,
            revoke_grant_revokes_access_tokens,
            refresh_token_round_trips,
            refresh_rotation,
            refresh_rotation_is_atomic,
            refresh_reuse_is_reported_until_family_expiry,
            refresh_token_idle_expiry,
            refresh_token_absolute_expiry,
            revoke_grant_revokes_refresh_family,
            assertion_id_is_single_use,
            assertion_id_consumption_is_atomic,
            interaction_round_trips,
            interaction_take_is_single_use,
            interaction_expires,
            interaction_take_is_atomic,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __grant_store_tests {
    ($make:expr; $($rule:ident),* $(,)?) => {
        $(
            #[test]
            fn $rule() {
                $crate::testkit::block_on(async {
                    let make = $make;
                    $crate::testkit::$rule(make().await).await
                });
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------------
// Rules: authorization codes
// ---------------------------------------------------------------------------------------------

const CODE_SINGLE_USE: &str = "redeem_code: a live code is Redeemed exactly once, later calls \
     get AlreadyRedeemed, an unknown code NotFound (GrantStore contract; RFC 6749 §4.1.2)";
const CODE_ATOMIC: &str = "redeem_code must be atomic: of any number of concurrent calls for \
     one live code, exactly one returns Redeemed and the others AlreadyRedeemed (GrantStore \
     contract; RFC 6749 §4.1.2, §10.5)";
const CODE_EXPIRY: &str = "redeem_code must not return an expired code: NotFound once `now` \
     is past expires_at (GrantStore contract: lookups must not return expired records)";
const CODE_REPLAY: &str = "a redeemed code is remembered until it expires, so that a replay is \
     recognised as AlreadyRedeemed with its grant (GrantStore contract; RFC 6749 §4.1.2)";

/// A code is redeemed once; every later redemption is `AlreadyRedeemed` with the same grant;
/// unknown codes are `NotFound`; the stored grant comes back field for field; codes are
/// independent of each other (GrantStore contract; RFC 6749 §4.1.2).
pub async fn code_is_single_use<S: GrantStore>(store: S) {
    let rule = CODE_SINGLE_USE;
    let t = base_time();
    let code = digest();
    let other = digest();
    let grant = sample_code(GrantId::generate(), t, t + 60);
    let other_grant = sample_code(GrantId::generate(), t, t + 60);
    ok(
        rule,
        "store_code",
        store.store_code(code, grant.clone()).await,
    );
    ok(
        rule,
        "store_code",
        store.store_code(other, other_grant.clone()).await,
    );
    match ok(rule, "redeem_code", store.redeem_code(&code, t + 1).await) {
        CodeRedemption::Redeemed(got) => same_code(rule, "the redeemed grant", &got, &grant),
        r => violated(rule, format!("first redemption of a live code gave {r:?}")),
    }
    for attempt in 2..=3 {
        match ok(rule, "redeem_code", store.redeem_code(&code, t + 2).await) {
            CodeRedemption::AlreadyRedeemed(got) => {
                same_code(rule, "the replayed grant", &got, &grant)
            }
            r => violated(
                rule,
                format!("redemption number {attempt} of one code gave {r:?}"),
            ),
        }
    }
    match ok(
        rule,
        "redeem_code",
        store.redeem_code(&digest(), t + 1).await,
    ) {
        CodeRedemption::NotFound => {}
        r => violated(rule, format!("an unknown code gave {r:?}")),
    }
    match ok(rule, "redeem_code", store.redeem_code(&other, t + 3).await) {
        CodeRedemption::Redeemed(got) => {
            same_code(rule, "another code's grant", &got, &other_grant)
        }
        r => violated(
            rule,
            format!("redeeming one code affected another: the other gave {r:?}"),
        ),
    }
}

/// [`RACERS`] tasks redeem one live code at once, [`ROUNDS`] times: each time exactly one gets
/// `Redeemed` and every other `AlreadyRedeemed` (GrantStore contract: `redeem_code` **must**
/// be atomic; RFC 6749 §4.1.2, §10.5).
pub async fn code_redemption_is_atomic<S: GrantStore>(store: S) {
    let rule = CODE_ATOMIC;
    require_multi_thread(rule);
    let store = Arc::new(store);
    let t = base_time();
    for round in 0..ROUNDS {
        let code = digest();
        let grant = sample_code(GrantId::generate(), t, t + 60);
        ok(
            rule,
            "store_code",
            store.store_code(code, grant.clone()).await,
        );
        let results = race(&store, move |s, _| async move {
            s.redeem_code(&code, t + 1).await
        })
        .await;
        let (mut redeemed, mut replayed) = (0, 0);
        for r in results {
            match ok(rule, "redeem_code", r) {
                CodeRedemption::Redeemed(got) => {
                    redeemed += 1;
                    same_code(rule, "the redeemed grant", &got, &grant);
                }
                CodeRedemption::AlreadyRedeemed(got) => {
                    replayed += 1;
                    same_ids(rule, "the replayed grant", &got.grant_id, &grant.grant_id);
                }
                CodeRedemption::NotFound => violated(
                    rule,
                    format!("round {round}: a concurrent redemption of a live code gave NotFound"),
                ),
            }
        }
        if redeemed != 1 || replayed != RACERS - 1 {
            violated(
                rule,
                format!(
                    "round {round}: {RACERS} concurrent redemptions of one code gave {redeemed} \
                     Redeemed and {replayed} AlreadyRedeemed (expected 1 and {})",
                    RACERS - 1
                ),
            );
        }
    }
}

/// A code stored with `expires_at = t + 60` redeems at `t + 59`, and another is `NotFound` at
/// `t + 61`, never redeemed late (GrantStore contract: lookups must not return expired
/// records; RFC 6749 §4.1.2).
pub async fn code_expires<S: GrantStore>(store: S) {
    let rule = CODE_EXPIRY;
    let t = base_time();
    let (live, late) = (digest(), digest());
    let grant = sample_code(GrantId::generate(), t, t + 60);
    ok(
        rule,
        "store_code",
        store.store_code(live, grant.clone()).await,
    );
    ok(
        rule,
        "store_code",
        store.store_code(late, grant.clone()).await,
    );
    match ok(rule, "redeem_code", store.redeem_code(&live, t + 59).await) {
        CodeRedemption::Redeemed(_) => {}
        r => violated(
            rule,
            format!("a code redeemed 1 s before expires_at gave {r:?}, not Redeemed"),
        ),
    }
    match ok(rule, "redeem_code", store.redeem_code(&late, t + 61).await) {
        CodeRedemption::NotFound => {}
        r => violated(
            rule,
            format!("a code redeemed 1 s after expires_at gave {r:?}, not NotFound"),
        ),
    }
    // Nor is it live later (a store must not "revive" an expired code).
    match ok(
        rule,
        "redeem_code",
        store.redeem_code(&late, t + 3600).await,
    ) {
        CodeRedemption::NotFound => {}
        r => violated(
            rule,
            format!("an expired code redeemed an hour later gave {r:?}, not NotFound"),
        ),
    }
}

/// After its redemption, a code replayed before it expires is `AlreadyRedeemed` with the grant
/// it was bound to (same grant id, client, redirect URI), so that grantor can revoke what it
/// issued (GrantStore contract; RFC 6749 §4.1.2).
pub async fn code_replay_is_reported_until_expiry<S: GrantStore>(store: S) {
    let rule = CODE_REPLAY;
    let t = base_time();
    let code = digest();
    let grant = sample_code(GrantId::generate(), t, t + 600);
    ok(
        rule,
        "store_code",
        store.store_code(code, grant.clone()).await,
    );
    match ok(rule, "redeem_code", store.redeem_code(&code, t).await) {
        CodeRedemption::Redeemed(_) => {}
        r => violated(rule, format!("the first redemption gave {r:?}")),
    }
    for later in [1, 300, 599] {
        match ok(
            rule,
            "redeem_code",
            store.redeem_code(&code, t + later).await,
        ) {
            CodeRedemption::AlreadyRedeemed(got) => {
                same_code(rule, "the replayed grant", &got, &grant)
            }
            r => violated(
                rule,
                format!("a replay {later} s after redemption, before expiry, gave {r:?}"),
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rules: access tokens
// ---------------------------------------------------------------------------------------------

const AT_ROUND_TRIP: &str = "access_token returns the stored record, field for field, as often \
     as asked, and None for an unknown token (GrantStore::access_token)";
const AT_EXPIRY: &str = "access_token must not return an expired record: None once `now` is \
     past expires_at (GrantStore contract: lookups must not return expired records)";
const AT_REVOKE: &str = "revoke_access_token revokes that one token: access_token then returns \
     None for it, other tokens stay live, unknown tokens are ignored (GrantStore::revoke_access_token; RFC 7009 §2.1)";
const GRANT_REVOKE_AT: &str = "after revoke_grant, access_token must return None for every \
     token of that grant, including tokens stored after the revocation, and only for that \
     grant (GrantStore contract; RFC 6749 §4.1.2, RFC 7009 §2.1)";

/// A stored access token is found by its digest with every field intact, again and again
/// (looking up does not consume it); an unknown digest is `None` (GrantStore::access_token).
pub async fn access_token_round_trips<S: GrantStore>(store: S) {
    let rule = AT_ROUND_TRIP;
    let t = base_time();
    let token = digest();
    let record = sample_access(GrantId::generate(), Some("testkit-user"), t, t + 3600);
    let client_token = digest();
    let client_record = sample_access(GrantId::generate(), None, t, t + 3600);
    ok(
        rule,
        "store_access_token",
        store.store_access_token(token, record.clone()).await,
    );
    ok(
        rule,
        "store_access_token",
        store
            .store_access_token(client_token, client_record.clone())
            .await,
    );
    for _ in 0..2 {
        match ok(
            rule,
            "access_token",
            store.access_token(&token, t + 1).await,
        ) {
            Some(got) => same_access(rule, "the access token record", &got, &record),
            None => violated(rule, "a live access token was not found".into()),
        }
    }
    match ok(
        rule,
        "access_token",
        store.access_token(&client_token, t + 1).await,
    ) {
        Some(got) => same_access(
            rule,
            "a client_credentials token record (no subject)",
            &got,
            &client_record,
        ),
        None => violated(rule, "a live access token was not found".into()),
    }
    if let Some(r) = ok(rule, "access_token", store.access_token(&digest(), t).await) {
        violated(rule, format!("an unknown access token was found: {r:?}"));
    }
}

/// An access token with `expires_at = t + 3600` is found at `t + 3599` and `None` at
/// `t + 3601` (GrantStore contract: lookups must not return expired records; RFC 6750 §5.3).
pub async fn access_token_expires<S: GrantStore>(store: S) {
    let rule = AT_EXPIRY;
    let t = base_time();
    let token = digest();
    let record = sample_access(GrantId::generate(), Some("testkit-user"), t, t + 3600);
    ok(
        rule,
        "store_access_token",
        store.store_access_token(token, record).await,
    );
    if ok(
        rule,
        "access_token",
        store.access_token(&token, t + 3599).await,
    )
    .is_none()
    {
        violated(
            rule,
            "an access token was not found 1 s before expires_at".into(),
        );
    }
    if let Some(r) = ok(
        rule,
        "access_token",
        store.access_token(&token, t + 3601).await,
    ) {
        violated(
            rule,
            format!("an access token was returned 1 s after expires_at: {r:?}"),
        );
    }
}

/// `revoke_access_token` makes that token `None`, leaves another token of the same grant live,
/// and ignores an unknown token (GrantStore::revoke_access_token; RFC 7009 §2.1, §2.2).
pub async fn access_token_revocation<S: GrantStore>(store: S) {
    let rule = AT_REVOKE;
    let t = base_time();
    let grant = GrantId::generate();
    let (revoked, kept) = (digest(), digest());
    for token in [revoked, kept] {
        ok(
            rule,
            "store_access_token",
            store
                .store_access_token(
                    token,
                    sample_access(grant, Some("testkit-user"), t, t + 3600),
                )
                .await,
        );
    }
    ok(
        rule,
        "revoke_access_token",
        store.revoke_access_token(&revoked).await,
    );
    if let Some(r) = ok(
        rule,
        "access_token",
        store.access_token(&revoked, t + 1).await,
    ) {
        violated(rule, format!("a revoked access token was returned: {r:?}"));
    }
    if ok(rule, "access_token", store.access_token(&kept, t + 1).await).is_none() {
        violated(
            rule,
            "revoking one access token revoked another token of its grant".into(),
        );
    }
    ok(
        rule,
        "revoke_access_token of an unknown token",
        store.revoke_access_token(&digest()).await,
    );
}

/// After `revoke_grant(g, until)`, every access token of `g` is `None`, including one stored
/// after the revocation; a token of another grant stays live (GrantStore contract; RFC 6749
/// §4.1.2: a code replay revokes what the code issued, even if the replay wins the race).
pub async fn revoke_grant_revokes_access_tokens<S: GrantStore>(store: S) {
    let rule = GRANT_REVOKE_AT;
    let t = base_time();
    let (grant, other) = (GrantId::generate(), GrantId::generate());
    let (a, b, c, late) = (digest(), digest(), digest(), digest());
    for (token, g) in [(a, grant), (b, grant), (c, other)] {
        ok(
            rule,
            "store_access_token",
            store
                .store_access_token(token, sample_access(g, Some("testkit-user"), t, t + 3600))
                .await,
        );
    }
    ok(
        rule,
        "revoke_grant",
        store.revoke_grant(&grant, t + 7200).await,
    );
    for (name, token) in [("first", a), ("second", b)] {
        if let Some(r) = ok(
            rule,
            "access_token",
            store.access_token(&token, t + 1).await,
        ) {
            violated(
                rule,
                format!("the {name} access token of a revoked grant was returned: {r:?}"),
            );
        }
    }
    if ok(rule, "access_token", store.access_token(&c, t + 1).await).is_none() {
        violated(
            rule,
            "revoking one grant revoked an access token of another grant".into(),
        );
    }
    // Stored after the revocation, as when a code replay overtakes the first redemption.
    ok(
        rule,
        "store_access_token",
        store
            .store_access_token(
                late,
                sample_access(grant, Some("testkit-user"), t + 10, t + 3610),
            )
            .await,
    );
    if let Some(r) = ok(
        rule,
        "access_token",
        store.access_token(&late, t + 11).await,
    ) {
        violated(
            rule,
            format!(
                "an access token stored after its grant was revoked was returned: {r:?} \
                 (the revocation must cover tokens stored later)"
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Rules: refresh tokens
// ---------------------------------------------------------------------------------------------

const RT_ROUND_TRIP: &str = "refresh_token returns Active with the stored record, field for \
     field, as often as asked, and NotFound for an unknown token (GrantStore::refresh_token)";
const RT_ROTATION: &str = "rotate_refresh_token spends the old token (then Rotated, and a second \
     rotation AlreadyRotated storing nothing) and stores the successor as Active; an unknown \
     token gives NotFound and stores nothing (GrantStore contract; RFC 6749 §6, RFC 9700 §4.14.2)";
const RT_ATOMIC: &str = "rotate_refresh_token must be atomic: of any number of concurrent \
     rotations of one token, exactly one returns Rotated (and only its successor is stored), \
     the others AlreadyRotated (GrantStore contract; RFC 9700 §4.14.2)";
const RT_REUSE: &str = "a rotated refresh token is remembered until its family expires, so \
     that reuse is recognised (RefreshLookup::Rotated) even after the token's own idle expiry \
     (GrantStore contract; RFC 9700 §4.14.2)";
const RT_IDLE: &str = "a refresh token past its expires_at (the idle limit) is NotFound and \
     cannot be rotated (GrantStore contract: lookups must not return expired records; \
     RFC 9700 §4.14.2)";
const RT_ABSOLUTE: &str = "no refresh token of a family, live or rotated, is returned once \
     `now` is past family_expires_at (GrantStore contract; RFC 9700 §4.14.2)";
const GRANT_REVOKE_RT: &str = "after revoke_grant, every refresh token of the family (live or \
     rotated, and any stored later) is NotFound and cannot be rotated, and the grant's access \
     tokens are None; other families are untouched (GrantStore contract; RFC 9700 §4.14.2, \
     RFC 7009 §2.1)";

/// A stored refresh token is `Active` with every field intact, again and again; an unknown
/// digest is `NotFound` (GrantStore::refresh_token).
pub async fn refresh_token_round_trips<S: GrantStore>(store: S) {
    let rule = RT_ROUND_TRIP;
    let t = base_time();
    let token = digest();
    let record = sample_refresh(GrantId::generate(), t, t + 1000, t + 10_000);
    ok(
        rule,
        "store_refresh_token",
        store.store_refresh_token(token, record.clone()).await,
    );
    for _ in 0..2 {
        match ok(
            rule,
            "refresh_token",
            store.refresh_token(&token, t + 1).await,
        ) {
            RefreshLookup::Active(got) => {
                same_refresh(rule, "the refresh token record", &got, &record)
            }
            r => violated(rule, format!("a live refresh token gave {r:?}, not Active")),
        }
    }
    match ok(
        rule,
        "refresh_token",
        store.refresh_token(&digest(), t).await,
    ) {
        RefreshLookup::NotFound => {}
        r => violated(rule, format!("an unknown refresh token gave {r:?}")),
    }
}

/// Rotation: the successor is `Active` with its own record, the old token is `Rotated` (with
/// its family's grant id and client), rotating the old token again is `AlreadyRotated` and
/// stores nothing, rotating an unknown token is `NotFound` and stores nothing, and the
/// successor rotates in turn (GrantStore contract; RFC 6749 §6, RFC 9700 §4.14.2).
pub async fn refresh_rotation<S: GrantStore>(store: S) {
    let rule = RT_ROTATION;
    let t = base_time();
    let grant = GrantId::generate();
    let family_end = t + 10_000;
    let (old, new, again, third) = (digest(), digest(), digest(), digest());
    let first = sample_refresh(grant, t, t + 1000, family_end);
    let second = sample_refresh(grant, t + 10, t + 1010, family_end);
    ok(
        rule,
        "store_refresh_token",
        store.store_refresh_token(old, first.clone()).await,
    );
    let r = ok(
        rule,
        "rotate_refresh_token",
        store
            .rotate_refresh_token(&old, new, second.clone(), t + 10)
            .await,
    );
    if r != Rotation::Rotated {
        violated(
            rule,
            format!("rotating a live token gave {r:?}, not Rotated"),
        );
    }
    match ok(
        rule,
        "refresh_token",
        store.refresh_token(&new, t + 11).await,
    ) {
        RefreshLookup::Active(got) => same_refresh(rule, "the successor's record", &got, &second),
        r => violated(rule, format!("the successor gave {r:?}, not Active")),
    }
    match ok(
        rule,
        "refresh_token",
        store.refresh_token(&old, t + 11).await,
    ) {
        RefreshLookup::Rotated(got) => {
            same_ids(rule, "the rotated token's grant id", &got.grant_id, &grant);
            same(
                rule,
                "the rotated token's client_id",
                &got.client_id,
                &first.client_id,
            );
            same(
                rule,
                "the rotated token's family_expires_at",
                &got.family_expires_at,
                &family_end,
            );
        }
        r => violated(
            rule,
            format!("a rotated token gave {r:?}, not Rotated: its reuse would go unnoticed"),
        ),
    }
    let r = ok(
        rule,
        "rotate_refresh_token",
        store
            .rotate_refresh_token(
                &old,
                again,
                sample_refresh(grant, t + 20, t + 1020, family_end),
                t + 20,
            )
            .await,
    );
    if r != Rotation::AlreadyRotated {
        violated(
            rule,
            format!("rotating an already rotated token gave {r:?}, not AlreadyRotated"),
        );
    }
    match ok(
        rule,
        "refresh_token",
        store.refresh_token(&again, t + 21).await,
    ) {
        RefreshLookup::NotFound => {}
        r => violated(
            rule,
            format!("a second rotation of one token stored a successor anyway: it gave {r:?}"),
        ),
    }
    let (unknown, orphan) = (digest(), digest());
    let r = ok(
        rule,
        "rotate_refresh_token",
        store
            .rotate_refresh_token(
                &unknown,
                orphan,
                sample_refresh(grant, t + 20, t + 1020, family_end),
                t + 20,
            )
            .await,
    );
    if r != Rotation::NotFound {
        violated(
            rule,
            format!("rotating an unknown token gave {r:?}, not NotFound"),
        );
    }
    match ok(
        rule,
        "refresh_token",
        store.refresh_token(&orphan, t + 21).await,
    ) {
        RefreshLookup::NotFound => {}
        r => violated(
            rule,
            format!("rotating an unknown token stored a successor anyway: it gave {r:?}"),
        ),
    }
    let r = ok(
        rule,
        "rotate_refresh_token",
        store
            .rotate_refresh_token(
                &new,
                third,
                sample_refresh(grant, t + 30, t + 1030, family_end),
                t + 30,
            )
            .await,
    );
    if r != Rotation::Rotated {
        violated(
            rule,
            format!("rotating the successor gave {r:?}, not Rotated"),
        );
    }
}

/// [`RACERS`] tasks rotate one live refresh token at once, each with its own successor,
/// [`ROUNDS`] times: each time exactly one gets `Rotated`, the others `AlreadyRotated`, only
/// the winner's successor is `Active` and the others' are `NotFound` (GrantStore contract:
/// `rotate_refresh_token` **must** be atomic; RFC 9700 §4.14.2).
pub async fn refresh_rotation_is_atomic<S: GrantStore>(store: S) {
    let rule = RT_ATOMIC;
    require_multi_thread(rule);
    let store = Arc::new(store);
    let t = base_time();
    for round in 0..ROUNDS {
        let grant = GrantId::generate();
        let old = digest();
        ok(
            rule,
            "store_refresh_token",
            store
                .store_refresh_token(old, sample_refresh(grant, t, t + 1000, t + 10_000))
                .await,
        );
        let successors: Arc<Vec<TokenDigest>> = Arc::new((0..RACERS).map(|_| digest()).collect());
        let racing = successors.clone();
        let results = race(&store, move |s, i| {
            let new = racing[i];
            async move {
                let record = sample_refresh(grant, t + 1, t + 1001, t + 10_000);
                s.rotate_refresh_token(&old, new, record, t + 1).await
            }
        })
        .await;
        let mut winners = Vec::new();
        let mut losers = 0;
        for (i, r) in results.into_iter().enumerate() {
            match ok(rule, "rotate_refresh_token", r) {
                Rotation::Rotated => winners.push(i),
                Rotation::AlreadyRotated => losers += 1,
                Rotation::NotFound => violated(
                    rule,
                    format!("round {round}: a concurrent rotation of a live token gave NotFound"),
                ),
            }
        }
        if winners.len() != 1 || losers != RACERS - 1 {
            violated(
                rule,
                format!(
                    "round {round}: {RACERS} concurrent rotations of one token gave {} Rotated \
                     and {losers} AlreadyRotated (expected 1 and {})",
                    winners.len(),
                    RACERS - 1
                ),
            );
        }
        for (i, new) in successors.iter().enumerate() {
            let lookup = ok(rule, "refresh_token", store.refresh_token(new, t + 2).await);
            match (i == winners[0], lookup) {
                (true, RefreshLookup::Active(_)) | (false, RefreshLookup::NotFound) => {}
                (true, r) => violated(
                    rule,
                    format!("round {round}: the winning rotation's successor gave {r:?}"),
                ),
                (false, r) => violated(
                    rule,
                    format!(
                        "round {round}: a losing rotation's successor was stored: it gave {r:?} \
                         (two live successors means two clients hold the family)"
                    ),
                ),
            }
        }
    }
}

/// A token rotated at `t + 10` is still `Rotated` after its own idle expiry (`t + 100`) but
/// before its family's (`t + 10000`), and `NotFound` after the family's
/// (GrantStore contract: "A rotated token is remembered until its family expires, so that
/// reuse is recognised"; RFC 9700 §4.14.2).
pub async fn refresh_reuse_is_reported_until_family_expiry<S: GrantStore>(store: S) {
    let rule = RT_REUSE;
    let t = base_time();
    let grant = GrantId::generate();
    let (old, new) = (digest(), digest());
    ok(
        rule,
        "store_refresh_token",
        store
            .store_refresh_token(old, sample_refresh(grant, t, t + 100, t + 10_000))
            .await,
    );
    let r = ok(
        rule,
        "rotate_refresh_token",
        store
            .rotate_refresh_token(
                &old,
                new,
                sample_refresh(grant, t + 10, t + 110, t + 10_000),
                t + 10,
            )
            .await,
    );
    if r != Rotation::Rotated {
        violated(rule, format!("rotating a live token gave {r:?}"));
    }
    for when in [t + 11, t + 101, t + 5000, t + 9999] {
        match ok(rule, "refresh_token", store.refresh_token(&old, when).await) {
            RefreshLookup::Rotated(got) => {
                same_ids(rule, "the rotated token's grant id", &got.grant_id, &grant)
            }
            r => violated(
                rule,
                format!(
                    "a rotated token looked up {} s after issue (idle expiry 100 s, family \
                     expiry 10000 s) gave {r:?}, not Rotated: its reuse would go unnoticed",
                    when - t
                ),
            ),
        }
    }
    match ok(
        rule,
        "refresh_token",
        store.refresh_token(&old, t + 10_001).await,
    ) {
        RefreshLookup::NotFound => {}
        r => violated(
            rule,
            format!("a rotated token was returned after its family expired: {r:?}"),
        ),
    }
}

/// A refresh token with `expires_at = t + 100` (family `t + 10000`) is `Active` at `t + 99`,
/// `NotFound` at `t + 101`, and rotating it then is `NotFound` and stores nothing
/// (GrantStore contract; RFC 9700 §4.14.2: refresh tokens expire after inactivity).
pub async fn refresh_token_idle_expiry<S: GrantStore>(store: S) {
    let rule = RT_IDLE;
    let t = base_time();
    let grant = GrantId::generate();
    let (token, successor) = (digest(), digest());
    ok(
        rule,
        "store_refresh_token",
        store
            .store_refresh_token(token, sample_refresh(grant, t, t + 100, t + 10_000))
            .await,
    );
    match ok(
        rule,
        "refresh_token",
        store.refresh_token(&token, t + 99).await,
    ) {
        RefreshLookup::Active(_) => {}
        r => violated(
            rule,
            format!("a token 1 s before its expires_at gave {r:?}"),
        ),
    }
    match ok(
        rule,
        "refresh_token",
        store.refresh_token(&token, t + 101).await,
    ) {
        RefreshLookup::NotFound => {}
        r => violated(rule, format!("a token 1 s after its expires_at gave {r:?}")),
    }
    let r = ok(
        rule,
        "rotate_refresh_token",
        store
            .rotate_refresh_token(
                &token,
                successor,
                sample_refresh(grant, t + 101, t + 201, t + 10_000),
                t + 101,
            )
            .await,
    );
    if r != Rotation::NotFound {
        violated(
            rule,
            format!("rotating a token 1 s after its expires_at gave {r:?}, not NotFound"),
        );
    }
    match ok(
        rule,
        "refresh_token",
        store.refresh_token(&successor, t + 102).await,
    ) {
        RefreshLookup::NotFound => {}
        r => violated(
            rule,
            format!("rotating an expired token stored a successor anyway: it gave {r:?}"),
        ),
    }
}

/// A family ending at `t + 1000` (each token's `expires_at` capped at it, as grantor builds
/// records): the current token and the rotated ones are all `NotFound` at `t + 1001`, and the
/// current one cannot be rotated then (GrantStore contract; RFC 9700 §4.14.2).
pub async fn refresh_token_absolute_expiry<S: GrantStore>(store: S) {
    let rule = RT_ABSOLUTE;
    let t = base_time();
    let grant = GrantId::generate();
    let end = t + 1000;
    let (a, b, c, d) = (digest(), digest(), digest(), digest());
    ok(
        rule,
        "store_refresh_token",
        store
            .store_refresh_token(a, sample_refresh(grant, t, t + 600, end))
            .await,
    );
    for (old, new, at) in [(a, b, t + 500), (b, c, t + 900)] {
        let r = ok(
            rule,
            "rotate_refresh_token",
            store
                .rotate_refresh_token(
                    &old,
                    new,
                    sample_refresh(grant, at, (at + 600).min(end), end),
                    at,
                )
                .await,
        );
        if r != Rotation::Rotated {
            violated(rule, format!("rotating a live token gave {r:?}"));
        }
    }
    match ok(
        rule,
        "refresh_token",
        store.refresh_token(&c, end - 1).await,
    ) {
        RefreshLookup::Active(_) => {}
        r => violated(
            rule,
            format!("the family's current token 1 s before the family expires gave {r:?}"),
        ),
    }
    for (name, token) in [
        ("first (rotated)", a),
        ("second (rotated)", b),
        ("current", c),
    ] {
        match ok(
            rule,
            "refresh_token",
            store.refresh_token(&token, end + 1).await,
        ) {
            RefreshLookup::NotFound => {}
            r => violated(
                rule,
                format!("the {name} token of a family 1 s past family_expires_at gave {r:?}"),
            ),
        }
    }
    let r = ok(
        rule,
        "rotate_refresh_token",
        store
            .rotate_refresh_token(&c, d, sample_refresh(grant, end + 1, end, end), end + 1)
            .await,
    );
    if r != Rotation::NotFound {
        violated(
            rule,
            format!("rotating a token of an expired family gave {r:?}, not NotFound"),
        );
    }
}

/// `revoke_grant` kills a refresh-token family: its rotated and live tokens are `NotFound`,
/// the live one cannot be rotated (`NotFound`, no successor stored), a token of the family
/// stored after the revocation is `NotFound`, the grant's access tokens are `None`, and
/// another family stays `Active` (GrantStore contract; RFC 9700 §4.14.2; RFC 7009 §2.1).
pub async fn revoke_grant_revokes_refresh_family<S: GrantStore>(store: S) {
    let rule = GRANT_REVOKE_RT;
    let t = base_time();
    let (grant, other) = (GrantId::generate(), GrantId::generate());
    let end = t + 10_000;
    let (old, live, successor, late, other_token, access) =
        (digest(), digest(), digest(), digest(), digest(), digest());
    ok(
        rule,
        "store_refresh_token",
        store
            .store_refresh_token(old, sample_refresh(grant, t, t + 1000, end))
            .await,
    );
    ok(
        rule,
        "store_refresh_token",
        store
            .store_refresh_token(other_token, sample_refresh(other, t, t + 1000, end))
            .await,
    );
    ok(
        rule,
        "store_access_token",
        store
            .store_access_token(
                access,
                sample_access(grant, Some("testkit-user"), t, t + 3600),
            )
            .await,
    );
    let r = ok(
        rule,
        "rotate_refresh_token",
        store
            .rotate_refresh_token(
                &old,
                live,
                sample_refresh(grant, t + 1, t + 1001, end),
                t + 1,
            )
            .await,
    );
    if r != Rotation::Rotated {
        violated(rule, format!("rotating a live token gave {r:?}"));
    }
    // What grantor does on reuse of `old`: revoke the family.
    ok(rule, "revoke_grant", store.revoke_grant(&grant, end).await);
    for (name, token) in [("rotated", old), ("live", live)] {
        match ok(
            rule,
            "refresh_token",
            store.refresh_token(&token, t + 2).await,
        ) {
            RefreshLookup::NotFound => {}
            r => violated(
                rule,
                format!("the {name} refresh token of a revoked family gave {r:?}, not NotFound"),
            ),
        }
    }
    let r = ok(
        rule,
        "rotate_refresh_token",
        store
            .rotate_refresh_token(
                &live,
                successor,
                sample_refresh(grant, t + 3, t + 1003, end),
                t + 3,
            )
            .await,
    );
    if r != Rotation::NotFound {
        violated(
            rule,
            format!("rotating a token of a revoked family gave {r:?}, not NotFound"),
        );
    }
    match ok(
        rule,
        "refresh_token",
        store.refresh_token(&successor, t + 4).await,
    ) {
        RefreshLookup::NotFound => {}
        r => violated(
            rule,
            format!("a revoked family was extended by a rotation: the successor gave {r:?}"),
        ),
    }
    ok(
        rule,
        "store_refresh_token",
        store
            .store_refresh_token(late, sample_refresh(grant, t + 5, t + 1005, end))
            .await,
    );
    match ok(
        rule,
        "refresh_token",
        store.refresh_token(&late, t + 6).await,
    ) {
        RefreshLookup::NotFound => {}
        r => violated(
            rule,
            format!(
                "a refresh token stored after its grant was revoked gave {r:?} (the revocation \
                 must cover tokens stored later)"
            ),
        ),
    }
    if let Some(r) = ok(
        rule,
        "access_token",
        store.access_token(&access, t + 2).await,
    ) {
        violated(
            rule,
            format!("an access token of a revoked family was returned: {r:?}"),
        );
    }
    match ok(
        rule,
        "refresh_token",
        store.refresh_token(&other_token, t + 2).await,
    ) {
        RefreshLookup::Active(_) => {}
        r => violated(
            rule,
            format!("revoking one family revoked another: its token gave {r:?}"),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Rules: client assertion ids
// ---------------------------------------------------------------------------------------------

const JTI_SINGLE_USE: &str = "consume_assertion_id returns true the first time an id is \
     recorded and false for every replay, independently per id (GrantStore::consume_assertion_id; RFC 7523 §3)";
const JTI_ATOMIC: &str = "consume_assertion_id is atomic: of any number of concurrent calls \
     for one id, exactly one returns true (GrantStore::consume_assertion_id; RFC 7523 §3)";

/// An assertion id is accepted once (`true`), then refused (`false`) while recorded; another
/// id is independent (GrantStore::consume_assertion_id; RFC 7523 §3 `jti`).
pub async fn assertion_id_is_single_use<S: GrantStore>(store: S) {
    let rule = JTI_SINGLE_USE;
    let t = base_time();
    let (id, other) = (digest(), digest());
    if !ok(
        rule,
        "consume_assertion_id",
        store.consume_assertion_id(id, t + 300).await,
    ) {
        violated(rule, "the first use of an assertion id gave false".into());
    }
    for attempt in 2..=3 {
        if ok(
            rule,
            "consume_assertion_id",
            store.consume_assertion_id(id, t + 300).await,
        ) {
            violated(
                rule,
                format!("use number {attempt} of one assertion id gave true (a replay accepted)"),
            );
        }
    }
    if !ok(
        rule,
        "consume_assertion_id",
        store.consume_assertion_id(other, t + 300).await,
    ) {
        violated(
            rule,
            "the first use of another assertion id gave false".into(),
        );
    }
}

/// [`RACERS`] tasks consume one assertion id at once, [`ROUNDS`] times: exactly one gets
/// `true` (GrantStore::consume_assertion_id is "atomic, like redeem_code"; RFC 7523 §3).
pub async fn assertion_id_consumption_is_atomic<S: GrantStore>(store: S) {
    let rule = JTI_ATOMIC;
    require_multi_thread(rule);
    let store = Arc::new(store);
    let t = base_time();
    for round in 0..ROUNDS {
        let id = digest();
        let results = race(&store, move |s, _| async move {
            s.consume_assertion_id(id, t + 300).await
        })
        .await;
        let accepted = results
            .into_iter()
            .filter(|r| match r {
                Ok(first) => *first,
                Err(e) => violated(rule, format!("consume_assertion_id failed: {e}")),
            })
            .count();
        if accepted != 1 {
            violated(
                rule,
                format!(
                    "round {round}: {RACERS} concurrent uses of one assertion id gave {accepted} \
                     true (expected exactly 1)"
                ),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rules: pending authorizations
// ---------------------------------------------------------------------------------------------

const IA_ROUND_TRIP: &str = "interaction returns the saved pending authorization, field for \
     field, without consuming it; save_interaction on the same id replaces it; an unknown id is \
     None (GrantStore::save_interaction, GrantStore::interaction)";
const IA_TAKE: &str = "take_interaction removes and returns a pending authorization once: \
     later take_interaction and interaction calls give None (GrantStore::take_interaction)";
const IA_EXPIRY: &str = "interaction and take_interaction must not return a pending \
     authorization once `now` is past its expires_at (GrantStore contract: lookups must not \
     return expired records)";
const IA_ATOMIC: &str = "take_interaction is atomic, like redeem_code: of any number of \
     concurrent calls for one id, exactly one returns Some (GrantStore contract)";

/// A saved pending authorization comes back from `interaction` with every field intact,
/// twice (reading does not consume it); saving again under the same id replaces it; an
/// unknown id is `None` (GrantStore::save_interaction, GrantStore::interaction).
pub async fn interaction_round_trips<S: GrantStore>(store: S) {
    let rule = IA_ROUND_TRIP;
    let t = base_time();
    let id = digest();
    let first = sample_pending(t, None, None, t + 600);
    ok(
        rule,
        "save_interaction",
        store.save_interaction(id, first.clone()).await,
    );
    for _ in 0..2 {
        match ok(rule, "interaction", store.interaction(&id, t + 1).await) {
            Some(got) => same_pending(rule, "the pending authorization", &got, &first),
            None => violated(rule, "a saved pending authorization was not found".into()),
        }
    }
    // Saved again under the same id (the consent page: the user and the CSRF digest; here also
    // a deferred error), the new value replaces the old.
    let mut second = sample_pending(t, Some("testkit-user"), Some(digest()), t + 600);
    second.deferred_error = Some(ProtocolError::new(
        ErrorCode::InvalidScope,
        "the client may not request this scope",
    ));
    ok(
        rule,
        "save_interaction",
        store.save_interaction(id, second.clone()).await,
    );
    match ok(rule, "interaction", store.interaction(&id, t + 2).await) {
        Some(got) => same_pending(
            rule,
            "the pending authorization saved a second time",
            &got,
            &second,
        ),
        None => violated(
            rule,
            "a pending authorization saved a second time was not found".into(),
        ),
    }
    if let Some(p) = ok(rule, "interaction", store.interaction(&digest(), t).await) {
        violated(rule, format!("an unknown interaction id was found: {p:?}"));
    }
}

/// `take_interaction` returns the pending authorization once, with every field intact; then
/// `take_interaction` and `interaction` give `None` (GrantStore::take_interaction).
pub async fn interaction_take_is_single_use<S: GrantStore>(store: S) {
    let rule = IA_TAKE;
    let t = base_time();
    let id = digest();
    let pending = sample_pending(t, Some("testkit-user"), Some(digest()), t + 600);
    ok(
        rule,
        "save_interaction",
        store.save_interaction(id, pending.clone()).await,
    );
    match ok(
        rule,
        "take_interaction",
        store.take_interaction(&id, t + 1).await,
    ) {
        Some(got) => same_pending(rule, "the taken pending authorization", &got, &pending),
        None => violated(
            rule,
            "a saved pending authorization could not be taken".into(),
        ),
    }
    if let Some(p) = ok(
        rule,
        "take_interaction",
        store.take_interaction(&id, t + 2).await,
    ) {
        violated(
            rule,
            format!("a pending authorization was taken twice: {p:?}"),
        );
    }
    if let Some(p) = ok(rule, "interaction", store.interaction(&id, t + 2).await) {
        violated(
            rule,
            format!("a taken pending authorization can still be read: {p:?}"),
        );
    }
    if let Some(p) = ok(
        rule,
        "take_interaction",
        store.take_interaction(&digest(), t).await,
    ) {
        violated(rule, format!("an unknown interaction id was taken: {p:?}"));
    }
}

/// A pending authorization with `expires_at = t + 600` is found at `t + 599`, and neither read
/// nor taken at `t + 601` (GrantStore contract: lookups must not return expired records).
pub async fn interaction_expires<S: GrantStore>(store: S) {
    let rule = IA_EXPIRY;
    let t = base_time();
    let (id, other) = (digest(), digest());
    for i in [id, other] {
        ok(
            rule,
            "save_interaction",
            store
                .save_interaction(i, sample_pending(t, None, None, t + 600))
                .await,
        );
    }
    if ok(rule, "interaction", store.interaction(&id, t + 599).await).is_none() {
        violated(
            rule,
            "a pending authorization was not found 1 s before expires_at".into(),
        );
    }
    if let Some(p) = ok(rule, "interaction", store.interaction(&id, t + 601).await) {
        violated(
            rule,
            format!("a pending authorization was read 1 s after expires_at: {p:?}"),
        );
    }
    if let Some(p) = ok(
        rule,
        "take_interaction",
        store.take_interaction(&other, t + 601).await,
    ) {
        violated(
            rule,
            format!("a pending authorization was taken 1 s after expires_at: {p:?}"),
        );
    }
}

/// [`RACERS`] tasks take one pending authorization at once, [`ROUNDS`] times: exactly one
/// gets it (GrantStore contract: `take_interaction` is atomic, like `redeem_code`; a consent
/// decision must yield one code).
pub async fn interaction_take_is_atomic<S: GrantStore>(store: S) {
    let rule = IA_ATOMIC;
    require_multi_thread(rule);
    let store = Arc::new(store);
    let t = base_time();
    for round in 0..ROUNDS {
        let id = digest();
        ok(
            rule,
            "save_interaction",
            store
                .save_interaction(id, sample_pending(t, Some("testkit-user"), None, t + 600))
                .await,
        );
        let results = race(&store, move |s, _| async move {
            s.take_interaction(&id, t + 1).await
        })
        .await;
        let taken = results
            .into_iter()
            .filter(|r| match r {
                Ok(p) => p.is_some(),
                Err(e) => violated(rule, format!("take_interaction failed: {e}")),
            })
            .count();
        if taken != 1 {
            violated(
                rule,
                format!(
                    "round {round}: {RACERS} concurrent takes of one pending authorization gave \
                     {taken} Some (expected exactly 1)"
                ),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Stores that fail on purpose
// ---------------------------------------------------------------------------------------------

/// One method of [`GrantStore`], to choose which calls a [`FailingGrantStore`] fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GrantOp {
    /// [`GrantStore::store_code`].
    StoreCode,
    /// [`GrantStore::redeem_code`].
    RedeemCode,
    /// [`GrantStore::store_access_token`].
    StoreAccessToken,
    /// [`GrantStore::access_token`].
    AccessToken,
    /// [`GrantStore::consume_assertion_id`].
    ConsumeAssertionId,
    /// [`GrantStore::revoke_access_token`].
    RevokeAccessToken,
    /// [`GrantStore::revoke_grant`].
    RevokeGrant,
    /// [`GrantStore::store_refresh_token`].
    StoreRefreshToken,
    /// [`GrantStore::refresh_token`].
    RefreshToken,
    /// [`GrantStore::rotate_refresh_token`].
    RotateRefreshToken,
    /// [`GrantStore::save_interaction`].
    SaveInteraction,
    /// [`GrantStore::interaction`].
    Interaction,
    /// [`GrantStore::take_interaction`].
    TakeInteraction,
}

impl GrantOp {
    /// Every method, in the trait's order.
    pub const ALL: [GrantOp; 13] = [
        GrantOp::StoreCode,
        GrantOp::RedeemCode,
        GrantOp::StoreAccessToken,
        GrantOp::AccessToken,
        GrantOp::ConsumeAssertionId,
        GrantOp::RevokeAccessToken,
        GrantOp::RevokeGrant,
        GrantOp::StoreRefreshToken,
        GrantOp::RefreshToken,
        GrantOp::RotateRefreshToken,
        GrantOp::SaveInteraction,
        GrantOp::Interaction,
        GrantOp::TakeInteraction,
    ];

    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantOp::StoreCode => "store_code",
            GrantOp::RedeemCode => "redeem_code",
            GrantOp::StoreAccessToken => "store_access_token",
            GrantOp::AccessToken => "access_token",
            GrantOp::ConsumeAssertionId => "consume_assertion_id",
            GrantOp::RevokeAccessToken => "revoke_access_token",
            GrantOp::RevokeGrant => "revoke_grant",
            GrantOp::StoreRefreshToken => "store_refresh_token",
            GrantOp::RefreshToken => "refresh_token",
            GrantOp::RotateRefreshToken => "rotate_refresh_token",
            GrantOp::SaveInteraction => "save_interaction",
            GrantOp::Interaction => "interaction",
            GrantOp::TakeInteraction => "take_interaction",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for GrantOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The message of every error a failing store returns. grantor must never show it to a client
/// (DESIGN decision 5: storage failures are `server_error` without detail), so a test can look
/// for it in responses.
pub const INJECTED_FAILURE: &str = "grantor testkit: injected storage failure";

#[derive(Default)]
struct FailState {
    failing: AtomicU32,
    failures: AtomicUsize,
}

/// A [`GrantStore`] that returns [`StoreError`] from the methods you choose, and passes every
/// other call to an inner store.
///
/// [`FailingGrantStore::new`] fails every call. [`FailingGrantStore::wrap`] fails none until
/// told ([`fail`](Self::fail), [`fail_all`](Self::fail_all)), so a test can issue a code or a
/// token first and then break storage. Clones share the switches and the failure count: keep
/// one clone and give the other to the server.
///
/// ```
/// use grantor::testkit::{FailingGrantStore, GrantOp};
/// use grantor::GrantStore;
///
/// # fn main() {
/// # grantor::testkit::block_on(async {
/// let store = FailingGrantStore::wrap(grantor::memory::MemoryGrantStore::new());
/// store.fail(GrantOp::RedeemCode);
/// let id = grantor::TokenDigest::of("interaction");
/// assert!(store.redeem_code(&id, 0).await.is_err());
/// assert!(store.take_interaction(&id, 0).await.unwrap().is_none());
/// assert_eq!(store.failures(), 1);
/// # });
/// # }
/// ```
#[derive(Clone)]
pub struct FailingGrantStore<S = MemoryGrantStore> {
    inner: S,
    state: Arc<FailState>,
}

impl FailingGrantStore<MemoryGrantStore> {
    /// A store whose every call fails.
    pub fn new() -> Self {
        let store = Self::wrap(MemoryGrantStore::new());
        store.fail_all();
        store
    }
}

impl Default for FailingGrantStore<MemoryGrantStore> {
    /// Same as [`FailingGrantStore::new`]: every call fails.
    fn default() -> Self {
        Self::new()
    }
}

impl<S> FailingGrantStore<S> {
    /// Wraps `inner`; no call fails until [`fail`](Self::fail) or [`fail_all`](Self::fail_all).
    pub fn wrap(inner: S) -> Self {
        FailingGrantStore {
            inner,
            state: Arc::new(FailState::default()),
        }
    }

    /// Makes every later call of `op` fail.
    pub fn fail(&self, op: GrantOp) -> &Self {
        self.state.failing.fetch_or(op.bit(), Ordering::SeqCst);
        self
    }

    /// Makes every later call of every method fail.
    pub fn fail_all(&self) -> &Self {
        for op in GrantOp::ALL {
            self.fail(op);
        }
        self
    }

    /// Makes `op` work again.
    pub fn recover(&self, op: GrantOp) -> &Self {
        self.state.failing.fetch_and(!op.bit(), Ordering::SeqCst);
        self
    }

    /// Makes every method work again.
    pub fn recover_all(&self) -> &Self {
        self.state.failing.store(0, Ordering::SeqCst);
        self
    }

    /// Whether calls of `op` fail now.
    pub fn is_failing(&self, op: GrantOp) -> bool {
        self.state.failing.load(Ordering::SeqCst) & op.bit() != 0
    }

    /// How many calls have failed so far (to check that a request reached the store).
    pub fn failures(&self) -> usize {
        self.state.failures.load(Ordering::SeqCst)
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn check(&self, op: GrantOp) -> Result<(), StoreError> {
        if self.is_failing(op) {
            self.state.failures.fetch_add(1, Ordering::SeqCst);
            Err(StoreError::new(format!("{INJECTED_FAILURE} in {op}")))
        } else {
            Ok(())
        }
    }
}

impl<S> fmt::Debug for FailingGrantStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failing: Vec<&str> = GrantOp::ALL
            .iter()
            .filter(|op| self.is_failing(**op))
            .map(|op| op.as_str())
            .collect();
        f.debug_struct("FailingGrantStore")
            .field("failing", &failing)
            .field("failures", &self.failures())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<S: GrantStore> GrantStore for FailingGrantStore<S> {
    async fn store_code(&self, code: TokenDigest, grant: CodeGrant) -> Result<(), StoreError> {
        self.check(GrantOp::StoreCode)?;
        self.inner.store_code(code, grant).await
    }
    async fn redeem_code(
        &self,
        code: &TokenDigest,
        now: u64,
    ) -> Result<CodeRedemption, StoreError> {
        self.check(GrantOp::RedeemCode)?;
        self.inner.redeem_code(code, now).await
    }
    async fn store_access_token(
        &self,
        token: TokenDigest,
        record: AccessTokenRecord,
    ) -> Result<(), StoreError> {
        self.check(GrantOp::StoreAccessToken)?;
        self.inner.store_access_token(token, record).await
    }
    async fn access_token(
        &self,
        token: &TokenDigest,
        now: u64,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        self.check(GrantOp::AccessToken)?;
        self.inner.access_token(token, now).await
    }
    async fn consume_assertion_id(&self, id: TokenDigest, until: u64) -> Result<bool, StoreError> {
        self.check(GrantOp::ConsumeAssertionId)?;
        self.inner.consume_assertion_id(id, until).await
    }
    async fn revoke_access_token(&self, token: &TokenDigest) -> Result<(), StoreError> {
        self.check(GrantOp::RevokeAccessToken)?;
        self.inner.revoke_access_token(token).await
    }
    async fn revoke_grant(&self, grant: &GrantId, until: u64) -> Result<(), StoreError> {
        self.check(GrantOp::RevokeGrant)?;
        self.inner.revoke_grant(grant, until).await
    }
    async fn store_refresh_token(
        &self,
        token: TokenDigest,
        record: RefreshTokenRecord,
    ) -> Result<(), StoreError> {
        self.check(GrantOp::StoreRefreshToken)?;
        self.inner.store_refresh_token(token, record).await
    }
    async fn refresh_token(
        &self,
        token: &TokenDigest,
        now: u64,
    ) -> Result<RefreshLookup, StoreError> {
        self.check(GrantOp::RefreshToken)?;
        self.inner.refresh_token(token, now).await
    }
    async fn rotate_refresh_token(
        &self,
        old: &TokenDigest,
        new: TokenDigest,
        record: RefreshTokenRecord,
        now: u64,
    ) -> Result<Rotation, StoreError> {
        self.check(GrantOp::RotateRefreshToken)?;
        self.inner.rotate_refresh_token(old, new, record, now).await
    }
    async fn save_interaction(
        &self,
        id: TokenDigest,
        pending: PendingAuthorization,
    ) -> Result<(), StoreError> {
        self.check(GrantOp::SaveInteraction)?;
        self.inner.save_interaction(id, pending).await
    }
    async fn interaction(
        &self,
        id: &TokenDigest,
        now: u64,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        self.check(GrantOp::Interaction)?;
        self.inner.interaction(id, now).await
    }
    async fn take_interaction(
        &self,
        id: &TokenDigest,
        now: u64,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        self.check(GrantOp::TakeInteraction)?;
        self.inner.take_interaction(id, now).await
    }
}

/// A [`ClientStore`] that returns [`StoreError`] while failing, and otherwise asks an inner
/// store. [`FailingClientStore::new`] always fails; [`FailingClientStore::wrap`] fails once
/// [`set_failing`](Self::set_failing) is called. Clones share the switch and the count.
#[derive(Clone)]
pub struct FailingClientStore<S = MemoryClientStore> {
    inner: S,
    failing: Arc<AtomicBool>,
    failures: Arc<AtomicUsize>,
}

impl FailingClientStore<MemoryClientStore> {
    /// A client store whose every lookup fails.
    pub fn new() -> Self {
        let store = Self::wrap(MemoryClientStore::new());
        store.set_failing(true);
        store
    }
}

impl Default for FailingClientStore<MemoryClientStore> {
    /// Same as [`FailingClientStore::new`]: every lookup fails.
    fn default() -> Self {
        Self::new()
    }
}

impl<S> FailingClientStore<S> {
    /// Wraps `inner`; lookups work until [`set_failing`](Self::set_failing)`(true)`.
    pub fn wrap(inner: S) -> Self {
        FailingClientStore {
            inner,
            failing: Arc::new(AtomicBool::new(false)),
            failures: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Turns failures on or off.
    pub fn set_failing(&self, failing: bool) -> &Self {
        self.failing.store(failing, Ordering::SeqCst);
        self
    }

    /// How many lookups have failed so far.
    pub fn failures(&self) -> usize {
        self.failures.load(Ordering::SeqCst)
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S> fmt::Debug for FailingClientStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FailingClientStore")
            .field("failing", &self.failing.load(Ordering::SeqCst))
            .field("failures", &self.failures())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<S: ClientStore> ClientStore for FailingClientStore<S> {
    async fn client(&self, client_id: &str) -> Result<Option<Arc<Client>>, StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            self.failures.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::new(format!("{INJECTED_FAILURE} in client")));
        }
        self.inner.client(client_id).await
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Now, in Unix seconds: the kit's records live around the real time (see the module docs).
fn base_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(1_700_000_000)
}

fn digest() -> TokenDigest {
    TokenDigest::from_bytes(rand::random())
}

#[track_caller]
fn violated(rule: &str, detail: String) -> ! {
    panic!("GrantStore contract violated: {rule}\n  what happened: {detail}")
}

#[track_caller]
fn ok<T>(rule: &str, op: &str, r: Result<T, StoreError>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!(
            "GrantStore contract not checkable: {op} returned an error ({e}) while checking: {rule}"
        ),
    }
}

#[track_caller]
fn same<T: PartialEq + fmt::Debug + ?Sized>(rule: &str, what: &str, got: &T, want: &T) {
    if got != want {
        violated(
            rule,
            format!("{what} did not round-trip: got {got:?}, stored {want:?}"),
        );
    }
}

#[track_caller]
fn same_ids(rule: &str, what: &str, got: &GrantId, want: &GrantId) {
    if got != want {
        violated(rule, format!("{what} is {got:?}, expected {want:?}"));
    }
}

/// Compares digests without printing them (their `Debug` is redacted anyway).
#[track_caller]
fn same_digest(rule: &str, what: &str, got: &Option<TokenDigest>, want: &Option<TokenDigest>) {
    let equal = match (got, want) {
        (Some(a), Some(b)) => a.matches(b),
        (None, None) => true,
        _ => false,
    };
    if !equal {
        violated(
            rule,
            format!(
                "{what} did not round-trip: got {}, stored {}",
                describe_digest(got),
                describe_digest(want)
            ),
        );
    }
}

fn describe_digest(d: &Option<TokenDigest>) -> &'static str {
    if d.is_some() {
        "a digest"
    } else {
        "none"
    }
}

#[track_caller]
fn same_code(rule: &str, what: &str, got: &CodeGrant, want: &CodeGrant) {
    same_ids(
        rule,
        &format!("{what}: grant_id"),
        &got.grant_id,
        &want.grant_id,
    );
    same(
        rule,
        &format!("{what}: client_id"),
        &got.client_id,
        &want.client_id,
    );
    same(
        rule,
        &format!("{what}: redirect_uri"),
        &got.redirect_uri,
        &want.redirect_uri,
    );
    same(rule, &format!("{what}: scope"), &got.scope, &want.scope);
    same(rule, &format!("{what}: user"), &got.user, &want.user);
    same(rule, &format!("{what}: nonce"), &got.nonce, &want.nonce);
    same_challenge(
        rule,
        &format!("{what}: code_challenge"),
        &got.code_challenge,
        &want.code_challenge,
    );
    same(
        rule,
        &format!("{what}: issued_at"),
        &got.issued_at,
        &want.issued_at,
    );
    same(
        rule,
        &format!("{what}: expires_at"),
        &got.expires_at,
        &want.expires_at,
    );
}

/// `CodeChallenge`'s `Debug` hides the value, so say which part differs.
#[track_caller]
fn same_challenge(
    rule: &str,
    what: &str,
    got: &Option<CodeChallenge>,
    want: &Option<CodeChallenge>,
) {
    let show = |c: &Option<CodeChallenge>| match c {
        Some(c) => format!("{} {}", c.method().as_str(), c.as_str()),
        None => "none".to_owned(),
    };
    if got != want {
        violated(
            rule,
            format!(
                "{what} did not round-trip: got {}, stored {}",
                show(got),
                show(want)
            ),
        );
    }
}

#[track_caller]
fn same_access(rule: &str, what: &str, got: &AccessTokenRecord, want: &AccessTokenRecord) {
    same_ids(
        rule,
        &format!("{what}: grant_id"),
        &got.grant_id,
        &want.grant_id,
    );
    same(
        rule,
        &format!("{what}: client_id"),
        &got.client_id,
        &want.client_id,
    );
    same(
        rule,
        &format!("{what}: subject"),
        &got.subject,
        &want.subject,
    );
    same(rule, &format!("{what}: scope"), &got.scope, &want.scope);
    same(
        rule,
        &format!("{what}: issued_at"),
        &got.issued_at,
        &want.issued_at,
    );
    same(
        rule,
        &format!("{what}: expires_at"),
        &got.expires_at,
        &want.expires_at,
    );
}

#[track_caller]
fn same_refresh(rule: &str, what: &str, got: &RefreshTokenRecord, want: &RefreshTokenRecord) {
    same_ids(
        rule,
        &format!("{what}: grant_id"),
        &got.grant_id,
        &want.grant_id,
    );
    same(
        rule,
        &format!("{what}: client_id"),
        &got.client_id,
        &want.client_id,
    );
    same(rule, &format!("{what}: user"), &got.user, &want.user);
    same(rule, &format!("{what}: scope"), &got.scope, &want.scope);
    same(
        rule,
        &format!("{what}: issued_at"),
        &got.issued_at,
        &want.issued_at,
    );
    same(
        rule,
        &format!("{what}: expires_at"),
        &got.expires_at,
        &want.expires_at,
    );
    same(
        rule,
        &format!("{what}: family_expires_at"),
        &got.family_expires_at,
        &want.family_expires_at,
    );
}

#[track_caller]
fn same_pending(rule: &str, what: &str, got: &PendingAuthorization, want: &PendingAuthorization) {
    let (g, w) = (&got.request, &want.request);
    same(
        rule,
        &format!("{what}: request.client_id"),
        &g.client_id,
        &w.client_id,
    );
    same(
        rule,
        &format!("{what}: request.redirect_uri"),
        &g.redirect_uri,
        &w.redirect_uri,
    );
    same(
        rule,
        &format!("{what}: request.response_mode"),
        &g.response_mode,
        &w.response_mode,
    );
    same(rule, &format!("{what}: request.scope"), &g.scope, &w.scope);
    same(rule, &format!("{what}: request.state"), &g.state, &w.state);
    same(rule, &format!("{what}: request.nonce"), &g.nonce, &w.nonce);
    same_challenge(
        rule,
        &format!("{what}: request.code_challenge"),
        &g.code_challenge,
        &w.code_challenge,
    );
    same(
        rule,
        &format!("{what}: request.prompt"),
        &g.prompt,
        &w.prompt,
    );
    same(
        rule,
        &format!("{what}: request.max_age"),
        &g.max_age,
        &w.max_age,
    );
    same(
        rule,
        &format!("{what}: request.requested_at"),
        &g.requested_at,
        &w.requested_at,
    );
    same(
        rule,
        &format!("{what}: request.id_token_hint_subject"),
        &g.id_token_hint_subject,
        &w.id_token_hint_subject,
    );
    same(
        rule,
        &format!("{what}: subject"),
        &got.subject,
        &want.subject,
    );
    same_digest(rule, &format!("{what}: csrf"), &got.csrf, &want.csrf);
    same(
        rule,
        &format!("{what}: deferred_error"),
        &got.deferred_error,
        &want.deferred_error,
    );
    same(
        rule,
        &format!("{what}: expires_at"),
        &got.expires_at,
        &want.expires_at,
    );
}

/// The PKCE challenge of RFC 7636 Appendix B.
fn challenge() -> CodeChallenge {
    CodeChallenge::parse(
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        Some("S256"),
        false,
    )
    .expect("RFC 7636 Appendix B challenge")
}

fn scope() -> ScopeSet {
    ScopeSet::parse("openid profile offline_access read").expect("valid scope")
}

/// A user with every field set, so that a store dropping one is caught.
fn user(t: u64) -> EndUser {
    EndUser {
        subject: "testkit-user".into(),
        auth_time: t - 5,
        acr: Some("urn:mace:incommon:iap:silver".into()),
        amr: vec!["pwd".into(), "otp".into()],
    }
}

fn sample_code(grant_id: GrantId, issued_at: u64, expires_at: u64) -> CodeGrant {
    CodeGrant {
        grant_id,
        client_id: "testkit-client".into(),
        redirect_uri: "https://client.example/cb?tenant=a".into(),
        scope: scope(),
        user: user(issued_at),
        nonce: Some("n-0S6_WzA2Mj".into()),
        code_challenge: Some(challenge()),
        issued_at,
        expires_at,
    }
}

fn sample_access(
    grant_id: GrantId,
    subject: Option<&str>,
    issued_at: u64,
    expires_at: u64,
) -> AccessTokenRecord {
    AccessTokenRecord {
        grant_id,
        client_id: "testkit-client".into(),
        subject: subject.map(Into::into),
        scope: scope(),
        issued_at,
        expires_at,
    }
}

fn sample_refresh(
    grant_id: GrantId,
    issued_at: u64,
    expires_at: u64,
    family_expires_at: u64,
) -> RefreshTokenRecord {
    RefreshTokenRecord::new(
        grant_id,
        "testkit-client",
        user(issued_at),
        scope(),
        issued_at,
        expires_at,
        family_expires_at,
    )
}

fn sample_pending(
    t: u64,
    subject: Option<&str>,
    csrf: Option<TokenDigest>,
    expires_at: u64,
) -> PendingAuthorization {
    PendingAuthorization {
        request: AuthorizationRequest {
            client_id: "testkit-client".into(),
            redirect_uri: "https://client.example/cb?tenant=a".into(),
            response_mode: ResponseMode::FormPost,
            scope: scope(),
            state: Some("af0ifjsldkj".into()),
            nonce: Some("n-0S6_WzA2Mj".into()),
            code_challenge: Some(challenge()),
            prompt: Prompt {
                none: false,
                login: true,
                consent: true,
            },
            max_age: Some(300),
            requested_at: t,
            id_token_hint_subject: Some("testkit-user".into()),
        },
        subject: subject.map(Into::into),
        csrf,
        expires_at,
        deferred_error: None,
    }
}

/// The concurrency rules need real parallelism: on a current-thread runtime an in-process
/// store would never be raced, and the rule would pass for a store that is not atomic.
#[track_caller]
fn require_multi_thread(rule: &str) {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread => panic!(
            "grantor testkit: this rule needs a multi-thread Tokio runtime, so that the store \
             is really raced (use #[tokio::test(flavor = \"multi_thread\")] or \
             grantor::testkit::block_on): {rule}"
        ),
        Ok(_) => {}
        Err(_) => panic!(
            "grantor testkit: this rule must run inside a multi-thread Tokio runtime \
             (#[tokio::test(flavor = \"multi_thread\")] or grantor::testkit::block_on): {rule}"
        ),
    }
}

/// Runs `f(store, i)` for `i in 0..RACERS` on as many tasks, released together by a barrier,
/// and returns the results in task order. A task's panic is re-raised.
async fn race<S, T, F, Fut>(store: &Arc<S>, f: F) -> Vec<T>
where
    S: GrantStore,
    T: Send + 'static,
    F: Fn(Arc<S>, usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut tasks = JoinSet::new();
    for i in 0..RACERS {
        let call = f(store.clone(), i);
        let barrier = barrier.clone();
        tasks.spawn(async move {
            barrier.wait().await;
            (i, call.await)
        });
    }
    let mut results: Vec<Option<T>> = (0..RACERS).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((i, r)) => results[i] = Some(r),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("grantor testkit: a racing task was cancelled: {e}"),
        }
    }
    results
        .into_iter()
        .map(|r| r.expect("every racing task reported"))
        .collect()
}
