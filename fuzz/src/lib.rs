//! The invariant checks behind grantor's fuzz targets (`fuzz_targets/`), shared with the main
//! crate's tests: `tests/fuzz_regressions.rs` replays saved crash inputs through them and
//! `tests/proptest_invariants.rs` drives them from proptest. Each `check_*` takes raw fuzzer
//! bytes, decodes a structured input from them with `arbitrary`, runs it, and panics when an
//! invariant is broken.
//!
//! This file must build on stable and without libFuzzer: the main crate's tests include it
//! with `#[path]`, and its dependencies (`grantor` with the `fuzzing` feature, `arbitrary`,
//! `base64`, `sha2`, `serde_json`) are the main crate's too.

use std::future::Future;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use grantor::http::{self, header, HeaderValue, Method, Request};
use grantor::memory::{MemoryClientStore, MemoryConsent, MemoryGrantStore, MemorySessions};
use grantor::token::{KeySet, SigningAlgorithm, SigningKey};
use grantor::{
    AuthorizationServer, Client, ClientAuthMethod, ClientSecret, EndUser, GrantType, HttpResponse,
    ManualClock, Policy, RedirectUri, ScopeSet,
};
use sha2::Digest as _;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// The issuer.
pub const ISS: &str = "https://as.example";
/// Where browsers without a session are sent.
pub const LOGIN: &str = "https://as.example/login";
/// The resume endpoint (the consent form's action).
pub const RESUME: &str = "https://as.example/authorize/resume";
/// The fixed time of every run.
pub const T0: u64 = 1_700_000_000;
const ALICE: &str = "alice-sub";
const BOB: &str = "bob-sub";
/// The server's parameter limits (the defaults).
pub const MAX_PARAMS: usize = 64;
/// The longest parameter the server accepts (the default).
pub const MAX_PARAM_BYTES: usize = 4096;

/// A registered client, as the oracles see it.
#[derive(Debug)]
pub struct ClientSpec {
    /// The client id.
    pub id: &'static str,
    /// Its secret, for confidential clients.
    pub secret: Option<&'static str>,
    /// How it authenticates at the token endpoint.
    pub method: ClientAuthMethod,
    /// Its registered redirect URIs.
    pub redirects: &'static [&'static str],
    /// Its grant types.
    pub grants: &'static [GrantType],
    /// Its scopes.
    pub scopes: &'static str,
    /// Whether it must use PKCE.
    pub pkce: bool,
}

const ALL: &[GrantType] = &[
    GrantType::AuthorizationCode,
    GrantType::RefreshToken,
    GrantType::ClientCredentials,
];
const CODE_REFRESH: &[GrantType] = &[GrantType::AuthorizationCode, GrantType::RefreshToken];

/// Every client of the fuzzing server.
pub const CLIENTS: &[ClientSpec] = &[
    ClientSpec {
        id: "conf-client",
        secret: Some("s3cr3t"),
        method: ClientAuthMethod::ClientSecretBasic,
        redirects: &[
            "https://client.example.com/cb",
            "https://client.example.com/cb2",
            "https://client.example.com/cb?tenant=a",
        ],
        grants: ALL,
        scopes: "openid profile offline_access read write",
        pkce: true,
    },
    ClientSpec {
        id: "nopkce-client",
        secret: Some("n0pkce"),
        method: ClientAuthMethod::ClientSecretBasic,
        redirects: &["https://client.example.com/cb"],
        grants: CODE_REFRESH,
        scopes: "openid read write",
        pkce: false,
    },
    ClientSpec {
        id: "post-client",
        secret: Some("p0st s3cr3t&:%+="),
        method: ClientAuthMethod::ClientSecretPost,
        redirects: &["https://post.example.com/cb"],
        grants: ALL,
        scopes: "openid read",
        pkce: true,
    },
    ClientSpec {
        id: "pub-client",
        secret: None,
        method: ClientAuthMethod::None,
        redirects: &[
            "https://app.example.com/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
            "http://localhost/cb",
            "com.example.app:/oauth2redirect",
        ],
        grants: CODE_REFRESH,
        scopes: "openid profile offline_access read",
        pkce: true,
    },
    ClientSpec {
        id: "an:identifier",
        secret: Some("some secure & non-standard secret"),
        method: ClientAuthMethod::ClientSecretBasic,
        redirects: &[],
        grants: &[GrantType::ClientCredentials],
        scopes: "read",
        pkce: true,
    },
    ClientSpec {
        id: "nocode-client",
        secret: Some("n0c0de"),
        method: ClientAuthMethod::ClientSecretBasic,
        redirects: &["https://nocode.example.com/cb"],
        grants: &[GrantType::ClientCredentials],
        scopes: "read",
        pkce: true,
    },
];

/// The client named `id`, if any.
pub fn client_spec(id: &str) -> Option<&'static ClientSpec> {
    CLIENTS.iter().find(|c| c.id == id)
}

/// Redirect URIs the fuzzer can pick from: every registered one plus near misses.
const REDIRECTS: &[&str] = &[
    "https://client.example.com/cb",
    "https://client.example.com/cb2",
    "https://client.example.com/cb?tenant=a",
    "https://post.example.com/cb",
    "https://app.example.com/cb",
    "http://127.0.0.1/cb",
    "http://127.0.0.1:51004/cb",
    "http://[::1]:8080/cb",
    "http://[::1]/cb",
    "http://localhost/cb",
    "http://localhost:8080/cb",
    "com.example.app:/oauth2redirect",
    "https://nocode.example.com/cb",
    "https://attacker.example/cb",
    "https://client.example.com/cb/",
    "https://client.example.com.attacker.example/cb",
    "https://client.example.com/cb?tenant=b",
    "https://client.example.com/cb#frag",
    "http://127.0.0.2/cb",
];

const SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "offline_access",
    "read",
    "write",
    "admin",
    "unknown",
    "\"",
];

/// A PKCE verifier and its S256 challenge.
fn pkce_pair(i: usize) -> (String, String) {
    let verifier = format!("verifier-{i}-{}", "x".repeat(43));
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn keys() -> KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| {
        KeySet::new(SigningKey::generate(SigningAlgorithm::ES256, "es-1").expect("key"))
    })
    .clone()
}

/// Runs a future that never waits (everything here is in memory) to completion.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    for _ in 0..1_000_000 {
        if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("a future never completed");
}

/// A fresh server with its users: alice (signed in, has consented to everything) and bob
/// (signed in long ago, has consented to nothing).
pub struct Fixture {
    /// The server.
    pub server: AuthorizationServer,
    /// alice's `Cookie` header value.
    pub alice_cookie: String,
    /// bob's `Cookie` header value.
    pub bob_cookie: String,
    /// Whether loopback redirect URIs match with any port.
    pub any_port: bool,
}

impl Fixture {
    /// Builds the server.
    pub fn new(any_port: bool) -> Self {
        let clients = MemoryClientStore::new();
        for c in CLIENTS {
            let mut b = Client::builder(c.id)
                .auth_method(c.method)
                .grant_types(c.grants.iter().copied())
                .scopes(c.scopes)
                .require_pkce(c.pkce);
            if let Some(s) = c.secret {
                b = b.secret(ClientSecret::new(s));
            }
            for r in c.redirects {
                b = b.redirect_uri(*r);
            }
            clients.insert(b.build().expect("fixture client"));
        }
        let sessions = MemorySessions::new(LOGIN);
        let consent = MemoryConsent::new();
        let mut policy = Policy::default();
        policy.loopback_redirect_any_port = any_port;
        let server = AuthorizationServer::builder()
            .issuer(ISS)
            .clients(clients)
            .grants(MemoryGrantStore::new())
            .authenticator(sessions.clone())
            .consent(consent.clone())
            .clock(ManualClock::new(T0))
            .signing_keys(keys())
            .scopes(["read", "write", "admin"])
            .policy(policy)
            .build()
            .expect("fixture server");
        let alice = sessions.sign_in(EndUser::new(ALICE, T0 - 10));
        let bob = sessions.sign_in(EndUser::new(BOB, T0 - 100_000));
        let everything = ScopeSet::parse("openid profile offline_access read write").unwrap();
        for c in CLIENTS {
            consent.grant(ALICE, c.id, &everything);
        }
        let cookie =
            |id: &grantor::SessionId| format!("{}={}", sessions.cookie_name(), id.expose());
        Fixture {
            alice_cookie: cookie(&alice),
            bob_cookie: cookie(&bob),
            server,
            any_port,
        }
    }

