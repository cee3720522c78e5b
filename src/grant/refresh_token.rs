//! What happens to a refresh token at the token endpoint (RFC 6749 §6; RFC 9700 §4.14.2;
//! OIDC Core §12).
//!
//! Every use rotates: the presented token is spent and a successor returned, in one atomic
//! store step. Presenting a spent token again is reuse: the whole family (every refresh and
//! access token of the authorization) is revoked, because the server cannot tell the
//! legitimate client from an attacker holding a stolen token.

use crate::client::Client;
use crate::endpoint::token::TokenResponse;
use crate::error::{ErrorCode, ProtocolError};
use crate::grant::store_failure;
use crate::params::Params;
use crate::scope::ScopeSet;
use crate::secret::{RefreshToken, TokenDigest};
use crate::server::AuthorizationServer;
use crate::store::{GrantId, RefreshLookup, Rotation};

const TARGET: &str = "grantor::grant::refresh_token";

fn invalid_grant() -> ProtocolError {
    ProtocolError::new(
        ErrorCode::InvalidGrant,
        "the refresh token is invalid, expired, revoked, or was issued to another client",
    )
}

impl AuthorizationServer {
    /// `grant_type=refresh_token`.
    pub(crate) async fn refresh(
        &self,
        client: &Client,
        params: &Params<'_>,
        now: u64,
    ) -> Result<TokenResponse, ProtocolError> {
        let get = |name| params.value(name);
        let presented = get("refresh_token").ok_or_else(|| {
            ProtocolError::new(ErrorCode::InvalidRequest, "refresh_token is missing")
        })?;
        let requested_scope = match get("scope") {
            Some(s) => Some(ScopeSet::parse(s).map_err(|_| {
                ProtocolError::new(
                    ErrorCode::InvalidScope,
                    "scope contains a character outside the scope grammar",
                )
            })?),
            None => None,
        };
        let old = TokenDigest::of(presented);
        let record = match self
            .inner
            .grants
            .refresh_token(&old, now)
            .await
            .map_err(store_failure("reading a refresh token"))?
        {
            RefreshLookup::Active(r) if !crate::clock::expired(r.expires_at, now) => r,
            RefreshLookup::Active(_) | RefreshLookup::NotFound => return Err(invalid_grant()),
            RefreshLookup::Rotated(r) => {
                if *r.client_id == *client.id() {
                    self.revoke_family(
                        r.grant_id,
                        r.family_expires_at,
                        client.id(),
                        now,
                        "refresh token reused",
                    )
                    .await?;
                }
                return Err(invalid_grant());
            }
        };
        if *record.client_id != *client.id() {
            return Err(invalid_grant());
        }
        // RFC 6749 §6: the scope may narrow for this access token, never widen.
        let scope = match requested_scope {
            Some(s) if !s.is_empty() => {
                if !s.is_subset_of(&record.scope) {
                    return Err(ProtocolError::new(
                        ErrorCode::InvalidScope,
                        "the requested scope exceeds the scope originally granted",
                    ));
                }
                s
            }
            _ => record.scope.clone(),
        };
        // The access token (and ID token) first, the rotation last: a store failure before
        // the rotation leaves the presented token live, so the client's retry is not taken
        // for reuse. Until the rotation succeeds, nothing minted here has left the server.
        let (access_token, expires_in) = self
            .mint_access_token(
                record.grant_id,
                &record.client_id,
                Some(&record.user.subject),
                &scope,
                now,
            )
            .await?;
        let (grant_id, family_expires_at) = (record.grant_id, record.family_expires_at);
        let successor = RefreshToken::generate();
        let rest = async {
            // OIDC Core §12.2: same iss, sub, aud and auth_time; a new iat; no nonce.
            let id_token = self
                .mint_id_token(client, &record.user, &scope, None, &access_token, now)
                .await?;
            // The successor keeps the original scope, client and user: moved, not copied.
            let successor_record = self.refresh_record(
                grant_id,
                record.client_id,
                record.user,
                record.scope,
                now,
                family_expires_at,
            );
            let rotation = self
                .inner
                .grants
                .rotate_refresh_token(&old, successor.digest(), successor_record, now)
                .await
                .map_err(store_failure("rotating a refresh token"))?;
            match rotation {
                Rotation::Rotated => Ok(id_token),
                // Expired or revoked since it was read.
                Rotation::NotFound => Err(invalid_grant()),
                Rotation::AlreadyRotated => {
                    // A concurrent use of the same token: one of the two is not the client.
                    self.revoke_family(
                        grant_id,
                        family_expires_at,
                        client.id(),
                        now,
                        "refresh token used concurrently",
                    )
                    .await?;
                    Err(invalid_grant())
                }
            }
        };
        let id_token = self.or_discard(rest.await, &access_token).await?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in,
            refresh_token: Some(successor),
            scope,
            id_token,
        })
    }

    /// Revokes every token of the family `grant_id` (which expires at `family_expires_at`).
    async fn revoke_family(
        &self,
        grant_id: GrantId,
        family_expires_at: u64,
        client_id: &str,
        now: u64,
        why: &'static str,
    ) -> Result<(), ProtocolError> {
        let until = family_expires_at.max(self.revocation_horizon(now));
        self.inner
            .grants
            .revoke_grant(&grant_id, until)
            .await
            .map_err(store_failure("revoking a refresh-token family"))?;
        tracing::warn!(target: TARGET, client_id, reason = why, "refresh-token family revoked");
        Ok(())
    }
}
