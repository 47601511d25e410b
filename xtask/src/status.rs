//! `cargo xtask status`: per environment, the build git names and the build that runs.

use pipeline::flow::status;

use crate::{context, output};

#[derive(Debug, clap::Args)]
pub struct Args {}

impl Args {
    pub async fn run(self, json: bool) -> anyhow::Result<()> {
        let pipeline = context::pipeline().await?;
        let (tip, envs) = status::status(&pipeline).await?;
        if json {
            return output::print_json(
                &serde_json::json!({"gitops_revision": tip, "environments": envs}),
            );
        }
        println!("GitOps {} at {}", pipeline.gitops.url(), tip);
        println!(
            "{:<9} {:<14} {:<14} {:>7} {:<40} last change",
            "env", "git sha", "running", "ready", "urls"
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
                "{:<9} {:<14} {:<14} {:>7} {:<40} {}",
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
                println!("{:<9} {}", "", e.signature);
            }
        }
        Ok(())
    }
}

fn short(s: &str) -> &str {
    s.get(..12).unwrap_or(s)
}
