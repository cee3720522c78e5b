//! Signing keys and the key set that publishes and rotates them.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use bytes::Bytes;
use serde_json::json;
use zeroize::Zeroizing;

/// A JWS signing algorithm grantor signs with (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256: the algorithm OpenID Connect requires every provider to
    /// support for ID tokens (OIDC Core §15.1).
    RS256,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// EdDSA on Ed25519 (RFC 8037).
    EdDSA,
}

impl SigningAlgorithm {
    /// Every algorithm, in the order used for listings and for picking a default.
    pub const ALL: [SigningAlgorithm; 3] = [
        SigningAlgorithm::RS256,
        SigningAlgorithm::ES256,
        SigningAlgorithm::EdDSA,
    ];

    /// The `alg` value (RFC 7518 §3.1, RFC 8037 §3.1).
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::RS256 => "RS256",
            SigningAlgorithm::ES256 => "ES256",
            SigningAlgorithm::EdDSA => "EdDSA",
        }
    }

    /// The algorithm named by an `alg` value (case-sensitive, as JWS says), or `None`.
    ///
    /// ```
    /// use grantor::SigningAlgorithm;
    /// assert_eq!(SigningAlgorithm::parse("ES256"), Some(SigningAlgorithm::ES256));
    /// assert_eq!(SigningAlgorithm::parse("none"), None);
    /// assert_eq!(SigningAlgorithm::parse("rs256"), None);
    /// ```
    pub fn parse(alg: &str) -> Option<Self> {
        SigningAlgorithm::ALL
            .into_iter()
            .find(|candidate| candidate.as_str() == alg)
    }

    fn jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        match self {
            SigningAlgorithm::RS256 => jsonwebtoken::Algorithm::RS256,
            SigningAlgorithm::ES256 => jsonwebtoken::Algorithm::ES256,
            SigningAlgorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What can go wrong loading, generating, managing or signing with keys.
///
/// Messages name the key (`kid`) and the algorithm, never key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Key generation failed in the crypto library.
    #[error("could not generate a {0} key")]
    Generation(SigningAlgorithm),
    /// The PKCS#8 document is not a valid private key for the algorithm (wrong key type, wrong
    /// curve, RSA key shorter than 2048 bits, malformed DER, ...).
    #[error("the {alg} private key was rejected: {reason}")]
    Rejected {
        /// The algorithm the key was loaded for.
        alg: SigningAlgorithm,
        /// The crypto library's reason.
        reason: &'static str,
    },
    /// The PEM text holds no usable unencrypted PKCS#8 `PRIVATE KEY` block.
    #[error("invalid PEM: {0}")]
    Pem(&'static str),
    /// The key id is empty, too long, or contains control characters.
    #[error("invalid kid {kid:?}: {reason}")]
    InvalidKid {
        /// The key id as given.
        kid: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Another key with this `kid` is already published. Relying parties cache keys by `kid`,
    /// so a `kid` never names two different keys.
    #[error("a key with kid {0:?} is already published")]
    DuplicateKid(String),
    /// No published key has this `kid`.
    #[error("no published key has kid {0:?}")]
    UnknownKid(String),
    /// The key is the active signer for its algorithm, so it cannot be retired; activate its
    /// successor first.
    #[error("key {0:?} is an active signer and cannot be retired")]
    ActiveKey(String),
    /// The last active algorithm cannot be deactivated: the set must always be able to sign.
    #[error("{0} is the only algorithm with an active key")]
    LastActiveAlgorithm(SigningAlgorithm),
    /// No key is active for the requested algorithm.
    #[error("no active {0} signing key")]
    NoActiveKey(SigningAlgorithm),
    /// The claims could not be serialized to JSON.
    #[error("could not serialize the JWT claims: {0}")]
    Claims(String),
    /// The crypto library failed to sign.
    #[error("signing with key {kid:?} ({alg}) failed")]
    Signing {
        /// The signing key's id.
        kid: String,
        /// Its algorithm.
        alg: SigningAlgorithm,
    },
}

/// The private key itself, parsed once.
enum KeyMaterial {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private signing key with its key id (`kid`) and algorithm.
///
/// The key is parsed and checked once, when it is generated or loaded; its public JWK and
/// verification key are derived then too. `Debug` shows only the `kid` and the algorithm.
pub struct SigningKey {
    kid: String,
    alg: SigningAlgorithm,
    material: KeyMaterial,
    public_jwk: serde_json::Value,
    decoding_key: jsonwebtoken::DecodingKey,
    validation: jsonwebtoken::Validation,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a new key from the operating system's CSPRNG: RSA 2048 bits for RS256,
    /// P-256 for ES256, Ed25519 for EdDSA.
    ///
    /// A generated key lives only in memory: with several server instances, or to keep keys
    /// across restarts, load the same keys into each with [`from_pkcs8_pem`](Self::from_pkcs8_pem).
    pub fn generate(alg: SigningAlgorithm, kid: impl Into<String>) -> Result<Self, KeyError> {
        let kid = checked_kid(kid.into())?;
        let material = match alg {
            SigningAlgorithm::RS256 => RsaKeyPair::generate(KeySize::Rsa2048).map(KeyMaterial::Rsa),
            SigningAlgorithm::ES256 => {
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map(KeyMaterial::Ec)
            }
            SigningAlgorithm::EdDSA => Ed25519KeyPair::generate().map(KeyMaterial::Ed),
        }
        .map_err(|_| KeyError::Generation(alg))?;
        SigningKey::assemble(alg, kid, material)
    }

    /// Loads an unencrypted PKCS#8 private key (a `-----BEGIN PRIVATE KEY-----` block, as
    /// `openssl genpkey` writes it).
    ///
    /// Traditional `RSA PRIVATE KEY` / `EC PRIVATE KEY` blocks and encrypted keys are refused
    /// with a message saying so; convert them with `openssl pkcs8 -topk8 -nocrypt`.
    pub fn from_pkcs8_pem(
        alg: SigningAlgorithm,
        kid: impl Into<String>,
        pem: &str,
    ) -> Result<Self, KeyError> {
        let der = pkcs8_pem_to_der(pem)?;
        SigningKey::from_pkcs8_der(alg, kid, &der)
    }

    /// Loads an unencrypted PKCS#8 private key in DER form (RFC 5208 / RFC 5958). RSA keys
    /// must have 2048 to 8192 bits; ES256 keys must be on P-256.
    pub fn from_pkcs8_der(
        alg: SigningAlgorithm,
        kid: impl Into<String>,
        der: &[u8],
    ) -> Result<Self, KeyError> {
        let kid = checked_kid(kid.into())?;
        let material = match alg {
            SigningAlgorithm::RS256 => RsaKeyPair::from_pkcs8(der).map(KeyMaterial::Rsa),
            SigningAlgorithm::ES256 => {
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map(KeyMaterial::Ec)
            }
            SigningAlgorithm::EdDSA => Ed25519KeyPair::from_pkcs8(der).map(KeyMaterial::Ed),
        }
        .map_err(|rejected| KeyError::Rejected {
            alg,
            reason: rejected.description_(),
        })?;
        SigningKey::assemble(alg, kid, material)
    }

    /// Derives the public JWK and the verification key once.
    fn assemble(
        alg: SigningAlgorithm,
        kid: String,
        material: KeyMaterial,
    ) -> Result<Self, KeyError> {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let (public_jwk, decoding_key) = match &material {
            KeyMaterial::Rsa(pair) => {
                let public = pair.public_key();
                let n = public.modulus().big_endian_without_leading_zero();
                let e = public.exponent().big_endian_without_leading_zero();
                (
                    json!({
                        "kty": "RSA", "kid": kid, "use": "sig", "alg": alg.as_str(),
                        "n": b64(n), "e": b64(e),
                    }),
                    jsonwebtoken::DecodingKey::from_rsa_raw_components(n, e),
                )
            }
            KeyMaterial::Ec(pair) => {
                // The uncompressed point (SEC 1 §2.3.3): 0x04 || x || y, 32 bytes each on P-256.
                let point = pair.public_key().as_ref();
                let (x, y) = match point {
                    [0x04, coordinates @ ..] if coordinates.len() == 64 => coordinates.split_at(32),
                    _ => {
                        return Err(KeyError::Rejected {
                            alg,
                            reason: "unexpected public key encoding",
                        })
                    }
                };
                (
                    json!({
                        "kty": "EC", "kid": kid, "use": "sig", "alg": alg.as_str(),
                        "crv": "P-256", "x": b64(x), "y": b64(y),
                    }),
                    jsonwebtoken::DecodingKey::from_ec_der(point),
                )
            }
            KeyMaterial::Ed(pair) => {
                let x = pair.public_key().as_ref();
                (
                    json!({
                        "kty": "OKP", "kid": kid, "use": "sig", "alg": alg.as_str(),
                        "crv": "Ed25519", "x": b64(x),
                    }),
                    jsonwebtoken::DecodingKey::from_ed_der(x),
                )
            }
        };
        // Signature and algorithm only: exp, nbf, aud, iss are the caller's to check against
        // its injected clock and configuration.
        let mut validation = jsonwebtoken::Validation::new(alg.jsonwebtoken());
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims = HashSet::new();
        Ok(SigningKey {
            kid,
            alg,
            material,
            public_jwk,
            decoding_key,
            validation,
        })
    }

    /// The key id (`kid`), carried in the header of every JWT this key signs.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.alg
    }

    /// The public key as a JWK (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2): `kty`, `kid`,
    /// `use: "sig"`, `alg`, and `n`/`e` (RSA), `crv`/`x`/`y` (P-256) or `crv`/`x` (Ed25519).
    /// It never contains private members.
    pub fn public_jwk(&self) -> serde_json::Value {
        self.public_jwk.clone()
    }

    /// The JWS signature of `message` (RFC 7515 §5.1): PKCS#1 v1.5 for RS256, the fixed-size
    /// `r || s` form for ES256 (RFC 7518 §3.4), and the 64-byte Ed25519 signature for EdDSA.
    pub(crate) fn sign_bytes(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let failed = || KeyError::Signing {
            kid: self.kid.clone(),
            alg: self.alg,
        };
        match &self.material {
            KeyMaterial::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .map_err(|_| failed())?;
                Ok(signature)
            }
            KeyMaterial::Ec(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| failed()),
            KeyMaterial::Ed(pair) => pair
                .try_sign(message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| failed()),
        }
    }

    pub(crate) fn decoding_key(&self) -> &jsonwebtoken::DecodingKey {
        &self.decoding_key
    }

    pub(crate) fn validation(&self) -> &jsonwebtoken::Validation {
        &self.validation
    }

    /// The private key as PKCS#8 DER, for tests that round-trip keys.
    #[cfg(test)]
    pub(crate) fn to_pkcs8_der(&self) -> Vec<u8> {
        use aws_lc_rs::encoding::AsDer as _;
        match &self.material {
            KeyMaterial::Rsa(pair) => pair.as_der().unwrap().as_ref().to_vec(),
            KeyMaterial::Ec(pair) => pair.to_pkcs8v1().unwrap().as_ref().to_vec(),
            KeyMaterial::Ed(pair) => pair.to_pkcs8v1().unwrap().as_ref().to_vec(),
        }
    }
}

/// Longest accepted `kid`, in bytes.
const MAX_KID_LEN: usize = 256;

fn checked_kid(kid: String) -> Result<String, KeyError> {
    let reason = if kid.is_empty() {
        "it is empty"
    } else if kid.len() > MAX_KID_LEN {
        "it is longer than 256 bytes"
    } else if kid.chars().any(char::is_control) {
        "it contains control characters"
    } else {
        return Ok(kid);
    };
    Err(KeyError::InvalidKid { kid, reason })
}

/// Extracts the DER of the first `PRIVATE KEY` block (RFC 7468 §10). Both the base64 text and
/// the DER are wiped from memory when dropped.
fn pkcs8_pem_to_der(pem: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    const BEGIN: &str = "-----BEGIN ";
    const END: &str = "-----END PRIVATE KEY-----";
    let start = pem.find(BEGIN).ok_or(KeyError::Pem("no -----BEGIN line"))?;
    let after_begin = &pem[start + BEGIN.len()..];
    let label_end = after_begin
        .find("-----")
        .ok_or(KeyError::Pem("unterminated -----BEGIN line"))?;
    match &after_begin[..label_end] {
        "PRIVATE KEY" => {}
        "ENCRYPTED PRIVATE KEY" => return Err(KeyError::Pem(
            "encrypted PKCS#8 keys are not supported: decrypt it first (openssl pkcs8 -nocrypt)",
        )),
        "RSA PRIVATE KEY" | "EC PRIVATE KEY" => {
            return Err(KeyError::Pem(
                "not PKCS#8: convert it with `openssl pkcs8 -topk8 -nocrypt`",
            ))
        }
        _ => return Err(KeyError::Pem("the first PEM block is not a PRIVATE KEY")),
    }
    let body_and_rest = &after_begin[label_end + "-----".len()..];
    let body_end = body_and_rest
        .find(END)
        .ok_or(KeyError::Pem("no -----END PRIVATE KEY----- line"))?;
    let body: Zeroizing<String> = Zeroizing::new(
        body_and_rest[..body_end]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect(),
    );
    STANDARD
        .decode(body.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| KeyError::Pem("the PRIVATE KEY block is not valid base64"))
}

/// A published key and whether it is its algorithm's active signer.
struct Entry {
    key: Arc<SigningKey>,
    active: bool,
}

/// One immutable state of a [`KeySet`]: swapped whole on every change.
pub(crate) struct Snapshot {
    entries: Vec<Entry>,
    jwks: Bytes,
}

impl Snapshot {
    fn build(entries: Vec<Entry>) -> Snapshot {
        let keys: Vec<serde_json::Value> = entries.iter().map(|e| e.key.public_jwk()).collect();
        // Serializing a `Value` of strings cannot fail.
        let jwks = serde_json::to_vec(&json!({ "keys": keys })).unwrap_or_default();
        Snapshot {
            entries,
            jwks: Bytes::from(jwks),
        }
    }

    fn cloned_entries(&self) -> Vec<Entry> {
        self.entries
            .iter()
            .map(|e| Entry {
                key: Arc::clone(&e.key),
                active: e.active,
            })
            .collect()
    }

    /// The published key named `kid`.
    pub(crate) fn published(&self, kid: &str) -> Option<&SigningKey> {
        self.entries
            .iter()
            .find(|e| e.key.kid == kid)
            .map(|e| &*e.key)
    }

    /// The active key for `alg`.
    pub(crate) fn active(&self, alg: SigningAlgorithm) -> Option<&SigningKey> {
        self.entries
            .iter()
            .find(|e| e.active && e.key.alg == alg)
            .map(|e| &*e.key)
    }

    /// The signer for `alg`, or by default the RS256 key if one is active, else the first
    /// active key in [`SigningAlgorithm::ALL`] order.
    pub(crate) fn signer(&self, alg: Option<SigningAlgorithm>) -> Result<&SigningKey, KeyError> {
        match alg {
            Some(alg) => self.active(alg).ok_or(KeyError::NoActiveKey(alg)),
            None => SigningAlgorithm::ALL
                .into_iter()
                .find_map(|alg| self.active(alg))
                .ok_or(KeyError::NoActiveKey(SigningAlgorithm::RS256)),
        }
    }
}

struct Shared {
    current: RwLock<Arc<Snapshot>>,
    /// Serializes writers, so the new snapshot (and its JWKS JSON) is built without holding
    /// `current`: readers never wait for more than a pointer swap.
    writer: Mutex<()>,
}

/// The published signing keys, with at most one active signer per algorithm.
///
/// Cloning is cheap (an `Arc`), and every clone sees every change: keys rotate while the
/// server runs. Readers take a snapshot (a lock held only to clone an `Arc`) and never wait for
/// a change in progress. Several keys can be published at once — RS256, ES256 and EdDSA keys,
/// the next key before a rotation, old keys after it — and a token verifies against any
/// published key, so tokens signed before a rotation stay valid until their key is retired.
#[derive(Clone)]
pub struct KeySet {
    shared: Arc<Shared>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let snapshot = self.snapshot();
        let published: Vec<&str> = snapshot.entries.iter().map(|e| e.key.kid()).collect();
        let active: Vec<(SigningAlgorithm, &str)> = snapshot
            .entries
            .iter()
            .filter(|e| e.active)
            .map(|e| (e.key.alg, e.key.kid()))
            .collect();
        f.debug_struct("KeySet")
            .field("published", &published)
            .field("active", &active)
            .finish()
    }
}

