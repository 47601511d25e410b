//! The registry adapter against a real OCI distribution registry (Debian's `docker-registry`)
//! on 127.0.0.1, with an image pushed to it by the Docker engine; and against registries
//! that are down or failing.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bollard::query_parameters::PushImageOptionsBuilder;
use futures_util::StreamExt;
use pipeline::adapters::image::{ContextFile, ImageBuilder, context_tar};
use pipeline::adapters::registry::{Credentials, Error, Registry};
use pipeline::model::Repository;
use pipeline::model::Secret;

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

/// A registry process on a free loopback port, stopped on drop.
struct LocalRegistry {
    child: Child,
    port: u16,
}

impl LocalRegistry {
    fn start(dir: &Path, htpasswd: Option<&Path>) -> Self {
        let port = free_port();
        let auth = htpasswd.map_or(String::new(), |path| {
            format!(
                "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                path.display()
            )
        });
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n{auth}",
                dir.join("data").display()
            ),
        )
        .expect("config");
        let child = Command::new(REGISTRY_BIN)
            .args(["serve", config.to_str().expect("utf-8")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port }
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn registry_or_skip() -> bool {
    if Path::new(REGISTRY_BIN).exists() {
        return true;
    }
    assert!(
        !tests::required("PAKTECH_REQUIRE_REGISTRY"),
        "PAKTECH_REQUIRE_REGISTRY is set but {REGISTRY_BIN} is missing (apt-get install docker-registry)"
    );
    eprintln!("SKIPPED: {REGISTRY_BIN} is missing; set PAKTECH_REQUIRE_REGISTRY=1 to fail instead");
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn digest_of_a_pushed_image_matches_what_docker_pushed() {
    if !registry_or_skip() {
        return;
    }
    let Some(docker) = tests::docker_or_skip("registry").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = LocalRegistry::start(dir.path(), None);
    let repository: Repository = format!("127.0.0.1:{}/paktech-app", registry.port)
        .parse()
        .expect("repository");
    let tag = format!("{:040x}", rand::random::<u128>());

    // A small image of its own, pushed by the engine.
    let context = context_tar(
        vec![
            ContextFile {
                path: "Dockerfile".into(),
                mode: 0o644,
                contents: b"FROM scratch\nCOPY hello /hello\n".to_vec(),
            },
            ContextFile {
                path: "hello".into(),
                mode: 0o644,
                contents: tag.clone().into_bytes(),
            },
        ],
        0,
    )
    .expect("context");
    ImageBuilder::new(docker.clone())
        .build(
            &format!("{repository}:{tag}"),
            context,
            &HashMap::new(),
            |_| {},
        )
        .await
        .expect("build");
    let mut push = docker.push_image(
        repository.as_str(),
        Some(PushImageOptionsBuilder::new().tag(&tag).build()),
        None,
    );
    while let Some(item) = push.next().await {
        let info = item.expect("push");
        assert!(info.error_detail.is_none(), "{info:?}");
    }
    let pushed = docker
        .inspect_image(&format!("{repository}:{tag}"))
        .await
        .expect("inspect")
        .repo_digests
        .unwrap_or_default();

    let adapter = Registry::for_repository(&repository, docker.clone(), None);
    let digest = adapter
        .digest(&repository, &tag)
        .await
        .expect("lookup")
        .expect("found");
    assert!(
        pushed.contains(&format!("{repository}@{digest}")),
        "{digest} not in {pushed:?}"
    );
    assert_eq!(
        adapter
            .digest(&repository, &"0".repeat(40))
            .await
            .expect("lookup"),
        None,
        "absent tag"
    );
}

#[tokio::test]
async fn basic_auth_is_used_and_refusals_are_clear() {
    if !registry_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let htpasswd = dir.path().join("htpasswd");
    let hash = bcrypt::hash("s3cret-pass", 4).expect("bcrypt");
    std::fs::write(&htpasswd, format!("robot:{hash}\n")).expect("htpasswd");
    let registry = LocalRegistry::start(dir.path(), Some(&htpasswd));
    let repository: Repository = format!("127.0.0.1:{}/paktech-app", registry.port)
        .parse()
        .expect("repository");
    let docker =
        bollard::Docker::connect_with_http("http://127.0.0.1:9", 1, bollard::API_DEFAULT_VERSION)
            .expect("unused");

    let anonymous = Registry::for_repository(&repository, docker.clone(), None);
    let err = anonymous
        .digest(&repository, "latest")
        .await
        .expect_err("needs credentials");
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
    assert!(err.to_string().contains("REGISTRY_USERNAME"), "{err}");

    let wrong = Registry::for_repository(
        &repository,
        docker.clone(),
        Some(Credentials::Basic {
            username: "robot".into(),
            password: Secret::new("nope"),
        }),
    );
    let err = wrong
        .digest(&repository, "latest")
        .await
        .expect_err("wrong password");
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
    assert!(!format!("{err} {err:?}").contains("nope"));

    let right = Registry::for_repository(
        &repository,
        docker,
        Some(Credentials::Basic {
            username: "robot".into(),
            password: Secret::new("s3cret-pass"),
        }),
    );
    assert_eq!(
        right
            .digest(&repository, "latest")
            .await
            .expect("authenticated"),
        None
    );
}

#[tokio::test]
async fn a_registry_that_is_down_or_failing_is_a_clear_error() {
    let docker =
        bollard::Docker::connect_with_http("http://127.0.0.1:9", 1, bollard::API_DEFAULT_VERSION)
            .expect("unused");
    let down: Repository = format!("127.0.0.1:{}/paktech-app", free_port())
        .parse()
        .expect("repository");
    let err = Registry::for_repository(&down, docker.clone(), None)
        .digest(&down, "latest")
        .await
        .expect_err("down");
    assert!(matches!(err, Error::Unreachable { .. }), "{err}");

    // A registry answering 500 to everything.
    let port = tests::failing_http_server().await;
    let failing: Repository = format!("127.0.0.1:{port}/paktech-app")
        .parse()
        .expect("repository");
    let err = Registry::for_repository(&failing, docker, None)
        .digest(&failing, "latest")
        .await
        .expect_err("500");
    assert!(matches!(err, Error::Status { status: 500, .. }), "{err}");
}
