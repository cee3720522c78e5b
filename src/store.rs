//! Storage traits the host implements: clients, and grants (codes, tokens, pending
//! authorizations).
//!
//! The security of the whole server rests on two guarantees written into [`GrantStore`]:
//! **redeeming a code is one atomic step** ([`GrantStore::redeem_code`]) and **a revoked grant
//! stays revoked** ([`GrantStore::revoke_grant`]). The in-memory store in [`crate::memory`] is
//! the reference implementation.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use rand::RngCore as _;

use crate::client::Client;
use crate::error::StoreError;
use crate::pkce::CodeChallenge;
use crate::scope::ScopeSet;
use crate::secret::TokenDigest;

/// Looks up registered clients.
#[async_trait]
pub trait ClientStore: Send + Sync + 'static {
    /// The client registered as `client_id`, or `None`.
    async fn client(&self, client_id: &str) -> Result<Option<Arc<Client>>, StoreError>;
}

#[async_trait]
impl<T: ClientStore + ?Sized> ClientStore for Arc<T> {
    async fn client(&self, client_id: &str) -> Result<Option<Arc<Client>>, StoreError> {
        (**self).client(client_id).await
    }
}

/// Identifies one authorization: everything issued from one code (its access and refresh
/// tokens) shares a `GrantId`, so that all of it can be revoked at once.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct GrantId([u8; 16]);

impl GrantId {
    /// A fresh random id.
    pub fn generate() -> Self {
        let mut b = [0u8; 16];
        rand::rng().fill_bytes(&mut b);
        GrantId(b)
    }

    /// Rebuilds an id from its bytes (for stores that persist it).
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        GrantId(bytes)
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Debug for GrantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GrantId(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

/// How the end-user was authenticated, as the host reported it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EndUser {
    /// The subject identifier (OIDC Core §2 `sub`): stable, never reassigned, at most 255
    /// ASCII characters.
    pub subject: String,
    /// When the user last actively authenticated, in Unix seconds (OIDC `auth_time`).
    pub auth_time: u64,
    /// Authentication context class reference (OIDC `acr`), if known.
    pub acr: Option<String>,
    /// Authentication methods (OIDC `amr`), if known.
    pub amr: Vec<String>,
}

impl EndUser {
    /// A user authenticated at `auth_time` with no `acr`/`amr`.
    pub fn new(subject: impl Into<String>, auth_time: u64) -> Self {
        EndUser {
            subject: subject.into(),
            auth_time,
            acr: None,
            amr: Vec::new(),
        }
    }
}

/// What an authorization code is bound to (RFC 6749 §4.1.2, §10.5; RFC 7636 §4.4).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct CodeGrant {
    /// The authorization this code starts.
    pub grant_id: GrantId,
    /// The client the code was issued to.
    pub client_id: Box<str>,
    /// The redirect URI used at /authorize, exactly as sent.
    pub redirect_uri: Box<str>,
    /// The granted scope.
    pub scope: ScopeSet,
    /// The user who authorized.
    pub user: EndUser,
    /// The OIDC `nonce`, if one was sent.
    pub nonce: Option<Box<str>>,
    /// The PKCE challenge, if one was sent.
    pub code_challenge: Option<CodeChallenge>,
    /// When the code was issued (Unix seconds).
    pub issued_at: u64,
    /// When the code expires (Unix seconds).
    pub expires_at: u64,
}

/// The outcome of [`GrantStore::redeem_code`].
#[derive(Debug)]
pub enum CodeRedemption {
    /// The code was live and is now spent; this caller is the only one that gets it.
    Redeemed(CodeGrant),
    /// The code was already spent (a replay). The grant is returned so that grantor can check
    /// the replay and revoke what was issued from it (RFC 6749 §4.1.2).
    AlreadyRedeemed(CodeGrant),
    /// No such code, or it has expired.
    NotFound,
}

