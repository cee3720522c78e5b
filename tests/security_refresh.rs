//! Checklist section G (refresh tokens) and SEC-73 (offline_access), RFC 6749 §6,
//! RFC 9700 §4.14.2, OIDC Core §11.
mod common;
use common::*;

use grantor::{Policy, RefreshTokenPolicy, TokenDigest};

fn always() -> Harness {
    let mut p = policy();
    p.refresh_tokens = RefreshTokenPolicy::Always;
    harness_with(p)
}

/// Runs AUTHZ{overrides} and EXCH; returns (access_token, refresh_token).
async fn tokens(h: &Harness, overrides: &[(&str, Option<&str>)]) -> (String, String) {
    let code = h.code(overrides).await;
    let j = assert_token_ok(&h.exch(&code).await);
    (
        j["access_token"].as_str().unwrap().to_owned(),
        j["refresh_token"]
            .as_str()
            .expect("no refresh_token")
            .to_owned(),
    )
}

fn refresh_body(rt: &str, extra: &str) -> String {
    format!("grant_type=refresh_token&refresh_token={}{extra}", enc(rt))
}

async fn access_token_active(h: &Harness, at: &str) -> bool {
    use grantor::GrantStore as _;
    h.grants
        .access_token(&TokenDigest::of(at), h.clock_now())
        .await
        .unwrap()
        .is_some()
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

/// Public-client refresh tokens are rotated (RFC 9700 §4.14.2, OAuth 2.1 §4.3.1).
#[tokio::test]
async fn sec_56_public_client_refresh_tokens_rotate() {
    let h = always();
    let code = h
        .code(&[
            ("client_id", Some("pub-client")),
            ("redirect_uri", Some(PUB_CB)),
        ])
        .await;
    let body = format!(
        "grant_type=authorization_code&client_id=pub-client&code={}&redirect_uri={}&code_verifier={V}",
        enc(&code),
        enc(PUB_CB)
    );
    let j = assert_token_ok(&h.token(&body, None).await);
    let rt1 = j["refresh_token"].as_str().unwrap().to_owned();
    let r = h
        .token(&refresh_body(&rt1, "&client_id=pub-client"), None)
        .await;
    let j = assert_token_ok(&r);
    let rt2 = j["refresh_token"].as_str().unwrap();
    assert_ne!(rt1, rt2);
}

/// Reusing a rotated refresh token revokes the whole family, successor and access tokens
/// included (RFC 9700 §4.14.2, OAuth 2.1 §4.3.1, RFC 6749 §10.4).
#[tokio::test]
async fn sec_57_reuse_revokes_the_family() {
    let h = always();
    let (at1, rt1) = tokens(&h, &[]).await;
    let j = assert_token_ok(&h.token(&refresh_body(&rt1, ""), Some(B_CONF)).await);
    let rt2 = j["refresh_token"].as_str().unwrap().to_owned();
    let at2 = j["access_token"].as_str().unwrap().to_owned();
    assert!(access_token_active(&h, &at2).await);

    let r = h.token(&refresh_body(&rt1, ""), Some(B_CONF)).await;
    assert_token_err(&r, 400, "invalid_grant");
    let r = h.token(&refresh_body(&rt2, ""), Some(B_CONF)).await;
    assert_token_err(&r, 400, "invalid_grant");
    assert!(!access_token_active(&h, &at2).await, "AT2 survived reuse");
    assert!(!access_token_active(&h, &at1).await, "AT1 survived reuse");
}

/// Eight concurrent uses of one refresh token: exactly one succeeds (RFC 9700 §4.14.2); the
/// others are treated as reuse, which revokes the family, the winner's successor included.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sec_57_concurrent_rotation_has_exactly_one_successor() {
    let h = always();
    for _ in 0..50 {
        let (_, rt) = tokens(&h, &[]).await;
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let server = h.server.clone();
            let body = refresh_body(&rt, "");
            tasks.push(tokio::spawn(async move {
                let req = grantor::http::Request::post("/token")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("authorization", B_CONF)
                    .body(body.into_bytes())
                    .unwrap();
                server.token(req).await
            }));
        }
        let mut successors = Vec::new();
        for t in tasks {
            let r = t.await.unwrap();
            if r.status() == 200 {
                let j = assert_token_ok(&r);
                successors.push(j["refresh_token"].as_str().unwrap().to_owned());
            } else {
                assert_token_err(&r, 400, "invalid_grant");
            }
        }
        assert_eq!(successors.len(), 1, "exactly one rotation must win");
        // The losers presented a rotated token: reuse, so the family (the winner's successor
        // included) is revoked.
        let r = h
            .token(&refresh_body(&successors[0], ""), Some(B_CONF))
            .await;
        assert_token_err(&r, 400, "invalid_grant");
    }
}

