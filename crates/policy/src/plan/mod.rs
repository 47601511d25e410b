//! A promotion as a value. [`choose`] and [`plan`] are pure functions from the configuration,
//! one [`Snapshot`] of the GitOps state and records, the request and the time into a
//! [`PromotionPlan`]: the environments it walks and, for each, the gates with their decisions,
//! the exact values edit with what it was planned from, and the canary, deploy, smoke and
//! monitor steps. `promote --dry-run` prints it; the promote flow executes exactly it, re-deciding just
//! before each write only what time can change (the window, the approvals).
//! cargo-dist (`DistGraph`) and Terraform (`plan`, then `apply` of that plan) work this way.

mod canary;
mod choose;

mod render;
mod shape;
mod sizing;
mod snapshot;
mod stage;

pub use crate::refusal::Refusal;
pub use canary::CanaryStep;
pub use choose::{Choice, Request, choose};
pub use sizing::{AnalysisStep, error_rates, shortest_window};
pub use snapshot::Snapshot;
pub use stage::{approval_id, approval_rule, release_id};

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::approval::GateStatus;
use crate::freeze::{WindowGate, promotion_gate};
use crate::scan::{RecordedScan, evidence as evidence_gate};
use crate::supply_chain::{self, Evidence};
use crate::window::{self, SyncPurpose, SyncWindow};
use config::{AppConfig, PipelineConfig};
use model::audit::CommitRecord;
use model::scan::Counts;
use model::values::Scalar;
use model::{AppName, Digest, EnvName, GitSha, Person, Reason, TargetKind};
use stage::{app_stage, merge_windows, stage};

pub use shape::*;

