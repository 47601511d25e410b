//! The attachment store (an image's SBOM and cosign signatures): on the local default in the
//! state folder, in Debian's `docker-registry` (distribution 2.8, no referrers API, so the
//! referrers tag schema), against a stand-in registry that has the referrers API, and against
//! registries that fail (an error, never "nothing attached").

use adapters::attachments::{Attachments, Error, LocalAttachments};
use adapters::registry::Distribution;
use model::{Digest, FoundSignature, Repository, SignatureLayer};
use sha2::Digest as _;
use tests::registry::{LocalRegistry, free_port, push_small_image};
use tests::{Answer, http_stand_in};

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", sha2::Sha256::digest(bytes))
}

fn signature(n: u8) -> SignatureLayer {
    SignatureLayer {
        payload: format!(r#"{{"critical":{{"n":{n}}},"optional":null}}"#).into_bytes(),
        signature_b64: format!("c2lnbmF0dXJl{n}A=="),
    }
}

const SBOM: &[u8] = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1}"#;

/// Every operation of the store, the same whichever kind: an SBOM stored and read back with
/// its digest, two signatures appended in order, the same one again changing nothing.
async fn round_trip(store: &Attachments, repository: &Repository, subject: &Digest) {
    assert_eq!(store.sbom(repository, subject).await.expect("sbom"), None);
    assert!(
        store
            .signatures(repository, subject)
            .await
            .expect("signatures")
            .is_empty()
    );

    let digest = store
        .put_sbom(repository, subject, SBOM)
        .await
        .expect("put sbom");
    assert_eq!(digest.as_str(), sha256(SBOM), "the SBOM's own digest");
    let (read_digest, bytes) = store
        .sbom(repository, subject)
        .await
        .expect("sbom")
        .expect("stored");
    assert_eq!((read_digest, bytes.as_slice()), (digest, SBOM));

    for n in [1, 2, 1, 2] {
        store
            .put_signature(repository, subject, &signature(n))
            .await
            .expect("put signature");
    }
    assert_eq!(
        store
            .signatures(repository, subject)
            .await
            .expect("signatures"),
        vec![
            FoundSignature::Simple(signature(1)),
            FoundSignature::Simple(signature(2))
        ],
        "appended in order, each once"
    );

    let other: Digest = sha256(b"another image").parse().expect("digest");
    assert!(
        store
            .signatures(repository, &other)
            .await
            .expect("signatures")
            .is_empty()
    );
}

#[tokio::test]
async fn the_local_store_round_trips_in_the_state_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Attachments::Local(LocalAttachments::new(dir.path().join("attachments")));
    let repository: Repository = "paktech-app".parse().expect("repository");
    let subject: Digest = sha256(b"image").parse().expect("digest");
    round_trip(&store, &repository, &subject).await;

    let folder = dir
        .path()
        .join("attachments")
        .join(subject.as_str().replace(':', "-"));
    assert_eq!(
        std::fs::read(folder.join("sbom.json")).expect("sbom.json"),
        SBOM
    );
    let mut names: Vec<_> = std::fs::read_dir(&folder)
        .expect("folder")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["sbom.json", "signatures.json"],
        "no temporary files left"
    );

    // A damaged file is an error naming it, not an empty list.
    std::fs::write(folder.join("signatures.json"), "[{").expect("damage");
    let err = store
        .signatures(&repository, &subject)
        .await
        .expect_err("damaged");
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("signatures.json"), "{err}");
}

