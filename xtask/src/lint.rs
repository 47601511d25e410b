//! `cargo xtask lint`: `pipeline.toml` against `gitops/`.

use crate::{context, workspace};

#[derive(Debug, clap::Args)]
pub struct Args {}

impl Args {
    pub async fn run(self, _json: bool) -> anyhow::Result<()> {
        let config = context::load_config()?;
        let problems = pipeline::consistency::check(&config, &workspace::root().join("gitops"));
        if problems.is_empty() {
            eprintln!(
                "pipeline.toml and gitops/ agree: {} environments",
                config.environments.len()
            );
            return Ok(());
        }
        for p in &problems {
            eprintln!("  {p}");
        }
        anyhow::bail!(crate::exit::Inconsistent(problems.len()))
    }
}
