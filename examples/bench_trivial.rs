//! The baseline for the HTTP load test in BENCHMARKS.md: the smallest useful axum token
//! handler. It reads a form body and answers a fixed JSON, on the same runtime and serving
//! setup as the axum demo (`#[tokio::main]`, `axum::serve`, the same log subscriber), so that
//! wrk against it and against the demo's token endpoint compares grantor's work, not the stack.
//!
//! `LISTEN_ADDR=127.0.0.1:3001 cargo run --release --example bench_trivial`, then POST a form
//! to `/token`.

use axum::body::Bytes;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;

const TOKEN: &str = r#"{"access_token":"2YotnFZFEjr1zCsicMWpAA2YotnFZFEjr1zCsicMWpA","token_type":"Bearer","expires_in":3600,"scope":"api.read"}"#;

async fn token(body: Bytes) -> impl IntoResponse {
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    if !form.iter().any(|(k, _)| k == "grant_type") {
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"error":"invalid_request"}"#,
        );
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        TOKEN,
    )
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .init();
    let addr = std::env::var("LISTEN_ADDR").unwrap_or_else(|_| "127.0.0.1:3001".into());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"));
    println!("bench_trivial listening on http://{addr}/token");
    axum::serve(listener, Router::new().route("/token", post(token)))
        .await
        .unwrap_or_else(|e| panic!("server failed: {e}"));
}
