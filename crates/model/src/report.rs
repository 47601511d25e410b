//! Progress events from flows to whoever draws them (a terminal, JSON lines, a test).

use std::time::Duration;

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    /// Nothing to do: the desired state was already there.
    Unchanged,
    Skipped,
    /// Done, but something non-essential did not work (a notification, say).
    Warned,
    Failed,
}

/// One thing that happened in a flow.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Started {
        step: String,
    },
    Progress {
        step: String,
        message: String,
    },
    Finished {
        step: String,
        outcome: Outcome,
        #[serde(serialize_with = "as_seconds")]
        duration: Duration,
        detail: String,
    },
}

fn as_seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Receives the events of a flow.
pub trait Reporter: Send + Sync {
    fn event(&self, event: Event);

    fn progress(&self, step: &str, message: String) {
        self.event(Event::Progress {
            step: step.to_owned(),
            message,
        });
    }
}

/// Discards every event.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Reporter for Silent {
    fn event(&self, _: Event) {}
}
