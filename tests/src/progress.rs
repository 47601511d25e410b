//! A reporter keeping every progress line, for assertions on what a flow said it did.

use std::sync::Mutex;

use model::report::{Event, Reporter};

/// Every progress line, as `step: message`.
#[derive(Debug, Default)]
pub struct Progress(Mutex<Vec<String>>);

impl Reporter for Progress {
    fn event(&self, event: Event) {
        if let Event::Progress { step, message } = event {
            self.0
                .lock()
                .expect("progress")
                .push(format!("{step}: {message}"));
        }
    }
}

impl Progress {
    /// Every line so far, one per line.
    pub fn all(&self) -> String {
        self.0.lock().expect("progress").join("\n")
    }
}
