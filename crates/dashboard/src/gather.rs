//! Gathering the dashboard's [`Board`] from what the commands read: `flow::status` (lanes),
//! `flow::history` (timeline), and one `flow::snapshot` handed to `policy::plan::choose` and
//! `plan` (what can move next and what stops it, per app and as one release of every app:
//! `plans.rs` asks). Nothing here decides a rule.

use chrono::{DateTime, Utc};
use flow::history::{self, HistoryEvent};
use flow::status::{self, EnvStatus};
use flow::{Pipeline, snapshot};
use policy::plan::{self, Snapshot};

use crate::board::*;
use crate::plans::{self, Lookups};
use crate::trust::{self, Trust};

/// The GitOps reads that only change when a branch moves: kept between polls.
#[derive(Debug, Clone)]
pub struct Reads {
    /// The main and records branch tips these were read at.
    pub tips: (String, Option<String>),
    pub snapshot: Snapshot,
    pub timeline: Vec<HistoryEvent>,
    /// The history as the delivery figures follow it, or why it cannot be read.
    pub delivery: Result<context::delivery::Delivery, String>,
    /// Why each lane's build is trusted.
    pub trust: Vec<Trust>,
    /// What the tip records of each lane; only the replicas are probed again each poll.
    pub recorded: status::Recorded,
    /// The plans and figures last computed over these reads.
    planned: Option<Planned>,
}

/// How long plans computed over unchanged branches are shown before they are asked again:
/// what they also depend on (the registry's images, the attachments) changes without a
/// commit only rarely, and asking every poll cost a core with a long history.
pub const REPLAN: std::time::Duration = std::time::Duration::from_secs(15);

/// What the planner answered and the delivery figures, at one minute of the clock, kept
/// between polls: the heavy part of a board, which a moved branch, the next minute (windows,
/// ages) or [`REPLAN`] asks again.
#[derive(Debug, Clone)]
struct Planned {
    minute: i64,
    at: std::time::Instant,
    moves: Vec<Move>,
    releases: Vec<Release>,
    delivery: Option<Result<super::delivery::Panel, String>>,
}

/// The branch tips (main, records), to decide whether [`Reads`] are still current.
pub async fn tips(pipeline: &Pipeline) -> anyhow::Result<(String, Option<String>)> {
    Ok(pipeline
        .git(|repo| {
            let main = repo.fetch()?;
            let records = repo.fetch_branch(adapters::records::BRANCH)?;
            Ok::<_, adapters::gitops::Error>((main.to_string(), records.map(|r| r.to_string())))
        })
        .await?)
}

/// Reads the snapshot and the timeline at `tips`, beside what the tip records of each lane.
pub async fn read(
    pipeline: &Pipeline,
    tips: (String, Option<String>),
    recorded: status::Recorded,
) -> anyhow::Result<Reads> {
    let snapshot = snapshot::read(pipeline).await?;
    Ok(Reads {
        recorded,
        tips,
        trust: trust::read(pipeline, &snapshot).await,
        snapshot,
        timeline: history::history(pipeline, None, &[], TIMELINE).await?,
        delivery: context::delivery::read(pipeline)
            .await
            .map_err(|e| format!("{e:#}")),
        planned: None,
    })
}

/// Gathers the board: the replicas probed now (they move without a commit) beside what the
/// tip records, and the plans and figures over the cached `reads` at this minute (kept in
/// `reads` for the next polls, see [`REPLAN`]).
pub async fn gather(pipeline: &Pipeline, reads: &mut Reads) -> anyhow::Result<Board> {
    let envs = status::observe(pipeline, &reads.recorded).await?;
    let tip = &reads.recorded.tip;
    let scans = scans(&reads.snapshot, pipeline);
    let lanes = envs
        .into_iter()
        .map(|e| lane(pipeline, e, &scans, &reads.trust))
        .collect();
    let minute = pipeline.clock.now().timestamp().div_euclid(60);
    let planned = match reads.planned.take() {
        Some(kept) if kept.minute == minute && kept.at.elapsed() < REPLAN => kept,
        _ => plan(pipeline, reads, minute).await,
    };
    reads.planned = Some(planned.clone());
    Ok(Board {
        target: pipeline.target.kind().to_owned(),
        gitops_url: pipeline.gitops.url(),
        tip: tip.to_string(),
        lanes,
        moves: planned.moves,
        releases: planned.releases,
        timeline: reads.timeline.clone(),
        scans,
        replanning: false,
        delivery: planned.delivery,
    })
}

/// Asks the planner for every app's next move and every release, and counts the figures.
async fn plan(pipeline: &Pipeline, reads: &Reads, minute: i64) -> Planned {
    let at = std::time::Instant::now();
    let snapshot = &reads.snapshot;
    let mut lookups = Lookups::default();
    let mut moves = Vec::new();
    for app in &pipeline.config.apps {
        for pair in pipeline.config.environments.windows(2) {
            moves.push(
                next_move(
                    pipeline,
                    snapshot,
                    &mut lookups,
                    &app.name,
                    &pair[0].name,
                    &pair[1].name,
                )
                .await,
            );
        }
    }
    let mut releases = Vec::new();
    if pipeline.config.apps.len() > 1 {
        for pair in pipeline.config.environments.windows(2) {
            releases.push(
                plans::release(
                    pipeline,
                    snapshot,
                    &mut lookups,
                    &pair[0].name,
                    &pair[1].name,
                )
                .await,
            );
        }
    }
    let order: Vec<String> = pipeline
        .config
        .environments
        .iter()
        .map(|e| e.name.to_string())
        .collect();
    let delivery = Some(
        reads
            .delivery
            .as_ref()
            .map_err(Clone::clone)
            .map(|d| super::delivery::panel(d, pipeline.clock.now().timestamp(), &order)),
    );
    Planned {
        minute,
        at,
        moves,
        releases,
        delivery,
    }
}

