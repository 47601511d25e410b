//! Azure permissions match what the workflows and the code do, read from the committed files:
//! every OIDC subject a workflow job presents has a federated credential on the identity whose
//! client id the job uses (`infra/identity.tf`), and every Kubernetes API call the kube target
//! makes (`kube::access::ACCESS`) is granted to the deploy identity in the namespace it makes
//! it in (`infra/kube_access.tf`: Azure role assignments, since the cluster authorizes Entra
//! identities with Azure RBAC).
//!
//! Terraform is read with a small reader for the shapes these files use (blocks, string and
//! list attributes, `for_each = toset(...)`, `locals`), not a full HCL parser.

use std::collections::{BTreeMap, BTreeSet};

use pipeline::adapters::target::kube::access::{ACCESS, ApiAccess, Namespace};
use serde_json::Value;

/// `var.github_repository` in the subjects below.
const REPO: &str = "OWNER/REPO";

/// All of `infra/*.tf`, concatenated.
fn terraform() -> String {
    let dir = tests::workspace().join("infra");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("infra/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("tf"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The bodies of every block whose header starts with `header` (such as
/// `resource "azurerm_role_assignment"`), by the block's last label.
fn blocks(tf: &str, header: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = tf;
    while let Some(at) = rest.find(header) {
        let after = &rest[at + header.len()..];
        let open = after.find('{').expect("block body");
        let labels = &after[..open];
        let name = labels
            .split('"')
            .rfind(|s| !s.trim().is_empty())
            .unwrap_or_default()
            .to_owned();
        let mut depth = 0;
        let mut end = open;
        for (i, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.push((name, after[open + 1..end].to_owned()));
        rest = &after[end..];
    }
    out
}

/// The raw text right of `key =` on the line that sets it.
fn attr<'b>(body: &'b str, key: &str) -> Option<&'b str> {
    body.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then_some(v.trim())
    })
}

fn attr_string(body: &str, key: &str) -> Option<String> {
    attr(body, key).map(|v| v.trim_matches('"').to_owned())
}

/// Every quoted string of the list `key = [ ... ]` (on one line or several).
fn attr_list(body: &str, key: &str) -> Vec<String> {
    let Some(start) = body.lines().position(|line| {
        line.split_once('=')
            .is_some_and(|(k, v)| k.trim() == key && v.trim().starts_with('['))
    }) else {
        return Vec::new();
    };
    let text: String = body
        .lines()
        .skip(start)
        .scan(false, |done, line| {
            if *done {
                return None;
            }
            *done = line.contains(']');
            Some(format!("{line}\n"))
        })
        .collect();
    quoted(&text[text.find('[').expect("[")..])
}

fn quoted(text: &str) -> Vec<String> {
    text.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// `locals { name = [...] }` lists.
fn locals(tf: &str) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for (_, body) in blocks(tf, "locals ") {
        for line in body.lines() {
            if let Some((k, v)) = line.split_once('=')
                && v.trim().starts_with('[')
            {
                out.insert(k.trim().to_owned(), attr_list(&body, k.trim()));
            }
        }
    }
    out
}

/// The instances of a resource body: one per `for_each` key (with `${each.key}` filled in),
/// or the body itself.
fn instances(body: &str, locals: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let Some(for_each) = attr(body, "for_each") else {
        return vec![body.to_owned()];
    };
    let inner = for_each
        .trim_start_matches("toset(")
        .trim_end_matches(')')
        .trim();
    let keys = match inner.strip_prefix("local.") {
        Some(name) => locals
            .get(name)
            .unwrap_or_else(|| panic!("no local {name}"))
            .clone(),
        None => quoted(inner),
    };
    assert!(!keys.is_empty(), "for_each = {for_each}");
    keys.iter()
        .map(|k| body.replace("${each.key}", k))
        .collect()
}

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

