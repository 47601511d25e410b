//! `ci`'s one GitOps commit: every built app's build written into dev, with the trailers
//! that make the audit record.

use super::super::Pipeline;
use super::super::image::BuiltImage;
use super::{AppCi, CiOptions};
use adapters::gitops::{Change, FileEdit};
use model::Digest;
use model::audit::{Action, Build, CommitMessage, keys};
use model::values::Scalar;

/// One commit writing every built app's build into dev; `None` when nothing was built.
pub(super) fn change(pipeline: &Pipeline, options: &CiOptions, apps: &[AppCi]) -> Option<Change> {
    let dev = pipeline.config.first();
    let built: Vec<(&AppCi, &BuiltImage, &String)> = apps
        .iter()
        .filter_map(|a| Some((a, a.image.as_ref()?, a.digest.as_ref()?)))
        .collect();
    if built.is_empty() {
        return None;
    }
    let tags: Vec<String> = built.iter().map(|(_, i, _)| i.tag.to_string()).collect();
    let subject = match built.as_slice() {
        [(a, image, _)] => format!("chore({}): bump {} to {}", dev.name, a.app, image.tag),
        several => format!(
            "chore({}): bump {}",
            dev.name,
            several
                .iter()
                .map(|(a, i, _)| format!("{}@{}", a.app, i.tag.sha().short()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let builds: Vec<Build<'_>> = built
        .iter()
        .zip(&tags)
        .map(|((a, _, digest), tag)| Build {
            app: a.app.as_str(),
            sha: tag,
            digest,
        })
        .collect();
    let summary = |a: &AppCi| {
        a.scan
            .as_ref()
            .map_or_else(|| "not scanned".to_owned(), |s| s.counts.to_string())
    };
    let fixable = |a: &AppCi| {
        a.scan.as_ref().map_or_else(
            || "not scanned".to_owned(),
            |s| s.fixable_counts().to_string(),
        )
    };
    let mut message = CommitMessage::new(subject)
        .trailer(keys::ACTION, Action::Deploy.as_str())
        .trailer(keys::ENVIRONMENT, dev.name.as_str())
        .builds(&builds);
    match built.as_slice() {
        [(a, _, _)] => {
            message = message
                .trailer(keys::SBOM, a.sbom.as_deref().unwrap_or_default())
                .trailer(keys::SCAN, summary(a))
                .trailer(keys::SCAN_FIXABLE, fixable(a))
                // Empty, so absent, when the scan read no SBOM (a report made elsewhere, or
                // no grype).
                .trailer(
                    keys::SCAN_SBOM,
                    a.scan_sbom.as_ref().map_or("", Digest::as_str),
                );
        }
        several => {
            for (a, _, _) in several {
                message = message
                    .trailer(keys::APP_SCAN, format!("{} {}", a.app, summary(a)))
                    .trailer(keys::APP_SCAN_FIXABLE, format!("{} {}", a.app, fixable(a)));
            }
        }
    }
    let applied: Vec<(&str, Vec<String>)> = built
        .iter()
        .map(|(a, _, _)| {
            let lines = a.scan.as_ref().map(::supply_chain::vex::applied);
            (a.app.as_str(), lines.unwrap_or_default())
        })
        .collect();
    let message = message
        .vex_applied(&applied)
        .trailer(keys::REQUESTED_BY, options.requested_by.as_str())
        .trailer(keys::RUN_ID, &options.run_id);
    Some(Change {
        files: built
            .iter()
            .zip(&tags)
            .map(|((a, _, digest), tag)| FileEdit {
                path: pipeline.config.values_path(&a.app, &dev.name),
                set: vec![
                    ("image.tag".to_owned(), Scalar::str(tag)),
                    ("image.digest".to_owned(), Scalar::str(digest.as_str())),
                ],
                planned_from: None,
            })
            .collect(),
        message,
    })
}
