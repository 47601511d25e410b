//! Runs the HTTP server and its graceful shutdown: `/ready` turns 503 first, then the
//! listener closes, then in-flight requests get a bounded time to finish.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

use crate::access_log;
use crate::config::Config;
use crate::state::Core;

/// Serves `state` (registered as `web::Data<S>`) with the routes `configure` mounts, behind
/// the access log, until SIGTERM or SIGINT, then drains and returns.
pub async fn serve<S>(
    config: &Config,
    state: Arc<S>,
    configure: fn(&mut web::ServiceConfig),
) -> std::io::Result<()>
where
    S: Deref<Target = Core> + Send + Sync + 'static,
{
    let data = web::Data::from(Arc::clone(&state));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(from_fn(access_log::record::<S>))
            .configure(configure)
    })
    .workers(config.workers)
    .disable_signals()
    .shutdown_timeout(config.drain_timeout.as_secs());
    let listener = std::net::TcpListener::bind((config.bind_address.as_str(), config.port))?;
    // The same socket, kept to close it for new connections the moment shutdown says so.
    let closer = listener.try_clone()?;
    let server = server.listen(listener)?.run();

    tracing::info!(
        address = %config.bind_address,
        port = config.port,
        workers = config.workers,
        environment = config.environment.as_str(),
        app = state.build.app,
        version = state.build.version,
        build_sha = state.build.build_sha,
        "started"
    );

    let handle = server.handle();
    let shutdown_delay = config.shutdown_delay;
    actix_web::rt::spawn(async move {
        let signal = termination_signal().await;
        state.ready.store(false, Ordering::Release);
        tracing::info!(
            signal,
            delay_ms = shutdown_delay.as_millis() as u64,
            "shutdown started; /ready now answers 503"
        );
        actix_web::rt::time::sleep(shutdown_delay).await;
        // Stopping the accept loop alone leaves the socket listening until the workers have
        // drained: the kernel would go on completing handshakes into its backlog and reset
        // them all at the end, failing requests clients had already sent. Shutting the
        // listening socket down refuses new connections at once (Linux resets only what is
        // queued at this instant), so a client loses at most the one request in flight.
        if let Err(error) = socket2::SockRef::from(&closer).shutdown(std::net::Shutdown::Read) {
            tracing::warn!(%error, "cannot close the listener early; it closes when the workers stop");
        }
        handle.stop(true).await;
    });

    server.await?;
    tracing::info!("stopped");
    Ok(())
}

async fn termination_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; only SIGKILL will stop this process");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
