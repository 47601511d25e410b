//! The HTTP contract: `/`, `/health`, `/ready`, `/info`, `/metrics`, and JSON errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::http::header::{self, ContentType};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::build_info::{APP_NAME, APP_VERSION, BUILD_SHA};
use crate::metrics::Metrics;

/// Every route the service answers; also the closed set of `route` metric labels.
pub const ROUTES: [&str; 5] = ["/", "/health", "/ready", "/info", "/metrics"];

/// State shared by every worker.
#[derive(Debug)]
pub struct AppState {
    pub environment: String,
    /// False from the moment shutdown begins, so `/ready` turns 503 and traffic drains.
    pub ready: AtomicBool,
    pub metrics: Metrics,
    // Bodies that cannot change while the process lives, rendered once.
    health_body: Bytes,
    info_body: Bytes,
}

impl AppState {
    pub fn new(environment: &str) -> Arc<Self> {
        let render = |value: serde_json::Value| Bytes::from(value.to_string());
        Arc::new(Self {
            environment: environment.to_owned(),
            ready: AtomicBool::new(true),
            metrics: Metrics::new(environment),
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
    matched
        .and_then(|name| ROUTES.iter().find(|route| **route == name))
        .copied()
        .unwrap_or("unmatched")
}

/// Mounts every route; wrong methods answer 405 and unknown paths 404, both in JSON.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let handlers = [
        web::get().to(root),
        web::get().to(health),
        web::get().to(ready),
        web::get().to(info),
        web::get().to(metrics),
    ];
    for (path, handler) in ROUTES.into_iter().zip(handlers) {
        cfg.service(
            web::resource(path)
                .name(path)
                .route(handler)
                .default_service(web::to(method_not_allowed)),
        );
    }
    cfg.default_service(web::to(not_found));
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

async fn ready(state: web::Data<AppState>) -> HttpResponse {
    if state.ready.load(Ordering::Acquire) {
        HttpResponse::Ok().json(json!({"status": "ready", "environment": state.environment}))
    } else {
        HttpResponse::ServiceUnavailable()
            .json(json!({"status": "shutting down", "environment": state.environment}))
    }
}

async fn info(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(state.info_body.clone())
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render())
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    HttpResponse::NotFound()
        .content_type(ContentType::json())
        .json(json!({"error": "not found", "path": req.path()}))
}

async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "GET"))
        .json(json!({"error": "method not allowed", "method": req.method().as_str(), "path": req.path()}))
}
