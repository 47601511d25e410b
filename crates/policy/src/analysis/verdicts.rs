//! Table tests of the judge: windows built the way the flow builds them (cumulative reads of
//! a replica, one per round, through [`Window::new`]), judged at the window's end.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use model::{Histogram, LoadCounts, MetricsSnapshot, ReplicaMetrics, RequestKey};

/// What one route served in one interval: requests, 5xx among them, and the latency every
/// request took (`None`: no histogram at all).
#[derive(Clone, Copy)]
struct Served {
    route: &'static str,
    requests: f64,
    errors: f64,
    latency: Option<f64>,
}

fn served(route: &'static str, requests: f64, errors: f64, latency: Option<f64>) -> Served {
    Served {
        route,
        requests,
        errors,
        latency,
    }
}

/// A window of one replica, read at the start and after each interval; interval `i` serves
/// what `each(i)` says. `load`: what the synthetic load saw go unanswered, per interval.
fn window(intervals: usize, each: impl Fn(usize) -> Vec<Served>, unanswered: u64) -> Window {
    let mut requests: BTreeMap<RequestKey, f64> = BTreeMap::new();
    let mut latency: BTreeMap<String, Histogram> = BTreeMap::new();
    let read = |requests: &BTreeMap<RequestKey, f64>, latency: &BTreeMap<String, Histogram>| {
        one_replica(requests.clone(), latency.clone())
    };
    let mut readings = vec![Reading {
        at: 0.0,
        metrics: read(&requests, &latency),
        load: LoadCounts::default(),
    }];
    for i in 0..intervals {
        for s in each(i) {
            let key = |status| RequestKey {
                method: "GET".to_owned(),
                route: s.route.to_owned(),
                status,
            };
            *requests.entry(key(200)).or_default() += s.requests - s.errors;
            *requests.entry(key(500)).or_default() += s.errors;
            if let Some(seconds) = s.latency {
                let histogram = latency
                    .entry(s.route.to_owned())
                    .or_insert_with(|| Histogram {
                        buckets: APP_LATENCY_BUCKETS.iter().map(|b| (*b, 0.0)).collect(),
                    });
                for (bound, count) in &mut histogram.buckets {
                    if *bound >= seconds {
                        *count += s.requests;
                    }
                }
            }
        }
        let sent = (i as u64 + 1) * 10;
        readings.push(Reading {
            at: (i + 1) as f64 * 5.0,
            metrics: read(&requests, &latency),
            load: LoadCounts {
                sent,
                server_errors: 0,
                rejected: 0,
                unanswered: unanswered * (i as u64 + 1),
            },
        });
    }
    Window::new(&readings)
}

/// A read of the one replica `r` (of build `b`) that served `requests` in `latency`.
fn one_replica(
    requests: BTreeMap<RequestKey, f64>,
    latency: BTreeMap<String, Histogram>,
) -> MetricsSnapshot {
    MetricsSnapshot {
        replicas: vec![ReplicaMetrics {
            replica: "r".to_owned(),
            build: "b".to_owned(),
            requests,
            latency,
        }],
        unreadable: Vec::new(),
    }
}

/// `GET /` answered with `status`.
fn get_root(status: u16) -> RequestKey {
    RequestKey {
        method: "GET".to_owned(),
        route: "/".to_owned(),
        status,
    }
}