    /// Runs alice's authorization request `query` and returns the code it redirects with.
    fn code(&self, query: &str) -> String {
        let req = Request::get(format!("/authorize?{query}"))
            .header(header::COOKIE, &self.alice_cookie)
            .body(Vec::new())
            .unwrap();
        let r = block_on(self.server.authorize(req));
        let loc = single_location(&r).expect("fixture authorize: no Location");
        let (_, q) = loc.split_once('?').expect("fixture authorize: no query");
        let pairs = ref_parse(q.as_bytes(), usize::MAX, usize::MAX).unwrap();
        pairs
            .into_iter()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("fixture authorize failed: {loc}"))
    }
}

// ---------------------------------------------------------------------------------------------
// Reference implementations (written independently of grantor's)
// ---------------------------------------------------------------------------------------------

/// Decodes one form-urlencoded component strictly: `+` is a space, `%XY` a byte, any other
/// `%` is an error, and so is a result that is not UTF-8.
pub fn ref_decode(input: &[u8]) -> Option<String> {
    let mut out = Vec::new();
    let mut rest = input;
    while let Some((&b, tail)) = rest.split_first() {
        match b {
            b'+' => {
                out.push(b' ');
                rest = tail;
            }
            b'%' => {
                let hex = tail.get(..2)?;
                let s = std::str::from_utf8(hex).ok()?;
                if !s.bytes().all(|c| c.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(s, 16).ok()?);
                rest = &tail[2..];
            }
            _ => {
                out.push(b);
                rest = tail;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Parses a query or form body: `&`-separated pairs, empty pieces skipped, the name up to the
/// first `=`; `None` when anything is malformed or past a limit.
pub fn ref_parse(input: &[u8], max_params: usize, max_len: usize) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for piece in input.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        if out.len() == max_params {
            return None;
        }
        let (name, value) = match piece.iter().position(|b| *b == b'=') {
            Some(i) => (&piece[..i], &piece[i + 1..]),
            None => (piece, &[][..]),
        };
        if name.len() > max_len || value.len() > max_len {
            return None;
        }
        out.push((ref_decode(name)?, ref_decode(value)?));
    }
    Some(out)
}

/// What a parameter is, read the way RFC 6749 §3.1 says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefValue<'a> {
    /// Not there, or empty.
    Absent,
    /// Given once, not empty.
    One(&'a str),
    /// Given more than once.
    Repeated,
}

/// Looks `name` up in parsed pairs.
pub fn ref_get<'a>(pairs: &'a [(String, String)], name: &str) -> RefValue<'a> {
    let mut it = pairs.iter().filter(|(k, _)| k == name);
    match (it.next(), it.next()) {
        (None, _) => RefValue::Absent,
        (Some(_), Some(_)) => RefValue::Repeated,
        (Some((_, v)), None) if v.is_empty() => RefValue::Absent,
        (Some((_, v)), None) => RefValue::One(v),
    }
}

/// Form-urlencodes a value (unreserved characters kept, everything else `%XY`).
pub fn ref_encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// For an `http` URI on a loopback IP literal, the URI without its port (RFC 8252 §7.3);
/// `None` for anything else, including `localhost` and a malformed port.
pub fn loopback_without_port(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("http://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']')?;
        authority.split_at(close + 1)
    } else {
        match authority.find(':') {
            Some(i) => authority.split_at(i),
            None => (authority, ""),
        }
    };
    let loopback = host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return None;
    }
    if !port.is_empty() {
        let digits = port.strip_prefix(':')?;
        if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    Some(format!("http://{host}{path}"))
}

/// Whether `requested` designates `registered`: the same string, or, with `any_port`, the same
/// loopback IP URI but for the port.
pub fn ref_matches(registered: &str, requested: &str, any_port: bool) -> bool {
    if registered == requested {
        return true;
    }
    any_port
        && match (
            loopback_without_port(registered),
            loopback_without_port(requested),
        ) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
}

/// The registered redirect URI of `client` that `requested` designates, if any.
pub fn registered_redirect(client: &ClientSpec, requested: &str, any_port: bool) -> bool {
    client
        .redirects
        .iter()
        .any(|r| ref_matches(r, requested, any_port))
}

/// Whether `location` is `base` with authorization response parameters added the way
/// RFC 6749 §3.1.2 allows: to the query (keeping the registered query) or the fragment.
pub fn is_response_to(location: &str, base: &str) -> bool {
    let Some(rest) = location.strip_prefix(base) else {
        return false;
    };
    if rest.is_empty() || rest.starts_with('#') {
        return true;
    }
    if base.contains('?') {
        rest.starts_with('&') || base.ends_with('?') || base.ends_with('&')
    } else {
        rest.starts_with('?')
    }
}

/// The only `Location` of a response; panics when there are several.
pub fn single_location(r: &HttpResponse) -> Option<String> {
    let mut all = r.headers().get_all(header::LOCATION).iter();
    let first = all.next()?;
    assert!(all.next().is_none(), "more than one Location header");
    Some(
        first
            .to_str()
            .expect("Location is not visible ASCII")
            .to_owned(),
    )
}

/// Undoes grantor's HTML escaping.
fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The `action` of every `<form>` in an HTML body.
fn form_actions(body: &str) -> Vec<String> {
    body.match_indices("<form")
        .filter_map(|(i, _)| {
            let tag = &body[i..];
            let tag = &tag[..tag.find('>')?];
            let start = tag.find("action=\"")? + 8;
            let len = tag[start..].find('"')?;
            Some(html_unescape(&tag[start..start + len]))
        })
        .collect()
}

/// The value of the hidden input `name` in an HTML body.
fn hidden_input(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    let len = body[start..].find('"')?;
    Some(html_unescape(&body[start..start + len]))
}

// ---------------------------------------------------------------------------------------------
// Target `params`: the query and form parser
// ---------------------------------------------------------------------------------------------

