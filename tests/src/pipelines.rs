//! The pipelines tests run: over a seeded remote at a fixed daytime clock, in the one-app form, without the supply chain.

use super::*;

/// A pipeline for whole-flow tests of one app: the project's `pipeline.toml` with its first
/// app, paktech-app, alone, a fresh seeded GitOps remote under `dir`, and containers named
/// with `prefix` so tests never touch the developer's own environments.
pub fn test_pipeline(
    dir: &std::path::Path,
    docker: bollard::Docker,
    prefix: &str,
) -> flow::Pipeline {
    let mut pipeline = test_pipeline_of(dir, docker, prefix, &[APP]);
    // Written in the one-app form (`[app]` and `[image]`), as a configuration from before
    // apps: the one-app tests are also the proof that it keeps working unchanged.
    pipeline.config = one_app_form(&pipeline.config);
    pipeline
}

/// The project's `pipeline.toml` in the one-app form (paktech-app alone, as `[app]` and
/// `[image]`), written to `dir`, for `PAKTECH_CONFIG` in command-line tests of one app.
pub fn one_app_config(dir: &std::path::Path) -> PathBuf {
    let text = std::fs::read_to_string(workspace().join("pipeline.toml")).expect("pipeline.toml");
    let path = dir.join("one-app.toml");
    std::fs::write(&path, one_app_text(&text)).expect("write the one-app configuration");
    path
}

/// `text` (a `pipeline.toml`) with its `[[apps]]` replaced by paktech-app in the one-app form.
pub(super) fn one_app_text(text: &str) -> String {
    let (head, rest) = text
        .split_once("[[apps]]")
        .expect("[[apps]] in pipeline.toml");
    let (_, tail) = rest
        .split_once("[gitops]")
        .expect("[gitops] after the apps");
    format!("{head}[app]\nname = \"{APP}\"\n[image]\nrepository = \"{APP}\"\n\n[gitops]{tail}")
}

/// `config`'s environments and settings, with paktech-app declared in the one-app form.
pub fn one_app_form(config: &config::PipelineConfig) -> config::PipelineConfig {
    let text = std::fs::read_to_string(workspace().join("pipeline.toml")).expect("pipeline.toml");
    let legacy = one_app_text(&text);
    let mut parsed =
        config::PipelineConfig::parse_in(&workspace().join("pipeline.toml"), &legacy, &workspace())
            .expect("the one-app form parses");
    assert!(
        parsed.apps.len() == 1 && parsed.apps[0].paths == ["."],
        "one app, rebuilt on any change"
    );
    // Whatever the test changed in the configuration it started from carries over.
    parsed.apps[0].repository = config.apps[0].repository.clone();
    parsed.environments = config.environments.clone();
    parsed.supply_chain = config.supply_chain.clone();
    parsed
}

/// The app the one-app whole-flow tests deliver.
pub const APP: &str = "paktech-app";

/// The app as a name.
pub fn app() -> model::AppName {
    APP.parse().expect("app")
}

/// [`test_pipeline`] delivering `apps` of the project's `pipeline.toml`.
pub fn test_pipeline_of(
    dir: &std::path::Path,
    docker: bollard::Docker,
    prefix: &str,
    apps: &[&str],
) -> flow::Pipeline {
    let mut config =
        config::PipelineConfig::load(&workspace().join("pipeline.toml")).expect("pipeline.toml");
    config.apps.retain(|a| apps.contains(&a.name.as_str()));
    without_supply_chain(&mut config);
    let remote = seeded_remote(dir);
    let gitops =
        adapters::gitops::GitOpsRepo::open(gitops_settings(&remote), &dir.join("mirror.git"))
            .expect("open");
    flow::Pipeline {
        workspace: workspace(),
        config,
        gitops,
        target: adapters::target::Target::Local(adapters::target::LocalTarget::new(
            docker.clone(),
            prefix,
        )),
        images: Some(adapters::image::ImageBuilder::new(docker.clone())),
        slack: None,
        registry: adapters::registry::Registry::Engine(docker),
        attachments: adapters::attachments::Attachments::Local(
            adapters::attachments::LocalAttachments::new(dir.join("attachments")),
        ),
        clock: flow::Clock::Fixed(DAYTIME.parse().expect("DAYTIME")),
        signing_key: None,
    }
}

/// `config` with no environment requiring a signature, an SBOM or provenance: the whole-flow tests of
/// the other gates promote builds they make without a signing key. The supply-chain gate has
/// its own tests (`tests/supply_chain.rs`), which set the requirements back.
pub fn without_supply_chain(config: &mut config::PipelineConfig) {
    config.supply_chain.require_signature = false;
    config.supply_chain.require_sbom = false;
    config.supply_chain.require_provenance = false;
    for env in &mut config.environments {
        env.require_signature = None;
        env.require_sbom = None;
        env.require_provenance = None;
    }
}

/// The project's `pipeline.toml`, written to `dir` with no environment requiring a signature,
/// an SBOM or provenance ([`without_supply_chain`]), for `PAKTECH_CONFIG` in command-line tests; its key
/// paths still resolve in the workspace.
pub fn config_without_supply_chain(dir: &std::path::Path) -> PathBuf {
    let text = std::fs::read_to_string(workspace().join("pipeline.toml")).expect("pipeline.toml");
    let relaxed = text
        .replace("require_signature = true", "require_signature = false")
        .replace("require_sbom = true", "require_sbom = false")
        .replace("require_provenance = true", "require_provenance = false");
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, relaxed).expect("write pipeline.toml");
    path
}
