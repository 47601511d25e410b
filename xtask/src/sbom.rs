//! `cargo xtask sbom`: prints the CycloneDX SBOM stored beside a build's image, as stored
//! (its sha256 is the `Sbom-Digest` trailer of the build's dev commit).

use std::io::Write as _;

use anyhow::Context as _;
use flow::sbom::{self, Which};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The build: a full git SHA (or `<sha>-dirty` for a build of a dirty tree); default: the
    /// build the environment pins.
    #[arg(long, conflicts_with = "env")]
    sha: Option<String>,
    /// The environment whose pinned build to show; default: the first one (dev).
    #[arg(long)]
    env: Option<String>,
    /// The app (default: the only app).
    #[arg(long)]
    app: Option<String>,
}

impl Args {
    /// The document goes to stdout whatever `--json` says (it is JSON); where it came from
    /// goes to stderr.
    pub async fn run(self, _json: bool) -> anyhow::Result<()> {
        let config = context::load_config()?;
        let which = match (&self.sha, &self.env) {
            (Some(sha), _) => Which::Build(sha.parse().context("bad --sha")?),
            (None, Some(env)) => Which::Env(context::environment(&config, env)?.name.clone()),
            (None, None) => Which::Env(config.first().name.clone()),
        };
        let app = context::one_app(&config, self.app.as_deref())?.clone();
        let pipeline = context::pipeline_with(config).await?;
        let shown = sbom::show(&pipeline, &app, &which).await?;
        eprintln!(
            "SBOM {} of {} ({})",
            shown.sbom.digest, shown.image, shown.image_digest
        );
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(&shown.sbom.document)
            .and_then(|()| stdout.flush())
            .context("cannot write the SBOM to stdout")
    }
}
