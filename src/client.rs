//! Registered clients (RFC 6749 §2) and their registration rules.

use std::fmt;
use std::sync::Arc;

use crate::error::ConfigError;
use crate::redirect::RedirectUri;
use crate::scope::ScopeSet;
use crate::secret::{ClientSecret, TokenDigest};
use crate::token::SigningAlgorithm;

/// How a client authenticates at the token endpoint (RFC 7591 §2 names; OIDC Core §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientAuthMethod {
    /// HTTP Basic with the form-urlencoded id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body (RFC 6749 §2.3.1).
    ClientSecretPost,
    /// A public client: no authentication, `client_id` in the body.
    None,
    /// A JWT assertion signed with a key from the client's registered JWK set (RFC 7523,
    /// OIDC Core §9).
    PrivateKeyJwt,
}

impl ClientAuthMethod {
    /// The registered name (`client_secret_basic`, `client_secret_post`, `none`).
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuthMethod::ClientSecretBasic => "client_secret_basic",
            ClientAuthMethod::ClientSecretPost => "client_secret_post",
            ClientAuthMethod::None => "none",
            ClientAuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }

    /// Parses a registered name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "client_secret_basic" => Some(ClientAuthMethod::ClientSecretBasic),
            "client_secret_post" => Some(ClientAuthMethod::ClientSecretPost),
            "none" => Some(ClientAuthMethod::None),
            "private_key_jwt" => Some(ClientAuthMethod::PrivateKeyJwt),
            _ => None,
        }
    }
}

/// A grant type a client may use (RFC 6749 §4, §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GrantType {
    /// `authorization_code` (RFC 6749 §4.1).
    AuthorizationCode,
    /// `refresh_token` (RFC 6749 §6).
    RefreshToken,
    /// `client_credentials` (RFC 6749 §4.4).
    ClientCredentials,
}

impl GrantType {
    /// The `grant_type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }

    /// Parses a `grant_type` value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "authorization_code" => Some(GrantType::AuthorizationCode),
            "refresh_token" => Some(GrantType::RefreshToken),
            "client_credentials" => Some(GrantType::ClientCredentials),
            _ => None,
        }
    }

    fn bit(self) -> u8 {
        match self {
            GrantType::AuthorizationCode => 1,
            GrantType::RefreshToken => 2,
            GrantType::ClientCredentials => 4,
        }
    }
}

/// A registered client. Built with [`Client::builder`], which enforces the registration rules;
/// once you hold a `Client` it is consistent.
///
/// ```
/// use grantor::{Client, ClientSecret, GrantType};
/// let web = Client::builder("web-app")
///     .secret(ClientSecret::new("a-long-random-secret"))
///     .redirect_uri("https://app.example.com/callback")
///     .grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
///     .scopes("openid profile api.read")
///     .build()
///     .unwrap();
/// assert!(web.is_confidential());
///
/// // A public client must use PKCE and cannot opt out.
/// assert!(Client::builder("spa")
///     .redirect_uri("https://app.example.com/spa/cb")
///     .require_pkce(false)
///     .build()
///     .is_err());
/// ```
#[derive(Clone)]
pub struct Client {
    id: Box<str>,
    name: Option<Box<str>>,
    secret: Option<TokenDigest>,
    auth_method: ClientAuthMethod,
    redirect_uris: Vec<RedirectUri>,
    grant_types: u8,
    scopes: ScopeSet,
    require_pkce: bool,
    id_token_alg: Option<SigningAlgorithm>,
    introspect_any: bool,
    keys: Option<Arc<ClientKeys>>,
    trusted: bool,
}