/// The parser agrees with the reference, round-trips what it accepts through the encoder, and
/// reads parameters as RFC 6749 §3.1 says (empty is absent, repeated is an error).
pub fn check_params(data: &[u8]) {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    let (max_params, max_len) = if mode & 1 == 0 {
        (MAX_PARAMS, MAX_PARAM_BYTES)
    } else {
        (usize::from(mode >> 5) + 1, usize::from(mode >> 1 & 15) + 1)
    };
    let parsed = grantor::__fuzz::parse_params(input, max_params, max_len);
    let reference = ref_parse(input, max_params, max_len);
    let parsed = match (parsed, reference) {
        (Err(e), None) => {
            assert_eq!(e.code().as_str(), "invalid_request");
            return;
        }
        (Ok(p), Some(r)) => {
            let pairs: Vec<(String, String)> = p
                .pairs()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            assert_eq!(pairs, r, "parser and reference disagree");
            p
        }
        (p, r) => panic!("parser {p:?} but reference {r:?} for {input:?}"),
    };
    let pairs = parsed.pairs();
    assert!(pairs.len() <= max_params);
    for (name, _) in &pairs {
        let expected = ref_get_borrowed(&pairs, name);
        assert_eq!(parsed.get(name).ok(), expected, "get({name:?})");
    }
    if !pairs.iter().any(|(k, _)| *k == "absent") {
        assert_eq!(parsed.get("absent").ok(), Some(None));
    }
    // Re-encoding what was accepted parses back to the same pairs.
    let encoded = pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                grantor::__fuzz::form_encode(k),
                grantor::__fuzz::form_encode(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let again = grantor::__fuzz::parse_params(encoded.as_bytes(), usize::MAX, usize::MAX)
        .expect("re-encoded parameters do not parse");
    assert_eq!(again.pairs(), pairs, "round trip through form_encode");
    // The encoder's output is plain ASCII from RFC 6749 Appendix B's alphabet.
    let text = String::from_utf8_lossy(input);
    let enc = grantor::__fuzz::form_encode(&text);
    assert!(enc
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~*+%".contains(&b)));
    assert_eq!(ref_decode(enc.as_bytes()).as_deref(), Some(&*text));
}

fn ref_get_borrowed<'a>(pairs: &[(&'a str, &'a str)], name: &str) -> Option<Option<&'a str>> {
    let mut it = pairs.iter().filter(|(k, _)| *k == name);
    match (it.next(), it.next()) {
        (None, _) => Some(None),
        (Some(_), Some(_)) => None,
        (Some((_, v)), None) => Some((!v.is_empty()).then_some(*v)),
    }
}

// ---------------------------------------------------------------------------------------------
// Target `basic_header`: HTTP Basic client credentials (RFC 6749 §2.3.1)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Arbitrary)]
enum BasicInput {
    /// Any header value.
    Raw(Vec<u8>),
    /// A well-formed header for `id` and `secret`, encoded as RFC 6749 §2.3.1 says.
    Encoded {
        id: String,
        secret: String,
        scheme: u8,
        spaces: u8,
    },
    /// A header whose base64 payload is arbitrary bytes.
    Payload { payload: Vec<u8>, scheme: u8 },
}

fn scheme_name(s: u8) -> &'static str {
    [
        "Basic ", "basic ", "BASIC ", "bAsIc ", "Basic", "Bearer ", "Basic  ", "",
    ][usize::from(s % 8)]
}

/// Reads a header value the way RFC 6749 §2.3.1 and RFC 7617 say: scheme `Basic`
/// (case-insensitive), base64 of `id:secret`, each form-urlencoded.
fn ref_basic(value: &[u8]) -> Option<(String, String)> {
    if value.len() < 6 || !value[..6].eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let decoded = STANDARD.decode(value[6..].trim_ascii()).ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    let id = ref_decode(&decoded[..colon])?;
    let secret = ref_decode(&decoded[colon + 1..])?;
    (!id.is_empty()).then_some((id, secret))
}

/// The Basic header parser agrees with the reference and recovers what was encoded.
pub fn check_basic_header(data: &[u8]) {
    let Ok(input) = BasicInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let (value, expected) = match input {
        BasicInput::Raw(bytes) => (bytes, None),
        BasicInput::Encoded {
            id,
            secret,
            scheme,
            spaces,
        } => {
            let payload = format!(
                "{}:{}",
                grantor::__fuzz::form_encode(&id),
                grantor::__fuzz::form_encode(&secret)
            );
            let pad = " ".repeat(usize::from(spaces % 3));
            let value = format!(
                "{}{pad}{}{pad}",
                scheme_name(scheme),
                STANDARD.encode(payload)
            );
            let expect = scheme % 8 < 4 && !id.is_empty();
            (value.into_bytes(), expect.then_some((id, secret)))
        }
        BasicInput::Payload { payload, scheme } => {
            let value = format!("{}{}", scheme_name(scheme), STANDARD.encode(payload));
            (value.into_bytes(), None)
        }
    };
    let Ok(header) = HeaderValue::from_bytes(&value) else {
        return;
    };
    let parsed = grantor::__fuzz::basic_credentials(&header);
    let reference = ref_basic(&value);
    match (&parsed, &reference) {
        (Ok(p), Some(r)) => assert_eq!(p, r),
        (Err(e), None) => assert!(
            matches!(e.code().as_str(), "invalid_request" | "invalid_client"),
            "{e:?}"
        ),
        _ => panic!("parser {parsed:?} but reference {reference:?} for {value:?}"),
    }
    if let Some(expected) = expected {
        assert_eq!(
            parsed.ok(),
            Some(expected),
            "an encoded pair was not recovered"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Target `redirect_match`: redirect URI registration and matching
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Arbitrary)]
enum UriChoice {
    Raw(String),
    Known(u8),
    Edited(u8, Vec<Edit>),
}

#[derive(Debug, Arbitrary)]
enum Edit {
    Insert(u8, char),
    Remove(u8),
    Replace(u8, char),
    Port(u32),
    Append(String),
    Prepend(String),
}

impl UriChoice {
    fn build(self, other: Option<&str>) -> String {
        match self {
            UriChoice::Raw(s) => s,
            UriChoice::Known(i) => REDIRECTS[usize::from(i) % REDIRECTS.len()].to_owned(),
            UriChoice::Edited(i, edits) => {
                let mut s = match other {
                    Some(o) if i.is_multiple_of(2) => o.to_owned(),
                    _ => REDIRECTS[usize::from(i) % REDIRECTS.len()].to_owned(),
                };
                for e in edits.into_iter().take(8) {
                    edit(&mut s, e);
                }
                s
            }
        }
    }
}

fn edit(s: &mut String, e: Edit) {
    let at = |s: &String, i: u8| {
        let n = s.chars().count() + 1;
        s.char_indices()
            .map(|(i, _)| i)
            .chain([s.len()])
            .nth(usize::from(i) % n)
            .unwrap_or(0)
    };
    match e {
        Edit::Insert(i, c) => {
            let p = at(s, i);
            s.insert(p, c);
        }
        Edit::Remove(i) => {
            let p = at(s, i);
            if p < s.len() {
                s.remove(p);
            }
        }
        Edit::Replace(i, c) => {
            let p = at(s, i);
            if p < s.len() {
                s.remove(p);
            }
            s.insert(p, c);
        }
        Edit::Port(port) => {
            // After the authority's host, if there is one.
            if let Some(start) = s.find("//").map(|i| i + 2) {
                let end = s[start..].find(['/', '?']).map_or(s.len(), |i| start + i);
                let host_end = if s[start..].starts_with('[') {
                    s[start..end].find(']').map_or(end, |i| start + i + 1)
                } else {
                    s[start..end].find(':').map_or(end, |i| start + i)
                };
                let port = if port.is_multiple_of(7) {
                    String::new()
                } else {
                    format!(":{}", port % 200_000)
                };
                s.replace_range(host_end..end, &port);
            }
        }
        Edit::Append(t) => s.push_str(&t),
        Edit::Prepend(t) => s.insert_str(0, &t),
    }
}

#[derive(Debug, Arbitrary)]
struct RedirectInput {
    registered: UriChoice,
    requested: UriChoice,
    any_port: bool,
    fragment: bool,
    params: Vec<(u8, String)>,
}

/// Registration keeps only URIs RFC 6749 §3.1.2, RFC 8252 §7 and RFC 9700 §2.1 allow; matching
/// is exact string equality but for the port of a loopback IP URI; the response URI is the
/// registered one with parameters added.
pub fn check_redirect_match(data: &[u8]) {
    let Ok(input) = RedirectInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let registered = input.registered.build(None);
    let requested = input.requested.build(Some(&registered));
    let Ok(uri) = RedirectUri::parse(&registered) else {
        return;
    };
    assert_eq!(uri.as_str(), registered);
    assert!(
        registered.bytes().all(|b| (0x21..=0x7e).contains(&b)),
        "accepted a URI with whitespace, control or non-ASCII characters: {registered:?}"
    );
    assert!(!registered.contains('#'), "accepted a fragment");
    let (scheme, rest) = registered.split_once(':').expect("accepted a relative URI");
    match scheme {
        "https" | "http" => {
            let rest = rest.strip_prefix("//").expect("no authority");
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            let authority = &rest[..end];
            assert!(
                !authority.is_empty() && !authority.contains(['@', '*']),
                "{registered}"
            );
            if scheme == "http" {
                assert!(
                    loopback_without_port(&registered).is_some()
                        || authority == "localhost"
                        || authority.starts_with("localhost:"),
                    "accepted http on a host that is not loopback, or a malformed port: {registered}"
                );
            }
        }
        _ => {
            assert!(scheme.contains('.'), "{registered}");
            let lower = scheme.to_ascii_lowercase();
            assert!(!["javascript", "data", "vbscript", "file"].contains(&lower.as_str()));
        }
    }
    for any_port in [false, true] {
        assert!(uri.matches(&registered, any_port), "not reflexive");
    }
    let got = uri.matches(&requested, input.any_port);
    let want = ref_matches(&registered, &requested, input.any_port);
    assert_eq!(
        got, want,
        "matches({registered:?}, {requested:?}, any_port={})",
        input.any_port
    );
    // The authorization response goes to the URI itself, parameters added after it.
    const NAMES: [&str; 5] = ["code", "state", "iss", "error", "error_description"];
    let params: Vec<(&str, &str)> = input
        .params
        .iter()
        .take(5)
        .map(|(n, v)| (NAMES[usize::from(*n) % 5], v.as_str()))
        .collect();
    let out = grantor::__fuzz::redirect_with_params(&requested, input.fragment, &params);
    if !got {
        return;
    }
    assert!(
        is_response_to(&out, &requested),
        "{out:?} is not a response to {requested:?}"
    );
    let added = &out[requested.len()..];
    let added = added.strip_prefix(['?', '#', '&']).unwrap_or(added);
    let pairs = ref_parse(added.as_bytes(), usize::MAX, usize::MAX).expect("unparsable response");
    let expected: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(
        pairs, expected,
        "response parameters did not survive: {out}"
    );
}

// ---------------------------------------------------------------------------------------------
// Shared request pieces for `authorize` and `token`
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Arbitrary, Clone, Copy)]
pub enum MethodChoice {
    Get,
    Post,
    Head,
    Put,
    Options,
    Weird,
}

