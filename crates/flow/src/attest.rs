//! The attestations `ci` makes for each build (signed SLSA provenance, and the SBOM as a
//! signed CycloneDX statement), and reading them back as supply-chain evidence: each envelope
//! checked against the configured keys and the digest before the gate looks at what it says.

use super::image::{BuiltImage, ImageRequest};
use super::sbom::StoredSbom;
use super::steps::Steps;
use super::{Error, Pipeline, Result};
use ::supply_chain::attest::dsse::{Envelope, IN_TOTO};
use ::supply_chain::attest::provenance::{self, BuildFacts, Builder};
use ::supply_chain::attest::statement::Statement;
use ::supply_chain::attest::{Rejection, sbom};
use adapters::attachments::sha256;
use model::report::Outcome;
use model::{AttestationLayer, Digest, Repository};
use policy::supply_chain::{AttestationCheck, Attested, SignatureCheck};

/// When the build began, and the source it was built from, as `ci` saw them.
#[derive(Debug, Clone)]
pub struct BuildContext<'a> {
    pub app: &'a str,
    pub request: &'a ImageRequest,
    pub built: &'a BuiltImage,
    pub digest: &'a Digest,
    pub sbom: &'a StoredSbom,
    /// RFC 3339.
    pub started: String,
}

/// The `attest` step (named `step`): signs the build's provenance and its SBOM with the
/// pipeline's key and stores both beside the image; skipped when no key is configured.
pub async fn attest(
    pipeline: &Pipeline,
    build: &BuildContext<'_>,
    step: &str,
    steps: &mut Steps<'_>,
) -> Result<()> {
    let Some(key) = pipeline.signing_key_or_skip(step, steps) else {
        return Ok(());
    };
    steps
        .run(step, async {
            let builder = Builder::from_vars(|name| std::env::var(name).ok());
            let lockfile_path = build.request.workspace.join("Cargo.lock");
            let lockfile = tokio::fs::read(&lockfile_path)
                .await
                .map(|bytes| sha256(&bytes))
                .map_err(|source| Error::Read {
                    path: lockfile_path,
                    source,
                })?;
            let source = builder
                .source
                .clone()
                .unwrap_or_else(|| format!("git+{}", build.request.source_url));
            let finished = pipeline
                .clock
                .now()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let facts = BuildFacts {
                builder: &builder,
                source: &source,
                commit: build.built.tag.sha(),
                dirty: build.built.tag.is_dirty(),
                app: build.app,
                package: &build.request.package,
                dockerfile: &build.request.dockerfile.to_string_lossy(),
                lockfile: &lockfile,
                started: &build.started,
                finished: &finished,
            };
            let repository = &build.request.repository;
            let name = repository.as_str();
            let statements = [
                provenance::statement(name, build.digest, &facts),
                sbom::statement(name, build.digest, &build.sbom.document).map_err(|e| {
                    Error::Attestation {
                        what: "the SBOM",
                        problem: e.to_string(),
                    }
                })?,
            ];
            for statement in statements {
                let envelope = Envelope::sign(IN_TOTO, statement.to_json(), key);
                let layer = AttestationLayer {
                    predicate_type: statement.predicate_type.clone(),
                    envelope: envelope.to_json(),
                };
                pipeline
                    .attachments
                    .put_attestation(repository, build.digest, &layer)
                    .await?;
            }
            let detail = format!(
                "provenance (builder {}) and SBOM {} signed with {}",
                builder.id,
                build.sbom.digest,
                key.public_key().id
            );
            Ok::<_, Error>((Outcome::Succeeded, detail, ()))
        })
        .await
}

/// The attestations stored for `digest`: the CycloneDX ones checked against the stored SBOM
/// `sbom` (its bytes, when there is one), and the provenance ones, each signature and
/// subject checked. `Err`: the store could not be read.
pub async fn read(
    pipeline: &Pipeline,
    repository: &Repository,
    digest: &Digest,
    sbom: Option<&[u8]>,
) -> Result<(Vec<SignatureCheck>, Vec<AttestationCheck>), String> {
    let layers = pipeline
        .attachments
        .attestations(repository, digest)
        .await
        .map_err(|e| e.to_string())?;
    let keys = &pipeline.config.supply_chain.keys;
    let mut sboms = Vec::new();
    let mut provenances = Vec::new();
    for layer in &layers {
        if layer.predicate_type == sbom::PREDICATE_TYPE {
            sboms.push(
                signed(&layer.envelope, keys, sbom::PREDICATE_TYPE, digest).and_then(|attested| {
                    let stored =
                        sbom.ok_or_else(|| "no SBOM is stored beside the image".to_owned())?;
                    sbom::check(&attested.statement, stored)
                        .map(|()| attested.key)
                        .map_err(|e| e.to_string())
                }),
            );
        } else if layer.predicate_type == provenance::PREDICATE_TYPE {
            provenances.push(signed(
                &layer.envelope,
                keys,
                provenance::PREDICATE_TYPE,
                digest,
            ));
        }
    }
    Ok((sboms, provenances))
}

/// The statement of `predicate_type` about `digest` an envelope carries, once a configured
/// key verifies the envelope.
fn signed(
    envelope: &[u8],
    keys: &[::supply_chain::cosign::PublicKey],
    predicate_type: &'static str,
    digest: &Digest,
) -> AttestationCheck {
    let check = || -> Result<Attested, Rejection> {
        let envelope = Envelope::from_json(envelope)?;
        let key = envelope.verify(keys)?;
        let statement = Statement::read(&envelope, predicate_type, digest)?;
        Ok(Attested {
            key: key.to_string(),
            statement,
        })
    };
    check().map_err(|e| e.to_string())
}
