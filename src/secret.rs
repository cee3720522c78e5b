//! Secret values (codes, tokens, client secrets, verifiers) and their digests.
//!
//! Every secret type here has a redacted `Debug`, no `PartialEq`, and an explicit
//! [`expose`](AccessToken::expose) accessor, so a secret never ends up in a log line or a
//! comparison by accident. What grantor keeps at rest is a [`TokenDigest`]: the SHA-256 of the
//! secret, compared in constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The SHA-256 digest of a secret value: what stores keep instead of the secret itself.
///
/// Digests are compared in constant time. `Debug` shows only that it is a digest.
#[derive(Clone, Copy, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    /// The digest of `secret` (SHA-256 of its bytes).
    ///
    /// ```
    /// use grantor::TokenDigest;
    /// let a = TokenDigest::of("s3cr3t");
    /// assert!(a.matches(&TokenDigest::of("s3cr3t")));
    /// assert!(!a.matches(&TokenDigest::of("s3cr3T")));
    /// ```
    pub fn of(secret: &str) -> Self {
        Self::of_bytes(secret.as_bytes())
    }

    /// The digest of raw bytes.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        TokenDigest(Sha256::digest(bytes).into())
    }

    /// Rebuilds a digest from its 32 bytes (for stores that persist digests).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        TokenDigest(bytes)
    }

    /// The 32 digest bytes (for stores that persist digests).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time equality.
    pub fn matches(&self, other: &TokenDigest) -> bool {
        // `subtle` over four 64-bit words rather than 32 bytes: the same constant-time
        // comparison with an eighth of the optimisation barriers (this runs on every map
        // lookup of a code or token).
        self.words().ct_eq(&other.words()).into()
    }

    fn words(&self) -> [u64; 4] {
        let mut words = [0u64; 4];
        for (word, bytes) in words.iter_mut().zip(self.0.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(bytes);
            *word = u64::from_le_bytes(b);
        }
        words
    }
}

impl PartialEq for TokenDigest {
    fn eq(&self, other: &Self) -> bool {
        self.matches(other)
    }
}

impl std::hash::Hash for TokenDigest {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

impl std::fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenDigest(..)")
    }
}

/// The length of a minted token: 256 bits in base64url without padding.
pub(crate) const TOKEN_LEN: usize = 43;

/// Draws 256 bits from the thread-local CSPRNG (ChaCha seeded and periodically reseeded
/// from the operating system) and encodes them as 43 base64url characters, on the stack.
fn random_token_bytes() -> Repr {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let mut text = [0u8; TOKEN_LEN];
    match URL_SAFE_NO_PAD.encode_slice(bytes, &mut text) {
        Ok(TOKEN_LEN) => Repr::Minted(text),
        // Unreachable (32 bytes are 43 base64url characters); the general path, never a
        // short token.
        _ => Repr::Given(URL_SAFE_NO_PAD.encode(bytes)),
    }
}

/// [`random_token_bytes`] as a `String` (a `jti`, a key id).
pub(crate) fn random_token() -> String {
    random_token_bytes().as_str().to_owned()
}

/// A secret's value: minted here (held in place, no allocation), or given from outside.
#[derive(Clone)]
enum Repr {
    /// Base64url characters, so always ASCII.
    Minted([u8; TOKEN_LEN]),
    Given(String),
}

