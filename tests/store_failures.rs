//! Storage failures (DESIGN decision 5: "Storage or signing failures become `server_error`
//! without details; the detail goes to `tracing`"): every endpoint, with the host's grant or
//! client store failing (`testkit::FailingGrantStore`, `testkit::FailingClientStore`), answers
//! `server_error` in its own wire format and never panics, never answers a success, and never
//! shows the store's error message.
//!
//! * Token, revocation, introspection: `500` JSON `{"error":"server_error",...}` with
//!   `Cache-Control: no-store` (RFC 6749 §5.2; RFC 7009 §2.2.1; RFC 7662 §2.3).
//! * Authorization endpoint once the client and redirect URI are verified: a `303` to the
//!   registered redirect URI with `error=server_error`, `state` and `iss` (RFC 6749
//!   §4.1.2.1, RFC 9207); before that (the client store itself failing): a `500` error page,
//!   never a redirect.
//! * Resume endpoint: a `500` error page.
//! * Userinfo: `500` with an empty body and a `Bearer` challenge (RFC 6750 §3).

mod common;
use common::*;

use std::sync::Arc;

use grantor::http::{header, Request, StatusCode};
use grantor::memory::{MemoryConsent, MemoryGrantStore, MemorySessions};
use grantor::testkit::{FailingClientStore, FailingGrantStore, GrantOp, INJECTED_FAILURE};
use grantor::token::{SigningAlgorithm, SigningKey};
use grantor::{
    AuthorizationServer, Client, ClientAuthMethod, EndUser, GrantType, HttpResponse, ManualClock,
    RefreshTokenPolicy, ScopeSet,
};

const LOGIN: &str = "https://as.example/login";
const FORM: &str = "application/x-www-form-urlencoded";
/// The one body every storage failure at a JSON endpoint gets (RFC 6749 §5.2).
const SERVER_ERROR_JSON: &str =
    r#"{"error":"server_error","error_description":"the server could not complete the request"}"#;
/// `AUTHZ{}`'s error redirect for a storage failure: to the registered `CB`, with the
/// request's `state` and the issuer (RFC 6749 §4.1.2.1, RFC 9207).
const SERVER_ERROR_REDIRECT: &str = "https://client.example.com/cb?error=server_error&error_description=the+server+could+not+complete+the+request&state=xyz&iss=https%3A%2F%2Fas.example";

/// The checklist harness, with the server's grant and client stores behind failing wrappers
/// that pass every call through until told to fail.
struct Rig {
    h: Harness,
    grants: FailingGrantStore<MemoryGrantStore>,
    clients: FailingClientStore<grantor::memory::MemoryClientStore>,
}

fn rig() -> Rig {
    let clock = Arc::new(ManualClock::new(T0));
    let sessions = MemorySessions::new(LOGIN);
    let consent = MemoryConsent::new();
    let grants = MemoryGrantStore::new();
    let clients = clients();
    let failing_grants = FailingGrantStore::wrap(grants.clone());
    let failing_clients = FailingClientStore::wrap(clients.clone());
    let mut policy = policy();
    // A refresh token from every code exchange, so each grant type can be exercised.
    policy.refresh_tokens = RefreshTokenPolicy::Always;
    let server = AuthorizationServer::builder()
        .issuer(ISS)
        .clients(failing_clients.clone())
        .grants(failing_grants.clone())
        .authenticator(sessions.clone())
        .consent(consent.clone())
        .clock(clock.clone())
        .claims(user_claims())
        .scopes(["read", "write", "admin"])
        .policy(policy)
        .signing_keys(keys())
        .build()
        .expect("server");
    let alice_session = sessions.sign_in(EndUser::new(ALICE, T0 - 10));
    let alice_cookie = format!("{}={}", sessions.cookie_name(), alice_session.expose());
    let everything = ScopeSet::parse("openid profile offline_access read write").unwrap();
    consent.grant(ALICE, "conf-client", &everything);
    Rig {
        h: Harness {
            server,
            clock,
            sessions,
            consent,
            grants,
            clients,
            alice_cookie,
            alice_session,
        },
        grants: failing_grants,
        clients: failing_clients,
    }
}

