//! An environment's stage over the apps a release moves there: each app's values edit, one
//! window gate over their Applications, one approval rule bound to the release.

use chrono::{DateTime, Utc};

use super::{AppStage, ApprovalStep, KeyEdit, Request, Snapshot, Stage, ValuesEdit, diff};
use crate::approval::{ApprovalRule, gate};
use crate::freeze::{WindowGate, promotion_gate};
use crate::window::{self, SyncPurpose};
use config::{EnvironmentConfig, PipelineConfig};
use model::values::Scalar;
use model::{AppName, Digest, GitSha, Person};

/// The id approvals of a release of several apps are bound to: the first 40 hex characters
/// of the SHA-256 of its `app sha` lines, sorted; the same builds make the same release.
pub fn release_id(moves: &[(AppName, GitSha)]) -> GitSha {
    use sha2::Digest as _;
    let mut lines: Vec<String> = moves.iter().map(|(a, s)| format!("{a} {s}\n")).collect();
    lines.sort();
    let hash = sha2::Sha256::digest(lines.concat().as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    hex[..40]
        .parse()
        .unwrap_or_else(|_| unreachable!("40 hex characters"))
}

/// What approvals of a promotion moving `moves` are bound to: the build's SHA when one app
/// moves, else the release's id ([`release_id`]); `None` when nothing moves.
pub fn approval_id(moves: &[(AppName, GitSha)]) -> Option<GitSha> {
    match moves {
        [] => None,
        [(_, sha)] => Some(sha.clone()),
        several => Some(release_id(several)),
    }
}

/// One app's edit in `env`: `image.tag` and `image.digest`, with what each held when planned.
pub(super) fn app_stage(
    config: &PipelineConfig,
    snapshot: &Snapshot,
    env: &EnvironmentConfig,
    app: &AppName,
    sha: &GitSha,
    digest: &Digest,
) -> AppStage {
    let path = config.values_path(app, &env.name);
    let doc = snapshot.values(app, &env.name);
    let keys: Vec<KeyEdit> = [
        ("image.tag", sha.as_str()),
        ("image.digest", digest.as_str()),
    ]
    .into_iter()
    .map(|(key, to)| KeyEdit {
        key: key.to_owned(),
        from: doc.and_then(|d| d.get(key)).unwrap_or_default().to_owned(),
        to: to.to_owned(),
    })
    .collect();
    let diff = match doc {
        Some(doc) => {
            let set: Vec<(&str, Scalar)> = keys
                .iter()
                .map(|k| (k.key.as_str(), Scalar::str(&k.to)))
                .collect();
            // A values file without these keys is refused when the write is tried; the plan
            // shows no diff for it.
            doc.with(&set)
                .map(|edited| diff(doc.text(), edited.text()))
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    AppStage {
        app: app.clone(),
        sha: sha.clone(),
        digest: digest.clone(),
        application: config.application(app, &env.name),
        edit: ValuesEdit { path, keys, diff },
        canary: None,
        monitor: None,
        analysis_off: false,
    }
}

/// An environment's stage over its apps: the window is closed when any app's Application is
/// in a deny window; the approval asks for the most any app of it asks, from people every
/// app's list admits, bound to the release.
pub(super) fn stage(
    config: &PipelineConfig,
    snapshot: &Snapshot,
    request: &Request,
    env: &EnvironmentConfig,
    apps: Vec<AppStage>,
    release: &GitSha,
    now: DateTime<Utc>,
) -> Stage {
    let gates: Vec<WindowGate> = apps
        .iter()
        .map(|a| {
            let decision = window::decide(
                &snapshot.windows,
                &a.application,
                &env.namespace,
                now,
                SyncPurpose::Promotion,
            );
            promotion_gate(&decision, request.break_glass.as_ref())
        })
        .collect();
    let window = merge_windows(gates);
    let (required, approvers) = approval_rule(config, env, apps.iter().map(|a| &a.app));
    let rule = ApprovalRule {
        required,
        approvers: &approvers,
    };
    let approvals = snapshot.records.approvals_for(&env.name, release);
    Stage {
        env: env.name.clone(),
        namespace: env.namespace.clone(),
        window,
        approval: ApprovalStep {
            required,
            status: gate(&rule, &env.name, release, &request.requested_by, &approvals),
            approvers,
            timeout: env.approval_timeout,
        },
        apps,
        sync_timeout: env.sync_timeout,
    }
}

/// The first closed gate, else the first break-glass, else open.
pub(super) fn merge_windows(gates: Vec<WindowGate>) -> WindowGate {
    let closed = gates
        .iter()
        .find(|g| matches!(g, WindowGate::Closed { .. }))
        .cloned();
    let broken = gates
        .iter()
        .find(|g| matches!(g, WindowGate::BreakGlass { .. }))
        .cloned();
    closed.or(broken).unwrap_or(WindowGate::Open)
}

/// The approvals a stage needs: the most any of its apps asks in `env`, from the people
/// every app's list admits (an empty list admits anyone but the requester).
pub fn approval_rule<'a>(
    config: &PipelineConfig,
    env: &EnvironmentConfig,
    apps: impl IntoIterator<Item = &'a AppName>,
) -> (u32, Vec<Person>) {
    let mut required = env.approvals;
    let mut lists: Vec<Vec<Person>> = Vec::new();
    let mut any = false;
    for name in apps {
        any = true;
        if let Ok(app) = config.app(name.as_str()) {
            let effective = config.for_app(app, &env.name);
            required = required.max(effective.approvals);
            if !effective.approvers.is_empty() {
                lists.push(effective.approvers.clone());
            }
        }
    }
    if !any {
        return (env.approvals, env.approvers.clone());
    }
    let approvers = match lists.split_first() {
        None => Vec::new(),
        Some((first, rest)) => first
            .iter()
            .filter(|p| rest.iter().all(|l| l.iter().any(|q| q.key() == p.key())))
            .cloned()
            .collect(),
    };
    (required, approvers)
}
