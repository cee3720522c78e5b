//! Request limits (`grantor::Limits`; RFC 6749 §10.14: request input is untrusted). Each limit
//! is configurable, a request exactly at it passes, and one byte (or one parameter) past it
//! gets the documented 4xx before any other work:
//!
//! | limit             | /authorize (GET or POST)                         | /token                    |
//! |-------------------|--------------------------------------------------|---------------------------|
//! | `max_body_bytes`  | 413 page (POST, and POST /authorize/resume)       | 413 JSON `invalid_request` |
//! | `max_query_bytes` | 414 page (GET, and GET /authorize/resume)         | not applied: the query is never read |
//! | `max_params`      | 400 page `invalid_request`, never a redirect     | 400 JSON `invalid_request` |
//! | `max_param_bytes` | 400 page `invalid_request`, never a redirect     | 400 JSON `invalid_request` |
//! | `max_nonce_bytes` | error redirect `invalid_request` (`nonce`, `state`) | not applicable         |
//!
//! The parameter limits apply to the raw (still percent-encoded) bytes; `max_nonce_bytes` to the
//! decoded `nonce` and `state`.

mod common;
use common::*;

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use grantor::http::{header, Request, StatusCode};
use grantor::memory::{MemoryConsent, MemoryGrantStore, MemorySessions};
use grantor::{
    AuthorizationServer, ConfigError, EndUser, HttpResponse, Limits, ManualClock, ScopeSet,
};

const FORM: &str = "application/x-www-form-urlencoded";

/// The checklist harness with `limits`.
fn harness_limits(limits: Limits) -> Harness {
    let clock = Arc::new(ManualClock::new(T0));
    let sessions = MemorySessions::new("https://as.example/login");
    let consent = MemoryConsent::new();
    let grants = MemoryGrantStore::new();
    let clients = clients();
    let server = AuthorizationServer::builder()
        .issuer(ISS)
        .clients(clients.clone())
        .grants(grants.clone())
        .authenticator(sessions.clone())
        .consent(consent.clone())
        .clock(clock.clone())
        .claims(user_claims())
        .scopes(["read", "write", "admin"])
        .policy(policy())
        .signing_keys(keys())
        .limits(limits)
        .build()
        .expect("server");
    let alice_session = sessions.sign_in(EndUser::new(ALICE, T0 - 10));
    let alice_cookie = format!("{}={}", sessions.cookie_name(), alice_session.expose());
    let everything = ScopeSet::parse("openid profile offline_access read write").unwrap();
    consent.grant(ALICE, "conf-client", &everything);
    Harness {
        server,
        clock,
        sessions,
        consent,
        grants,
        clients,
        alice_cookie,
        alice_session,
    }
}

fn limits(set: impl FnOnce(&mut Limits)) -> Limits {
    let mut l = Limits::default();
    set(&mut l);
    l
}

/// `base` followed by `&pad=aaa…`, exactly `total` bytes long.
fn pad_to(base: &str, total: usize) -> String {
    let fill = total
        .checked_sub(base.len() + "&pad=".len())
        .expect("base too long to pad");
    let s = format!("{base}&pad={}", "a".repeat(fill));
    assert_eq!(s.len(), total);
    s
}

/// `base` followed by `n` extra parameters `&pN=a`.
fn extra_params(base: &str, n: usize) -> String {
    let mut s = base.to_owned();
    for i in 0..n {
        s.push_str(&format!("&p{i}=a"));
    }
    s
}

/// `POST /authorize` with a form body from alice's browser.
async fn authorize_post(h: &Harness, body: &str) -> HttpResponse {
    let req = Request::post("/authorize")
        .header(header::CONTENT_TYPE, FORM)
        .header(header::COOKIE, &h.alice_cookie)
        .body(body.as_bytes().to_vec())
        .unwrap();
    h.server.authorize(req).await
}

/// An error page (never a redirect) with `status`, `invalid_request` and `description`
/// (RFC 6749 §4.1.2.1: errors before the request is trusted are not redirected).
fn assert_page(r: &HttpResponse, status: u16, description: &str) {
    assert_eq!(r.status().as_u16(), status, "{r:?}");
    assert!(r.headers().get(header::LOCATION).is_none(), "{r:?}");
    assert_eq!(
        r.headers().get(header::CONTENT_TYPE).unwrap(),
        "text/html; charset=utf-8"
    );
    let body = String::from_utf8_lossy(r.body());
    assert!(
        body.contains(&format!(
            "<p>{description}</p><p><code>invalid_request</code></p>"
        )),
        "{body}"
    );
}

