//! The axum 0.8 adapter (feature `axum`).
//!
//! axum's requests and responses are `http` 1 types already, so the adapter only buffers the
//! body (up to the [`Mount`] limit) and maps the response body into [`axum::body::Body`].
//!
//! ```no_run
//! # async fn run(server: grantor::AuthorizationServer) -> std::io::Result<()> {
//! let app: axum::Router = grantor::adapter::axum::routes(server);
//! // Add your own routes (a login page) with `.route(...)` or `.merge(...)`, then serve it:
//! axum::serve(tokio::net::TcpListener::bind("127.0.0.1:3000").await?, app).await?;
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;

use axum::body::Body;
use axum::routing::{any, get};
use axum::Router;
use bytes::Bytes;

use super::{Endpoint, Mount};
use crate::interaction::HttpResponse;
use crate::server::AuthorizationServer;

/// Every endpoint of `server` at its [paths](AuthorizationServer::paths), with the default
/// body limit, on a router that merges into any `Router<S>`.
pub fn routes<S>(server: AuthorizationServer) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router(Mount::new(server))
}

/// Every endpoint of the mounted server, with the mount's body limit.
pub fn router<S>(mount: Mount) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let routes = mount.routes();
    let mount = Arc::new(mount);
    let mut router = Router::new();
    for (path, endpoint) in routes {
        let mount = Arc::clone(&mount);
        router = if endpoint.takes_request() {
            router.route(
                &path,
                any(move |request: axum::extract::Request| async move {
                    into_response(handle(&mount, endpoint, request).await)
                }),
            )
        } else {
            router.route(
                &path,
                get(move || async move {
                    into_response(endpoint.call(mount.server(), empty()).await)
                }),
            )
        };
    }
    router
}

async fn handle(
    mount: &Mount,
    endpoint: Endpoint,
    request: axum::extract::Request,
) -> HttpResponse {
    match into_http_request(request, mount.limit()).await {
        Ok(request) => endpoint.call(mount.server(), request).await,
        Err(response) => response,
    }
}

fn empty() -> http::Request<Bytes> {
    http::Request::new(Bytes::new())
}

/// Buffers an axum request's body, up to `limit` bytes, into an `http::Request<Bytes>` that
/// grantor's endpoints take. Past the limit the error is a `413` response, for a body that
/// cannot be read a `400`: return it as it is. Useful for the host's own pages too (a login
/// form).
pub async fn into_http_request(
    request: axum::extract::Request,
    limit: usize,
) -> Result<http::Request<Bytes>, HttpResponse> {
    let (mut parts, body) = request.into_parts();
    // The peer address, when the app is served with `ConnectInfo<SocketAddr>`, for the
    // brute-force protection of client authentication; a host's own `ClientAddr` wins.
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| crate::ClientAddr(info.0.ip()));
    if let (Some(peer), None) = (peer, parts.extensions.get::<crate::ClientAddr>()) {
        parts.extensions.insert(peer);
    }
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(super::too_large());
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(http::Request::from_parts(parts, bytes)),
        Err(e) => {
            // `to_bytes` reports a body past the limit as an error whose source is
            // `http_body_util::LengthLimitError`; anything else is an I/O failure.
            if is_length_limit(&e) {
                Err(super::too_large())
            } else {
                Err(super::unreadable())
            }
        }
    }
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// Turns grantor's response into an axum response.
pub fn into_response(response: HttpResponse) -> axum::response::Response {
    response.map(Body::from)
}
