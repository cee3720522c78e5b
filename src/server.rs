//! [`AuthorizationServer`], its builder and its policy.

use std::sync::Arc;
use std::time::Duration;

use crate::claims::ClaimsProvider;
use crate::clock::{Clock, SystemClock};
use crate::error::ConfigError;
use crate::error::ProtocolError;
use crate::interaction::{ConsentProvider, HttpResponse, UserAuthenticator};
use crate::params::ParseLimits;
use crate::scope::ScopeSet;
use crate::store::{ClientStore, GrantStore};
use crate::token::KeySet;

/// Lifetimes and protocol choices. Every default is the secure one; see each field.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Policy {
    /// How long an authorization code lives. Default 60 s; more than 600 s is rejected
    /// (RFC 6749 §4.1.2 recommends at most 10 minutes).
    pub code_lifetime: Duration,
    /// How long an access token lives. Default 3600 s (RFC 6750 §5.3).
    pub access_token_lifetime: Duration,
    /// How long a pending authorization waits for the user to sign in and consent.
    /// Default 600 s.
    pub interaction_lifetime: Duration,
    /// The scope applied when a request names none (RFC 6749 §3.3). Intersected with the
    /// client's allowed scopes. When empty (the default), such a request fails with
    /// `invalid_scope`.
    pub default_scopes: ScopeSet,
    /// Whether the `plain` PKCE method is accepted. Default `false` (RFC 7636 §7.2,
    /// RFC 9700 §2.1.1).
    pub allow_plain_pkce: bool,
    /// When refresh tokens are issued to clients allowed the `refresh_token` grant. Default
    /// [`RefreshTokenPolicy::OfflineAccess`].
    pub refresh_tokens: RefreshTokenPolicy,
    /// How long a refresh token lives unused; each rotation starts a new idle period
    /// (RFC 9700 §4.14.2: expire after inactivity). Default 14 days.
    pub refresh_token_idle_lifetime: Duration,
    /// How long a refresh-token family lives in all, however often it is rotated.
    /// Default 30 days.
    pub refresh_token_absolute_lifetime: Duration,
    /// Whether access tokens are opaque (stored as digests, checked through the store) or
    /// RFC 9068 JWTs (checked offline against the JWK set). Default opaque.
    pub access_tokens: AccessTokenFormat,
    /// The `aud` of JWT access tokens (RFC 9068 §2.2). Default: the issuer.
    pub access_token_audience: Option<String>,
    /// How long an ID token is valid. Default 3600 s.
    pub id_token_lifetime: Duration,
    /// Whether an `http` loopback redirect URI (`127.0.0.1`, `[::1]`) matches with any port,
    /// for native apps (RFC 8252 §7.3). Default `false`.
    pub loopback_redirect_any_port: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            code_lifetime: Duration::from_secs(60),
            access_token_lifetime: Duration::from_secs(3600),
            interaction_lifetime: Duration::from_secs(600),
            default_scopes: ScopeSet::empty(),
            allow_plain_pkce: false,
            refresh_tokens: RefreshTokenPolicy::OfflineAccess,
            refresh_token_idle_lifetime: Duration::from_secs(14 * 24 * 3600),
            refresh_token_absolute_lifetime: Duration::from_secs(30 * 24 * 3600),
            access_tokens: AccessTokenFormat::Opaque,
            access_token_audience: None,
            id_token_lifetime: Duration::from_secs(3600),
            loopback_redirect_any_port: false,
        }
    }
}

/// The form of access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccessTokenFormat {
    /// 256-bit random values, stored as SHA-256 digests; revocable at once.
    Opaque,
    /// JWTs per RFC 9068 (`typ: at+jwt`), signed with the default signing key; resource
    /// servers validate them offline, so revocation takes effect at expiry.
    Jwt,
}

