//! Authorization-endpoint rows of the security checklist (../shared/security-checklist.md).
//!
//! One test (or more) per row, named after the row id. The fixtures (`AUTHZ{...}`,
//! `REDIRECT`, `ERR_REDIRECT`, `NO_REDIRECT`) are implemented in `tests/common/mod.rs`.
mod common;
use common::*;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use grantor::http::{header, Request, StatusCode};
use grantor::memory::{MemoryConsent, MemoryGrantStore, MemorySessions};
use grantor::{
    AuthorizationCode, AuthorizationServer, Client, ClientSecret, CodeGrant, CodeRedemption,
    ConfigError, EndUser, GrantStore, HttpResponse, Policy, ScopeSet,
};

const LOGIN: &str = "https://as.example/login";
const FORM: &str = "application/x-www-form-urlencoded";

// ---------------------------------------------------------------------------------------
// Helpers local to this file.
// ---------------------------------------------------------------------------------------

/// Signs `subject` in (authenticated at `auth_time`) and returns the `Cookie` header value.
fn sign_in(h: &Harness, subject: &str, auth_time: u64) -> String {
    let id = h.sessions.sign_in(EndUser::new(subject, auth_time));
    format!("{}={}", h.sessions.cookie_name(), id.expose())
}

/// `GET /authorize?<query>` with an optional `Cookie`.
async fn authorize_as(h: &Harness, query: &str, cookie: Option<&str>) -> HttpResponse {
    let mut req = Request::get(format!("/authorize?{query}"));
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    h.server.authorize(req.body(Vec::new()).unwrap()).await
}

/// `POST /authorize` with a body and content type, from alice's browser.
async fn authorize_post(h: &Harness, content_type: &str, body: &str) -> HttpResponse {
    let req = Request::post("/authorize")
        .header(header::CONTENT_TYPE, content_type)
        .header(header::COOKIE, &h.alice_cookie)
        .body(body.as_bytes().to_vec())
        .unwrap();
    h.server.authorize(req).await
}

/// The browser coming back after login: `GET /authorize/resume?interaction=<id>`.
async fn resume_get(h: &Harness, interaction: &str, cookie: Option<&str>) -> HttpResponse {
    let mut req = Request::get(format!(
        "/authorize/resume?interaction={}",
        enc(interaction)
    ));
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    h.server.resume(req.body(Vec::new()).unwrap()).await
}

/// The consent form's submission: `POST /authorize/resume` with a form body.
async fn resume_post(
    h: &Harness,
    fields: &[(&str, &str)],
    cookie: Option<&str>,
    origin: Option<&str>,
) -> HttpResponse {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut req = Request::post("/authorize/resume").header(header::CONTENT_TYPE, FORM);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    if let Some(o) = origin {
        req = req.header(header::ORIGIN, o);
    }
    h.server.resume(req.body(body.into_bytes()).unwrap()).await
}

/// The value of the hidden input `name` in an HTML page.
fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden input {name} in {body}"))
        + marker.len();
    let len = body[start..].find('"').expect("unterminated value");
    body[start..start + len].to_owned()
}

/// Posts `consent=allow` for `interaction` with an optional CSRF token, cookie and Origin.
async fn decide(
    h: &Harness,
    interaction: &str,
    csrf: Option<&str>,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> HttpResponse {
    let mut fields = vec![("interaction", interaction), ("consent", "allow")];
    if let Some(c) = csrf {
        fields.push(("csrf_token", c));
    }
    resume_post(h, &fields, cookie, origin).await
}

/// Asserts the consent page (200 HTML) and returns its `(interaction, csrf_token)`.
fn consent_form(r: &HttpResponse) -> (String, String) {
    assert_eq!(r.status(), StatusCode::OK, "{r:?}");
    assert!(r.headers().get(header::LOCATION).is_none());
    assert_secure_html(r);
    let body = String::from_utf8_lossy(r.body()).into_owned();
    assert!(body.contains("<form method=\"post\""), "{body}");
    let interaction = hidden(&body, "interaction");
    let csrf = hidden(&body, "csrf_token");
    assert!(!interaction.is_empty() && !csrf.is_empty());
    assert_ne!(interaction, csrf);
    (interaction, csrf)
}

/// Asserts a 303 to the login page (the UI, never a code) and returns the interaction id.
fn login_redirect(r: &HttpResponse) -> String {
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{r:?}");
    let loc = location(r);
    assert!(
        loc.starts_with(&format!("{LOGIN}?interaction=")),
        "not the login page: {loc}"
    );
    let p = params_of(&loc, false);
    assert!(param(&p, "code").is_none(), "{loc}");
    assert!(param(&p, "error").is_none(), "{loc}");
    param(&p, "interaction").expect("no interaction id")
}

/// The headers every HTML page grantor renders must carry (SEC-90, SEC-91).
fn assert_secure_html(r: &HttpResponse) {
    let h = r.headers();
    let ct = h.get(header::CONTENT_TYPE).unwrap().to_str().unwrap();
    assert!(ct.starts_with("text/html"), "{ct}");
    assert_eq!(h.get(header::X_FRAME_OPTIONS).unwrap(), "DENY");
    let csp = h
        .get(header::CONTENT_SECURITY_POLICY)
        .expect("no CSP")
        .to_str()
        .unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(h.get(header::REFERRER_POLICY).unwrap(), "no-referrer");
    assert_eq!(h.get(header::CACHE_CONTROL).unwrap(), "no-store");
    assert_no_cors(r);
}

/// No `Access-Control-Allow-*` (or any other CORS) header (SEC-91).
fn assert_no_cors(r: &HttpResponse) {
    for name in r.headers().keys() {
        assert!(
            !name.as_str().starts_with("access-control-"),
            "CORS header {name} present"
        );
    }
}

/// A 400 without Location whose body is not a redirect in disguise, plus the page headers.
fn assert_no_redirect_page(r: &HttpResponse) {
    assert_no_redirect(r);
    assert_not_307(r);
    assert_secure_html(r);
}

/// A 403 without any Location (SEC-89).
fn assert_forbidden(r: &HttpResponse) {
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "{r:?}");
    assert!(r.headers().get(header::LOCATION).is_none());
    assert_secure_html(r);
}

/// Spends `code` directly in the grant store and returns what it was bound to.
async fn grant_of(h: &Harness, code: &str) -> CodeGrant {
    match h
        .grants
        .redeem_code(&AuthorizationCode::new(code).digest(), h.clock_now())
        .await
        .unwrap()
    {
        CodeRedemption::Redeemed(g) => g,
        other => panic!("code not redeemable: {other:?}"),
    }
}

