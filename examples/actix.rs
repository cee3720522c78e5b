//! A complete demo authorization server on actix-web: `cargo run --example actix --features
//! actix` (or `--all-features`). It follows the shared demo contract: see README.md, "Run the
//! demo".

#[path = "demo/mod.rs"]
pub mod demo;

use std::process::ExitCode;
use std::sync::Arc;

use actix_web::{web, App, HttpRequest, HttpServer};
use grantor::adapter::actix::{into_http_request, Response};

/// The whole app: grantor's endpoints plus the demo's home and login pages, for
/// `App::configure`.
pub fn configure(demo: Arc<demo::Demo>) -> impl Fn(&mut web::ServiceConfig) + Clone {
    let endpoints = grantor::adapter::actix::configure(demo.server.clone());
    move |cfg: &mut web::ServiceConfig| {
        endpoints(cfg);
        let login = Arc::clone(&demo);
        cfg.service(web::resource(demo.login_path()).route(web::route().to(
            move |request: HttpRequest, payload: web::Payload| {
                let demo = Arc::clone(&login);
                async move {
                    Response(
                        match into_http_request(&request, payload, demo::LOGIN_BODY_LIMIT).await {
                            Ok(request) => demo.login(request),
                            Err(response) => response,
                        },
                    )
                }
            },
        )));
        let home = Arc::clone(&demo);
        cfg.service(
            web::resource(demo.home_path()).route(web::get().to(move || {
                let demo = Arc::clone(&home);
                async move { Response(demo.home()) }
            })),
        );
    }
}

#[actix_web::main]
async fn main() -> ExitCode {
    let (settings, demo) = match demo::start() {
        Ok(started) => started,
        Err(code) => return code,
    };
    // HttpServer stops gracefully on SIGINT and SIGTERM by itself.
    let app_demo = Arc::clone(&demo);
    let server = HttpServer::new(move || App::new().configure(configure(Arc::clone(&app_demo))))
        .workers(2)
        .bind(&settings.listen_addr);
    let server = match server {
        Ok(s) => s,
        Err(e) => return demo::cannot_listen(&settings, e),
    };
    println!("{}", demo.startup_line("actix", &settings.listen_addr));
    match server.run().await {
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
