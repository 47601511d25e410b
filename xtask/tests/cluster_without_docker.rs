//! Commands for a cluster target run on a machine without a Docker engine: the real binary,
//! `--target aks`, `DOCKER_HOST` pointing nowhere, and a kubeconfig whose API server is a
//! stand-in on 127.0.0.1 that answers as Kubernetes does (the Argo CD Application from the
//! kube target's fixture; no Deployment yet, a `Status` 404). Only `ci`, which builds images,
//! asks for the engine, and says so.

use std::path::Path;
use std::process::{Command, Output};

use tests::Answer;

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

/// A Kubernetes API server stand-in: every Application GET gets the fixture (named as asked),
/// everything else a `Status` 404, as the API server writes one.
async fn api_server() -> u16 {
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../crates/adapters/tests/fixtures/kube/application.json"),
        )
        .expect("fixture"),
    )
    .expect("json");
    tests::http_stand_in(move |request| {
        let path = request.split(' ').nth(1).unwrap_or_default();
        let path = path.split('?').next().unwrap_or_default();
        // Each environment's Application, in the environment's namespace.
        let application = path
            .strip_prefix("/apis/argoproj.io/v1alpha1/namespaces/")
            .and_then(|rest| rest.split_once("/applications/"));
        let json = vec![("content-type", "application/json".to_owned())];
        match application {
            Some((namespace, name)) => {
                let mut app = fixture.clone();
                app["metadata"]["name"] = name.into();
                app["metadata"]["namespace"] = namespace.into();
                Answer {
                    status: "200 OK",
                    headers: json,
                    body: app.to_string(),
                }
            }
            None => Answer {
                status: "404 Not Found",
                headers: json,
                body: serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "reason": "NotFound", "code": 404, "message": "not found"})
                .to_string(),
            },
        }
    })
    .await
}

struct Setup {
    _dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = api_server().await;
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: aks\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: aks\n  context:\n    cluster: aks\n    user: ci\ncurrent-context: aks\nusers:\n- name: ci\n  user:\n    token: not-a-real-token\n"
        ),
    )
    .expect("kubeconfig");
    let workspace = tests::workspace();
    let config = dir.path().join("pipeline.toml");
    std::fs::write(
        &config,
        std::fs::read_to_string(workspace.join("pipeline.toml"))
            .expect("pipeline.toml")
            // Every app's repository, in one registry.
            .replace(
                "repository = \"paktech-",
                "repository = \"registry.example.invalid/paktech-",
            ),
    )
    .expect("config");
    let remote = tests::seeded_remote(dir.path());
    let env = [
        ("DOCKER_HOST", "unix:///nonexistent/docker.sock".to_owned()),
        ("KUBECONFIG", kubeconfig.display().to_string()),
        ("PAKTECH_CONFIG", config.display().to_string()),
        ("PAKTECH_GITOPS_URL", remote.display().to_string()),
        (
            "PAKTECH_STATE_DIR",
            dir.path().join("state").display().to_string(),
        ),
        ("PAKTECH_NOW", tests::DAYTIME.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    Setup { _dir: dir, env }
}

fn xtask(setup: &Setup, args: &[&str]) -> Output {
    Command::new(XTASK)
        .args(["--target", "aks"])
        .args(args)
        .envs(setup.env.iter().map(|(k, v)| (k, v)))
        .env_remove("PAKTECH_TARGET")
        .env_remove("REGISTRY_TOKEN")
        .output()
        .expect("run xtask")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn status_and_history_need_no_docker_engine_on_a_cluster_target() {
    let setup = setup().await;
    let out = xtask(&setup, &["status", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    // Each app in each environment.
    let envs = json["environments"].as_array().expect("environments");
    assert_eq!(envs.len(), 2 * 3, "{json}");
    for app in ["paktech-app", "paktech-gateway"] {
        assert_eq!(envs.iter().filter(|e| e["app"] == app).count(), 3, "{json}");
    }
    assert!(!stderr(&out).contains("Docker"), "{}", stderr(&out));

    let out = xtask(&setup, &["history", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn promote_and_rollback_reach_their_own_checks_not_the_engine() {
    let setup = setup().await;
    // The registry does not exist: the promotion is refused by its own check, not by a
    // missing engine.
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let out = xtask(
        &setup,
        &[
            "promote",
            "--env",
            "staging",
            "--sha",
            sha,
            "--no-wait",
            "--dry-run",
        ],
    );
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(!err.contains("Docker engine"), "{err}");
    assert!(err.contains("registry.example.invalid"), "{err}");

    let out = xtask(
        &setup,
        &[
            "rollback",
            "--env",
            "prod",
            "--app",
            "paktech-app",
            "--reason",
            "test",
            "--dry-run",
        ],
    );
    let err = stderr(&out);
    assert!(!err.contains("Docker engine"), "{err}");
    assert!(err.contains("prod has nothing to roll back"), "{err}");

    // ci builds images: it names the engine it needs.
    let out = xtask(&setup, &["ci", "--skip-tests", "--allow-dirty"]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("ci builds images and needs a Docker engine"),
        "{err}"
    );
}

/// A registry that has no image at all: every manifest request is a 404, as distribution
/// answers for an unknown tag.
async fn empty_registry() -> u16 {
    tests::http_stand_in(|_| Answer {
        status: "404 Not Found",
        headers: vec![("content-type", "application/json".to_owned())],
        body: r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#.to_owned(),
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sha_that_names_no_build_is_bad_input() {
    let mut setup = setup().await;
    let port = empty_registry().await;
    let config = setup
        .env
        .iter()
        .find(|(k, _)| k == "PAKTECH_CONFIG")
        .map(|(_, v)| v.clone())
        .expect("config");
    let text = std::fs::read_to_string(&config)
        .expect("config")
        .replace("registry.example.invalid", &format!("127.0.0.1:{port}"));
    std::fs::write(&config, text).expect("write");
    let out = xtask(
        &setup,
        &[
            "promote",
            "--env",
            "staging",
            "--sha",
            "0123456789abcdef0123456789abcdef01234567",
            "--no-wait",
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is not in the registry"), "{err}");
    setup.env.clear();
}
