//! `cargo xtask lint`: `pipeline.toml` against `gitops/`, and against the selected target
//! (`--target`/`PAKTECH_TARGET`), as a command run with the same environment would load it.

use context::workspace;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The GitOps content to check (default: the project's gitops/).
    #[arg(long, value_name = "DIR")]
    gitops: Option<std::path::PathBuf>,
}

impl Args {
    pub async fn run(self, _json: bool) -> anyhow::Result<()> {
        let config = context::load_config()?;
        context::check_target(&config)?;
        let dir = self
            .gitops
            .unwrap_or_else(|| workspace::root().join("gitops"));
        let problems = config::consistency::check(&config, &dir);
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
        anyhow::bail!(context::errors::Inconsistent(problems.len()))
    }
}
