//! `[ci]`: what `ci`'s test step runs. A delivery of the app waits on the tests that gate it
//! (the service's own and the pipeline's unit tests), not on the pipeline's whole-flow suite,
//! which the README's test command and `.ci/run` run.

use serde::Deserialize;

/// The packages `ci`'s test step tests when `pipeline.toml` names none.
/// The pipeline's unit tests are those of its library crates (`crates/`): every layer below the
/// command line's.
pub const DEFAULT_TEST_PACKAGES: [&str; 8] = [
    "paktech-app",
    "model",
    "supply-chain",
    "delivery",
    "config",
    "policy",
    "adapters",
    "flow",
];

/// The `[ci]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CiConfig {
    /// The workspace packages whose tests `ci` runs before it builds (`cargo nextest run
    /// --package …`).
    pub test: Vec<String>,
}

impl Default for CiConfig {
    fn default() -> Self {
        Self {
            test: DEFAULT_TEST_PACKAGES.map(str::to_owned).to_vec(),
        }
    }
}

impl CiConfig {
    /// What is wrong with the table, naming the key; `None` when it is usable.
    pub(super) fn problem(&self) -> Option<String> {
        if self.test.is_empty() {
            return Some(
                "ci.test: empty; expected at least one package, such as [\"paktech-app\", \"flow\"] (`cargo xtask ci --skip-tests` skips the step for one run)"
                    .to_owned(),
            );
        }
        for (i, name) in self.test.iter().enumerate() {
            if !is_package_name(name) {
                return Some(format!(
                    "ci.test[{i}]: {name:?} is not a package name; expected a workspace package such as \"flow\" (letters, digits, '-' and '_')"
                ));
            }
            if self.test[..i].contains(name) {
                return Some(format!(
                    "ci.test[{i}]: {name:?} appears twice; expected each package once"
                ));
            }
        }
        None
    }
}

/// Cargo's package names: ASCII letters, digits, `-` and `_`, not starting with a digit or a
/// dash (so an entry can never read as a flag).
fn is_package_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::PipelineConfig;
    use crate::tests::GOOD;

    fn parse(ci: &str) -> Result<PipelineConfig, String> {
        PipelineConfig::parse(Path::new("pipeline.toml"), &format!("{GOOD}{ci}"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_default_is_the_service_and_the_pipeline_and_a_list_replaces_it() {
        assert_eq!(
            parse("").expect("no table").ci.test,
            [
                "paktech-app",
                "model",
                "supply-chain",
                "delivery",
                "config",
                "policy",
                "adapters",
                "flow"
            ]
        );
        assert_eq!(
            parse("[ci]\ntest = [\"paktech-app\", \"pipeline\", \"tests\"]\n")
                .expect("three")
                .ci
                .test,
            ["paktech-app", "pipeline", "tests"]
        );
    }

    #[test]
    fn refusals_name_the_key() {
        for (ci, expected) in [
            (
                "[ci]\ntest = []\n",
                "ci.test: empty; expected at least one package",
            ),
            (
                "[ci]\ntest = [\"pipeline\", \"--workspace\"]\n",
                "ci.test[1]: \"--workspace\" is not a package name",
            ),
            (
                "[ci]\ntest = [\"\"]\n",
                "ci.test[0]: \"\" is not a package name",
            ),
            (
                "[ci]\ntest = [\"app; rm -rf /\"]\n",
                "ci.test[0]: \"app; rm -rf /\" is not a package name",
            ),
            (
                "[ci]\ntest = [\"pipeline\", \"pipeline\"]\n",
                "ci.test[1]: \"pipeline\" appears twice",
            ),
            (
                "[ci]\ntest = \"pipeline\"\n",
                "invalid type: string \"pipeline\", expected a sequence",
            ),
            ("[ci]\ntests = [\"pipeline\"]\n", "unknown field `tests`"),
        ] {
            let err = parse(ci).expect_err(ci);
            assert!(err.starts_with("pipeline.toml: "), "{err}");
            assert!(err.contains(expected), "{err}\nexpected: {expected}");
        }
    }
}
