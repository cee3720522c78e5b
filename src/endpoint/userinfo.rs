//! The userinfo endpoint (OIDC Core §5.3): GET or POST with a bearer token; claims by scope.

use http::{header, HeaderValue, Method, StatusCode};
use serde_json::Value;

use crate::claims::filter_claims;
use crate::endpoint::authorize::is_form;
use crate::interaction::HttpResponse;
use crate::params::Params;
use crate::resource::{bearer_token, BearerError};
use crate::response;
use crate::server::AuthorizationServer;

const TARGET: &str = "grantor::userinfo";

impl AuthorizationServer {
    /// The userinfo endpoint: `GET` or `POST`, the access token in the `Authorization`
    /// header (or, on `POST`, an `access_token` form field, RFC 6750 §2.2; never the query).
    /// Answers the claims the token's scope releases, always with `sub`.
    pub async fn userinfo<B: AsRef<[u8]>>(&self, request: http::Request<B>) -> HttpResponse {
        let (parts, body) = request.into_parts();
        match self.userinfo_inner(&parts, body.as_ref()).await {
            Ok(r) => r,
            Err(e) => {
                let mut r = e.to_response(&self.inner.issuer);
                r.headers_mut().insert(
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                );
                r
            }
        }
    }

    async fn userinfo_inner(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> Result<HttpResponse, BearerError> {
        if parts.method != Method::GET && parts.method != Method::POST {
            return Ok(response::method_not_allowed("GET, POST"));
        }
        let header_token = bearer_token(&parts.headers)?;
        let mut body_token = None;
        if parts.method == Method::POST && is_form(&parts.headers) {
            if body.len() > self.inner.limits.max_body_bytes {
                return Ok(response::too_large());
            }
            let params = Params::parse(body, self.inner.limits.parse())
                .map_err(|_| BearerError::InvalidRequest)?;
            body_token = params
                .get("access_token")
                .map_err(|_| BearerError::InvalidRequest)?
                .map(str::to_owned);
        }
        let token = match (header_token, body_token.as_deref()) {
            (Some(_), Some(_)) => return Err(BearerError::InvalidRequest),
            (Some(t), None) | (None, Some(t)) => t,
            (None, None) => return Err(BearerError::Missing),
        };
        let verified = self.verify_access_token(token).await?;
        if !verified.scope.contains("openid") {
            return Err(BearerError::InsufficientScope("openid".into()));
        }
        let Some(subject) = verified.subject else {
            return Err(BearerError::InvalidToken);
        };
        let mut claims = match self.inner.claims.claims(&subject).await {
            Ok(all) => filter_claims(all, &verified.scope),
            Err(e) => {
                tracing::error!(target: TARGET, error = %e, "claims provider failed");
                return Err(BearerError::ServerError);
            }
        };
        claims.insert("sub".into(), Value::String(subject));
        let body = serde_json::to_vec(&claims).map_err(|_| BearerError::ServerError)?;
        let mut r = response::json(StatusCode::OK, body);
        r.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        Ok(r)
    }
}
