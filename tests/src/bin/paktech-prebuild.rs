//! The `prebuild` setup script (`.config/nextest.toml`): compiles every app's image binary
//! once, before the tests, exactly as `ci`'s build step does for the work tree as it is
//! (`flow::ci::compile_apps`), and the tests' `image-test` profile when it was never compiled.
//!
//! On a fresh checkout the tests would otherwise compile the same release build twice at
//! once: the first test that runs `ci` in this workspace, and the quickstart's clone, which
//! copies whatever release build exists when it starts (none yet) and compiles its own. With
//! the build done here, the clone finds it fresh and the suite's `ci` builds compile nothing.
//! On a warm checkout everything is fresh and this takes about a second.

use std::process::ExitCode;

use adapters::tools::{self, AppProfile};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let workspace = tests::workspace();
    if adapters::auditable::find(&workspace).is_none() {
        // The tests that build images say what is missing (and fail when it is required).
        println!("prebuild: cargo-auditable missing; nothing compiled ahead");
        return ExitCode::SUCCESS;
    }
    let config = match config::PipelineConfig::load(&workspace.join("pipeline.toml")) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("prebuild: {err}");
            return ExitCode::FAILURE;
        }
    };
    let started = std::time::Instant::now();
    let mut profiles = vec![AppProfile::Release];
    // Made-up builds stamp a new SHA each, so only the first compile of this profile (its
    // dependencies) is worth doing ahead; after it, a stamp here would only recompile the app.
    let image_test = tools::target_dir(&workspace)
        .join(tools::IMAGE_TARGET)
        .join(AppProfile::ImageTest.name());
    if !image_test.is_dir() {
        profiles.push(AppProfile::ImageTest);
    }
    for profile in profiles {
        if let Err(err) = flow::ci::compile_apps(&workspace, &config, profile).await {
            eprintln!("prebuild: {} build: {err}", profile.name());
            return ExitCode::FAILURE;
        }
    }
    println!(
        "prebuild: the apps' image binaries compiled as ci compiles them, in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
