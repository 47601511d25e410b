//! The supply-chain gate: before a build's digest is pinned in an environment that requires
//! it, the digest must carry a signature that one of the configured keys verifies, and an SBOM.
//! The evidence is gathered by the flow (the attachment store's signature layers, each already
//! checked with `cosign::verify`, and the SBOM's digest); this decides, failing closed.

use crate::model::{Digest, EnvName};
use crate::policy::plan::Refusal;

/// What an environment requires of a build before it is pinned there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Requirements {
    pub signature: bool,
    pub sbom: bool,
}

impl Requirements {
    /// Whether anything is required (otherwise no evidence is read).
    pub fn any(self) -> bool {
        self.signature || self.sbom
    }
}

/// One signature found for the digest: the key that verified it (as `path (sha256:id)`), or
/// why it does not vouch for the digest.
pub type SignatureCheck = Result<String, String>;

/// What the attachment store holds for one digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub digest: Digest,
    /// Every signature found, checked; `Err`: the store could not be read.
    pub signatures: Result<Vec<SignatureCheck>, String>,
    /// The SBOM's own digest, `None` when there is none; `Err`: the store could not be read.
    pub sbom: Result<Option<Digest>, String>,
}

impl Evidence {
    /// Evidence that was not gathered (nothing asked for it): any requirement refuses it.
    pub fn not_read(digest: Digest) -> Self {
        let why = "not read".to_owned();
        Self {
            digest,
            signatures: Err(why.clone()),
            sbom: Err(why),
        }
    }
}

/// Whether `evidence` satisfies `env`'s `required`: `Ok` with what vouched for the build
/// (`None` when nothing is required), or the refusal naming what is missing and the fix.
pub fn gate(
    env: &EnvName,
    required: Requirements,
    pinned: &Digest,
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
                    reasons: checks
                        .iter()
                        .filter_map(|c| c.as_ref().err().cloned())
                        .collect::<Vec<_>>()
                        .join("; "),
                });
            }
        }
    }
    if required.sbom {
        match evidence.sbom.as_ref().map_err(unreadable)? {
            Some(sbom) => detail.push(format!("SBOM {sbom}")),
            None => {
                return Err(Refusal::NoSbom {
                    env: env.to_string(),
                    digest,
                });
            }
        }
    }
    Ok(Some(format!("{env}: {digest} {}", detail.join(", "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "keys/cosign.pub (sha256:0011223344556677)";

    fn digest(c: char) -> Digest {
        format!("sha256:{}", c.to_string().repeat(64))
            .parse()
            .expect("digest")
    }

    fn evidence(
        signatures: Result<Vec<SignatureCheck>, &str>,
        sbom: Result<Option<char>, &str>,
    ) -> Evidence {
        Evidence {
            digest: digest('a'),
            signatures: signatures.map_err(str::to_owned),
            sbom: sbom.map(|s| s.map(digest)).map_err(str::to_owned),
        }
    }

    fn check(required: (bool, bool), evidence: Evidence, expected: Result<Option<&str>, &str>) {
        let required = Requirements {
            signature: required.0,
            sbom: required.1,
        };
        let env: EnvName = "prod".parse().expect("env");
        let got = gate(&env, required, &digest('a'), &evidence);
        match (&got, expected) {
            (Ok(None), Ok(None)) => {}
            (Ok(Some(detail)), Ok(Some(want))) => {
                assert!(detail.contains(want), "{detail}\nexpected: {want}")
            }
            (Err(refusal), Err(want)) => {
                let text = refusal.to_string();
                assert!(text.contains(want), "{text}\nexpected: {want}");
                assert!(text.contains(&"a".repeat(64)), "names the digest: {text}");
            }
            _ => panic!("{required:?} {evidence:?}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn the_gate_passes_only_on_the_evidence_required() {
        let good = || {
            Ok(vec![
                Err("no configured key verifies it".to_owned()),
                Ok(KEY.to_owned()),
            ])
        };
        let sbom = 'b';
        let b = "b".repeat(64);
        let both = format!("signed by {KEY}, SBOM sha256:{b}");
        for (required, evidence, expected) in [
            // Nothing required: nothing is read, nothing refused.
            ((false, false), Evidence::not_read(digest('a')), Ok(None)),
            (
                (true, true),
                evidence(good(), Ok(Some(sbom))),
                Ok(Some(both.as_str())),
            ),
            ((true, false), evidence(good(), Ok(None)), Ok(Some(KEY))),
            (
                (false, true),
                evidence(Ok(vec![]), Ok(Some(sbom))),
                Ok(Some(b.as_str())),
            ),
            (
                (true, false),
                evidence(Ok(vec![]), Ok(None)),
                Err("prod takes only signed builds: sha256:aaaa"),
            ),
            (
                (true, false),
                evidence(
                    Ok(vec![
                        Err("it signs sha256:cccc, not sha256:aaaa".to_owned()),
                    ]),
                    Ok(None),
                ),
                Err("it signs sha256:cccc"),
            ),
            (
                (true, false),
                evidence(
                    Ok(vec![Err("no configured key verifies it".to_owned())]),
                    Ok(None),
                ),
                Err("no configured key verifies it"),
            ),
            (
                (true, true),
                evidence(good(), Ok(None)),
                Err("prod requires an SBOM"),
            ),
            (
                (false, true),
                evidence(Ok(vec![]), Err("connection refused")),
                Err("cannot read the supply-chain evidence"),
            ),
            // The store unreachable: refused, never passed (fail closed).
            (
                (true, false),
                evidence(Err("connection refused"), Ok(None)),
                Err("connection refused"),
            ),
            (
                (true, true),
                Evidence::not_read(digest('a')),
                Err("not read"),
            ),
            // Evidence about another digest never vouches for this one.
            (
                (false, true),
                Evidence {
                    digest: digest('c'),
                    ..evidence(Ok(vec![]), Ok(Some(sbom)))
                },
                Err("the evidence read is for sha256:cccc"),
            ),
        ] {
            check(required, evidence, expected);
        }
    }
}
