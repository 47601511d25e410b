//! The HTTP contract, served in-process.

use actix_web::middleware::from_fn;
use actix_web::{App, http::StatusCode, test, web};
use paktech_app::build_info::{APP_VERSION, BUILD_SHA};
use paktech_app::routes::{self, AppState};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::Ordering;

async fn call(
    state: &Arc<AppState>,
    method: actix_web::http::Method,
    path: &str,
) -> (StatusCode, String, Vec<u8>) {
    let app = test::init_service(
        App::new()
            .app_data(web::Data::from(Arc::clone(state)))
            .wrap(from_fn(paktech_app::access_log::record))
            .configure(routes::configure),
    )
    .await;
    let response = test::call_service(
        &app,
        test::TestRequest::default()
            .method(method)
            .uri(path)
            .to_request(),
    )
    .await;
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let body = test::read_body(response).await.to_vec();
    (status, content_type, body)
}

async fn get_json(state: &Arc<AppState>, path: &str) -> (StatusCode, Value) {
    let (status, content_type, body) = call(state, actix_web::http::Method::GET, path).await;
    assert_eq!(content_type, "application/json", "{path}");
    (status, serde_json::from_slice(&body).expect("JSON body"))
}

#[actix_web::test]
async fn root_reports_app_build_and_python_style_timestamp() {
    let state = AppState::new("staging");
    let (status, body) = get_json(&state, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["app"], "paktech-app");
    assert_eq!(body["environment"], "staging");
    assert_eq!(body["version"], APP_VERSION);
    assert_eq!(body["build_sha"], BUILD_SHA);
    let ts = body["timestamp"].as_str().expect("timestamp string");
    // 2026-11-26T18:20:34.123456+00:00
    assert_eq!(ts.len(), 32, "{ts}");
    assert!(ts.ends_with("+00:00"), "{ts}");
    assert_eq!(&ts[10..11], "T");
    assert_eq!(&ts[19..20], ".");
    assert!(ts[20..26].bytes().all(|b| b.is_ascii_digit()), "{ts}");
    chrono::DateTime::parse_from_rfc3339(ts).expect("valid RFC 3339");
}

#[actix_web::test]
async fn health_and_info() {
    let state = AppState::new("dev");
    let (status, body) = get_json(&state, "/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        serde_json::json!({"status": "healthy", "environment": "dev"})
    );

    let (status, body) = get_json(&state, "/info").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        serde_json::json!({"environment": "dev", "version": APP_VERSION, "build_sha": BUILD_SHA})
    );
}

#[actix_web::test]
async fn ready_turns_503_when_shutdown_begins() {
    let state = AppState::new("prod");
    let (status, body) = get_json(&state, "/ready").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ready");

    state.ready.store(false, Ordering::Release);
    let (status, body) = get_json(&state, "/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "shutting down");
    // Liveness is unaffected: the process is healthy, only leaving.
    let (status, _) = get_json(&state, "/health").await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn unknown_path_is_json_404() {
    let state = AppState::new("dev");
    let (status, body) = get_json(&state, "/nope/../etc").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not found");
}

#[actix_web::test]
async fn wrong_method_is_json_405_with_allow() {
    let state = AppState::new("dev");
    for path in ["/", "/health", "/ready", "/info", "/metrics"] {
        let (status, content_type, body) = call(&state, actix_web::http::Method::POST, path).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(content_type, "application/json", "{path}");
        let body: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(body["error"], "method not allowed");
        assert_eq!(body["method"], "POST");
    }
}

#[actix_web::test]
async fn metrics_count_requests_by_route_and_status() {
    let state = AppState::new("dev");
    get_json(&state, "/health").await;
    get_json(&state, "/health").await;
    get_json(&state, "/does-not-exist").await;
    let (status, content_type, body) = call(&state, actix_web::http::Method::GET, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = String::from_utf8(body).expect("utf-8");
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/health",status="200"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_request_duration_seconds_count{route="/health"} 2"#),
        "{text}"
    );
    assert!(
        text.contains("# TYPE http_request_duration_seconds histogram"),
        "{text}"
    );
    let build_info = format!(
        r#"paktech_build_info{{app="paktech-app",version="{APP_VERSION}",build_sha="{BUILD_SHA}",environment="dev"}} 1"#
    );
    assert!(text.contains(&build_info), "{text}");
}