/// An opaque access token's record.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct AccessTokenRecord {
    /// The authorization the token was issued from.
    pub grant_id: GrantId,
    /// The client it was issued to.
    pub client_id: Box<str>,
    /// The user it acts for (`None` for client_credentials).
    pub subject: Option<Box<str>>,
    /// The granted scope.
    pub scope: ScopeSet,
    /// Issue time (Unix seconds).
    pub issued_at: u64,
    /// Expiry (Unix seconds).
    pub expires_at: u64,
}

/// A refresh token's record (RFC 6749 §6). Every rotation creates a new record in the same
/// family; the family is the [`GrantId`] of the authorization it came from.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct RefreshTokenRecord {
    /// The authorization (and refresh-token family) this token belongs to.
    pub grant_id: GrantId,
    /// The client it was issued to (RFC 6749 §6: bound to the client).
    pub client_id: Box<str>,
    /// The user who authorized, with the original `auth_time` (OIDC Core §12.2).
    pub user: EndUser,
    /// The scope originally granted; a refresh may narrow it for one access token, never
    /// widen it, and the rotated token keeps this original scope (RFC 6749 §6).
    pub scope: ScopeSet,
    /// When this token was issued (Unix seconds).
    pub issued_at: u64,
    /// When this token expires: the idle limit, capped by the family's absolute limit.
    pub expires_at: u64,
    /// When the whole family expires, however often it is rotated.
    pub family_expires_at: u64,
}

impl RefreshTokenRecord {
    /// Builds a record (for stores that persist records).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        grant_id: GrantId,
        client_id: impl Into<Box<str>>,
        user: EndUser,
        scope: ScopeSet,
        issued_at: u64,
        expires_at: u64,
        family_expires_at: u64,
    ) -> Self {
        RefreshTokenRecord {
            grant_id,
            client_id: client_id.into(),
            user,
            scope,
            issued_at,
            expires_at,
            family_expires_at,
        }
    }
}

/// The state of a presented refresh token.
#[derive(Debug)]
pub enum RefreshLookup {
    /// Live: it may be rotated.
    Active(RefreshTokenRecord),
    /// It was already rotated: presenting it again is reuse (RFC 9700 §4.14.2), and grantor
    /// revokes the family.
    Rotated(RefreshTokenRecord),
    /// Unknown, expired or revoked.
    NotFound,
}

/// The outcome of [`GrantStore::rotate_refresh_token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The old token is now spent and the new one stored; this caller is the only one.
    Rotated,
    /// The old token had already been rotated (a concurrent or repeated use): nothing was
    /// stored, and grantor treats it as reuse.
    AlreadyRotated,
    /// The old token is unknown, expired or revoked: nothing was stored.
    NotFound,
}

/// A validated authorization request, kept while the user signs in or consents (DESIGN
/// decision 6: it is never re-read from data the browser could alter).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct AuthorizationRequest {
    /// The client.
    pub client_id: Box<str>,
    /// The redirect URI, exactly as sent (and matched against the registration).
    pub redirect_uri: Box<str>,
    /// Whether the response goes in the fragment instead of the query.
    pub response_mode: ResponseMode,
    /// The scope asked for, after dropping unknown values and applying defaults.
    pub scope: ScopeSet,
    /// The client's `state`, returned unchanged.
    pub state: Option<Box<str>>,
    /// The OIDC `nonce`.
    pub nonce: Option<Box<str>>,
    /// The PKCE challenge.
    pub code_challenge: Option<CodeChallenge>,
    /// The OIDC `prompt` values.
    pub prompt: Prompt,
    /// The OIDC `max_age`, in seconds.
    pub max_age: Option<u64>,
    /// When the request arrived (Unix seconds).
    pub requested_at: u64,
    /// The `sub` of the request's `id_token_hint` (OIDC Core §3.1.2.1), once the hint was
    /// verified as an ID token this server issued to this client. The session user must be
    /// this subject, or the request ends with `login_required`; an authenticator may also use
    /// it to pre-fill its login form.
    pub id_token_hint_subject: Option<Box<str>>,
}

impl AuthorizationRequest {
    /// Whether this is an OpenID Connect request (`openid` in scope).
    pub fn is_openid(&self) -> bool {
        self.scope.contains("openid")
    }
}

