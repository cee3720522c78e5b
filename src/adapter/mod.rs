//! Glue for web frameworks, one cargo feature each: [`axum`] (feature `axum`) and
//! [`actix`] (feature `actix`).
//!
//! An adapter holds no protocol logic (DESIGN decision 9). It buffers the request body up to
//! a limit (413 past it), converts the framework's request into an [`http::Request`], hands it
//! to the [`AuthorizationServer`] endpoint mounted at that path, and converts the
//! [`HttpResponse`] back. Every method reaches the core's endpoints, so the core decides what
//! `GET`, `POST` and anything else mean (and answers `405` itself); only the two read-only
//! documents (discovery and the JWK set) are routed for `GET` alone, by the framework.
//!
//! [`Mount`] says what is mounted where; each adapter turns it into routes.

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};

use crate::interaction::HttpResponse;
use crate::server::AuthorizationServer;

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "axum")]
pub mod axum;

/// What an adapter mounts: the server and the body limit.
///
/// Each endpoint is mounted at the path the server was built with
/// ([`AuthorizationServer::paths`], set by
/// [`AuthorizationServerBuilder::paths`](crate::AuthorizationServerBuilder::paths)), so the
/// routes always agree with the URLs the server hands out (discovery, the resume URL). Each
/// path is mounted below the issuer's path, so an issuer
/// `https://as.example/tenant` gets its token endpoint at `/tenant/token`; the discovery
/// documents go to [`AuthorizationServer::openid_configuration_path`] and
/// [`AuthorizationServer::authorization_server_metadata_path`].
#[derive(Debug, Clone)]
pub struct Mount {
    server: AuthorizationServer,
    body_limit: usize,
}

impl Mount {
    /// Mounts `server` at the default paths, with the body limit of its
    /// [`Limits::max_body_bytes`](crate::Limits::max_body_bytes).
    pub fn new(server: AuthorizationServer) -> Self {
        let body_limit = server.limits().max_body_bytes;
        Mount { server, body_limit }
    }

    /// The largest request body the adapter buffers, in bytes; a larger one is answered `413`
    /// without reaching the server.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The server.
    pub fn server(&self) -> &AuthorizationServer {
        &self.server
    }

    /// The body limit in force.
    pub fn limit(&self) -> usize {
        self.body_limit
    }

    /// Every route: the absolute path and the endpoint there.
    pub(crate) fn routes(&self) -> Vec<(String, Endpoint)> {
        let discovery = self.server.openid_configuration_path();
        let prefix = discovery
            .strip_suffix("/.well-known/openid-configuration")
            .unwrap_or("");
        let p = self.server.paths();
        let at = |path: &str| format!("{prefix}{path}");
        vec![
            (at(&p.authorization), Endpoint::Authorize),
            (at(&p.resume), Endpoint::Resume),
            (at(&p.token), Endpoint::Token),
            (at(&p.revocation), Endpoint::Revoke),
            (at(&p.introspection), Endpoint::Introspect),
            (at(&p.userinfo), Endpoint::Userinfo),
            (at(&p.jwks), Endpoint::Jwks),
            (
                self.server.authorization_server_metadata_path(),
                Endpoint::Discovery,
            ),
            (discovery, Endpoint::Discovery),
        ]
    }
}

/// One endpoint of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Authorize,
    Resume,
    Token,
    Revoke,
    Introspect,
    Userinfo,
    Jwks,
    Discovery,
}

impl Endpoint {
    /// Whether the endpoint reads the request (and so gets every method); the documents are
    /// served for `GET` only.
    pub(crate) fn takes_request(self) -> bool {
        !matches!(self, Endpoint::Jwks | Endpoint::Discovery)
    }

    /// Hands the request to the server's endpoint.
    pub(crate) async fn call(
        self,
        server: &AuthorizationServer,
        request: http::Request<Bytes>,
    ) -> HttpResponse {
        match self {
            Endpoint::Authorize => server.authorize(request).await,
            Endpoint::Resume => server.resume(request).await,
            Endpoint::Token => server.token(request).await,
            Endpoint::Revoke => server.revoke(request).await,
            Endpoint::Introspect => server.introspect(request).await,
            Endpoint::Userinfo => server.userinfo(request).await,
            Endpoint::Jwks => server.jwks(),
            Endpoint::Discovery => server.discovery(),
        }
    }
}

/// `413 Payload Too Large`, in the shape of the core's own answer.
pub(crate) fn too_large() -> HttpResponse {
    status_json(
        StatusCode::PAYLOAD_TOO_LARGE,
        r#"{"error":"invalid_request","error_description":"request body too large"}"#,
    )
}

/// `400 Bad Request` for a request the framework could not read (a broken body, a header the
/// `http` crate rejects).
pub(crate) fn unreadable() -> HttpResponse {
    status_json(
        StatusCode::BAD_REQUEST,
        r#"{"error":"invalid_request","error_description":"the request could not be read"}"#,
    )
}

fn status_json(status: StatusCode, body: &'static str) -> HttpResponse {
    let mut r = http::Response::new(Bytes::from_static(body.as_bytes()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
