//! Checklist sections H (client_credentials), J (revocation, RFC 7009) and K (introspection,
//! RFC 7662), and the /revoke and /introspect parts of SEC-06.
mod common;
use common::*;

use grantor::http::{header, Request};
use grantor::{AccessTokenFormat, HttpResponse, RefreshTokenPolicy};

fn always() -> Harness {
    let mut p = policy();
    p.refresh_tokens = RefreshTokenPolicy::Always;
    harness_with(p)
}

async fn form(h: &Harness, path: &str, body: &str, auth: Option<&str>) -> HttpResponse {
    let mut req =
        Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    let req = req.body(body.as_bytes().to_vec()).unwrap();
    match path {
        "/revoke" => h.server.revoke(req).await,
        "/introspect" => h.server.introspect(req).await,
        _ => h.server.token(req).await,
    }
}

async fn introspect(h: &Harness, token: &str) -> serde_json::Value {
    let r = form(
        h,
        "/introspect",
        &format!("token={}", enc(token)),
        Some(B_RS),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
    json(&r)
}

/// (AT1, RT1) for conf-client, scope "openid read".
async fn tokens(h: &Harness) -> (String, String) {
    let code = h.code(&[]).await;
    let j = assert_token_ok(&h.exch(&code).await);
    (
        j["access_token"].as_str().unwrap().into(),
        j["refresh_token"].as_str().unwrap().into(),
    )
}

fn refresh_body(rt: &str) -> String {
    format!("grant_type=refresh_token&refresh_token={}", enc(rt))
}

/// SEC-06 for /revoke and /introspect (RFC 7009 §2.1, RFC 7662 §2.1: POST).
#[tokio::test]
async fn sec_06_revoke_and_introspect_are_post_only() {
    let h = harness();
    for (path, get) in [("/revoke", true), ("/introspect", false)] {
        let req = Request::get(format!("{path}?token=x"))
            .header(header::AUTHORIZATION, B_CONF)
            .body(Vec::new())
            .unwrap();
        let r = if get {
            h.server.revoke(req).await
        } else {
            h.server.introspect(req).await
        };
        assert_eq!(r.status(), 405, "{path}");
        assert_eq!(r.headers()[header::ALLOW], "POST");
        assert_eq!(json(&r)["error"], "invalid_request");
    }
}

/// SEC-38: client_secret_basic credentials are form-urlencoded before base64 (RFC 6749
/// §2.3.1, Appendix B).
#[tokio::test]
async fn sec_38_basic_credentials_are_form_urlencoded() {
    let h = harness();
    let body = "grant_type=client_credentials";
    for ok in [
        "Basic YW4lM0FpZGVudGlmaWVyOnNvbWUrc2VjdXJlKyUyNitub24tc3RhbmRhcmQrc2VjcmV0",
        "Basic YW4lM0FpZGVudGlmaWVyOnNvbWUrc2VjdXJlKyUyNitub24lMkRzdGFuZGFyZCtzZWNyZXQ=",
    ] {
        assert_token_ok(&h.token(body, Some(ok)).await);
    }
    let raw = "Basic YW46aWRlbnRpZmllcjpzb21lIHNlY3VyZSAmIG5vbi1zdGFuZGFyZCBzZWNyZXQ=";
    assert_token_err(&h.token(body, Some(raw)).await, 401, "invalid_client");
    assert_token_err(
        &h.token(body, Some("Basic JSUlOnMzY3IzdA==")).await,
        400,
        "invalid_request",
    );
}

/// SEC-39: client_secret_post (RFC 6749 §2.3.1, OAuth 2.1 §2.4.1).
#[tokio::test]
async fn sec_39_client_secret_post_client_credentials() {
    let h = harness();
    let r = h
        .token(
            "grant_type=client_credentials&client_id=post-client&client_secret=s3cr3t",
            None,
        )
        .await;
    assert_token_ok(&r);
}

/// SEC-50: a public client cannot use client_credentials (RFC 6749 §4.4).
#[tokio::test]
async fn sec_50_public_client_gets_unauthorized_client_for_client_credentials() {
    let h = harness();
    let r = h
        .token("grant_type=client_credentials&client_id=pub-client", None)
        .await;
    assert_token_err(&r, 400, "unauthorized_client");
}

/// SEC-63: confidential clients only, scope checked, no refresh token (RFC 6749 §4.4.3).
#[tokio::test]
async fn sec_63_client_credentials_rules() {
    let h = always();
    let j = assert_token_ok(
        &h.token("grant_type=client_credentials&scope=read", Some(B_CONF))
            .await,
    );
    assert!(j.get("refresh_token").is_none());
    assert!(j.get("id_token").is_none());
    assert_eq!(j["scope"], "read");
    let r = h
        .token(
            "grant_type=client_credentials&scope=read+admin",
            Some(B_CONF),
        )
        .await;
    assert_token_err(&r, 400, "invalid_scope");
    let r = h.token("grant_type=client_credentials", None).await;
    assert_token_err(&r, 401, "invalid_client");
    // Without a scope: everything the client may use except end-user scopes.
    let j = assert_token_ok(&h.token("grant_type=client_credentials", Some(B_CONF)).await);
    assert_eq!(j["scope"], "read write");
}

/// SEC-64: a client_credentials token never carries a user-shaped `sub` (RFC 9700 §4.15.1).
#[tokio::test]
async fn sec_64_client_credentials_token_has_no_user_subject() {
    let h = harness();
    let j = assert_token_ok(
        &h.token("grant_type=client_credentials&scope=read", Some(B_CONF))
            .await,
    );
    let i = introspect(&h, j["access_token"].as_str().unwrap()).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["client_id"], "conf-client");
    assert!(i.get("sub").is_none(), "{i}");
}

