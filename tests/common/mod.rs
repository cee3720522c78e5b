//! The checklist's fixtures (../shared/security-checklist.md, "Test fixtures and shorthand"):
//! issuer, clients, user alice with a live session and stored consent, PKCE vectors, and
//! helpers that build `AUTHZ{...}` and `EXCH` requests and assert `REDIRECT`, `ERR_REDIRECT`,
//! `NO_REDIRECT`, `TOKEN_OK` and `TOKEN_ERR` exactly.
#![allow(dead_code)]

use std::sync::Arc;

use grantor::http::{self, header, Request, StatusCode};
use grantor::memory::{
    MemoryClaims, MemoryClientStore, MemoryConsent, MemoryGrantStore, MemorySessions,
};
use grantor::token::{KeySet, SigningAlgorithm, SigningKey};
use grantor::{
    AuthorizationServer, Client, ClientAuthMethod, ClientSecret, EndUser, GrantType, HttpResponse,
    ManualClock, Policy, ScopeSet, SessionId,
};

pub const ISS: &str = "https://as.example";
pub const ISS_ENC: &str = "https%3A%2F%2Fas.example";
pub const CB: &str = "https://client.example.com/cb";
pub const CB_ENC: &str = "https%3A%2F%2Fclient.example.com%2Fcb";
pub const PUB_CB: &str = "https://app.example.com/cb";
pub const V: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CH: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const B_CONF: &str = "Basic Y29uZi1jbGllbnQ6czNjcjN0";
pub const B_BAD: &str = "Basic Y29uZi1jbGllbnQ6d3Jvbmc=";
pub const B_OTHER: &str = "Basic b3RoZXItY2xpZW50OjB0aDNyLXMzY3IzdA==";
pub const B_POST: &str = "Basic cG9zdC1jbGllbnQ6czNjcjN0";
pub const B_RS: &str = "Basic cnMtY2xpZW50OnJzLXMzY3IzdA==";
pub const T0: u64 = 1_700_000_000;
pub const ALICE: &str = "alice-sub";

pub struct Harness {
    pub server: AuthorizationServer,
    pub clock: Arc<ManualClock>,
    pub sessions: MemorySessions,
    pub consent: MemoryConsent,
    pub grants: MemoryGrantStore,
    pub clients: MemoryClientStore,
    /// `Cookie` header value of alice's live session.
    pub alice_cookie: String,
    pub alice_session: SessionId,
}

fn conf(id: &str, secret: &str) -> grantor::ClientBuilder {
    Client::builder(id).secret(ClientSecret::new(secret))
}

pub fn clients() -> MemoryClientStore {
    let all = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
    ];
    let code_refresh = [GrantType::AuthorizationCode, GrantType::RefreshToken];
    let list = vec![
        conf("conf-client", "s3cr3t")
            .redirect_uri(CB)
            .redirect_uri("https://client.example.com/cb2")
            .redirect_uri("https://client.example.com/cb?tenant=a")
            .grant_types(all)
            .scopes("openid profile offline_access read write"),
        // PKCE opt-out (SEC-32, SEC-34, SEC-54).
        conf("nopkce-client", "s3cr3t")
            .redirect_uri(CB)
            .grant_types(code_refresh)
            .scopes("openid profile offline_access read write")
            .require_pkce(false),
        conf("other-client", "0th3r-s3cr3t")
            .redirect_uri("https://other.example.com/cb")
            .grant_types(code_refresh)
            .scopes("openid read"),
        conf("post-client", "s3cr3t")
            .auth_method(ClientAuthMethod::ClientSecretPost)
            .redirect_uri("https://post.example.com/cb")
            .grant_types(all)
            .scopes("openid read"),
        conf("an:identifier", "some secure & non-standard secret")
            .grant_types([GrantType::ClientCredentials])
            .scopes("read"),
        Client::builder("pub-client")
            .redirect_uri(PUB_CB)
            .redirect_uri("http://127.0.0.1/cb")
            .grant_types(code_refresh)
            .scopes("openid profile offline_access read"),
        Client::builder("pub-client2")
            .redirect_uri("https://app2.example.com/cb")
            .grant_types(code_refresh)
            .scopes("openid read"),
        conf("nocode-client", "n0c0de")
            .redirect_uri("https://nocode.example.com/cb")
            .grant_types([GrantType::ClientCredentials])
            .scopes("read"),
        conf("rs-client", "rs-s3cr3t")
            .introspect_any_token(true)
            .grant_types([GrantType::ClientCredentials])
            .scopes("read"),
        Client::builder("untrusted-client")
            .trusted(false)
            .redirect_uri("https://attacker.example/cb")
            .scopes("openid"),
    ];
    list.into_iter()
        .map(|b| b.build().expect("fixture client"))
        .collect()
}

