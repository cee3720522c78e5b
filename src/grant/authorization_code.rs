//! What happens to an authorization code at the token endpoint (RFC 6749 §4.1.3, §4.1.4;
//! RFC 7636 §4.5, §4.6; RFC 9700 §2.1.1, §4.8).

use crate::client::{Client, GrantType};
use crate::endpoint::token::TokenResponse;
use crate::error::{ErrorCode, ProtocolError};
use crate::params::Params;
use crate::pkce::check_verifier_syntax;
use crate::scope::ScopeSet;
use crate::secret::TokenDigest;
use crate::server::{AuthorizationServer, RefreshTokenPolicy};
use crate::store::{CodeGrant, CodeRedemption};

const TARGET: &str = "grantor::grant::authorization_code";

fn invalid_grant() -> ProtocolError {
    ProtocolError::new(
        ErrorCode::InvalidGrant,
        "the authorization code is invalid, expired, or was issued to another client",
    )
}

/// Checks everything a code is bound to: client, redirect URI, PKCE.
fn check_binding(
    grant: &CodeGrant,
    client: &Client,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
) -> Result<(), ProtocolError> {
    if *grant.client_id != *client.id() {
        return Err(invalid_grant());
    }
    match redirect_uri {
        // RFC 6749 §4.1.3: identical to the one sent at /authorize.
        Some(uri) if uri != &*grant.redirect_uri => {
            return Err(ProtocolError::new(
                ErrorCode::InvalidGrant,
                "redirect_uri does not match the authorization request",
            ))
        }
        Some(_) => {}
        // OAuth 2.1 lets a PKCE-bound code omit it (checklist SEC-54); otherwise RFC 6749
        // makes it required.
        None if grant.code_challenge.is_none() => {
            return Err(ProtocolError::new(
                ErrorCode::InvalidRequest,
                "redirect_uri is required",
            ))
        }
        None => {}
    }
    match (&grant.code_challenge, verifier) {
        (Some(challenge), Some(v)) if challenge.verify(v) => Ok(()),
        (Some(_), Some(_)) => Err(ProtocolError::new(
            ErrorCode::InvalidGrant,
            "code_verifier does not match the code_challenge",
        )),
        // RFC 9700 §2.1.1: a challenge was sent, so the verifier must be.
        (Some(_), None) => Err(ProtocolError::new(
            ErrorCode::InvalidGrant,
            "code_verifier is missing",
        )),
        // RFC 9700 §4.8.2 (PKCE downgrade): a verifier for a code issued without a challenge.
        (None, Some(_)) => Err(ProtocolError::new(
            ErrorCode::InvalidRequest,
            "code_verifier sent for a code issued without code_challenge",
        )),
        (None, None) => Ok(()),
    }
}

impl AuthorizationServer {
    /// Whether a code exchange for `scope` returns a refresh token (see
    /// [`RefreshTokenPolicy`]).
    fn issues_refresh_token(&self, client: &Client, scope: &ScopeSet) -> bool {
        client.allows_grant(GrantType::RefreshToken)
            && match self.inner.policy.refresh_tokens {
                RefreshTokenPolicy::Always => true,
                RefreshTokenPolicy::OfflineAccess => {
                    !scope.contains("openid") || scope.contains("offline_access")
                }
            }
    }

    /// `grant_type=authorization_code`.
    pub(crate) async fn exchange_code(
        &self,
        client: &Client,
        params: &Params<'_>,
        now: u64,
    ) -> Result<TokenResponse, ProtocolError> {
        // Duplicates were rejected by the caller; check all syntax before the code is spent,
        // so that a malformed request does not burn it (checklist SEC-03).
        let get = |name| params.value(name);
        let code = get("code")
            .ok_or_else(|| ProtocolError::new(ErrorCode::InvalidRequest, "code is missing"))?;
        let verifier = get("code_verifier");
        if let Some(v) = verifier {
            check_verifier_syntax(v)?;
        }
        let redirect_uri = get("redirect_uri");
        let redemption = self
            .inner
            .grants
            .redeem_code(&TokenDigest::of(code), now)
            .await
            .map_err(|e| {
                tracing::error!(target: TARGET, error = %e, "grant store failed");
                ProtocolError::server_error()
            })?;
        let grant = match redemption {
            CodeRedemption::Redeemed(grant) => grant,
            CodeRedemption::NotFound => return Err(invalid_grant()),
            CodeRedemption::AlreadyRedeemed(grant) => {
                // RFC 6749 §4.1.2 / OAuth 2.1 §7.5.2: revoke what the code issued, but only
                // for an otherwise valid replay, so a stranger cannot revoke someone's tokens.
                if check_binding(&grant, client, redirect_uri, verifier).is_ok() {
                    let until = self.revocation_horizon(now);
                    if let Err(e) = self.inner.grants.revoke_grant(&grant.grant_id, until).await {
                        tracing::error!(target: TARGET, error = %e, "revoking a replayed grant failed");
                        return Err(ProtocolError::server_error());
                    }
                    tracing::warn!(target: TARGET, client_id = client.id(), "authorization code replayed: its tokens were revoked");
                }
                return Err(invalid_grant());
            }
        };
        // The store should not return an expired code; it is checked here too, so that a store
        // that counts the `expires_at` second as live cannot stretch a code's lifetime.
        if crate::clock::expired(grant.expires_at, now) {
            return Err(invalid_grant());
        }
        check_binding(&grant, client, redirect_uri, verifier)?;
        let (access_token, expires_in) = self
            .mint_access_token(
                grant.grant_id,
                &grant.client_id,
                Some(&grant.user.subject),
                &grant.scope,
                now,
            )
            .await?;
        let rest = async {
            let id_token = self
                .mint_id_token(
                    client,
                    &grant.user,
                    &grant.scope,
                    grant.nonce.as_deref(),
                    &access_token,
                    now,
                )
                .await?;
            // The response's copy of the scope; the refresh token's record takes the grant's
            // client id, user and scope as they are (moved, not copied).
            let scope = grant.scope.clone();
            let refresh_token = if self.issues_refresh_token(client, &grant.scope) {
                let token = self
                    .mint_refresh_token(
                        grant.grant_id,
                        grant.client_id,
                        grant.user,
                        grant.scope,
                        now,
                    )
                    .await?;
                Some(token)
            } else {
                None
            };
            Ok((id_token, scope, refresh_token))
        };
        let (id_token, scope, refresh_token) = self.or_discard(rest.await, &access_token).await?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in,
            refresh_token,
            scope,
            id_token,
        })
    }
}
