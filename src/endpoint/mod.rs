//! The HTTP endpoints, one module each.

pub(crate) mod authorize;
pub(crate) mod client_auth;
pub(crate) mod discovery;
pub(crate) mod introspection;
pub(crate) mod revocation;
pub(crate) mod token;
pub(crate) mod userinfo;

/// Parameters of the revocation (RFC 7009 §2.1) and introspection (RFC 7662 §2.1) requests
/// that must not be repeated.
const TOKEN_PARAMS: &[&str] = &[
    "token",
    "token_type_hint",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

impl crate::server::AuthorizationServer {
    /// Reads a revocation (RFC 7009 §2.1) or introspection (RFC 7662 §2.1) request: its form,
    /// none of [`TOKEN_PARAMS`] repeated, and the client it authenticates.
    pub(crate) async fn token_form<'b>(
        &self,
        parts: &http::request::Parts,
        body: &'b [u8],
    ) -> Result<
        (
            crate::params::Params<'b>,
            std::sync::Arc<crate::client::Client>,
        ),
        crate::error::ProtocolError,
    > {
        let params = self.read_form(parts, body, TOKEN_PARAMS)?;
        let client = self
            .authenticate_client(&parts.headers, &parts.extensions, &params, true)
            .await?;
        Ok((params, client))
    }
}

/// The required `token` of a revocation or introspection request.
pub(crate) fn token_param<'p>(
    params: &'p crate::params::Params<'_>,
) -> Result<&'p str, crate::error::ProtocolError> {
    params.value("token").ok_or_else(|| {
        crate::error::ProtocolError::new(
            crate::error::ErrorCode::InvalidRequest,
            "token is missing",
        )
    })
}
