//! `cargo xtask cluster up|down`: a local Kubernetes cluster (kind) that the `kind` target
//! drives like the real one: Argo CD installed, a registry the nodes pull from
//! (`localhost:5001`, through a containerd mirror), the app and GitOps repositories served
//! to the cluster over `git://` from this machine, and the bootstrap manifests applied.
//!
//! Everything it creates is named `paktech…` and lives in the state folder's `kind/`, so
//! `down` removes exactly that. It needs `kind`, `kubectl`, `docker` and `git` on PATH and
//! pulls `registry:2`, kind's node image and Argo CD's manifests from the internet.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use pipeline::adapters::tools;

use crate::{context, workspace};

/// The kind cluster's name (its kubeconfig context is [`context::KIND_CONTEXT`]).
pub const CLUSTER: &str = "paktech";
/// The registry container, published on 127.0.0.1:5001 and reached by the nodes by name.
pub const REGISTRY_CONTAINER: &str = "paktech-registry";
/// The image repository the kind target's builds go to.
pub const REGISTRY_REPOSITORY: &str = "localhost:5001/paktech-app";
/// The Argo CD release installed (its upstream `manifests/install.yaml`).
pub const ARGOCD_VERSION: &str = "v3.2.0";
const GIT_PORT: u16 = 9418;
/// The repository URLs the bootstrap manifests name, and what serves them on kind.
const APP_REPO: (&str, &str) = (
    "https://github.com/paktech/paktech-gitops.git",
    "paktech-gitops.git",
);
const GITOPS_REPO: (&str, &str) = (
    "https://github.com/paktech/paktech-gitops-state.git",
    "paktech-gitops-state.git",
);

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Create (or complete) the kind cluster with Argo CD, the registry and the repositories.
    Up,
    /// Delete the cluster, the registry and the git server.
    Down,
}

impl Args {
    pub async fn run(self, _json: bool) -> anyhow::Result<()> {
        let kind = Kind::new();
        match self.action {
            Action::Up => {
                let up = kind.up().await?;
                eprintln!(
                    "kind cluster {CLUSTER} is up: context {}, registry {REGISTRY_REPOSITORY}, GitOps {}",
                    context::KIND_CONTEXT,
                    up.gitops_remote.display()
                );
                eprintln!(
                    "drive it with: PAKTECH_CONFIG={} PAKTECH_STATE_DIR={} cargo xtask ci --target kind",
                    up.config.display(),
                    up.state.display()
                );
                Ok(())
            }
            Action::Down => kind.down().await,
        }
    }
}

/// What `up` made, for the commands that drive the cluster.
#[derive(Debug)]
pub struct Up {
    /// The GitOps repository Argo CD reads (the pipeline writes it by path).
    pub gitops_remote: PathBuf,
    /// A pipeline.toml for the kind target (registry repository, GitOps URL).
    pub config: PathBuf,
    /// The state folder for commands driving the cluster (their GitOps mirror).
    pub state: PathBuf,
}

/// Why the kind target cannot run on this machine, when it cannot.
pub fn missing_tools() -> Option<String> {
    let missing: Vec<&str> = ["kind", "kubectl", "docker", "git"]
        .into_iter()
        .filter(|tool| !tools::on_path(tool))
        .collect();
    (!missing.is_empty()).then(|| format!("{} not on PATH", missing.join(", ")))
}

/// The kind cluster and what goes with it.
#[derive(Debug)]
pub struct Kind {
    state: PathBuf,
}

impl Kind {
    pub fn new() -> Self {
        Self {
            state: context::state_dir().join("kind"),
        }
    }

    fn git_root(&self) -> PathBuf {
        self.state.join("git")
    }

    pub async fn up(&self) -> anyhow::Result<Up> {
        if let Some(missing) = missing_tools() {
            bail!(
                "the kind cluster needs kind, kubectl, docker and git: {missing} (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)"
            );
        }
        std::fs::create_dir_all(self.git_root())
            .with_context(|| format!("cannot create {}", self.git_root().display()))?;
        self.registry().await?;
        self.cluster().await?;
        self.mirror().await?;
        self.argocd().await?;
        let gateway = self.gateway().await?;
        let gitops_remote = self.repositories(&gateway)?;
        self.git_daemon(&gateway).await?;
        self.bootstrap(&gateway).await?;
        let config = self.pipeline_config(&gitops_remote)?;
        Ok(Up {
            gitops_remote,
            config,
            state: self.state.join("state"),
        })
    }

