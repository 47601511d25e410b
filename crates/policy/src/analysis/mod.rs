//! Metric analysis of a monitoring window: from reads of every replica's `/metrics` (the
//! window's start, then one per round), what the environment served in between ([`traffic`]),
//! summed up as request rate, error ratio and p50/p99 overall and per route ([`summarize`]),
//! with what the pipeline's own load saw of its requests; the reads make a [`Window`] (its
//! whole and its intervals), judged against thresholds and a baseline with tests that know
//! their error rates ([`judge`], [`stats`], [`power`]).
//!
//! A replica whose counters went down restarted: its counts since the restart are what it
//! served, so they are taken from zero, never as a negative delta (Prometheus' `increase()`
//! treats counter resets the same way).

mod judge;
pub mod power;
pub mod stats;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod verdicts;
mod window;

use std::collections::BTreeMap;

pub use judge::{
    BASELINE_ERROR_RATIO_FLOOR, BASELINE_P99_FLOOR, Decision, FALSE_ROLLBACK_BUDGET, Finding,
    Inconclusive, Look, Metric, Thresholds, Verdict, decide, judge,
};
pub use window::{Reading, Window};

use model::{Histogram, LoadCounts, MetricsSnapshot, ReplicaMetrics, RequestKey};

/// The app's latency histogram bounds (`app/src/metrics.rs`) and `+Inf`: the buckets the
/// judge's tests and `cargo xtask bench analysis` draw simulated answers into.
pub const APP_LATENCY_BUCKETS: [f64; 13] = [
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    1.0,
    f64::INFINITY,
];

/// The route the pipeline's synthetic load asks (`GET /`).
pub const LOAD_ROUTE: &str = "/";

/// Routes the pipeline polls itself (probes and these reads): not the service's traffic, so
/// they are left out, or every window would look busy and healthy.
pub const OWN_ROUTES: [&str; 4] = ["/health", "/ready", "/info", "/metrics"];

/// What the replicas served between two reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Traffic {
    pub requests: BTreeMap<RequestKey, f64>,
    pub latency: BTreeMap<String, Histogram>,
    /// Replicas whose counters went down between the reads: they restarted.
    pub restarted: Vec<String>,
    /// Replicas whose `/metrics` could not be read at the second read, with why.
    pub unreadable: Vec<String>,
}

/// The counts served between `start` and `now`, per series summed over replicas. A replica
/// absent at the start (started since) or restarted counts from zero.
pub fn traffic(start: &MetricsSnapshot, now: &MetricsSnapshot) -> Traffic {
    let mut traffic = Traffic {
        unreadable: now.unreadable.clone(),
        ..Traffic::default()
    };
    for replica in &now.replicas {
        let before = start.replicas.iter().find(|r| r.replica == replica.replica);
        let before = match before {
            Some(before) if went_down(before, replica) => {
                traffic.restarted.push(replica.replica.clone());
                None
            }
            other => other,
        };
        for (key, value) in &replica.requests {
            let old = before.and_then(|b| b.requests.get(key)).copied();
            *traffic.requests.entry(key.clone()).or_default() += value - old.unwrap_or(0.0);
        }
        for (route, histogram) in &replica.latency {
            let old = before.and_then(|b| b.latency.get(route));
            let delta = match old {
                Some(old) => minus(histogram, old),
                None => histogram.clone(),
            };
            add(traffic.latency.entry(route.clone()).or_default(), &delta);
        }
    }
    traffic
}

/// Whether any series of the replica is lower now than before, or gone: a restart.
fn went_down(before: &ReplicaMetrics, now: &ReplicaMetrics) -> bool {
    let requests = before
        .requests
        .iter()
        .any(|(key, old)| now.requests.get(key).is_none_or(|new| new < old));
    let latency = before.latency.iter().any(|(route, old)| {
        now.latency.get(route).is_none_or(|new| {
            old.buckets
                .iter()
                .any(|(le, c)| bucket(new, *le).is_none_or(|n| n < *c))
        })
    });
    requests || latency
}

fn bucket(histogram: &Histogram, le: f64) -> Option<f64> {
    histogram
        .buckets
        .iter()
        .find(|(bound, _)| *bound == le)
        .map(|(_, c)| *c)
}

fn minus(now: &Histogram, before: &Histogram) -> Histogram {
    Histogram {
        buckets: now
            .buckets
            .iter()
            .map(|(le, c)| (*le, c - bucket(before, *le).unwrap_or(0.0)))
            .collect(),
    }
}

/// Adds `other` into `into`, bucket by bucket (the app's histograms share one set of bounds).
fn add(into: &mut Histogram, other: &Histogram) {
    for (le, c) in &other.buckets {
        match into.buckets.iter_mut().find(|(bound, _)| bound == le) {
            Some((_, count)) => *count += c,
            None => into.buckets.push((*le, *c)),
        }
    }
    into.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
}

/// Figures of one route, or of all the service's routes together.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Stats {
    /// The methods seen (to name a route as `GET /`).
    pub methods: Vec<String>,
    pub requests: f64,
    /// Answers with a 5xx status.
    pub errors: f64,
    /// Seconds; `None` without observations.
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    /// The latency observations behind p50 and p99 (the judge counts the slow ones).
    #[serde(skip)]
    pub latency: Histogram,
}

impl Stats {
    /// 5xx (and synthetic requests never answered) over all requests; `None` without
    /// requests.
    pub fn error_ratio(&self) -> Option<f64> {
        (self.requests > 0.0).then(|| self.errors / self.requests)
    }
}