/// A refresh token is bound to its client (RFC 6749 §6, §10.4).
#[tokio::test]
async fn sec_58_refresh_token_is_bound_to_its_client() {
    let h = always();
    let (_, rt) = tokens(&h, &[]).await;
    let r = h.token(&refresh_body(&rt, ""), Some(B_OTHER)).await;
    assert_token_err(&r, 400, "invalid_grant");
    // Still usable by its own client: a foreign client's attempt is not reuse.
    assert_token_ok(&h.token(&refresh_body(&rt, ""), Some(B_CONF)).await);

    let code = h
        .code(&[
            ("client_id", Some("pub-client")),
            ("redirect_uri", Some(PUB_CB)),
        ])
        .await;
    let body = format!(
        "grant_type=authorization_code&client_id=pub-client&code={}&redirect_uri={}&code_verifier={V}",
        enc(&code),
        enc(PUB_CB)
    );
    let j = assert_token_ok(&h.token(&body, None).await);
    let prt = j["refresh_token"].as_str().unwrap();
    let r = h
        .token(&refresh_body(prt, "&client_id=pub-client2"), None)
        .await;
    assert_token_err(&r, 400, "invalid_grant");
}

/// A confidential client must authenticate to refresh (RFC 6749 §6).
#[tokio::test]
async fn sec_59_confidential_client_must_authenticate_to_refresh() {
    let h = always();
    let (_, rt) = tokens(&h, &[]).await;
    let r = h
        .token(&refresh_body(&rt, "&client_id=conf-client"), None)
        .await;
    assert_token_err(&r, 401, "invalid_client");
}

/// Scope may narrow, never widen; the rotated token keeps the original scope (RFC 6749 §6).
#[tokio::test]
async fn sec_60_scope_narrows_never_widens() {
    let h = always();
    let (_, rt1) = tokens(&h, &[("scope", Some("openid read write"))]).await;
    let j = assert_token_ok(
        &h.token(&refresh_body(&rt1, "&scope=read"), Some(B_CONF))
            .await,
    );
    assert_eq!(j["scope"], "read");
    let rt2 = j["refresh_token"].as_str().unwrap().to_owned();
    let j = assert_token_ok(
        &h.token(&refresh_body(&rt2, "&scope=read+write"), Some(B_CONF))
            .await,
    );
    assert_eq!(j["scope"], "read write");
    let rt3 = j["refresh_token"].as_str().unwrap().to_owned();
    let r = h
        .token(&refresh_body(&rt3, "&scope=read+admin"), Some(B_CONF))
        .await;
    assert_token_err(&r, 400, "invalid_scope");
    // A refused request does not spend the token; omitted scope → the original scope.
    let j = assert_token_ok(&h.token(&refresh_body(&rt3, ""), Some(B_CONF)).await);
    assert_eq!(j["scope"], "openid read write");
}

/// Expired (idle) refresh tokens are invalid_grant (RFC 6749 §5.2, RFC 9700 §4.14.2).
#[tokio::test]
async fn sec_61_idle_refresh_token_expires() {
    let mut p = policy();
    p.refresh_tokens = RefreshTokenPolicy::Always;
    p.refresh_token_idle_lifetime = std::time::Duration::from_secs(3600);
    let h = harness_with(p);
    let (_, rt) = tokens(&h, &[]).await;
    h.advance(3601);
    let r = h.token(&refresh_body(&rt, ""), Some(B_CONF)).await;
    assert_token_err(&r, 400, "invalid_grant");
}

