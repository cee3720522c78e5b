//! `application/x-www-form-urlencoded` parsing for query strings and form bodies.
//!
//! The parser keeps every pair in order so that repeated parameters can be detected
//! (RFC 6749 §3.1, §3.2: "Request and response parameters MUST NOT be included more than
//! once"), treats empty values as omitted (same sections), and borrows from the input when no
//! decoding is needed.

use std::borrow::Cow;

use crate::error::{ErrorCode, ProtocolError};

/// Limits on what a request may carry; see [`Limits`](crate::Limits).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ParseLimits {
    pub(crate) max_params: usize,
    pub(crate) max_value_len: usize,
}

/// Parsed parameters of one request, in the order received.
#[derive(Debug, Default)]
pub(crate) struct Params<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Params<'a> {
    /// Parses `input`. Fails with `invalid_request` on a malformed percent escape, on bytes
    /// that are not UTF-8 after decoding, or when a limit is exceeded.
    pub(crate) fn parse(input: &'a [u8], limits: ParseLimits) -> Result<Self, ProtocolError> {
        // Most requests carry at most eight parameters: sized once for them.
        let mut pairs = Vec::with_capacity(8);
        // One UTF-8 check of the whole input, so that a component needing no decoding is
        // borrowed from it without a check of its own.
        let text = std::str::from_utf8(input).ok();
        for piece in input.split(|b| *b == b'&') {
            if piece.is_empty() {
                continue;
            }
            if pairs.len() >= limits.max_params {
                return Err(ProtocolError::new(
                    ErrorCode::InvalidRequest,
                    "too many parameters",
                ));
            }
            let (name, value) = match piece.iter().position(|b| *b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &b""[..]),
            };
            if value.len() > limits.max_value_len || name.len() > limits.max_value_len {
                return Err(ProtocolError::new(
                    ErrorCode::InvalidRequest,
                    "a parameter is too long",
                ));
            }
            pairs.push((
                decode_part(text, input, name)?,
                decode_part(text, input, value)?,
            ));
        }
        Ok(Params { pairs })
    }

    /// The value of `name`: `Ok(None)` when absent or empty (RFC 6749 §3.1), an error when
    /// the parameter is given more than once.
    pub(crate) fn get(&self, name: &str) -> Result<Option<&str>, Duplicate> {
        let mut found: Option<&str> = None;
        let mut seen = false;
        for (k, v) in &self.pairs {
            if k == name {
                if seen {
                    return Err(Duplicate);
                }
                seen = true;
                if !v.is_empty() {
                    found = Some(v);
                }
            }
        }
        Ok(found)
    }

    /// Whether `name` occurs at all (even with an empty value).
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// The first of `names` that occurs more than once.
    pub(crate) fn first_duplicate(&self, names: &[&'static str]) -> Option<&'static str> {
        names.iter().copied().find(|n| self.get(n).is_err())
    }

    /// Every pair, in order (for the `fuzzing` feature's hooks in `crate::__fuzz`).
    #[cfg(feature = "fuzzing")]
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (&**k, &**v))
    }
}

/// A parameter was given more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Duplicate;

/// [`decode`] of `part`, a slice of `input`: without escapes, and with `text` (all of `input`,
/// already checked as UTF-8), it is the same bytes of `text`, borrowed as they are.
fn decode_part<'a>(
    text: Option<&'a str>,
    input: &'a [u8],
    part: &'a [u8],
) -> Result<Cow<'a, str>, ProtocolError> {
    if let Some(text) = text {
        if !part.iter().any(|b| *b == b'%' || *b == b'+') {
            // `part` may also be a constant (an absent value), not a slice of `input`.
            let start = (part.as_ptr() as usize).checked_sub(input.as_ptr() as usize);
            if let Some(s) = start.and_then(|start| text.get(start..start + part.len())) {
                if s.as_bytes() == part {
                    return Ok(Cow::Borrowed(s));
                }
            }
        }
    }
    decode(part)
}

/// Decodes one form-urlencoded component: `+` is a space and `%XY` a byte. Strict: a `%` not
/// followed by two hex digits, or a result that is not UTF-8, is an error.
pub(crate) fn decode(input: &[u8]) -> Result<Cow<'_, str>, ProtocolError> {
    if !input.iter().any(|b| *b == b'%' || *b == b'+') {
        return std::str::from_utf8(input)
            .map(Cow::Borrowed)
            .map_err(|_| malformed());
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = input.get(i + 1).and_then(|b| hex(*b));
                let lo = input.get(i + 2).and_then(|b| hex(*b));
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => return Err(malformed()),
                }
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| malformed())
}

fn malformed() -> ProtocolError {
    ProtocolError::new(ErrorCode::InvalidRequest, "malformed parameter encoding")
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Appends `value` to `out`, form-urlencoded (RFC 6749 Appendix B): unreserved characters
/// as they are, space as `+`, everything else as `%XY`.
pub(crate) fn encode_into(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: ParseLimits = ParseLimits {
        max_params: 64,
        max_value_len: 4096,
    };

    #[test]
    fn decodes_plus_and_percent_per_rfc6749_appendix_b() {
        let p = Params::parse(b"state=+%25%26%2B%C2%A3%E2%82%AC&a=b", L).unwrap();
        assert_eq!(p.get("state").unwrap(), Some(" %&+£€"));
        assert_eq!(p.get("a").unwrap(), Some("b"));
    }

    #[test]
    fn empty_values_are_omitted_rfc6749_3_1() {
        let p = Params::parse(b"state=&scope", L).unwrap();
        assert_eq!(p.get("state").unwrap(), None);
        assert_eq!(p.get("scope").unwrap(), None);
        assert!(p.contains("state"));
    }

    #[test]
    fn duplicates_are_detected_rfc6749_3_1() {
        let p = Params::parse(b"scope=a&scope=b", L).unwrap();
        assert_eq!(p.get("scope"), Err(Duplicate));
        assert_eq!(p.first_duplicate(&["state", "scope"]), Some("scope"));
    }

    #[test]
    fn malformed_escapes_and_non_utf8_are_rejected() {
        assert!(Params::parse(b"a=%zz", L).is_err());
        assert!(Params::parse(b"a=%4", L).is_err());
        assert!(Params::parse(b"a=%FF", L).is_err());
        assert!(Params::parse(b"a=\xff", L).is_err());
    }

    #[test]
    fn limits_are_enforced() {
        let small = ParseLimits {
            max_params: 2,
            max_value_len: 4,
        };
        assert!(Params::parse(b"a=1&b=2&c=3", small).is_err());
        assert!(Params::parse(b"a=12345", small).is_err());
    }

    #[test]
    fn encode_round_trips() {
        let mut s = String::new();
        encode_into(&mut s, " %&+£€\r\n");
        assert_eq!(s, "+%25%26%2B%C2%A3%E2%82%AC%0D%0A");
        assert_eq!(decode(s.as_bytes()).unwrap(), " %&+£€\r\n");
    }
}
