//! Entry point: `paktech-app` serves; `paktech-app healthcheck` probes a running instance.

use std::process::ExitCode;
use std::time::Duration;

use paktech_app::build_info::{APP_NAME, APP_VERSION, BUILD_SHA};
use paktech_app::config::Config;
use paktech_app::log_format::JsonLines;
use paktech_app::{healthcheck, server};

const USAGE: &str = "usage: paktech-app [healthcheck | --version]";

fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{APP_NAME}: {err}");
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
        [] => serve(config),
        ["healthcheck"] => match healthcheck::is_healthy(config.port, Duration::from_secs(3)) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => {
                eprintln!("{APP_NAME}: /health did not answer 200");
                ExitCode::FAILURE
            }
            Err(err) => {
                eprintln!("{APP_NAME}: /health on port {}: {err}", config.port);
                ExitCode::FAILURE
            }
        },
        ["--version"] => {
            println!("{APP_NAME} {APP_VERSION} ({BUILD_SHA})");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{APP_NAME}: {USAGE}");
            ExitCode::from(2)
        }
    }
}

fn serve(config: Config) -> ExitCode {
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
        .with_env_filter(tracing_subscriber::EnvFilter::new(&config.log_level))
        .with_writer(writer)
        .init();

    match actix_web::rt::System::new().block_on(server::serve(config.clone())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, port = config.port, "cannot serve");
            eprintln!(
                "{APP_NAME}: cannot serve on {}:{}: {err}",
                config.bind_address, config.port
            );
            ExitCode::FAILURE
        }
    }
}
