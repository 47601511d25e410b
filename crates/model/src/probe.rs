//! What one probe of one replica found: the fact the smoke test and the monitor both judge.

/// One replica's answers to `/health` and `/info`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Probe {
    pub url: String,
    /// `/health` answered 200.
    pub healthy: bool,
    /// `/info`'s `build_sha`, when it answered.
    pub build_sha: Option<String>,
    /// Why it is not healthy, or did not say which build it runs.
    pub problem: Option<String>,
}

impl Probe {
    /// Healthy and running `expected`.
    pub fn runs(&self, expected: &str) -> bool {
        self.healthy && self.build_sha.as_deref() == Some(expected)
    }
}
