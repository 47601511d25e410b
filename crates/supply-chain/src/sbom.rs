//! The image's SBOM: a CycloneDX 1.6 JSON document made from the dependency list the binary
//! carries (cargo-auditable's `.dep-v0`) and the image's own facts. Pure and deterministic:
//! the same list and facts give the same bytes (no serial number or generation time; the
//! timestamp is the image's creation time).
//!
//! Shape per the CycloneDX 1.6 specification (`bom-1.6.schema.json`): `metadata.component`
//! is the image (type `container`, its digest as a SHA-256 hash and in its `pkg:oci` purl);
//! each crate is a component with the purl `pkg:cargo/<name>@<version>` (purl-spec
//! `PURL-TYPES.rst`, cargo); `dependencies` is the graph the binary recorded, the image
//! depending on the app. Crates only the build uses (proc macros, build scripts' deps) are
//! listed with scope `excluded`: not in the binary, but part of how it was made.

use std::collections::{BTreeMap, BTreeSet};

use auditable_serde::{DependencyKind, VersionInfo};
use serde::Serialize;

use model::Digest;

/// The CycloneDX version the documents declare; tests validate against its schema.
pub const SPEC_VERSION: &str = "1.6";

/// What the SBOM says about the image itself.
#[derive(Debug, Clone)]
pub struct ImageFacts<'a> {
    /// The repository, such as `paktech-app` or `registry.example.com/team/paktech-app`.
    pub repository: &'a str,
    /// The image's digest: the registry's manifest digest, or the engine's image id.
    pub digest: &'a Digest,
    /// The build's tag (`<sha>` or `<sha>-dirty`).
    pub build: &'a str,
    /// The app's version (`[workspace.package] version`).
    pub version: &'a str,
    /// When the image was created (RFC 3339, the commit's time).
    pub created: &'a str,
}

/// A dependency list the document cannot be made from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(
        "the binary's dependency list is invalid: package {package} depends on entry {index}, and there are {count}"
    )]
    DanglingDependency {
        package: String,
        index: usize,
        count: usize,
    },
    #[error("the binary's dependency list has no root package (the app itself)")]
    NoRoot,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bom<'a> {
    bom_format: &'static str,
    spec_version: &'static str,
    version: u32,
    metadata: Metadata<'a>,
    components: Vec<Component>,
    dependencies: Vec<Dependency>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    timestamp: &'a str,
    tools: Tools,
    component: Component,
}

#[derive(Serialize)]
struct Tools {
    components: Vec<Component>,
}

#[derive(Serialize, Default)]
struct Component {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "bom-ref", skip_serializing_if = "String::is_empty")]
    bom_ref: String,
    name: String,
    version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hashes: Vec<Hash>,
    #[serde(skip_serializing_if = "String::is_empty")]
    purl: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct Hash {
    alg: &'static str,
    content: String,
}

#[derive(Serialize)]
struct Property {
    name: &'static str,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Dependency {
    #[serde(rename = "ref")]
    reference: String,
    depends_on: Vec<String>,
}

/// `pkg:cargo/<name>@<version>`; `+` in build metadata is percent-encoded (purl-spec).
pub fn cargo_purl(name: &str, version: &str) -> String {
    format!("pkg:cargo/{name}@{}", version.replace('+', "%2B"))
}