impl Client {
    /// Starts a registration for `client_id`.
    pub fn builder(client_id: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            id: client_id.into(),
            name: None,
            secret: None,
            auth_method: None,
            redirect_uris: Vec::new(),
            grant_types: Vec::new(),
            scopes: None,
            require_pkce: true,
            id_token_alg: None,
            introspect_any: false,
            jwks: None,
            trusted: true,
        }
    }

    /// Whether errors found in this client's authorization requests are redirected at once
    /// (RFC 6749 §4.1.2.1), or only after the user has signed in (RFC 9700 §4.11.2), so that
    /// the server is no open redirector for a client whose redirect URIs an attacker may have
    /// registered. See [`ClientBuilder::trusted`].
    pub fn is_trusted(&self) -> bool {
        self.trusted
    }

    /// Whether this client (a resource server) may introspect tokens issued to other
    /// clients (RFC 7662 §4). Every confidential client may introspect its own.
    pub fn may_introspect_any_token(&self) -> bool {
        self.introspect_any
    }

    /// The algorithm this client's ID tokens are signed with (`id_token_signed_response_alg`,
    /// OIDC Dynamic Registration §2); `None` means the server's default (RS256).
    pub fn id_token_signing_alg(&self) -> Option<SigningAlgorithm> {
        self.id_token_alg
    }

    /// The client id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A display name for consent pages (the id when none was given).
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }

    /// Whether the client has a secret (RFC 6749 §2.1).
    pub fn is_confidential(&self) -> bool {
        self.secret.is_some() || self.keys.is_some()
    }

    /// The public keys a `private_key_jwt` client signs its assertions with.
    pub(crate) fn keys(&self) -> Option<&ClientKeys> {
        self.keys.as_deref()
    }

    /// The registered authentication method.
    pub fn auth_method(&self) -> ClientAuthMethod {
        self.auth_method
    }

    /// The registered redirect URIs.
    pub fn redirect_uris(&self) -> &[RedirectUri] {
        &self.redirect_uris
    }

    /// Whether the client may use `grant`.
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types & grant.bit() != 0
    }

    /// The scopes the client may ask for.
    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    /// Whether PKCE is required (always for public clients).
    pub fn require_pkce(&self) -> bool {
        self.require_pkce
    }

    /// Checks a presented secret against the stored digest, in constant time.
    pub fn verify_secret(&self, presented: &ClientSecret) -> bool {
        self.verify_secret_digest(&presented.digest())
    }

    /// [`verify_secret`](Self::verify_secret) for the digest of the presented secret.
    pub(crate) fn verify_secret_digest(&self, presented: &TokenDigest) -> bool {
        match &self.secret {
            Some(d) => d.matches(presented),
            None => false,
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("auth_method", &self.auth_method)
            .field("redirect_uris", &self.redirect_uris)
            .field("scopes", &self.scopes)
            .field("require_pkce", &self.require_pkce)
            .field("trusted", &self.trusted)
            .field("jwks", &self.keys.as_ref().map(|k| k.0.len()))
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`]; see [`Client::builder`].
#[derive(Debug)]
pub struct ClientBuilder {
    id: String,
    name: Option<String>,
    secret: Option<TokenDigest>,
    auth_method: Option<ClientAuthMethod>,
    redirect_uris: Vec<String>,
    grant_types: Vec<GrantType>,
    scopes: Option<String>,
    require_pkce: bool,
    id_token_alg: Option<SigningAlgorithm>,
    introspect_any: bool,
    jwks: Option<serde_json::Value>,
    trusted: bool,
}

impl ClientBuilder {
    /// Registers the client's public JWK set (`{"keys":[...]}`) for `private_key_jwt`
    /// authentication (RFC 7523). RSA, P-256 and Ed25519 keys are accepted; private members
    /// are refused.
    pub fn jwks(mut self, jwks: serde_json::Value) -> Self {
        self.jwks = Some(jwks);
        self
    }

    /// Lets this confidential client (a resource server) introspect tokens issued to any
    /// client (RFC 7662 §2.1, §4). Default `false`: only its own tokens.
    pub fn introspect_any_token(mut self, allow: bool) -> Self {
        self.introspect_any = allow;
        self
    }

    /// Signs this client's ID tokens with `alg` (`id_token_signed_response_alg`). The server
    /// must have an active key for it, or ID tokens for this client fail with `server_error`.
    pub fn id_token_signing_alg(mut self, alg: SigningAlgorithm) -> Self {
        self.id_token_alg = Some(alg);
        self
    }

    /// A display name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Makes the client confidential with this secret; only its SHA-256 digest is kept.
    pub fn secret(mut self, secret: ClientSecret) -> Self {
        self.secret = Some(secret.digest());
        self
    }

    /// Makes the client confidential with a secret known only by its digest (for hosts that
    /// store digests).
    pub fn secret_digest(mut self, digest: TokenDigest) -> Self {
        self.secret = Some(digest);
        self
    }

    /// The authentication method. Defaults to `client_secret_basic` with a secret and `none`
    /// without.
    pub fn auth_method(mut self, method: ClientAuthMethod) -> Self {
        self.auth_method = Some(method);
        self
    }

    /// Adds a redirect URI (validated at [`build`](Self::build)).
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uris.push(uri.into());
        self
    }

    /// The grant types. Defaults to `authorization_code` alone.
    pub fn grant_types(mut self, grants: impl IntoIterator<Item = GrantType>) -> Self {
        self.grant_types = grants.into_iter().collect();
        self
    }

    /// The scopes the client may ask for, space-separated.
    pub fn scopes(mut self, scopes: impl Into<String>) -> Self {
        self.scopes = Some(scopes.into());
        self
    }

    /// Whether the client is trusted (default `true`: a client the host registered itself).
    /// Set `false` for clients anyone could register (dynamic registration, self-service
    /// developer portals): errors in their authorization requests are then redirected only
    /// after the user has signed in (RFC 9700 §4.11.2), never to an anonymous visitor;
    /// `prompt=none` requests still get their error at once (OIDC Core §3.1.2.6).
    pub fn trusted(mut self, trusted: bool) -> Self {
        self.trusted = trusted;
        self
    }

    /// Whether PKCE is required (default `true`). Only a confidential client may turn it off
    /// (RFC 9700 §2.1.1; OAuth 2.1 §4.1.1); a challenge it does send is still enforced.
    pub fn require_pkce(mut self, require: bool) -> Self {
        self.require_pkce = require;
        self
    }

    /// Validates the registration.
    pub fn build(self) -> Result<Client, ConfigError> {
        let invalid = |reason| ConfigError::InvalidClient {
            client_id: self.id.clone(),
            reason,
        };
        if self.id.is_empty() || self.id.bytes().any(|b| !(0x20..=0x7e).contains(&b)) {
            return Err(invalid("client_id must be non-empty printable ASCII"));
        }
        let keys = match &self.jwks {
            Some(jwks) => Some(Arc::new(ClientKeys::parse(jwks).map_err(|reason| {
                ConfigError::InvalidClient {
                    client_id: self.id.clone(),
                    reason,
                }
            })?)),
            None => None,
        };
        let auth_method = match (self.auth_method, self.secret.is_some()) {
            (Some(ClientAuthMethod::PrivateKeyJwt), false) if keys.is_some() => {
                ClientAuthMethod::PrivateKeyJwt
            }
            (Some(ClientAuthMethod::PrivateKeyJwt), _) => {
                return Err(invalid(
                    "private_key_jwt needs a JWK set and no client secret",
                ))
            }
            (_, _) if keys.is_some() => {
                return Err(invalid("a JWK set is only for auth method private_key_jwt"))
            }
            (None, true) => ClientAuthMethod::ClientSecretBasic,
            (None, false) => ClientAuthMethod::None,
            (Some(ClientAuthMethod::None), true) => {
                return Err(invalid(
                    "a client with a secret cannot use auth method none",
                ))
            }
            (Some(m), false) if m != ClientAuthMethod::None => {
                return Err(invalid("a public client must use auth method none"))
            }
            (Some(m), _) => m,
        };
        let confidential = self.secret.is_some() || keys.is_some();
        if !confidential && !self.require_pkce {
            return Err(invalid("a public client cannot opt out of PKCE"));
        }
        let grants = if self.grant_types.is_empty() {
            vec![GrantType::AuthorizationCode]
        } else {
            self.grant_types.clone()
        };
        let mut grant_bits = 0u8;
        for g in &grants {
            grant_bits |= g.bit();
        }
        if !confidential && grant_bits & GrantType::ClientCredentials.bit() != 0 {
            return Err(invalid(
                "client_credentials is for confidential clients only (RFC 6749 §4.4)",
            ));
        }
        let redirect_uris = self
            .redirect_uris
            .iter()
            .map(|u| RedirectUri::parse(u))
            .collect::<Result<Vec<_>, _>>()?;
        if grant_bits & GrantType::AuthorizationCode.bit() != 0 && redirect_uris.is_empty() {
            return Err(invalid(
                "the authorization_code grant needs at least one redirect URI",
            ));
        }
        let scopes = ScopeSet::parse(self.scopes.as_deref().unwrap_or(""))?;
        Ok(Client {
            id: self.id.into(),
            name: self.name.map(Into::into),
            secret: self.secret,
            auth_method,
            redirect_uris,
            grant_types: grant_bits,
            scopes,
            require_pkce: self.require_pkce,
            trusted: self.trusted,
            id_token_alg: self.id_token_alg,
            introspect_any: self.introspect_any && confidential,
            keys,
        })
    }
}

/// A client's registered public keys, parsed once at registration.
#[derive(Clone)]
pub(crate) struct ClientKeys(pub(crate) Vec<ClientKey>);

#[derive(Clone)]
pub(crate) struct ClientKey {
    pub(crate) kid: Option<String>,
    pub(crate) algorithms: &'static [jsonwebtoken::Algorithm],
    pub(crate) key: jsonwebtoken::DecodingKey,
}

impl ClientKeys {
    fn parse(jwks: &serde_json::Value) -> Result<Self, &'static str> {
        use jsonwebtoken::Algorithm as A;
        let keys = jwks
            .get("keys")
            .and_then(|k| k.as_array())
            .ok_or("jwks must be an object with a keys array")?;
        let mut out = Vec::new();
        for jwk in keys {
            for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
                if jwk.get(private).is_some() {
                    return Err("jwks must hold public keys only");
                }
            }
            let algorithms: &'static [A] = match (
                jwk.get("kty").and_then(|v| v.as_str()),
                jwk.get("crv").and_then(|v| v.as_str()),
            ) {
                (Some("RSA"), _) => &[A::RS256, A::PS256],
                (Some("EC"), Some("P-256")) => &[A::ES256],
                (Some("OKP"), Some("Ed25519")) => &[A::EdDSA],
                _ => return Err("jwks holds a key of an unsupported type"),
            };
            let parsed: jsonwebtoken::jwk::Jwk =
                serde_json::from_value(jwk.clone()).map_err(|_| "jwks holds a malformed key")?;
            let key = jsonwebtoken::DecodingKey::from_jwk(&parsed)
                .map_err(|_| "jwks holds a malformed key")?;
            out.push(ClientKey {
                kid: jwk.get("kid").and_then(|v| v.as_str()).map(str::to_owned),
                algorithms,
                key,
            });
        }
        if out.is_empty() {
            return Err("jwks holds no keys");
        }
        Ok(ClientKeys(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_rules() {
        assert!(
            Client::builder("c").build().is_err(),
            "code grant needs a redirect URI"
        );
        assert!(Client::builder("c")
            .grant_types([GrantType::ClientCredentials])
            .build()
            .is_err());
        assert!(Client::builder("c")
            .secret(ClientSecret::new("x"))
            .auth_method(ClientAuthMethod::None)
            .redirect_uri("https://c.example/cb")
            .build()
            .is_err());
        assert!(Client::builder("c")
            .auth_method(ClientAuthMethod::ClientSecretPost)
            .redirect_uri("https://c.example/cb")
            .build()
            .is_err());
        let c = Client::builder("c")
            .secret(ClientSecret::new("s3cr3t"))
            .redirect_uri("https://c.example/cb")
            .require_pkce(false)
            .build()
            .unwrap();
        assert_eq!(c.auth_method(), ClientAuthMethod::ClientSecretBasic);
        assert!(c.verify_secret(&ClientSecret::new("s3cr3t")));
        assert!(!c.verify_secret(&ClientSecret::new("s3cr3T")));
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }
}
