//! The delivery history as `cargo xtask metrics` and the board read it: the GitOps history
//! (through the cache in the mirror) and every deployment followed to its source commit.

use adapters::delivery_log::{self, Ledger, SourceTimes};
use anyhow::Context as _;
use delivery::Changes;
use flow::Pipeline;

/// The history read and followed: what the figures of any period are counted from.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub ledger: Ledger,
    pub changes: Changes,
    /// Whether the source repository (for lead times) could be opened.
    pub sources_reachable: bool,
}

/// Reads the GitOps history (through the cache in the mirror) and follows every deployment.
pub async fn read(pipeline: &Pipeline) -> anyhow::Result<Delivery> {
    let repo = pipeline.gitops.clone();
    let default_app = pipeline
        .config
        .apps
        .first()
        .map(|a| a.name.to_string())
        .unwrap_or_default();
    let workspace = pipeline.workspace.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Delivery> {
        let tip = repo.fetch()?;
        let cache = delivery_log::cache_in(&repo);
        let ledger = delivery_log::read(&repo, &tip, &cache, &default_app)?;
        let shas = ledger
            .writes
            .iter()
            .flat_map(|w| w.builds.iter().map(|(_, sha)| sha.as_str()))
            .filter(|sha| !sha.is_empty())
            .collect::<std::collections::BTreeSet<_>>();
        let sources = SourceTimes::read(&workspace, shas);
        let changes = delivery::changes(&ledger.writes, |sha| sources.get(sha));
        Ok(Delivery {
            ledger,
            changes,
            sources_reachable: sources.reachable,
        })
    })
    .await
    .context("the history read was interrupted")?
}

impl Delivery {
    /// Where a period up to now ends: now, or just after the newest write when the clock is
    /// behind it (`PAKTECH_NOW` set in the past), so that write is never outside every period.
    pub fn until(&self, now: i64) -> i64 {
        let newest = self
            .changes
            .changes
            .iter()
            .map(|c| c.time)
            .chain(self.changes.undos.iter().map(|u| u.time))
            .max()
            .unwrap_or(now);
        now.max(newest + 1)
    }
}
