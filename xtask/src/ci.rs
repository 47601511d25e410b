//! `cargo xtask ci`: see `flow::ci`.

use std::path::PathBuf;

use flow::ci::{self, CiOptions};

use context::output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pull-request mode: run the tests only.
    #[arg(long)]
    pr: bool,
    /// Skip the test step.
    #[arg(long)]
    skip_tests: bool,
    /// Build from a work tree with uncommitted changes (tagged `<sha>-dirty`).
    #[arg(long)]
    allow_dirty: bool,
    /// Use this grype JSON report instead of running grype.
    #[arg(long, value_name = "FILE")]
    scan_report: Option<PathBuf>,
}

impl Args {
    pub async fn run(self, json: bool) -> anyhow::Result<()> {
        // Inputs first: a report that cannot be read is refused before tests and builds run.
        if let Some(report) = &self.scan_report {
            context::read_input("--scan-report", report)?;
        }
        let requested_by = context::identity()?;
        let pipeline = context::pipeline().await?;
        let options = CiOptions {
            pr: self.pr,
            skip_tests: self.skip_tests,
            allow_dirty: self.allow_dirty,
            scan_report: self.scan_report,
            requested_by,
            run_id: context::run_id(),
        };
        let reporter = output::reporter();
        let (report, error) = ci::run(&pipeline, &options, reporter.as_ref()).await;
        output::steps_table(&report.steps);
        if json {
            output::print_json(&report)?;
        } else if error.is_none() && !self.pr {
            let dev = &pipeline.config.first().name;
            for app in &report.apps {
                for url in &app.dev_urls {
                    if pipeline.config.apps.len() > 1 {
                        eprintln!("{} in {dev} runs {url}", app.app);
                    } else {
                        eprintln!("{dev} runs {url}");
                    }
                }
            }
        }
        match error {
            Some(error) => Err(error.into()),
            None => Ok(()),
        }
    }
}
