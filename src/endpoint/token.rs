//! The token endpoint (RFC 6749 §3.2, §5): request checks, client authentication, and the
//! dispatch to each grant type in [`crate::grant`].

use http::{header, Method, StatusCode};

use crate::client::GrantType;
use crate::endpoint::authorize::is_form;
use crate::error::{ErrorCode, ProtocolError};
use crate::interaction::HttpResponse;
use crate::params::Params;
use crate::response;
use crate::scope::ScopeSet;
use crate::server::AuthorizationServer;

const TARGET: &str = "grantor::token";

/// Parameters of the token endpoint that must not be repeated (RFC 6749 §3.2).
const SINGLE_VALUED: &[&str] = &[
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "refresh_token",
    "scope",
];

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, serde::Serialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    pub(crate) token_type: &'static str,
    pub(crate) expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) refresh_token: Option<String>,
    #[serde(
        skip_serializing_if = "ScopeSet::is_empty",
        serialize_with = "wire_form"
    )]
    pub(crate) scope: ScopeSet,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id_token: Option<String>,
}

/// A scope as its space-separated wire form (RFC 6749 §3.3).
fn wire_form<S: serde::Serializer>(scope: &ScopeSet, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(scope.as_str())
}

impl AuthorizationServer {
    /// The token endpoint: `POST` with an `application/x-www-form-urlencoded` body only.
    ///
    /// Answers JSON with `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1,
    /// §5.2); a failed client authentication is `401 invalid_client` with a
    /// `WWW-Authenticate: Basic` challenge.
    pub async fn token<B: AsRef<[u8]>>(&self, request: http::Request<B>) -> HttpResponse {
        let (parts, body) = request.into_parts();
        self.form_endpoint(&parts, body.as_ref(), |s, p, b| s.token_inner(p, b))
            .await
    }

    async fn token_inner(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> Result<HttpResponse, ProtocolError> {
        let params = self.read_form(parts, body, SINGLE_VALUED)?;
        let grant = match params.get("grant_type").ok().flatten() {
            None => {
                return Err(ProtocolError::new(
                    ErrorCode::InvalidRequest,
                    "grant_type is missing",
                ))
            }
            Some(g) => match GrantType::parse(g) {
                Some(g) if self.supports_grant(g) => g,
                _ => {
                    return Err(ProtocolError::new(
                        ErrorCode::UnsupportedGrantType,
                        "unsupported grant_type",
                    ))
                }
            },
        };
        let client = self
            .authenticate_client(
                &parts.headers,
                &parts.extensions,
                &params,
                grant == GrantType::ClientCredentials,
            )
            .await?;
        if !client.allows_grant(grant) {
            return Err(ProtocolError::new(
                ErrorCode::UnauthorizedClient,
                "the client may not use this grant type",
            ));
        }
        let now = self.inner.clock.now();
        let issued = match grant {
            GrantType::AuthorizationCode => self.exchange_code(&client, &params, now).await?,
            GrantType::RefreshToken => self.refresh(&client, &params, now).await?,
            GrantType::ClientCredentials => self.client_credentials(&client, &params, now).await?,
        };
        tracing::info!(target: TARGET, client_id = client.id(), grant_type = grant.as_str(), "tokens issued");
        // serde_json starts at 128 bytes; a response with two tokens needs about 200.
        let mut body = Vec::with_capacity(512);
        serde_json::to_writer(&mut body, &issued).map_err(|_| ProtocolError::server_error())?;
        Ok(response::json(StatusCode::OK, body))
    }

    /// Whether this server implements `grant`.
    pub(crate) fn supports_grant(&self, grant: GrantType) -> bool {
        matches!(
            grant,
            GrantType::AuthorizationCode | GrantType::RefreshToken | GrantType::ClientCredentials
        )
    }

    /// The request checks every client-authenticated form endpoint (token, revocation,
    /// introspection) shares: a body that matches its `Content-Length`, form-urlencoded,
    /// parameters from the body only (RFC 6749 §2.3.1: never the URI), none of
    /// `single_valued` repeated (RFC 6749 §3.2).
    pub(crate) fn read_form<'b>(
        &self,
        parts: &http::request::Parts,
        body: &'b [u8],
        single_valued: &[&'static str],
    ) -> Result<Params<'b>, ProtocolError> {
        check_content_length(&parts.headers, body.len())?;
        if !is_form(&parts.headers) {
            return Err(ProtocolError::new(
                ErrorCode::InvalidRequest,
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let params = Params::parse(body, self.inner.limits.parse())?;
        if let Some(name) = params.first_duplicate(single_valued) {
            return Err(ProtocolError::with_description(
                ErrorCode::InvalidRequest,
                format!("{name} is repeated"),
            ));
        }
        Ok(params)
    }

    /// The response of a client-authenticated form endpoint: `POST` only, a bounded body,
    /// and errors as JSON (RFC 6749 §5.2) with the Basic challenge on 401.
    pub(crate) async fn form_endpoint<'a, F, Fut>(
        &'a self,
        parts: &'a http::request::Parts,
        body: &'a [u8],
        handler: F,
    ) -> HttpResponse
    where
        F: FnOnce(&'a Self, &'a http::request::Parts, &'a [u8]) -> Fut,
        Fut: std::future::Future<Output = Result<HttpResponse, ProtocolError>> + 'a,
    {
        if parts.method != Method::POST {
            return response::method_not_allowed("POST");
        }
        if body.len() > self.inner.limits.max_body_bytes {
            return response::too_large();
        }
        match handler(self, parts, body).await {
            Ok(r) => r,
            Err(e) => response::json_error(&e, &self.inner.basic_challenge),
        }
    }
}

/// A `Content-Length` that disagrees with the body is a malformed request (checklist SEC-09).
fn check_content_length(headers: &http::HeaderMap, len: usize) -> Result<(), ProtocolError> {
    match headers.get(header::CONTENT_LENGTH) {
        None => Ok(()),
        Some(v) => match v.to_str().ok().and_then(|s| s.trim().parse::<usize>().ok()) {
            Some(n) if n == len => Ok(()),
            _ => Err(ProtocolError::new(
                ErrorCode::InvalidRequest,
                "Content-Length does not match the body",
            )),
        },
    }
}
