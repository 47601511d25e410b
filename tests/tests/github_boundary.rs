//! The parts of prod's boundary the platforms enforce, read from `infra/` against the
//! workflows: GitHub environments (reviewers, no self-review, main only), secrets scoped to the
//! environments whose jobs use them, the GitOps repository's branch protection, and the Azure
//! settings a first real run depends on (no ACR Content Trust, the state read with Entra, the
//! outputs the workflows' variables come from).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use tests::terraform::{attr, attr_string, blocks, instances, locals};

fn tf() -> String {
    tests::terraform::infra()
}

/// The environment each workflow job runs in, by `file:job`.
fn job_environments() -> BTreeMap<String, (String, Value)> {
    let mut out = BTreeMap::new();
    for (file, workflow) in tests::workflows() {
        for (name, job) in workflow["jobs"].as_object().expect("jobs") {
            if let Some(env) = job["environment"].as_str() {
                out.insert(format!("{file}:{name}"), (env.to_owned(), job.clone()));
            }
        }
    }
    out
}

/// Every `github_repository_environment` instance: by environment name, its reference
/// (`github_repository_environment.deploy["dev"]`) and its body.
fn environments(tf: &str) -> BTreeMap<String, (String, String)> {
    let locals = locals(tf);
    let mut out = BTreeMap::new();
    for (name, body) in blocks(tf, "resource \"github_repository_environment\"") {
        let keyed = attr(&body, "for_each").is_some();
        for body in instances(&body, &locals) {
            let env = attr_string(&body, "environment").expect("environment");
            let reference = if keyed {
                format!("github_repository_environment.{name}[\"{env}\"]")
            } else {
                format!("github_repository_environment.{name}")
            };
            out.insert(env, (reference, body));
        }
    }
    out
}

/// The environment an `environment = <reference>.environment` attribute names.
fn environment_named(tf: &str, body: &str) -> String {
    let reference = attr(body, "environment")
        .and_then(|e| e.strip_suffix(".environment"))
        .expect("environment = <environment>.environment");
    environments(tf)
        .into_iter()
        .find(|(_, (r, _))| r == reference)
        .map(|(env, _)| env)
        .unwrap_or_else(|| panic!("no environment {reference}"))
}

#[test]
fn every_deployment_environment_is_managed_with_reviewers_and_main_only() {
    let tf = tf();
    let managed = environments(&tf);
    let locals = locals(&tf);
    let reviewed: BTreeSet<&String> = locals["reviewed_environments"].keys().collect();
    let main_only: BTreeSet<String> = blocks(
        &tf,
        "resource \"github_repository_environment_deployment_policy\"",
    )
    .iter()
    .flat_map(|(_, body)| instances(body, &locals))
    .filter(|body| attr_string(body, "branch_pattern").as_deref() == Some("main"))
    .map(|body| environment_named(&tf, &body))
    .collect();
    for (job, (env, _)) in job_environments() {
        let (_, body) = managed.get(&env).unwrap_or_else(|| {
            panic!("{job} runs in {env}, which infra/github.tf does not manage")
        });
        // The requester cannot approve their own run, and admins cannot skip the reviewers.
        assert_eq!(attr(body, "prevent_self_review"), Some("true"), "{env}");
        assert_eq!(attr(body, "can_admins_bypass"), Some("false"), "{env}");
        assert_eq!(attr(body, "custom_branch_policies"), Some("true"), "{env}");
        assert!(main_only.contains(&env), "{env}: any branch may deploy");
    }
    // People approve staging and prod; dev and the automatic rollback run unattended.
    assert_eq!(
        reviewed,
        BTreeSet::from([&"prod".to_owned(), &"staging".to_owned()])
    );
    for env in ["staging", "prod"] {
        assert!(managed[env].1.contains("dynamic \"reviewers\""), "{env}");
    }
    assert!(
        managed["infra"].1.contains("reviewers {"),
        "terraform apply is approved"
    );
}

#[test]
fn deploy_secrets_reach_only_the_environments_whose_jobs_use_them() {
    let tf = tf();
    let locals = locals(&tf);
    let mut scoped: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, body) in blocks(&tf, "resource \"github_actions_environment_secret\"") {
        for body in instances(&body, &locals) {
            let secret = attr_string(&body, "secret_name").expect("secret_name");
            let env = environment_named(&tf, &body);
            // Given encrypted, never as plain text in the code or the state.
            assert!(attr(&body, "plaintext_value").is_none(), "{secret}");
            scoped.entry(secret).or_default().insert(env);
        }
    }
    for secret in ["GITOPS_TOKEN", "PAKTECH_SIGNING_KEY"] {
        let mut used = BTreeSet::new();
        for (file, workflow) in tests::workflows() {
            for (name, job) in workflow["jobs"].as_object().expect("jobs") {
                if !job.to_string().contains(&format!("secrets.{secret}")) {
                    continue;
                }
                let env = job["environment"].as_str().unwrap_or_else(|| {
                    panic!("{file} job {name} reads {secret} without an environment")
                });
                used.insert(env.to_owned());
            }
        }
        assert_eq!(scoped.get(secret), Some(&used), "{secret}");
    }
    // Only dev's job signs.
    assert_eq!(
        scoped["PAKTECH_SIGNING_KEY"],
        BTreeSet::from(["dev".to_owned()])
    );
}

