//! The figures: each app's deployments to each environment with what followed them (a
//! rollback, a restore), then counted over a period per environment and per app.

use std::collections::{BTreeSet, HashMap};

use super::write::{Kind, Write};

/// One app's deployment to one environment, with what followed it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// The GitOps commit that deployed it (shared by the apps of one release).
    pub revision: String,
    pub time: i64,
    pub env: String,
    pub app: String,
    pub sha: String,
    /// How many apps the commit moved (more than one: a release).
    pub apps_moved: usize,
    pub break_glass: bool,
    /// Seconds from the build's source commit to this write; `None` when the source commit's
    /// time is unknown (the source repository does not have it).
    pub lead_time: Option<i64>,
    /// A rollback undid it while it was the environment's build.
    pub failed: bool,
    /// Seconds from this write to the environment serving a good build again, when it failed
    /// and was restored.
    pub restored_after: Option<i64>,
}

/// A rollback of one app in one environment: rework.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Undo {
    pub revision: String,
    pub time: i64,
    pub env: String,
    pub app: String,
}

/// Every change and rollback of a history, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Changes {
    pub changes: Vec<Change>,
    pub undos: Vec<Undo>,
}

/// What an environment's app runs, as far as failures go.
#[derive(Debug, Clone, Copy)]
enum Current {
    /// The deployment at this index of the changes.
    Deployed(usize),
    /// A rollback put it there: undoing it again is rework, not a failed deployment.
    RolledBack,
}

#[derive(Debug, Default)]
struct Lane {
    current: Option<Current>,
    /// The failed deployment the environment has not recovered from.
    open: Option<usize>,
}

/// Follows `writes` (oldest first) and says, for each deployment, whether it failed and when
/// the environment recovered. `source_time` gives a build's source commit time.
pub fn changes(writes: &[Write], source_time: impl Fn(&str) -> Option<i64>) -> Changes {
    let mut out = Changes::default();
    let mut lanes: HashMap<(&str, &str), Lane> = HashMap::new();
    for w in writes {
        for (app, sha) in &w.builds {
            let lane = lanes.entry((w.env.as_str(), app.as_str())).or_default();
            if w.kind == Kind::Rollback {
                out.undos.push(Undo {
                    revision: w.revision.clone(),
                    time: w.time,
                    env: w.env.clone(),
                    app: app.clone(),
                });
                if let Some(Current::Deployed(at)) = lane.current {
                    out.changes[at].failed = true;
                    lane.open.get_or_insert(at);
                }
                lane.current = Some(Current::RolledBack);
            } else {
                lane.current = Some(Current::Deployed(out.changes.len()));
            }
            // Serving a build other than the failed one, and some build: restored.
            if let Some(failed) = lane.open
                && !sha.is_empty()
                && *sha != out.changes[failed].sha
            {
                let change = &mut out.changes[failed];
                change.restored_after = Some(w.time - change.time);
                lane.open = None;
            }
            if w.kind != Kind::Rollback {
                out.changes.push(Change {
                    revision: w.revision.clone(),
                    time: w.time,
                    env: w.env.clone(),
                    app: app.clone(),
                    sha: sha.clone(),
                    apps_moved: w.builds.len(),
                    break_glass: w.break_glass,
                    // A source commit dated after its deploy (a skewed clock) counts as zero.
                    lead_time: source_time(sha).map(|t| (w.time - t).max(0)),
                    failed: false,
                    restored_after: None,
                });
            }
        }
    }
    out
}

/// Which figures to compute: a period `[since, until)` in seconds since the epoch, optionally
/// one environment or one app, and how many points each chart has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub since: i64,
    pub until: i64,
    pub env: Option<String>,
    pub app: Option<String>,
    /// The environments in promotion order (others follow, by name).
    pub order: Vec<String>,
    /// Points per environment's chart (0: no charts).
    pub points: usize,
}

