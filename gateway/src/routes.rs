//! The gateway's HTTP contract: `/` (which builds served this request, end to end),
//! `/health` (healthy only while paktech-app answers), `/ready`, `/info`, `/metrics`, and
//! JSON errors.

use std::ops::Deref;
use std::sync::Arc;

use actix_web::http::header::ContentType;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use paktech_service::state::Core;
use serde_json::json;

use crate::build_info::{BUILD, BUILD_SHA, SERVICE_NAME, VERSION};
use crate::config::UpstreamUrl;
use crate::upstream::{HEALTH_TTL, Upstream};

/// Every route the gateway answers; also the closed set of `route` metric labels.
pub const ROUTES: [&str; 5] = ["/", "/health", "/ready", "/info", "/metrics"];

/// State shared by every worker: the [`Core`] every service has, the upstream and its client.
#[derive(Debug)]
pub struct GatewayState {
    core: Core,
    pub upstream: Upstream,
    /// `/info`'s body, which cannot change while the process lives, rendered once.
    info_body: Bytes,
}

impl Deref for GatewayState {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

impl GatewayState {
    /// The state of a gateway serving `environment` in front of `upstream`.
    pub fn new(environment: &str, upstream: UpstreamUrl) -> Arc<Self> {
        Self::with_upstream(environment, Upstream::new(upstream, HEALTH_TTL))
    }

    /// The state of a gateway serving `environment` in front of `upstream` as given.
    pub fn with_upstream(environment: &str, upstream: Upstream) -> Arc<Self> {
        let info_body = Bytes::from(
            json!({
                "environment": environment,
                "version": VERSION,
                "build_sha": BUILD_SHA,
                "service": SERVICE_NAME,
                "upstream": upstream.url().as_str(),
            })
            .to_string(),
        );
        Arc::new(Self {
            core: Core::new(BUILD, &ROUTES, environment),
            upstream,
            info_body,
        })
    }
}

/// Mounts every route; wrong methods answer 405 and unknown paths 404, both in JSON.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let handlers = [
        web::get().to(root),
        web::get().to(health),
        web::get().to(paktech_service::routes::ready::<GatewayState>),
        web::get().to(info),
        web::get().to(paktech_service::routes::metrics::<GatewayState>),
    ];
    paktech_service::routes::mount(cfg, ROUTES.into_iter().zip(handlers));
}

/// Which builds serve this request: the gateway's, and paktech-app's own `/info`.
async fn root(state: web::Data<GatewayState>) -> HttpResponse {
    match state.upstream.info().await {
        Ok(upstream) => HttpResponse::Ok().json(json!({
            "service": SERVICE_NAME,
            "environment": state.environment,
            "version": VERSION,
            "build_sha": BUILD_SHA,
            "upstream": upstream,
        })),
        Err(error) => {
            tracing::warn!(upstream = state.upstream.url().as_str(), %error, "upstream failed");
            HttpResponse::BadGateway().json(json!({
                "error": "bad gateway",
                "upstream": state.upstream.url().as_str(),
                "reason": error,
            }))
        }
    }
}

/// Healthy only while the dependency's `/health` answers 200 (checked at most about once a
/// second): a gateway that cannot reach paktech-app reports itself not ready.
async fn health(state: web::Data<GatewayState>) -> HttpResponse {
    let url = state.upstream.url();
    match state.upstream.health().await {
        Ok(()) => HttpResponse::Ok().json(json!({
            "status": "healthy",
            "environment": state.environment,
            "dependency": {"name": url.host(), "url": url.as_str(), "status": "healthy"},
        })),
        Err(error) => HttpResponse::ServiceUnavailable().json(json!({
            "status": "unhealthy",
            "environment": state.environment,
            "dependency": {"name": url.host(), "url": url.as_str(), "status": "unhealthy", "error": error},
        })),
    }
}

async fn info(state: web::Data<GatewayState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(state.info_body.clone())
}