    /// Forgets the cluster's GitOps repository and the commands' mirror, so the next `up`
    /// seeds a fresh one (the end-to-end run starts from nothing deployed, no approvals and
    /// no blocks). Argo CD follows the new history on its next refresh.
    pub fn forget_gitops(&self) -> anyhow::Result<()> {
        for dir in [
            self.git_root().join(GITOPS_REPO.1),
            self.state.join("state"),
        ] {
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot remove {}", dir.display()));
                }
            }
        }
        Ok(())
    }

    pub async fn down(&self) -> anyhow::Result<()> {
        if tools::on_path("kind") {
            tools::run("kind", &["delete", "cluster", "--name", CLUSTER], b"").await?;
        }
        if tools::on_path("docker") {
            let _ = tools::run("docker", &["rm", "-f", REGISTRY_CONTAINER], b"").await;
        }
        self.stop_git_daemon();
        eprintln!("kind cluster {CLUSTER}, its registry and git server are gone");
        Ok(())
    }

    /// `registry:2` on 127.0.0.1:5001, restarted with Docker.
    async fn registry(&self) -> anyhow::Result<()> {
        let running = tools::run(
            "docker",
            &[
                "ps",
                "-q",
                "--filter",
                &format!("name=^{REGISTRY_CONTAINER}$"),
            ],
            b"",
        )
        .await?;
        if running.trim().is_empty() {
            let _ = tools::run("docker", &["rm", "-f", REGISTRY_CONTAINER], b"").await;
            step("starting the registry on 127.0.0.1:5001");
            tools::run(
                "docker",
                &[
                    "run",
                    "-d",
                    "--restart=always",
                    "-p",
                    "127.0.0.1:5001:5000",
                    "--name",
                    REGISTRY_CONTAINER,
                    "registry:2",
                ],
                b"",
            )
            .await?;
        }
        Ok(())
    }

    async fn cluster(&self) -> anyhow::Result<()> {
        let clusters = tools::run("kind", &["get", "clusters"], b"").await?;
        if clusters.lines().any(|c| c.trim() == CLUSTER) {
            return Ok(());
        }
        step(&format!("creating kind cluster {CLUSTER}"));
        // containerd reads per-registry hosts from certs.d, where `mirror` writes ours.
        let config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\ncontainerdConfigPatches:\n  - |-\n    [plugins.\"io.containerd.grpc.v1.cri\".registry]\n      config_path = \"/etc/containerd/certs.d\"\n";
        tools::run(
            "kind",
            &[
                "create", "cluster", "--name", CLUSTER, "--wait", "180s", "--config", "-",
            ],
            config.as_bytes(),
        )
        .await?;
        Ok(())
    }

    /// Nodes pull `localhost:5001/…` from the registry container, over kind's network.
    async fn mirror(&self) -> anyhow::Result<()> {
        let networks = tools::run(
            "docker",
            &[
                "inspect",
                "-f",
                "{{json .NetworkSettings.Networks}}",
                REGISTRY_CONTAINER,
            ],
            b"",
        )
        .await?;
        if !networks.contains("\"kind\"") {
            tools::run(
                "docker",
                &["network", "connect", "kind", REGISTRY_CONTAINER],
                b"",
            )
            .await?;
        }
        let hosts = format!("[host.\"http://{REGISTRY_CONTAINER}:5000\"]\n");
        let nodes = tools::run("kind", &["get", "nodes", "--name", CLUSTER], b"").await?;
        for node in nodes.lines().map(str::trim).filter(|n| !n.is_empty()) {
            let dir = "/etc/containerd/certs.d/localhost:5001";
            tools::run("docker", &["exec", node, "mkdir", "-p", dir], b"").await?;
            tools::run(
                "docker",
                &[
                    "exec",
                    "-i",
                    node,
                    "cp",
                    "/dev/stdin",
                    &format!("{dir}/hosts.toml"),
                ],
                hosts.as_bytes(),
            )
            .await?;
        }
        Ok(())
    }

    async fn argocd(&self) -> anyhow::Result<()> {
        step(&format!("installing Argo CD {ARGOCD_VERSION}"));
        let namespace = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: argocd\n";
        kubectl(&["apply", "-f", "-"], namespace.as_bytes()).await?;
        let manifests = format!(
            "https://raw.githubusercontent.com/argoproj/argo-cd/{ARGOCD_VERSION}/manifests/install.yaml"
        );
        kubectl(
            &[
                "apply",
                "-n",
                context::ARGOCD_NAMESPACE,
                "--server-side",
                "--force-conflicts",
                "-f",
                &manifests,
            ],
            b"",
        )
        .await?;
        for workload in [
            "deployment/argocd-repo-server",
            "deployment/argocd-applicationset-controller",
            "statefulset/argocd-application-controller",
        ] {
            kubectl(
                &[
                    "rollout",
                    "status",
                    "-n",
                    context::ARGOCD_NAMESPACE,
                    workload,
                    "--timeout=300s",
                ],
                b"",
            )
            .await?;
        }
        Ok(())
    }

    /// The IPv4 address of this machine on kind's Docker network: pods reach the git server
    /// there.
    async fn gateway(&self) -> anyhow::Result<String> {
        let text = tools::run(
            "docker",
            &[
                "network",
                "inspect",
                "kind",
                "-f",
                "{{range .IPAM.Config}}{{.Gateway}} {{end}}",
            ],
            b"",
        )
        .await?;
        text.split_whitespace()
            .find(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok())
            .map(str::to_owned)
            .context("kind's Docker network has no IPv4 gateway for the git server to listen on")
    }

    /// The app repository (the chart, at this checkout's HEAD) and the GitOps repository
    /// (seeded from gitops/ with the registry's repository), as bare repositories under
    /// `git/`. The GitOps repository is created once and then belongs to the pipeline.
    fn repositories(&self, gateway: &str) -> anyhow::Result<PathBuf> {
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
            copy_for_kind(&root.join("gitops"), &seed, &self.served_urls(gateway))?;
            let config = context::load_config()?;
            pipeline::adapters::gitops::seed_bare_repository(
                &gitops,
                &seed,
                &config.gitops.branch,
                (&config.gitops.author_name, &config.gitops.author_email),
            )?;
        }
        Ok(gitops)
    }

    fn served_urls(&self, gateway: &str) -> [(String, String); 2] {
        [APP_REPO, GITOPS_REPO].map(|(github, served)| {
            (
                github.to_owned(),
                format!("git://{gateway}:{GIT_PORT}/{served}"),
            )
        })
    }

    fn pid_file(&self) -> PathBuf {
        self.state.join("git-daemon.pid")
    }

    /// `git daemon`, read-only, on kind's gateway address only; it outlives this command.
    async fn git_daemon(&self, gateway: &str) -> anyhow::Result<()> {
        self.stop_git_daemon();
        let root = self.git_root();
        let root = root.display().to_string();
        let pid = self.pid_file().display().to_string();
        tools::run(
            "git",
            &[
                "daemon",
                "--detach",
                "--reuseaddr",
                "--export-all",
                &format!("--base-path={root}"),
                &format!("--listen={gateway}"),
                &format!("--port={GIT_PORT}"),
                &format!("--pid-file={pid}"),
                &root,
            ],
            b"",
        )
        .await?;
        Ok(())
    }

    fn stop_git_daemon(&self) {
        if let Ok(pid) = std::fs::read_to_string(self.pid_file()) {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
            let _ = std::fs::remove_file(self.pid_file());
        }
    }

    /// The AppProject and ApplicationSet, pointed at the repositories served to the cluster.
    async fn bootstrap(&self, gateway: &str) -> anyhow::Result<()> {
        let urls = self.served_urls(gateway);
        for file in ["appproject.yaml", "applicationset.yaml"] {
            let text =
                std::fs::read_to_string(workspace::root().join("gitops/bootstrap").join(file))
                    .with_context(|| format!("cannot read gitops/bootstrap/{file}"))?;
            let text = urls
                .iter()
                .fold(text, |text, (github, served)| text.replace(github, served));
            kubectl(&["apply", "-f", "-"], text.as_bytes()).await?;
        }
        Ok(())
    }

    /// pipeline.toml for the kind target: the project's, with the registry's repository and
    /// the served GitOps repository.
    fn pipeline_config(&self, gitops_remote: &Path) -> anyhow::Result<PathBuf> {
        let source = context::config_path();
        let text = std::fs::read_to_string(&source)
            .with_context(|| format!("cannot read {}", source.display()))?;
        let text = text
            .lines()
            .map(|line| {
                let line_key = line.trim_start().trim_start_matches("# ");
                if line_key.starts_with("repository =") {
                    format!("repository = \"{REGISTRY_REPOSITORY}\"")
                } else if line_key.starts_with("url =") {
                    format!("url = {:?}", gitops_remote.display().to_string())
                } else {
                    line.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let path = self.state.join("pipeline.toml");
        std::fs::write(&path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        let config = pipeline::config::PipelineConfig::load(&path)?;
        let url = gitops_remote.display().to_string();
        if config.image.repository.as_str() != REGISTRY_REPOSITORY
            || config.gitops.url.as_deref() != Some(url.as_str())
        {
            bail!(
                "{}: expected [image] repository = {REGISTRY_REPOSITORY:?} and [gitops] url = {url:?} after rewriting {}",
                path.display(),
                source.display()
            );
        }
        Ok(path)
    }
}

/// Copies the gitops/ tree to `to` with every values file's image repository set to the
/// registry's, and the bootstrap manifests' repository URLs set to the served ones.
fn copy_for_kind(from: &Path, to: &Path, urls: &[(String, String)]) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_for_kind(&entry.path(), &target, urls)?;
            continue;
        }
        let text = std::fs::read_to_string(entry.path())
            .with_context(|| format!("cannot read {}", entry.path().display()))?;
        let text = text.replace(
            "repository: \"paktech-app\"",
            &format!("repository: \"{REGISTRY_REPOSITORY}\""),
        );
        let text = urls
            .iter()
            .fold(text, |text, (github, served)| text.replace(github, served));
        std::fs::write(&target, text)
            .with_context(|| format!("cannot write {}", target.display()))?;
    }
    Ok(())
}

