//! Container images through the Docker engine (bollard): build from a tar context, tag, inspect.

use std::collections::HashMap;

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptionsBuilder, TagImageOptionsBuilder};
use futures_util::StreamExt;

/// What can go wrong talking to the engine about images.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot write the build context: {0}")]
    Context(#[source] std::io::Error),
    #[error("docker build of {tag} failed: {message}")]
    Build { tag: String, message: String },
    #[error("docker build of {tag} ended without reporting an image id")]
    NoImageId { tag: String },
    #[error("docker {action} {image}: {source}")]
    Engine {
        action: &'static str,
        image: String,
        #[source]
        source: bollard::errors::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One file of a build context.
#[derive(Debug, Clone)]
pub struct ContextFile {
    pub path: String,
    pub mode: u32,
    pub contents: Vec<u8>,
}

/// A build context as a tar archive whose bytes depend only on the files: entries sorted by
/// path, owner root, and every timestamp set to `mtime` (the commit time), so the same commit
/// always sends the same context and the engine's cache key is stable.
pub fn context_tar(mut files: Vec<ContextFile>, mtime: u64) -> Result<Vec<u8>> {
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut archive = tar::Builder::new(Vec::new());
    archive.mode(tar::HeaderMode::Deterministic);
    for file in &files {
        let mut header = tar::Header::new_gnu();
        header.set_size(file.contents.len() as u64);
        header.set_mode(file.mode);
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        archive
            .append_data(&mut header, &file.path, file.contents.as_slice())
            .map_err(Error::Context)?;
    }
    archive.into_inner().map_err(Error::Context)
}

/// What the engine knows of a built image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImageFacts {
    pub id: String,
    pub size_bytes: u64,
    pub user: String,
    pub labels: HashMap<String, String>,
    pub repo_digests: Vec<String>,
}

/// Builds and inspects images on one engine.
#[derive(Debug, Clone)]
pub struct ImageBuilder {
    docker: Docker,
}

impl ImageBuilder {
    pub fn new(docker: Docker) -> Self {
        Self { docker }
    }

    /// Builds `context` (a tar holding a `Dockerfile`) as `name`, passing `build_args`.
    /// Each line the builder prints is handed to `progress`. Returns the image id.
    #[tracing::instrument(skip_all, fields(image = name))]
    pub async fn build(
        &self,
        name: &str,
        context: Vec<u8>,
        build_args: &HashMap<String, String>,
        mut progress: impl FnMut(&str),
    ) -> Result<String> {
        let options = BuildImageOptionsBuilder::new()
            .dockerfile("Dockerfile")
            .t(name)
            .buildargs(build_args)
            .rm(true)
            .forcerm(true)
            .build();
        let mut stream =
            self.docker
                .build_image(options, None, Some(bollard::body_full(context.into())));
        let mut image_id = None;
        while let Some(item) = stream.next().await {
            let info = item.map_err(|source| match source {
                bollard::errors::Error::DockerStreamError { error } => Error::Build {
                    tag: name.to_owned(),
                    message: error,
                },
                source => Error::Engine {
                    action: "build",
                    image: name.to_owned(),
                    source,
                },
            })?;
            if let Some(detail) = info.error_detail {
                return Err(Error::Build {
                    tag: name.to_owned(),
                    message: detail.message.unwrap_or_else(|| "unknown error".to_owned()),
                });
            }
            if let Some(line) = info
                .stream
                .as_deref()
                .map(str::trim_end)
                .filter(|l| !l.is_empty())
            {
                progress(line);
            }
            if let Some(id) = info.aux.and_then(|aux| aux.id) {
                image_id = Some(id);
            }
        }
        image_id.ok_or_else(|| Error::NoImageId {
            tag: name.to_owned(),
        })
    }

    /// Adds `repository:tag` to an existing image.
    pub async fn tag(&self, image: &str, repository: &str, tag: &str) -> Result<()> {
        let options = TagImageOptionsBuilder::new()
            .repo(repository)
            .tag(tag)
            .build();
        self.docker
            .tag_image(image, Some(options))
            .await
            .map_err(|source| Error::Engine {
                action: "tag",
                image: image.to_owned(),
                source,
            })
    }

    /// The engine's facts about `image` (a name or an id).
    pub async fn inspect(&self, image: &str) -> Result<ImageFacts> {
        let inspect = self
            .docker
            .inspect_image(image)
            .await
            .map_err(|source| Error::Engine {
                action: "inspect",
                image: image.to_owned(),
                source,
            })?;
        let config = inspect.config.unwrap_or_default();
        Ok(ImageFacts {
            id: inspect.id.unwrap_or_default(),
            size_bytes: inspect.size.unwrap_or_default().max(0) as u64,
            user: config.user.unwrap_or_default(),
            labels: config.labels.unwrap_or_default(),
            repo_digests: inspect.repo_digests.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, contents: &[u8]) -> ContextFile {
        ContextFile {
            path: path.to_owned(),
            mode: 0o644,
            contents: contents.to_vec(),
        }
    }

    #[test]
    fn context_is_byte_identical_whatever_the_input_order() {
        let a = context_tar(
            vec![file("b", b"2"), file("Dockerfile", b"FROM scratch")],
            1_700_000_000,
        )
        .expect("tar");
        let b = context_tar(
            vec![file("Dockerfile", b"FROM scratch"), file("b", b"2")],
            1_700_000_000,
        )
        .expect("tar");
        assert_eq!(a, b);
        let c = context_tar(
            vec![file("Dockerfile", b"FROM scratch"), file("b", b"2")],
            1_700_000_001,
        )
        .expect("tar");
        assert_ne!(a, c, "the timestamp is part of the context");
    }

    #[test]
    fn context_entries_are_sorted_and_stamped() {
        let bytes = context_tar(vec![file("z", b""), file("a", b"x")], 42).expect("tar");
        let mut archive = tar::Archive::new(bytes.as_slice());
        let entries: Vec<(String, u64, u64)> = archive
            .entries()
            .expect("entries")
            .map(|e| {
                let e = e.expect("entry");
                let h = e.header();
                (
                    e.path().expect("path").display().to_string(),
                    h.mtime().expect("mtime"),
                    h.uid().expect("uid"),
                )
            })
            .collect();
        assert_eq!(entries, vec![("a".into(), 42, 0), ("z".into(), 42, 0)]);
    }
}