/// When a client allowed the `refresh_token` grant receives a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshTokenPolicy {
    /// From every code exchange.
    Always,
    /// For OpenID Connect requests only when `offline_access` was granted (OIDC Core §11),
    /// which in turn needs `prompt=consent`; for plain OAuth requests (no `openid` scope)
    /// always. This is the default: a refresh token outlives the user's session, and OIDC
    /// asks for the user's explicit consent to that.
    OfflineAccess,
}

/// Limits on request size (RFC 6749 §10.14: input is untrusted). A request past a limit is
/// answered with a clear 4xx before any other work.
///
/// Every size limit must be positive: [`build`](crate::AuthorizationServerBuilder::build)
/// refuses a zero one, which would fail every request of its kind (a zero
/// `max_query_bytes` every `GET` authorization request, which RFC 6749 §3.1 says MUST be
/// supported; a zero `max_nonce_bytes` every request with a `state`, RFC 6749 §10.12).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Limits {
    /// Largest request body, in bytes. Default 64 KiB; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Largest query string at the authorization endpoint and its resume endpoint, in bytes.
    /// Default 4 KiB; longer ones get 414.
    pub max_query_bytes: usize,
    /// Most parameters in one request. Default 64.
    pub max_params: usize,
    /// Longest single parameter value, in bytes. Default 4 KiB.
    pub max_param_bytes: usize,
    /// Longest `nonce` and `state`, in bytes. Default 512.
    pub max_nonce_bytes: usize,
    /// Brute-force protection for client authentication (RFC 6749 §2.3.1): failures allowed
    /// per client id and source address ([`ClientAddr`](crate::ClientAddr)) in a window,
    /// after which attempts get `429` with `Retry-After`. Default 10 per 60 s; `None` turns
    /// it off (only when the host limits attempts itself).
    pub client_auth_failures: Option<crate::FailureLimit>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024,
            max_query_bytes: 4096,
            max_params: 64,
            max_param_bytes: 4096,
            max_nonce_bytes: 512,
            client_auth_failures: Some(crate::FailureLimit::default()),
        }
    }
}

impl Limits {
    pub(crate) fn parse(&self) -> ParseLimits {
        ParseLimits {
            max_params: self.max_params,
            max_value_len: self.max_param_bytes,
        }
    }
}

/// The paths at which the host mounts each endpoint, relative to the issuer. They are used to
/// build the absolute URLs grantor hands out (the resume URL, discovery).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EndpointPaths {
    /// Default `/authorize`.
    pub authorization: String,
    /// Default `/authorize/resume`.
    pub resume: String,
    /// Default `/token`.
    pub token: String,
    /// Default `/userinfo`.
    pub userinfo: String,
    /// Default `/jwks`.
    pub jwks: String,
    /// Default `/revoke`.
    pub revocation: String,
    /// Default `/introspect`.
    pub introspection: String,
}

impl Default for EndpointPaths {
    fn default() -> Self {
        EndpointPaths {
            authorization: "/authorize".into(),
            resume: "/authorize/resume".into(),
            token: "/token".into(),
            userinfo: "/userinfo".into(),
            jwks: "/jwks".into(),
            revocation: "/revoke".into(),
            introspection: "/introspect".into(),
        }
    }
}

/// Renders the error page shown when an authorization error cannot be redirected
/// (RFC 6749 §4.1.2.1: unknown client, bad redirect URI).
pub type ErrorPageRenderer = dyn Fn(&ProtocolError) -> HttpResponse + Send + Sync;

pub(crate) struct Inner {
    pub(crate) issuer: Arc<str>,
    pub(crate) issuer_origin: Box<str>,
    pub(crate) resume_endpoint: Box<str>,
    pub(crate) token_endpoint: Box<str>,
    pub(crate) basic_challenge: http::HeaderValue,
    pub(crate) clients: Arc<dyn ClientStore>,
    pub(crate) grants: Arc<dyn GrantStore>,
    pub(crate) authenticator: Arc<dyn UserAuthenticator>,
    pub(crate) consent: Arc<dyn ConsentProvider>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) policy: Policy,
    pub(crate) limits: Limits,
    pub(crate) known_scopes: ScopeSet,
    pub(crate) error_page: Option<Arc<ErrorPageRenderer>>,
    pub(crate) keys: Option<KeySet>,
    pub(crate) claims: Arc<dyn ClaimsProvider>,
    pub(crate) discovery: bytes::Bytes,
    pub(crate) paths: EndpointPaths,
    pub(crate) throttle: crate::throttle::Throttle,
}

