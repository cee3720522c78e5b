//! Expiry at the second: a code, an opaque access or refresh token and a pending
//! authorization are refused from the second their `expires_at` names on, as a JWT is from
//! its `exp` (RFC 7519 §4.1.4: "the current time MUST be before" it). `expires_in` and the
//! `exp` that introspection reports then mean what they say (RFC 6749 §5.1, RFC 7662 §2.2).
//!
//! Each rule runs twice: on the in-memory store, and on a host store that still returns a
//! record during its last second (it is one second behind the server), which grantor's own
//! check must catch (the `GrantStore` contract: "grantor checks this again").

mod common;
use common::*;

use async_trait::async_trait;
use grantor::http::{header, Request, StatusCode};
use grantor::memory::MemoryGrantStore;
use grantor::resource::BearerError;
use grantor::{
    AccessTokenRecord, Clock as _, CodeGrant, CodeRedemption, EndUser, GrantId, GrantStore,
    HttpResponse, PendingAuthorization, RefreshLookup, RefreshTokenPolicy, RefreshTokenRecord,
    Rotation, StoreError, TokenDigest,
};

/// A host store that counts a record's `expires_at` second as live: every lookup reads the
/// in-memory store one second in the past.
#[derive(Clone)]
struct OneSecondLate(MemoryGrantStore);

#[async_trait]
impl GrantStore for OneSecondLate {
    async fn store_code(&self, code: TokenDigest, grant: CodeGrant) -> Result<(), StoreError> {
        self.0.store_code(code, grant).await
    }
    async fn redeem_code(
        &self,
        code: &TokenDigest,
        now: u64,
    ) -> Result<CodeRedemption, StoreError> {
        self.0.redeem_code(code, now - 1).await
    }
    async fn store_access_token(
        &self,
        token: TokenDigest,
        record: AccessTokenRecord,
    ) -> Result<(), StoreError> {
        self.0.store_access_token(token, record).await
    }
    async fn access_token(
        &self,
        token: &TokenDigest,
        now: u64,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        self.0.access_token(token, now - 1).await
    }
    async fn consume_assertion_id(&self, id: TokenDigest, until: u64) -> Result<bool, StoreError> {
        self.0.consume_assertion_id(id, until).await
    }
    async fn revoke_access_token(&self, token: &TokenDigest) -> Result<(), StoreError> {
        self.0.revoke_access_token(token).await
    }
    async fn revoke_grant(&self, grant: &GrantId, until: u64) -> Result<(), StoreError> {
        self.0.revoke_grant(grant, until).await
    }
    async fn store_refresh_token(
        &self,
        token: TokenDigest,
        record: RefreshTokenRecord,
    ) -> Result<(), StoreError> {
        self.0.store_refresh_token(token, record).await
    }
    async fn refresh_token(
        &self,
        token: &TokenDigest,
        now: u64,
    ) -> Result<RefreshLookup, StoreError> {
        self.0.refresh_token(token, now - 1).await
    }
    async fn rotate_refresh_token(
        &self,
        old: &TokenDigest,
        new: TokenDigest,
        record: RefreshTokenRecord,
        now: u64,
    ) -> Result<Rotation, StoreError> {
        self.0.rotate_refresh_token(old, new, record, now - 1).await
    }
    async fn save_interaction(
        &self,
        id: TokenDigest,
        pending: PendingAuthorization,
    ) -> Result<(), StoreError> {
        self.0.save_interaction(id, pending).await
    }
    async fn interaction(
        &self,
        id: &TokenDigest,
        now: u64,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        self.0.interaction(id, now - 1).await
    }
    async fn take_interaction(
        &self,
        id: &TokenDigest,
        now: u64,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        self.0.take_interaction(id, now - 1).await
    }
}

/// The checklist harness with a refresh token from every exchange, on the in-memory store
/// (`late == false`) or behind [`OneSecondLate`].
fn rig(late: bool) -> Harness {
    let mut policy = policy();
    policy.refresh_tokens = RefreshTokenPolicy::Always;
    if late {
        harness_over(ISS, Some(keys()), policy, OneSecondLate)
    } else {
        harness_with(policy)
    }
}

/// `POST /introspect` for `token`, as the resource server `rs-client`.
async fn introspect(h: &Harness, token: &str) -> serde_json::Value {
    let req = Request::post("/introspect")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::AUTHORIZATION, B_RS)
        .body(format!("token={}", enc(token)).into_bytes())
        .unwrap();
    let r = h.server.introspect(req).await;
    assert_eq!(r.status(), StatusCode::OK);
    json(&r)
}

async fn refresh(h: &Harness, rt: &str) -> HttpResponse {
    let body = format!("grant_type=refresh_token&refresh_token={}", enc(rt));
    h.token(&body, Some(B_CONF)).await
}

/// (access token, refresh token) from a code exchange at the current time.
async fn tokens(h: &Harness) -> (String, String) {
    let code = h.code(&[]).await;
    let j = assert_token_ok(&h.exch(&code).await);
    (
        j["access_token"].as_str().unwrap().into(),
        j["refresh_token"].as_str().unwrap().into(),
    )
}

