//! `cargo xtask cluster up|down`: a local Kubernetes cluster (kind) that the `kind` target
//! drives like the real one: worker nodes in three zones (prod's topology spread needs
//! `topology.kubernetes.io/zone`), Argo CD installed and Available, a registry the nodes pull
//! from (`localhost:5001`, one repository per app, through a containerd mirror), the app and
//! GitOps repositories served to the cluster by a git container on kind's network (proved
//! from inside the cluster before `up` succeeds), and the bootstrap manifests applied.
//!
//! The decisions are pure functions below (the kind config, the git server's container, the
//! in-cluster check, the waits, the values a kind cluster gets), tested here; the runner only
//! hands them to `kind`, `docker` and `kubectl`. Everything it creates is named `paktech…` and
//! lives in the state folder's `kind/`, so `down` removes exactly that. It needs `kind`,
//! `kubectl`, `docker` and `git` on PATH and pulls `registry:2`, kind's node image, Argo CD's
//! manifests and image from the internet.

use std::path::{Path, PathBuf};
use std::time::Duration;

use adapters::tools;
use anyhow::{Context, bail};
use config::PipelineConfig;
use model::values::{Document, Scalar};

use context::workspace;

mod serve;
mod setup;

use setup::*;

pub mod e2e;

/// The kind cluster's name (its kubeconfig context is [`context::KIND_CONTEXT`]).
pub const CLUSTER: &str = "paktech";
/// The registry container, published on 127.0.0.1:5001 and reached by the nodes by name.
pub const REGISTRY_CONTAINER: &str = "paktech-registry";
/// The registry the kind target's builds go to: each app to its own repository there
/// ([`registry_repository`]).
pub const REGISTRY: &str = "localhost:5001";
/// The Argo CD release installed (its upstream `manifests/install.yaml`).
pub const ARGOCD_VERSION: &str = "v3.2.0";
/// The container that serves the repositories to the cluster, on kind's Docker network.
pub const GIT_CONTAINER: &str = "paktech-git";
const GIT_PORT: u16 = 9418;
/// Where the git container mounts the state folder's `git/` (read-only).
const GIT_BASE: &str = "/srv/git";
/// kind's Docker network, which `kind create cluster` makes.
const KIND_NETWORK: &str = "kind";
/// The node label prod's topology spread constraint keys on (`topologySpread.topologyKey`).
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// One worker node per zone: prod's three replicas spread one per zone with
/// `whenUnsatisfiable: DoNotSchedule`, and a rollout's surge pod still fits `maxSkew: 1`.
pub const ZONES: [&str; 3] = ["paktech-a", "paktech-b", "paktech-c"];
/// The repository URLs the bootstrap manifests name, and what serves them on kind.
const APP_REPO: (&str, &str) = (
    "https://github.com/paktech/paktech-gitops.git",
    "paktech-gitops.git",
);
const GITOPS_REPO: (&str, &str) = (
    "https://github.com/paktech/paktech-gitops-state.git",
    "paktech-gitops-state.git",
);
/// How often, and how far apart, `up` tries to read the repositories from the cluster.
const SERVE_ATTEMPTS: u32 = 10;
const SERVE_RETRY: Duration = Duration::from_secs(3);

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
                    "kind cluster {CLUSTER} is up: context {}, registry {REGISTRY}/<app>, GitOps {}",
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
    /// A pipeline.toml for the kind target (each app's registry repository, GitOps URL).
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

impl Default for Kind {
    fn default() -> Self {
        Self::new()
    }
}

impl Kind {
    /// The cluster whose files are in the state folder's `kind/`.
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
        let config = context::load_config()?;
        self.registry().await?;
        self.cluster().await?;
        self.mirror().await?;
        self.argocd().await?;
        let gitops_remote = self.repositories(&config)?;
        self.git_server().await?;
        self.prove_served(&config.gitops.branch).await?;
        self.bootstrap(&config).await?;
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
            for container in [REGISTRY_CONTAINER, GIT_CONTAINER] {
                let _ = tools::run("docker", &["rm", "-f", container], b"").await;
            }
        }
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
            return self.check_zones().await;
        }
        step(&format!(
            "creating kind cluster {CLUSTER}: a control plane and workers in zones {}",
            ZONES.join(", ")
        ));
        tools::run(
            "kind",
            &[
                "create", "cluster", "--name", CLUSTER, "--wait", "180s", "--config", "-",
            ],
            kind_config().as_bytes(),
        )
        .await?;
        self.check_zones().await
    }

    /// A cluster made by an older `up` has no zones, and prod could never schedule on it.
    async fn check_zones(&self) -> anyhow::Result<()> {
        let nodes = kubectl(&["get", "nodes", "-o", "json"], b"").await?;
        let nodes: serde_json::Value =
            serde_json::from_str(&nodes).context("kubectl get nodes -o json")?;
        if let Some(problem) = zones_problem(&nodes) {
            bail!(
                "kind cluster {CLUSTER}: {problem}; run `cargo xtask cluster down` and `cargo xtask cluster up` to recreate it"
            );
        }
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
        // Applications and ApplicationSets in the environments' namespaces ("Applications in
        // any namespace"): the namespaces Argo CD watches, and argocd-server's and the
        // notifications controller's rights there (upstream examples/k8s-rbac).
        let params = std::fs::read_to_string(
            workspace::root().join("gitops/bootstrap/argocd-cmd-params-cm.yaml"),
        )
        .context("cannot read gitops/bootstrap/argocd-cmd-params-cm.yaml")?;
        kubectl(&["apply", "-f", "-"], params.as_bytes()).await?;
        let rbac = format!(
            "https://github.com/argoproj/argo-cd/examples/k8s-rbac/argocd-server-applications?ref={ARGOCD_VERSION}"
        );
        kubectl(&["apply", "-k", &rbac], b"").await?;
        for workload in [
            "deployment/argocd-server",
            "deployment/argocd-applicationset-controller",
            "statefulset/argocd-application-controller",
        ] {
            kubectl(
                &[
                    "rollout",
                    "restart",
                    "-n",
                    context::ARGOCD_NAMESPACE,
                    workload,
                ],
                b"",
            )
            .await?;
        }
        // Every Argo CD deployment Available (the repo server, which the check below execs
        // into, among them), and the application controller's StatefulSet rolled out.
        for args in argocd_waits() {
            kubectl(&args.iter().map(String::as_str).collect::<Vec<_>>(), b"").await?;
        }
        Ok(())
    }
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
mod tests;
