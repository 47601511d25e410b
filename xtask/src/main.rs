//! `cargo xtask`: the PakTech pipeline's command line. Parses, runs one command, and maps
//! the outcome to a documented exit code (see `exit.rs`).

mod bench;
mod exit;
mod image;
mod output;
mod workspace;

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
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the app's container image for the checked-out commit.
    Image(image::Args),
    /// Measure speed and size; figures, never pass/fail.
    Bench(bench::Args),
}

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return exit::usage(&err);
        }
    };
    output::init_logging();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            return exit::report(anyhow::Error::new(err).context("cannot start the async runtime"));
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Image(args) => args.run(cli.json).await,
            Command::Bench(args) => args.run(cli.json).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => exit::report(err),
    }
}
