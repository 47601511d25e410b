//! An environment's configuration (`[[environments]]`): its gates, watch, sync and canary settings, with the defaults a table leaves out.

use super::*;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    pub name: EnvName,
    /// The Kubernetes namespace (the local target names its Docker network after the env).
    pub namespace: String,
    /// Longest wait for the target to run a pushed revision.
    #[serde(default = "default_sync_timeout", deserialize_with = "duration")]
    pub sync_timeout: Duration,
    /// Approvals needed before a promotion into this environment.
    #[serde(default)]
    pub approvals: u32,
    /// Who may approve; empty: anyone but the requester.
    #[serde(default)]
    pub approvers: Vec<model::Person>,
    /// How long to watch after a promotion before declaring it good.
    #[serde(default, deserialize_with = "duration")]
    pub monitor: Duration,
    /// Time between monitoring rounds.
    #[serde(default = "default_monitor_interval", deserialize_with = "duration")]
    pub monitor_interval: Duration,
    /// Consecutive failing rounds that trigger an automatic rollback.
    #[serde(default = "default_monitor_failures")]
    pub monitor_failures: u32,
    /// Set: a canary first, for this long: one replica of the new build beside the old ones,
    /// judged against them by the `analysis` thresholds before the rest is rolled out.
    #[serde(default, deserialize_with = "optional_duration")]
    pub canary: Option<Duration>,
    /// A promotion here needs a scan of the build at most this old with no fixable critical
    /// finding; unset: no scan evidence needed.
    #[serde(default, deserialize_with = "optional_duration")]
    pub scan_max_age: Option<Duration>,
    /// Longest wait for approvals before giving up.
    #[serde(default = "default_approval_timeout", deserialize_with = "duration")]
    pub approval_timeout: Duration,
    /// Judge the monitoring window by the replicas' metrics; unset: health only.
    #[serde(default)]
    pub analysis: Option<AnalysisConfig>,
    /// Overrides `supply_chain.require_signature` here.
    #[serde(default)]
    pub require_signature: Option<bool>,
    /// Overrides `supply_chain.require_sbom` here.
    #[serde(default)]
    pub require_sbom: Option<bool>,
    /// Overrides `supply_chain.require_provenance` here.
    #[serde(default)]
    pub require_provenance: Option<bool>,
    /// Overrides `supply_chain.builders` here: the builder ids provenance may name.
    #[serde(default)]
    pub builders: Option<Vec<String>>,
}

pub(super) fn default_monitor_interval() -> Duration {
    Duration::from_secs(5)
}

pub(super) fn default_monitor_failures() -> u32 {
    3
}

pub(super) fn default_approval_timeout() -> Duration {
    Duration::from_secs(3600)
}

pub(super) fn optional_duration<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

pub(super) fn default_sync_timeout() -> Duration {
    Duration::from_secs(120)
}

pub(super) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!(
            "invalid duration {text:?} ({e}): expected a duration such as 90s, 5m or 24h"
        ))
    })
}
