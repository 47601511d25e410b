//! Prometheus metrics: requests by route and status, a latency histogram, and build info.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::build_info::BuildInfo;

/// Labels of one served request. `route` is the matched pattern, never the raw path,
/// so that scanning unknown URLs cannot grow the label set without bound.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: &'static str,
    pub route: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    app: String,
    version: String,
    build_sha: String,
    environment: String,
}

/// The service's metrics and the registry that renders them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
}

/// The latency histogram's bounds (`+Inf` is implicit); the pipeline's metric analysis
/// simulates answers into the same buckets (`policy::analysis::APP_LATENCY_BUCKETS`).
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

impl Metrics {
    /// The registry of the service `build`, serving `environment`.
    pub fn new(build: &BuildInfo, environment: &str) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests served, by method, route and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(LATENCY_BUCKETS)
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to serve a request, by route",
            latency.clone(),
        );
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                app: build.app.to_owned(),
                version: build.version.to_owned(),
                build_sha: build.build_sha.to_owned(),
                environment: environment.to_owned(),
            })
            .set(1);
        registry.register(
            "paktech_build_info",
            "Always 1; the labels say which build is running",
            build_info,
        );
        Self {
            registry,
            requests,
            latency,
        }
    }

    /// Records one served request.
    pub fn observe(&self, labels: RequestLabels, seconds: f64) {
        self.latency
            .get_or_create(&RouteLabels {
                route: labels.route,
            })
            .observe(seconds);
        self.requests.get_or_create(&labels).inc();
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
