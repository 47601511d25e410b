//! Table tests of the analysis rules: deltas (restarts, new replicas), quantiles, verdicts.

use std::time::Duration;

use super::*;
use crate::model::{Histogram, MetricsSnapshot, ReplicaMetrics, RequestKey};

const INF: f64 = f64::INFINITY;
const BOUNDS: [f64; 4] = [0.01, 0.1, 1.0, INF];

/// A replica with `(route, status, count)` requests (all GET) and, per route, cumulative
/// bucket counts over [`BOUNDS`].
fn replica(
    name: &str,
    requests: &[(&str, u16, f64)],
    latency: &[(&str, [f64; 4])],
) -> ReplicaMetrics {
    ReplicaMetrics {
        replica: name.to_owned(),
        build: "a".to_owned(),
        requests: requests
            .iter()
            .map(|(route, status, count)| {
                let key = RequestKey {
                    method: "GET".to_owned(),
                    route: (*route).to_owned(),
                    status: *status,
                };
                (key, *count)
            })
            .collect(),
        latency: latency
            .iter()
            .map(|(route, counts)| ((*route).to_owned(), histogram(counts)))
            .collect(),
    }
}

fn histogram(counts: &[f64; 4]) -> Histogram {
    Histogram {
        buckets: BOUNDS.iter().copied().zip(counts.iter().copied()).collect(),
    }
}

fn snapshot(replicas: Vec<ReplicaMetrics>) -> MetricsSnapshot {
    MetricsSnapshot {
        replicas,
        unreadable: Vec::new(),
    }
}

/// Requests and errors on `/` after summing `start` → `now`, and who restarted.
fn check_traffic(
    start: Vec<ReplicaMetrics>,
    now: Vec<ReplicaMetrics>,
    expected: (f64, f64, &[&str]),
) {
    let traffic = traffic(&snapshot(start), &snapshot(now));
    let summary = summarize(&traffic, 10.0);
    let root = summary.routes.get("/").cloned().unwrap_or_default();
    let got = (root.requests, root.errors, summary.restarted.clone());
    let want = (
        expected.0,
        expected.1,
        expected
            .2
            .iter()
            .map(|s| (*s).to_owned())
            .collect::<Vec<_>>(),
    );
    assert_eq!(got, want);
}

#[test]
fn counter_deltas_per_replica() {
    let a0 = replica("a", &[("/", 200, 100.0), ("/", 500, 2.0)], &[]);
    let b0 = replica("b", &[("/", 200, 50.0)], &[]);
    // Both served more.
    check_traffic(
        vec![a0.clone(), b0.clone()],
        vec![
            replica("a", &[("/", 200, 130.0), ("/", 500, 12.0)], &[]),
            replica("b", &[("/", 200, 60.0), ("/", 500, 5.0)], &[]),
        ],
        (55.0, 15.0, &[]),
    );
    // No traffic: nothing moved.
    check_traffic(
        vec![a0.clone(), b0.clone()],
        vec![a0.clone(), b0.clone()],
        (0.0, 0.0, &[]),
    );
    // `b` restarted (its 200s went from 50 to 7): its 7 count from zero, never -43.
    check_traffic(
        vec![a0.clone(), b0.clone()],
        vec![a0.clone(), replica("b", &[("/", 200, 7.0)], &[])],
        (7.0, 0.0, &["b"]),
    );
    // A series that vanished is a restart too (its counters started over).
    check_traffic(
        vec![a0.clone()],
        vec![replica("a", &[("/", 200, 120.0)], &[])],
        (120.0, 0.0, &["a"]),
    );
    // A replica started during the window counts from zero, and is no restart.
    check_traffic(
        vec![a0.clone()],
        vec![
            a0.clone(),
            replica("c", &[("/", 200, 9.0), ("/", 500, 1.0)], &[]),
        ],
        (10.0, 1.0, &[]),
    );
    // A replica gone since the start adds nothing.
    check_traffic(vec![a0.clone(), b0], vec![a0], (0.0, 0.0, &[]));
}

#[test]
fn own_routes_are_not_the_services_traffic() {
    let now = replica(
        "a",
        &[
            ("/health", 200, 40.0),
            ("/metrics", 200, 4.0),
            ("/info", 200, 9.0),
        ],
        &[("/health", [40.0, 40.0, 40.0, 40.0])],
    );
    let summary = summarize(&traffic(&snapshot(vec![]), &snapshot(vec![now])), 10.0);
    assert_eq!(summary.overall.requests, 0.0);
    assert!(
        summary.overall.requests.is_sign_positive(),
        "never printed as -0"
    );
    assert_eq!(summary.overall.p99, None);
    assert!(summary.routes.is_empty());
}

