//! `[supply_chain]`: the public keys builds are verified with, and what each environment
//! requires before a digest is pinned there (a signature by one of the keys, an SBOM).

use std::path::Path;

use serde::Deserialize;

use super::{EnvironmentConfig, PipelineConfig};
use crate::cosign::PublicKey;
use crate::model::EnvName;
use crate::policy::supply_chain::Requirements;

/// The `[supply_chain]` table. Environments override `require_*` with their own keys.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupplyChainConfig {
    /// Public keys (PKIX PEM, `cosign.pub`) a signature may be made with: paths relative to the
    /// workspace, or the PEM text itself. Two at once while a key is rotated.
    pub public_keys: Vec<String>,
    /// Every environment requires a signature unless it says otherwise.
    pub require_signature: bool,
    /// Every environment requires an SBOM unless it says otherwise.
    pub require_sbom: bool,
    /// The keys, read and checked at load.
    #[serde(skip)]
    pub keys: Vec<PublicKey>,
}

impl SupplyChainConfig {
    /// Reads every configured key (relative paths under `workspace`); the message names the
    /// entry and the file.
    pub(super) fn read_keys(&mut self, workspace: &Path) -> Result<(), String> {
        self.keys = self
            .public_keys
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let at = format!("supply_chain.public_keys[{i}]");
                if entry.trim_start().starts_with("-----BEGIN") {
                    return PublicKey::from_pem("inline", entry)
                        .map_err(|e| format!("{at}: {e}"));
                }
                let path = workspace.join(entry);
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    format!(
                        "{at}: cannot read {}: {e}; expected a PEM public key file (relative to the workspace) or the PEM text",
                        path.display()
                    )
                })?;
                PublicKey::from_pem(entry, &text).map_err(|e| format!("{at}: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(())
    }
}

impl PipelineConfig {
    /// What `env` requires before a digest is pinned there.
    pub fn requirements(&self, env: &EnvName) -> Requirements {
        let chain = &self.supply_chain;
        let env = self.environments.iter().find(|e| &e.name == env);
        Requirements {
            signature: env
                .and_then(|e| e.require_signature)
                .unwrap_or(chain.require_signature),
            sbom: env
                .and_then(|e| e.require_sbom)
                .unwrap_or(chain.require_sbom),
        }
    }

    /// Refuses signature requirements without a key to check them with.
    pub(super) fn check_supply_chain(&self) -> Result<(), String> {
        let signed: Vec<&str> = self
            .environments
            .iter()
            .filter(|e: &&EnvironmentConfig| self.requirements(&e.name).signature)
            .map(|e| e.name.as_str())
            .collect();
        if !signed.is_empty() && self.supply_chain.keys.is_empty() {
            return Err(format!(
                "supply_chain.public_keys: empty, but {} require(s) a signature; expected at least one public key (`cargo xtask keys generate` makes a pair)",
                signed.join(", ")
            ));
        }
        Ok(())
    }
}
