//! `cargo xtask scan --report FILE`: grype's JSON report, summarised.

use std::path::PathBuf;

use context::output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A report written by `grype <image> -o json` (or `checkov -o json` with --kind checkov).
    #[arg(long, value_name = "FILE")]
    report: PathBuf,
    /// Which scanner wrote the report.
    #[arg(long, value_parser = ["grype", "checkov"], default_value = "grype")]
    kind: String,
}

impl Args {
    pub async fn run(self, json: bool) -> anyhow::Result<()> {
        let bytes = context::read_input("--report", &self.report)?;
        if self.kind == "checkov" {
            let iac = model::scan::parse_checkov(&self.report.display().to_string(), &bytes)?;
            if json {
                return output::print_json(&iac);
            }
            for (framework, s) in &iac {
                println!(
                    "{framework}: {} passed, {} failed, {} skipped",
                    s.passed, s.failed, s.skipped
                );
            }
            return Ok(());
        }
        let scan = model::scan::parse_grype(&self.report.display().to_string(), &bytes)?;
        if json {
            return output::print_json(&scan);
        }
        println!(
            "{}: {} findings ({} fixable)",
            self.report.display(),
            scan.counts.total(),
            scan.fixable
        );
        println!("{}", scan.counts);
        for f in &scan.findings {
            let fix = if f.fixed_in.is_empty() {
                "no fix".to_owned()
            } else {
                format!("fixed in {}", f.fixed_in.join(", "))
            };
            println!(
                "  {:<10} {:<20} {} {} ({fix})",
                f.severity, f.id, f.package, f.version
            );
        }
        Ok(())
    }
}
