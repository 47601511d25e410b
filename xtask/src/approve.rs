//! `cargo xtask approve --env ENV [--sha SHA]` and `cargo xtask unblock --sha SHA --reason TEXT`.

use flow::approve;
use model::GitSha;

use context::output;

#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    #[arg(long)]
    env: String,
    /// What to approve: a build's SHA, a release's id, or the commit a waiting release's
    /// builds were made from; default: the newest request to promote into ENV still waiting
    /// for approvals. The output names what was approved.
    #[arg(long)]
    sha: Option<String>,
    /// Approve as this person (default: the CI actor or the git identity).
    #[arg(long = "as")]
    approver: Option<String>,
    #[arg(long)]
    comment: Option<String>,
}

impl ApproveArgs {
    pub async fn run(self, json: bool) -> anyhow::Result<()> {
        let config = context::load_config()?;
        let env = context::environment(&config, &self.env)?.name.clone();
        let sha: Option<GitSha> = self.sha.as_deref().map(str::parse).transpose()?;
        let approver = context::person(self.approver.as_deref())?;
        let comment = self
            .comment
            .as_deref()
            .map(|c| context::text_arg("--comment", c))
            .transpose()?;
        let pipeline = context::pipeline_with(config).await?;
        let approved = approve::approve(
            &pipeline,
            &env,
            sha.as_ref(),
            &approver,
            comment.map(|c| c.to_string()),
        )
        .await?;
        if json {
            output::print_json(&approved.written)?;
        } else {
            let request = &approved.request;
            let what = if request.builds.len() > 1 {
                format!("release {}", policy::approval::choice::describe(request))
            } else {
                request.sha.to_string()
            };
            eprintln!("{approver} approved {what} for {env}");
        }
        Ok(())
    }
}

#[derive(Debug, clap::Args)]
pub struct UnblockArgs {
    #[arg(long)]
    sha: String,
    /// The app whose build is blocked (default: the only app).
    #[arg(long)]
    app: Option<String>,
    #[arg(long)]
    reason: String,
    #[arg(long = "as")]
    by: Option<String>,
}

impl UnblockArgs {
    pub async fn run(self, json: bool) -> anyhow::Result<()> {
        let config = context::load_config()?;
        let sha: GitSha = self.sha.parse()?;
        let app = context::one_app(&config, self.app.as_deref())?.name.clone();
        let reason = context::text_arg("--reason", &self.reason)?;
        let by = context::person(self.by.as_deref())?;
        let pipeline = context::pipeline_with(config).await?;
        let written = approve::unblock(&pipeline, &app, &sha, &by, &reason).await?;
        if json {
            output::print_json(&written)?;
        } else {
            eprintln!("{sha} is no longer blocked");
        }
        Ok(())
    }
}
