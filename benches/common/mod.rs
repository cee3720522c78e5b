//! What the benches share: a server like tests/common's (a signed-in user, remembered consent,
//! a manual clock), a poll-once executor, the flow's requests, and the crypto floor.
#![allow(dead_code)]

pub mod oxide;

use std::future::Future;
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use grantor::http::{header, HeaderValue, Request, StatusCode, Uri};
use grantor::memory::{MemoryClientStore, MemoryConsent, MemoryGrantStore, MemorySessions};
use grantor::token::{KeySet, SigningAlgorithm, SigningKey};
use grantor::{
    AccessTokenFormat, AuthorizationServer, Client, ClientSecret, EndUser, GrantType, HttpResponse,
    ManualClock, Policy, RefreshTokenPolicy, ScopeSet,
};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256, Sha512};

pub const ISS: &str = "https://as.example";
pub const CLIENT: &str = "bench-client";
pub const SECRET: &str = "a-long-random-client-secret";
pub const CB: &str = "https://client.example.com/cb";
pub const CB_ENC: &str = "https%3A%2F%2Fclient.example.com%2Fcb";
/// RFC 7636 Appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const T0: u64 = 1_700_000_000;
/// Far enough past every lifetime of an entry created at `T0` (the refresh-token family lives
/// 30 days): purging at this instant empties the store of what the benches added.
pub const PURGE_AT: u64 = T0 + 31 * 24 * 3600;
pub const USER: &str = "alice-sub";

/// Drives a future that never waits (every store here is in memory) to completion on this
/// thread: no runtime, so nothing but grantor is measured.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// The access-token format and signing algorithm of a benchmarked server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Opaque access tokens, plain OAuth 2.0 scope (no ID token, no signature).
    Opaque,
    /// JWT access tokens and ID tokens (`openid` scope), signed with this algorithm.
    Jwt(SigningAlgorithm),
    /// Opaque access tokens with the `openid` scope (EdDSA ID tokens): for userinfo.
    OpaqueOidc,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Opaque,
        Kind::Jwt(SigningAlgorithm::RS256),
        Kind::Jwt(SigningAlgorithm::ES256),
        Kind::Jwt(SigningAlgorithm::EdDSA),
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Opaque => "opaque",
            Kind::Jwt(SigningAlgorithm::RS256) => "jwt_rs256",
            Kind::Jwt(SigningAlgorithm::ES256) => "jwt_es256",
            Kind::Jwt(_) => "jwt_eddsa",
            Kind::OpaqueOidc => "opaque_oidc",
        }
    }

    fn scope(self) -> &'static str {
        match self {
            Kind::Opaque => "read write",
            Kind::Jwt(_) | Kind::OpaqueOidc => "openid read write",
        }
    }
}

