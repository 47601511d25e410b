//! The routes every PakTech service answers alike (`/ready`, `/metrics`) and its JSON
//! errors: wrong methods 405 with `Allow`, unknown paths 404.

use std::ops::Deref;

use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, Route, web};
use serde_json::json;

use crate::state::Core;

/// Mounts `routes` (each path a GET resource named after its pattern, so the access log can
/// label it); other methods on them answer 405 and unknown paths 404, both in JSON.
pub fn mount(
    cfg: &mut web::ServiceConfig,
    routes: impl IntoIterator<Item = (&'static str, Route)>,
) {
    for (path, handler) in routes {
        cfg.service(
            web::resource(path)
                .name(path)
                .route(handler)
                .default_service(web::to(method_not_allowed)),
        );
    }
    cfg.default_service(web::to(not_found));
}

/// `/ready`: 200 while serving, 503 from the moment shutdown begins.
pub async fn ready<S: Deref<Target = Core> + 'static>(state: web::Data<S>) -> HttpResponse {
    if state.is_ready() {
        HttpResponse::Ok().json(json!({"status": "ready", "environment": state.environment}))
    } else {
        HttpResponse::ServiceUnavailable()
            .json(json!({"status": "shutting down", "environment": state.environment}))
    }
}

/// `/metrics`: the Prometheus text exposition.
pub async fn metrics<S: Deref<Target = Core> + 'static>(state: web::Data<S>) -> HttpResponse {
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
