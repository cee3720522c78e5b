//! The HTTP endpoints, one module each.

pub(crate) mod authorize;
pub(crate) mod client_auth;
pub(crate) mod discovery;
pub(crate) mod introspection;
pub(crate) mod revocation;
pub(crate) mod token;
pub(crate) mod userinfo;
