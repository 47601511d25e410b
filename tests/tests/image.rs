//! The app image on the real Docker engine: reproducible, static, non-root, read-only,
//! healthy, reporting its own commit, and stopping cleanly.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use adapters::image::ImageBuilder;
use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use flow::image::{self, BuiltImage, ImageRequest};
use model::report::Silent;

fn request() -> ImageRequest {
    ImageRequest {
        package: "paktech-app".to_owned(),
        dockerfile: "app/Dockerfile".into(),
        workspace: tests::workspace(),
        repository: "paktech-app-test".parse().expect("repository"),
        version: "0.1.0".to_owned(),
        source_url: "https://example.invalid/paktech".to_owned(),
        // A developer's tree may be dirty; CI's clean checkout builds the commit's tag.
        allow_dirty: true,
    }
}

fn git_head() -> String {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(tests::workspace())
        .output()
        .expect("git rev-parse");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

async fn build(docker: &Docker) -> BuiltImage {
    image::build(&request(), &ImageBuilder::new(docker.clone()), &Silent)
        .await
        .expect("image builds")
}

/// Removes the named container when dropped, even when an assertion failed.
struct Container {
    docker: Docker,
    name: String,
}

impl Drop for Container {
    fn drop(&mut self) {
        let docker = self.docker.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("runtime");
            runtime.block_on(async {
                let options = RemoveContainerOptionsBuilder::new().force(true).build();
                let _ = docker.remove_container(&name, Some(options)).await;
            });
        })
        .join();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn image_is_reproducible_minimal_and_runs_read_only_as_non_root() {
    let Some(docker) = tests::docker_or_skip("image").await else {
        return;
    };
    let first = build(&docker).await;
    let second = build(&docker).await;
    assert_eq!(first.id, second.id, "same commit, same image id");
    if !first.tag.is_dirty() {
        assert_eq!(first.tag.to_string(), git_head());
    }
    assert!(first.size_bytes < 10_000_000, "{} bytes", first.size_bytes);

    let facts = ImageBuilder::new(docker.clone())
        .inspect(&first.name())
        .await
        .expect("inspect");
    assert_eq!(facts.user, "65532:65532");
    assert_eq!(
        facts
            .labels
            .get("org.opencontainers.image.revision")
            .map(String::as_str),
        Some(first.tag.sha().as_str())
    );
    assert_eq!(
        facts.labels.get("org.opencontainers.image.created"),
        Some(&first.created)
    );

    assert_eq!(
        image_files(&docker, &first.id).await,
        vec!["paktech-app".to_owned()]
    );

    let name = format!("paktech-image-test-{}", std::process::id());
    let container = Container {
        docker: docker.clone(),
        name: name.clone(),
    };
    let body = ContainerCreateBody {
        image: Some(first.id.clone()),
        env: Some(vec!["APP_ENV=staging".to_owned()]),
        exposed_ports: Some(vec!["8080/tcp".to_owned()]),
        host_config: Some(HostConfig {
            readonly_rootfs: Some(true),
            port_bindings: Some(HashMap::from([(
                "8080/tcp".to_owned(),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".to_owned()),
                    host_port: Some(String::new()),
                }]),
            )])),
            ..Default::default()
        }),
        ..Default::default()
    };
    docker
        .create_container(
            Some(CreateContainerOptionsBuilder::new().name(&name).build()),
            body,
        )
        .await
        .expect("create");
    docker.start_container(&name, None).await.expect("start");

    let inspect = docker
        .inspect_container(&name, None)
        .await
        .expect("inspect");
    let port: u16 = inspect
        .network_settings
        .and_then(|n| n.ports)
        .and_then(|p| p.get("8080/tcp").cloned().flatten())
        .and_then(|b| b.first().and_then(|b| b.host_port.clone()))
        .and_then(|p| p.parse().ok())
        .expect("published port");

    // Docker itself, through the image's HEALTHCHECK, must call the container healthy.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = docker
            .inspect_container(&name, None)
            .await
            .expect("inspect")
            .state;
        let health = state
            .and_then(|s| s.health)
            .and_then(|h| h.status)
            .map(|s| s.to_string())
            .unwrap_or_default();
        if health == "healthy" {
            break;
        }
        assert!(Instant::now() < deadline, "never healthy (last: {health})");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let info = http_get_json(port, "/info").await;
    assert_eq!(info["build_sha"], first.tag.to_string());
    assert_eq!(info["environment"], "staging");

    docker
        .stop_container(
            &name,
            Some(StopContainerOptionsBuilder::new().t(10).build()),
        )
        .await
        .expect("stop");
    let state = docker
        .inspect_container(&name, None)
        .await
        .expect("inspect")
        .state
        .expect("state");
    assert_eq!(state.exit_code, Some(0), "docker stop ends it cleanly");
    drop(container);
}

/// Every file in every layer of the image.
async fn image_files(docker: &Docker, id: &str) -> Vec<String> {
    tests::image::files(docker, id)
        .await
        .into_iter()
        .map(|(path, _)| path)
        .collect()
}

async fn http_get_json(port: u16, path: &str) -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let (_, body) = response.split_once("\r\n\r\n").expect("a body");
    serde_json::from_str(body).expect("JSON")
}

#[tokio::test]
async fn dirty_tree_is_refused_before_anything_is_built() {
    let dir = tempfile::tempdir().expect("tempdir");
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .status()
            .expect("git");
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    std::fs::write(dir.path().join("a.txt"), "one").expect("write");
    git(&["add", "a.txt"]);
    git(&["commit", "-qm", "one"]);
    std::fs::write(dir.path().join("a.txt"), "two").expect("write");

    let mut request = request();
    request.workspace = dir.path().to_owned();
    request.allow_dirty = false;
    // The engine is never contacted: the refusal comes first.
    let docker = Docker::connect_with_http("http://127.0.0.1:9", 1, bollard::API_DEFAULT_VERSION)
        .expect("client");
    let err = image::build(&request, &ImageBuilder::new(docker), &Silent)
        .await
        .expect_err("refused");
    let message = err.to_string();
    assert!(message.contains("uncommitted changes (a.txt)"), "{message}");
    assert!(message.contains("--allow-dirty"), "{message}");
}
