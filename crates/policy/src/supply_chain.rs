//! The supply-chain gate: before a build's digest is pinned in an environment that requires
//! it, the digest must carry a signature that one of the configured keys verifies, an SBOM
//! the build signed (a CycloneDX attestation equal to the SBOM stored beside the image), and
//! signed SLSA provenance saying an accepted builder built it from the commit it is tagged
//! with. The evidence is gathered by the flow (every signature and attestation, each already
//! checked against the keys and the digest); this decides, failing closed.

use crate::refusal::Refusal;
use ::supply_chain::attest::provenance::{self, Proven};
use ::supply_chain::attest::statement::Statement;
pub use config::Requirements;
use model::{Digest, EnvName, GitSha};

/// One attestation found for the digest whose envelope a configured key verified and whose
/// statement is about the digest: the key (as `path (sha256:id)`) and the statement; or why
/// it does not vouch for the digest.
pub type AttestationCheck = Result<Attested, String>;

/// A signed statement about the digest.
#[derive(Debug, Clone, PartialEq)]
pub struct Attested {
    pub key: String,
    pub statement: Statement,
}

/// One signature found for the digest: the key that verified it (as `path (sha256:id)`), or
/// why it does not vouch for the digest.
pub type SignatureCheck = Result<String, String>;

/// What the attachment store holds for one digest.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub digest: Digest,
    /// Every signature found, checked; `Err`: the store could not be read.
    pub signatures: Result<Vec<SignatureCheck>, String>,
    /// The SBOM's own digest, `None` when there is none; `Err`: the store could not be read.
    pub sbom: Result<Option<Digest>, String>,
    /// Every CycloneDX attestation found, each checked against the keys, the digest and the
    /// stored SBOM (the key when it is the stored document); `Err`: the store could not be read.
    pub sbom_attestations: Result<Vec<SignatureCheck>, String>,
    /// Every SLSA provenance attestation found, signature and subject checked;
    /// `Err`: the store could not be read.
    pub provenance: Result<Vec<AttestationCheck>, String>,
}

impl Evidence {
    /// Evidence that was not gathered (nothing asked for it): any requirement refuses it.
    pub fn not_read(digest: Digest) -> Self {
        let why = "not read".to_owned();
        Self {
            digest,
            signatures: Err(why.clone()),
            sbom: Err(why.clone()),
            sbom_attestations: Err(why.clone()),
            provenance: Err(why),
        }
    }
}

/// Whether `evidence` satisfies `env`'s `required` for the build of `sha` pinned as `pinned`:
/// `Ok` with what vouched for the build (`None` when nothing is required), or the refusal
/// naming what is missing and the fix.
pub fn gate(
    env: &EnvName,
    required: &Requirements,
    pinned: &Digest,
    sha: &GitSha,
    evidence: &Evidence,
) -> Result<Option<String>, Refusal> {
    if !required.any() {
        return Ok(None);
    }
    let digest = pinned.to_string();
    let unreadable = |problem: &String| Refusal::EvidenceUnreadable {
        env: env.to_string(),
        digest: digest.clone(),
        problem: problem.clone(),
    };
    if &evidence.digest != pinned {
        return Err(unreadable(&format!(
            "the evidence read is for {}, not for the digest to pin",
            evidence.digest
        )));
    }
    let mut detail = Vec::new();
    if required.signature {
        let checks = evidence.signatures.as_ref().map_err(unreadable)?;
        let verified = checks.iter().find_map(|c| c.as_ref().ok());
        match verified {
            Some(key) => detail.push(format!("signed by {key}")),
            None if checks.is_empty() => {
                return Err(Refusal::Unsigned {
                    env: env.to_string(),
                    digest,
                });
            }
            None => {
                return Err(Refusal::SignatureRejected {
                    env: env.to_string(),
                    digest,
                    reasons: reasons(checks),
                });
            }
        }
    }
    if required.sbom {
        let Some(sbom) = evidence.sbom.as_ref().map_err(unreadable)? else {
            return Err(Refusal::NoSbom {
                env: env.to_string(),
                digest,
            });
        };
        let checks = evidence.sbom_attestations.as_ref().map_err(unreadable)?;
        match checks.iter().find_map(|c| c.as_ref().ok()) {
            Some(key) => detail.push(format!("SBOM {sbom} attested by {key}")),
            None => {
                return Err(Refusal::SbomNotAttested {
                    env: env.to_string(),
                    digest,
                    reasons: reasons(checks),
                });
            }
        }
    }
    if required.provenance {
        let checks = evidence.provenance.as_ref().map_err(unreadable)?;
        let mut why = Vec::new();
        let mut proven: Option<(Proven, &str)> = None;
        for check in checks {
            match check {
                Ok(attested) => {
                    match provenance::check(&attested.statement, sha, &required.builders) {
                        Ok(p) => {
                            proven = Some((p, &attested.key));
                            break;
                        }
                        Err(rejection) => why.push(rejection.to_string()),
                    }
                }
                Err(e) => why.push(e.clone()),
            }
        }
        match proven {
            Some((p, key)) => detail.push(format!("provenance {p}, signed by {key}")),
            None => {
                return Err(Refusal::NoProvenance {
                    env: env.to_string(),
                    digest,
                    reasons: if why.is_empty() {
                        "none is stored beside the image".to_owned()
                    } else {
                        why.join("; ")
                    },
                });
            }
        }
    }
    Ok(Some(format!("{env}: {digest} {}", detail.join(", "))))
}

/// The reasons of the rejected checks, or that there were none at all.
fn reasons<T>(checks: &[Result<T, String>]) -> String {
    let why: Vec<&str> = checks
        .iter()
        .filter_map(|c| c.as_ref().err().map(String::as_str))
        .collect();
    if why.is_empty() {
        "none is stored beside the image".to_owned()
    } else {
        why.join("; ")
    }
}

#[cfg(test)]
mod tests;
