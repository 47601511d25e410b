//! A generated delivery of many apps, for the scale test and `cargo xtask bench release`: a
//! `pipeline.toml` with `apps` `[[apps]]` over dev, staging and prod, the GitOps tree
//! `consistency::check` wants (a values file per app and environment, each environment's
//! bootstrap), seeded into a bare repository, where every app runs build A in prod and build B
//! in dev and staging, B recorded in staging's history by one release commit (`App-Build`
//! trailers) so that "ran before" passes. Then the release of prod, planned and written as
//! the promote flow plans and writes it.

use std::path::{Path, PathBuf};

use adapters::gitops::{Change, FileEdit, GitOpsRepo, GitOpsSettings, Written};
use adapters::records::Records;
use anyhow::Context;
use config::PipelineConfig;
use flow::{snapshot::HISTORY_DEPTH, sync};
use model::audit::{Action, Build, CommitMessage, keys};
use model::values::Scalar;
use model::{AppName, Digest, EnvName, TargetKind};
use policy::plan::{self, Choice, Facts, Found, PromotionPlan, Request, Snapshot, Stage};

/// The environments, in promotion order.
const ENVIRONMENTS: [&str; 3] = ["dev", "staging", "prod"];

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// How many apps: `app-00`, `app-01`, ...; each after `app-00`, which they depend on.
    pub apps: usize,
}

/// The generated delivery: its configuration and a writer of its GitOps remote.
#[derive(Debug)]
pub struct Scale {
    pub config: PipelineConfig,
    /// The GitOps folder the remote was seeded from.
    pub gitops: PathBuf,
    pub repo: GitOpsRepo,
}

/// Build A (prod's) or B (dev's and staging's) of app `i`.
pub fn build(i: usize, newer: bool) -> (String, String) {
    let n = i as u64 + if newer { 0xb000 } else { 0xa000 };
    (format!("{n:040x}"), format!("sha256:{n:064x}"))
}

/// `pipeline.toml` for `apps` apps.
pub fn toml(apps: usize) -> String {
    let mut out = String::from(
        "# Generated: many apps over three environments (crates/bench/src/scale.rs).\n\
[gitops]\nbranch = \"main\"\nauthor_name = \"scale\"\nauthor_email = \"scale@paktech.invalid\"\npush_attempts = 30\n",
    );
    for i in 0..apps {
        out.push_str(&format!(
            "\n[[apps]]\nname = \"app-{i:02}\"\nrepository = \"app-{i:02}\"\npaths = []\n"
        ));
        if i > 0 {
            out.push_str("depends_on = [\"app-00\"]\n");
        }
    }
    for env in ENVIRONMENTS {
        out.push_str(&format!(
            "\n[[environments]]\nname = \"{env}\"\nnamespace = \"scale-{env}\"\n"
        ));
        if env == "prod" {
            out.push_str("approvals = 1\n");
        }
    }
    out
}

fn values(app: &str, env: &str, (sha, digest): &(String, String)) -> String {
    format!(
        "image:\n  repository: \"{app}\"\n  tag: \"{sha}\"\n  digest: \"{digest}\"\nreplicaCount: 2\nenv:\n  APP_ENV: \"{env}\"\n"
    )
}

fn appproject(env: &str) -> String {
    [
        "apiVersion: argoproj.io/v1alpha1",
        "kind: AppProject",
        "metadata:",
        &format!("  name: scale-{env}"),
        "  namespace: argocd",
        "spec:",
        "  sourceNamespaces:",
        &format!("    - \"scale-{env}\""),
        "  destinations:",
        "    - server: \"https://kubernetes.default.svc\"",
        &format!("      namespace: \"scale-{env}\""),
        "",
    ]
    .join("\n")
}