#[test]
fn the_gitops_branch_cannot_be_rewritten_and_only_the_pipeline_pushes() {
    let tf = tf();
    let protection = blocks(&tf, "resource \"github_branch_protection\" \"gitops_main\"");
    let [(_, body)] = protection.as_slice() else {
        panic!("one protection of the GitOps repository's main: {protection:?}");
    };
    assert_eq!(attr(body, "repository_id"), Some("local.gitops_name"));
    assert_eq!(attr_string(body, "pattern").as_deref(), Some("main"));
    for (key, value) in [
        ("allows_force_pushes", "false"),
        ("allows_deletions", "false"),
        ("enforce_admins", "true"),
    ] {
        assert_eq!(attr(body, key), Some(value), "{key}");
    }
    assert!(body.contains("restrict_pushes {"), "{body}");
    assert_eq!(attr(body, "push_allowances"), Some("var.gitops_pushers"));
}

#[test]
fn the_registry_has_no_content_trust_and_says_why_checkov_is_skipped() {
    let tf = tf();
    let registry = &blocks(&tf, "resource \"azurerm_container_registry\"")[0].1;
    // Azure refuses to enable Content Trust (ContentTrustUnsupported) since its deprecation.
    assert!(
        attr(registry, "trust_policy_enabled").is_none(),
        "{registry}"
    );
    let skip = registry
        .lines()
        .find_map(|l| l.trim().strip_prefix("#checkov:skip=CKV_AZURE_164:"))
        .expect("a skip of CKV_AZURE_164");
    assert!(
        skip.contains("deprecated") && skip.contains("aka.ms/acr/dctdeprecation"),
        "{skip}"
    );
}

#[test]
fn the_state_is_read_with_entra_not_with_the_accounts_keys() {
    let tf = tf();
    let backend = &blocks(&tf, "backend \"azurerm\"")[0].1;
    assert_eq!(attr(backend, "use_oidc"), Some("true"));
    // Without it the backend lists the account's keys, which the plan identity may not.
    assert_eq!(attr(backend, "use_azuread_auth"), Some("true"));
}

#[test]
fn the_registry_name_the_workflows_log_in_with_is_an_output() {
    let tf = tf();
    let outputs: BTreeMap<String, String> = blocks(&tf, "output ")
        .into_iter()
        .filter_map(|(_, body)| {
            let variable = attr_string(&body, "description")?
                .split_whitespace()
                .next()?
                .to_owned();
            Some((variable, attr(&body, "value")?.to_owned()))
        })
        .collect();
    assert_eq!(
        outputs.get("ACR_NAME").map(String::as_str),
        Some("azurerm_container_registry.main.name")
    );
    let uses = tests::workflows()
        .iter()
        .any(|(_, w)| w.to_string().contains("vars.ACR_NAME"));
    assert!(uses, "the workflows no longer read ACR_NAME");
}

#[test]
fn the_registry_keeps_the_untagged_manifests_prod_verifies() {
    let tf = tf();
    let registry = &blocks(&tf, "resource \"azurerm_container_registry\"")[0].1;
    // Signatures, SBOMs and provenance are OCI referrers: untagged manifests a retention
    // policy would purge. Unset, the provider leaves the policy disabled.
    assert!(
        attr(registry, "retention_policy_in_days").is_none(),
        "{registry}"
    );
    let skip = registry
        .lines()
        .find_map(|l| l.trim().strip_prefix("#checkov:skip=CKV_AZURE_167:"))
        .expect("a skip of CKV_AZURE_167 saying why");
    assert!(
        skip.contains("referrers") && skip.contains("by digest"),
        "{skip}"
    );
}

#[test]
fn a_plan_registers_no_resource_provider_and_prod_cannot_go_without_reviewers() {
    let tf = tf();
    // The plan identity is Reader on the resource group: registering at subscription scope
    // would fail every plan with 403.
    let provider = &blocks(&tf, "provider \"azurerm\"")[0].1;
    assert_eq!(
        attr_string(provider, "resource_provider_registrations").as_deref(),
        Some("none"),
        "{provider}"
    );
    let reviewers = &blocks(&tf, "variable \"prod_reviewers\"")[0].1;
    assert!(attr(reviewers, "default").is_none(), "{reviewers}");
    assert!(
        reviewers.contains("condition     = length(var.prod_reviewers) > 0"),
        "{reviewers}"
    );
}

#[test]
fn the_job_that_decides_what_changed_checks_out_the_whole_history() {
    let (_, ci) = tests::workflows()
        .into_iter()
        .find(|(file, _)| file == "ci.yml")
        .expect("ci.yml");
    let checkout = &ci["jobs"]["main"]["steps"][0];
    assert!(
        checkout["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("actions/checkout@")),
        "{checkout}"
    );
    // A shallow clone holds no base to compare with: every push would rebuild every app.
    assert_eq!(checkout["with"]["fetch-depth"], 0, "{checkout}");
}