/// Exchanges `code` (`EXCH`) and returns the ID token's claims (the signature is the token
/// tests' business; here only the payload matters).
async fn id_token_claims(h: &Harness, code: &str) -> serde_json::Value {
    let j = assert_token_ok(&h.exch(code).await);
    let jwt = j["id_token"].as_str().expect("no id_token");
    let payload = jwt.split('.').nth(1).expect("not a JWS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

trait Now {
    fn clock_now(&self) -> u64;
}

impl Now for Harness {
    fn clock_now(&self) -> u64 {
        use grantor::Clock as _;
        self.clock.now()
    }
}

fn server_with_issuer(issuer: &str, allow_http: bool) -> Result<AuthorizationServer, ConfigError> {
    AuthorizationServer::builder()
        .issuer(issuer)
        .clients(clients())
        .grants(MemoryGrantStore::new())
        .authenticator(MemorySessions::new("https://as.example/login"))
        .consent(MemoryConsent::new())
        .danger_allow_http_issuer(allow_http)
        .build()
}

// ---------------------------------------------------------------------------------------
// A. Transport, HTTP method, parameter handling
// ---------------------------------------------------------------------------------------

/// SEC-01: GET and form-POST are accepted, other bodies are not (RFC 6749 §3.1, OIDC Core
/// §3.1.2.1).
#[tokio::test]
async fn sec_01_get_and_form_post_accepted_json_refused() {
    let h = harness();
    let r = h.authorize(&authz(&[])).await;
    assert_code_redirect(&r, CB, Some("xyz"));

    let r = authorize_post(&h, FORM, &authz(&[])).await;
    assert_code_redirect(&r, CB, Some("xyz"));
    let r = authorize_post(
        &h,
        "application/x-www-form-urlencoded; charset=UTF-8",
        &authz(&[]),
    )
    .await;
    assert_code_redirect(&r, CB, Some("xyz"));

    let json_body = format!(
        r#"{{"response_type":"code","client_id":"conf-client","redirect_uri":"{CB}","scope":"openid read","state":"xyz","code_challenge":"{CH}","code_challenge_method":"S256"}}"#
    );
    let r = authorize_post(&h, "application/json", &json_body).await;
    assert_no_redirect_page(&r);
    let r = authorize_post(&h, "multipart/form-data; boundary=x", &authz(&[])).await;
    assert_no_redirect_page(&r);
}

/// SEC-01: a POST reads its body only; parameters in the URI of a POST are not merged in
/// (RFC 6749 §3.1).
#[tokio::test]
async fn sec_01_post_ignores_query_parameters() {
    let h = harness();
    let req = Request::post(format!("/authorize?{}", authz(&[])))
        .header(header::CONTENT_TYPE, FORM)
        .header(header::COOKIE, &h.alice_cookie)
        .body(Vec::new())
        .unwrap();
    let r = h.server.authorize(req).await;
    assert_no_redirect_page(&r);
}

/// SEC-02 (a): a repeated parameter is `invalid_request`, state echoed (RFC 6749 §3.1,
/// §4.1.2.1).
#[tokio::test]
async fn sec_02_repeated_parameter_is_invalid_request() {
    let h = harness();
    let base = authz(&[("prompt", Some("consent")), ("max_age", Some("3600"))]);
    for extra in [
        "scope=profile",
        "scope=openid+read",
        "response_type=code",
        "nonce=n2",
        &format!("code_challenge={CH}"),
        "code_challenge_method=S256",
        "prompt=login",
        "max_age=10",
    ] {
        let r = h.authorize(&format!("{base}&{extra}")).await;
        assert_err_redirect(&r, CB, "invalid_request", Some("xyz"));
        assert_not_307(&r);
    }
}

/// SEC-02 (b): a repeated `state` → `invalid_request` with no `state` at all (RFC 6749 §3.1;
/// checklist ambiguity 7).
#[tokio::test]
async fn sec_02_repeated_state_is_not_echoed() {
    let h = harness();
    let r = h.authorize(&format!("{}&state=abc", authz(&[]))).await;
    assert_err_redirect(&r, CB, "invalid_request", None);
    let loc = location(&r);
    assert!(!loc.contains("xyz") && !loc.contains("abc"), "{loc}");
    // The same value twice is still a repetition.
    let r = h.authorize(&format!("{}&state=xyz", authz(&[]))).await;
    assert_err_redirect(&r, CB, "invalid_request", None);
}

/// SEC-02 (c): a repeated `client_id` or `redirect_uri` is never redirected (RFC 6749 §3.1,
/// §4.1.2.1).
#[tokio::test]
async fn sec_02_repeated_client_id_or_redirect_uri_is_not_redirected() {
    let h = harness();
    for extra in [
        "client_id=other-client".to_owned(),
        "client_id=conf-client".to_owned(),
        format!("redirect_uri={}", enc("https://client.example.com/cb2")),
        format!("redirect_uri={CB_ENC}"),
    ] {
        let r = h.authorize(&format!("{}&{extra}", authz(&[]))).await;
        assert_no_redirect_page(&r);
    }
    // A repeated response_mode cannot be trusted for the answer either.
    let r = h
        .authorize(&format!(
            "{}&response_mode=query",
            authz(&[("response_mode", Some("query"))])
        ))
        .await;
    assert_no_redirect_page(&r);
}

/// SEC-04: an empty value is treated as omitted (RFC 6749 §3.1).
#[tokio::test]
async fn sec_04_empty_values_are_omitted() {
    let h = harness();
    // state= → success without a state key.
    let r = h.authorize(&authz(&[("state", Some(""))])).await;
    assert_code_redirect(&r, CB, None);
    assert!(!location(&r).contains("state"), "{}", location(&r));
    // scope= behaves like -scope (no default scope configured → invalid_scope).
    let r = h.authorize(&authz(&[("scope", Some(""))])).await;
    assert_err_redirect(&r, CB, "invalid_scope", Some("xyz"));
    let r = h.authorize(&authz(&[("scope", None)])).await;
    assert_err_redirect(&r, CB, "invalid_scope", Some("xyz"));
    // Empty optional parameters change nothing.
    for p in ["response_mode", "prompt", "max_age", "nonce", "foo"] {
        let r = h.authorize(&authz(&[(p, Some(""))])).await;
        assert_code_redirect(&r, CB, Some("xyz"));
    }
    // An empty required parameter is missing.
    let r = h.authorize(&authz(&[("response_type", Some(""))])).await;
    assert_err_redirect(&r, CB, "invalid_request", Some("xyz"));
    let r = h.authorize(&authz(&[("client_id", Some(""))])).await;
    assert_no_redirect_page(&r);
    let r = h.authorize(&authz(&[("redirect_uri", Some(""))])).await;
    assert_no_redirect_page(&r);
    // code_challenge_method= means "absent", i.e. plain (RFC 7636 §4.3) → refused.
    let r = h
        .authorize(&authz(&[("code_challenge_method", Some(""))]))
        .await;
    assert_err_redirect(&r, CB, "invalid_request", Some("xyz"));
}

/// SEC-05: unrecognized parameters are ignored and not reflected (RFC 6749 §3.1; OIDC Core
/// §3.1.2.2).
#[tokio::test]
async fn sec_05_unknown_parameters_are_ignored() {
    let h = harness();
    let r = h.authorize(&authz(&[("foo", Some("bar"))])).await;
    assert_code_redirect(&r, CB, Some("xyz"));
    let loc = location(&r);
    assert!(!loc.contains("foo") && !loc.contains("bar"), "{loc}");
}

/// SEC-09: the query string of `GET /authorize` is capped (4096 bytes by default); past it,
/// 414 without Location (RFC 6749 §10.14; RFC 9700 §2.1 spirit).
#[tokio::test]
async fn sec_09_query_over_limit_is_414_without_location() {
    let h = harness();
    let base = authz(&[]);
    let pad_for = |total: usize| {
        let n = total - base.len() - "&pad=".len();
        format!("{base}&pad={}", "a".repeat(n))
    };
    let at_limit = pad_for(4096);
    assert_eq!(at_limit.len(), 4096);
    let r = h.authorize(&at_limit).await;
    assert_code_redirect(&r, CB, Some("xyz"));

    for total in [4097, 8192] {
        let q = pad_for(total);
        assert_eq!(q.len(), total);
        let r = h.authorize(&q).await;
        assert_eq!(r.status(), StatusCode::URI_TOO_LONG, "{r:?}");
        assert!(r.headers().get(header::LOCATION).is_none());
        assert_secure_html(&r);
        let body = String::from_utf8_lossy(r.body());
        assert!(!body.contains("client.example.com"), "{body}");
    }

    // The same holds for a POSTed form: past the 64 KiB body cap, 413 and no Location.
    let big = format!("{base}&pad={}", "a".repeat(64 * 1024));
    let r = authorize_post(&h, FORM, &big).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE, "{r:?}");
    assert!(r.headers().get(header::LOCATION).is_none());
    assert_secure_html(&r);
}

/// SEC-10: the issuer must be https with no query and no fragment (RFC 8414 §2; RFC 6749
/// §3.1); http only with the explicit danger flag.
#[tokio::test]
async fn sec_10_insecure_issuers_are_configuration_errors() {
    assert!(server_with_issuer(ISS, false).is_ok());
    for bad in [
        "http://as.example",
        "https://as.example/?x=1",
        "https://as.example?x=1",
        "https://as.example#f",
        "https://as.example/#f",
    ] {
        match server_with_issuer(bad, false) {
            Err(ConfigError::InvalidIssuer { issuer, .. }) => assert_eq!(issuer, bad),
            other => panic!("{bad}: expected InvalidIssuer, got {other:?}"),
        }
    }
    // Query and fragment stay errors even with the danger flag; only http is unlocked.
    assert!(server_with_issuer("http://as.example", true).is_ok());
    assert!(server_with_issuer("http://as.example/?x=1", true).is_err());
    assert!(server_with_issuer("http://as.example#f", true).is_err());
}

// ---------------------------------------------------------------------------------------
// B. Client redirect URI and authorization-request validation
// ---------------------------------------------------------------------------------------

/// SEC-11: redirect_uri is compared by exact string (RFC 9700 §2.1, §4.1.3; RFC 6749
/// §3.1.2.3).
#[tokio::test]
async fn sec_11_redirect_uri_exact_match() {
    let h = harness();
    for near in [
        "https://client.example.com/cb/",
        "https://client.example.com/CB",
        "https://CLIENT.example.com/cb",
        "https://client.example.com:443/cb",
        "https://client.example.com/c%62",
        "https://client.example.com/cb?x=1",
        "https://client.example.com/cb#f",
        "https://client.example.com.evil.com/cb",
        "https://client.example.com/cb/../cb",
        "http://client.example.com/cb",
        "https://client.example.com/cb?tenant=b",
        "https://client.example.com/cb?tenant=a&x=1",
        " https://client.example.com/cb",
    ] {
        let r = h.authorize(&authz(&[("redirect_uri", Some(near))])).await;
        assert_no_redirect_page(&r);
        let body = String::from_utf8_lossy(r.body());
        assert!(!body.contains(near), "{near} reflected in {body}");
    }
}

/// SEC-12: nothing is redirected before client_id and redirect_uri are verified, even when
/// other errors are present (RFC 6749 §3.1.2.4, §4.1.2.1; OIDC Core §3.1.2.6).
#[tokio::test]
async fn sec_12_unknown_client_is_never_redirected() {
    let h = harness();
    let r = h.authorize(&authz(&[("client_id", Some("unknown"))])).await;
    assert_no_redirect_page(&r);
    let r = h.authorize(&authz(&[("client_id", None)])).await;
    assert_no_redirect_page(&r);
    let r = h
        .authorize(&authz(&[
            ("redirect_uri", Some("https://attacker.example/cb")),
            ("scope", Some("bogus")),
            ("response_type", Some("token")),
        ]))
        .await;
    assert_no_redirect_page(&r);
    // Another client's registered URI is not this client's.
    let r = h
        .authorize(&authz(&[(
            "redirect_uri",
            Some("https://other.example.com/cb"),
        )]))
        .await;
    assert_no_redirect_page(&r);
    // An unknown client with every other error still gets the page, not a redirect.
    let r = h
        .authorize(&authz(&[
            ("client_id", Some("unknown")),
            ("response_type", None),
            ("prompt", Some("none login")),
            ("state", Some("a")),
        ]))
        .await;
    assert_no_redirect_page(&r);
    // No session and prompt=none does not turn a bad redirect_uri into a redirect either.
    let r = h
        .authorize_no_session(&authz(&[
            ("redirect_uri", Some("https://attacker.example/cb")),
            ("prompt", Some("none")),
        ]))
        .await;
    assert_no_redirect_page(&r);
}

/// SEC-13: redirect_uri is always required (RFC 6749 §3.1.2.3; OIDC Core §3.1.2.1; checklist
/// ambiguity 6).
#[tokio::test]
async fn sec_13_redirect_uri_is_required() {
    let h = harness();
    let r = h.authorize(&authz(&[("redirect_uri", None)])).await;
    assert_no_redirect_page(&r);
    // post-client has a single registered URI: still required.
    let r = h
        .authorize(&authz(&[
            ("client_id", Some("post-client")),
            ("redirect_uri", None),
        ]))
        .await;
    assert_no_redirect_page(&r);
    // Without openid too.
    let r = h
        .authorize(&authz(&[
            ("client_id", Some("post-client")),
            ("redirect_uri", None),
            ("scope", Some("read")),
        ]))
        .await;
    assert_no_redirect_page(&r);
}

/// SEC-14: loopback redirect URIs match on any port, nothing else varies (RFC 8252 §7.3;
/// RFC 9700 §2.1).
#[tokio::test]
async fn sec_14_loopback_any_port_only() {
    let h = harness();
    let pub_req = |uri: &'static str| {
        authz(&[
            ("client_id", Some("pub-client")),
            ("redirect_uri", Some(uri)),
        ])
    };
    let r = h.authorize(&pub_req("http://127.0.0.1:51004/cb")).await;
    assert_code_redirect(&r, "http://127.0.0.1:51004/cb", Some("xyz"));
    let r = h.authorize(&pub_req("http://127.0.0.1/cb")).await;
    assert_code_redirect(&r, "http://127.0.0.1/cb", Some("xyz"));
    for bad in [
        "http://127.0.0.1:51004/other",
        "http://localhost:51004/cb",
        "http://[::1]:51004/cb",
        "http://127.0.0.1:51004/cb/",
        "http://127.0.0.1:51004/cb?x=1",
        "https://127.0.0.1:51004/cb",
    ] {
        let r = h.authorize(&pub_req(bad)).await;
        assert_no_redirect_page(&r);
    }
    let r = h
        .authorize(&authz(&[(
            "redirect_uri",
            Some("https://client.example.com:8443/cb"),
        )]))
        .await;
    assert_no_redirect_page(&r);

    // With the policy off (the library default), the port must match too.
    let strict = harness_with(Policy::default());
    let r = strict
        .authorize(&pub_req("http://127.0.0.1:51004/cb"))
        .await;
    assert_no_redirect_page(&r);
}

