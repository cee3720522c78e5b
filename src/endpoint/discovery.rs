//! Discovery (OpenID Connect Discovery 1.0 §3, RFC 8414 §2) and the JWK set (RFC 7517 §5).
//!
//! The metadata document describes exactly what this server does, and is serialized once when
//! the server is built (DESIGN decision 10). RFC 8414 §3.2: members with no values are left
//! out rather than sent as empty arrays.

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Map, Value};

use crate::interaction::HttpResponse;
use crate::scope::ScopeSet;
use crate::server::{AccessTokenFormat, AuthorizationServer, EndpointPaths, Policy};
use crate::token::KeySet;

/// The metadata document, serialized. `issuer` is the issuer identifier exactly as configured
/// (RFC 8414 §3.3, OIDC Discovery §4.3: identical to the `iss` of tokens and responses);
/// `base` is it without a terminating `/`, for the endpoint URLs.
pub(crate) fn document(
    issuer: &str,
    base: &str,
    paths: &EndpointPaths,
    policy: &Policy,
    known_scopes: &ScopeSet,
    keys: Option<&KeySet>,
) -> Bytes {
    let url = |path: &str| format!("{base}{path}");
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    put("issuer", json!(issuer));
    put("authorization_endpoint", json!(url(&paths.authorization)));
    put("token_endpoint", json!(url(&paths.token)));
    put("revocation_endpoint", json!(url(&paths.revocation)));
    put("introspection_endpoint", json!(url(&paths.introspection)));
    put("response_types_supported", json!(["code"]));
    put(
        "response_modes_supported",
        json!(["query", "fragment", "form_post"]),
    );
    put(
        "grant_types_supported",
        json!(["authorization_code", "refresh_token", "client_credentials"]),
    );
    let auth_methods = json!([
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none"
    ]);
    put(
        "token_endpoint_auth_methods_supported",
        auth_methods.clone(),
    );
    put("revocation_endpoint_auth_methods_supported", auth_methods);
    put(
        "introspection_endpoint_auth_methods_supported",
        json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt"
        ]),
    );
    put(
        "token_endpoint_auth_signing_alg_values_supported",
        json!(["RS256", "PS256", "ES256", "EdDSA"]),
    );
    let mut pkce = vec!["S256"];
    if policy.allow_plain_pkce {
        pkce.push("plain");
    }
    put("code_challenge_methods_supported", json!(pkce));
    put(
        "authorization_response_iss_parameter_supported",
        json!(true),
    );
    put("request_parameter_supported", json!(false));
    put("request_uri_parameter_supported", json!(false));
    put("claims_parameter_supported", json!(false));
    let mut scopes: Vec<&str> = known_scopes.iter().collect();
    if keys.is_some() {
        let algs: Vec<&str> = keys
            .map(|k| k.active_algorithms())
            .unwrap_or_default()
            .iter()
            .map(|a| a.as_str())
            .collect();
        put("jwks_uri", json!(url(&paths.jwks)));
        put("userinfo_endpoint", json!(url(&paths.userinfo)));
        put("subject_types_supported", json!(["public"]));
        if !algs.is_empty() {
            put("id_token_signing_alg_values_supported", json!(algs));
        }
        put(
            "prompt_values_supported",
            json!(["none", "login", "consent", "select_account"]),
        );
        let mut claims = vec![
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "acr",
            "amr",
            "at_hash",
        ];
        claims.extend(crate::claims::all_standard_claims());
        put("claims_supported", json!(claims));
        // What mint_jwt_access_token signs with.
        let jwt_alg = keys.and_then(crate::token::id_token::default_algorithm);
        if let (AccessTokenFormat::Jwt, Some(alg)) = (policy.access_tokens, jwt_alg) {
            put(
                "access_token_signing_alg_values_supported",
                json!([alg.as_str()]),
            );
        }
    } else {
        scopes.retain(|s| *s != "openid");
    }
    put("scopes_supported", json!(scopes));
    serde_json::to_vec(&Value::Object(m))
        .map(Bytes::from)
        .unwrap_or_default()
}

fn public_json(body: Bytes) -> HttpResponse {
    let mut r = http::Response::new(body);
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    // Public documents: relying parties in browsers fetch them cross-origin.
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

impl AuthorizationServer {
    /// The metadata document, for `GET` at both
    /// [`openid_configuration_path`](Self::openid_configuration_path) and
    /// [`authorization_server_metadata_path`](Self::authorization_server_metadata_path).
    pub fn discovery(&self) -> HttpResponse {
        public_json(self.inner.discovery.clone())
    }

    /// The JWK set document (`jwks_uri`): the public keys only. 404 without signing keys.
    pub fn jwks(&self) -> HttpResponse {
        match &self.inner.keys {
            Some(keys) => {
                let mut r = public_json(keys.jwks_json());
                r.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=60"),
                );
                r
            }
            None => {
                let mut r = http::Response::new(Bytes::new());
                *r.status_mut() = StatusCode::NOT_FOUND;
                r
            }
        }
    }

    /// Where OpenID Connect Discovery 1.0 §4 puts the document: the issuer's path followed by
    /// `/.well-known/openid-configuration`.
    pub fn openid_configuration_path(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer_path())
    }

    /// Where RFC 8414 §3 puts the document: `/.well-known/oauth-authorization-server`
    /// followed by the issuer's path.
    pub fn authorization_server_metadata_path(&self) -> String {
        format!(
            "/.well-known/oauth-authorization-server{}",
            self.issuer_path()
        )
    }

    fn issuer_path(&self) -> &str {
        let origin_len = self.inner.issuer_origin.len();
        self.inner.issuer[origin_len..].trim_end_matches('/')
    }
}