/// Neither the headers nor the body carry the store's message (DESIGN decision 5: the
/// detail goes to `tracing` only).
fn assert_no_leak(r: &HttpResponse) {
    let body = String::from_utf8_lossy(r.body());
    for needle in [INJECTED_FAILURE, "injected", "storage failure", "testkit"] {
        assert!(!body.contains(needle), "the body leaks {needle:?}: {body}");
        for (name, value) in r.headers() {
            let v = String::from_utf8_lossy(value.as_bytes());
            assert!(!v.contains(needle), "header {name} leaks {needle:?}: {v}");
        }
    }
}

/// `500` JSON `server_error` with the no-store headers and no challenge (RFC 6749 §5.2).
fn assert_server_error_json(r: &HttpResponse) {
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR, "{r:?}");
    let h = r.headers();
    assert_eq!(h.get(header::CONTENT_TYPE).unwrap(), "application/json");
    assert_eq!(h.get(header::CACHE_CONTROL).unwrap(), "no-store");
    assert_eq!(h.get(header::PRAGMA).unwrap(), "no-cache");
    assert!(h.get(header::WWW_AUTHENTICATE).is_none());
    assert!(h.get(header::LOCATION).is_none());
    assert_eq!(String::from_utf8_lossy(r.body()), SERVER_ERROR_JSON);
    assert_no_leak(r);
}

/// A `500` error page: never a redirect, the `server_error` code, no store detail, the page
/// headers (RFC 6749 §4.1.2.1; RFC 9700 §4.16).
fn assert_server_error_page(r: &HttpResponse) {
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR, "{r:?}");
    let h = r.headers();
    assert!(h.get(header::LOCATION).is_none());
    assert_eq!(
        h.get(header::CONTENT_TYPE).unwrap(),
        "text/html; charset=utf-8"
    );
    assert_eq!(h.get(header::CACHE_CONTROL).unwrap(), "no-store");
    assert_eq!(h.get(header::X_FRAME_OPTIONS).unwrap(), "DENY");
    let body = String::from_utf8_lossy(r.body());
    assert!(
        body.contains("<title>Something went wrong</title>"),
        "{body}"
    );
    assert!(
        body.contains(
            "<p>the server could not complete the request</p><p><code>server_error</code></p>"
        ),
        "{body}"
    );
    for bad in ["<a ", "<form", "<script", "client.example.com"] {
        assert!(!body.contains(bad), "the error page contains {bad}: {body}");
    }
    assert_no_leak(r);
}

/// `ERR_REDIRECT(server_error)` to the registered redirect URI, exactly (RFC 6749 §4.1.2.1).
fn assert_server_error_redirect(r: &HttpResponse) {
    assert_err_redirect(r, CB, "server_error", Some("xyz"));
    assert_eq!(location(r), SERVER_ERROR_REDIRECT);
    assert!(r.body().is_empty());
    assert_no_leak(r);
}

/// Runs `AUTHZ{}` and the exchange with the store working: `(access, refresh)` tokens.
async fn tokens(rig: &Rig) -> (String, String) {
    let code = rig.h.code(&[]).await;
    let j = assert_token_ok(&rig.h.exch(&code).await);
    (
        j["access_token"].as_str().unwrap().to_owned(),
        j["refresh_token"]
            .as_str()
            .expect("refresh token")
            .to_owned(),
    )
}

async fn form(rig: &Rig, path: &str, body: &str, authorization: Option<&str>) -> HttpResponse {
    let mut req = Request::post(path).header(header::CONTENT_TYPE, FORM);
    if let Some(a) = authorization {
        req = req.header(header::AUTHORIZATION, a);
    }
    let req = req.body(body.as_bytes().to_vec()).unwrap();
    match path {
        "/token" => rig.h.server.token(req).await,
        "/revoke" => rig.h.server.revoke(req).await,
        "/introspect" => rig.h.server.introspect(req).await,
        _ => unreachable!("{path}"),
    }
}