/// SEC-79: revocation needs client authentication (RFC 7009 §2.1).
#[tokio::test]
async fn sec_79_revocation_requires_client_authentication() {
    let h = always();
    let (_, rt1) = tokens(&h).await;
    let r = form(&h, "/revoke", &format!("token={}", enc(&rt1)), Some(B_BAD)).await;
    assert_token_err(&r, 401, "invalid_client");
    let r = form(&h, "/revoke", &format!("token={}", enc(&rt1)), None).await;
    assert_token_err(&r, 401, "invalid_client");
    assert_token_ok(&h.token(&refresh_body(&rt1), Some(B_CONF)).await);
}

/// SEC-80: unknown or already revoked tokens answer 200 (RFC 7009 §2.2); no token is
/// invalid_request.
#[tokio::test]
async fn sec_80_unknown_token_is_200() {
    let h = always();
    let r = form(&h, "/revoke", "token=garbage", Some(B_CONF)).await;
    assert_eq!(r.status(), 200);
    let (_, rt1) = tokens(&h).await;
    for _ in 0..2 {
        let r = form(&h, "/revoke", &format!("token={}", enc(&rt1)), Some(B_CONF)).await;
        assert_eq!(r.status(), 200);
    }
    let r = form(&h, "/revoke", "token_type_hint=access_token", Some(B_CONF)).await;
    assert_token_err(&r, 400, "invalid_request");
}

