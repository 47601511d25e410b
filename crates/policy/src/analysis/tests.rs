//! Table tests of the analysis rules: deltas (restarts, new replicas), quantiles, verdicts.

use super::*;
use model::{Histogram, LoadCounts, MetricsSnapshot, ReplicaMetrics, RequestKey};

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
    let summary = summarize(&traffic, 10.0, &LoadCounts::default());
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
    let summary = summarize(
        &traffic(&snapshot(vec![]), &snapshot(vec![now])),
        10.0,
        &LoadCounts::default(),
    );
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
        &LoadCounts::default(),
    );
    let p99 = summary.overall.p99.expect("observations");
    assert!((p99 - (0.1 + 0.9 * 0.99)).abs() < 1e-9, "{p99}");
    // Not restarted: only the new observations count.
    let now = replica(
        "a",
        &[("/", 200, 110.0)],
        &[("/", [100.0, 100.0, 110.0, 110.0])],
    );
    let summary = summarize(
        &traffic(&snapshot(vec![start]), &snapshot(vec![now])),
        10.0,
        &LoadCounts::default(),
    );
    assert_eq!(summary.overall.requests, 10.0);
    assert!(summary.overall.p50.is_some_and(|p| p > 0.1), "{summary:?}");
    assert_eq!(summary.rate(), 1.0);
}

#[test]
fn an_unreadable_replica_reaches_the_verdict_through_traffic_and_every_build_part() {
    let start = snapshot(vec![replica("a", &[("/", 200, 10.0)], &[])]);
    let mut now = snapshot(vec![replica("a", &[("/", 200, 40.0)], &[])]);
    now.unreadable = vec!["b: connection refused".to_owned()];
    let summary = summarize(&traffic(&start, &now), 10.0, &LoadCounts::default());
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
        reason: None,
    };
    let said = "analysis inconclusive: 0 request(s), at least 20 needed".to_owned();
    let cases = [
        (Inconclusive::Pass, false, Decision::Pass),
        // Rolled back, not blocked: nothing showed the build bad.
        (Inconclusive::Fail, false, Decision::Unproven(said.clone())),
        (Inconclusive::Extend, false, Decision::Extend),
        // Extended once and still blind: fail closed, still without blocking.
        (Inconclusive::Extend, true, Decision::Unproven(said)),
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
    let empty = Verdict::nothing_to_compare(40.0, 20, "the old replicas served nothing");
    assert_eq!(
        empty.to_string(),
        "inconclusive: the old replicas served nothing"
    );
}