/// One key set per test binary (RSA key generation is slow): RS256 "rs-1" active and the
/// default, ES256 "es-1" and EdDSA "ed-1" active for clients that ask for them.
pub fn keys() -> KeySet {
    static KEYS: std::sync::OnceLock<KeySet> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let set = KeySet::new(SigningKey::generate(SigningAlgorithm::RS256, "rs-1").unwrap());
        for (alg, kid) in [
            (SigningAlgorithm::ES256, "es-1"),
            (SigningAlgorithm::EdDSA, "ed-1"),
        ] {
            set.publish(SigningKey::generate(alg, kid).unwrap());
            set.activate(kid).unwrap();
        }
        set
    })
    .clone()
}

pub fn user_claims() -> MemoryClaims {
    let claims = MemoryClaims::new();
    claims.insert(
        ALICE,
        serde_json::json!({"name": "Alice Liddell", "email": "alice@example.com", "email_verified": true}),
    );
    claims
}

pub fn policy() -> Policy {
    let mut p = Policy::default();
    p.loopback_redirect_any_port = true;
    p
}

pub fn harness() -> Harness {
    harness_with(policy())
}

pub fn harness_with(policy: Policy) -> Harness {
    harness_custom(ISS, Some(keys()), policy)
}

/// A harness with its own issuer and key set (or none): for tests that change keys, since
/// `keys()` is shared by every test in a binary.
pub fn harness_custom(issuer: &str, keys: Option<KeySet>, policy: Policy) -> Harness {
    harness_over(issuer, keys, policy, |grants| grants)
}