/// SEC-26 at the boundary (RFC 6749 §4.1.2, RFC 7519 §4.1.4): a code issued at `T0` with
/// the default 60-second lifetime is exchanged at `T0 + 59`, and refused with
/// `invalid_grant` at `T0 + 60`.
#[tokio::test]
async fn a_code_is_refused_from_its_expiry_second() {
    for late in [false, true] {
        let h = rig(late);
        let in_time = h.code(&[]).await;
        let at_expiry = h.code(&[]).await;
        h.advance(59);
        assert_token_ok(&h.exch(&in_time).await);
        h.advance(1);
        assert_token_err(&h.exch(&at_expiry).await, 400, "invalid_grant");
    }
}

/// SEC-75 and SEC-85 at the boundary (RFC 6750 §3.1, RFC 7662 §2.2, RFC 7519 §4.1.4): an
/// opaque access token with `expires_in` 3600 is live at `T0 + 3599`, and from `T0 + 3600`
/// (its `exp`) it is refused with `invalid_token` and introspects as exactly
/// `{"active":false}`.
#[tokio::test]
async fn an_opaque_access_token_is_refused_from_its_exp() {
    for late in [false, true] {
        let h = rig(late);
        let (at, _) = tokens(&h).await;
        h.advance(3599);
        assert!(
            h.server.verify_access_token(&at).await.is_ok(),
            "late={late}"
        );
        let j = introspect(&h, &at).await;
        assert_eq!(j["active"], true, "late={late}");
        assert_eq!(j["exp"], T0 + 3600);
        h.advance(1);
        assert_eq!(
            h.server.verify_access_token(&at).await.unwrap_err(),
            BearerError::InvalidToken,
            "late={late}"
        );
        assert_eq!(
            introspect(&h, &at).await,
            serde_json::json!({ "active": false }),
            "late={late}"
        );
    }
}

/// SEC-61 and SEC-85 at the boundary (RFC 6749 §5.2, §6; RFC 7662 §2.2): a refresh token
/// whose idle lifetime ends at `T0 + L` is used at `T0 + L - 1`; its successor, idle for
/// `L` seconds, is refused with `invalid_grant` at its expiry second and introspects as
/// `{"active":false}`.
#[tokio::test]
async fn a_refresh_token_is_refused_from_its_expiry_second() {
    for late in [false, true] {
        let h = rig(late);
        let idle = h.server.policy().refresh_token_idle_lifetime.as_secs();
        let (_, rt) = tokens(&h).await;
        h.advance(idle - 1);
        let j = assert_token_ok(&refresh(&h, &rt).await);
        let next = j["refresh_token"].as_str().unwrap().to_owned();
        let j = introspect(&h, &next).await;
        assert_eq!(j["active"], true, "late={late}");
        // Its own idle period ends `idle` seconds after it was issued (within the family's
        // absolute lifetime, which the default policy makes longer).
        let expires_at = T0 + 2 * idle - 1;
        assert_eq!(j["exp"], expires_at, "late={late}");
        h.advance(idle);
        assert_eq!(h.clock.now(), expires_at);
        assert_eq!(
            introspect(&h, &next).await,
            serde_json::json!({ "active": false }),
            "late={late}"
        );
        assert_token_err(&refresh(&h, &next).await, 400, "invalid_grant");
    }
}

/// A pending authorization (the sign-in the browser was sent to) expires with the
/// interaction lifetime, 600 s by default, by the same rule as a token (RFC 7519 §4.1.4's
/// for `exp`): resumed at `T0 + 599` it yields a code; another, resumed at `T0 + 600`, gets
/// the expired page and no redirect.
#[tokio::test]
async fn a_pending_authorization_expires_at_its_second() {
    for late in [false, true] {
        let h = rig(late);
        let login = |r: &HttpResponse| {
            let p = params_of(&location(r), false);
            param(&p, "interaction").expect("a login redirect")
        };
        let in_time = login(&h.authorize_no_session(&authz(&[])).await);
        let at_expiry = login(&h.authorize_no_session(&authz(&[])).await);
        h.advance(599);
        let id = h.sessions.sign_in(EndUser::new(ALICE, T0 + 599));
        let cookie = format!("{}={}", h.sessions.cookie_name(), id.expose());
        let resume = |interaction: String| {
            let req = Request::get(format!(
                "/authorize/resume?interaction={}",
                enc(&interaction)
            ))
            .header(header::COOKIE, cookie.clone())
            .body(Vec::new())
            .unwrap();
            h.server.resume(req)
        };
        assert_code_redirect(&resume(in_time).await, CB, Some("xyz"));
        h.advance(1);
        let r = resume(at_expiry).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "late={late}");
        assert!(r.headers().get(header::LOCATION).is_none(), "late={late}");
        assert!(
            String::from_utf8_lossy(r.body()).contains("has expired"),
            "late={late}"
        );
    }
}
