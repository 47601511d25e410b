//! One app's part of `ci`: build, push, sign, SBOM, image scan.

use super::super::attest::BuildContext;
use super::super::image as image_flow;
use super::super::image::ImageRequest;
use super::super::scan;
use super::super::steps::{Steps, timed};
use super::super::{Error, Pipeline, Result};
use super::{AppCi, CiOptions, step};
use adapters::registry::{Credentials, Registry};
use model::Digest;
use model::report::Outcome;

/// Builds, pushes, signs, attaches the SBOM of and scans one app, filling `entry`.
pub(super) async fn build_app(
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
    let started = pipeline
        .clock
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
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
                        .ok_or_else(|| policy::plan::Refusal::ImageNotFound {
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
    super::super::supply_chain::sign(pipeline, &app.repository, &pinned, &sign, steps).await?;

    let sbom = steps
        .run(&step(pipeline, "sbom", &app.name), async {
            let stored = super::super::sbom::attach(pipeline, &built, &pinned, version).await?;
            let detail = format!("{} stored beside {digest}", stored.digest);
            Ok::<_, Error>((Outcome::Succeeded, detail, stored))
        })
        .await?;
    entry.sbom = Some(sbom.digest.to_string());
    let context = BuildContext {
        app: app.name.as_str(),
        request: &request,
        built: &built,
        digest: &pinned,
        sbom: &sbom,
        started,
    };
    let attest = step(pipeline, "attest", &app.name);
    super::super::attest::attest(pipeline, &context, &attest, steps).await?;

    let tag = built.tag.to_string();
    let image = ::supply_chain::vex::Image {
        repository: app.repository.as_str(),
        tag: &tag,
        digest: pinned.as_str(),
    };
    let (image_elapsed, image_scan) = timed(async {
        let scanned = scan::image(&built, options.scan_report.as_deref(), Some(&sbom)).await?;
        // The repository's VEX statements, refused or applied before the gate counts.
        scan::apply_vex(pipeline, &image, scanned)
    })
    .await;
    let image_result = image_scan.map(|scan| {
        let (scan, scan_sbom) = scan.map_or((None, None), |(s, sbom)| (Some(s), sbom));
        let verdict = policy::scan_gate(&pipeline.config.scan, scan.as_ref());
        let (outcome, detail) = match &scan {
            Some(s) => (
                Outcome::Succeeded,
                format!(
                    "{} ({} fixable){}{}",
                    s.counts,
                    s.fixable,
                    scan_sbom
                        .as_ref()
                        .map(|d| format!(" in the SBOM {d}"))
                        .unwrap_or_default(),
                    if s.suppressed.is_empty() {
                        String::new()
                    } else {
                        format!("; {} suppressed by VEX", s.suppressed.len())
                    }
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