#[tokio::test]
async fn a_registry_without_the_referrers_api_gets_the_tag_schema() {
    if !tests::require(tests::Service::Registry, "attachments") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = LocalRegistry::start(dir.path(), "");
    let repository = registry.repository("paktech-app");
    let subject = push_small_image(registry.port, "paktech-app", &"a".repeat(40), None).await;
    let store = Attachments::for_repository(&repository, dir.path(), None);
    assert!(matches!(store, Attachments::Registry(_)));
    round_trip(&store, &repository, &subject).await;

    // Where cosign and the OCI tag schema look: read with plain HTTP.
    let base = format!("http://127.0.0.1:{}/v2/paktech-app", registry.port);
    let hex = subject.as_str().trim_start_matches("sha256:");
    let get = |url: String| async move {
        let response = reqwest::Client::new()
            .get(url)
            .header(
                "accept",
                "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json",
            )
            .send()
            .await
            .expect("get");
        assert_eq!(response.status().as_u16(), 200);
        response.json::<serde_json::Value>().await.expect("json")
    };
    let signatures = get(format!("{base}/manifests/sha256-{hex}.sig")).await;
    let layers = signatures["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 2, "{signatures}");
    for (layer, n) in layers.iter().zip([1, 2]) {
        assert_eq!(
            layer["mediaType"],
            "application/vnd.dev.cosign.simplesigning.v1+json"
        );
        assert_eq!(layer["digest"], sha256(&signature(n).payload));
        assert_eq!(
            layer["annotations"]["dev.cosignproject.cosign/signature"],
            signature(n).signature_b64
        );
    }
    let index = get(format!("{base}/manifests/sha256-{hex}")).await;
    let referrers = index["manifests"].as_array().expect("manifests");
    assert_eq!(referrers.len(), 1, "{index}");
    assert_eq!(
        referrers[0]["artifactType"],
        "application/vnd.cyclonedx+json"
    );
    let artifact = get(format!(
        "{base}/manifests/{}",
        referrers[0]["digest"].as_str().expect("digest")
    ))
    .await;
    assert_eq!(artifact["artifactType"], "application/vnd.cyclonedx+json");
    assert_eq!(artifact["subject"]["digest"], subject.as_str());
    assert_eq!(artifact["layers"][0]["digest"], sha256(SBOM));

    // Attaching to an image the registry does not have is refused.
    let absent: Digest = sha256(b"absent").parse().expect("digest");
    let err = store
        .put_sbom(&repository, &absent, SBOM)
        .await
        .expect_err("no image");
    assert!(matches!(err, Error::NoSubject { .. }), "{err}");
}

#[tokio::test]
async fn a_registry_that_fails_or_is_down_is_an_error_not_an_empty_answer() {
    let subject: Digest = sha256(b"image").parse().expect("digest");
    let failing = tests::failing_http_server().await;
    for port in [failing, free_port()] {
        let repository: Repository = format!("127.0.0.1:{port}/paktech-app")
            .parse()
            .expect("repository");
        let store = Attachments::Registry(Distribution::new(None));
        let err = store
            .signatures(&repository, &subject)
            .await
            .expect_err("signatures");
        assert!(
            err.to_string().contains(&format!("127.0.0.1:{port}")),
            "{err}"
        );
        store.sbom(&repository, &subject).await.expect_err("sbom");
        store
            .put_signature(&repository, &subject, &signature(1))
            .await
            .expect_err("put");
    }
}

#[tokio::test]
async fn the_referrers_api_is_used_where_the_registry_has_one() {
    let image = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#;
    let subject: Digest = sha256(image.as_bytes()).parse().expect("digest");
    let layer = sha256(SBOM);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.cyclonedx+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256(b"{}"), "size": 2},
        "layers": [{"mediaType": "application/vnd.cyclonedx+json", "digest": layer, "size": SBOM.len()}],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject.as_str(), "size": 5},
    })
    .to_string();
    let manifest_digest = sha256(manifest.as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha256(b"x"), "size": 1, "artifactType": "application/vnd.example.other"},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest.len(), "artifactType": "application/vnd.cyclonedx+json"},
        ],
    })
    .to_string();
    let sbom = String::from_utf8(SBOM.to_vec()).expect("utf-8");
    let subject_header = subject.to_string();
    let (referrers_path, manifest_path, blob_path) = (
        format!("GET /v2/app/referrers/{subject}"),
        format!("GET /v2/app/manifests/{manifest_digest}"),
        format!("GET /v2/app/blobs/{layer}"),
    );
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = std::sync::Arc::clone(&seen);
    let image_path = format!("GET /v2/app/manifests/{subject}");
    let port = http_stand_in(move |request| {
        log.lock().expect("log").push(request.to_owned());
        let ok = |content_type: &str, body: &str| Answer {
            status: "200 OK",
            headers: vec![("content-type", content_type.to_owned())],
            body: body.to_owned(),
        };
        let bodiless = |status, headers| Answer {
            status,
            headers,
            body: String::new(),
        };
        if request.starts_with(&referrers_path) {
            ok("application/vnd.oci.image.index.v1+json", &index)
        } else if request.starts_with(&manifest_path) {
            ok("application/vnd.oci.image.manifest.v1+json", &manifest)
        } else if request.starts_with(&blob_path) {
            ok("application/octet-stream", &sbom)
        } else if request.starts_with(&image_path) {
            ok("application/vnd.oci.image.manifest.v1+json", image)
        } else if request.starts_with("HEAD /v2/app/blobs/") {
            bodiless("200 OK", Vec::new())
        } else if request.starts_with("PUT /v2/app/manifests/sha256:") {
            // A registry with the referrers API says so with OCI-Subject (spec.md).
            bodiless("201 Created", vec![("oci-subject", subject_header.clone())])
        } else {
            // No tag schema here: a client that fell back would find nothing.
            bodiless("404 Not Found", Vec::new())
        }
    })
    .await;
    let repository: Repository = format!("127.0.0.1:{port}/app").parse().expect("repository");
    let store = Attachments::for_repository(&repository, std::path::Path::new("/unused"), None);
    let (digest, bytes) = store
        .sbom(&repository, &subject)
        .await
        .expect("sbom")
        .expect("found through the referrers API");
    assert_eq!((digest.as_str(), bytes.as_slice()), (layer.as_str(), SBOM));

    // Pushing where the registry indexes referrers itself writes no referrers tag.
    let pushed = store
        .put_sbom(&repository, &subject, SBOM)
        .await
        .expect("put sbom");
    assert_eq!(pushed.as_str(), layer);
    let requests = seen.lock().expect("log").clone();
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("PUT /v2/app/manifests/sha256:")),
        "{requests:#?}"
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.contains(&format!("manifests/{}", subject.as_str().replace(':', "-")))),
        "no tag schema: {requests:#?}"
    );
}