async fn kubectl(args: &[&str], input: &[u8]) -> anyhow::Result<String> {
    let mut all = vec!["--context", context::KIND_CONTEXT];
    all.extend_from_slice(args);
    Ok(tools::run("kubectl", &all, input).await?)
}

fn step(what: &str) {
    eprintln!("cluster: {what}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `up` hands the cluster and the pipeline must agree: the rewritten gitops/ tree
    /// passes the same consistency check as the project's, against the kind pipeline.toml.
    #[test]
    fn the_kind_gitops_tree_and_pipeline_toml_agree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kind = Kind {
            state: dir.path().join("kind"),
        };
        let urls = kind.served_urls("172.18.0.1");
        let seed = dir.path().join("seed");
        copy_for_kind(&workspace::root().join("gitops"), &seed, &urls).expect("copy");
        let remote = kind.git_root().join(GITOPS_REPO.1);
        std::fs::create_dir_all(&kind.state).expect("state");
        let path = kind.pipeline_config(&remote).expect("pipeline.toml");
        let config = pipeline::config::PipelineConfig::load(&path).expect("load");
        assert_eq!(config.image.repository.as_str(), REGISTRY_REPOSITORY);
        let problems = pipeline::consistency::check(&config, &seed);
        assert!(problems.is_empty(), "{problems:#?}");
        // The project's own tree names the local repository, which a cluster cannot pull.
        let unrewritten = pipeline::consistency::check(&config, &workspace::root().join("gitops"));
        assert!(!unrewritten.is_empty());

        let prod = std::fs::read_to_string(seed.join("apps/paktech-app/prod/values.yaml"))
            .expect("prod values");
        assert!(
            prod.contains("repository: \"localhost:5001/paktech-app\""),
            "{prod}"
        );
        for file in ["bootstrap/appproject.yaml", "bootstrap/applicationset.yaml"] {
            let text = std::fs::read_to_string(seed.join(file)).expect("bootstrap");
            assert!(!text.contains("https://github.com/"), "{file}: {text}");
            assert!(
                text.contains("git://172.18.0.1:9418/paktech-gitops-state.git"),
                "{file}: {text}"
            );
        }
    }
}
