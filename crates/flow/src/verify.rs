//! `cargo xtask verify`: everything a promotion into an environment would check about one
//! build, each check with why it passes or fails, and which VEX statements its scan applied,
//! without writing anything. The same evidence
//! and the same gates the plan uses (`policy::supply_chain::gate`, `policy::scan::evidence`),
//! so what it says is what `promote` would decide.

use serde::Serialize;

use super::{Pipeline, Result, snapshot, supply_chain};
use ::supply_chain::attest::provenance;
use config::AppConfig;
use model::{Digest, EnvName, GitSha, ImageTag};
use policy::plan::{Refusal, Snapshot, recorded_scan};
use policy::scan::evidence as scan_evidence;
use policy::supply_chain::{Evidence, gate};

/// One thing checked, as `verify` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// `signature`, `sbom`, `provenance`, `scan` or `vex`.
    pub check: &'static str,
    /// Whether the environment requires it (a check not required is shown, never decisive).
    pub required: bool,
    pub passed: bool,
    /// What passed, or why nothing did.
    pub detail: String,
    /// Every other piece of evidence found, each with why it does not count.
    pub others: Vec<String>,
}

/// What `verify` found for one build.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub app: String,
    pub sha: GitSha,
    pub env: EnvName,
    pub digest: Digest,
    pub checks: Vec<Check>,
    /// The gates' verdict for `env`: `None` when it would be admitted, else the refusal.
    pub refused: Option<String>,
}

/// Checks the build `tag` (`<sha>`, or `<sha>-dirty`) of `app` as a promotion into `env`
/// would; `Err` when the build's image cannot be found. The refusal, if any, is in the
/// result, not an error.
pub async fn verify(
    pipeline: &Pipeline,
    app: &AppConfig,
    env: &EnvName,
    tag: &ImageTag,
) -> Result<(Verification, Option<Refusal>)> {
    let snapshot = snapshot::read(pipeline).await?;
    verify_in(pipeline, &snapshot, app, env, tag).await
}