/// SEC-15: unsafe redirect URIs are refused at registration (RFC 6749 §3.1.2; RFC 9700
/// §2.1, §2.6).
#[tokio::test]
async fn sec_15_unsafe_redirect_uris_are_refused_at_registration() {
    let register = |uri: &str| {
        Client::builder("c")
            .secret(ClientSecret::new("s"))
            .redirect_uri(uri)
            .build()
    };
    assert!(register(CB).is_ok());
    for bad in [
        "https://client.example.com/cb#x",
        "/cb",
        "http://client.example.com/cb",
        "https://*.example.com/cb",
        "javascript:alert(1)",
    ] {
        match register(bad) {
            Err(ConfigError::InvalidRedirectUri { uri, .. }) => assert_eq!(uri, bad),
            other => panic!("{bad}: expected InvalidRedirectUri, got {other:?}"),
        }
    }
}

/// SEC-16: response_type validation (RFC 6749 §3.1.1, §4.1.2.1; RFC 9700 §2.1.2).
#[tokio::test]
async fn sec_16_response_type_validation() {
    let h = harness();
    let r = h.authorize(&authz(&[("response_type", None)])).await;
    assert_err_redirect(&r, CB, "invalid_request", Some("xyz"));
    for rt in [
        "token",
        "foo",
        "code token",
        "code id_token",
        "id_token",
        "CODE",
    ] {
        let r = h.authorize(&authz(&[("response_type", Some(rt))])).await;
        assert_err_redirect(&r, CB, "unsupported_response_type", Some("xyz"));
    }
}

/// SEC-17: a client without the code grant gets `unauthorized_client` (RFC 6749 §4.1.2.1).
#[tokio::test]
async fn sec_17_client_without_code_grant_is_unauthorized_client() {
    let h = harness();
    let r = h
        .authorize(&authz(&[
            ("client_id", Some("nocode-client")),
            ("redirect_uri", Some("https://nocode.example.com/cb")),
        ]))
        .await;
    assert_err_redirect(
        &r,
        "https://nocode.example.com/cb",
        "unauthorized_client",
        Some("xyz"),
    );
}

/// SEC-18: scope grammar, client allow-list, unknown scopes ignored, no default →
/// `invalid_scope` (RFC 6749 §3.3, §4.1.2.1; OIDC Core §3.1.2.1; checklist ambiguity 8).
#[tokio::test]
async fn sec_18_scope_validation() {
    let h = harness();
    // Known to the server, not allowed for conf-client.
    for s in ["openid admin", "admin", "openid email", "read admin write"] {
        let r = h.authorize(&authz(&[("scope", Some(s))])).await;
        assert_err_redirect(&r, CB, "invalid_scope", Some("xyz"));
    }
    // Outside the scope-token grammar.
    for s in ["openid a\"b", "openid a\\b", "openid é"] {
        let r = h.authorize(&authz(&[("scope", Some(s))])).await;
        assert_err_redirect(&r, CB, "invalid_scope", Some("xyz"));
    }
    // Unknown to both the server and the client: ignored.
    let r = h
        .authorize(&authz(&[("scope", Some("openid bogus"))]))
        .await;
    let code = assert_code_redirect(&r, CB, Some("xyz"));
    assert_eq!(grant_of(&h, &code).await.scope.as_str(), "openid");
    // Only unknown scopes: as if none were asked, and there is no default.
    let r = h.authorize(&authz(&[("scope", Some("bogus"))])).await;
    assert_err_redirect(&r, CB, "invalid_scope", Some("xyz"));
    // The granted scope is what was asked (and allowed).
    let r = h.authorize(&authz(&[("scope", Some("read openid"))])).await;
    let code = assert_code_redirect(&r, CB, Some("xyz"));
    assert_eq!(grant_of(&h, &code).await.scope.as_str(), "read openid");
}

/// SEC-18: no scope → the documented default scope when one is configured, else
/// `invalid_scope` (RFC 6749 §3.3 "MUST either … default … or fail").
#[tokio::test]
async fn sec_18_missing_scope_default_or_invalid_scope() {
    let h = harness();
    let r = h.authorize(&authz(&[("scope", None)])).await;
    assert_err_redirect(&r, CB, "invalid_scope", Some("xyz"));

    let mut p = policy();
    p.default_scopes = ScopeSet::parse("read admin").unwrap();
    let h = harness_with(p);
    for q in [authz(&[("scope", None)]), authz(&[("scope", Some(""))])] {
        let r = h.authorize(&q).await;
        let code = assert_code_redirect(&r, CB, Some("xyz"));
        // The default is intersected with what the client may use.
        assert_eq!(grant_of(&h, &code).await.scope.as_str(), "read");
    }
}

/// SEC-19: the user's denial → `access_denied` (RFC 6749 §4.1.2.1). Driven through the real
/// consent page with a valid CSRF token.
#[tokio::test]
async fn sec_19_user_denial_is_access_denied() {
    let h = harness();
    let bob = sign_in(&h, "bob-sub", T0 - 5);
    let r = authorize_as(&h, &authz(&[]), Some(&bob)).await;
    let (interaction, csrf) = consent_form(&r);
    let r = resume_post(
        &h,
        &[
            ("interaction", &interaction),
            ("csrf_token", &csrf),
            ("consent", "deny"),
        ],
        Some(&bob),
        Some(ISS),
    )
    .await;
    assert_err_redirect(&r, CB, "access_denied", Some("xyz"));
    assert_not_307(&r);
    // Denial is not remembered as consent.
    assert!(h.consent.granted("bob-sub", "conf-client").is_none());
}

/// SEC-20: no code before the user is authenticated: no session → 303 to the login page
/// (RFC 6749 §3.1).
#[tokio::test]
async fn sec_20_no_session_goes_to_login_without_code() {
    let h = harness();
    let r = h.authorize_no_session(&authz(&[])).await;
    let id = login_redirect(&r);
    assert_not_307(&r);
    assert!(!location(&r).contains(CB_ENC));
    // An unknown or forged session cookie is no session.
    let r = authorize_as(&h, &authz(&[]), Some("grantor_session=forged")).await;
    let other = login_redirect(&r);
    assert_ne!(id, other, "each pending request has its own id");
    // A signed-out session is no session either.
    let r = authorize_as(&h, &authz(&[]), Some(&h.alice_cookie)).await;
    assert_code_redirect(&r, CB, Some("xyz"));
    h.sessions.sign_out(&h.alice_session);
    let r = h.authorize(&authz(&[])).await;
    login_redirect(&r);
}

// ---------------------------------------------------------------------------------------
// C. Authorization response
// ---------------------------------------------------------------------------------------