/// One key set per algorithm per process (RSA key generation takes a while): a single active
/// key, so both JWT access tokens and ID tokens are signed with it.
pub fn keys(alg: SigningAlgorithm) -> KeySet {
    use std::sync::OnceLock;
    static SETS: [OnceLock<KeySet>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let i = match alg {
        SigningAlgorithm::RS256 => 0,
        SigningAlgorithm::ES256 => 1,
        _ => 2,
    };
    SETS[i]
        .get_or_init(|| KeySet::new(SigningKey::generate(alg, "bench-key").expect("key")))
        .clone()
}

/// A server with one confidential client (client_secret_basic, PKCE required), alice signed
/// in, her consent remembered, and a manual clock at `T0`.
pub struct Bench {
    pub kind: Kind,
    pub server: AuthorizationServer,
    pub clock: Arc<ManualClock>,
    pub grants: MemoryGrantStore,
    pub cookie: HeaderValue,
    pub basic: HeaderValue,
    pub authorize_uri: String,
    /// `authorize_uri`, parsed once from a static copy (a clone copies a pointer).
    authorize: Uri,
}

impl Bench {
    pub fn new(kind: Kind) -> Bench {
        let clock = Arc::new(ManualClock::new(T0));
        let sessions = MemorySessions::new("https://as.example/login");
        let consent = MemoryConsent::new();
        let grants = MemoryGrantStore::new();
        let clients = MemoryClientStore::new();
        clients.insert(
            Client::builder(CLIENT)
                .secret(ClientSecret::new(SECRET))
                .redirect_uri(CB)
                .grant_types([
                    GrantType::AuthorizationCode,
                    GrantType::RefreshToken,
                    GrantType::ClientCredentials,
                ])
                .scopes("openid read write")
                .build()
                .expect("client"),
        );
        let mut policy = Policy::default();
        // OIDC flows get a refresh token without the prompt=consent round trip.
        policy.refresh_tokens = RefreshTokenPolicy::Always;
        let mut builder = AuthorizationServer::builder()
            .issuer(ISS)
            .clients(clients)
            .grants(grants.clone())
            .authenticator(sessions.clone())
            .consent(consent.clone())
            .clock(clock.clone())
            .scopes(["read", "write"]);
        match kind {
            Kind::Opaque => policy.access_tokens = AccessTokenFormat::Opaque,
            Kind::Jwt(alg) => {
                policy.access_tokens = AccessTokenFormat::Jwt;
                builder = builder.signing_keys(keys(alg));
            }
            Kind::OpaqueOidc => {
                policy.access_tokens = AccessTokenFormat::Opaque;
                builder = builder.signing_keys(keys(SigningAlgorithm::EdDSA));
            }
        }
        let server = builder.policy(policy).build().expect("server");
        let session = sessions.sign_in(EndUser::new(USER, T0 - 10));
        let cookie = HeaderValue::from_static(leak(format!(
            "{}={}",
            sessions.cookie_name(),
            session.expose()
        )));
        consent.grant(USER, CLIENT, &ScopeSet::parse("openid read write").unwrap());
        let basic = HeaderValue::from_static(leak(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT}:{SECRET}"))
        )));
        let scope = kind.scope().replace(' ', "+");
        let mut authorize_uri = format!(
            "/authorize?response_type=code&client_id={CLIENT}&redirect_uri={CB_ENC}&scope={scope}\
             &state=af0ifjsldkj&code_challenge={CHALLENGE}&code_challenge_method=S256"
        );
        if kind != Kind::Opaque {
            authorize_uri.push_str("&nonce=n-0S6_WzA2Mj");
        }
        Bench {
            kind,
            server,
            clock,
            grants,
            cookie,
            basic,
            authorize: Uri::from_static(leak(authorize_uri.clone())),
            authorize_uri,
        }
    }

    /// `iters` flows after a [`reset`](Self::reset), timed (the reset is not): one
    /// criterion sample of a flow bench.
    pub fn timed_flows(&self, iters: u64) -> Duration {
        self.reset();
        time_runs(iters, || self.flow())
    }

    /// Forgets everything the benches stored at `T0` (and nothing stored at a later clock),
    /// then puts the clock back at `T0`. Run between samples, outside the timed section.
    ///
    /// The purge scans every table (about 40 ms with a million entries) and leaves the
    /// caches holding the scan, not the flow's working set: a few hundred flows here refill
    /// them before the timed section starts, as they once paid for the rehash that followed a
    /// purge of tables with tombstones.
    pub fn reset(&self) {
        self.grants.purge_expired(PURGE_AT);
        self.clock.set(T0);
        let warm_up = if self.kind == Kind::Opaque { 256 } else { 8 };
        for _ in 0..warm_up {
            std::hint::black_box(self.flow());
        }
    }

    pub fn authorize_request(&self) -> Request<&'static [u8]> {
        Request::get(self.authorize.clone())
            .header(header::COOKIE, self.cookie.clone())
            .body(&b""[..])
            .unwrap()
    }

    pub fn token_request(&self, body: String) -> Request<Vec<u8>> {
        Request::post(Uri::from_static("/token"))
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )
            .header(header::AUTHORIZATION, self.basic.clone())
            .body(body.into_bytes())
            .unwrap()
    }

    pub fn exchange_request(&self, code: &str) -> Request<Vec<u8>> {
        self.token_request(concat(&[
            "grant_type=authorization_code&code=",
            code,
            "&redirect_uri=",
            CB_ENC,
            "&code_verifier=",
            VERIFIER,
        ]))
    }

    pub fn refresh_request(&self, refresh_token: &str) -> Request<Vec<u8>> {
        self.token_request(concat(&[
            "grant_type=refresh_token&refresh_token=",
            refresh_token,
        ]))
    }

    pub fn client_credentials_request(&self) -> Request<Vec<u8>> {
        self.token_request("grant_type=client_credentials&scope=read".to_owned())
    }

    pub fn introspection_request(&self, token: &str) -> Request<Vec<u8>> {
        Request::post("/introspect")
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )
            .header(header::AUTHORIZATION, self.basic.clone())
            .body(format!("token={token}&token_type_hint=access_token").into_bytes())
            .unwrap()
    }

    pub fn userinfo_request(&self, access_token: &str) -> Request<&'static [u8]> {
        Request::get("/userinfo")
            .header(
                header::AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {access_token}")).unwrap(),
            )
            .body(&b""[..])
            .unwrap()
    }

    /// `GET /authorize`: the code from the 303.
    pub fn authorize(&self) -> String {
        let r = block_on(self.server.authorize(self.authorize_request()));
        code_of(&r).to_owned()
    }

    /// The code exchange: (access token, refresh token).
    pub fn exchange(&self, code: &str) -> (String, String) {
        let r = block_on(self.server.token(self.exchange_request(code)));
        tokens_of(&r)
    }

    /// One refresh: (access token, new refresh token).
    pub fn refresh(&self, refresh_token: &str) -> (String, String) {
        let r = block_on(self.server.token(self.refresh_request(refresh_token)));
        tokens_of(&r)
    }

    /// The whole flow: authorize → code exchange → one refresh.
    pub fn flow(&self) -> (String, String) {
        let code = self.authorize();
        let (_, refresh_token) = self.exchange(&code);
        self.refresh(&refresh_token)
    }

    /// The whole flow, returning every response body for inspection.
    pub fn flow_responses(&self) -> [HttpResponse; 3] {
        let authorized = block_on(self.server.authorize(self.authorize_request()));
        let exchanged = block_on(
            self.server
                .token(self.exchange_request(code_of(&authorized))),
        );
        let (_, rt) = tokens_of(&exchanged);
        let refreshed = block_on(self.server.token(self.refresh_request(&rt)));
        [authorized, exchanged, refreshed]
    }
}

