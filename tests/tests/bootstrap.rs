//! The Argo CD bootstrap manifests validate against Argo CD's own CRD schemas (read from
//! `shared/schemas/argo-cd/`), and say what the pipeline relies on.

use serde_json::Value;

fn schema(shared: &std::path::Path, crd: &str) -> Value {
    let text = std::fs::read_to_string(shared.join("schemas/argo-cd").join(crd)).expect("CRD");
    let docs = tests::yaml_documents(&text);
    docs[0]["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

fn manifest(file: &str) -> Value {
    let text = std::fs::read_to_string(tests::workspace().join("gitops/bootstrap").join(file))
        .expect("manifest");
    tests::yaml_documents(&text).remove(0)
}

fn check(schema: &Value, instance: &Value, what: &str) {
    let validator = jsonschema::validator_for(schema).expect("a usable schema");
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not validate:\n{}",
        errors.join("\n")
    );
}

#[test]
fn appproject_and_applicationset_validate_against_argo_cds_schemas() {
    let Some(shared) = tests::shared_or_skip("bootstrap") else {
        return;
    };
    let project = manifest("appproject.yaml");
    let appset = manifest("applicationset.yaml");
    check(
        &schema(&shared, "appproject-crd.yaml"),
        &project,
        "appproject.yaml",
    );
    check(
        &schema(&shared, "applicationset-crd.yaml"),
        &appset,
        "applicationset.yaml",
    );

    // And the schema check is not vacuous: a wrong type is caught.
    let mut broken = project.clone();
    broken["spec"]["syncWindows"][0]["manualSync"] = Value::from("yes");
    let validator =
        jsonschema::validator_for(&schema(&shared, "appproject-crd.yaml")).expect("schema");
    assert!(!validator.is_valid(&broken));
}

#[test]
fn the_project_and_applications_say_what_the_pipeline_relies_on() {
    let project = manifest("appproject.yaml");
    let spec = &project["spec"];
    assert_eq!(spec["sourceRepos"].as_array().map(Vec::len), Some(2));
    let namespaces: Vec<&str> = spec["destinations"]
        .as_array()
        .expect("destinations")
        .iter()
        .filter_map(|d| d["namespace"].as_str())
        .collect();
    assert_eq!(
        namespaces,
        ["paktech-dev", "paktech-staging", "paktech-prod"]
    );
    assert_eq!(
        spec["clusterResourceWhitelist"],
        serde_json::json!([{"group": "", "kind": "Namespace"}])
    );
    let window = &spec["syncWindows"][0];
    assert_eq!(
        (
            window["kind"].as_str(),
            window["schedule"].as_str(),
            window["duration"].as_str()
        ),
        (Some("deny"), Some("0 22 * * *"), Some("8h"))
    );
    assert_eq!(window["manualSync"], true, "rollbacks must pass the freeze");

    let appset = manifest("applicationset.yaml");
    let template = &appset["spec"]["template"]["spec"];
    assert_eq!(
        template["syncPolicy"]["automated"],
        serde_json::json!({"prune": true, "selfHeal": true})
    );
    assert!(
        template["syncPolicy"]["syncOptions"]
            .as_array()
            .expect("options")
            .contains(&Value::from("CreateNamespace=true"))
    );
    assert_eq!(
        template["ignoreDifferences"][0]["jsonPointers"],
        serde_json::json!(["/spec/replicas"])
    );
    let sources = template["sources"].as_array().expect("two sources");
    assert_eq!(sources.len(), 2);
    assert_eq!(sources[1]["ref"], "values");
    assert!(
        sources[0]["helm"]["valueFiles"][0]
            .as_str()
            .expect("values")
            .starts_with("$values/")
    );
    assert!(
        appset["spec"]["template"]["metadata"]["annotations"]
            .as_object()
            .expect("annotations")
            .keys()
            .any(|k| k.starts_with("notifications.argoproj.io/"))
    );
}

/// What the kube target writes into an Application (the refresh annotation, the explicit
/// sync operation) is valid against Argo CD's Application schema, on an Application as the
/// ApplicationSet generates it, and so is the fixture the kube target's tests read.
#[test]
fn the_kube_targets_patches_validate_against_the_application_schema() {
    use pipeline::adapters::target::kube::argo;
    let Some(shared) = tests::shared_or_skip("bootstrap") else {
        return;
    };
    let schema = schema(&shared, "application-crd.yaml");
    let appset = manifest("applicationset.yaml");
    let mut application = serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "paktech-app-prod", "namespace": "argocd"},
        "spec": appset["spec"]["template"]["spec"].clone(),
    });
    application["spec"]["destination"]["namespace"] = Value::from("paktech-prod");
    application["spec"]["sources"][0]["helm"]["valueFiles"][0] =
        Value::from("$values/apps/paktech-app/prod/values.yaml");
    check(&schema, &application, "the generated prod Application");

    let mut patched = application.clone();
    patched["metadata"]["annotations"] = argo::refresh_patch()["metadata"]["annotations"].clone();
    patched["operation"] = argo::sync_patch()["operation"].clone();
    check(
        &schema,
        &patched,
        "the Application with the refresh and sync patches",
    );
    // Not vacuous: an operation of the wrong shape is caught.
    let mut broken = patched.clone();
    broken["operation"]["sync"]["prune"] = Value::from("yes");
    let validator = jsonschema::validator_for(&schema).expect("schema");
    assert!(!validator.is_valid(&broken));

    let fixture_path = tests::workspace().join("pipeline/tests/fixtures/kube/application.json");
    let fixture: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture_path).expect("fixture"))
            .expect("fixture JSON");
    check(
        &schema,
        &fixture,
        "pipeline/tests/fixtures/kube/application.json",
    );
}
