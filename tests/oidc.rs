//! OpenID Connect: ID tokens (checklist SEC-55, 62, 65, 66, 68), RFC 9068 JWT access tokens,
//! key rotation, discovery and JWKS (SEC-87, 88) and userinfo (SEC-74..78).
//!
//! Every JWT is verified with `jsonwebtoken` against the JWK set the server publishes, the way
//! a relying party would, never through grantor's own verifier. prompt/max_age (SEC-69..71)
//! are covered in tests/security_authorize.rs.
mod common;
use common::*;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use grantor::http::{header, Request, StatusCode};
use grantor::memory::{MemoryConsent, MemoryGrantStore, MemorySessions};
use grantor::resource::BearerError;
use grantor::token::{KeyError, KeySet, SigningAlgorithm, SigningKey};
use grantor::{
    AccessTokenFormat, AuthorizationServer, Client, ClientSecret, ConfigError, GrantType,
    HttpResponse, Policy, RefreshTokenPolicy, ScopeSet,
};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256, Sha512};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Extra clients, one per ID-token algorithm, allowed `email` too (the fixtures are not).
const ALG_CLIENTS: [(&str, SigningAlgorithm, &str); 3] = [
    ("alg-rs256", SigningAlgorithm::RS256, "rs-1"),
    ("alg-es256", SigningAlgorithm::ES256, "es-1"),
    ("alg-eddsa", SigningAlgorithm::EdDSA, "ed-1"),
];
const ALG_SCOPES: &str = "openid profile email read";

fn add_alg_clients(h: &Harness) {
    for (id, alg, _) in ALG_CLIENTS {
        h.clients.insert(
            Client::builder(id)
                .secret(ClientSecret::new("s3cr3t"))
                .redirect_uri(CB)
                .grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
                .scopes(ALG_SCOPES)
                .id_token_signing_alg(alg)
                .build()
                .unwrap(),
        );
        h.consent
            .grant(ALICE, id, &ScopeSet::parse(ALG_SCOPES).unwrap());
    }
}

/// `Authorization: Basic` for a client whose secret is `s3cr3t`.
fn basic(client_id: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{client_id}:s3cr3t")))
}

/// AUTHZ{client_id=<client>, overrides} then EXCH with the client's credentials.
async fn issue(h: &Harness, client: &str, overrides: &[(&str, Option<&str>)]) -> Value {
    let mut all = vec![("client_id", Some(client))];
    all.extend_from_slice(overrides);
    let code = h.code(&all).await;
    let r = h.token(&exch_body(&code), Some(&basic(client))).await;
    assert_token_ok(&r)
}

fn str_of<'a>(j: &'a Value, name: &str) -> &'a str {
    j[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {j}"))
}

