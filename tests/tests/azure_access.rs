//! Azure permissions match what the workflows and the code do, read from the committed files:
//! every OIDC subject a workflow job presents has a federated credential on the identity whose
//! client id the job uses (`infra/identity.tf`; a deployment environment's AZURE_CLIENT_ID is
//! set per GitHub environment in `infra/github.tf`), every Kubernetes API call the kube target
//! makes (`kube::access::ACCESS`) is granted to each environment's identity in that
//! environment's namespace (`infra/kube_access.tf`: Azure role assignments, since the cluster
//! authorizes Entra identities with Azure RBAC), and no identity reaches another environment.
//!
//! Terraform is read with `tests::terraform`, a small reader for the shapes these files use.
//!
//! Longer than 400 lines: one reading of `infra/` and `.github/`, checked from both sides (what a
//! job presents against what Azure grants); the readers are shared by every case.

use std::collections::{BTreeMap, BTreeSet};

use adapters::target::kube::access::{ACCESS, ApiAccess};
use serde_json::Value;
use tests::terraform::{attr, attr_list, attr_string, blocks, instances, locals};

fn terraform() -> String {
    tests::terraform::infra()
}

/// `var.github_repository` in the subjects below.
const REPO: &str = "OWNER/REPO";

/// Subjects of the federated credentials of each application (by Terraform name).
fn federated_subjects(tf: &str) -> BTreeMap<String, BTreeSet<String>> {
    let locals = locals(tf);
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, body) in blocks(
        tf,
        "resource \"azuread_application_federated_identity_credential\"",
    ) {
        for body in instances(&body, &locals) {
            let app = attr(&body, "application_id").expect("application_id");
            let app = app
                .strip_prefix("azuread_application.")
                .and_then(|a| a.strip_suffix(".id"))
                .unwrap_or_else(|| panic!("application_id = {app}"));
            assert_eq!(
                attr_string(&body, "issuer").as_deref(),
                Some("https://token.actions.githubusercontent.com")
            );
            assert_eq!(
                attr_list(&body, "audiences"),
                ["api://AzureADTokenExchange"]
            );
            let subject = attr_string(&body, "subject")
                .expect("subject")
                .replace("${var.github_repository}", REPO);
            out.entry(app.to_owned()).or_default().insert(subject);
        }
    }
    out
}

/// Which application a workflow variable names, from the outputs that hand out client ids
/// (`description = "AZURE_CLIENT_ID for ..."`, `value = azuread_application.ci.client_id`).
fn client_id_variables(tf: &str) -> BTreeMap<String, String> {
    blocks(tf, "output ")
        .into_iter()
        .filter_map(|(_, body)| {
            let description = attr_string(&body, "description")?;
            let variable = description.split_whitespace().next()?.to_owned();
            let app = attr(&body, "value")?
                .strip_prefix("azuread_application.")?
                .strip_suffix(".client_id")?
                .to_owned();
            Some((variable, app))
        })
        .collect()
}

/// Which application each GitHub environment's own AZURE_CLIENT_ID names (`infra/github.tf`:
/// `github_actions_environment_variable`, `value = azuread_application.<app>.client_id`).
fn environment_client_ids(tf: &str) -> BTreeMap<String, String> {
    let locals = locals(tf);
    let mut out = BTreeMap::new();
    for (_, body) in blocks(tf, "resource \"github_actions_environment_variable\"") {
        for body in instances(&body, &locals) {
            if attr_string(&body, "variable_name").as_deref() != Some("AZURE_CLIENT_ID") {
                continue;
            }
            let environment = attr(&body, "environment").expect("environment");
            let environment = environment
                .strip_prefix("github_repository_environment.deploy[\"")
                .and_then(|e| e.strip_suffix("\"].environment"))
                .unwrap_or_else(|| panic!("environment = {environment}"));
            let app = attr(&body, "value")
                .and_then(|v| v.strip_prefix("azuread_application."))
                .and_then(|v| v.strip_suffix(".client_id"))
                .expect("an application's client id");
            out.insert(environment.to_owned(), app.to_owned());
        }
    }
    out
}

