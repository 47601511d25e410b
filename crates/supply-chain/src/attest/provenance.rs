//! SLSA provenance v1: which builder made an image from which source commit, how, and with
//! which locked dependencies; and the consumer's check of it (SLSA "Verifying artifacts":
//! the subject is the artifact, the builder is one the consumer trusts, the source is the
//! expected commit).
//!
//! Relied on: slsa-framework/slsa `docs/spec/v1.0/provenance.md` (predicate type
//! `https://slsa.dev/provenance/v1`; `buildDefinition` {`buildType`, `externalParameters`,
//! `internalParameters`, `resolvedDependencies`}, `runDetails` {`builder.id`, `metadata`
//! {`invocationId`, `startedOn`, `finishedOn`}}), `docs/spec/v1.0/verifying-artifacts.md`,
//! in-toto `spec/v1/resource_descriptor.md` (`uri`, `digest`, `name`), and GitHub's default
//! variables (docs.github.com "Store information in variables": `GITHUB_SERVER_URL`,
//! `GITHUB_REPOSITORY`, `GITHUB_WORKFLOW_REF`, `GITHUB_REF`, `GITHUB_RUN_ID`,
//! `GITHUB_RUN_ATTEMPT`). The workflow's id is the form Fulcio puts in its certificates and
//! slsa-github-generator uses as `builder.id`: `https://github.com/<owner>/<repo>/<path>@<ref>`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Rejection;
use super::statement::Statement;
use model::{Digest, GitSha};

/// `predicateType` of SLSA provenance v1.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";

/// `buildType` of a build made by `cargo xtask ci`; what its parameters mean is written in
/// docs/operations.md, "Provenance".
pub const BUILD_TYPE: &str =
    "https://github.com/paktech/paktech-gitops/blob/main/docs/operations.md#provenance";

/// The builder id of a build made on a workstation, outside any CI system.
pub const LOCAL_BUILDER: &str = "local";

/// Who ran the build, as provenance names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Builder {
    /// `builder.id`: the workflow file and ref in GitHub Actions, `local` elsewhere.
    pub id: String,
    /// `metadata.invocationId`: the workflow run and attempt; none on a workstation.
    pub invocation: Option<String>,
    /// The source repository and ref the CI system checked out, when it says.
    pub source: Option<String>,
    /// `externalParameters.workflow`, GitHub's own build type's shape, when in a workflow.
    pub workflow: Option<serde_json::Value>,
}

impl Builder {
    /// A builder known only by its id (no run, no workflow).
    pub fn named(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            invocation: None,
            source: None,
            workflow: None,
        }
    }

    /// The builder the environment variables describe: a GitHub Actions workflow run when
    /// `GITHUB_ACTIONS` is `true` and `GITHUB_WORKFLOW_REF` is set, otherwise `local`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let in_actions = set("GITHUB_ACTIONS").as_deref() == Some("true");
        match (in_actions, set("GITHUB_WORKFLOW_REF")) {
            (true, Some(workflow_ref)) => {
                let server =
                    set("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
                let repository = set("GITHUB_REPOSITORY").unwrap_or_default();
                let invocation = set("GITHUB_RUN_ID").map(|run| {
                    let attempt = set("GITHUB_RUN_ATTEMPT").unwrap_or_else(|| "1".into());
                    format!("{server}/{repository}/actions/runs/{run}/attempts/{attempt}")
                });
                let reference = set("GITHUB_REF");
                let (path, at) = workflow_ref
                    .strip_prefix(&format!("{repository}/"))
                    .and_then(|rest| rest.split_once('@'))
                    .map_or((None, None), |(p, r)| {
                        (Some(p.to_owned()), Some(r.to_owned()))
                    });
                Self {
                    id: format!("{server}/{workflow_ref}"),
                    invocation,
                    source: Some(match &reference {
                        Some(r) => format!("git+{server}/{repository}@{r}"),
                        None => format!("git+{server}/{repository}"),
                    }),
                    workflow: Some(serde_json::json!({
                        "repository": format!("{server}/{repository}"),
                        "path": path,
                        "ref": at.or(reference),
                    })),
                }
            }
            _ => Self {
                id: LOCAL_BUILDER.to_owned(),
                invocation: None,
                source: None,
                workflow: None,
            },
        }
    }
}

/// What `ci` knows of one build when it attests it.
#[derive(Debug, Clone)]
pub struct BuildFacts<'a> {
    pub builder: &'a Builder,
    /// The source repository's URI (`git+https://...@ref`, or the workspace's remote).
    pub source: &'a str,
    pub commit: &'a GitSha,
    /// Whether the working tree had uncommitted changes (a `-dirty` build).
    pub dirty: bool,
    pub app: &'a str,
    pub package: &'a str,
    pub dockerfile: &'a str,
    /// `Cargo.lock`'s digest: every crate the build could resolve is pinned by it.
    pub lockfile: &'a Digest,
    /// RFC 3339 times the build started and finished.
    pub started: &'a str,
    pub finished: &'a str,
}