impl MethodChoice {
    fn method(self) -> Method {
        match self {
            MethodChoice::Get => Method::GET,
            MethodChoice::Post => Method::POST,
            MethodChoice::Head => Method::HEAD,
            MethodChoice::Put => Method::PUT,
            MethodChoice::Options => Method::OPTIONS,
            MethodChoice::Weird => Method::from_bytes(b"GET2").unwrap(),
        }
    }
}

#[derive(Debug, Arbitrary, Clone)]
pub enum ContentType {
    Form,
    FormCharset,
    FormUpper,
    Json,
    None,
    Raw(String),
}

impl ContentType {
    fn value(&self) -> Option<String> {
        Some(match self {
            ContentType::Form => "application/x-www-form-urlencoded".into(),
            ContentType::FormCharset => "application/x-www-form-urlencoded; charset=UTF-8".into(),
            ContentType::FormUpper => " APPLICATION/X-WWW-FORM-URLENCODED ".into(),
            ContentType::Json => "application/json".into(),
            ContentType::None => return None,
            ContentType::Raw(s) => s.clone(),
        })
    }
}

/// How a value is written into a query or body.
#[derive(Debug, Arbitrary, Clone, Copy)]
pub enum Encoding {
    /// Percent-encoded: the parser gets the value back.
    Proper,
    /// As is.
    Raw,
    /// Encoded twice.
    Double,
    /// Encoded, spaces as `+`.
    Plus,
}

fn encode_as(value: &str, e: Encoding) -> String {
    match e {
        Encoding::Proper => ref_encode(value),
        Encoding::Raw => value.to_owned(),
        Encoding::Double => ref_encode(&ref_encode(value)),
        Encoding::Plus => grantor::__fuzz::form_encode(value),
    }
}

/// Small edits that turn a valid value into a near miss.
#[derive(Debug, Arbitrary, Clone)]
pub enum Mutation {
    AppendChar(char),
    DropLast,
    Upper,
    Prefix(String),
    Suffix(String),
    FlipChar(u8),
    Port(u16),
    Empty,
}

fn mutate(value: &mut String, m: &Mutation) {
    match m {
        Mutation::AppendChar(c) => value.push(*c),
        Mutation::DropLast => {
            value.pop();
        }
        Mutation::Upper => *value = value.to_ascii_uppercase(),
        Mutation::Prefix(p) => value.insert_str(0, p),
        Mutation::Suffix(s) => value.push_str(s),
        Mutation::FlipChar(i) => {
            if !value.is_empty() {
                let idx = usize::from(*i) % value.len();
                if value.is_char_boundary(idx) && value.is_char_boundary(idx + 1) {
                    let c = value.as_bytes()[idx] ^ 1;
                    if c.is_ascii() {
                        value.replace_range(idx..idx + 1, &(c as char).to_string());
                    }
                }
            }
        }
        Mutation::Port(p) => {
            if let Some(i) = value.find("/cb") {
                value.insert_str(i, &format!(":{p}"));
            }
        }
        Mutation::Empty => value.clear(),
    }
}

#[derive(Debug, Arbitrary, Clone)]
pub enum CookieChoice {
    None,
    Alice,
    Bob,
    Garbage(String),
    AliceAndBob,
    AliceTwoHeaders,
}

fn add_cookie(
    mut b: http::request::Builder,
    c: &CookieChoice,
    f: &Fixture,
) -> http::request::Builder {
    match c {
        CookieChoice::None => {}
        CookieChoice::Alice => b = b.header(header::COOKIE, &f.alice_cookie),
        CookieChoice::Bob => b = b.header(header::COOKIE, &f.bob_cookie),
        CookieChoice::Garbage(s) => {
            if let Ok(v) = HeaderValue::from_str(s) {
                b = b.header(header::COOKIE, v);
            }
        }
        CookieChoice::AliceAndBob => {
            b = b.header(
                header::COOKIE,
                format!("{}; {}", f.bob_cookie, f.alice_cookie),
            )
        }
        CookieChoice::AliceTwoHeaders => {
            b = b
                .header(header::COOKIE, "other=1")
                .header(header::COOKIE, &f.alice_cookie)
        }
    }
    b
}

#[derive(Debug, Arbitrary, Clone)]
pub enum HeaderChoice {
    Origin(String),
    OriginIssuer,
    Referer(String),
    Host(String),
    ContentLength(String),
    Authorization(String),
    Other(String, String),
}

fn add_header(b: http::request::Builder, h: &HeaderChoice) -> http::request::Builder {
    let (name, value): (http::HeaderName, &str) = match h {
        HeaderChoice::Origin(v) => (header::ORIGIN, v),
        HeaderChoice::OriginIssuer => (header::ORIGIN, ISS),
        HeaderChoice::Referer(v) => (header::REFERER, v),
        HeaderChoice::Host(v) => (header::HOST, v),
        HeaderChoice::ContentLength(v) => (header::CONTENT_LENGTH, v),
        HeaderChoice::Authorization(v) => (header::AUTHORIZATION, v),
        HeaderChoice::Other(n, v) => match http::HeaderName::from_bytes(n.as_bytes()) {
            Ok(n) => (n, v),
            Err(_) => return b,
        },
    };
    match HeaderValue::from_str(value) {
        Ok(v) => b.header(name, v),
        Err(_) => b,
    }
}

/// Joins `name=value` pieces and an optional raw tail into a query or body.
fn join_pairs(pairs: &[(String, String)], tail: Option<&[u8]>) -> Vec<u8> {
    let mut out = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes();
    if let Some(t) = tail {
        out.push(b'&');
        out.extend_from_slice(t);
    }
    out
}

/// A URI `path?query` that `http` accepts: bytes it would refuse are percent-encoded.
fn uri_with_query(path: &str, query: &[u8]) -> http::Uri {
    let direct = format!("{path}?{}", String::from_utf8_lossy(query));
    if let Ok(u) = direct.parse::<http::Uri>() {
        if std::str::from_utf8(query).is_ok() {
            return u;
        }
    }
    let mut s = format!("{path}?");
    for &b in query {
        if (0x21..=0x7e).contains(&b) && !b"#\"<>\\^`{|}".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s.parse()
        .unwrap_or_else(|_| http::Uri::from_static(path_static(path)))
}

fn path_static(path: &str) -> &'static str {
    if path == "/token" {
        "/token"
    } else {
        "/authorize"
    }
}

fn assert_not_5xx(r: &HttpResponse, what: &str) {
    assert!(
        !r.status().is_server_error(),
        "{what}: {} {:?}",
        r.status(),
        String::from_utf8_lossy(r.body())
    );
}

// ---------------------------------------------------------------------------------------------
// Target `authorize`: whole authorization requests, then the resume endpoint
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Arbitrary, Clone, Copy)]
pub enum AuthzName {
    ResponseType,
    ClientId,
    RedirectUri,
    Scope,
    State,
    Nonce,
    CodeChallenge,
    CodeChallengeMethod,
    ResponseMode,
    Prompt,
    MaxAge,
    IdTokenHint,
    Request,
    RequestUri,
    LoginHint,
    Interaction,
    Consent,
    CsrfToken,
}

impl AuthzName {
    fn as_str(self) -> &'static str {
        match self {
            AuthzName::ResponseType => "response_type",
            AuthzName::ClientId => "client_id",
            AuthzName::RedirectUri => "redirect_uri",
            AuthzName::Scope => "scope",
            AuthzName::State => "state",
            AuthzName::Nonce => "nonce",
            AuthzName::CodeChallenge => "code_challenge",
            AuthzName::CodeChallengeMethod => "code_challenge_method",
            AuthzName::ResponseMode => "response_mode",
            AuthzName::Prompt => "prompt",
            AuthzName::MaxAge => "max_age",
            AuthzName::IdTokenHint => "id_token_hint",
            AuthzName::Request => "request",
            AuthzName::RequestUri => "request_uri",
            AuthzName::LoginHint => "login_hint",
            AuthzName::Interaction => "interaction",
            AuthzName::Consent => "consent",
            AuthzName::CsrfToken => "csrf_token",
        }
    }
}

