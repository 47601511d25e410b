//! The one place where errors become a message, a hint and an exit code.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success |
//! | 1 | failure |
//! | 2 | usage: bad arguments or bad input, refused before anything was written |
//! | 3 | blocked by policy (scan, sync window, blocked SHA, approval refused, a re-run of an approved job, a record or an approval source that cannot be read, no SBOM for the build, a missing or invalid signature, or a store that cannot be read for them) |
//! | 4 | awaiting approval |
//! | 5 | infrastructure drift detected |

use std::process::ExitCode;

use context::errors::{Inconsistent, Usage};

use adapters::records::{self, Error::Unreadable};
use policy::plan::Refusal;

pub const FAILURE: u8 = 1;
pub const USAGE: u8 = 2;
pub const POLICY: u8 = 3;
pub const AWAITING_APPROVAL: u8 = 4;
pub const DRIFT: u8 = 5;

/// Exit code for a command-line parse error (`--help` and `--version` are successes).
pub fn usage(err: &clap::Error) -> ExitCode {
    if err.use_stderr() {
        ExitCode::from(USAGE)
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints the error chain and a hint, and returns the exit code its kind calls for.
pub fn report(err: anyhow::Error) -> ExitCode {
    if let Some(line) = crate::first_run::explain(&err) {
        eprintln!("error: {line}");
        return ExitCode::from(code(&err));
    }
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    if let Some(hint) = hint(&err) {
        eprintln!("hint: {hint}");
    }
    ExitCode::from(code(&err))
}

fn code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.downcast_ref::<model::InvalidValue>().is_some()
            || cause.downcast_ref::<config::Error>().is_some()
            || cause.downcast_ref::<model::values::Error>().is_some()
            || cause.downcast_ref::<model::scan::Error>().is_some()
            || cause
                .downcast_ref::<::supply_chain::vex::Refusal>()
                .is_some()
            || cause
                .downcast_ref::<::supply_chain::cosign::KeyError>()
                .is_some()
            || cause.downcast_ref::<Inconsistent>().is_some()
            || cause.downcast_ref::<Usage>().is_some()
            || cause
                .downcast_ref::<context::errors::NoIdentity>()
                .is_some()
        {
            return USAGE;
        }
        if let Some(adapters::github::Error::ReRun { .. }) =
            cause.downcast_ref::<adapters::github::Error>()
        {
            return POLICY;
        }
        if cause.downcast_ref::<context::errors::Drifted>().is_some() {
            return DRIFT;
        }
        if let Some(refusal) = cause.downcast_ref::<Refusal>() {
            return refusal_code(refusal);
        }
        // A record that cannot be read is a gate that cannot decide: it refuses.
        if let Some(Unreadable { .. }) = cause.downcast_ref::<records::Error>() {
            return POLICY;
        }
        match cause.downcast_ref::<flow::Error>() {
            // Transparent wrappers hide their inner error from the chain: look inside.
            Some(flow::Error::Plan(refusal)) => return refusal_code(refusal),
            Some(flow::Error::Records(Unreadable { .. })) => return POLICY,
            Some(
                flow::Error::ScanPolicy { .. }
                | flow::Error::Refused(_)
                | flow::Error::PlatformApproval { .. }
                | flow::Error::NoSbom { .. },
            ) => return POLICY,
            Some(flow::Error::AwaitingApproval { .. }) => return AWAITING_APPROVAL,
            Some(
                flow::Error::Values(_)
                | flow::Error::NoRequest(_)
                | flow::Error::NoBuild { .. }
                | flow::Error::Read { .. }
                | flow::Error::Vex(_)
                | flow::Error::Invalid(_),
            ) => return USAGE,
            Some(flow::Error::Image(flow::image::Error::Dirty { .. })) => return USAGE,
            Some(flow::Error::Config(_) | flow::Error::Scan(_)) => return USAGE,
            _ => {}
        }
        if let Some(flow::image::Error::Dirty { .. }) = cause.downcast_ref::<flow::image::Error>() {
            return USAGE;
        }
    }
    FAILURE
}

fn refusal_code(refusal: &Refusal) -> u8 {
    match refusal {
        Refusal::App { refusal, .. } => refusal_code(refusal),
        Refusal::NotPromotable { .. }
        | Refusal::NothingToPromote { .. }
        | Refusal::UpToDate { .. }
        | Refusal::CanaryRelease { .. }
        | Refusal::ImageNotFound { .. }
        | Refusal::CanaryUnsupported { .. }
        | Refusal::WindowTooShort { .. }
        | Refusal::LoadAboveBound { .. } => USAGE,
        Refusal::Blocked { .. }
        | Refusal::NotInPrevious { .. }
        | Refusal::ScanEvidence { .. }
        | Refusal::WindowClosed { .. }
        | Refusal::Unsigned { .. }
        | Refusal::SignatureRejected { .. }
        | Refusal::NoSbom { .. }
        | Refusal::SbomNotAttested { .. }
        | Refusal::NoProvenance { .. }
        | Refusal::EvidenceUnreadable { .. } => POLICY,
    }
}

