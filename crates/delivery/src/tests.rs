//! Recorded histories, one per edge case of `docs/operations.md` ("Delivery metrics"), with
//! their figures worked out by hand.

use std::collections::HashMap;

use super::*;

const H: i64 = 3_600;
const DAY: i64 = 86_400;

fn write(hour: f64, kind: Kind, builds: &[(&str, &str)]) -> Write {
    Write {
        revision: format!("r{hour}"),
        time: (hour * H as f64) as i64,
        env: "prod".to_owned(),
        kind,
        builds: builds
            .iter()
            .map(|(a, s)| ((*a).to_owned(), (*s).to_owned()))
            .collect(),
        break_glass: false,
        verdict: None,
        analysis: false,
        reverts: None,
    }
}

fn promote(hour: f64, sha: &str) -> Write {
    write(hour, Kind::Promote, &[("web", sha)])
}

fn rollback(hour: f64, to: &str) -> Write {
    let mut w = write(hour, Kind::Rollback, &[("web", to)]);
    w.verdict = Some("bad".to_owned());
    w
}

/// Source commit times, in hours.
fn sources(times: &[(&str, f64)]) -> HashMap<String, i64> {
    times
        .iter()
        .map(|(s, h)| ((*s).to_owned(), (h * H as f64) as i64))
        .collect()
}

fn query(since: i64, until: i64) -> Query {
    Query {
        since,
        until,
        env: None,
        app: None,
        order: vec!["prod".to_owned()],
        points: 0,
    }
}

/// The figures of `app` (or of the environment) in `[since, until)`.
fn check(
    writes: &[Write],
    source: &HashMap<String, i64>,
    (since, until): (i64, i64),
    app: Option<&str>,
    expected: Figures,
) {
    let all = changes(writes, |sha| source.get(sha).copied());
    let report = report(&all, &query(since, until));
    let scope = report
        .scopes
        .iter()
        .find(|s| s.env == "prod" && s.app.as_deref() == app)
        .expect("the scope");
    assert_eq!(scope.figures, expected, "{app:?} in [{since}, {until})");
}

fn p(count: usize, p50: Option<i64>, p90: Option<i64>) -> Percentiles {
    Percentiles { count, p50, p90 }
}

#[test]
fn the_first_deploy_and_a_promotion_superseded_before_its_watch_finished() {
    // 01:00 s1 (committed 00:00) is prod's first deploy: a deployment like any other, lead 1 h.
    // 12:00 s2 (committed 10:00), lead 2 h.
    // 13:00 s3 (committed 12:30) supersedes s2 before s2's watch finished, lead 0.5 h.
    // 14:00 the watch of s3 fails: rollback to s2. The rollback undoes s3 (prod's build then),
    //       not s2: s3 failed; s2 is serving again, restored after 14 - 13 = 1 h.
    let writes = [
        promote(1.0, "s1"),
        promote(12.0, "s2"),
        promote(13.0, "s3"),
        rollback(14.0, "s2"),
    ];
    let source = sources(&[("s1", 0.0), ("s2", 10.0), ("s3", 12.5)]);
    check(
        &writes,
        &source,
        (0, DAY),
        None,
        Figures {
            deployments: 3,
            releases: 0,
            // 3 deployments over 1 day.
            per_day: 3.0,
            // Sorted lead times 0.5 h, 1 h, 2 h: p50 is rank ⌈0.5·3⌉ = 2 (1 h), p90 rank ⌈0.9·3⌉ = 3 (2 h).
            lead_time: p(3, Some(H), Some(2 * H)),
            lead_time_unknown: 0,
            failures: 1,
            // 1 failed of 3.
            change_failure_rate: Some(1.0 / 3.0),
            time_to_restore: p(1, Some(H), Some(H)),
            unrestored: 0,
            rollbacks: 1,
            break_glass: 0,
            // (1 rollback + 0 break-glass) / (3 deployments + 1 rollback).
            rework_rate: Some(0.25),
        },
    );
}

#[test]
fn a_rollback_of_a_rollback_is_rework_not_another_failure() {
    // 00:00 a; 01:00 b; 02:00 rollback to a (b failed, restored after 2 - 1 = 1 h);
    // 03:00 rollback of that rollback, back to b: it undoes a rollback, not a deployment, so no
    // failure is added; it is rework. No source times: lead time unknown for both.
    let writes = [
        promote(0.0, "a"),
        promote(1.0, "b"),
        rollback(2.0, "a"),
        rollback(3.0, "b"),
    ];
    check(
        &writes,
        &HashMap::new(),
        (0, DAY),
        None,
        Figures {
            deployments: 2,
            per_day: 2.0,
            lead_time: p(0, None, None),
            lead_time_unknown: 2,
            failures: 1,
            change_failure_rate: Some(0.5),
            time_to_restore: p(1, Some(H), Some(H)),
            rollbacks: 2,
            // (2 rollbacks + 0) / (2 deployments + 2 rollbacks).
            rework_rate: Some(0.5),
            ..Figures::default()
        },
    );
}

