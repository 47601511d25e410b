//! The planner over plain data: a configuration, a snapshot, a request and a time.
//!
//! Longer than 400 lines: the planner's cases over one snapshot builder; the release, sizing and
//! canary cases are in `tests/` beside it.

use std::path::Path;

use super::*;
use model::audit::keys;
use model::values::Document;
use model::{Approval, Block, RecordSet};

const SHA: &str = "1111111111111111111111111111111111111111";
const OLD: &str = "2222222222222222222222222222222222222222";
const NOON: &str = "2026-11-26T12:00:00Z";
const NIGHT: &str = "2026-11-26T23:00:00Z";

fn config(extra_prod: &str) -> PipelineConfig {
    let text = format!(
        r#"
[app]
name = "paktech-app"
[image]
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
{extra_prod}
"#
    );
    PipelineConfig::parse(Path::new("pipeline.toml"), &text).expect("config")
}

fn env(name: &str) -> EnvName {
    name.parse().expect("env")
}

fn sha(s: &str) -> GitSha {
    s.parse().expect("sha")
}

fn digest(c: char) -> Digest {
    format!("sha256:{}", c.to_string().repeat(64))
        .parse()
        .expect("digest")
}

fn app() -> AppName {
    "paktech-app".parse().expect("app")
}

fn values(env: &str, tag: &str) -> (AppName, EnvName, Document) {
    let text = format!(
        "image:\n  repository: paktech-app\n  tag: \"{tag}\"\n  digest: \"\"\nreplicaCount: 1\n"
    );
    (
        app(),
        self::env(env),
        Document::parse(format!("apps/paktech-app/{env}/values.yaml"), text).expect("yaml"),
    )
}

fn commit(image: &str, time: i64, scan: Option<&str>) -> CommitRecord {
    let mut trailers = vec![(keys::IMAGE_SHA.to_owned(), image.to_owned())];
    if let Some(fixable) = scan {
        trailers.push((keys::SCAN_FIXABLE.to_owned(), fixable.to_owned()));
        trailers.push((keys::SCAN.to_owned(), fixable.to_owned()));
    }
    CommitRecord {
        revision: sha("3333333333333333333333333333333333333333"),
        parent: None,
        time,
        author: "paktech-pipeline".to_owned(),
        subject: "chore: bump".to_owned(),
        trailers,
    }
}

const CLEAN: &str = "critical=0 high=0 medium=0 low=0 negligible=0 unknown=0";

/// dev and staging run SHA (staging got it by promotion), prod runs OLD; a deny window from
/// 22:00 UTC for 8 hours on prod.
fn snapshot() -> Snapshot {
    let appproject = "spec:\n  syncWindows:\n    - kind: deny\n      schedule: \"0 22 * * *\"\n      duration: 8h\n      applications: [\"*-prod\"]\n      manualSync: true\n      timeZone: UTC\n";
    let doc = Document::parse("bootstrap/appproject.yaml", appproject).expect("appproject");
    let noon: DateTime<Utc> = NOON.parse().expect("time");
    Snapshot {
        tip: sha("4444444444444444444444444444444444444444"),
        values: vec![
            values("dev", SHA),
            values("staging", SHA),
            values("prod", OLD),
        ],
        history: vec![
            (
                app(),
                env("dev"),
                vec![commit(SHA, noon.timestamp() - 600, Some(CLEAN))],
            ),
            (
                app(),
                env("staging"),
                vec![commit(SHA, noon.timestamp() - 300, None)],
            ),
            (
                app(),
                env("prod"),
                vec![commit(OLD, noon.timestamp() - 86_400, None)],
            ),
        ],
        windows: window::windows_from_appproject(&doc).expect("windows"),
        records: RecordSet::default(),
    }
}

fn request(target: &str, build: Option<&str>) -> Request {
    Request {
        env: env(target),
        apps: Vec::new(),
        sha: build.map(sha),
        requested_by: "alice".parse().expect("person"),
        break_glass: None,
        monitor: None,
    }
}