impl Repr {
    fn as_str(&self) -> &str {
        match self {
            // Always valid (base64url is ASCII); checking costs about 200 instructions a call
            // (callgrind), which keeps this crate free of `unsafe`: paths that only copy a
            // minted token take its bytes (`minted`) instead.
            Repr::Minted(text) => std::str::from_utf8(text).unwrap_or_default(),
            Repr::Given(value) => value,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Repr::Minted(text) => text,
            Repr::Given(value) => value.as_bytes(),
        }
    }
}

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(Repr);

        impl $name {
            /// Wraps a value received from outside (a request, a configuration file).
            pub fn new(value: impl Into<String>) -> Self {
                $name(Repr::Given(value.into()))
            }

            /// The secret value itself. Every call site is a place where the secret leaves
            /// its wrapper: keep them few, and never log what this returns.
            pub fn expose(&self) -> &str {
                self.0.as_str()
            }

            /// The SHA-256 digest that is stored in place of the value.
            pub fn digest(&self) -> TokenDigest {
                TokenDigest::of_bytes(self.0.as_bytes())
            }

            /// A fresh value: 256 bits from the CSPRNG, as 43 base64url characters.
            #[allow(dead_code)]
            pub(crate) fn generate() -> Self {
                $name(random_token_bytes())
            }

            /// The value's length in bytes (without reading it as text).
            #[allow(dead_code)]
            pub(crate) fn len(&self) -> usize {
                self.0.as_bytes().len()
            }

            /// The characters of a value minted by [`generate`](Self::generate) (base64url,
            /// so plain ASCII that no JSON or URL syntax needs to escape); `None` for a value
            /// given from outside.
            #[allow(dead_code)]
            pub(crate) fn minted(&self) -> Option<&[u8; TOKEN_LEN]> {
                match &self.0 {
                    Repr::Minted(text) => Some(text),
                    Repr::Given(_) => None,
                }
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_type!(
    /// A client secret, as registered or as presented at the token endpoint.
    ClientSecret
);
secret_type!(
    /// An authorization code (RFC 6749 §4.1.2).
    AuthorizationCode
);
secret_type!(
    /// An access token (RFC 6749 §1.4), opaque or a JWT.
    AccessToken
);
secret_type!(
    /// A refresh token (RFC 6749 §1.5).
    RefreshToken
);
secret_type!(
    /// The id of a pending authorization while the user signs in or consents. It is a bearer
    /// secret for that pending request, so it is random, stored as a digest and redacted.
    InteractionId
);
secret_type!(
    /// The anti-CSRF token bound to a pending authorization's consent form.
    CsrfToken
);

secret_type!(
    /// A browser session id (the in-memory authenticator's cookie value).
    SessionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_carry_256_bits_and_differ() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
    }

    /// A minted token, held in place, reads back as the 43 characters it was minted as (256
    /// bits, so that guessing one is infeasible: RFC 6749 §10.10); its digest is that of
    /// those characters, and a clone is the same token.
    #[test]
    fn minted_tokens_are_43_base64url_characters_held_in_place_rfc6749_10_10() {
        let token = AccessToken::generate();
        assert!(matches!(token.0, Repr::Minted(_)));
        let text = token.expose();
        assert_eq!(text.len(), 43);
        assert_eq!(URL_SAFE_NO_PAD.decode(text).unwrap().len(), 32);
        assert!(token.digest().matches(&TokenDigest::of(text)));
        assert_eq!(token.clone().expose(), text);
        assert_ne!(AccessToken::generate().expose(), text);
        assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
        assert_eq!(AccessToken::new("given").expose(), "given");
    }

    /// A difference in any one byte, in any bit, is a mismatch (the comparison goes by words).
    #[test]
    fn digests_differing_in_any_byte_do_not_match() {
        let a = TokenDigest::of("code");
        assert!(a.matches(&TokenDigest::from_bytes(*a.as_bytes())));
        for i in 0..32 {
            for bit in [0x01u8, 0x80] {
                let mut b = *a.as_bytes();
                b[i] ^= bit;
                assert!(!a.matches(&TokenDigest::from_bytes(b)), "byte {i}");
                assert_ne!(a, TokenDigest::from_bytes(b));
            }
        }
    }

    #[test]
    fn debug_is_redacted() {
        let s = ClientSecret::new("s3cr3t");
        assert_eq!(format!("{s:?}"), "ClientSecret([redacted])");
        assert_eq!(format!("{:?}", s.digest()), "TokenDigest(..)");
    }
}
