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
