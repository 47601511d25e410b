//! Where the workflows meet GitHub's and Azure's own behaviour, read from the committed files:
//! - the order of each job's steps around the Azure login: the federated ID token behind
//!   `azure/login` lives about 10 minutes and the Azure CLI cannot refresh it (Azure/login#372,
//!   azure-cli#28708), so the AKS token is fetched right after the login, before anything slow;
//! - kubelogin pinned and checked, never looked up through GitHub's API (`az aks install-cli`);
//! - terraform run without setup-terraform's wrapper, which exits 0 whatever terraform exits
//!   with (hashicorp/setup-terraform#328, #417), and drift's exit code the same everywhere;
//! - concurrency groups that never let a queued job cancel a pending rollback or apply (a new
//!   pending job replaces the pending one of its group: GitHub's "Control the concurrency of
//!   workflows and jobs");
//! - one promote run, one SHA.

use serde_json::Value;
use tests::steps::{run_of, steps};

fn workflow(file: &str) -> Value {
    tests::workflows()
        .into_iter()
        .find(|(f, _)| f == file)
        .unwrap_or_else(|| panic!("no {file}"))
        .1
}

fn action() -> Value {
    let text = std::fs::read_to_string(tests::workspace().join(".github/actions/azure/action.yml"))
        .expect("action.yml");
    tests::yaml_documents(&text).remove(0)
}

/// The AKS server application every AKS-managed Entra cluster's tokens are for.
const AKS_SERVER_APP: &str = "6dae42f8-4368-4678-94ff-3960e28e3630";

#[test]
fn the_aks_token_is_fetched_right_after_the_login_and_kubelogin_before_it() {
    let action = action();
    let steps = steps(&action["runs"]);
    let login = steps
        .iter()
        .position(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("azure/login@"))
        })
        .expect("the login");
    let next = &steps[login + 1];
    assert!(
        run_of(next).contains("az account get-access-token")
            && run_of(next).contains(&format!("--resource {AKS_SERVER_APP}")),
        "the step right after the login must fetch the AKS token: {next:#}"
    );
    let kubelogin = steps
        .iter()
        .position(|s| run_of(s).contains("Azure/kubelogin/releases/download"))
        .expect("a step that installs kubelogin");
    assert!(kubelogin < login, "kubelogin is installed before the login");
    // Whatever else needs a token of the login comes after the AKS token, never before it.
    for (i, step) in steps.iter().enumerate() {
        if run_of(step).contains("az ") && i < login {
            panic!("step {i} calls az before the login: {step:#}");
        }
    }
}

#[test]
fn every_job_that_logs_in_builds_before_it_and_reaches_the_cluster_after_it() {
    let mut checked = Vec::new();
    for (file, workflow) in tests::workflows() {
        for (name, job) in workflow["jobs"].as_object().expect("jobs") {
            let steps = steps(job);
            let Some(azure) = steps
                .iter()
                .position(|s| s["uses"].as_str() == Some("./.github/actions/azure"))
            else {
                continue;
            };
            checked.push(format!("{file}:{name}"));
            // The compile happens before the login (the tests, or a build of the pipeline).
            let built = steps[..azure].iter().any(|s| {
                let run = run_of(s);
                run.contains("cargo build") || run.contains("cargo xtask ci --pr")
            });
            assert!(
                built,
                "{file} job {name}: nothing compiles the pipeline before the login"
            );
            // Nothing between the login and the step that uses the cluster compiles or waits.
            let deploy = steps
                .iter()
                .position(|s| s["env"]["PAKTECH_TARGET"].as_str() == Some("aks"))
                .expect("the step that deploys");
            assert!(
                azure < deploy,
                "{file} job {name}: the deploy runs before the login"
            );
            for between in &steps[azure + 1..deploy] {
                let run = run_of(between);
                assert!(
                    !run.contains("cargo") && between["uses"].is_null(),
                    "{file} job {name}: {between:#} runs between the login and the deploy"
                );
            }
        }
    }
    checked.sort();
    assert_eq!(
        checked,
        [
            "ci.yml:main",
            "promote.yml:prod",
            "promote.yml:rollback",
            "promote.yml:staging"
        ]
    );
}

#[test]
fn kubelogin_is_pinned_checked_and_never_looked_up_through_githubs_api() {
    let action = action();
    let step = steps(&action["runs"])
        .iter()
        .find(|s| run_of(s).contains("Azure/kubelogin/releases/download"))
        .expect("the kubelogin step");
    let version = step["env"]["KUBELOGIN_VERSION"].as_str().expect("version");
    let sha = step["env"]["KUBELOGIN_SHA256"].as_str().expect("sha256");
    tests::steps::assert_pinned(version, sha);
    let everything = [
        ".github/actions/azure/action.yml",
        ".github/workflows/ci.yml",
        ".github/workflows/promote.yml",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(tests::workspace().join(f)).expect("read"))
    .collect::<String>();
    assert!(!everything.contains("az aks install-cli"));
    assert!(!everything.contains("api.github.com"));

    // Fail closed: a download that is not the pinned archive stops the step before it
    // installs anything.
    let scratch = tempfile::tempdir().expect("tempdir");
    let out = tests::steps::run_with_wrong_download(
        run_of(step),
        scratch.path(),
        &[("KUBELOGIN_VERSION", version), ("KUBELOGIN_SHA256", sha)],
        &[(
            "sudo",
            "#!/bin/sh\necho \"sudo $*\" >> \"$RUNNER_TEMP/installed\"\n",
        )],
    );
    assert!(!out.status.success(), "a wrong archive was accepted");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("did NOT match"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !scratch.path().join("installed").exists(),
        "installed a wrong archive"
    );
}

