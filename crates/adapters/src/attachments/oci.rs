//! The OCI distribution API calls the registry store is made of (blobs and manifests, per the
//! OCI distribution spec 1.1, `spec.md` "Pushing blobs", "Pushing manifests", "Pulling
//! manifests"), and the OCI image-spec documents it reads and writes (descriptors, image
//! manifests, image indexes). Content from the registry is checked against its digest.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, LINK};

use super::{Error, Result, sha256};
use crate::registry::Session;

pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// A content descriptor (image-spec `descriptor.md`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    pub fn of(media_type: &str, bytes: &[u8]) -> Self {
        Self {
            media_type: media_type.to_owned(),
            digest: sha256(bytes).to_string(),
            size: bytes.len() as u64,
            artifact_type: None,
            annotations: BTreeMap::new(),
        }
    }
}

/// An image manifest (image-spec `manifest.md`), with the 1.1 `artifactType` and `subject`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image index (image-spec `image-index.md`): what the referrers API answers and what
/// the referrers tag schema stores.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

impl Index {
    pub fn empty() -> Self {
        Self {
            schema_version: 2,
            media_type: Some(INDEX.to_owned()),
            manifests: Vec::new(),
        }
    }
}

/// A manifest as the registry holds it: its media type and exact bytes.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub media_type: String,
    pub bytes: Vec<u8>,
}

impl Pulled {
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::of(&self.media_type, &self.bytes)
    }
}

fn answered(session: &Session<'_>, request: String, status: StatusCode) -> Error {
    Error::Answered {
        registry: session.host().to_owned(),
        request,
        status: status.as_u16(),
    }
}

pub fn malformed(session: &Session<'_>, what: impl Into<String>, reason: impl ToString) -> Error {
    Error::Malformed {
        registry: session.host().to_owned(),
        what: what.into(),
        reason: reason.to_string(),
    }
}

async fn body(session: &Session<'_>, what: &str, response: reqwest::Response) -> Result<Vec<u8>> {
    response
        .bytes()
        .await
        .map(|b| b.to_vec())
        .map_err(|e| malformed(session, what, e))
}

/// Uploads `bytes` as a blob unless the registry has it (`HEAD`, then `POST` an upload and
/// `PUT` it whole with `?digest=`: the spec's "POST then PUT" monolithic upload).
pub async fn put_blob(
    session: &mut Session<'_>,
    media_type: &str,
    bytes: &[u8],
) -> Result<Descriptor> {
    let descriptor = Descriptor::of(media_type, bytes);
    let blob_url = session.url(&format!("blobs/{}", descriptor.digest));
    let head = session.send(|c| c.head(&blob_url)).await?;
    if head.status() == StatusCode::OK {
        return Ok(descriptor);
    }
    let uploads = session.url("blobs/uploads/");
    let started = session.send(|c| c.post(&uploads)).await?;
    if started.status() != StatusCode::ACCEPTED {
        return Err(answered(
            session,
            format!("POST {uploads}"),
            started.status(),
        ));
    }
    let location = started
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(|l| session.absolute(l))
        .ok_or_else(|| malformed(session, "upload answer", "no Location header"))?;
    let separator = if location.contains('?') { '&' } else { '?' };
    let put_url = format!("{location}{separator}digest={}", descriptor.digest);
    let put = session
        .send(|c| {
            c.put(&put_url)
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(bytes.to_vec())
        })
        .await?;
    if put.status() != StatusCode::CREATED {
        return Err(answered(session, format!("PUT {blob_url}"), put.status()));
    }
    Ok(descriptor)
}

/// The blob `digest`, checked against it.
pub async fn blob(session: &mut Session<'_>, digest: &str) -> Result<Vec<u8>> {
    let url = session.url(&format!("blobs/{digest}"));
    let response = session.send(|c| c.get(&url)).await?;
    if response.status() != StatusCode::OK {
        return Err(answered(session, format!("GET {url}"), response.status()));
    }
    let bytes = body(session, "blob", response).await?;
    if sha256(&bytes).as_str() != digest {
        return Err(malformed(
            session,
            format!("blob {digest}"),
            "its content does not match its digest",
        ));
    }
    Ok(bytes)
}