/// `s` for the life of the process. The request parts every flow clones (cookie, Basic
/// credentials, authorize URI) are static: a clone of a static value copies a pointer, where
/// a clone of a shared buffer is an atomic add on a count that every thread sharing the
/// [`Bench`] writes, a cost a real server (each request read from its own connection) never
/// pays.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// `parts` joined into one exactly sized string (what `format!` does, without its
/// formatting machinery: the harness's cost is subtracted from the flow's, so keep it small).
fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.push_str(p);
    }
    out
}

/// Times `run` over `iters` inputs made by `prepare` outside the timed section.
pub fn timed<T>(
    iters: u64,
    mut prepare: impl FnMut() -> T,
    mut run: impl FnMut(T) -> HttpResponse,
) -> Duration {
    let inputs: Vec<T> = (0..iters).map(|_| prepare()).collect();
    let start = Instant::now();
    for input in inputs {
        std::hint::black_box(run(input));
    }
    start.elapsed()
}

/// The time `work` takes `runs` times in a row (each result kept from the optimizer).
pub fn time_runs<R>(runs: u64, mut work: impl FnMut() -> R) -> Duration {
    let start = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(work());
    }
    start.elapsed()
}

/// The `code` of a successful authorization redirect (base64url: no decoding needed).
pub fn code_of(r: &HttpResponse) -> &str {
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{r:?}");
    let location = r.headers()[header::LOCATION].to_str().unwrap();
    let start = location.find("?code=").expect("no code") + 6;
    let rest = &location[start..];
    &rest[..rest.find('&').unwrap_or(rest.len())]
}

/// A string member of a flat JSON object, without a JSON parser (the values are base64url or
/// JWTs: no escapes).
pub fn json_str<'a>(body: &'a [u8], name: &str) -> Option<&'a str> {
    let body = std::str::from_utf8(body).ok()?;
    // `"name":"`, found without building the needle.
    let mut from = 0;
    while let Some(i) = body[from..].find(name) {
        let at = from + i;
        let rest = &body[at + name.len()..];
        if body[..at].ends_with('"') {
            if let Some(rest) = rest.strip_prefix("\":\"") {
                return Some(&rest[..rest.find('"')?]);
            }
        }
        from = at + 1;
    }
    None
}

/// (access token, refresh token) of a successful token response.
pub fn tokens_of(r: &HttpResponse) -> (String, String) {
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(r.body())
    );
    let body = r.body();
    (
        json_str(body, "access_token")
            .expect("access_token")
            .to_owned(),
        json_str(body, "refresh_token")
            .map(str::to_owned)
            .unwrap_or_default(),
    )
}

/// The request building and response reading that the flow bench does around grantor's calls,
/// without grantor (its responses are made once, up front): subtracted too when the library's
/// own overhead is reported.
pub struct Harness {
    redirect: HttpResponse,
    token: HttpResponse,
}

