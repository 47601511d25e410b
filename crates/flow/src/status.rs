//! `cargo xtask status`: per app and environment, what git says should run and what actually
//! runs.

use super::{Pipeline, Result};
use config::{AppConfig, EnvironmentConfig};
use model::values::Document;
use model::{AppName, EnvName, GitSha};

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

/// What the GitOps repository records for each app in each environment at one tip: the
/// values pinned there, their last change, and which key signed the pinned digest. It changes
/// only when the tip moves, so a poller (the dashboard) keeps it and [`observe`]s the target
/// alone each round: finding a file's last change walks the history back to it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub tip: GitSha,
    /// Whether several apps are configured (a one-app configuration's JSON is as it was).
    several: bool,
    lanes: Vec<RecordedLane>,
}

#[derive(Debug, Clone)]
struct RecordedLane {
    app: AppName,
    env: EnvName,
    desired_sha: String,
    desired_digest: String,
    desired_replicas: u32,
    signature: String,
    last_change: Option<LastChange>,
}

/// The state of every app (of `only`, when not empty) in every environment at the GitOps
/// remote's tip: apps in dependency order, each through its environments.
pub async fn status(pipeline: &Pipeline, only: &[AppName]) -> Result<(GitSha, Vec<EnvStatus>)> {
    let recorded = recorded(pipeline, only, None).await?;
    let envs = observe(pipeline, &recorded).await?;
    Ok((recorded.tip, envs))
}

/// What the GitOps remote's tip records for every app (of `only`, when not empty) in every
/// environment. Given what an earlier tip recorded (`previous`), the history is walked only
/// back to it: a lane's last change is the newest commit since that changed its values
/// file, else the one `previous` found; a tip whose line does not hold `previous` (a
/// rewritten branch) is walked from the root.
pub async fn recorded(
    pipeline: &Pipeline,
    only: &[AppName],
    previous: Option<&Recorded>,
) -> Result<Recorded> {
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
    let paths: Vec<String> = pairs
        .iter()
        .map(|(app, env)| config.values_path(&app.name, &env.name))
        .collect();
    let since = previous.map(|p| p.tip.clone());
    // Git first, in one go off the executor: each values file, and their last changes in
    // one walk.
    let (tip, read) = pipeline
        .git(move |repo| {
            let tip = repo.fetch()?;
            let mut docs = Vec::new();
            for path in &paths {
                docs.push(match repo.read(&tip, path)? {
                    Some(text) => Some(
                        Document::parse(path.clone(), text).map_err(model::desired::Error::from)?,
                    ),
                    None => None,
                });
            }
            let (lasts, since) = match repo.last_changes(&tip, &paths, since.as_ref())? {
                Some(lasts) => (lasts, since),
                None => (
                    repo.last_changes(&tip, &paths, None)?
                        .unwrap_or_else(|| vec![None; paths.len()]),
                    None,
                ),
            };
            Ok::<_, super::Error>((tip, (docs, lasts, since)))
        })
        .await?;
    let (docs, lasts, since) = read;
    let mut lanes = Vec::new();
    for ((app, env), (doc, last)) in pairs.iter().zip(docs.into_iter().zip(lasts)) {
        // Not changed since the earlier tip: its last change is the one found then.
        let earlier = previous.filter(|_| since.is_some()).and_then(|p| {
            p.lanes
                .iter()
                .find(|l| l.app == app.name && l.env == env.name)
        });
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
        let desired_digest = get("image.digest");
        let signature = match desired_digest.parse::<model::Digest>() {
            Ok(digest) => super::supply_chain::signed_by(pipeline, &app.repository, &digest).await,
            Err(_) => String::new(),
        };
        lanes.push(RecordedLane {
            app: app.name.clone(),
            env: env.name.clone(),
            desired_sha,
            desired_digest,
            desired_replicas,
            signature,
            last_change: match last {
                Some(c) => Some(LastChange {
                    revision: c.revision,
                    time: chrono::DateTime::from_timestamp(c.time, 0)
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default(),
                    author: c.author,
                    subject: c.subject,
                }),
                None => earlier.and_then(|l| l.last_change.clone()),
            },
        });
    }
    Ok(Recorded {
        tip,
        several,
        lanes,
    })
}

/// What runs now beside what `recorded` says should: every replica of each lane probed.
pub async fn observe(pipeline: &Pipeline, recorded: &Recorded) -> Result<Vec<EnvStatus>> {
    let mut out = Vec::new();
    for lane in &recorded.lanes {
        let probes = pipeline.target.probe(&lane.app, &lane.env).await?;
        let mut running_shas: Vec<String> = probes
            .iter()
            .filter_map(|(_, p)| p.build_sha.clone())
            .collect();
        running_shas.sort();
        running_shas.dedup();
        let ready = probes
            .iter()
            .filter(|(_, p)| p.runs(&lane.desired_sha))
            .count();
        out.push(EnvStatus {
            app: recorded.several.then(|| lane.app.to_string()),
            env: lane.env.to_string(),
            desired_digest: lane.desired_digest.clone(),
            signature: lane.signature.clone(),
            desired_sha: lane.desired_sha.clone(),
            running_shas,
            ready,
            desired_replicas: lane.desired_replicas,
            urls: probes.iter().filter_map(|(r, _)| r.url.clone()).collect(),
            last_change: lane.last_change.clone(),
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
    Ok(out)
}
