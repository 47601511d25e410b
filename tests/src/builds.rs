//! Builds of this and of made-up commits, and the digests the registry has for them.

use std::path::Path;

use super::*;

/// Runs `ci` and returns a build that may be promoted: the commit's own, or (on a dirty
/// developer tree, whose `<sha>-dirty` build promotion refuses) a real build of a made-up
/// commit recorded as having passed dev.
pub async fn deploy_dev(pipeline: &Pipeline, docker: &Docker) -> GitSha {
    let options = CiOptions {
        skip_tests: true,
        allow_dirty: true,
        ..CiOptions::new("ci".parse().expect("person"), "run-1")
    };
    let (report, error) = ci::run(pipeline, &options, &Silent).await;
    assert!(error.is_none(), "ci failed: {error:?}");
    let tag = report.image.expect("image").tag;
    if !tag.is_dirty() {
        return tag.sha().clone();
    }
    let sha = another_build(pipeline, docker, None).await;
    let digest = digest_of(pipeline, &sha).await;
    pretend_it_ran(pipeline, "dev", &sha, &digest);
    sync::sync_env(pipeline, pipeline.config.first(), None, &Silent)
        .await
        .expect("dev runs the made-up commit's build");
    sha
}

/// A real build of a made-up commit: the app compiled to report that SHA, or, with
/// `broken_from`, that build with an invalid PORT baked into its configuration, so its
/// replicas never become healthy. Compiled with the `image-test` profile (release without
/// LTO, incremental): a new SHA recompiles the app crate alone and relinks in seconds, and
/// the commit's own release build stays fresh for the next `ci`.
///
/// The good builds are shared between tests ([`made_up`]): a test's `n`th one has the same
/// SHA as every other test's `n`th of the same sources, so it is compiled once per suite
/// run, by whichever test needs it first. A broken one is made for its test alone.
pub async fn another_build(
    pipeline: &Pipeline,
    docker: &Docker,
    broken_from: Option<&GitSha>,
) -> GitSha {
    let Some(from) = broken_from else {
        let sha = made_up(&[&workspace().join("app")], "paktech-app");
        // Another test may be building a faulty app into the same target directory, or this
        // very build.
        let _lock = faulty::BuildLock::take().await;
        if !built(pipeline, docker, APP, &sha).await {
            build_sources(pipeline, docker, workspace(), &sha).await;
        }
        return sha;
    };
    let sha: GitSha = format!("{:040x}", rand::random::<u128>())
        .parse()
        .expect("sha");
    let images = ImageBuilder::new(docker.clone());
    images
        .derive(
            &format!("paktech-app:{from}"),
            &format!("paktech-app:{sha}"),
            &["ENV PORT=not-a-port"],
        )
        .await
        .expect("build the broken image");
    sha
}

/// The made-up commit of this test's next build of `kind` from the sources under `dirs`: 24
/// hex digits of a digest of those sources (every file under the app's and the shared crates'
/// folders, the manifests, the lock file, and `kind`, which names the app and any fault),
/// then the count of such builds this test made before. Tests run in processes of their own,
/// so each test's first build of the same sources has the same SHA; a change to any of them
/// is another SHA, so an image left by an older run is never taken for this one's.
pub fn made_up(dirs: &[&Path], kind: &str) -> GitSha {
    use sha2::Digest as _;
    static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let root = workspace();
    let mut digest = sha2::Sha256::new();
    digest.update(kind.as_bytes());
    let shared = ["service", "build-info"].map(|d| root.join(d));
    let mut files = Vec::new();
    for dir in dirs
        .iter()
        .copied()
        .chain(shared.iter().map(PathBuf::as_path))
    {
        files.extend(files_under(dir).into_iter().map(|f| dir.join(f)));
    }
    files.sort();
    files.extend(["Cargo.toml", "Cargo.lock"].map(|f| root.join(f)));
    for file in files {
        digest.update(file.to_string_lossy().as_bytes());
        digest.update(std::fs::read(&file).unwrap_or_default());
    }
    let sources: String = digest.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{sources}{n:016x}").parse().expect("sha")
}

/// The files under `dir`, as paths relative to it; a `.git` folder is left out.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, relative: &Path, into: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(root.join(relative)) else {
            return;
        };
        for entry in entries.flatten() {
            let name = relative.join(entry.file_name());
            match entry.file_type() {
                Ok(t) if t.is_dir() && entry.file_name() != ".git" => walk(root, &name, into),
                Ok(t) if t.is_file() => into.push(name),
                _ => {}
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, Path::new(""), &mut files);
    files
}

/// Whether the engine has `app`'s image of `sha` already (another test built it).
pub async fn built(pipeline: &Pipeline, docker: &Docker, app: &str, sha: &GitSha) -> bool {
    let repository = &pipeline
        .config
        .app(app)
        .expect("a configured app")
        .repository;
    ImageBuilder::new(docker.clone())
        .inspect(&format!("{repository}:{sha}"))
        .await
        .is_ok()
}

/// Builds the app sources under `sources` (a workspace) as the image of `sha`, with the
/// `image-test` profile; the caller holds [`faulty::BuildLock`].
pub async fn build_sources(pipeline: &Pipeline, docker: &Docker, sources: PathBuf, sha: &GitSha) {
    build_sources_of(pipeline, docker, sources, APP, sha).await;
}

/// Builds `app`'s sources under `sources` as the image of `sha` (see [`build_sources`]).
pub async fn build_sources_of(
    pipeline: &Pipeline,
    docker: &Docker,
    sources: PathBuf,
    app: &str,
    sha: &GitSha,
) {
    let app = pipeline.config.app(app).expect("a configured app");
    let dockerfile = match app.name.as_str() {
        "paktech-gateway" => "gateway/Dockerfile",
        _ => "app/Dockerfile",
    };
    let request = ImageRequest {
        workspace: sources,
        package: app.package().to_owned(),
        dockerfile: dockerfile.into(),
        repository: app.repository.clone(),
        version: "0.1.0".to_owned(),
        source_url: "https://example.invalid/paktech".to_owned(),
        allow_dirty: true,
    };
    build_tag(
        &request,
        ImageTag::clean(sha.clone()),
        1_700_000_000,
        AppProfile::ImageTest,
        &ImageBuilder::new(docker.clone()),
        &Silent,
    )
    .await
    .expect("build");
}