impl Harness {
    /// Keeps one real redirect and one real token response of `bench` to read from.
    pub fn new(bench: &Bench) -> Harness {
        let [redirect, _, token] = bench.flow_responses();
        Harness { redirect, token }
    }

    /// What [`Bench::flow`] does besides calling grantor: builds the three requests, reads the
    /// code and, twice, the tokens.
    pub fn run(&self, bench: &Bench) -> usize {
        let a = bench.authorize_request();
        let code = code_of(&self.redirect).to_owned();
        let e = bench.exchange_request(&code);
        let (_, rt) = tokens_of(&self.token);
        let r = bench.refresh_request(&rt);
        let (at, rt) = tokens_of(&self.token);
        a.uri().path().len() + e.body().len() + r.body().len() + at.len() + rt.len()
    }
}

fn first(b: &[u8]) -> u64 {
    b[0] as u64
}

/// The cryptography one flow needs and nothing else: the same hashes (SHA-256 of each secret
/// and token, PKCE), random draws and signatures (over messages of the flow's own sizes), with
/// the same libraries grantor uses.
pub struct Floor {
    kind: Kind,
    signer: Option<Signer>,
    /// The signing inputs (`header.claims`) of the flow's four JWTs: access and ID token of the
    /// exchange, then of the refresh.
    messages: Vec<Vec<u8>>,
    /// The access tokens whose `at_hash` the ID tokens carry.
    access_tokens: Vec<String>,
    session: String,
    code: String,
    token: String,
}

enum Signer {
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ec(aws_lc_rs::signature::EcdsaKeyPair),
    Ed(aws_lc_rs::signature::Ed25519KeyPair),
}

impl Floor {
    /// Captures the sizes of the flow's JWTs from a real flow of `bench`.
    pub fn new(bench: &Bench) -> Floor {
        bench.reset();
        let [_, exchanged, refreshed] = bench.flow_responses();
        let mut messages = Vec::new();
        let mut access_tokens = Vec::new();
        for r in [&exchanged, &refreshed] {
            let at = json_str(r.body(), "access_token").unwrap();
            if let Some(id) = json_str(r.body(), "id_token") {
                for jwt in [at, id] {
                    messages.push(jwt.as_bytes()[..jwt.rfind('.').unwrap()].to_vec());
                }
                access_tokens.push(at.to_owned());
            }
        }
        bench.reset();
        let signer = match bench.kind {
            Kind::Opaque | Kind::OpaqueOidc => None,
            Kind::Jwt(SigningAlgorithm::RS256) => Some(Signer::Rsa(
                aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap(),
            )),
            Kind::Jwt(SigningAlgorithm::ES256) => Some(Signer::Ec(
                aws_lc_rs::signature::EcdsaKeyPair::generate(
                    &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                )
                .unwrap(),
            )),
            Kind::Jwt(_) => Some(Signer::Ed(
                aws_lc_rs::signature::Ed25519KeyPair::generate().unwrap(),
            )),
        };
        let token = URL_SAFE_NO_PAD.encode([7u8; 32]);
        Floor {
            kind: bench.kind,
            signer,
            messages,
            access_tokens,
            session: token.clone(),
            code: token.clone(),
            token,
        }
    }