fn b64_json(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

fn header_of(jwt: &str) -> Value {
    b64_json(jwt.split('.').next().unwrap())
}

fn payload_of(jwt: &str) -> Value {
    b64_json(jwt.split('.').nth(1).expect("not a JWS"))
}

fn jwks_of(server: &AuthorizationServer) -> Value {
    let r = server.jwks();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
    json(&r)
}

fn kids(server: &AuthorizationServer) -> Vec<String> {
    jwks_of(server)["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Verifies `jwt` as a relying party would: the header names a key by `kid` that is in the
/// server's published JWK set, the `alg` is a real signature algorithm, and `jsonwebtoken`
/// checks the signature, `iss` and `aud`. Returns the header and the claims.
///
/// `exp` is not checked here (the server's clock is a ManualClock in 2023, jsonwebtoken's is
/// the system's); callers compare `exp` with the manual clock exactly.
fn verify_jwt(server: &AuthorizationServer, jwt: &str, aud: &str) -> (Value, Value) {
    let header = header_of(jwt);
    for forbidden in ["x5u", "jku", "jwk", "x5c", "crit"] {
        assert!(header.get(forbidden).is_none(), "{forbidden} in {header}");
    }
    let alg = str_of(&header, "alg");
    assert!(!alg.eq_ignore_ascii_case("none"));
    assert!(!alg.starts_with("HS"), "{alg}");
    let kid = str_of(&header, "kid");
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_slice(server.jwks().body()).expect("JWK set");
    let jwk = set
        .find(kid)
        .unwrap_or_else(|| panic!("kid {kid} not in the JWK set"));
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(alg.parse().unwrap());
    v.validate_exp = false;
    v.set_audience(&[aud]);
    v.set_issuer(&[server.issuer()]);
    v.set_required_spec_claims(&["iss", "sub", "aud", "exp", "iat"]);
    let data = jsonwebtoken::decode::<Value>(jwt, &key, &v)
        .unwrap_or_else(|e| panic!("{alg} JWT does not verify against the JWKS: {e}"));
    assert_eq!(data.header.kid.as_deref(), Some(kid));
    // What jsonwebtoken verified is what the token says.
    assert_eq!(data.claims, payload_of(jwt));
    (header, data.claims)
}

/// `at_hash` computed here, independently of grantor (OIDC Core §3.1.3.6): base64url of the
/// left half of the hash of the access token's ASCII bytes. SHA-256 for RS256/ES256; for
/// EdDSA (Ed25519) SHA-512, the OpenID Foundation's resolution grantor documents.
fn expected_at_hash(alg: &str, access_token: &str) -> String {
    match alg {
        "RS256" | "ES256" => {
            let d = Sha256::digest(access_token.as_bytes());
            assert_eq!(d.len(), 32);
            URL_SAFE_NO_PAD.encode(&d[..16])
        }
        "EdDSA" => {
            let d = Sha512::digest(access_token.as_bytes());
            URL_SAFE_NO_PAD.encode(&d[..32])
        }
        other => panic!("unexpected alg {other}"),
    }
}

fn names(j: &Value) -> Vec<String> {
    let mut v: Vec<String> = j.as_object().unwrap().keys().cloned().collect();
    v.sort();
    v
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn now(h: &Harness) -> u64 {
    use grantor::Clock as _;
    h.clock.now()
}

fn jwt_policy() -> Policy {
    let mut p = policy();
    p.access_tokens = AccessTokenFormat::Jwt;
    p
}

fn always_refresh() -> Policy {
    let mut p = policy();
    p.refresh_tokens = RefreshTokenPolicy::Always;
    p
}

fn refresh_body(rt: &str) -> String {
    format!("grant_type=refresh_token&refresh_token={}", enc(rt))
}

/// A request to the userinfo endpoint.
async fn userinfo(
    h: &Harness,
    method: &str,
    uri: &str,
    authorization: Option<&str>,
    form: Option<&str>,
) -> HttpResponse {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(a) = authorization {
        req = req.header(header::AUTHORIZATION, a);
    }
    if form.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let body = form.unwrap_or("").as_bytes().to_vec();
    h.server.userinfo(req.body(body).unwrap()).await
}

/// A userinfo success: 200, JSON, and the body.
fn userinfo_ok(r: &HttpResponse) -> Value {
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "{r:?} {}",
        String::from_utf8_lossy(r.body())
    );
    let ct = r.headers()[header::CONTENT_TYPE].to_str().unwrap();
    assert!(ct.starts_with("application/json"), "{ct}");
    json(r)
}

/// A userinfo refusal: `status` with exactly one `WWW-Authenticate` equal to `challenge`.
fn assert_bearer_refusal(r: &HttpResponse, status: u16, challenge: &str) {
    assert_eq!(r.status().as_u16(), status, "{r:?}");
    let mut all = r.headers().get_all(header::WWW_AUTHENTICATE).iter();
    assert_eq!(all.next().expect("no WWW-Authenticate"), challenge);
    assert!(all.next().is_none(), "two challenges");
    assert!(
        !String::from_utf8_lossy(r.body()).contains("sub"),
        "claims in an error"
    );
}

const NO_TOKEN: &str = "Bearer realm=\"https://as.example\"";
const INVALID_TOKEN: &str = "Bearer realm=\"https://as.example\", error=\"invalid_token\"";
const INVALID_REQUEST: &str = "Bearer realm=\"https://as.example\", error=\"invalid_request\"";

// ---------------------------------------------------------------------------------------
// ID tokens
// ---------------------------------------------------------------------------------------

/// SEC-65, SEC-68 (OIDC Core §2, §3.1.3.3, §3.1.3.6, §3.1.3.7, §16.15): the ID token of every
/// algorithm verifies against the published JWK set by `kid`, with exact claims and headers,
/// and an `at_hash` that matches the access token.
#[tokio::test]
async fn sec_65_id_token_verifies_with_exact_claims_for_every_algorithm() {
    let h = harness();
    add_alg_clients(&h);
    let cases = [
        ("conf-client", "RS256", "rs-1", "openid read"),
        ("alg-rs256", "RS256", "rs-1", ALG_SCOPES),
        ("alg-es256", "ES256", "es-1", ALG_SCOPES),
        ("alg-eddsa", "EdDSA", "ed-1", ALG_SCOPES),
    ];
    for (client, alg, kid, scope) in cases {
        let j = issue(&h, client, &[("scope", Some(scope))]).await;
        assert_eq!(j["scope"], scope);
        let at = str_of(&j, "access_token");
        let id = str_of(&j, "id_token");
        let (head, claims) = verify_jwt(&h.server, id, client);
        assert_eq!(
            head,
            json!({"alg": alg, "typ": "JWT", "kid": kid}),
            "{client}"
        );
        assert_eq!(claims["iss"], "https://as.example");
        assert_eq!(claims["sub"], ALICE);
        assert_eq!(claims["aud"], client);
        assert_eq!(claims["iat"], T0);
        assert_eq!(claims["exp"], T0 + 3600);
        assert!(claims["exp"].as_u64() > claims["iat"].as_u64());
        assert_eq!(claims["auth_time"], T0 - 10);
        assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
        // SEC-68: left half of the alg's hash, computed here.
        assert_eq!(claims["at_hash"], expected_at_hash(alg, at), "{client}");
        let mut expected = vec![
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "at_hash",
        ];
        if scope == ALG_SCOPES {
            assert_eq!(claims["name"], "Alice Liddell");
            assert_eq!(claims["email"], "alice@example.com");
            assert_eq!(claims["email_verified"], true);
            expected.extend(["name", "email", "email_verified"]);
        }
        assert_eq!(names(&claims), sorted(&expected), "{client}");
        // The JWK that verified it is for the same algorithm.
        let jwks = jwks_of(&h.server);
        let jwk = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .unwrap();
        assert_eq!(jwk["alg"], alg);
        assert_eq!(jwk["use"], "sig");
    }
}

/// SEC-65 (OIDC Core §3.1.3.7 steps 2, 3, 6): a relying party rejects the ID token for another
/// audience, another issuer, or an altered payload, so the checks above can fail.
#[tokio::test]
async fn sec_65_id_token_fails_verification_when_altered_or_misaddressed() {
    let h = harness();
    let j = issue(&h, "conf-client", &[]).await;
    let id = str_of(&j, "id_token");
    let header = jsonwebtoken::decode_header(id).unwrap();
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(h.server.jwks().body()).unwrap();
    let key =
        jsonwebtoken::DecodingKey::from_jwk(set.find(header.kid.as_deref().unwrap()).unwrap())
            .unwrap();
    let validation = |aud: &str, iss: &str| {
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.validate_exp = false;
        v.set_audience(&[aud]);
        v.set_issuer(&[iss]);
        v
    };
    assert!(jsonwebtoken::decode::<Value>(id, &key, &validation("conf-client", ISS)).is_ok());
    assert!(jsonwebtoken::decode::<Value>(id, &key, &validation("other-client", ISS)).is_err());
    assert!(
        jsonwebtoken::decode::<Value>(id, &key, &validation("conf-client", "https://evil"))
            .is_err()
    );
    let parts: Vec<&str> = id.split('.').collect();
    let mut forged = payload_of(id);
    forged["sub"] = json!("mallory");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged.to_string()),
        parts[2]
    );
    assert!(jsonwebtoken::decode::<Value>(&forged, &key, &validation("conf-client", ISS)).is_err());
    // And with the system clock, the 2023 token is expired: exp is really enforced there.
    let mut strict = validation("conf-client", ISS);
    strict.validate_exp = true;
    assert!(jsonwebtoken::decode::<Value>(id, &key, &strict).is_err());
}

/// SEC-66 (OIDC Core §2, §3.1.2.1): the nonce is echoed byte for byte, and absent when none
/// was sent.
#[tokio::test]
async fn sec_66_nonce_is_echoed_exactly() {
    let h = harness();
    for nonce in ["n-0S6_WzA2Mj", "éX+", "a \"quoted\" \\ nonce & more="] {
        let j = issue(&h, "conf-client", &[("nonce", Some(nonce))]).await;
        let (_, claims) = verify_jwt(&h.server, str_of(&j, "id_token"), "conf-client");
        assert_eq!(claims["nonce"], nonce);
    }
    let j = issue(&h, "conf-client", &[("nonce", None)]).await;
    let (_, claims) = verify_jwt(&h.server, str_of(&j, "id_token"), "conf-client");
    assert!(claims.get("nonce").is_none(), "{claims}");
    assert_eq!(claims["sub"], ALICE);
}

/// SEC-55 (OIDC Core §3.1.3.2, §3.1.3.3): an ID token only for codes from `openid` requests.
#[tokio::test]
async fn sec_55_id_token_only_for_openid_requests() {
    let h = harness();
    let j = issue(&h, "conf-client", &[("scope", Some("read"))]).await;
    assert_eq!(j["scope"], "read");
    assert!(j.get("id_token").is_none(), "{j}");
    let j = issue(&h, "conf-client", &[("scope", Some("read openid"))]).await;
    let (_, claims) = verify_jwt(&h.server, str_of(&j, "id_token"), "conf-client");
    assert_eq!(claims["sub"], ALICE);
}

/// OIDC Core §5.4: ID-token claims follow the granted scope (`profile` → name, `email` →
/// email and email_verified); `sub` is never taken from the claims provider.
#[tokio::test]
async fn id_token_claims_follow_scope_oidc_5_4() {
    let h = harness();
    add_alg_clients(&h);
    let base = [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "at_hash",
    ];
    let cases: [(&str, &[&str]); 4] = [
        ("openid", &[]),
        ("openid profile", &["name"]),
        ("openid email", &["email", "email_verified"]),
        ("openid profile email", &["name", "email", "email_verified"]),
    ];
    for (scope, extra) in cases {
        let j = issue(&h, "alg-es256", &[("scope", Some(scope))]).await;
        let (_, claims) = verify_jwt(&h.server, str_of(&j, "id_token"), "alg-es256");
        let mut expected = base.to_vec();
        expected.extend_from_slice(extra);
        assert_eq!(names(&claims), sorted(&expected), "{scope}");
    }
}

/// SEC-62 (OIDC Core §12.2): an ID token from a refresh has the same iss, sub, aud and
/// auth_time, a new iat, no nonce, and an at_hash of the new access token.
#[tokio::test]
async fn sec_62_id_token_from_refresh() {
    let h = harness_with(always_refresh());
    add_alg_clients(&h);
    for (client, alg) in [("conf-client", "RS256"), ("alg-eddsa", "EdDSA")] {
        let j = issue(&h, client, &[("scope", Some("openid profile read"))]).await;
        let (_, first) = verify_jwt(&h.server, str_of(&j, "id_token"), client);
        assert_eq!(first["nonce"], "n-0S6_WzA2Mj");
        let issued_at = now(&h);
        let rt = str_of(&j, "refresh_token").to_owned();
        h.advance(100);
        let r = h.token(&refresh_body(&rt), Some(&basic_for(client))).await;
        let j = assert_token_ok(&r);
        let (head, second) = verify_jwt(&h.server, str_of(&j, "id_token"), client);
        assert_eq!(head["alg"], alg);
        for same in ["iss", "sub", "aud", "auth_time", "name"] {
            assert_eq!(second[same], first[same], "{same}");
        }
        assert_eq!(second["auth_time"], T0 - 10);
        assert_eq!(second["iat"], issued_at + 100);
        assert_eq!(second["exp"], issued_at + 100 + 3600);
        assert!(second.get("nonce").is_none(), "{second}");
        assert_eq!(
            second["at_hash"],
            expected_at_hash(alg, str_of(&j, "access_token"))
        );
        // Narrowed to a scope without openid: no ID token.
        let rt2 = str_of(&j, "refresh_token");
        let r = h
            .token(
                &format!("{}&scope=read", refresh_body(rt2)),
                Some(&basic_for(client)),
            )
            .await;
        let j = assert_token_ok(&r);
        assert_eq!(j["scope"], "read");
        assert!(j.get("id_token").is_none(), "{j}");
    }
}

/// conf-client's fixture credentials, or `basic()` for the clients registered here.
fn basic_for(client: &str) -> String {
    if client == "conf-client" {
        B_CONF.to_owned()
    } else {
        basic(client)
    }
}

// ---------------------------------------------------------------------------------------
// JWT access tokens (RFC 9068)
// ---------------------------------------------------------------------------------------

/// RFC 9068 §2.1, §2.2: `typ: at+jwt`, and iss, sub, aud (the issuer by default), client_id,
/// scope, jti, iat, exp; verifiable against the JWK set; `verify_access_token` returns them.
#[tokio::test]
async fn jwt_access_token_claims_rfc9068_2() {
    let h = harness_with(jwt_policy());
    let j = issue(&h, "conf-client", &[]).await;
    let at = str_of(&j, "access_token").to_owned();
    assert_eq!(j["expires_in"], 3600);
    let (head, claims) = verify_jwt(&h.server, &at, ISS);
    assert_eq!(
        head,
        json!({"alg": "RS256", "typ": "at+jwt", "kid": "rs-1"})
    );
    assert_eq!(
        names(&claims),
        sorted(&[
            "iss",
            "sub",
            "aud",
            "client_id",
            "scope",
            "jti",
            "iat",
            "exp"
        ])
    );
    assert_eq!(claims["iss"], ISS);
    assert_eq!(claims["sub"], ALICE);
    assert_eq!(claims["aud"], ISS);
    assert_eq!(claims["client_id"], "conf-client");
    assert_eq!(claims["scope"], "openid read");
    assert_eq!(claims["iat"], T0);
    assert_eq!(claims["exp"], T0 + 3600);
    let jti = str_of(&claims, "jti").to_owned();
    assert!(jti.len() >= 22, "{jti}");

    // The ID token's at_hash is of the JWT.
    let (_, id) = verify_jwt(&h.server, str_of(&j, "id_token"), "conf-client");
    assert_eq!(id["at_hash"], expected_at_hash("RS256", &at));

    // jti is unique.
    let j2 = issue(&h, "conf-client", &[]).await;
    let (_, claims2) = verify_jwt(&h.server, str_of(&j2, "access_token"), ISS);
    assert_ne!(claims2["jti"], jti);

    let v = h.server.verify_access_token(&at).await.unwrap();
    assert_eq!(v.subject.as_deref(), Some(ALICE));
    assert_eq!(v.client_id, "conf-client");
    assert_eq!(v.scope.as_str(), "openid read");
    assert_eq!(v.issued_at, T0);
    assert_eq!(v.expires_at, T0 + 3600);

    // userinfo accepts it.
    let r = userinfo(&h, "GET", "/userinfo", Some(&format!("Bearer {at}")), None).await;
    assert_eq!(userinfo_ok(&r), json!({"sub": ALICE}));
}

/// RFC 9068 §4: a tampered, foreign-typed or expired JWT access token is refused, by
/// `verify_access_token` and by userinfo.
#[tokio::test]
async fn jwt_access_token_tampered_or_expired_is_refused_rfc9068_4() {
    let h = harness_with(jwt_policy());
    let j = issue(&h, "conf-client", &[]).await;
    let at = str_of(&j, "access_token").to_owned();
    let parts: Vec<&str> = at.split('.').collect();

    let mut forged = payload_of(&at);
    forged["scope"] = json!("openid read admin");
    let tampered_payload = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged.to_string()),
        parts[2]
    );
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[10] ^= 0x01;
    let tampered_sig = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
    // The ID token is signed by the same key but is not an access token (typ JWT).
    let id_token = str_of(&j, "id_token").to_owned();
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt","kid":"rs-1"}"#),
        parts[1]
    );
    for bad in [&tampered_payload, &tampered_sig, &id_token, &alg_none] {
        assert_eq!(
            h.server.verify_access_token(bad).await.unwrap_err(),
            BearerError::InvalidToken
        );
        let r = userinfo(&h, "GET", "/userinfo", Some(&format!("Bearer {bad}")), None).await;
        assert_bearer_refusal(&r, 401, INVALID_TOKEN);
    }
    assert!(h.server.verify_access_token(&at).await.is_ok());

    // Valid before exp, refused from exp on (RFC 7519 §4.1.4: the current time MUST be
    // before it).
    h.advance(3599);
    assert!(h.server.verify_access_token(&at).await.is_ok());
    h.advance(1);
    assert_eq!(payload_of(&at)["exp"], T0 + 3600);
    assert_eq!(
        h.server.verify_access_token(&at).await.unwrap_err(),
        BearerError::InvalidToken
    );
    let r = userinfo(&h, "GET", "/userinfo", Some(&format!("Bearer {at}")), None).await;
    assert_bearer_refusal(&r, 401, INVALID_TOKEN);
}

