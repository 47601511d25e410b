//! `[local]`: what the local target (Docker on this machine) names what it runs after.

use serde::Deserialize;

/// The prefix when `[local] prefix` is not set: the project's name.
pub const DEFAULT_PREFIX: &str = "paktech";

/// The `[local]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalConfig {
    /// Environments' networks are `<prefix>-<env>`, replicas `<prefix>-<app>-<env>-<id>`.
    pub prefix: String,
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_PREFIX.to_owned(),
        }
    }
}

impl LocalConfig {
    /// What is wrong with the table, naming the key; `None` when it is usable.
    pub(super) fn problem(&self) -> Option<String> {
        (!is_docker_name(&self.prefix)).then(|| {
            format!(
                "local.prefix: {:?} cannot start a Docker network's or container's name; expected a letter or digit, then letters, digits, '_', '.' or '-', such as \"{DEFAULT_PREFIX}\"",
                self.prefix
            )
        })
    }
}

/// Whether `name` is a name Docker takes for a container or a network
/// (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`, moby `daemon/names`).
pub fn is_docker_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}
