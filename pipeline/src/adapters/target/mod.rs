//! Targets make an environment match a GitOps revision and report what runs there.
//! `local`: Docker containers on this machine.

pub mod local;

/// One replica as the target sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Replica {
    pub name: String,
    /// The build the replica was started from (its image tag), from the target's records.
    pub tag: String,
    /// The GitOps revision the replica was started for.
    pub revision: String,
    pub running: bool,
    pub restarts: i64,
    /// Where to reach it, when it is published.
    pub url: Option<String>,
    /// Whether the replica matches the desired spec it was compared with.
    pub spec_matches: bool,
}
