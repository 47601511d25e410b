//! One JSON log line and one metrics sample per request (`paktech_service::access_log`).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

use crate::routes::AppState;

/// Middleware: times the request, logs it and counts it under its route pattern.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    paktech_service::access_log::record::<AppState>(req, next).await
}
