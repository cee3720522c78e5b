//! Minting ID tokens (OIDC Core §2, §3.1.3.6, §12.2) and RFC 9068 JWT access tokens.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::claims::filter_claims;
use crate::client::Client;
use crate::error::ProtocolError;
use crate::scope::ScopeSet;
use crate::secret::AccessToken;
use crate::server::AuthorizationServer;
use crate::store::EndUser;
use crate::token::jwt::{left_half_hash, sign};
use crate::token::{KeySet, SigningAlgorithm};

const TARGET: &str = "grantor::token";

#[derive(Serialize)]
struct IdTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
    iat: u64,
    /// Always present: OIDC Core §2 requires it after a `max_age` request and allows it
    /// otherwise, so relying parties never have to ask.
    auth_time: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acr: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    amr: &'a [String],
    #[serde(flatten)]
    claims: Map<String, Value>,
}

/// The claims of an RFC 9068 JWT access token.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct JwtAccessTokenClaims {
    pub(crate) iss: String,
    pub(crate) exp: u64,
    pub(crate) aud: String,
    pub(crate) sub: String,
    pub(crate) client_id: String,
    pub(crate) iat: u64,
    pub(crate) jti: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) scope: String,
}

/// The algorithm used when a client names none: RS256 when active (OpenID requires it),
/// otherwise the first active one.
pub(crate) fn default_algorithm(keys: &KeySet) -> Option<SigningAlgorithm> {
    let active = keys.active_algorithms();
    if active.contains(&SigningAlgorithm::RS256) {
        Some(SigningAlgorithm::RS256)
    } else {
        active.first().copied()
    }
}

impl AuthorizationServer {
    /// An ID token for an `openid` grant, or `None` when the scope has no `openid`.
    /// `nonce` is the authorization request's (never sent on refresh, OIDC Core §12.2).
    pub(crate) async fn mint_id_token(
        &self,
        client: &Client,
        user: &EndUser,
        scope: &ScopeSet,
        nonce: Option<&str>,
        access_token: &AccessToken,
        now: u64,
    ) -> Result<Option<String>, ProtocolError> {
        if !scope.contains("openid") {
            return Ok(None);
        }
        let Some(keys) = &self.inner.keys else {
            return Ok(None);
        };
        let Some(alg) = client
            .id_token_signing_alg()
            .or_else(|| default_algorithm(keys))
        else {
            tracing::error!(target: TARGET, "no active signing key");
            return Err(ProtocolError::server_error());
        };
        let claims = match self.inner.claims.claims(&user.subject).await {
            Ok(all) => filter_claims(all, scope),
            Err(e) => {
                tracing::error!(target: TARGET, error = %e, "claims provider failed");
                return Err(ProtocolError::server_error());
            }
        };
        let token = IdTokenClaims {
            iss: &self.inner.issuer,
            sub: &user.subject,
            aud: client.id(),
            exp: now + self.inner.policy.id_token_lifetime.as_secs(),
            iat: now,
            auth_time: user.auth_time,
            nonce,
            at_hash: Some(left_half_hash(alg, access_token.expose())),
            acr: user.acr.as_deref(),
            amr: &user.amr,
            claims,
        };
        sign(keys, Some(alg), None, &token).map(Some).map_err(|e| {
            tracing::error!(target: TARGET, error = %e, alg = alg.as_str(), "signing an ID token failed");
            ProtocolError::server_error()
        })
    }

    /// An RFC 9068 access token (`typ: at+jwt`).
    pub(crate) fn mint_jwt_access_token(
        &self,
        client_id: &str,
        subject: Option<&str>,
        scope: &ScopeSet,
        now: u64,
        lifetime: u64,
    ) -> Result<String, ProtocolError> {
        let Some(keys) = &self.inner.keys else {
            return Err(ProtocolError::server_error());
        };
        let claims = JwtAccessTokenClaims {
            iss: self.inner.issuer.to_string(),
            exp: now + lifetime,
            aud: self.access_token_audience().to_owned(),
            // RFC 9068 §2.2: with no resource owner, the client is the subject.
            sub: subject.unwrap_or(client_id).to_owned(),
            client_id: client_id.to_owned(),
            iat: now,
            jti: crate::secret::random_token(),
            scope: scope.as_str().to_owned(),
        };
        sign(keys, default_algorithm(keys), Some("at+jwt"), &claims).map_err(|e| {
            tracing::error!(target: TARGET, error = %e, "signing an access token failed");
            ProtocolError::server_error()
        })
    }

    pub(crate) fn access_token_audience(&self) -> &str {
        self.inner
            .policy
            .access_token_audience
            .as_deref()
            .unwrap_or(&self.inner.issuer)
    }
}