fn applicationset(config: &PipelineConfig, env: &EnvName) -> String {
    let app = config::bootstrap::APP_FROM_PATH;
    let mut lines = vec![
        "apiVersion: argoproj.io/v1alpha1".to_owned(),
        "kind: ApplicationSet".to_owned(),
        "metadata:".to_owned(),
        format!("  name: scale-{env}"),
        format!("  namespace: scale-{env}"),
        "spec:".to_owned(),
        "  generators:".to_owned(),
        "    - git:".to_owned(),
        "        files:".to_owned(),
    ];
    for a in &config.apps {
        lines.push(format!(
            "          - path: \"{}\"",
            config.values_path(&a.name, env)
        ));
    }
    lines.extend([
        "  template:".to_owned(),
        "    metadata:".to_owned(),
        format!("      name: '{app}-{env}'"),
        "    spec:".to_owned(),
        format!("      project: \"scale-{env}\""),
        "      sources:".to_owned(),
        "        - targetRevision: '{{ if .image.tag }}{{ .image.tag }}{{ else }}main{{ end }}'"
            .to_owned(),
        format!("          path: 'helm/{app}'"),
        "          helm:".to_owned(),
        format!("            releaseName: '{app}'"),
        "            valueFiles:".to_owned(),
        "              - '$values/{{ .path.path }}/values.yaml'".to_owned(),
        "      destination:".to_owned(),
        format!("        namespace: \"scale-{env}\""),
        String::new(),
    ]);
    lines.join("\n")
}

const DEFAULT_PROJECT: &str = "apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: default
  namespace: argocd
spec:
  sourceRepos: []
  sourceNamespaces: []
  destinations: []
";

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// The bare repository [`Scale::generate`] seeds under `dir`.
pub fn remote(dir: &Path) -> PathBuf {
    dir.join("gitops.git")
}

/// Settings for a writer of `remote`.
pub fn settings(remote: &Path) -> GitOpsSettings {
    GitOpsSettings {
        url: remote.display().to_string(),
        branch: "main".to_owned(),
        author_name: "scale".to_owned(),
        author_email: "scale@paktech.invalid".to_owned(),
        push_attempts: 30,
        token: None,
    }
}

impl Scale {
    /// Generates the delivery under `dir`: every app at build A everywhere, then build B
    /// released into dev and into staging (one commit each).
    pub fn generate(dir: &Path, options: Options) -> anyhow::Result<Self> {
        let toml = toml(options.apps);
        let config_path = dir.join("pipeline.toml");
        write(&config_path, &toml)?;
        let config = PipelineConfig::load(&config_path)?;
        let gitops = dir.join("gitops");
        for (i, app) in config.apps.iter().enumerate() {
            for env in &config.environments {
                let text = values(app.name.as_str(), env.name.as_str(), &build(i, false));
                write(
                    &gitops.join(config.values_path(&app.name, &env.name)),
                    &text,
                )?;
            }
        }
        for env in &config.environments {
            let name = env.name.as_str();
            write(
                &gitops.join(config::bootstrap::appproject_path(name)),
                &appproject(name),
            )?;
            write(
                &gitops.join(config::bootstrap::applicationset_path(name)),
                &applicationset(&config, &env.name),
            )?;
        }
        write(
            &gitops.join(config::bootstrap::DEFAULT_PROJECT_PATH),
            DEFAULT_PROJECT,
        )?;
        let remote = remote(dir);
        adapters::gitops::seed_bare_repository(
            &remote,
            &gitops,
            "main",
            ("scale", "scale@paktech.invalid"),
        )?;
        let repo = GitOpsRepo::open(settings(&remote), &dir.join("mirror.git"))?;
        let scale = Self {
            config,
            gitops,
            repo,
        };
        let builds: Vec<(String, String)> = (0..options.apps).map(|i| build(i, true)).collect();
        for env in ["dev", "staging"] {
            let written = scale.repo.write(&scale.builds_change(env, &builds)?)?;
            anyhow::ensure!(
                matches!(written, Written::Committed { .. }),
                "the release into {env} made no commit"
            );
        }
        Ok(scale)
    }

