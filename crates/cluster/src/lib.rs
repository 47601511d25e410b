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
mod tests;
