//! An image's OCI 1.1 referrers, listed and kept: through the referrers API
//! (`GET /v2/<name>/referrers/<digest>`, following its `Link: <...>; rel="next"` pages), or, on
//! a registry without one (`404`), the referrers tag schema: an image index under the tag
//! `sha256-<hex>` that the pusher keeps up to date.
//!
//! Relied on: OCI distribution-spec 1.1 `spec.md`, "Listing Referrers" (the registry MAY page
//! with a `Link` header, RFC 8288, `rel="next"`; the client follows it to the end), "Pushing
//! Manifests with Subject" and "Referrers Tag Schema" (the client pulls the tag, appends, and
//! pushes it back; what it finds there must be an image index).

use super::oci::{self, Descriptor, Index, malformed, parse};
use super::{Error, Result, digest_tag};
use crate::registry::Session;
use model::Digest;

/// At most this many pages of one referrers listing are read; a registry that pages further
/// is refused (an error, not a partial listing).
pub const MAX_PAGES: usize = 64;

/// Every referrer of `subject`: the referrers API's pages joined, or the tag schema's index
/// where the registry has no referrers API, or none.
pub async fn list(session: &mut Session<'_>, subject: &Digest) -> Result<Vec<Descriptor>> {
    let mut url = session.url(&format!("referrers/{subject}"));
    let mut listed = Vec::new();
    for page in 1..=MAX_PAGES {
        let Some((index, next)) = oci::referrers_page(session, &url).await? else {
            return if page == 1 {
                tag_schema(session, subject).await
            } else {
                Err(malformed(
                    session,
                    "referrers listing",
                    format!("page {page} ({url}) is missing"),
                ))
            };
        };
        listed.extend(index.manifests);
        match next {
            None => return Ok(listed),
            // Credentials are for this registry: a link elsewhere is not followed.
            Some(next) if next.starts_with(&session.absolute("/")) => url = next,
            Some(next) => {
                return Err(malformed(
                    session,
                    "referrers listing",
                    format!("its next page {next} is on another host"),
                ));
            }
        }
    }
    Err(malformed(
        session,
        "referrers listing",
        format!("it has more than {MAX_PAGES} pages"),
    ))
}

/// The referrers listed under the tag schema's `sha256-<hex>` tag (none when it is absent).
async fn tag_schema(session: &mut Session<'_>, subject: &Digest) -> Result<Vec<Descriptor>> {
    Ok(match tag_index(session, subject).await? {
        Some(index) => index.manifests,
        None => Vec::new(),
    })
}

/// The image index under the referrers tag of `subject`, `None` when the tag is absent; any
/// other manifest there is refused, naming the tag and what it holds.
async fn tag_index(session: &mut Session<'_>, subject: &Digest) -> Result<Option<Index>> {
    let tag = digest_tag(subject);
    let Some(pulled) = oci::manifest(session, &tag).await? else {
        return Ok(None);
    };
    if pulled.media_type != oci::INDEX {
        return Err(Error::NotReferrersIndex {
            registry: session.host().to_owned(),
            repository: session.name().to_owned(),
            tag,
            found: pulled.media_type,
        });
    }
    parse::<Index>(session, "referrers tag index", &pulled.bytes).map(Some)
}

/// Appends `referrer` to the index under the referrers tag of `subject`, unless it is there.
/// A manifest at the tag that is not an image index is left alone and refused.
pub async fn add_to_tag(
    session: &mut Session<'_>,
    subject: &Digest,
    referrer: Descriptor,
) -> Result<()> {
    let mut index = tag_index(session, subject)
        .await?
        .unwrap_or_else(Index::empty);
    if index.manifests.iter().any(|d| d.digest == referrer.digest) {
        return Ok(());
    }
    index.manifests.push(referrer);
    let bytes = serde_json::to_vec(&index).map_err(|e| malformed(session, "referrers index", e))?;
    oci::put_manifest(session, &digest_tag(subject), oci::INDEX, &bytes).await?;
    Ok(())
}
