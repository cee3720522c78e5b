//! JWTs in JWS compact serialization (RFC 7519, RFC 7515 §7.1): signing with the active key,
//! verifying against the published keys, and the OpenID Connect left-half hashes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256, Sha512};

use super::keys::{KeyError, KeySet, SigningAlgorithm};

/// Why a JWT failed verification. Messages never include the token or its claims.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Not a JWS in compact serialization with a JSON header and JSON claims, or the claims
    /// do not have the expected shape.
    #[error("malformed JWT")]
    Malformed,
    /// The header has no `kid`: grantor always sets one, and never guesses a key.
    #[error("the JWT header has no kid")]
    MissingKid,
    /// No published key has the header's `kid` (never published, or retired).
    #[error("the JWT was signed with an unknown or retired key")]
    UnknownKid,
    /// The header's `alg` is not the algorithm of the key named by `kid` (this includes
    /// `none` and the HMAC algorithms, which grantor never uses).
    #[error("the JWT algorithm does not match its key")]
    AlgorithmMismatch,
    /// The header's `typ` is missing or is not the expected type (RFC 8725 §3.11).
    #[error("unexpected JWT type")]
    UnexpectedType,
    /// The header has a `crit` parameter: grantor understands no JWS extension
    /// (RFC 7515 §4.1.11).
    #[error("the JWT uses critical header extensions")]
    UnsupportedCritical,
    /// The signature does not verify.
    #[error("invalid JWT signature")]
    InvalidSignature,
}

/// The OpenID Connect `at_hash` / `c_hash` value of an access token or code (OIDC Core
/// §3.1.3.6, §3.3.2.11): the base64url encoding of the left half of the hash of `value`'s
/// ASCII bytes, with the hash that the ID token's `alg` uses.
///
/// * RS256 and ES256: SHA-256, so the result encodes 16 bytes (22 characters).
/// * EdDSA: the JWS `alg` names no hash, so this follows the OpenID Foundation's resolution
///   for Ed25519 (and what common providers and relying parties do): SHA-512, the hash inside
///   Ed25519, so the result encodes 32 bytes (43 characters).
///
/// ```
/// use grantor::token::left_half_hash;
/// use grantor::SigningAlgorithm;
/// // OIDC Core, Appendix A.3.
/// let at_hash = left_half_hash(SigningAlgorithm::RS256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y");
/// assert_eq!(at_hash, "77QmUPtjPfzWtF2AnpK9RQ");
/// ```
pub fn left_half_hash(alg: SigningAlgorithm, value: &str) -> String {
    match alg {
        SigningAlgorithm::RS256 | SigningAlgorithm::ES256 => {
            let digest = Sha256::digest(value.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
        }
        SigningAlgorithm::EdDSA => {
            let digest = Sha512::digest(value.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
        }
    }
}

#[derive(serde::Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'a str,
    kid: &'a str,
}

/// Signs `claims` as a JWT with the active key for `alg`, or by default the active RS256 key
/// (else the first active key in [`SigningAlgorithm::ALL`] order). The header carries `alg`,
/// `kid` and `typ` (`"JWT"` when `typ` is `None`; `"at+jwt"` for RFC 9068 access tokens).
///
/// The key was parsed when loaded, so this costs one serialization and one signature.
pub(crate) fn sign<C: serde::Serialize>(
    keys: &KeySet,
    alg: Option<SigningAlgorithm>,
    typ: Option<&str>,
    claims: &C,
) -> Result<String, KeyError> {
    let snapshot = keys.snapshot();
    let key = snapshot.signer(alg)?;
    let header = serde_json::to_vec(&Header {
        alg: key.algorithm().as_str(),
        typ: typ.unwrap_or("JWT"),
        kid: key.kid(),
    })
    .map_err(|e| KeyError::Claims(e.to_string()))?;
    let claims = serde_json::to_vec(claims).map_err(|e| KeyError::Claims(e.to_string()))?;
    if claims.first() != Some(&b'{') {
        // RFC 7519 §7.2 step 10: the claims set is a JSON object.
        return Err(KeyError::Claims("the claims are not a JSON object".into()));
    }
    let mut token = String::with_capacity((header.len() + claims.len()) * 4 / 3 + 350);
    URL_SAFE_NO_PAD.encode_string(&header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&claims, &mut token);
    let signature = key.sign_bytes(token.as_bytes())?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
    Ok(token)
}

/// The header members verification looks at, parsed before any key is chosen.
#[derive(Deserialize)]
struct HeaderView {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

/// Verifies a JWT signed by one of `keys`' published keys and returns its claims.
///
/// The key is the published key named by the header's `kid`; the header's `alg` must be that
/// key's algorithm (so `none` and algorithm substitution are refused). When `expected_typ` is
/// given, the header's `typ` must match it, compared as media types (RFC 7515 §4.1.9: case
/// insensitive, `application/` optional). A `crit` header is refused.
///
/// Only the signature and the header are checked: `exp`, `nbf`, `iat`, `iss` and `aud` are the
/// caller's to check, with its injected clock.
pub(crate) fn verify<C: serde::de::DeserializeOwned>(
    keys: &KeySet,
    token: &str,
    expected_typ: Option<&str>,
) -> Result<C, JwtError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_claims), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| JwtError::Malformed)?;
    let header: HeaderView = serde_json::from_slice(&header).map_err(|_| JwtError::Malformed)?;
    if header.crit.is_some() {
        return Err(JwtError::UnsupportedCritical);
    }
    let kid = header.kid.as_deref().ok_or(JwtError::MissingKid)?;
    let snapshot = keys.snapshot();
    let key = snapshot.published(kid).ok_or(JwtError::UnknownKid)?;
    if header.alg != key.algorithm().as_str() {
        return Err(JwtError::AlgorithmMismatch);
    }
    if let Some(expected) = expected_typ {
        match header.typ.as_deref() {
            Some(typ) if media_types_match(typ, expected) => {}
            _ => return Err(JwtError::UnexpectedType),
        }
    }
    ensure_crypto_provider();
    jsonwebtoken::decode::<C>(token, key.decoding_key(), key.validation())
        .map(|data| data.claims)
        .map_err(|error| match error.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => JwtError::InvalidSignature,
            jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => JwtError::AlgorithmMismatch,
            _ => JwtError::Malformed,
        })
}

