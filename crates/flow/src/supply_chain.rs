//! The supply-chain steps flows share: `ci` signs the digest it pins and, like `promote`,
//! reads the evidence for a digest (its signatures, each checked against the configured keys,
//! and its SBOM) for `policy::supply_chain` to decide on before the first write.

use super::steps::Steps;
use super::{Error, Pipeline, Result};
use ::supply_chain::cosign;
use model::report::Outcome;
use model::{Digest, EnvName, GitSha, Repository};
use model::{FoundSignature, SignatureLayer};
use policy::supply_chain::{self, Evidence, SignatureCheck};

/// What the attachment store holds for `digest`, read only when one of `envs` requires
/// evidence (otherwise [`Evidence::not_read`]). A store that cannot be read is recorded as
/// such: the gate refuses on it (fail closed).
pub async fn evidence(
    pipeline: &Pipeline,
    repository: &Repository,
    envs: &[EnvName],
    digest: &Digest,
) -> Evidence {
    if !envs.iter().any(|e| pipeline.config.requirements(e).any()) {
        return Evidence::not_read(digest.clone());
    }
    read_evidence(pipeline, repository, digest).await
}

/// Everything the attachment store holds for `digest`, checked: signatures, the SBOM, and the
/// attestations (what `cargo xtask verify` shows, whatever an environment requires).
pub async fn read_evidence(
    pipeline: &Pipeline,
    repository: &Repository,
    digest: &Digest,
) -> Evidence {
    let signatures = signatures(pipeline, repository, digest).await;
    let stored = pipeline
        .attachments
        .sbom(repository, digest)
        .await
        .map_err(|e| e.to_string());
    let attestations = match &stored {
        Ok(sbom) => {
            let document = sbom.as_ref().map(|(_, bytes)| bytes.as_slice());
            super::attest::read(pipeline, repository, digest, document).await
        }
        Err(e) => Err(e.clone()),
    };
    let (sbom_attestations, provenance) = match attestations {
        Ok((sboms, provenances)) => (Ok(sboms), Ok(provenances)),
        Err(e) => (Err(e.clone()), Err(e)),
    };
    Evidence {
        digest: digest.clone(),
        signatures,
        sbom: stored.map(|found| found.map(|(sbom, _)| sbom)),
        sbom_attestations,
        provenance,
    }
}

/// Every signature stored for `digest` (cosign `.sig` layers and cosign v3 bundles), each
/// checked against the configured keys: the key that verified it, or where it was found and
/// why it does not vouch for the digest; `Err`: the store could not be read.
async fn signatures(
    pipeline: &Pipeline,
    repository: &Repository,
    digest: &Digest,
) -> Result<Vec<SignatureCheck>, String> {
    let keys = &pipeline.config.supply_chain.keys;
    let found = pipeline
        .attachments
        .signatures(repository, digest)
        .await
        .map_err(|e| e.to_string())?;
    Ok(found
        .iter()
        .map(|signature| {
            cosign::verify_found(signature, keys, digest, Some(repository))
                .map(|key| match signature {
                    FoundSignature::Simple(_) => key.to_string(),
                    _ => format!("{key}, {}", signature.origin()),
                })
                .map_err(|rejection| format!("{}: {rejection}", signature.origin()))
        })
        .collect())
}

/// Which configured key signed `digest`, in words for `status`: `signed by <key> (<id>)`,
/// `unsigned`, `signed, by no configured key`, or why the store could not be read.
pub async fn signed_by(pipeline: &Pipeline, repository: &Repository, digest: &Digest) -> String {
    match signatures(pipeline, repository, digest).await {
        Err(e) => format!("signatures cannot be read: {e}"),
        Ok(checks) if checks.is_empty() => "unsigned".to_owned(),
        Ok(checks) => checks.iter().find_map(|c| c.as_ref().ok()).map_or_else(
            || "signed, by no configured key".to_owned(),
            |key| format!("signed by {key}"),
        ),
    }
}

/// The `sign` step (named `step`): signs `digest` of `repository` with the pipeline's key
/// and stores the signature beside the image; skipped when no key is configured.
pub async fn sign(
    pipeline: &Pipeline,
    repository: &Repository,
    digest: &Digest,
    step: &str,
    steps: &mut Steps<'_>,
) -> Result<()> {
    let Some(key) = pipeline.signing_key_or_skip(step, steps) else {
        return Ok(());
    };
    steps
        .run(step, async {
            let payload = cosign::payload(repository, digest);
            let layer = SignatureLayer {
                signature_b64: key.sign(&payload),
                payload,
            };
            pipeline
                .attachments
                .put_signature(repository, digest, &layer)
                .await?;
            let detail = format!("{digest} signed with {}", key.public_key().id);
            Ok::<_, Error>((Outcome::Succeeded, detail, ()))
        })
        .await
}

/// The `verify` step before a write to `env`: the same gate `promote` plans with, on the
/// digest of the build of `sha` about to be pinned; skipped when `env` requires nothing.
pub async fn verify(
    pipeline: &Pipeline,
    repository: &Repository,
    env: &EnvName,
    (digest, sha): (&Digest, &GitSha),
    step: &str,
    steps: &mut Steps<'_>,
) -> Result<()> {
    let required = pipeline.config.requirements(env);
    if !required.any() {
        steps.skip(
            step,
            &format!("{env} requires no signature, SBOM or provenance"),
        );
        return Ok(());
    }
    steps
        .run(step, async {
            let found = evidence(pipeline, repository, std::slice::from_ref(env), digest).await;
            let detail =
                supply_chain::gate(env, &required, digest, sha, &found)?.unwrap_or_default();
            Ok::<_, Error>((Outcome::Succeeded, detail, ()))
        })
        .await
}
