//! `cargo xtask status`: per app and environment, what git says should run and what actually
//! runs.

use super::{Pipeline, Result};
use config::{AppConfig, EnvironmentConfig};
use model::values::Document;
use model::{AppName, GitSha};

/// One app's state in one environment.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EnvStatus {
    /// The app, where several are configured (a one-app configuration's JSON is as it was).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    pub env: String,
    /// The build the values file names ("" before the first deploy).
    pub desired_sha: String,
    pub desired_digest: String,
    /// Which configured key signed the digest git names (`signed by <key> (<id>)`,
    /// `unsigned`, …); empty before the first deploy.
    pub signature: String,
    /// The builds the replicas report on `/info`, as probed.
    pub running_shas: Vec<String>,
    pub ready: usize,
    pub desired_replicas: u32,
    pub urls: Vec<String>,
    pub last_change: Option<LastChange>,
    /// Each replica as probed: its health and the build it reports.
    pub replicas: Vec<ReplicaStatus>,
}

/// One replica of an environment, as probed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplicaStatus {
    pub name: String,
    /// `/health` answered 200.
    pub healthy: bool,
    /// The build `/info` reports, when it answered.
    pub build_sha: Option<String>,
    /// Why it is not healthy, or did not say which build it runs.
    pub problem: Option<String>,
}

/// The newest commit that changed an environment's values file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LastChange {
    pub revision: GitSha,
    pub time: String,
    pub author: String,
    pub subject: String,
}

/// The state of every app (of `only`, when not empty) in every environment at the GitOps
/// remote's tip: apps in dependency order, each through its environments.
pub async fn status(pipeline: &Pipeline, only: &[AppName]) -> Result<(GitSha, Vec<EnvStatus>)> {
    let config = pipeline.config.clone();
    let apps: Vec<AppConfig> = config
        .apps
        .iter()
        .filter(|a| only.is_empty() || only.contains(&a.name))
        .cloned()
        .collect();
    let several = config.apps.len() > 1;
    let pairs: Vec<(AppConfig, EnvironmentConfig)> = apps
        .iter()
        .flat_map(|a| {
            config
                .environments
                .iter()
                .map(move |e| (a.clone(), e.clone()))
        })
        .collect();
    let wanted = pairs.clone();
    // Git first, in one go off the executor: each values file and its last change.
    let (tip, recorded) = pipeline
        .git(move |repo| {
            let tip = repo.fetch()?;
            let mut recorded = Vec::new();
            for (app, env) in &wanted {
                let path = config.values_path(&app.name, &env.name);
                let doc = match repo.read(&tip, &path)? {
                    Some(text) => Some(
                        Document::parse(path.clone(), text).map_err(model::desired::Error::from)?,
                    ),
                    None => None,
                };
                let last = repo.log(&tip, Some(&path), 1)?.into_iter().next();
                recorded.push((doc, last));
            }
            Ok::<_, super::Error>((tip, recorded))
        })
        .await?;
    let mut out = Vec::new();
    for ((app, env), (doc, last)) in pairs.iter().zip(recorded) {
        let get = |key: &str| {
            doc.as_ref()
                .and_then(|d| d.get(key))
                .unwrap_or_default()
                .to_owned()
        };
        let desired_sha = get("image.tag");
        let desired_replicas = if desired_sha.is_empty() {
            0
        } else {
            get("replicaCount").parse().unwrap_or(0)
        };
        let probes = pipeline.target.probe(&app.name, &env.name).await?;
        let mut running_shas: Vec<String> = probes
            .iter()
            .filter_map(|(_, p)| p.build_sha.clone())
            .collect();
        running_shas.sort();
        running_shas.dedup();
        let ready = probes.iter().filter(|(_, p)| p.runs(&desired_sha)).count();
        let last_change = last.map(|c| LastChange {
            revision: c.revision,
            time: chrono::DateTime::from_timestamp(c.time, 0)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
            author: c.author,
            subject: c.subject,
        });
        let desired_digest = get("image.digest");
        let signature = match desired_digest.parse::<model::Digest>() {
            Ok(digest) => super::supply_chain::signed_by(pipeline, &app.repository, &digest).await,
            Err(_) => String::new(),
        };
        out.push(EnvStatus {
            app: several.then(|| app.name.to_string()),
            env: env.name.to_string(),
            desired_digest,
            signature,
            desired_sha,
            running_shas,
            ready,
            desired_replicas,
            urls: probes.iter().filter_map(|(r, _)| r.url.clone()).collect(),
            last_change,
            replicas: probes
                .iter()
                .map(|(r, p)| ReplicaStatus {
                    name: r.name.clone(),
                    healthy: p.healthy,
                    build_sha: p.build_sha.clone(),
                    problem: p.problem.clone(),
                })
                .collect(),
        });
    }
    Ok((tip, out))
}
