//! VEX statements applied to an image scan, as grype's `--vex` applies OpenVEX
//! (anchore/grype `grype/vex/openvex/implementation.go`, `FilterMatches`):
//!
//! - the image is named by the identifiers grype derives for an image source
//!   (`identifiersFromTags`, `identifiersFromDigests`): `repository:tag`,
//!   `pkg:oci/<name>?tag=<tag>`, `repository@digest`,
//!   `pkg:oci/<name>@<digest>?repository_url=<registry>/<path>` (the qualifier only for a
//!   repository in a registry) and the digest's hex;
//! - a statement applies to a finding when its vulnerability's name or an alias is the
//!   finding's id (or, beyond grype, one of the ids grype relates to it, such as the CVE of a
//!   GHSA), and one of its products matches an image identifier (by `@id`, an identifier or a
//!   hash; a purl covers a more specific purl: `pkg:oci/paktech-app` names every build) and,
//!   when that product lists subcomponents, one of them matches the finding's package URL;
//! - where grype lets a product with subcomponents match a finding that has no package URL,
//!   this does not (it fails closed: the finding stays);
//! - of the statements that apply, the newest decides (go-vex `VEX.Matches`); the finding is
//!   suppressed when its status is `not_affected` or `fixed`.

use super::document::{Component, Document, Statement};
use super::purl;
use model::scan::{Finding, ImageScan, Suppression};

/// The image a scan is of: its repository, tag and digest (`sha256:<hex>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Image<'a> {
    pub repository: &'a str,
    pub tag: &'a str,
    pub digest: &'a str,
}

impl Image<'_> {
    /// The identifiers a statement's product may name the image by.
    pub fn identifiers(&self) -> Vec<String> {
        let (location, name) = match self.repository.rsplit_once('/') {
            Some((location, name)) => (Some(location), name),
            None => (None, self.repository),
        };
        let encoded = self.digest.replace(':', "%3A");
        let mut ids = vec![
            format!("{}:{}", self.repository, self.tag),
            format!("pkg:oci/{name}?tag={}", self.tag),
            format!("{}@{}", self.repository, self.digest),
            match location {
                Some(location) => format!("pkg:oci/{name}@{encoded}?repository_url={location}"),
                None => format!("pkg:oci/{name}@{encoded}"),
            },
        ];
        if let Some(hex) = self.digest.strip_prefix("sha256:") {
            ids.push(hex.to_owned());
        }
        ids
    }
}

impl Component {
    /// Whether `identifier` names this component (go-vex `Component.Matches`).
    fn names(&self, identifier: &str) -> bool {
        let id_matches = self.id.as_deref().is_some_and(|id| {
            id == identifier || (id.starts_with("pkg:") && purl::covers(id, identifier))
        });
        id_matches
            || self.identifiers.iter().any(|(kind, id)| {
                id == identifier
                    || (kind == "purl"
                        && identifier.starts_with("pkg:")
                        && purl::covers(id, identifier))
            })
            || self.hashes.values().any(|h| h == identifier)
    }
}

impl Statement {
    /// Whether this statement speaks about `finding` in the image named by `image_ids`.
    fn applies_to(&self, finding: &Finding, image_ids: &[String]) -> bool {
        let named = std::iter::once(&finding.id)
            .chain(&finding.related)
            .any(|id| self.vulnerability.is_named(id));
        named
            && self.products.iter().any(|product| {
                image_ids.iter().any(|id| product.component.names(id))
                    && (product.subcomponents.is_empty()
                        || (!finding.purl.is_empty()
                            && product.subcomponents.iter().any(|s| s.names(&finding.purl))))
            })
    }
}

/// `scan` with every finding that a statement of `documents` marks `not_affected` or `fixed`
/// for `image` moved to its suppressed findings; counts are then of the findings left.
pub fn apply(documents: &[Document], image: &Image<'_>, scan: ImageScan) -> ImageScan {
    let ids = image.identifiers();
    scan.suppress(|finding| {
        let newest = documents
            .iter()
            .flat_map(|d| d.statements.iter().map(move |s| (d, s)))
            .filter(|(_, s)| s.applies_to(finding, &ids))
            // Later files and later statements win a tie, as a later word does.
            .max_by_key(|(_, s)| s.time())?;
        let (document, statement) = newest;
        statement.status.suppresses().then(|| Suppression {
            statement: format!("{}#{}", document.file, statement.index),
            vulnerability: statement.vulnerability.name.clone(),
            status: statement.status.as_str().to_owned(),
            justification: statement.justification.map(|j| j.as_str().to_owned()),
        })
    })
}

/// The statements applied to `scan`, one line each, `<file>#<index> <finding id>`, in order
/// and without repeats: the `Vex-Applied` trailer's values.
pub fn applied(scan: &ImageScan) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for s in &scan.suppressed {
        let line = format!("{} {}", s.by.statement, s.finding.id);
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    lines
}
