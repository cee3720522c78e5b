//! A complete demo authorization server on axum: `cargo run --example axum --features axum`
//! (or `--all-features`). It follows the shared demo contract: see README.md, "Run the demo".

#[path = "demo/mod.rs"]
pub mod demo;

use std::process::ExitCode;
use std::sync::Arc;

use axum::extract::Request;
use axum::routing::{any, get};
use axum::Router;
use grantor::adapter::axum::{into_http_request, into_response, routes};

/// The whole app: grantor's endpoints plus the demo's home and login pages.
pub fn app(demo: Arc<demo::Demo>) -> Router {
    let login = {
        let demo = Arc::clone(&demo);
        move |request: Request| async move {
            into_response(
                match into_http_request(request, demo::LOGIN_BODY_LIMIT).await {
                    Ok(request) => demo.login(request),
                    Err(response) => response,
                },
            )
        }
    };
    let home = {
        let demo = Arc::clone(&demo);
        move || async move { into_response(demo.home()) }
    };
    routes(demo.server.clone())
        .route(&demo.login_path(), any(login))
        .route(&demo.home_path(), get(home))
}

#[tokio::main]
async fn main() -> ExitCode {
    let (settings, demo) = match demo::start() {
        Ok(started) => started,
        Err(code) => return code,
    };
    let listener = match tokio::net::TcpListener::bind(&settings.listen_addr).await {
        Ok(l) => l,
        Err(e) => return demo::cannot_listen(&settings, e),
    };
    println!("{}", demo.startup_line("axum", &settings.listen_addr));
    // With the peer address, so that grantor's brute-force protection of client
    // authentication counts failures per client id and source address.
    let service =
        app(Arc::clone(&demo)).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, service)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    match served {
        Ok(()) => {
            eprintln!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: the server failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves at SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
