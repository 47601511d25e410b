use super::*;

/// Two apps at one build make one release, approved by its id; one app's release is its
/// build.
#[test]
fn the_approval_names_the_release_of_every_app_at_head() {
    let head = "0123456789abcdef0123456789abcdef01234567";
    let config =
        PipelineConfig::load_in(&workspace::root().join("pipeline.toml"), &workspace::root())
            .expect("pipeline.toml");
    assert_eq!(config.apps.len(), 2);
    let release = release_of(&config, head).expect("release");
    assert_eq!(release.len(), 40);
    assert_ne!(release, head);
    let moves: Vec<(AppName, GitSha)> = ["paktech-gateway", "paktech-app"]
        .into_iter()
        .map(|a| (a.parse().expect("app"), head.parse().expect("sha")))
        .collect();
    assert_eq!(release, policy::plan::release_id(&moves).to_string());
    let mut one = config.clone();
    one.apps.truncate(1);
    assert_eq!(release_of(&one, head).expect("one"), head);
}

#[test]
fn status_entries_are_found_by_app_and_environment() {
    let status = serde_json::json!({"environments": [
        {"app": "paktech-app", "env": "dev", "ready": 1},
        {"app": "paktech-gateway", "env": "dev", "ready": 2},
    ]});
    let ready = |app, env| status_entry(&status, app, env).map(|e| e["ready"].clone());
    assert_eq!(ready("paktech-gateway", "dev"), Some(Value::from(2)));
    assert_eq!(ready("paktech-app", "dev"), Some(Value::from(1)));
    assert_eq!(ready("paktech-app", "prod"), None);
    // A one-app configuration's status names no app.
    let one = serde_json::json!({"environments": [{"env": "dev", "ready": 3}]});
    assert_eq!(
        status_entry(&one, "paktech-app", "dev").map(|e| e["ready"].clone()),
        Some(Value::from(3))
    );
}

/// The gateway is reached through its Service by the chart's port name, and what it
/// answers names the build of the app behind it (gateway/src/routes.rs, `root`).
#[test]
fn the_gateways_answer_names_the_apps_build() {
    assert_eq!(
        service_proxy_path("paktech-prod", "paktech-gateway"),
        "/api/v1/namespaces/paktech-prod/services/paktech-gateway:http/proxy/"
    );
    let service = std::fs::read_to_string(
        workspace::root().join("helm/paktech-gateway/templates/service.yaml"),
    )
    .expect("the gateway's Service");
    assert!(service.contains("- name: http"), "{service}");
    let body = r#"{"service":"paktech-gateway","environment":"dev","version":"0.1.0","build_sha":"b","upstream":{"environment":"dev","build_sha":"a"}}"#;
    assert_eq!(upstream_build(body).as_deref(), Some("a"));
    assert_eq!(upstream_build(r#"{"error":"bad gateway"}"#), None);
    assert_eq!(upstream_build("not json"), None);
}

#[test]
fn the_runs_key_is_trusted_beside_the_committed_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pipeline.toml");
    std::fs::copy(workspace::root().join("pipeline.toml"), &path).expect("copy");
    let key = SigningKey::generate().public_key();
    trust_key(&path, &key).expect("trusted");
    let config = PipelineConfig::load_in(&path, &workspace::root()).expect("loads");
    let ids: Vec<&str> = config
        .supply_chain
        .keys
        .iter()
        .map(|k| k.id.as_str())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_eq!(ids[1], key.id);
}