async fn resume_get(rig: &Rig, interaction: &str, cookie: Option<&str>) -> HttpResponse {
    let mut req = Request::get(format!(
        "/authorize/resume?interaction={}",
        enc(interaction)
    ));
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    rig.h.server.resume(req.body(Vec::new()).unwrap()).await
}

/// The interaction id from a 303 to the login page.
fn login_interaction(r: &HttpResponse) -> String {
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{r:?}");
    let loc = location(r);
    assert!(loc.starts_with(&format!("{LOGIN}?interaction=")), "{loc}");
    param(&params_of(&loc, false), "interaction").unwrap()
}

// ---------------------------------------------------------------------------------------------
// The authorization and resume endpoints
// ---------------------------------------------------------------------------------------------

/// A signed-in user with stored consent, `store_code` failing: the code cannot be issued, so
/// the client gets `error=server_error` at its registered redirect URI with `state` and `iss`
/// (RFC 6749 §4.1.2.1 `server_error`; RFC 9207; DESIGN decision 5), and no code.
#[tokio::test]
async fn authorize_signed_in_store_code_failure_redirects_server_error_rfc6749_4_1_2_1() {
    let rig = rig();
    rig.grants.fail_all();
    let r = rig.h.authorize(&authz(&[])).await;
    assert_server_error_redirect(&r);
    assert_eq!(rig.grants.failures(), 1, "exactly store_code was attempted");
}

/// Only `store_code` failing is enough for the same answer (the failure is not a side effect
/// of an earlier call).
#[tokio::test]
async fn authorize_only_store_code_failing_redirects_server_error_rfc6749_4_1_2_1() {
    let rig = rig();
    rig.grants.fail(GrantOp::StoreCode);
    assert_server_error_redirect(&rig.h.authorize(&authz(&[])).await);
    rig.grants.recover_all();
    // With the store back, the same request succeeds.
    assert_code_redirect(&rig.h.authorize(&authz(&[])).await, CB, Some("xyz"));
}

/// No session: the authenticator wants the login page, but the pending authorization cannot be
/// saved (`save_interaction` fails), so the login page is not shown (the user could never come
/// back) and the client gets `error=server_error` (RFC 6749 §4.1.2.1; DESIGN decision 5).
#[tokio::test]
async fn authorize_save_interaction_failure_redirects_server_error_rfc6749_4_1_2_1() {
    let rig = rig();
    rig.grants.fail(GrantOp::SaveInteraction);
    let r = rig.h.authorize_no_session(&authz(&[])).await;
    assert_server_error_redirect(&r);
    assert_eq!(rig.grants.failures(), 1);
}

/// With `response_mode=form_post` the same failure is the auto-submitting form carrying
/// `error=server_error`, `state` and `iss` (OAuth 2.0 Form Post Response Mode §2): a `200` page,
/// as for every form_post response, and no code.
#[tokio::test]
async fn authorize_form_post_store_failure_posts_server_error() {
    let rig = rig();
    rig.grants.fail_all();
    let r = rig
        .h
        .authorize(&authz(&[("response_mode", Some("form_post"))]))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{r:?}");
    assert!(r.headers().get(header::LOCATION).is_none());
    let body = String::from_utf8_lossy(r.body());
    assert!(
        body.contains(&format!("<form method=\"post\" action=\"{CB}\">")),
        "{body}"
    );
    for (name, value) in [
        ("error", "server_error"),
        (
            "error_description",
            "the server could not complete the request",
        ),
        ("state", "xyz"),
        ("iss", ISS),
    ] {
        assert!(
            body.contains(&format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{value}\">"
            )),
            "{name}: {body}"
        );
    }
    assert!(!body.contains("name=\"code\""), "{body}");
    assert_no_leak(&r);
}

/// The client store failing at /authorize: the client and its redirect URI cannot be verified,
/// so the answer is a `500` page and never a redirect (RFC 6749 §4.1.2.1: no redirect before
/// the redirect URI is verified; DESIGN decision 5).
#[tokio::test]
async fn authorize_client_store_failure_is_a_500_page_never_a_redirect_rfc6749_4_1_2_1() {
    let rig = rig();
    rig.clients.set_failing(true);
    let r = rig.h.authorize(&authz(&[])).await;
    assert_server_error_page(&r);
    assert_eq!(rig.clients.failures(), 1);
    assert_eq!(rig.grants.failures(), 0);
}

