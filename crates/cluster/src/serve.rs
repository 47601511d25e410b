//! What the cluster is served: the app and GitOps repositories as bare repositories, a git
//! server on kind's network proved from inside the cluster, and the bootstrap manifests and
//! the pipeline.toml the kind target reads.

use super::*;

impl Kind {
    /// The app repository (the chart, at this checkout's HEAD) and the GitOps repository
    /// (seeded from gitops/ with each app's registry repository and autoscaling off), as bare
    /// repositories under `git/`. The GitOps repository is created once and then belongs to
    /// the pipeline.
    pub(super) fn repositories(&self, config: &PipelineConfig) -> anyhow::Result<PathBuf> {
        let app = self.git_root().join(APP_REPO.1);
        if !app.exists() {
            git2::Repository::init_bare(&app)
                .with_context(|| format!("cannot create {}", app.display()))?;
        }
        let root = workspace::root();
        let status = std::process::Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(["push", "--force", "--quiet"])
            .arg(&app)
            .arg("HEAD:refs/heads/main")
            .status()
            .context("cannot run git")?;
        if !status.success() {
            bail!(
                "git push of this checkout's HEAD to {} failed",
                app.display()
            );
        }
        let gitops = self.git_root().join(GITOPS_REPO.1);
        if !gitops.exists() {
            let seed = self.state.join("gitops-seed");
            let _ = std::fs::remove_dir_all(&seed);
            copy_for_kind(&root.join("gitops"), &seed, &served_urls())?;
            adapters::gitops::seed_bare_repository(
                &gitops,
                &seed,
                &config.gitops.branch,
                (&config.gitops.author_name, &config.gitops.author_email),
            )?;
        }
        Ok(gitops)
    }

    /// The git container, (re)started on every `up` so it mounts this state folder.
    pub(super) async fn git_server(&self) -> anyhow::Result<()> {
        step(&format!(
            "serving the repositories to the cluster as git://{GIT_CONTAINER}:{GIT_PORT}/"
        ));
        let _ = tools::run("docker", &["rm", "-f", GIT_CONTAINER], b"").await;
        // Docker wants an absolute source for a bind mount (PAKTECH_STATE_DIR may be relative).
        let root = std::path::absolute(self.git_root())
            .with_context(|| format!("cannot resolve {}", self.git_root().display()))?;
        let args = git_server_args(&root);
        tools::run(
            "docker",
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            b"",
        )
        .await?;
        Ok(())
    }

    /// `git ls-remote` of both repositories from inside the cluster, by the repo server that
    /// will read them, retried while the container starts and its name gets known.
    pub(super) async fn prove_served(&self, gitops_branch: &str) -> anyhow::Result<()> {
        step(
            "checking that the cluster reads both repositories (git ls-remote in the repo server)",
        );
        for check in served_checks(gitops_branch) {
            let args: Vec<&str> = check.iter().map(String::as_str).collect();
            let mut attempt = 1;
            loop {
                match kubectl(&args, b"").await {
                    Ok(refs) if !refs.trim().is_empty() => break,
                    Ok(_) | Err(_) if attempt < SERVE_ATTEMPTS => {
                        attempt += 1;
                        tokio::time::sleep(SERVE_RETRY).await;
                    }
                    Ok(_) => bail!("`kubectl {}` listed no refs", args.join(" ")),
                    Err(e) => {
                        return Err(e).with_context(|| {
                            format!(
                                "the cluster cannot read the repositories from {GIT_CONTAINER} on Docker network {KIND_NETWORK} (`kubectl {}`); see `docker logs {GIT_CONTAINER}`",
                                args.join(" ")
                            )
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// The environments' namespaces, the locked `default` project, and each environment's
    /// AppProject and ApplicationSet, pointed at the repositories served to the cluster.
    /// Another ApplicationSet left in an environment's namespace by an older bootstrap (one
    /// per app, `paktech-app-<env>`) is deleted first, orphaning its Applications, so the
    /// environment's one ApplicationSet takes them over rather than two generating the same.
    pub(super) async fn bootstrap(&self, config: &PipelineConfig) -> anyhow::Result<()> {
        let urls = served_urls();
        let mut files = vec![
            "namespaces.yaml".to_owned(),
            "default-appproject.yaml".to_owned(),
        ];
        for env in &config.environments {
            files.push(format!("{}/appproject.yaml", env.name));
            files.push(format!("{}/applicationset.yaml", env.name));
        }
        for file in &files {
            let text =
                std::fs::read_to_string(workspace::root().join("gitops/bootstrap").join(file))
                    .with_context(|| format!("cannot read gitops/bootstrap/{file}"))?;
            let text = urls
                .iter()
                .fold(text, |text, (github, served)| text.replace(github, served));
            if file.ends_with("/applicationset.yaml") {
                let doc = Document::parse(file.as_str(), text.clone())?;
                let (Some(name), Some(namespace)) =
                    (doc.get("metadata.name"), doc.get("metadata.namespace"))
                else {
                    bail!("gitops/bootstrap/{file}: no metadata.name or metadata.namespace");
                };
                let listed = kubectl(
                    &[
                        "get",
                        "applicationsets.argoproj.io",
                        "-n",
                        namespace,
                        "-o",
                        "name",
                    ],
                    b"",
                )
                .await?;
                for stale in stale_applicationsets(&listed, name) {
                    step(&format!(
                        "deleting {stale} in {namespace} (its Applications stay, for {name})"
                    ));
                    kubectl(
                        &["delete", "-n", namespace, "--cascade=orphan", &stale],
                        b"",
                    )
                    .await?;
                }
            }
            kubectl(&["apply", "-f", "-"], text.as_bytes()).await?;
        }
        Ok(())
    }

    /// pipeline.toml for the kind target: the project's, with each app's repository in the
    /// registry ([`registry_repository`]) and the served GitOps repository.
    pub(super) fn pipeline_config(&self, gitops_remote: &Path) -> anyhow::Result<PathBuf> {
        let source = context::config_path();
        let text = std::fs::read_to_string(&source)
            .with_context(|| format!("cannot read {}", source.display()))?;
        let text = config_for_kind(&text, gitops_remote);
        let path = self.state.join("pipeline.toml");
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        let config = config::PipelineConfig::load_in(&path, &workspace::root())?;
        let url = gitops_remote.display().to_string();
        let unmoved: Vec<String> = config
            .apps
            .iter()
            .filter(|a| a.repository.as_str() != registry_repository(a.name.as_str()))
            .map(|a| format!("{} = {:?}", a.name, a.repository.as_str()))
            .collect();
        if !unmoved.is_empty() || config.gitops.url.as_deref() != Some(url.as_str()) {
            bail!(
                "{}: expected every app's repository to be {REGISTRY}/<app> (not {}) and [gitops] url = {url:?} after rewriting {}",
                path.display(),
                unmoved.join(", "),
                source.display()
            );
        }
        Ok(path)
    }
}
