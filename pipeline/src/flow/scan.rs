//! The scans `ci` runs side by side: the image (grype, or a report made elsewhere) and the
//! infrastructure code (Checkov). Parsing is `crate::scan`; the verdict is `policy::scan`.

use std::path::Path;

use super::image::BuiltImage;
use super::{Error, Result};
use crate::adapters::tools;
use crate::scan::{self, IacScan, ImageScan};

/// Runs grype on the image, or reads the given report; `None` when neither is possible.
pub async fn image(built: &BuiltImage, report: Option<&Path>) -> Result<Option<ImageScan>> {
    if let Some(path) = report {
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        return Ok(Some(scan::parse_grype(
            &path.display().to_string(),
            &bytes,
        )?));
    }
    if !tools::on_path("grype") {
        return Ok(None);
    }
    let bytes = tools::output("grype", &[&built.name(), "-o", "json", "-q"], &[0]).await?;
    Ok(Some(scan::parse_grype("grype output", &bytes)?))
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