/// The browser resumes after login but the grant store cannot read the pending authorization
/// (`interaction` fails): a `500` page, not "expired", not a redirect (DESIGN decision 5).
#[tokio::test]
async fn resume_interaction_lookup_failure_is_a_500_page() {
    let rig = rig();
    let id = login_interaction(&rig.h.authorize_no_session(&authz(&[])).await);
    rig.grants.fail_all();
    let r = resume_get(&rig, &id, Some(&rig.h.alice_cookie)).await;
    assert_server_error_page(&r);
    assert_eq!(rig.grants.failures(), 1);
}

/// The browser resumes but the client store fails: a `500` page (DESIGN decision 5).
#[tokio::test]
async fn resume_client_store_failure_is_a_500_page() {
    let rig = rig();
    let id = login_interaction(&rig.h.authorize_no_session(&authz(&[])).await);
    rig.clients.set_failing(true);
    let r = resume_get(&rig, &id, Some(&rig.h.alice_cookie)).await;
    assert_server_error_page(&r);
    assert_eq!(rig.clients.failures(), 1);
}

/// The browser resumes, the pending authorization is read, but issuing the code fails
/// (`store_code`): `error=server_error` to the client, like at /authorize.
#[tokio::test]
async fn resume_store_code_failure_redirects_server_error_rfc6749_4_1_2_1() {
    let rig = rig();
    let id = login_interaction(&rig.h.authorize_no_session(&authz(&[])).await);
    rig.grants.fail(GrantOp::StoreCode);
    let r = resume_get(&rig, &id, Some(&rig.h.alice_cookie)).await;
    assert_server_error_redirect(&r);
}

/// Spending the pending authorization fails (`take_interaction` returns an error): the
/// client gets `error=server_error` at its verified redirect URI (DESIGN decision 5), not the
/// "expired sign-in" page, and no code is issued.
#[tokio::test]
async fn resume_take_interaction_failure_is_server_error_redirect() {
    let rig = rig();
    let id = login_interaction(&rig.h.authorize_no_session(&authz(&[])).await);
    rig.grants.fail(GrantOp::TakeInteraction);
    let r = resume_get(&rig, &id, Some(&rig.h.alice_cookie)).await;
    assert_server_error_redirect(&r);
    assert_eq!(rig.grants.failures(), 1);
    assert_eq!(rig.h.grants.counts().0, 0, "no code was issued");
    assert_no_leak(&r);
}

// ---------------------------------------------------------------------------------------------
// The token endpoint, one grant type at a time
// ---------------------------------------------------------------------------------------------

/// `grant_type=authorization_code` with `redeem_code` failing: `500` JSON `server_error`
/// (RFC 6749 §5.2; DESIGN decision 5), never `invalid_grant`, never tokens.
#[tokio::test]
async fn token_code_redeem_failure_is_500_server_error_rfc6749_5_2() {
    let rig = rig();
    let code = rig.h.code(&[]).await;
    rig.grants.fail_all();
    assert_server_error_json(&rig.h.exch(&code).await);
    assert_eq!(rig.grants.failures(), 1);
}

/// The code is spent but the access token cannot be stored (`store_access_token` fails):
/// `500 server_error`. The code stays spent, so a retry is a replay: `400 invalid_grant`, and
/// the grant is revoked (RFC 6749 §4.1.2). A client must start a new authorization.
#[tokio::test]
async fn token_code_store_access_token_failure_is_500_and_spends_the_code_rfc6749_5_2() {
    let rig = rig();
    let code = rig.h.code(&[]).await;
    rig.grants.fail(GrantOp::StoreAccessToken);
    assert_server_error_json(&rig.h.exch(&code).await);
    rig.grants.recover_all();
    assert_token_err(&rig.h.exch(&code).await, 400, "invalid_grant");
    assert_eq!(rig.h.grants.counts().1, 0, "no access token was stored");
}

