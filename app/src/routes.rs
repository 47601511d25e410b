//! The HTTP contract: `/`, `/health`, `/ready`, `/info`, `/metrics`, and JSON errors.

use std::ops::Deref;
use std::sync::Arc;

use actix_web::http::header::ContentType;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use paktech_service::state::Core;
use serde_json::json;

use crate::build_info::{APP_NAME, APP_VERSION, BUILD, BUILD_SHA};

/// Every route the service answers; also the closed set of `route` metric labels.
pub const ROUTES: [&str; 5] = ["/", "/health", "/ready", "/info", "/metrics"];

/// State shared by every worker: the [`Core`] every service has (environment, the `ready`
/// flag that turns false when shutdown begins, metrics), and this service's own bodies.
#[derive(Debug)]
pub struct AppState {
    core: Core,
    // Bodies that cannot change while the process lives, rendered once.
    health_body: Bytes,
    info_body: Bytes,
}

impl Deref for AppState {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

impl AppState {
    pub fn new(environment: &str) -> Arc<Self> {
        let render = |value: serde_json::Value| Bytes::from(value.to_string());
        Arc::new(Self {
            core: Core::new(BUILD, &ROUTES, environment),
            health_body: render(json!({"status": "healthy", "environment": environment})),
            info_body: render(json!({
                "environment": environment,
                "version": APP_VERSION,
                "build_sha": BUILD_SHA,
            })),
        })
    }
}

/// The route a request matched, as a static label (`unmatched` for unknown paths).
pub fn route_label(matched: Option<&str>) -> &'static str {
    paktech_service::state::route_label(&ROUTES, matched)
}

/// Mounts every route; wrong methods answer 405 and unknown paths 404, both in JSON.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let handlers = [
        web::get().to(root),
        web::get().to(health),
        web::get().to(paktech_service::routes::ready::<AppState>),
        web::get().to(info),
        web::get().to(paktech_service::routes::metrics::<AppState>),
    ];
    paktech_service::routes::mount(cfg, ROUTES.into_iter().zip(handlers));
}

/// The current UTC time as Python's `datetime.now(timezone.utc).isoformat()` writes it.
pub fn timestamp_now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}

async fn root(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "app": APP_NAME,
        "environment": state.environment,
        "version": APP_VERSION,
        "build_sha": BUILD_SHA,
        "timestamp": timestamp_now(),
    }))
}

async fn health(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(state.health_body.clone())
}

async fn info(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(state.info_body.clone())
}
