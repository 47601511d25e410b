//! The scan rule, one for both places it applies: `ci`'s gate on the scan it just ran, and a
//! promotion's evidence check on the scan recorded in the GitOps log (the counts in the dev
//! commit's trailers), which must also be young enough.

use std::time::Duration;

use config::ScanPolicy;
use model::scan::{Counts, ImageScan, Severity};

/// What the scan policy says about one image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum ScanVerdict {
    Pass,
    /// No scan ran; allowed because the policy only reports.
    NotScanned,
    Fail {
        reason: String,
    },
}

/// A scan as counted: every finding, and those with a fix, by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanCounts<'a> {
    pub all: &'a Counts,
    pub fixable: &'a Counts,
}

/// The findings at or above `threshold` (only those with a fix when `only_fixed`), as
/// `1 critical, 2 high`, or `None` when there are none.
fn over(threshold: Severity, only_fixed: bool, counts: ScanCounts<'_>) -> Option<String> {
    let counts = if only_fixed {
        counts.fixable
    } else {
        counts.all
    };
    let over: Vec<String> = Severity::ALL
        .iter()
        .filter(|s| **s >= threshold && counts.get(**s) > 0)
        .map(|s| format!("{} {s}", counts.get(*s)))
        .collect();
    let fixable = if only_fixed { " fixable" } else { "" };
    (!over.is_empty()).then(|| {
        format!(
            "{}{fixable} finding(s) at or above {threshold}",
            over.join(", ")
        )
    })
}

/// Applies `policy` to `scan` (`None`: the image was not scanned).
pub fn scan_gate(policy: &ScanPolicy, scan: Option<&ImageScan>) -> ScanVerdict {
    let fixable = scan.map(ImageScan::fixable_counts);
    let counts = scan.zip(fixable.as_ref()).map(|(s, fixable)| ScanCounts {
        all: &s.counts,
        fixable,
    });
    judge(policy, counts)
}

/// [`scan_gate`] over counts.
pub fn judge(policy: &ScanPolicy, counts: Option<ScanCounts<'_>>) -> ScanVerdict {
    let Some(threshold) = policy.fail_on else {
        return if counts.is_some() {
            ScanVerdict::Pass
        } else {
            ScanVerdict::NotScanned
        };
    };
    let Some(counts) = counts else {
        return ScanVerdict::Fail {
            reason: format!(
                "the policy fails on {threshold} findings, but the image was not scanned (install grype or pass --scan-report)"
            ),
        };
    };
    match over(threshold, policy.only_fixed, counts) {
        None => ScanVerdict::Pass,
        Some(reason) => ScanVerdict::Fail { reason },
    }
}

/// A scan recorded in the GitOps log: when, and what it counted (`all` is `None` in records
/// older than the `Scan-Summary` trailer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedScan {
    /// Seconds since the epoch.
    pub time: i64,
    pub all: Option<Counts>,
    pub fixable: Counts,
}

