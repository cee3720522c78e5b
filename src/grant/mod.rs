//! The grant types, one module each: what happens to a grant at the token endpoint. This
//! module holds what they share: minting access and refresh tokens.

pub(crate) mod authorization_code;
pub(crate) mod client_credentials;
pub(crate) mod refresh_token;

use crate::error::{ProtocolError, StoreError};
use crate::scope::ScopeSet;
use crate::secret::{AccessToken, RefreshToken};
use crate::server::{AccessTokenFormat, AuthorizationServer};
use crate::store::{AccessTokenRecord, EndUser, GrantId, RefreshTokenRecord};

/// Logs a storage failure and turns it into `server_error` (DESIGN decision 5).
pub(crate) fn store_failure(target: &'static str) -> impl FnOnce(StoreError) -> ProtocolError {
    move |e| {
        tracing::error!(target: "grantor::store", during = target, error = %e, "grant store failed");
        ProtocolError::server_error()
    }
}

impl AuthorizationServer {
    /// Mints an access token (opaque and stored, or an RFC 9068 JWT, per the policy); returns
    /// it with its lifetime in seconds.
    pub(crate) async fn mint_access_token(
        &self,
        grant_id: GrantId,
        client_id: &str,
        subject: Option<&str>,
        scope: &ScopeSet,
        now: u64,
    ) -> Result<(AccessToken, u64), ProtocolError> {
        let lifetime = self.inner.policy.access_token_lifetime.as_secs();
        if self.inner.policy.access_tokens == AccessTokenFormat::Jwt {
            let jwt = self.mint_jwt_access_token(client_id, subject, scope, now, lifetime)?;
            return Ok((AccessToken::new(jwt), lifetime));
        }
        let token = AccessToken::generate();
        let record = AccessTokenRecord {
            grant_id,
            client_id: client_id.into(),
            subject: subject.map(Into::into),
            scope: scope.clone(),
            issued_at: now,
            expires_at: now + lifetime,
        };
        self.inner
            .grants
            .store_access_token(token.digest(), record)
            .await
            .map_err(store_failure("storing an access token"))?;
        Ok((token, lifetime))
    }

    /// The record of a refresh token issued now in `grant_id`'s family, which expires at
    /// `family_expires_at` at the latest.
    pub(crate) fn refresh_record(
        &self,
        grant_id: GrantId,
        client_id: Box<str>,
        user: EndUser,
        scope: ScopeSet,
        now: u64,
        family_expires_at: u64,
    ) -> RefreshTokenRecord {
        let idle = self.inner.policy.refresh_token_idle_lifetime.as_secs();
        RefreshTokenRecord::new(
            grant_id,
            client_id,
            user,
            scope,
            now,
            (now + idle).min(family_expires_at),
            family_expires_at,
        )
    }

    /// Mints and stores the first refresh token of a family.
    pub(crate) async fn mint_refresh_token(
        &self,
        grant_id: GrantId,
        client_id: Box<str>,
        user: EndUser,
        scope: ScopeSet,
        now: u64,
    ) -> Result<RefreshToken, ProtocolError> {
        let token = RefreshToken::generate();
        let family_expires_at = now + self.inner.policy.refresh_token_absolute_lifetime.as_secs();
        let record = self.refresh_record(grant_id, client_id, user, scope, now, family_expires_at);
        self.inner
            .grants
            .store_refresh_token(token.digest(), record)
            .await
            .map_err(store_failure("storing a refresh token"))?;
        Ok(token)
    }

    /// `result` of what follows minting `access_token` in a grant; on an error the token
    /// will not be sent, so an opaque one is forgotten (a JWT needs nothing). Best effort:
    /// nobody has seen the token, so a failure to forget it is only logged.
    pub(crate) async fn or_discard<T>(
        &self,
        result: Result<T, ProtocolError>,
        access_token: &AccessToken,
    ) -> Result<T, ProtocolError> {
        if result.is_err() && self.inner.policy.access_tokens == AccessTokenFormat::Opaque {
            if let Err(e) = self
                .inner
                .grants
                .revoke_access_token(&access_token.digest())
                .await
            {
                tracing::error!(target: "grantor::store", error = %e, "discarding an unsent access token failed");
            }
        }
        result
    }

    /// How long a revocation of a grant must be remembered: the longest anything issued
    /// from it can live.
    pub(crate) fn revocation_horizon(&self, now: u64) -> u64 {
        let p = &self.inner.policy;
        now + p
            .access_token_lifetime
            .max(p.refresh_token_absolute_lifetime)
            .as_secs()
    }
}
