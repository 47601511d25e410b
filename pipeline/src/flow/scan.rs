//! The scans `ci` runs side by side: the image (grype, or a report made elsewhere) and the
//! infrastructure code (Checkov). Parsing is `crate::scan`; the verdict is `policy::scan`.

use std::path::Path;

use super::image::BuiltImage;
use super::sbom::StoredSbom;
use super::{Error, Result};
use crate::adapters::tools;
use crate::model::Digest;
use crate::scan::{self, IacScan, ImageScan};

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