/// Each rotation starts a new idle period, but the family's absolute lifetime caps it.
#[tokio::test]
async fn refresh_family_absolute_lifetime_caps_rotation_rfc9700_4_14_2() {
    let mut p = policy();
    p.refresh_tokens = RefreshTokenPolicy::Always;
    p.refresh_token_idle_lifetime = std::time::Duration::from_secs(100);
    p.refresh_token_absolute_lifetime = std::time::Duration::from_secs(250);
    let h = harness_with(p);
    let (_, mut rt) = tokens(&h, &[]).await;
    for _ in 0..2 {
        h.advance(90);
        let j = assert_token_ok(&h.token(&refresh_body(&rt, ""), Some(B_CONF)).await);
        rt = j["refresh_token"].as_str().unwrap().to_owned();
    }
    h.advance(90); // t0+270: within the idle period, past the absolute one
    let r = h.token(&refresh_body(&rt, ""), Some(B_CONF)).await;
    assert_token_err(&r, 400, "invalid_grant");
}

/// A replayed code also kills the refresh tokens issued from it (RFC 6749 §4.1.2).
#[tokio::test]
async fn sec_52_code_replay_revokes_refresh_token() {
    let h = always();
    let code = h.code(&[]).await;
    let j = assert_token_ok(&h.exch(&code).await);
    let rt = j["refresh_token"].as_str().unwrap().to_owned();
    assert_token_err(&h.exch(&code).await, 400, "invalid_grant");
    let r = h.token(&refresh_body(&rt, ""), Some(B_CONF)).await;
    assert_token_err(&r, 400, "invalid_grant");
}

/// OIDC Core §11: offline_access needs prompt=consent; under the default policy an OIDC
/// request gets a refresh token only with offline_access granted.
#[tokio::test]
async fn sec_73_offline_access_only_with_prompt_consent() {
    let h = harness();
    let code = h.code(&[("scope", Some("openid offline_access"))]).await;
    let j = assert_token_ok(&h.exch(&code).await);
    assert!(j.get("refresh_token").is_none(), "{j}");
    assert_eq!(j["scope"], "openid");

    // With prompt=consent the consent page is shown; an explicit allow yields the token.
    let r = h
        .authorize(&authz(&[
            ("scope", Some("openid offline_access")),
            ("prompt", Some("consent")),
        ]))
        .await;
    assert_eq!(r.status(), 200, "consent page expected");
    let page = String::from_utf8_lossy(r.body()).to_string();
    let field = |name: &str| {
        let marker = format!("name=\"{name}\" value=\"");
        let start = page.find(&marker).unwrap() + marker.len();
        page[start..start + page[start..].find('"').unwrap()].to_owned()
    };
    let body = format!(
        "interaction={}&csrf_token={}&consent=allow",
        field("interaction"),
        field("csrf_token")
    );
    let req = grantor::http::Request::post("/authorize/resume")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", &h.alice_cookie)
        .body(body.into_bytes())
        .unwrap();
    let r = h.server.resume(req).await;
    let code = assert_code_redirect(&r, CB, Some("xyz"));
    let j = assert_token_ok(&h.exch(&code).await);
    assert!(j["refresh_token"].is_string(), "{j}");
    assert_eq!(j["scope"], "openid offline_access");
}

/// Plain OAuth requests (no openid) get a refresh token under the default policy when the
/// client is allowed the grant.
#[tokio::test]
async fn refresh_token_for_plain_oauth_request_under_default_policy() {
    let h = harness();
    let code = h.code(&[("scope", Some("read")), ("nonce", None)]).await;
    let j = assert_token_ok(&h.exch(&code).await);
    assert!(j["refresh_token"].is_string());
}

/// A policy whose absolute refresh lifetime is shorter than the idle one is refused.
#[test]
fn refresh_lifetimes_are_validated() {
    let mut p = Policy::default();
    p.refresh_token_absolute_lifetime = std::time::Duration::from_secs(10);
    p.refresh_token_idle_lifetime = std::time::Duration::from_secs(20);
    let built = grantor::AuthorizationServer::builder()
        .issuer(ISS)
        .clients(clients())
        .grants(grantor::memory::MemoryGrantStore::new())
        .authenticator(grantor::memory::MemorySessions::new("/login"))
        .consent(grantor::memory::MemoryConsent::new())
        .policy(p)
        .build();
    assert!(built.is_err());
}