/// RFC 9068 §2.2, §4: the audience is configurable, and a JWT access token from another
/// issuer's keys or for another audience is refused.
#[tokio::test]
async fn jwt_access_token_audience_rfc9068_4() {
    let mut p = jwt_policy();
    p.access_token_audience = Some("https://api.example".into());
    let h = harness_with(p);
    let j = issue(&h, "conf-client", &[]).await;
    let at = str_of(&j, "access_token").to_owned();
    let (_, claims) = verify_jwt(&h.server, &at, "https://api.example");
    assert_eq!(claims["aud"], "https://api.example");
    assert_eq!(claims["iss"], ISS);
    assert!(h.server.verify_access_token(&at).await.is_ok());

    // The same keys, but a server whose audience is the issuer: the token is not for it.
    let other = harness_with(jwt_policy());
    assert_eq!(
        other.server.verify_access_token(&at).await.unwrap_err(),
        BearerError::InvalidToken
    );
}

/// RFC 9068 §2.2: a client_credentials JWT access token has the client as `sub`, and
/// `verify_access_token` reports no user.
#[tokio::test]
async fn jwt_access_token_for_client_credentials_rfc9068_2_2() {
    let h = harness_with(jwt_policy());
    let r = h
        .token("grant_type=client_credentials&scope=read", Some(B_CONF))
        .await;
    let j = assert_token_ok(&r);
    assert!(j.get("id_token").is_none());
    let at = str_of(&j, "access_token");
    let (head, claims) = verify_jwt(&h.server, at, ISS);
    assert_eq!(head["typ"], "at+jwt");
    assert_eq!(claims["sub"], "conf-client");
    assert_eq!(claims["client_id"], "conf-client");
    assert_eq!(claims["scope"], "read");
    let v = h.server.verify_access_token(at).await.unwrap();
    assert_eq!(v.subject, None);
    assert_eq!(v.client_id, "conf-client");
}

