//! The grant types, one module each: what happens to a grant at the token endpoint.

pub(crate) mod authorization_code;
