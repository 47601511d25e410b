//! One JSON log line and one metrics sample per request.

use std::ops::Deref;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web;

use crate::metrics::RequestLabels;
use crate::state::Core;

/// Middleware for a service whose state `S` is registered as `web::Data<S>`: times the
/// request, logs it and counts it under its route pattern.
pub async fn record<S>(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error>
where
    S: Deref<Target = Core> + 'static,
{
    let started = Instant::now();
    let mut response = next.call(req).await?;
    let elapsed = started.elapsed();
    if let Some(state) = response.request().app_data::<web::Data<S>>()
        && !state.is_ready()
    {
        // Shutting down: answer, then close the connection, so clients reconnect elsewhere
        // instead of sending their next request down a connection about to close.
        response
            .response_mut()
            .head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
    }
    let request = response.request();
    let status = response.status().as_u16();
    let method = method_label(request.method());

    if let Some(state) = request.app_data::<web::Data<S>>() {
        let route = state.route_label(request.match_name());
        tracing::info!(
            target: "access",
            method,
            path = request.path(),
            status,
            latency_ms = elapsed.as_micros() as f64 / 1000.0,
            environment = state.environment.as_str(),
            build_sha = state.build.build_sha,
            "request"
        );
        state.metrics.observe(
            RequestLabels {
                method,
                route,
                status,
            },
            elapsed.as_secs_f64(),
        );
    }
    Ok(response)
}

/// The method as a label value from a closed set, so odd methods cannot grow the label set.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}
