//! Builds of this and of made-up commits, and the digests the registry has for them.

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
pub async fn another_build(
    pipeline: &Pipeline,
    docker: &Docker,
    broken_from: Option<&GitSha>,
) -> GitSha {
    let sha: GitSha = format!("{:040x}", rand::random::<u128>())
        .parse()
        .expect("sha");
    let images = ImageBuilder::new(docker.clone());
    match broken_from {
        Some(from) => {
            images
                .derive(
                    &format!("paktech-app:{from}"),
                    &format!("paktech-app:{sha}"),
                    &["ENV PORT=not-a-port"],
                )
                .await
                .expect("build the broken image");
        }
        None => {
            // Another test may be building a faulty app into the same target directory.
            let _lock = faulty::BuildLock::take().await;
            build_sources(pipeline, docker, workspace(), &sha).await;
        }
    }
    sha
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