/// The access token was stored but the refresh token cannot be (`store_refresh_token` fails):
/// `500 server_error`, and the access token that was never delivered is discarded.
#[tokio::test]
async fn token_code_store_refresh_token_failure_is_500_rfc6749_5_2() {
    let rig = rig();
    let code = rig.h.code(&[]).await;
    rig.grants.fail(GrantOp::StoreRefreshToken);
    assert_server_error_json(&rig.h.exch(&code).await);
    assert_eq!(rig.h.grants.counts().1, 0, "the undelivered access token");
}

/// A valid replay of a spent code must revoke what it issued (RFC 6749 §4.1.2); if that
/// revocation fails (`revoke_grant`), the answer is `500 server_error`, not `invalid_grant`, so
/// the failure is not mistaken for a handled replay.
#[tokio::test]
async fn token_code_replay_revocation_failure_is_500_rfc6749_4_1_2() {
    let rig = rig();
    let code = rig.h.code(&[]).await;
    let j = assert_token_ok(&rig.h.exch(&code).await);
    let access = j["access_token"].as_str().unwrap().to_owned();
    rig.grants.fail(GrantOp::RevokeGrant);
    assert_server_error_json(&rig.h.exch(&code).await);
    assert_eq!(rig.grants.failures(), 1);
    // The token is still live: the revocation did not happen, and the 500 said so.
    rig.grants.recover_all();
    assert!(rig.h.server.verify_access_token(&access).await.is_ok());
}

/// `grant_type=refresh_token` with `refresh_token` (the lookup) failing: `500 server_error`
/// (RFC 6749 §5.2, §6).
#[tokio::test]
async fn token_refresh_lookup_failure_is_500_server_error_rfc6749_6() {
    let rig = rig();
    let (_, refresh) = tokens(&rig).await;
    rig.grants.fail_all();
    let body = format!("grant_type=refresh_token&refresh_token={}", enc(&refresh));
    assert_server_error_json(&rig.h.token(&body, Some(B_CONF)).await);
    assert_eq!(rig.grants.failures(), 1);
}

/// `grant_type=refresh_token` with only `rotate_refresh_token` failing: `500 server_error`;
/// the presented token is not spent, so the client can retry (RFC 6749 §6; RFC 9700
/// §4.14.2).
#[tokio::test]
async fn token_refresh_rotation_failure_is_500_and_retryable_rfc6749_6() {
    let rig = rig();
    let (_, refresh) = tokens(&rig).await;
    rig.grants.fail(GrantOp::RotateRefreshToken);
    let body = format!("grant_type=refresh_token&refresh_token={}", enc(&refresh));
    assert_server_error_json(&rig.h.token(&body, Some(B_CONF)).await);
    assert_eq!(
        rig.h.grants.counts().1,
        1,
        "only the exchange's access token: the refresh's undelivered one was discarded"
    );
    rig.grants.recover_all();
    assert_token_ok(&rig.h.token(&body, Some(B_CONF)).await);
}

/// The new access token cannot be stored (`store_access_token` fails): `500 server_error`.
/// The access token is minted before the rotation, so the presented refresh token is not
/// spent and the client's retry succeeds: a transient storage failure neither signs the user
/// out nor looks like reuse (RFC 6749 §6; RFC 9700 §4.14.2).
#[tokio::test]
async fn token_refresh_access_token_store_failure_is_500_and_retryable_rfc6749_6() {
    let rig = rig();
    let (access, refresh) = tokens(&rig).await;
    rig.grants.fail(GrantOp::StoreAccessToken);
    let body = format!("grant_type=refresh_token&refresh_token={}", enc(&refresh));
    assert_server_error_json(&rig.h.token(&body, Some(B_CONF)).await);
    rig.grants.recover_all();
    let j = assert_token_ok(&rig.h.token(&body, Some(B_CONF)).await);
    assert_ne!(j["refresh_token"].as_str(), Some(refresh.as_str()));
    // No family revocation: the first exchange's access token is still live.
    assert!(rig.h.server.verify_access_token(&access).await.is_ok());
}