/// `pub const DRIFT: u8 = N;` of xtask/src/exit.rs: the exit code `infra drift` uses.
fn drift_code() -> String {
    let exit =
        std::fs::read_to_string(tests::workspace().join("xtask/src/exit.rs")).expect("exit.rs");
    exit.lines()
        .find_map(|l| l.strip_prefix("pub const DRIFT: u8 = "))
        .and_then(|v| v.strip_suffix(';'))
        .expect("DRIFT")
        .to_owned()
}

#[test]
fn terraform_runs_without_the_wrapper_and_drift_exits_with_one_documented_code() {
    let terraform = workflow("terraform.yml");
    let mut setups = 0;
    for (name, job) in terraform["jobs"].as_object().expect("jobs") {
        for step in steps(job) {
            if step["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("hashicorp/setup-terraform@"))
            {
                setups += 1;
                assert_eq!(
                    step["with"]["terraform_wrapper"],
                    Value::Bool(false),
                    "job {name}: the wrapper exits 0 when plan -detailed-exitcode exits 2"
                );
            }
        }
    }
    assert_eq!(setups, 3, "plan, apply and drift");
    let code = drift_code();
    let drift = &terraform["jobs"]["drift"];
    let step = steps(drift)
        .iter()
        .find(|s| run_of(s).contains("cargo xtask infra drift"))
        .expect("the drift step");
    let said = step["name"].as_str().unwrap_or_default();
    assert!(
        said.contains(&format!("exit {code}")),
        "the workflow says {said:?}, the code exits {code}"
    );
    let infra =
        std::fs::read_to_string(tests::workspace().join("xtask/src/infra.rs")).expect("infra.rs");
    assert!(
        infra.contains(&format!("{code} (`exit::DRIFT`")),
        "xtask/src/infra.rs documents another code"
    );
    let operations =
        std::fs::read_to_string(tests::workspace().join("docs/operations.md")).expect("docs");
    assert!(
        operations.contains(&format!("exits {code}")),
        "docs/operations.md must say drift exits {code}"
    );
}

/// The concurrency group of a job (or of its workflow).
fn group(workflow: &Value, job: &Value) -> Option<String> {
    let of = |v: &Value| match &v["concurrency"] {
        Value::String(g) => Some(g.clone()),
        Value::Object(m) => m.get("group").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    };
    of(job).or_else(|| of(workflow))
}

#[test]
fn no_queued_job_can_cancel_a_pending_rollback_or_apply() {
    for (file, workflow) in tests::workflows() {
        let jobs = workflow["jobs"].as_object().expect("jobs");
        let groups: Vec<(String, Option<String>)> = jobs
            .iter()
            .map(|(n, j)| (n.clone(), group(&workflow, j)))
            .collect();
        for (name, job) in jobs {
            let ours = group(&workflow, job);
            let never_cancelled = name == "rollback" || name == "apply";
            if never_cancelled && let Some(ours) = &ours {
                // Its group is its own: no other job of any run shares it...
                let shared: Vec<_> = groups
                    .iter()
                    .filter(|(n, g)| n != name && g.as_ref() == Some(ours))
                    .collect();
                assert!(
                    shared.is_empty(),
                    "{file} job {name} shares {ours} with {shared:?}"
                );
                // ...and it does not cancel what runs.
                assert_ne!(job["concurrency"]["cancel-in-progress"], Value::Bool(true));
            }
        }
    }
    // The rollback is in no group at all: two runs' rollbacks must not replace each other.
    let promote = workflow("promote.yml");
    assert!(group(&promote, &promote["jobs"]["rollback"]).is_none());
    // Plan, apply and drift each have a group of their own.
    let terraform = workflow("terraform.yml");
    let groups: std::collections::BTreeSet<_> = ["plan", "apply", "drift"]
        .iter()
        .map(|j| group(&terraform, &terraform["jobs"][j]).expect("a group"))
        .collect();
    assert_eq!(groups.len(), 3, "{groups:?}");
}

#[test]
fn one_promote_run_promotes_one_sha_named_in_the_runs_name() {
    let promote = workflow("promote.yml");
    let sha = &promote["on"]["workflow_dispatch"]["inputs"]["sha"];
    assert_eq!(sha["required"], Value::Bool(true), "{sha:#}");
    let run_name = promote["run-name"].as_str().unwrap_or_default();
    assert!(run_name.contains("inputs.sha"), "run-name {run_name:?}");
    let mut promotions = 0;
    for (name, job) in promote["jobs"].as_object().expect("jobs") {
        for step in steps(job) {
            if run_of(step).contains("cargo xtask promote") {
                promotions += 1;
                assert!(
                    run_of(step).contains("--sha \"$PROMOTE_SHA\"")
                        && step["env"]["PROMOTE_SHA"].as_str() == Some("${{ inputs.sha }}"),
                    "job {name} promotes something else than the run's SHA"
                );
            }
        }
    }
    assert_eq!(promotions, 2, "staging and prod");
}
