//! `cargo xtask vex sign FILE`: signs an OpenVEX document with the pipeline's key, writing the
//! detached signature `FILE.sig` that `ci` checks; `cargo xtask vex check`: reads the VEX
//! directory as `ci` does and lists what it would apply, or why it refuses.

use std::path::PathBuf;

use anyhow::Context as _;
use flow::Clock;

use context::errors::Usage;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Sign FILE (an OpenVEX v0.2.0 document) with PAKTECH_SIGNING_KEY (or
    /// PAKTECH_SIGNING_KEY_FILE; on the local target, this machine's key): writes FILE.sig.
    Sign {
        /// The document, e.g. security/vex/paktech-app.json.
        file: PathBuf,
    },
    /// Read every document under `[supply_chain.vex] dir` as `ci` does: signature, author,
    /// age, and the format.
    Check,
}

/// One admitted statement; the `--json` document of `vex check` is a list of them.
#[derive(Debug, serde::Serialize)]
struct Admitted {
    statement: String,
    vulnerability: String,
    status: &'static str,
    justification: Option<&'static str>,
    time: String,
}

impl Args {
    pub async fn run(self, json: bool) -> anyhow::Result<()> {
        let mut config = context::load_config()?;
        // The key `ci` signs with; on the local target, this machine's, then also trusted.
        let signing = context::local_key::add(
            context::selected_target(),
            &mut config,
            context::signing_key()?,
            &context::state_dir(),
        )?;
        match self.command {
            Command::Sign { file } => {
                let bytes = std::fs::read(&file)
                    .map_err(|e| Usage(format!("cannot read {}: {e}", file.display())))?;
                let name = file.display().to_string();
                // Only a document ci would read is worth a signature.
                ::supply_chain::vex::parse(&name, &bytes)?;
                let key = signing.ok_or_else(|| {
                    Usage(
                        "no signing key: set PAKTECH_SIGNING_KEY or PAKTECH_SIGNING_KEY_FILE (docs/operations.md, Supply chain: VEX statements)".to_owned(),
                    )
                })?;
                let sig = PathBuf::from(::supply_chain::vex::signature_name(&name));
                std::fs::write(&sig, key.sign(&bytes))
                    .with_context(|| format!("cannot write {}", sig.display()))?;
                let public = key.public_key();
                let trusted = config.supply_chain.keys.iter().any(|k| k.id == public.id);
                eprintln!("wrote {} (key {})", sig.display(), public.id);
                if !trusted {
                    eprintln!(
                        "warning: key {} is not in supply_chain.public_keys: ci will refuse this signature",
                        public.id
                    );
                }
                Ok(())
            }
            Command::Check => {
                let workspace = context::workspace::root();
                let documents = flow::scan::vex_documents(
                    &workspace,
                    &config.supply_chain,
                    Clock::System.now(),
                )?;
                let admitted: Vec<Admitted> = documents
                    .iter()
                    .flat_map(|d| {
                        d.statements.iter().map(move |s| Admitted {
                            statement: format!("{}#{}", d.file, s.index),
                            vulnerability: s.vulnerability.name.clone(),
                            status: s.status.as_str(),
                            justification: s.justification.map(|j| j.as_str()),
                            time: s.time().to_rfc3339(),
                        })
                    })
                    .collect();
                if json {
                    return context::output::print_json(&admitted);
                }
                eprintln!(
                    "{} document(s), {} statement(s) under {}",
                    documents.len(),
                    admitted.len(),
                    config.supply_chain.vex.dir.display()
                );
                for a in &admitted {
                    println!(
                        "{} {} {}{} ({})",
                        a.statement,
                        a.vulnerability,
                        a.status,
                        a.justification
                            .map(|j| format!(": {j}"))
                            .unwrap_or_default(),
                        a.time
                    );
                }
                Ok(())
            }
        }
    }
}
