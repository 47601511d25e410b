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
        stale_applicationsets("applicationset.argoproj.io/paktech-dev\n", "paktech-dev").is_empty()
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
