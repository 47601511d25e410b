//! `cargo xtask history [--env ENV] [--app APP]...`: see `flow::history`.

use flow::history;

use context::output;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    env: Option<String>,
    /// Only these apps' events (repeatable; default: every app's).
    #[arg(long = "app")]
    apps: Vec<String>,
    /// At most this many events.
    #[arg(long, default_value_t = 50)]
    limit: usize,
}

impl Args {
    pub async fn run(self, json: bool) -> anyhow::Result<()> {
        let config = context::load_config()?;
        if let Some(env) = &self.env {
            context::environment(&config, env)?;
        }
        let apps = context::apps(&config, &self.apps)?;
        let pipeline = context::pipeline_with(config).await?;
        let events = history::history(&pipeline, self.env.as_deref(), &apps, self.limit).await?;
        if json {
            return output::print_json(&events);
        }
        for e in events {
            println!(
                "{}  {}{:<9} {:<8} {:<12} by {:<20} {}",
                e.time,
                e.app.map(|a| format!("{a:<16} ")).unwrap_or_default(),
                e.action,
                e.env,
                e.sha.get(..12).unwrap_or(&e.sha),
                e.by,
                e.detail
            );
        }
        Ok(())
    }
}
