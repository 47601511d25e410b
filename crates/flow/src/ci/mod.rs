//! `cargo xtask ci`: test → build image (→ push) → sign → sbom → (scan image ‖ scan infrastructure
//! code) → verify (dev's supply-chain gate) → deploy dev (write its values, push, sync, smoke
//! test) → notify.

use std::path::{Path, PathBuf};

use super::image::BuiltImage;
use super::scan;
use super::steps::{StepRecord, Steps, timed};
use super::{Error, Pipeline, Result, sync};
use adapters::gitops::Written;
use adapters::notify::Notice;
use adapters::tools;
use model::report::{Outcome, Reporter};
use model::scan::{IacScan, ImageScan};
use model::{AppName, Digest, Person};
use policy::ScanVerdict;
use policy::changes::BuildDecision;

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

mod build;
mod commit;
mod decide;

use build::build_app;
use commit::change;
use decide::changes;

/// What `ci` did, step by step; also the `--json` document.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CiReport {
    pub steps: Vec<StepRecord>,
    /// The build, when one app was built (as before apps; every app's is in `apps`).
    pub image: Option<BuiltImage>,
    pub digest: Option<String>,
    /// The digest of the SBOM stored beside the image.
    pub sbom: Option<String>,
    pub scan: Option<ImageScan>,
    pub scan_verdict: Option<ScanVerdict>,
    /// Every app, in dependency order: whether it was built, and what.
    pub apps: Vec<AppCi>,
    pub iac: Option<IacScan>,
    pub gitops: Option<Written>,
    pub dev_urls: Vec<String>,
    pub error: Option<String>,
}

/// One app's part of a `ci` run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AppCi {
    pub app: AppName,
    pub decision: BuildDecision,
    pub image: Option<BuiltImage>,
    pub digest: Option<String>,
    pub sbom: Option<String>,
    pub scan: Option<ImageScan>,
    pub scan_verdict: Option<ScanVerdict>,
    /// The SBOM the image scan read.
    #[serde(skip)]
    pub scan_sbom: Option<Digest>,
    /// Where its replicas in dev answer, when it was deployed.
    pub dev_urls: Vec<String>,
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

