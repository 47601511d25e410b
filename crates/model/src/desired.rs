//! An environment's desired state, read from its values file at one GitOps revision. Pure:
//! the caller fetched the file.

use std::collections::BTreeMap;

use crate::values::{self, Document};
use crate::{AppName, Digest, EnvName, GitSha, ImageTag, Repository};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Values(#[from] values::Error),
    #[error("{file}: {key} is {value:?}: expected {expected}")]
    Invalid {
        file: String,
        key: String,
        value: String,
        expected: String,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What should run of one app in one environment, as of one GitOps revision.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DesiredState {
    pub app: AppName,
    pub env: EnvName,
    pub revision: GitSha,
    /// `None` while the environment has never been deployed (empty tag).
    pub image: Option<PinnedImage>,
    pub replicas: u32,
    /// Ready replicas that must remain during a rollout (the PodDisruptionBudget's floor).
    pub min_available: u32,
    /// Environment variables of the container, sorted.
    pub variables: BTreeMap<String, String>,
    pub memory_limit_bytes: Option<i64>,
    pub cpu_limit_nanos: Option<i64>,
}

/// An image named by tag and, when the values pin one, by digest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PinnedImage {
    pub repository: Repository,
    pub tag: ImageTag,
    pub digest: Option<Digest>,
}

impl PinnedImage {
    pub fn name(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }
}

impl DesiredState {
    /// Reads the desired state from an environment's values document.
    pub fn from_values(
        app: &AppName,
        env: &EnvName,
        revision: &GitSha,
        doc: &Document,
    ) -> Result<Self> {
        let invalid = |key: &str, value: &str, expected: &str| Error::Invalid {
            file: doc.file().to_owned(),
            key: key.to_owned(),
            value: value.to_owned(),
            expected: expected.to_owned(),
        };
        let repository = doc.require("image.repository", "the image repository")?;
        let tag = doc.require("image.tag", "a git SHA or \"\"")?;
        let digest = doc.require("image.digest", "a digest or \"\"")?;
        let image = if tag.is_empty() {
            None
        } else {
            Some(PinnedImage {
                repository: repository.parse().map_err(|e: crate::InvalidValue| {
                    invalid("image.repository", repository, e.expected)
                })?,
                tag: tag
                    .parse()
                    .map_err(|e: crate::InvalidValue| invalid("image.tag", tag, e.expected))?,
                digest: if digest.is_empty() {
                    None
                } else {
                    Some(digest.parse().map_err(|e: crate::InvalidValue| {
                        invalid("image.digest", digest, e.expected)
                    })?)
                },
            })
        };
        let count = |key: &str| -> Result<Option<u32>> {
            match doc.get(key) {
                None => Ok(None),
                Some(v) => v
                    .parse()
                    .map(Some)
                    .map_err(|_| invalid(key, v, "a whole number from 0")),
            }
        };
        let replicas = count("replicaCount")?.unwrap_or(1);
        let pdb_enabled = doc.get("podDisruptionBudget.enabled") == Some("true");
        let min_available = if pdb_enabled {
            count("podDisruptionBudget.minAvailable")?.unwrap_or(0)
        } else {
            0
        };
        if min_available > replicas {
            return Err(invalid(
                "podDisruptionBudget.minAvailable",
                &min_available.to_string(),
                &format!(
                    "at most replicaCount ({replicas}): more can never be available, so no rollout or node drain could retire a replica"
                ),
            ));
        }
        let variables = doc
            .under("env.")
            .map(|(k, v)| (k.trim_start_matches("env.").to_owned(), v.to_owned()))
            .collect();
        let memory_limit_bytes = match doc.get("resources.limits.memory") {
            None => None,
            Some(v) => Some(memory_bytes(v).ok_or_else(|| {
                invalid("resources.limits.memory", v, "a quantity such as 128Mi")
            })?),
        };
        let cpu_limit_nanos = match doc.get("resources.limits.cpu") {
            None => None,
            Some(v) => Some(cpu_nanos(v).ok_or_else(|| {
                invalid("resources.limits.cpu", v, "a quantity such as 500m or 1")
            })?),
        };
        Ok(Self {
            app: app.clone(),
            env: env.clone(),
            revision: revision.clone(),
            image,
            replicas: if tag.is_empty() { 0 } else { replicas },
            min_available,
            variables,
            memory_limit_bytes,
            cpu_limit_nanos,
        })
    }

    /// The part of the state a replica is built from, as one canonical string: two replicas
    /// with the same spec are interchangeable, and a replica whose spec differs is replaced.
    /// The GitOps revision is not part of it, so a commit that does not touch this
    /// environment restarts nothing.
    pub fn spec(&self) -> String {
        serde_json::json!({
            "image": self.image.as_ref().map(PinnedImage::name),
            "digest": self.image.as_ref().and_then(|i| i.digest.as_ref()).map(Digest::as_str),
            "variables": self.variables,
            "memory": self.memory_limit_bytes,
            "cpu": self.cpu_limit_nanos,
        })
        .to_string()
    }
}

/// Kubernetes memory quantity (`128Mi`, `1Gi`, `500M`, `1024`) in bytes.
pub fn memory_bytes(q: &str) -> Option<i64> {
    const SUFFIXES: [(&str, i64); 8] = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
    ];
    let (number, scale) = SUFFIXES
        .iter()
        .find_map(|(s, m)| q.strip_suffix(s).map(|n| (n, *m)))
        .unwrap_or((q, 1));
    let n: i64 = number.parse().ok()?;
    (n > 0).then(|| n.checked_mul(scale)).flatten()
}