fn hint(err: &anyhow::Error) -> Option<&'static str> {
    for cause in err.chain() {
        if let Some(adapters::tools::Error::Spawn { program, .. }) =
            cause.downcast_ref::<adapters::tools::Error>()
            && program == "terraform"
        {
            return Some(
                "install terraform (https://developer.hashicorp.com/terraform/install) or run this in CI, where the workflow installs it",
            );
        }
        if let Some(flow::Error::Target(adapters::target::Error::Local(
            adapters::target::local::Error::ImageMissing { .. },
        ))) = cause.downcast_ref::<flow::Error>()
        {
            return Some("run `cargo xtask ci` (or `cargo xtask image`) on this machine first");
        }
        if let Some(flow::Error::Target(adapters::target::Error::Kube(
            adapters::target::kube::Error::NotSynced { .. }
            | adapters::target::kube::Error::SyncFailed { .. },
        ))) = cause.downcast_ref::<flow::Error>()
        {
            return Some(
                "see what Argo CD reports: `kubectl -n <namespace> get application <app>-<env> -o yaml` (status.conditions, status.operationState) and `kubectl get pods -n <namespace>`; docs/operations.md, Run on Kubernetes",
            );
        }
        let missing_values = |e: &adapters::gitops::Error| {
            matches!(e, adapters::gitops::Error::NotFound { path, .. }
                if path.starts_with("apps/") && path.ends_with("/values.yaml"))
        };
        if cause
            .downcast_ref::<adapters::gitops::Error>()
            .is_some_and(missing_values)
            || matches!(
                cause.downcast_ref::<flow::Error>(),
                Some(flow::Error::GitOps(e)) if missing_values(e)
            )
        {
            return Some(
                "an app of pipeline.toml has no values file in the GitOps repository yet: commit its gitops/apps/<app>/ folder there (docs/operations.md, \"Add an app\"); for the local default, .paktech/gitops.git",
            );
        }
        if let Some(adapters::gitops::Error::Fetch { .. }) =
            cause.downcast_ref::<adapters::gitops::Error>()
        {
            return Some(
                "check gitops.url in pipeline.toml, the network, and GITOPS_TOKEN for https remotes",
            );
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(err: flow::Error, expected: u8) {
        let text = err.to_string();
        assert_eq!(code(&anyhow::Error::new(err)), expected, "{text}");
        let wrapped = anyhow::Error::new(flow::Error::Interrupted(text.clone()));
        assert_eq!(code(&wrapped), FAILURE, "{text}");
    }

    #[test]
    fn refusals_keep_their_exit_codes_through_transparent_wrappers() {
        check(
            flow::Error::Plan(Refusal::ImageNotFound {
                image: "paktech-app:x".to_owned(),
            }),
            USAGE,
        );
        check(
            flow::Error::Plan(Refusal::CanaryUnsupported {
                env: "prod".to_owned(),
                target: "kube".to_owned(),
            }),
            USAGE,
        );
        check(
            flow::Error::Plan(Refusal::WindowTooShort {
                env: "prod".to_owned(),
                what: "monitoring window",
                window: std::time::Duration::from_secs(2),
                minimum: 1996,
                target: model::TargetKind::Local,
                reached: 400,
                shortest: std::time::Duration::from_secs(10),
            }),
            USAGE,
        );
        check(
            flow::Error::Plan(Refusal::WindowClosed {
                env: "prod".to_owned(),
                by: "deny".to_owned(),
                opens_at: "06:00".to_owned(),
            }),
            POLICY,
        );
        check(
            flow::Error::Records(records::Error::Unreadable {
                path: "blocks/x.json".to_owned(),
                revision: "abc".to_owned(),
                problem: "truncated".to_owned(),
            }),
            POLICY,
        );
        check(
            flow::Error::PlatformApproval {
                env: "prod".to_owned(),
                why: "401".to_owned(),
            },
            POLICY,
        );
        for refusal in [
            Refusal::Unsigned {
                env: "prod".to_owned(),
                digest: "sha256:x".to_owned(),
            },
            Refusal::SignatureRejected {
                env: "prod".to_owned(),
                digest: "sha256:x".to_owned(),
                reasons: "no configured key verifies it".to_owned(),
            },
            Refusal::NoSbom {
                env: "prod".to_owned(),
                digest: "sha256:x".to_owned(),
            },
            Refusal::SbomNotAttested {
                env: "prod".to_owned(),
                digest: "sha256:x".to_owned(),
                reasons: "none is stored beside the image".to_owned(),
            },
            Refusal::NoProvenance {
                env: "prod".to_owned(),
                digest: "sha256:x".to_owned(),
                reasons: "its builder \"local\" is not one this environment accepts".to_owned(),
            },
            Refusal::EvidenceUnreadable {
                env: "prod".to_owned(),
                digest: "sha256:x".to_owned(),
                problem: "connection refused".to_owned(),
            },
        ] {
            check(flow::Error::Plan(refusal), POLICY);
        }
        check(
            flow::Error::NoSbom {
                image: "paktech-app:x".to_owned(),
                digest: "sha256:x".to_owned(),
            },
            POLICY,
        );
        check(
            flow::Error::NoBuild {
                app: "paktech-app".to_owned(),
                env: "prod".to_owned(),
            },
            USAGE,
        );
        check(
            flow::Error::NoRequest(policy::approval::choice::NoChoice::NotRequested {
                env: "prod".to_owned(),
                sha: "x".to_owned(),
            }),
            USAGE,
        );
        check(
            flow::Error::NoRequest(policy::approval::choice::NoChoice::Ambiguous {
                env: "prod".to_owned(),
                sha: "x".to_owned(),
                count: 2,
                ids: "a; b".to_owned(),
            }),
            USAGE,
        );
    }
}