/// A step's name for `app`: as before apps where one is configured, `<step>-<app>` where
/// several are.
fn step(pipeline: &Pipeline, what: &str, app: &AppName) -> String {
    if pipeline.config.apps.len() > 1 {
        format!("{what}-{app}")
    } else {
        what.to_owned()
    }
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

    let decisions = steps
        .run("changes", async {
            let decisions = changes(pipeline).await?;
            let detail = decisions
                .iter()
                .map(|(app, d)| match d {
                    BuildDecision::Build { why } => format!("{app}: build ({why})"),
                    BuildDecision::Unchanged { since } => {
                        format!("{app}: unchanged since {}", since.short())
                    }
                })
                .collect::<Vec<_>>()
                .join("; ");
            Ok::<_, Error>((Outcome::Succeeded, detail, decisions))
        })
        .await?;
    report.apps = decisions
        .into_iter()
        .map(|(app, decision)| AppCi {
            app,
            decision,
            image: None,
            digest: None,
            sbom: None,
            scan: None,
            scan_verdict: None,
            scan_sbom: None,
            dev_urls: Vec::new(),
        })
        .collect();

    let version = workspace_package(&pipeline.workspace, "version");
    let source_url = workspace_package(&pipeline.workspace, "repository");
    let workspace = pipeline.workspace.clone();
    // The infrastructure code is scanned once, while the apps build and scan.
    let ((iac_elapsed, iac_scan), built) = tokio::join!(timed(scan::iac(&workspace)), async {
        for entry in report.apps.iter_mut() {
            if matches!(entry.decision, BuildDecision::Build { .. }) {
                build_app(pipeline, options, steps, entry, &version, &source_url).await?;
            }
        }
        Ok::<_, Error>(())
    });
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
    let iac = steps.record("scan-iac", iac_elapsed, iac_result);
    built?;
    report.iac = iac?;
    let built: Vec<&AppCi> = report.apps.iter().filter(|a| a.image.is_some()).collect();
    if let [one] = built.as_slice() {
        report.image = one.image.clone();
        report.digest = one.digest.clone();
        report.sbom = one.sbom.clone();
        report.scan = one.scan.clone();
        report.scan_verdict = one.scan_verdict.clone();
    }
    for entry in &report.apps {
        if let Some(ScanVerdict::Fail { reason }) = &entry.scan_verdict {
            let reason = if pipeline.config.apps.len() > 1 {
                format!("{}: {reason}", entry.app)
            } else {
                reason.clone()
            };
            return Err(Error::ScanPolicy { reason });
        }
    }

    let dev = pipeline.config.first();
    // The gate promote applies, before ci's own write.
    for entry in &report.apps {
        let (Some(image), Some(digest)) = (&entry.image, &entry.digest) else {
            continue;
        };
        let app = pipeline.config.app(entry.app.as_str())?;
        let pinned: Digest = digest.parse()?;
        let name = step(pipeline, "verify", &app.name);
        let build = (&pinned, image.tag.sha());
        super::supply_chain::verify(pipeline, &app.repository, &dev.name, build, &name, steps)
            .await?;
    }
    let Some(change) = change(pipeline, options, &report.apps) else {
        steps.skip("deploy-dev", "no app changed: nothing to deploy");
        return Ok(());
    };
    let reporter = steps.reporter();
    let apps = &report.apps;
    let (written, urls, per_app) = steps
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
            // Every built app in dependency order: each runs and answers before the next.
            let mut urls = Vec::new();
            let mut per_app = Vec::new();
            let mut lines = Vec::new();
            let mut changed = false;
            for entry in apps {
                let Some(image) = &entry.image else { continue };
                let app = pipeline.config.app(entry.app.as_str())?;
                let deployed =
                    sync::deploy(pipeline, app, dev, &image.tag.to_string(), reporter).await?;
                changed |= deployed.convergence.changed();
                lines.push(format!(
                    "{}{} replica(s) serve {} ({}); started {}, retired {}",
                    if apps.len() > 1 {
                        format!("{}: ", entry.app)
                    } else {
                        String::new()
                    },
                    deployed.urls.len(),
                    image.tag,
                    outcome_word(&written),
                    deployed.convergence.started.len(),
                    deployed.convergence.removed.len()
                ));
                per_app.push((entry.app.clone(), deployed.urls.clone()));
                urls.extend(deployed.urls);
            }
            let unchanged = matches!(written, Written::Unchanged { .. }) && !changed;
            let outcome = if unchanged {
                Outcome::Unchanged
            } else {
                Outcome::Succeeded
            };
            Ok::<_, Error>((outcome, lines.join("; "), (written, urls, per_app)))
        })
        .await?;
    report.gitops = Some(written);
    report.dev_urls = urls;
    for (app, urls) in per_app {
        if let Some(entry) = report.apps.iter_mut().find(|a| a.app == app) {
            entry.dev_urls = urls;
        }
    }
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
    let built: Vec<String> = report
        .apps
        .iter()
        .filter_map(|a| a.image.as_ref().map(|i| (a, i)))
        .map(|(a, i)| {
            if report.apps.len() > 1 {
                format!("{}@{}", a.app, short(&i.tag.to_string()))
            } else {
                i.tag.to_string()
            }
        })
        .collect();
    let sha = if built.is_empty() {
        "not built".to_owned()
    } else {
        built.join(", ")
    };
    let what = pipeline
        .config
        .apps
        .iter()
        .map(|a| a.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let commit = report
        .gitops
        .as_ref()
        .map_or_else(|| "none".to_owned(), |w| w.revision().to_string());
    let notice = Notice {
        headline: match error {
            None if pipeline.config.apps.len() == 1 => {
                format!("{what} {} deployed to {}", short(&sha), dev.name)
            }
            None => format!("{} deployed to {}", short_list(&sha), dev.name),
            Some(_) => format!("{what} ci failed"),
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

/// One build as `paktech-app <12 hex>` (as before apps), several as they are listed.
fn short_list(builds: &str) -> String {
    if builds.contains(", ") || builds.contains('@') {
        builds.to_owned()
    } else {
        short(builds).to_owned()
    }
}

/// Compiles every app of `config` in `workspace` with `profile` as `ci`'s build step would for
/// the work tree as it is ([`super::image::compile`]), returning the binaries' paths.
pub async fn compile_apps(
    workspace: &Path,
    config: &config::PipelineConfig,
    profile: tools::AppProfile,
) -> Result<Vec<PathBuf>> {
    let version = workspace_package(workspace, "version");
    let source_url = workspace_package(workspace, "repository");
    let mut binaries = Vec::new();
    for app in &config.apps {
        let request = super::image::ImageRequest::for_app(
            workspace.to_owned(),
            app,
            version.clone(),
            source_url.clone(),
            true,
        )
        .await?;
        binaries.push(super::image::compile(&request, profile).await?);
    }
    Ok(binaries)
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