/// Kubernetes CPU quantity (`500m`, `1`, `0.5`) in nano-CPUs.
pub fn cpu_nanos(q: &str) -> Option<i64> {
    let nanos = match q.strip_suffix('m') {
        Some(milli) => milli.parse::<i64>().ok()?.checked_mul(1_000_000)?,
        None => (q.parse::<f64>().ok()? * 1e9).round() as i64,
    };
    (nanos > 0).then_some(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> AppName {
        "paktech-app".parse().expect("app")
    }

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn state(text: &str) -> Result<DesiredState> {
        let doc = Document::parse("prod/values.yaml", text)?;
        DesiredState::from_values(
            &app(),
            &"prod".parse().expect("env"),
            &SHA.parse().expect("sha"),
            &doc,
        )
    }

    #[test]
    fn reads_the_projects_prod_values() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../gitops/apps/paktech-app/prod/values.yaml"),
        )
        .expect("prod values");
        let empty = state(&text).expect("state");
        assert_eq!(empty.image, None, "never deployed");
        assert_eq!(empty.replicas, 0);
        let deployed =
            state(&text.replace("tag: \"\"", &format!("tag: \"{SHA}\""))).expect("state");
        assert_eq!(deployed.replicas, 3);
        assert_eq!(deployed.min_available, 2);
        let floor_too_high = text
            .replace("tag: \"\"", &format!("tag: \"{SHA}\""))
            .replace("minAvailable: 2", "minAvailable: 4");
        let err = state(&floor_too_high).expect_err("refused");
        assert!(
            err.to_string().contains("podDisruptionBudget.minAvailable"),
            "{err}"
        );
        assert_eq!(
            deployed.variables.get("APP_ENV").map(String::as_str),
            Some("prod")
        );
        assert_eq!(deployed.memory_limit_bytes, Some(256 << 20));
        assert_eq!(deployed.cpu_limit_nanos, Some(1_000_000_000));
        assert_eq!(
            deployed.image.as_ref().map(PinnedImage::name),
            Some(format!("paktech-app:{SHA}"))
        );
    }

    #[test]
    fn spec_ignores_the_revision() {
        let text = format!(
            "image:\n  repository: a\n  tag: \"{SHA}\"\n  digest: \"\"\nreplicaCount: 1\nenv:\n  APP_ENV: dev\n"
        );
        let doc = Document::parse("v", text).expect("doc");
        let env = "dev".parse().expect("env");
        let a =
            DesiredState::from_values(&app(), &env, &SHA.parse().expect("sha"), &doc).expect("a");
        let b =
            DesiredState::from_values(&app(), &env, &"f".repeat(40).parse().expect("sha"), &doc)
                .expect("b");
        assert_eq!(a.spec(), b.spec());
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = state(&format!(
            "image:\n  repository: a\n  tag: \"{SHA}\"\n  digest: \"\"\nreplicaCount: many\n"
        ))
        .expect_err("refused");
        assert_eq!(
            err.to_string(),
            "prod/values.yaml: replicaCount is \"many\": expected a whole number from 0"
        );
        let err = state("image:\n  repository: a\n  tag: \"v1.2\"\n  digest: \"\"\n")
            .expect_err("refused");
        assert!(
            err.to_string()
                .starts_with("prod/values.yaml: image.tag is \"v1.2\""),
            "{err}"
        );
    }

    #[test]
    fn quantities() {
        assert_eq!(memory_bytes("128Mi"), Some(128 << 20));
        assert_eq!(memory_bytes("1G"), Some(1_000_000_000));
        assert_eq!(memory_bytes("-1"), None);
        assert_eq!(memory_bytes("lots"), None);
        assert_eq!(cpu_nanos("500m"), Some(500_000_000));
        assert_eq!(cpu_nanos("0.25"), Some(250_000_000));
        assert_eq!(cpu_nanos("0"), None);
    }
}