/// The nearest-rank percentiles of some durations, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Percentiles {
    pub count: usize,
    pub p50: Option<i64>,
    pub p90: Option<i64>,
}

impl Percentiles {
    /// The nearest-rank method: the p-th percentile of n sorted values is the value at rank
    /// ⌈p·n/100⌉ (1-based).
    pub fn of(mut values: Vec<i64>) -> Self {
        values.sort_unstable();
        let rank = |p: usize| {
            let n = values.len();
            (n > 0).then(|| values[(p * n).div_ceil(100).max(1) - 1])
        };
        Self {
            count: values.len(),
            p50: rank(50),
            p90: rank(90),
        }
    }
}

/// The figures of one environment (or one app in it) over one period.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Figures {
    /// Writes that deployed (a release of several apps is one, per environment).
    pub deployments: usize,
    /// Of those, releases: writes that moved several apps together.
    pub releases: usize,
    /// Deployments per day of the period.
    pub per_day: f64,
    /// Source commit to write in the environment, of each app's build deployed.
    pub lead_time: Percentiles,
    /// Builds deployed whose source commit time is unknown (not in `lead_time`).
    pub lead_time_unknown: usize,
    /// Deployments a rollback undid.
    pub failures: usize,
    /// failures / deployments; `None` without deployments.
    pub change_failure_rate: Option<f64>,
    /// Failing write to a good build again, of the failures restored.
    pub time_to_restore: Percentiles,
    /// Failures not restored (yet).
    pub unrestored: usize,
    pub rollbacks: usize,
    /// Deployments that went past a failed gate.
    pub break_glass: usize,
    /// (rollbacks + break-glass deployments) / (deployments + rollbacks); `None` without writes.
    pub rework_rate: Option<f64>,
}

/// One point of a chart: the figures of `[start, end)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Point {
    pub start: i64,
    pub end: i64,
    pub figures: Figures,
}

/// One environment's figures (`app: None`: every app, a release counted once) or one app's in it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Scope {
    pub env: String,
    pub app: Option<String>,
    pub figures: Figures,
    /// The environment's figures over time (empty for an app's scope).
    pub series: Vec<Point>,
}

/// The figures of a query.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    pub since: i64,
    pub until: i64,
    pub scopes: Vec<Scope>,
}

/// The figures `query` asks for, per environment then per app in it.
pub fn report(all: &Changes, query: &Query) -> Report {
    let wanted = |env: &str, app: &str| {
        query.env.as_deref().is_none_or(|e| e == env)
            && query.app.as_deref().is_none_or(|a| a == app)
    };
    let mut envs: Vec<&str> = all
        .changes
        .iter()
        .map(|c| (c.env.as_str(), c.app.as_str()))
        .chain(all.undos.iter().map(|u| (u.env.as_str(), u.app.as_str())))
        .filter(|(e, a)| wanted(e, a))
        .map(|(e, _)| e)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let place = |e: &&str| {
        query
            .order
            .iter()
            .position(|o| o == e)
            .unwrap_or(usize::MAX)
    };
    envs.sort_by_key(|e| (place(e), *e));
    let mut scopes = Vec::new();
    for env in envs {
        // Each environment's (and app's) changes picked once; every period then scans only those.
        let changes: Vec<&Change> = all
            .changes
            .iter()
            .filter(|c| c.env == env && wanted(&c.env, &c.app))
            .collect();
        let undos: Vec<&Undo> = all
            .undos
            .iter()
            .filter(|u| u.env == env && wanted(&u.env, &u.app))
            .collect();
        let series = (0..query.points)
            .map(|i| {
                let (start, end) = bucket(query, i);
                Point {
                    start,
                    end,
                    figures: figures(&changes, &undos, start, end, true),
                }
            })
            .collect();
        scopes.push(Scope {
            env: env.to_owned(),
            app: None,
            figures: figures(&changes, &undos, query.since, query.until, true),
            series,
        });
        let apps: BTreeSet<&str> = changes
            .iter()
            .map(|c| c.app.as_str())
            .chain(undos.iter().map(|u| u.app.as_str()))
            .collect();
        for app in apps {
            let changes: Vec<&Change> = changes.iter().copied().filter(|c| c.app == app).collect();
            let undos: Vec<&Undo> = undos.iter().copied().filter(|u| u.app == app).collect();
            scopes.push(Scope {
                env: env.to_owned(),
                app: Some(app.to_owned()),
                figures: figures(&changes, &undos, query.since, query.until, false),
                series: Vec::new(),
            });
        }
    }
    Report {
        since: query.since,
        until: query.until,
        scopes,
    }
}

