//! Where an image's attachments live: its SBOM and its cosign signatures. Beside the image in
//! its registry (OCI artifacts, see [`remote`]), or, for the local default where the engine's
//! image store cannot hold them, in the pipeline's state folder (see [`local`]). Chosen like
//! [`Registry`](super::registry::Registry): a plain repository name is local, a name with a
//! host is a registry. Every failure is an error: an unreachable store never reads as "no
//! signatures" or "no SBOM".

mod attestations;
mod bundle;
mod local;
mod oci;
mod referrers;
mod remote;

use std::path::{Path, PathBuf};

use sha2::Digest as _;

use super::registry::{self, Credentials, Distribution, split_host};
use model::{AttestationLayer, Digest, FoundSignature, Repository, SignatureLayer};

pub use local::LocalAttachments;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Registry(#[from] registry::Error),
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a valid attachment file ({reason}); remove it and run `cargo xtask ci` again", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("the registry {registry} answered {status} to {request}")]
    Answered {
        registry: String,
        request: String,
        status: u16,
    },
    #[error("the registry {registry} sent an invalid {what}: {reason}")]
    Malformed {
        registry: String,
        what: String,
        reason: String,
    },
    #[error("the registry {registry} has no image {repository}@{digest} to attach to")]
    NoSubject {
        registry: String,
        repository: String,
        digest: String,
    },
    #[error(
        "the referrers tag {tag} of {registry}/{repository} holds a {found}, not an image index: it is not the OCI referrers tag schema's, so it is left alone; remove or rename that tag"
    )]
    NotReferrersIndex {
        registry: String,
        repository: String,
        tag: String,
        found: String,
    },
    #[error("{repository} names no registry host, so its attachments cannot be kept in a registry")]
    NotARegistry { repository: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The store of an image's SBOM and signatures.
#[derive(Debug, Clone)]
pub enum Attachments {
    /// Files in the pipeline's state folder, for images in the local engine's store.
    Local(LocalAttachments),
    /// OCI artifacts beside the image in its distribution registry.
    Registry(Distribution),
}

impl Attachments {
    /// Files under `state_dir/attachments` for plain names, the registry for names with a
    /// host (the same choice as [`Registry::for_repository`](super::registry::Registry::for_repository)).
    pub fn for_repository(
        repository: &Repository,
        state_dir: &Path,
        credentials: Option<Credentials>,
    ) -> Self {
        match split_host(repository) {
            Some(_) => Self::Registry(Distribution::new(credentials)),
            None => Self::Local(LocalAttachments::new(state_dir.join("attachments"))),
        }
    }

    /// Stores `sbom` (a CycloneDX JSON document) for the image `subject`; returns the SBOM's own
    /// digest (sha256 of its bytes), the same whichever store holds it.
    #[tracing::instrument(skip_all, fields(repository = %repository, subject = %subject))]
    pub async fn put_sbom(
        &self,
        repository: &Repository,
        subject: &Digest,
        sbom: &[u8],
    ) -> Result<Digest> {
        match self {
            Self::Local(local) => local.put_sbom(subject, sbom).await,
            Self::Registry(registry) => {
                let (host, name) = host_and_name(repository)?;
                remote::put_sbom(&mut registry.session(host, name)?, subject, sbom).await
            }
        }
    }

    /// The SBOM stored for `subject` and its digest, or `None` when there is none.
    #[tracing::instrument(skip_all, fields(repository = %repository, subject = %subject))]
    pub async fn sbom(
        &self,
        repository: &Repository,
        subject: &Digest,
    ) -> Result<Option<(Digest, Vec<u8>)>> {
        match self {
            Self::Local(local) => local.sbom(subject).await,
            Self::Registry(registry) => {
                let (host, name) = host_and_name(repository)?;
                remote::sbom(&mut registry.session(host, name)?, subject).await
            }
        }
    }

    /// Adds `signature` to the signatures of `subject`; storing the same payload and signature
    /// again changes nothing.
    #[tracing::instrument(skip_all, fields(repository = %repository, subject = %subject))]
    pub async fn put_signature(
        &self,
        repository: &Repository,
        subject: &Digest,
        signature: &SignatureLayer,
    ) -> Result<()> {
        match self {
            Self::Local(local) => local.put_signature(subject, signature).await,
            Self::Registry(registry) => {
                let (host, name) = host_and_name(repository)?;
                remote::put_signature(&mut registry.session(host, name)?, subject, signature).await
            }
        }
    }

    /// Every signature stored for `subject` (empty when none): cosign `.sig` layers in the
    /// order they were added, then cosign v3 Sigstore bundles stored as referrers; an entry
    /// that cannot be read is listed as such. `Err`: the store cannot be read.
    #[tracing::instrument(skip_all, fields(repository = %repository, subject = %subject))]
    pub async fn signatures(
        &self,
        repository: &Repository,
        subject: &Digest,
    ) -> Result<Vec<FoundSignature>> {
        match self {
            Self::Local(local) => Ok(local
                .signatures(subject)
                .await?
                .into_iter()
                .map(FoundSignature::Simple)
                .collect()),
            Self::Registry(registry) => {
                let (host, name) = host_and_name(repository)?;
                remote::signatures(&mut registry.session(host, name)?, subject).await
            }
        }
    }
}

impl Attachments {
    /// Adds `attestation` (a signed DSSE envelope) to the attestations of `subject`; storing
    /// the same envelope again changes nothing.
    #[tracing::instrument(skip_all, fields(repository = %repository, subject = %subject))]
    pub async fn put_attestation(
        &self,
        repository: &Repository,
        subject: &Digest,
        attestation: &AttestationLayer,
    ) -> Result<()> {
        match self {
            Self::Local(local) => local.put_attestation(subject, attestation).await,
            Self::Registry(registry) => {
                let (host, name) = host_and_name(repository)?;
                let mut session = registry.session(host, name)?;
                attestations::put(&mut session, subject, attestation).await
            }
        }
    }

    /// Every attestation stored for `subject`, in the order they were added (empty when none).
    #[tracing::instrument(skip_all, fields(repository = %repository, subject = %subject))]
    pub async fn attestations(
        &self,
        repository: &Repository,
        subject: &Digest,
    ) -> Result<Vec<AttestationLayer>> {
        match self {
            Self::Local(local) => local.attestations(subject).await,
            Self::Registry(registry) => {
                let (host, name) = host_and_name(repository)?;
                attestations::list(&mut registry.session(host, name)?, subject).await
            }
        }
    }
}

fn host_and_name(repository: &Repository) -> Result<(&str, &str)> {
    split_host(repository).ok_or_else(|| Error::NotARegistry {
        repository: repository.to_string(),
    })
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> Digest {
    format!("sha256:{:x}", sha2::Sha256::digest(bytes))
        .parse()
        .unwrap_or_else(|_| unreachable!("a sha256 hex digest is a valid digest"))
}

/// `sha256-<hex>`: the tag cosign (`.sig` appended) and the OCI referrers tag schema derive
/// from a digest, and the local store's folder name.
pub fn digest_tag(digest: &Digest) -> String {
    digest.as_str().replacen(':', "-", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_local_and_hosts_are_registries() {
        let check = |name: &str, local: bool| {
            let repository: Repository = name.parse().expect("repository");
            let store = Attachments::for_repository(&repository, Path::new("/state"), None);
            assert_eq!(matches!(store, Attachments::Local(_)), local, "{name}");
        };
        check("paktech-app", true);
        check("team/paktech-app", true);
        check("127.0.0.1:5000/paktech-app", false);
        check("paktech.azurecr.io/apps/paktech-app", false);
    }

    #[test]
    fn digests_and_tags() {
        assert_eq!(
            sha256(b"{}").as_str(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(
            digest_tag(&sha256(b"{}")),
            "sha256-44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }
}
