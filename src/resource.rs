//! The resource-server side: reading a bearer token from a request (RFC 6750 §2.1) and
//! validating an access token (opaque through the store, or an RFC 9068 JWT offline against
//! the keys), with errors rendered as RFC 6750 §3 says.
//!
//! ```
//! # use grantor::{AuthorizationServer, resource::{bearer_token, BearerError}};
//! # async fn api(server: &AuthorizationServer, request: grantor::http::Request<Vec<u8>>)
//! #     -> grantor::HttpResponse {
//! // In a handler of your API:
//! let token = match server.authenticate_bearer(request.headers(), Some("api.read")).await {
//!     Ok(token) => token,
//!     Err(e) => return e.to_response(server.issuer()), // 401/403 with WWW-Authenticate
//! };
//! let user = token.subject.as_deref().unwrap_or("a client");
//! # let _ = user; grantor::HttpResponse::default()
//! # }
//! ```

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, StatusCode};

use crate::interaction::HttpResponse;
use crate::scope::ScopeSet;
use crate::secret::TokenDigest;
use crate::server::{AccessTokenFormat, AuthorizationServer};
use crate::token::id_token::JwtAccessTokenClaims;

const TARGET: &str = "grantor::resource";

/// Why a request carrying (or lacking) a bearer token is refused (RFC 6750 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BearerError {
    /// No token: 401 with a challenge and no error code (RFC 6750 §3.1).
    #[error("no access token")]
    Missing,
    /// A malformed request, or a token sent in more than one way: 400 `invalid_request`.
    #[error("malformed bearer token request")]
    InvalidRequest,
    /// Unknown, expired, revoked or malformed token: 401 `invalid_token`.
    #[error("invalid access token")]
    InvalidToken,
    /// The token lacks the scope the resource needs: 403 `insufficient_scope`.
    #[error("insufficient scope, {0} required")]
    InsufficientScope(String),
    /// The store could not be read: 500.
    #[error("the token could not be checked")]
    ServerError,
}

impl BearerError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            BearerError::Missing | BearerError::InvalidToken => StatusCode::UNAUTHORIZED,
            BearerError::InvalidRequest => StatusCode::BAD_REQUEST,
            BearerError::InsufficientScope(_) => StatusCode::FORBIDDEN,
            BearerError::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `WWW-Authenticate` value (RFC 6750 §3).
    pub fn challenge(&self, realm: &str) -> HeaderValue {
        let v = match self {
            BearerError::Missing | BearerError::ServerError => format!("Bearer realm=\"{realm}\""),
            BearerError::InvalidRequest => {
                format!("Bearer realm=\"{realm}\", error=\"invalid_request\"")
            }
            BearerError::InvalidToken => {
                format!("Bearer realm=\"{realm}\", error=\"invalid_token\"")
            }
            BearerError::InsufficientScope(scope) => {
                format!("Bearer realm=\"{realm}\", error=\"insufficient_scope\", scope=\"{scope}\"")
            }
        };
        HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
    }

    /// The complete error response, with an empty body.
    pub fn to_response(&self, realm: &str) -> HttpResponse {
        let mut r = http::Response::new(Bytes::new());
        *r.status_mut() = self.status();
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, self.challenge(realm));
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

/// The bearer token of an `Authorization` header (RFC 6750 §2.1; the scheme is
/// case-insensitive). `Ok(None)` when there is no such header; tokens in the URI query are
/// never read (OAuth 2.1 §5.1).
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, BearerError> {
    let mut all = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = all.next() else {
        return Ok(None);
    };
    if all.next().is_some() {
        return Err(BearerError::InvalidRequest);
    }
    let value = value.to_str().map_err(|_| BearerError::InvalidRequest)?;
    let Some((scheme, token)) = value.split_once(' ') else {
        return Err(BearerError::InvalidRequest);
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = token.trim_start_matches(' ');
    let body_len = token.trim_end_matches('=').len();
    let ok = body_len > 0
        && token[..body_len].bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
        && token[body_len..].bytes().all(|b| b == b'=');
    if ok {
        Ok(Some(token))
    } else {
        Err(BearerError::InvalidRequest)
    }
}

/// What a valid access token says.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedAccessToken {
    /// The user it acts for (`None` for a client acting for itself).
    pub subject: Option<String>,
    /// The client it was issued to.
    pub client_id: String,
    /// The granted scope.
    pub scope: ScopeSet,
    /// Issue time (Unix seconds).
    pub issued_at: u64,
    /// Expiry (Unix seconds).
    pub expires_at: u64,
}

impl AuthorizationServer {
    /// Validates an access token issued by this server: an opaque token through the grant
    /// store (so revocation is immediate), a JWT against the published keys, `iss`, `aud`,
    /// `typ: at+jwt` and `exp`.
    pub async fn verify_access_token(
        &self,
        token: &str,
    ) -> Result<VerifiedAccessToken, BearerError> {
        let now = self.inner.clock.now();
        if self.inner.policy.access_tokens == AccessTokenFormat::Jwt && token.contains('.') {
            let keys = self.inner.keys.as_ref().ok_or(BearerError::InvalidToken)?;
            let claims: JwtAccessTokenClaims =
                crate::token::jwt::verify(keys, token, Some("at+jwt"))
                    .map_err(|_| BearerError::InvalidToken)?;
            if claims.iss != *self.inner.issuer
                || claims.aud != self.access_token_audience()
                || crate::clock::expired(claims.exp, now)
            {
                return Err(BearerError::InvalidToken);
            }
            let subject = (claims.sub != claims.client_id).then_some(claims.sub);
            return Ok(VerifiedAccessToken {
                subject,
                client_id: claims.client_id,
                scope: ScopeSet::parse(&claims.scope).map_err(|_| BearerError::InvalidToken)?,
                issued_at: claims.iat,
                expires_at: claims.exp,
            });
        }
        match self
            .inner
            .grants
            .access_token(&TokenDigest::of(token), now)
            .await
        {
            // Checked here as well as by the store (see `clock::expired`).
            Ok(Some(r)) if !crate::clock::expired(r.expires_at, now) => Ok(VerifiedAccessToken {
                subject: r.subject.map(Into::into),
                client_id: r.client_id.into(),
                scope: r.scope,
                issued_at: r.issued_at,
                expires_at: r.expires_at,
            }),
            Ok(_) => Err(BearerError::InvalidToken),
            Err(e) => {
                tracing::error!(target: TARGET, error = %e, "grant store failed");
                Err(BearerError::ServerError)
            }
        }
    }

    /// Reads the bearer token from `headers`, validates it, and checks that its scope holds
    /// `required_scope`: everything a protected API handler needs.
    pub async fn authenticate_bearer(
        &self,
        headers: &HeaderMap,
        required_scope: Option<&str>,
    ) -> Result<VerifiedAccessToken, BearerError> {
        let token = bearer_token(headers)?.ok_or(BearerError::Missing)?;
        let verified = self.verify_access_token(token).await?;
        if let Some(scope) = required_scope {
            if !verified.scope.contains(scope) {
                return Err(BearerError::InsufficientScope(scope.to_owned()));
            }
        }
        Ok(verified)
    }
}