#[derive(Debug, Arbitrary, Clone)]
pub enum AuthzValue {
    Client(u8),
    Redirect(u8),
    Challenge(u8),
    ChallengeMethod(u8),
    Scope(Vec<u8>),
    ResponseType(u8),
    ResponseMode(u8),
    Prompt(Vec<u8>),
    Number(u64),
    IdTokenHint(u8),
    Interaction,
    Csrf,
    Decision(u8),
    Raw(String),
}

impl AuthzValue {
    fn render(&self, state: &AuthzState) -> String {
        match self {
            AuthzValue::Client(i) => {
                let ids = ["conf-client", "pub-client", "post-client", "nopkce-client"];
                match usize::from(*i) % 7 {
                    n @ 0..=3 => ids[n].to_owned(),
                    4 => CLIENTS[usize::from(*i / 7) % CLIENTS.len()].id.to_owned(),
                    5 => "unknown-client".to_owned(),
                    _ => "conf-client ".to_owned(),
                }
            }
            AuthzValue::Redirect(i) => REDIRECTS[usize::from(*i) % REDIRECTS.len()].to_owned(),
            AuthzValue::Challenge(i) => match i % 4 {
                0 | 1 => pkce_pair(0).1,
                2 => pkce_pair(0).0,
                _ => "short".to_owned(),
            },
            AuthzValue::ChallengeMethod(i) => {
                ["S256", "plain", "s256", "S512"][usize::from(i % 4)].into()
            }
            AuthzValue::Scope(tokens) => tokens
                .iter()
                .take(6)
                .map(|t| SCOPES[usize::from(*t) % SCOPES.len()])
                .collect::<Vec<_>>()
                .join(" "),
            AuthzValue::ResponseType(i) => {
                ["code", "token", "code id_token", "Code", "none"][usize::from(i % 5)].into()
            }
            AuthzValue::ResponseMode(i) => {
                ["query", "fragment", "form_post", "jwt", "Query"][usize::from(i % 5)].into()
            }
            AuthzValue::Prompt(p) => p
                .iter()
                .take(3)
                .map(|t| {
                    ["none", "login", "consent", "select_account", "other"][usize::from(t % 5)]
                })
                .collect::<Vec<_>>()
                .join(" "),
            AuthzValue::Number(n) => n.to_string(),
            AuthzValue::IdTokenHint(i) => match i % 3 {
                0 => id_token_hint().to_owned(),
                1 => {
                    let mut h = id_token_hint().to_owned();
                    h.pop();
                    h
                }
                _ => "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZS1zdWIifQ.".to_owned(),
            },
            AuthzValue::Interaction => state.interaction.clone().unwrap_or_default(),
            AuthzValue::Csrf => state.csrf.clone().unwrap_or_default(),
            AuthzValue::Decision(i) => {
                ["allow", "deny", "Allow", "maybe"][usize::from(i % 4)].into()
            }
            AuthzValue::Raw(s) => s.clone(),
        }
    }
}

/// A real ID token for alice, issued to conf-client by the fuzzing issuer and keys.
fn id_token_hint() -> &'static str {
    static HINT: OnceLock<String> = OnceLock::new();
    HINT.get_or_init(|| {
        let f = Fixture::new(true);
        let (verifier, challenge) = pkce_pair(0);
        let code = f.code(&format!(
            "response_type=code&client_id=conf-client&redirect_uri={}&scope=openid&code_challenge={challenge}&code_challenge_method=S256",
            ref_encode(CLIENTS[0].redirects[0])
        ));
        let body = format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={verifier}",
            ref_encode(&code),
            ref_encode(CLIENTS[0].redirects[0])
        );
        let r = block_on(f.server.token(
            Request::post("/token")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::AUTHORIZATION, basic("conf-client", "s3cr3t"))
                .body(body.into_bytes())
                .unwrap(),
        ));
        let j: serde_json::Value = serde_json::from_slice(r.body()).expect("token JSON");
        j["id_token"].as_str().expect("no id_token").to_owned()
    })
}

/// `Basic` credentials for `id` and `secret`, encoded as RFC 6749 §2.3.1 says.
pub fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", ref_encode(id), ref_encode(secret)))
    )
}

#[derive(Debug, Arbitrary, Clone)]
pub struct AuthzParam {
    pub name: AuthzName,
    pub value: AuthzValue,
    pub mutation: Option<Mutation>,
    pub encoding: Encoding,
}

#[derive(Debug, Arbitrary, Clone)]
pub struct AuthzRequest {
    pub resume: bool,
    pub method: MethodChoice,
    /// Start from a valid request for this client/redirect index, then apply `params`.
    pub base: Option<u8>,
    pub params: Vec<AuthzParam>,
    pub tail: Option<Vec<u8>>,
    pub query_on_post: Option<String>,
    pub content_type: ContentType,
    pub cookie: CookieChoice,
    pub headers: Vec<HeaderChoice>,
}

/// What one fuzz run has seen so far.
#[derive(Default)]
struct AuthzState {
    interaction: Option<String>,
    csrf: Option<String>,
    /// Redirect URIs of authorization requests that were valid up to the redirect URI.
    trusted: Vec<String>,
}

const VALID_BASES: &[(&str, &str, &str)] = &[
    (
        "conf-client",
        "https://client.example.com/cb",
        "openid read",
    ),
    (
        "conf-client",
        "https://client.example.com/cb?tenant=a",
        "read",
    ),
    ("pub-client", "http://127.0.0.1:51004/cb", "openid read"),
    ("pub-client", "com.example.app:/oauth2redirect", "read"),
    ("post-client", "https://post.example.com/cb", "openid read"),
    (
        "nopkce-client",
        "https://client.example.com/cb",
        "read write",
    ),
];

