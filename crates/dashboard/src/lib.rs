//! The delivery board, a web application of its own (`cargo xtask dashboard [--port N]
//! [--bind ADDR]`): a read-only delivery dashboard. One task
//! gathers the board (`board.rs`, asking the planner in `plans.rs`) from the same status,
//! history and plan the commands read, renders it (`view.rs`, the environments as a matrix of
//! apps by environments in `matrix.rs`, the delivery figures in `delivery.rs`) and pushes each change to open pages as server-sent events
//! (`events.rs`); the HTTP routes (the page, its events, a commit, `/metrics` for Prometheus)
//! only answer from that, and none of them writes anything.
//!
//! Uses `context` (the pipeline as the command line builds it) and the layers below; its
//! benchmark is `bench::board`.

pub mod board;
pub mod cells;
pub mod delivery;
pub mod events;
pub mod gather;
pub mod html;
pub mod matrix;
pub mod plans;
pub mod trust;
pub mod view;

#[cfg(test)]
mod layout_tests;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::{App, HttpResponse, HttpServer, web};
use flow::Pipeline;
use model::GitSha;
use tokio::sync::watch;

use events::Published;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// TCP port to listen on (or `PAKTECH_DASHBOARD_PORT`).
    #[arg(long, env = "PAKTECH_DASHBOARD_PORT", default_value_t = 8470)]
    port: u16,
    /// Listen on this address instead of 127.0.0.1. The page has no login: anyone who can
    /// reach the address sees the delivery state.
    #[arg(long)]
    bind: Option<IpAddr>,
}

impl Args {
    pub async fn run(self, _json: bool) -> anyhow::Result<()> {
        let address = self.bind.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        if let Some(warning) = exposure(address) {
            eprintln!("{warning}");
        }
        let listener = TcpListener::bind((address, self.port)).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                anyhow::Error::new(context::errors::PortInUse {
                    address,
                    port: self.port,
                })
            } else {
                anyhow::Error::new(e).context(format!("cannot listen on {address}:{}", self.port))
            }
        })?;
        let pipeline = context::pipeline().await?;
        let dashboard = Dashboard::start(pipeline, listener).await?;
        eprintln!(
            "dashboard on http://{} (read-only; Ctrl-C stops it)",
            dashboard.address
        );
        tokio::select! {
            served = dashboard.served => served??,
            _ = tokio::signal::ctrl_c() => dashboard.handle.stop(true).await,
        }
        Ok(())
    }
}

/// The warning for listening on `address`, unless only this machine can reach it.
fn exposure(address: IpAddr) -> Option<String> {
    (!address.is_loopback()).then(|| {
        format!(
            "warning: the dashboard listens on {address}: it has no login, so everyone who reaches that address sees every environment's state"
        )
    })
}

/// A running dashboard.
#[derive(Debug)]
pub struct Dashboard {
    pub address: SocketAddr,
    pub handle: actix_web::dev::ServerHandle,
    pub served: tokio::task::JoinHandle<std::io::Result<()>>,
}

#[derive(Debug)]
struct State {
    pipeline: Arc<Pipeline>,
    latest: watch::Receiver<Arc<Published>>,
    interest: Arc<events::Interest>,
}

impl Dashboard {
    /// Reads the board once, then serves it on `listener` and keeps it current; returns once
    /// the first board is there.
    pub async fn start(pipeline: Pipeline, listener: TcpListener) -> anyhow::Result<Self> {
        let address = listener.local_addr()?;
        let (reads, first) = events::first(&pipeline).await?;
        let (sender, latest) = watch::channel(first);
        let pipeline = Arc::new(pipeline);
        let interest = Arc::new(events::Interest::default());
        tokio::spawn(events::poll(
            Arc::clone(&pipeline),
            reads,
            sender,
            Arc::clone(&interest),
        ));
        let state = web::Data::new(State {
            pipeline,
            latest,
            interest,
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .route("/", web::get().to(page))
                .route("/events", web::get().to(stream))
                .route("/commit/{sha}", web::get().to(commit))
                .route("/metrics", web::get().to(prometheus))
                .default_service(web::to(not_found))
        })
        .workers(2)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?
        .run();
        let handle = server.handle();
        Ok(Self {
            address,
            handle,
            served: tokio::spawn(server),
        })
    }
}

async fn page(state: web::Data<State>) -> HttpResponse {
    let touched = state.interest.touch();
    state.interest.fresh(touched).await;
    let published = state.latest.borrow().clone();
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .body(view::page(&published.board, published.error.as_deref()))
}

async fn stream(state: web::Data<State>) -> HttpResponse {
    state.interest.touch();
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-store"))
        .streaming(events::stream(state.latest.clone()))
}

async fn commit(state: web::Data<State>, sha: web::Path<String>) -> HttpResponse {
    let Ok(sha) = sha.parse::<GitSha>() else {
        return HttpResponse::BadRequest()
            .content_type("text/plain; charset=utf-8")
            .body("expected a commit id: 40 lowercase hex characters\n");
    };
    let found = state
        .pipeline
        .git(move |repo| repo.log(&sha, None, 1))
        .await
        .ok()
        .and_then(|records| records.into_iter().next());
    match found {
        Some(record) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(view::commit(&record)),
        None => not_found().await,
    }
}

/// The delivery figures in the Prometheus text exposition format (version 0.0.4).
async fn prometheus(state: web::Data<State>) -> HttpResponse {
    let published = state.latest.borrow().clone();
    match &published.board.delivery {
        Some(Ok(panel)) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .insert_header(("cache-control", "no-store"))
            .body(delivery::exposition(panel)),
        Some(Err(error)) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body(format!("the delivery figures cannot be read: {error}\n")),
        None => HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body("the delivery figures are not read yet\n"),
    }
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body("not found; the dashboard is at /\n")
}

#[cfg(test)]
mod exposure_tests {
    use super::exposure;

    #[test]
    fn only_loopback_addresses_listen_without_a_warning() {
        for (address, warned) in [
            ("127.0.0.1", false),
            ("127.0.0.2", false),
            ("::1", false),
            ("0.0.0.0", true),
            ("::", true),
            ("192.168.1.20", true),
        ] {
            let warning = exposure(address.parse().expect("address"));
            assert_eq!(warning.is_some(), warned, "{address}: {warning:?}");
        }
    }
}
