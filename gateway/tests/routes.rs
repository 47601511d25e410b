//! The gateway's HTTP contract, served in-process, in front of a stand-in paktech-app on
//! 127.0.0.1 (up, unhealthy, or nothing listening) and in front of paktech-app's own routes.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, test, web};
use paktech_gateway::build_info::{BUILD_SHA, VERSION};
use paktech_gateway::config::UpstreamUrl;
use paktech_gateway::routes::{self, GatewayState};
use paktech_gateway::upstream::Upstream;
use serde_json::{Value, json};
use support::{FakeApp, UPSTREAM_SHA, nothing_listening};

async fn call(
    state: &Arc<GatewayState>,
    method: Method,
    path: &str,
) -> (StatusCode, String, Vec<u8>) {
    let app = test::init_service(
        App::new()
            .app_data(web::Data::from(Arc::clone(state)))
            .wrap(from_fn(paktech_service::access_log::record::<GatewayState>))
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

async fn get_json(state: &Arc<GatewayState>, path: &str) -> (StatusCode, Value) {
    let (status, content_type, body) = call(state, Method::GET, path).await;
    assert_eq!(content_type, "application/json", "{path}");
    (status, serde_json::from_slice(&body).expect("JSON body"))
}

#[actix_web::test]
async fn info_names_the_service_its_build_and_its_upstream() {
    let state = GatewayState::new("staging", nothing_listening());
    let upstream = state.upstream.url().as_str().to_owned();
    let (status, body) = get_json(&state, "/info").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "environment": "staging",
            "version": VERSION,
            "build_sha": BUILD_SHA,
            "service": "paktech-gateway",
            "upstream": upstream,
        })
    );
}

#[actix_web::test]
async fn dependency_down_health_is_503_naming_it_and_root_is_502() {
    let state = GatewayState::new("dev", nothing_listening());
    let upstream = state.upstream.url().as_str().to_owned();

    let (status, body) = get_json(&state, "/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["dependency"]["name"], "127.0.0.1");
    assert_eq!(body["dependency"]["url"], upstream.as_str());
    let error = body["dependency"]["error"].as_str().expect("why");
    assert!(error.starts_with("GET /health: "), "{error}");
    assert!(error.contains("onnect"), "{error}");

    let (status, body) = get_json(&state, "/").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"], "bad gateway");
    assert_eq!(body["upstream"], upstream.as_str());
    assert!(
        body["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("GET /info: ")),
        "{body}"
    );

    // The drain flag is the gateway's own: it is ready to serve even while its upstream is down.
    let (status, _) = get_json(&state, "/ready").await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn dependency_up_health_is_200_and_root_passes_upstream_build_through() {
    let fake = FakeApp::start(StatusCode::OK);
    let state = GatewayState::new("staging", fake.url());

    let (status, body) = get_json(&state, "/health").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["environment"], "staging");

    let (status, body) = get_json(&state, "/").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["service"], "paktech-gateway");
    assert_eq!(body["build_sha"], BUILD_SHA);
    assert_eq!(
        body["upstream"],
        json!({"environment": "staging", "version": "9.9.9", "build_sha": UPSTREAM_SHA})
    );
    fake.stop().await;
}

#[actix_web::test]
async fn dependency_answering_503_makes_health_503_with_its_status() {
    let fake = FakeApp::start(StatusCode::SERVICE_UNAVAILABLE);
    let state = GatewayState::new("dev", fake.url());
    let (status, body) = get_json(&state, "/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["dependency"]["error"], "GET /health answered 503");
    fake.stop().await;
}

#[actix_web::test]
async fn dependency_check_answers_from_cache_within_its_ttl() {
    let fake = FakeApp::start(StatusCode::OK);
    // An hour's TTL, so the test does not depend on how fast it runs.
    let state =
        GatewayState::with_upstream("dev", Upstream::new(fake.url(), Duration::from_secs(3600)));
    for _ in 0..3 {
        let (status, _) = get_json(&state, "/health").await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(fake.health_hits(), 1);

    let uncached = GatewayState::with_upstream("dev", Upstream::new(fake.url(), Duration::ZERO));
    for _ in 0..2 {
        get_json(&uncached, "/health").await;
    }
    assert_eq!(fake.health_hits(), 3);
    fake.stop().await;
}

#[actix_web::test]
async fn real_paktech_app_routes_as_upstream() {
    // paktech-app's own routes and state on 127.0.0.1, as the gateway reaches it in an environment.
    let app_state = paktech_app::routes::AppState::new("prod");
    let data = web::Data::from(Arc::clone(&app_state));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .configure(paktech_app::routes::configure)
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .expect("bind");
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let url = UpstreamUrl::parse(&format!("http://127.0.0.1:{port}")).expect("url");
    let state = GatewayState::new("prod", url);
    let (status, _) = get_json(&state, "/health").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = get_json(&state, "/").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["upstream"],
        json!({
            "environment": "prod",
            "version": paktech_app::build_info::APP_VERSION,
            "build_sha": paktech_app::build_info::BUILD_SHA,
        })
    );
    handle.stop(false).await;
}

#[actix_web::test]
async fn ready_turns_503_when_shutdown_begins() {
    let state = GatewayState::new("prod", nothing_listening());
    let (status, body) = get_json(&state, "/ready").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ready");
    state.ready.store(false, Ordering::Release);
    let (status, body) = get_json(&state, "/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "shutting down");
}

#[actix_web::test]
async fn unknown_path_is_json_404_and_wrong_method_json_405() {
    let state = GatewayState::new("dev", nothing_listening());
    let (status, body) = get_json(&state, "/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not found");
    for path in routes::ROUTES {
        let (status, content_type, body) = call(&state, Method::DELETE, path).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(content_type, "application/json", "{path}");
        let body: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(body["error"], "method not allowed");
        assert_eq!(body["method"], "DELETE");
    }
}

#[actix_web::test]
async fn metrics_count_requests_with_the_apps_names_and_labels() {
    let state = GatewayState::new("dev", nothing_listening());
    get_json(&state, "/info").await;
    get_json(&state, "/").await;
    get_json(&state, "/does-not-exist").await;
    let (status, content_type, body) = call(&state, Method::GET, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = String::from_utf8(body).expect("utf-8");
    for line in [
        r#"http_requests_total{method="GET",route="/info",status="200"} 1"#,
        r#"http_requests_total{method="GET",route="/",status="502"} 1"#,
        r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        r#"http_request_duration_seconds_count{route="/"} 1"#,
        "# TYPE http_request_duration_seconds histogram",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    let build_info = format!(
        r#"paktech_build_info{{app="paktech-gateway",version="{VERSION}",build_sha="{BUILD_SHA}",environment="dev"}} 1"#
    );
    assert!(text.contains(&build_info), "{text}");
}
