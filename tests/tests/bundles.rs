//! cosign v3 signatures (Sigstore bundles stored as OCI referrers) read from the registry
//! beside cosign's `.sig` layers: in Debian's `docker-registry` (distribution 2.8, no referrers
//! API, so the referrers tag schema cosign's go-containerregistry keeps), through a stand-in
//! registry's referrers API that pages with `Link: rel="next"`, with one bad `.sig` layer
//! reported rather than failing the read, and a foreign manifest at the referrers tag refused.
//!
//! Longer than 400 lines: the bundle builders (DSSE, Sigstore bundle v0.3, referrers) are shared
//! by every case here.

use std::sync::Arc;

use ::supply_chain::cosign::{self, PublicKey, SigningKey};
use adapters::attachments::{Attachments, Error};
use adapters::registry::Distribution;
use flow::supply_chain::{evidence, signed_by};
use model::{Digest, FoundSignature, Repository, SignatureLayer};
use policy::supply_chain;
use sha2::Digest as _;
use tests::registry::{LocalRegistry, push_small_image, put_manifest, upload_blob};
use tests::sigstore::{self, MANIFEST_MEDIA_TYPE};
use tests::{Answer, http_stand_in};

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", sha2::Sha256::digest(bytes))
}

/// Each found signature's verdict in words: `ok` or the rejection.
fn verdicts(
    found: &[FoundSignature],
    key: &SigningKey,
    digest: &Digest,
    repository: &Repository,
) -> Vec<String> {
    found
        .iter()
        .map(
            |f| match cosign::verify_found(f, &[key.public_key()], digest, Some(repository)) {
                Ok(_) => "ok".to_owned(),
                Err(rejection) => rejection.to_string(),
            },
        )
        .collect()
}

/// What `cosign sign --key` (v3) writes for `subject` in the registry on `port`, which has no
/// referrers API: the bundle's referrer manifest and the tag schema's index, as
/// go-containerregistry keeps it (appending). Returns the referrer's digest and the bundle.
async fn sign_as_cosign_v3(port: u16, subject: &Digest, key: &SigningKey) -> (String, Vec<u8>) {
    let hex = subject.as_str().trim_start_matches("sha256:");
    let image = reqwest::get(format!(
        "http://127.0.0.1:{port}/v2/paktech-app/manifests/{subject}"
    ));
    let image_size = image
        .await
        .expect("image")
        .bytes()
        .await
        .expect("bytes")
        .len();
    let bundle = sigstore::bundle(key, subject);
    upload_blob(port, "paktech-app", b"{}", None).await;
    upload_blob(port, "paktech-app", &bundle, None).await;
    let referrer = sigstore::referrer(subject, image_size, &bundle);
    let referrer_digest = sha256(&referrer);
    put_manifest(
        port,
        "paktech-app",
        &referrer_digest,
        MANIFEST_MEDIA_TYPE,
        &referrer,
        None,
    )
    .await;
    // Appended to what the tag lists already, as go-containerregistry does.
    let index_type = "application/vnd.oci.image.index.v1+json";
    let listed = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{port}/v2/paktech-app/manifests/sha256-{hex}"
        ))
        .header("accept", index_type)
        .send()
        .await
        .expect("get");
    let mut manifests = if listed.status().is_success() {
        let index: serde_json::Value = listed.json().await.expect("index");
        index["manifests"].as_array().cloned().unwrap_or_default()
    } else {
        Vec::new()
    };
    manifests.push(sigstore::listed(&referrer));
    let index = sigstore::index(&manifests);
    put_manifest(
        port,
        "paktech-app",
        &format!("sha256-{hex}"),
        index_type,
        index.as_bytes(),
        None,
    )
    .await;
    (referrer_digest, bundle)
}

