//! The canary step of a stage: planned on the local target, refused on a cluster.

use super::*;

const CANARY: &str = r#"canary = "30s"
[environments.analysis]
max_error_ratio = 0.05
max_p99 = "250ms"
min_requests = 20
inconclusive = "fail"
"#;

fn plan_on(config: &PipelineConfig, target: TargetKind) -> Result<PromotionPlan, Refusal> {
    plan_for(config, None, target)
}

#[test]
fn a_canary_is_a_step_of_its_stage_on_the_local_target() {
    let planned = plan_on(&config(CANARY), TargetKind::Local).expect("plan");
    let prod = &planned.stages[0];
    assert_eq!(
        prod.apps[0].canary.as_ref().map(|c| c.window),
        Some(Duration::from_secs(30))
    );
    let text = planned.to_string();
    assert!(
        text.contains(
            "canary:   start one replica of it beside the old ones; compare them for 30s"
        ),
        "{text}"
    );
    // Before the deploy line: the canary comes first.
    assert!(text.find("canary:") < text.find("deploy:"), "{text}");
    let json = serde_json::to_value(&planned).expect("json");
    assert_eq!(json["stages"][0]["apps"][0]["canary"]["window"], "30s");

    // Without the setting there is no canary step.
    let plain = plan_on(&config(""), TargetKind::Local).expect("plan");
    assert_eq!(plain.stages[0].apps[0].canary, None);
    assert!(!plain.to_string().contains("canary:"));
    let json = serde_json::to_value(&plain).expect("json");
    assert!(json["stages"][0]["canary"].is_null());
}

#[test]
fn a_canary_on_a_cluster_refuses_the_plan_instead_of_being_skipped() {
    let refused = plan_on(&config(CANARY), TargetKind::Kube).expect_err("refused");
    assert!(
        matches!(&refused, Refusal::CanaryUnsupported { env, .. } if env == "prod"),
        "{refused:?}"
    );
    let message = refused.to_string();
    for needle in ["Argo Rollouts' job", "remove `canary` from prod's settings"] {
        assert!(message.contains(needle), "{needle} in {message}");
    }
    // Without a canary the cluster plans as before.
    assert!(plan_on(&config(""), TargetKind::Kube).is_ok());
}