/// The predicate, field for field as SLSA provenance v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    pub build_definition: BuildDefinition,
    pub run_details: RunDetails,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildDefinition {
    pub build_type: String,
    pub external_parameters: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_parameters: Option<serde_json::Value>,
    #[serde(default)]
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

/// in-toto's ResourceDescriptor, with the fields provenance uses here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceDescriptor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetails {
    pub builder: BuilderId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BuildMetadata>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuilderId {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_on: Option<String>,
}

/// The provenance statement of the image `name@digest` built as `facts` say.
pub fn statement(name: &str, digest: &Digest, facts: &BuildFacts<'_>) -> Statement {
    let (algorithm, hex) = facts
        .lockfile
        .as_str()
        .split_once(':')
        .unwrap_or(("sha256", ""));
    let mut external = serde_json::json!({
        "app": facts.app,
        "package": facts.package,
        "dockerfile": facts.dockerfile,
        "source": facts.source,
        "dirty": facts.dirty,
    });
    if let Some(workflow) = &facts.builder.workflow {
        external["workflow"] = workflow.clone();
    }
    let predicate = Provenance {
        build_definition: BuildDefinition {
            build_type: BUILD_TYPE.to_owned(),
            external_parameters: external,
            internal_parameters: None,
            resolved_dependencies: vec![
                ResourceDescriptor {
                    uri: Some(facts.source.to_owned()),
                    digest: BTreeMap::from([("gitCommit".to_owned(), facts.commit.to_string())]),
                    name: None,
                },
                ResourceDescriptor {
                    uri: None,
                    digest: BTreeMap::from([(algorithm.to_owned(), hex.to_owned())]),
                    name: Some("Cargo.lock".to_owned()),
                },
            ],
        },
        run_details: RunDetails {
            builder: BuilderId {
                id: facts.builder.id.clone(),
            },
            metadata: Some(BuildMetadata {
                invocation_id: facts.builder.invocation.clone(),
                started_on: Some(facts.started.to_owned()),
                finished_on: Some(facts.finished.to_owned()),
            }),
        },
    };
    Statement::about(
        name,
        digest,
        PREDICATE_TYPE,
        serde_json::to_value(predicate).unwrap_or_default(),
    )
}

/// What a provenance statement proved about a build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proven {
    pub builder: String,
    pub invocation: Option<String>,
    pub source: String,
    pub commit: String,
}

impl std::fmt::Display for Proven {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "built by {} from {}", self.builder, self.source)?;
        if !self.source.contains(&self.commit) {
            write!(f, " at {}", self.commit)?;
        }
        if let Some(run) = &self.invocation {
            write!(f, " ({run})")?;
        }
        Ok(())
    }
}

/// Checks a provenance statement (already read for the right subject) against the commit the
/// image is tagged with and the builders an environment accepts.
pub fn check(
    statement: &Statement,
    commit: &GitSha,
    builders: &[String],
) -> Result<Proven, Rejection> {
    let provenance: Provenance =
        serde_json::from_value(statement.predicate.clone()).map_err(|e| Rejection::Predicate {
            what: "SLSA provenance v1 predicate",
            problem: e.to_string(),
        })?;
    let source = provenance
        .build_definition
        .resolved_dependencies
        .iter()
        .find(|d| d.digest.contains_key("gitCommit"))
        .ok_or(Rejection::NoSource)?;
    let found = &source.digest["gitCommit"];
    if !found.eq_ignore_ascii_case(commit.as_str()) {
        return Err(Rejection::Commit {
            found: found.clone(),
            expected: commit.to_string(),
        });
    }
    let builder = provenance.run_details.builder.id;
    if !builders.iter().any(|b| b == &builder) {
        return Err(Rejection::Builder {
            found: builder,
            accepted: if builders.is_empty() {
                "none".to_owned()
            } else {
                builders.join(", ")
            },
        });
    }
    Ok(Proven {
        builder,
        invocation: provenance
            .run_details
            .metadata
            .and_then(|m| m.invocation_id),
        source: source.uri.clone().unwrap_or_default(),
        commit: found.clone(),
    })
}

/// The provenance of `paktech-app@digest` built by `builder` from `commit`, the other facts
/// fixed: what tests sign, here and in the tests crate.
pub fn sample(builder: &Builder, commit: &GitSha, digest: &Digest) -> Statement {
    let lockfile: Digest = format!("sha256:{}", "c".repeat(64))
        .parse()
        .unwrap_or_else(|_| unreachable!("a sha256 hex digest is a valid digest"));
    let facts = BuildFacts {
        builder,
        source: builder
            .source
            .as_deref()
            .unwrap_or("git+https://github.com/paktech/paktech-gitops"),
        commit,
        dirty: false,
        app: "paktech-app",
        package: "paktech-app",
        dockerfile: "app/Dockerfile",
        lockfile: &lockfile,
        started: "2026-12-04T12:00:00Z",
        finished: "2026-12-04T12:01:00Z",
    };
    statement("paktech-app", digest, &facts)
}

#[cfg(test)]
mod tests;
