//! Proof Key for Code Exchange (RFC 7636).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::error::{ErrorCode, ProtocolError};

/// A PKCE transformation method (RFC 7636 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ChallengeMethod {
    /// `S256`: the challenge is BASE64URL(SHA256(verifier)).
    S256,
    /// `plain`: the challenge is the verifier. Off unless the server policy allows it
    /// (RFC 7636 §7.2, RFC 9700 §2.1.1).
    Plain,
}

impl ChallengeMethod {
    /// The method's name on the wire (case-sensitive).
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeMethod::S256 => "S256",
            ChallengeMethod::Plain => "plain",
        }
    }
}

/// `43*128unreserved` (RFC 7636 §4.1 for the verifier, §4.2 for the challenge), with
/// unreserved = `ALPHA / DIGIT / "-" / "." / "_" / "~"`.
fn is_pkce_string(s: &str) -> bool {
    // No early exit and no short-circuit, so that the compiler tests many bytes at a time.
    (43..=128).contains(&s.len())
        && s.bytes().fold(true, |ok, b| {
            ok & (b.is_ascii_alphanumeric() | (b == b'-') | (b == b'.') | (b == b'_') | (b == b'~'))
        })
}

/// A validated code challenge and its method, bound to an authorization code.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CodeChallenge {
    value: Box<str>,
    method: ChallengeMethod,
}

impl std::fmt::Debug for CodeChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeChallenge")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

impl CodeChallenge {
    /// Validates a challenge from an authorization request (RFC 7636 §4.3, §4.4.1).
    ///
    /// A missing method means `plain` (§4.3). `plain` is accepted only when `allow_plain`.
    /// With S256 the challenge must be exactly 43 characters, the length of a base64url
    /// SHA-256 digest.
    ///
    /// ```
    /// use grantor::CodeChallenge;
    /// let c = CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Some("S256"), false).unwrap();
    /// assert!(c.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
    /// assert!(CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", None, false).is_err());
    /// ```
    pub fn parse(
        challenge: &str,
        method: Option<&str>,
        allow_plain: bool,
    ) -> Result<Self, ProtocolError> {
        let method = match method {
            Some("S256") => ChallengeMethod::S256,
            Some("plain") | None if allow_plain => ChallengeMethod::Plain,
            Some("plain") | None => {
                return Err(ProtocolError::new(
                    ErrorCode::InvalidRequest,
                    "code_challenge_method must be S256",
                ))
            }
            Some(_) => {
                return Err(ProtocolError::new(
                    ErrorCode::InvalidRequest,
                    "unsupported code_challenge_method",
                ))
            }
        };
        let ok = match method {
            ChallengeMethod::S256 => challenge.len() == 43 && is_pkce_string(challenge),
            ChallengeMethod::Plain => is_pkce_string(challenge),
        };
        if !ok {
            return Err(ProtocolError::new(
                ErrorCode::InvalidRequest,
                "malformed code_challenge",
            ));
        }
        Ok(CodeChallenge {
            value: challenge.into(),
            method,
        })
    }

    /// A challenge as [`parse`](Self::parse) accepted it earlier (a store reading back what it
    /// kept): trusted, not checked again.
    pub(crate) fn from_stored(value: &str, method: ChallengeMethod) -> Self {
        CodeChallenge {
            value: value.into(),
            method,
        }
    }

    /// The method.
    pub fn method(&self) -> ChallengeMethod {
        self.method
    }

    /// The challenge as received (for stores that persist it).
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// Whether `verifier` matches (RFC 7636 §4.6), compared in constant time. The verifier's
    /// syntax is checked separately by [`check_verifier_syntax`].
    pub fn verify(&self, verifier: &str) -> bool {
        match self.method {
            ChallengeMethod::S256 => {
                let mut encoded = [0u8; 43];
                let digest = Sha256::digest(verifier.as_bytes());
                if URL_SAFE_NO_PAD.encode_slice(digest, &mut encoded).is_err() {
                    return false;
                }
                encoded.ct_eq(self.value.as_bytes()).into()
            }
            ChallengeMethod::Plain => verifier.as_bytes().ct_eq(self.value.as_bytes()).into(),
        }
    }
}

/// Checks a `code_verifier` against `43*128unreserved` (RFC 7636 §4.1).
pub fn check_verifier_syntax(verifier: &str) -> Result<(), ProtocolError> {
    if is_pkce_string(verifier) {
        Ok(())
    } else {
        Err(ProtocolError::new(
            ErrorCode::InvalidRequest,
            "malformed code_verifier",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        let c = CodeChallenge::parse(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            Some("S256"),
            false,
        )
        .unwrap();
        assert!(c.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!c.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj"));
    }

    #[test]
    fn boundary_vectors_rfc7636_4_1() {
        for (v, ch) in [
            (
                "A".repeat(43),
                "DwBzhbb51LfusnSGBa_hqYSgo7-j8BTQnip4TOnlzRo",
            ),
            (
                "A".repeat(128),
                "tqw8wQOGMxx2XwTwQcFH0PJ48q7Y6qAh4tAFf8b2_54",
            ),
            (
                "-._~".repeat(11),
                "lK2NFO4fUsSGSxx7eD9ozetZRvfDEp9wtnPrjHKcyXE",
            ),
        ] {
            check_verifier_syntax(&v).unwrap();
            assert!(CodeChallenge::parse(ch, Some("S256"), false)
                .unwrap()
                .verify(&v));
        }
        assert!(check_verifier_syntax(&"A".repeat(42)).is_err());
        assert!(check_verifier_syntax(&"A".repeat(129)).is_err());
        assert!(check_verifier_syntax(&format!("{}+", "A".repeat(43))).is_err());
    }

    /// Every character, at the start, middle and end of a 43-character verifier, is accepted
    /// exactly when it is `unreserved` (RFC 7636 §4.1: ALPHA / DIGIT / "-" / "." / "_" / "~").
    #[test]
    fn verifier_alphabet_is_exactly_unreserved_rfc7636_4_1() {
        for c in (0u32..0x80).filter_map(char::from_u32).chain(['é', '€']) {
            let unreserved = c.is_ascii_alphanumeric() || "-._~".contains(c);
            for at in [0, 21, 42] {
                let mut v: Vec<char> = "A".repeat(43).chars().collect();
                v[at] = c;
                let v: String = v.into_iter().collect();
                // A two- or three-byte character makes the string longer, still within 128.
                assert_eq!(
                    check_verifier_syntax(&v).is_ok(),
                    unreserved,
                    "{c:?} at {at}"
                );
            }
        }
    }

    #[test]
    fn methods_rfc7636_4_3() {
        let ch = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(CodeChallenge::parse(ch, Some("s256"), false).is_err());
        assert!(CodeChallenge::parse(ch, Some("plain"), false).is_err());
        assert!(CodeChallenge::parse(ch, None, false).is_err());
        assert_eq!(
            CodeChallenge::parse(ch, None, true).unwrap().method(),
            ChallengeMethod::Plain
        );
        assert!(CodeChallenge::parse(&ch[..42], Some("S256"), false).is_err());
    }
}