/// Installs jsonwebtoken's aws-lc-rs provider as the process default, once, unless the host
/// has installed one already.
///
/// jsonwebtoken picks its crypto backend from its cargo features when nothing is installed, and
/// panics at the first verification if it finds none or two. grantor enables `aws_lc_rs`; a
/// host that also depends on jsonwebtoken with `rust_crypto` would, through feature
/// unification, enable both. Installing the provider explicitly, before the first
/// verification, makes grantor work in that build too. A host that installs its own provider
/// at startup keeps it (installation is first come, first served, and this runs lazily).
pub(crate) fn ensure_crypto_provider() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        // Err means a provider is installed already: the host's choice stands.
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
        );
    });
}

/// `typ` comparison per RFC 7515 §4.1.9: case-insensitive, and a value without `/` stands for
/// `application/` followed by it.
fn media_types_match(actual: &str, expected: &str) -> bool {
    fn subtype(media_type: &str) -> &str {
        match media_type.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &media_type[12..],
            _ => media_type,
        }
    }
    subtype(actual).eq_ignore_ascii_case(subtype(expected))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::keys::tests::key;
    use crate::token::SigningKey;
    use serde::Serialize;
    use serde_json::{json, Value};

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Claims {
        iss: String,
        sub: String,
        aud: String,
        exp: u64,
        nonce: String,
    }

    fn claims() -> Claims {
        Claims {
            iss: "https://auth.example.com".into(),
            sub: "alice".into(),
            aud: "web-app".into(),
            // Long expired: verification leaves exp to the caller.
            exp: 1,
            nonce: "n-0S6_WzA2Mj".into(),
        }
    }

    fn header_of(token: &str) -> Value {
        let header = token.split('.').next().unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
    }

    /// A token with an arbitrary header, signed by `signer` (to forge what `sign` never makes).
    fn forge(signer: &SigningKey, header: Value, claims: &Value) -> String {
        let mut token = URL_SAFE_NO_PAD.encode(header.to_string());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = signer.sign_bytes(token.as_bytes()).unwrap();
        format!("{token}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// Signs and verifies with every algorithm, through our verifier and through a JWK parsed
    /// by jsonwebtoken from `public_jwk`. This also proves the crypto backend is set up: with
    /// none or two, jsonwebtoken panics at the first verification.
    #[test]
    fn every_algorithm_round_trips_and_verifies_against_its_published_jwk() {
        for alg in SigningAlgorithm::ALL {
            let keys = KeySet::new(key(alg, &format!("{alg}-key")));
            let token = sign(&keys, None, None, &claims()).unwrap();
            let header = header_of(&token);
            assert_eq!(
                header,
                json!({"alg": alg.as_str(), "typ": "JWT", "kid": format!("{alg}-key")})
            );
            assert_eq!(verify::<Claims>(&keys, &token, None).unwrap(), claims());
            assert_eq!(
                verify::<Claims>(&keys, &token, Some("JWT")).unwrap(),
                claims()
            );

            let jwks: Value = serde_json::from_slice(&keys.jwks_json()).unwrap();
            let jwk: jsonwebtoken::jwk::Jwk =
                serde_json::from_value(jwks["keys"][0].clone()).unwrap();
            let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
            let jwt_alg: jsonwebtoken::Algorithm = alg.as_str().parse().unwrap();
            let mut validation = jsonwebtoken::Validation::new(jwt_alg);
            validation.set_audience(&["web-app"]);
            validation.validate_exp = false;
            let data = jsonwebtoken::decode::<Claims>(&token, &decoding, &validation).unwrap();
            assert_eq!(data.claims, claims(), "{alg}");
            assert_eq!(data.header.kid.as_deref(), Some(&*format!("{alg}-key")));
        }
    }

    #[test]
    fn verification_installs_the_aws_lc_provider_once() {
        let keys = KeySet::new(key(SigningAlgorithm::EdDSA, "k"));
        let token = sign(&keys, None, None, &claims()).unwrap();
        assert!(verify::<Claims>(&keys, &token, None).is_ok());
        // Installed (by this or another test's verification): a second install is refused.
        assert!(jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER
        )
        .is_err());
    }

    #[test]
    fn the_algorithm_can_be_chosen_and_defaults_to_rs256() {
        let keys = KeySet::new(key(SigningAlgorithm::EdDSA, "ed"));
        keys.publish(key(SigningAlgorithm::ES256, "ec"));
        keys.activate("ec").unwrap();
        // Without RS256, the default is the first active algorithm in ALL order.
        let token = sign(&keys, None, None, &claims()).unwrap();
        assert_eq!(header_of(&token)["kid"], "ec");
        keys.publish(key(SigningAlgorithm::RS256, "rs"));
        keys.activate("rs").unwrap();
        let token = sign(&keys, None, None, &claims()).unwrap();
        assert_eq!(header_of(&token)["alg"], "RS256");
        let token = sign(&keys, Some(SigningAlgorithm::EdDSA), None, &claims()).unwrap();
        assert_eq!(header_of(&token)["kid"], "ed");
        assert_eq!(verify::<Claims>(&keys, &token, None).unwrap(), claims());

        keys.deactivate(SigningAlgorithm::ES256).unwrap();
        assert_eq!(
            sign(&keys, Some(SigningAlgorithm::ES256), None, &claims()),
            Err(KeyError::NoActiveKey(SigningAlgorithm::ES256))
        );
    }

    #[test]
    fn rotation_keeps_old_tokens_valid_until_the_old_key_is_retired() {
        let keys = KeySet::new(key(SigningAlgorithm::ES256, "A"));
        let from_a = sign(&keys, None, None, &claims()).unwrap();
        keys.publish(key(SigningAlgorithm::ES256, "B"));
        // Published but not active yet: A still signs.
        assert_eq!(
            header_of(&sign(&keys, None, None, &claims()).unwrap())["kid"],
            "A"
        );
        keys.activate("B").unwrap();
        let from_b = sign(&keys, None, None, &claims()).unwrap();
        assert_eq!(header_of(&from_b)["kid"], "B");
        assert_eq!(verify::<Claims>(&keys, &from_a, None).unwrap(), claims());
        assert_eq!(verify::<Claims>(&keys, &from_b, None).unwrap(), claims());
        keys.retire("A").unwrap();
        assert_eq!(
            verify::<Claims>(&keys, &from_a, None),
            Err(JwtError::UnknownKid)
        );
        assert_eq!(verify::<Claims>(&keys, &from_b, None).unwrap(), claims());
    }

    #[test]
    fn a_key_of_another_set_is_unknown() {
        let ours = KeySet::new(key(SigningAlgorithm::EdDSA, "ours"));
        let theirs = KeySet::new(key(SigningAlgorithm::EdDSA, "theirs"));
        let token = sign(&theirs, None, None, &claims()).unwrap();
        assert_eq!(
            verify::<Claims>(&ours, &token, None),
            Err(JwtError::UnknownKid)
        );
        // Same kid, different key material: the signature fails.
        let impostor = KeySet::new(key(SigningAlgorithm::EdDSA, "ours"));
        let token = sign(&impostor, None, None, &claims()).unwrap();
        assert_eq!(
            verify::<Claims>(&ours, &token, None),
            Err(JwtError::InvalidSignature)
        );
    }

    #[test]
    fn alg_none_and_algorithm_substitution_are_refused() {
        let rsa = key(SigningAlgorithm::RS256, "rs");
        let keys = KeySet::new(key(SigningAlgorithm::RS256, "rs"));
        keys.publish(key(SigningAlgorithm::ES256, "ec"));
        let body = URL_SAFE_NO_PAD.encode(json!({"sub": "alice"}).to_string());
        for alg in ["none", "None", "HS256", "ES256", "PS256", "EdDSA", ""] {
            let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": "rs"}).to_string());
            for signature in ["", "AAAA"] {
                let token = format!("{header}.{body}.{signature}");
                assert_eq!(
                    verify::<Value>(&keys, &token, None),
                    Err(JwtError::AlgorithmMismatch),
                    "{alg}"
                );
            }
        }
        // HMAC keyed with the public key (the classic confusion attack).
        let public_n = rsa.public_jwk()["n"].as_str().unwrap().to_owned();
        let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        hs.kid = Some("rs".into());
        let token = jsonwebtoken::encode(
            &hs,
            &json!({"sub": "alice"}),
            &jsonwebtoken::EncodingKey::from_secret(public_n.as_bytes()),
        )
        .unwrap();
        assert_eq!(
            verify::<Value>(&keys, &token, None),
            Err(JwtError::AlgorithmMismatch)
        );
        // A valid ES256 signature presented under the RSA key's kid.
        let ec_signed = sign(&keys, Some(SigningAlgorithm::ES256), None, &claims());
        assert!(ec_signed.is_err(), "ES256 is published but not active");
        let ec = key(SigningAlgorithm::ES256, "ec2");
        let token = forge(
            &ec,
            json!({"alg": "ES256", "kid": "rs"}),
            &json!({"sub": "a"}),
        );
        assert_eq!(
            verify::<Value>(&keys, &token, None),
            Err(JwtError::AlgorithmMismatch)
        );
    }

    #[test]
    fn tampering_is_detected() {
        for alg in SigningAlgorithm::ALL {
            let keys = KeySet::new(key(alg, "k"));
            let token = sign(&keys, None, None, &claims()).unwrap();
            let parts: Vec<&str> = token.split('.').collect();

            let mut forged = claims();
            forged.sub = "mallory".into();
            let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
            let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
            assert_eq!(
                verify::<Claims>(&keys, &tampered, None),
                Err(JwtError::InvalidSignature),
                "{alg}"
            );

            let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
            signature[0] ^= 1;
            let tampered = format!(
                "{}.{}.{}",
                parts[0],
                parts[1],
                URL_SAFE_NO_PAD.encode(signature)
            );
            assert_eq!(
                verify::<Claims>(&keys, &tampered, None),
                Err(JwtError::InvalidSignature),
                "{alg}"
            );

            let stripped = format!("{}.{}.", parts[0], parts[1]);
            assert_eq!(
                verify::<Claims>(&keys, &stripped, None),
                Err(JwtError::InvalidSignature),
                "{alg}"
            );
        }
    }

    #[test]
    fn headers_without_kid_or_with_crit_are_refused() {
        let signer = key(SigningAlgorithm::EdDSA, "k");
        let keys = KeySet::new(key(SigningAlgorithm::EdDSA, "other"));
        keys.publish(signer);
        let snapshot = keys.snapshot();
        let signer = snapshot.published("k").unwrap();
        let no_kid = forge(signer, json!({"alg": "EdDSA"}), &json!({"sub": "a"}));
        assert_eq!(
            verify::<Value>(&keys, &no_kid, None),
            Err(JwtError::MissingKid)
        );
        let crit = forge(
            signer,
            json!({"alg": "EdDSA", "kid": "k", "crit": ["exp"], "exp": 1}),
            &json!({"sub": "a"}),
        );
        assert_eq!(
            verify::<Value>(&keys, &crit, None),
            Err(JwtError::UnsupportedCritical)
        );
        let fine = forge(
            signer,
            json!({"alg": "EdDSA", "kid": "k"}),
            &json!({"sub": "a"}),
        );
        assert_eq!(
            verify::<Value>(&keys, &fine, None).unwrap(),
            json!({"sub": "a"})
        );
    }

    #[test]
    fn typ_is_checked_when_expected() {
        let keys = KeySet::new(key(SigningAlgorithm::EdDSA, "k"));
        let access = sign(&keys, None, Some("at+jwt"), &claims()).unwrap();
        assert_eq!(header_of(&access)["typ"], "at+jwt");
        let id = sign(&keys, None, None, &claims()).unwrap();
        assert!(verify::<Claims>(&keys, &access, Some("at+jwt")).is_ok());
        assert_eq!(
            verify::<Claims>(&keys, &id, Some("at+jwt")),
            Err(JwtError::UnexpectedType)
        );
        // RFC 7515 §4.1.9: case-insensitive, "application/" optional on either side.
        for typ in ["application/at+jwt", "AT+JWT", "Application/At+Jwt"] {
            let token = sign(&keys, None, Some(typ), &claims()).unwrap();
            assert!(
                verify::<Claims>(&keys, &token, Some("at+jwt")).is_ok(),
                "{typ}"
            );
        }
        assert!(verify::<Claims>(&keys, &access, Some("application/at+jwt")).is_ok());
        for typ in ["jwt", "text/at+jwt", "at+jwt2", "xpplication/at+jwt"] {
            let token = sign(&keys, None, Some(typ), &claims()).unwrap();
            assert_eq!(
                verify::<Claims>(&keys, &token, Some("at+jwt")),
                Err(JwtError::UnexpectedType),
                "{typ}"
            );
        }
        let signer = keys.snapshot();
        let untyped = forge(
            signer.published("k").unwrap(),
            json!({"alg": "EdDSA", "kid": "k"}),
            &json!({"sub": "a"}),
        );
        assert!(verify::<Value>(&keys, &untyped, None).is_ok());
        assert_eq!(
            verify::<Value>(&keys, &untyped, Some("at+jwt")),
            Err(JwtError::UnexpectedType)
        );
    }

    #[test]
    fn malformed_tokens_are_refused_without_panicking() {
        let keys = KeySet::new(key(SigningAlgorithm::EdDSA, "k"));
        let token = sign(&keys, None, None, &claims()).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let garbage_claims = format!("{}.{}.{}", parts[0], "e30", parts[2]);
        let not_json = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode("nope"),
            parts[2]
        );
        let cases = [
            String::new(),
            ".".into(),
            "..".into(),
            "a.b".into(),
            format!("{token}.extra"),
            format!("{token}.a.b"),
            format!("!!.{}.{}", parts[1], parts[2]),
            format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode("[1]"),
                parts[1],
                parts[2]
            ),
            format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
            format!("{}.{}.!!", parts[0], parts[1]),
        ];
        for case in &cases {
            assert_eq!(
                verify::<Claims>(&keys, case, None),
                Err(JwtError::Malformed),
                "{case}"
            );
        }
        // Altered claims fail the signature before their content matters.
        assert_eq!(
            verify::<Claims>(&keys, &garbage_claims, None),
            Err(JwtError::InvalidSignature)
        );
        assert_eq!(
            verify::<Claims>(&keys, &not_json, None),
            Err(JwtError::InvalidSignature)
        );
        // Well signed, but not the expected claims shape.
        let other = sign(&keys, None, None, &json!({"sub": 7})).unwrap();
        assert_eq!(
            verify::<Claims>(&keys, &other, None),
            Err(JwtError::Malformed)
        );
    }

    #[test]
    fn claims_must_be_a_json_object() {
        let keys = KeySet::new(key(SigningAlgorithm::EdDSA, "k"));
        for claims in [json!("text"), json!([1, 2]), json!(null)] {
            assert!(matches!(
                sign(&keys, None, None, &claims),
                Err(KeyError::Claims(_))
            ));
        }
        let mut bad_map = std::collections::HashMap::new();
        bad_map.insert((1, 2), "tuple keys cannot be JSON");
        assert!(matches!(
            sign(&keys, None, None, &bad_map),
            Err(KeyError::Claims(_))
        ));
    }

    #[test]
    fn error_messages_carry_no_token_data() {
        let keys = KeySet::new(key(SigningAlgorithm::EdDSA, "k"));
        let token = sign(&keys, None, None, &claims()).unwrap();
        let tampered = format!("{token}x");
        let error = verify::<Claims>(&keys, &tampered, None).unwrap_err();
        let message = error.to_string();
        assert!(!message.contains(&token[..10]));
        assert!(!message.contains("alice"));
    }
}