fn plan_at(
    config: &PipelineConfig,
    snapshot: &Snapshot,
    request: &Request,
    now: &str,
) -> Result<PromotionPlan, Refusal> {
    let d = digest('a');
    planned(
        config,
        snapshot,
        request,
        Some(&d),
        None,
        now,
        TargetKind::Local,
    )
}

/// Plans `request` with every chosen app's build found as `digest` with `evidence`.
fn planned(
    config: &PipelineConfig,
    snapshot: &Snapshot,
    request: &Request,
    digest: Option<&Digest>,
    evidence: Option<&Evidence>,
    now: &str,
    target: TargetKind,
) -> Result<PromotionPlan, Refusal> {
    let choices = choose(config, snapshot, request)?;
    let found: Vec<Found<'_>> = choices
        .iter()
        .map(|c| Found {
            app: &c.app,
            digest,
            supply_chain: evidence,
        })
        .collect();
    plan(
        Facts {
            config,
            snapshot,
            found: &found,
            now: now.parse().expect("time"),
            target,
        },
        request,
        &choices,
    )
}

#[test]
fn choosing_the_build_and_the_environments() {
    let config = config("");
    let mut snap = snapshot();
    // The default build is what the previous environment runs.
    let choice = choose(&config, &snap, &request("prod", None))
        .expect("choice")
        .remove(0);
    assert_eq!(choice.sha, sha(SHA));
    assert_eq!(choice.chain, vec![env("prod")]);
    assert_eq!(choice.source, env("staging"));
    // Staging does not run it yet: the promotion walks staging first, from dev.
    snap.values[1] = values("staging", OLD);
    let choice = choose(&config, &snap, &request("prod", Some(SHA)))
        .expect("choice")
        .remove(0);
    assert_eq!(choice.chain, vec![env("staging"), env("prod")]);
    assert_eq!(choice.source, env("dev"));
    // The first environment is not promoted into; an empty previous environment has no build.
    assert!(matches!(
        choose(&config, &snap, &request("dev", None)),
        Err(Refusal::NotPromotable { .. })
    ));
    snap.values[1] = values("staging", "");
    assert!(matches!(
        choose(&config, &snap, &request("prod", None)),
        Err(Refusal::NothingToPromote { .. })
    ));
}

#[test]
fn refusals_before_any_write() {
    let config = config("");
    let snap = snapshot();
    let req = request("prod", Some(SHA));
    let now: DateTime<Utc> = NOON.parse().expect("time");
    let not_found = planned(&config, &snap, &req, None, None, NOON, TargetKind::Local);
    assert!(matches!(not_found, Err(Refusal::ImageNotFound { .. })));

    let mut blocked = snap.clone();
    blocked.records.blocks.push(Block {
        sha: sha(SHA),
        app: None,
        reason: "rolled back".parse().expect("reason"),
        by: "ci".parse().expect("person"),
        at: now,
        rollback: None,
    });
    assert!(matches!(
        plan_at(&config, &blocked, &req, NOON),
        Err(Refusal::Blocked { .. })
    ));

    let mut unproven = snap.clone();
    unproven.history[1].2.clear();
    assert_eq!(
        plan_at(&config, &unproven, &req, NOON).expect_err("never ran"),
        Refusal::NotInPrevious {
            sha: SHA.to_owned(),
            env: "staging".to_owned()
        }
    );

    let strict = self::config("scan_max_age = \"5m\"");
    let refused = plan_at(&strict, &snap, &req, NOON).expect_err("stale scan");
    assert_eq!(
        refused.to_string(),
        format!("prod needs scan evidence for {SHA}: its newest scan is 10m old, older than 5m")
    );
    let fresh = self::config("scan_max_age = \"1h\"");
    let planned = plan_at(&fresh, &snap, &req, NOON).expect("fresh scan");
    assert!(planned.checks.iter().any(|c| c.check == "scan evidence"));
}

