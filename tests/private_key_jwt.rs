//! `private_key_jwt` client authentication (RFC 7523 §3, OIDC Core §9).
mod common;
use common::*;

use grantor::token::{SigningAlgorithm, SigningKey};
use grantor::{Client, ClientAuthMethod, GrantType};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

const TOKEN_ENDPOINT: &str = "https://as.example/token";

struct Signer {
    encoding: EncodingKey,
    jwk: serde_json::Value,
}

fn signer(kid: &str) -> Signer {
    use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let doc = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let der = doc.to_pkcs8v1().unwrap();
    let key = SigningKey::from_pkcs8_der(SigningAlgorithm::ES256, kid, der.as_ref()).unwrap();
    Signer {
        encoding: EncodingKey::from_ec_der(der.as_ref()),
        jwk: key.public_jwk(),
    }
}

fn assertion(s: &Signer, kid: &str, claims: serde_json::Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, &claims, &s.encoding).unwrap()
}

fn claims(aud: &str, exp: u64, jti: &str) -> serde_json::Value {
    serde_json::json!({"iss": "jwt-client", "sub": "jwt-client", "aud": aud, "exp": exp, "iat": T0, "jti": jti})
}

fn setup() -> (Harness, Signer) {
    let h = harness();
    let s = signer("k1");
    h.clients.insert(
        Client::builder("jwt-client")
            .auth_method(ClientAuthMethod::PrivateKeyJwt)
            .jwks(serde_json::json!({"keys": [s.jwk.clone()]}))
            .grant_types([GrantType::ClientCredentials])
            .scopes("read")
            .build()
            .unwrap(),
    );
    (h, s)
}

fn body(assertion: &str) -> String {
    format!(
        "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={assertion}"
    )
}

/// A valid assertion authenticates; its replay does not (RFC 7523 §3: jti single use).
#[tokio::test]
async fn assertion_authenticates_once_rfc7523_3() {
    let (h, s) = setup();
    let a = assertion(&s, "k1", claims(TOKEN_ENDPOINT, T0 + 60, "jti-1"));
    let j = assert_token_ok(&h.token(&body(&a), None).await);
    assert_eq!(j["scope"], "read");
    assert_token_err(&h.token(&body(&a), None).await, 401, "invalid_client");
    // The issuer is an accepted audience too.
    let a = assertion(&s, "k1", claims(ISS, T0 + 60, "jti-2"));
    assert_token_ok(&h.token(&body(&a), None).await);
}

/// Wrong audience, expiry, issuer, key, or a lifetime past the limit: invalid_client
/// (RFC 7523 §3).
#[tokio::test]
async fn invalid_assertions_are_invalid_client_rfc7523_3() {
    let (h, s) = setup();
    let other = signer("k1");
    let cases = [
        assertion(
            &s,
            "k1",
            claims("https://elsewhere.example/token", T0 + 60, "a"),
        ),
        assertion(&s, "k1", claims(TOKEN_ENDPOINT, T0 - 1, "b")),
        // RFC 7519 §4.1.4: expired at `exp` itself, not only after it.
        assertion(&s, "k1", claims(TOKEN_ENDPOINT, T0, "b2")),
        assertion(&s, "k1", claims(TOKEN_ENDPOINT, T0 + 86_400, "c")),
        assertion(
            &s,
            "k1",
            serde_json::json!({"iss": "someone", "sub": "jwt-client", "aud": TOKEN_ENDPOINT, "exp": T0 + 60, "jti": "d"}),
        ),
        assertion(&other, "k1", claims(TOKEN_ENDPOINT, T0 + 60, "e")),
        assertion(
            &s,
            "k1",
            serde_json::json!({"iss": "jwt-client", "sub": "jwt-client", "aud": TOKEN_ENDPOINT, "exp": T0 + 60}),
        ),
        "not.a.jwt".to_owned(),
    ];
    for a in cases {
        assert_token_err(&h.token(&body(&a), None).await, 401, "invalid_client");
    }
    // The right assertion type is required.
    let a = assertion(&s, "k1", claims(TOKEN_ENDPOINT, T0 + 60, "f"));
    let r = h
        .token(
            &format!("grant_type=client_credentials&client_assertion_type=x&client_assertion={a}"),
            None,
        )
        .await;
    assert_token_err(&r, 401, "invalid_client");
}

/// An assertion plus another method is two methods (RFC 6749 §2.3, checklist SEC-42).
#[tokio::test]
async fn assertion_plus_basic_is_invalid_request_sec_42() {
    let (h, s) = setup();
    let a = assertion(&s, "k1", claims(TOKEN_ENDPOINT, T0 + 60, "g"));
    assert_token_err(
        &h.token(&body(&a), Some(B_CONF)).await,
        400,
        "invalid_request",
    );
    let r = h
        .token(&format!("{}&client_secret=x", body(&a)), None)
        .await;
    assert_token_err(&r, 400, "invalid_request");
}

/// Registration rules: a private_key_jwt client needs a public JWK set and no secret.
#[test]
fn registration_rules() {
    let s = signer("k1");
    assert!(Client::builder("c")
        .auth_method(ClientAuthMethod::PrivateKeyJwt)
        .grant_types([GrantType::ClientCredentials])
        .build()
        .is_err());
    let mut private = s.jwk.clone();
    private["d"] = "AAAA".into();
    assert!(Client::builder("c")
        .auth_method(ClientAuthMethod::PrivateKeyJwt)
        .jwks(serde_json::json!({"keys": [private]}))
        .grant_types([GrantType::ClientCredentials])
        .build()
        .is_err());
    assert!(Client::builder("c")
        .jwks(serde_json::json!({"keys": [s.jwk]}))
        .secret(grantor::ClientSecret::new("x"))
        .grant_types([GrantType::ClientCredentials])
        .build()
        .is_err());
}

/// Discovery lists the method (RFC 8414 §2).
#[tokio::test]
async fn discovery_lists_private_key_jwt() {
    let h = harness();
    let doc: serde_json::Value = serde_json::from_slice(h.server.discovery().body()).unwrap();
    let methods = doc["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(methods.iter().any(|m| m == "private_key_jwt"));
}