/// The CycloneDX document for `image`, whose binary recorded `list`; pretty-printed JSON
/// ending in a newline.
pub fn cyclonedx(list: &VersionInfo, image: &ImageFacts<'_>) -> Result<Vec<u8>, Error> {
    let count = list.packages.len();
    let refs: Vec<String> = list
        .packages
        .iter()
        .map(|p| cargo_purl(&p.name, &p.version.to_string()))
        .collect();
    // One component per name@version (a list may hold one crate twice, from two sources).
    let mut components: BTreeMap<&str, Component> = BTreeMap::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (package, reference) in list.packages.iter().zip(&refs) {
        let mut depends_on = BTreeSet::new();
        for &index in &package.dependencies {
            let target = refs.get(index).ok_or_else(|| Error::DanglingDependency {
                package: reference.clone(),
                index,
                count,
            })?;
            depends_on.insert(target.clone());
        }
        graph
            .entry(reference.clone())
            .or_default()
            .extend(depends_on);
        let runtime = package.kind == DependencyKind::Runtime;
        let component = components
            .entry(reference.as_str())
            .or_insert_with(|| Component {
                kind: if package.root {
                    "application"
                } else {
                    "library"
                },
                bom_ref: reference.clone(),
                name: package.name.clone(),
                version: package.version.to_string(),
                scope: Some("excluded"),
                purl: reference.clone(),
                properties: vec![Property {
                    name: "paktech:cargo:source",
                    value: String::from(package.source.clone()),
                }],
                ..Component::default()
            });
        if runtime {
            component.scope = Some("required");
        }
    }
    let roots: BTreeSet<String> = list
        .packages
        .iter()
        .zip(&refs)
        .filter(|(p, _)| p.root)
        .map(|(_, r)| r.clone())
        .collect();
    if roots.is_empty() {
        return Err(Error::NoRoot);
    }
    let hex = image.digest.as_str().trim_start_matches("sha256:");
    let (short_name, repository_url) = match image.repository.rsplit_once('/') {
        Some((_, last)) => (last, Some(image.repository)),
        None => (image.repository, None),
    };
    let purl = match repository_url {
        Some(url) => format!("pkg:oci/{short_name}@sha256%3A{hex}?repository_url={url}"),
        None => format!("pkg:oci/{short_name}@sha256%3A{hex}"),
    };
    let image_ref = purl.clone();
    let mut dependencies = vec![Dependency {
        reference: image_ref.clone(),
        depends_on: roots.into_iter().collect(),
    }];
    dependencies.extend(graph.into_iter().map(|(reference, on)| Dependency {
        reference,
        depends_on: on.into_iter().collect(),
    }));
    let bom = Bom {
        bom_format: "CycloneDX",
        spec_version: SPEC_VERSION,
        version: 1,
        metadata: Metadata {
            timestamp: image.created,
            tools: Tools {
                components: vec![Component {
                    kind: "application",
                    name: "paktech-pipeline".to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    ..Component::default()
                }],
            },
            component: Component {
                kind: "container",
                bom_ref: image_ref,
                name: image.repository.to_owned(),
                version: image.build.to_owned(),
                hashes: vec![Hash {
                    alg: "SHA-256",
                    content: hex.to_owned(),
                }],
                purl,
                properties: vec![
                    Property {
                        name: "paktech:image:digest",
                        value: image.digest.to_string(),
                    },
                    Property {
                        name: "paktech:app:version",
                        value: image.version.to_owned(),
                    },
                ],
                ..Component::default()
            },
        },
        components: components.into_values().collect(),
        dependencies,
    };
    let mut bytes = serde_json::to_vec_pretty(&bom)
        .unwrap_or_else(|e| unreachable!("plain structs serialize: {e}"));
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn facts<'a>(digest: &'a Digest, repository: &'a str) -> ImageFacts<'a> {
        ImageFacts {
            repository,
            digest,
            build: "0123456789abcdef0123456789abcdef01234567",
            version: "0.1.0",
            created: "2026-11-26T12:00:00Z",
        }
    }

    /// A list in cargo-auditable's format.
    fn list(json: &str) -> VersionInfo {
        json.parse().expect("a cargo-auditable list")
    }

    const APP: &str = r#"{"packages":[
        {"name":"paktech-app","version":"0.1.0","source":"local","dependencies":[1,2],"root":true},
        {"name":"serde","version":"1.0.228","source":"crates.io","dependencies":[2]},
        {"name":"serde_derive","version":"1.0.228","source":"crates.io","kind":"build"},
        {"name":"semver-ish","version":"1.0.0+build.5","source":"crates.io"}
    ]}"#;

    fn document(list_json: &str, repository: &str) -> serde_json::Value {
        let digest: Digest = DIGEST.parse().expect("digest");
        let bytes = cyclonedx(&list(list_json), &facts(&digest, repository)).expect("sbom");
        serde_json::from_slice(&bytes).expect("json")
    }

    #[test]
    fn crates_become_components_with_cargo_purls_and_scopes() {
        let doc = document(APP, "paktech-app");
        let components = doc["components"].as_array().expect("components");
        let check = |name: &str, purl: &str, kind: &str, scope: &str| {
            let c = components
                .iter()
                .find(|c| c["name"] == name)
                .unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(
                (c["purl"].as_str(), c["type"].as_str(), c["scope"].as_str()),
                (Some(purl), Some(kind), Some(scope)),
                "{name}"
            );
        };
        check(
            "paktech-app",
            "pkg:cargo/paktech-app@0.1.0",
            "application",
            "required",
        );
        check("serde", "pkg:cargo/serde@1.0.228", "library", "required");
        check(
            "serde_derive",
            "pkg:cargo/serde_derive@1.0.228",
            "library",
            "excluded",
        );
        check(
            "semver-ish",
            "pkg:cargo/semver-ish@1.0.0%2Bbuild.5",
            "library",
            "required",
        );
        assert_eq!(doc["specVersion"], SPEC_VERSION);
        assert_eq!(doc["metadata"]["timestamp"], "2026-11-26T12:00:00Z");
    }

    #[test]
    fn the_image_is_the_subject_and_depends_on_the_app() {
        let doc = document(APP, "127.0.0.1:5000/team/paktech-app");
        let image = &doc["metadata"]["component"];
        let hex = DIGEST.trim_start_matches("sha256:");
        assert_eq!(image["type"], "container");
        assert_eq!(image["hashes"][0]["content"], hex);
        let purl = format!(
            "pkg:oci/paktech-app@sha256%3A{hex}?repository_url=127.0.0.1:5000/team/paktech-app"
        );
        assert_eq!(image["purl"], purl.as_str());
        let dependencies = doc["dependencies"].as_array().expect("dependencies");
        let on = |r: &str| {
            dependencies
                .iter()
                .find(|d| d["ref"] == r)
                .map(|d| d["dependsOn"].clone())
                .unwrap_or_else(|| panic!("{r} has no entry"))
        };
        assert_eq!(
            on(&purl),
            serde_json::json!(["pkg:cargo/paktech-app@0.1.0"])
        );
        assert_eq!(
            on("pkg:cargo/paktech-app@0.1.0"),
            serde_json::json!(["pkg:cargo/serde@1.0.228", "pkg:cargo/serde_derive@1.0.228"])
        );
        assert_eq!(
            on("pkg:cargo/semver-ish@1.0.0%2Bbuild.5"),
            serde_json::json!([])
        );
    }

    #[test]
    fn the_same_input_gives_the_same_bytes_in_any_order() {
        let digest: Digest = DIGEST.parse().expect("digest");
        let make =
            |json: &str| cyclonedx(&list(json), &facts(&digest, "paktech-app")).expect("sbom");
        let reordered = r#"{"packages":[
            {"name":"semver-ish","version":"1.0.0+build.5","source":"crates.io"},
            {"name":"serde_derive","version":"1.0.228","source":"crates.io","kind":"build"},
            {"name":"serde","version":"1.0.228","source":"crates.io","dependencies":[1]},
            {"name":"paktech-app","version":"0.1.0","source":"local","dependencies":[2,1],"root":true}
        ]}"#;
        assert_eq!(make(APP), make(APP));
        assert_eq!(make(APP), make(reordered));
    }

    #[test]
    fn invalid_lists_are_refused() {
        let digest: Digest = DIGEST.parse().expect("digest");
        let check = |json: &str, expected: Error| {
            assert_eq!(
                cyclonedx(&list(json), &facts(&digest, "paktech-app")),
                Err(expected),
                "{json}"
            );
        };
        check(
            r#"{"packages":[{"name":"a","version":"1.0.0","source":"local","root":true,"dependencies":[3]}]}"#,
            Error::DanglingDependency {
                package: "pkg:cargo/a@1.0.0".to_owned(),
                index: 3,
                count: 1,
            },
        );
        check(
            r#"{"packages":[{"name":"a","version":"1.0.0","source":"local"}]}"#,
            Error::NoRoot,
        );
    }
}
