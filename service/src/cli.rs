//! A service binary's entry point: `<service>` serves; `<service> healthcheck` probes a
//! running instance; `<service> --version` says which build it is.

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use crate::build_info::BuildInfo;
use crate::config::{Config, ConfigError};
use crate::healthcheck;
use crate::log_format::JsonLines;

/// Runs the command line of the service `build` with its configuration: a refused
/// configuration or an unknown argument exits 2, naming the service; serving sets up JSON
/// logging, then runs `serve` on an actix system until it returns.
pub fn main<C, F, Fut>(build: &BuildInfo, config: Result<C, ConfigError>, serve: F) -> ExitCode
where
    C: AsRef<Config>,
    F: FnOnce(C) -> Fut,
    Fut: Future<Output = std::io::Result<()>>,
{
    let app = build.app;
    let config = match config {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{app}: {err}");
            return ExitCode::from(2);
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => run(build, config, serve),
        ["healthcheck"] => {
            let port = config.as_ref().port;
            match healthcheck::is_healthy(port, Duration::from_secs(3)) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => {
                    eprintln!("{app}: /health did not answer 200");
                    ExitCode::FAILURE
                }
                Err(err) => {
                    eprintln!("{app}: /health on port {port}: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        ["--version"] => {
            println!("{app} {} ({})", build.version, build.build_sha);
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{app}: usage: {app} [healthcheck | --version]");
            ExitCode::from(2)
        }
    }
}

fn run<C, F, Fut>(build: &BuildInfo, config: C, serve: F) -> ExitCode
where
    C: AsRef<Config>,
    F: FnOnce(C) -> Fut,
    Fut: Future<Output = std::io::Result<()>>,
{
    let Config {
        bind_address,
        port,
        log_level,
        ..
    } = config.as_ref().clone();
    // Logging goes through a background writer so a slow stdout never stalls a worker;
    // it is not lossy: under pressure requests wait rather than lose their log line.
    // The writer flushes whenever its queue runs dry, so lines are batched only under load.
    let (writer, _flush_on_exit) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stdout(),
        ));
    tracing_subscriber::fmt()
        .event_format(JsonLines)
        .with_env_filter(tracing_subscriber::EnvFilter::new(&log_level))
        .with_writer(writer)
        .init();

    match actix_web::rt::System::new().block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, port, "cannot serve");
            eprintln!(
                "{}: cannot serve on {bind_address}:{port}: {err}",
                build.app
            );
            ExitCode::FAILURE
        }
    }
}
