//! What one read of a replica's `/metrics` holds that analysis judges: its request counters
//! by (method, route, status) and its latency histogram by route. Parsed by
//! `adapters::metrics`, judged by `policy::analysis`.

use std::collections::BTreeMap;

/// One request series: `http_requests_total{method, route, status}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct RequestKey {
    pub method: String,
    pub route: String,
    pub status: u16,
}

/// A cumulative histogram: `(upper bound, observations at or below it)`, ordered by bound,
/// the last bound `+Inf` (the total count), as Prometheus exposes `_bucket{le}` series.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Histogram {
    pub buckets: Vec<(f64, f64)>,
}

impl Histogram {
    /// Observations in all buckets (the `+Inf` bucket's count).
    pub fn count(&self) -> f64 {
        self.buckets.last().map_or(0.0, |(_, c)| *c)
    }
}

/// One replica's metrics at one moment.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ReplicaMetrics {
    /// The replica's name (a container or a pod): what ties two reads of it together.
    pub replica: String,
    /// The build it runs (its image tag).
    pub build: String,
    pub requests: BTreeMap<RequestKey, f64>,
    /// `http_request_duration_seconds` by route.
    pub latency: BTreeMap<String, Histogram>,
}

/// Every readable replica of an environment at one moment.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct MetricsSnapshot {
    pub replicas: Vec<ReplicaMetrics>,
    /// Replicas whose `/metrics` could not be read, with why (their health is the monitor's).
    pub unreadable: Vec<String>,
}

impl MetricsSnapshot {
    /// Only the replicas running `build`: a canary's, or the old build's beside it. An
    /// unreadable replica's build is unknown, so it stays in every part: no part is judged
    /// as if it were not there.
    pub fn of_build(&self, build: &str) -> Self {
        Self {
            replicas: self
                .replicas
                .iter()
                .filter(|r| r.build == build)
                .cloned()
                .collect(),
            unreadable: self.unreadable.clone(),
        }
    }
}

/// What the pipeline's own synthetic load saw of its requests, over some span of time: the
/// replicas' counters cannot see a request that hung, was reset or crashed the handler, so
/// the sender's side of the story counts too (`policy::analysis::summarize`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LoadCounts {
    /// Requests sent.
    pub sent: u64,
    /// Answered with a 5xx status (the replica counted these itself).
    pub server_errors: u64,
    /// Answered, but refused (4xx, or below 200): the replica counted these as served, not
    /// as errors.
    pub rejected: u64,
    /// Never answered: timed out, reset, refused (no replica counted these).
    pub unanswered: u64,
}

impl LoadCounts {
    /// What was seen since `earlier` (a later reading minus an earlier one).
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            sent: self.sent.saturating_sub(earlier.sent),
            server_errors: self.server_errors.saturating_sub(earlier.server_errors),
            rejected: self.rejected.saturating_sub(earlier.rejected),
            unanswered: self.unanswered.saturating_sub(earlier.unanswered),
        }
    }
}