/// An OAuth 2.0 / OpenID Connect authorization server.
///
/// Cheap to clone (one `Arc`), `Send + Sync`, and every endpoint takes `&self`, so a host puts
/// it straight into its framework's shared state. See the crate documentation for a complete
/// example.
#[derive(Clone)]
pub struct AuthorizationServer {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for AuthorizationServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationServer")
            .field("issuer", &self.inner.issuer)
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

impl AuthorizationServer {
    /// Starts building a server.
    pub fn builder() -> AuthorizationServerBuilder {
        AuthorizationServerBuilder::default()
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The limits in force (adapters use `max_body_bytes` when buffering bodies).
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The endpoint paths given to the builder (relative to the issuer), so that adapters
    /// mount each endpoint exactly where the server's own URLs (discovery, the resume URL)
    /// say it is.
    ///
    /// ```
    /// # use grantor::memory::{MemoryClientStore, MemoryConsent, MemoryGrantStore, MemorySessions};
    /// # use grantor::{AuthorizationServer, EndpointPaths};
    /// let mut paths = EndpointPaths::default();
    /// paths.token = "/oauth2/token".into();
    /// let server = AuthorizationServer::builder()
    ///     .issuer("https://auth.example.com")
    ///     .paths(paths)
    /// #   .clients(MemoryClientStore::new())
    /// #   .grants(MemoryGrantStore::new())
    /// #   .authenticator(MemorySessions::new("/login"))
    /// #   .consent(MemoryConsent::new())
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(server.paths().token, "/oauth2/token");
    /// assert_eq!(server.paths().authorization, "/authorize");
    /// ```
    pub fn paths(&self) -> &EndpointPaths {
        &self.inner.paths
    }
}

/// Builds an [`AuthorizationServer`]. Required: issuer, client store, grant store,
/// authenticator, consent provider. Missing or invalid pieces make [`build`](Self::build)
/// return an error.
#[derive(Default)]
pub struct AuthorizationServerBuilder {
    issuer: Option<String>,
    clients: Option<Arc<dyn ClientStore>>,
    grants: Option<Arc<dyn GrantStore>>,
    authenticator: Option<Arc<dyn UserAuthenticator>>,
    consent: Option<Arc<dyn ConsentProvider>>,
    clock: Option<Arc<dyn Clock>>,
    policy: Policy,
    limits: Limits,
    paths: EndpointPaths,
    scopes: Vec<String>,
    error_page: Option<Arc<ErrorPageRenderer>>,
    allow_http_issuer: bool,
    keys: Option<KeySet>,
    claims: Option<Arc<dyn ClaimsProvider>>,
}

impl std::fmt::Debug for AuthorizationServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationServerBuilder")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl AuthorizationServerBuilder {
    /// The issuer identifier (RFC 8414 §2): an `https` URL without query or fragment.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The client store.
    pub fn clients(mut self, store: impl ClientStore) -> Self {
        self.clients = Some(Arc::new(store));
        self
    }

    /// The grant store.
    pub fn grants(mut self, store: impl GrantStore) -> Self {
        self.grants = Some(Arc::new(store));
        self
    }

    /// The user authenticator (the host's login).
    pub fn authenticator(mut self, authenticator: impl UserAuthenticator) -> Self {
        self.authenticator = Some(Arc::new(authenticator));
        self
    }

    /// The consent provider.
    pub fn consent(mut self, consent: impl ConsentProvider) -> Self {
        self.consent = Some(Arc::new(consent));
        self
    }