fn base_pairs(i: u8) -> Vec<(String, String)> {
    let (client, redirect, scope) = VALID_BASES[usize::from(i) % VALID_BASES.len()];
    let mut pairs = vec![
        ("response_type", "code".to_owned()),
        ("client_id", client.to_owned()),
        ("redirect_uri", redirect.to_owned()),
        ("scope", scope.to_owned()),
        ("state", "st-1".to_owned()),
        ("nonce", "n-1".to_owned()),
    ];
    if i & 8 == 0 {
        pairs.push(("code_challenge", pkce_pair(0).1));
        pairs.push(("code_challenge_method", "S256".to_owned()));
    }
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

#[derive(Debug, Arbitrary)]
struct AuthzInput {
    any_port: bool,
    steps: Vec<AuthzRequest>,
}

/// Whole `authorize` and `resume` calls never panic and never answer 5xx (the in-memory store
/// never fails); a `Location` is only ever a redirect URI registered for the requesting
/// client (with the response parameters after it) or the login page of a request that
/// passed those checks; an unknown client or unregistered redirect URI never yields one.
pub fn check_authorize(data: &[u8]) {
    let Ok(input) = AuthzInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    check_authorize_steps(input.any_port, &input.steps);
}

/// [`check_authorize`] on already structured requests (the first four of `steps`).
pub fn check_authorize_steps(any_port: bool, steps: &[AuthzRequest]) {
    let f = Fixture::new(any_port);
    let mut state = AuthzState::default();
    for step in steps.iter().take(4) {
        authorize_step(&f, &mut state, step);
    }
}

fn authorize_step(f: &Fixture, state: &mut AuthzState, step: &AuthzRequest) {
    // Build the parameters: a valid base (properly encoded) and then the fuzzer's pieces.
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(b) = step.base {
        for (k, v) in base_pairs(b) {
            pairs.push((k, ref_encode(&v)));
        }
    }
    for p in step.params.iter().take(16) {
        set_param(
            &mut pairs,
            p.name.as_str(),
            p.value.render(state),
            &p.mutation,
            p.encoding,
        );
    }
    let payload = join_pairs(&pairs, step.tail.as_deref());
    let method = step.method.method();
    let path = if step.resume {
        "/authorize/resume"
    } else {
        "/authorize"
    };
    let is_post = method == Method::POST;
    let uri = if is_post {
        match &step.query_on_post {
            Some(q) => uri_with_query(path, q.as_bytes()),
            None => path.parse().unwrap(),
        }
    } else {
        uri_with_query(path, &payload)
    };
    let mut b = Request::builder().method(method.clone()).uri(uri);
    if let Some(ct) = step.content_type.value() {
        if let Ok(v) = HeaderValue::from_str(&ct) {
            b = b.header(header::CONTENT_TYPE, v);
        }
    }
    b = add_cookie(b, &step.cookie, f);
    for h in step.headers.iter().take(4) {
        b = add_header(b, h);
    }
    let body = if is_post { payload } else { Vec::new() };
    let Ok(req) = b.body(body) else {
        return;
    };
    // What the server will read: the query of a GET, the body of a POST.
    let input: Vec<u8> = if method == Method::GET {
        req.uri().query().unwrap_or("").as_bytes().to_vec()
    } else if is_post {
        req.body().clone()
    } else {
        Vec::new()
    };
    let readable = method == Method::GET || is_post;
    let parsed = if readable {
        ref_parse(&input, MAX_PARAMS, MAX_PARAM_BYTES)
    } else {
        None
    };
    let r = if step.resume {
        block_on(f.server.resume(req))
    } else {
        block_on(f.server.authorize(req))
    };
    assert_not_5xx(&r, if step.resume { "resume" } else { "authorize" });
    let body = String::from_utf8_lossy(r.body()).into_owned();
    // The oracle: the client and redirect URI this request can be trusted with.
    let trusted_redirect: Option<String> = if step.resume {
        None
    } else {
        parsed.as_ref().and_then(|pairs| {
            let RefValue::One(client_id) = ref_get(pairs, "client_id") else {
                return None;
            };
            let client = client_spec(client_id)?;
            let RefValue::One(redirect) = ref_get(pairs, "redirect_uri") else {
                return None;
            };
            registered_redirect(client, redirect, f.any_port).then(|| redirect.to_owned())
        })
    };
    if let Some(t) = &trusted_redirect {
        if !state.trusted.contains(t) {
            state.trusted.push(t.clone());
        }
    }
    if let Some(loc) = single_location(&r) {
        assert!(
            r.status().is_redirection(),
            "Location on a {} response",
            r.status()
        );
        assert!(
            r.status() != 307 && r.status() != 308,
            "307/308 would replay a POST to the client"
        );
        if let Some(id) = loc.strip_prefix(&format!("{LOGIN}?interaction=")) {
            // The login page: only for a request whose client and redirect URI check out.
            assert!(
                step.resume || trusted_redirect.is_some(),
                "login redirect for an untrusted request: {loc}"
            );
            state.interaction = Some(id.to_owned());
        } else {
            let to = if step.resume {
                // A resumed request goes where its (already checked) authorization request
                // said.
                state
                    .trusted
                    .iter()
                    .find(|t| is_response_to(&loc, t))
                    .cloned()
            } else {
                trusted_redirect.clone().filter(|t| is_response_to(&loc, t))
            };
            let Some(to) = to else {
                panic!(
                    "Location {loc:?} is not a registered redirect URI of the requesting client \
                     (trusted: {trusted_redirect:?}, earlier: {:?})",
                    state.trusted
                );
            };
            // The parameters after the URI: iss is ours, state is the request's.
            let added = &loc[to.len()..];
            let added = added.trim_start_matches(['?', '#', '&']);
            if let Some(params) = ref_parse(added.as_bytes(), usize::MAX, usize::MAX) {
                if let RefValue::One(iss) = ref_get(&params, "iss") {
                    assert_eq!(iss, ISS);
                }
                if !step.resume {
                    if let (RefValue::One(s), Some(req)) =
                        (ref_get(&params, "state"), parsed.as_ref())
                    {
                        assert_eq!(
                            ref_get(req, "state"),
                            RefValue::One(s),
                            "state echoed that was not the request's"
                        );
                    }
                }
            }
        }
    }
    // Pages: a form goes to the resume endpoint (consent) or, for form_post, to a trusted
    // redirect URI; error pages carry no link, form or script.
    for action in form_actions(&body) {
        let ok = action == RESUME
            || trusted_redirect.as_deref() == Some(action.as_str())
            || (step.resume && state.trusted.contains(&action));
        assert!(ok, "form posts to {action:?}");
    }
    if r.status().is_client_error() {
        for bad in ["<a ", "http-equiv", "<form", "<script"] {
            assert!(!body.contains(bad), "error page contains {bad}");
        }
    }
    if let Some(id) = hidden_input(&body, "interaction") {
        state.interaction = Some(id);
    }
    if let Some(csrf) = hidden_input(&body, "csrf_token") {
        state.csrf = Some(csrf);
    }
}

// ---------------------------------------------------------------------------------------------
// Target `token`: whole token requests against a server that has issued real codes
// ---------------------------------------------------------------------------------------------

/// A code issued before the fuzzed requests run.
struct IssuedCode {
    code: String,
    client: &'static str,
    redirect: &'static str,
    verifier: Option<String>,
}

const CODE_SPECS: &[(&str, &str, &str, Option<usize>)] = &[
    (
        "conf-client",
        "https://client.example.com/cb",
        "openid read",
        Some(0),
    ),
    ("pub-client", "http://127.0.0.1:5555/cb", "read", Some(1)),
    (
        "nopkce-client",
        "https://client.example.com/cb",
        "read write",
        None,
    ),
    (
        "post-client",
        "https://post.example.com/cb",
        "openid read",
        Some(3),
    ),
    (
        "conf-client",
        "https://client.example.com/cb?tenant=a",
        "read write",
        Some(4),
    ),
];

/// A refresh token known to the run, with its client.
struct KnownRefresh {
    token: String,
    client: &'static str,
    used: bool,
}

struct TokenWorld {
    f: Fixture,
    codes: Vec<IssuedCode>,
    code_used: Vec<bool>,
    refresh: Vec<KnownRefresh>,
}

impl TokenWorld {
    fn new() -> Self {
        let f = Fixture::new(true);
        let mut codes = Vec::new();
        for (i, (client, redirect, scope, pkce)) in CODE_SPECS.iter().enumerate() {
            let mut q = format!(
                "response_type=code&client_id={}&redirect_uri={}&scope={}&nonce=n{i}",
                ref_encode(client),
                ref_encode(redirect),
                ref_encode(scope)
            );
            let verifier = pkce.map(|p| {
                let (v, c) = pkce_pair(p);
                q.push_str(&format!("&code_challenge={c}&code_challenge_method=S256"));
                v
            });
            codes.push(IssuedCode {
                code: f.code(&q),
                client,
                redirect,
                verifier,
            });
        }
        // One refresh token exists before the fuzzed requests: conf-client's, for read write.
        let (v, c) = pkce_pair(9);
        let code = f.code(&format!(
            "response_type=code&client_id=conf-client&redirect_uri={}&scope=read+write&code_challenge={c}&code_challenge_method=S256",
            ref_encode(CLIENTS[0].redirects[0])
        ));
        let r = block_on(
            f.server.token(
                Request::post("/token")
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header(header::AUTHORIZATION, basic("conf-client", "s3cr3t"))
                    .body(
                        format!(
                            "grant_type=authorization_code&code={}&code_verifier={v}",
                            ref_encode(&code)
                        )
                        .into_bytes(),
                    )
                    .unwrap(),
            ),
        );
        let j: serde_json::Value = serde_json::from_slice(r.body()).expect("token JSON");
        let rt = j["refresh_token"].as_str().expect("no refresh token");
        let n = codes.len();
        TokenWorld {
            f,
            codes,
            code_used: vec![false; n],
            refresh: vec![KnownRefresh {
                token: rt.to_owned(),
                client: "conf-client",
                used: false,
            }],
        }
    }
}

#[derive(Debug, Arbitrary, Clone, Copy)]
pub enum TokenName {
    GrantType,
    Code,
    RedirectUri,
    CodeVerifier,
    ClientId,
    ClientSecret,
    RefreshToken,
    Scope,
    ClientAssertion,
    ClientAssertionType,
    Other,
}

impl TokenName {
    fn as_str(self) -> &'static str {
        match self {
            TokenName::GrantType => "grant_type",
            TokenName::Code => "code",
            TokenName::RedirectUri => "redirect_uri",
            TokenName::CodeVerifier => "code_verifier",
            TokenName::ClientId => "client_id",
            TokenName::ClientSecret => "client_secret",
            TokenName::RefreshToken => "refresh_token",
            TokenName::Scope => "scope",
            TokenName::ClientAssertion => "client_assertion",
            TokenName::ClientAssertionType => "client_assertion_type",
            TokenName::Other => "resource",
        }
    }
}

