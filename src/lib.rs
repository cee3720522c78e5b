//! # grantor
//!
//! An OAuth 2.0 / OpenID Connect authorization server you embed in your own Rust service.
//!
//! grantor owns the protocol: it takes [`http::Request`] values and returns
//! [`http::Response`] values for each endpoint, parses and validates every parameter, runs
//! the life of every grant, mints tokens and answers errors exactly as the RFCs say. Your
//! service owns the rest, behind async traits: where clients and grants are stored
//! ([`ClientStore`], [`GrantStore`]), who the user is ([`UserAuthenticator`]) and whether the
//! user agrees ([`ConsentProvider`]). In-memory implementations of each live in [`memory`].
//!
//! ## Example
//!
//! ```
//! use grantor::memory::{MemoryClientStore, MemoryConsent, MemoryGrantStore, MemorySessions};
//! use grantor::{AuthorizationServer, Client, ClientSecret, GrantType};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let clients = MemoryClientStore::new();
//! clients.insert(
//!     Client::builder("web-app")
//!         .secret(ClientSecret::new("a-long-random-secret"))
//!         .redirect_uri("https://app.example.com/callback")
//!         .grant_types([GrantType::AuthorizationCode])
//!         .scopes("openid profile api.read")
//!         .build()?,
//! );
//! let server = AuthorizationServer::builder()
//!     .issuer("https://auth.example.com")
//!     .clients(clients)
//!     .grants(MemoryGrantStore::new())
//!     .authenticator(MemorySessions::new("/login"))
//!     .consent(MemoryConsent::new())
//!     .build()?;
//!
//! // In your HTTP handlers (any framework), hand grantor the request and return its response:
//! # let rt = tokio::runtime::Builder::new_current_thread().build()?;
//! # rt.block_on(async {
//! let request = http::Request::get("/authorize?client_id=nobody").body(Vec::new()).unwrap();
//! let response = server.authorize(request).await;
//! assert_eq!(response.status(), 400); // unknown client: an error page, never a redirect
//! # });
//! # Ok(())
//! # }
//! ```
//!
//! ## What it implements
//! * The authorization code grant (RFC 6749 §4.1) with PKCE (RFC 7636), S256 required of
//!   every client by default (OAuth 2.1), exact redirect URI matching and the `iss`
//!   authorization response parameter (RFC 9207).
//! * Client authentication with `client_secret_basic`, `client_secret_post` and `none`.
//! * Atomic single use of codes, with revocation of the tokens issued from a replayed code
//!   (RFC 6749 §4.1.2).
//! * Secure defaults from RFC 9700: see [`Policy`] and [`Limits`].
//!
//! Secrets (codes, tokens, client secrets) come from a CSPRNG with 256 bits, are stored only
//! as SHA-256 digests ([`TokenDigest`]), compared in constant time, redacted in `Debug` and
//! never logged. `tracing` events use targets under `grantor::`.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

#[cfg(any(feature = "axum", feature = "actix"))]
pub mod adapter;
mod claims;
mod client;
mod clock;
mod endpoint;
mod error;
mod grant;
mod interaction;
pub mod memory;
mod params;
mod pkce;
mod redirect;
pub mod resource;
mod response;
mod scope;
mod secret;
mod server;
mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
mod throttle;
pub mod token;

pub use bytes::Bytes;
pub use http;

pub use claims::{claims_for_scope, ClaimsProvider, NoClaims};
pub use client::{Client, ClientAuthMethod, ClientBuilder, GrantType};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{ConfigError, ErrorCode, ProtocolError, StoreError};
pub use interaction::{
    Authentication, AuthenticationRequest, Consent, ConsentProvider, ConsentRequest, HttpResponse,
    Interaction, UserAuthenticator,
};
pub use pkce::{check_verifier_syntax, ChallengeMethod, CodeChallenge};
pub use redirect::RedirectUri;
pub use response::{escape_html, html, secure_html_headers};
pub use scope::ScopeSet;
pub use secret::{
    AccessToken, AuthorizationCode, ClientSecret, CsrfToken, InteractionId, RefreshToken,
    SessionId, TokenDigest,
};
pub use server::{
    AccessTokenFormat, AuthorizationServer, AuthorizationServerBuilder, EndpointPaths,
    ErrorPageRenderer, Limits, Policy, RefreshTokenPolicy,
};
pub use store::{
    AccessTokenRecord, AuthorizationRequest, ClientStore, CodeGrant, CodeRedemption, EndUser,
    GrantId, GrantStore, PendingAuthorization, Prompt, RefreshLookup, RefreshTokenRecord,
    ResponseMode, Rotation,
};
pub use throttle::{ClientAddr, FailureLimit};
pub use token::{KeyError, KeySet, SigningAlgorithm, SigningKey};

/// Hooks for the fuzz targets in `fuzz/` and the property tests in `tests/`: crate-private
/// parsers, reachable only with the `fuzzing` cargo feature (off by default). Not part of the
/// API: anything here may change or go away in any release.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz {
    use crate::error::ProtocolError;
    use crate::params::{Params, ParseLimits};

    /// The query and form parser, run on `input` with the given limits.
    pub fn parse_params(
        input: &[u8],
        max_params: usize,
        max_value_len: usize,
    ) -> Result<ParsedParams<'_>, ProtocolError> {
        let limits = ParseLimits {
            max_params,
            max_value_len,
        };
        Params::parse(input, limits).map(ParsedParams)
    }

    /// What [`parse_params`] accepted.
    #[derive(Debug)]
    pub struct ParsedParams<'a>(Params<'a>);

    /// A parameter occurs more than once.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Repeated;

    impl ParsedParams<'_> {
        /// Every decoded pair, in order.
        pub fn pairs(&self) -> Vec<(&str, &str)> {
            self.0.pairs().collect()
        }

        /// A parameter's value as the endpoints read it: `None` when absent or empty.
        pub fn get(&self, name: &str) -> Result<Option<&str>, Repeated> {
            self.0.get(name).map_err(|_| Repeated)
        }
    }

    /// Form-urlencodes one value (RFC 6749 Appendix B).
    pub fn form_encode(value: &str) -> String {
        let mut out = String::new();
        crate::params::encode_into(&mut out, value);
        out
    }

    /// The client id and secret of an `Authorization: Basic` header (RFC 6749 §2.3.1).
    pub fn basic_credentials(value: &http::HeaderValue) -> Result<(String, String), ProtocolError> {
        crate::endpoint::client_auth::basic_credentials(value)
    }

    /// The URI an authorization response sends the browser to: `base` with `params` in its
    /// query or fragment.
    pub fn redirect_with_params(base: &str, fragment: bool, params: &[(&str, &str)]) -> String {
        crate::RedirectUri::with_params(base, fragment, params)
    }
}

/// The README's examples, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
