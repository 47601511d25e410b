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

    /// The app repository (the chart, at this checkout's HEAD) and the GitOps repository
    /// (seeded from gitops/ with each app's registry repository and autoscaling off), as bare
    /// repositories under `git/`. The GitOps repository is created once and then belongs to
    /// the pipeline.
    fn repositories(&self, config: &PipelineConfig) -> anyhow::Result<PathBuf> {
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
    async fn git_server(&self) -> anyhow::Result<()> {
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
    async fn prove_served(&self, gitops_branch: &str) -> anyhow::Result<()> {
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
    async fn bootstrap(&self, config: &PipelineConfig) -> anyhow::Result<()> {
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
    fn pipeline_config(&self, gitops_remote: &Path) -> anyhow::Result<PathBuf> {
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

/// The ApplicationSets `kubectl get applicationsets -o name` lists (`listed`) other than the
/// environment's own (`keep`), as `kubectl delete` takes them.
fn stale_applicationsets(listed: &str, keep: &str) -> Vec<String> {
    listed
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .filter(|line| line.rsplit('/').next() != Some(keep))
        .map(str::to_owned)
        .collect()
}

/// An app's image repository on kind: `localhost:5001/<app>`.
pub fn registry_repository(app: &str) -> String {
    format!("{REGISTRY}/{app}")
}

/// pipeline.toml `text` as the kind target reads it: each app's `repository` (in its
/// `[[apps]]` table, or `[image]` for the one-app form's `[app]`) in the registry
/// ([`registry_repository`]), and `[gitops] url` (commented out or not) the served GitOps
/// repository. Every other line stays.
pub(crate) fn config_for_kind(text: &str, gitops_remote: &Path) -> String {
    // The table each line is in, and the app a table's `name` (or the one-app `[app]`) names.
    let mut tables: Vec<(usize, String)> = Vec::new();
    let mut table = 0;
    let mut header = String::new();
    let mut names: Vec<Option<String>> = vec![None];
    let mut one_app: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            table += 1;
            header = trimmed.to_owned();
            names.push(None);
        } else if let Some(value) = trimmed.strip_prefix("name =") {
            let name = value.trim().trim_matches('"').to_owned();
            match header.as_str() {
                "[[apps]]" => names[table] = Some(name),
                "[app]" => one_app = Some(name),
                _ => {}
            }
        }
        tables.push((table, header.clone()));
    }
    let mut out = String::with_capacity(text.len());
    for (line, (table, header)) in text.lines().zip(tables) {
        let line_key = line.trim_start().trim_start_matches("# ");
        let app = match header.as_str() {
            "[[apps]]" => names[table].as_deref(),
            "[image]" => one_app.as_deref(),
            _ => None,
        };
        match app {
            Some(app) if line_key.starts_with("repository =") => {
                out.push_str(&format!("repository = \"{}\"", registry_repository(app)));
            }
            _ if line_key.starts_with("url =") => {
                out.push_str(&format!("url = {:?}", gitops_remote.display().to_string()));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// kind's cluster config (API `kind.x-k8s.io/v1alpha4`): a control plane and one worker per
/// zone in [`ZONES`], labelled through `nodes[].labels` (kind v0.30.0
/// `pkg/apis/config/v1alpha4/types.go`, `Node.Labels`; kind hands them to the kubelet as
/// `node-labels`, and the kubelet may set `topology.kubernetes.io/zone` on itself, kubernetes
/// `pkg/kubelet/apis/well_known_labels.go`). The control plane carries no zone: it is tainted
/// for workloads once workers exist, and a zone nobody can schedule into would break
/// `maxSkew`. containerd reads per-registry hosts from `certs.d`, where `mirror` writes ours.
fn kind_config() -> String {
    let mut config = String::from(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\ncontainerdConfigPatches:\n  - |-\n    [plugins.\"io.containerd.grpc.v1.cri\".registry]\n      config_path = \"/etc/containerd/certs.d\"\nnodes:\n  - role: control-plane\n",
    );
    for zone in ZONES {
        config.push_str(&format!(
            "  - role: worker\n    labels:\n      {ZONE_LABEL}: {zone}\n"
        ));
    }
    config
}

/// What is wrong with the cluster's nodes (`kubectl get nodes -o json`) for prod's topology
/// spread, if anything: fewer zones than [`ZONES`].
fn zones_problem(nodes: &serde_json::Value) -> Option<String> {
    let mut zones: Vec<&str> = nodes["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|node| node["metadata"]["labels"][ZONE_LABEL].as_str())
        .collect();
    zones.sort_unstable();
    zones.dedup();
    (zones.len() < ZONES.len()).then(|| {
        format!(
            "its nodes span {} zone(s) ({ZONE_LABEL}), but prod spreads its replicas over {} with DoNotSchedule",
            zones.len(),
            ZONES.len()
        )
    })
}

/// The `kubectl` waits after installing Argo CD: every Deployment Available (server, repo
/// server, ApplicationSet and notifications controllers, Redis, Dex: `manifests/install.yaml`
/// at [`ARGOCD_VERSION`]), and the application controller, a StatefulSet without an
/// Available condition, rolled out.
fn argocd_waits() -> Vec<Vec<String>> {
    let ns = context::ARGOCD_NAMESPACE;
    [
        vec![
            "wait",
            "--for=condition=Available",
            "deployment",
            "--all",
            "-n",
            ns,
            "--timeout=300s",
        ],
        vec![
            "rollout",
            "status",
            "statefulset/argocd-application-controller",
            "-n",
            ns,
            "--timeout=300s",
        ],
    ]
    .into_iter()
    .map(|args| args.into_iter().map(str::to_owned).collect())
    .collect()
}

/// `docker run` of the git server: a container on kind's network, reached by the cluster by
/// its name as the registry is (kind's node entrypoint makes Docker's embedded DNS answer
/// pods too: `enable_network_magic` in kind v0.30.0 `images/base/files/usr/local/bin/entrypoint`),
/// so it works on every Docker, Docker Desktop included, where no host address is reachable
/// from the nodes. It serves `root` read-only with `git daemon`; the image is Argo CD's own
/// at [`ARGOCD_VERSION`] (it has git, and its tag is pinned with the release we install). `safe.directory` because the mounted
/// repositories belong to this machine's user, not the container's. `git://` serves Argo CD
/// whole: it lists refs with go-git's default client for any non-HTTP URL
/// (`util/git/workaround.go`, v3.2.0) and fetches with the git command line.
fn git_server_args(root: &Path) -> Vec<String> {
    [
        "run",
        "-d",
        "--restart=always",
        "--name",
        GIT_CONTAINER,
        "--network",
        KIND_NETWORK,
        "--mount",
        &format!(
            "type=bind,source={},target={GIT_BASE},readonly",
            root.display()
        ),
        &format!("quay.io/argoproj/argocd:{ARGOCD_VERSION}"),
        "git",
        "-c",
        "safe.directory=*",
        "daemon",
        "--verbose",
        "--informative-errors",
        "--reuseaddr",
        "--export-all",
        &format!("--base-path={GIT_BASE}"),
        &format!("--port={GIT_PORT}"),
        GIT_BASE,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// The bootstrap's repository URLs and what serves each to the cluster.
fn served_urls() -> [(String, String); 2] {
    [APP_REPO, GITOPS_REPO].map(|(github, served)| (github.to_owned(), served_url(served)))
}

fn served_url(repository: &str) -> String {
    format!("git://{GIT_CONTAINER}:{GIT_PORT}/{repository}")
}

/// The `kubectl` commands that prove the cluster reads both repositories: `git ls-remote`
/// of the branch Argo CD follows, run in the repo server (the component that fetches them),
/// `--exit-code` so a missing branch fails too.
fn served_checks(gitops_branch: &str) -> Vec<Vec<String>> {
    [(APP_REPO.1, "main"), (GITOPS_REPO.1, gitops_branch)]
        .into_iter()
        .map(|(repository, branch)| {
            [
                "exec",
                "-n",
                context::ARGOCD_NAMESPACE,
                "deployment/argocd-repo-server",
                "-c",
                "argocd-repo-server",
                "--",
                "git",
                "ls-remote",
                "--exit-code",
                &served_url(repository),
                &format!("refs/heads/{branch}"),
            ]
            .into_iter()
            .map(str::to_owned)
            .collect()
        })
        .collect()
}

/// An app's values file in an environment as the kind cluster gets it: the image from the
/// app's repository in the registry container (`repository`), and autoscaling off. kind has no metrics-server, so an HPA reports
/// `ScalingActive` `FailedGetResourceMetric`, which Argo CD's HPA health check reads as
/// Degraded (gitops-engine `pkg/health/health_hpa.go`, the version Argo CD v3.2.0 pins),
/// and the pipeline would fail every staging and prod rollout; installing metrics-server
/// would still leave each new Deployment Degraded until its first metrics arrive. With
/// autoscaling off the chart sets `replicas` from `replicaCount`, which is what the
/// pipeline checks anyway. Every other byte stays.
fn values_for_kind(file: &str, text: &str, repository: &str) -> anyhow::Result<String> {
    let doc = Document::parse(file, text.to_owned())?;
    let doc = if doc.get("image.repository").is_some() {
        doc.with(&[("image.repository", Scalar::str(repository))])?
    } else {
        doc
    };
    let mut in_autoscaling = false;
    let mut out = String::with_capacity(doc.text().len());
    for line in doc.text().split_inclusive('\n') {
        let starts_block = !line.starts_with([' ', '#', '\n']);
        if starts_block {
            in_autoscaling = line.trim_end() == "autoscaling:";
        }
        let trimmed = line.trim_start();
        if in_autoscaling && !starts_block && trimmed.trim_end() == "enabled: true" {
            let indent = &line[..line.len() - trimmed.len()];
            let end = if line.ends_with('\n') { "\n" } else { "" };
            out.push_str(&format!("{indent}enabled: false{end}"));
        } else {
            out.push_str(line);
        }
    }
    let edited = Document::parse(file, out)?;
    if let Some(enabled) = edited.get("autoscaling.enabled")
        && enabled != "false"
    {
        bail!(
            "{file}: autoscaling.enabled is {enabled:?} after turning it off for kind; expected a plain `enabled: true` line under `autoscaling:`"
        );
    }
    Ok(edited.text().to_owned())
}

/// Copies the gitops/ tree to `to` with every values file made for kind ([`values_for_kind`],
/// each with the repository of the app whose folder holds it: `apps/<app>/<env>/values.yaml`),
/// and the bootstrap manifests' repository URLs set to the served ones.
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
        let text = if entry.file_name() == "values.yaml" {
            let path = entry.path();
            let app = path
                .parent()
                .and_then(Path::parent)
                .and_then(Path::file_name)
                .and_then(|name| name.to_str())
                .with_context(|| format!("{}: no app folder above it", path.display()))?;
            values_for_kind(
                &path.display().to_string(),
                &text,
                &registry_repository(app),
            )?
        } else {
            text
        };
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
        let seed = dir.path().join("seed");
        copy_for_kind(&workspace::root().join("gitops"), &seed, &served_urls()).expect("copy");
        let remote = kind.git_root().join(GITOPS_REPO.1);
        std::fs::create_dir_all(&kind.state).expect("state");
        let path = kind.pipeline_config(&remote).expect("pipeline.toml");
        let config = config::PipelineConfig::load_in(&path, &workspace::root()).expect("load");
        let repositories: Vec<(&str, &str)> = config
            .apps
            .iter()
            .map(|a| (a.name.as_str(), a.repository.as_str()))
            .collect();
        assert_eq!(
            repositories,
            [
                ("paktech-app", "localhost:5001/paktech-app"),
                ("paktech-gateway", "localhost:5001/paktech-gateway"),
            ]
        );
        assert_eq!(
            config.gitops.url.as_deref(),
            Some(remote.display().to_string().as_str())
        );
        // This machine's signing key is never trusted there, whatever the target.
        for target in [context::TargetKind::Local, context::TargetKind::Kind] {
            assert!(!context::local_key::applies(target, &config), "{target:?}");
        }
        let problems = config::consistency::check(&config, &seed);
        assert!(problems.is_empty(), "{problems:#?}");
        // The project's own tree names the local repository, which a cluster cannot pull.
        let unrewritten = config::consistency::check(&config, &workspace::root().join("gitops"));
        assert!(!unrewritten.is_empty());

        for app in ["paktech-app", "paktech-gateway"] {
            let prod = std::fs::read_to_string(seed.join(format!("apps/{app}/prod/values.yaml")))
                .expect("prod values");
            assert!(
                prod.contains(&format!("repository: \"localhost:5001/{app}\"")),
                "{prod}"
            );
        }
        for file in [
            "bootstrap/prod/appproject.yaml",
            "bootstrap/dev/applicationset.yaml",
        ] {
            let text = std::fs::read_to_string(seed.join(file)).expect("bootstrap");
            assert!(!text.contains("https://github.com/"), "{file}: {text}");
            assert!(
                text.contains("git://paktech-git:9418/paktech-gitops-state.git"),
                "{file}: {text}"
            );
        }
    }

    /// The kind pipeline.toml moves every app's repository, and the one-app form's too, and
    /// nothing else but the GitOps URL.
    #[test]
    fn the_kind_config_names_each_apps_repository_in_the_registry() {
        let remote = Path::new("/state/kind/git/paktech-gitops-state.git");
        let text = "[[apps]]\nname = \"a\"\n# The repository images are built into.\nrepository = \"a\"\n\n[[apps]]\nrepository = \"b\"\nname = \"b\"\n\n[gitops]\n# url = \"https://example.invalid/g.git\"\nbranch = \"main\"\n\n[[environments]]\nname = \"dev\"\n";
        assert_eq!(
            config_for_kind(text, remote),
            "[[apps]]\nname = \"a\"\n# The repository images are built into.\nrepository = \"localhost:5001/a\"\n\n[[apps]]\nrepository = \"localhost:5001/b\"\nname = \"b\"\n\n[gitops]\nurl = \"/state/kind/git/paktech-gitops-state.git\"\nbranch = \"main\"\n\n[[environments]]\nname = \"dev\"\n"
        );
        let one = "[app]\nname = \"solo\"\n\n[image]\nrepository = \"solo\"\n";
        assert_eq!(
            config_for_kind(one, remote),
            "[app]\nname = \"solo\"\n\n[image]\nrepository = \"localhost:5001/solo\"\n"
        );
    }

    /// An older bootstrap's ApplicationSet in the namespace is removed; the environment's
    /// own is kept.
    #[test]
    fn only_the_environments_own_applicationset_stays() {
        let listed =
            "applicationset.argoproj.io/paktech-app-dev\napplicationset.argoproj.io/paktech-dev\n";
        assert_eq!(
            stale_applicationsets(listed, "paktech-dev"),
            ["applicationset.argoproj.io/paktech-app-dev"]
        );
        assert!(stale_applicationsets("", "paktech-dev").is_empty());
        assert!(
            stale_applicationsets("applicationset.argoproj.io/paktech-dev\n", "paktech-dev")
                .is_empty()
        );
    }

    fn values(env: &str) -> (String, String) {
        app_values("paktech-app", env)
    }

    fn app_values(app: &str, env: &str) -> (String, String) {
        let path = workspace::root().join(format!("gitops/apps/{app}/{env}/values.yaml"));
        let text = std::fs::read_to_string(&path).expect("values");
        (path.display().to_string(), text)
    }

    /// Every worker is in a zone under the key prod's values spread on, and there are as
    /// many zones as prod wants replicas, so `DoNotSchedule` with `maxSkew: 1` places one
    /// replica per zone and a rollout's surge pod still fits.
    #[test]
    fn the_kind_config_puts_each_worker_in_a_zone_prods_topology_spread_can_use() {
        let config = ::tests::yaml_documents(&kind_config()).remove(0);
        assert_eq!(config["apiVersion"], "kind.x-k8s.io/v1alpha4");
        assert_eq!(config["kind"], "Cluster");
        let nodes = config["nodes"].as_array().expect("nodes");
        let (file, text) = values("prod");
        let prod = Document::parse(file, text).expect("prod values");
        assert_eq!(prod.get("topologySpread.enabled"), Some("true"));
        assert_eq!(
            prod.get("topologySpread.whenUnsatisfiable"),
            Some("DoNotSchedule")
        );
        let key = prod.get("topologySpread.topologyKey").expect("key");
        assert_eq!(key, ZONE_LABEL);
        let mut zones: Vec<&str> = nodes
            .iter()
            .filter(|n| n["role"] == "worker")
            .map(|n| n["labels"][key].as_str().expect("every worker has a zone"))
            .collect();
        zones.sort_unstable();
        zones.dedup();
        let replicas: usize = prod
            .get("replicaCount")
            .expect("replicas")
            .parse()
            .expect("n");
        assert!(zones.len() >= replicas, "{zones:?} for {replicas} replicas");
        // Every other app that spreads strictly over the same key fits too.
        let (file, text) = app_values("paktech-gateway", "prod");
        let gateway = Document::parse(file, text).expect("gateway's prod values");
        if gateway.get("topologySpread.whenUnsatisfiable") == Some("DoNotSchedule") {
            assert_eq!(gateway.get("topologySpread.topologyKey"), Some(key));
            let replicas: usize = gateway
                .get("replicaCount")
                .expect("replicas")
                .parse()
                .expect("n");
            assert!(
                zones.len() >= replicas,
                "{zones:?} for {replicas} gateway replicas"
            );
        }
        let control_plane: Vec<_> = nodes
            .iter()
            .filter(|n| n["role"] == "control-plane")
            .collect();
        assert_eq!(control_plane.len(), 1);
        assert!(control_plane[0].get("labels").is_none());
        // The registry mirror patch is still there.
        assert!(
            config["containerdConfigPatches"][0]
                .as_str()
                .expect("patch")
                .contains("config_path = \"/etc/containerd/certs.d\"")
        );
    }

    #[test]
    fn a_cluster_without_zones_is_refused_by_name() {
        let node = |zone: Option<&str>| {
            let mut labels = serde_json::json!({"kubernetes.io/hostname": "paktech-worker"});
            if let Some(zone) = zone {
                labels[ZONE_LABEL] = zone.into();
            }
            serde_json::json!({"metadata": {"labels": labels}})
        };
        let nodes = |zones: &[Option<&str>]| serde_json::json!({"items": zones.iter().map(|z| node(*z)).collect::<Vec<_>>()});
        assert_eq!(
            zones_problem(&nodes(&[None, None])).as_deref(),
            Some(
                "its nodes span 0 zone(s) (topology.kubernetes.io/zone), but prod spreads its replicas over 3 with DoNotSchedule"
            )
        );
        assert!(zones_problem(&nodes(&[None, Some("paktech-a"), Some("paktech-a")])).is_some());
        assert_eq!(
            zones_problem(&nodes(&[
                None,
                Some("paktech-a"),
                Some("paktech-b"),
                Some("paktech-c")
            ])),
            None
        );
    }

    #[test]
    fn the_git_server_is_a_read_only_container_on_kinds_network_reached_by_name() {
        let args = git_server_args(Path::new("/home/dev/app/.paktech/kind/git"));
        let joined = args.join(" ");
        assert!(
            joined.starts_with("run -d --restart=always --name paktech-git --network kind "),
            "{joined}"
        );
        assert!(
            joined.contains(
                "--mount type=bind,source=/home/dev/app/.paktech/kind/git,target=/srv/git,readonly"
            ),
            "{joined}"
        );
        assert!(
            joined.contains(&format!(
                "quay.io/argoproj/argocd:{ARGOCD_VERSION} git -c safe.directory=* daemon "
            )),
            "{joined}"
        );
        assert!(
            joined.ends_with("--export-all --base-path=/srv/git --port=9418 /srv/git"),
            "{joined}"
        );
        // Nothing is published on this machine: only kind's network reaches it.
        assert!(
            !args.iter().any(|a| a == "-p" || a.starts_with("--publish")),
            "{joined}"
        );
        // The cluster is pointed at it by name, not at an address of this machine.
        assert_eq!(
            served_urls()[1],
            (
                "https://github.com/paktech/paktech-gitops-state.git".to_owned(),
                "git://paktech-git:9418/paktech-gitops-state.git".to_owned()
            )
        );
    }

    #[test]
    fn up_proves_from_the_repo_server_that_both_repositories_are_served() {
        let checks: Vec<String> = served_checks("main").iter().map(|c| c.join(" ")).collect();
        assert_eq!(
            checks,
            [
                "exec -n argocd deployment/argocd-repo-server -c argocd-repo-server -- git ls-remote --exit-code git://paktech-git:9418/paktech-gitops.git refs/heads/main",
                "exec -n argocd deployment/argocd-repo-server -c argocd-repo-server -- git ls-remote --exit-code git://paktech-git:9418/paktech-gitops-state.git refs/heads/main",
            ]
        );
        // Both are the repositories the bootstrap names once rewritten.
        for (_, served) in served_urls() {
            assert!(checks.iter().any(|c| c.contains(&served)), "{served}");
        }
    }

    #[test]
    fn up_waits_for_every_argo_cd_deployment_to_be_available() {
        let waits: Vec<String> = argocd_waits().iter().map(|c| c.join(" ")).collect();
        assert_eq!(
            waits,
            [
                "wait --for=condition=Available deployment --all -n argocd --timeout=300s",
                "rollout status statefulset/argocd-application-controller -n argocd --timeout=300s",
            ]
        );
    }

    /// Staging and prod get no HPA on kind (no metrics-server there), and nothing else in
    /// any app's values changes but the image repository.
    #[test]
    fn on_kind_autoscaling_is_off_and_nothing_else_changes() {
        for (app, env) in ["paktech-app", "paktech-gateway"]
            .into_iter()
            .flat_map(|app| ["dev", "staging", "prod"].map(|env| (app, env)))
        {
            let (file, text) = app_values(app, env);
            let repository = registry_repository(app);
            let kind = values_for_kind(&file, &text, &repository).expect("values for kind");
            let doc = Document::parse(&file, kind.clone()).expect("parses");
            assert_eq!(doc.get("autoscaling.enabled"), Some("false"), "{app} {env}");
            assert_eq!(doc.get("image.repository"), Some(repository.as_str()));
            let original = Document::parse(&file, text.clone()).expect("original");
            for key in [
                "replicaCount",
                "topologySpread.whenUnsatisfiable",
                "podDisruptionBudget.minAvailable",
            ] {
                assert_eq!(doc.get(key), original.get(key), "{app} {env} {key}");
            }
            let changed: Vec<(&str, &str)> = text
                .lines()
                .zip(kind.lines())
                .filter(|(a, b)| a != b)
                .collect();
            let expected = if env == "dev" { 1 } else { 2 };
            assert_eq!(changed.len(), expected, "{app} {env}: {changed:#?}");
            assert_eq!(text.lines().count(), kind.lines().count());
            // And the chart's switch reads a plain boolean, not the string "false".
            assert!(kind.contains("\n  enabled: false\n"), "{kind}");
        }
    }

    /// This machine's key is trusted only by the local target with the local store: not by
    /// kind's pipeline.toml as `up` writes it (here, beside the rewrite it checks).
    #[test]
    fn only_the_local_target_with_the_local_store_trusts_it() {
        use context::{TargetKind, local_key};
        let parsed = |path: &str, text: &str| {
            PipelineConfig::parse_in(Path::new(path), text, &workspace::root()).expect(path)
        };
        let root = workspace::root();
        let read = |name: &str| std::fs::read_to_string(root.join(name)).expect(name);
        let local = parsed("pipeline.toml", &read("pipeline.toml"));
        let aks = parsed(
            "pipeline.aks.toml",
            &read("pipeline.aks.toml").replace("@ACR_LOGIN_SERVER@", "paktech.azurecr.io"),
        );
        // kind's pipeline.toml as `cargo xtask cluster up` writes it.
        let kind_text = config_for_kind(
            &read("pipeline.toml"),
            Path::new("/state/kind/git/paktech-gitops-state.git"),
        );
        let kind = parsed("kind/pipeline.toml", &kind_text);
        assert!(local_key::applies(TargetKind::Local, &local));
        for target in [TargetKind::Kind, TargetKind::Aks] {
            assert!(!local_key::applies(target, &local), "{target:?}");
        }
        for target in [TargetKind::Local, TargetKind::Kind, TargetKind::Aks] {
            assert!(
                !local_key::applies(target, &aks),
                "pipeline.aks.toml on {target:?}"
            );
            assert!(
                !local_key::applies(target, &kind),
                "kind's pipeline.toml on {target:?}"
            );
        }

        let state = tempfile::tempdir().expect("state");
        for (target, mut config) in [(TargetKind::Aks, aks), (TargetKind::Kind, kind)] {
            let keys = config.supply_chain.keys.len();
            let signing = local_key::add(target, &mut config, None, state.path()).expect("add");
            assert!(signing.is_none(), "{target:?} signs with nothing");
            assert_eq!(config.supply_chain.keys.len(), keys, "{target:?}");
        }
        assert!(
            !state.path().join("keys").exists(),
            "no key is made where none applies"
        );
    }
}
