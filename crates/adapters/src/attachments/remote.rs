//! The registry store: attachments as OCI artifacts beside the image.
//!
//! - The SBOM is an OCI 1.1 artifact: an image manifest with `artifactType`
//!   `application/vnd.cyclonedx+json`, the empty config, the SBOM as its one layer, and the
//!   image's manifest as its `subject`, pushed by digest. It is found through the referrers
//!   API (`GET /v2/<name>/referrers/<digest>`); a registry without one (a `404`, such as
//!   distribution 2.8) gets the referrers tag schema instead: an image index under the tag
//!   `sha256-<hex>` listing the referrers, which the pusher keeps up to date (OCI
//!   distribution-spec 1.1 `spec.md`, "Pushing Manifests with Subject" and "Referrers Tag
//!   Schema"; image-spec 1.1 `manifest.md` "Guidelines for Artifact Usage").
//! - Signatures are where cosign puts them: the tag `sha256-<hex>.sig`, an OCI image manifest
//!   whose layers each hold one simple-signing payload (media type
//!   `application/vnd.dev.cosign.simplesigning.v1+json`) with the base64 signature in the
//!   annotation `dev.cosignproject.cosign/signature`. Relied on: sigstore/cosign
//!   `pkg/oci/static/signature.go` (the layer and its annotation), `pkg/oci/empty/empty.go`
//!   (an OCI manifest over an empty image whose config lists the layers as diff_ids),
//!   `pkg/cosign/fetch.go` and `pkg/oci/remote/signatures.go` (the `.sig` tag and reading the
//!   layers back), and sigstore-rs `src/cosign/constants.rs` (the same two names).
//! - cosign v3's signatures, Sigstore bundles stored as referrers, are read by [`super::bundle`];
//!   referrers are listed and the tag schema kept by [`super::referrers`].
//!
//! Two writers appending to one `.sig` manifest or one referrers index at the same moment can
//! lose one append (cosign has the same race); `ci` signs and attaches once per build.

use std::collections::BTreeMap;

use super::oci::{self, Descriptor, Manifest, malformed, parse};
use super::{Error, Result, bundle, digest_tag, referrers, sha256};
use crate::registry::Session;
use model::{Digest, FoundSignature, SignatureLayer};

pub const CYCLONEDX: &str = "application/vnd.cyclonedx+json";
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
const EMPTY: &str = "application/vnd.oci.empty.v1+json";
const IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

pub async fn put_sbom(session: &mut Session<'_>, subject: &Digest, sbom: &[u8]) -> Result<Digest> {
    let image = oci::manifest(session, subject.as_str())
        .await?
        .ok_or_else(|| Error::NoSubject {
            registry: session.host().to_owned(),
            repository: session.name().to_owned(),
            digest: subject.to_string(),
        })?;
    let config = oci::put_blob(session, EMPTY, b"{}").await?;
    let layer = oci::put_blob(session, CYCLONEDX, sbom).await?;
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(oci::MANIFEST.to_owned()),
        artifact_type: Some(CYCLONEDX.to_owned()),
        config,
        layers: vec![layer.clone()],
        subject: Some(image.descriptor()),
        annotations: BTreeMap::new(),
    };
    let bytes =
        serde_json::to_vec(&manifest).map_err(|e| malformed(session, "sbom manifest", e))?;
    let mut descriptor = Descriptor::of(oci::MANIFEST, &bytes);
    descriptor.artifact_type = Some(CYCLONEDX.to_owned());
    let indexed = oci::put_manifest(session, &descriptor.digest, oci::MANIFEST, &bytes).await?;
    if !indexed {
        referrers::add_to_tag(session, subject, descriptor).await?;
    }
    Ok(sha256(sbom))
}

pub async fn sbom(
    session: &mut Session<'_>,
    subject: &Digest,
) -> Result<Option<(Digest, Vec<u8>)>> {
    let listed = referrers::list(session, subject).await?;
    // The last one listed: the tag schema lists in the order they were pushed.
    let Some(referrer) = listed
        .iter()
        .rev()
        .find(|d| d.artifact_type.as_deref() == Some(CYCLONEDX))
    else {
        return Ok(None);
    };
    let what = format!("sbom manifest {}", referrer.digest);
    let pulled = oci::manifest(session, &referrer.digest)
        .await?
        .ok_or_else(|| malformed(session, what.clone(), "listed as a referrer but absent"))?;
    let manifest: Manifest = parse(session, &what, &pulled.bytes)?;
    if manifest.subject.as_ref().map(|s| s.digest.as_str()) != Some(subject.as_str()) {
        return Err(malformed(
            session,
            what,
            format!("its subject is not {subject}"),
        ));
    }
    let layer = manifest
        .layers
        .iter()
        .find(|l| l.media_type == CYCLONEDX)
        .ok_or_else(|| malformed(session, what.clone(), "no CycloneDX layer"))?;
    let bytes = oci::blob(session, &layer.digest).await?;
    Ok(Some((sha256(&bytes), bytes)))
}

