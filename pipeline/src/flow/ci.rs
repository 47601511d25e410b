//! `cargo xtask ci`: test → build image (→ push) → sign → sbom → (scan image ‖ scan infrastructure
//! code) → verify (dev's supply-chain gate) → deploy dev (write its values, push, sync, smoke
//! test) → notify.

use std::path::{Path, PathBuf};

use super::image::{self as image_flow, BuiltImage, ImageRequest};
use super::scan;
use super::steps::{StepRecord, Steps, timed};
use super::{Error, Pipeline, Result, sync};
use crate::adapters::gitops::{Change, Written};
use crate::adapters::notify::Notice;
use crate::adapters::registry::{Credentials, Registry};
use crate::adapters::tools;
use crate::audit::{Action, CommitMessage, keys};
use crate::model::{Digest, Person};
use crate::policy::{self, ScanVerdict};
use crate::report::{Outcome, Reporter};
use crate::scan::{IacScan, ImageScan};
use crate::values::Scalar;

/// How to run `ci`.
#[derive(Debug, Clone)]
pub struct CiOptions {
    /// Pull-request mode: run the tests only.
    pub pr: bool,
    /// Skip the test step (for whole-flow tests that run `ci` themselves).
    pub skip_tests: bool,
    pub allow_dirty: bool,
    /// A grype JSON report to use instead of running grype.
    pub scan_report: Option<PathBuf>,
    /// Who asked: recorded in the commit trailers and the notification.
    pub requested_by: Person,
    pub run_id: String,
}

impl CiOptions {
    /// The whole job (tests, build, scans, deploy to the first environment), asked for by
    /// `requested_by` in run `run_id`.
    pub fn new(requested_by: Person, run_id: impl Into<String>) -> Self {
        Self {
            pr: false,
            skip_tests: false,
            allow_dirty: false,
            scan_report: None,
            requested_by,
            run_id: run_id.into(),
        }
    }
}

/// What `ci` did, step by step; also the `--json` document.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CiReport {
    pub steps: Vec<StepRecord>,
    pub image: Option<BuiltImage>,
    pub digest: Option<String>,
    /// The digest of the SBOM stored beside the image.
    pub sbom: Option<String>,
    pub scan: Option<ImageScan>,
    pub scan_verdict: Option<ScanVerdict>,
    pub iac: Option<IacScan>,
    pub gitops: Option<Written>,
    pub dev_urls: Vec<String>,
    pub error: Option<String>,
}

/// Runs `ci`. The report is returned whatever happened; the error, when there is one, says
/// why the run stopped.
pub async fn run(
    pipeline: &Pipeline,
    options: &CiOptions,
    reporter: &dyn Reporter,
) -> (CiReport, Option<Error>) {
    let mut steps = Steps::new(reporter);
    let mut report = CiReport::default();
    let result = run_steps(pipeline, options, &mut steps, &mut report).await;
    if !options.pr {
        notify(
            pipeline,
            options,
            &mut steps,
            &report,
            result.as_ref().err(),
        )
        .await;
    }
    report.steps = steps.records;
    report.error = result.as_ref().err().map(ToString::to_string);
    (report, result.err())
}

