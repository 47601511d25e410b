//! `cargo xtask infra plan|apply|drift`: the Terraform in `infra/`, through the terraform CLI.

use adapters::notify::{Notice, Slack};
use adapters::tools;
use anyhow::bail;
use model::Secret;

use context::workspace;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// `terraform init` and `plan`.
    Plan,
    /// `terraform init` and `apply` (auto-approved: run it behind a protected environment).
    Apply,
    /// `plan -detailed-exitcode`: exit 0 when the cloud matches infra/, 5 (`exit::DRIFT`, and a
    /// Slack message) when it drifted, 1 when the plan failed. Terraform's own 2 (changes) is
    /// read from the terraform binary, never through setup-terraform's wrapper, which exits 0
    /// (terraform.yml sets terraform_wrapper: false).
    Drift,
}

impl Args {
    pub async fn run(self, _json: bool) -> anyhow::Result<()> {
        let dir = workspace::root().join("infra");
        let init = tools::terraform(&dir, &["init", "-input=false"]).await?;
        if init != 0 {
            bail!("terraform init failed with exit code {init}");
        }
        match self.action {
            Action::Plan => expect_zero(
                tools::terraform(&dir, &["plan", "-input=false"]).await?,
                "plan",
            ),
            Action::Apply => expect_zero(
                tools::terraform(&dir, &["apply", "-input=false", "-auto-approve"]).await?,
                "apply",
            ),
            Action::Drift => {
                match tools::terraform(&dir, &["plan", "-input=false", "-detailed-exitcode"])
                    .await?
                {
                    0 => {
                        eprintln!("no drift: the infrastructure matches infra/");
                        Ok(())
                    }
                    2 => {
                        notify_drift().await;
                        Err(context::errors::Drifted.into())
                    }
                    code => bail!("terraform plan failed with exit code {code}"),
                }
            }
        }
    }
}

fn expect_zero(code: i32, what: &str) -> anyhow::Result<()> {
    if code == 0 {
        Ok(())
    } else {
        bail!("terraform {what} failed with exit code {code}")
    }
}

async fn notify_drift() {
    let Ok(url) = std::env::var("SLACK_WEBHOOK_URL") else {
        return;
    };
    let Ok(config) = context::load_config() else {
        return;
    };
    let slack = Slack::new(
        Secret::new(url),
        config.notify.timeout,
        config.notify.attempts,
    );
    let notice = Notice {
        headline: "infrastructure drift detected".to_owned(),
        ok: false,
        facts: vec![(
            "Where".to_owned(),
            "infra/ (terraform plan shows changes)".to_owned(),
        )],
    };
    if let Err(e) = slack.post(&notice).await {
        eprintln!("warning: {e}");
    }
}
