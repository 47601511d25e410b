//! The Helm chart with each environment's values: `helm lint` is clean, `helm template`
//! renders what each environment asks for, and Checkov's Kubernetes checks pass on prod.

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

fn values(env: &str) -> String {
    format!("gitops/apps/paktech-app/{env}/values.yaml")
}

fn render(env: &str, digest: &str) -> Vec<Value> {
    let text = helm(&[
        "template",
        "paktech-app",
        "helm/paktech-app",
        "--namespace",
        &format!("paktech-{env}"),
        "-f",
        &values(env),
        "--set",
        &format!("image.tag={SHA}"),
        "--set",
        &format!("image.digest={digest}"),
    ]);
    tests::yaml_documents(&text)
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> Option<&'a Value> {
    docs.iter().find(|d| d["kind"] == kind)
}

#[test]
fn lint_is_clean_for_every_environment() {
    if !tests::require(Service::Tool("helm"), "chart lint") {
        return;
    }
    for env in ["dev", "staging", "prod"] {
        let out = helm(&[
            "lint",
            "--strict",
            "helm/paktech-app",
            "-f",
            &values(env),
            "--set",
            &format!("image.tag={SHA}"),
        ]);
        assert!(out.contains("0 chart(s) failed"), "{env}: {out}");
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
    let dir = tempfile::tempdir().expect("tempdir");
    let rendered = dir.path().join("prod.yaml");
    let text = helm(&[
        "template",
        "paktech-app",
        "helm/paktech-app",
        "--namespace",
        "paktech-prod",
        "-f",
        &values("prod"),
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
    let report =
        pipeline::scan::parse_checkov("checkov output", &out.stdout).expect("checkov JSON");
    let k8s = report.get("kubernetes").expect("kubernetes results");
    assert_eq!(k8s.failed, 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(k8s.passed > 20, "{k8s:?}");
}
