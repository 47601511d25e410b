//! A release: several apps planned as one promotion.

use super::*;

const GATEWAY_NEW: &str = "5555555555555555555555555555555555555555";
const GATEWAY_OLD: &str = "6666666666666666666666666666666666666666";

/// paktech-app and paktech-gateway (depending on it), listed gateway first.
fn apps_config(extra: &str) -> PipelineConfig {
    let text = format!(
        r#"
[[apps]]
name = "paktech-gateway"
repository = "paktech-gateway"
depends_on = ["paktech-app"]
{extra}
[[apps]]
name = "paktech-app"
repository = "paktech-app"
[[environments]]
name = "dev"
namespace = "paktech-dev"
[[environments]]
name = "staging"
namespace = "paktech-staging"
[[environments]]
name = "prod"
namespace = "paktech-prod"
approvals = 1
monitor = "5m"
"#
    );
    PipelineConfig::parse(Path::new("pipeline.toml"), &text).expect("config")
}

fn gateway() -> AppName {
    "paktech-gateway".parse().expect("app")
}

fn gateway_values(env: &str, tag: &str) -> (AppName, EnvName, Document) {
    let text = format!(
        "image:\n  repository: paktech-gateway\n  tag: \"{tag}\"\n  digest: \"\"\nreplicaCount: 1\n"
    );
    (
        gateway(),
        self::env(env),
        Document::parse(format!("apps/paktech-gateway/{env}/values.yaml"), text).expect("yaml"),
    )
}

/// The one-app snapshot, plus the gateway: staging runs GATEWAY_NEW, prod GATEWAY_OLD.
fn release_snapshot() -> Snapshot {
    let mut snap = snapshot();
    let noon: DateTime<Utc> = NOON.parse().expect("time");
    snap.values.extend([
        gateway_values("dev", GATEWAY_NEW),
        gateway_values("staging", GATEWAY_NEW),
        gateway_values("prod", GATEWAY_OLD),
    ]);
    snap.history.extend([
        (
            gateway(),
            env("dev"),
            vec![commit(GATEWAY_NEW, noon.timestamp() - 600, Some(CLEAN))],
        ),
        (
            gateway(),
            env("staging"),
            vec![commit(GATEWAY_NEW, noon.timestamp() - 300, None)],
        ),
        (
            gateway(),
            env("prod"),
            vec![commit(GATEWAY_OLD, noon.timestamp() - 86_400, None)],
        ),
    ]);
    snap
}

fn release(
    config: &PipelineConfig,
    snap: &Snapshot,
    apps: &[&str],
) -> Result<PromotionPlan, Refusal> {
    let mut req = request("prod", None);
    req.apps = apps.iter().map(|a| a.parse().expect("app")).collect();
    plan_at(config, snap, &req, NOON)
}

#[test]
fn a_release_moves_every_app_that_differs_in_dependency_order_as_one_stage() {
    let config = apps_config("");
    let planned = release(&config, &release_snapshot(), &[]).expect("plan");
    let moved: Vec<(&str, &str)> = planned
        .apps
        .iter()
        .map(|m| (m.app.as_str(), m.sha.as_str()))
        .collect();
    assert_eq!(
        moved,
        [("paktech-app", SHA), ("paktech-gateway", GATEWAY_NEW)]
    );
    assert_eq!(
        planned.stages.len(),
        1,
        "one stage: one approval, one commit, one watch"
    );
    let prod = &planned.stages[0];
    let order: Vec<&str> = prod.apps.iter().map(|a| a.app.as_str()).collect();
    assert_eq!(
        order,
        ["paktech-app", "paktech-gateway"],
        "dependencies first"
    );
    assert_eq!(
        prod.apps[1].edit.path,
        "apps/paktech-gateway/prod/values.yaml"
    );
    assert_eq!(prod.apps[1].application, "paktech-gateway-prod");
    // The approval is bound to the release, not to either build.
    let id = release_id(&[(app(), sha(SHA)), (gateway(), sha(GATEWAY_NEW))]);
    assert_eq!(planned.release, id);
    assert_ne!(id, sha(SHA));
    assert_eq!(
        release_id(&[(gateway(), sha(GATEWAY_NEW)), (app(), sha(SHA))]),
        id,
        "the same builds make the same release, in any order"
    );
    let text = planned.to_string();
    for needle in [
        "Plan: promote a release of 2 apps to prod",
        &format!("release {id}"),
        "paktech-gateway: apps/paktech-gateway/prod/values.yaml",
        "commit:   one GitOps commit for every app above",
        "in dependency order (paktech-app, then paktech-gateway)",
    ] {
        assert!(text.contains(needle), "{needle} in\n{text}");
    }
}

#[test]
fn an_app_already_there_stays_out_and_app_narrows_the_release() {
    let config = apps_config("");
    let mut snap = release_snapshot();
    // Prod already runs the gateway's staging build: only the app moves.
    snap.values[5] = gateway_values("prod", GATEWAY_NEW);
    let planned = release(&config, &snap, &[]).expect("plan");
    assert_eq!(planned.apps.len(), 1);
    assert_eq!(planned.apps[0].app, app());
    assert_eq!(
        planned.release,
        sha(SHA),
        "one app: approvals bind to its build"
    );
    // --app narrows it; nothing left to move is said so.
    let only = release(&config, &release_snapshot(), &["paktech-gateway"]).expect("plan");
    assert_eq!(only.apps.len(), 1);
    assert_eq!(only.apps[0].app, gateway());
    snap.values[2] = values("prod", SHA);
    assert_eq!(
        release(&config, &snap, &[]).expect_err("nothing differs"),
        Refusal::UpToDate {
            env: "prod".to_owned(),
            from: "staging".to_owned()
        }
    );
}

