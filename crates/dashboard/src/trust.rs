//! Why a lane's build is trusted, at a glance: who signed it (`flow::supply_chain::signed_by`),
//! what its signed provenance proves (`flow::attest::read`, checked against the lane's
//! accepted builders as the gate checks it),
//! its SBOM and scan as `ci` recorded them (`Sbom-Digest`, `Scan-Summary` / `App-Scan` on the
//! first environment's commit of the build), and the last watch that judged the environment
//! (`Watch-Verdict` and `Analysis` on its rollback commit). Read when a branch moves.

use ::supply_chain::attest::provenance;
use flow::Pipeline;
use flow::attest::read as read_attestations;
use flow::supply_chain::signed_by;
use model::audit::{CommitRecord, keys};
use model::{Digest, EnvName, GitSha, Repository};
use policy::plan::Snapshot;

/// What the gates proved about the build one app runs in one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trust {
    pub app: String,
    pub env: String,
    /// The build these words are about.
    pub sha: String,
    /// `signed by <key>`, `unsigned`, or why the signatures could not be read.
    pub signed: String,
    /// The SBOM's digest, when `ci` recorded one for this build.
    pub sbom: Option<String>,
    /// The image scan's counts, when recorded.
    pub scan: Option<String>,
    /// The newest watch verdict written in this environment for this app: words and figures.
    pub watch: Option<String>,
    /// What its signed provenance proves (`built by <builder> from <source> at <sha>`), or why
    /// none counts for this environment.
    pub provenance: String,
}

/// The trust of every app's build in every environment (none for an empty lane).
pub async fn read(pipeline: &Pipeline, snapshot: &Snapshot) -> Vec<Trust> {
    let first = &pipeline.config.first().name;
    let mut out = Vec::new();
    for app in &pipeline.config.apps {
        let name = app.name.as_str();
        for env in &pipeline.config.environments {
            let sha = snapshot.tag(&app.name, &env.name);
            if sha.is_empty() {
                continue;
            }
            let history = snapshot.history(&app.name, &env.name);
            let digest = history
                .iter()
                .find(|c| c.build_of(name) == Some(sha))
                .and_then(|c| c.digest_of(name))
                .and_then(|d| d.parse::<Digest>().ok());
            let (signed, provenance) = match &digest {
                Some(digest) => (
                    signed_by(pipeline, &app.repository, digest).await,
                    proven(pipeline, &app.repository, digest, sha, &env.name).await,
                ),
                None => (
                    "no image digest recorded".to_owned(),
                    "no image digest recorded".to_owned(),
                ),
            };
            let built = snapshot
                .history(&app.name, first)
                .iter()
                .find(|c| c.build_of(name) == Some(sha));
            out.push(Trust {
                app: name.to_owned(),
                env: env.name.to_string(),
                sha: sha.to_owned(),
                signed,
                sbom: built.and_then(|c| sbom_of(c, name)),
                scan: built.and_then(|c| c.scan_of(name).0.map(str::to_owned)),
                watch: history.iter().find_map(watch),
                provenance,
            });
        }
    }
    out
}

/// The SBOM digest `ci` recorded for `app` (only a commit of one app carries it).
/// What the signed provenance of `digest` proves about the build of `sha`, judged with the
/// builders `env` accepts: the first that passes, or why none does.
async fn proven(
    pipeline: &Pipeline,
    repository: &Repository,
    digest: &Digest,
    sha: &str,
    env: &EnvName,
) -> String {
    let Ok(sha) = sha.parse::<GitSha>() else {
        return format!("no provenance for {sha}, which is not a commit");
    };
    let required = pipeline.config.requirements(env);
    match read_attestations(pipeline, repository, digest, None).await {
        Err(e) => format!("provenance cannot be read: {e}"),
        Ok((_, found)) if found.is_empty() => "no provenance".to_owned(),
        Ok((_, found)) => {
            let mut why = Vec::new();
            for attested in &found {
                match attested {
                    Ok(a) => {
                        // Where provenance is not required, any builder is shown as it is.
                        let named = a
                            .statement
                            .predicate
                            .pointer("/runDetails/builder/id")
                            .and_then(|id| id.as_str())
                            .map(str::to_owned);
                        let builders = match (required.provenance, named) {
                            (false, Some(id)) => vec![id],
                            _ => required.builders.clone(),
                        };
                        match provenance::check(&a.statement, &sha, &builders) {
                            Ok(p) => return p.to_string(),
                            Err(e) => why.push(e.to_string()),
                        }
                    }
                    Err(e) => why.push(e.clone()),
                }
            }
            format!("provenance not accepted here: {}", why.join("; "))
        }
    }
}

fn sbom_of(commit: &CommitRecord, app: &str) -> Option<String> {
    let one = commit.trailer(keys::APP_BUILD).is_none()
        && commit.trailer(keys::APP).is_none_or(|a| a == app);
    one.then(|| commit.trailer(keys::SBOM))
        .flatten()
        .map(str::to_owned)
}

/// A watch's verdict in words, from a commit that records one.
fn watch(commit: &CommitRecord) -> Option<String> {
    let verdict = commit.trailer(keys::WATCH_VERDICT);
    let analysis = commit.trailer(keys::ANALYSIS);
    if verdict.is_none() && analysis.is_none() {
        return None;
    }
    let at = chrono::DateTime::from_timestamp(commit.time, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    let mut words = format!(
        "{} at {at} (rolled back)",
        verdict.map_or_else(|| "failed".to_owned(), |v| format!("verdict {v}"))
    );
    if let Some(analysis) = analysis {
        words.push_str(": ");
        words.push_str(analysis);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::audit::CommitMessage;

    fn record(message: CommitMessage) -> CommitRecord {
        CommitRecord::read_back(
            "a".repeat(40).parse().expect("sha"),
            1_796_083_200,
            &message,
        )
    }

    #[test]
    fn a_watch_verdict_reads_with_its_figures_and_other_commits_have_none() {
        let check = |message: CommitMessage, expected: Option<&str>| {
            assert_eq!(watch(&record(message)).as_deref(), expected);
        };
        check(
            CommitMessage::new("revert")
                .trailer(keys::WATCH_VERDICT, "bad")
                .trailer(keys::ANALYSIS, "error ratio 0.200 > 0.050"),
            Some(
                "verdict bad at 2026-12-01T00:00:00+00:00 (rolled back): error ratio 0.200 > 0.050",
            ),
        );
        check(
            CommitMessage::new("revert").trailer(keys::ANALYSIS, "p99 slower"),
            Some("failed at 2026-12-01T00:00:00+00:00 (rolled back): p99 slower"),
        );
        check(CommitMessage::new("promote"), None);
    }

    #[test]
    fn the_sbom_is_read_only_from_a_commit_of_that_one_app() {
        let check = |message: CommitMessage, expected: Option<&str>| {
            assert_eq!(sbom_of(&record(message), "web").as_deref(), expected);
        };
        check(
            CommitMessage::new("ci").trailer(keys::SBOM, "sha256:s"),
            Some("sha256:s"),
        );
        check(
            CommitMessage::new("ci")
                .trailer(keys::APP, "api")
                .trailer(keys::SBOM, "sha256:s"),
            None,
        );
        check(CommitMessage::new("ci").trailer(keys::APP, "web"), None);
    }
}