// ---------------------------------------------------------------------------------------
// Key rotation
// ---------------------------------------------------------------------------------------

/// SEC-88 (rotation), OIDC Core §10.1.1: publish B, activate it, and tokens signed by A still
/// verify against the JWK set until A is retired; new tokens carry B's kid.
#[tokio::test]
async fn sec_88_key_rotation_keeps_old_tokens_verifiable_until_retired() {
    let keys = KeySet::new(SigningKey::generate(SigningAlgorithm::ES256, "key-a").unwrap());
    let h = harness_custom(ISS, Some(keys.clone()), jwt_policy());
    let j = issue(&h, "conf-client", &[]).await;
    let id_a = str_of(&j, "id_token").to_owned();
    let at_a = str_of(&j, "access_token").to_owned();
    let (head, _) = verify_jwt(&h.server, &id_a, "conf-client");
    assert_eq!(head, json!({"alg": "ES256", "typ": "JWT", "kid": "key-a"}));
    assert_eq!(header_of(&at_a)["kid"], "key-a");
    assert_eq!(kids(&h.server), ["key-a"]);
    // Discovery advertises what the keys sign with (ES256 here, no RS256 key at all).
    let m = json(&h.server.discovery());
    assert_eq!(m["id_token_signing_alg_values_supported"], json!(["ES256"]));
    assert_eq!(
        m["access_token_signing_alg_values_supported"],
        json!(["ES256"])
    );

    // Published ahead of time: in the JWK set, not signing yet.
    keys.publish(SigningKey::generate(SigningAlgorithm::ES256, "key-b").unwrap());
    assert_eq!(kids(&h.server), ["key-a", "key-b"]);
    let j = issue(&h, "conf-client", &[]).await;
    assert_eq!(header_of(str_of(&j, "id_token"))["kid"], "key-a");

    keys.activate("key-b").unwrap();
    let j = issue(&h, "conf-client", &[]).await;
    let id_b = str_of(&j, "id_token").to_owned();
    let at_b = str_of(&j, "access_token").to_owned();
    let (head, _) = verify_jwt(&h.server, &id_b, "conf-client");
    assert_eq!(head["kid"], "key-b");
    assert_eq!(header_of(&at_b)["kid"], "key-b");
    // A is still published: its tokens verify.
    assert_eq!(kids(&h.server), ["key-a", "key-b"]);
    verify_jwt(&h.server, &id_a, "conf-client");
    assert!(h.server.verify_access_token(&at_a).await.is_ok());
    // The active key cannot be retired.
    assert!(matches!(keys.retire("key-b"), Err(KeyError::ActiveKey(_))));

    keys.retire("key-a").unwrap();
    assert_eq!(kids(&h.server), ["key-b"]);
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(h.server.jwks().body()).unwrap();
    assert!(set.find("key-a").is_none());
    assert_eq!(
        h.server.verify_access_token(&at_a).await.unwrap_err(),
        BearerError::InvalidToken
    );
    verify_jwt(&h.server, &id_b, "conf-client");
    assert!(h.server.verify_access_token(&at_b).await.is_ok());
}