/// A JSON error with exactly this body and the no-store headers (RFC 6749 §5.2).
fn assert_json_error(r: &HttpResponse, status: u16, body: &str) {
    assert_token_err(r, status, "invalid_request");
    assert_eq!(String::from_utf8_lossy(r.body()), body);
}

/// The token request was refused before the code was looked at: the code still exchanges.
async fn assert_code_unspent(h: &Harness, code: &str) {
    assert_token_ok(&h.exch(code).await);
}

/// The documented defaults (`Limits` docs): 64 KiB bodies, 4 KiB queries, 64 parameters,
/// 4 KiB per parameter, 512 bytes of `nonce` or `state`.
#[test]
fn defaults_are_as_documented() {
    let l = Limits::default();
    assert_eq!(l.max_body_bytes, 65_536);
    assert_eq!(l.max_query_bytes, 4096);
    assert_eq!(l.max_params, 64);
    assert_eq!(l.max_param_bytes, 4096);
    assert_eq!(l.max_nonce_bytes, 512);
}

/// A zero limit of any kind is refused when building the server: it would fail every
/// request of its kind (a zero `max_query_bytes` every `GET` authorization request, which
/// RFC 6749 §3.1 says MUST be supported; a zero `max_nonce_bytes` every request with a
/// `state`, RFC 6749 §10.12).
#[test]
fn zero_limits_are_refused_at_build() {
    for l in [
        limits(|l| l.max_body_bytes = 0),
        limits(|l| l.max_query_bytes = 0),
        limits(|l| l.max_params = 0),
        limits(|l| l.max_param_bytes = 0),
        limits(|l| l.max_nonce_bytes = 0),
    ] {
        let err = AuthorizationServer::builder()
            .issuer(ISS)
            .clients(clients())
            .grants(MemoryGrantStore::new())
            .authenticator(MemorySessions::new("/login"))
            .consent(MemoryConsent::new())
            .limits(l)
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::InvalidPolicy("limits must be positive"));
    }
}

// ---------------------------------------------------------------------------------------------
// max_query_bytes
// ---------------------------------------------------------------------------------------------

/// `max_query_bytes = 600`: a 600-byte authorization query issues a code; 601 bytes is
/// `414 URI Too Long`, an error page, never a redirect (`Limits::max_query_bytes`;
/// RFC 6749 §10.14).
#[tokio::test]
async fn authorize_query_at_max_query_bytes_passes_one_more_is_414() {
    let h = harness_limits(limits(|l| l.max_query_bytes = 600));
    let at = pad_to(&authz(&[]), 600);
    assert_code_redirect(&h.authorize(&at).await, CB, Some("xyz"));
    let over = pad_to(&authz(&[]), 601);
    let r = h.authorize(&over).await;
    assert_page(&r, 414, "the request is too long");
    assert_eq!(h.grants.counts().0, 1, "no second code");
}

/// The default `max_query_bytes` (4096) at and one past the limit.
#[tokio::test]
async fn authorize_query_default_limit_4096() {
    let h = harness();
    assert_code_redirect(
        &h.authorize(&pad_to(&authz(&[]), 4096)).await,
        CB,
        Some("xyz"),
    );
    assert_page(
        &h.authorize(&pad_to(&authz(&[]), 4097)).await,
        414,
        "the request is too long",
    );
}

/// A pending authorization's id: an authorization request from a browser with no session,
/// sent to the login page.
async fn pending_interaction(h: &Harness) -> String {
    let r = h.authorize_no_session(&authz(&[])).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{r:?}");
    param(&params_of(&location(&r), false), "interaction").expect("a login redirect")
}

/// The browser coming back to `GET /authorize/resume` after signing in, with a query of
/// exactly `total` bytes (`interaction=<id>` and padding).
async fn resume_get(h: &Harness, interaction: &str, total: usize) -> HttpResponse {
    let query = pad_to(&format!("interaction={}", enc(interaction)), total);
    let req = Request::get(format!("/authorize/resume?{query}"))
        .header(header::COOKIE, &h.alice_cookie)
        .body(Vec::new())
        .unwrap();
    h.server.resume(req).await
}

