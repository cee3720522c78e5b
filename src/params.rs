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

/// The bytes [`Params::parse`] stops at: `&`, `=`, and the escapes `%` and `+`.
const DELIMITER: [bool; 256] = {
    let mut table = [false; 256];
    table[b'&' as usize] = true;
    table[b'=' as usize] = true;
    table[b'%' as usize] = true;
    table[b'+' as usize] = true;
    table
};

/// The index of the first delimiter (see [`DELIMITER`]) in `input` at or after `i`, or
/// `input.len()`: the bytes that need nothing (most of them) are skipped eight at a time,
/// SWAR-style, and the last few one by one.
fn skip_plain(input: &[u8], mut i: usize) -> usize {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = ONES << 7;
    /// The high bit of each byte of `x` that is zero; bits above the lowest one may be set
    /// for bytes that are not (a borrow), so only the lowest set bit is to be trusted.
    fn zeros(x: u64) -> u64 {
        x.wrapping_sub(ONES) & !x & HIGH
    }
    while let Some(chunk) = input.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let w = u64::from_le_bytes(*chunk);
        let hits = zeros(w ^ (ONES * u64::from(b'&')))
            | zeros(w ^ (ONES * u64::from(b'=')))
            | zeros(w ^ (ONES * u64::from(b'%')))
            | zeros(w ^ (ONES * u64::from(b'+')));
        if hits != 0 {
            // Little-endian: the lowest set bit is the first delimiter in the input.
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < input.len() && !DELIMITER[usize::from(input[i])] {
        i += 1;
    }
    i
}

/// Parsed parameters of one request, in the order received.
#[derive(Debug, Default)]
pub(crate) struct Params<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Params<'a> {
    /// Parses `input`. Fails with `invalid_request` on a malformed percent escape, on bytes
    /// that are not UTF-8 after decoding, or when a limit is exceeded.
    ///
    /// One pass over the bytes finds each pair's `&`, its first `=`, and whether its name or
    /// value holds an escape (`%` or `+`); a component without one is borrowed from the input,
    /// which is checked as UTF-8 once, as a whole.
    pub(crate) fn parse(input: &'a [u8], limits: ParseLimits) -> Result<Self, ProtocolError> {
        // Most requests carry at most eight parameters: sized once for them.
        let mut pairs = Vec::with_capacity(8);
        let text = std::str::from_utf8(input).ok();
        let mut start = 0;
        // Index of the pair's first `=`, and escapes seen in its name and in its value.
        let mut eq = None;
        let mut escaped = [false; 2];
        let mut i = 0;
        loop {
            i = skip_plain(input, i);
            match input.get(i) {
                None | Some(b'&') => {}
                Some(b'=') => {
                    if eq.is_none() {
                        eq = Some(i);
                    }
                    i += 1;
                    continue;
                }
                Some(_) => {
                    escaped[usize::from(eq.is_some())] = true;
                    i += 1;
                    continue;
                }
            }
            // The end of a pair (an empty one is skipped).
            if i > start {
                let pair = Self::pair(input, text, start..i, eq, escaped, limits, pairs.len())?;
                pairs.push(pair);
            }
            start = i + 1;
            eq = None;
            escaped = [false; 2];
            if i >= input.len() {
                break;
            }
            i += 1;
        }
        Ok(Params { pairs })
    }

    /// The pair at `range` of `input` (`text` when it is UTF-8), its first `=` at `eq`, with
    /// escapes in its name and value as `escaped` says; `count` pairs came before it.
    fn pair(
        input: &'a [u8],
        text: Option<&'a str>,
        range: std::ops::Range<usize>,
        eq: Option<usize>,
        escaped: [bool; 2],
        limits: ParseLimits,
        count: usize,
    ) -> Result<(Cow<'a, str>, Cow<'a, str>), ProtocolError> {
        if count >= limits.max_params {
            return Err(ProtocolError::new(
                ErrorCode::InvalidRequest,
                "too many parameters",
            ));
        }
        let (name, value) = match eq {
            Some(e) => (range.start..e, e + 1..range.end),
            None => (range.clone(), range.end..range.end),
        };
        if value.len() > limits.max_value_len || name.len() > limits.max_value_len {
            return Err(ProtocolError::new(
                ErrorCode::InvalidRequest,
                "a parameter is too long",
            ));
        }
        // A component starts and ends at an ASCII delimiter (or an end), so it is on char
        // boundaries of `text`; `get` keeps that from being an assumption.
        let part = |range: std::ops::Range<usize>, escaped: bool| match text
            .filter(|_| !escaped)
            .and_then(|t| t.get(range.clone()))
        {
            Some(s) => Ok(Cow::Borrowed(s)),
            None => decode_escaped(
                input.get(range.clone()).unwrap_or_default(),
                text.and_then(|t| t.get(range)),
            ),
        };
        Ok((part(name, escaped[0])?, part(value, escaped[1])?))
    }

    /// The value of `name`: `Ok(None)` when absent or empty (RFC 6749 §3.1), an error when
    /// the parameter is given more than once.
    ///
    /// Inlined, so that comparing a pair's name with the constant `name` is a comparison
    /// of known length, not a call to `memcmp`.
    #[inline]
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

    /// The value of `name` where the caller has already rejected its repetition (see
    /// [`first_duplicate`](Self::first_duplicate)): `None` when absent or empty.
    #[inline]
    pub(crate) fn value(&self, name: &str) -> Option<&str> {
        self.get(name).ok().flatten()
    }

    /// Whether `name` occurs at all (even with an empty value).
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// The first of `names` that occurs more than once.
    ///
    /// The pairs are compared with each other (a few dozen comparisons of short names, most
    /// ending at the length), and `names` is only searched when some name repeats.
    pub(crate) fn first_duplicate(&self, names: &[&'static str]) -> Option<&'static str> {
        let repeats = self
            .pairs
            .iter()
            .enumerate()
            .any(|(i, (k, _))| self.pairs[..i].iter().any(|(seen, _)| seen == k));
        if !repeats {
            return None;
        }
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

/// Decodes one form-urlencoded component: `+` is a space and `%XY` a byte. Strict: a `%` not
/// followed by two hex digits, or a result that is not UTF-8, is an error.
pub(crate) fn decode(input: &[u8]) -> Result<Cow<'_, str>, ProtocolError> {
    // `skip_plain` also stops at `&` and `=`, which need no decoding: only then is the rest
    // searched byte by byte.
    let first = skip_plain(input, 0);
    let rest = input.get(first..).unwrap_or_default();
    if !rest.iter().any(|b| *b == b'%' || *b == b'+') {
        return std::str::from_utf8(input)
            .map(Cow::Borrowed)
            .map_err(|_| malformed());
    }
    decode_escaped(input, std::str::from_utf8(input).ok())
}

/// [`decode`] for a component known to hold an escape; `text` is `input` when it is UTF-8
/// as it stands (checked by the caller, or `None`).
///
/// Most escaped values decode to ASCII (URIs, scopes joined by spaces): their runs of plain
/// bytes are copied whole from `text` and their escapes pushed as characters, so the result
/// needs no UTF-8 check. An escape of a byte outside ASCII, or an `input` that is not UTF-8
/// as it stands, hands the whole value over to [`decode_bytes`].
fn decode_escaped<'a>(input: &[u8], text: Option<&str>) -> Result<Cow<'a, str>, ProtocolError> {
    let Some(text) = text else {
        return decode_bytes(input).map(Cow::Owned);
    };
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    loop {
        let end = skip_plain(input, i);
        if end > i {
            // Runs end at an ASCII delimiter or at the end, so on char boundaries.
            out.push_str(text.get(i..end).unwrap_or_default());
        }
        let (byte, len) = match input.get(end) {
            None => return Ok(Cow::Owned(out)),
            Some(b'+') => (b' ', 1),
            Some(b'%') => (escape(input, end)?, 3),
            // `&` or `=`: nothing to decode.
            Some(&b) => (b, 1),
        };
        if !byte.is_ascii() {
            return decode_bytes(input).map(Cow::Owned);
        }
        out.push(char::from(byte));
        i = end + len;
    }
}

/// The byte of the `%XY` escape at `input[at]`, or an error when `XY` is not two hex digits.
fn escape(input: &[u8], at: usize) -> Result<u8, ProtocolError> {
    let hi = input.get(at + 1).and_then(|b| hex(*b));
    let lo = input.get(at + 2).and_then(|b| hex(*b));
    match (hi, lo) {
        (Some(h), Some(l)) => Ok(h << 4 | l),
        _ => Err(malformed()),
    }
}

/// [`decode`] for a value that decodes to bytes outside ASCII: decoded whole, then checked
/// as UTF-8.
fn decode_bytes(input: &[u8]) -> Result<String, ProtocolError> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        // Copy the run up to the next escape whole.
        let run = input[i..]
            .iter()
            .position(|b| *b == b'%' || *b == b'+')
            .unwrap_or(input.len() - i);
        out.extend_from_slice(&input[i..i + run]);
        i += run;
        match input.get(i) {
            Some(b'+') => {
                out.push(b' ');
                i += 1;
            }
            Some(_) => {
                out.push(escape(input, i)?);
                i += 3;
            }
            None => {}
        }
    }
    String::from_utf8(out).map_err(|_| malformed())
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
    let bytes = value.as_bytes();
    // Runs of characters that stay as they are are copied whole.
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if UNRESERVED[usize::from(b)] {
            continue;
        }
        // A non-empty `run..i` is unreserved ASCII between two whole characters.
        out.push_str(value.get(run..i).unwrap_or_default());
        run = i + 1;
        if b == b' ' {
            out.push('+');
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
    out.push_str(value.get(run..).unwrap_or_default());
}

/// The bytes [`encode_into`] leaves as they are: `A-Z a-z 0-9 - . _ ~ *`.
const UNRESERVED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b as u8, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'*');
        b += 1;
    }
    table
};

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
        assert_eq!(p.value("state"), None);
        assert!(p.contains("state"));
    }

    #[test]
    fn duplicates_are_detected_rfc6749_3_1() {
        let p = Params::parse(b"scope=a&scope=b", L).unwrap();
        assert_eq!(p.get("scope"), Err(Duplicate));
        // `value` is for callers that rejected repeats first: it does not report them.
        assert_eq!(p.value("scope"), None);
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

    /// The obvious definition of the form encoding: split at `&`, then at the first `=`,
    /// decode each side.
    fn reference(input: &[u8]) -> Result<Vec<(String, String)>, ()> {
        let mut out = Vec::new();
        for piece in input.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (n, v) = match piece.iter().position(|b| *b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &b""[..]),
            };
            let n = decode(n).map_err(|_| ())?.into_owned();
            let v = decode(v).map_err(|_| ())?.into_owned();
            out.push((n, v));
        }
        Ok(out)
    }

    fn parsed(input: &[u8]) -> Result<Vec<(String, String)>, ()> {
        Params::parse(input, L)
            .map(|p| {
                p.pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .map_err(|_| ())
    }

    /// The eight-bytes-at-a-time skip finds the first delimiter wherever it sits in a word:
    /// pseudo-random inputs of up to 80 bytes against the definition. Most bytes are
    /// unreserved characters; one in eight is a delimiter, a byte that differs from one in
    /// its lowest bit (0x24, 0x27, 0x2A, 0x3C: what a borrow in the zero-byte test could
    /// flag), another neighbour, 0x00, 0x01, 0x80 or 0xFF. Then each delimiter at each
    /// position of a 64-byte input.
    #[test]
    fn word_at_a_time_parse_matches_the_definition() {
        let special = b"&=%+\x24\x27\x2a\x2c\x3c\x3e\x00\x01\x80\xff2Fa";
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200_000 {
            let len = (next() % 81) as usize;
            let input: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 8 == 0 {
                        special[(r >> 8) as usize % special.len()]
                    } else {
                        b"abcXYZ019-._~"[(r >> 8) as usize % 13]
                    }
                })
                .collect();
            assert_eq!(parsed(&input), reference(&input), "{input:?}");
        }
        for i in 0..64 {
            for d in b"&=%+" {
                let mut input = vec![b'a'; 64];
                input[i] = *d;
                assert_eq!(skip_plain(&input, 0), i);
                assert_eq!(skip_plain(&input, i), i);
                assert_eq!(skip_plain(&input, i + 1), 64);
            }
        }
    }

    /// Calls `check` on every input of up to `max_len` bytes drawn from `alphabet`; returns
    /// how many there were.
    fn every_input(alphabet: &[u8], max_len: u32, mut check: impl FnMut(&[u8])) -> usize {
        let mut input = Vec::new();
        let mut checked = 0;
        for len in 0..=max_len {
            for mut n in 0..alphabet.len().pow(len) {
                input.clear();
                for _ in 0..len {
                    input.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                check(&input);
                checked += 1;
            }
        }
        checked
    }

    /// `decode` against the obvious definition of RFC 6749 Appendix B's decoding (each `+` a
    /// space, each `%XY` a byte, the result UTF-8 or an error), on every input of up to six
    /// bytes from an alphabet that spells ASCII escapes (`%2F`), escapes of UTF-8 (`%C3%A3`),
    /// malformed ones, a plain `=`, and raw UTF-8 and non-UTF-8 bytes.
    #[test]
    fn decode_matches_the_definition_exhaustively_rfc6749_appendix_b() {
        fn definition(input: &[u8]) -> Option<String> {
            let mut out = Vec::new();
            let mut i = 0;
            while i < input.len() {
                match input[i] {
                    b'+' => out.push(b' '),
                    b'%' => {
                        let hex = std::str::from_utf8(input.get(i + 1..i + 3)?).ok()?;
                        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                            return None;
                        }
                        out.push(u8::from_str_radix(hex, 16).ok()?);
                        i += 2;
                    }
                    b => out.push(b),
                }
                i += 1;
            }
            String::from_utf8(out).ok()
        }
        let checked = every_input(b"a+%2FC3A=\xc3\xa9", 6, |input| {
            let ours = decode(input).ok().map(Cow::into_owned);
            assert_eq!(ours, definition(input), "{input:?}");
        });
        assert_eq!(checked, 1_948_717);
    }

    /// The one-pass parser against the obvious definition (split at `&`, then at the first
    /// `=`, decode each side), on every input of up to six bytes from an alphabet of the
    /// delimiters, escapes, a letter and a non-UTF-8 byte.
    #[test]
    fn one_pass_parse_matches_the_definition_exhaustively() {
        let checked = every_input(b"a=&%+2\xff", 6, |input| {
            assert_eq!(parsed(input), reference(input), "{input:?}");
        });
        assert_eq!(checked, 137_257);
    }

    #[test]
    fn first_duplicate_reports_the_first_listed_name_that_repeats() {
        let p = Params::parse(b"b=1&a=1&c=1&a=2&b=2", L).unwrap();
        assert_eq!(p.first_duplicate(&["c", "a", "b"]), Some("a"));
        assert_eq!(p.first_duplicate(&["c"]), None);
        let p = Params::parse(b"a=1&b=1&c=1", L).unwrap();
        assert_eq!(p.first_duplicate(&["a", "b", "c"]), None);
    }

    #[test]
    fn encode_round_trips() {
        let mut s = String::new();
        encode_into(&mut s, " %&+£€\r\n");
        assert_eq!(s, "+%25%26%2B%C2%A3%E2%82%AC%0D%0A");
        assert_eq!(decode(s.as_bytes()).unwrap(), " %&+£€\r\n");
    }

    /// Every character, alone, between plain characters, and next to none, is encoded as
    /// the `UNRESERVED` table says (RFC 6749 Appendix B): the loop's copies of plain runs
    /// lose and repeat nothing. The result decodes back.
    #[test]
    fn encode_matches_the_unreserved_table_for_every_character_rfc6749_appendix_b() {
        fn definition(value: &str) -> String {
            let mut out = String::new();
            for &b in value.as_bytes() {
                match b {
                    b' ' => out.push('+'),
                    b if UNRESERVED[usize::from(b)] => out.push(char::from(b)),
                    b => out.push_str(&format!("%{b:02X}")),
                }
            }
            out
        }
        for c in (0u32..0x80).filter_map(char::from_u32).chain(['é', '€']) {
            for value in [
                c.to_string(),
                format!("code-{c}-43"),
                "state_1.2~*".to_owned(),
            ] {
                let mut ours = String::new();
                encode_into(&mut ours, &value);
                assert_eq!(ours, definition(&value), "{value:?}");
                assert_eq!(decode(ours.as_bytes()).unwrap(), value);
            }
        }
    }
}
