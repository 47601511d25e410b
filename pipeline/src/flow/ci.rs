//! `cargo xtask ci`: test → build image (→ push) → sign → sbom → (scan image ‖ scan infrastructure
//! code) → verify (dev's supply-chain gate) → deploy dev (write its values, push, sync, smoke
//! test) → notify.

use std::path::{Path, PathBuf};

use super::image::{self as image_flow, BuiltImage, ImageRequest};
use super::scan;
use super::steps::{StepRecord, Steps, timed};
use super::{Error, Pipeline, Result, sync};
use crate::adapters::gitops::{Change, FileEdit, Written};
use crate::adapters::notify::Notice;
use crate::adapters::registry::{Credentials, Registry};
use crate::adapters::{source, tools};
use crate::audit::{Action, Build, CommitMessage, keys};
use crate::model::{AppName, Digest, GitSha, Person};
use crate::policy::changes::{self, BuildDecision};
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
        let (Some(_), Some(digest)) = (&entry.image, &entry.digest) else {
            continue;
        };
        let app = pipeline.config.app(entry.app.as_str())?;
        let pinned: Digest = digest.parse()?;
        let name = step(pipeline, "verify", &app.name);
        super::supply_chain::verify(pipeline, &app.repository, &dev.name, &pinned, &name, steps)
            .await?;
    }
    let Some(change) = change(pipeline, options, &report.apps) else {
        steps.skip("deploy-dev", "no app changed: nothing to deploy");
        return Ok(());
    };
    let reporter = steps.reporter();
    let apps = &report.apps;
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
            // Every built app in dependency order: each runs and answers before the next.
            let mut urls = Vec::new();
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
                urls.extend(deployed.urls);
            }
            let unchanged = matches!(written, Written::Unchanged { .. }) && !changed;
            let outcome = if unchanged {
                Outcome::Unchanged
            } else {
                Outcome::Succeeded
            };
            Ok::<_, Error>((outcome, lines.join("; "), (written, urls)))
        })
        .await?;
    report.gitops = Some(written);
    report.dev_urls = urls;
    Ok(())
}

/// Which apps to build: each app's sources against the build dev runs of it.
async fn changes(pipeline: &Pipeline) -> Result<Vec<(AppName, BuildDecision)>> {
    let workspace = pipeline.workspace.clone();
    let crates = tools::workspace_crates(&workspace).await?;
    let dev = pipeline.config.first().name.clone();
    let config = pipeline.config.clone();
    let running: Vec<(AppName, Option<GitSha>)> = pipeline
        .git(move |repo| {
            let tip = repo.fetch()?;
            config
                .apps
                .iter()
                .map(|app| {
                    let doc = sync::values_in(repo, &config.values_path(&app.name, &dev), &tip)?;
                    let tag = doc.get("image.tag").unwrap_or_default();
                    // A `-dirty` build stands for its base commit's sources and more.
                    let sha = tag.trim_end_matches("-dirty").parse().ok();
                    Ok::<_, Error>((app.name.clone(), sha))
                })
                .collect::<Result<Vec<_>>>()
        })
        .await?;
    let ws = pipeline.workspace.clone();
    let head = tokio::task::spawn_blocking(move || source::read(&ws))
        .await
        .map_err(|joined| Error::Interrupted(joined.to_string()))?
        .map_err(image_flow::Error::from)?
        .sha;
    let mut decisions = Vec::new();
    for (name, running) in running {
        let app = pipeline.config.app(name.as_str())?;
        let changed = match &running {
            Some(base) if base != &head => {
                let (ws, base) = (pipeline.workspace.clone(), base.clone());
                tokio::task::spawn_blocking(move || source::changed_since(&ws, &base))
                    .await
                    .map_err(|joined| Error::Interrupted(joined.to_string()))?
                    .map_err(image_flow::Error::from)?
            }
            _ => Some(Vec::new()),
        };
        let sources = changes::sources(app, &crates);
        let decision = changes::decide(&sources, running.as_ref(), &head, changed.as_deref());
        decisions.push((name, decision));
    }
    Ok(decisions)
}

/// Builds, pushes, signs, attaches the SBOM of and scans one app, filling `entry`.
async fn build_app(
    pipeline: &Pipeline,
    options: &CiOptions,
    steps: &mut Steps<'_>,
    entry: &mut AppCi,
    version: &str,
    source_url: &str,
) -> Result<()> {
    let app = pipeline.config.app(entry.app.as_str())?;
    let request = ImageRequest::for_app(
        pipeline.workspace.clone(),
        app,
        version.to_owned(),
        source_url.to_owned(),
        options.allow_dirty,
    )
    .await?;
    let reporter = steps.reporter();
    let built = steps
        .run(&step(pipeline, "build", &app.name), async {
            let built = image_flow::build(&request, pipeline.images("ci")?, reporter).await?;
            let detail = format!("{} ({:.1} MB)", built.name(), built.size_bytes as f64 / 1e6);
            Ok::<_, Error>((Outcome::Succeeded, detail, built))
        })
        .await?;
    entry.image = Some(built.clone());
    // A registry named in the repository gets the image pushed, and the digest it reports
    // is what the values pin; the local engine's store pins the image id.
    let digest = match &pipeline.registry {
        Registry::Engine(_) => built.id.clone(),
        Registry::Distribution(_) => {
            let tag = built.tag.to_string();
            steps
                .run(&step(pipeline, "push", &app.name), async {
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
    entry.digest = Some(digest.clone());
    let pinned: Digest = digest.parse()?;
    let sign = step(pipeline, "sign", &app.name);
    super::supply_chain::sign(pipeline, &app.repository, &pinned, &sign, steps).await?;

    let sbom = steps
        .run(&step(pipeline, "sbom", &app.name), async {
            let stored = super::sbom::attach(pipeline, &built, &pinned, version).await?;
            let detail = format!("{} stored beside {digest}", stored.digest);
            Ok::<_, Error>((Outcome::Succeeded, detail, stored))
        })
        .await?;
    entry.sbom = Some(sbom.digest.to_string());

    let (image_elapsed, image_scan) = timed(scan::image(
        &built,
        options.scan_report.as_deref(),
        Some(&sbom),
    ))
    .await;
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
    let name = step(pipeline, "scan-image", &app.name);
    let (scan, scan_sbom, verdict) = steps.record(&name, image_elapsed, image_result)?;
    entry.scan = scan;
    entry.scan_sbom = scan_sbom;
    entry.scan_verdict = Some(verdict);
    Ok(())
}

/// One commit writing every built app's build into dev; `None` when nothing was built.
fn change(pipeline: &Pipeline, options: &CiOptions, apps: &[AppCi]) -> Option<Change> {
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
    let message = message
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
