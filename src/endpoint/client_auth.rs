//! Client authentication at the token endpoint (RFC 6749 §2.3, §3.2.1; OIDC Core §9).
//!
//! A client authenticates exactly as registered: `client_secret_basic`, `client_secret_post`
//! or `none`. Presenting two methods is `invalid_request` (RFC 6749 §2.3); every failure to
//! authenticate is the same `401 invalid_client`, whether the client exists or not, so that
//! client ids cannot be enumerated.

use std::borrow::Cow;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::header;
use zeroize::Zeroizing;

use crate::client::{Client, ClientAuthMethod};
use crate::error::{ErrorCode, ProtocolError};
use crate::params::{decode, Params};
use crate::secret::TokenDigest;
use crate::server::AuthorizationServer;

const TARGET: &str = "grantor::client_auth";

enum Presented<'a> {
    /// `id:secret`, base64-decoded (and wiped when dropped); each half still
    /// form-urlencoded, read by [`Presented::basic`]. `body_id` is a `client_id` also sent
    /// in the body.
    Basic {
        decoded: Zeroizing<Vec<u8>>,
        colon: usize,
        body_id: Option<&'a str>,
    },
    Post {
        id: &'a str,
        secret: &'a str,
    },
    Public {
        id: &'a str,
    },
    Assertion {
        id: String,
        assertion: &'a str,
    },
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The `sub` of an assertion, read without verifying it (only to find the client, whose keys
/// then verify it).
fn assertion_subject(assertion: &str) -> Option<String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = assertion.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("sub")?.as_str().map(str::to_owned)
}

impl Presented<'_> {
    /// The id and secret of HTTP Basic credentials, decoded from their form-urlencoding
    /// (RFC 6749 §2.3.1) and borrowed from `decoded` unless they carry escapes. An empty id is
    /// `invalid_client`; a different `client_id` in the body is `invalid_request`.
    fn basic<'d>(
        decoded: &'d [u8],
        colon: usize,
        body_id: Option<&str>,
    ) -> Result<(Cow<'d, str>, Cow<'d, str>), ProtocolError> {
        let (id, secret) = decoded
            .split_at_checked(colon)
            .ok_or_else(malformed_basic)?;
        let secret = secret.get(1..).unwrap_or_default();
        let id = decode(id).map_err(|_| malformed_basic())?;
        let secret = decode(secret).map_err(|_| malformed_basic())?;
        if id.is_empty() {
            return Err(failed());
        }
        if body_id.is_some_and(|b| b != id) {
            return Err(ProtocolError::new(
                ErrorCode::InvalidRequest,
                "client_id in the body differs from the Authorization header",
            ));
        }
        Ok((id, secret))
    }
}

fn failed() -> ProtocolError {
    ProtocolError::new(ErrorCode::InvalidClient, "client authentication failed")
}

fn malformed_basic() -> ProtocolError {
    ProtocolError::new(
        ErrorCode::InvalidRequest,
        "malformed HTTP Basic credentials",
    )
}

