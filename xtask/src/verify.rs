//! `cargo xtask verify --sha SHA [--app APP] [--env ENV]`: everything a promotion into ENV
//! (default: the last environment, prod) would check about the build, and why each check
//! passes or fails: its signatures, the SBOM it signed, its provenance, its scan and the VEX
//! statements that scan applied. Writes
//! nothing; exits 3 when the gates would refuse the build, as `promote` would.

use anyhow::Context as _;
use flow::{self, verify};

use context::output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The build: the full git SHA it was built from (or `<sha>-dirty` for a build of a dirty tree).
    #[arg(long)]
    sha: String,
    /// The app (default: the only app).
    #[arg(long)]
    app: Option<String>,
    /// The environment whose gates to apply (default: the last one).
    #[arg(long)]
    env: Option<String>,
}

impl Args {
    pub async fn run(self, json: bool) -> anyhow::Result<()> {
        let config = context::load_config()?;
        let sha = self
            .sha
            .parse()
            .context("bad --sha: expected a full 40-character git SHA, or <sha>-dirty")?;
        let env = match &self.env {
            Some(env) => context::environment(&config, env)?.name.clone(),
            None => config.environments[config.environments.len() - 1]
                .name
                .clone(),
        };
        let app = context::one_app(&config, self.app.as_deref())?.clone();
        let pipeline = context::pipeline_with(config).await?;
        let (verification, refusal) = verify::verify(&pipeline, &app, &env, &sha).await?;
        if json {
            output::print_json(&verification)?;
        } else {
            print(&verification);
        }
        match refusal {
            Some(refusal) => Err(flow::Error::Plan(refusal).into()),
            None => Ok(()),
        }
    }
}

fn print(v: &verify::Verification) {
    println!(
        "{} {} ({}) as {} would check it:",
        v.app, v.sha, v.digest, v.env
    );
    for check in &v.checks {
        let mark = match (check.passed, check.required) {
            (true, _) => "pass",
            (false, true) => "FAIL",
            (false, false) => "-   ",
        };
        let needed = if check.required {
            ""
        } else {
            " (not required)"
        };
        println!("  {mark} {:<10} {}{needed}", check.check, check.detail);
        for other in &check.others {
            println!("       {:<10} {other}", "");
        }
    }
    match &v.refused {
        None => println!("{} would admit it.", v.env),
        Some(why) => println!("{} would refuse it: {why}", v.env),
    }
}
