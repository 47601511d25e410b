//! What the run checks after each step, through the cluster: what runs where, that a release moved together, that the gateway reaches the app's build; and the facts it reads (the freeze, the release id, the head).

use super::*;

impl Scenario {
    /// The builds `app` runs in `env`, and how many replicas serve the build git names.
    pub(super) async fn running(
        &self,
        app: &str,
        env: &str,
    ) -> anyhow::Result<(Vec<String>, u64, u64)> {
        let ran = self.expect(&["status", "--json"], 0).await?;
        let status: Value = serde_json::from_str(&ran.stdout).context("status --json")?;
        let entry = status_entry(&status, app, env)
            .with_context(|| format!("status --json has no {app} in {env}"))?;
        let shas = entry["running_shas"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Ok((
            shas,
            entry["ready"].as_u64().unwrap_or_default(),
            entry["desired_replicas"].as_u64().unwrap_or_default(),
        ))
    }

    /// `app` runs only `sha` in `env`, on every replica its values ask for.
    pub(super) async fn check_runs(&self, app: &str, env: &str, sha: &str) -> anyhow::Result<()> {
        let (shas, ready, desired) = self.running(app, env).await?;
        if shas != [sha] || ready < desired || desired == 0 {
            bail!(
                "{app} in {env} should run {sha} on {desired} replica(s); it runs {shas:?} with {ready} ready"
            );
        }
        eprintln!("e2e: ok: {app} in {env} runs {sha} on {ready} replica(s)");
        Ok(())
    }

    /// In `env`, every app runs the build `builds` names for it, and every app that calls
    /// another answers through its Service with that app's build ([`Self::check_calls`]).
    pub(super) async fn check_release(
        &self,
        env: &str,
        builds: &[(&str, &str)],
    ) -> anyhow::Result<()> {
        for (app, sha) in builds {
            self.check_runs(app, env, sha).await?;
        }
        for app in &self.config.apps {
            if let [upstream] = app.depends_on.as_slice() {
                let expected = builds
                    .iter()
                    .find(|(name, _)| *name == upstream.as_str())
                    .map(|(_, sha)| *sha)
                    .with_context(|| format!("no build of {upstream} expected in {env}"))?;
                self.check_calls(app, upstream, env, expected).await?;
            }
        }
        Ok(())
    }

    /// `app`'s `GET /`, through its Service by the API server's service proxy, names the build
    /// of `upstream` it reached (paktech-gateway answers with paktech-app's `/info` under
    /// `upstream`): the call crossed the namespace's Services and network policies.
    pub(super) async fn check_calls(
        &self,
        app: &AppConfig,
        upstream: &AppName,
        env: &str,
        expected: &str,
    ) -> anyhow::Result<()> {
        let namespace = &self.config.environment(env)?.namespace;
        let path = service_proxy_path(namespace.as_str(), app.name.as_str());
        let mut args = Vec::new();
        if self.target == "kind" {
            args.extend(["--context", context::KIND_CONTEXT]);
        }
        args.extend(["get", "--raw", path.as_str()]);
        let body = tools::run("kubectl", &args, b"")
            .await
            .with_context(|| format!("{} in {env}: GET / through its Service", app.name))?;
        let reached = upstream_build(&body)
            .with_context(|| format!("{} in {env} answered GET / with {body}", app.name))?;
        if reached != expected {
            bail!(
                "{} in {env} reached {upstream} running {reached}, expected {expected}",
                app.name
            );
        }
        eprintln!(
            "e2e: ok: {} in {env} reaches {upstream} running {reached}",
            app.name
        );
        Ok(())
    }
}

/// Whether prod's deny window (gitops/bootstrap/prod/appproject.yaml) is closed now for any
/// app's Application there (a release's stage is gated once, closed when any app's is).
pub(super) fn prod_frozen() -> anyhow::Result<bool> {
    use policy::window::{self, SyncPurpose, WindowDecision};
    let path = workspace::root()
        .join("gitops")
        .join(config::bootstrap::appproject_path("prod"));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let doc = model::values::Document::parse(path.display().to_string(), text)?;
    let config = context::load_config()?;
    let prod = config.environment("prod")?;
    let windows = window::windows_from_appproject(&doc)?;
    let now = chrono::Utc::now();
    Ok(config.apps.iter().any(|app| {
        let decision = window::decide(
            &windows,
            &adapters::target::kube::argo::application_name(app.name.as_str(), "prod"),
            &prod.namespace,
            now,
            SyncPurpose::Promotion,
        );
        matches!(decision, WindowDecision::Closed { .. })
    }))
}

/// What prod's approval names when every app moves to `head`: the release
/// (`policy::plan::release_id` of every app at `head`; for one app, `head` itself).
pub(super) fn release_of(config: &PipelineConfig, head: &str) -> anyhow::Result<String> {
    let head: GitSha = head.parse()?;
    Ok(match config.apps.as_slice() {
        [_] => head.to_string(),
        apps => {
            let moves: Vec<(AppName, GitSha)> = apps
                .iter()
                .map(|a| (a.name.clone(), head.clone()))
                .collect();
            policy::plan::release_id(&moves).to_string()
        }
    })
}

/// `app`'s entry for `env` in `status --json` (a one-app configuration's entries carry no
/// `app`).
pub(super) fn status_entry<'a>(status: &'a Value, app: &str, env: &str) -> Option<&'a Value> {
    status["environments"]
        .as_array()?
        .iter()
        .find(|e| e["env"] == env && (e["app"] == app || e.get("app").is_none_or(Value::is_null)))
}

/// The API server's service proxy path of `GET /` on `app`'s Service in `namespace`, by the
/// port name the charts give it (`http`): Kubernetes API "Proxy" on Services,
/// `/api/v1/namespaces/{namespace}/services/{name}:{port}/proxy/{path}`.
pub(super) fn service_proxy_path(namespace: &str, app: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/services/{app}:http/proxy/")
}

/// The build of the upstream a gateway's `GET /` reached: its `upstream.build_sha`.
pub(super) fn upstream_build(body: &str) -> Option<String> {
    let answer: Value = serde_json::from_str(body).ok()?;
    answer["upstream"]["build_sha"].as_str().map(str::to_owned)
}

/// This checkout's commit.
pub(super) fn head() -> anyhow::Result<String> {
    let repo = git2::Repository::discover(workspace::root()).context("open this repository")?;
    let head = repo.head()?.peel_to_commit()?.id().to_string();
    Ok(head)
}

/// How long e2e watches prod: 30s, or the shortest window in which its analysis reaches the
/// minimum on a cluster (`policy::plan::shortest_window`).
pub(super) fn prod_window(config: &PipelineConfig) -> anyhow::Result<String> {
    let prod = config.environment("prod")?;
    let shortest = prod
        .analysis
        .as_ref()
        .and_then(|a| policy::plan::shortest_window(a, model::TargetKind::Kube, 1));
    let window = shortest
        .unwrap_or_default()
        .max(std::time::Duration::from_secs(30));
    Ok(humantime::format_duration(window).to_string())
}
