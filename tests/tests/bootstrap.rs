//! The Argo CD bootstrap manifests validate against Argo CD's own CRD schemas (read from
//! `shared/schemas/argo-cd/`), and say what the pipeline and prod's boundary rely on: each
//! environment's Application lives in the environment's namespace and its project admits that
//! namespace only (Argo CD "Applications in any namespace": an Application may use a project
//! only from a namespace in the project's `sourceNamespaces`), and the `default` project is
//! emptied (Argo CD "Projects", "The Default Project").

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

const ENVIRONMENTS: [&str; 3] = ["dev", "staging", "prod"];

#[test]
fn appproject_and_applicationset_validate_against_argo_cds_schemas() {
    let Some(shared) = tests::shared_or_skip("bootstrap") else {
        return;
    };
    for env in ENVIRONMENTS {
        for (file, crd) in [
            ("appproject.yaml", "appproject-crd.yaml"),
            ("applicationset.yaml", "applicationset-crd.yaml"),
        ] {
            let file = format!("{env}/{file}");
            check(&schema(&shared, crd), &manifest(&file), &file);
        }
    }
    check(
        &schema(&shared, "appproject-crd.yaml"),
        &manifest("default-appproject.yaml"),
        "default-appproject.yaml",
    );
    let project = manifest("prod/appproject.yaml");

    // And the schema check is not vacuous: a wrong type is caught.
    let mut broken = project.clone();
    broken["spec"]["syncWindows"][0]["manualSync"] = Value::from("yes");
    let validator =
        jsonschema::validator_for(&schema(&shared, "appproject-crd.yaml")).expect("schema");
    assert!(!validator.is_valid(&broken));
}

#[test]
fn each_environment_is_confined_to_its_namespace_and_default_is_locked() {
    for env in ENVIRONMENTS {
        let namespace = format!("paktech-{env}");
        let project = manifest(&format!("{env}/appproject.yaml"));
        let spec = &project["spec"];
        assert_eq!(project["metadata"]["namespace"], "argocd");
        assert_eq!(
            spec["sourceNamespaces"],
            serde_json::json!([namespace]),
            "{env}"
        );
        let destinations: Vec<&str> = spec["destinations"]
            .as_array()
            .expect("destinations")
            .iter()
            .filter_map(|d| d["namespace"].as_str())
            .collect();
        assert_eq!(destinations, [namespace.as_str()], "{env}");
        let appset = manifest(&format!("{env}/applicationset.yaml"));
        // Generated Applications live in the ApplicationSet's namespace: the environment's.
        assert_eq!(appset["metadata"]["namespace"], namespace.as_str());
        let template = &appset["spec"]["template"]["spec"];
        assert_eq!(template["project"], project["metadata"]["name"]);
        assert_eq!(template["destination"]["namespace"], namespace.as_str());
    }
    let default = manifest("default-appproject.yaml");
    assert_eq!(default["metadata"]["name"], "default");
    for key in ["sourceRepos", "sourceNamespaces", "destinations"] {
        assert_eq!(default["spec"][key], serde_json::json!([]), "{key}");
    }
    assert_eq!(
        default["spec"]["namespaceResourceBlacklist"],
        serde_json::json!([{"group": "*", "kind": "*"}])
    );
    // Argo CD watches exactly the environments' namespaces for Applications and
    // ApplicationSets (the two lists must be the same).
    let params = manifest("argocd-cmd-params-cm.yaml");
    let expected = "paktech-dev, paktech-staging, paktech-prod";
    assert_eq!(params["data"]["application.namespaces"], expected);
    assert_eq!(
        params["data"]["applicationsetcontroller.namespaces"],
        expected
    );
}

#[test]
fn the_project_and_applications_say_what_the_pipeline_relies_on() {
    let project = manifest("prod/appproject.yaml");
    let spec = &project["spec"];
    assert_eq!(spec["sourceRepos"].as_array().map(Vec::len), Some(2));
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

    let appset = manifest("prod/applicationset.yaml");
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
    use adapters::target::kube::argo;
    let Some(shared) = tests::shared_or_skip("bootstrap") else {
        return;
    };
    let schema = schema(&shared, "application-crd.yaml");
    let appset = manifest("prod/applicationset.yaml");
    let mut application = serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "paktech-app-prod", "namespace": "paktech-prod"},
        "spec": appset["spec"]["template"]["spec"].clone(),
    });
    application["spec"]["sources"][0]["targetRevision"] =
        Value::from("1111111111111111111111111111111111111111");
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

    for name in ["application.json", "application-new-hpa.json"] {
        let path = format!("crates/adapters/tests/fixtures/kube/{name}");
        let fixture: Value = serde_json::from_str(
            &std::fs::read_to_string(tests::workspace().join(&path)).expect("fixture"),
        )
        .expect("fixture JSON");
        check(&schema, &fixture, &path);
    }
}
