//! `[supply_chain]`: the public keys builds are verified with, and what each environment
//! requires before a digest is pinned there (a signature by one of the keys, an SBOM the
//! build signed, signed provenance from an accepted builder).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{EnvironmentConfig, PipelineConfig};
use ::supply_chain::cosign::PublicKey;
use model::EnvName;

/// The `[supply_chain]` table. Environments override `require_*` with their own keys.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupplyChainConfig {
    /// Public keys (PKIX PEM, `cosign.pub`) a signature may be made with: paths relative to the
    /// workspace, or the PEM text itself. Two at once while a key is rotated.
    pub public_keys: Vec<String>,
    /// Every environment requires a signature unless it says otherwise.
    pub require_signature: bool,
    /// Every environment requires an SBOM (signed by the build) unless it says otherwise.
    pub require_sbom: bool,
    /// Every environment requires signed SLSA provenance unless it says otherwise.
    pub require_provenance: bool,
    /// The `builder.id`s provenance may name, unless an environment lists its own: `local`
    /// for a workstation, `https://github.com/<owner>/<repo>/<workflow path>@<ref>` for a
    /// GitHub Actions workflow.
    pub builders: Vec<String>,
    /// The keys, read and checked at load.
    #[serde(skip)]
    pub keys: Vec<PublicKey>,
    /// `[supply_chain.vex]`: the OpenVEX statements applied to image scans.
    pub vex: VexConfig,
}

/// `[supply_chain.vex]`: where the repository keeps OpenVEX documents and which of them are
/// trusted. Without the table: `security/vex`, any author, statements at most 180 days old,
/// each document signed by one of `public_keys`. A workspace without the directory applies no
/// statement and needs nothing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VexConfig {
    /// The directory of `*.json` OpenVEX documents, relative to the workspace.
    pub dir: PathBuf,
    /// Authors whose documents are accepted (a document's `author`, exactly); empty accepts
    /// any, leaving the signature as the check.
    pub authors: Vec<String>,
    /// The oldest a statement may be, by its `last_updated` or `timestamp`: older ones are
    /// refused until reviewed and issued again.
    #[serde(deserialize_with = "super::duration")]
    pub max_age: Duration,
    /// Every document needs `<file>.sig`, a signature of its bytes by one of `public_keys`.
    pub require_signature: bool,
}