/// The board right after a branch moved, before the snapshot is read again: the lanes and
/// the timeline as they are now, the moves and scans as last planned, marked as such. Reading
/// every environment's history for the plan takes longest; this shows the change first.
pub async fn early(
    pipeline: &Pipeline,
    previous: &Board,
    recorded: &status::Recorded,
) -> anyhow::Result<Board> {
    let timeline = history::history(pipeline, None, &[], TIMELINE).await?;
    let envs = status::observe(pipeline, recorded).await?;
    let tip = &recorded.tip;
    Ok(Board {
        target: previous.target.clone(),
        gitops_url: previous.gitops_url.clone(),
        tip: tip.to_string(),
        lanes: envs
            .into_iter()
            .map(|e| lane(pipeline, e, &previous.scans, &[]))
            .collect(),
        moves: previous.moves.clone(),
        releases: previous.releases.clone(),
        timeline: timeline.to_vec(),
        scans: previous.scans.clone(),
        replanning: true,
        delivery: previous.delivery.clone(),
    })
}

fn lane(pipeline: &Pipeline, e: EnvStatus, scans: &[ScanLine], trust: &[Trust]) -> Lane {
    let app = e
        .app
        .clone()
        .unwrap_or_else(|| pipeline.config.apps[0].name.to_string());
    Lane {
        trust: trust
            .iter()
            .find(|t| t.app == app && t.env == e.env && t.sha == e.desired_sha)
            .cloned(),
        scan: scans
            .iter()
            .find(|s| s.app == app && s.sha == e.desired_sha)
            .map(|s| s.summary.clone()),
        app,
        env: e.env,
        sha: e.desired_sha,
        digest: e.desired_digest,
        ready: e.ready,
        desired: e.desired_replicas,
        replicas: e
            .replicas
            .into_iter()
            .map(|r| Replica {
                name: r.name,
                healthy: r.healthy,
                build: r.build_sha,
                problem: r.problem,
            })
            .collect(),
        urls: e.urls,
        last_change: e.last_change.map(|c| Change {
            revision: c.revision.to_string(),
            time: c.time,
            author: c.author,
            subject: c.subject,
        }),
    }
}

/// The newest recorded scan of each app's builds, from the first environment's history
/// (where `ci` records it), newest first, at most [`SCANS`] an app.
fn scans(snapshot: &Snapshot, pipeline: &Pipeline) -> Vec<ScanLine> {
    let mut out: Vec<ScanLine> = Vec::new();
    for app in &pipeline.config.apps {
        let mut found = 0;
        for c in snapshot.history(&app.name, &pipeline.config.first().name) {
            let (Some(sha), (Some(summary), _)) =
                (c.build_of(app.name.as_str()), c.scan_of(app.name.as_str()))
            else {
                continue;
            };
            if out
                .iter()
                .any(|s| s.app == app.name.as_str() && s.sha == sha)
            {
                continue;
            }
            out.push(ScanLine {
                app: app.name.to_string(),
                sha: sha.to_owned(),
                time: time(c.time),
                summary: summary.to_owned(),
            });
            found += 1;
            if found == SCANS {
                break;
            }
        }
    }
    out
}

fn time(seconds: i64) -> String {
    DateTime::<Utc>::from_timestamp(seconds, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}

/// Asks the planner what `promote --env to --app app` would do now, as the promote flow asks it.
async fn next_move(
    pipeline: &Pipeline,
    snapshot: &Snapshot,
    lookups: &mut Lookups,
    app: &model::AppName,
    from: &model::EnvName,
    to: &model::EnvName,
) -> Move {
    let tag = snapshot.tag(app, from);
    let mut result = Move {
        app: app.to_string(),
        from: from.to_string(),
        to: to.to_string(),
        sha: (!tag.is_empty()).then(|| tag.to_owned()),
        state: MoveState::Ready,
    };
    if !tag.is_empty() && snapshot.tag(app, to) == tag {
        result.state = MoveState::UpToDate;
        return result;
    }
    let requester = plans::requester(snapshot, to, tag);
    let requested = requester.is_some();
    let Some(request) = plans::request(to, vec![app.clone()], requester) else {
        return result;
    };
    let choices = match plan::choose(&pipeline.config, snapshot, &request) {
        Ok(choices) => choices,
        Err(refusal) => {
            result.state = MoveState::Stopped(vec![plans::named(refusal).1]);
            return result;
        }
    };
    if choices.is_empty() {
        return result;
    }
    let stops = match plans::ask(pipeline, snapshot, lookups, &request, &choices).await {
        Ok(planned) => plans::stops(planned.stages.first(), requested),
        Err((_, stop)) => vec![stop],
    };
    if !stops.is_empty() {
        result.state = MoveState::Stopped(stops);
    }
    result
}