/// How the authorization response is delivered (OAuth 2.0 Multiple Response Type Encoding
/// Practices §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum ResponseMode {
    /// Parameters in the redirect URI's query (the default for `code`).
    Query,
    /// Parameters in the redirect URI's fragment.
    Fragment,
    /// Parameters POSTed to the redirect URI by an auto-submitting HTML form (OAuth 2.0 Form
    /// Post Response Mode).
    FormPost,
}

/// The OIDC `prompt` parameter (OIDC Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Prompt {
    /// `none`: no UI may be shown.
    pub none: bool,
    /// `login` (and `select_account`): the user must authenticate again.
    pub login: bool,
    /// `consent`: consent must be asked again.
    pub consent: bool,
}

/// A pending authorization: the validated request, and how far the user has got.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct PendingAuthorization {
    /// The validated request.
    pub request: AuthorizationRequest,
    /// The user who was shown the consent page; a consent decision must come from them.
    pub subject: Option<Box<str>>,
    /// The digest of the consent form's anti-CSRF token.
    pub csrf: Option<TokenDigest>,
    /// When the pending authorization is forgotten (Unix seconds).
    pub expires_at: u64,
    /// For an untrusted client's invalid request: the error to redirect once the user has
    /// signed in (RFC 9700 §4.11.2). `request` then holds only where to send it.
    pub deferred_error: Option<crate::error::ProtocolError>,
}

/// Stores grants: authorization codes, opaque access tokens, revocations and pending
/// authorizations. All keys are [`TokenDigest`]s: the raw values never reach the store.
///
/// Every record ([`CodeGrant`], [`AccessTokenRecord`], [`RefreshTokenRecord`],
/// [`PendingAuthorization`]) is `serde::Serialize + Deserialize`, so a database store can keep
/// each one as a JSON document beside its digest key; values read back are validated again
/// (scopes, error descriptions).
///
/// # Contract
/// * [`redeem_code`](Self::redeem_code) **must** be atomic: of any number of concurrent calls
///   for one live code, exactly one returns [`CodeRedemption::Redeemed`]. If it is not, a
///   stolen code can be redeemed twice.
/// * A redeemed code is remembered until it expires so a replay is recognised
///   ([`CodeRedemption::AlreadyRedeemed`]).
/// * After [`revoke_grant`](Self::revoke_grant), [`access_token`](Self::access_token)
///   **must** return `None` for every token of that grant, including tokens stored after the
///   revocation (a code replay can race the first redemption).
/// * Lookups must not return expired records, and expired records should be purged so that
///   storage does not grow without bound. A record has expired from its `expires_at` second
///   on (`now >= expires_at`), as a JWT has from its `exp` (RFC 7519 §4.1.4). grantor checks
///   this again on every code, token and pending authorization a lookup returns, so a store
///   that still returns one during that last second stretches no lifetime.
/// * [`take_interaction`](Self::take_interaction) is atomic, like `redeem_code`.
/// * [`rotate_refresh_token`](Self::rotate_refresh_token) **must** be atomic: of any number
///   of concurrent rotations of one token, exactly one returns [`Rotation::Rotated`]. A
///   rotated token is remembered until its family expires, so that reuse is recognised
///   ([`RefreshLookup::Rotated`]). A revoked grant's refresh tokens are
///   [`RefreshLookup::NotFound`].
#[async_trait]
pub trait GrantStore: Send + Sync + 'static {
    /// Stores a new code under the digest of its value.
    async fn store_code(&self, code: TokenDigest, grant: CodeGrant) -> Result<(), StoreError>;

    /// Atomically spends a code; see the trait's contract.
    async fn redeem_code(&self, code: &TokenDigest, now: u64)
        -> Result<CodeRedemption, StoreError>;

    /// Stores an opaque access token under the digest of its value.
    async fn store_access_token(
        &self,
        token: TokenDigest,
        record: AccessTokenRecord,
    ) -> Result<(), StoreError>;

    /// The live record of an access token: `None` if unknown, expired, or revoked (directly or
    /// through its grant).
    async fn access_token(
        &self,
        token: &TokenDigest,
        now: u64,
    ) -> Result<Option<AccessTokenRecord>, StoreError>;

    /// Records a client assertion's `jti` (keyed by a digest of client id and jti) until
    /// `until`; `Ok(false)` when it was already recorded: a replay (RFC 7523 §3). Atomic,
    /// like `redeem_code`.
    async fn consume_assertion_id(&self, id: TokenDigest, until: u64) -> Result<bool, StoreError>;

    /// Revokes one opaque access token (RFC 7009). Unknown tokens are ignored.
    async fn revoke_access_token(&self, token: &TokenDigest) -> Result<(), StoreError>;

    /// Revokes everything issued from `grant`, now and for any token stored later. The
    /// revocation must be remembered at least until `until` (Unix seconds), the latest expiry
    /// of anything the grant can have issued.
    async fn revoke_grant(&self, grant: &GrantId, until: u64) -> Result<(), StoreError>;

    /// Stores a new refresh token (the first of its family) under the digest of its value.
    async fn store_refresh_token(
        &self,
        token: TokenDigest,
        record: RefreshTokenRecord,
    ) -> Result<(), StoreError>;

    /// The state of a refresh token; see [`RefreshLookup`].
    async fn refresh_token(
        &self,
        token: &TokenDigest,
        now: u64,
    ) -> Result<RefreshLookup, StoreError>;

    /// Atomically spends `old` and stores `new` as its successor; see the trait's contract.
    async fn rotate_refresh_token(
        &self,
        old: &TokenDigest,
        new: TokenDigest,
        record: RefreshTokenRecord,
        now: u64,
    ) -> Result<Rotation, StoreError>;

    /// Stores (or replaces) a pending authorization.
    async fn save_interaction(
        &self,
        id: TokenDigest,
        pending: PendingAuthorization,
    ) -> Result<(), StoreError>;

    /// Reads a pending authorization that has not expired.
    async fn interaction(
        &self,
        id: &TokenDigest,
        now: u64,
    ) -> Result<Option<PendingAuthorization>, StoreError>;

    /// Atomically removes and returns a pending authorization that has not expired.
    async fn take_interaction(
        &self,
        id: &TokenDigest,
        now: u64,
    ) -> Result<Option<PendingAuthorization>, StoreError>;
}

