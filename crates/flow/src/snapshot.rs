//! Reading what a plan is made from, once: the GitOps tip, every app's values file and values
//! history in every environment there, the sync windows, and the records.

use super::{Pipeline, Result, sync};
use adapters::gitops::GitOpsRepo;
use adapters::records::Records;
use config::PipelineConfig;
use policy::plan::Snapshot;

/// How far back an environment's history is read: enough for "ran before", scan evidence and
/// the promotion a rollback reverts.
pub const HISTORY_DEPTH: usize = 10_000;

/// Reads the snapshot (off the async executor).
pub async fn read(pipeline: &Pipeline) -> Result<Snapshot> {
    let config = pipeline.config.clone();
    pipeline.git(move |repo| read_from(repo, &config)).await
}

fn read_from(repo: &GitOpsRepo, config: &PipelineConfig) -> Result<Snapshot> {
    let tip = repo.fetch()?;
    let mut values = Vec::new();
    let mut history = Vec::new();
    for app in &config.apps {
        for env in &config.environments {
            let path = config.values_path(&app.name, &env.name);
            values.push((
                app.name.clone(),
                env.name.clone(),
                sync::values_in(repo, &path, &tip)?,
            ));
            history.push((
                app.name.clone(),
                env.name.clone(),
                repo.log(&tip, Some(&path), HISTORY_DEPTH)?,
            ));
        }
    }
    Ok(Snapshot {
        windows: sync::windows_in(repo, config, &tip)?,
        records: Records::new(repo).read()?,
        tip,
        values,
        history,
    })
}