#[tokio::test]
async fn a_cosign_v3_bundle_in_the_tag_schema_verifies_beside_bad_sig_layers() {
    if !tests::require(tests::Service::Registry, "bundles") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = LocalRegistry::start(dir.path(), "");
    let port = registry.port;
    let repository = registry.repository("paktech-app");
    let subject = push_small_image(port, "paktech-app", &"b".repeat(40), None).await;
    let key = SigningKey::generate();
    let hex = subject.as_str().trim_start_matches("sha256:");

    // cosign v3: the bundle referrer, and (no referrers API) the tag schema's index.
    let (referrer_digest, bundle) = sign_as_cosign_v3(port, &subject, &key).await;

    // The `.sig` tag: a layer without its annotation, and one signed by another key.
    let payload = cosign::payload(&repository, &subject);
    let payload_digest = upload_blob(port, "paktech-app", &payload, None).await;
    let config =
        br#"{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = upload_blob(port, "paktech-app", config, None).await;
    let other = SigningKey::generate().sign(&payload);
    let layer = |annotations: serde_json::Value| {
        serde_json::json!({
            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "digest": payload_digest,
            "size": payload.len(),
            "annotations": annotations,
        })
    };
    let sig_manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [layer(serde_json::json!({})), layer(serde_json::json!({"dev.cosignproject.cosign/signature": other}))],
    })
    .to_string();
    put_manifest(
        port,
        "paktech-app",
        &format!("sha256-{hex}.sig"),
        MANIFEST_MEDIA_TYPE,
        sig_manifest.as_bytes(),
        None,
    )
    .await;

    let store = Attachments::for_repository(&repository, dir.path(), None);
    let found = store.signatures(&repository, &subject).await.expect("read");
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(
        matches!(&found[0], FoundSignature::Unreadable { reason, .. } if reason.contains("no dev.cosignproject.cosign/signature annotation")),
        "{found:#?}"
    );
    assert_eq!(
        found[1],
        FoundSignature::Simple(SignatureLayer {
            payload: payload.clone(),
            signature_b64: other
        })
    );
    assert_eq!(
        found[2],
        FoundSignature::Bundle {
            referrer: referrer_digest.clone(),
            bundle
        }
    );
    let checked = verdicts(&found, &key, &subject, &repository);
    assert!(checked[0].contains("could not be read"), "{checked:?}");
    assert!(
        checked[1].contains("no configured key verifies it"),
        "{checked:?}"
    );
    assert_eq!(checked[2], "ok");

    // The SBOM writer appends to that same index, keeping the bundle listed.
    store
        .put_sbom(&repository, &subject, b"{}")
        .await
        .expect("sbom");
    let found = store.signatures(&repository, &subject).await.expect("read");
    assert!(
        found
            .iter()
            .any(|f| matches!(f, FoundSignature::Bundle { .. })),
        "{found:#?}"
    );

    // A plain manifest at another image's referrers tag is not overwritten.
    let second = push_small_image(port, "paktech-app", &"c".repeat(40), None).await;
    let tag = format!("sha256-{}", second.as_str().trim_start_matches("sha256:"));
    put_manifest(
        port,
        "paktech-app",
        &tag,
        MANIFEST_MEDIA_TYPE,
        sig_manifest.as_bytes(),
        None,
    )
    .await;
    let err = store
        .put_sbom(&repository, &second, b"{}")
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::NotReferrersIndex { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&tag) && text.contains(MANIFEST_MEDIA_TYPE),
        "{text}"
    );
    let kept = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{port}/v2/paktech-app/manifests/{tag}"
        ))
        .header("accept", MANIFEST_MEDIA_TYPE)
        .send()
        .await
        .expect("get")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(kept.as_ref(), sig_manifest.as_bytes(), "left as it was");
    // Reading signatures there reports the tag and still finds the `.sig` signature.
    let payload = cosign::payload(&repository, &second);
    let layer = SignatureLayer {
        signature_b64: key.sign(&payload),
        payload,
    };
    store
        .put_signature(&repository, &second, &layer)
        .await
        .expect("sign");
    let found = store.signatures(&repository, &second).await.expect("read");
    let checked = verdicts(&found, &key, &second, &repository);
    assert_eq!(checked.len(), 2, "{checked:?}");
    assert_eq!(checked[0], "ok");
    assert!(checked[1].contains(&tag), "{checked:?}");
}

#[tokio::test]
async fn prod_takes_a_build_signed_only_by_cosign_v3() {
    if !tests::require(tests::Service::Registry, "bundles_gate") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = LocalRegistry::start(dir.path(), "");
    let port = registry.port;
    let repository = registry.repository("paktech-app");
    let subject = push_small_image(port, "paktech-app", &"d".repeat(40), None).await;
    let key = SigningKey::generate();
    // The engine is never called: only the attachment store is read.
    let docker = bollard::Docker::connect_with_local_defaults().expect("docker client");
    let mut pipeline = tests::test_pipeline(dir.path(), docker, &tests::unique_prefix("bundles"));
    pipeline.config.supply_chain.keys =
        vec![PublicKey::from_pem("test.pub", &key.public_key().to_pem()).expect("public key")];
    let prod = tests::env("prod");
    let required = tests::env_mut(&mut pipeline, "prod");
    required.require_signature = Some(true);
    required.require_sbom = Some(false);
    let sha: model::GitSha = "d".repeat(40).parse().expect("sha");
    pipeline.attachments = Attachments::for_repository(&repository, dir.path(), None);
    let gate = async |pipeline: &flow::Pipeline| {
        let found = evidence(pipeline, &repository, std::slice::from_ref(&prod), &subject).await;
        supply_chain::gate(
            &prod,
            &pipeline.config.requirements(&prod),
            &subject,
            &sha,
            &found,
        )
        .map_err(|refusal| refusal.to_string())
    };

    pipeline
        .attachments
        .put_sbom(&repository, &subject, b"{}")
        .await
        .expect("sbom");
    let unsigned = gate(&pipeline).await.expect_err("unsigned");
    assert!(unsigned.contains("has no signature"), "{unsigned}");

    let (referrer, _) = sign_as_cosign_v3(port, &subject, &key).await;
    let passed = gate(&pipeline)
        .await
        .expect("signed by cosign v3")
        .unwrap_or_default();
    assert!(passed.contains(&key.public_key().id), "{passed}");
    assert_eq!(
        signed_by(&pipeline, &repository, &subject).await,
        format!(
            "signed by test.pub ({}), Sigstore bundle in referrer {referrer}",
            key.public_key().id
        )
    );

    // Another key configured instead: refused, saying which signature and why.
    pipeline.config.supply_chain.keys = vec![SigningKey::generate().public_key()];
    let refused = gate(&pipeline).await.expect_err("another key");
    assert!(
        refused.contains(&format!(
            "Sigstore bundle in referrer {referrer}: no configured key verifies it"
        )),
        "{refused}"
    );
}