/// Whether a recorded scan is evidence enough for an environment that wants a scan at most
/// `max_age` old. The findings rule is the policy's own (`fail_on`, `only_fixed`), with a
/// floor where the policy only reports: no critical finding that has a fix. `Err` says why not.
pub fn evidence(
    policy: &ScanPolicy,
    recorded: Option<&RecordedScan>,
    now: i64,
    max_age: Duration,
) -> Result<(), String> {
    let Some(scan) = recorded else {
        return Err("no scan of it is recorded".to_owned());
    };
    let age = now - scan.time;
    if age > max_age.as_secs() as i64 {
        return Err(format!(
            "its newest scan is {} old, older than {}",
            humantime::format_duration(Duration::from_secs(age.max(0) as u64)),
            humantime::format_duration(max_age)
        ));
    }
    let (threshold, only_fixed) = match policy.fail_on {
        Some(threshold) => (threshold, policy.only_fixed),
        None => (Severity::Critical, true),
    };
    if !only_fixed && scan.all.is_none() {
        return Err("its recorded scan has no summary of all findings".to_owned());
    }
    let all = scan.all.as_ref().unwrap_or(&scan.fixable);
    match over(
        threshold,
        only_fixed,
        ScanCounts {
            all,
            fixable: &scan.fixable,
        },
    ) {
        None => Ok(()),
        Some(over) => Err(over),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::scan::parse_grype;

    fn scan() -> ImageScan {
        parse_grype(
            "r.json",
            br#"{"matches":[
                {"vulnerability":{"id":"A","severity":"Critical","fix":{"versions":[]}},"artifact":{"name":"a"}},
                {"vulnerability":{"id":"B","severity":"High","fix":{"versions":["2"]}},"artifact":{"name":"b"}},
                {"vulnerability":{"id":"C","severity":"Low","fix":{"versions":["3"]}},"artifact":{"name":"c"}}]}"#,
        )
        .expect("scan")
    }

    fn check(fail_on: Option<Severity>, only_fixed: bool, scanned: bool, expected: ScanVerdict) {
        let policy = ScanPolicy {
            fail_on,
            only_fixed,
        };
        let s = scan();
        assert_eq!(
            scan_gate(&policy, scanned.then_some(&s)),
            expected,
            "{fail_on:?} {only_fixed} {scanned}"
        );
    }

    #[test]
    fn table() {
        use ScanVerdict::*;
        let fail = |r: &str| Fail {
            reason: r.to_owned(),
        };
        check(None, false, true, Pass);
        check(None, false, false, NotScanned);
        check(
            Some(Severity::Critical),
            false,
            true,
            fail("1 critical finding(s) at or above critical"),
        );
        check(Some(Severity::Critical), true, true, Pass);
        check(
            Some(Severity::High),
            true,
            true,
            fail("1 high fixable finding(s) at or above high"),
        );
        check(
            Some(Severity::Low),
            false,
            true,
            fail("1 critical, 1 high, 1 low finding(s) at or above low"),
        );
        check(
            Some(Severity::High),
            false,
            false,
            fail(
                "the policy fails on high findings, but the image was not scanned (install grype or pass --scan-report)",
            ),
        );
    }

    #[test]
    fn suppressed_findings_do_not_count() {
        let policy = |fail_on, only_fixed| ScanPolicy {
            fail_on: Some(fail_on),
            only_fixed,
        };
        let without = |ids: &[&str]| {
            scan().suppress(|f| {
                ids.contains(&f.id.as_str())
                    .then(|| model::scan::Suppression {
                        statement: "security/vex/a.json#0".to_owned(),
                        vulnerability: f.id.clone(),
                        status: "not_affected".to_owned(),
                        justification: Some("component_not_present".to_owned()),
                    })
            })
        };
        let check = |ids: &[&str], fail_on, only_fixed, expected: ScanVerdict| {
            let s = without(ids);
            assert_eq!(
                scan_gate(&policy(fail_on, only_fixed), Some(&s)),
                expected,
                "{ids:?}"
            );
            assert_eq!(s.findings.len() + s.suppressed.len(), 3, "{ids:?}");
        };
        let fail = |r: &str| ScanVerdict::Fail {
            reason: r.to_owned(),
        };
        check(
            &[],
            Severity::Critical,
            false,
            fail("1 critical finding(s) at or above critical"),
        );
        check(&["A"], Severity::Critical, false, ScanVerdict::Pass);
        check(
            &["A"],
            Severity::High,
            false,
            fail("1 high finding(s) at or above high"),
        );
        check(&["A", "B"], Severity::High, false, ScanVerdict::Pass);
        check(&["B"], Severity::High, true, ScanVerdict::Pass);
        check(
            &["B"],
            Severity::Low,
            true,
            fail("1 low fixable finding(s) at or above low"),
        );
    }

    fn counts(text: &str) -> Counts {
        Counts::parse(text).expect("counts")
    }

    fn check_evidence(
        fail_on: Option<Severity>,
        only_fixed: bool,
        recorded: Option<RecordedScan>,
        expected: Result<(), &str>,
    ) {
        let policy = ScanPolicy {
            fail_on,
            only_fixed,
        };
        let now = 1_000_000;
        let got = evidence(&policy, recorded.as_ref(), now, Duration::from_secs(3600));
        assert_eq!(
            got,
            expected.map_err(str::to_owned),
            "{fail_on:?} {only_fixed}"
        );
    }

    #[test]
    fn evidence_table() {
        let zero = "critical=0 high=0 medium=0 low=0 negligible=0 unknown=0";
        let one_critical = "critical=1 high=0 medium=0 low=0 negligible=0 unknown=0";
        let one_high = "critical=0 high=1 medium=0 low=0 negligible=0 unknown=0";
        let scan = |age: i64, all: Option<&str>, fixable: &str| RecordedScan {
            time: 1_000_000 - age,
            all: all.map(counts),
            fixable: counts(fixable),
        };
        check_evidence(None, false, None, Err("no scan of it is recorded"));
        check_evidence(None, false, Some(scan(60, Some(zero), zero)), Ok(()));
        check_evidence(
            None,
            false,
            Some(scan(7200, Some(zero), zero)),
            Err("its newest scan is 2h old, older than 1h"),
        );
        // Report-only policy: the floor is no fixable critical.
        check_evidence(
            None,
            false,
            Some(scan(60, Some(one_critical), one_critical)),
            Err("1 critical fixable finding(s) at or above critical"),
        );
        check_evidence(
            None,
            false,
            Some(scan(60, Some(one_critical), zero)),
            Ok(()),
        );
        // The policy's own threshold, the same rule as ci's gate.
        check_evidence(
            Some(Severity::High),
            false,
            Some(scan(60, Some(one_high), zero)),
            Err("1 high finding(s) at or above high"),
        );
        check_evidence(
            Some(Severity::High),
            true,
            Some(scan(60, Some(one_high), zero)),
            Ok(()),
        );
        check_evidence(
            Some(Severity::High),
            false,
            Some(scan(60, None, zero)),
            Err("its recorded scan has no summary of all findings"),
        );
    }
}
