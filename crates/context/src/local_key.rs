//! This machine's signing key, the local default's: made on first use in the state folder
//! (`.paktech/keys/`), so prod on the local target takes what this machine's `ci` signs with no
//! setup. Only the local target trusts it, and only for images in this machine's engine: a
//! configuration that names a registry (`pipeline.aks.toml`, the kind cluster's) never does.
//! A key in `PAKTECH_SIGNING_KEY` or `PAKTECH_SIGNING_KEY_FILE` takes precedence.

use std::io::Write;
use std::path::{Path, PathBuf};

use ::supply_chain::cosign::{PublicKey, SigningKey};
use anyhow::Context;
use config::PipelineConfig;
use model::Secret;

use crate::TargetKind;

/// How plans and `status` name the key: `this machine's key .paktech/keys/cosign.pub`.
pub const SOURCE: &str = "this machine's key";

/// Whether the local key signs and is trusted: on the local target, for a repository in the
/// local engine's store (no registry host).
pub fn applies(target: TargetKind, config: &PipelineConfig) -> bool {
    target == TargetKind::Local
        && config
            .apps
            .iter()
            .all(|a| adapters::registry::split_host(&a.repository).is_none())
}

/// The key pair in `state/keys/`: read, or made when there is none (private key mode 0600,
/// never overwritten, never printed). The public key is named [`SOURCE`] and its path.
pub fn ensure(state: &Path) -> anyhow::Result<(SigningKey, PublicKey)> {
    let dir = state.join("keys");
    let private = dir.join("cosign.key");
    if !private.exists() {
        let made = generate(&dir)?;
        eprintln!(
            "created this machine's signing key {} (private, mode 0600); the local target trusts {}",
            made.private_key.display(),
            made.public_key.display()
        );
    }
    let key = read(&private)?;
    let mut public = key.public_key();
    let path = dir.join("cosign.pub");
    let shown = path
        .strip_prefix(crate::workspace::root())
        .unwrap_or(&path)
        .display()
        .to_string();
    public.source = format!("{SOURCE} {shown}");
    Ok((key, public))
}

fn read(path: &PathBuf) -> anyhow::Result<SigningKey> {
    let pem = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read this machine's signing key {}; remove the keys folder to make a new one",
            path.display()
        )
    })?;
    Ok(SigningKey::from_pem(
        &path.display().to_string(),
        &Secret::new(pem),
    )?)
}

/// Adds the local key for `target` when it applies: `ci` signs with it and the configuration
/// trusts its public key beside `[supply_chain] public_keys`. `signing` is the key from the
/// environment, which wins: then nothing changes.
pub fn add(
    target: TargetKind,
    config: &mut PipelineConfig,
    signing: Option<SigningKey>,
    state: &Path,
) -> anyhow::Result<Option<SigningKey>> {
    if signing.is_some() || !applies(target, config) {
        return Ok(signing);
    }
    let (key, public) = ensure(state)?;
    config.supply_chain.keys.push(public);
    Ok(Some(key))
}

/// Writes a new key pair into `out`: `cosign.key` (PKCS#8 PEM, mode 0600) and `cosign.pub`
/// (PKIX PEM); refuses to overwrite either (`cargo xtask keys generate`, and this machine's key).
/// What `keys generate` wrote; the `--json` document.
#[derive(Debug, serde::Serialize)]
pub struct Generated {
    pub private_key: PathBuf,
    pub public_key: PathBuf,
    pub key_id: String,
}

pub fn generate(out: &Path) -> anyhow::Result<Generated> {
    let private_key = out.join("cosign.key");
    let public_key = out.join("cosign.pub");
    for path in [&private_key, &public_key] {
        if path.exists() {
            return Err(crate::errors::Usage(format!(
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

    fn config(path: &str, text: &str) -> PipelineConfig {
        PipelineConfig::parse_in(Path::new(path), text, &crate::workspace::root()).expect(path)
    }

    #[test]
    fn made_once_private_and_trusted_after_the_committed_keys() {
        let state = tempfile::tempdir().expect("state");
        let root = crate::workspace::root();
        let text = std::fs::read_to_string(root.join("pipeline.toml")).expect("pipeline.toml");
        let mut local = config("pipeline.toml", &text);
        let committed = local.supply_chain.keys.clone();
        let signing = add(TargetKind::Local, &mut local, None, state.path())
            .expect("add")
            .expect("a key");
        let private = state.path().join("keys/cosign.key");
        let pem = std::fs::read_to_string(&private).expect("private key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&private)
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let trusted = &local.supply_chain.keys;
        assert_eq!(&trusted[..committed.len()], committed.as_slice());
        assert_eq!(trusted.len(), committed.len() + 1);
        assert_eq!(trusted[committed.len()].id, signing.public_key().id);
        assert!(
            trusted[committed.len()]
                .source
                .starts_with("this machine's key /"),
            "{}",
            trusted[committed.len()].source
        );

        // Used again, never replaced.
        let (again, _) = ensure(state.path()).expect("again");
        assert_eq!(again.public_key().id, signing.public_key().id);
        assert_eq!(std::fs::read_to_string(&private).expect("key"), pem);

        // A key from the environment wins: nothing is added.
        let mut other = config("pipeline.toml", &text);
        let env_key = SigningKey::generate();
        let id = env_key.public_key().id;
        let kept = add(TargetKind::Local, &mut other, Some(env_key), state.path())
            .expect("add")
            .expect("the environment's key");
        assert_eq!(kept.public_key().id, id);
        assert_eq!(other.supply_chain.keys, committed);
    }

    #[test]
    fn writes_a_pair_once_with_a_private_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let generated = generate(dir.path()).expect("generate");
        let private = std::fs::read_to_string(&generated.private_key).expect("key");
        let public = std::fs::read_to_string(&generated.public_key).expect("pub");
        let key = SigningKey::from_pem("cosign.key", &model::Secret::new(private))
            .expect("a private key");
        let public =
            ::supply_chain::cosign::PublicKey::from_pem("cosign.pub", &public).expect("public");
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
        assert!(again.downcast_ref::<crate::errors::Usage>().is_some());
    }
}