impl Default for VexConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("security/vex"),
            authors: Vec::new(),
            max_age: Duration::from_secs(180 * 24 * 3600),
            require_signature: true,
        }
    }
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
            provenance: env
                .and_then(|e| e.require_provenance)
                .unwrap_or(chain.require_provenance),
            builders: env
                .and_then(|e| e.builders.clone())
                .unwrap_or_else(|| chain.builders.clone()),
        }
    }

    /// Refuses requirements without a key to check them with (a signed SBOM and provenance
    /// are verified with the same keys as signatures), and provenance with no builder to accept.
    pub(super) fn check_supply_chain(&self) -> Result<(), String> {
        let checked: Vec<&str> = self
            .environments
            .iter()
            .filter(|e: &&EnvironmentConfig| self.requirements(&e.name).any())
            .map(|e| e.name.as_str())
            .collect();
        if !checked.is_empty() && self.supply_chain.keys.is_empty() {
            return Err(format!(
                "supply_chain.public_keys: empty, but {} require(s) a signature, a signed SBOM or signed provenance; expected at least one public key (`cargo xtask keys generate` makes a pair)",
                checked.join(", ")
            ));
        }
        for env in &self.environments {
            let required = self.requirements(&env.name);
            if required.provenance && required.builders.iter().all(|b| b.trim().is_empty()) {
                return Err(format!(
                    "environments.{}.builders: empty, but it requires provenance; expected the builder ids it accepts, e.g. \"local\" or \"https://github.com/<owner>/<repo>/.github/workflows/ci.yml@refs/heads/main\"",
                    env.name
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::PipelineConfig;
    use ::supply_chain::cosign::SigningKey;

    const CI: &str =
        "https://github.com/paktech/paktech-gitops/.github/workflows/ci.yml@refs/heads/main";

    fn config(supply_chain: &str, prod: &str) -> String {
        format!(
            r#"
[app]
name = "paktech-app"
[image]
repository = "paktech-app"
[[environments]]
name = "dev"
namespace = "paktech-dev"
[[environments]]
name = "prod"
namespace = "paktech-prod"
{prod}
[supply_chain]
{supply_chain}
"#
        )
    }

    fn parse(text: &str, workspace: &Path) -> Result<PipelineConfig, String> {
        PipelineConfig::parse_in(Path::new("pipeline.toml"), text, workspace)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn keys_from_files_under_the_workspace_or_inline_and_requirements_per_environment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file_key = SigningKey::generate().public_key();
        let inline_key = SigningKey::generate().public_key();
        std::fs::create_dir(dir.path().join("keys")).expect("dir");
        std::fs::write(dir.path().join("keys/cosign.pub"), file_key.to_pem()).expect("key");
        let text = config(
            &format!(
                "public_keys = [\"keys/cosign.pub\", \"\"\"{}\"\"\"]\nrequire_sbom = true\nbuilders = [\"local\"]",
                inline_key.to_pem()
            ),
            &format!(
                "require_signature = true\nrequire_sbom = false\nrequire_provenance = true\nbuilders = [\"{CI}\"]"
            ),
        );
        let c = parse(&text, dir.path()).expect("parses");
        let ids: Vec<&str> = c.supply_chain.keys.iter().map(|k| k.id.as_str()).collect();
        assert_eq!(ids, [file_key.id.as_str(), inline_key.id.as_str()]);
        assert_eq!(c.supply_chain.keys[0].source, "keys/cosign.pub");
        assert_eq!(c.supply_chain.keys[1].source, "inline");
        let dev = c.requirements(&"dev".parse().expect("env"));
        let prod = c.requirements(&"prod".parse().expect("env"));
        assert!(!dev.signature && dev.sbom && !dev.provenance, "{dev:?}");
        assert!(prod.signature && !prod.sbom && prod.provenance, "{prod:?}");
        assert_eq!(dev.builders, ["local"]);
        assert_eq!(prod.builders, [CI]);
        // Without the table: nothing required, no key needed.
        let bare = parse(&config("", ""), dir.path()).expect("parses");
        assert!(!bare.requirements(&"prod".parse().expect("env")).any());
    }

    #[test]
    fn the_vex_table_has_defaults_and_is_read_when_given() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bare = parse(&config("", ""), dir.path()).expect("parses");
        let vex = &bare.supply_chain.vex;
        assert_eq!(vex.dir, Path::new("security/vex"));
        assert!(vex.authors.is_empty() && vex.require_signature);
        assert_eq!(vex.max_age.as_secs(), 180 * 86_400);
        let text = config(
            "[supply_chain.vex]\ndir = \"vex\"\nauthors = [\"security@paktech.example\"]\nmax_age = \"30d\"\nrequire_signature = false",
            "",
        );
        let c = parse(&text, dir.path()).expect("parses");
        let vex = &c.supply_chain.vex;
        assert_eq!(vex.dir, Path::new("vex"));
        assert_eq!(vex.authors, ["security@paktech.example"]);
        assert_eq!(vex.max_age.as_secs(), 30 * 86_400);
        assert!(!vex.require_signature);
        for (table, expected) in [
            ("max_age = \"soon\"", "invalid duration \"soon\""),
            ("trust = \"all\"", "unknown field `trust`"),
        ] {
            let text = config(&format!("[supply_chain.vex]\n{table}"), "");
            let err = parse(&text, dir.path()).expect_err("refused");
            assert!(err.contains(expected), "{err}\nexpected: {expected}");
        }
    }

    #[test]
    fn a_key_that_cannot_be_read_or_is_missing_is_refused_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("bad.pub"), "not a key").expect("file");
        let good = SigningKey::generate().public_key().to_pem();
        std::fs::write(dir.path().join("good.pub"), good).expect("file");
        for (supply_chain, prod, expected) in [
            (
                "public_keys = [\"keys/missing.pub\"]",
                "",
                "supply_chain.public_keys[0]: cannot read",
            ),
            (
                "public_keys = [\"bad.pub\"]",
                "",
                "supply_chain.public_keys[0]: bad.pub is not an ECDSA P-256 public key",
            ),
            (
                "",
                "require_signature = true",
                "supply_chain.public_keys: empty, but prod require(s) a signature",
            ),
            (
                "",
                "require_provenance = true",
                "supply_chain.public_keys: empty, but prod require(s)",
            ),
            (
                "public_keys = [\"good.pub\"]",
                "require_provenance = true",
                "environments.prod.builders: empty, but it requires provenance",
            ),
            ("colour = \"blue\"", "", "unknown field `colour`"),
        ] {
            let err = parse(&config(supply_chain, prod), dir.path()).expect_err("refused");
            assert!(err.starts_with("pipeline.toml: "), "{err}");
            assert!(err.contains(expected), "{err}\nexpected: {expected}");
        }
    }
}

/// What an environment requires of a build before it is pinned there.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Requirements {
    pub signature: bool,
    pub sbom: bool,
    pub provenance: bool,
    /// The `builder.id`s provenance may name (with `provenance`).
    pub builders: Vec<String>,
}

impl Requirements {
    /// Whether anything is required (otherwise no evidence is read).
    pub fn any(&self) -> bool {
        self.signature || self.sbom || self.provenance
    }
}
