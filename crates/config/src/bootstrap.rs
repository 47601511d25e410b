//! The Argo CD bootstrap manifests of the GitOps content (`bootstrap/`), one directory per
//! environment: its AppProject and its ApplicationSet, both scoped to the environment's
//! namespace, plus `default-appproject.yaml`, which empties Argo CD's built-in `default`
//! project. Where they are, and whether they agree with `pipeline.toml` (used by
//! `consistency::check`).
//!
//! What is checked is what keeps each environment's rights in its own namespace (Argo CD's
//! "Applications in any namespace"): the Application is generated in the environment's
//! namespace, its project admits Applications from that namespace only and deploys to it
//! only, and the chart is rendered from the build the environment's values pin.

use std::collections::BTreeSet;
use std::path::Path;

use crate::{PipelineConfig, application_name};
use model::EnvName;
use model::values::Document;

/// Where an environment's AppProject lives (its sync windows are read from there).
pub fn appproject_path(env: &str) -> String {
    format!("bootstrap/{env}/appproject.yaml")
}

/// Where an environment's ApplicationSet lives.
pub fn applicationset_path(env: &str) -> String {
    format!("bootstrap/{env}/applicationset.yaml")
}

/// The manifest that locks Argo CD's `default` project.
pub const DEFAULT_PROJECT_PATH: &str = "bootstrap/default-appproject.yaml";

fn parse(gitops: &Path, relative: &str) -> Result<Document, String> {
    let path = gitops.join(relative);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Document::parse(relative, text).map_err(|e| e.to_string())
}

/// The scalars of the list at `path` (`path[0]`, `path[1]`, ...).
fn list(doc: &Document, path: &str) -> Vec<String> {
    (0..)
        .map_while(|i| doc.get(&format!("{path}[{i}]")).map(str::to_owned))
        .collect()
}

/// What the template names an app by: the second segment of the values file's folder
/// (`apps/<app>/<env>`), as Argo CD's git files generator gives it.
pub const APP_FROM_PATH: &str = "{{ index .path.segments 1 }}";

/// Whether an environment's ApplicationSet generates exactly one Application per app, from
/// the app's values file, named `<app>-<env>` and rendering `helm/<app>`. A template that
/// names one app literally (the one-app form) is accepted while there is one app.
fn generated_apps(
    config: &PipelineConfig,
    env: &EnvName,
    file: &str,
    doc: &Document,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut files = list_of(doc, "spec.generators[0].git.files", "path");
    let mut wanted: Vec<String> = config
        .apps
        .iter()
        .map(|a| config.values_path(&a.name, env))
        .collect();
    files.sort();
    wanted.sort();
    if files != wanted {
        problems.push(format!(
            "{file}: the git files generator reads {files:?}, expected every app's values file for {env}: {wanted:?}"
        ));
    }
    let templated = [
        (
            "spec.template.metadata.name",
            format!("{APP_FROM_PATH}-{env}"),
        ),
        (
            "spec.template.spec.sources[0].path",
            format!("helm/{APP_FROM_PATH}"),
        ),
        (
            "spec.template.spec.sources[0].helm.releaseName",
            APP_FROM_PATH.to_owned(),
        ),
        (
            "spec.template.spec.sources[0].helm.valueFiles[0]",
            "$values/{{ .path.path }}/values.yaml".to_owned(),
        ),
    ];
    let single = match config.apps.as_slice() {
        [app] => Some([
            application_name(app.name.as_str(), env.as_str()),
            app.chart(),
            app.name.to_string(),
            format!("$values/{}", config.values_path(&app.name, env)),
        ]),
        _ => None,
    };
    for (i, (key, expected)) in templated.iter().enumerate() {
        let found = doc.get(key).unwrap_or_default();
        let literal_ok = single.as_ref().is_some_and(|s| s[i] == found);
        if found != expected && !literal_ok {
            problems.push(format!("{file}: {key} is {found:?}, expected {expected:?}"));
        }
    }
    if single.is_none() {
        for app in &config.apps {
            if app.chart() != format!("helm/{}", app.name) {
                problems.push(format!(
                    "{file}: renders helm/<app>, but pipeline.toml gives {} the chart {}",
                    app.name,
                    app.chart()
                ));
            }
        }
    }
    problems
}

/// The `field` of each entry of the list at `path` (`path[0].field`, ...).
fn list_of(doc: &Document, path: &str, field: &str) -> Vec<String> {
    (0..)
        .map_while(|i| doc.get(&format!("{path}[{i}].{field}")).map(str::to_owned))
        .collect()
}

/// Every disagreement between `pipeline.toml` and `bootstrap/`, one line each.
pub fn check(config: &PipelineConfig, gitops: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for env in &config.environments {
        let name = env.name.as_str();
        let ns = env.namespace.as_str();
        let project = match parse(gitops, &appproject_path(name)) {
            Err(e) => {
                problems.push(format!("environment {name}: {e}"));
                None
            }
            Ok(doc) => {
                let file = appproject_path(name);
                let sources = list(&doc, "spec.sourceNamespaces");
                if sources != [ns] {
                    problems.push(format!(
                        "{file}: sourceNamespaces is {sources:?}, expected only {ns:?}"
                    ));
                }
                let destinations: Vec<String> = (0..)
                    .map_while(|i| {
                        doc.get(&format!("spec.destinations[{i}].namespace"))
                            .map(str::to_owned)
                    })
                    .collect();
                if destinations != [ns] {
                    problems.push(format!(
                        "{file}: destinations are {destinations:?}, expected only {ns:?}"
                    ));
                }
                doc.get("metadata.name").map(str::to_owned)
            }
        };
        let file = applicationset_path(name);
        let doc = match parse(gitops, &file) {
            Ok(doc) => doc,
            Err(e) => {
                problems.push(format!("environment {name}: {e}"));
                continue;
            }
        };
        let mut expect = |path: &str, expected: &str| {
            let found = doc.get(path).unwrap_or_default();
            if found != expected {
                problems.push(format!(
                    "{file}: {path} is {found:?}, expected {expected:?}"
                ));
            }
        };
        expect("metadata.namespace", ns);
        expect("spec.template.spec.destination.namespace", ns);
        if let Some(project) = &project {
            expect("spec.template.spec.project", project);
        }
        problems.extend(generated_apps(config, &env.name, &file, &doc));
        let revision = doc
            .get("spec.template.spec.sources[0].targetRevision")
            .unwrap_or_default();
        if !revision.contains(".image.tag") {
            problems.push(format!(
                "{file}: the chart's targetRevision is {revision:?}; expected the values' image.tag, so that the chart moves with the build"
            ));
        }
    }
    let configured: BTreeSet<&str> = config
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    if let Ok(entries) = std::fs::read_dir(gitops.join("bootstrap")) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() && !configured.contains(name.as_str()) {
                problems.push(format!(
                    "bootstrap/{name}: folder {name} is not an environment of pipeline.toml"
                ));
            }
        }
    }
    match parse(gitops, DEFAULT_PROJECT_PATH) {
        Err(e) => problems.push(e),
        Ok(doc) => {
            for key in ["sourceRepos", "sourceNamespaces", "destinations"] {
                if doc.under(&format!("spec.{key}[")).next().is_some() {
                    problems.push(format!(
                        "{DEFAULT_PROJECT_PATH}: spec.{key} must be empty (the default project is locked)"
                    ));
                }
            }
        }
    }
    problems
}