/// `max_query_bytes` bounds the resume endpoint's `GET` as it does the authorization
/// endpoint's (RFC 6749 §10.14): one byte past it is `414 URI Too Long`, an error page
/// answered before the store is read, so the pending authorization is still there; at the
/// limit, it completes with a code.
#[tokio::test]
async fn resume_query_at_max_query_bytes_passes_one_more_is_414() {
    let h = harness_limits(limits(|l| l.max_query_bytes = 600));
    let interaction = pending_interaction(&h).await;
    assert_page(
        &resume_get(&h, &interaction, 601).await,
        414,
        "the request is too long",
    );
    assert_code_redirect(&resume_get(&h, &interaction, 600).await, CB, Some("xyz"));
}

/// The token endpoint never reads the URI query (RFC 6749 §2.3.1, §3.2: parameters in the
/// body), so `max_query_bytes` does not apply there: a request with a query past the limit
/// is answered on its body alone.
#[tokio::test]
async fn token_ignores_the_query_so_max_query_bytes_does_not_apply() {
    let h = harness_limits(limits(|l| l.max_query_bytes = 600));
    let code = h.code(&[]).await;
    let req = Request::post(format!("/token?{}", pad_to("a=b", 601)))
        .header(header::CONTENT_TYPE, FORM)
        .header(header::AUTHORIZATION, B_CONF)
        .body(exch_body(&code).into_bytes())
        .unwrap();
    assert_token_ok(&h.server.token(req).await);
}

// ---------------------------------------------------------------------------------------------
// max_body_bytes
// ---------------------------------------------------------------------------------------------

/// The resume endpoint reads its input as the authorization endpoint does: a consent
/// decision posted with a body past `max_body_bytes` is `413`, one that is not a form is
/// `400`, and any method but `GET` and `POST` is `405` with `Allow: GET, POST` (RFC 9110
/// §15.5.6). Each is an error page answered before the store is read, so the pending
/// authorization is still there and completes afterwards (RFC 6749 §10.14).
#[tokio::test]
async fn resume_refuses_an_oversized_body_a_non_form_and_other_methods() {
    let h = harness_limits(limits(|l| l.max_body_bytes = 600));
    let interaction = pending_interaction(&h).await;
    let post = |content_type: &str, body: String| {
        Request::post("/authorize/resume")
            .header(header::CONTENT_TYPE, content_type)
            .header(header::COOKIE, &h.alice_cookie)
            .body(body.into_bytes())
            .unwrap()
    };
    let form = format!("interaction={}&consent=allow", enc(&interaction));
    let r = h.server.resume(post(FORM, pad_to(&form, 601))).await;
    assert_page(&r, 413, "the request is too large");
    let r = h.server.resume(post("text/plain", form)).await;
    assert_page(
        &r,
        400,
        "the request body must be application/x-www-form-urlencoded",
    );
    let put = Request::put(format!(
        "/authorize/resume?interaction={}",
        enc(&interaction)
    ))
    .body(Vec::new())
    .unwrap();
    let r = h.server.resume(put).await;
    assert_page(&r, 405, "method not allowed");
    assert_eq!(r.headers().get(header::ALLOW).unwrap(), "GET, POST");
    assert_code_redirect(&resume_get(&h, &interaction, 600).await, CB, Some("xyz"));
}

/// `max_body_bytes = 600`: a 600-byte `POST /authorize` issues a code; 601 bytes is
/// `413 Payload Too Large`, an error page, never a redirect (`Limits::max_body_bytes`).
#[tokio::test]
async fn authorize_post_body_at_max_body_bytes_passes_one_more_is_413() {
    let h = harness_limits(limits(|l| l.max_body_bytes = 600));
    let r = authorize_post(&h, &pad_to(&authz(&[]), 600)).await;
    assert_code_redirect(&r, CB, Some("xyz"));
    let r = authorize_post(&h, &pad_to(&authz(&[]), 601)).await;
    assert_page(&r, 413, "the request is too large");
    assert_eq!(h.grants.counts().0, 1, "no second code");
}