fn workflows() -> Vec<(String, Value)> {
    let dir = tests::workspace().join(".github/workflows");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("workflows")
        .flatten()
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).expect("workflow");
            (
                e.file_name().to_string_lossy().into_owned(),
                tests::yaml_documents(&text).remove(0),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The subject GitHub puts in a job's OIDC token (GitHub's OIDC reference, "Example subject
/// claims"): the environment when the job has one, else the event's: `pull_request`, or the
/// ref for a push or a schedule (which runs on the default branch, main).
fn subject(workflow: &Value, job: &Value) -> Result<String, String> {
    let environment = match &job["environment"] {
        Value::String(name) => Some(name.clone()),
        Value::Object(map) => map.get("name").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    };
    if let Some(name) = environment {
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
            match variables.get(variable.as_str()) {
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
/// (https://learn.microsoft.com/azure/aks/entra-id-authorization).
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
        // Subresources are actions of their own (as pods/exec/action is).
        Some(sub) => (format!("{PREFIX}/{path}/{sub}/action"), None),
        None => (format!("{PREFIX}/{path}/{operation}"), None),
    }
}

/// Whether the data action pattern `pattern` (exact, or ending in `/*`) covers `action`.
fn covers(pattern: &str, action: &str) -> bool {
    match pattern.strip_suffix("/*") {
        Some(prefix) => action.starts_with(&format!("{prefix}/")),
        None => pattern.eq_ignore_ascii_case(action),
    }
}

struct Grant {
    namespace: String,
    data_actions: Vec<String>,
    not_data_actions: Vec<String>,
    condition: String,
}

/// The deploy identity's role assignments at namespace scope, with their roles' data actions.
fn ci_namespace_grants(tf: &str) -> Vec<Grant> {
    let locals = locals(tf);
    let roles: BTreeMap<String, String> = blocks(tf, "resource \"azurerm_role_definition\"")
        .into_iter()
        .collect();
    let cluster_namespace = "${azurerm_kubernetes_cluster.main.id}/namespaces/";
    let mut out = Vec::new();
    for (_, body) in blocks(tf, "resource \"azurerm_role_assignment\"") {
        for body in instances(&body, &locals) {
            if attr(&body, "principal_id") != Some("azuread_service_principal.ci.object_id") {
                continue;
            }
            let Some(namespace) = attr_string(&body, "scope")
                .and_then(|s| s.strip_prefix(cluster_namespace).map(str::to_owned))
            else {
                continue;
            };
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
                namespace,
                data_actions: attr_list(role, "data_actions"),
                not_data_actions: attr_list(role, "not_data_actions"),
                condition,
            });
        }
    }
    out
}

#[test]
fn every_api_call_of_the_kube_target_is_granted_where_it_is_made() {
    let tf = terraform();
    // The grants below are Azure role assignments because the cluster authorizes Entra
    // identities with Azure RBAC; Kubernetes RoleBindings would not be what decides.
    let aks = &blocks(&tf, "resource \"azurerm_kubernetes_cluster\"")[0].1;
    assert_eq!(attr(aks, "azure_rbac_enabled"), Some("true"));

    let config = pipeline::config::PipelineConfig::load(&tests::workspace().join("pipeline.toml"))
        .expect("pipeline.toml");
    let environments: Vec<String> = config
        .environments
        .iter()
        .map(|e| e.namespace.clone())
        .collect();
    let grants = ci_namespace_grants(&tf);
    let mut problems = Vec::new();
    for access in ACCESS {
        let namespaces = match access.namespace {
            Namespace::ArgoCd => vec!["argocd".to_owned()],
            Namespace::Environments => environments.clone(),
        };
        let (action, custom) = data_action(access);
        for namespace in namespaces {
            let granted = grants.iter().any(|g| {
                g.namespace == namespace
                    && g.data_actions.iter().any(|p| covers(p, &action))
                    && !g.not_data_actions.iter().any(|p| covers(p, &action))
                    && custom.is_none_or(|(group, resource)| {
                        g.condition.contains(&format!(
                            "customResources:group] StringEqualsIgnoreCase '{group}'"
                        )) && g.condition.contains(&format!(
                            "customResources:kind] StringEqualsIgnoreCase '{resource}'"
                        ))
                    })
            });
            if !granted {
                problems.push(format!(
                    "{} {}{}{} in {namespace} ({}): no role assignment of the deploy identity grants {action}",
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

    // Nothing beyond the list: exec, pod writes and deletes stay denied everywhere.
    for denied in [
        "pods/exec/action",
        "pods/delete",
        "pods/write",
        "apps/deployments/write",
    ] {
        let action = format!("Microsoft.ContainerService/managedClusters/{denied}");
        for g in &grants {
            assert!(
                !g.data_actions.iter().any(|p| covers(p, &action))
                    || g.not_data_actions.iter().any(|p| covers(p, &action)),
                "{action} is granted in {}",
                g.namespace
            );
        }
    }
}

#[test]
fn the_terraform_reader_finds_what_it_checks() {
    let tf = "locals {\n  xs = [\"a\", \"b\"]\n}\nresource \"t\" \"n\" {\n  for_each = toset(local.xs)\n  scope = \"s/${each.key}\"\n  list = [\n    \"p\",\n    \"q\",\n  ]\n  inner {\n    k = \"v\"\n  }\n}\n";
    let found = blocks(tf, "resource \"t\"");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, "n");
    let each: Vec<_> = instances(&found[0].1, &locals(tf))
        .iter()
        .map(|b| attr_string(b, "scope").expect("scope"))
        .collect();
    assert_eq!(each, ["s/a", "s/b"]);
    assert_eq!(attr_list(&found[0].1, "list"), ["p", "q"]);
    assert!(covers("X/pods/*", "X/pods/proxy/action"));
    assert!(!covers("X/pods/*", "X/podtemplates/read"));
}