/// `n` intervals of `/` only.
fn root(n: usize, requests: f64, errors: f64, latency: Option<f64>) -> Window {
    window(n, |_| vec![served("/", requests, errors, latency)], 0)
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

fn check(baseline: Option<&Window>, current: &Window, expected: &str) {
    let verdict = judge(&thresholds(), baseline, current, Look::Final { finals: 1 });
    assert_eq!(verdict.to_string(), expected);
}

const FAST: Option<f64> = Some(0.002);

#[test]
fn absolute_limits_need_significance_not_a_minimum() {
    // Healthy traffic passes.
    check(None, &root(10, 20.0, 0.0, FAST), "pass");
    // Nothing, or too little to pass: inconclusive.
    check(
        None,
        &root(2, 0.0, 0.0, None),
        "inconclusive: 0 request(s), at least 20 needed",
    );
    check(
        None,
        &root(1, 19.0, 1.0, FAST),
        "inconclusive: 19 request(s), at least 20 needed",
    );
    // Ten of ten failing is clear however few: it fails below the minimum.
    check(
        None,
        &root(1, 10.0, 10.0, FAST),
        "fail: error ratio 1.000 > 0.050 overall; error ratio 1.000 > 0.050 on GET /",
    );
    // A fifth of 200 failing: clearly above 5%.
    check(
        None,
        &root(10, 20.0, 4.0, FAST),
        "fail: error ratio 0.200 > 0.050 overall; error ratio 0.200 > 0.050 on GET /",
    );
    // 6% of 200: above the limit by its point figure, not by the evidence.
    check(None, &root(10, 20.0, 1.2, FAST), "pass");
    // 30 of 30 failing on a real route beside 1,500 good `GET /`: 2% overall, but the
    // route's own errors are plainly over the limit.
    let diluted = window(
        10,
        |i| {
            let mut all = vec![served("/", 150.0, 0.0, FAST)];
            if i < 3 {
                all.push(served("/orders", 10.0, 10.0, FAST));
            }
            all
        },
        0,
    );
    check(
        None,
        &diluted,
        "fail: error ratio 1.000 > 0.050 on GET /orders",
    );
    // Every answer at 400ms: p99 over 250ms, overall and on the route (read inside the
    // (250ms, 1s] bucket as Prometheus interpolates it).
    check(
        None,
        &root(10, 20.0, 0.0, Some(0.4)),
        "fail: p99 992.5ms > 250.0ms overall; p99 992.5ms > 250.0ms on GET /",
    );
}

#[test]
fn missing_evidence_fails_or_says_it_cannot_judge() {
    // Requests without a single latency observation: a renamed histogram or label.
    check(
        None,
        &root(10, 20.0, 0.0, None),
        "fail: no latency histogram: 200 request(s) without a single http_request_duration_seconds observation",
    );
    // Synthetic requests that never came back count as failed requests of GET /.
    let hung = window(10, |_| vec![served("/", 20.0, 0.0, FAST)], 5);
    assert_eq!(hung.total.overall.requests, 250.0);
    assert_eq!(hung.total.synthetic.unanswered, 50);
    check(
        None,
        &hung,
        "fail: error ratio 0.200 > 0.050 overall; error ratio 0.200 > 0.050 on GET /",
    );
    // An unreadable replica fails the window, however little was served.
    let mut unseen = root(1, 0.0, 0.0, None);
    unseen.total.unreadable = vec!["prod-2: /metrics answered 500".to_owned()];
    check(
        None,
        &unseen,
        "fail: /metrics unreadable on prod-2: /metrics answered 500",
    );
}

/// Latency that wobbles around `base` from interval to interval (so ranks are not all tied),
/// staying inside one bucket's bounds only as real traffic would.
fn wobbly(base: f64) -> impl Fn(usize) -> Vec<Served> {
    move |i| {
        let factor = [0.8, 1.1, 0.95, 1.3, 0.7, 1.0][i % 6];
        vec![served("/", 20.0, 0.0, Some(base * factor))]
    }
}

#[test]
fn comparisons_need_a_significant_difference_and_the_factor() {
    // Ten times slower than the previous build, every interval: fails on the comparison.
    let before = window(12, wobbly(0.004), 0);
    let slower = window(12, wobbly(0.04), 0);
    let verdict = judge(
        &thresholds(),
        Some(&before),
        &slower,
        Look::Final { finals: 1 },
    );
    let text = verdict.to_string();
    assert!(
        text.starts_with("fail: p99 ") && text.contains("(previous build "),
        "{text}"
    );
    // As slow as before: passes.
    check(Some(&before), &window(12, wobbly(0.004), 0), "pass");
    // A clean baseline is read at the 1% floor: 2% is not "2× worse".
    let clean = root(10, 100.0, 0.0, FAST);
    check(Some(&clean), &root(10, 100.0, 2.0, FAST), "pass");
    // 4% against 0%: significant, and over 2× the floor.
    check(
        Some(&clean),
        &root(10, 100.0, 4.0, FAST),
        "fail: error ratio 0.040 > 0.020 (previous build 0.000) overall",
    );
    // 2.5% against 1% over 1,000 requests each: over the factor, not significant at the
    // level a window's end spends (p ≈ 0.005): a good build is not rolled back on noise.
    let one_percent = root(10, 100.0, 1.0, FAST);
    check(Some(&one_percent), &root(10, 100.0, 2.5, FAST), "pass");
    // 5% against 1%: both.
    check(
        Some(&one_percent),
        &root(10, 100.0, 4.9, FAST),
        "fail: error ratio 0.049 > 0.020 (previous build 0.010) overall",
    );
}

#[test]
fn each_look_spends_a_share_of_the_budget() {
    let share = 0.4;
    let rounds = 60;
    let spent_in_rounds = Look::Round { rounds }.alpha(share) * f64::from(rounds);
    let spent_at_ends = Look::Final { finals: 2 }.alpha(share) * 2.0;
    let budget = judge::FALSE_ROLLBACK_BUDGET * share;
    assert!((spent_in_rounds + spent_at_ends - budget).abs() < 1e-12);
    assert!(Look::Round { rounds }.alpha(share) < Look::Final { finals: 2 }.alpha(share));
    let shares = judge::ERROR_LIMIT_SHARE
        + judge::LATENCY_LIMIT_SHARE
        + judge::ERROR_COMPARISON_SHARE
        + judge::LATENCY_COMPARISON_SHARE;
    assert!(
        (shares - 1.0).abs() < 1e-12,
        "the shares make the whole budget"
    );
    // A round sees a plain failure too, at its stricter level.
    let broken = root(3, 20.0, 10.0, FAST);
    let verdict = judge(&thresholds(), None, &broken, Look::Round { rounds });
    assert!(matches!(verdict, Verdict::Fail { .. }), "{verdict}");
}

#[test]
fn a_window_grown_read_by_read_is_the_window_of_all_its_reads() {
    let readings: Vec<Reading> = {
        let mut requests = 0.0;
        (0..=6)
            .map(|i| {
                let key = get_root(200);
                if i > 0 {
                    requests += 20.0;
                }
                Reading {
                    at: f64::from(i) * 5.0,
                    metrics: one_replica([(key, requests)].into(), BTreeMap::new()),
                    load: LoadCounts {
                        sent: 10 * i as u64,
                        server_errors: 0,
                        rejected: 0,
                        unanswered: i as u64,
                    },
                }
            })
            .collect()
    };
    let mut grown = Window::new(&readings[..1]);
    for seen in 2..=readings.len() {
        grown = grown.grown(&readings[..seen]);
        assert_eq!(grown, Window::new(&readings[..seen]), "after {seen} reads");
    }
    assert_eq!(grown.intervals.len(), 6);
    assert_eq!(
        grown.total.overall.requests, 126.0,
        "120 served, 6 unanswered"
    );
}

#[test]
fn a_build_refusing_the_pipelines_own_requests_fails_though_its_replicas_count_none_as_errors() {
    // Every `GET /` answered 401: the replica counts each as served (no 5xx); the synthetic
    // load, which expects a success, saw each refused.
    let readings: Vec<Reading> = (0..=6u32)
        .map(|i| {
            let key = get_root(401);
            Reading {
                at: f64::from(i) * 5.0,
                // Each answered within 10ms.
                metrics: one_replica(
                    [(key, f64::from(20 * i))].into(),
                    [(
                        "/".to_owned(),
                        Histogram {
                            buckets: APP_LATENCY_BUCKETS
                                .iter()
                                .map(|b| (*b, if *b >= 0.01 { f64::from(20 * i) } else { 0.0 }))
                                .collect(),
                        },
                    )]
                    .into(),
                ),
                load: LoadCounts {
                    sent: u64::from(20 * i),
                    rejected: u64::from(20 * i),
                    ..LoadCounts::default()
                },
            }
        })
        .collect();
    let window = Window::new(&readings);
    assert_eq!(window.total.synthetic.rejected, 120);
    assert_eq!(
        (window.total.overall.requests, window.total.overall.errors),
        (120.0, 120.0),
        "every request the replicas served was refused"
    );
    let verdict = judge(&thresholds(), None, &window, Look::Final { finals: 1 });
    assert!(matches!(verdict, Verdict::Fail { .. }), "{verdict}");
    assert!(verdict.to_string().contains("error ratio"), "{verdict}");
    // Without the sender's count the same window passes: what the fix closes.
    let unseen: Vec<Reading> = readings
        .iter()
        .map(|r| Reading {
            load: LoadCounts {
                rejected: 0,
                ..r.load
            },
            ..r.clone()
        })
        .collect();
    let blind = judge(
        &thresholds(),
        None,
        &Window::new(&unseen),
        Look::Final { finals: 1 },
    );
    assert!(!matches!(blind, Verdict::Fail { .. }), "{blind}");
}

#[test]
fn a_baseline_too_small_to_compare_with_is_inconclusive_and_says_so() {
    // Four times slower than the previous build, which served 10 requests: before, the
    // comparison was skipped and the window passed.
    let slow = root(6, 20.0, 0.0, Some(0.2));
    let tiny = root(1, 10.0, 0.0, Some(0.05));
    let verdict = judge(&thresholds(), Some(&tiny), &slow, Look::Final { finals: 1 });
    assert!(matches!(verdict, Verdict::Inconclusive { .. }), "{verdict}");
    assert_eq!(
        verdict.to_string(),
        "inconclusive: the previous build served 10 request(s) over its window, fewer than the 20 a comparison needs"
    );
    // With enough requests before, the same window is compared (and fails on latency).
    let enough = root(6, 20.0, 0.0, Some(0.05));
    let compared = judge(
        &thresholds(),
        Some(&enough),
        &slow,
        Look::Final { finals: 1 },
    );
    assert!(matches!(compared, Verdict::Fail { .. }), "{compared}");
}
