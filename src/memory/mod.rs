//! In-memory implementations of every host trait, for tests, demos and single-process
//! deployments.
//!
//! * [`MemoryClientStore`]: clients registered at start or at run time.
//! * [`MemoryGrantStore`]: codes, tokens, revocations and pending authorizations, sharded
//!   so that requests do not contend on one lock, with expired entries purged as it goes.
//! * [`MemorySessions`]: a cookie-session [`UserAuthenticator`](crate::UserAuthenticator).
//! * [`MemoryConsent`]: remembered consent with a built-in consent page.
//! * [`MemoryClaims`]: user claims for ID tokens and userinfo.

mod claims;
mod clients;
mod consent;
mod grants;
mod sessions;

pub use claims::MemoryClaims;
pub use clients::MemoryClientStore;
pub use consent::{ConsentPage, MemoryConsent};
pub use grants::MemoryGrantStore;
pub use sessions::MemorySessions;
