//! The introspection endpoint (RFC 7662).
//!
//! The caller authenticates as a confidential client. It learns about tokens issued to itself,
//! or to anyone if registered with [`introspect_any_token`](crate::ClientBuilder::introspect_any_token)
//! (a resource server). Anything not active, or not the caller's to see, is exactly
//! `{"active":false}` (§2.2).

use http::StatusCode;
use serde::Serialize;

use crate::client::Client;
use crate::error::{ErrorCode, ProtocolError};
use crate::grant::store_failure;
use crate::interaction::HttpResponse;
use crate::response;
use crate::secret::TokenDigest;
use crate::server::AuthorizationServer;
use crate::store::RefreshLookup;

#[derive(Serialize)]
struct Active<'a> {
    active: bool,
    scope: &'a str,
    client_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    token_type: &'static str,
    exp: u64,
    iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    iss: &'a str,
}

impl AuthorizationServer {
    /// The introspection endpoint: `POST` with `token` and an optional `token_type_hint`.
    pub async fn introspect<B: AsRef<[u8]>>(&self, request: http::Request<B>) -> HttpResponse {
        let (parts, body) = request.into_parts();
        self.form_endpoint(&parts, body.as_ref(), |s, p, b| s.introspect_inner(p, b))
            .await
    }

    async fn introspect_inner(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> Result<HttpResponse, ProtocolError> {
        let (params, client) = self.token_form(parts, body).await?;
        if !client.is_confidential() {
            return Err(ProtocolError::new(
                ErrorCode::InvalidClient,
                "client authentication failed",
            ));
        }
        let token = super::token_param(&params)?;
        let now = self.inner.clock.now();
        let body = self.introspection_body(&client, token, now).await?;
        Ok(response::json(StatusCode::OK, body))
    }

    async fn introspection_body(
        &self,
        client: &Client,
        token: &str,
        now: u64,
    ) -> Result<Vec<u8>, ProtocolError> {
        const INACTIVE: &[u8] = br#"{"active":false}"#;
        let may_see = |owner: &str| client.may_introspect_any_token() || owner == client.id();
        let serialize =
            |a: &Active<'_>| serde_json::to_vec(a).map_err(|_| ProtocolError::server_error());
        let verified = match self.verify_access_token(token).await {
            Err(crate::resource::BearerError::ServerError) => {
                return Err(ProtocolError::server_error())
            }
            other => other.ok(),
        };
        if let Some(at) = verified {
            if !may_see(&at.client_id) {
                return Ok(INACTIVE.to_vec());
            }
            let aud = (self.inner.policy.access_tokens == crate::server::AccessTokenFormat::Jwt)
                .then(|| self.access_token_audience());
            return serialize(&Active {
                active: true,
                scope: at.scope.as_str(),
                client_id: &at.client_id,
                username: None,
                token_type: "Bearer",
                exp: at.expires_at,
                iat: at.issued_at,
                sub: at.subject.as_deref(),
                aud,
                iss: &self.inner.issuer,
            });
        }
        let lookup = self
            .inner
            .grants
            .refresh_token(&TokenDigest::of(token), now)
            .await
            .map_err(store_failure("reading a refresh token"))?;
        match lookup {
            RefreshLookup::Active(rt)
                if may_see(&rt.client_id) && !crate::clock::expired(rt.expires_at, now) =>
            {
                serialize(&Active {
                    active: true,
                    scope: rt.scope.as_str(),
                    client_id: &rt.client_id,
                    username: None,
                    token_type: "refresh_token",
                    exp: rt.expires_at,
                    iat: rt.issued_at,
                    sub: Some(&rt.user.subject),
                    aud: None,
                    iss: &self.inner.issuer,
                })
            }
            _ => Ok(INACTIVE.to_vec()),
        }
    }
}