/// SEC-21: state is returned byte-exact on success and error (RFC 6749 §4.1.2, §4.1.2.1,
/// App. B).
#[tokio::test]
async fn sec_21_state_round_trips_exactly() {
    let h = harness();
    let odd = " %&+£€";
    let r = h.authorize(&authz(&[("state", Some(odd))])).await;
    assert_code_redirect(&r, CB, Some(odd));
    let r = h
        .authorize(&authz(&[
            ("state", Some(odd)),
            ("scope", Some("openid admin")),
        ]))
        .await;
    assert_err_redirect(&r, CB, "invalid_scope", Some(odd));
    // The exact wire form from the checklist.
    let q = authz(&[("state", None)]) + "&state=+%25%26%2B%C2%A3%E2%82%AC";
    let r = h.authorize(&q).await;
    assert_code_redirect(&r, CB, Some(odd));
    let r = h.authorize(&authz(&[("state", None)])).await;
    assert_code_redirect(&r, CB, None);
    let r = h
        .authorize(&authz(&[("state", None), ("scope", Some("openid admin"))]))
        .await;
    assert_err_redirect(&r, CB, "invalid_scope", None);
}

/// SEC-22: `iss` is in every authorization response, success and error (RFC 9207 §2).
#[tokio::test]
async fn sec_22_iss_in_every_response() {
    let h = harness();
    let r = h.authorize(&authz(&[])).await;
    assert!(location(&r).contains(&format!("&iss={ISS_ENC}")));
    assert_code_redirect(&r, CB, Some("xyz"));
    for q in [
        authz(&[("scope", Some("openid admin"))]),
        authz(&[("response_type", None)]),
        authz(&[("prompt", Some("bogus"))]),
        authz(&[("state", None), ("response_type", Some("token"))]),
    ] {
        let r = h.authorize(&q).await;
        assert!(location(&r).contains(&format!("iss={ISS_ENC}")));
        assert_eq!(
            param(&redirect_params(&r), "iss").as_deref(),
            Some(ISS),
            "{q}"
        );
    }
    // access_denied (SEC-19) carries it too.
    let bob = sign_in(&h, "bob-sub", T0);
    let (interaction, csrf) = consent_form(&authorize_as(&h, &authz(&[]), Some(&bob)).await);
    let r = resume_post(
        &h,
        &[
            ("interaction", &interaction),
            ("csrf_token", &csrf),
            ("consent", "deny"),
        ],
        Some(&bob),
        None,
    )
    .await;
    assert_err_redirect(&r, CB, "access_denied", Some("xyz"));
    // login_required (prompt=none) too.
    let r = h
        .authorize_no_session(&authz(&[("prompt", Some("none"))]))
        .await;
    assert_err_redirect(&r, CB, "login_required", Some("xyz"));
}

/// SEC-22: the metadata says `iss` is sent and names the same issuer (RFC 9207 §2.3;
/// RFC 8414 §2).
#[tokio::test]
async fn sec_22_metadata_advertises_iss_parameter() {
    let h = harness();
    let r = h.server.discovery();
    assert_eq!(r.status(), StatusCode::OK);
    let m = json(&r);
    assert_eq!(m["issuer"], ISS);
    assert_eq!(m["authorization_response_iss_parameter_supported"], true);
    // The iss parameter in a response equals the metadata's issuer.
    let r = h.authorize(&authz(&[])).await;
    assert_eq!(
        param(&redirect_params(&r), "iss").as_deref(),
        m["issuer"].as_str()
    );
}

/// SEC-23: the registered redirect URI's query is kept (RFC 6749 §3.1.2).
#[tokio::test]
async fn sec_23_registered_query_is_kept() {
    let h = harness();
    let base = "https://client.example.com/cb?tenant=a";
    let r = h.authorize(&authz(&[("redirect_uri", Some(base))])).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let loc = location(&r);
    assert!(loc.starts_with(&format!("{base}&code=")), "{loc}");
    assert_eq!(loc.matches("tenant=").count(), 1, "{loc}");
    assert_eq!(loc.matches('?').count(), 1, "{loc}");
    let p = params_of(&loc, false);
    assert_eq!(param(&p, "tenant").as_deref(), Some("a"));
    assert_eq!(param(&p, "state").as_deref(), Some("xyz"));
    assert_eq!(param(&p, "iss").as_deref(), Some(ISS));
    let code = param(&p, "code").unwrap();
    assert!(loc.ends_with(&format!("&code={code}&state=xyz&iss={ISS_ENC}")));
    // And on error.
    let r = h
        .authorize(&authz(&[
            ("redirect_uri", Some(base)),
            ("scope", Some("admin")),
        ]))
        .await;
    let loc = location(&r);
    assert!(
        loc.starts_with(&format!("{base}&error=invalid_scope")),
        "{loc}"
    );
    assert_eq!(loc.matches("tenant=").count(), 1, "{loc}");
}

/// SEC-24: response_mode: query by default, fragment honoured, anything else → 400 without
/// Location (OIDC Core §3.1.2.1, §3.1.2.6).
#[tokio::test]
async fn sec_24_response_mode() {
    let h = harness();
    let r = h
        .authorize(&authz(&[("response_mode", Some("query"))]))
        .await;
    assert_code_redirect(&r, CB, Some("xyz"));

    let r = h
        .authorize(&authz(&[("response_mode", Some("fragment"))]))
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let loc = location(&r);
    assert!(loc.starts_with(&format!("{CB}#code=")), "{loc}");
    assert!(!loc.contains('?'), "{loc}");
    let p = params_of(&loc, true);
    let code = param(&p, "code").unwrap();
    assert_eq!(
        loc,
        format!("{CB}#code={code}&state=xyz&iss={ISS_ENC}"),
        "order and encoding"
    );

    // Errors follow the requested mode.
    let r = h
        .authorize(&authz(&[
            ("response_mode", Some("fragment")),
            ("scope", Some("openid admin")),
        ]))
        .await;
    let loc = location(&r);
    assert!(
        loc.starts_with(&format!("{CB}#error=invalid_scope")),
        "{loc}"
    );
    let p = params_of(&loc, true);
    assert_eq!(param(&p, "state").as_deref(), Some("xyz"));
    assert_eq!(param(&p, "iss").as_deref(), Some(ISS));

    for bad in ["bogus", "Query", "form_post.jwt", "fragment.jwt"] {
        let r = h.authorize(&authz(&[("response_mode", Some(bad))])).await;
        assert_no_redirect_page(&r);
    }
    // An unsupported mode is reported as a page even when other errors would redirect.
    let r = h
        .authorize(&authz(&[
            ("response_mode", Some("bogus")),
            ("scope", Some("openid admin")),
        ]))
        .await;
    assert_no_redirect_page(&r);
}

