//! Signing keys, the published JWK set, and JWTs (ID tokens, RFC 9068 access tokens).
//!
//! * A [`SigningKey`] is one private key with its `kid` and algorithm: RS256 (RSA, 2048 bits
//!   when generated), ES256 (P-256) or EdDSA (Ed25519). Keys are generated here or loaded from
//!   PKCS#8 (PEM or DER); their `Debug` shows only the `kid` and the algorithm.
//! * A [`KeySet`] holds every published key and, for each algorithm, at most one *active* key
//!   that signs. It rotates without a restart: [publish](KeySet::publish) the next key (so
//!   relying parties can fetch it ahead of time), [activate](KeySet::activate) it, and
//!   [retire](KeySet::retire) the old one once the tokens it signed have expired. Until it is
//!   retired, a token signed by the old key still verifies.
//! * [`KeySet::jwks_json`] is the `jwks_uri` document (RFC 7517 §5), serialized once per change
//!   and shared. It carries public members only.
//! * [`left_half_hash`] computes the OpenID Connect `at_hash` and `c_hash` claims.
//!
//! Signing goes straight through aws-lc-rs with the key parsed once, when it is loaded;
//! verification goes through `jsonwebtoken` with its `aws_lc_rs` backend. Neither crate's types
//! appear in this API.
//!
//! ```
//! use grantor::token::{KeySet, SigningAlgorithm, SigningKey};
//!
//! # fn main() -> Result<(), grantor::KeyError> {
//! let keys = KeySet::new(SigningKey::generate(SigningAlgorithm::ES256, "2025-01")?);
//!
//! // Later, rotate without a restart: publish the next key first, then switch to it.
//! keys.publish(SigningKey::generate(SigningAlgorithm::ES256, "2025-02")?);
//! keys.activate("2025-02")?;
//! // ... and once every token signed by "2025-01" has expired:
//! keys.retire("2025-01")?;
//!
//! let jwks: serde_json::Value = serde_json::from_slice(&keys.jwks_json()).unwrap();
//! assert_eq!(jwks["keys"][0]["kid"], "2025-02");
//! # Ok(())
//! # }
//! ```

pub(crate) mod id_token;
pub(crate) mod jwt;
mod keys;

pub use jwt::{left_half_hash, JwtError};
pub use keys::{KeyError, KeySet, SigningAlgorithm, SigningKey};
