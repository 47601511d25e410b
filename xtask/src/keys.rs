//! `cargo xtask keys generate [--out DIR]`: a cosign-format signing key pair. The private key
//! (`cosign.key`, PKCS#8 PEM, mode 0600) goes into the CI platform's secrets, never into git;
//! the public key (`cosign.pub`, PKIX PEM) is committed and listed in `[supply_chain]`.

use std::path::PathBuf;

use context::local_key::generate;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Write a new key pair: cosign.key (private) and cosign.pub (public).
    Generate {
        /// Where to write them; refuses to overwrite either file.
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
    },
}

impl Args {
    pub async fn run(self, json: bool) -> anyhow::Result<()> {
        let Command::Generate { out } = self.command;
        let generated = generate(&out)?;
        if json {
            return context::output::print_json(&generated);
        }
        eprintln!(
            "wrote {} (private, mode 0600) and {} (public), key {}",
            generated.private_key.display(),
            generated.public_key.display(),
            generated.key_id
        );
        eprintln!(
            "commit the public key (e.g. as keys/cosign.pub, listed in [supply_chain] public_keys of pipeline.toml);"
        );
        eprintln!(
            "never commit cosign.key: put its content in the CI secret PAKTECH_SIGNING_KEY, then delete it (docs/operations.md, Supply chain: signing keys)"
        );
        Ok(())
    }
}