/// [`verify`] over a snapshot already read (the dashboard checks every lane of one).
pub async fn verify_in(
    pipeline: &Pipeline,
    snapshot: &Snapshot,
    app: &AppConfig,
    env: &EnvName,
    tag: &ImageTag,
) -> Result<(Verification, Option<Refusal>)> {
    let sha = tag.sha();
    let digest = pipeline
        .registry
        .digest(&app.repository, &tag.to_string())
        .await?
        .ok_or_else(|| Refusal::ImageNotFound {
            image: format!("{}:{tag}", app.repository),
        })?;
    let evidence = supply_chain::read_evidence(pipeline, &app.repository, &digest).await;
    let required = pipeline.config.requirements(env);
    let settings = pipeline.config.for_app(app, env);
    let mut checks = supply_chain_checks(&evidence, sha, &required);
    let recorded = recorded_scan(
        snapshot.history(&app.name, &pipeline.config.first().name),
        &app.name,
        sha,
    );
    let now = pipeline.clock.now().timestamp();
    let scan = settings.scan_max_age.map(|max_age| {
        scan_evidence(&pipeline.config.scan, recorded.as_ref(), now, max_age).map(|()| {
            format!(
                "a scan younger than {} passes the scan policy",
                humantime::format_duration(max_age)
            )
        })
    });
    checks.push(Check {
        check: "scan",
        required: scan.is_some(),
        passed: !matches!(scan, Some(Err(_))) && recorded.is_some(),
        detail: match (&scan, &recorded) {
            (Some(Err(why)), _) => why.clone(),
            (Some(Ok(ok)), _) => ok.clone(),
            (None, Some(found)) => format!(
                "recorded at the build's dev commit: {} fixable{}",
                found.fixable,
                found
                    .all
                    .as_ref()
                    .map(|a| format!(", {a} in all"))
                    .unwrap_or_default()
            ),
            (None, None) => "no scan of it is recorded".to_owned(),
        },
        others: Vec::new(),
    });
    let applied: Vec<String> = snapshot
        .history(&app.name, &pipeline.config.first().name)
        .iter()
        .find(|c| c.build_of(app.name.as_str()) == Some(tag.to_string().as_str()))
        .map(|c| {
            c.vex_of(app.name.as_str())
                .into_iter()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    checks.push(Check {
        check: "vex",
        required: false,
        passed: true,
        detail: if applied.is_empty() {
            "no VEX statement suppressed a finding of its scan".to_owned()
        } else {
            format!(
                "{} finding(s) of its scan suppressed by signed VEX statements (Vex-Applied at its dev commit)",
                applied.len()
            )
        },
        others: applied,
    });
    let mut refusal = gate(env, &required, &digest, sha, &evidence).err();
    if refusal.is_none()
        && let Some(Err(reason)) = scan
    {
        refusal = Some(Refusal::ScanEvidence {
            env: env.to_string(),
            sha: sha.to_string(),
            reason,
        });
    }
    let verification = Verification {
        app: app.name.to_string(),
        sha: sha.clone(),
        env: env.clone(),
        digest,
        checks,
        refused: refusal.as_ref().map(ToString::to_string),
    };
    Ok((verification, refusal))
}

/// The signature, SBOM and provenance checks of `evidence`, each with every piece found.
fn supply_chain_checks(
    evidence: &Evidence,
    sha: &GitSha,
    required: &policy::supply_chain::Requirements,
) -> Vec<Check> {
    let split = |found: &Result<Vec<Result<String, String>>, String>, what: &str| match found {
        Err(e) => (None, vec![format!("cannot be read: {e}")]),
        Ok(list) => {
            let passed = list.iter().find_map(|c| c.as_ref().ok()).cloned();
            let mut others: Vec<String> = list
                .iter()
                .filter(|c| passed.as_ref().is_none_or(|p| c.as_ref().ok() != Some(p)))
                .map(|c| match c {
                    Ok(key) => format!("also by {key}"),
                    Err(why) => format!("rejected: {why}"),
                })
                .collect();
            if list.is_empty() {
                others.push(format!("no {what} is stored beside the image"));
            }
            (passed, others)
        }
    };
    let (signed, signature_others) = split(&evidence.signatures, "signature");
    let (attested, sbom_others) = split(&evidence.sbom_attestations, "SBOM attestation");
    let sbom = evidence.sbom.as_ref().ok().cloned().flatten();
    let provenances: Result<Vec<Result<String, String>>, String> = evidence
        .provenance
        .as_ref()
        .map_err(Clone::clone)
        .map(|list| {
            list.iter()
                .map(|c| match c {
                    Err(why) => Err(why.clone()),
                    Ok(attested) => provenance::check(&attested.statement, sha, &required.builders)
                        .map(|p| format!("{p}, signed by {}", attested.key))
                        .map_err(|e| e.to_string()),
                })
                .collect()
        });
    let (proven, provenance_others) = split(&provenances, "provenance");
    vec![
        Check {
            check: "signature",
            required: required.signature,
            passed: signed.is_some(),
            detail: signed.map_or_else(
                || "no signature passes".to_owned(),
                |k| format!("signed by {k}"),
            ),
            others: signature_others,
        },
        Check {
            check: "sbom",
            required: required.sbom,
            passed: sbom.is_some() && attested.is_some(),
            detail: match (&sbom, &attested) {
                (Some(d), Some(key)) => {
                    format!("SBOM {d}, the one the build signed (attested by {key})")
                }
                (Some(d), None) => format!("SBOM {d} is stored, but no attestation of it passes"),
                (None, _) => "no SBOM is stored beside the image".to_owned(),
            },
            others: sbom_others,
        },
        Check {
            check: "provenance",
            required: required.provenance,
            passed: proven.is_some(),
            detail: proven.unwrap_or_else(|| {
                format!(
                    "no provenance passes (accepted builders: {})",
                    if required.builders.is_empty() {
                        "none".to_owned()
                    } else {
                        required.builders.join(", ")
                    }
                )
            }),
            others: provenance_others,
        },
    ]
}
