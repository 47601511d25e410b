//! The reference `cargo xtask bench app` measures the app beside, in the same run: a bare
//! actix-web server with the same workers (one per core), answering `/health` (200, empty) and
//! `/info` (a fixed JSON object of the app's shape), with no middleware, no metrics, no state
//! and no logs. What the app costs beyond it is what its own plumbing costs; a drop of the
//! bare figure is the machine, not the app.

use actix_web::{App, HttpResponse, HttpServer, web};

const INFO: &str = r#"{"environment":"bench","version":"0.1.0","build_sha":"0000000000000000000000000000000000000000","service":"paktech-bare"}"#;

fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(8080);
    let address = std::env::var("BIND_ADDRESS").unwrap_or_else(|_| "127.0.0.1".to_owned());
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(|| {
            App::new()
                .route(
                    "/health",
                    web::get().to(|| async { HttpResponse::Ok().finish() }),
                )
                .route(
                    "/info",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .body(INFO)
                    }),
                )
        })
        .bind((address.as_str(), port))?
        .run()
        .await
    })
}