#[test]
fn a_refusal_for_one_app_refuses_the_release_and_names_the_app() {
    let config = apps_config("");
    let mut snap = release_snapshot();
    snap.records.blocks.push(Block {
        sha: sha(GATEWAY_NEW),
        app: Some(gateway()),
        reason: "rolled back".parse().expect("reason"),
        by: "ci".parse().expect("person"),
        at: NOON.parse().expect("time"),
        rollback: None,
    });
    let refused = release(&config, &snap, &[]).expect_err("blocked");
    assert!(
        matches!(&refused, Refusal::App { app, refusal } if app == "paktech-gateway" && matches!(**refusal, Refusal::Blocked { .. })),
        "{refused:?}"
    );
    assert!(
        refused.to_string().starts_with("paktech-gateway: ")
            && refused
                .to_string()
                .ends_with("the release is refused, nothing was written"),
        "{refused}"
    );
    // The block is the gateway's: the app's build of the same commit is not blocked.
    snap.records.blocks[0].sha = sha(SHA);
    let planned = release(&config, &snap, &["paktech-app"]).expect("the app is not blocked");
    assert_eq!(planned.apps[0].app, app());
    // A block from before apps were named blocks that commit's build of every app.
    snap.records.blocks[0].app = None;
    assert!(release(&config, &snap, &["paktech-app"]).is_err());
}

#[test]
fn a_release_asks_the_most_approvals_any_app_asks_from_people_every_app_admits() {
    let config =
        apps_config("[apps.environments.prod]\napprovals = 2\napprovers = [\"bob\", \"carol\"]\n");
    let planned = release(&config, &release_snapshot(), &[]).expect("plan");
    let approval = &planned.stages[0].approval;
    assert_eq!(approval.required, 2);
    let names: Vec<&str> = approval.approvers.iter().map(|p| p.as_str()).collect();
    assert_eq!(names, ["bob", "carol"]);
}

#[test]
fn a_canary_moves_one_app_so_a_release_with_one_is_refused() {
    let config = apps_config("");
    let mut with_canary = config.clone();
    let prod = with_canary
        .environments
        .iter_mut()
        .find(|e| e.name.as_str() == "prod")
        .expect("prod");
    prod.canary = Some(Duration::from_secs(60));
    prod.analysis = Some(
        toml::from_str(
            "max_error_ratio = 0.05\nmax_p99 = \"250ms\"\nmin_requests = 20\ninconclusive = \"fail\"\nload_rate = 100.0",
        )
            .expect("analysis"),
    );
    let refused = release(&with_canary, &release_snapshot(), &[]).expect_err("canary");
    assert!(
        matches!(refused, Refusal::CanaryRelease { .. }),
        "{refused:?}"
    );
    assert!(
        release(&with_canary, &release_snapshot(), &["paktech-app"]).is_ok(),
        "one app at a time takes its canary"
    );
}

#[test]
fn with_a_commit_a_release_moves_the_apps_that_commit_built() {
    let config = apps_config("");
    let mut snap = release_snapshot();
    // The commit SHA built paktech-app only (the gateway's build is another commit's).
    let mut req = request("prod", Some(SHA));
    let planned = plan_at(&config, &snap, &req, NOON).expect("plan");
    let moved: Vec<&str> = planned.apps.iter().map(|m| m.app.as_str()).collect();
    assert_eq!(moved, ["paktech-app"]);
    // A commit that built both moves both.
    snap.values[3] = gateway_values("dev", SHA);
    snap.values[4] = gateway_values("staging", SHA);
    snap.history[4].2.insert(0, commit(SHA, 0, None));
    let planned = plan_at(&config, &snap, &req, NOON).expect("plan");
    assert_eq!(planned.apps.len(), 2);
    // A re-run after the write landed finds prod at the commit and finishes the release.
    snap.values[2] = values("prod", SHA);
    snap.values[5] = gateway_values("prod", SHA);
    let again = plan_at(&config, &snap, &req, NOON).expect("plan");
    assert_eq!(again.apps.len(), 2);
    assert!(
        again.stages[0]
            .apps
            .iter()
            .all(|a| a.edit.keys[0].from == a.edit.keys[0].to),
        "prod already names the commit's builds"
    );
    // A commit that built none of them is every app's, so each app's checks say why not.
    req.sha = Some(sha("7777777777777777777777777777777777777777"));
    assert!(matches!(
        plan_at(&config, &snap, &req, NOON),
        Err(Refusal::App { .. })
    ));
}

#[test]
fn the_approval_rule_is_the_environments_as_each_app_asks_it() {
    let config =
        apps_config("[apps.environments.prod]\napprovals = 2\napprovers = [\"bob\", \"carol\"]\n");
    let prod = config.environment("prod").expect("prod").clone();
    let names = |who: Vec<Person>| who.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    let (required, who) = approval_rule(&config, &prod, [&gateway()]);
    assert_eq!(
        (required, names(who)),
        (2, vec!["bob".to_owned(), "carol".to_owned()])
    );
    let (required, who) = approval_rule(&config, &prod, [&app()]);
    assert_eq!((required, names(who)), (1, Vec::<String>::new()));
    // No app named (a request from before apps): the environment's own rule.
    let (required, who) = approval_rule(&config, &prod, std::iter::empty());
    assert_eq!((required, names(who)), (1, Vec::<String>::new()));
}