/// The environment a job runs in, if any.
fn environment_of(job: &Value) -> Option<String> {
    match &job["environment"] {
        Value::String(name) => Some(name.clone()),
        Value::Object(map) => map.get("name").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

fn workflows() -> Vec<(String, Value)> {
    tests::workflows()
}

/// The subject GitHub puts in a job's OIDC token (GitHub's OIDC reference, "Example subject
/// claims"): the environment when the job has one, else the event's: `pull_request`, or the
/// ref for a push or a schedule (which runs on the default branch, main).
fn subject(workflow: &Value, job: &Value) -> Result<String, String> {
    if let Some(name) = environment_of(job) {
        return Ok(format!("repo:{REPO}:environment:{name}"));
    }
    let condition = job["if"].as_str().unwrap_or_default();
    let events: Vec<String> = match condition.split_once("github.event_name == '") {
        Some((_, rest)) => vec![rest.split('\'').next().unwrap_or_default().to_owned()],
        None => workflow["on"]
            .as_object()
            .map(|on| on.keys().cloned().collect())
            .unwrap_or_default(),
    };
    let subjects: BTreeSet<String> = events
        .iter()
        .map(|event| match event.as_str() {
            "pull_request" => Ok(format!("repo:{REPO}:pull_request")),
            "push" => {
                let branches = &workflow["on"]["push"]["branches"];
                if branches == &serde_json::json!(["main"]) {
                    Ok(format!("repo:{REPO}:ref:refs/heads/main"))
                } else {
                    Err(format!("a push to {branches} presents each branch's ref"))
                }
            }
            "schedule" => Ok(format!("repo:{REPO}:ref:refs/heads/main")),
            other => Err(format!(
                "a {other} job without an environment presents whatever ref it runs on"
            )),
        })
        .collect::<Result<_, _>>()?;
    match subjects.len() {
        1 => Ok(subjects.into_iter().next().expect("one")),
        _ => Err(format!(
            "events {events:?} present several subjects {subjects:?}"
        )),
    }
}

/// The `vars.AZURE_*CLIENT_ID` a job signs in with (in its steps, its env or the workflow's).
fn client_id_variable(workflow: &Value, job: &Value) -> BTreeSet<String> {
    let text = format!("{job} {}", workflow["env"]);
    text.split("vars.")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| name.starts_with("AZURE_") && name.ends_with("CLIENT_ID"))
        .collect()
}

fn operations_doc() -> String {
    std::fs::read_to_string(tests::workspace().join("docs/operations.md")).expect("operations.md")
}

#[test]
fn every_oidc_subject_a_job_presents_has_a_federated_credential() {
    let tf = terraform();
    let subjects = federated_subjects(&tf);
    let variables = client_id_variables(&tf);
    let per_environment = environment_client_ids(&tf);
    let docs = operations_doc();
    let mut problems = Vec::new();
    let mut checked = 0;
    for (file, workflow) in workflows() {
        for (name, job) in workflow["jobs"].as_object().expect("jobs") {
            let oidc = job["permissions"]["id-token"].as_str() == Some("write");
            let what = format!("{file} job {name}");
            if !oidc {
                continue;
            }
            checked += 1;
            let subject = match subject(&workflow, job) {
                Ok(subject) => subject,
                Err(err) => {
                    problems.push(format!("{what}: {err}"));
                    continue;
                }
            };
            let vars = client_id_variable(&workflow, job);
            let [variable] = vars.iter().collect::<Vec<_>>()[..] else {
                problems.push(format!(
                    "{what}: signs in with {vars:?}, expected one client id"
                ));
                continue;
            };
            // A GitHub environment's own variable wins over the repository's.
            let environment = environment_of(job);
            let app = environment
                .as_ref()
                .and_then(|e| per_environment.get(e))
                .filter(|_| variable == "AZURE_CLIENT_ID")
                .or_else(|| variables.get(variable.as_str()));
            if environment.is_some() && variable == "AZURE_CLIENT_ID" && app.is_none() {
                problems.push(format!(
                    "{what}: runs in {environment:?}, which infra/github.tf gives no AZURE_CLIENT_ID"
                ));
                continue;
            }
            match app {
                Some(app) => {
                    let granted = subjects.get(app).cloned().unwrap_or_default();
                    if !granted.contains(&subject) {
                        problems.push(format!(
                            "{what}: presents {subject} to {variable} (azuread_application.{app}), which federates only {granted:?}"
                        ));
                    }
                }
                // An identity made outside Terraform (the one that runs it): the runbook must
                // name the subject it federates.
                None => {
                    let suffix = subject.trim_start_matches(&format!("repo:{REPO}:"));
                    if !(docs.contains(variable.as_str()) && docs.contains(suffix)) {
                        problems.push(format!(
                            "{what}: {variable} is no Terraform output, and docs/operations.md does not document it with the subject {suffix}"
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // ci's main; promote's staging, prod and rollback; terraform's plan, apply and drift.
    assert_eq!(checked, 7);
}

#[test]
fn the_automatic_rollback_does_not_wait_for_prods_reviewers() {
    let workflows = workflows();
    let promote = &workflows
        .iter()
        .find(|(f, _)| f == "promote.yml")
        .expect("promote.yml")
        .1;
    let prod = promote["jobs"]["prod"]["environment"].as_str();
    let rollback = promote["jobs"]["rollback"]["environment"].as_str();
    assert_eq!(prod, Some("prod"));
    assert!(
        rollback.is_some() && rollback != prod,
        "the rollback job runs in {rollback:?}, behind prod's reviewers"
    );
    let docs = operations_doc();
    let rollback = rollback.expect("an environment");
    assert!(
        docs.contains(&format!("`{rollback}`")) && docs.contains("no required reviewers"),
        "docs/operations.md must say how the {rollback} environment is set up"
    );
}

/// The Azure data action a Kubernetes request needs, and for a custom resource the group and
/// resource its role assignment's ABAC condition must name
/// (https://learn.microsoft.com/azure/aks/entra-id-authorization). AKS's authorization webhook
/// (kubeguard/guard, `authz/providers/azure/rbac/checkaccessreqhelper.go`, `getResourceAndAction`
/// and `getActionName`) names a request `<resource>/<read|write|delete>` by its verb whatever
/// the subresource, except `pods/exec`, which is `pods/exec/action`: GET on pods/proxy is
/// pods/read.
fn data_action(access: &ApiAccess) -> (String, Option<(&'static str, &'static str)>) {
    const PREFIX: &str = "Microsoft.ContainerService/managedClusters";
    let operation = match access.verb {
        "get" | "list" | "watch" => "read",
        "create" | "update" | "patch" => "write",
        "delete" | "deletecollection" => "delete",
        other => panic!("no data action for verb {other}"),
    };
    let builtin =
        access.group.is_empty() || !access.group.contains('.') || access.group.ends_with(".k8s.io");
    if !builtin {
        return (
            format!("{PREFIX}/customresources/{operation}"),
            Some((access.group, access.resource)),
        );
    }
    let path = if access.group.is_empty() {
        access.resource.to_owned()
    } else {
        format!("{}/{}", access.group, access.resource)
    };
    match access.subresource {
        Some(sub @ "exec") => (format!("{PREFIX}/{path}/{sub}/action"), None),
        _ => (format!("{PREFIX}/{path}/{operation}"), None),
    }
}

/// Whether the data action pattern `pattern` (exact, or ending in `/*`) covers `action`.
fn covers(pattern: &str, action: &str) -> bool {
    match pattern.strip_suffix("/*") {
        Some(prefix) => action.starts_with(&format!("{prefix}/")),
        None => pattern.eq_ignore_ascii_case(action),
    }
}

/// One role assignment inside the cluster: whose, where, and what its role allows.
struct Grant {
    /// The application (Terraform name, such as `deploy["dev"]`) of the principal.
    identity: String,
    namespace: String,
    data_actions: Vec<String>,
    not_data_actions: Vec<String>,
    condition: String,
}

/// Every role assignment at a namespace of the cluster, with its role's data actions.
fn namespace_grants(tf: &str) -> Vec<Grant> {
    let locals = locals(tf);
    let roles: BTreeMap<String, String> = blocks(tf, "resource \"azurerm_role_definition\"")
        .into_iter()
        .collect();
    let cluster_namespace = "${azurerm_kubernetes_cluster.main.id}/namespaces/";
    let mut out = Vec::new();
    for (_, body) in blocks(tf, "resource \"azurerm_role_assignment\"") {
        for body in instances(&body, &locals) {
            let Some(namespace) = attr_string(&body, "scope")
                .and_then(|s| s.strip_prefix(cluster_namespace).map(str::to_owned))
            else {
                continue;
            };
            let identity = attr(&body, "principal_id")
                .and_then(|p| p.strip_prefix("azuread_service_principal."))
                .and_then(|p| p.strip_suffix(".object_id"))
                .unwrap_or_else(|| panic!("a service principal at {namespace}"))
                .to_owned();
            let role = attr(&body, "role_definition_id")
                .and_then(|r| r.strip_prefix("azurerm_role_definition."))
                .and_then(|r| r.strip_suffix(".role_definition_resource_id"))
                .unwrap_or_else(|| panic!("a custom role at {namespace}"));
            let role = roles.get(role).unwrap_or_else(|| panic!("no role {role}"));
            let condition = body
                .split_once("condition ")
                .map(|(_, c)| c.to_owned())
                .unwrap_or_default();
            out.push(Grant {
                identity,
                namespace,
                data_actions: attr_list(role, "data_actions"),
                not_data_actions: attr_list(role, "not_data_actions"),
                condition,
            });
        }
    }
    out
}

/// Each environment of pipeline.toml with its namespace and the identity its GitHub
/// environment signs in as (`infra/github.tf`).
fn environments(tf: &str) -> Vec<(String, String, String)> {
    let config = config::PipelineConfig::load(&tests::workspace().join("pipeline.toml"))
        .expect("pipeline.toml");
    let identities = environment_client_ids(tf);
    config
        .environments
        .iter()
        .map(|e| {
            let identity = identities
                .get(e.name.as_str())
                .unwrap_or_else(|| panic!("no AZURE_CLIENT_ID for {}", e.name))
                .clone();
            (e.name.to_string(), e.namespace.clone(), identity)
        })
        .collect()
}

fn allows(g: &Grant, action: &str, custom: Option<(&str, &str)>) -> bool {
    g.data_actions.iter().any(|p| covers(p, action))
        && !g.not_data_actions.iter().any(|p| covers(p, action))
        && custom.is_none_or(|(group, resource)| {
            g.condition.contains(&format!(
                "customResources:group] StringEqualsIgnoreCase '{group}'"
            )) && g.condition.contains(&format!(
                "customResources:kind] StringEqualsIgnoreCase '{resource}'"
            ))
        })
}

#[test]
fn every_api_call_of_the_kube_target_is_granted_where_it_is_made() {
    let tf = terraform();
    // The grants below are Azure role assignments because the cluster authorizes Entra
    // identities with Azure RBAC; Kubernetes RoleBindings would not be what decides.
    let aks = &blocks(&tf, "resource \"azurerm_kubernetes_cluster\"")[0].1;
    assert_eq!(attr(aks, "azure_rbac_enabled"), Some("true"));

    let grants = namespace_grants(&tf);
    let mut problems = Vec::new();
    for access in ACCESS {
        let (action, custom) = data_action(access);
        for (env, namespace, identity) in environments(&tf) {
            let granted = grants.iter().any(|g| {
                g.identity == identity && g.namespace == namespace && allows(g, &action, custom)
            });
            if !granted {
                problems.push(format!(
                    "{} {}{}{} in {namespace} ({}): no role assignment of {env}'s identity ({identity}) grants {action}",
                    access.verb,
                    if access.group.is_empty() { String::new() } else { format!("{}/", access.group) },
                    access.resource,
                    access.subresource.map(|s| format!("/{s}")).unwrap_or_default(),
                    access.why
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Nothing beyond the list: exec, pod writes and deletes stay denied everywhere, and no
    // role reaches pods with a wildcard.
    for denied in [
        "pods/exec/action",
        "pods/delete",
        "pods/write",
        "apps/deployments/write",
    ] {
        let action = format!("Microsoft.ContainerService/managedClusters/{denied}");
        for g in &grants {
            assert!(
                !allows(g, &action, None),
                "{action} is granted in {}",
                g.namespace
            );
        }
    }
    for g in &grants {
        assert!(
            g.data_actions.iter().all(|a| !a.ends_with("/*")),
            "a wildcard in {}: {:?}",
            g.namespace,
            g.data_actions
        );
    }
}

#[test]
fn no_identity_reaches_another_environment() {
    let tf = terraform();
    let grants = namespace_grants(&tf);
    let environments = environments(&tf);
    // Each environment signs in as its own identity (prod-rollback acts on prod, as prod).
    let identities: BTreeSet<&str> = environments.iter().map(|(_, _, i)| i.as_str()).collect();
    assert_eq!(identities.len(), environments.len(), "{environments:?}");
    let write = "Microsoft.ContainerService/managedClusters/customresources/write";
    let read = "Microsoft.ContainerService/managedClusters/customresources/read";
    for (env, namespace, identity) in &environments {
        for g in grants.iter().filter(|g| &g.identity == identity) {
            assert_eq!(
                &g.namespace, namespace,
                "{env}'s identity ({identity}) is granted rights in {}",
                g.namespace
            );
        }
        // Dev's identity (every push to main, no reviewer) can neither read nor change a
        // higher environment's Application, nor write any in argocd, where an Application
        // may name any project.
        for (other, other_namespace, _) in environments.iter().filter(|(e, _, _)| e != env) {
            for action in [read, write] {
                let reaches = grants.iter().any(|g| {
                    &g.identity == identity
                        && &g.namespace == other_namespace
                        && allows(g, action, Some(("argoproj.io", "applications")))
                });
                assert!(
                    !reaches,
                    "{env}'s identity reaches {other}'s Applications ({action})"
                );
            }
        }
        assert!(
            !grants
                .iter()
                .any(|g| &g.identity == identity && g.namespace == "argocd"),
            "{env}'s identity has rights in argocd"
        );
    }
    // The dev environment's identity in particular: its one namespace is dev's.
    let dev = environments
        .iter()
        .find(|(e, _, _)| e == "dev")
        .expect("dev");
    let dev_namespaces: BTreeSet<&str> = grants
        .iter()
        .filter(|g| g.identity == dev.2)
        .map(|g| g.namespace.as_str())
        .collect();
    assert_eq!(dev_namespaces, BTreeSet::from(["paktech-dev"]));
    // And it alone pushes images.
    let push: Vec<String> = blocks(&tf, "resource \"azurerm_role_assignment\"")
        .into_iter()
        .filter(|(_, b)| attr_string(b, "role_definition_name").as_deref() == Some("AcrPush"))
        .filter_map(|(_, b)| attr(&b, "principal_id").map(str::to_owned))
        .collect();
    assert_eq!(
        push,
        ["azuread_service_principal.deploy[\"dev\"].object_id"]
    );
}
