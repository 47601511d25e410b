use super::*;

/// The simulated Application validates against Argo CD's own CRD schema (read from
/// `shared/schemas/argo-cd/`), operation state and all.
#[test]
fn the_simulated_application_validates_against_argo_cds_schema() {
    let Some(shared) = crate::shared_or_skip("fake_cluster") else {
        return;
    };
    let text =
        std::fs::read_to_string(shared.join("schemas/argo-cd/application-crd.yaml")).expect("CRD");
    let schema =
        crate::yaml_documents(&text)[0]["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone();
    let validator = jsonschema::validator_for(&schema).expect("a usable schema");
    let cluster = FakeCluster {
        namespaces: BTreeMap::from([("prod".to_owned(), "paktech-prod".to_owned())]),
        ..FakeCluster::default()
    };
    let revision = "4444444444444444444444444444444444444444";
    let app = AppState {
        compared: Some(revision.to_owned()),
        synced: Some(revision.to_owned()),
        operation: Some(operation_state(revision, false)),
        ..AppState::default()
    };
    let object = cluster.application("paktech-app-prod", "prod", &app, revision);
    let errors: Vec<String> = validator
        .iter_errors(&object)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert_eq!(
        object["status"]["operationState"]["syncResult"]["revisions"][1],
        revision
    );
    assert!(object["status"]["health"].get("message").is_none());
}
