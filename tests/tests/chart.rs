//! Each app's Helm chart (helm/paktech-app, helm/paktech-gateway) with each environment's
//! values: `helm lint` is clean, `helm template` renders what each environment asks for,
//! Checkov's Kubernetes checks pass on prod, and the gateway reaches paktech-app through its
//! Service and network policies while an outage of paktech-app never restarts the gateway.
//!
//! Longer than 400 lines: every chart check shares the rendering helpers (helm template per app
//! and environment) here.

use std::process::Command;

use serde_json::Value;
use tests::Service;

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const DIGEST: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn helm(args: &[&str]) -> String {
    let out = Command::new("helm")
        .args(args)
        .current_dir(tests::workspace())
        .output()
        .expect("helm");
    assert!(
        out.status.success(),
        "helm {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The apps and their charts (`helm/<app>`, released as `<app>`).
const APPS: [&str; 2] = ["paktech-app", "paktech-gateway"];

fn app_values(app: &str, env: &str) -> String {
    format!("gitops/apps/{app}/{env}/values.yaml")
}

fn render(env: &str, digest: &str) -> Vec<Value> {
    render_app("paktech-app", env, digest, &[])
}

/// `helm template` of `app`'s chart as Argo CD renders it in `env` (release `app` in the
/// environment's namespace), with `sets` on top.
fn render_app(app: &str, env: &str, digest: &str, sets: &[&str]) -> Vec<Value> {
    let chart = format!("helm/{app}");
    let namespace = format!("paktech-{env}");
    let values = app_values(app, env);
    let tag = format!("image.tag={SHA}");
    let digest = format!("image.digest={digest}");
    let mut args = vec![
        "template",
        app,
        &chart,
        "--namespace",
        &namespace,
        "-f",
        &values,
        "--set",
        &tag,
        "--set",
        &digest,
    ];
    for set in sets {
        args.extend(["--set", set]);
    }
    tests::yaml_documents(&helm(&args))
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> Option<&'a Value> {
    docs.iter().find(|d| d["kind"] == kind)
}

#[test]
fn lint_is_clean_for_every_environment() {
    if !tests::require(Service::Tool("helm"), "chart lint") {
        return;
    }
    for app in APPS {
        for env in ["dev", "staging", "prod"] {
            let out = helm(&[
                "lint",
                "--strict",
                &format!("helm/{app}"),
                "-f",
                &app_values(app, env),
                "--set",
                &format!("image.tag={SHA}"),
            ]);
            assert!(out.contains("0 chart(s) failed"), "{app} {env}: {out}");
        }
    }
}

#[test]
fn each_environment_renders_what_its_values_ask_for() {
    if !tests::require(Service::Tool("helm"), "chart template") {
        return;
    }
    for (env, replicas, pdb, hpa_max, spread) in [
        ("dev", 1, None, None, None),
        ("staging", 2, Some(1), Some(4), Some("ScheduleAnyway")),
        ("prod", 3, Some(2), Some(10), Some("DoNotSchedule")),
    ] {
        let docs = render(env, DIGEST);
        let deployment = kind(&docs, "Deployment").expect("a Deployment");
        let pod = &deployment["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        assert_eq!(
            container["image"],
            format!("paktech-app@{DIGEST}"),
            "{env}: pinned by digest"
        );
        let ctx = &container["securityContext"];
        assert_eq!(ctx["readOnlyRootFilesystem"], true);
        assert_eq!(ctx["allowPrivilegeEscalation"], false);
        assert_eq!(ctx["runAsNonRoot"], true);
        assert_eq!(ctx["runAsUser"], 65532);
        assert_eq!(ctx["capabilities"]["drop"], serde_json::json!(["ALL"]));
        assert_eq!(ctx["seccompProfile"]["type"], "RuntimeDefault");
        assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/health");
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/ready");
        assert_eq!(pod["volumes"][0]["emptyDir"]["medium"], "Memory");
        assert_eq!(container["volumeMounts"][0]["mountPath"], "/tmp");
        assert_eq!(pod["automountServiceAccountToken"], false);
        let env_vars = container["env"].as_array().expect("env");
        let var = |name: &str| {
            env_vars
                .iter()
                .find(|v| v["name"] == name)
                .map(|v| v["value"].clone())
        };
        assert_eq!(var("APP_ENV"), Some(Value::from(env)));
        let grace = pod["terminationGracePeriodSeconds"]
            .as_i64()
            .expect("grace");
        let delay: i64 = var("SHUTDOWN_DELAY_MS")
            .and_then(|v| v.as_str()?.parse().ok())
            .expect("delay");
        let drain: i64 = var("DRAIN_TIMEOUT_SECONDS")
            .and_then(|v| v.as_str()?.parse().ok())
            .expect("drain");
        assert!(
            grace > delay / 1000 + drain,
            "{env}: grace {grace} must outlast the drain"
        );
        assert_eq!(
            kind(&docs, "ServiceAccount").expect("sa")["automountServiceAccountToken"],
            false
        );
        assert_eq!(
            kind(&docs, "Service").expect("service")["spec"]["type"],
            "ClusterIP"
        );

        match hpa_max {
            Some(max) => {
                let hpa = kind(&docs, "HorizontalPodAutoscaler").expect("hpa");
                assert_eq!(hpa["apiVersion"], "autoscaling/v2");
                assert_eq!(hpa["spec"]["maxReplicas"], max, "{env}");
                assert!(
                    deployment["spec"].get("replicas").is_none(),
                    "{env}: the HPA owns replicas"
                );
            }
            None => {
                assert!(kind(&docs, "HorizontalPodAutoscaler").is_none(), "{env}");
                assert_eq!(deployment["spec"]["replicas"], replicas, "{env}");
            }
        }
        match pdb {
            Some(min) => assert_eq!(
                kind(&docs, "PodDisruptionBudget").expect("pdb")["spec"]["minAvailable"],
                min
            ),
            None => assert!(kind(&docs, "PodDisruptionBudget").is_none(), "{env}"),
        }
        match spread {
            Some(when) => assert_eq!(
                pod["topologySpreadConstraints"][0]["whenUnsatisfiable"],
                when
            ),
            None => assert!(pod.get("topologySpreadConstraints").is_none(), "{env}"),
        }
    }
    // Without a digest the image goes by tag.
    let docs = render("dev", "");
    let image = &kind(&docs, "Deployment").expect("deployment")["spec"]["template"]["spec"]["containers"]
        [0]["image"];
    assert_eq!(image, &format!("paktech-app:{SHA}"));
}

#[test]
fn checkov_kubernetes_checks_pass_on_rendered_prod() {
    if !tests::require(Service::Tool("helm"), "chart checkov")
        || !tests::require(Service::Tool("checkov"), "chart checkov")
    {
        return;
    }
    for app in APPS {
        checkov_passes(app);
    }
}

fn checkov_passes(app: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let rendered = dir.path().join("prod.yaml");
    let text = helm(&[
        "template",
        app,
        &format!("helm/{app}"),
        "--namespace",
        "paktech-prod",
        "-f",
        &app_values(app, "prod"),
        "--set",
        &format!("image.tag={SHA}"),
        "--set",
        &format!("image.digest={DIGEST}"),
        "--set",
        "networkPolicy.enabled=true",
    ]);
    std::fs::write(&rendered, text).expect("write");
    let out = Command::new("checkov")
        .args([
            "-f",
            rendered.to_str().expect("utf-8"),
            "--framework",
            "kubernetes",
            "-o",
            "json",
            "--quiet",
            "--compact",
            "--skip-download",
        ])
        .output()
        .expect("checkov");
    let report = model::scan::parse_checkov("checkov output", &out.stdout).expect("checkov JSON");
    let k8s = report.get("kubernetes").expect("kubernetes results");
    assert_eq!(
        k8s.failed,
        0,
        "{app}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(k8s.passed > 20, "{app}: {k8s:?}");
}

fn container(docs: &[Value]) -> &Value {
    &kind(docs, "Deployment").expect("a Deployment")["spec"]["template"]["spec"]["containers"][0]
}

fn env_var(container: &Value, name: &str) -> Option<String> {
    container["env"]
        .as_array()?
        .iter()
        .find(|v| v["name"] == name)
        .and_then(|v| v["value"].as_str().map(str::to_owned))
}

/// The gateway's chart has the app's shape (pinned image, locked-down container, memory /tmp,
/// a grace period that outlasts the drain), renders each environment's replicas, HPA, PDB and
/// spread, and keeps its liveness off its dependency: `/health` (503 while paktech-app does
/// not answer) only takes it out of its Service.
#[test]
fn the_gateway_renders_what_each_environment_asks_for() {
    if !tests::require(Service::Tool("helm"), "gateway chart template") {
        return;
    }
    for (env, replicas, pdb, hpa_max, spread) in [
        ("dev", 1, None, None, None),
        ("staging", 2, Some(1), Some(4), Some("ScheduleAnyway")),
        ("prod", 2, Some(1), Some(6), Some("DoNotSchedule")),
    ] {
        let docs = render_app("paktech-gateway", env, DIGEST, &[]);
        let deployment = kind(&docs, "Deployment").expect("a Deployment");
        assert_eq!(deployment["metadata"]["name"], "paktech-gateway");
        let pod = &deployment["spec"]["template"]["spec"];
        let container = container(&docs);
        assert_eq!(container["image"], format!("paktech-gateway@{DIGEST}"));
        let ctx = &container["securityContext"];
        assert_eq!(ctx["readOnlyRootFilesystem"], true);
        assert_eq!(ctx["allowPrivilegeEscalation"], false);
        assert_eq!(ctx["runAsNonRoot"], true);
        assert_eq!(ctx["runAsUser"], 65532);
        assert_eq!(ctx["capabilities"]["drop"], serde_json::json!(["ALL"]));
        assert_eq!(pod["automountServiceAccountToken"], false);
        assert_eq!(pod["volumes"][0]["emptyDir"]["medium"], "Memory");
        assert_eq!(container["ports"][0]["containerPort"], 8080);
        // Liveness and start-up ask /ready, which the gateway answers by itself.
        assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/ready");
        assert_eq!(container["startupProbe"]["httpGet"]["path"], "/ready");
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/health");
        assert_eq!(env_var(container, "APP_ENV").as_deref(), Some(env));
        assert_eq!(env_var(container, "PORT").as_deref(), Some("8080"));
        let grace = pod["terminationGracePeriodSeconds"]
            .as_i64()
            .expect("grace");
        let delay: i64 = env_var(container, "SHUTDOWN_DELAY_MS")
            .and_then(|v| v.parse().ok())
            .expect("delay");
        let drain: i64 = env_var(container, "DRAIN_TIMEOUT_SECONDS")
            .and_then(|v| v.parse().ok())
            .expect("drain");
        assert!(grace > delay / 1000 + drain, "{env}: grace {grace}");
        let service = kind(&docs, "Service").expect("service");
        assert_eq!(service["metadata"]["name"], "paktech-gateway");
        assert_eq!(service["spec"]["ports"][0]["name"], "http");
        match hpa_max {
            Some(max) => {
                let hpa = kind(&docs, "HorizontalPodAutoscaler").expect("hpa");
                assert_eq!(hpa["spec"]["maxReplicas"], max, "{env}");
                assert!(deployment["spec"].get("replicas").is_none(), "{env}");
            }
            None => {
                assert!(kind(&docs, "HorizontalPodAutoscaler").is_none(), "{env}");
                assert_eq!(deployment["spec"]["replicas"], replicas, "{env}");
            }
        }
        match pdb {
            Some(min) => assert_eq!(
                kind(&docs, "PodDisruptionBudget").expect("pdb")["spec"]["minAvailable"],
                min
            ),
            None => assert!(kind(&docs, "PodDisruptionBudget").is_none(), "{env}"),
        }
        match spread {
            Some(when) => assert_eq!(
                pod["topologySpreadConstraints"][0]["whenUnsatisfiable"],
                when
            ),
            None => assert!(pod.get("topologySpreadConstraints").is_none(), "{env}"),
        }
    }
}

/// In every environment the gateway's UPSTREAM_URL is paktech-app's Service as its chart
/// renders it there (name and port), and with the network policies on, the gateway may call
/// exactly paktech-app's pods on the port they listen on (and DNS), and paktech-app admits
/// the gateway's pods even when it admits only other namespaces.
#[test]
fn the_gateway_reaches_paktech_app_through_its_service_and_policies() {
    if !tests::require(Service::Tool("helm"), "gateway to app") {
        return;
    }
    for env in ["dev", "staging", "prod"] {
        let sets = [
            "networkPolicy.enabled=true",
            "networkPolicy.allowFromNamespaces[0]=ingress",
        ];
        let app = render_app("paktech-app", env, DIGEST, &sets);
        let gateway = render_app("paktech-gateway", env, DIGEST, &sets);
        let service = kind(&app, "Service").expect("paktech-app's Service");
        let port = &service["spec"]["ports"][0]["port"];
        let upstream = env_var(container(&gateway), "UPSTREAM_URL").expect("UPSTREAM_URL");
        assert_eq!(
            upstream,
            format!(
                "http://{}:{port}",
                service["metadata"]["name"].as_str().expect("name")
            ),
            "{env}"
        );
        let app_port = &container(&app)["ports"][0]["containerPort"];

        let policy = kind(&gateway, "NetworkPolicy").expect("the gateway's policy");
        let egress = policy["spec"]["egress"].as_array().expect("egress");
        let app_labels =
            &kind(&app, "Deployment").expect("app")["spec"]["template"]["metadata"]["labels"];
        let to_app = &egress[0];
        for (key, value) in to_app["to"][0]["podSelector"]["matchLabels"]
            .as_object()
            .expect("labels")
        {
            assert_eq!(&app_labels[key], value, "{env}: {key}");
        }
        assert_eq!(&to_app["ports"][0]["port"], app_port, "{env}");
        assert_eq!(to_app["ports"][0]["protocol"], "TCP");
        let dns_ports: Vec<(i64, &str)> = egress[1]["ports"]
            .as_array()
            .expect("dns ports")
            .iter()
            .map(|p| {
                (
                    p["port"].as_i64().expect("port"),
                    p["protocol"].as_str().expect("protocol"),
                )
            })
            .collect();
        assert_eq!(dns_ports, [(53, "UDP"), (53, "TCP")]);
        assert_eq!(egress.len(), 2, "{env}: the gateway calls nothing else");

        let app_policy = kind(&app, "NetworkPolicy").expect("the app's policy");
        let from = app_policy["spec"]["ingress"][0]["from"]
            .as_array()
            .expect("from");
        let gateway_labels = &kind(&gateway, "Deployment").expect("gateway")["spec"]["template"]["metadata"]
            ["labels"];
        let admitted = from.iter().any(|peer| {
            peer.get("namespaceSelector").is_none()
                && peer["podSelector"]["matchLabels"]
                    .as_object()
                    .is_some_and(|labels| {
                        !labels.is_empty() && labels.iter().all(|(k, v)| &gateway_labels[k] == v)
                    })
        });
        assert!(
            admitted,
            "{env}: paktech-app's policy admits the gateway: {from:?}"
        );
    }
}
