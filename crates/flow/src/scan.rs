//! The scans `ci` runs side by side: the image (grype, or a report made elsewhere) and the
//! infrastructure code (Checkov); and the repository's VEX statements, read and applied to the
//! image's scan. Parsing is `model::scan` and `::supply_chain::vex`; the verdict is `policy::scan`.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::image::BuiltImage;
use super::sbom::StoredSbom;
use super::{Error, Pipeline, Result};
use ::supply_chain::vex;
use adapters::tools;
use config::SupplyChainConfig;
use model::Digest;
use model::scan::{self, IacScan, ImageScan};

/// What the image scan found, and the digest of the SBOM it read (none for a report made
/// elsewhere, or a scan of the image itself).
pub type ImageScanOf = (ImageScan, Option<Digest>);

/// Reads the given report; else runs grype on the image's SBOM (fed on stdin, which grype
/// reads as an SBOM: anchore/grype README "Supported sources"), or on the image when there is
/// no SBOM; `None` when neither a report nor grype is there.
pub async fn image(
    built: &BuiltImage,
    report: Option<&Path>,
    sbom: Option<&StoredSbom>,
) -> Result<Option<ImageScanOf>> {
    if let Some(path) = report {
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let scan = scan::parse_grype(&path.display().to_string(), &bytes)?;
        return Ok(Some((scan, None)));
    }
    if !tools::on_path("grype") {
        return Ok(None);
    }
    if let Some(sbom) = sbom {
        let text = tools::run("grype", &["-o", "json", "-q"], &sbom.document).await?;
        let scan = scan::parse_grype("grype output", text.as_bytes())?;
        return Ok(Some((scan, Some(sbom.digest.clone()))));
    }
    let bytes = tools::output("grype", &[&built.name(), "-o", "json", "-q"], &[0]).await?;
    Ok(Some((scan::parse_grype("grype output", &bytes)?, None)))
}

/// Runs checkov on the chart, the Terraform and the Dockerfile that exist; `None` without checkov.
pub async fn iac(workspace: &Path) -> Result<Option<IacScan>> {
    if !tools::on_path("checkov") {
        return Ok(None);
    }
    let mut args: Vec<String> = vec![
        "-o".into(),
        "json".into(),
        "--quiet".into(),
        "--soft-fail".into(),
        "--compact".into(),
        "--skip-download".into(),
    ];
    for dir in ["helm", "infra"] {
        if workspace.join(dir).is_dir() {
            args.extend(["-d".into(), workspace.join(dir).display().to_string()]);
        }
    }
    args.extend([
        "-f".into(),
        workspace.join("app/Dockerfile").display().to_string(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let bytes = tools::output("checkov", &args, &[0, 1]).await?;
    Ok(Some(scan::parse_checkov("checkov output", &bytes)?))
}

/// Every OpenVEX document in the workspace's VEX directory (`*.json`, in name order), each with
/// its detached signature `<file>.sig` when there is one, admitted under `[supply_chain.vex]`
/// at `now`; none when the directory does not exist. One refused document refuses them all.
pub fn vex_documents(
    workspace: &Path,
    chain: &SupplyChainConfig,
    now: DateTime<Utc>,
) -> Result<Vec<vex::Document>> {
    let config = &chain.vex;
    let dir = workspace.join(&config.dir);
    let read_error = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Read { path, source }
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(read_error(&dir)(e)),
    };
    let mut names: Vec<String> = entries
        .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<_>>()
        .map_err(read_error(&dir))?;
    names.retain(|n| n.ends_with(".json"));
    names.sort();
    let trust = vex::Trust {
        authors: &config.authors,
        max_age: config.max_age,
        require_signature: config.require_signature,
        keys: &chain.keys,
    };
    names
        .iter()
        .map(|name| {
            let path = dir.join(name);
            let bytes = std::fs::read(&path).map_err(read_error(&path))?;
            let sig_path = dir.join(format!("{name}.sig"));
            let signature = match std::fs::read_to_string(&sig_path) {
                Ok(text) => Some(text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(read_error(&sig_path)(e)),
            };
            let file = config.dir.join(name).display().to_string();
            Ok(vex::admit(
                &file,
                &bytes,
                signature.as_deref(),
                &trust,
                now,
            )?)
        })
        .collect()
}

/// The image scan, if there is one, with the workspace's VEX statements applied to `image`
/// (see [`vex::apply`]). The statements are read even when nothing was scanned, so a refused
/// one fails the step either way.
pub fn apply_vex(
    pipeline: &Pipeline,
    image: &vex::Image<'_>,
    scanned: Option<ImageScanOf>,
) -> Result<Option<ImageScanOf>> {
    let documents = vex_documents(
        &pipeline.workspace,
        &pipeline.config.supply_chain,
        pipeline.clock.now(),
    )?;
    Ok(scanned.map(|(scan, sbom)| (vex::apply(&documents, image, scan), sbom)))
}