    /// The signing keys for ID tokens and JWT access tokens. Without keys the server is a
    /// plain OAuth 2.0 server: `openid` requests are refused and JWT access tokens cannot be
    /// configured.
    pub fn signing_keys(mut self, keys: KeySet) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Where user claims come from (default: none, so ID tokens and userinfo carry `sub`
    /// only).
    pub fn claims(mut self, claims: impl ClaimsProvider) -> Self {
        self.claims = Some(Arc::new(claims));
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// The policy (default: [`Policy::default`]).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The limits (default: [`Limits::default`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Where the endpoints are mounted (default: [`EndpointPaths::default`]).
    pub fn paths(mut self, paths: EndpointPaths) -> Self {
        self.paths = paths;
        self
    }

    /// Declares scopes the server knows, beyond those some client is allowed. A requested scope
    /// that is neither known to the server nor allowed for the client is ignored (OIDC Core
    /// §3.1.2.1); one the server knows but the client may not use is `invalid_scope`.
    /// `openid`, `profile`, `email`, `address`, `phone` and `offline_access` are always known.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Replaces the default error page shown for errors that cannot be redirected.
    pub fn error_page(
        mut self,
        render: impl Fn(&ProtocolError) -> HttpResponse + Send + Sync + 'static,
    ) -> Self {
        self.error_page = Some(Arc::new(render));
        self
    }

    /// **Danger:** accepts an `http` issuer. RFC 8414 §2 requires `https`; use this only for
    /// local development (the demo servers do).
    pub fn danger_allow_http_issuer(mut self, allow: bool) -> Self {
        self.allow_http_issuer = allow;
        self
    }

    /// Validates everything and builds the server.
    pub fn build(self) -> Result<AuthorizationServer, ConfigError> {
        let issuer = self.issuer.ok_or(ConfigError::Missing("issuer"))?;
        let issuer_origin = validate_issuer(&issuer, self.allow_http_issuer)?;
        let clients = self.clients.ok_or(ConfigError::Missing("client store"))?;
        let grants = self.grants.ok_or(ConfigError::Missing("grant store"))?;
        let authenticator = self
            .authenticator
            .ok_or(ConfigError::Missing("user authenticator"))?;
        let consent = self
            .consent
            .ok_or(ConfigError::Missing("consent provider"))?;
        let p = &self.policy;
        if p.code_lifetime.as_secs() == 0 || p.code_lifetime > Duration::from_secs(600) {
            return Err(ConfigError::InvalidPolicy(
                "code_lifetime must be between 1 and 600 seconds (RFC 6749 §4.1.2)",
            ));
        }
        if p.access_token_lifetime.as_secs() == 0 {
            return Err(ConfigError::InvalidPolicy(
                "access_token_lifetime must be at least 1 second",
            ));
        }
        if p.refresh_token_idle_lifetime.as_secs() == 0
            || p.refresh_token_absolute_lifetime < p.refresh_token_idle_lifetime
        {
            return Err(ConfigError::InvalidPolicy(
                "refresh token lifetimes must be positive, the absolute one at least the idle one",
            ));
        }
        if p.interaction_lifetime.as_secs() == 0 {
            return Err(ConfigError::InvalidPolicy(
                "interaction_lifetime must be at least 1 second",
            ));
        }
        let l = &self.limits;
        if l.max_body_bytes == 0
            || l.max_query_bytes == 0
            || l.max_params == 0
            || l.max_param_bytes == 0
            || l.max_nonce_bytes == 0
        {
            return Err(ConfigError::InvalidPolicy("limits must be positive"));
        }
        if p.id_token_lifetime.as_secs() == 0 {
            return Err(ConfigError::InvalidPolicy(
                "id_token_lifetime must be at least 1 second",
            ));
        }
        if p.access_tokens == AccessTokenFormat::Jwt && self.keys.is_none() {
            return Err(ConfigError::Missing(
                "signing keys (JWT access tokens need them)",
            ));
        }
        for path in [
            &self.paths.authorization,
            &self.paths.resume,
            &self.paths.token,
            &self.paths.userinfo,
            &self.paths.jwks,
            &self.paths.revocation,
            &self.paths.introspection,
        ] {
            if !path.starts_with('/') {
                return Err(ConfigError::InvalidPolicy(
                    "endpoint paths must start with /",
                ));
            }
        }
        let mut known = vec![
            "openid".to_owned(),
            "profile".into(),
            "email".into(),
            "address".into(),
            "phone".into(),
            "offline_access".into(),
        ];
        known.extend(self.scopes);
        let known_scopes = ScopeSet::from_iter_checked(&known)?;
        let base = issuer.trim_end_matches('/');
        let resume_endpoint: Box<str> = format!("{base}{}", self.paths.resume).into();
        let basic_challenge = http::HeaderValue::from_str(&format!("Basic realm=\"{issuer}\""))
            .map_err(|_| ConfigError::InvalidIssuer {
                issuer: issuer.clone(),
                reason: "not a valid header value",
            })?;
        let token_endpoint: Box<str> = format!("{base}{}", self.paths.token).into();
        let discovery = crate::endpoint::discovery::document(
            &issuer,
            base,
            &self.paths,
            &self.policy,
            &known_scopes,
            self.keys.as_ref(),
        );
        Ok(AuthorizationServer {
            inner: Arc::new(Inner {
                issuer: issuer.into(),
                issuer_origin: issuer_origin.into(),
                resume_endpoint,
                token_endpoint,
                basic_challenge,
                clients,
                grants,
                authenticator,
                consent,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                policy: self.policy,
                limits: self.limits,
                known_scopes,
                error_page: self.error_page,
                keys: self.keys,
                claims: self
                    .claims
                    .unwrap_or_else(|| Arc::new(crate::claims::NoClaims)),
                discovery,
                paths: self.paths,
                throttle: crate::throttle::Throttle::new(self.limits.client_auth_failures),
            }),
        })
    }
}

/// Checks an issuer (RFC 8414 §2) and returns its origin (`scheme://authority`).
fn validate_issuer(issuer: &str, allow_http: bool) -> Result<String, ConfigError> {
    let err = |reason| ConfigError::InvalidIssuer {
        issuer: issuer.to_owned(),
        reason,
    };
    if issuer.contains('?') {
        return Err(err("must not have a query (RFC 8414 §2)"));
    }
    if issuer.contains('#') {
        return Err(err("must not have a fragment (RFC 8414 §2)"));
    }
    if issuer
        .bytes()
        .any(|b| !(0x21..=0x7e).contains(&b) || b == b'"' || b == b'\\')
    {
        return Err(err("must be printable ASCII without quotes"));
    }
    let rest = if let Some(rest) = issuer.strip_prefix("https://") {
        rest
    } else if let Some(rest) = issuer.strip_prefix("http://") {
        if !allow_http {
            return Err(err(
                "must use https (RFC 8414 §2); danger_allow_http_issuer allows http for development",
            ));
        }
        rest
    } else {
        return Err(err("must be an https URL"));
    };
    let authority_len = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    if authority.is_empty() || authority.contains('@') {
        return Err(err("must have a host and no user information"));
    }
    let scheme_len = issuer.len() - rest.len();
    Ok(issuer[..scheme_len + authority_len].to_owned())
}

#[cfg(test)]
mod tests {
    use super::validate_issuer;

    #[test]
    fn issuer_rules_rfc8414_2() {
        assert_eq!(
            validate_issuer("https://as.example/t1", false).unwrap(),
            "https://as.example"
        );
        assert!(validate_issuer("http://as.example", false).is_err());
        assert!(validate_issuer("http://127.0.0.1:3000", true).is_ok());
        assert!(validate_issuer("https://as.example/?x=1", false).is_err());
        assert!(validate_issuer("https://as.example#f", false).is_err());
        assert!(validate_issuer("https://", false).is_err());
        assert!(validate_issuer("ftp://as.example", false).is_err());
    }
}