pub async fn put_signature(
    session: &mut Session<'_>,
    subject: &Digest,
    signature: &SignatureLayer,
) -> Result<()> {
    let tag = format!("{}.sig", digest_tag(subject));
    let annotations = BTreeMap::from([(
        SIGNATURE_ANNOTATION.to_owned(),
        signature.signature_b64.clone(),
    )]);
    append_layer(
        session,
        &tag,
        SIMPLE_SIGNING,
        &signature.payload,
        annotations,
    )
    .await
}

/// Adds a layer (`bytes` of `media_type`, with `annotations`) to the image manifest under
/// `tag` the way cosign keeps its `.sig` and `.att` tags, unless a layer with the same
/// content and annotations is there: the manifest is read, the layer appended and the
/// manifest written back over go-containerregistry's empty image.
pub(super) async fn append_layer(
    session: &mut Session<'_>,
    tag: &str,
    media_type: &str,
    bytes: &[u8],
    annotations: BTreeMap<String, String>,
) -> Result<()> {
    let what = format!("manifest {tag}");
    let mut layers = match oci::manifest(session, tag).await? {
        Some(pulled) => parse::<Manifest>(session, &what, &pulled.bytes)?.layers,
        None => Vec::new(),
    };
    let digest = sha256(bytes);
    let present = layers.iter().any(|l| {
        l.digest == digest.as_str()
            && annotations
                .iter()
                .all(|(k, v)| l.annotations.get(k) == Some(v))
    });
    if present {
        return Ok(());
    }
    let mut layer = oci::put_blob(session, media_type, bytes).await?;
    layer.annotations.extend(annotations);
    layers.push(layer);
    // As go-containerregistry's empty image with these layers appended: the layers are
    // uncompressed, so each diff_id is the layer's digest.
    let config = serde_json::json!({
        "architecture": "",
        "os": "",
        "config": {},
        "rootfs": {
            "type": "layers",
            "diff_ids": layers.iter().map(|l| l.digest.as_str()).collect::<Vec<_>>(),
        },
    });
    let config = oci::put_blob(session, IMAGE_CONFIG, config.to_string().as_bytes()).await?;
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(oci::MANIFEST.to_owned()),
        artifact_type: None,
        config,
        layers,
        subject: None,
        annotations: BTreeMap::new(),
    };
    let bytes = serde_json::to_vec(&manifest).map_err(|e| malformed(session, &what, e))?;
    oci::put_manifest(session, tag, oci::MANIFEST, &bytes).await?;
    Ok(())
}

/// Every signature of `subject`: the layers of cosign's `.sig` tag, then the Sigstore bundles
/// referring to it (cosign v3). A layer without its signature annotation, or whose payload
/// cannot be read, is one unreadable entry; `Err` only when the store cannot be read at all.
pub async fn signatures(
    session: &mut Session<'_>,
    subject: &Digest,
) -> Result<Vec<FoundSignature>> {
    let mut found = sig_tag(session, subject).await?;
    found.extend(bundle::bundles(session, subject).await?);
    Ok(found)
}

async fn sig_tag(session: &mut Session<'_>, subject: &Digest) -> Result<Vec<FoundSignature>> {
    let tag = format!("{}.sig", digest_tag(subject));
    let Some(pulled) = oci::manifest(session, &tag).await? else {
        return Ok(Vec::new());
    };
    let manifest: Manifest = parse(session, "signature manifest", &pulled.bytes)?;
    let mut found = Vec::new();
    for layer in manifest
        .layers
        .iter()
        .filter(|l| l.media_type == SIMPLE_SIGNING)
    {
        let entry = format!("signature layer {} of {tag}", layer.digest);
        let Some(signature_b64) = layer.annotations.get(SIGNATURE_ANNOTATION).cloned() else {
            found.push(FoundSignature::Unreadable {
                entry,
                reason: format!("it has no {SIGNATURE_ANNOTATION} annotation"),
            });
            continue;
        };
        found.push(match oci::blob(session, &layer.digest).await {
            Ok(payload) => FoundSignature::Simple(SignatureLayer {
                payload,
                signature_b64,
            }),
            Err(e) => FoundSignature::Unreadable {
                entry,
                reason: e.to_string(),
            },
        });
    }
    Ok(found)
}