/// The `i`-th of `query.points` equal slices of the period.
fn bucket(query: &Query, i: usize) -> (i64, i64) {
    let span = (query.until - query.since).max(1);
    let points = i64::try_from(query.points.max(1)).unwrap_or(i64::MAX);
    let at = |k: i64| query.since + span * k / points;
    let i = i64::try_from(i).unwrap_or(i64::MAX);
    (at(i), at(i + 1))
}

/// The figures of `changes` and `undos` (one environment's, or one app's in it) in
/// `[since, until)`. `per_write`: a commit that moved several apps counts once (an
/// environment's figures), else each app's change counts (one app's figures).
fn figures(
    changes: &[&Change],
    undos: &[&Undo],
    since: i64,
    until: i64,
    per_write: bool,
) -> Figures {
    let during = |t: i64| since <= t && t < until;
    let changes: Vec<&Change> = changes.iter().copied().filter(|c| during(c.time)).collect();
    // Per write: the apps of one commit are one deployment, failed when any app of it failed,
    // restored when the last failed app of it was.
    // Each write is a run of its changes (they are oldest first, a commit's together): a
    // slice, so a history of 100,000 writes allocates nothing per write here.
    let writes: Vec<&[&Change]> = if per_write {
        changes.chunk_by(|a, b| a.revision == b.revision).collect()
    } else {
        changes.chunks(1).collect()
    };
    let failed: Vec<&[&Change]> = writes
        .iter()
        .copied()
        .filter(|g| g.iter().any(|c| c.failed))
        .collect();
    let restores: Vec<Option<i64>> = failed
        .iter()
        .map(|g| {
            g.iter()
                .filter(|c| c.failed)
                .map(|c| c.restored_after)
                .try_fold(0, |worst, r| r.map(|r| worst.max(r)))
        })
        .collect();
    let mut rollbacks: Vec<&str> = undos
        .iter()
        .filter(|u| during(u.time))
        .map(|u| u.revision.as_str())
        .collect();
    rollbacks.dedup();
    let deployments = writes.len();
    let break_glass = writes
        .iter()
        .filter(|g| g.iter().any(|c| c.break_glass))
        .count();
    let ratio = |part: usize, whole: usize| (whole > 0).then(|| part as f64 / whole as f64);
    let days = (until - since) as f64 / 86_400.0;
    Figures {
        deployments,
        releases: writes
            .iter()
            .filter(|g| g.first().is_some_and(|c| c.apps_moved > 1))
            .count(),
        per_day: if days > 0.0 {
            deployments as f64 / days
        } else {
            0.0
        },
        lead_time: Percentiles::of(changes.iter().filter_map(|c| c.lead_time).collect()),
        lead_time_unknown: changes.iter().filter(|c| c.lead_time.is_none()).count(),
        failures: failed.len(),
        change_failure_rate: ratio(failed.len(), deployments),
        time_to_restore: Percentiles::of(restores.iter().flatten().copied().collect()),
        unrestored: restores.iter().filter(|r| r.is_none()).count(),
        rollbacks: rollbacks.len(),
        break_glass,
        rework_rate: ratio(rollbacks.len() + break_glass, deployments + rollbacks.len()),
    }
}
