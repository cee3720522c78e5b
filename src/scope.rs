//! Scope values (RFC 6749 §3.3).

use std::fmt;
use std::sync::Arc;

use crate::error::ConfigError;

/// Whether `token` is a valid scope token: `1*( %x21 / %x23-5B / %x5D-7E )` (RFC 6749 §3.3).
pub(crate) fn is_scope_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// A set of scope values, kept in the order first given, without duplicates.
///
/// Stored as one space-separated string, which is also its wire form, so a granted scope is
/// written to a token response without any work. The string is shared: a clone (the same
/// scope going into a code, its tokens' records and the response) counts a reference
/// instead of copying it.
///
/// ```
/// use grantor::ScopeSet;
/// let s = ScopeSet::parse("openid  read openid").unwrap();
/// assert_eq!(s.as_str(), "openid read");
/// assert!(s.contains("read"));
/// assert!(ScopeSet::parse("a\"b").is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ScopeSet(Arc<str>);

impl TryFrom<String> for ScopeSet {
    type Error = ConfigError;
    fn try_from(s: String) -> Result<Self, ConfigError> {
        ScopeSet::parse(&s)
    }
}

impl From<ScopeSet> for String {
    fn from(s: ScopeSet) -> String {
        String::from(&*s.0)
    }
}

impl ScopeSet {
    /// The empty set.
    pub fn empty() -> Self {
        ScopeSet::default()
    }

    /// Parses a space-separated list (RFC 6749 §3.3). Repeated values are kept once; runs of
    /// spaces are tolerated. Fails on a value outside the scope-token grammar.
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        let mut out = ScopeBuilder::from_source(s);
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            if !is_scope_token(token) {
                return Err(ConfigError::InvalidScope(token.to_owned()));
            }
            out.push(token);
        }
        Ok(out.finish())
    }

    /// A set from separate values.
    ///
    /// ```
    /// use grantor::ScopeSet;
    /// let s = ScopeSet::from_iter_checked(["openid", "profile"]).unwrap();
    /// assert_eq!(s.to_string(), "openid profile");
    /// ```
    pub fn from_iter_checked<I, S>(values: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = ScopeBuilder::default();
        for v in values {
            let v = v.as_ref();
            if !is_scope_token(v) {
                return Err(ConfigError::InvalidScope(v.to_owned()));
            }
            out.push(v);
        }
        Ok(out.finish())
    }

    /// A set from its wire form as [`as_str`](Self::as_str) gave it (a store reading back what
    /// it kept): trusted, not checked again.
    pub(crate) fn from_wire(s: &str) -> Self {
        ScopeSet(s.into())
    }

    /// Whether `scope` is in the set.
    pub fn contains(&self, scope: &str) -> bool {
        // Word by word, comparing bytes where a word starts (no iterator machinery).
        let (set, scope) = (self.0.as_bytes(), scope.as_bytes());
        let mut rest = set;
        loop {
            let end = rest.iter().position(|b| *b == b' ').unwrap_or(rest.len());
            if !scope.is_empty() && rest[..end] == *scope {
                return true;
            }
            match rest.get(end + 1..) {
                Some(next) => rest = next,
                None => return false,
            }
        }
    }

    /// Whether every value of `self` is in `other`.
    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.iter().all(|s| other.contains(s))
    }

    /// The values, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.split(' ').filter(|s| !s.is_empty())
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The space-separated wire form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The set without `value`.
    pub fn without(&self, value: &str) -> ScopeSet {
        let mut out = ScopeBuilder::from_source(&self.0);
        for s in self.iter().filter(|s| *s != value) {
            out.push(s);
        }
        out.finish()
    }

    /// The values of `self` that are also in `other`, in `self`'s order.
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        // The common case (consent covers the whole request): a copy, with no rebuilding.
        if self.is_subset_of(other) {
            return self.clone();
        }
        let mut out = ScopeBuilder::from_source(&self.0);
        for s in self.iter().filter(|s| other.contains(s)) {
            out.push(s);
        }
        out.finish()
    }
}

/// Builds a [`ScopeSet`] from already-validated tokens.
///
/// Built [`from_source`](Self::from_source), it copies nothing while the tokens pushed are
/// the source's own, in order, single-spaced and without repeats (a request's scope usually
/// is): the set is then that prefix of the source, allocated once by
/// [`finish`](Self::finish).
#[derive(Default)]
pub(crate) struct ScopeBuilder<'a> {
    source: &'a str,
    /// While `owned` is `None`, the set so far is `source[..prefix]`.
    prefix: usize,
    owned: Option<String>,
}

