//! The gateway's one dependency, paktech-app, over plain HTTP/1 with bounded waits:
//! its `/info` for `GET /`, and its `/health`, checked at most about once a second.

use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::build_info::SERVICE_NAME;
use crate::config::UpstreamUrl;

/// The longest a request to the upstream may take, connection and body included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest the TCP connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a dependency check's answer stands, so health probes do not hammer the upstream.
pub const HEALTH_TTL: Duration = Duration::from_secs(1);
/// Idle pooled connections are dropped before actix-web's 5 s keep-alive would close them
/// under a request.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(2);
/// The largest body the gateway reads from the upstream.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// A client for the upstream, and the last answer of its health check.
#[derive(Debug)]
pub struct Upstream {
    url: UpstreamUrl,
    client: Client<HttpConnector, Empty<Bytes>>,
    health_ttl: Duration,
    /// Held across a check, so concurrent probes wait for one check instead of each making one.
    health: tokio::sync::Mutex<Option<Checked>>,
}

#[derive(Debug)]
struct Checked {
    at: Instant,
    result: Result<(), String>,
}

impl Upstream {
    /// The upstream at `url`, its health check's answer standing for `health_ttl`
    /// ([`HEALTH_TTL`] in service).
    pub fn new(url: UpstreamUrl, health_ttl: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(connector);
        Self {
            url,
            client,
            health_ttl,
            health: tokio::sync::Mutex::new(None),
        }
    }

    pub fn url(&self) -> &UpstreamUrl {
        &self.url
    }

    /// Whether the upstream's `/health` answers 200, as last checked within the health TTL;
    /// else why not.
    pub async fn health(&self) -> Result<(), String> {
        let mut last = self.health.lock().await;
        if let Some(checked) = last.as_ref()
            && checked.at.elapsed() < self.health_ttl
        {
            return checked.result.clone();
        }
        let result = match self.get("/health").await {
            Ok((200, _)) => Ok(()),
            Ok((status, _)) => Err(format!("GET /health answered {status}")),
            Err(error) => Err(error),
        };
        *last = Some(Checked {
            at: Instant::now(),
            result: result.clone(),
        });
        result
    }

    /// The JSON the upstream's `/info` answers; else why there is none.
    pub async fn info(&self) -> Result<serde_json::Value, String> {
        match self.get("/info").await? {
            (200, body) => serde_json::from_slice(&body)
                .map_err(|error| format!("GET /info answered a body that is not JSON: {error}")),
            (status, _) => Err(format!("GET /info answered {status}")),
        }
    }

    /// `GET <url><path>`: the status and the body, within [`REQUEST_TIMEOUT`].
    async fn get(&self, path: &str) -> Result<(u16, Bytes), String> {
        let request = http::Request::get(format!("{}{path}", self.url))
            .header(http::header::USER_AGENT, SERVICE_NAME)
            .body(Empty::new())
            .map_err(|error| format!("cannot make GET {path}: {error}"))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|error| format!("GET {path}: {}", chain(&error)))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|error| format!("GET {path}: reading the body: {}", chain(&*error)))?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "GET {path}: no answer within {} ms",
                    REQUEST_TIMEOUT.as_millis()
                ))
            })
    }
}

/// An error and its sources, outermost first ("client error (Connect): tcp connect error:
/// Connection refused (os error 111)").
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
