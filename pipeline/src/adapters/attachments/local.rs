//! The attachment store of the local default: one folder per image under the pipeline's
//! state folder (`.paktech/attachments/sha256-<hex>/`), holding `sbom.json` and
//! `signatures.json`. Every file is written to a temporary name beside it and renamed, so a
//! reader sees the old file or the new one, never half of one.

use std::path::{Path, PathBuf};

use super::{Error, Result, digest_tag, sha256};
use crate::model::{Digest, SignatureLayer};

/// Attachments kept as files under one folder.
#[derive(Debug, Clone)]
pub struct LocalAttachments {
    root: PathBuf,
}

const SBOM: &str = "sbom.json";
const SIGNATURES: &str = "signatures.json";

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
        let path = self.folder(subject).join(SIGNATURES);
        let mut all = self.signatures(subject).await?;
        if all.contains(signature) {
            return Ok(());
        }
        all.push(signature.clone());
        let text = serde_json::to_vec_pretty(&all).map_err(|e| Error::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_atomically(&path, &text).await
    }

    pub(super) async fn signatures(&self, subject: &Digest) -> Result<Vec<SignatureLayer>> {
        let path = self.folder(subject).join(SIGNATURES);
        match read(&path).await? {
            None => Ok(Vec::new()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
                path,
                reason: e.to_string(),
            }),
        }
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