#[test]
fn a_plan_names_each_gate_edit_and_step() {
    let config = config("");
    let mut snap = snapshot();
    let req = request("prod", Some(SHA));
    let planned = plan_at(&config, &snap, &req, NOON).expect("plan");
    assert_eq!(planned.stages.len(), 1);
    let prod = &planned.stages[0];
    assert_eq!(prod.window, WindowGate::Open);
    assert!(matches!(
        &prod.approval.status,
        GateStatus::Waiting { need: 1, may_approve, .. } if may_approve == "anyone but alice"
    ));
    assert_eq!(
        prod.apps[0].edit.keys,
        vec![
            KeyEdit {
                key: "image.tag".to_owned(),
                from: OLD.to_owned(),
                to: SHA.to_owned()
            },
            KeyEdit {
                key: "image.digest".to_owned(),
                from: String::new(),
                to: digest('a').to_string()
            },
        ]
    );
    assert_eq!(
        prod.apps[0].edit.diff,
        vec![
            format!("-  tag: \"{OLD}\""),
            format!("+  tag: \"{SHA}\""),
            "-  digest: \"\"".to_owned(),
            format!("+  digest: \"{}\"", digest('a')),
        ]
    );
    assert_eq!(prod.monitor().map(|m| m.duration.as_secs()), Some(300));
    assert_eq!(
        prod.monitor().and_then(|m| m.analysis.as_ref()),
        None,
        "no [environments.analysis]: health only"
    );

    // An approval by someone else counts; the monitor can be switched off per request.
    snap.records.approvals.push(Approval {
        sha: sha(SHA),
        env: env("prod"),
        approver: "bob".parse().expect("person"),
        at: NOON.parse().expect("time"),
        comment: None,
    });
    let mut quick = req.clone();
    quick.monitor = Some(Duration::ZERO);
    let planned = plan_at(&config, &snap, &quick, NOON).expect("plan");
    assert!(
        matches!(&planned.stages[0].approval.status, GateStatus::Approved { by } if by[0].as_str() == "bob")
    );
    assert_eq!(planned.stages[0].monitor(), None);

    // The human form names every step.
    let text = planned.to_string();
    for needle in [
        "Plan: promote",
        "window:   open now",
        "approval: approved by bob",
        "+  tag:",
        "monitor:  none",
    ] {
        assert!(text.contains(needle), "{needle} in\n{text}");
    }
}

#[test]
fn the_window_is_part_of_the_plan_and_decided_again_later() {
    let config = config("");
    let snap = snapshot();
    let req = request("prod", Some(SHA));
    let night = plan_at(&config, &snap, &req, NIGHT).expect("a plan, showing the freeze");
    let stage = &night.stages[0];
    assert!(
        matches!(&stage.window, WindowGate::Closed { opens_at, .. } if opens_at.to_rfc3339() == "2026-11-27T06:00:00+00:00")
    );
    assert!(
        night
            .to_string()
            .contains("refused now (wait, or --break-glass --reason TEXT)")
    );

    // Planned at noon, the window is decided again when the write comes.
    let noon = plan_at(&config, &snap, &req, NOON).expect("plan");
    let stage = &noon.stages[0];
    assert_eq!(
        window_now(stage, &snap.windows, None, NOON.parse().expect("t")),
        Ok(WindowGate::Open)
    );
    let late = window_now(
        stage,
        &snap.windows,
        None,
        "2026-11-26T22:01:00Z".parse().expect("t"),
    );
    assert!(
        matches!(late, Err(Refusal::WindowClosed { .. })),
        "{late:?}"
    );
    let reason: Reason = "INC-42".parse().expect("reason");
    assert!(matches!(
        window_now(
            stage,
            &snap.windows,
            Some(&reason),
            NIGHT.parse().expect("t")
        ),
        Ok(WindowGate::BreakGlass { .. })
    ));
}

#[test]
fn the_json_form_serialises() {
    let config = config("");
    let planned = plan_at(&config, &snapshot(), &request("prod", Some(SHA)), NOON).expect("plan");
    let json = serde_json::to_value(&planned).expect("json");
    assert_eq!(json["stages"][0]["env"], "prod");
    assert_eq!(json["stages"][0]["apps"][0]["monitor"]["duration"], "5m");
    assert_eq!(json["stages"][0]["window"]["window"], "open");
    assert_eq!(json["stages"][0]["approval"]["status"]["status"], "waiting");
}

