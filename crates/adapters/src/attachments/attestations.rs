//! Attestations in the registry, where `cosign attest` puts them: the tag `sha256-<hex>.att`,
//! an OCI image manifest whose layers each hold one DSSE envelope (media type
//! `application/vnd.dsse.envelope.v1+json`), annotated with the statement's `predicateType`
//! and an empty `dev.cosignproject.cosign/signature` (the signature is inside the envelope).
//! Relied on: sigstore/cosign `specs/ATTESTATION_SPEC.md` (the layout), `cmd/cosign/cli/attest/
//! attest.go` (the `predicateType` annotation, `static.NewAttestation` with the DSSE media
//! type), `pkg/oci/remote/remote.go` (the `.att` suffix). The manifest is made like the
//! `.sig` one (go-containerregistry's empty image with the layers appended).

use std::collections::BTreeMap;

use super::oci::{self, Manifest, parse};
use super::remote::{self, SIGNATURE_ANNOTATION};
use super::{Result, digest_tag};
use crate::registry::Session;
use model::{AttestationLayer, Digest};

pub const DSSE: &str = "application/vnd.dsse.envelope.v1+json";
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";

fn tag(subject: &Digest) -> String {
    format!("{}.att", digest_tag(subject))
}

pub async fn put(
    session: &mut Session<'_>,
    subject: &Digest,
    attestation: &AttestationLayer,
) -> Result<()> {
    let annotations = BTreeMap::from([
        (SIGNATURE_ANNOTATION.to_owned(), String::new()),
        (
            PREDICATE_TYPE_ANNOTATION.to_owned(),
            attestation.predicate_type.clone(),
        ),
    ]);
    remote::append_layer(
        session,
        &tag(subject),
        DSSE,
        &attestation.envelope,
        annotations,
    )
    .await
}

/// Every DSSE layer under the subject's `.att` tag, with its `predicateType` label (empty
/// when the layer has none: the statement inside still says).
pub async fn list(session: &mut Session<'_>, subject: &Digest) -> Result<Vec<AttestationLayer>> {
    let Some(pulled) = oci::manifest(session, &tag(subject)).await? else {
        return Ok(Vec::new());
    };
    let manifest: Manifest = parse(session, "attestation manifest", &pulled.bytes)?;
    let mut found = Vec::new();
    for layer in manifest.layers.iter().filter(|l| l.media_type == DSSE) {
        found.push(AttestationLayer {
            predicate_type: layer
                .annotations
                .get(PREDICATE_TYPE_ANNOTATION)
                .cloned()
                .unwrap_or_default(),
            envelope: oci::blob(session, &layer.digest).await?,
        });
    }
    Ok(found)
}