/// SEC-24: `form_post` delivers an auto-submitting form to the redirect URI with
/// HTML-escaped hidden inputs, `Cache-Control: no-store`, and the page headers (OAuth 2.0 Form
/// Post Response Mode §2; RFC 9700 §4.16).
#[tokio::test]
async fn sec_24_form_post_response_mode() {
    let h = harness();
    let r = h
        .authorize(&authz(&[("response_mode", Some("form_post"))]))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{r:?}");
    assert!(r.headers().get(header::LOCATION).is_none());
    assert_secure_html(&r);
    let body = String::from_utf8_lossy(r.body()).into_owned();
    assert!(
        body.contains(&format!("<form method=\"post\" action=\"{CB}\">")),
        "{body}"
    );
    assert_eq!(hidden(&body, "state"), "xyz");
    assert_eq!(hidden(&body, "iss"), ISS);
    assert!(!body.contains("name=\"error\""), "{body}");
    let code = hidden(&body, "code");
    assert_eq!(grant_of(&h, &code).await.user.subject, ALICE);

    // Hostile state is escaped; the page has exactly its one script.
    let evil = "\"><script>alert(1)</script>";
    let r = h
        .authorize(&authz(&[
            ("response_mode", Some("form_post")),
            ("state", Some(evil)),
        ]))
        .await;
    let body = String::from_utf8_lossy(r.body()).into_owned();
    assert!(
        body.contains("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""),
        "{body}"
    );
    assert_eq!(body.matches("<script").count(), 1, "{body}");
    assert!(!body.contains("alert(1)</script>"), "{body}");

    // Errors use the same mode.
    let r = h
        .authorize(&authz(&[
            ("response_mode", Some("form_post")),
            ("scope", Some("openid admin")),
        ]))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{r:?}");
    assert!(r.headers().get(header::LOCATION).is_none());
    assert_secure_html(&r);
    let body = String::from_utf8_lossy(r.body()).into_owned();
    assert_eq!(hidden(&body, "error"), "invalid_scope");
    assert_eq!(hidden(&body, "state"), "xyz");
    assert_eq!(hidden(&body, "iss"), ISS);
    assert!(!body.contains("name=\"code\""), "{body}");

    // An untrusted redirect_uri still gets the error page, never a form to it.
    let r = h
        .authorize(&authz(&[
            ("response_mode", Some("form_post")),
            ("redirect_uri", Some("https://attacker.example/cb")),
        ]))
        .await;
    assert_no_redirect_page(&r);
    assert!(!String::from_utf8_lossy(r.body()).contains("attacker.example"));
}

/// SEC-25: redirects are 303, never 307/308, including after POSTed forms (RFC 9700 §4.12;
/// OAuth 2.1 §7.5.3).
#[tokio::test]
async fn sec_25_redirects_are_303_never_307() {
    let h = harness();
    let r = authorize_post(&h, FORM, &authz(&[])).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_not_307(&r);
    let r = authorize_post(&h, FORM, &authz(&[("scope", Some("admin"))])).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_not_307(&r);
    let r = h.authorize_no_session(&authz(&[])).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_not_307(&r);
    // The consent form's POST that completes the authorization.
    let bob = sign_in(&h, "bob-sub", T0);
    let (interaction, csrf) = consent_form(&authorize_as(&h, &authz(&[]), Some(&bob)).await);
    let r = resume_post(
        &h,
        &[
            ("interaction", &interaction),
            ("csrf_token", &csrf),
            ("consent", "allow"),
        ],
        Some(&bob),
        Some(ISS),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_not_307(&r);
    assert_code_redirect(&r, CB, Some("xyz"));
}

/// SEC-20/SEC-25: the full login round trip: no session → login page with the interaction
/// id → the user signs in → resume → a 303 with the code (RFC 6749 §3.1, §4.1.2;
/// RFC 9700 §4.12).
#[tokio::test]
async fn sec_25_login_round_trip_resumes_with_303() {
    let h = harness();
    h.advance(30);
    let r = h.authorize_no_session(&authz(&[])).await;
    let id = login_redirect(&r);

    // Coming back without having signed in: back to the login page, same pending request.
    let r = resume_get(&h, &id, None).await;
    assert_eq!(login_redirect(&r), id);

    // The host's login page signs alice in and sends her back.
    h.advance(5);
    let cookie = sign_in(&h, ALICE, T0 + 35);
    let r = resume_get(&h, &id, Some(&cookie)).await;
    assert_not_307(&r);
    let code = assert_code_redirect(&r, CB, Some("xyz"));
    let g = grant_of(&h, &code).await;
    assert_eq!(g.user.subject, ALICE);
    assert_eq!(g.user.auth_time, T0 + 35);
    assert_eq!(g.scope.as_str(), "openid read");
    assert_eq!(&*g.redirect_uri, CB);
    assert_eq!(g.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
    assert_eq!(g.code_challenge.as_ref().unwrap().as_str(), CH);

    // The pending request is single-use.
    let r = resume_get(&h, &id, Some(&cookie)).await;
    assert_no_redirect_page(&r);
    // An unknown id is refused the same way.
    let r = resume_get(&h, "not-an-interaction", Some(&cookie)).await;
    assert_no_redirect_page(&r);
}

/// SEC-25 (with the interaction lifetime): a pending request expires (default 600 s).
#[tokio::test]
async fn sec_25_pending_login_expires() {
    let h = harness();
    let id = login_redirect(&h.authorize_no_session(&authz(&[])).await);
    h.advance(601);
    let cookie = sign_in(&h, ALICE, T0 + 601);
    let r = resume_get(&h, &id, Some(&cookie)).await;
    assert_no_redirect_page(&r);
}

/// SEC-28: the code does not expose the code_challenge (RFC 7636 §4.4; OAuth 2.1 §4.1.2).
#[tokio::test]
async fn sec_28_code_does_not_expose_challenge() {
    let h = harness();
    let ch_bytes = URL_SAFE_NO_PAD.decode(CH).unwrap();
    for _ in 0..20 {
        let code = h.code(&[]).await;
        assert!(!code.contains(CH), "{code}");
        for segment in code.split('.') {
            if let Ok(raw) = URL_SAFE_NO_PAD.decode(segment.trim_end_matches('=')) {
                assert!(!raw.windows(ch_bytes.len()).any(|w| w == ch_bytes));
                assert!(!raw.windows(CH.len()).any(|w| w == CH.as_bytes()));
                let text = String::from_utf8_lossy(&raw);
                assert!(!text.contains("code_challenge"), "{text}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// D. PKCE at the authorization endpoint
// ---------------------------------------------------------------------------------------

/// SEC-33: public clients must send a code_challenge (RFC 9700 §2.1.1; OAuth 2.1 §4.1.2.1;
/// RFC 7636 §4.4.1).
#[tokio::test]
async fn sec_33_public_client_without_challenge_is_invalid_request() {
    let h = harness();
    let r = h
        .authorize(&authz(&[
            ("client_id", Some("pub-client")),
            ("redirect_uri", Some(PUB_CB)),
            ("code_challenge", None),
            ("code_challenge_method", None),
        ]))
        .await;
    assert_err_redirect(&r, PUB_CB, "invalid_request", Some("xyz"));
    let d = param(&redirect_params(&r), "error_description").unwrap();
    assert!(d.contains("code challenge required"), "{d}");
    // With a challenge it works.
    let r = h
        .authorize(&authz(&[
            ("client_id", Some("pub-client")),
            ("redirect_uri", Some(PUB_CB)),
        ]))
        .await;
    assert_code_redirect(&r, PUB_CB, Some("xyz"));
}

/// SEC-34: confidential clients need PKCE too, unless registered with the opt-out (OAuth 2.1
/// §4.1.1; RFC 9700 §2.1.1).
#[tokio::test]
async fn sec_34_confidential_client_requires_pkce_by_default() {
    let h = harness();
    let no_pkce = [("code_challenge", None), ("code_challenge_method", None)];
    let r = h.authorize(&authz(&no_pkce)).await;
    assert_err_redirect(&r, CB, "invalid_request", Some("xyz"));
    let mut opt_out = no_pkce.to_vec();
    opt_out.push(("client_id", Some("nopkce-client")));
    let r = h.authorize(&authz(&opt_out)).await;
    let code = assert_code_redirect(&r, CB, Some("xyz"));
    assert!(grant_of(&h, &code).await.code_challenge.is_none());
    // The opt-out client's challenge, when sent, is still validated and bound.
    let r = h
        .authorize(&authz(&[
            ("client_id", Some("nopkce-client")),
            ("code_challenge_method", Some("plain")),
        ]))
        .await;
    assert_err_redirect(&r, CB, "invalid_request", Some("xyz"));
    let r = h
        .authorize(&authz(&[("client_id", Some("nopkce-client"))]))
        .await;
    let code = assert_code_redirect(&r, CB, Some("xyz"));
    assert!(grant_of(&h, &code).await.code_challenge.is_some());
    // A public client cannot be registered with the opt-out.
    assert!(Client::builder("p")
        .redirect_uri(PUB_CB)
        .require_pkce(false)
        .build()
        .is_err());
}

/// SEC-35: only S256 by default; a missing method means plain and is refused (RFC 7636 §4.3,
/// §7.2; RFC 9700 §2.1.1).
#[tokio::test]
async fn sec_35_plain_and_missing_method_refused() {
    let h = harness();
    let m = json(&h.server.discovery());
    assert_eq!(
        m["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    for o in [
        vec![
            ("code_challenge", Some(V)),
            ("code_challenge_method", Some("plain")),
        ],
        vec![("code_challenge_method", None)],
        vec![("code_challenge_method", Some("s256"))],
        vec![("code_challenge_method", Some("SHA256"))],
        vec![("code_challenge", None)],
    ] {
        let r = h.authorize(&authz(&o)).await;
        assert_err_redirect(&r, CB, "invalid_request", Some("xyz"));
    }
}

/// SEC-35: with `plain` enabled in the policy, a plain challenge is accepted (RFC 7636 §4.2)
/// and still not exposed by the code (SEC-28).
#[tokio::test]
async fn sec_35_plain_when_enabled() {
    let mut p = policy();
    p.allow_plain_pkce = true;
    let h = harness_with(p);
    let m = json(&h.server.discovery());
    assert_eq!(
        m["code_challenge_methods_supported"],
        serde_json::json!(["S256", "plain"])
    );
    let r = h
        .authorize(&authz(&[
            ("code_challenge", Some(V)),
            ("code_challenge_method", Some("plain")),
        ]))
        .await;
    let code = assert_code_redirect(&r, CB, Some("xyz"));
    assert!(!code.contains(V));
    let g = grant_of(&h, &code).await;
    assert!(g.code_challenge.unwrap().verify(V));
    // S256 still works and unknown methods are still refused.
    let r = h.authorize(&authz(&[])).await;
    assert_code_redirect(&r, CB, Some("xyz"));
    let r = h
        .authorize(&authz(&[("code_challenge_method", Some("s256"))]))
        .await;
    assert_err_redirect(&r, CB, "invalid_request", Some("xyz"));
}

/// SEC-36: code_challenge syntax `43*128unreserved`; with S256 exactly 43 (RFC 7636 §4.2).
#[tokio::test]
async fn sec_36_code_challenge_syntax() {
    let h = harness();
    let a129 = "A".repeat(129);
    let a44 = "A".repeat(44);
    for ch in [
        &CH[..42],
        a129.as_str(),
        a44.as_str(),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM=",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw/cM",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw cM",
    ] {
        let r = h.authorize(&authz(&[("code_challenge", Some(ch))])).await;
        assert_err_redirect(&r, CB, "invalid_request", Some("xyz"));
    }
    // The checklist's exact wire form.
    let q = authz(&[("code_challenge", None)])
        + "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw%2BcM%3D";
    let r = h.authorize(&q).await;
    assert_err_redirect(&r, CB, "invalid_request", Some("xyz"));
    // The boundary vectors are accepted.
    for ch in [
        "DwBzhbb51LfusnSGBa_hqYSgo7-j8BTQnip4TOnlzRo",
        "lK2NFO4fUsSGSxx7eD9ozetZRvfDEp9wtnPrjHKcyXE",
    ] {
        let r = h.authorize(&authz(&[("code_challenge", Some(ch))])).await;
        assert_code_redirect(&r, CB, Some("xyz"));
    }
}

// ---------------------------------------------------------------------------------------
// I. OpenID Connect request parameters
// ---------------------------------------------------------------------------------------

/// SEC-66: an oversize nonce (> 512 bytes) is `invalid_request`; 512 bytes is fine (OIDC Core
/// §3.1.2.1, §15.5.2).
#[tokio::test]
async fn sec_66_oversize_nonce_is_invalid_request() {
    let h = harness();
    let n512 = "n".repeat(512);
    let r = h.authorize(&authz(&[("nonce", Some(&n512))])).await;
    let code = assert_code_redirect(&r, CB, Some("xyz"));
    assert_eq!(
        grant_of(&h, &code).await.nonce.as_deref(),
        Some(n512.as_str())
    );
    let n513 = "n".repeat(513);
    let r = h.authorize(&authz(&[("nonce", Some(&n513))])).await;
    assert_err_redirect(&r, CB, "invalid_request", Some("xyz"));
    // Bytes, not characters: 257 two-byte characters are 514 bytes.
    let wide = "é".repeat(257);
    let r = h.authorize(&authz(&[("nonce", Some(&wide))])).await;
    assert_err_redirect(&r, CB, "invalid_request", Some("xyz"));
    // The nonce is kept unmodified.
    let r = h.authorize(&authz(&[("nonce", Some("éX+"))])).await;
    let code = assert_code_redirect(&r, CB, Some("xyz"));
    assert_eq!(grant_of(&h, &code).await.nonce.as_deref(), Some("éX+"));
}

/// SEC-69: max_age forces re-authentication when the session is older; valid values only
/// (OIDC Core §3.1.2.1).
#[tokio::test]
async fn sec_69_max_age_is_enforced() {
    let h = harness();
    // alice authenticated at T0-10; now T0+120.
    h.advance(120);
    let r = h.authorize(&authz(&[("max_age", Some("60"))])).await;
    let id = login_redirect(&r);
    // Re-login at t1, then resume: code, and the grant's auth_time is t1.
    let t1 = T0 + 120;
    let cookie = sign_in(&h, ALICE, t1);
    let r = resume_get(&h, &id, Some(&cookie)).await;
    let code = assert_code_redirect(&r, CB, Some("xyz"));
    assert_eq!(id_token_claims(&h, &code).await["auth_time"], t1);

    // A recent enough session needs no login, and keeps its auth_time.
    let r = h.authorize(&authz(&[("max_age", Some("3600"))])).await;
    let code = assert_code_redirect(&r, CB, Some("xyz"));
    assert_eq!(id_token_claims(&h, &code).await["auth_time"], T0 - 10);
    // Exactly max_age old is still acceptable.
    let r = h.authorize(&authz(&[("max_age", Some("130"))])).await;
    assert_code_redirect(&r, CB, Some("xyz"));
    let r = h.authorize(&authz(&[("max_age", Some("129"))])).await;
    login_redirect(&r);

    for bad in ["-1", "abc", "1.5", "+5", " 5", "0x10"] {
        let r = h.authorize(&authz(&[("max_age", Some(bad))])).await;
        assert_err_redirect(&r, CB, "invalid_request", Some("xyz"));
    }
    // max_age=0 asks for a login like prompt=login.
    let r = h.authorize(&authz(&[("max_age", Some("0"))])).await;
    login_redirect(&r);
}

/// SEC-69: `max_age=0` behaves as `prompt=login`: a login made for this request satisfies it
/// even when the browser comes back a little later (OIDC Core §3.1.2.1).
#[tokio::test]
async fn sec_69_max_age_zero_behaves_as_prompt_login() {
    for extra in [("max_age", Some("0")), ("prompt", Some("login"))] {
        let h = harness();
        h.advance(120);
        let r = h.authorize(&authz(&[extra])).await;
        let id = login_redirect(&r);
        // The user takes a second to sign in, and the redirect back takes another.
        h.advance(1);
        let t1 = T0 + 121;
        let cookie = sign_in(&h, ALICE, t1);
        h.advance(1);
        let r = resume_get(&h, &id, Some(&cookie)).await;
        let code = assert_code_redirect(&r, CB, Some("xyz"));
        assert_eq!(
            id_token_claims(&h, &code).await["auth_time"],
            t1,
            "{extra:?}"
        );
    }
}

/// SEC-70: `prompt=none` never shows UI: `login_required` / `consent_required` redirects
/// (OIDC Core §3.1.2.1, §3.1.2.6).
#[tokio::test]
async fn sec_70_prompt_none() {
    let h = harness();
    // No cookies: exactly this Location.
    let r = h
        .authorize_no_session(&authz(&[("prompt", Some("none"))]))
        .await;
    assert_err_redirect(&r, CB, "login_required", Some("xyz"));
    let loc = location(&r);
    assert!(
        loc.starts_with(&format!("{CB}?error=login_required&")),
        "{loc}"
    );
    assert!(loc.ends_with(&format!("&state=xyz&iss={ISS_ENC}")), "{loc}");
    assert!(r.body().is_empty());

    // Live session with stored consent: a code, silently.
    let r = h.authorize(&authz(&[("prompt", Some("none"))])).await;
    assert_code_redirect(&r, CB, Some("xyz"));

    // A session without consent for these scopes.
    let bob = sign_in(&h, "bob-sub", T0);
    let r = authorize_as(&h, &authz(&[("prompt", Some("none"))]), Some(&bob)).await;
    assert_err_redirect(&r, CB, "consent_required", Some("xyz"));
    // Consent stored for fewer scopes than asked is not consent.
    h.consent.grant(
        "carol-sub",
        "conf-client",
        &ScopeSet::parse("openid").unwrap(),
    );
    let carol = sign_in(&h, "carol-sub", T0);
    let r = authorize_as(&h, &authz(&[("prompt", Some("none"))]), Some(&carol)).await;
    assert_err_redirect(&r, CB, "consent_required", Some("xyz"));

    // A session older than max_age.
    h.advance(120);
    let r = h
        .authorize(&authz(&[("prompt", Some("none")), ("max_age", Some("60"))]))
        .await;
    assert_err_redirect(&r, CB, "login_required", Some("xyz"));
}

/// SEC-71: `none` with another value is `invalid_request`; `prompt=login` forces a login;
/// unknown values are `invalid_request` (OIDC Core §3.1.2.1; documented choice).
#[tokio::test]
async fn sec_71_prompt_values() {
    let h = harness();
    for p in [
        "none login",
        "login none",
        "none consent",
        "none select_account",
        "none none",
    ] {
        let r = h.authorize(&authz(&[("prompt", Some(p))])).await;
        assert_err_redirect(&r, CB, "invalid_request", Some("xyz"));
        let r = h.authorize_no_session(&authz(&[("prompt", Some(p))])).await;
        assert_err_redirect(&r, CB, "invalid_request", Some("xyz"));
    }
    for p in ["bogus", "login bogus", "NONE", "Login"] {
        let r = h.authorize(&authz(&[("prompt", Some(p))])).await;
        assert_err_redirect(&r, CB, "invalid_request", Some("xyz"));
    }

    // prompt=login with a valid session → login UI, then auth_time is the new login's.
    h.advance(60);
    let r = h.authorize(&authz(&[("prompt", Some("login"))])).await;
    let id = login_redirect(&r);
    // The old session does not satisfy it on the way back either.
    let r = resume_get(&h, &id, Some(&h.alice_cookie)).await;
    assert_eq!(login_redirect(&r), id);
    let cookie = sign_in(&h, ALICE, T0 + 60);
    let r = resume_get(&h, &id, Some(&cookie)).await;
    let code = assert_code_redirect(&r, CB, Some("xyz"));
    assert_eq!(id_token_claims(&h, &code).await["auth_time"], T0 + 60);

    // prompt=consent shows the consent page even with stored consent.
    let r = h.authorize(&authz(&[("prompt", Some("consent"))])).await;
    consent_form(&r);
    // select_account is treated as login.
    let r = h
        .authorize(&authz(&[("prompt", Some("select_account"))]))
        .await;
    login_redirect(&r);
}

/// SEC-72: `id_token_hint` must be one the OP issued and for the session user (OIDC Core
/// §3.1.2.1, §3.1.2.2).
#[tokio::test]
async fn sec_72_id_token_hint() {
    let harness = harness();
    let h = &harness;
    let id_token_of = |r: HttpResponse| async move {
        let code = assert_code_redirect(&r, CB, Some("xyz"));
        let j = assert_token_ok(&h.exch(&code).await);
        j["id_token"].as_str().expect("no id_token").to_owned()
    };
    let alice_hint = id_token_of(h.authorize(&authz(&[])).await).await;
    h.consent.grant(
        "bob-sub",
        "conf-client",
        &ScopeSet::parse("openid read").unwrap(),
    );
    let bob = sign_in(h, "bob-sub", T0);
    let bob_hint = id_token_of(authorize_as(h, &authz(&[]), Some(&bob)).await).await;

    // The session user's own hint, even after it expired: a code, silently.
    h.advance(7200);
    let alice = sign_in(h, ALICE, T0 + 7200);
    let hinted = |hint: &str, prompt: Option<&'static str>| {
        authz(&[("prompt", prompt), ("id_token_hint", Some(hint))])
    };
    let r = authorize_as(h, &hinted(&alice_hint, Some("none")), Some(&alice)).await;
    assert_code_redirect(&r, CB, Some("xyz"));

    // A hint for bob while alice is signed in: login_required and no code, with or without
    // prompt=none.
    for prompt in [Some("none"), None] {
        let r = authorize_as(h, &hinted(&bob_hint, prompt), Some(&alice)).await;
        assert_err_redirect(&r, CB, "login_required", Some("xyz"));
    }

    // A JWT signed by a foreign key under one of our kids, under an unknown kid, a tampered
    // payload, an unsigned token, and garbage: invalid_request.
    let foreign = {
        use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
        let doc = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let key = jsonwebtoken::EncodingKey::from_ec_der(doc.to_pkcs8v1().unwrap().as_ref());
        let claims = serde_json::json!({
            "iss": ISS, "sub": ALICE, "aud": "conf-client", "iat": T0, "exp": T0 + 99_999
        });
        let sign = |kid: &str| {
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
            header.kid = Some(kid.into());
            jsonwebtoken::encode(&header, &claims, &key).unwrap()
        };
        [sign("es-1"), sign("unknown-kid")]
    };
    let tampered = {
        let mut parts: Vec<String> = alice_hint.split('.').map(str::to_owned).collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        claims["sub"] = "bob-sub".into();
        parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
        parts.join(".")
    };
    let unsigned = {
        let parts: Vec<&str> = alice_hint.split('.').collect();
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            parts[1]
        )
    };
    for hint in [
        &foreign[0],
        &foreign[1],
        &tampered,
        &unsigned,
        &"not-a-jwt".to_owned(),
    ] {
        for prompt in [Some("none"), None] {
            let r = authorize_as(h, &hinted(hint, prompt), Some(&alice)).await;
            assert_err_redirect(&r, CB, "invalid_request", Some("xyz"));
            let r = authorize_as(h, &hinted(hint, prompt), None).await;
            assert_err_redirect(&r, CB, "invalid_request", Some("xyz"));
        }
    }

    // Our own ID token, issued to another client: not a hint for this one.
    let r = authorize_as(
        h,
        &authz(&[
            ("client_id", Some("other-client")),
            ("redirect_uri", Some("https://other.example.com/cb")),
            ("scope", Some("openid")),
            ("id_token_hint", Some(&alice_hint)),
        ]),
        Some(&alice),
    )
    .await;
    assert_err_redirect(
        &r,
        "https://other.example.com/cb",
        "invalid_request",
        Some("xyz"),
    );
}

// ---------------------------------------------------------------------------------------
// M. Browser-facing hardening
// ---------------------------------------------------------------------------------------

/// SEC-89: the consent decision is protected against CSRF: token, Origin, and the user who
/// was asked (RFC 6749 §10.12; OIDC Core §3.1.2.3).
#[tokio::test]
async fn sec_89_consent_decision_requires_csrf_token() {
    let h = harness();
    let bob = sign_in(&h, "bob-sub", T0 - 5);
    let (interaction, csrf) = consent_form(&authorize_as(&h, &authz(&[]), Some(&bob)).await);
    // A second pending request for the same user and client.
    let (other_interaction, other_csrf) =
        consent_form(&authorize_as(&h, &authz(&[("state", Some("s2"))]), Some(&bob)).await);
    assert_ne!(interaction, other_interaction);
    assert_ne!(csrf, other_csrf);

    // Missing, empty, wrong, and another request's token.
    for bad in [
        None,
        Some(""),
        Some("wrong"),
        Some(other_csrf.as_str()),
        Some(interaction.as_str()),
    ] {
        assert_forbidden(&decide(&h, &interaction, bad, Some(&bob), Some(ISS)).await);
    }
    // The right token from a foreign origin.
    for origin in [
        "https://evil.example",
        "null",
        "https://as.example.evil.com",
        "http://as.example",
    ] {
        assert_forbidden(&decide(&h, &interaction, Some(&csrf), Some(&bob), Some(origin)).await);
    }
    // The right token with another user's session, or with none.
    assert_forbidden(
        &decide(
            &h,
            &interaction,
            Some(&csrf),
            Some(&h.alice_cookie),
            Some(ISS),
        )
        .await,
    );
    assert_forbidden(&decide(&h, &interaction, Some(&csrf), None, Some(ISS)).await);
    // A GET cannot decide: it only shows the consent page again.
    let req = Request::get(format!(
        "/authorize/resume?interaction={}&csrf_token={}&consent=allow",
        enc(&interaction),
        enc(&csrf)
    ))
    .header(header::COOKIE, &bob)
    .body(Vec::new())
    .unwrap();
    let r = h.server.resume(req).await;
    assert_eq!(r.status(), StatusCode::OK);
    let (same_interaction, fresh_csrf) = consent_form(&r);
    assert_eq!(same_interaction, interaction);
    // None of the refused attempts spent the request: the right token (from the latest
    // page), same origin, right user → code. No Origin header at all is accepted too.
    let r = decide(&h, &interaction, Some(&fresh_csrf), Some(&bob), Some(ISS)).await;
    let code = assert_code_redirect(&r, CB, Some("xyz"));
    let g = grant_of(&h, &code).await;
    assert_eq!(g.user.subject, "bob-sub");
    assert_eq!(g.scope.as_str(), "openid read");
    let r = resume_post(
        &h,
        &[
            ("interaction", &other_interaction),
            ("csrf_token", &other_csrf),
            ("consent", "allow"),
        ],
        Some(&bob),
        None,
    )
    .await;
    assert_code_redirect(&r, CB, Some("s2"));
}

/// SEC-89 and SEC-91 together: our pages send `Referrer-Policy: no-referrer`, so a real
/// browser posts the consent form with `Origin: null` and `Sec-Fetch-Site: same-origin`
/// (Fetch Standard). That is accepted; `null` from anywhere else, or any cross-site fetch
/// metadata, is refused.
#[tokio::test]
async fn sec_89_consent_from_a_browser_with_no_referrer_policy() {
    let h = harness();
    let bob = sign_in(&h, "bob-sub", T0);
    let page = authorize_as(&h, &authz(&[]), Some(&bob)).await;
    assert_eq!(page.headers()[header::REFERRER_POLICY], "no-referrer");
    let (interaction, csrf) = consent_form(&page);
    let post = |origin: Option<&'static str>, site: Option<&'static str>| {
        let body = format!(
            "interaction={}&csrf_token={}&consent=allow",
            enc(&interaction),
            enc(&csrf)
        );
        let mut req = Request::post("/authorize/resume")
            .header(header::CONTENT_TYPE, FORM)
            .header(header::COOKIE, &bob);
        if let Some(o) = origin {
            req = req.header(header::ORIGIN, o);
        }
        if let Some(s) = site {
            req = req.header("sec-fetch-site", s);
        }
        req.body(body.into_bytes()).unwrap()
    };
    for (origin, site) in [
        (Some("null"), None),
        (Some("null"), Some("cross-site")),
        (Some("null"), Some("same-site")),
        (Some(ISS), Some("cross-site")),
        (None, Some("cross-site")),
        (Some("https://evil.example"), Some("same-origin")),
    ] {
        let r = h.server.resume(post(origin, site)).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{origin:?} {site:?}");
        assert!(r.headers().get(header::LOCATION).is_none());
    }
    // What Chromium sends from our consent page.
    let r = h
        .server
        .resume(post(Some("null"), Some("same-origin")))
        .await;
    assert_code_redirect(&r, CB, Some("xyz"));
}

/// SEC-89: a consent decision is single-use: replaying the completed POST is refused
/// (RFC 6749 §10.12, §4.1.2).
#[tokio::test]
async fn sec_89_pending_request_is_single_use() {
    let h = harness();
    let bob = sign_in(&h, "bob-sub", T0);
    let (interaction, csrf) = consent_form(&authorize_as(&h, &authz(&[]), Some(&bob)).await);
    let fields = [
        ("interaction", interaction.as_str()),
        ("csrf_token", csrf.as_str()),
        ("consent", "allow"),
    ];
    let r = resume_post(&h, &fields, Some(&bob), Some(ISS)).await;
    assert_code_redirect(&r, CB, Some("xyz"));
    // Consent is now remembered for bob.
    assert!(h.consent.granted("bob-sub", "conf-client").is_some());
    for _ in 0..2 {
        let r = resume_post(&h, &fields, Some(&bob), Some(ISS)).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{r:?}");
        assert!(r.headers().get(header::LOCATION).is_none());
        assert_secure_html(&r);
    }
    // A denial is single-use too, and cannot be turned into an allow afterwards.
    let (interaction, csrf) =
        consent_form(&authorize_as(&h, &authz(&[("prompt", Some("consent"))]), Some(&bob)).await);
    let mut fields = [
        ("interaction", interaction.as_str()),
        ("csrf_token", csrf.as_str()),
        ("consent", "deny"),
    ];
    let r = resume_post(&h, &fields, Some(&bob), Some(ISS)).await;
    assert_err_redirect(&r, CB, "access_denied", Some("xyz"));
    fields[2].1 = "allow";
    let r = resume_post(&h, &fields, Some(&bob), Some(ISS)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{r:?}");
    assert!(r.headers().get(header::LOCATION).is_none());
    // The login-resume GET cannot reuse it either.
    let r = resume_get(&h, &interaction, Some(&bob)).await;
    assert_no_redirect_page(&r);
}

/// SEC-89: a pending *login* (no consent page shown yet) cannot be completed by posting a
/// decision, and the session cookie is `HttpOnly; Secure; SameSite=Lax`.
#[tokio::test]
async fn sec_89_login_pending_cannot_be_decided_and_cookie_flags() {
    let h = harness();
    let id = login_redirect(&h.authorize_no_session(&authz(&[])).await);
    let bob = sign_in(&h, "bob-sub", T0);
    for csrf in ["", "x", id.as_str()] {
        let r = resume_post(
            &h,
            &[
                ("interaction", &id),
                ("csrf_token", csrf),
                ("consent", "allow"),
            ],
            Some(&bob),
            Some(ISS),
        )
        .await;
        assert_forbidden(&r);
    }
    let session = h.sessions.sign_in(EndUser::new("bob-sub", T0));
    let set_cookie = h.sessions.set_cookie(&session, true);
    let v = set_cookie.to_str().unwrap();
    for flag in ["HttpOnly", "Secure", "SameSite=Lax"] {
        assert!(v.contains(flag), "{v}");
    }
}

/// SEC-90: anti-clickjacking headers on every page grantor renders: the NO_REDIRECT error
/// page, the consent page, the 414 page, the CSRF refusal (RFC 9700 §4.16; RFC 6749 §10.13).
#[tokio::test]
async fn sec_90_pages_cannot_be_framed() {
    let h = harness();
    let r = h.authorize(&authz(&[("client_id", Some("unknown"))])).await;
    assert_no_redirect_page(&r);
    let bob = sign_in(&h, "bob-sub", T0);
    let r = authorize_as(&h, &authz(&[]), Some(&bob)).await;
    let (interaction, _) = consent_form(&r);
    let r = resume_post(
        &h,
        &[("interaction", &interaction), ("consent", "allow")],
        Some(&bob),
        None,
    )
    .await;
    assert_forbidden(&r);
    let r = h
        .authorize(&format!("{}&pad={}", authz(&[]), "a".repeat(5000)))
        .await;
    assert_eq!(r.status(), StatusCode::URI_TOO_LONG);
    assert_secure_html(&r);
    let req = Request::put("/authorize").body(Vec::new()).unwrap();
    let r = h.server.authorize(req).await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_secure_html(&r);
}

/// SEC-91: no CORS at the authorization endpoint; pages send `Referrer-Policy: no-referrer`
/// (RFC 9700 §2.6, §4.2.4).
#[tokio::test]
async fn sec_91_no_cors_and_no_referrer() {
    let h = harness();
    let req = Request::get(format!("/authorize?{}", authz(&[])))
        .header(header::COOKIE, &h.alice_cookie)
        .header(header::ORIGIN, "https://evil.example")
        .body(Vec::new())
        .unwrap();
    let r = h.server.authorize(req).await;
    assert_code_redirect(&r, CB, Some("xyz"));
    assert_no_cors(&r);

    let req = Request::options("/authorize")
        .header(header::ORIGIN, "https://evil.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
        .body(Vec::new())
        .unwrap();
    let r = h.server.authorize(req).await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.headers().get(header::LOCATION).is_none());
    assert_no_cors(&r);
    assert_eq!(r.headers().get(header::ALLOW).unwrap(), "GET, POST");

    // HTML pages: error page and consent page.
    let r = h
        .authorize(&authz(&[("redirect_uri", Some("https://x.example/cb"))]))
        .await;
    assert_eq!(
        r.headers().get(header::REFERRER_POLICY).unwrap(),
        "no-referrer"
    );
    let bob = sign_in(&h, "bob-sub", T0);
    let r = authorize_as(&h, &authz(&[]), Some(&bob)).await;
    assert_eq!(
        r.headers().get(header::REFERRER_POLICY).unwrap(),
        "no-referrer"
    );
    // No third-party resources on the built-in pages.
    let body = String::from_utf8_lossy(r.body()).into_owned();
    for bad in ["<script", "<img", "<link", "src=", "@import"] {
        assert!(!body.contains(bad), "{bad} in consent page");
    }
}

/// SEC-92: no reflected XSS on the error page; CRLF in state stays percent-encoded in one
/// Location (RFC 6749 §10.14, §4.1.2.1).
#[tokio::test]
async fn sec_92_no_xss_and_no_header_injection() {
    let h = harness();
    let evil = "\"><script>alert(1)</script>";
    for o in [
        vec![("client_id", Some(evil))],
        vec![("redirect_uri", Some(evil))],
        vec![("response_mode", Some(evil))],
    ] {
        let r = h.authorize(&authz(&o)).await;
        assert_no_redirect_page(&r);
        let body = String::from_utf8_lossy(r.body());
        assert!(!body.contains("<script"), "{body}");
        assert!(!body.contains("</script>"), "{body}");
    }

    let crlf = "a\r\nSet-Cookie: x=1";
    let r = h.authorize(&authz(&[("state", Some(crlf))])).await;
    assert_eq!(r.headers().get_all(header::LOCATION).iter().count(), 1);
    assert!(r.headers().get(header::SET_COOKIE).is_none());
    let loc = location(&r);
    assert!(!loc.contains('\r') && !loc.contains('\n'), "{loc}");
    assert!(loc.contains("state=a%0D%0ASet-Cookie%3A+x%3D1"), "{loc}");
    assert_code_redirect(&r, CB, Some(crlf));
    // The same on an error redirect.
    let r = h
        .authorize(&authz(&[("state", Some(crlf)), ("scope", Some("admin"))]))
        .await;
    assert_eq!(r.headers().get_all(header::LOCATION).iter().count(), 1);
    assert!(r.headers().get(header::SET_COOKIE).is_none());
    assert_err_redirect(&r, CB, "invalid_scope", Some(crlf));

    // error_description stays within %x20-21 / %x23-5B / %x5D-7E with hostile input around
    // (checked by assert_err_redirect).
    for o in [
        vec![("scope", Some("openid admin")), ("state", Some("\"\\€"))],
        vec![("response_type", Some("\"\\€<x>"))],
        vec![("prompt", Some("\"\\€"))],
        vec![("max_age", Some("\"\\€"))],
        vec![("code_challenge_method", Some("\"\\€"))],
    ] {
        let r = h.authorize(&authz(&o)).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let p = redirect_params(&r);
        let e = param(&p, "error").unwrap();
        let state = param(&p, "state");
        assert_err_redirect(&r, CB, &e, state.as_deref());
        let d = param(&p, "error_description").unwrap_or_default();
        assert!(!d.contains('"') && !d.contains('\\') && d.is_ascii(), "{d}");
    }
}

/// SEC-93: untrusted clients (`ClientBuilder::trusted(false)`) authenticate the user before
/// any error redirect (RFC 9700 §4.11.2; checklist ambiguity 11).
#[tokio::test]
async fn sec_93_untrusted_client_authenticates_before_error_redirect() {
    let h = harness();
    const ATTACKER: &str = "https://attacker.example/cb";
    let bad = authz(&[
        ("client_id", Some("untrusted-client")),
        ("redirect_uri", Some(ATTACKER)),
        ("scope", Some("invalid")),
    ]);
    // No session: the login page, not a 303 to attacker.example.
    let r = h.authorize_no_session(&bad).await;
    let id = login_redirect(&r);
    assert!(!location(&r).contains("attacker.example"));
    // Back from login without a session: the login page again.
    let r = resume_get(&h, &id, None).await;
    assert_eq!(login_redirect(&r), id);
    // Signed in: now the error is redirected, with state and iss, and only once.
    let r = resume_get(&h, &id, Some(&h.alice_cookie)).await;
    assert_err_redirect(&r, ATTACKER, "invalid_scope", Some("xyz"));
    assert_eq!(
        resume_get(&h, &id, Some(&h.alice_cookie)).await.status(),
        StatusCode::BAD_REQUEST
    );
    // Every kind of invalid request is deferred the same way.
    for extra in [
        vec![("response_type", Some("token"))],
        vec![("code_challenge", None)],
        vec![("prompt", Some("login bogus"))],
    ] {
        let mut overrides = vec![
            ("client_id", Some("untrusted-client")),
            ("redirect_uri", Some(ATTACKER)),
        ];
        overrides.extend(extra);
        login_redirect(&h.authorize_no_session(&authz(&overrides)).await);
    }
    // A signed-in user gets the error at once.
    let r = h.authorize(&bad).await;
    assert_err_redirect(&r, ATTACKER, "invalid_scope", Some("xyz"));
    // prompt=none is the sanctioned exception: answered at once, without a session.
    let r = h
        .authorize_no_session(&authz(&[
            ("client_id", Some("untrusted-client")),
            ("redirect_uri", Some(ATTACKER)),
            ("scope", Some("invalid")),
            ("prompt", Some("none")),
        ]))
        .await;
    assert_err_redirect(&r, ATTACKER, "invalid_scope", Some("xyz"));
    // A trusted client's error is redirected at once (RFC 6749 §4.1.2.1).
    let r = h
        .authorize_no_session(&authz(&[("scope", Some("invalid"))]))
        .await;
    assert_err_redirect(&r, CB, "invalid_scope", Some("xyz"));
}

/// HEAD must not run the authorization request (RFC 9110 §9.3.2 semantics; a code must
/// never be issued without the response reaching the client).
#[tokio::test]
async fn head_authorize_is_refused_without_a_code() {
    let h = harness();
    let req = grantor::http::Request::head(format!("/authorize?{}", authz(&[])))
        .header(grantor::http::header::COOKIE, &h.alice_cookie)
        .body(Vec::new())
        .unwrap();
    let r = h.server.authorize(req).await;
    assert_eq!(r.status(), 405);
    assert!(r.headers().get(grantor::http::header::LOCATION).is_none());
}

/// A host's own error page still gets the anti-framing headers (RFC 9700 §4.16).
#[tokio::test]
async fn custom_error_page_keeps_anti_framing_headers() {
    let server = grantor::AuthorizationServer::builder()
        .issuer(ISS)
        .clients(clients())
        .grants(grantor::memory::MemoryGrantStore::new())
        .authenticator(grantor::memory::MemorySessions::new("/login"))
        .consent(grantor::memory::MemoryConsent::new())
        .error_page(|e| grantor::HttpResponse::new(e.description().to_owned().into()))
        .build()
        .unwrap();
    let req = grantor::http::Request::get("/authorize?client_id=nobody")
        .body(Vec::new())
        .unwrap();
    let r = server.authorize(req).await;
    assert_no_redirect(&r);
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert_eq!(
        r.headers()["content-security-policy"],
        "frame-ancestors 'none'"
    );
}