#[async_trait]
impl<T: GrantStore + ?Sized> GrantStore for Arc<T> {
    async fn store_code(&self, code: TokenDigest, grant: CodeGrant) -> Result<(), StoreError> {
        (**self).store_code(code, grant).await
    }
    async fn redeem_code(
        &self,
        code: &TokenDigest,
        now: u64,
    ) -> Result<CodeRedemption, StoreError> {
        (**self).redeem_code(code, now).await
    }
    async fn store_access_token(
        &self,
        token: TokenDigest,
        record: AccessTokenRecord,
    ) -> Result<(), StoreError> {
        (**self).store_access_token(token, record).await
    }
    async fn access_token(
        &self,
        token: &TokenDigest,
        now: u64,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        (**self).access_token(token, now).await
    }
    async fn consume_assertion_id(&self, id: TokenDigest, until: u64) -> Result<bool, StoreError> {
        (**self).consume_assertion_id(id, until).await
    }
    async fn revoke_access_token(&self, token: &TokenDigest) -> Result<(), StoreError> {
        (**self).revoke_access_token(token).await
    }
    async fn revoke_grant(&self, grant: &GrantId, until: u64) -> Result<(), StoreError> {
        (**self).revoke_grant(grant, until).await
    }
    async fn store_refresh_token(
        &self,
        token: TokenDigest,
        record: RefreshTokenRecord,
    ) -> Result<(), StoreError> {
        (**self).store_refresh_token(token, record).await
    }
    async fn refresh_token(
        &self,
        token: &TokenDigest,
        now: u64,
    ) -> Result<RefreshLookup, StoreError> {
        (**self).refresh_token(token, now).await
    }
    async fn rotate_refresh_token(
        &self,
        old: &TokenDigest,
        new: TokenDigest,
        record: RefreshTokenRecord,
        now: u64,
    ) -> Result<Rotation, StoreError> {
        (**self).rotate_refresh_token(old, new, record, now).await
    }
    async fn save_interaction(
        &self,
        id: TokenDigest,
        pending: PendingAuthorization,
    ) -> Result<(), StoreError> {
        (**self).save_interaction(id, pending).await
    }
    async fn interaction(
        &self,
        id: &TokenDigest,
        now: u64,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        (**self).interaction(id, now).await
    }
    async fn take_interaction(
        &self,
        id: &TokenDigest,
        now: u64,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        (**self).take_interaction(id, now).await
    }
}