/// A stand-in registry with the referrers API, answering `pages` pages for the image
/// `subject`: each page but the last lists nothing relevant and links to the next with
/// `next(page)`; the last lists the bundle referrer. Returns its port.
async fn paging_registry(
    subject: &Digest,
    key: &SigningKey,
    pages: usize,
    next: fn(u16, usize) -> String,
) -> u16 {
    let bundle = sigstore::bundle(key, subject);
    let referrer = sigstore::referrer(subject, 100, &bundle);
    let other = serde_json::json!({"mediaType": MANIFEST_MEDIA_TYPE, "digest": sha256(b"x"), "size": 1, "artifactType": "application/vnd.example.other"});
    let (first, last) = (
        sigstore::index(&[other]),
        sigstore::index(&[sigstore::listed(&referrer)]),
    );
    let listing = format!("GET /v2/app/referrers/{subject}");
    let manifest_path = format!("GET /v2/app/manifests/{} ", sha256(&referrer));
    let blob_path = format!("GET /v2/app/blobs/{} ", sha256(&bundle));
    let (referrer, bundle) = (
        String::from_utf8(referrer).expect("utf-8"),
        String::from_utf8(bundle).expect("utf-8"),
    );
    let port = Arc::new(std::sync::OnceLock::<u16>::new());
    let own = Arc::clone(&port);
    let bound = http_stand_in(move |request| {
        let ok = |content_type: &str, body: &str, headers: Vec<(&'static str, String)>| Answer {
            status: "200 OK",
            headers: [vec![("content-type", content_type.to_owned())], headers].concat(),
            body: body.to_owned(),
        };
        let index_type = "application/vnd.oci.image.index.v1+json";
        if let Some(rest) = request.strip_prefix(&listing) {
            let page = rest
                .split_once("page=")
                .and_then(|(_, n)| n.split(' ').next()?.parse().ok())
                .unwrap_or(1);
            if page >= pages {
                return ok(index_type, &last, Vec::new());
            }
            let link = format!(
                "<{}>; rel=\"next\"",
                next(*own.get().expect("port"), page + 1)
            );
            return ok(index_type, &first, vec![("link", link)]);
        }
        if request.starts_with(&manifest_path) {
            return ok(MANIFEST_MEDIA_TYPE, &referrer, Vec::new());
        }
        if request.starts_with(&blob_path) {
            return ok("application/octet-stream", &bundle, Vec::new());
        }
        Answer {
            status: "404 Not Found",
            headers: Vec::new(),
            body: String::new(),
        }
    })
    .await;
    port.set(bound).expect("once");
    bound
}

#[tokio::test]
async fn the_referrers_api_is_followed_page_by_page_and_bounded() {
    let subject: Digest = sha256(b"image").parse().expect("digest");
    let key = SigningKey::generate();
    let read = async |port: u16| {
        let repository: Repository = format!("127.0.0.1:{port}/app").parse().expect("repository");
        let store = Attachments::Registry(Distribution::new(None));
        store
            .signatures(&repository, &subject)
            .await
            .map(|found| verdicts(&found, &key, &subject, &repository))
    };
    // A relative link, as registries send them; the bundle is on page 3.
    let relative = |_, page| format!("/v2/app/referrers/{}?page={page}", sha256(b"image"));
    let port = paging_registry(&subject, &key, 3, relative).await;
    assert_eq!(read(port).await.expect("read"), ["ok"]);
    // An absolute link on the same registry is followed too.
    let absolute = |port, page| {
        format!(
            "http://127.0.0.1:{port}/v2/app/referrers/{}?page={page}",
            sha256(b"image")
        )
    };
    let port = paging_registry(&subject, &key, 2, absolute).await;
    assert_eq!(read(port).await.expect("read"), ["ok"]);
    // Paging without end is refused, not read partially.
    let port = paging_registry(&subject, &key, usize::MAX, relative).await;
    let err = read(port).await.expect_err("too many pages");
    assert!(err.to_string().contains("more than 64 pages"), "{err}");
    // A link to another host is not followed (the registry's credentials stay with it).
    let elsewhere = |_, page| format!("http://203.0.113.9/v2/app/referrers/x?page={page}");
    let port = paging_registry(&subject, &key, 2, elsewhere).await;
    let err = read(port).await.expect_err("another host");
    assert!(err.to_string().contains("on another host"), "{err}");
}
