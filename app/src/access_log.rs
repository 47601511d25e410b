//! One JSON log line and one metrics sample per request.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;

use crate::build_info::BUILD_SHA;
use crate::metrics::RequestLabels;
use crate::routes::AppState;

/// Middleware: times the request, logs it and counts it under its route pattern.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let response = next.call(req).await?;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());

    if let Some(state) = state {
        tracing::info!(
            target: "access",
            method = method.as_str(),
            path,
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            environment = state.environment.as_str(),
            build_sha = BUILD_SHA,
            "request"
        );
        state.metrics.observe(
            RequestLabels {
                method: method.as_str().to_owned(),
                route,
                status,
            },
            elapsed.as_secs_f64(),
        );
    }
    Ok(response)
}
