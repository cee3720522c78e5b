//! Redirect URIs: registration rules (RFC 6749 §3.1.2, RFC 9700 §2.1, RFC 8252 §7) and exact
//! matching (RFC 9700 §4.1.3).

use std::fmt;

use crate::error::ConfigError;
use crate::params::encode_into;

/// A registered redirect URI, validated once at registration and compared by exact string
/// afterwards.
///
/// Accepted: `https` URIs with a host; `http` only on a loopback host (`127.0.0.1`, `[::1]`,
/// `localhost`; RFC 8252 §7.3); private-use schemes containing a dot, for native apps
/// (RFC 8252 §7.1). Rejected: fragments, relative URIs, wildcards, user info, whitespace.
///
/// ```
/// use grantor::RedirectUri;
/// assert!(RedirectUri::parse("https://client.example.com/cb?tenant=a").is_ok());
/// assert!(RedirectUri::parse("http://127.0.0.1/cb").is_ok());
/// assert!(RedirectUri::parse("com.example.app:/oauth2redirect").is_ok());
/// for bad in ["https://client.example.com/cb#x", "/cb", "http://client.example.com/cb",
///             "https://*.example.com/cb", "javascript:alert(1)"] {
///     assert!(RedirectUri::parse(bad).is_err(), "{bad}");
/// }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RedirectUri {
    uri: Box<str>,
    /// For `http` loopback IP literals: where the port would go, so that any port can match
    /// when the server allows it (RFC 8252 §7.3).
    loopback: Option<LoopbackParts>,
}

#[derive(Clone, PartialEq, Eq)]
struct LoopbackParts {
    /// `http://127.0.0.1` or `http://[::1]`.
    origin_without_port: Box<str>,
    /// Everything after the authority: path and query.
    rest: Box<str>,
}

impl RedirectUri {
    /// Validates a URI for registration.
    pub fn parse(uri: &str) -> Result<Self, ConfigError> {
        let err = |reason| ConfigError::InvalidRedirectUri {
            uri: uri.to_owned(),
            reason,
        };
        if uri.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
            return Err(err("contains whitespace, control or non-ASCII characters"));
        }
        if uri.contains('#') {
            return Err(err("must not contain a fragment (RFC 6749 §3.1.2)"));
        }
        let colon = uri
            .find(':')
            .ok_or_else(|| err("must be an absolute URI"))?;
        let scheme = &uri[..colon];
        let scheme_ok = scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !scheme_ok {
            return Err(err("must be an absolute URI"));
        }
        let mut loopback = None;
        match scheme {
            "https" | "http" => {
                let rest = uri[colon + 1..]
                    .strip_prefix("//")
                    .ok_or_else(|| err("must be an absolute URI with a host"))?;
                let end = rest.find(['/', '?']).unwrap_or(rest.len());
                let authority = &rest[..end];
                if authority.is_empty() {
                    return Err(err("must have a host"));
                }
                if authority.contains('@') {
                    return Err(err("must not contain user information"));
                }
                if authority.contains('*') {
                    return Err(err("must not contain wildcards"));
                }
                let host = host_of(authority);
                if host.is_empty() {
                    return Err(err("must have a host"));
                }
                // RFC 3986 §3.2.3: nothing but a port may follow the host.
                let port = &authority[host.len()..];
                if !port.is_empty()
                    && !port.strip_prefix(':').is_some_and(|digits| {
                        (1..=5).contains(&digits.len())
                            && digits.bytes().all(|b| b.is_ascii_digit())
                    })
                {
                    return Err(err("must have a numeric port, if any, after the host"));
                }
                if scheme == "http" {
                    if !is_loopback_host(host) {
                        return Err(err(
                            "http is allowed only for loopback hosts (RFC 8252 §7.3); use https",
                        ));
                    }
                    if host != "localhost" {
                        loopback = Some(LoopbackParts {
                            origin_without_port: format!("http://{host}").into(),
                            rest: rest[end..].into(),
                        });
                    }
                }
            }
            _ => {
                let lower = scheme.to_ascii_lowercase();
                if !scheme.contains('.')
                    || matches!(lower.as_str(), "javascript" | "data" | "vbscript" | "file")
                {
                    return Err(err(
                        "a custom scheme must be a reverse domain name (RFC 8252 §7.1)",
                    ));
                }
            }
        }
        Ok(RedirectUri {
            uri: uri.into(),
            loopback,
        })
    }

    /// The URI exactly as registered.
    pub fn as_str(&self) -> &str {
        &self.uri
    }

    /// Whether `requested` designates this URI: exact string equality, or, when
    /// `loopback_any_port` is on and this is an `http` loopback IP URI, equality of everything
    /// but the port (RFC 8252 §7.3).
    pub fn matches(&self, requested: &str, loopback_any_port: bool) -> bool {
        if *self.uri == *requested {
            return true;
        }
        if !loopback_any_port {
            return false;
        }
        let Some(lb) = &self.loopback else {
            return false;
        };
        let Some(after) = requested.strip_prefix(&*lb.origin_without_port) else {
            return false;
        };
        let after = match after.strip_prefix(':') {
            Some(p) => {
                let digits = p.bytes().take_while(u8::is_ascii_digit).count();
                if digits == 0 || digits > 5 {
                    return false;
                }
                &p[digits..]
            }
            None => after,
        };
        after == &*lb.rest
    }

    /// The URI the browser is sent to: `base` with `params` added to its query (keeping the
    /// registered query, RFC 6749 §3.1.2) or put in its fragment.
    pub(crate) fn with_params(base: &str, fragment: bool, params: &[(&str, &str)]) -> String {
        let mut out = String::with_capacity(base.len() + 160);
        out.push_str(base);
        let mut sep = if fragment {
            '#'
        } else if base.contains('?') {
            '&'
        } else {
            '?'
        };
        // A query that is empty or ends with `&` takes the first parameter as it is; a `&` at
        // the end of a URI without a query is part of its path.
        if !fragment && base.contains('?') && (base.ends_with('?') || base.ends_with('&')) {
            sep = '\0';
        }
        for (name, value) in params {
            if sep != '\0' {
                out.push(sep);
            }
            sep = '&';
            out.push_str(name);
            out.push('=');
            encode_into(&mut out, value);
        }
        out
    }
}

fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return match rest.find(']') {
            Some(i) => &authority[..i + 2],
            None => "",
        };
    }
    match authority.rfind(':') {
        Some(i) => &authority[..i],
        None => authority,
    }
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl fmt::Debug for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedirectUri({:?})", &*self.uri)
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_matching_rfc9700_4_1_3() {
        let r = RedirectUri::parse("https://client.example.com/cb").unwrap();
        assert!(r.matches("https://client.example.com/cb", true));
        for near in [
            "https://client.example.com/cb/",
            "https://client.example.com/CB",
            "https://CLIENT.example.com/cb",
            "https://client.example.com:443/cb",
            "https://client.example.com/c%62",
            "https://client.example.com/cb?x=1",
            "https://client.example.com/cb#f",
            "https://client.example.com.evil.com/cb",
            "https://client.example.com/cb/../cb",
            "http://client.example.com/cb",
        ] {
            assert!(!r.matches(near, true), "{near}");
        }
    }

    #[test]
    fn loopback_any_port_only_when_enabled_rfc8252_7_3() {
        let r = RedirectUri::parse("http://127.0.0.1/cb").unwrap();
        assert!(r.matches("http://127.0.0.1:51004/cb", true));
        assert!(!r.matches("http://127.0.0.1:51004/cb", false));
        assert!(!r.matches("http://127.0.0.1:51004/other", true));
        assert!(!r.matches("http://localhost:51004/cb", true));
        assert!(!r.matches("http://[::1]:51004/cb", true));
        assert!(!r.matches("http://127.0.0.1:/cb", true));
        assert!(!r.matches("http://127.0.0.1:5100a/cb", true));
        let v6 = RedirectUri::parse("http://[::1]:8080/cb").unwrap();
        assert!(v6.matches("http://[::1]:9/cb", true));
        let https = RedirectUri::parse("https://client.example.com/cb").unwrap();
        assert!(!https.matches("https://client.example.com:8443/cb", true));
    }

    #[test]
    fn keeps_registered_query_rfc6749_3_1_2() {
        assert_eq!(
            RedirectUri::with_params("https://c.example/cb?tenant=a", false, &[("code", "x y")]),
            "https://c.example/cb?tenant=a&code=x+y"
        );
        assert_eq!(
            RedirectUri::with_params(
                "https://c.example/cb",
                true,
                &[("code", "1"), ("state", "s")]
            ),
            "https://c.example/cb#code=1&state=s"
        );
    }
}