#[derive(Debug, Arbitrary, Clone)]
pub enum TokenValue {
    ClientId(u8),
    Secret(u8),
    Code(u8),
    Verifier(u8),
    Redirect(u8),
    Refresh(u8),
    GrantType(u8),
    Scope(Vec<u8>),
    AssertionType,
    Raw(String),
}

impl TokenValue {
    fn render(&self, w: &TokenWorld) -> String {
        match self {
            TokenValue::ClientId(i) => match usize::from(*i) % (CLIENTS.len() + 1) {
                n if n < CLIENTS.len() => CLIENTS[n].id.to_owned(),
                _ => "unknown-client".to_owned(),
            },
            TokenValue::Secret(i) => {
                let secrets: Vec<&str> = CLIENTS.iter().filter_map(|c| c.secret).collect();
                secrets[usize::from(*i) % secrets.len()].to_owned()
            }
            TokenValue::Code(i) => w.codes[usize::from(*i) % w.codes.len()].code.clone(),
            TokenValue::Verifier(i) => {
                let c = &w.codes[usize::from(*i) % w.codes.len()];
                c.verifier.clone().unwrap_or_else(|| pkce_pair(7).0)
            }
            TokenValue::Redirect(i) => match usize::from(*i) % (w.codes.len() + 2) {
                n if n < w.codes.len() => w.codes[n].redirect.to_owned(),
                n if n == w.codes.len() => "http://127.0.0.1:6666/cb".to_owned(),
                _ => "https://attacker.example/cb".to_owned(),
            },
            TokenValue::Refresh(i) => w.refresh[usize::from(*i) % w.refresh.len()].token.clone(),
            TokenValue::GrantType(i) => [
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "password",
                "Authorization_Code",
            ][usize::from(i % 5)]
            .to_owned(),
            TokenValue::Scope(tokens) => tokens
                .iter()
                .take(4)
                .map(|t| SCOPES[usize::from(*t) % SCOPES.len()])
                .collect::<Vec<_>>()
                .join(" "),
            TokenValue::AssertionType => {
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned()
            }
            TokenValue::Raw(s) => s.clone(),
        }
    }
}

#[derive(Debug, Arbitrary, Clone)]
pub struct TokenParam {
    pub name: TokenName,
    pub value: TokenValue,
    pub mutation: Option<Mutation>,
    pub encoding: Encoding,
}

#[derive(Debug, Arbitrary, Clone)]
pub enum AuthChoice {
    Basic {
        id: TokenValue,
        secret: TokenValue,
        id_mutation: Option<Mutation>,
        secret_mutation: Option<Mutation>,
        encode: bool,
        scheme: u8,
    },
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary, Clone)]
pub enum LengthChoice {
    None,
    Correct,
    Wrong(u16),
    Raw(String),
}

#[derive(Debug, Arbitrary, Clone)]
pub struct TokenRequest {
    pub method: MethodChoice,
    /// Start from a valid request for this code (or refresh token, or client credentials).
    pub base: Option<u8>,
    /// Authenticate the base request as this client (index into `CLIENTS`) instead of its own.
    pub credentials_of: Option<u8>,
    /// Present the base request's client secret with this edit.
    pub secret_mutation: Option<Mutation>,
    pub params: Vec<TokenParam>,
    pub tail: Option<Vec<u8>>,
    pub content_type: ContentType,
    pub content_length: LengthChoice,
    pub auth: Vec<AuthChoice>,
}

#[derive(Debug, Arbitrary)]
struct TokenInput {
    steps: Vec<TokenRequest>,
}

fn token_base(step: &TokenRequest, w: &TokenWorld) -> (Vec<(String, String)>, Option<String>) {
    let Some(i) = step.base else {
        return (Vec::new(), None);
    };
    let pick = usize::from(i) % (w.codes.len() + 3);
    let mut pairs: Vec<(&str, String)> = Vec::new();
    let mut auth = None;
    let credentials = |client: &str, pairs: &mut Vec<(&str, String)>, auth: &mut Option<String>| {
        let spec = match step.credentials_of {
            Some(j) => &CLIENTS[usize::from(j) % CLIENTS.len()],
            None => client_spec(client).unwrap(),
        };
        let mut secret = spec.secret.unwrap_or("").to_owned();
        if let Some(m) = &step.secret_mutation {
            mutate(&mut secret, m);
        }
        match spec.method {
            ClientAuthMethod::ClientSecretBasic => *auth = Some(basic(spec.id, &secret)),
            ClientAuthMethod::ClientSecretPost => {
                pairs.push(("client_id", spec.id.to_owned()));
                pairs.push(("client_secret", secret));
            }
            _ => {
                pairs.push(("client_id", spec.id.to_owned()));
                if step.secret_mutation.is_some() {
                    pairs.push(("client_secret", secret));
                }
            }
        }
    };
    if pick < w.codes.len() {
        let c = &w.codes[pick];
        pairs.push(("grant_type", "authorization_code".into()));
        pairs.push(("code", c.code.clone()));
        pairs.push(("redirect_uri", c.redirect.into()));
        if let Some(v) = &c.verifier {
            pairs.push(("code_verifier", v.clone()));
        }
        credentials(c.client, &mut pairs, &mut auth);
    } else if pick == w.codes.len() {
        let rt = &w.refresh[usize::from(i / 16) % w.refresh.len()];
        pairs.push(("grant_type", "refresh_token".into()));
        pairs.push(("refresh_token", rt.token.clone()));
        credentials(rt.client, &mut pairs, &mut auth);
    } else {
        pairs.push(("grant_type", "client_credentials".into()));
        pairs.push(("scope", "read".into()));
        let ids = ["conf-client", "post-client", "an:identifier"];
        credentials(ids[usize::from(i / 16) % 3], &mut pairs, &mut auth);
    }
    (
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), ref_encode(&v)))
            .collect(),
        auth,
    )
}

/// Whole `token` calls never panic and never answer 5xx, and an access token is only ever
/// issued to a request that carries a client's valid credentials (its Basic or post secret,
/// or, for a public client, its id) together with a valid grant: an unspent code of that
/// client with its PKCE verifier and redirect URI, an unspent refresh token of that client,
/// or client credentials of a client allowed that grant.
pub fn check_token(data: &[u8]) {
    let Ok(input) = TokenInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    check_token_steps(&input.steps);
}

/// [`check_token`] on already structured requests (the first four of `steps`); returns how
/// many issued an access token.
pub fn check_token_steps(steps: &[TokenRequest]) -> usize {
    let mut w = TokenWorld::new();
    steps
        .iter()
        .take(4)
        .filter(|step| token_step(&mut w, step))
        .count()
}

/// Sets a fuzzed parameter on a request's `pairs`: `value` mutated, then encoded as asked.
/// A parameter named again replaces the base's, unless the fuzzer asks to repeat it.
fn set_param(
    pairs: &mut Vec<(String, String)>,
    name: &str,
    mut value: String,
    mutation: &Option<Mutation>,
    encoding: Encoding,
) {
    if let Some(m) = mutation {
        mutate(&mut value, m);
    }
    let value = encode_as(&value, encoding);
    match pairs.iter().position(|(k, _)| k == name) {
        Some(i) if !matches!(encoding, Encoding::Double) => pairs[i].1 = value,
        _ => pairs.push((name.to_owned(), value)),
    }
}