async fn run_steps(
    pipeline: &Pipeline,
    options: &CiOptions,
    steps: &mut Steps<'_>,
    report: &mut CiReport,
) -> Result<()> {
    if options.skip_tests {
        steps.skip("test", "--skip-tests");
    } else {
        steps
            .run("test", async {
                tools::run_tests(&pipeline.workspace, &pipeline.config.ci.test).await?;
                let detail = pipeline.config.ci.test.join(", ");
                Ok::<_, Error>((Outcome::Succeeded, detail, ()))
            })
            .await?;
    }
    if options.pr {
        return Ok(());
    }

    let request = ImageRequest {
        workspace: pipeline.workspace.clone(),
        repository: pipeline.config.image.repository.clone(),
        version: workspace_package(&pipeline.workspace, "version"),
        source_url: workspace_package(&pipeline.workspace, "repository"),
        allow_dirty: options.allow_dirty,
    };
    let reporter = steps.reporter();
    let built = steps
        .run("build", async {
            let built = image_flow::build(&request, pipeline.images("ci")?, reporter).await?;
            let detail = format!("{} ({:.1} MB)", built.name(), built.size_bytes as f64 / 1e6);
            Ok::<_, Error>((Outcome::Succeeded, detail, built))
        })
        .await?;
    report.image = Some(built.clone());
    // A registry named in the repository gets the image pushed, and the digest it reports
    // is what the values pin; the local engine's store pins the image id.
    let digest = match &pipeline.registry {
        Registry::Engine(_) => built.id.clone(),
        Registry::Distribution(_) => {
            let tag = built.tag.to_string();
            steps
                .run("push", async {
                    let credentials = Credentials::from_env().map(|c| c.for_push());
                    pipeline
                        .images("ci")?
                        .push(request.repository.as_str(), &tag, credentials)
                        .await?;
                    let digest = pipeline
                        .registry
                        .digest(&request.repository, &tag)
                        .await?
                        .ok_or_else(|| crate::policy::plan::Refusal::ImageNotFound {
                            image: built.name(),
                        })?;
                    Ok::<_, Error>((
                        Outcome::Succeeded,
                        format!("{} is {digest}", built.name()),
                        digest.to_string(),
                    ))
                })
                .await?
        }
    };
    report.digest = Some(digest.clone());
    let pinned: Digest = digest.parse()?;
    super::supply_chain::sign(pipeline, &pinned, steps).await?;

    let sbom = steps
        .run("sbom", async {
            let subject: Digest = digest.parse()?;
            let stored = super::sbom::attach(pipeline, &built, &subject, &request.version).await?;
            let detail = format!("{} stored beside {digest}", stored.digest);
            Ok::<_, Error>((Outcome::Succeeded, detail, stored))
        })
        .await?;
    report.sbom = Some(sbom.digest.to_string());

    // Both scans run at the same time; each step records its own duration.
    let ((image_elapsed, image_scan), (iac_elapsed, iac_scan)) = tokio::join!(
        timed(scan::image(
            &built,
            options.scan_report.as_deref(),
            Some(&sbom)
        )),
        timed(scan::iac(&pipeline.workspace))
    );
    let image_result = image_scan.map(|scan| {
        let (scan, scan_sbom) = scan.map_or((None, None), |(s, sbom)| (Some(s), sbom));
        let verdict = policy::scan_gate(&pipeline.config.scan, scan.as_ref());
        let (outcome, detail) = match &scan {
            Some(s) => (
                Outcome::Succeeded,
                format!(
                    "{} ({} fixable){}",
                    s.counts,
                    s.fixable,
                    scan_sbom
                        .as_ref()
                        .map(|d| format!(" in the SBOM {d}"))
                        .unwrap_or_default()
                ),
            ),
            None => (
                Outcome::Skipped,
                "not scanned: grype is not on PATH and no --scan-report was given".to_owned(),
            ),
        };
        (outcome, detail, (scan, scan_sbom, verdict))
    });
    let (scan, scan_sbom, verdict) = steps.record("scan-image", image_elapsed, image_result)?;
    report.scan = scan;
    report.scan_verdict = Some(verdict.clone());
    let iac_result = iac_scan.map(|iac| {
        let (outcome, detail) = match &iac {
            Some(frameworks) => (
                Outcome::Succeeded,
                frameworks
                    .iter()
                    .map(|(k, s)| {
                        format!(
                            "{k}: {} passed, {} failed, {} skipped",
                            s.passed, s.failed, s.skipped
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            None => (
                Outcome::Skipped,
                "not scanned: checkov is not on PATH".to_owned(),
            ),
        };
        (outcome, detail, iac)
    });
    let iac = steps.record("scan-iac", iac_elapsed, iac_result)?;
    report.iac = iac;
    if let ScanVerdict::Fail { reason } = verdict {
        return Err(Error::ScanPolicy { reason });
    }

    let dev = pipeline.config.first();
    // The gate promote applies, before ci's own write.
    super::supply_chain::verify(pipeline, &dev.name, &pinned, steps).await?;
    let scan_summary = report
        .scan
        .as_ref()
        .map_or_else(|| "not scanned".to_owned(), |s| s.counts.to_string());
    let scan_fixable = report.scan.as_ref().map_or_else(
        || "not scanned".to_owned(),
        |s| s.fixable_counts().to_string(),
    );
    let change = Change {
        path: pipeline.config.values_path(&dev.name),
        set: vec![
            ("image.tag".to_owned(), Scalar::str(built.tag.to_string())),
            ("image.digest".to_owned(), Scalar::str(&digest)),
        ],
        planned_from: None,
        message: CommitMessage::new(format!(
            "chore({}): bump {} to {}",
            dev.name, pipeline.config.app.name, built.tag
        ))
        .trailer(keys::ACTION, Action::Deploy.as_str())
        .trailer(keys::ENVIRONMENT, dev.name.as_str())
        .trailer(keys::IMAGE_SHA, built.tag.to_string())
        .trailer(keys::IMAGE_DIGEST, &digest)
        .trailer(keys::SBOM, sbom.digest.as_str())
        .trailer(keys::SCAN, &scan_summary)
        .trailer(keys::SCAN_FIXABLE, &scan_fixable)
        // Empty, so absent, when the scan read no SBOM (a report made elsewhere, or no grype).
        .trailer(
            keys::SCAN_SBOM,
            scan_sbom.as_ref().map_or("", Digest::as_str),
        )
        .trailer(keys::REQUESTED_BY, options.requested_by.as_str())
        .trailer(keys::RUN_ID, &options.run_id),
    };
    let reporter = steps.reporter();
    let (written, urls) = steps
        .run("deploy-dev", async {
            let change = change.clone();
            let written = pipeline.git(move |repo| repo.write(&change)).await?;
            let revision = written.revision().clone();
            reporter.progress(
                "deploy-dev",
                format!(
                    "GitOps {} at {}",
                    outcome_word(&written),
                    &revision.as_str()[..12]
                ),
            );
            let deployed = sync::deploy(pipeline, dev, &built.tag.to_string(), reporter).await?;
            let urls = deployed.urls.clone();
            let unchanged =
                matches!(written, Written::Unchanged { .. }) && !deployed.convergence.changed();
            let detail = format!(
                "{} replica(s) serve {} ({}); started {}, retired {}",
                urls.len(),
                built.tag,
                outcome_word(&written),
                deployed.convergence.started.len(),
                deployed.convergence.removed.len()
            );
            let outcome = if unchanged {
                Outcome::Unchanged
            } else {
                Outcome::Succeeded
            };
            Ok::<_, Error>((outcome, detail, (written, urls)))
        })
        .await?;
    report.gitops = Some(written);
    report.dev_urls = urls;
    Ok(())
}

fn outcome_word(written: &Written) -> &'static str {
    match written {
        Written::Committed { .. } => "committed",
        Written::Unchanged { .. } => "unchanged",
    }
}

async fn notify(
    pipeline: &Pipeline,
    options: &CiOptions,
    steps: &mut Steps<'_>,
    report: &CiReport,
    error: Option<&Error>,
) {
    let Some(slack) = &pipeline.slack else {
        steps.skip("notify", "SLACK_WEBHOOK_URL is not set");
        return;
    };
    let dev = pipeline.config.first();
    let sha = report
        .image
        .as_ref()
        .map_or_else(|| "not built".to_owned(), |i| i.tag.to_string());
    let commit = report
        .gitops
        .as_ref()
        .map_or_else(|| "none".to_owned(), |w| w.revision().to_string());
    let notice = Notice {
        headline: match error {
            None => format!(
                "{} {} deployed to {}",
                pipeline.config.app.name,
                short(&sha),
                dev.name
            ),
            Some(_) => format!("{} ci failed", pipeline.config.app.name),
        },
        ok: error.is_none(),
        facts: vec![
            ("Environment".to_owned(), dev.name.to_string()),
            ("Image SHA".to_owned(), sha),
            ("GitOps commit".to_owned(), commit),
            ("Requested by".to_owned(), options.requested_by.to_string()),
        ]
        .into_iter()
        .chain(error.map(|e| ("Error".to_owned(), e.to_string())))
        .collect(),
    };
    let _ = steps
        .run("notify", async {
            Ok::<_, Error>(match slack.post(&notice).await {
                Ok(()) => (Outcome::Succeeded, "posted to Slack".to_owned(), ()),
                Err(e) => (Outcome::Warned, e.to_string(), ()),
            })
        })
        .await;
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// A `[workspace.package]` field of the workspace manifest (the version and repository
/// every crate shares), or `unknown`.
fn workspace_package(workspace: &Path, key: &str) -> String {
    std::fs::read_to_string(workspace.join("Cargo.toml"))
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|t| {
            t.get("workspace")?
                .get("package")?
                .get(key)?
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
