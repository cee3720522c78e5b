//! The actix-web 4 adapter (feature `actix`).
//!
//! actix-web 4 uses `http` 0.2 types inside, so the adapter converts by value, in both
//! directions: method as a string, URI as a string, headers as name and value bytes, status as
//! a `u16`, body as [`Bytes`] (the same `bytes` crate, so the body is not copied). The orphan
//! rule keeps us from implementing actix's `Responder` for `http::Response`, hence the
//! [`Response`] newtype.
//!
//! ```no_run
//! # fn run(server: grantor::AuthorizationServer) -> std::io::Result<()> {
//! use actix_web::{App, HttpServer};
//! # actix_web::rt::System::new().block_on(async move {
//! HttpServer::new(move || App::new().configure(grantor::adapter::actix::configure(server.clone())))
//!     .bind("127.0.0.1:3000")?
//!     .run()
//!     .await
//! # })
//! # }
//! ```

use std::sync::Arc;

use actix_web::body::BoxBody;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponseBuilder, Responder};
use bytes::Bytes;

use super::Mount;
use crate::interaction::HttpResponse;
use crate::server::AuthorizationServer;

/// Every endpoint of `server` at its [paths](AuthorizationServer::paths), with the default
/// body limit, as a function for [`App::configure`](actix_web::App::configure) (or
/// `Scope::configure`).
/// `HttpServer` builds the app once per worker: call this inside its factory, with a clone of
/// the server.
pub fn configure(server: AuthorizationServer) -> impl Fn(&mut web::ServiceConfig) + Clone {
    configure_mount(Mount::new(server))
}

/// Every endpoint of the mounted server, with the mount's body limit, for
/// [`App::configure`](actix_web::App::configure).
pub fn configure_mount(mount: Mount) -> impl Fn(&mut web::ServiceConfig) + Clone {
    let mount = Arc::new(mount);
    move |cfg: &mut web::ServiceConfig| {
        for (path, endpoint) in mount.routes() {
            let mount = Arc::clone(&mount);
            let resource = web::resource(path);
            let resource = if endpoint.takes_request() {
                resource.route(web::route().to(
                    move |request: HttpRequest, payload: web::Payload| {
                        let mount = Arc::clone(&mount);
                        async move {
                            let response =
                                match into_http_request(&request, payload, mount.limit()).await {
                                    Ok(request) => endpoint.call(mount.server(), request).await,
                                    Err(response) => response,
                                };
                            Response(response)
                        }
                    },
                ))
            } else {
                resource.route(web::get().to(move || {
                    let mount = Arc::clone(&mount);
                    async move {
                        Response(
                            endpoint
                                .call(mount.server(), http::Request::new(Bytes::new()))
                                .await,
                        )
                    }
                }))
            };
            cfg.service(resource);
        }
    }
}

/// Reads an actix request and its body, up to `limit` bytes, into an `http::Request<Bytes>`
/// that grantor's endpoints take. Past the limit the error is a `413` response; for a request
/// that cannot be read or converted, a `400`: return it as it is. Useful for the host's own
/// pages too (a login form).
pub async fn into_http_request(
    request: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<http::Request<Bytes>, HttpResponse> {
    let declared = request
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(super::too_large());
    }
    let body = match payload.to_bytes_limited(limit).await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => return Err(super::unreadable()),
        Err(_) => return Err(super::too_large()),
    };
    to_http_request(request, body).ok_or_else(super::unreadable)
}

/// Converts an actix request head and a buffered body into an `http::Request<Bytes>`; `None`
/// when the `http` crate rejects a part of it.
pub fn to_http_request(request: &HttpRequest, body: Bytes) -> Option<http::Request<Bytes>> {
    let mut builder = http::Request::builder()
        .method(http::Method::from_bytes(request.method().as_str().as_bytes()).ok()?)
        .uri(request.uri().to_string())
        .version(version(request.version()));
    let headers = builder.headers_mut()?;
    for (name, value) in request.headers().iter() {
        headers.append(
            http::HeaderName::from_bytes(name.as_str().as_bytes()).ok()?,
            http::HeaderValue::from_bytes(value.as_bytes()).ok()?,
        );
    }
    // The peer address, for the brute-force protection of client authentication.
    if let Some(peer) = request.peer_addr() {
        builder = builder.extension(crate::ClientAddr(peer.ip()));
    }
    builder.body(body).ok()
}

fn version(v: actix_web::http::Version) -> http::Version {
    use actix_web::http::Version as V;
    match v {
        V::HTTP_09 => http::Version::HTTP_09,
        V::HTTP_10 => http::Version::HTTP_10,
        V::HTTP_2 => http::Version::HTTP_2,
        V::HTTP_3 => http::Version::HTTP_3,
        _ => http::Version::HTTP_11,
    }
}

/// Converts grantor's response into an actix response.
pub fn into_actix_response(response: HttpResponse) -> actix_web::HttpResponse {
    let (parts, body) = response.into_parts();
    let status = actix_web::http::StatusCode::from_u16(parts.status.as_u16())
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponseBuilder::new(status);
    for (name, value) in &parts.headers {
        let (Ok(name), Ok(value)) = (
            actix_web::http::header::HeaderName::from_bytes(name.as_str().as_bytes()),
            actix_web::http::header::HeaderValue::from_bytes(value.as_bytes()),
        ) else {
            continue;
        };
        builder.append_header((name, value));
    }
    builder.body(body)
}

/// grantor's response as an actix [`Responder`] (a newtype: the orphan rule forbids
/// implementing `Responder` for `http::Response` here).
#[derive(Debug)]
pub struct Response(pub HttpResponse);

impl From<HttpResponse> for Response {
    fn from(response: HttpResponse) -> Self {
        Response(response)
    }
}

impl Responder for Response {
    type Body = BoxBody;

    fn respond_to(self, _request: &HttpRequest) -> actix_web::HttpResponse<Self::Body> {
        into_actix_response(self.0)
    }
}