/// Runs one token request and checks it; returns whether it issued an access token.
fn token_step(w: &mut TokenWorld, step: &TokenRequest) -> bool {
    let (mut pairs, base_auth) = token_base(step, w);
    for p in step.params.iter().take(12) {
        set_param(
            &mut pairs,
            p.name.as_str(),
            p.value.render(w),
            &p.mutation,
            p.encoding,
        );
    }
    let body = join_pairs(&pairs, step.tail.as_deref());
    let mut b = Request::builder()
        .method(step.method.method())
        .uri("/token");
    if let Some(ct) = step.content_type.value() {
        if let Ok(v) = HeaderValue::from_str(&ct) {
            b = b.header(header::CONTENT_TYPE, v);
        }
    }
    match &step.content_length {
        LengthChoice::None => {}
        LengthChoice::Correct => b = b.header(header::CONTENT_LENGTH, body.len()),
        LengthChoice::Wrong(n) => b = b.header(header::CONTENT_LENGTH, *n),
        LengthChoice::Raw(s) => {
            if let Ok(v) = HeaderValue::from_str(s) {
                b = b.header(header::CONTENT_LENGTH, v);
            }
        }
    }
    let mut auth_values: Vec<Vec<u8>> = Vec::new();
    // The fuzzer's Authorization headers replace the base's.
    if step.auth.is_empty() {
        auth_values.extend(base_auth.map(String::into_bytes));
    }
    for a in step.auth.iter().take(2) {
        auth_values.push(match a {
            AuthChoice::Basic {
                id,
                secret,
                id_mutation,
                secret_mutation,
                encode,
                scheme,
            } => {
                let mut id = id.render(w);
                let mut secret = secret.render(w);
                if let Some(m) = id_mutation {
                    mutate(&mut id, m);
                }
                if let Some(m) = secret_mutation {
                    mutate(&mut secret, m);
                }
                let payload = if *encode {
                    format!("{}:{}", ref_encode(&id), ref_encode(&secret))
                } else {
                    format!("{id}:{secret}")
                };
                format!("{}{}", scheme_name(*scheme), STANDARD.encode(payload)).into_bytes()
            }
            AuthChoice::Raw(v) => v.clone(),
        });
    }
    let mut sent_auth: Vec<Vec<u8>> = Vec::new();
    for v in &auth_values {
        if let Ok(v) = HeaderValue::from_bytes(v) {
            b = b.header(header::AUTHORIZATION, v.clone());
            sent_auth.push(v.as_bytes().to_vec());
        }
    }
    let method_is_post = step.method.method() == Method::POST;
    let Ok(req) = b.body(body.clone()) else {
        return false;
    };
    let r = block_on(w.f.server.token(req));
    assert_not_5xx(&r, "token");
    if !r.status().is_success() {
        let j: Option<serde_json::Value> = serde_json::from_slice(r.body()).ok();
        assert!(
            j.as_ref().is_none_or(|j| j.get("access_token").is_none()),
            "access_token in an error response"
        );
        return false;
    }
    let j: serde_json::Value = serde_json::from_slice(r.body()).expect("token response JSON");
    let Some(access_token) = j.get("access_token") else {
        return false;
    };
    assert!(access_token.is_string());
    // An access token was issued: the request must justify it.
    assert!(
        method_is_post,
        "token issued to a {} request",
        step.method.method()
    );
    let pairs =
        ref_parse(&body, MAX_PARAMS, MAX_PARAM_BYTES).expect("token issued for a malformed body");
    let client = authenticated_client(&sent_auth, &pairs)
        .unwrap_or_else(|| panic!("token issued without valid client credentials: {step:?}"));
    let get = |name| match ref_get(&pairs, name) {
        RefValue::Repeated => panic!("token issued for a request that repeats {name}"),
        RefValue::One(v) => Some(v),
        RefValue::Absent => None,
    };
    let new_refresh = j.get("refresh_token").and_then(|v| v.as_str());
    match get("grant_type") {
        Some("authorization_code") => {
            let code = get("code").expect("token issued without a code");
            let i = w
                .codes
                .iter()
                .position(|c| c.code == code)
                .expect("token issued for a code that was never issued");
            let c = &w.codes[i];
            assert_eq!(c.client, client.id, "code of another client redeemed");
            assert!(!w.code_used[i], "a code was redeemed twice");
            match (get("redirect_uri"), &c.verifier) {
                (Some(r), _) => assert_eq!(r, c.redirect, "redirect_uri differs from the code's"),
                (None, Some(_)) => {}
                (None, None) => panic!("redirect_uri omitted for a code without PKCE"),
            }
            assert_eq!(
                get("code_verifier"),
                c.verifier.as_deref(),
                "PKCE verifier does not match"
            );
            w.code_used[i] = true;
        }
        Some("refresh_token") => {
            let rt = get("refresh_token").expect("token issued without a refresh token");
            let known = w
                .refresh
                .iter_mut()
                .find(|k| k.token == rt)
                .expect("token issued for an unknown refresh token");
            assert_eq!(
                known.client, client.id,
                "refresh token of another client used"
            );
            assert!(!known.used, "a refresh token was used twice");
            known.used = true;
            assert!(new_refresh.is_some(), "refresh without rotation");
        }
        Some("client_credentials") => {
            assert!(
                client.secret.is_some() && client.grants.contains(&GrantType::ClientCredentials),
                "client_credentials for {}",
                client.id
            );
            assert!(
                new_refresh.is_none(),
                "refresh token from client_credentials"
            );
        }
        other => panic!("token issued for grant_type {other:?}"),
    }
    if let Some(rt) = new_refresh {
        w.refresh.push(KnownRefresh {
            token: rt.to_owned(),
            client: client.id,
            used: false,
        });
    }
    true
}

/// The client whose valid credentials a token request carries (RFC 6749 §2.3): exactly one
/// method, the one the client registered, with its secret; or, for a public client, its id.
fn authenticated_client(
    auth: &[Vec<u8>],
    pairs: &[(String, String)],
) -> Option<&'static ClientSpec> {
    let body_id = ref_get(pairs, "client_id");
    let body_secret = ref_get(pairs, "client_secret");
    if matches!(body_id, RefValue::Repeated) || matches!(body_secret, RefValue::Repeated) {
        return None;
    }
    if pairs
        .iter()
        .any(|(k, _)| k == "client_assertion" || k == "client_assertion_type")
    {
        return None;
    }
    match auth {
        [] => {
            let RefValue::One(id) = body_id else {
                return None;
            };
            let client = client_spec(id)?;
            match body_secret {
                RefValue::One(secret) => (client.method == ClientAuthMethod::ClientSecretPost
                    && client.secret == Some(secret))
                .then_some(client),
                _ => (client.secret.is_none()).then_some(client),
            }
        }
        [one] => {
            let (id, secret) = ref_basic(one)?;
            let client = client_spec(&id)?;
            let ok = client.method == ClientAuthMethod::ClientSecretBasic
                && client.secret == Some(secret.as_str())
                && matches!(body_secret, RefValue::Absent)
                && match body_id {
                    RefValue::One(b) => b == id,
                    _ => true,
                };
            ok.then_some(client)
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Self-test: the oracles are not vacuous
// ---------------------------------------------------------------------------------------------

/// Runs the valid starting points the fuzzer mutates and checks that they succeed: every
/// base authorization request redirects with a code, and every base token request (each code,
/// the refresh token, client credentials) issues a token. Without this, a broken fixture
/// would make every invariant hold trivially.
pub fn self_test() {
    for any_port in [false, true] {
        let f = Fixture::new(any_port);
        for i in 0..VALID_BASES.len() as u8 {
            let pairs: Vec<(String, String)> = base_pairs(i)
                .into_iter()
                .map(|(k, v)| (k, ref_encode(&v)))
                .collect();
            let query = String::from_utf8(join_pairs(&pairs, None)).unwrap();
            let (_, redirect, _) = VALID_BASES[usize::from(i)];
            if !any_port && redirect.contains(":51004") {
                continue;
            }
            let loc = single_location(&block_on(
                f.server.authorize(
                    Request::get(format!("/authorize?{query}"))
                        .header(header::COOKIE, &f.alice_cookie)
                        .body(Vec::new())
                        .unwrap(),
                ),
            ))
            .expect("base authorization request: no Location");
            assert!(
                loc.starts_with(redirect) && loc.contains("code="),
                "base authorization request {i} failed: {loc}"
            );
        }
    }
    let mut w = TokenWorld::new();
    let n = (w.codes.len() + 3) as u8;
    for i in 0..n {
        let step = TokenRequest {
            method: MethodChoice::Post,
            base: Some(i),
            credentials_of: None,
            secret_mutation: None,
            params: Vec::new(),
            tail: None,
            content_type: ContentType::Form,
            content_length: LengthChoice::Correct,
            auth: Vec::new(),
        };
        assert!(
            token_step(&mut w, &step),
            "base token request {i} issued nothing"
        );
    }
}
