//! `cargo xtask keys generate [--out DIR]`: a cosign-format signing key pair. The private key
//! (`cosign.key`, PKCS#8 PEM, mode 0600) goes into the CI platform's secrets, never into git;
//! the public key (`cosign.pub`, PKIX PEM) is committed and listed in `[supply_chain]`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use pipeline::cosign::SigningKey;

use crate::exit::Usage;

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

/// What `keys generate` wrote; the `--json` document.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Generated {
    pub private_key: PathBuf,
    pub public_key: PathBuf,
    key_id: String,
}

impl Args {
    pub async fn run(self, json: bool) -> anyhow::Result<()> {
        let Command::Generate { out } = self.command;
        let generated = generate(&out)?;
        if json {
            return crate::output::print_json(&generated);
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

pub(crate) fn generate(out: &Path) -> anyhow::Result<Generated> {
    let private_key = out.join("cosign.key");
    let public_key = out.join("cosign.pub");
    for path in [&private_key, &public_key] {
        if path.exists() {
            return Err(Usage(format!(
                "{} exists; expected a directory without cosign.key and cosign.pub (keys are never overwritten: move the old pair away first)",
                path.display()
            ))
            .into());
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let key = SigningKey::generate();
    let public = key.public_key();
    write_new(&private_key, key.to_pem().expose(), 0o600)?;
    write_new(&public_key, &public.to_pem(), 0o644)?;
    Ok(Generated {
        private_key,
        public_key,
        key_id: public.id,
    })
}

/// Creates `path` (never replacing a file) with `mode` from the start, so the private key is
/// never readable by others, not even for a moment.
fn write_new(path: &Path, text: &str, mode: u32) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_pair_once_with_a_private_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let generated = generate(dir.path()).expect("generate");
        let private = std::fs::read_to_string(&generated.private_key).expect("key");
        let public = std::fs::read_to_string(&generated.public_key).expect("pub");
        let key = SigningKey::from_pem("cosign.key", &pipeline::model::Secret::new(private))
            .expect("a private key");
        let public = pipeline::cosign::PublicKey::from_pem("cosign.pub", &public).expect("public");
        assert_eq!(key.public_key().id, public.id);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&generated.private_key)
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = generate(dir.path()).expect_err("refuses to overwrite");
        assert!(again.to_string().contains("cosign.key exists"), "{again}");
        assert!(again.downcast_ref::<Usage>().is_some());
    }
}