/// `grant_type=client_credentials` with `store_access_token` failing: `500 server_error`
/// (RFC 6749 §4.4.3, §5.2).
#[tokio::test]
async fn token_client_credentials_failure_is_500_server_error_rfc6749_4_4() {
    let rig = rig();
    rig.grants.fail_all();
    let r = rig
        .h
        .token("grant_type=client_credentials&scope=read", Some(B_CONF))
        .await;
    assert_server_error_json(&r);
    assert_eq!(rig.grants.failures(), 1);
}

/// The client store failing at the token endpoint: `500 server_error`, not `401
/// invalid_client` (the client is not at fault) and without a Basic challenge
/// (RFC 6749 §5.2; DESIGN decision 5), for each grant type.
#[tokio::test]
async fn token_client_store_failure_is_500_not_invalid_client_rfc6749_5_2() {
    let rig = rig();
    let (_, refresh) = tokens(&rig).await;
    let code = rig.h.code(&[]).await;
    rig.clients.set_failing(true);
    for body in [
        exch_body(&code),
        format!("grant_type=refresh_token&refresh_token={}", enc(&refresh)),
        "grant_type=client_credentials".to_owned(),
    ] {
        assert_server_error_json(&rig.h.token(&body, Some(B_CONF)).await);
    }
    assert_eq!(rig.clients.failures(), 3);
    assert_eq!(rig.grants.failures(), 0);
}

/// `private_key_jwt` with `consume_assertion_id` failing: the `jti` cannot be recorded, so the
/// assertion is not accepted; `500 server_error`, not a success and not `invalid_client`
/// (RFC 7523 §3; DESIGN decision 5).
#[tokio::test]
async fn token_private_key_jwt_jti_failure_is_500_rfc7523_3() {
    use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let rig = rig();
    let doc = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let der = doc.to_pkcs8v1().unwrap();
    let key = SigningKey::from_pkcs8_der(SigningAlgorithm::ES256, "k1", der.as_ref()).unwrap();
    rig.h.clients.insert(
        Client::builder("jwt-client")
            .auth_method(ClientAuthMethod::PrivateKeyJwt)
            .jwks(serde_json::json!({"keys": [key.public_jwk()]}))
            .grant_types([GrantType::ClientCredentials])
            .scopes("read")
            .build()
            .unwrap(),
    );
    let mut jwt_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    jwt_header.kid = Some("k1".into());
    let claims = serde_json::json!({"iss": "jwt-client", "sub": "jwt-client",
        "aud": "https://as.example/token", "exp": T0 + 60, "iat": T0, "jti": "jti-1"});
    let assertion = jsonwebtoken::encode(
        &jwt_header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ec_der(der.as_ref()),
    )
    .unwrap();
    let body = format!(
        "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={assertion}"
    );
    rig.grants.fail(GrantOp::ConsumeAssertionId);
    assert_server_error_json(&rig.h.token(&body, None).await);
    assert_eq!(rig.grants.failures(), 1);
    // The jti was not recorded, so the same assertion works once the store is back.
    rig.grants.recover_all();
    assert_token_ok(&rig.h.token(&body, None).await);
}

// ---------------------------------------------------------------------------------------------
// Userinfo, revocation, introspection
// ---------------------------------------------------------------------------------------------

/// Userinfo with `access_token` failing: `500`, an empty body, `Cache-Control: no-store` and a
/// plain `Bearer` challenge with no error code: the token is not called invalid
/// (RFC 6750 §3; OIDC Core §5.3.3; DESIGN decision 5).
#[tokio::test]
async fn userinfo_store_failure_is_500_not_invalid_token_rfc6750_3() {
    let rig = rig();
    let (access, _) = tokens(&rig).await;
    rig.grants.fail_all();
    let req = Request::get("/userinfo")
        .header(header::AUTHORIZATION, format!("Bearer {access}"))
        .body(Vec::new())
        .unwrap();
    let r = rig.h.server.userinfo(req).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR, "{r:?}");
    assert!(r.body().is_empty());
    assert_eq!(
        r.headers().get(header::WWW_AUTHENTICATE).unwrap(),
        "Bearer realm=\"https://as.example\""
    );
    assert_eq!(r.headers().get(header::CACHE_CONTROL).unwrap(), "no-store");
    assert_eq!(
        r.headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .unwrap(),
        "*"
    );
    assert_eq!(rig.grants.failures(), 1);
    assert_no_leak(&r);
}