impl<'a> ScopeBuilder<'a> {
    /// A builder for tokens taken from `source`, in its order.
    pub(crate) fn from_source(source: &'a str) -> Self {
        ScopeBuilder {
            source,
            prefix: 0,
            owned: None,
        }
    }

    fn current(&self) -> &str {
        match &self.owned {
            Some(owned) => owned,
            None => self.source.get(..self.prefix).unwrap_or_default(),
        }
    }

    pub(crate) fn push(&mut self, token: &str) {
        if self.current().split(' ').any(|s| s == token) {
            return;
        }
        if self.owned.is_none() {
            // The next token of the source, right after the prefix and its one space?
            let start = if self.prefix == 0 { 0 } else { self.prefix + 1 };
            let end = start + token.len();
            let next_in_source = self.source.get(start..end) == Some(token)
                && (self.prefix == 0 || self.source.as_bytes().get(self.prefix) == Some(&b' '))
                && matches!(self.source.as_bytes().get(end), None | Some(b' '));
            if next_in_source {
                self.prefix = end;
                return;
            }
            let mut owned = String::with_capacity(self.source.len().max(token.len() + 1));
            owned.push_str(self.current());
            self.owned = Some(owned);
        }
        if let Some(owned) = &mut self.owned {
            if !owned.is_empty() {
                owned.push(' ');
            }
            owned.push_str(token);
        }
    }

    pub(crate) fn finish(self) -> ScopeSet {
        ScopeSet(Arc::from(self.current()))
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScopeSet({:?})", &*self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_excludes_quote_and_backslash_rfc6749_3_3() {
        assert!(is_scope_token("api.read"));
        assert!(is_scope_token("urn:x:y!"));
        assert!(!is_scope_token("a\"b"));
        assert!(!is_scope_token("a\\b"));
        assert!(!is_scope_token("é"));
        assert!(!is_scope_token(""));
    }

    #[test]
    fn contains_matches_whole_space_delimited_values_rfc6749_3_3() {
        let s = ScopeSet::parse("openid read write").unwrap();
        for v in ["openid", "read", "write"] {
            assert!(s.contains(v), "{v}");
        }
        for v in [
            "",
            "open",
            "penid",
            "rea",
            "writes",
            "openid read",
            " ",
            "id",
        ] {
            assert!(!s.contains(v), "{v:?}");
        }
        assert!(!ScopeSet::empty().contains(""));
        assert!(!ScopeSet::empty().contains("read"));
    }

    #[test]
    fn subset_and_intersection() {
        let all = ScopeSet::parse("openid read write").unwrap();
        let some = ScopeSet::parse("write read").unwrap();
        assert!(some.is_subset_of(&all));
        assert!(!all.is_subset_of(&some));
        assert_eq!(all.intersection(&some).as_str(), "read write");
    }

    /// The builder's two paths (the source's own prefix, or a copy once the tokens stop
    /// following the source) give the same set as a plain rebuild would, for every shape
    /// of spacing and repetition (RFC 6749 §3.3: a space-delimited list).
    #[test]
    fn parse_matches_a_plain_rebuild_rfc6749_3_3() {
        fn plain(s: &str) -> String {
            let mut out: Vec<&str> = Vec::new();
            for t in s.split(' ').filter(|t| !t.is_empty()) {
                if !out.contains(&t) {
                    out.push(t);
                }
            }
            out.join(" ")
        }
        for input in [
            "",
            " ",
            "read",
            "read write",
            "read  write",
            " read write",
            "read write ",
            "read read",
            "read write read",
            "write read write openid",
            "a ab a",
            "ab a ab",
            "openid profile email offline_access",
        ] {
            assert_eq!(
                ScopeSet::parse(input).unwrap().as_str(),
                plain(input),
                "{input:?}"
            );
        }
        let all = ScopeSet::parse("openid read write").unwrap();
        assert_eq!(all.without("read").as_str(), "openid write");
        assert_eq!(all.without("openid").as_str(), "read write");
        assert_eq!(all.without("x").as_str(), "openid read write");
        let some = ScopeSet::parse("write openid").unwrap();
        assert_eq!(all.intersection(&some).as_str(), "openid write");
        assert_eq!(some.intersection(&all).as_str(), "write openid");
    }
}