/// Plans prod's promotion of SHA at noon on `target`, watched for `monitor` when given.
fn plan_for(
    config: &PipelineConfig,
    monitor: Option<Duration>,
    target: TargetKind,
) -> Result<PromotionPlan, Refusal> {
    let snap = snapshot();
    let mut req = request("prod", Some(SHA));
    req.monitor = monitor;
    let d = digest('a');
    planned(config, &snap, &req, Some(&d), None, NOON, target)
}

mod canary;
#[test]
fn the_watch_carries_the_analysis_thresholds_in_words() {
    let config = config(
        "[environments.analysis]\nmax_error_ratio = 0.05\nmax_p99 = \"250ms\"\nmin_requests = 50\nbaseline_error_factor = 2.0\nbaseline_p99_factor = 3.0\ninconclusive = \"extend\"\nload_rate = 7.0\n",
    );
    let planned = plan_at(&config, &snapshot(), &request("prod", Some(SHA)), NOON).expect("plan");
    let monitor = planned.stages[0].monitor().expect("watched");
    let words = "error ratio ≤ 0.05 and p99 ≤ 250ms, overall and per route; ≤ 2× the previous build's error ratio, ≤ 3× its p99; at least 50 requests, else extend once; 7 synthetic requests/s";
    let analysis = monitor.analysis.as_ref().expect("analysed");
    assert_eq!(analysis.thresholds, words);
    assert!(
        planned
            .to_string()
            .contains(&format!("   analysis: {words}\n"))
    );
}

mod sizing;

#[test]
fn a_stage_whose_environment_requires_it_is_gated_on_the_supply_chain_evidence() {
    let key = ::supply_chain::cosign::SigningKey::generate()
        .public_key()
        .to_pem();
    let config = config(&format!(
        "require_signature = true\nrequire_sbom = true\nrequire_provenance = true\nbuilders = [\"local\"]\n[supply_chain]\npublic_keys = [\"\"\"{key}\"\"\"]\n"
    ));
    let snap = snapshot();
    let req = request("prod", Some(SHA));
    let d = digest('a');
    let with = |evidence: &Evidence| {
        planned(
            &config,
            &snap,
            &req,
            Some(&d),
            Some(evidence),
            NOON,
            TargetKind::Local,
        )
    };
    let provenance = ::supply_chain::attest::provenance::sample(
        &::supply_chain::attest::provenance::Builder::named("local"),
        &SHA.parse().expect("sha"),
        &d,
    );
    let unsigned = Evidence {
        digest: d.clone(),
        signatures: Ok(vec![]),
        sbom: Ok(Some(digest('b'))),
        sbom_attestations: Ok(vec![Ok("keys/cosign.pub (sha256:0011)".to_owned())]),
        provenance: Ok(vec![Ok(crate::supply_chain::Attested {
            key: "keys/cosign.pub (sha256:0011)".to_owned(),
            statement: provenance,
        })]),
    };
    assert!(matches!(with(&unsigned), Err(Refusal::Unsigned { .. })));
    let signed = Evidence {
        signatures: Ok(vec![Ok("keys/cosign.pub (sha256:0011)".to_owned())]),
        ..unsigned
    };
    let unproven = Evidence {
        provenance: Ok(vec![]),
        ..signed.clone()
    };
    assert!(matches!(with(&unproven), Err(Refusal::NoProvenance { .. })));
    let signed_plan = with(&signed).expect("signed and with an SBOM");
    let check = signed_plan
        .checks
        .iter()
        .find(|c| c.check == "supply chain")
        .expect("the check is in the plan");
    assert!(
        check.detail.starts_with("prod: sha256:aaaa"),
        "{}",
        check.detail
    );
    assert!(
        check.detail.contains("signed by keys/cosign.pub"),
        "{}",
        check.detail
    );
    // The plan shows what the provenance proved.
    assert!(
        check.detail.contains(&format!(
            "provenance built by local from git+https://github.com/paktech/paktech-gitops at {SHA}"
        )),
        "{}",
        check.detail
    );
    // Staging requires nothing: no evidence needed to plan a promotion there.
    let staging = request("staging", Some(SHA));
    planned(
        &config,
        &snap,
        &staging,
        Some(&d),
        None,
        NOON,
        TargetKind::Local,
    )
    .expect("staging requires no evidence");
}

mod release;