fn check_quantile(q: f64, counts: [f64; 4], expected: Option<f64>) {
    let got = quantile(q, &histogram(&counts));
    match (got, expected) {
        (Some(g), Some(e)) => assert!((g - e).abs() < 1e-9, "q{q} of {counts:?}: {g} != {e}"),
        _ => assert_eq!(got, expected, "q{q} of {counts:?}"),
    }
}

#[test]
fn quantiles_interpolate_within_a_bucket_as_prometheus_does() {
    // 100 observations: 50 ≤ 10ms, 90 ≤ 100ms, 100 ≤ 1s.
    let counts = [50.0, 90.0, 100.0, 100.0];
    // Rank 50 falls at the top of the first bucket, which starts at 0.
    check_quantile(0.5, counts, Some(0.01));
    check_quantile(0.25, counts, Some(0.005));
    // Rank 70: 20 of the 40 observations in (10ms, 100ms].
    check_quantile(0.7, counts, Some(0.01 + 0.09 * 0.5));
    // Rank 99: 9 of 10 in (100ms, 1s].
    check_quantile(0.99, counts, Some(0.1 + 0.9 * 0.9));
    // Ranks in the +Inf bucket answer the highest finite bound.
    check_quantile(0.99, [0.0, 0.0, 90.0, 100.0], Some(1.0));
    // No observations: no quantile (Prometheus answers NaN).
    check_quantile(0.99, [0.0, 0.0, 0.0, 0.0], None);
    // Out-of-range q is refused, as a histogram with no +Inf bucket.
    check_quantile(1.5, counts, None);
    let no_inf = Histogram {
        buckets: vec![(0.1, 5.0), (1.0, 6.0)],
    };
    assert_eq!(quantile(0.5, &no_inf), None);
}

#[test]
fn histogram_deltas_survive_a_restart() {
    let start = replica(
        "a",
        &[("/", 200, 100.0)],
        &[("/", [100.0, 100.0, 100.0, 100.0])],
    );
    // Restarted: 10 requests since, all slow (in (100ms, 1s]).
    let now = replica("a", &[("/", 200, 10.0)], &[("/", [0.0, 0.0, 10.0, 10.0])]);
    let summary = summarize(
        &traffic(&snapshot(vec![start.clone()]), &snapshot(vec![now])),
        10.0,
    );
    let p99 = summary.overall.p99.expect("observations");
    assert!((p99 - (0.1 + 0.9 * 0.99)).abs() < 1e-9, "{p99}");
    // Not restarted: only the new observations count.
    let now = replica(
        "a",
        &[("/", 200, 110.0)],
        &[("/", [100.0, 100.0, 110.0, 110.0])],
    );
    let summary = summarize(&traffic(&snapshot(vec![start]), &snapshot(vec![now])), 10.0);
    assert_eq!(summary.overall.requests, 10.0);
    assert!(summary.overall.p50.is_some_and(|p| p > 0.1), "{summary:?}");
    assert_eq!(summary.rate(), 1.0);
}

fn thresholds() -> Thresholds {
    Thresholds {
        max_error_ratio: 0.05,
        max_p99: Duration::from_millis(250),
        min_requests: 20,
        baseline_error_factor: Some(2.0),
        baseline_p99_factor: Some(3.0),
    }
}

/// A summary of `/` (GET) and `/slow` with these (requests, errors, p99 seconds).
fn summary(root: (f64, f64, Option<f64>), other: (f64, f64, Option<f64>)) -> Summary {
    let stats = |(requests, errors, p99): (f64, f64, Option<f64>)| Stats {
        methods: vec!["GET".to_owned()],
        requests,
        errors,
        p50: p99,
        p99,
    };
    let (r, o) = (stats(root), stats(other));
    let slowest = match (r.p99, o.p99) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let overall = Stats {
        methods: Vec::new(),
        requests: r.requests + o.requests,
        errors: r.errors + o.errors,
        p50: slowest,
        p99: slowest,
    };
    Summary {
        seconds: 60.0,
        overall,
        routes: [("/".to_owned(), r), ("/slow".to_owned(), o)].into(),
        restarted: Vec::new(),
        unreadable: Vec::new(),
    }
}

fn check_verdict(baseline: Option<Summary>, current: Summary, expected: &str) {
    let verdict = judge(&thresholds(), baseline.as_ref(), &current);
    assert_eq!(verdict.to_string(), expected);
}

