//! What the gateway's tests share: a stand-in paktech-app on 127.0.0.1 answering `/health`
//! and `/info` as a build with a made-up SHA, counting the requests it gets, and a port with
//! nothing listening.

#![allow(dead_code)]

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, HttpServer, web};
use paktech_gateway::config::UpstreamUrl;

/// The SHA the stand-in reports, which no real build has.
pub const UPSTREAM_SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// A stand-in paktech-app.
#[derive(Debug)]
pub struct FakeApp {
    pub port: u16,
    /// Requests it has answered, by route: `/health`, `/info`.
    health_hits: Arc<AtomicUsize>,
    handle: ServerHandle,
}

#[derive(Debug)]
struct Behaviour {
    health: StatusCode,
    health_hits: Arc<AtomicUsize>,
}

impl FakeApp {
    /// Starts one whose `/health` answers `health`, inside the running actix system.
    pub fn start(health: StatusCode) -> Self {
        let health_hits = Arc::new(AtomicUsize::new(0));
        let behaviour = web::Data::new(Behaviour {
            health,
            health_hits: Arc::clone(&health_hits),
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(behaviour.clone())
                .route("/health", web::get().to(fake_health))
                .route("/info", web::get().to(fake_info))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("bind the stand-in");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            port,
            health_hits,
            handle,
        }
    }

    /// Starts one whose `/health` answers `health`, on an actix system of its own thread (for
    /// tests that are not async), and leaves it running.
    pub fn start_in_thread(health: StatusCode) -> Self {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                sender
                    .send(FakeApp::start(health))
                    .expect("send the stand-in");
                // Serves until the test process exits.
                std::future::pending::<()>().await;
            });
        });
        receiver.recv().expect("the stand-in started")
    }

    pub fn url(&self) -> UpstreamUrl {
        UpstreamUrl::parse(&format!("http://127.0.0.1:{}", self.port)).expect("url")
    }

    /// How many `/health` requests it has answered.
    pub fn health_hits(&self) -> usize {
        self.health_hits.load(Ordering::SeqCst)
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

async fn fake_health(behaviour: web::Data<Behaviour>) -> HttpResponse {
    behaviour.health_hits.fetch_add(1, Ordering::SeqCst);
    HttpResponse::build(behaviour.health).json(serde_json::json!({"status": "healthy"}))
}

async fn fake_info() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "environment": "staging",
        "version": "9.9.9",
        "build_sha": UPSTREAM_SHA,
    }))
}

/// A port on 127.0.0.1 with nothing listening: connections to it are refused at once.
pub fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The URL of [`closed_port`].
pub fn nothing_listening() -> UpstreamUrl {
    UpstreamUrl::parse(&format!("http://127.0.0.1:{}", closed_port())).expect("url")
}
