//! The attachment store of the local default: one folder per image under the pipeline's
//! state folder (`.paktech/attachments/sha256-<hex>/`), holding `sbom.json` and
//! `signatures.json` and `attestations.json`. Every file is written to a temporary name beside it and renamed, so a
//! reader sees the old file or the new one, never half of one.

use std::path::{Path, PathBuf};

use super::{Error, Result, digest_tag, sha256};
use model::{AttestationLayer, Digest, SignatureLayer};

/// Attachments kept as files under one folder.
#[derive(Debug, Clone)]
pub struct LocalAttachments {
    root: PathBuf,
}

const SBOM: &str = "sbom.json";
const SIGNATURES: &str = "signatures.json";
const ATTESTATIONS: &str = "attestations.json";

impl LocalAttachments {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// The folder holding the attachments of `subject`.
    pub fn folder(&self, subject: &Digest) -> PathBuf {
        self.root.join(digest_tag(subject))
    }

    pub(super) async fn put_sbom(&self, subject: &Digest, sbom: &[u8]) -> Result<Digest> {
        write_atomically(&self.folder(subject).join(SBOM), sbom).await?;
        Ok(sha256(sbom))
    }

    pub(super) async fn sbom(&self, subject: &Digest) -> Result<Option<(Digest, Vec<u8>)>> {
        Ok(read(&self.folder(subject).join(SBOM))
            .await?
            .map(|bytes| (sha256(&bytes), bytes)))
    }

    pub(super) async fn put_signature(
        &self,
        subject: &Digest,
        signature: &SignatureLayer,
    ) -> Result<()> {
        self.append(&self.folder(subject).join(SIGNATURES), signature)
            .await
    }

    pub(super) async fn signatures(&self, subject: &Digest) -> Result<Vec<SignatureLayer>> {
        list(&self.folder(subject).join(SIGNATURES)).await
    }

    pub(super) async fn put_attestation(
        &self,
        subject: &Digest,
        attestation: &AttestationLayer,
    ) -> Result<()> {
        self.append(&self.folder(subject).join(ATTESTATIONS), attestation)
            .await
    }

    pub(super) async fn attestations(&self, subject: &Digest) -> Result<Vec<AttestationLayer>> {
        list(&self.folder(subject).join(ATTESTATIONS)).await
    }

    /// Adds `item` to the JSON list in `path` unless it is there.
    async fn append<T>(&self, path: &Path, item: &T) -> Result<()>
    where
        T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + Clone,
    {
        let mut all: Vec<T> = list(path).await?;
        if all.contains(item) {
            return Ok(());
        }
        all.push(item.clone());
        let text = serde_json::to_vec_pretty(&all).map_err(|e| Error::Corrupt {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        write_atomically(path, &text).await
    }
}

/// The JSON list in `path`, empty when the file does not exist.
async fn list<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    match read(path).await? {
        None => Ok(Vec::new()),
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path: path.to_owned(),
            reason: e.to_string(),
        }),
    }
}

/// The file's bytes, or `None` when it does not exist.
async fn read(path: &Path) -> Result<Option<Vec<u8>>> {
    match tokio::fs::read(path).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            action: "read",
            path: path.to_owned(),
            source,
        }),
    }
}

/// Writes `bytes` to a temporary file beside `path` and renames it over `path`.
async fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |action: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    };
    let folder = path.parent().unwrap_or(Path::new("."));
    tokio::fs::create_dir_all(folder)
        .await
        .map_err(io("create", folder))?;
    let temporary = folder.join(format!(
        ".{}.{}-{:016x}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id(),
        rand::random::<u64>()
    ));
    if let Err(e) = tokio::fs::write(&temporary, bytes).await {
        let _ = tokio::fs::remove_file(&temporary).await;
        return Err(io("write", &temporary)(e));
    }
    if let Err(e) = tokio::fs::rename(&temporary, path).await {
        let _ = tokio::fs::remove_file(&temporary).await;
        return Err(io("replace", path)(e));
    }
    Ok(())
}