impl KeySet {
    /// A set that publishes `active` and signs with it.
    pub fn new(active: SigningKey) -> Self {
        let snapshot = Snapshot::build(vec![Entry {
            key: Arc::new(active),
            active: true,
        }]);
        KeySet {
            shared: Arc::new(Shared {
                current: RwLock::new(Arc::new(snapshot)),
                writer: Mutex::new(()),
            }),
        }
    }

    /// The current state. The lock is held only to clone the `Arc`.
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        // The lock guards a plain pointer swap that cannot panic midway, so a poisoned lock
        // still holds a consistent value.
        Arc::clone(
            &self
                .shared
                .current
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Applies `change` to a copy of the current entries and publishes the result.
    fn update(
        &self,
        change: impl FnOnce(&mut Vec<Entry>) -> Result<(), KeyError>,
    ) -> Result<(), KeyError> {
        let _writer = self
            .shared
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut entries = self.snapshot().cloned_entries();
        change(&mut entries)?;
        let next = Arc::new(Snapshot::build(entries));
        *self
            .shared
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = next;
        Ok(())
    }

    /// Publishes `key` (in the JWK set, and for verification) without signing with it: the
    /// next key ahead of a rotation, or a key for another algorithm, to be
    /// [activated](Self::activate) later.
    ///
    /// A `kid` names one key for good (relying parties cache keys by `kid`), so if a key with
    /// the same `kid` is already published, the set is left unchanged and a warning is logged;
    /// use [`try_publish`](Self::try_publish) to get the error instead.
    pub fn publish(&self, key: SigningKey) {
        if let Err(error) = self.try_publish(key) {
            tracing::warn!(target: "grantor::token", %error, "signing key not published");
        }
    }

    /// Like [`publish`](Self::publish), but fails with [`KeyError::DuplicateKid`] instead of
    /// logging when the `kid` is already published.
    pub fn try_publish(&self, key: SigningKey) -> Result<(), KeyError> {
        self.update(|entries| {
            if entries.iter().any(|e| e.key.kid == key.kid) {
                return Err(KeyError::DuplicateKid(key.kid.clone()));
            }
            entries.push(Entry {
                key: Arc::new(key),
                active: false,
            });
            Ok(())
        })
    }

    /// Makes the published key `kid` the active signer for its algorithm. The key it replaces
    /// stays published, so the tokens it signed still verify until it is
    /// [retired](Self::retire).
    ///
    /// Publish a key some time before activating it (at least as long as relying parties
    /// cache the JWK set), so that they know it before they see tokens it signed.
    pub fn activate(&self, kid: &str) -> Result<(), KeyError> {
        self.update(|entries| {
            let alg = entries
                .iter()
                .find(|e| e.key.kid == kid)
                .map(|e| e.key.alg)
                .ok_or_else(|| KeyError::UnknownKid(kid.to_owned()))?;
            for entry in entries.iter_mut().filter(|e| e.key.alg == alg) {
                entry.active = entry.key.kid == kid;
            }
            Ok(())
        })
    }

    /// Stops publishing the key `kid`: tokens it signed no longer verify. An active key
    /// cannot be retired ([`KeyError::ActiveKey`]); activate its successor first, or
    /// [deactivate](Self::deactivate) its algorithm.
    pub fn retire(&self, kid: &str) -> Result<(), KeyError> {
        self.update(|entries| {
            let index = entries
                .iter()
                .position(|e| e.key.kid == kid)
                .ok_or_else(|| KeyError::UnknownKid(kid.to_owned()))?;
            if entries[index].active {
                return Err(KeyError::ActiveKey(kid.to_owned()));
            }
            entries.remove(index);
            Ok(())
        })
    }

    /// Stops signing with `alg` (its keys stay published until retired). The last active
    /// algorithm cannot be deactivated ([`KeyError::LastActiveAlgorithm`]); deactivating an
    /// algorithm with no active key does nothing.
    pub fn deactivate(&self, alg: SigningAlgorithm) -> Result<(), KeyError> {
        self.update(|entries| {
            if !entries.iter().any(|e| e.active && e.key.alg != alg) {
                if entries.iter().any(|e| e.active) {
                    return Err(KeyError::LastActiveAlgorithm(alg));
                }
                return Ok(());
            }
            for entry in entries.iter_mut().filter(|e| e.key.alg == alg) {
                entry.active = false;
            }
            Ok(())
        })
    }

    /// The algorithms that have an active signer, in [`SigningAlgorithm::ALL`] order (for
    /// `id_token_signing_alg_values_supported` in discovery).
    pub fn active_algorithms(&self) -> Vec<SigningAlgorithm> {
        let snapshot = self.snapshot();
        SigningAlgorithm::ALL
            .into_iter()
            .filter(|alg| snapshot.active(*alg).is_some())
            .collect()
    }

    /// The `kid` of every published key, in publication order.
    pub fn published_kids(&self) -> Vec<String> {
        self.snapshot()
            .entries
            .iter()
            .map(|e| e.key.kid.clone())
            .collect()
    }

    /// The JWK set document, `{"keys":[...]}` (RFC 7517 §5), with every published key's
    /// public JWK in publication order. Serialized once per change; cloning it is cheap.
    pub fn jwks_json(&self) -> Bytes {
        self.snapshot().jwks.clone()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::OnceLock;

    /// Test-only keys, generated with `openssl genpkey` for these tests and used nowhere else.
    pub(crate) const OPENSSL_ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIGephv/bYCZr01Mxxng+vNxfjz2CDhf1CBIm1pavEtcj
-----END PRIVATE KEY-----
";
    pub(crate) const OPENSSL_P256_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgWeIBWlCQOOEVKMLk
ebGk3xN1w9juLVxfIOI5UgcDOlGhRANCAARhfR4ddrNqc2Vo3sSR0dxtzlgZjVyB
YZWH20QDH6NHDyfikjmpFp/Z8lu/aSZkWyb9nuDQ5jAqCorkRmKYLQrz
-----END PRIVATE KEY-----
";
    const OPENSSL_P384_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDCJfoe8fwFdclxRrIZR
9hLV6VM62zJNSgrqkr08CW8R7OI8A5RGUNjFtodd4GEWkPOhZANiAAQ937A6kTpc
dQ7o1VoDeeyN3HI+UK/lVfnOvVKx/BBBwpfmn62cq9K2bn+/ylB6+aFhahGazciG
t1Ih5DAUfqrsLgJSusybpvBKtsPZ6OO2XKVzs6MHNlhjZ7yDXU+MAOM=
-----END PRIVATE KEY-----
";

    /// PKCS#8 DER of one RSA key per test binary: RSA generation is slow in debug builds.
    pub(crate) fn rsa_pkcs8() -> &'static [u8] {
        static DER: OnceLock<Vec<u8>> = OnceLock::new();
        DER.get_or_init(|| {
            SigningKey::generate(SigningAlgorithm::RS256, "rsa")
                .unwrap()
                .to_pkcs8_der()
        })
    }

    /// A key for `alg` named `kid` (RSA keys share their material, see [`rsa_pkcs8`]).
    pub(crate) fn key(alg: SigningAlgorithm, kid: &str) -> SigningKey {
        match alg {
            SigningAlgorithm::RS256 => SigningKey::from_pkcs8_der(alg, kid, rsa_pkcs8()).unwrap(),
            _ => SigningKey::generate(alg, kid).unwrap(),
        }
    }

    fn pem(der: &[u8]) -> String {
        let body = STANDARD.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|chunk| std::str::from_utf8(chunk).unwrap())
            .collect();
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn algorithm_names_round_trip() {
        for alg in SigningAlgorithm::ALL {
            assert_eq!(SigningAlgorithm::parse(alg.as_str()), Some(alg));
            assert_eq!(alg.to_string(), alg.as_str());
        }
        for bad in ["none", "HS256", "rs256", "", "ES256 "] {
            assert_eq!(SigningAlgorithm::parse(bad), None);
        }
    }

    #[test]
    fn generated_rsa_key_is_2048_bits_with_exponent_65537() {
        let key = SigningKey::generate(SigningAlgorithm::RS256, "r").unwrap();
        let jwk = key.public_jwk();
        let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
        assert_eq!(n.len(), 256);
        assert!(n[0] & 0x80 != 0, "no leading zero byte in n");
        assert_eq!(jwk["e"], "AQAB");
    }

    #[test]
    fn public_jwks_have_the_rfc_members_and_no_private_ones() {
        for alg in SigningAlgorithm::ALL {
            let key = key(alg, "k1");
            let jwk = key.public_jwk();
            let object = jwk.as_object().unwrap();
            assert_eq!(jwk["kid"], "k1");
            assert_eq!(jwk["use"], "sig");
            assert_eq!(jwk["alg"], alg.as_str());
            let mut members: Vec<&str> = object.keys().map(String::as_str).collect();
            members.sort_unstable();
            let expected: &[&str] = match alg {
                SigningAlgorithm::RS256 => &["alg", "e", "kid", "kty", "n", "use"],
                SigningAlgorithm::ES256 => &["alg", "crv", "kid", "kty", "use", "x", "y"],
                SigningAlgorithm::EdDSA => &["alg", "crv", "kid", "kty", "use", "x"],
            };
            assert_eq!(members, expected, "{alg}");
            match alg {
                SigningAlgorithm::RS256 => assert_eq!(jwk["kty"], "RSA"),
                SigningAlgorithm::ES256 => {
                    assert_eq!((&jwk["kty"], &jwk["crv"]), (&json!("EC"), &json!("P-256")))
                }
                SigningAlgorithm::EdDSA => {
                    assert_eq!(
                        (&jwk["kty"], &jwk["crv"]),
                        (&json!("OKP"), &json!("Ed25519"))
                    )
                }
            }
        }
    }

    #[test]
    fn jwks_contains_no_private_members() {
        let keys = KeySet::new(key(SigningAlgorithm::RS256, "r"));
        keys.publish(key(SigningAlgorithm::ES256, "e"));
        keys.publish(key(SigningAlgorithm::EdDSA, "o"));
        let jwks: serde_json::Value = serde_json::from_slice(&keys.jwks_json()).unwrap();
        let list = jwks["keys"].as_array().unwrap();
        assert_eq!(list.len(), 3);
        for jwk in list {
            for private in ["d", "p", "q", "dp", "dq", "qi", "k", "oth"] {
                assert!(jwk.get(private).is_none(), "{private} in {jwk}");
            }
        }
        let kids: Vec<&str> = list.iter().map(|k| k["kid"].as_str().unwrap()).collect();
        assert_eq!(kids, ["r", "e", "o"]);
    }

    #[test]
    fn openssl_generated_keys_load_and_their_jwks_match_openssl_public_keys() {
        // x (and y) computed with `openssl pkey -pubout -outform DER` from the same keys.
        let ed =
            SigningKey::from_pkcs8_pem(SigningAlgorithm::EdDSA, "ed", OPENSSL_ED25519_PEM).unwrap();
        assert_eq!(
            ed.public_jwk()["x"],
            "AzW5XwTZW4OlGPEzTIYKecWuMWepL5pV3mAhZbGrjvM"
        );
        let ec =
            SigningKey::from_pkcs8_pem(SigningAlgorithm::ES256, "ec", OPENSSL_P256_PEM).unwrap();
        assert_eq!(
            ec.public_jwk()["x"],
            "YX0eHXazanNlaN7EkdHcbc5YGY1cgWGVh9tEAx-jRw8"
        );
        assert_eq!(
            ec.public_jwk()["y"],
            "J-KSOakWn9nyW79pJmRbJv2e4NDmMCoKiuRGYpgtCvM"
        );
    }

    #[test]
    fn pkcs8_pem_round_trips_for_every_algorithm() {
        for alg in SigningAlgorithm::ALL {
            let original = key(alg, "a");
            let text = pem(&original.to_pkcs8_der());
            let loaded = SigningKey::from_pkcs8_pem(alg, "b", &text).unwrap();
            assert_eq!(loaded.kid(), "b");
            assert_eq!(loaded.algorithm(), alg);
            let (mut expected, mut actual) = (original.public_jwk(), loaded.public_jwk());
            expected["kid"] = json!("");
            actual["kid"] = json!("");
            assert_eq!(actual, expected, "{alg}");
            // CRLF line endings and surrounding text are fine too.
            let crlf = format!("comment\r\n{}", text.replace('\n', "\r\n"));
            assert!(SigningKey::from_pkcs8_pem(alg, "c", &crlf).is_ok());
        }
    }

    #[test]
    fn keys_of_the_wrong_kind_are_rejected() {
        let wrong_alg =
            SigningKey::from_pkcs8_pem(SigningAlgorithm::RS256, "x", OPENSSL_P256_PEM).unwrap_err();
        assert!(matches!(
            wrong_alg,
            KeyError::Rejected {
                alg: SigningAlgorithm::RS256,
                ..
            }
        ));
        let wrong_curve =
            SigningKey::from_pkcs8_pem(SigningAlgorithm::ES256, "x", OPENSSL_P384_PEM).unwrap_err();
        assert!(matches!(wrong_curve, KeyError::Rejected { .. }));
        let ed_as_ec =
            SigningKey::from_pkcs8_pem(SigningAlgorithm::ES256, "x", OPENSSL_ED25519_PEM)
                .unwrap_err();
        assert!(matches!(ed_as_ec, KeyError::Rejected { .. }));
        assert!(matches!(
            SigningKey::from_pkcs8_der(SigningAlgorithm::EdDSA, "x", b"not der"),
            Err(KeyError::Rejected { .. })
        ));
    }

    #[test]
    fn bad_pem_is_explained_without_echoing_it() {
        let cases = [
            ("", "no -----BEGIN"),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----",
                "not PKCS#8",
            ),
            ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n", "encrypted"),
            ("-----BEGIN CERTIFICATE-----\nAAAA\n", "not a PRIVATE KEY"),
            ("-----BEGIN PRIVATE KEY-----\nAAAA\n", "no -----END"),
            (
                "-----BEGIN PRIVATE KEY-----\nsecret!!\n-----END PRIVATE KEY-----",
                "base64",
            ),
        ];
        for (text, expected) in cases {
            let error = SigningKey::from_pkcs8_pem(SigningAlgorithm::EdDSA, "k", text).unwrap_err();
            let message = error.to_string();
            assert!(message.contains(expected), "{message}");
            assert!(!message.contains("secret"), "{message}");
        }
    }

