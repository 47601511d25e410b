//! `cargo xtask`: the PakTech pipeline's command line. Parses, runs one command, and maps
//! the outcome to a documented exit code (see `exit.rs`).

mod approve;
mod ci;
mod exit;
mod first_run;
mod github;
mod history;
mod image;
mod infra;
mod keys;
mod lint;
mod metrics;
mod promote;
mod rollback;
mod sbom;
mod scan;
mod status;
mod sync;
mod verify;
mod vex;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "Build, ship and operate paktech-app",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print machine-readable results on stdout (human progress still goes to stderr).
    #[arg(long, global = true)]
    json: bool,
    /// Where environments run.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "PAKTECH_TARGET",
        default_value_t
    )]
    target: context::TargetKind,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Test, build, scan, deploy the build to the first environment, notify.
    Ci(ci::Args),
    /// Promote one exact build into the next environment.
    Promote(promote::Args),
    /// Approve a build for an environment.
    Approve(approve::ApproveArgs),
    /// Revert an environment's values file to the build before the current one.
    Rollback(rollback::Args),
    /// Lift the block a rollback put on a build.
    Unblock(approve::UnblockArgs),
    /// Promotions, approvals, rollbacks and blocks, from the GitOps log.
    History(history::Args),
    /// Delivery figures (DORA) per environment, app and release, from the GitOps history.
    Metrics(metrics::Args),
    /// Show, per environment, the build git names and the build that runs.
    Status(status::Args),
    /// Converge the target to the GitOps repository.
    Sync(sync::Args),
    /// Summarise a grype JSON report.
    Scan(scan::Args),
    /// Print the SBOM (CycloneDX JSON) stored beside a build's image.
    Sbom(sbom::Args),
    /// Everything a promotion would check about a build (signatures, SBOM, provenance, scan, VEX).
    Verify(verify::Args),
    /// Check pipeline.toml against gitops/.
    Lint(lint::Args),
    /// Build the app's container image for the checked-out commit.
    Image(image::Args),
    /// Terraform for AKS, ACR and OIDC federation: plan, apply, drift.
    Infra(infra::Args),
    /// Signing keys: `keys generate` writes a cosign-format pair.
    Keys(keys::Args),
    /// OpenVEX statements: `vex sign FILE` writes FILE.sig; `vex check` reads them as ci does.
    Vex(vex::Args),
    /// Measure speed and size; figures, never pass/fail.
    Bench(bench::Args),
    /// A local kind cluster with Argo CD, a registry and the repositories: up or down.
    Cluster(cluster::Args),
    /// The whole delivery on a cluster (--target kind or aks), checking each step.
    E2e(cluster::e2e::Args),
    /// A read-only web page of every environment, what can move next, and the history.
    Dashboard(dashboard::Args),
}

fn main() -> std::process::ExitCode {
    // The scan benchmark's child: parse one file and report; not a user command.
    if let [_, probe, path] = std::env::args().collect::<Vec<_>>().as_slice()
        && probe == "bench-scan-probe"
    {
        return match bench::scan::probe(path) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(err) => exit::report(err),
        };
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return exit::usage(&err);
        }
    };
    context::output::init_logging();
    context::select_target(cli.target);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            return exit::report(anyhow::Error::new(err).context("cannot start the async runtime"));
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Ci(args) => args.run(cli.json).await,
            Command::Promote(args) => args.run(cli.json).await,
            Command::Approve(args) => args.run(cli.json).await,
            Command::Rollback(args) => args.run(cli.json).await,
            Command::Unblock(args) => args.run(cli.json).await,
            Command::History(args) => args.run(cli.json).await,
            Command::Metrics(args) => args.run(cli.json).await,
            Command::Status(args) => args.run(cli.json).await,
            Command::Sync(args) => args.run(cli.json).await,
            Command::Scan(args) => args.run(cli.json).await,
            Command::Sbom(args) => args.run(cli.json).await,
            Command::Verify(args) => args.run(cli.json).await,
            Command::Lint(args) => args.run(cli.json).await,
            Command::Image(args) => args.run(cli.json).await,
            Command::Infra(args) => args.run(cli.json).await,
            Command::Keys(args) => args.run(cli.json).await,
            Command::Vex(args) => args.run(cli.json).await,
            Command::Bench(args) => args.run(cli.json).await,
            Command::Cluster(args) => args.run(cli.json).await,
            Command::E2e(args) => args.run(cli.json).await,
            Command::Dashboard(args) => args.run(cli.json).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => exit::report(err),
    }
}
