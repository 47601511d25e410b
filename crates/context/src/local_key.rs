//! This machine's signing key, the local default's: made on first use in the state folder
//! (`.paktech/keys/`), so prod on the local target takes what this machine's `ci` signs with no
//! setup. Only the local target trusts it, and only for images in this machine's engine: a
//! configuration that names a registry (`pipeline.aks.toml`, the kind cluster's) never does.
//! A key in `PAKTECH_SIGNING_KEY` or `PAKTECH_SIGNING_KEY_FILE` takes precedence.

use std::path::{Path, PathBuf};

use anyhow::Context;
use pipeline::config::PipelineConfig;
use pipeline::cosign::{PublicKey, SigningKey};
use pipeline::model::Secret;

use crate::context::TargetKind;

/// How plans and `status` name the key: `this machine's key .paktech/keys/cosign.pub`.
pub const SOURCE: &str = "this machine's key";

/// Whether the local key signs and is trusted: on the local target, for a repository in the
/// local engine's store (no registry host).
pub fn applies(target: TargetKind, config: &PipelineConfig) -> bool {
    target == TargetKind::Local
        && config
            .apps
            .iter()
            .all(|a| pipeline::adapters::registry::split_host(&a.repository).is_none())
}

/// The key pair in `state/keys/`: read, or made when there is none (private key mode 0600,
/// never overwritten, never printed). The public key is named [`SOURCE`] and its path.
pub fn ensure(state: &Path) -> anyhow::Result<(SigningKey, PublicKey)> {
    let dir = state.join("keys");
    let private = dir.join("cosign.key");
    if !private.exists() {
        let made = crate::keys::generate(&dir)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(path: &str, text: &str) -> PipelineConfig {
        PipelineConfig::parse_in(Path::new(path), text, &crate::workspace::root()).expect(path)
    }

    #[test]
    fn only_the_local_target_with_the_local_store_trusts_it() {
        let root = crate::workspace::root();
        let read = |name: &str| std::fs::read_to_string(root.join(name)).expect(name);
        let local = config("pipeline.toml", &read("pipeline.toml"));
        let aks = config(
            "pipeline.aks.toml",
            &read("pipeline.aks.toml").replace("@ACR_LOGIN_SERVER@", "paktech.azurecr.io"),
        );
        // kind's pipeline.toml as `cargo xtask cluster up` writes it.
        let kind_text = crate::cluster::config_for_kind(
            &read("pipeline.toml"),
            Path::new("/state/kind/git/paktech-gitops-state.git"),
        );
        let kind = config("kind/pipeline.toml", &kind_text);
        assert!(applies(TargetKind::Local, &local));
        for target in [TargetKind::Kind, TargetKind::Aks] {
            assert!(!applies(target, &local), "{target:?}");
        }
        for target in [TargetKind::Local, TargetKind::Kind, TargetKind::Aks] {
            assert!(!applies(target, &aks), "pipeline.aks.toml on {target:?}");
            assert!(
                !applies(target, &kind),
                "kind's pipeline.toml on {target:?}"
            );
        }

        let state = tempfile::tempdir().expect("state");
        for (target, mut config) in [(TargetKind::Aks, aks), (TargetKind::Kind, kind)] {
            let keys = config.supply_chain.keys.len();
            let signing = add(target, &mut config, None, state.path()).expect("add");
            assert!(signing.is_none(), "{target:?} signs with nothing");
            assert_eq!(config.supply_chain.keys.len(), keys, "{target:?}");
        }
        assert!(
            !state.path().join("keys").exists(),
            "no key is made where none applies"
        );
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
}
