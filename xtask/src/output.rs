//! Drawing flow events for people (stderr: live progress on a terminal, plain lines
//! otherwise) and machines (`--json` on stdout).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use pipeline::flow::steps::StepRecord;
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

/// A live spinner per step on a terminal; plain lines otherwise.
pub fn reporter() -> Box<dyn Reporter> {
    let inner: Box<dyn Reporter> = if std::io::stderr().is_terminal() {
        Box::new(Live::default())
    } else {
        Box::new(Lines)
    };
    match std::env::var("PAKTECH_KILL_AFTER_STEP") {
        Ok(step) if !step.is_empty() => Box::new(KillSwitch { inner, step }),
        _ => inner,
    }
}

/// Fault injection for tests: SIGKILLs this very process as soon as the named step has
/// finished, the harshest way a run can end (no destructor, no flush, no cleanup).
struct KillSwitch {
    inner: Box<dyn Reporter>,
    step: String,
}

impl Reporter for KillSwitch {
    fn event(&self, event: Event) {
        let finished = matches!(&event, Event::Finished { step, .. } if *step == self.step);
        self.inner.event(event);
        if finished {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &std::process::id().to_string()])
                .status();
            std::thread::sleep(Duration::from_secs(60));
        }
    }
}

fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded => "ok",
        Outcome::Unchanged => "unchanged",
        Outcome::Skipped => "skipped",
        Outcome::Warned => "warning",
        Outcome::Failed => "FAILED",
    }
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
            } => eprintln!(
                "<== {step}: {} in {:.1}s {detail}",
                outcome_word(outcome),
                duration.as_secs_f64()
            ),
        }
    }
}

/// A spinner for the running step, replaced by a summary line when it finishes.
#[derive(Debug, Default)]
struct Live {
    bar: Mutex<Option<ProgressBar>>,
}

impl Reporter for Live {
    fn event(&self, event: Event) {
        let mut bar = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::Started { step } => {
                let spinner = ProgressBar::new_spinner().with_prefix(step);
                spinner.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:.bold} {elapsed} {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                spinner.enable_steady_tick(Duration::from_millis(120));
                *bar = Some(spinner);
            }
            Event::Progress { message, .. } => {
                if let Some(b) = bar.as_ref() {
                    b.set_message(message);
                }
            }
            Event::Finished {
                step,
                outcome,
                duration,
                detail,
            } => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
                eprintln!(
                    "{:<10} {:<9} {:>6.1}s  {detail}",
                    step,
                    outcome_word(outcome),
                    duration.as_secs_f64()
                );
            }
        }
    }
}

/// The end-of-run table of steps, outcomes and durations, on stderr.
pub fn steps_table(steps: &[StepRecord]) {
    if steps.is_empty() {
        return;
    }
    eprintln!();
    eprintln!("{:<12} {:<10} {:>8}", "step", "outcome", "seconds");
    for s in steps {
        eprintln!(
            "{:<12} {:<10} {:>8.1}",
            s.step,
            outcome_word(s.outcome),
            s.seconds
        );
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
