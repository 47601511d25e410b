//! The cluster's setup as pure functions, tested without kind: the kind config, the zones check, Argo CD's waits, the git server's container and the in-cluster checks of what it serves, the values and pipeline.toml a kind cluster gets.

use super::*;

/// The ApplicationSets `kubectl get applicationsets -o name` lists (`listed`) other than the
/// environment's own (`keep`), as `kubectl delete` takes them.
pub(super) fn stale_applicationsets(listed: &str, keep: &str) -> Vec<String> {
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
pub(super) fn kind_config() -> String {
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
pub(super) fn zones_problem(nodes: &serde_json::Value) -> Option<String> {
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
pub(super) fn argocd_waits() -> Vec<Vec<String>> {
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
pub(super) fn git_server_args(root: &Path) -> Vec<String> {
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
pub(super) fn served_urls() -> [(String, String); 2] {
    [APP_REPO, GITOPS_REPO].map(|(github, served)| (github.to_owned(), served_url(served)))
}

pub(super) fn served_url(repository: &str) -> String {
    format!("git://{GIT_CONTAINER}:{GIT_PORT}/{repository}")
}

/// The `kubectl` commands that prove the cluster reads both repositories: `git ls-remote`
/// of the branch Argo CD follows, run in the repo server (the component that fetches them),
/// `--exit-code` so a missing branch fails too.
pub(super) fn served_checks(gitops_branch: &str) -> Vec<Vec<String>> {
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
pub(super) fn values_for_kind(file: &str, text: &str, repository: &str) -> anyhow::Result<String> {
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
pub(super) fn copy_for_kind(
    from: &Path,
    to: &Path,
    urls: &[(String, String)],
) -> anyhow::Result<()> {
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