/// `max_body_bytes = 600`: a 600-byte token request is answered; 601 bytes is `413` with
/// `{"error":"invalid_request","error_description":"request body too large"}`, before the
/// client is authenticated or the code looked at: the code is not spent.
#[tokio::test]
async fn token_body_at_max_body_bytes_passes_one_more_is_413() {
    let h = harness_limits(limits(|l| l.max_body_bytes = 600));
    let code = h.code(&[]).await;
    let r = h.token(&pad_to(&exch_body(&code), 600), Some(B_CONF)).await;
    assert_token_ok(&r);
    let code = h.code(&[]).await;
    let r = h.token(&pad_to(&exch_body(&code), 601), Some(B_CONF)).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.headers().get(header::CACHE_CONTROL).unwrap(), "no-store");
    assert_eq!(
        String::from_utf8_lossy(r.body()),
        r#"{"error":"invalid_request","error_description":"request body too large"}"#
    );
    assert_code_unspent(&h, &code).await;
}

/// The default `max_body_bytes` (64 KiB) at the token endpoint: a 65,536-byte body (17
/// parameters, each under the 4 KiB parameter limit) is answered, 65,537 bytes is `413`.
#[tokio::test]
async fn token_body_default_limit_64_kib() {
    let h = harness();
    let code = h.code(&[]).await;
    // 16 parameters of 4000 `a`s, then one more to fill up to the limit.
    let filler = |total: usize| {
        let mut body = exch_body(&code);
        for i in 0..16 {
            body.push_str(&format!("&f{i:02}={}", "a".repeat(4000)));
        }
        pad_to(&body, total)
    };
    let r = h.token(&filler(65_537), Some(B_CONF)).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_token_ok(&h.token(&filler(65_536), Some(B_CONF)).await);
}

// ---------------------------------------------------------------------------------------------
// max_params
// ---------------------------------------------------------------------------------------------

/// `max_params = 10`: the 8 parameters of `AUTHZ{}` plus 2 issue a code; plus 3 (11) is a
/// `400` page `invalid_request` "too many parameters", never a redirect, although the client
/// and redirect URI are valid: the limit is checked while parsing, before anything else
/// (`Limits::max_params`; RFC 6749 §4.1.2.1).
#[tokio::test]
async fn authorize_max_params_passes_one_more_is_400_page() {
    let h = harness_limits(limits(|l| l.max_params = 10));
    assert_code_redirect(
        &h.authorize(&extra_params(&authz(&[]), 2)).await,
        CB,
        Some("xyz"),
    );
    let r = h.authorize(&extra_params(&authz(&[]), 3)).await;
    assert_page(&r, 400, "too many parameters");
    let r = authorize_post(&h, &extra_params(&authz(&[]), 3)).await;
    assert_page(&r, 400, "too many parameters");
    // Empty pieces between `&`s are not parameters.
    let r = h
        .authorize(&format!("{}&&&", extra_params(&authz(&[]), 2)))
        .await;
    assert_code_redirect(&r, CB, Some("xyz"));
}

/// `max_params = 10`: the 4 parameters of `EXCH` plus 6 are answered; plus 7 (11) is `400`
/// `{"error":"invalid_request","error_description":"too many parameters"}` and the code is not
/// spent (`Limits::max_params`; RFC 6749 §5.2).
#[tokio::test]
async fn token_max_params_passes_one_more_is_400() {
    let h = harness_limits(limits(|l| l.max_params = 10));
    let code = h.code(&[]).await;
    assert_token_ok(
        &h.token(&extra_params(&exch_body(&code), 6), Some(B_CONF))
            .await,
    );
    let code = h.code(&[]).await;
    let r = h
        .token(&extra_params(&exch_body(&code), 7), Some(B_CONF))
        .await;
    assert_json_error(
        &r,
        400,
        r#"{"error":"invalid_request","error_description":"too many parameters"}"#,
    );
    assert_code_unspent(&h, &code).await;
}

// ---------------------------------------------------------------------------------------------
// max_param_bytes
// ---------------------------------------------------------------------------------------------

/// `max_param_bytes = 100`: a 100-byte value issues a code; a 101-byte value, or a 101-byte
/// name, is a `400` page `invalid_request` "a parameter is too long", never a redirect. The
/// limit counts the raw bytes: 34 `%41` escapes (102 bytes, 34 once decoded) are too long
/// (`Limits::max_param_bytes`).
#[tokio::test]
async fn authorize_max_param_bytes_passes_one_more_is_400_page() {
    let h = harness_limits(limits(|l| l.max_param_bytes = 100));
    let with = |name: &str, value: &str| format!("{}&{name}={value}", authz(&[]));
    let r = h.authorize(&with("pad", &"a".repeat(100))).await;
    assert_code_redirect(&r, CB, Some("xyz"));
    for query in [
        with("pad", &"a".repeat(101)),
        with(&"n".repeat(101), "a"),
        with("pad", &"%41".repeat(34)),
    ] {
        assert_page(&h.authorize(&query).await, 400, "a parameter is too long");
    }
    assert_eq!(h.grants.counts().0, 1, "no second code");
}

