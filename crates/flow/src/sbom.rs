//! The image's SBOM: made in `ci` from the dependency list embedded in the binary the build
//! just put into the image (read from those bytes, not a rebuild) and stored beside the image;
//! read back by `xtask sbom`.

use super::image::BuiltImage;
use super::{Error, Pipeline, Result};
use ::supply_chain::sbom::{self, ImageFacts};
use model::{Digest, EnvName, ImageTag, Repository};

/// An SBOM as it was stored.
#[derive(Debug, Clone)]
pub struct StoredSbom {
    pub digest: Digest,
    pub document: Vec<u8>,
}

/// Makes the SBOM of `built` (whose digest, pushed or local, is `digest`) and stores it;
/// returns it with its digest.
pub async fn attach(
    pipeline: &Pipeline,
    built: &BuiltImage,
    digest: &Digest,
    version: &str,
) -> Result<StoredSbom> {
    let build = built.tag.to_string();
    let facts = ImageFacts {
        repository: built.repository.as_str(),
        digest,
        build: &build,
        version,
        created: &built.created,
    };
    let document = sbom::cyclonedx(&built.dependencies, &facts)?;
    let stored = pipeline
        .attachments
        .put_sbom(&built.repository, digest, &document)
        .await?;
    Ok(StoredSbom {
        digest: stored,
        document,
    })
}

/// The SBOM stored for the image `digest` of `repository`, or `None`.
pub async fn stored(
    pipeline: &Pipeline,
    repository: &Repository,
    digest: &Digest,
) -> Result<Option<StoredSbom>> {
    Ok(pipeline
        .attachments
        .sbom(repository, digest)
        .await?
        .map(|(digest, document)| StoredSbom { digest, document }))
}

/// Whose SBOM to show: a build by its tag (`<sha>`, or `<sha>-dirty`), or the build an
/// environment pins.
#[derive(Debug, Clone)]
pub enum Which {
    Build(ImageTag),
    Env(EnvName),
}

/// The SBOM of one build, and which image it belongs to.
#[derive(Debug, Clone)]
pub struct Shown {
    /// `repository:tag`.
    pub image: String,
    pub image_digest: Digest,
    pub sbom: StoredSbom,
}

/// The SBOM stored for the build `which` names; an error saying what to do when the build
/// or its SBOM cannot be found.
pub async fn show(pipeline: &Pipeline, app: &config::AppConfig, which: &Which) -> Result<Shown> {
    let repository = &app.repository;
    let (image, digest) = match which {
        Which::Build(tag) => {
            let image = format!("{repository}:{tag}");
            let digest = pipeline
                .registry
                .digest(repository, &tag.to_string())
                .await?
                .ok_or(policy::plan::Refusal::ImageNotFound {
                    image: image.clone(),
                })?;
            (image, digest)
        }
        Which::Env(env) => {
            let config = pipeline.config.environment(env.as_str())?;
            let tip = pipeline.git(|repo| repo.fetch()).await?;
            let desired = super::sync::desired_state(pipeline, &app.name, config, &tip).await?;
            let pinned = desired.image.ok_or_else(|| Error::NoBuild {
                app: app.name.to_string(),
                env: env.to_string(),
            })?;
            let image = pinned.name();
            let digest = match pinned.digest {
                Some(digest) => digest,
                None => pipeline
                    .registry
                    .digest(&pinned.repository, &pinned.tag.to_string())
                    .await?
                    .ok_or(policy::plan::Refusal::ImageNotFound {
                        image: image.clone(),
                    })?,
            };
            (image, digest)
        }
    };
    let sbom = stored(pipeline, repository, &digest)
        .await?
        .ok_or_else(|| Error::NoSbom {
            image: image.clone(),
            digest: digest.to_string(),
        })?;
    Ok(Shown {
        image,
        image_digest: digest,
        sbom,
    })
}