/// SEC-81: token_type_hint is only a hint (RFC 7009 §2.1, §2.2).
#[tokio::test]
async fn sec_81_hint_is_only_a_hint() {
    let h = always();
    let (_, rt1) = tokens(&h).await;
    let r = form(
        &h,
        "/revoke",
        &format!("token={}&token_type_hint=access_token", enc(&rt1)),
        Some(B_CONF),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_token_err(
        &h.token(&refresh_body(&rt1), Some(B_CONF)).await,
        400,
        "invalid_grant",
    );

    let h = always();
    let (at1b, _) = tokens(&h).await;
    let r = form(
        &h,
        "/revoke",
        &format!("token={}&token_type_hint=foo", enc(&at1b)),
        Some(B_CONF),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        introspect(&h, &at1b).await,
        serde_json::json!({"active": false})
    );
}

/// SEC-81: self-contained JWT access tokens cannot be revoked (RFC 7009 §2.2.1).
#[tokio::test]
async fn sec_81_jwt_access_token_is_unsupported_token_type() {
    let mut p = policy();
    p.access_tokens = AccessTokenFormat::Jwt;
    let h = harness_with(p);
    let code = h.code(&[]).await;
    let at = assert_token_ok(&h.exch(&code).await)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = form(&h, "/revoke", &format!("token={}", enc(&at)), Some(B_CONF)).await;
    assert_token_err(&r, 400, "unsupported_token_type");
}

/// SEC-82: revoking a refresh token invalidates the access tokens of the grant (RFC 7009
/// §2.1).
#[tokio::test]
async fn sec_82_revoking_refresh_token_cascades() {
    let h = always();
    let (at1, rt1) = tokens(&h).await;
    let r = form(&h, "/revoke", &format!("token={}", enc(&rt1)), Some(B_CONF)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        introspect(&h, &at1).await,
        serde_json::json!({"active": false})
    );
    let req = Request::get("/userinfo")
        .header(header::AUTHORIZATION, format!("Bearer {at1}"))
        .body(Vec::new())
        .unwrap();
    let r = h.server.userinfo(req).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .contains("error=\"invalid_token\""));
}

/// SEC-83: a client cannot revoke another client's token (RFC 7009 §2.1).
#[tokio::test]
async fn sec_83_cannot_revoke_another_clients_token() {
    let h = always();
    let (at1, rt1) = tokens(&h).await;
    for t in [&rt1, &at1] {
        let r = form(&h, "/revoke", &format!("token={}", enc(t)), Some(B_OTHER)).await;
        assert_token_err(&r, 400, "invalid_request");
    }
    assert_eq!(introspect(&h, &at1).await["active"], true);
    assert_token_ok(&h.token(&refresh_body(&rt1), Some(B_CONF)).await);
}

/// SEC-84: introspection needs client authentication (RFC 7662 §2.1, §4).
#[tokio::test]
async fn sec_84_introspection_requires_authentication() {
    let h = always();
    let (at1, _) = tokens(&h).await;
    let body = format!("token={}", enc(&at1));
    assert_token_err(
        &form(&h, "/introspect", &body, None).await,
        401,
        "invalid_client",
    );
    assert_token_err(
        &form(&h, "/introspect", &body, Some(B_BAD)).await,
        401,
        "invalid_client",
    );
    // A public client cannot introspect.
    let r = form(
        &h,
        "/introspect",
        &format!("{body}&client_id=pub-client"),
        None,
    )
    .await;
    assert_token_err(&r, 401, "invalid_client");
    // A client may see its own tokens; another (non resource-server) client sees nothing.
    let r = form(&h, "/introspect", &body, Some(B_CONF)).await;
    assert_eq!(json(&r)["active"], true);
    let r = form(&h, "/introspect", &body, Some(B_OTHER)).await;
    assert_eq!(json(&r), serde_json::json!({"active": false}));
}

/// SEC-85: anything not active is exactly {"active":false} (RFC 7662 §2.2).
#[tokio::test]
async fn sec_85_inactive_is_exactly_active_false() {
    let h = always();
    let inactive = serde_json::json!({"active": false});
    assert_eq!(introspect(&h, "garbage").await, inactive);
    // A used code.
    let code = h.code(&[]).await;
    let j = assert_token_ok(&h.exch(&code).await);
    assert_eq!(introspect(&h, &code).await, inactive);
    // A rotated-out refresh token.
    let rt1 = j["refresh_token"].as_str().unwrap().to_owned();
    let j2 = assert_token_ok(&h.token(&refresh_body(&rt1), Some(B_CONF)).await);
    assert_eq!(introspect(&h, &rt1).await, inactive);
    // A revoked access token.
    let at2 = j2["access_token"].as_str().unwrap().to_owned();
    form(&h, "/revoke", &format!("token={}", enc(&at2)), Some(B_CONF)).await;
    assert_eq!(introspect(&h, &at2).await, inactive);
    // An expired access token.
    let (at, _) = tokens(&h).await;
    h.advance(3601);
    assert_eq!(introspect(&h, &at).await, inactive);
}

