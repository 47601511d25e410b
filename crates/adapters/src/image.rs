//! Container images through the Docker engine (bollard): build from a tar context, tag, inspect.

use std::collections::HashMap;

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptionsBuilder, TagImageOptionsBuilder};
use futures_util::StreamExt;
use sha2::Digest as _;

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

    /// Builds `name` from the image `base` plus Dockerfile `instructions` (`ENV …`, `CMD …`):
    /// a variant of a build without compiling anything (the bad releases of the tests and of
    /// the end-to-end run).
    pub async fn derive(&self, base: &str, name: &str, instructions: &[&str]) -> Result<String> {
        let mut dockerfile = format!("FROM {base}\n");
        for instruction in instructions {
            dockerfile.push_str(instruction);
            dockerfile.push('\n');
        }
        let context = context_tar(
            vec![ContextFile {
                path: "Dockerfile".to_owned(),
                mode: 0o644,
                contents: dockerfile.into_bytes(),
            }],
            0,
        )?;
        self.build(name, context, &HashMap::new(), |_| {}).await
    }

    /// Rewrites a freshly built image so its id depends only on its content: the classic
    /// builder stamps build times, the intermediate container and its own version into the
    /// image configuration, so two builds of one commit would differ. The image is saved, its
    /// configuration normalised (see [`normalize_config`]) and loaded back under `name`; the
    /// new id is the configuration's digest, the same on any engine for the same commit.
    #[tracing::instrument(skip_all, fields(image = name))]
    pub async fn normalize(&self, image: &str, name: &str, created: &str) -> Result<String> {
        let engine = |action: &'static str| {
            let image = image.to_owned();
            move |source| Error::Engine {
                action,
                image,
                source,
            }
        };
        let saved: Vec<u8> = self
            .docker
            .export_image(image)
            .map(|chunk| chunk.map(|b| b.to_vec()))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(engine("save"))?
            .concat();
        let mut files = std::collections::BTreeMap::new();
        let mut archive = tar::Archive::new(saved.as_slice());
        for entry in archive.entries().map_err(Error::Context)? {
            let mut entry = entry.map_err(Error::Context)?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let path = entry.path().map_err(Error::Context)?.display().to_string();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes).map_err(Error::Context)?;
            files.insert(path, bytes);
        }
        let malformed = |what: &str| Error::Build {
            tag: name.to_owned(),
            message: format!("docker save gave no {what}"),
        };
        let manifest: serde_json::Value = files
            .get("manifest.json")
            .and_then(|b| serde_json::from_slice(b).ok())
            .ok_or_else(|| malformed("manifest.json"))?;
        let config_path = manifest[0]["Config"]
            .as_str()
            .ok_or_else(|| malformed("config"))?;
        let layers: Vec<String> = manifest[0]["Layers"]
            .as_array()
            .ok_or_else(|| malformed("layer list"))?
            .iter()
            .filter_map(|l| l.as_str().map(str::to_owned))
            .collect();
        let mut config: serde_json::Value = files
            .get(config_path)
            .and_then(|b| serde_json::from_slice(b).ok())
            .ok_or_else(|| malformed("configuration"))?;
        normalize_config(&mut config, created);
        let config_bytes = serde_json::to_vec(&config).unwrap_or_default();
        let digest = format!("{:x}", sha2::Sha256::digest(&config_bytes));

        let mut out = tar::Builder::new(Vec::new());
        out.mode(tar::HeaderMode::Deterministic);
        let mut add = |path: &str, bytes: &[u8]| -> Result<()> {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            out.append_data(&mut header, path, bytes)
                .map_err(Error::Context)
        };
        add(&format!("{digest}.json"), &config_bytes)?;
        for layer in &layers {
            add(layer, files.get(layer).ok_or_else(|| malformed("layer"))?)?;
        }
        let manifest = serde_json::json!([{"Config": format!("{digest}.json"), "RepoTags": [name], "Layers": layers}]);
        add("manifest.json", manifest.to_string().as_bytes())?;
        let archive = out.into_inner().map_err(Error::Context)?;

        let options = bollard::query_parameters::ImportImageOptionsBuilder::new()
            .quiet(true)
            .build();
        let mut stream =
            self.docker
                .import_image(options, bollard::body_full(archive.into()), None);
        while let Some(item) = stream.next().await {
            let info = item.map_err(engine("load"))?;
            if let Some(detail) = info.error_detail {
                return Err(Error::Build {
                    tag: name.to_owned(),
                    message: detail.message.unwrap_or_default(),
                });
            }
        }
        // The stamped original stays, untagged: it is the build cache for the next build of
        // this commit, and a build running beside this one may have been handed it from that
        // cache and be about to save it. `docker image prune` collects it.
        Ok(format!("sha256:{digest}"))
    }

    /// Pushes `repository:tag` to the registry its name points at, with `credentials`
    /// (username and password or token) when given.
    #[tracing::instrument(skip_all, fields(image = %format!("{repository}:{tag}")))]
    pub async fn push(
        &self,
        repository: &str,
        tag: &str,
        credentials: Option<(String, String)>,
    ) -> Result<()> {
        let image = format!("{repository}:{tag}");
        let credentials =
            credentials.map(|(username, password)| bollard::auth::DockerCredentials {
                username: Some(username),
                password: Some(password),
                ..Default::default()
            });
        let options = bollard::query_parameters::PushImageOptionsBuilder::new()
            .tag(tag)
            .build();
        let mut stream = self
            .docker
            .push_image(repository, Some(options), credentials);
        while let Some(item) = stream.next().await {
            let info = item.map_err(|source| Error::Engine {
                action: "push",
                image: image.clone(),
                source,
            })?;
            if let Some(detail) = info.error_detail {
                return Err(Error::Build {
                    tag: image,
                    message: format!("push failed: {}", detail.message.unwrap_or_default()),
                });
            }
        }
        Ok(())
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

/// Removes from an image configuration everything that depends on when, where or by which
/// engine it was built: build times become `created` (the commit time), and the intermediate
/// container, its configuration, the parent image id and the engine version are dropped.
pub fn normalize_config(config: &mut serde_json::Value, created: &str) {
    if let Some(object) = config.as_object_mut() {
        object.remove("container");
        object.remove("container_config");
        object.remove("docker_version");
        object.insert("created".to_owned(), created.into());
        if let Some(inner) = object.get_mut("config").and_then(|c| c.as_object_mut()) {
            inner.remove("Image");
            inner.remove("Hostname");
        }
        if let Some(history) = object.get_mut("history").and_then(|h| h.as_array_mut()) {
            for step in history {
                if let Some(step) = step.as_object_mut() {
                    step.insert("created".to_owned(), created.into());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
