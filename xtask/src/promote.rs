//! `cargo xtask promote --env ENV [--app APP]... [--sha SHA]`: see `flow::promote`.
//! Without `--app`, every app whose build differs from the previous environment's moves, as
//! one release.

use std::io::IsTerminal;
use std::time::Duration;

use flow::promote::{self, ApprovalMode, PromoteOptions};
use model::GitSha;

use context::output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The environment to promote into.
    #[arg(long)]
    env: String,
    /// Move only this app (repeatable; default: every app whose build differs).
    #[arg(long = "app")]
    apps: Vec<String>,
    /// The build to promote (default: the one the previous environment runs).
    #[arg(long)]
    sha: Option<String>,
    /// Print the plan (checks, each environment's gates, values diff, deploy and monitor
    /// steps); write nothing. With --json, the plan as JSON.
    #[arg(long)]
    dry_run: bool,
    /// Do not wait for approvals: exit with code 4 when they are missing.
    #[arg(long)]
    no_wait: bool,
    /// `github`: the job's protected environment is the gate; the run's reviewers, read from
    /// GitHub's API, pass through the same approval rule and are recorded as approvers.
    #[arg(long, value_parser = ["wait", "github"], default_value = "wait")]
    approval: String,
    /// Pass a closed sync window; needs --reason, recorded in the commit.
    #[arg(long, requires = "reason")]
    break_glass: bool,
    /// Why (with --break-glass).
    #[arg(long)]
    reason: Option<String>,
    /// Monitor the environment this long after the change (overrides pipeline.toml).
    #[arg(long, value_parser = humantime::parse_duration)]
    monitor: Option<Duration>,
    /// Request as this person (default: the CI actor or the git identity).
    #[arg(long = "as")]
    requester: Option<String>,
}

impl Args {
    pub async fn run(self, json: bool) -> anyhow::Result<()> {
        // Every input is checked before anything is touched.
        let config = context::load_config()?;
        let env = context::environment(&config, &self.env)?.name.clone();
        let apps = context::apps(&config, &self.apps)?;
        let sha: Option<GitSha> = self.sha.as_deref().map(str::parse).transpose()?;
        let mut requester = context::person(self.requester.as_deref())?;
        let reason = self
            .reason
            .as_deref()
            .map(|r| context::text_arg("--reason", r))
            .transpose()?;
        let approval = match (self.approval.as_str(), self.no_wait) {
            ("github", _) => {
                // The requester is whoever started the run, as GitHub says: never a name given
                // on the command line, which could make a reviewer of the requester.
                if self.requester.is_some() {
                    return Err(context::errors::Usage(
                        "--as cannot be combined with --approval github: the requester is the person who started the run".to_owned(),
                    )
                    .into());
                }
                let (mode, started_by) = crate::github::approval_mode()?;
                requester = started_by;
                mode
            }
            (_, true) => ApprovalMode::NoWait,
            _ if std::io::stdin().is_terminal() => {
                let me = context::identity()?.to_string();
                ApprovalMode::Prompt(std::sync::Arc::new(move |question: String| {
                    eprint!("{question}\nApprove as {me}? [y/N] ");
                    let mut answer = String::new();
                    std::io::stdin().read_line(&mut answer).ok()?;
                    matches!(answer.trim(), "y" | "Y" | "yes").then(|| me.clone())
                }))
            }
            _ => ApprovalMode::Wait,
        };
        let pipeline = context::pipeline_with(config).await?;
        let options = PromoteOptions {
            env,
            apps,
            sha,
            dry_run: self.dry_run,
            requested_by: requester,
            run_id: context::run_id(),
            break_glass: if self.break_glass { reason } else { None },
            approval,
            monitor: self.monitor,
        };
        let reporter = output::reporter();
        let (report, error) = promote::run(&pipeline, &options, reporter.as_ref()).await;
        output::steps_table(&report.steps);
        if json {
            match (&report.plan, self.dry_run) {
                (Some(plan), true) => output::print_json(plan)?,
                _ => output::print_json(&report)?,
            }
        } else if let (Some(plan), true) = (&report.plan, self.dry_run) {
            println!("{plan}");
            println!("Dry run: nothing was written.");
        } else {
            for e in &report.environments {
                eprintln!("{}: {}", e.env, e.outcome);
                for line in &e.diff {
                    eprintln!("    {line}");
                }
            }
        }
        match error {
            Some(error) => Err(error.into()),
            None => Ok(()),
        }
    }
}
