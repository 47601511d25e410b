//! `cargo xtask status [--app APP]...`: per app and environment, the build git names and the
//! build that runs.

use flow::status;

use context::output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only these apps (repeatable; default: every app).
    #[arg(long = "app")]
    apps: Vec<String>,
}

impl Args {
    pub async fn run(self, json: bool) -> anyhow::Result<()> {
        let config = context::load_config()?;
        let apps = context::apps(&config, &self.apps)?;
        let several = config.apps.len() > 1;
        let pipeline = context::pipeline_with(config).await?;
        let (tip, envs) = status::status(&pipeline, &apps).await?;
        if json {
            return output::print_json(
                &serde_json::json!({"gitops_revision": tip, "environments": envs}),
            );
        }
        println!("GitOps {} at {}", pipeline.gitops.url(), tip);
        let width = if several {
            envs.iter()
                .filter_map(|e| e.app.as_ref().map(String::len))
                .max()
                .unwrap_or(3)
                + 1
        } else {
            0
        };
        println!(
            "{:<width$}{:<9} {:<14} {:<14} {:>7} {:<40} last change",
            if several { "app" } else { "" },
            "env",
            "git sha",
            "running",
            "ready",
            "urls"
        );
        for e in envs {
            let running = match e.running_shas.as_slice() {
                [] => "-".to_owned(),
                [one] => short(one).to_owned(),
                many => format!("{} builds", many.len()),
            };
            let last = e
                .last_change
                .map(|c| {
                    format!(
                        "{} {} by {}: {}",
                        short(c.revision.as_str()),
                        c.time,
                        c.author,
                        c.subject
                    )
                })
                .unwrap_or_default();
            println!(
                "{:<width$}{:<9} {:<14} {:<14} {:>7} {:<40} {}",
                e.app.as_deref().unwrap_or_default(),
                e.env,
                if e.desired_sha.is_empty() {
                    "-"
                } else {
                    short(&e.desired_sha)
                },
                running,
                format!("{}/{}", e.ready, e.desired_replicas),
                e.urls.join(" "),
                last
            );
            if !e.signature.is_empty() {
                println!("{:<width$}{:<9} {}", "", "", e.signature);
            }
        }
        Ok(())
    }
}

fn short(s: &str) -> &str {
    s.get(..12).unwrap_or(s)
}
