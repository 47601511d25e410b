//! `cargo xtask image [--app APP]`: build an app's container image for the checked-out commit.

use adapters::{docker, image::ImageBuilder};
use anyhow::Context;
use flow::image::{self, ImageRequest};
use model::Repository;

use context::output::{self, Lines};
use context::workspace;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The app to build (default: the only app, or the first).
    #[arg(long)]
    app: Option<String>,
    /// Image repository to tag into (default: the app's).
    #[arg(long)]
    repository: Option<String>,
    /// Build from a work tree with uncommitted changes; the image is tagged `<sha>-dirty`.
    #[arg(long)]
    allow_dirty: bool,
}

impl Args {
    pub async fn run(self, json: bool) -> anyhow::Result<()> {
        let config = context::load_config()?;
        let app = match &self.app {
            Some(name) => context::one_app(&config, Some(name))?,
            None => &config.apps[0],
        };
        let mut request = ImageRequest::for_app(
            workspace::root(),
            app,
            workspace::VERSION.to_owned(),
            workspace::SOURCE_URL.to_owned(),
            self.allow_dirty,
        )
        .await?;
        if let Some(repository) = &self.repository {
            request.repository = repository.parse::<Repository>()?;
        }
        let images = ImageBuilder::new(docker::connect().await?);
        let built = image::build(&request, &images, &Lines)
            .await
            .context("cannot build the image")?;
        if json {
            output::print_json(&built)?;
        } else {
            println!("image   {}", built.id);
            for tag in &built.tags {
                println!("tag     {tag}");
            }
            println!(
                "size    {} ({} bytes)",
                output::megabytes(built.size_bytes),
                built.size_bytes
            );
            println!("created {}", built.created);
        }
        Ok(())
    }
}
