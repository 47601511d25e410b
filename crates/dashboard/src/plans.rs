//! Asking the planner for the board, as `promote` asks it: the registry and attachment lookups
//! of each chosen build (once per board, shared by the per-app moves and the releases), then
//! `policy::plan::plan`, and its answer in the board's words ([`Stop`]). The release of every
//! app into an environment (`promote --env <to>` without `--app`) is asked here too.

use std::collections::HashMap;

use flow::{Pipeline, supply_chain};
use model::{Digest, EnvName, GitSha, Person};
use policy::approval::GateStatus;
use policy::freeze::WindowGate;
use policy::plan::{self, Choice, Facts, Found, PromotionPlan, Refusal, Request, Snapshot, Stage};
use policy::supply_chain::Evidence;

use crate::board::{Release, ReleaseApp, ReleaseState, Stop};

/// The requester the planner is asked for when nobody has requested the promotion yet; the
/// approval rule then names who may approve as "anyone but the requester".
pub const NO_REQUESTER: &str = "the requester";

/// What the registry and the attachment store said of one build: its digest (`None`: no such
/// image) and, for a digest, the evidence the chain's environments ask for; `Err`: the
/// registry could not be asked.
type Looked = Result<(Option<Digest>, Option<Evidence>), String>;

/// The lookups made while gathering one board, by app, build and environments walked.
#[derive(Debug, Default)]
pub struct Lookups {
    found: HashMap<(String, String, Vec<EnvName>), Looked>,
}

impl Lookups {
    async fn look(&mut self, pipeline: &Pipeline, choice: &Choice) -> Looked {
        let key = (
            choice.app.to_string(),
            choice.sha.to_string(),
            choice.chain.clone(),
        );
        if let Some(looked) = self.found.get(&key) {
            return looked.clone();
        }
        let looked = match pipeline.config.app(choice.app.as_str()) {
            Err(err) => Err(err.to_string()),
            Ok(config) => match pipeline
                .registry
                .digest(&config.repository, choice.sha.as_str())
                .await
            {
                Err(err) => Err(err.to_string()),
                Ok(None) => Ok((None, None)),
                // The same evidence promote plans with, so the board shows what the gate says.
                Ok(Some(digest)) => {
                    let evidence = supply_chain::evidence(
                        pipeline,
                        &config.repository,
                        &choice.chain,
                        &digest,
                    )
                    .await;
                    Ok((Some(digest), Some(evidence)))
                }
            },
        };
        self.found.insert(key, looked.clone());
        looked
    }
}

/// The requester of the promotion of `release` into `env`, when somebody asked for it.
pub fn requester(snapshot: &Snapshot, env: &EnvName, release: &str) -> Option<Person> {
    release
        .parse::<GitSha>()
        .ok()
        .and_then(|sha| snapshot.records.request(env, &sha))
        .map(|r| r.requester.clone())
}

/// A request of `apps` (empty: every app that differs) into `env` by `requester`, or by
/// nobody yet.
pub fn request(
    env: &EnvName,
    apps: Vec<model::AppName>,
    requester: Option<Person>,
) -> Option<Request> {
    Some(Request {
        env: env.clone(),
        apps,
        sha: None,
        requested_by: requester.or_else(|| NO_REQUESTER.parse().ok())?,
        break_glass: None,
        monitor: None,
    })
}

/// Plans `choices` for `request` after looking each build up; a refusal comes back with the
/// app it names, when it names one.
pub async fn ask(
    pipeline: &Pipeline,
    snapshot: &Snapshot,
    lookups: &mut Lookups,
    request: &Request,
    choices: &[Choice],
) -> Result<PromotionPlan, (Option<String>, Stop)> {
    let mut looked = Vec::with_capacity(choices.len());
    for choice in choices {
        match lookups.look(pipeline, choice).await {
            Ok(found) => looked.push(found),
            Err(reason) => return Err((None, Stop::Unknown { reason })),
        }
    }
    let found: Vec<Found<'_>> = choices
        .iter()
        .zip(&looked)
        .map(|(choice, (digest, evidence))| Found {
            app: &choice.app,
            digest: digest.as_ref(),
            supply_chain: evidence.as_ref(),
        })
        .collect();
    let facts = Facts {
        config: &pipeline.config,
        snapshot,
        found: &found,
        now: pipeline.clock.now(),
        target: pipeline.target.target_kind(),
    };
    plan::plan(facts, request, choices).map_err(named)
}