/// Reads the credentials a request presents, without looking anything up.
fn presented<'a>(
    headers: &'a http::HeaderMap,
    params: &'a Params<'a>,
    credentials_required: bool,
) -> Result<Presented<'a>, ProtocolError> {
    let dup = |_| ProtocolError::new(ErrorCode::InvalidRequest, "a parameter is repeated");
    let body_id = params.get("client_id").map_err(dup)?;
    let body_secret = params.get("client_secret").map_err(dup)?;
    let assertion = params.contains("client_assertion") || params.contains("client_assertion_type");
    let mut auth_headers = headers.get_all(header::AUTHORIZATION).iter();
    let auth = auth_headers.next();
    if auth_headers.next().is_some() {
        return Err(ProtocolError::new(
            ErrorCode::InvalidRequest,
            "more than one Authorization header",
        ));
    }
    if let Some(value) = auth {
        if body_secret.is_some() || assertion {
            return Err(ProtocolError::new(
                ErrorCode::InvalidRequest,
                "more than one client authentication method (RFC 6749 section 2.3)",
            ));
        }
        let value = value.as_bytes();
        let Some(encoded) = value
            .get(..6)
            .filter(|s| s.eq_ignore_ascii_case(b"basic "))
            .map(|_| &value[6..])
        else {
            return Err(failed());
        };
        let encoded = encoded.trim_ascii();
        let mut decoded = Zeroizing::new(Vec::with_capacity(encoded.len() / 4 * 3 + 3));
        STANDARD
            .decode_vec(encoded, &mut decoded)
            .map_err(|_| malformed_basic())?;
        let colon = decoded
            .iter()
            .position(|b| *b == b':')
            .ok_or_else(malformed_basic)?;
        return Ok(Presented::Basic {
            decoded,
            colon,
            body_id,
        });
    }
    if assertion {
        if body_secret.is_some() {
            return Err(ProtocolError::new(
                ErrorCode::InvalidRequest,
                "more than one client authentication method (RFC 6749 section 2.3)",
            ));
        }
        let assertion_type = params.get("client_assertion_type").map_err(dup)?;
        let assertion = params.get("client_assertion").map_err(dup)?;
        let (Some(JWT_BEARER), Some(assertion)) = (assertion_type, assertion) else {
            return Err(failed());
        };
        let id = assertion_subject(assertion).ok_or_else(failed)?;
        if body_id.is_some_and(|b| b != id) {
            return Err(failed());
        }
        return Ok(Presented::Assertion { id, assertion });
    }
    match (body_id, body_secret) {
        (Some(id), Some(secret)) => Ok(Presented::Post { id, secret }),
        (None, Some(_)) => Err(ProtocolError::new(
            ErrorCode::InvalidRequest,
            "client_secret without client_id",
        )),
        (Some(id), None) => Ok(Presented::Public { id }),
        // A client that must authenticate and did not: invalid_client. A grant that a public
        // client may use without authenticating still needs its client_id (RFC 6749 §4.1.3).
        (None, None) if credentials_required => Err(failed()),
        (None, None) => Err(ProtocolError::new(
            ErrorCode::InvalidRequest,
            "client_id is required when the client does not authenticate",
        )),
    }
}

/// The client id and secret an `Authorization` header presents, read exactly as the token
/// endpoint reads them (for the `fuzzing` feature's hooks in `crate::__fuzz`).
#[cfg(feature = "fuzzing")]
pub(crate) fn basic_credentials(
    value: &http::HeaderValue,
) -> Result<(String, String), ProtocolError> {
    let mut headers = http::HeaderMap::new();
    headers.insert(header::AUTHORIZATION, value.clone());
    match presented(&headers, &Params::default(), true)? {
        Presented::Basic {
            decoded,
            colon,
            body_id,
        } => {
            let (id, secret) = Presented::basic(&decoded, colon, body_id)?;
            Ok((id.into_owned(), secret.into_owned()))
        }
        _ => Err(failed()),
    }
}

/// The claims of a client assertion (RFC 7523 §3).
#[derive(serde::Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    aud: OneOrMany,
    exp: u64,
    #[serde(default)]
    nbf: Option<u64>,
    jti: String,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn contains(&self, v: &str) -> bool {
        match self {
            OneOrMany::One(s) => s == v,
            OneOrMany::Many(all) => all.iter().any(|s| s == v),
        }
    }
}

/// The longest an assertion may still be valid for: it bounds how long its `jti` is kept.
const MAX_ASSERTION_LIFETIME: u64 = 3600;