/// SEC-86 and SEC-52: an active token's members, and a replayed code's token inactive
/// (RFC 7662 §2.2; RFC 6749 §4.1.2).
#[tokio::test]
async fn sec_86_active_token_members() {
    let h = always();
    let code = h.code(&[]).await;
    let j = assert_token_ok(&h.exch(&code).await);
    let at1 = j["access_token"].as_str().unwrap();
    let i = introspect(&h, at1).await;
    assert_eq!(
        i,
        serde_json::json!({"active": true, "scope": "openid read", "client_id": "conf-client",
            "token_type": "Bearer", "exp": T0 + 3600, "iat": T0, "sub": ALICE, "iss": ISS})
    );
    let r = form(
        &h,
        "/introspect",
        &format!("token={}&token_type_hint=refresh_token", enc(at1)),
        Some(B_RS),
    )
    .await;
    assert_eq!(json(&r)["active"], true);
    // SEC-52: a valid replay of the code revokes AT1.
    assert_token_err(&h.exch(&code).await, 400, "invalid_grant");
    assert_eq!(
        introspect(&h, at1).await,
        serde_json::json!({"active": false})
    );
}

/// SEC-24 (form_post part): an auto-submitting page POSTs the response to the redirect URI,
/// with escaped hidden inputs and no-store (OAuth 2.0 Form Post Response Mode §2), for
/// successes and errors alike.
#[tokio::test]
async fn sec_24_form_post_response_mode() {
    let h = harness();
    let r = h
        .authorize(&authz(&[
            ("response_mode", Some("form_post")),
            ("state", Some("x\"><script>")),
        ]))
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get(header::LOCATION).is_none());
    assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "DENY");
    let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'sha256-"));
    let page = String::from_utf8_lossy(r.body()).to_string();
    assert!(page.contains(&format!("<form method=\"post\" action=\"{CB}\">")));
    assert!(page.contains("name=\"code\" value=\""));
    assert!(page.contains("name=\"state\" value=\"x&quot;&gt;&lt;script&gt;\""));
    assert!(page.contains(&format!("name=\"iss\" value=\"{ISS}\"")));
    assert!(page.contains("<noscript>"), "must work without JavaScript");

    let r = h
        .authorize(&authz(&[
            ("response_mode", Some("form_post")),
            ("scope", Some("openid admin")),
        ]))
        .await;
    assert_eq!(r.status(), 200);
    let page = String::from_utf8_lossy(r.body()).to_string();
    assert!(page.contains("name=\"error\" value=\"invalid_scope\""));
    assert!(!page.contains("name=\"code\""));
}

/// A revoked access token fails the resource-server verifier and introspects inactive
/// (RFC 7009 §2.1, RFC 7662 §2.2, RFC 6750 §3.1).
#[tokio::test]
async fn revoked_access_token_fails_the_verifier() {
    let h = always();
    let (at, _) = tokens(&h).await;
    assert!(h.server.verify_access_token(&at).await.is_ok());
    let r = form(&h, "/revoke", &format!("token={}", enc(&at)), Some(B_CONF)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        h.server.verify_access_token(&at).await.unwrap_err(),
        grantor::resource::BearerError::InvalidToken
    );
    let mut headers = grantor::http::HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        format!("Bearer {at}").parse().unwrap(),
    );
    let e = h
        .server
        .authenticate_bearer(&headers, None)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 401);
    assert_eq!(
        e.challenge(ISS),
        "Bearer realm=\"https://as.example\", error=\"invalid_token\""
    );
    assert_eq!(
        introspect(&h, &at).await,
        serde_json::json!({"active": false})
    );
}
