//! Errors: one type per concern, and one mapping from protocol errors to the wire.
//!
//! * [`ErrorCode`] is the closed set of RFC error codes grantor sends, with the HTTP status
//!   each one takes at the token endpoint ([`ErrorCode::token_status`]).
//! * [`ProtocolError`] is a code plus a fixed, client-safe description. No endpoint invents its
//!   own wire format: the authorize endpoint renders it as a redirect or an error page, the token
//!   endpoint as JSON (RFC 6749 §4.1.2.1, §5.2).
//! * [`ConfigError`] is what building a server or registering a client can fail with.
//! * [`StoreError`] is what a host's storage returns; it always becomes `server_error` on the
//!   wire, with the detail sent to `tracing` only.

use std::borrow::Cow;

use http::StatusCode;

/// An OAuth 2.0 / OpenID Connect error code (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1;
/// RFC 7009 §2.2.1; OIDC Core §3.1.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request is missing a parameter, repeats one, or is otherwise malformed.
    InvalidRequest,
    /// Client authentication failed.
    InvalidClient,
    /// The grant (code, refresh token) is invalid, expired, revoked, or bound to another client.
    InvalidGrant,
    /// The client may not use this grant or response type.
    UnauthorizedClient,
    /// The grant type is not supported.
    UnsupportedGrantType,
    /// The response type is not supported.
    UnsupportedResponseType,
    /// The requested scope is invalid, unknown to the client, or wider than granted.
    InvalidScope,
    /// The resource owner or the server denied the request.
    AccessDenied,
    /// An unexpected condition (a storage failure, for example).
    ServerError,
    /// The server cannot handle the request now.
    TemporarilyUnavailable,
    /// OIDC: `prompt=none` and the user is not signed in.
    LoginRequired,
    /// OIDC: `prompt=none` and consent is needed.
    ConsentRequired,
    /// OIDC: `prompt=none` and some other interaction is needed.
    InteractionRequired,
    /// OIDC: the `request` parameter is not supported.
    RequestNotSupported,
    /// OIDC: the `request_uri` parameter is not supported.
    RequestUriNotSupported,
    /// RFC 6750: the access token is invalid.
    InvalidToken,
    /// RFC 6750: the access token lacks a required scope.
    InsufficientScope,
    /// RFC 7009: the token type cannot be revoked.
    UnsupportedTokenType,
}

impl ErrorCode {
    /// The code as sent in the `error` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::InteractionRequired => "interaction_required",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::RequestUriNotSupported => "request_uri_not_supported",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
        }
    }

    /// The HTTP status this code takes in a JSON error response (RFC 6749 §5.2: 400, except
    /// 401 for `invalid_client`; RFC 6750 §3.1 for the bearer codes).
    pub fn token_status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
            ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A protocol error: an RFC error code and a description that is safe to send to the client.
///
/// Descriptions are fixed strings chosen by grantor (or by the host) and never carry request
/// data or internal detail, so they always stay inside the character set RFC 6749 §5.2 allows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "StoredError")]
pub struct ProtocolError {
    code: ErrorCode,
    description: Cow<'static, str>,
    /// Seconds until a throttled client may retry: answered `429` with `Retry-After`.
    retry_after: Option<u64>,
}

impl ProtocolError {
    /// An error with a fixed description.
    pub fn new(code: ErrorCode, description: &'static str) -> Self {
        debug_assert!(
            description.bytes().all(is_description_byte),
            "error_description outside RFC 6749 §5.2's character set: {description}"
        );
        ProtocolError {
            code,
            description: Cow::Borrowed(description),
            retry_after: None,
        }
    }

    /// An error with a description built at run time. Characters outside RFC 6749 §5.2's
    /// `%x20-21 / %x23-5B / %x5D-7E` are replaced by `?`.
    pub fn with_description(code: ErrorCode, description: impl Into<String>) -> Self {
        let description: String = description
            .into()
            .chars()
            .map(|c| {
                if c.is_ascii() && is_description_byte(c as u8) {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        ProtocolError {
            code,
            description: Cow::Owned(description),
            retry_after: None,
        }
    }

    /// The error code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The `error_description`.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Client authentication refused for `seconds` after repeated failures (RFC 6749 §2.3.1
    /// brute-force protection): `429 Too Many Requests` with `Retry-After`.
    pub(crate) fn throttled(seconds: u64) -> Self {
        ProtocolError {
            retry_after: Some(seconds),
            ..ProtocolError::new(
                ErrorCode::InvalidClient,
                "too many failed client authentications; retry later",
            )
        }
    }

    /// Seconds until the client may retry, for an error answered `429`.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    pub(crate) fn server_error() -> Self {
        ProtocolError::new(
            ErrorCode::ServerError,
            "the server could not complete the request",
        )
    }
}

/// A [`ProtocolError`] as stored: the description goes through
/// [`ProtocolError::with_description`] again on the way back, so stored data cannot put
/// characters on the wire that RFC 6749 §5.2 forbids.
#[derive(serde::Deserialize)]
struct StoredError {
    code: ErrorCode,
    description: String,
    retry_after: Option<u64>,
}

impl From<StoredError> for ProtocolError {
    fn from(stored: StoredError) -> Self {
        ProtocolError {
            retry_after: stored.retry_after,
            ..ProtocolError::with_description(stored.code, stored.description)
        }
    }
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl std::error::Error for ProtocolError {}

/// `%x20-21 / %x23-5B / %x5D-7E` (RFC 6749 §5.2).
fn is_description_byte(b: u8) -> bool {
    matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

/// An invalid server or client configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required piece was not given to the builder.
    #[error("missing {0}")]
    Missing(&'static str),
    /// The issuer URL is not acceptable (RFC 8414 §2: https, no query, no fragment).
    #[error("invalid issuer {issuer:?}: {reason}")]
    InvalidIssuer {
        /// The issuer as given.
        issuer: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A redirect URI cannot be registered (RFC 6749 §3.1.2, RFC 9700 §2.1).
    #[error("invalid redirect URI {uri:?}: {reason}")]
    InvalidRedirectUri {
        /// The URI as given.
        uri: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A client registration is inconsistent.
    #[error("invalid client {client_id:?}: {reason}")]
    InvalidClient {
        /// The client's id.
        client_id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A policy value is out of range.
    #[error("invalid policy: {0}")]
    InvalidPolicy(&'static str),
    /// A scope value is outside the RFC 6749 §3.3 grammar.
    #[error("invalid scope value {0:?}")]
    InvalidScope(String),
}

/// A failure of the host's storage (or of another host component). Always answered as
/// `server_error`; the message goes to `tracing`, never to the client.
#[derive(Debug, thiserror::Error)]
#[error("storage failure: {message}")]
pub struct StoreError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StoreError {
    /// A failure described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        StoreError {
            message: message.into(),
            source: None,
        }
    }

    /// A failure caused by `source`.
    pub fn from_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_client_is_401_and_others_400_rfc6749_5_2() {
        assert_eq!(ErrorCode::InvalidClient.token_status(), 401);
        assert_eq!(ErrorCode::InvalidGrant.token_status(), 400);
        assert_eq!(ErrorCode::InvalidRequest.token_status(), 400);
    }

    #[test]
    fn runtime_descriptions_stay_in_the_rfc6749_5_2_charset() {
        let e = ProtocolError::with_description(ErrorCode::InvalidRequest, "a\"b\\c€\n");
        assert_eq!(e.description(), "a?b?c??");
    }
}