    /// One commit moving the first `builds.len()` apps to `builds` in `env`, with the
    /// trailers a promotion writes (`App` + `Image-Sha` for one app, `App-Build` for several).
    pub fn builds_change(&self, env: &str, builds: &[(String, String)]) -> anyhow::Result<Change> {
        let env: EnvName = env.parse()?;
        let apps = &self.config.apps[..builds.len()];
        let trailers: Vec<Build<'_>> = apps
            .iter()
            .zip(builds)
            .map(|(a, (sha, digest))| Build {
                app: a.name.as_str(),
                sha,
                digest,
            })
            .collect();
        let message = CommitMessage::new(format!("chore({env}): promote {} apps", builds.len()))
            .trailer(keys::ACTION, Action::Promote.as_str())
            .trailer(keys::ENVIRONMENT, env.as_str())
            .builds(&trailers)
            .trailer(keys::REQUESTED_BY, "scale");
        let files = apps
            .iter()
            .zip(builds)
            .map(|(a, (sha, digest))| FileEdit {
                path: self.config.values_path(&a.name, &env),
                set: vec![
                    ("image.tag".to_owned(), Scalar::str(sha)),
                    ("image.digest".to_owned(), Scalar::str(digest)),
                ],
                planned_from: None,
            })
            .collect();
        Ok(Change { files, message })
    }

    /// What a plan is made from, read at the remote's tip as `flow::snapshot::read` reads it.
    pub fn snapshot(&self) -> anyhow::Result<Snapshot> {
        let tip = self.repo.fetch()?;
        let mut values = Vec::new();
        let mut history = Vec::new();
        for app in &self.config.apps {
            for env in &self.config.environments {
                let path = self.config.values_path(&app.name, &env.name);
                values.push((
                    app.name.clone(),
                    env.name.clone(),
                    sync::values_in(&self.repo, &path, &tip)?,
                ));
                history.push((
                    app.name.clone(),
                    env.name.clone(),
                    self.repo.log(&tip, Some(&path), HISTORY_DEPTH)?,
                ));
            }
        }
        Ok(Snapshot {
            windows: sync::windows_in(&self.repo, &self.config, &tip)?,
            records: Records::new(&self.repo).read()?,
            tip,
            values,
            history,
        })
    }

    /// `promote --env prod` without `--app`, planned over `snapshot` at `now`: every app whose
    /// staging build differs from prod's, each build's digest as staging's values pin it.
    pub fn plan_release(
        &self,
        snapshot: &Snapshot,
        now: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<PromotionPlan> {
        let request = Request {
            env: "prod".parse()?,
            apps: Vec::new(),
            sha: None,
            requested_by: "scale".parse()?,
            break_glass: None,
            monitor: None,
        };
        let choices: Vec<Choice> = plan::choose(&self.config, snapshot, &request)?;
        let staging: EnvName = "staging".parse()?;
        let digests: Vec<Option<Digest>> = choices
            .iter()
            .map(|c| pinned(snapshot, &c.app, &staging))
            .collect();
        let found: Vec<Found<'_>> = choices
            .iter()
            .zip(&digests)
            .map(|(c, digest)| Found {
                app: &c.app,
                digest: digest.as_ref(),
                supply_chain: None,
            })
            .collect();
        let facts = Facts {
            config: &self.config,
            snapshot,
            found: &found,
            now,
            target: TargetKind::Kube,
        };
        Ok(plan::plan(facts, &request, &choices)?)
    }
}

/// The digest `app`'s values pin in `env`.
fn pinned(snapshot: &Snapshot, app: &AppName, env: &EnvName) -> Option<Digest> {
    snapshot
        .values(app, env)
        .and_then(|d| d.get("image.digest"))
        .and_then(|d| d.parse().ok())
}

/// A stage's edits as the one commit the promote flow writes (`flow::promote::stage_change`).
pub fn stage_change(plan: &PromotionPlan, stage: &Stage) -> Change {
    flow::promote::stage_change(plan, stage, "scale", &[])
}

#[cfg(test)]
mod tests;