/// Revocation with the access-token lookup failing: `500 server_error`, never the `200` that
/// RFC 7009 §2.2 gives for an unknown token, which the client would read as "revoked"
/// (RFC 7009 §2.2.1; DESIGN decision 5). The same with the refresh-token hint, and with the
/// revocation write failing (`revoke_access_token`, `revoke_grant`).
#[tokio::test]
async fn revoke_store_failures_are_500_never_200_rfc7009_2_2_1() {
    let rig = rig();
    let (access, refresh) = tokens(&rig).await;
    let revoke_access = format!("token={}", enc(&access));
    let revoke_refresh = format!("token={}&token_type_hint=refresh_token", enc(&refresh));
    for (op, body) in [
        (GrantOp::AccessToken, &revoke_access),
        (GrantOp::RevokeAccessToken, &revoke_access),
        (GrantOp::RefreshToken, &revoke_refresh),
        (GrantOp::RevokeGrant, &revoke_refresh),
    ] {
        rig.grants.recover_all();
        rig.grants.fail(op);
        let before = rig.grants.failures();
        let r = form(&rig, "/revoke", body, Some(B_CONF)).await;
        assert_server_error_json(&r);
        assert_eq!(rig.grants.failures(), before + 1, "{op} was reached");
    }
    // Nothing was revoked by the failed requests.
    rig.grants.recover_all();
    assert!(rig.h.server.verify_access_token(&access).await.is_ok());
    rig.grants.fail_all();
    let r = form(&rig, "/revoke", &revoke_access, Some(B_CONF)).await;
    assert_server_error_json(&r);
    rig.grants.recover_all();
    rig.clients.set_failing(true);
    assert_server_error_json(&form(&rig, "/revoke", &revoke_access, Some(B_CONF)).await);
}

/// Introspection with the store failing: `500 server_error`, never `{"active":false}`, which
/// a resource server would read as "this token is invalid" (RFC 7662 §2.3; DESIGN decision 5).
/// Both lookups: the access token (`access_token`) and, for a refresh token, `refresh_token`.
#[tokio::test]
async fn introspect_store_failures_are_500_never_inactive_rfc7662_2_3() {
    let rig = rig();
    let (access, refresh) = tokens(&rig).await;
    rig.grants.fail(GrantOp::AccessToken);
    let r = form(
        &rig,
        "/introspect",
        &format!("token={}", enc(&access)),
        Some(B_RS),
    )
    .await;
    assert_server_error_json(&r);
    rig.grants.recover_all();
    rig.grants.fail(GrantOp::RefreshToken);
    let r = form(
        &rig,
        "/introspect",
        &format!("token={}", enc(&refresh)),
        Some(B_RS),
    )
    .await;
    assert_server_error_json(&r);
    rig.grants.recover_all();
    rig.clients.set_failing(true);
    let r = form(
        &rig,
        "/introspect",
        &format!("token={}", enc(&access)),
        Some(B_RS),
    )
    .await;
    assert_server_error_json(&r);
    // With everything back, the same requests say active.
    rig.clients.set_failing(false);
    let r = form(
        &rig,
        "/introspect",
        &format!("token={}", enc(&access)),
        Some(B_RS),
    )
    .await;
    assert_eq!(json(&r)["active"], true);
}

/// The resource-server verifier (used by hosts' APIs) reports a store failure as
/// `BearerError::ServerError` (500), not `InvalidToken` (RFC 6750 §3.1).
#[tokio::test]
async fn verify_access_token_store_failure_is_server_error_rfc6750_3_1() {
    let rig = rig();
    let (access, _) = tokens(&rig).await;
    rig.grants.fail_all();
    let e = rig.h.server.verify_access_token(&access).await.unwrap_err();
    assert_eq!(e, grantor::resource::BearerError::ServerError);
    assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
}
