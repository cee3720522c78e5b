//! `grant_type=client_credentials` (RFC 6749 §4.4): a confidential client acting for itself.

use crate::client::Client;
use crate::endpoint::token::TokenResponse;
use crate::error::ProtocolError;
use crate::params::Params;
use crate::scope::ScopeSet;
use crate::server::AuthorizationServer;
use crate::store::GrantId;

/// Scopes that speak of an end-user, meaningless without one.
const USER_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "offline_access",
];

fn without_user_scopes(scope: &ScopeSet) -> ScopeSet {
    USER_SCOPES.iter().fold(scope.clone(), |s, u| s.without(u))
}

impl AuthorizationServer {
    /// `grant_type=client_credentials`. The client was authenticated by the caller (only
    /// confidential clients can be registered for this grant). The scope is checked like an
    /// authorization request's; when none is asked for, the client gets every scope it is
    /// allowed. No refresh token (RFC 6749 §4.4.3).
    pub(crate) async fn client_credentials(
        &self,
        client: &Client,
        params: &Params<'_>,
        now: u64,
    ) -> Result<TokenResponse, ProtocolError> {
        let requested = params.value("scope");
        let scope = match self.filter_scope(requested, client)? {
            Some(scope) => without_user_scopes(&scope),
            None => without_user_scopes(client.scopes()),
        };
        let (access_token, expires_in) = self
            .mint_access_token(GrantId::generate(), client.id(), None, &scope, now)
            .await?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in,
            refresh_token: None,
            scope,
            id_token: None,
        })
    }
}
