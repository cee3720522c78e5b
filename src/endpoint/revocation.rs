//! The revocation endpoint (RFC 7009).
//!
//! The client authenticates as at the token endpoint. `token_type_hint` is only a hint: every
//! kind of token is looked up. Revoking a refresh token revokes its whole family with its
//! access tokens (RFC 7009 §2.1 SHOULD); an unknown, expired or malformed token answers 200
//! (§2.2). A token issued to another client is never revoked, and the request is refused
//! with `invalid_request` (§2.1; checklist SEC-83).

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};

use crate::client::Client;
use crate::error::{ErrorCode, ProtocolError};
use crate::grant::store_failure;
use crate::interaction::HttpResponse;
use crate::secret::TokenDigest;
use crate::server::{AccessTokenFormat, AuthorizationServer};
use crate::store::RefreshLookup;

const TARGET: &str = "grantor::revocation";

fn not_yours() -> ProtocolError {
    ProtocolError::new(
        ErrorCode::InvalidRequest,
        "the token was not issued to this client",
    )
}

impl AuthorizationServer {
    /// The revocation endpoint: `POST` with `token` and an optional `token_type_hint`.
    pub async fn revoke<B: AsRef<[u8]>>(&self, request: http::Request<B>) -> HttpResponse {
        let (parts, body) = request.into_parts();
        self.form_endpoint(&parts, body.as_ref(), |s, p, b| s.revoke_inner(p, b))
            .await
    }

    async fn revoke_inner(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> Result<HttpResponse, ProtocolError> {
        let (params, client) = self.token_form(parts, body).await?;
        let token = super::token_param(&params)?;
        let refresh_first = params.value("token_type_hint") == Some("refresh_token");
        let now = self.inner.clock.now();
        let digest = TokenDigest::of(token);
        if refresh_first {
            if !self.revoke_refresh(&client, &digest, now).await? {
                self.revoke_access(&client, token, &digest, now).await?;
            }
        } else if !self.revoke_access(&client, token, &digest, now).await? {
            self.revoke_refresh(&client, &digest, now).await?;
        }
        let mut r = http::Response::new(Bytes::new());
        *r.status_mut() = StatusCode::OK;
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(r)
    }

    /// Revokes `token` if it is a live access token of `client`; `Ok(false)` if it is not an
    /// access token this server knows.
    async fn revoke_access(
        &self,
        client: &Client,
        token: &str,
        digest: &TokenDigest,
        now: u64,
    ) -> Result<bool, ProtocolError> {
        if self.inner.policy.access_tokens == AccessTokenFormat::Jwt {
            if let Ok(verified) = self.verify_access_token(token).await {
                if verified.client_id != client.id() {
                    return Err(not_yours());
                }
                // RFC 7009 §2.2.1: self-contained tokens cannot be revoked here.
                return Err(ProtocolError::new(
                    ErrorCode::UnsupportedTokenType,
                    "JWT access tokens cannot be revoked; they expire",
                ));
            }
        }
        let record = self
            .inner
            .grants
            .access_token(digest, now)
            .await
            .map_err(store_failure("reading an access token"))?;
        let Some(record) = record else {
            return Ok(false);
        };
        if *record.client_id != *client.id() {
            tracing::warn!(target: TARGET, client_id = client.id(), "refused to revoke another client's access token");
            return Err(not_yours());
        }
        self.inner
            .grants
            .revoke_access_token(digest)
            .await
            .map_err(store_failure("revoking an access token"))?;
        tracing::info!(target: TARGET, client_id = client.id(), "access token revoked");
        Ok(true)
    }

    /// Revokes the family of `digest` if it is a refresh token of `client`; `Ok(false)` if it
    /// is not a refresh token this server knows.
    async fn revoke_refresh(
        &self,
        client: &Client,
        digest: &TokenDigest,
        now: u64,
    ) -> Result<bool, ProtocolError> {
        let record = match self
            .inner
            .grants
            .refresh_token(digest, now)
            .await
            .map_err(store_failure("reading a refresh token"))?
        {
            RefreshLookup::Active(r) | RefreshLookup::Rotated(r) => r,
            RefreshLookup::NotFound => return Ok(false),
        };
        if *record.client_id != *client.id() {
            tracing::warn!(target: TARGET, client_id = client.id(), "refused to revoke another client's refresh token");
            return Err(not_yours());
        }
        let until = record.family_expires_at.max(self.revocation_horizon(now));
        self.inner
            .grants
            .revoke_grant(&record.grant_id, until)
            .await
            .map_err(store_failure("revoking a grant"))?;
        tracing::info!(target: TARGET, client_id = client.id(), "refresh token family revoked");
        Ok(true)
    }
}
