//! Why a lane's build is trusted: what `cargo xtask verify --env <env>` says of it, check by
//! check (`flow::verify::verify_in`: the signatures, the SBOM the build signed, its provenance
//! judged with the builders that environment accepts, its scan and the VEX its scan applied),
//! so the board and the gate cannot disagree; and the last watch that judged the environment
//! (`Watch-Verdict` and `Analysis` on its rollback commit). Read when a branch moves.

use flow::Pipeline;
use flow::verify::{Check, verify_in};
use model::ImageTag;
use model::audit::{CommitRecord, keys};
use policy::plan::Snapshot;

/// What the gates prove about the build one app runs in one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trust {
    pub app: String,
    pub env: String,
    /// The build these checks are about.
    pub sha: String,
    /// `verify`'s checks of the build for this environment, or why it could not check them.
    pub checks: Result<Vec<Check>, String>,
    /// Why this environment's gates would refuse the build, when they would.
    pub refused: Option<String>,
    /// The newest watch verdict written in this environment for this app: words and figures.
    pub watch: Option<String>,
}

/// The trust of every app's build in every environment (none for an empty lane).
pub async fn read(pipeline: &Pipeline, snapshot: &Snapshot) -> Vec<Trust> {
    let mut out = Vec::new();
    for app in &pipeline.config.apps {
        for env in &pipeline.config.environments {
            let sha = snapshot.tag(&app.name, &env.name);
            if sha.is_empty() {
                continue;
            }
            let (checks, refused) = match sha.parse::<ImageTag>() {
                Err(e) => (Err(format!("{sha} is not a build: {e}")), None),
                Ok(tag) => match verify_in(pipeline, snapshot, app, &env.name, &tag).await {
                    Ok((verified, _)) => (Ok(verified.checks), verified.refused),
                    Err(e) => (Err(e.to_string()), None),
                },
            };
            out.push(Trust {
                app: app.name.to_string(),
                env: env.name.to_string(),
                sha: sha.to_owned(),
                checks,
                refused,
                watch: snapshot
                    .history(&app.name, &env.name)
                    .iter()
                    .find_map(watch),
            });
        }
    }
    out
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
}
