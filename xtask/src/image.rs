//! `cargo xtask image`: build the app's container image for the checked-out commit.

use anyhow::Context;
use pipeline::adapters::{docker, image::ImageBuilder};
use pipeline::flow::image::{self, ImageRequest};
use pipeline::model::Repository;

use crate::output::{self, Lines};
use crate::workspace;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Image repository to tag into.
    #[arg(long, default_value = "paktech-app")]
    repository: String,
    /// Build from a work tree with uncommitted changes; the image is tagged `<sha>-dirty`.
    #[arg(long)]
    allow_dirty: bool,
}

impl Args {
    pub async fn run(self, json: bool) -> anyhow::Result<()> {
        let repository: Repository = self.repository.parse()?;
        let request = ImageRequest {
            workspace: workspace::root(),
            repository,
            version: workspace::VERSION.to_owned(),
            source_url: workspace::SOURCE_URL.to_owned(),
            allow_dirty: self.allow_dirty,
        };
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
