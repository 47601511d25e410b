//! Build an app's container image for the checked-out commit: compile its package into a
//! static binary, send it with the app's Dockerfile as a deterministic context to the engine,
//! tag it `<sha>` (or `<sha>-dirty`) and `latest`.

use std::collections::HashMap;
use std::path::PathBuf;

use adapters::image::{self, ContextFile, ImageBuilder};
use adapters::{binary, source, tools};
use model::report::Reporter;
use model::{ImageTag, Repository};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "the work tree has uncommitted changes ({}); commit them, or pass --allow-dirty to build an image tagged <sha>-dirty",
        summarize(.paths)
    )]
    Dirty { paths: Vec<String> },
    #[error(transparent)]
    Source(#[from] source::Error),
    #[error(transparent)]
    Compile(#[from] tools::Error),
    #[error("reading the work tree was interrupted: {0}")]
    Interrupted(String),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Image(#[from] image::Error),
    #[error(transparent)]
    DependencyList(#[from] binary::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn summarize(paths: &[String]) -> String {
    let mut shown = paths.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    if paths.len() > 3 {
        shown.push_str(&format!(" and {} more", paths.len() - 3));
    }
    shown
}

/// What to build.
#[derive(Debug, Clone)]
pub struct ImageRequest {
    /// The workspace root: holds the apps' sources and Dockerfiles.
    pub workspace: PathBuf,
    /// The Cargo package compiled; its binary has the same name.
    pub package: String,
    /// The Dockerfile, relative to the workspace.
    pub dockerfile: PathBuf,
    pub repository: Repository,
    pub version: String,
    /// Recorded as `org.opencontainers.image.source`.
    pub source_url: String,
    pub allow_dirty: bool,
}

impl ImageRequest {
    /// What building `app` takes: its package, and its Dockerfile (as configured, else the
    /// one beside the package's manifest, found with `cargo metadata`).
    pub async fn for_app(
        workspace: PathBuf,
        app: &config::AppConfig,
        version: String,
        source_url: String,
        allow_dirty: bool,
    ) -> Result<Self> {
        let package = app.package().to_owned();
        let dockerfile = match &app.dockerfile {
            Some(path) => PathBuf::from(path),
            None => {
                let crates = tools::workspace_crates(&workspace).await?;
                let dir = crates
                    .iter()
                    .find(|c| c.name == package)
                    .map(|c| c.dir.clone())
                    .unwrap_or_else(|| package.clone());
                std::path::Path::new(&dir).join("Dockerfile")
            }
        };
        Ok(Self {
            workspace,
            package,
            dockerfile,
            repository: app.repository.clone(),
            version,
            source_url,
            allow_dirty,
        })
    }
}

/// What was built.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BuiltImage {
    pub id: String,
    pub repository: Repository,
    pub tag: ImageTag,
    pub tags: Vec<String>,
    pub size_bytes: u64,
    pub created: String,
    /// The dependency list the image's binary carries, read from the very bytes put into the
    /// image: what its SBOM is made from.
    #[serde(skip)]
    pub dependencies: binary::VersionInfo,
}

impl BuiltImage {
    /// `repository:tag`, the name the image is run and promoted under.
    pub fn name(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }
}

/// Builds the image; see the module documentation.
pub async fn build(
    request: &ImageRequest,
    images: &ImageBuilder,
    reporter: &dyn Reporter,
) -> Result<BuiltImage> {
    // git2 walks the work tree for dirtiness: a blocking thread's job, not the executor's.
    let workspace = request.workspace.clone();
    let state = tokio::task::spawn_blocking(move || source::read(&workspace))
        .await
        .map_err(|joined| Error::Interrupted(joined.to_string()))??;
    if state.is_dirty() && !request.allow_dirty {
        return Err(Error::Dirty {
            paths: state.dirty_paths,
        });
    }
    let tag = tag_of(&state);
    build_tag(
        request,
        tag,
        state.commit_time,
        tools::AppProfile::Release,
        images,
        reporter,
    )
    .await
}

/// The tag a build of the work tree in `state` gets: its commit, `-dirty` when it has
/// uncommitted changes.
fn tag_of(state: &source::SourceState) -> ImageTag {
    if state.is_dirty() {
        ImageTag::dirty(state.sha.clone())
    } else {
        ImageTag::clean(state.sha.clone())
    }
}

/// Compiles `request`'s binary with `profile` exactly as [`build`] would for the work tree as
/// it is (the same tag, version and cargo command), without making an image: a test run's
/// setup compiles once, before the tests that build images or copy the build start.
pub async fn compile(request: &ImageRequest, profile: tools::AppProfile) -> Result<PathBuf> {
    let workspace = request.workspace.clone();
    let state = tokio::task::spawn_blocking(move || source::read(&workspace))
        .await
        .map_err(|joined| Error::Interrupted(joined.to_string()))??;
    Ok(tools::build_static_app(
        &request.workspace,
        &request.package,
        &tag_of(&state).to_string(),
        &request.version,
        profile,
    )
    .await?)
}

/// Builds the work tree as it is under `tag`, stamped with `commit_time`, its binary compiled
/// with `profile`. [`build`] is the way in for a commit (always `Release`); this one lets tests
/// make builds of made-up commits.
pub async fn build_tag(
    request: &ImageRequest,
    tag: ImageTag,
    commit_time: i64,
    profile: tools::AppProfile,
    images: &ImageBuilder,
    reporter: &dyn Reporter,
) -> Result<BuiltImage> {
    const STEP: &str = "build";
    let created = chrono::DateTime::from_timestamp(commit_time, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();

    if adapters::auditable::find(&request.workspace).is_none() {
        let folder = adapters::auditable::folder(&request.workspace);
        reporter.progress(
            STEP,
            format!(
                "cargo-auditable is not installed: installing {} into {} (once; cargo's progress follows)",
                adapters::auditable::VERSION,
                folder.display()
            ),
        );
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        adapters::auditable::install(&request.workspace, &cargo).await?;
    }
    reporter.progress(
        STEP,
        format!("compiling a static {} for {tag}", request.package),
    );
    let binary = tools::build_static_app(
        &request.workspace,
        &request.package,
        &tag.to_string(),
        &request.version,
        profile,
    )
    .await?;
    let read = |path: &PathBuf| {
        std::fs::read(path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })
    };
    let compiled = read(&binary)?;
    let dependencies = binary::dependency_list(&compiled, &binary)?;
    let context = image::context_tar(
        vec![
            ContextFile {
                path: "Dockerfile".to_owned(),
                mode: 0o644,
                contents: read(&request.workspace.join(&request.dockerfile))?,
            },
            ContextFile {
                path: request.package.clone(),
                mode: 0o755,
                contents: compiled,
            },
        ],
        commit_time.max(0) as u64,
    )?;

    let name = format!("{}:{tag}", request.repository);
    let build_args = HashMap::from([
        ("REVISION".to_owned(), tag.sha().to_string()),
        ("VERSION".to_owned(), request.version.clone()),
        ("CREATED".to_owned(), created.clone()),
        ("SOURCE".to_owned(), request.source_url.clone()),
    ]);
    reporter.progress(STEP, format!("docker build {name}"));
    // The builder's stamped image gets a name of its own, kept as this commit's build cache:
    // only the normalised image ever carries `name`, even while another build of the same
    // commit runs beside this one. Nothing is deleted, so neither build can pull an image
    // from under the other.
    let staging_name = format!("{}:build-cache-{tag}", request.repository);
    let built = images
        .build(&staging_name, context, &build_args, |line| {
            reporter.progress(STEP, line.to_owned());
        })
        .await?;
    let id = images.normalize(&built, &name, &created).await?;
    images
        .tag(&id, request.repository.as_str(), "latest")
        .await?;
    let facts = images.inspect(&id).await?;
    Ok(BuiltImage {
        id: facts.id,
        repository: request.repository.clone(),
        tags: vec![name, format!("{}:latest", request.repository)],
        tag,
        size_bytes: facts.size_bytes,
        created,
        dependencies,
    })
}
