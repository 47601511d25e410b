//! Drawing flow events for people (stderr: live progress on a terminal, plain lines
//! otherwise) and machines (`--json` on stdout).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use flow::steps::StepRecord;
use indicatif::{ProgressBar, ProgressStyle};
use model::report::{Event, Outcome, Reporter};

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
    match KillAt::from_env() {
        Some(at) => Box::new(KillSwitch { inner, at }),
        None => inner,
    }
}

/// Fault injection for tests: SIGKILLs this very process on one event, the harshest way a run
/// can end (no destructor, no flush, no cleanup). `PAKTECH_KILL_AT=<started|progress|finished>:<step>`
/// picks the event (`progress` is the step's first progress event);
/// `PAKTECH_KILL_AFTER_STEP=<step>` is `finished:<step>`.
struct KillSwitch {
    inner: Box<dyn Reporter>,
    at: KillAt,
}

impl Reporter for KillSwitch {
    fn event(&self, event: Event) {
        let now = self.at.matches(&event);
        self.inner.event(event);
        if now {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &std::process::id().to_string()])
                .status();
            std::thread::sleep(Duration::from_secs(60));
        }
    }
}

/// The event a [`KillSwitch`] fires on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KillAt {
    when: When,
    step: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    Started,
    Progress,
    Finished,
}

impl KillAt {
    fn from_env() -> Option<Self> {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        if let Some(spec) = var("PAKTECH_KILL_AT") {
            let parsed = Self::parse(&spec);
            if parsed.is_none() {
                eprintln!(
                    "warning: ignoring PAKTECH_KILL_AT={spec:?}: expected started:<step>, progress:<step> or finished:<step>"
                );
            }
            return parsed;
        }
        var("PAKTECH_KILL_AFTER_STEP").map(|step| KillAt {
            when: When::Finished,
            step,
        })
    }

    fn parse(spec: &str) -> Option<Self> {
        let (when, step) = spec.split_once(':')?;
        let when = match when {
            "started" => When::Started,
            "progress" => When::Progress,
            "finished" => When::Finished,
            _ => return None,
        };
        (!step.is_empty()).then(|| KillAt {
            when,
            step: step.to_owned(),
        })
    }

    fn matches(&self, event: &Event) -> bool {
        match (self.when, event) {
            (When::Started, Event::Started { step })
            | (When::Progress, Event::Progress { step, .. })
            | (When::Finished, Event::Finished { step, .. }) => *step == self.step,
            _ => false,
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
    let width = steps
        .iter()
        .map(|s| s.step.len())
        .max()
        .unwrap_or(0)
        .max(12);
    eprintln!();
    eprintln!("{:<width$} {:<10} {:>8}", "step", "outcome", "seconds");
    for s in steps {
        eprintln!(
            "{:<width$} {:<10} {:>8.1}",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn check(spec: &str, event: Event, expected: Option<bool>) {
        let at = KillAt::parse(spec);
        assert_eq!(
            at.map(|at| at.matches(&event)),
            expected,
            "{spec} on {event:?}"
        );
    }

    #[test]
    fn a_kill_switch_fires_on_the_event_it_names_and_no_other() {
        let started = |step: &str| Event::Started {
            step: step.to_owned(),
        };
        let progress = |step: &str| Event::Progress {
            step: step.to_owned(),
            message: "round 1: healthy".to_owned(),
        };
        let finished = |step: &str| Event::Finished {
            step: step.to_owned(),
            outcome: Outcome::Succeeded,
            duration: Duration::ZERO,
            detail: String::new(),
        };
        check("started:monitor-prod", started("monitor-prod"), Some(true));
        check("started:monitor-prod", started("deploy-prod"), Some(false));
        check(
            "started:monitor-prod",
            finished("monitor-prod"),
            Some(false),
        );
        check(
            "progress:monitor-prod",
            progress("monitor-prod"),
            Some(true),
        );
        check(
            "progress:monitor-prod",
            started("monitor-prod"),
            Some(false),
        );
        check("finished:write-prod", finished("write-prod"), Some(true));
        check("finished:write-prod", progress("write-prod"), Some(false));
        check("monitor-prod", started("monitor-prod"), None);
        check("stopped:monitor-prod", started("monitor-prod"), None);
        check("started:", started(""), None);
    }
}