#[cfg(test)]
mod serde_tests {
    use super::*;
    use crate::error::{ErrorCode, ProtocolError};

    /// A value survives a JSON round trip unchanged (compared by its JSON form).
    fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
        let json = serde_json::to_string(value).unwrap();
        let back: T = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        back
    }

    #[test]
    fn records_round_trip_through_json_for_database_stores() {
        let user = EndUser {
            subject: "alice".into(),
            auth_time: 1,
            acr: Some("urn:mace:incommon:iap:silver".into()),
            amr: vec!["pwd".into()],
        };
        let scope = ScopeSet::parse("openid read").unwrap();
        let challenge = CodeChallenge::parse(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            Some("S256"),
            false,
        )
        .unwrap();
        let grant_id = GrantId::generate();
        let code = CodeGrant {
            grant_id,
            client_id: "c".into(),
            redirect_uri: "https://c.example/cb".into(),
            scope: scope.clone(),
            user: user.clone(),
            nonce: Some("n".into()),
            code_challenge: Some(challenge.clone()),
            issued_at: 1,
            expires_at: 61,
        };
        let back = round_trip(&code);
        assert_eq!(back.grant_id, grant_id);
        assert_eq!(back.code_challenge, Some(challenge.clone()));
        assert_eq!(back.user, user);
        round_trip(&AccessTokenRecord {
            grant_id,
            client_id: "c".into(),
            subject: None,
            scope: scope.clone(),
            issued_at: 1,
            expires_at: 2,
        });
        round_trip(&RefreshTokenRecord::new(
            grant_id,
            "c",
            user.clone(),
            scope.clone(),
            1,
            2,
            3,
        ));
        let pending = PendingAuthorization {
            request: AuthorizationRequest {
                client_id: "c".into(),
                redirect_uri: "https://c.example/cb".into(),
                response_mode: ResponseMode::FormPost,
                scope,
                state: Some("s".into()),
                nonce: None,
                code_challenge: Some(challenge),
                prompt: Prompt {
                    none: false,
                    login: true,
                    consent: false,
                },
                max_age: Some(0),
                requested_at: 1,
                id_token_hint_subject: Some("alice".into()),
            },
            subject: Some("alice".into()),
            csrf: Some(TokenDigest::of("csrf")),
            expires_at: 600,
            deferred_error: Some(ProtocolError::new(ErrorCode::InvalidScope, "bad scope")),
        };
        let back = round_trip(&pending);
        assert!(back.csrf.unwrap().matches(&TokenDigest::of("csrf")));
        assert_eq!(back.deferred_error.unwrap().code(), ErrorCode::InvalidScope);
    }

    #[test]
    fn stored_values_are_validated_on_the_way_back() {
        assert!(serde_json::from_str::<ScopeSet>(r#""a\"b""#).is_err());
        let e: ProtocolError = serde_json::from_str(
            r#"{"code":"invalid_request","description":"bad\u0000\"x","retry_after":null}"#,
        )
        .unwrap();
        assert_eq!(e.description(), "bad??x");
        assert_eq!(
            serde_json::to_string(&ErrorCode::UnsupportedTokenType).unwrap(),
            r#""unsupported_token_type""#
        );
    }
}
