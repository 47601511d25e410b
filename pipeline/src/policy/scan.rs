//! The scan gate: does an image's scan pass the policy?

use crate::config::ScanPolicy;
use crate::scan::{ImageScan, Severity};

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

/// Applies `policy` to `scan` (`None`: the image was not scanned).
pub fn scan_gate(policy: &ScanPolicy, scan: Option<&ImageScan>) -> ScanVerdict {
    let Some(threshold) = policy.fail_on else {
        return if scan.is_some() {
            ScanVerdict::Pass
        } else {
            ScanVerdict::NotScanned
        };
    };
    let Some(scan) = scan else {
        return ScanVerdict::Fail {
            reason: format!(
                "the policy fails on {threshold} findings, but the image was not scanned (install grype or pass --scan-report)"
            ),
        };
    };
    let counts = if policy.only_fixed {
        scan.fixable_counts()
    } else {
        scan.counts.clone()
    };
    let over: Vec<String> = Severity::ALL
        .iter()
        .filter(|s| **s >= threshold && counts.get(**s) > 0)
        .map(|s| format!("{} {s}", counts.get(*s)))
        .collect();
    if over.is_empty() {
        ScanVerdict::Pass
    } else {
        let fixable = if policy.only_fixed { " fixable" } else { "" };
        ScanVerdict::Fail {
            reason: format!(
                "{}{fixable} finding(s) at or above {threshold}",
                over.join(", ")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::parse_grype;

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
}