/// What an environment served over a window, ready to be judged.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    /// Length of the window.
    pub seconds: f64,
    pub overall: Stats,
    /// By route (`/`), the service's routes only (not [`OWN_ROUTES`]).
    pub routes: BTreeMap<String, Stats>,
    pub restarted: Vec<String>,
    /// Replicas that served unseen: their `/metrics` could not be read.
    pub unreadable: Vec<String>,
    /// What the pipeline's own load saw meanwhile; its unanswered requests are counted as
    /// failed requests of `GET /` in `routes` and `overall`, and its refused ones (4xx) as
    /// failures of the requests the replicas counted.
    pub synthetic: LoadCounts,
}

impl Summary {
    /// Requests per second over the window.
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.overall.requests / self.seconds
        } else {
            0.0
        }
    }
}

/// Sums `traffic` over a window of `seconds`, leaving out [`OWN_ROUTES`], and adds the
/// synthetic requests that `load` saw go unanswered (timed out, reset, refused: the replicas
/// never counted them) as failed requests of `GET /`, and those it saw answered with a
/// refusal (4xx: the replicas counted them as served) as failures of `GET /`: the pipeline's
/// own request expects a success, so a build refusing everyone does not pass.
pub fn summarize(traffic: &Traffic, seconds: f64, load: &LoadCounts) -> Summary {
    let served = |route: &str| !OWN_ROUTES.contains(&route);
    let mut routes: BTreeMap<String, Stats> = BTreeMap::new();
    for (key, count) in traffic.requests.iter().filter(|(k, _)| served(&k.route)) {
        let stats = routes.entry(key.route.clone()).or_default();
        if !stats.methods.contains(&key.method) {
            stats.methods.push(key.method.clone());
        }
        stats.requests += count;
        if (500..600).contains(&key.status) {
            stats.errors += count;
        }
    }
    let mut all = Histogram::default();
    for (route, histogram) in traffic.latency.iter().filter(|(r, _)| served(r)) {
        add(&mut all, histogram);
        let stats = routes.entry(route.clone()).or_default();
        stats.p50 = quantile(0.5, histogram);
        stats.p99 = quantile(0.99, histogram);
        stats.latency = histogram.clone();
    }
    if load.unanswered > 0 || load.rejected > 0 {
        let stats = routes.entry(LOAD_ROUTE.to_owned()).or_default();
        if !stats.methods.iter().any(|m| m == "GET") {
            stats.methods.push("GET".to_owned());
        }
        stats.requests += load.unanswered as f64;
        // The replicas counted the refused ones; a read that lags the sender cannot make
        // more failures than requests.
        stats.errors = (stats.errors + load.unanswered as f64 + load.rejected as f64).min(
            stats
                .requests
                .max(load.unanswered as f64 + load.rejected as f64),
        );
        stats.requests = stats.requests.max(stats.errors);
    }
    let overall = Stats {
        methods: Vec::new(),
        // Folded from +0.0: an empty float sum is -0.0, which would print as "-0".
        requests: routes.values().fold(0.0, |n, s| n + s.requests),
        errors: routes.values().fold(0.0, |n, s| n + s.errors),
        p50: quantile(0.5, &all),
        p99: quantile(0.99, &all),
        latency: all,
    };
    Summary {
        seconds,
        overall,
        routes,
        restarted: traffic.restarted.clone(),
        unreadable: traffic.unreadable.clone(),
        synthetic: *load,
    }
}

/// Observations in `histogram` slower than `limit` seconds, interpolating linearly inside
/// the bucket that holds the limit (as [`quantile`] does).
pub fn slower_than(histogram: &Histogram, limit: f64) -> f64 {
    let total = histogram.count();
    let mut below = 0.0;
    let mut start = 0.0;
    for (end, count) in &histogram.buckets {
        if *end >= limit {
            if end.is_infinite() {
                // Inside +Inf nothing is known: count the whole bucket as slow.
                return total - below;
            }
            let inside = count - below;
            let share = if *end > start {
                (limit - start) / (end - start)
            } else {
                1.0
            };
            return (total - (below + inside * share)).max(0.0);
        }
        below = *count;
        start = *end;
    }
    0.0
}

/// The `q` quantile of a cumulative histogram, as Prometheus' `histogram_quantile` computes
/// it (`promql/quantile.go`, `BucketQuantile`): find the bucket where the rank falls and
/// interpolate linearly inside it; the lowest bucket starts at 0 when its bound is positive;
/// a rank in the `+Inf` bucket answers the highest finite bound. `None` without observations.
pub fn quantile(q: f64, histogram: &Histogram) -> Option<f64> {
    let buckets = &histogram.buckets;
    let total = histogram.count();
    let infinite_last = buckets.last().is_some_and(|(le, _)| *le == f64::INFINITY);
    if total.is_nan()
        || total <= 0.0
        || buckets.len() < 2
        || !infinite_last
        || !(0.0..=1.0).contains(&q)
    {
        return None;
    }
    let rank = q * total;
    let i = buckets.iter().position(|(_, c)| *c >= rank)?;
    if i == buckets.len() - 1 {
        return Some(buckets[buckets.len() - 2].0);
    }
    let (end, count) = buckets[i];
    let (start, below) = match i {
        0 if end <= 0.0 => return Some(end),
        0 => (0.0, 0.0),
        _ => buckets[i - 1],
    };
    let inside = count - below;
    if inside <= 0.0 {
        return Some(end);
    }
    Some(start + (end - start) * ((rank - below) / inside))
}
