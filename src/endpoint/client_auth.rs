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

use crate::client::{Client, ClientAuthMethod};
use crate::error::{ErrorCode, ProtocolError};
use crate::params::{decode, Params};
use crate::secret::{ClientSecret, TokenDigest};
use crate::server::AuthorizationServer;

const TARGET: &str = "grantor::client_auth";

enum Presented<'a> {
    Basic {
        id: Cow<'a, str>,
        secret: ClientSecret,
    },
    Post {
        id: &'a str,
        secret: ClientSecret,
    },
    Public {
        id: &'a str,
    },
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
        let decoded = STANDARD
            .decode(encoded.trim_ascii())
            .map_err(|_| malformed_basic())?;
        let colon = decoded
            .iter()
            .position(|b| *b == b':')
            .ok_or_else(malformed_basic)?;
        // RFC 6749 §2.3.1: id and secret are form-urlencoded before base64.
        let id = decode(&decoded[..colon])
            .map_err(|_| malformed_basic())?
            .into_owned();
        let secret = decode(&decoded[colon + 1..])
            .map_err(|_| malformed_basic())?
            .into_owned();
        if id.is_empty() {
            return Err(failed());
        }
        if body_id.is_some_and(|b| b != id) {
            return Err(ProtocolError::new(
                ErrorCode::InvalidRequest,
                "client_id in the body differs from the Authorization header",
            ));
        }
        return Ok(Presented::Basic {
            id: Cow::Owned(id),
            secret: ClientSecret::new(secret),
        });
    }
    if assertion {
        return Err(ProtocolError::new(
            ErrorCode::InvalidClient,
            "client assertions are not supported",
        ));
    }
    match (body_id, body_secret) {
        (Some(id), Some(secret)) => Ok(Presented::Post {
            id,
            secret: ClientSecret::new(secret),
        }),
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

impl AuthorizationServer {
    /// Authenticates the client of a token, revocation or introspection request. With
    /// `credentials_required`, a request that identifies no client at all is
    /// `invalid_client`; otherwise it is `invalid_request` (a public client must still send
    /// its `client_id`, RFC 6749 §4.1.3).
    pub(crate) async fn authenticate_client(
        &self,
        headers: &http::HeaderMap,
        params: &Params<'_>,
        credentials_required: bool,
    ) -> Result<Arc<Client>, ProtocolError> {
        let presented = presented(headers, params, credentials_required)?;
        let (id, method, secret) = match &presented {
            Presented::Basic { id, secret } => (
                id.as_ref(),
                ClientAuthMethod::ClientSecretBasic,
                Some(secret),
            ),
            Presented::Post { id, secret } => {
                (*id, ClientAuthMethod::ClientSecretPost, Some(secret))
            }
            Presented::Public { id } => (*id, ClientAuthMethod::None, None),
        };
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
                let _ = s.digest().matches(&TokenDigest::from_bytes([0; 32]));
            }
            tracing::info!(target: TARGET, "client authentication failed: unknown client");
            return Err(failed());
        };
        let ok = client.auth_method() == method
            && match secret {
                Some(s) => client.verify_secret(s),
                None => !client.is_confidential(),
            };
        if !ok {
            tracing::info!(
                target: TARGET,
                client_id = client.id(),
                presented = method.as_str(),
                registered = client.auth_method().as_str(),
                "client authentication failed"
            );
            return Err(failed());
        }
        Ok(client)
    }
}