// ---------------------------------------------------------------------------------------
// Discovery and JWKS
// ---------------------------------------------------------------------------------------

fn assert_no_empty_arrays(v: &Value, path: &str) {
    match v {
        Value::Array(a) => {
            assert!(!a.is_empty(), "empty array at {path}");
            for (i, x) in a.iter().enumerate() {
                assert_no_empty_arrays(x, &format!("{path}[{i}]"));
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                assert_no_empty_arrays(x, &format!("{path}.{k}"));
            }
        }
        _ => {}
    }
}

/// SEC-87 (RFC 8414 §2, §3.2, §3.3; RFC 9207 §2.3; OIDC Discovery §3): the metadata document
/// describes exactly this server.
#[tokio::test]
async fn sec_87_discovery_document() {
    let h = harness();
    let r = h.server.discovery();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
    let m = json(&r);
    assert_eq!(m["issuer"], "https://as.example");
    assert_eq!(m["authorization_endpoint"], "https://as.example/authorize");
    assert_eq!(m["token_endpoint"], "https://as.example/token");
    assert_eq!(m["userinfo_endpoint"], "https://as.example/userinfo");
    assert_eq!(m["jwks_uri"], "https://as.example/jwks");
    assert_eq!(m["response_types_supported"], json!(["code"]));
    assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(m["authorization_response_iss_parameter_supported"], true);
    // Explicit (the default when omitted is client_secret_basic only), and without the
    // HMAC method grantor does not implement (checklist SEC-47).
    let methods = m["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    for method in ["client_secret_basic", "client_secret_post", "none"] {
        assert!(methods.contains(&json!(method)), "{methods:?}");
    }
    assert!(
        !methods.contains(&json!("client_secret_jwt")),
        "{methods:?}"
    );
    let grants: Vec<&str> = m["grant_types_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert!(grants.contains(&"authorization_code"), "{grants:?}");
    assert!(grants.contains(&"refresh_token"), "{grants:?}");
    for banned in ["implicit", "password"] {
        assert!(!grants.contains(&banned), "{grants:?}");
    }
    assert_eq!(m["subject_types_supported"], json!(["public"]));
    assert_eq!(
        m["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256", "EdDSA"])
    );
    let scopes = m["scopes_supported"].as_array().unwrap();
    assert!(scopes.contains(&json!("openid")), "{scopes:?}");
    assert!(m.get("access_token_signing_alg_values_supported").is_none());
    assert_no_empty_arrays(&m, "$");
    // Every endpoint URL is under the issuer.
    for (k, v) in m.as_object().unwrap() {
        if k.ends_with("_endpoint") || k == "jwks_uri" {
            assert!(
                v.as_str().unwrap().starts_with("https://as.example/"),
                "{k}"
            );
        }
    }

    // With JWT access tokens, the algorithm they are signed with is advertised.
    let h = harness_with(jwt_policy());
    let m = json(&h.server.discovery());
    assert_eq!(
        m["access_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
}

/// SEC-87 (RFC 8414 §3, §3.1; OIDC Discovery §4): where the documents live, for issuers with
/// and without a path; a terminating `/` of the issuer is removed first.
#[tokio::test]
async fn sec_87_well_known_paths() {
    let h = harness();
    assert_eq!(
        h.server.openid_configuration_path(),
        "/.well-known/openid-configuration"
    );
    assert_eq!(
        h.server.authorization_server_metadata_path(),
        "/.well-known/oauth-authorization-server"
    );
    for issuer in ["https://as.example/t1", "https://as.example/t1/"] {
        let t = harness_custom(issuer, None, policy());
        assert_eq!(
            t.server.authorization_server_metadata_path(),
            "/.well-known/oauth-authorization-server/t1"
        );
        assert_eq!(
            t.server.openid_configuration_path(),
            "/t1/.well-known/openid-configuration"
        );
        let m = json(&t.server.discovery());
        assert_eq!(
            m["authorization_endpoint"],
            "https://as.example/t1/authorize"
        );
        assert_eq!(m["token_endpoint"], "https://as.example/t1/token");
    }
}

/// RFC 8414 §3.3 and OIDC Discovery §4.3: the metadata `issuer` is identical to the issuer
/// identifier, the one in the `iss` response parameter and in ID tokens, even with a
/// terminating `/`.
#[tokio::test]
async fn sec_87_metadata_issuer_is_identical_to_the_token_issuer() {
    for issuer in ["https://as.example/t1", "https://as.example/t1/"] {
        let h = harness_custom(issuer, Some(keys()), policy());
        let m = json(&h.server.discovery());
        assert_eq!(m["issuer"], issuer);
        let r = h.authorize(&authz(&[])).await;
        let p = redirect_params(&r);
        assert_eq!(param(&p, "iss").as_deref(), Some(issuer));
        let code = param(&p, "code").unwrap();
        let j = assert_token_ok(&h.exch(&code).await);
        let (_, claims) = verify_jwt(&h.server, str_of(&j, "id_token"), "conf-client");
        assert_eq!(claims["iss"], issuer);
        assert_eq!(claims["iss"], m["issuer"]);
    }
}

/// SEC-88 (RFC 7517 §4, §5; RFC 7518 §6; RFC 8037 §2): the JWK set holds every published key,
/// public members only, each with a kid; the ID token's kid resolves in it.
#[tokio::test]
async fn sec_88_jwks_publishes_public_keys_only() {
    let h = harness();
    let jwks = jwks_of(&h.server);
    assert_eq!(names(&jwks), ["keys"]);
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(kids(&h.server), ["rs-1", "es-1", "ed-1"]);
    for k in keys {
        let expected: &[&str] = match k["kty"].as_str().unwrap() {
            "RSA" => {
                assert_eq!(k["alg"], "RS256");
                assert_eq!(k["e"], "AQAB");
                assert!(URL_SAFE_NO_PAD.decode(str_of(k, "n")).unwrap().len() >= 256);
                &["kty", "kid", "use", "alg", "n", "e"]
            }
            "EC" => {
                assert_eq!(k["alg"], "ES256");
                assert_eq!(k["crv"], "P-256");
                &["kty", "kid", "use", "alg", "crv", "x", "y"]
            }
            "OKP" => {
                assert_eq!(k["alg"], "EdDSA");
                assert_eq!(k["crv"], "Ed25519");
                &["kty", "kid", "use", "alg", "crv", "x"]
            }
            other => panic!("unexpected kty {other}"),
        };
        assert_eq!(names(k), sorted(expected), "{k}");
        assert_eq!(k["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi", "k", "oth"] {
            assert!(k.get(private).is_none(), "{private} published in {k}");
        }
    }
    let r = h.server.jwks();
    assert_eq!(r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");

    let j = issue(&h, "conf-client", &[]).await;
    let kid = header_of(str_of(&j, "id_token"))["kid"].clone();
    assert!(keys.iter().any(|k| k["kid"] == kid), "{kid}");
}

/// OIDC Core §3.1.2.1 and the builder's contract: without signing keys the server is plain
/// OAuth 2.0: `scope=openid` is `invalid_scope`, other scopes work, and discovery advertises
/// no OpenID Connect (no `jwks_uri`), with `/jwks` a 404.
#[tokio::test]
async fn without_signing_keys_openid_is_refused_and_not_advertised() {
    let h = harness_custom(ISS, None, policy());
    let r = h.authorize(&authz(&[])).await;
    assert_err_redirect(&r, CB, "invalid_scope", Some("xyz"));
    let r = h
        .authorize(&authz(&[("scope", Some("openid profile"))]))
        .await;
    assert_err_redirect(&r, CB, "invalid_scope", Some("xyz"));

    let code = h.code(&[("scope", Some("read"))]).await;
    let j = assert_token_ok(&h.exch(&code).await);
    assert!(j.get("id_token").is_none());

    let m = json(&h.server.discovery());
    for absent in [
        "jwks_uri",
        "userinfo_endpoint",
        "id_token_signing_alg_values_supported",
        "subject_types_supported",
        "claims_supported",
    ] {
        assert!(m.get(absent).is_none(), "{absent} in {m}");
    }
    let scopes = m["scopes_supported"].as_array().unwrap();
    assert!(!scopes.contains(&json!("openid")), "{scopes:?}");
    assert!(scopes.contains(&json!("read")), "{scopes:?}");
    assert_no_empty_arrays(&m, "$");
    assert_eq!(h.server.jwks().status(), StatusCode::NOT_FOUND);

    // JWT access tokens need keys: a configuration error, not a runtime one.
    let built = AuthorizationServer::builder()
        .issuer(ISS)
        .clients(clients())
        .grants(MemoryGrantStore::new())
        .authenticator(MemorySessions::new("/login"))
        .consent(MemoryConsent::new())
        .policy(jwt_policy())
        .build();
    assert!(matches!(built, Err(ConfigError::Missing(_))), "{built:?}");
}

// ---------------------------------------------------------------------------------------
// Userinfo
// ---------------------------------------------------------------------------------------

/// SEC-74 (RFC 6750 §3, §3.1; OIDC Core §5.3.3): no token → 401 with a bare Bearer challenge.
#[tokio::test]
async fn sec_74_userinfo_without_token() {
    let h = harness();
    for method in ["GET", "POST"] {
        let r = userinfo(&h, method, "/userinfo", None, None).await;
        assert_bearer_refusal(&r, 401, NO_TOKEN);
        assert!(r.body().is_empty());
    }
    // Another scheme is no bearer token either.
    let r = userinfo(&h, "GET", "/userinfo", Some(B_CONF), None).await;
    assert_bearer_refusal(&r, 401, NO_TOKEN);
}

/// SEC-75 (RFC 6750 §3.1): an unknown, expired or revoked token → 401 `invalid_token`.
#[tokio::test]
async fn sec_75_userinfo_with_invalid_expired_or_revoked_token() {
    let h = harness();
    let r = userinfo(&h, "GET", "/userinfo", Some("Bearer bogus"), None).await;
    assert_bearer_refusal(&r, 401, INVALID_TOKEN);

    // Expired: the clock past exp.
    let j = issue(&h, "conf-client", &[]).await;
    let at = format!("Bearer {}", str_of(&j, "access_token"));
    userinfo_ok(&userinfo(&h, "GET", "/userinfo", Some(&at), None).await);
    h.advance(3601);
    let r = userinfo(&h, "GET", "/userinfo", Some(&at), None).await;
    assert_bearer_refusal(&r, 401, INVALID_TOKEN);
}

/// SEC-75 with SEC-52 (RFC 6749 §4.1.2): after a valid code replay, the access token issued
/// from the code no longer works at userinfo.
#[tokio::test]
async fn sec_75_userinfo_after_code_replay() {
    let h = harness();
    let code = h.code(&[]).await;
    let j = assert_token_ok(&h.exch(&code).await);
    let at = format!("Bearer {}", str_of(&j, "access_token"));
    userinfo_ok(&userinfo(&h, "GET", "/userinfo", Some(&at), None).await);
    assert_token_err(&h.exch(&code).await, 400, "invalid_grant");
    let r = userinfo(&h, "GET", "/userinfo", Some(&at), None).await;
    assert_bearer_refusal(&r, 401, INVALID_TOKEN);
}

/// SEC-76 (RFC 6750 §3.1; OIDC Core §5.3.1): a token without `openid` → 403
/// `insufficient_scope` naming `openid`.
#[tokio::test]
async fn sec_76_userinfo_without_openid_scope() {
    let h = harness();
    let j = issue(&h, "conf-client", &[("scope", Some("read write"))]).await;
    let at = format!("Bearer {}", str_of(&j, "access_token"));
    let r = userinfo(&h, "GET", "/userinfo", Some(&at), None).await;
    assert_bearer_refusal(
        &r,
        403,
        "Bearer realm=\"https://as.example\", error=\"insufficient_scope\", scope=\"openid\"",
    );
    // A client_credentials token has no user (and no openid) either.
    let j = assert_token_ok(
        &h.token("grant_type=client_credentials&scope=read", Some(B_CONF))
            .await,
    );
    let at = format!("Bearer {}", str_of(&j, "access_token"));
    let r = userinfo(&h, "GET", "/userinfo", Some(&at), None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

/// SEC-77 (OAuth 2.1 §5.1; RFC 6750 §2.2, §2.3, §3.1): a token in the query is ignored; two
/// token methods at once → 400 `invalid_request`; a form-body token alone works.
#[tokio::test]
async fn sec_77_userinfo_query_token_ignored_and_two_methods_refused() {
    let h = harness();
    let j = issue(&h, "conf-client", &[]).await;
    let at = str_of(&j, "access_token").to_owned();
    let bearer = format!("Bearer {at}");
    let query = format!("/userinfo?access_token={}", enc(&at));
    let r = userinfo(&h, "GET", &query, None, None).await;
    assert_bearer_refusal(&r, 401, NO_TOKEN);
    let r = userinfo(&h, "POST", &query, None, None).await;
    assert_bearer_refusal(&r, 401, NO_TOKEN);

    let form = format!("access_token={}", enc(&at));
    let r = userinfo(&h, "POST", "/userinfo", Some(&bearer), Some(&form)).await;
    assert_bearer_refusal(&r, 400, INVALID_REQUEST);
    // The same token twice in the body is no better.
    let twice = format!("{form}&{form}");
    let r = userinfo(&h, "POST", "/userinfo", None, Some(&twice)).await;
    assert_bearer_refusal(&r, 400, INVALID_REQUEST);

    // RFC 6750 §2.2: the form body alone is accepted on POST.
    let r = userinfo(&h, "POST", "/userinfo", None, Some(&form)).await;
    assert_eq!(userinfo_ok(&r)["sub"], ALICE);
}

/// SEC-78 (OIDC Core §5.3, §5.3.1, §5.3.2; RFC 6750 §2.1): GET and POST succeed, the scheme is
/// case-insensitive, `sub` equals the ID token's, and claims follow the scope.
#[tokio::test]
async fn sec_78_userinfo_success() {
    let h = harness();
    add_alg_clients(&h);
    let j = issue(&h, "conf-client", &[]).await;
    let (_, id) = verify_jwt(&h.server, str_of(&j, "id_token"), "conf-client");
    let at = str_of(&j, "access_token").to_owned();
    for (method, scheme) in [
        ("GET", "Bearer"),
        ("POST", "Bearer"),
        ("GET", "bEaReR"),
        ("POST", "bearer"),
    ] {
        let auth = format!("{scheme} {at}");
        let r = userinfo(&h, method, "/userinfo", Some(&auth), None).await;
        let body = userinfo_ok(&r);
        assert_eq!(body, json!({"sub": ALICE}), "{method} {scheme}");
        assert_eq!(body["sub"], id["sub"]);
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
    }

    let cases = [
        ("openid", json!({"sub": ALICE})),
        (
            "openid profile",
            json!({"sub": ALICE, "name": "Alice Liddell"}),
        ),
        (
            "openid email read",
            json!({"sub": ALICE, "email": "alice@example.com", "email_verified": true}),
        ),
        (
            "openid profile email",
            json!({"sub": ALICE, "name": "Alice Liddell", "email": "alice@example.com", "email_verified": true}),
        ),
    ];
    for (scope, expected) in cases {
        let j = issue(&h, "alg-eddsa", &[("scope", Some(scope))]).await;
        let auth = format!("Bearer {}", str_of(&j, "access_token"));
        let r = userinfo(&h, "GET", "/userinfo", Some(&auth), None).await;
        assert_eq!(userinfo_ok(&r), expected, "{scope}");
    }

    // Other methods: 405 with Allow.
    let r = userinfo(&h, "PUT", "/userinfo", Some(&format!("Bearer {at}")), None).await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()[header::ALLOW], "GET, POST");
}

/// SEC-67 (OIDC Core §3.2.2.1, §3.3.2.1): `nonce` is required when the authorization endpoint
/// returns an ID token. grantor supports only `response_type=code`, so no ID token ever
/// leaves the authorization endpoint: every implicit and hybrid type is refused (fragment or
/// not, before any nonce question), and `code` without a nonce succeeds.
#[tokio::test]
async fn sec_67_no_front_channel_id_token_and_nonce_optional_for_code() {
    let h = harness();
    for response_type in [
        "id_token",
        "id_token token",
        "code id_token",
        "code token",
        "code id_token token",
        "token",
    ] {
        for nonce in [None, Some("n-0S6_WzA2Mj")] {
            let r = h
                .authorize(&authz(&[
                    ("response_type", Some(response_type)),
                    ("nonce", nonce),
                ]))
                .await;
            assert_err_redirect(&r, CB, "unsupported_response_type", Some("xyz"));
        }
    }
    let r = h.authorize(&authz(&[("nonce", None)])).await;
    let code = assert_code_redirect(&r, CB, Some("xyz"));
    let j = assert_token_ok(&h.exch(&code).await);
    let payload = j["id_token"].as_str().unwrap().split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert!(claims.get("nonce").is_none(), "no nonce asked, none echoed");
}

/// SEC-68 (OIDC Core §3.1.3.6, §3.3.2.11): at_hash and c_hash are the base64url left half
/// of the algorithm's hash; the vectors are OIDC Core Appendix A's.
#[test]
fn sec_68_left_half_hash_vectors() {
    use grantor::token::left_half_hash;
    assert_eq!(
        left_half_hash(
            SigningAlgorithm::RS256,
            "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
        ),
        "77QmUPtjPfzWtF2AnpK9RQ"
    );
    assert_eq!(
        left_half_hash(
            SigningAlgorithm::RS256,
            "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk"
        ),
        "LDktKdoQak3Pk0cnXxCltA"
    );
    // ES256 hashes with SHA-256 too; EdDSA (Ed25519) with SHA-512, whose left half is 32 bytes.
    assert_eq!(
        left_half_hash(
            SigningAlgorithm::ES256,
            "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
        ),
        "77QmUPtjPfzWtF2AnpK9RQ"
    );
    use sha2::Digest as _;
    let full = sha2::Sha512::digest(b"abc");
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(left_half_hash(SigningAlgorithm::EdDSA, "abc"))
            .unwrap(),
        &full[..32]
    );
}