    fn sha256(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    fn random32() -> [u8; 32] {
        let mut b = [0u8; 32];
        rand::rng().fill_bytes(&mut b);
        b
    }

    fn sign(&self, message: &[u8]) -> usize {
        use aws_lc_rs::rand::SystemRandom;
        match self.signer.as_ref().unwrap() {
            Signer::Rsa(pair) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut sig,
                )
                .unwrap();
                sig.len()
            }
            Signer::Ec(pair) => pair
                .sign(&SystemRandom::new(), message)
                .unwrap()
                .as_ref()
                .len(),
            Signer::Ed(pair) => pair.sign(message).as_ref().len(),
        }
    }

    fn at_hash(&self, access_token: &str) -> u8 {
        match self.kind {
            Kind::Jwt(SigningAlgorithm::EdDSA) => Sha512::digest(access_token.as_bytes())[0],
            _ => Sha256::digest(access_token.as_bytes())[0],
        }
    }

    /// One flow's worth of cryptography; returns something derived from all of it.
    pub fn run(&self) -> u64 {
        let mut acc = 0u64;
        let secret = SECRET.as_bytes();
        let token = self.token.as_bytes();
        // authorize: the session cookie's digest, the code and its digest, the grant id.
        acc += first(&Self::sha256(self.session.as_bytes()));
        acc += first(&Self::random32());
        acc += first(&Self::sha256(self.code.as_bytes()));
        let mut grant_id = [0u8; 16];
        rand::rng().fill_bytes(&mut grant_id);
        acc += first(&grant_id);
        // exchange: client secret, code, PKCE verifier.
        acc += first(&Self::sha256(secret));
        acc += first(&Self::sha256(self.code.as_bytes()));
        acc += first(&Self::sha256(VERIFIER.as_bytes()));
        match self.kind {
            Kind::Opaque | Kind::OpaqueOidc => {
                // access token and refresh token: drawn and digested.
                for _ in 0..2 {
                    acc += first(&Self::random32());
                    acc += first(&Self::sha256(token));
                }
                // refresh: client secret, presented token, successor and new access token.
                acc += first(&Self::sha256(secret));
                acc += first(&Self::sha256(token));
                for _ in 0..2 {
                    acc += first(&Self::random32());
                    acc += first(&Self::sha256(token));
                }
            }
            Kind::Jwt(_) => {
                for round in 0..2 {
                    if round == 1 {
                        // refresh: client secret, presented token.
                        acc += first(&Self::sha256(secret));
                        acc += first(&Self::sha256(token));
                    }
                    // refresh token (first or successor): drawn and digested.
                    acc += first(&Self::random32());
                    acc += first(&Self::sha256(token));
                    // JWT access token: jti, signature.
                    acc += first(&Self::random32());
                    acc += self.sign(&self.messages[2 * round]) as u64;
                    // ID token: at_hash, signature.
                    acc += self.at_hash(&self.access_tokens[round]) as u64;
                    acc += self.sign(&self.messages[2 * round + 1]) as u64;
                }
            }
        }
        acc
    }
}

/// A criterion group of wall-clock benches.
pub type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// One step bench named `name`: each sample resets `bench`'s store, then `setup` (after the
/// reset, untimed) returns the maker of each iteration's input, and [`timed`] times `run`
/// over those inputs.
pub fn step<T, P: FnMut() -> T>(
    g: &mut Group<'_>,
    name: &str,
    bench: &Bench,
    setup: impl Fn() -> P,
    run: impl Fn(T) -> HttpResponse,
) {
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            bench.reset();
            timed(iters, setup(), &run)
        })
    });
}

/// The steps both the step bench and the scale bench time alone, on `bench`'s server:
/// authorize, token (code exchange), refresh and introspect. Each sample starts from a reset
/// store; the inputs (codes, tokens) are made outside the timed section.
pub fn store_steps(g: &mut Group<'_>, bench: &Bench) {
    let server = &bench.server;
    step(
        g,
        "authorize",
        bench,
        || || bench.authorize_request(),
        |r| block_on(server.authorize(r)),
    );
    step(
        g,
        "token",
        bench,
        || || bench.exchange_request(&bench.authorize()),
        |r| block_on(server.token(r)),
    );
    step(
        g,
        "refresh",
        bench,
        || || bench.refresh_request(&bench.exchange(&bench.authorize()).1),
        |r| block_on(server.token(r)),
    );
    step(
        g,
        "introspect",
        bench,
        || {
            let (at, _) = bench.flow();
            move || bench.introspection_request(&at)
        },
        |r| block_on(server.introspect(r)),
    );
}

/// Runs `work` `iters` times on each of `n` threads at once, with the thread's index; the
/// slowest thread's time.
pub fn on_threads(n: u64, iters: u64, work: impl Fn(usize) + Sync) -> Duration {
    let barrier = Barrier::new(n as usize);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..n as usize)
            .map(|thread| {
                let (barrier, work) = (&barrier, &work);
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        work(thread);
                    }
                    start.elapsed()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap())
            .max()
            .unwrap()
    })
}

/// Runs `round` `rounds` times and prints the median of each of its figures, one line each,
/// named and followed by its unit as `names` says, to `decimals` places.
pub fn medians<const N: usize>(
    rounds: u64,
    names: [(&str, &str); N],
    decimals: usize,
    mut round: impl FnMut() -> [f64; N],
) {
    let mut rows: [Vec<f64>; N] = std::array::from_fn(|_| Vec::new());
    for _ in 0..rounds {
        for (row, v) in rows.iter_mut().zip(round()) {
            row.push(v);
        }
    }
    for ((name, unit), mut r) in names.into_iter().zip(rows) {
        let median = median(&mut r);
        println!("{name}: {median:.decimals$}{unit} (median of {rounds} rounds)");
    }
}

/// The median of `values` (sorted in place); NaN when there are none.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}
