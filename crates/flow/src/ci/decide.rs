//! Which apps `ci` builds: each app's sources (`policy::changes`) against the commit of the
//! build dev runs of it.

use super::super::image as image_flow;
use super::super::{Error, Pipeline, Result, sync};
use adapters::{source, tools};
use model::{AppName, GitSha};
use policy::changes::{self, BuildDecision};

/// Which apps to build: each app's sources against the build dev runs of it.
pub(super) async fn changes(pipeline: &Pipeline) -> Result<Vec<(AppName, BuildDecision)>> {
    let workspace = pipeline.workspace.clone();
    let crates = tools::workspace_crates(&workspace).await?;
    let dev = pipeline.config.first().name.clone();
    let config = pipeline.config.clone();
    let running: Vec<(AppName, Option<GitSha>)> = pipeline
        .git(move |repo| {
            let tip = repo.fetch()?;
            config
                .apps
                .iter()
                .map(|app| {
                    let doc = sync::values_in(repo, &config.values_path(&app.name, &dev), &tip)?;
                    let tag = doc.get("image.tag").unwrap_or_default();
                    // A `-dirty` build stands for its base commit's sources and more.
                    let sha = tag.trim_end_matches("-dirty").parse().ok();
                    Ok::<_, Error>((app.name.clone(), sha))
                })
                .collect::<Result<Vec<_>>>()
        })
        .await?;
    let ws = pipeline.workspace.clone();
    let head = tokio::task::spawn_blocking(move || source::read(&ws))
        .await
        .map_err(|joined| Error::Interrupted(joined.to_string()))?
        .map_err(image_flow::Error::from)?
        .sha;
    let mut decisions = Vec::new();
    for (name, running) in running {
        let app = pipeline.config.app(name.as_str())?;
        let changed = match &running {
            Some(base) if base != &head => {
                let (ws, base) = (pipeline.workspace.clone(), base.clone());
                tokio::task::spawn_blocking(move || source::changed_since(&ws, &base))
                    .await
                    .map_err(|joined| Error::Interrupted(joined.to_string()))?
                    .map_err(image_flow::Error::from)?
            }
            _ => Some(Vec::new()),
        };
        let sources = changes::sources(app, &crates);
        let decision = changes::decide(&sources, running.as_ref(), &head, changed.as_deref());
        decisions.push((name, decision));
    }
    Ok(decisions)
}
