//! cosign v3 signatures in the registry: Sigstore bundles stored as OCI 1.1 referrers of the
//! image, read back for `cosign::bundle` to verify.
//!
//! What cosign v3 writes (`cosign sign`, `--new-bundle-format` being its default), from
//! sigstore/cosign `pkg/oci/remote/write.go` (`WriteAttestationNewBundleFormat`,
//! `WriteReferrer`) and `pkg/cosign/bundle/constants.go`: an OCI image manifest with
//! `artifactType` `application/vnd.dev.sigstore.bundle.v0.3+json`, the empty config
//! (`application/vnd.oci.empty.v1+json`), one layer of that same media type holding the
//! bundle's JSON, the image as `subject`, and the annotations `dev.sigstore.bundle.content:
//! dsse-envelope`, `dev.sigstore.bundle.predicateType: https://sigstore.dev/cosign/sign/v1`
//! and `org.opencontainers.image.created`. go-containerregistry's `remote.Put` keeps the
//! referrers tag schema itself where the registry has no referrers API, so the bundle is
//! found either way (see [`super::referrers`]).

use super::oci::{self, Descriptor, Manifest};
use super::referrers;
use super::{Error, Result};
use crate::registry::Session;
use ::supply_chain::cosign::bundle::MEDIA_TYPE_PREFIX;
use model::{Digest, FoundSignature};

/// Whether a referrer's `artifactType` is a Sigstore bundle.
fn is_bundle(media_type: Option<&str>) -> bool {
    media_type.is_some_and(|t| t.starts_with(MEDIA_TYPE_PREFIX))
}

/// Every Sigstore bundle referring to `subject`, each read or reported unreadable with why
/// (a foreign manifest at the referrers tag too: one unreadable entry, so a `.sig` signature
/// still counts); `Err` only when the referrers cannot be listed.
pub async fn bundles(session: &mut Session<'_>, subject: &Digest) -> Result<Vec<FoundSignature>> {
    let listed = match referrers::list(session, subject).await {
        Ok(listed) => listed,
        Err(e @ Error::NotReferrersIndex { .. }) => {
            return Ok(vec![FoundSignature::Unreadable {
                entry: "the referrers tag".to_owned(),
                reason: e.to_string(),
            }]);
        }
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for referrer in listed
        .iter()
        .filter(|d| is_bundle(d.artifact_type.as_deref()))
    {
        found.push(match read(session, subject, referrer).await {
            Ok(bundle) => FoundSignature::Bundle {
                referrer: referrer.digest.clone(),
                bundle,
            },
            Err(reason) => FoundSignature::Unreadable {
                entry: format!("Sigstore bundle referrer {}", referrer.digest),
                reason,
            },
        });
    }
    Ok(found)
}

/// The bundle held by `referrer`, or why it cannot be had.
async fn read(
    session: &mut Session<'_>,
    subject: &Digest,
    referrer: &Descriptor,
) -> Result<Vec<u8>, String> {
    let text = |e: Error| e.to_string();
    let pulled = oci::manifest(session, &referrer.digest)
        .await
        .map_err(text)?
        .ok_or("listed as a referrer but absent")?;
    let manifest: Manifest = oci::parse(session, "bundle manifest", &pulled.bytes).map_err(text)?;
    if manifest.subject.as_ref().map(|s| s.digest.as_str()) != Some(subject.as_str()) {
        return Err(format!("its subject is not {subject}"));
    }
    let layer = manifest
        .layers
        .iter()
        .find(|l| is_bundle(Some(&l.media_type)))
        .ok_or("no layer of a Sigstore bundle media type")?;
    oci::blob(session, &layer.digest).await.map_err(text)
}