/// [`harness_custom`] with the server's grant store being `wrap` of the harness's in-memory
/// one: for tests of how the server treats a host store that behaves differently.
pub fn harness_over<G: grantor::GrantStore>(
    issuer: &str,
    keys: Option<KeySet>,
    policy: Policy,
    wrap: impl FnOnce(MemoryGrantStore) -> G,
) -> Harness {
    let clock = Arc::new(ManualClock::new(T0));
    let sessions = MemorySessions::new("https://as.example/login");
    let consent = MemoryConsent::new();
    let grants = MemoryGrantStore::new();
    let clients = clients();
    let mut builder = AuthorizationServer::builder()
        .issuer(issuer)
        .clients(clients.clone())
        .grants(wrap(grants.clone()))
        .authenticator(sessions.clone())
        .consent(consent.clone())
        .clock(clock.clone())
        .claims(user_claims())
        .scopes(["read", "write", "admin"])
        .policy(policy);
    if let Some(keys) = keys {
        builder = builder.signing_keys(keys);
    }
    let server = builder.build().expect("fixture server");
    let alice_session = sessions.sign_in(EndUser::new(ALICE, T0 - 10));
    let alice_cookie = format!("{}={}", sessions.cookie_name(), alice_session.expose());
    let everything = ScopeSet::parse("openid profile offline_access read write").unwrap();
    for c in [
        "conf-client",
        "nopkce-client",
        "other-client",
        "post-client",
        "pub-client",
        "pub-client2",
        "untrusted-client",
    ] {
        consent.grant(ALICE, c, &everything);
    }
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

/// Percent-encodes a value for a query or form body.
pub fn enc(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The query of `AUTHZ{...}`: the checklist's base request with overrides. `(name, None)`
/// removes a parameter, `(name, Some(v))` sets it (v unencoded; it is percent-encoded here).
/// Parameters not in the base are appended in order.
pub fn authz(overrides: &[(&str, Option<&str>)]) -> String {
    let base: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", "conf-client"),
        ("redirect_uri", CB),
        ("scope", "openid read"),
        ("state", "xyz"),
        ("nonce", "n-0S6_WzA2Mj"),
        ("code_challenge", CH),
        ("code_challenge_method", "S256"),
    ];
    let mut pairs: Vec<(String, String)> = base
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in overrides {
        match (pairs.iter().position(|(pk, _)| pk == k), v) {
            (Some(i), None) => {
                pairs.remove(i);
            }
            (Some(i), Some(v)) => pairs[i].1 = v.to_string(),
            (None, Some(v)) => pairs.push((k.to_string(), v.to_string())),
            (None, None) => {}
        }
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The form body of `EXCH` for `code`.
pub fn exch_body(code: &str) -> String {
    format!(
        "grant_type=authorization_code&code={}&redirect_uri={CB_ENC}&code_verifier={V}",
        enc(code)
    )
}

impl Harness {
    /// `GET /authorize?<query>` from alice's browser (live session, stored consent).
    pub async fn authorize(&self, query: &str) -> HttpResponse {
        let req = Request::get(format!("/authorize?{query}"))
            .header(header::COOKIE, &self.alice_cookie)
            .body(Vec::new())
            .unwrap();
        self.server.authorize(req).await
    }

    /// `GET /authorize?<query>` from a browser with no session.
    pub async fn authorize_no_session(&self, query: &str) -> HttpResponse {
        let req = Request::get(format!("/authorize?{query}"))
            .body(Vec::new())
            .unwrap();
        self.server.authorize(req).await
    }

    /// Runs `AUTHZ{overrides}` and returns the code from the redirect.
    pub async fn code(&self, overrides: &[(&str, Option<&str>)]) -> String {
        let r = self.authorize(&authz(overrides)).await;
        assert_eq!(
            r.status(),
            StatusCode::SEE_OTHER,
            "authorize failed: {:?}",
            r
        );
        let params = redirect_params(&r);
        param(&params, "code").expect("no code in redirect")
    }

    /// `POST /token` with a form body and an optional Authorization header.
    pub async fn token(&self, body: &str, authorization: Option<&str>) -> HttpResponse {
        let mut req = Request::post("/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(a) = authorization {
            req = req.header(header::AUTHORIZATION, a);
        }
        self.server
            .token(req.body(body.as_bytes().to_vec()).unwrap())
            .await
    }

    /// `EXCH` for `code`.
    pub async fn exch(&self, code: &str) -> HttpResponse {
        self.token(&exch_body(code), Some(B_CONF)).await
    }

    /// Moves the clock.
    pub fn advance(&self, secs: u64) {
        self.clock.advance(std::time::Duration::from_secs(secs));
    }
}

pub fn location(r: &HttpResponse) -> String {
    let mut all = r.headers().get_all(header::LOCATION).iter();
    let l = all.next().expect("no Location header");
    assert!(all.next().is_none(), "more than one Location header");
    l.to_str().unwrap().to_owned()
}

/// Form-decodes one component.
pub fn dec(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1
            }
            b'%' => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3
            }
            b => {
                out.push(b);
                i += 1
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// The decoded parameters after `?` (or `#` when `fragment`) in a Location.
pub fn params_of(location: &str, fragment: bool) -> Vec<(String, String)> {
    let sep = if fragment { '#' } else { '?' };
    let Some((_, q)) = location.split_once(sep) else {
        return Vec::new();
    };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (dec(k), dec(v))
        })
        .collect()
}

pub fn redirect_params(r: &HttpResponse) -> Vec<(String, String)> {
    params_of(&location(r), false)
}

pub fn param(params: &[(String, String)], name: &str) -> Option<String> {
    let mut it = params.iter().filter(|(k, _)| k == name);
    let v = it.next().map(|(_, v)| v.clone());
    assert!(it.next().is_none(), "{name} appears twice");
    v
}

/// `REDIRECT(code…)` to `base`: 303, Location is `base?code=…&state=<state>&iss=…`.
pub fn assert_code_redirect(r: &HttpResponse, base: &str, state: Option<&str>) -> String {
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{r:?}");
    let loc = location(r);
    assert!(
        loc.starts_with(&format!("{base}?")),
        "Location {loc} is not under {base}"
    );
    let p = params_of(&loc, false);
    assert_eq!(param(&p, "state").as_deref(), state);
    assert_eq!(param(&p, "iss").as_deref(), Some(ISS));
    assert!(param(&p, "error").is_none(), "{loc}");
    param(&p, "code").expect("no code")
}

/// `ERR_REDIRECT(error)` to `base` with `state`.
pub fn assert_err_redirect(r: &HttpResponse, base: &str, error: &str, state: Option<&str>) {
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{r:?}");
    let loc = location(r);
    assert!(
        loc.starts_with(&format!("{base}?")),
        "Location {loc} is not under {base}"
    );
    let p = params_of(&loc, false);
    assert_eq!(param(&p, "error").as_deref(), Some(error), "{loc}");
    assert_eq!(param(&p, "state").as_deref(), state, "{loc}");
    assert_eq!(param(&p, "iss").as_deref(), Some(ISS));
    assert!(param(&p, "code").is_none());
    if let Some(d) = param(&p, "error_description") {
        assert!(d.bytes().all(|b| b == 0x20
            || b == 0x21
            || (0x23..=0x5b).contains(&b)
            || (0x5d..=0x7e).contains(&b)));
    }
}

/// `NO_REDIRECT`: 400, no Location, and a page that does not link to `redirect_uri`.
pub fn assert_no_redirect(r: &HttpResponse) {
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{r:?}");
    assert!(r.headers().get(header::LOCATION).is_none());
    let body = String::from_utf8_lossy(r.body());
    for bad in ["<a ", "http-equiv", "<form", "<script"] {
        assert!(!body.contains(bad), "error page contains {bad}");
    }
}

pub fn json(r: &HttpResponse) -> serde_json::Value {
    serde_json::from_slice(r.body()).expect("JSON body")
}

fn assert_no_store(r: &HttpResponse) {
    let h = r.headers();
    let ct = h.get(header::CONTENT_TYPE).unwrap().to_str().unwrap();
    assert!(ct.starts_with("application/json"), "{ct}");
    assert_eq!(h.get(header::CACHE_CONTROL).unwrap(), "no-store");
    assert_eq!(h.get(header::PRAGMA).unwrap(), "no-cache");
}

/// `TOKEN_OK`; returns the JSON body.
pub fn assert_token_ok(r: &HttpResponse) -> serde_json::Value {
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "{:?}",
        String::from_utf8_lossy(r.body())
    );
    assert_no_store(r);
    let j = json(r);
    assert!(j["access_token"].is_string());
    assert!(j["token_type"]
        .as_str()
        .unwrap()
        .eq_ignore_ascii_case("bearer"));
    assert!(j["expires_in"].is_u64());
    j
}

/// `TOKEN_ERR(status, error)`, including the 401 challenge rule.
pub fn assert_token_err(r: &HttpResponse, status: u16, error: &str) {
    assert_eq!(
        r.status().as_u16(),
        status,
        "{:?}",
        String::from_utf8_lossy(r.body())
    );
    assert_no_store(r);
    let j = json(r);
    assert_eq!(j["error"], error, "{j}");
    if status == 401 {
        assert_eq!(
            r.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            &format!("Basic realm=\"{ISS}\"")
        );
    }
    assert!(j.get("access_token").is_none());
}

/// Any redirect in the suite must not be 307/308 (SEC-25).
pub fn assert_not_307(r: &HttpResponse) {
    assert_ne!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_ne!(r.status(), StatusCode::PERMANENT_REDIRECT);
}

pub fn _unused(_: http::Method) {}
