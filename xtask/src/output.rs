//! Drawing flow events for people (stderr) and machines (`--json` on stdout).

use std::io::IsTerminal;

use pipeline::report::{Event, Outcome, Reporter};

/// Installs the log subscriber: `RUST_LOG` filters (default `warn`), output on stderr.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// Writes one line per event on stderr.
#[derive(Debug, Default)]
pub struct Lines;

impl Reporter for Lines {
    fn event(&self, event: Event) {
        match event {
            Event::Started { step } => eprintln!("==> {step}"),
            Event::Progress { step, message } => eprintln!("    [{step}] {message}"),
            Event::Finished {
                step,
                outcome,
                duration,
                detail,
            } => {
                let outcome = match outcome {
                    Outcome::Succeeded => "ok",
                    Outcome::Unchanged => "unchanged",
                    Outcome::Skipped => "skipped",
                    Outcome::Failed => "FAILED",
                };
                eprintln!(
                    "<== {step}: {outcome} in {:.1}s {detail}",
                    duration.as_secs_f64()
                );
            }
        }
    }
}

/// Prints `value` as one JSON document on stdout.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A byte count for people: `6.1 MB`.
pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}