    #[test]
    fn kids_are_validated() {
        for bad in ["", "a\nb", &"x".repeat(257)] {
            assert!(matches!(
                SigningKey::generate(SigningAlgorithm::EdDSA, bad),
                Err(KeyError::InvalidKid { .. })
            ));
        }
        assert!(SigningKey::generate(SigningAlgorithm::EdDSA, "2025-01 ed25519/é").is_ok());
    }

    #[test]
    fn debug_shows_only_kid_and_alg() {
        let keys = KeySet::new(key(SigningAlgorithm::ES256, "main"));
        let key = key(SigningAlgorithm::EdDSA, "next");
        assert_eq!(
            format!("{key:?}"),
            r#"SigningKey { kid: "next", alg: EdDSA, .. }"#
        );
        keys.publish(key);
        assert_eq!(
            format!("{keys:?}"),
            r#"KeySet { published: ["main", "next"], active: [(ES256, "main")] }"#
        );
    }

    #[test]
    fn key_set_is_send_sync_and_clones_share_state() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<KeySet>();
        assert_send_sync::<SigningKey>();
        let keys = KeySet::new(key(SigningAlgorithm::EdDSA, "a"));
        let clone = keys.clone();
        clone.publish(key(SigningAlgorithm::ES256, "b"));
        assert_eq!(keys.published_kids(), ["a", "b"]);
        assert_eq!(keys.jwks_json(), clone.jwks_json());
    }

    #[test]
    fn publish_activate_retire_rules() {
        let keys = KeySet::new(key(SigningAlgorithm::EdDSA, "ed-1"));
        assert_eq!(keys.active_algorithms(), [SigningAlgorithm::EdDSA]);

        // A kid names one key for good.
        assert_eq!(
            keys.try_publish(key(SigningAlgorithm::EdDSA, "ed-1")),
            Err(KeyError::DuplicateKid("ed-1".into()))
        );
        keys.publish(key(SigningAlgorithm::ES256, "ed-1"));
        assert_eq!(keys.published_kids(), ["ed-1"]);

        keys.publish(key(SigningAlgorithm::RS256, "rs-1"));
        keys.publish(key(SigningAlgorithm::EdDSA, "ed-2"));
        assert_eq!(keys.active_algorithms(), [SigningAlgorithm::EdDSA]);
        keys.activate("rs-1").unwrap();
        assert_eq!(
            keys.active_algorithms(),
            [SigningAlgorithm::RS256, SigningAlgorithm::EdDSA]
        );
        assert_eq!(keys.snapshot().signer(None).unwrap().kid(), "rs-1");

        // One active signer per algorithm.
        keys.activate("ed-2").unwrap();
        let snapshot = keys.snapshot();
        assert_eq!(
            snapshot.active(SigningAlgorithm::EdDSA).unwrap().kid(),
            "ed-2"
        );
        assert_eq!(
            snapshot.signer(Some(SigningAlgorithm::ES256)).unwrap_err(),
            KeyError::NoActiveKey(SigningAlgorithm::ES256)
        );

        assert_eq!(
            keys.activate("nope"),
            Err(KeyError::UnknownKid("nope".into()))
        );
        assert_eq!(
            keys.retire("nope"),
            Err(KeyError::UnknownKid("nope".into()))
        );
        assert_eq!(keys.retire("ed-2"), Err(KeyError::ActiveKey("ed-2".into())));
        keys.retire("ed-1").unwrap();
        assert_eq!(keys.published_kids(), ["rs-1", "ed-2"]);

        // Deactivating: never the last active algorithm.
        keys.deactivate(SigningAlgorithm::RS256).unwrap();
        assert_eq!(keys.active_algorithms(), [SigningAlgorithm::EdDSA]);
        assert_eq!(keys.snapshot().signer(None).unwrap().kid(), "ed-2");
        assert_eq!(
            keys.deactivate(SigningAlgorithm::EdDSA),
            Err(KeyError::LastActiveAlgorithm(SigningAlgorithm::EdDSA))
        );
        keys.deactivate(SigningAlgorithm::ES256).unwrap();
        keys.retire("rs-1").unwrap();
        assert_eq!(keys.published_kids(), ["ed-2"]);
    }

    #[test]
    fn jwks_json_is_cached_until_a_change() {
        let keys = KeySet::new(key(SigningAlgorithm::EdDSA, "a"));
        let first = keys.jwks_json();
        let again = keys.jwks_json();
        assert_eq!(
            first.as_ptr(),
            again.as_ptr(),
            "same buffer, not re-serialized"
        );
        keys.publish(key(SigningAlgorithm::EdDSA, "b"));
        let changed = keys.jwks_json();
        assert_ne!(first, changed);
        // A failed change leaves the document alone.
        assert!(keys.retire("a").is_err());
        assert_eq!(keys.jwks_json().as_ptr(), changed.as_ptr());
    }

    #[test]
    fn concurrent_readers_and_writers_see_consistent_sets() {
        let keys = KeySet::new(key(SigningAlgorithm::EdDSA, "base"));
        std::thread::scope(|scope| {
            for writer in 0..2 {
                let keys = keys.clone();
                scope.spawn(move || {
                    for i in 0..20 {
                        let kid = format!("w{writer}-{i}");
                        keys.publish(key(SigningAlgorithm::EdDSA, &kid));
                        keys.activate(&kid).unwrap();
                    }
                });
            }
            let keys = keys.clone();
            scope.spawn(move || {
                for _ in 0..200 {
                    let snapshot = keys.snapshot();
                    assert!(snapshot.signer(None).is_ok());
                    let jwks: serde_json::Value = serde_json::from_slice(&snapshot.jwks).unwrap();
                    assert_eq!(
                        jwks["keys"].as_array().unwrap().len(),
                        snapshot.entries.len()
                    );
                }
            });
        });
        assert_eq!(keys.published_kids().len(), 41);
        assert_eq!(
            keys.snapshot().entries.iter().filter(|e| e.active).count(),
            1
        );
    }
}