impl AuthorizationServer {
    /// Verifies a `private_key_jwt` assertion (RFC 7523 §3, OIDC Core §9): signed by one of
    /// the client's registered keys, `iss` and `sub` the client, `aud` the issuer or the token
    /// endpoint, not expired, and its `jti` never seen before. `Ok(false)` for any failure.
    async fn verify_assertion(
        &self,
        client: &Client,
        assertion: &str,
    ) -> Result<bool, ProtocolError> {
        let Some(keys) = client.keys() else {
            return Ok(false);
        };
        crate::token::jwt::ensure_crypto_provider();
        let Ok(header) = jsonwebtoken::decode_header(assertion) else {
            return Ok(false);
        };
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = keys
            .0
            .iter()
            .filter(|k| k.algorithms.contains(&header.alg))
            .filter(|k| header.kid.is_none() || k.kid == header.kid)
            .find_map(|k| {
                jsonwebtoken::decode::<AssertionClaims>(assertion, &k.key, &validation).ok()
            })
            .map(|data| data.claims);
        let Some(claims) = claims else {
            tracing::info!(target: TARGET, client_id = client.id(), "client assertion signature invalid");
            return Ok(false);
        };
        let now = self.inner.clock.now();
        let audience_ok = claims.aud.contains(&self.inner.issuer)
            || claims.aud.contains(&self.inner.token_endpoint);
        if claims.iss != client.id()
            || claims.sub != client.id()
            || !audience_ok
            || crate::clock::expired(claims.exp, now)
            || claims.exp > now + MAX_ASSERTION_LIFETIME
            || claims.nbf.is_some_and(|nbf| nbf > now + 5)
            || claims.jti.is_empty()
        {
            tracing::info!(target: TARGET, client_id = client.id(), "client assertion claims invalid");
            return Ok(false);
        }
        let id = TokenDigest::of(&format!("{}\0{}", client.id(), claims.jti));
        let first_use = self
            .inner
            .grants
            .consume_assertion_id(id, claims.exp)
            .await
            .map_err(crate::grant::store_failure("recording a client assertion"))?;
        if !first_use {
            tracing::warn!(target: TARGET, client_id = client.id(), "client assertion replayed");
        }
        Ok(first_use)
    }

    /// Authenticates the client of a token, revocation or introspection request. With
    /// `credentials_required`, a request that identifies no client at all is
    /// `invalid_client`; otherwise it is `invalid_request` (a public client must still send
    /// its `client_id`, RFC 6749 §4.1.3).
    pub(crate) async fn authenticate_client(
        &self,
        headers: &http::HeaderMap,
        extensions: &http::Extensions,
        params: &Params<'_>,
        credentials_required: bool,
    ) -> Result<Arc<Client>, ProtocolError> {
        let presented = presented(headers, params, credentials_required)?;
        let basic;
        let (id, method, secret) = match &presented {
            Presented::Basic {
                decoded,
                colon,
                body_id,
            } => {
                basic = Presented::basic(decoded, *colon, *body_id)?;
                (
                    &*basic.0,
                    ClientAuthMethod::ClientSecretBasic,
                    Some(&*basic.1),
                )
            }
            Presented::Post { id, secret } => {
                (*id, ClientAuthMethod::ClientSecretPost, Some(*secret))
            }
            Presented::Public { id } => (*id, ClientAuthMethod::None, None),
            Presented::Assertion { id, .. } => (id.as_str(), ClientAuthMethod::PrivateKeyJwt, None),
        };
        let throttle = &self.inner.throttle;
        // The key is a digest: computed only when a failure is tracked or recorded, so a
        // server without recent failures spends nothing on it.
        let addr = extensions.get::<crate::ClientAddr>();
        let key = || crate::throttle::Throttle::key(id, addr);
        let now = self.inner.clock.now();
        if throttle.tracking() {
            if let Some(seconds) = throttle.retry_after(&key(), now) {
                tracing::info!(target: TARGET, retry_after = seconds, "client authentication throttled");
                return Err(ProtocolError::throttled(seconds));
            }
        }
        let client = match self.inner.clients.client(id).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(target: TARGET, error = %e, "client store failed");
                return Err(ProtocolError::server_error());
            }
        };
        let Some(client) = client else {
            // Spend the same work as a real comparison so that timing does not tell.
            if let Some(s) = secret {
                let _ = TokenDigest::of(s).matches(&TokenDigest::from_bytes([0; 32]));
            }
            tracing::info!(target: TARGET, "client authentication failed: unknown client");
            throttle.failure(key(), now);
            return Err(failed());
        };
        let ok = client.auth_method() == method
            && match (&presented, secret) {
                (Presented::Assertion { assertion, .. }, _) => {
                    // Boxed: a JWT check's future is large, and every secret-authenticated
                    // request's future would carry its size.
                    Box::pin(self.verify_assertion(&client, assertion)).await?
                }
                (_, Some(s)) => client.verify_secret_digest(&TokenDigest::of(s)),
                (_, None) => !client.is_confidential(),
            };
        if !ok {
            tracing::info!(
                target: TARGET,
                client_id = client.id(),
                presented = method.as_str(),
                registered = client.auth_method().as_str(),
                "client authentication failed"
            );
            throttle.failure(key(), now);
            return Err(failed());
        }
        if throttle.tracking() {
            throttle.success(&key());
        }
        Ok(client)
    }
}