#[test]
fn a_build_blocked_then_unblocked_and_a_first_deploy_rolled_back_to_nothing() {
    // 00:00 x (committed at -2 h) is prod's first deploy, lead 2 h.
    // 01:00 its watch fails: rollback to nothing (prod had no build), x blocked. x failed, and
    //       prod serves no good build: not restored yet.
    // 05:00 x unblocked and promoted again: a new deployment (lead 5 - -2 = 7 h); it is the
    //       failed build, so prod is still not restored.
    // 06:00 y (committed 05:00, lead 1 h): a good build again, 6 - 0 = 6 h after x's write.
    let writes = [
        promote(0.0, "x"),
        rollback(1.0, ""),
        promote(5.0, "x"),
        promote(6.0, "y"),
    ];
    let source = sources(&[("x", -2.0), ("y", 5.0)]);
    check(
        &writes,
        &source,
        (0, DAY),
        None,
        Figures {
            deployments: 3,
            per_day: 3.0,
            // Sorted 1 h, 2 h, 7 h: p50 rank 2 (2 h), p90 rank 3 (7 h).
            lead_time: p(3, Some(2 * H), Some(7 * H)),
            failures: 1,
            change_failure_rate: Some(1.0 / 3.0),
            time_to_restore: p(1, Some(6 * H), Some(6 * H)),
            rollbacks: 1,
            rework_rate: Some(0.25),
            ..Figures::default()
        },
    );
    // The period [00:00, 03:00) holds x's first write and the rollback: the failure began in
    // it, so its restore (6 h, after the period) counts here. 1 deployment over 1/8 day.
    check(
        &writes,
        &source,
        (0, 3 * H),
        None,
        Figures {
            deployments: 1,
            per_day: 8.0,
            lead_time: p(1, Some(2 * H), Some(2 * H)),
            failures: 1,
            change_failure_rate: Some(1.0),
            time_to_restore: p(1, Some(6 * H), Some(6 * H)),
            rollbacks: 1,
            // (1 + 0) / (1 + 1).
            rework_rate: Some(0.5),
            ..Figures::default()
        },
    );
    // Before y arrives, the failure is open: unrestored, no time to restore yet.
    check(
        &writes[..3],
        &source,
        (0, DAY),
        None,
        Figures {
            deployments: 2,
            per_day: 2.0,
            lead_time: p(2, Some(2 * H), Some(7 * H)),
            failures: 1,
            change_failure_rate: Some(0.5),
            unrestored: 1,
            rollbacks: 1,
            rework_rate: Some(1.0 / 3.0),
            ..Figures::default()
        },
    );
}

#[test]
fn a_release_counts_once_per_environment_and_once_per_app() {
    // 00:00 release {api a1, web w1}; 01:00 release {api a2, web w2} by break-glass;
    // 02:00 api rolled back to a1 (a2 failed, restored 2 - 1 = 1 h);
    // 04:00 web rolled back to w1 (w2 failed, restored 4 - 1 = 3 h).
    let mut second = write(1.0, Kind::Promote, &[("api", "a2"), ("web", "w2")]);
    second.break_glass = true;
    let writes = [
        write(0.0, Kind::Promote, &[("api", "a1"), ("web", "w1")]),
        second,
        write(2.0, Kind::Rollback, &[("api", "a1")]),
        write(4.0, Kind::Rollback, &[("web", "w1")]),
    ];
    let none = HashMap::new();
    // prod: 2 writes, both releases; the second failed (both its apps did) and prod served good
    // builds again once the last of them was back: max(1 h, 3 h) = 3 h. Rework:
    // (2 rollbacks + 1 break-glass) / (2 deployments + 2 rollbacks) = 0.75.
    check(
        &writes,
        &none,
        (0, DAY),
        None,
        Figures {
            deployments: 2,
            releases: 2,
            per_day: 2.0,
            lead_time_unknown: 4,
            failures: 1,
            change_failure_rate: Some(0.5),
            time_to_restore: p(1, Some(3 * H), Some(3 * H)),
            rollbacks: 2,
            break_glass: 1,
            rework_rate: Some(0.75),
            ..Figures::default()
        },
    );
    // api alone: 2 deployments (both in releases), 1 failed, restored after 1 h;
    // rework (1 rollback + 1 break-glass) / (2 + 1).
    check(
        &writes,
        &none,
        (0, DAY),
        Some("api"),
        Figures {
            deployments: 2,
            releases: 2,
            per_day: 2.0,
            lead_time_unknown: 2,
            failures: 1,
            change_failure_rate: Some(0.5),
            time_to_restore: p(1, Some(H), Some(H)),
            rollbacks: 1,
            break_glass: 1,
            rework_rate: Some(2.0 / 3.0),
            ..Figures::default()
        },
    );
}

#[test]
fn percentiles_take_the_nearest_rank() {
    let check = |values: &[i64], expected: (Option<i64>, Option<i64>)| {
        let got = Percentiles::of(values.to_vec());
        assert_eq!((got.p50, got.p90), expected, "{values:?}");
        assert_eq!(got.count, values.len());
    };
    check(&[], (None, None));
    check(&[5], (Some(5), Some(5)));
    // n = 2: p50 rank ⌈1⌉ = 1, p90 rank ⌈1.8⌉ = 2.
    check(&[9, 1], (Some(1), Some(9)));
    // n = 10: p50 rank 5, p90 rank 9.
    check(&[10, 9, 8, 7, 6, 5, 4, 3, 2, 1], (Some(5), Some(9)));
}

#[test]
fn the_series_splits_the_period_into_equal_points() {
    // Deployments at 01:00, 12:00, 13:00 over two 12-hour points: 1 in the first, 2 in the second.
    let writes = [promote(1.0, "s1"), promote(12.0, "s2"), promote(13.0, "s3")];
    let all = changes(&writes, |_| None);
    let report = report(
        &all,
        &Query {
            points: 2,
            ..query(0, DAY)
        },
    );
    let series: Vec<(i64, i64, usize)> = report.scopes[0]
        .series
        .iter()
        .map(|p| (p.start, p.end, p.figures.deployments))
        .collect();
    assert_eq!(series, vec![(0, 12 * H, 1), (12 * H, DAY, 2)]);
    assert!(
        report.scopes[1].series.is_empty(),
        "an app's scope has no chart"
    );
}