#[test]
fn verdicts() {
    let fast = Some(0.002);
    // Healthy traffic passes; a route with no requests is not judged.
    check_verdict(None, summary((100.0, 1.0, fast), (0.0, 0.0, None)), "pass");
    // No traffic, or too little: inconclusive.
    check_verdict(
        None,
        summary((0.0, 0.0, None), (0.0, 0.0, None)),
        "inconclusive: 0 request(s), at least 20 needed",
    );
    check_verdict(
        None,
        summary((19.0, 19.0, fast), (0.0, 0.0, None)),
        "inconclusive: 19 request(s), at least 20 needed",
    );
    // A fifth of `/` fails: overall and on the route.
    check_verdict(
        None,
        summary((100.0, 20.0, fast), (0.0, 0.0, None)),
        "fail: error ratio 0.200 > 0.050 overall; error ratio 0.200 > 0.050 on GET /",
    );
    // Errors on a route with too few requests of its own count only overall.
    check_verdict(
        None,
        summary((100.0, 0.0, fast), (10.0, 10.0, fast)),
        "fail: error ratio 0.091 > 0.050 overall",
    );
    // Slow: the p99 rule.
    check_verdict(
        None,
        summary((100.0, 0.0, Some(0.4)), (0.0, 0.0, None)),
        "fail: p99 400.0ms > 250.0ms overall; p99 400.0ms > 250.0ms on GET /",
    );
    // Within the absolute limits but 10× slower than the previous build (3× allowed).
    let before = summary((100.0, 0.0, Some(0.02)), (0.0, 0.0, None));
    check_verdict(
        Some(before.clone()),
        summary((100.0, 0.0, Some(0.2)), (0.0, 0.0, None)),
        "fail: p99 200.0ms > 60.0ms (previous build 20.0ms) overall",
    );
    // A clean, fast baseline is read at the floors: 1% errors and 10ms are not "N× worse".
    let clean = summary((100.0, 0.0, Some(0.0005)), (0.0, 0.0, None));
    check_verdict(
        Some(clean.clone()),
        summary((100.0, 2.0, Some(0.02)), (0.0, 0.0, None)),
        "pass",
    );
    check_verdict(
        Some(clean),
        summary((100.0, 3.0, Some(0.031)), (0.0, 0.0, None)),
        "fail: error ratio 0.030 > 0.020 (previous build 0.000) overall; p99 31.0ms > 30.0ms (previous build 0.5ms) overall",
    );
    // A baseline that served too little is no comparison.
    let quiet = summary((3.0, 0.0, Some(0.0005)), (0.0, 0.0, None));
    check_verdict(
        Some(quiet),
        summary((100.0, 3.0, Some(0.031)), (0.0, 0.0, None)),
        "pass",
    );
    // A replica whose /metrics cannot be read fails the window, however good the rest looks
    // and however little was served: what it served is unseen.
    for served in [100.0, 0.0] {
        let mut unseen = summary((served, 0.0, fast), (0.0, 0.0, None));
        unseen.unreadable = vec!["prod-2: /metrics answered 500".to_owned()];
        check_verdict(
            None,
            unseen,
            "fail: /metrics unreadable on prod-2: /metrics answered 500",
        );
    }
}

#[test]
fn an_unreadable_replica_reaches_the_verdict_through_traffic_and_every_build_part() {
    let start = snapshot(vec![replica("a", &[("/", 200, 10.0)], &[])]);
    let mut now = snapshot(vec![replica("a", &[("/", 200, 40.0)], &[])]);
    now.unreadable = vec!["b: connection refused".to_owned()];
    let summary = summarize(&traffic(&start, &now), 10.0);
    assert_eq!(summary.unreadable, ["b: connection refused"]);
    // Its build is unknown: a canary's part and the old build's part both carry it.
    assert_eq!(now.of_build("a").unreadable, now.unreadable);
    assert_eq!(now.of_build("other").unreadable, now.unreadable);
}

#[test]
fn inconclusive_windows_follow_the_configured_choice() {
    let inconclusive = Verdict::Inconclusive {
        requests: 0.0,
        min_requests: 20,
    };
    let failed = "analysis inconclusive: 0 request(s), at least 20 needed".to_owned();
    let cases = [
        (Inconclusive::Pass, false, Decision::Pass),
        (Inconclusive::Fail, false, Decision::Fail(failed.clone())),
        (Inconclusive::Extend, false, Decision::Extend),
        // Extended once and still blind: fail closed.
        (Inconclusive::Extend, true, Decision::Fail(failed)),
    ];
    for (choice, extended, expected) in cases {
        assert_eq!(
            decide(&inconclusive, choice, extended),
            expected,
            "{choice:?} {extended}"
        );
    }
    assert_eq!(
        decide(&Verdict::Pass, Inconclusive::Fail, false),
        Decision::Pass
    );
    let fail = Verdict::Fail {
        findings: vec![Finding {
            metric: Metric::ErrorRatio,
            scope: "GET /".to_owned(),
            value: 0.21,
            limit: 0.05,
            baseline: None,
        }],
    };
    assert_eq!(
        decide(&fail, Inconclusive::Pass, false),
        Decision::Fail("analysis fail: error ratio 0.210 > 0.050 on GET /".to_owned())
    );
}
