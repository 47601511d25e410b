//! Reading a replica's `/metrics` (the Prometheus text format, or OpenMetrics as the app's
//! `prometheus-client` writes it) into a [`ReplicaMetrics`]: the request counters and the
//! latency histogram that analysis judges. Parsing is `prometheus-parse`'s (see
//! `docs/architecture.md` for why that crate).

use std::time::Duration;

use model::{Histogram, ReplicaMetrics, RequestKey};

/// `http_requests_total{method, route, status}`.
pub const REQUESTS: &str = "http_requests_total";
/// `http_request_duration_seconds{route}`, a histogram.
pub const LATENCY: &str = "http_request_duration_seconds";

/// Why a `/metrics` text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A line that is neither a comment nor a sample with a number: an error page, a proxy's
    /// answer, a truncated body. `prometheus-parse` skips such lines silently, so they are
    /// looked for here: read as "nothing served", they would pass as an idle replica.
    #[error("line {line} of /metrics is not in the Prometheus text format: `{text}`")]
    Unparsable { line: usize, text: String },
}

/// Reads `text`, the `/metrics` of `replica` which runs `build`. Series other than the two
/// above are ignored; a sample without the expected labels is skipped (the app writes
/// them all, and a partial read must not be judged as traffic). Text that does not parse is
/// an error (the replica is unreadable), never an empty read.
pub fn parse(replica: &str, build: &str, text: &str) -> Result<ReplicaMetrics, Error> {
    check(text)?;
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    // Reading from memory cannot fail.
    let samples = prometheus_parse::Scrape::parse(lines)
        .map(|s| s.samples)
        .unwrap_or_default();
    let mut metrics = ReplicaMetrics {
        replica: replica.to_owned(),
        build: build.to_owned(),
        ..ReplicaMetrics::default()
    };
    for sample in samples {
        match (sample.metric.as_str(), &sample.value) {
            // OpenMetrics types the family `http_requests`, so its `_total` samples come
            // back untyped; the plain text format types them as counters.
            (
                REQUESTS,
                prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v),
            ) => {
                let labels = &sample.labels;
                let (Some(method), Some(route), Some(status)) = (
                    labels.get("method"),
                    labels.get("route"),
                    labels.get("status").and_then(|s| s.parse().ok()),
                ) else {
                    continue;
                };
                let key = RequestKey {
                    method: method.to_owned(),
                    route: route.to_owned(),
                    status,
                };
                *metrics.requests.entry(key).or_default() += v;
            }
            (LATENCY, prometheus_parse::Value::Histogram(counts)) => {
                let Some(route) = sample.labels.get("route") else {
                    continue;
                };
                let mut buckets: Vec<(f64, f64)> =
                    counts.iter().map(|c| (c.less_than, c.count)).collect();
                buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                metrics
                    .latency
                    .insert(route.to_owned(), Histogram { buckets });
            }
            _ => {}
        }
    }
    Ok(metrics)
}

/// The first line `prometheus-parse` would skip as unreadable: not blank, not a comment, and
/// not a sample whose value is a number (its parser's own rules, `LineInfo::parse`).
fn check(text: &str) -> Result<(), Error> {
    use prometheus_parse::LineInfo;
    for (i, line) in text.lines().enumerate() {
        let sample_ok = match LineInfo::parse(line) {
            LineInfo::Empty | LineInfo::Doc { .. } | LineInfo::Type { .. } => true,
            LineInfo::Sample { value, .. } => {
                value.eq_ignore_ascii_case("nan") || value.parse::<f64>().is_ok()
            }
            LineInfo::Ignored => line.trim_start().starts_with('#'),
        };
        if !sample_ok {
            let text: String = line.chars().take(80).collect();
            return Err(Error::Unparsable { line: i + 1, text });
        }
    }
    Ok(())
}

/// Reads `/metrics` over HTTP with a timeout (the local target's replicas).
#[derive(Debug, Clone)]
pub struct Scraper {
    /// The client, or why none could be built (every read then fails with it: never a
    /// client without timeouts).
    client: Result<reqwest::Client, String>,
}

impl Default for Scraper {
    fn default() -> Self {
        Self::new(Duration::from_secs(2))
    }
}