/// Plans the promotion `choices` made for `request`: every refusal that can be known before a
/// write is found here, and a refusal for one app refuses the release, naming the app.
pub fn plan(
    facts: Facts<'_>,
    request: &Request,
    choices: &[Choice],
) -> Result<PromotionPlan, Refusal> {
    let Facts {
        config,
        snapshot,
        found,
        now,
        target,
    } = facts;
    let mut checks = Vec::new();
    let mut moves = Vec::new();
    let mut app_stages: Vec<(EnvName, AppStage)> = Vec::new();
    for choice in choices {
        let app = config
            .apps
            .iter()
            .find(|a| a.name == choice.app)
            .unwrap_or_else(|| &config.apps[0]);
        let facts = found.iter().find(|f| f.app == &choice.app);
        let digest = check_app(config, snapshot, app, choice, facts, &mut checks)?;
        let evidence = facts
            .and_then(|f| f.supply_chain)
            .cloned()
            .unwrap_or_else(|| Evidence::not_read(digest.clone()));
        let recorded = recorded_scan(
            snapshot.history(&app.name, &config.first().name),
            &app.name,
            &choice.sha,
        );
        for name in &choice.chain {
            let env = &config.for_app(app, name);
            let named = |r: Refusal| r.for_app(&app.name, config.apps.len());
            if let Some(max_age) = env.scan_max_age {
                evidence_gate(&config.scan, recorded.as_ref(), now.timestamp(), max_age).map_err(
                    |reason| {
                        named(Refusal::ScanEvidence {
                            env: name.to_string(),
                            sha: choice.sha.to_string(),
                            reason,
                        })
                    },
                )?;
                checks.push(Check {
                    check: "scan evidence",
                    detail: format!(
                        "{}{name}: a scan younger than {} passes the scan policy",
                        prefix(&app.name, config),
                        humantime::format_duration(max_age)
                    ),
                });
            }
            if let Some(detail) = supply_chain::gate(
                name,
                &config.requirements(name),
                &digest,
                &choice.sha,
                &evidence,
            )
            .map_err(named)?
            {
                checks.push(Check {
                    check: "supply chain",
                    detail: format!("{}{detail}", prefix(&app.name, config)),
                });
            }
            let mut stage = app_stage(config, snapshot, env, &app.name, &choice.sha, &digest);
            stage.canary = canary::step(env, target).map_err(named)?;
            (stage.monitor, stage.analysis_off) =
                sizing::monitor(env, request.monitor, target).map_err(named)?;
            app_stages.push((name.clone(), stage));
        }
        moves.push(AppMove {
            app: app.name.clone(),
            sha: choice.sha.clone(),
            digest,
            source: choice.source.clone(),
        });
    }
    let moved: Vec<(AppName, GitSha)> = moves
        .iter()
        .map(|m| (m.app.clone(), m.sha.clone()))
        .collect();
    let release = approval_id(&moved).unwrap_or_else(|| release_id(&moved));
    let mut stages = Vec::new();
    for env in &config.environments {
        let apps: Vec<AppStage> = app_stages
            .iter()
            .filter(|(e, _)| e == &env.name)
            .map(|(_, s)| s.clone())
            .collect();
        if apps.is_empty() {
            continue;
        }
        if apps.len() > 1 && apps.iter().any(|a| a.canary.is_some()) {
            return Err(Refusal::CanaryRelease {
                env: env.name.to_string(),
                apps: apps
                    .iter()
                    .map(|a| a.app.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        stages.push(stage(config, snapshot, request, env, apps, &release, now));
    }
    Ok(PromotionPlan {
        release,
        apps: moves,
        requested_by: request.requested_by.clone(),
        tip: snapshot.tip.clone(),
        planned_at: now,
        checks,
        stages,
    })
}

/// `app: ` where several apps are configured, so each check names its app.
fn prefix(app: &AppName, config: &PipelineConfig) -> String {
    if config.apps.len() > 1 {
        format!("{app}: ")
    } else {
        String::new()
    }
}

/// The checks of one app's build that do not depend on an environment: in the registry, not
/// blocked, ran where it comes from. Returns its digest.
fn check_app(
    config: &PipelineConfig,
    snapshot: &Snapshot,
    app: &AppConfig,
    choice: &Choice,
    found: Option<&Found<'_>>,
    checks: &mut Vec<Check>,
) -> Result<Digest, Refusal> {
    let sha = &choice.sha;
    let named = |r: Refusal| r.for_app(&app.name, config.apps.len());
    let Some(digest) = found.and_then(|f| f.digest) else {
        return Err(named(Refusal::ImageNotFound {
            image: format!("{}:{sha}", app.repository),
        }));
    };
    checks.push(Check {
        check: "registry",
        detail: format!("{}:{sha} is {digest}", app.repository),
    });
    if let Some(block) = snapshot.records.block(&app.name, sha) {
        return Err(named(Refusal::Blocked {
            sha: sha.to_string(),
            by: block.by.to_string(),
            at: block.at.to_rfc3339(),
            reason: block.reason.to_string(),
        }));
    }
    checks.push(Check {
        check: "not blocked",
        detail: format!(
            "{}no rollback blocked {}",
            prefix(&app.name, config),
            sha.short()
        ),
    });
    if !ran(snapshot.history(&app.name, &choice.source), &app.name, sha) {
        return Err(named(Refusal::NotInPrevious {
            sha: sha.to_string(),
            env: choice.source.to_string(),
        }));
    }
    checks.push(Check {
        check: "ran before",
        detail: format!(
            "{}{} ran in {}",
            prefix(&app.name, config),
            sha.short(),
            choice.source
        ),
    });
    Ok(digest.clone())
}

/// Whether a commit in `app`'s `history` put `sha` into the environment.
fn ran(history: &[CommitRecord], app: &AppName, sha: &GitSha) -> bool {
    history
        .iter()
        .any(|c| c.build_of(app.as_str()) == Some(sha.as_str()))
}

/// The newest scan of `app`'s build `sha` recorded in the first environment's history.
pub fn recorded_scan(
    history: &[CommitRecord],
    app: &AppName,
    sha: &GitSha,
) -> Option<RecordedScan> {
    history.iter().find_map(|c| {
        if c.build_of(app.as_str()) != Some(sha.as_str()) {
            return None;
        }
        let (all, fixable) = c.scan_of(app.as_str());
        Some(RecordedScan {
            time: c.time,
            all: all.and_then(Counts::parse),
            fixable: Counts::parse(fixable?)?,
        })
    })
}

/// The lines of `before` and `after` that differ, as `-old` / `+new` pairs.
pub fn diff(before: &str, after: &str) -> Vec<String> {
    before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .flat_map(|(a, b)| [format!("-{a}"), format!("+{b}")])
        .collect()
}

/// The window gate of `stage` at `now` (time may have moved since the plan was made).
pub fn window_now(
    stage: &Stage,
    windows: &[SyncWindow],
    break_glass: Option<&Reason>,
    now: DateTime<Utc>,
) -> Result<WindowGate, Refusal> {
    let gates = stage
        .apps
        .iter()
        .map(|a| {
            let decision = window::decide(
                windows,
                &a.application,
                &stage.namespace,
                now,
                SyncPurpose::Promotion,
            );
            promotion_gate(&decision, break_glass)
        })
        .collect();
    match merge_windows(gates) {
        WindowGate::Closed { by, opens_at } => Err(Refusal::WindowClosed {
            env: stage.env.to_string(),
            by,
            opens_at: opens_at.to_rfc3339(),
        }),
        open => Ok(open),
    }
}

#[cfg(test)]
mod tests;
