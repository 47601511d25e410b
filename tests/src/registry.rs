//! A real OCI distribution registry for tests: Debian's `docker-registry` on a free loopback
//! port with its storage in a temporary folder, and a small image pushed to it through the
//! registry API (no Docker engine needed).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use model::{Digest, Repository};

use crate::require::REGISTRY_BIN;

/// A port nobody listens on at the moment.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

/// A registry process on a free loopback port, stopped on drop.
#[derive(Debug)]
pub struct LocalRegistry {
    child: Child,
    pub port: u16,
}

impl LocalRegistry {
    /// `auth` is the configuration's `auth:` section (YAML), or empty.
    pub fn start(dir: &Path, auth: &str) -> Self {
        let port = free_port();
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

    /// `name` in this registry.
    pub fn repository(&self, name: &str) -> Repository {
        format!("127.0.0.1:{}/{name}", self.port)
            .parse()
            .expect("repository")
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client")
}

fn authorized(request: reqwest::RequestBuilder, bearer: Option<&str>) -> reqwest::RequestBuilder {
    match bearer {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{:x}", sha2::Sha256::digest(bytes))
}

/// Uploads `blob` to repository `name` of the registry on `port` (POST then PUT, the
/// monolithic upload); returns its digest.
pub async fn upload_blob(port: u16, name: &str, blob: &[u8], bearer: Option<&str>) -> String {
    let client = client();
    let base = format!("http://127.0.0.1:{port}");
    let started = authorized(
        client.post(format!("{base}/v2/{name}/blobs/uploads/")),
        bearer,
    )
    .send()
    .await
    .expect("start upload");
    assert_eq!(started.status().as_u16(), 202, "start upload");
    let location = started
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("location")
        .to_owned();
    let location = if location.starts_with('/') {
        format!("{base}{location}")
    } else {
        location
    };
    let separator = if location.contains('?') { '&' } else { '?' };
    let digest = sha256(blob);
    let put = authorized(
        client.put(format!("{location}{separator}digest={digest}")),
        bearer,
    )
    .header("content-type", "application/octet-stream")
    .body(blob.to_vec())
    .send()
    .await
    .expect("upload");
    assert_eq!(put.status().as_u16(), 201, "upload");
    digest
}

/// Puts `manifest` of `media_type` under `reference` (a tag or its digest) in repository
/// `name` of the registry on `port`; returns its digest.
pub async fn put_manifest(
    port: u16,
    name: &str,
    reference: &str,
    media_type: &str,
    manifest: &[u8],
    bearer: Option<&str>,
) -> String {
    let url = format!("http://127.0.0.1:{port}/v2/{name}/manifests/{reference}");
    let put = authorized(client().put(url), bearer)
        .header("content-type", media_type)
        .body(manifest.to_vec())
        .send()
        .await
        .expect("manifest");
    assert_eq!(put.status().as_u16(), 201, "manifest");
    sha256(manifest)
}

/// Pushes a small OCI image (a config and one layer holding `tag`) under `tag` to the
/// registry on `port`, with `bearer` as the token when given, else anonymously; returns its
/// manifest's digest.
pub async fn push_small_image(port: u16, name: &str, tag: &str, bearer: Option<&str>) -> Digest {
    let config = br#"{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#;
    let layer = tag.as_bytes();
    for blob in [&config[..], layer] {
        upload_blob(port, name, blob, bearer).await;
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": sha256(config),
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": sha256(layer),
            "size": layer.len(),
        }],
    })
    .to_string();
    let media_type = "application/vnd.oci.image.manifest.v1+json";
    put_manifest(port, name, tag, media_type, manifest.as_bytes(), bearer)
        .await
        .parse()
        .expect("digest")
}