/// `PUT` a manifest under `reference` (a tag or its digest); returns whether the registry
/// answered with `OCI-Subject`, which says it keeps the referrers of the subject itself
/// (spec.md "Pushing Manifests with Subject").
pub async fn put_manifest(
    session: &mut Session<'_>,
    reference: &str,
    media_type: &str,
    bytes: &[u8],
) -> Result<bool> {
    let url = session.url(&format!("manifests/{reference}"));
    let response = session
        .send(|c| {
            c.put(&url)
                .header(CONTENT_TYPE, media_type)
                .body(bytes.to_vec())
        })
        .await?;
    if response.status() != StatusCode::CREATED {
        return Err(answered(session, format!("PUT {url}"), response.status()));
    }
    Ok(response.headers().contains_key("oci-subject"))
}

/// The manifest `reference` (a tag or a digest) and its media type, or `None` when the
/// registry has none; fetched by digest, it is checked against the digest.
pub async fn manifest(session: &mut Session<'_>, reference: &str) -> Result<Option<Pulled>> {
    let url = session.url(&format!("manifests/{reference}"));
    let accept = [MANIFEST, INDEX, DOCKER_MANIFEST, DOCKER_LIST].join(", ");
    let response = session
        .send(|c| c.get(&url).header(ACCEPT, &accept))
        .await?;
    match response.status() {
        StatusCode::OK => {}
        StatusCode::NOT_FOUND => return Ok(None),
        status => return Err(answered(session, format!("GET {url}"), status)),
    }
    let header_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
    let bytes = body(session, "manifest", response).await?;
    if reference.starts_with("sha256:") && sha256(&bytes).as_str() != reference {
        return Err(malformed(
            session,
            format!("manifest {reference}"),
            "its content does not match its digest",
        ));
    }
    // The document's own mediaType wins over the header (image-spec says it should be set).
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Kind {
        media_type: Option<String>,
    }
    let own = serde_json::from_slice::<Kind>(&bytes)
        .ok()
        .and_then(|k| k.media_type);
    let media_type = own
        .or(header_type)
        .ok_or_else(|| malformed(session, format!("manifest {reference}"), "no media type"))?;
    Ok(Some(Pulled { media_type, bytes }))
}

/// One page of `GET /v2/<name>/referrers/<digest>` at `url`: the index and the next page's
/// URL from a `Link: <url>; rel="next"` header, or `None` when the registry has no referrers
/// API (a `404`; spec.md "Listing Referrers", which lets a registry page its answer).
pub async fn referrers_page(
    session: &mut Session<'_>,
    url: &str,
) -> Result<Option<(Index, Option<String>)>> {
    let response = session.send(|c| c.get(url).header(ACCEPT, INDEX)).await?;
    match response.status() {
        StatusCode::OK => {
            let next = response
                .headers()
                .get_all(LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(next_link)
                .map(|link| session.absolute(&link));
            let bytes = body(session, "referrers index", response).await?;
            let index = serde_json::from_slice(&bytes)
                .map_err(|e| malformed(session, "referrers index", e))?;
            Ok(Some((index, next)))
        }
        StatusCode::NOT_FOUND => Ok(None),
        status => Err(answered(session, format!("GET {url}"), status)),
    }
}

/// The target of the `rel="next"` link in a `Link` header value (RFC 8288: comma-separated
/// `<uri-reference>; param=value` entries).
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|entry| {
        let (target, params) = entry.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .filter_map(|p| p.split_once('='))
            .any(|(name, value)| {
                name.trim().eq_ignore_ascii_case("rel")
                    && value
                        .trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|rel| rel.eq_ignore_ascii_case("next"))
            })
            .then(|| target.to_owned())
    })
}

/// Parses a manifest's JSON.
pub fn parse<T: serde::de::DeserializeOwned>(
    session: &Session<'_>,
    what: &str,
    bytes: &[u8],
) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| malformed(session, what, e))
}

#[cfg(test)]
mod tests {
    use super::next_link;

    #[test]
    fn the_next_link_is_found_among_others() {
        let check = |header: &str, expected: Option<&str>| {
            assert_eq!(next_link(header).as_deref(), expected, "{header}");
        };
        check(
            r#"</v2/app/referrers/sha256:ab?n=2&last=x>; rel="next""#,
            Some("/v2/app/referrers/sha256:ab?n=2&last=x"),
        );
        check(
            r#"<https://r.example/a>; rel="prev", <https://r.example/b>; rel=next"#,
            Some("https://r.example/b"),
        );
        check(
            r#"<https://r.example/b>; type="x"; rel="next other""#,
            Some("https://r.example/b"),
        );
        check(r#"<https://r.example/a>; rel="prev""#, None);
        check("garbage", None);
        check("", None);
    }
}
