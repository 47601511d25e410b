//! Does `pipeline.toml` agree with the GitOps content? Every environment has a values file
//! and its own bootstrap manifests (`bootstrap.rs`), and the other way round; each values file has the keys the
//! pipeline writes and names the configured image repository.

use std::collections::BTreeSet;
use std::path::Path;

use crate::{AppConfig, PipelineConfig};
use model::values::Document;

/// Keys every values file must hold, and what each must be.
pub const REQUIRED_VALUES: [(&str, &str); 5] = [
    ("image.repository", "the image repository"),
    ("image.tag", "the deployed git SHA, or \"\""),
    ("image.digest", "the deployed digest, or \"\""),
    ("replicaCount", "a replica count"),
    ("env.APP_ENV", "the environment's name"),
];

/// Every disagreement found, as one line each; empty when all agree.
pub fn check(config: &PipelineConfig, gitops: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let configured: BTreeSet<String> = config
        .environments
        .iter()
        .map(|e| e.name.to_string())
        .collect();
    for app in &config.apps {
        problems.extend(check_app(config, app, gitops, &configured));
    }
    let apps: BTreeSet<&str> = config.apps.iter().map(|a| a.name.as_str()).collect();
    if let Ok(entries) = std::fs::read_dir(gitops.join("apps")) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() && !apps.contains(name.as_str()) {
                problems.push(format!(
                    "apps/{name}: folder {name} is not an app of pipeline.toml"
                ));
            }
        }
    }
    problems.extend(crate::bootstrap::check(config, gitops));
    problems
}

/// The problems of one app: a values file per environment, and no other folder.
fn check_app(
    config: &PipelineConfig,
    app: &AppConfig,
    gitops: &Path,
    configured: &BTreeSet<String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let app_dir = gitops.join("apps").join(app.name.as_str());
    for env in &config.environments {
        let relative = config.values_path(&app.name, &env.name);
        let path = gitops.join(&relative);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) => {
                problems.push(format!(
                    "app {} in environment {}: cannot read {}: {err}",
                    app.name,
                    env.name,
                    path.display()
                ));
                continue;
            }
        };
        match Document::parse(relative.clone(), text) {
            Err(err) => problems.push(err.to_string()),
            Ok(doc) => problems.extend(check_values(app, env.name.as_str(), &doc)),
        }
    }
    match std::fs::read_dir(&app_dir) {
        Err(err) => problems.push(format!("cannot list {}: {err}", app_dir.display())),
        Ok(entries) => {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.path().is_dir() && !configured.contains(&name) {
                    problems.push(format!(
                        "{}: folder {name} is not an environment of pipeline.toml",
                        app_dir.display()
                    ));
                }
            }
        }
    }
    problems
}

/// The problems of one environment's values file of `app`.
pub fn check_values(app: &AppConfig, env: &str, doc: &Document) -> Vec<String> {
    let mut problems = Vec::new();
    for (key, expected) in REQUIRED_VALUES {
        if let Err(err) = doc.require(key, expected) {
            problems.push(err.to_string());
        }
    }
    if let Some(repository) = doc.get("image.repository")
        && repository != app.repository.as_str()
    {
        problems.push(format!(
            "{}: image.repository is {repository:?}, pipeline.toml says {:?} for {}",
            doc.file(),
            app.repository.as_str(),
            app.name
        ));
    }
    if let Some(app_env) = doc.get("env.APP_ENV")
        && app_env != env
    {
        problems.push(format!(
            "{}: env.APP_ENV is {app_env:?}, expected {env:?}",
            doc.file()
        ));
    }
    if let Some(replicas) = doc.get("replicaCount")
        && replicas.parse::<u32>().is_err()
    {
        problems.push(format!(
            "{}: replicaCount is {replicas:?}, expected a whole number",
            doc.file()
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn the_projects_own_config_and_gitops_agree() {
        let root = workspace();
        let config = PipelineConfig::load(&root.join("pipeline.toml")).expect("pipeline.toml");
        assert_eq!(check(&config, &root.join("gitops")), Vec::<String>::new());
    }

    #[test]
    fn every_direction_of_disagreement_is_reported() {
        let root = workspace();
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(&root.join("gitops"), dir.path());
        let config = PipelineConfig::load(&root.join("pipeline.toml")).expect("pipeline.toml");
        std::fs::remove_file(dir.path().join("apps/paktech-app/staging/values.yaml")).expect("rm");
        std::fs::create_dir_all(dir.path().join("apps/paktech-app/qa")).expect("mkdir");
        let dev = dir.path().join("apps/paktech-app/dev/values.yaml");
        let text = std::fs::read_to_string(&dev)
            .expect("read")
            .replace("  tag: \"\"\n", "");
        std::fs::write(&dev, text).expect("write");
        std::fs::rename(
            dir.path().join("bootstrap/prod"),
            dir.path().join("bootstrap/production"),
        )
        .expect("mv");
        let dev_appset = dir.path().join("bootstrap/dev/applicationset.yaml");
        let text = std::fs::read_to_string(&dev_appset)
            .expect("read")
            .replace(
                "targetRevision: '{{ if .image.tag }}",
                "targetRevision: 'main{{ if .image.tag }}",
            )
            .replace("namespace: paktech-dev\n", "namespace: paktech-prod\n")
            .replace(
                "namespace: \"paktech-dev\"\n",
                "namespace: \"paktech-prod\"\n",
            );
        std::fs::write(&dev_appset, text).expect("write");

        let problems = check(&config, dir.path()).join("\n");
        for expected in [
            "app paktech-app in environment staging: cannot read",
            "has no scalar at image.tag",
            "folder qa is not an environment",
            "environment prod: cannot read",
            "folder production is not an environment",
            "bootstrap/dev/applicationset.yaml: spec.template.spec.destination.namespace is \"paktech-prod\"",
            "bootstrap/dev/applicationset.yaml: metadata.namespace is \"paktech-prod\"",
        ] {
            assert!(
                problems.contains(expected),
                "missing {expected:?} in:\n{problems}"
            );
        }
    }

    fn copy_dir(from: &Path, to: &Path) {
        for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
            let target = to.join(entry.file_name());
            if entry.path().is_dir() {
                std::fs::create_dir_all(&target).expect("mkdir");
                copy_dir(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).expect("copy");
            }
        }
    }
}