/// `max_param_bytes = 100`: a token request with a 100-byte value is answered; 101 bytes is
/// `400` `{"error":"invalid_request","error_description":"a parameter is too long"}` and the
/// code is not spent (`Limits::max_param_bytes`; RFC 6749 §5.2).
#[tokio::test]
async fn token_max_param_bytes_passes_one_more_is_400() {
    let h = harness_limits(limits(|l| l.max_param_bytes = 100));
    let code = h.code(&[]).await;
    let body = format!("{}&pad={}", exch_body(&code), "a".repeat(100));
    assert_token_ok(&h.token(&body, Some(B_CONF)).await);
    let code = h.code(&[]).await;
    let body = format!("{}&pad={}", exch_body(&code), "a".repeat(101));
    assert_json_error(
        &h.token(&body, Some(B_CONF)).await,
        400,
        r#"{"error":"invalid_request","error_description":"a parameter is too long"}"#,
    );
    assert_code_unspent(&h, &code).await;
}

// ---------------------------------------------------------------------------------------------
// max_nonce_bytes
// ---------------------------------------------------------------------------------------------

/// The `nonce` claim of an ID token.
fn id_token_nonce(token_response: &serde_json::Value) -> String {
    let id_token = token_response["id_token"].as_str().expect("id_token");
    let payload = id_token.split('.').nth(1).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["nonce"].as_str().unwrap().to_owned()
}

/// `max_nonce_bytes = 32`: a 32-byte `nonce` issues a code and comes back intact in the ID
/// token (OIDC Core §3.1.2.1, §2); 33 bytes is an error redirect `invalid_request` "nonce is
/// too long" with `state` and `iss` (the client is trusted by then: RFC 6749 §4.1.2.1). The
/// limit counts decoded bytes: 32 `%41` escapes (96 raw bytes) pass.
#[tokio::test]
async fn nonce_at_max_nonce_bytes_passes_one_more_is_an_error_redirect() {
    let h = harness_limits(limits(|l| l.max_nonce_bytes = 32));
    let nonce = "n".repeat(32);
    let code = h.code(&[("nonce", Some(&nonce))]).await;
    assert_eq!(
        id_token_nonce(&assert_token_ok(&h.exch(&code).await)),
        nonce
    );
    let r = h
        .authorize(&authz(&[("nonce", Some(&"n".repeat(33)))]))
        .await;
    assert_err_redirect(&r, CB, "invalid_request", Some("xyz"));
    assert_eq!(
        location(&r),
        format!("{CB}?error=invalid_request&error_description=nonce+is+too+long&state=xyz&iss={ISS_ENC}")
    );
    // 32 decoded bytes, 96 raw: within the limit (`authz` would encode `%` itself, so the
    // escapes go in by hand).
    let query = authz(&[]).replace("nonce=n-0S6_WzA2Mj", &format!("nonce={}", "%41".repeat(32)));
    let r = h.authorize(&query).await;
    assert_code_redirect(&r, CB, Some("xyz"));
}

/// `max_nonce_bytes` bounds `state` too: 32 bytes is echoed in the code redirect; 33 bytes is
/// an error redirect `invalid_request` "state is too long", which (as the code stands) still
/// echoes the over-long `state` (bounded by `max_param_bytes`) (RFC 6749 §4.1.2.1).
#[tokio::test]
async fn state_at_max_nonce_bytes_passes_one_more_is_an_error_redirect() {
    let h = harness_limits(limits(|l| l.max_nonce_bytes = 32));
    let state = "s".repeat(32);
    let r = h.authorize(&authz(&[("state", Some(&state))])).await;
    assert_code_redirect(&r, CB, Some(&state));
    let long = "s".repeat(33);
    let r = h.authorize(&authz(&[("state", Some(&long))])).await;
    assert_err_redirect(&r, CB, "invalid_request", Some(&long));
    assert_eq!(
        location(&r),
        format!(
            "{CB}?error=invalid_request&error_description=state+is+too+long&state={long}&iss={ISS_ENC}"
        )
    );
}