impl Scraper {
    pub fn new(timeout: Duration) -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .no_proxy()
                .build()
                .map_err(|e| format!("no HTTP client to read metrics with: {e}")),
        }
    }

    /// The text of `{base}/metrics`, or why it could not be read.
    pub async fn read(&self, base: &str) -> Result<String, String> {
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let answer = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .map_err(|e| format!("{base}/metrics: {}", e.without_url()))?;
        if !answer.status().is_success() {
            return Err(format!(
                "{base}/metrics answered {}",
                answer.status().as_u16()
            ));
        }
        answer
            .text()
            .await
            .map_err(|e| format!("{base}/metrics: {}", e.without_url()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the app's `prometheus-client` writes (OpenMetrics), trimmed to a few buckets.
    const APP: &str = r#"# HELP http_requests HTTP requests served, by method, route and status.
# TYPE http_requests counter
http_requests_total{method="GET",route="/",status="200"} 8
http_requests_total{method="GET",route="/",status="500"} 2
http_requests_total{method="GET",route="unmatched",status="404"} 1
# HELP http_request_duration_seconds Time to serve a request, by route.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_sum{route="/"} 0.0115
http_request_duration_seconds_count{route="/"} 10
http_request_duration_seconds_bucket{le="0.001",route="/"} 7
http_request_duration_seconds_bucket{le="0.01",route="/"} 9
http_request_duration_seconds_bucket{le="1.0",route="/"} 10
http_request_duration_seconds_bucket{le="+Inf",route="/"} 10
# HELP paktech_build_info Always 1; the labels say which build is running.
# TYPE paktech_build_info gauge
paktech_build_info{app="paktech-app",version="0.1.0",build_sha="abc",environment="dev"} 1
# EOF
"#;

    fn key(route: &str, status: u16) -> RequestKey {
        RequestKey {
            method: "GET".to_owned(),
            route: route.to_owned(),
            status,
        }
    }

    #[test]
    fn reads_the_apps_counters_and_histogram() {
        let m = parse("paktech-app-dev-1", "abc", APP).expect("parses");
        assert_eq!(m.replica, "paktech-app-dev-1");
        assert_eq!(m.requests.get(&key("/", 200)), Some(&8.0));
        assert_eq!(m.requests.get(&key("/", 500)), Some(&2.0));
        assert_eq!(m.requests.get(&key("unmatched", 404)), Some(&1.0));
        assert_eq!(m.requests.len(), 3);
        let root = m.latency.get("/").expect("the / histogram");
        assert_eq!(
            root.buckets,
            vec![
                (0.001, 7.0),
                (0.01, 9.0),
                (1.0, 10.0),
                (f64::INFINITY, 10.0)
            ]
        );
        assert_eq!(root.count(), 10.0);
    }

    #[test]
    fn the_plain_text_format_and_nothing_at_all_read_too() {
        let plain = "# TYPE http_requests_total counter\n\
                     http_requests_total{method=\"GET\",route=\"/\",status=\"503\"} 4\n";
        let m = parse("r", "abc", plain).expect("parses");
        assert_eq!(m.requests.get(&key("/", 503)), Some(&4.0));
        // A fresh replica has served nothing: no series yet.
        assert_eq!(
            parse("r", "abc", "# EOF\n"),
            Ok(ReplicaMetrics {
                replica: "r".to_owned(),
                build: "abc".to_owned(),
                ..ReplicaMetrics::default()
            })
        );
        // A sample without a numeric status is skipped, not counted.
        let odd = "http_requests_total{method=\"GET\",route=\"/\",status=\"x\"} 4\n";
        assert!(parse("r", "abc", odd).expect("parses").requests.is_empty());
    }

    #[test]
    fn text_that_does_not_parse_is_an_error_not_an_idle_replica() {
        // prometheus-parse itself reads all of these as "no samples".
        for (text, line) in [
            ("<html><body>502 Bad Gateway</body></html>\n", 1),
            (
                "# TYPE x counter\nhttp_requests_total{route=\"/\"} many\n",
                2,
            ),
            (
                "upstream connect error or disconnect/reset before headers\n",
                1,
            ),
            (
                "http_requests_total{method=\"GET\",route=\"/\",status=\"200\"} 8\n}\n",
                2,
            ),
        ] {
            match parse("r", "abc", text) {
                Err(Error::Unparsable { line: at, .. }) => assert_eq!(at, line, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        // The app's own text, NaN and +Inf values and blank lines are fine.
        let fine = "\nx_total 1\ny NaN\nz +Inf\n# EOF\n";
        assert!(parse("r", "abc", fine).is_ok());
    }
}
