//! A window of observation as the judge sees it: the whole of it, and its intervals (one per
//! round), made from the reads of every replica's `/metrics` taken along the way. The whole
//! window feeds the ratio tests (each request is one piece of evidence); the intervals feed
//! the latency comparison, which ranks one figure per interval (as Kayenta compares metric
//! series, not cumulative totals).

use super::{Summary, summarize, traffic};
use model::{LoadCounts, MetricsSnapshot};

/// One read of every replica, `at` seconds into the window, with what the pipeline's load
/// had seen by then. Only complete reads make a window's intervals: a read with an
/// unreadable replica is a failed round for the flow, not an interval (its counters would
/// otherwise count twice in the next one).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    pub at: f64,
    pub metrics: MetricsSnapshot,
    pub load: LoadCounts,
}

/// What a window served: in whole and interval by interval.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window {
    pub total: Summary,
    /// From one reading to the next, in order.
    pub intervals: Vec<Summary>,
}

impl Window {
    /// The window from its first reading to its last. Fewer than two readings: an empty
    /// window (nothing was served between reads), keeping the last read's unreadable
    /// replicas so the judge still sees them.
    pub fn new(readings: &[Reading]) -> Self {
        let (Some(first), Some(last)) = (readings.first(), readings.last()) else {
            return Self::default();
        };
        Self {
            total: span(first, last),
            intervals: readings.windows(2).map(|w| span(&w[0], &w[1])).collect(),
        }
    }

    /// This window (made from all of `readings` but the last) grown by the last: one more
    /// interval, a new whole. Equal to [`Window::new`] over `readings`, without summing every
    /// interval again (a simulation of many windows judges every round).
    pub fn grown(mut self, readings: &[Reading]) -> Self {
        if let ([first, ..], [.., previous, newest]) = (readings, readings) {
            self.intervals.push(span(previous, newest));
            self.total = span(first, newest);
            self
        } else {
            Self::new(readings)
        }
    }

    /// The p99 of every interval that had latency observations, in order.
    pub fn interval_p99s(&self) -> Vec<f64> {
        self.intervals
            .iter()
            .filter_map(|i| i.overall.p99)
            .collect()
    }
}

/// What was served from `a` to `b`.
fn span(a: &Reading, b: &Reading) -> Summary {
    summarize(
        &traffic(&a.metrics, &b.metrics),
        (b.at - a.at).max(0.0),
        &b.load.since(&a.load),
    )
}