/// What stops the stage that moves next (a chain walks earlier environments first): a closed
/// window, missing approvals. Empty: `promote` would write now.
pub fn stops(stage: Option<&Stage>, requested: bool) -> Vec<Stop> {
    let mut stops = Vec::new();
    let Some(stage) = stage else {
        return stops;
    };
    if let WindowGate::Closed { by, opens_at } = &stage.window {
        stops.push(Stop::Window {
            by: by.clone(),
            opens_at: opens_at.to_rfc3339(),
        });
    }
    if let GateStatus::Waiting {
        have,
        need,
        may_approve,
    } = &stage.approval.status
    {
        stops.push(Stop::Approval {
            have: have.iter().map(|p| p.to_string()).collect(),
            need: *need,
            may_approve: may_approve.clone(),
            requested,
        });
    }
    stops
}

/// What `promote --env to` (no `--app`) would move from `from` as one release, and what stops it.
pub async fn release(
    pipeline: &Pipeline,
    snapshot: &Snapshot,
    lookups: &mut Lookups,
    from: &EnvName,
    to: &EnvName,
) -> Release {
    let mut result = Release {
        from: from.to_string(),
        to: to.to_string(),
        apps: Vec::new(),
        state: ReleaseState::UpToDate,
    };
    let Some(asked) = request(to, Vec::new(), None) else {
        return result;
    };
    let choices = match plan::choose(&pipeline.config, snapshot, &asked) {
        Ok(choices) => choices,
        Err(Refusal::UpToDate { .. }) => return result,
        Err(refusal) => {
            let (app, stop) = named(refusal);
            result.state = ReleaseState::Refused { app, stop };
            return result;
        }
    };
    result.apps = choices
        .iter()
        .map(|c| ReleaseApp {
            app: c.app.to_string(),
            from: snapshot.tag(&c.app, to).to_owned(),
            to: c.sha.to_string(),
        })
        .collect();
    let id = match choices.as_slice() {
        [one] => one.sha.clone(),
        several => plan::release_id(
            &several
                .iter()
                .map(|c| (c.app.clone(), c.sha.clone()))
                .collect::<Vec<_>>(),
        ),
    };
    let requester = requester(snapshot, to, id.as_str());
    let requested = requester.is_some();
    let Some(asked) = request(to, Vec::new(), requester) else {
        return result;
    };
    result.state = match ask(pipeline, snapshot, lookups, &asked, &choices).await {
        Err((app, stop)) => ReleaseState::Refused { app, stop },
        Ok(planned) => match stops(planned.stages.first(), requested) {
            stops if stops.is_empty() => ReleaseState::Ready,
            stops => ReleaseState::Stopped(stops),
        },
    };
    result
}

/// A refusal in the board's words, with the app it names (a release's refusal names one).
pub fn named(refusal: Refusal) -> (Option<String>, Stop) {
    match refusal {
        Refusal::App { app, refusal } => (Some(app), stop(*refusal)),
        other => (None, stop(other)),
    }
}

fn stop(refusal: Refusal) -> Stop {
    match refusal {
        Refusal::Blocked { by, at, reason, .. } => Stop::Blocked { by, at, reason },
        Refusal::WindowClosed { by, opens_at, .. } => Stop::Window { by, opens_at },
        Refusal::App { refusal, .. } => stop(*refusal),
        other => Stop::Refused {
            kind: match other {
                Refusal::NotPromotable { .. } => "not promotable",
                Refusal::NothingToPromote { .. } => "nothing to promote",
                Refusal::ImageNotFound { .. } => "image missing",
                Refusal::NotInPrevious { .. } => "not run before",
                Refusal::ScanEvidence { .. } => "scan evidence missing",
                Refusal::CanaryUnsupported { .. } => "canary not on this target",
                Refusal::WindowTooShort { .. } => "window too short for its analysis",
                Refusal::LoadAboveBound { .. } => "load above the target's bound",
                Refusal::Unsigned { .. } => "unsigned",
                Refusal::SignatureRejected { .. } => "signature not verified",
                Refusal::NoSbom { .. } => "SBOM missing",
                Refusal::SbomNotAttested { .. } => "SBOM not signed by the build",
                Refusal::NoProvenance { .. } => "provenance not verified",
                Refusal::EvidenceUnreadable { .. } => "supply-chain evidence unreadable",
                Refusal::UpToDate { .. } => "nothing to promote",
                Refusal::CanaryRelease { .. } => "a canary moves one app at a time",
                Refusal::Blocked { .. } | Refusal::WindowClosed { .. } | Refusal::App { .. } => {
                    "refused"
                }
            },
            reason: other.to_string(),
        },
    }
}
