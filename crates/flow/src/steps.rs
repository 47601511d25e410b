//! Running a flow's steps: each is timed, announced to the reporter, and recorded.

use std::future::Future;
use std::time::{Duration, Instant};

use model::report::{Event, Outcome, Reporter};

/// One finished step.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StepRecord {
    pub step: String,
    pub outcome: Outcome,
    pub seconds: f64,
    pub detail: String,
}

/// The steps of one flow run, in order.
pub struct Steps<'r> {
    reporter: &'r dyn Reporter,
    pub records: Vec<StepRecord>,
}

impl std::fmt::Debug for Steps<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Steps")
            .field("records", &self.records)
            .finish()
    }
}

impl<'r> Steps<'r> {
    pub fn new(reporter: &'r dyn Reporter) -> Self {
        Self {
            reporter,
            records: Vec::new(),
        }
    }

    pub fn reporter(&self) -> &'r dyn Reporter {
        self.reporter
    }

    /// Runs `work` as `step`. `Ok((outcome, detail, value))` records the outcome; an error
    /// records a failure with the error's message and is returned.
    pub async fn run<T, E: std::fmt::Display>(
        &mut self,
        step: &str,
        work: impl Future<Output = Result<(Outcome, String, T), E>>,
    ) -> Result<T, E> {
        self.reporter.event(Event::Started {
            step: step.to_owned(),
        });
        let started = Instant::now();
        let result = work.await;
        let (outcome, detail) = match &result {
            Ok((outcome, detail, _)) => (*outcome, detail.clone()),
            Err(e) => (Outcome::Failed, e.to_string()),
        };
        self.finish(step, outcome, started.elapsed(), detail);
        result.map(|(_, _, value)| value)
    }

    /// Records a step that already ran (alongside another, say) and took `elapsed`.
    pub fn record<T, E: std::fmt::Display>(
        &mut self,
        step: &str,
        elapsed: Duration,
        result: Result<(Outcome, String, T), E>,
    ) -> Result<T, E> {
        self.reporter.event(Event::Started {
            step: step.to_owned(),
        });
        let (outcome, detail) = match &result {
            Ok((outcome, detail, _)) => (*outcome, detail.clone()),
            Err(e) => (Outcome::Failed, e.to_string()),
        };
        self.finish(step, outcome, elapsed, detail);
        result.map(|(_, _, value)| value)
    }

    /// Records a step that did not run.
    pub fn skip(&mut self, step: &str, why: &str) {
        self.reporter.event(Event::Started {
            step: step.to_owned(),
        });
        self.finish(step, Outcome::Skipped, Duration::ZERO, why.to_owned());
    }

    fn finish(&mut self, step: &str, outcome: Outcome, duration: Duration, detail: String) {
        self.reporter.event(Event::Finished {
            step: step.to_owned(),
            outcome,
            duration,
            detail: detail.clone(),
        });
        self.records.push(StepRecord {
            step: step.to_owned(),
            outcome,
            seconds: duration.as_secs_f64(),
            detail,
        });
    }
}

/// Runs `work` and returns how long it took with its result.
pub async fn timed<T>(work: impl Future<Output = T>) -> (Duration, T) {
    let started = Instant::now();
    let value = work.await;
    (started.elapsed(), value)
}
