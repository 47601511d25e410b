//! The image's dependency list and its SBOM: the binary inside a real built image carries
//! cargo-auditable's list, which names every crate the app links at the version `Cargo.lock`
//! pins and nothing only the pipeline's own crates use; the CycloneDX document made from it
//! validates against CycloneDX's published schema and is the same for the same input.

use std::collections::BTreeSet;
use std::path::Path;

use ::supply_chain::sbom::{self, ImageFacts};
use adapters::image::ImageBuilder;
use adapters::tools::{AppProfile, IMAGE_TARGET};
use auditable_info::audit_info_from_slice;
use flow::image::{ImageRequest, build_tag};
use model::report::Silent;
use model::{Digest, ImageTag};

/// `name@version` of every package `Cargo.lock` pins.
fn locked() -> BTreeSet<String> {
    let text = std::fs::read_to_string(tests::workspace().join("Cargo.lock")).expect("Cargo.lock");
    let lock: toml::Table = text.parse().expect("Cargo.lock is TOML");
    lock["package"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            format!(
                "{}@{}",
                p["name"].as_str().expect("name"),
                p["version"].as_str().expect("version")
            )
        })
        .collect()
}

/// `name@version` of every package `cargo tree` shows for `packages`, following `edges`, on
/// the image's target.
fn tree(packages: &[&str], edges: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut args = vec![
        "tree",
        "--locked",
        "--offline",
        "--prefix",
        "none",
        "--format",
        "{p}",
        "--edges",
        edges,
        "--target",
        IMAGE_TARGET,
    ];
    for package in packages {
        args.extend(["--package", package]);
    }
    let out = std::process::Command::new(cargo)
        .args(&args)
        .current_dir(tests::workspace())
        .output()
        .expect("cargo tree");
    assert!(
        out.status.success(),
        "cargo tree: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (name, version) = (words.next()?, words.next()?.strip_prefix('v')?);
            Some(format!("{name}@{version}"))
        })
        .collect()
}

/// `name@version` of every package reachable from `root` over normal and build edges in
/// `cargo metadata`'s resolve for the image's target: what cargo-auditable records. Its resolve
/// unifies features across the workspace, so it can hold a few crates that only another
/// member's features pull in (rust-secure-code/cargo-auditable, "cargo metadata" feature
/// resolution): listed, not linked.
fn metadata_closure(root: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--offline",
            "--filter-platform",
            IMAGE_TARGET,
        ])
        .current_dir(tests::workspace())
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let names: std::collections::HashMap<&str, String> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().expect("id"),
                format!(
                    "{}@{}",
                    p["name"].as_str().expect("name"),
                    p["version"].as_str().expect("version")
                ),
            )
        })
        .collect();
    let nodes: std::collections::HashMap<&str, &serde_json::Value> = metadata["resolve"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| (n["id"].as_str().expect("id"), n))
        .collect();
    let start = names
        .iter()
        .find(|(_, name)| name.starts_with(&format!("{root}@")))
        .map(|(id, _)| *id)
        .expect("root package");
    let mut seen = BTreeSet::from([start]);
    let mut todo = vec![start];
    while let Some(id) = todo.pop() {
        for dep in nodes[id]["deps"].as_array().into_iter().flatten() {
            let linked_or_built = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null() || k["kind"] == "build");
            let dep_id = dep["pkg"].as_str().expect("pkg");
            if linked_or_built && seen.insert(dep_id) {
                todo.push(dep_id);
            }
        }
    }
    seen.into_iter().map(|id| names[id].clone()).collect()
}

/// A build of a made-up commit with the `image-test` profile (as `tests::another_build`),
/// and the app binary read back out of the image the engine holds.
async fn binary_in_built_image(docker: &bollard::Docker) -> (flow::image::BuiltImage, Vec<u8>) {
    let request = ImageRequest {
        package: "paktech-app".to_owned(),
        dockerfile: "app/Dockerfile".into(),
        workspace: tests::workspace(),
        repository: "paktech-sbom-test".parse().expect("repository"),
        version: "0.1.0".to_owned(),
        source_url: "https://example.invalid/paktech".to_owned(),
        allow_dirty: true,
    };
    let sha = format!("{:040x}", rand::random::<u128>())
        .parse()
        .expect("sha");
    let built = build_tag(
        &request,
        ImageTag::clean(sha),
        1_700_000_000,
        AppProfile::ImageTest,
        &ImageBuilder::new(docker.clone()),
        &Silent,
    )
    .await
    .expect("build");
    let binary = tests::image::files(docker, &built.id)
        .await
        .into_iter()
        .find_map(|(path, contents)| (path == "paktech-app").then_some(contents))
        .expect("the image holds /paktech-app");
    (built, binary)
}

/// Whether an ELF64 little-endian binary names a dynamic loader (a `PT_INTERP` program
/// header): a `+crt-static` binary has none, and runs in the `FROM scratch` image.
fn has_interpreter(elf: &[u8]) -> bool {
    assert_eq!(&elf[..4], b"\x7fELF", "an ELF binary");
    let u16_at = |at: usize| u16::from_le_bytes([elf[at], elf[at + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().expect("8 bytes")) as usize;
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).any(|i| {
        let at = phoff + i * size;
        u32::from_le_bytes(elf[at..at + 4].try_into().expect("4 bytes")) == 3
    })
}

fn schema_validator(schemas: &Path) -> jsonschema::Validator {
    /// The schema's neighbours (`spdx.schema.json`, `jsf-0.82.schema.json`), read from the
    /// same folder instead of the network.
    struct Beside(std::path::PathBuf);
    impl jsonschema::Retrieve for Beside {
        fn retrieve(
            &self,
            uri: &jsonschema::Uri<String>,
        ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
            let name = uri
                .path()
                .as_str()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            let text = std::fs::read_to_string(self.0.join(&name))
                .map_err(|e| format!("{name} is not beside the schema: {e}"))?;
            Ok(serde_json::from_str(&text)?)
        }
    }
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(schemas.join(format!("bom-{}.schema.json", sbom::SPEC_VERSION)))
            .expect("the CycloneDX schema"),
    )
    .expect("schema JSON");
    jsonschema::options()
        .should_validate_formats(true)
        .with_retriever(Beside(schemas.to_owned()))
        .build(&schema)
        .expect("a usable schema")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_image_binary_lists_what_the_app_links_and_its_sbom_is_valid_cyclonedx() {
    if !tests::require(tests::Service::Tool("cargo-auditable"), "sbom") {
        return;
    }
    let Some(shared) = tests::shared_or_skip("sbom") else {
        return;
    };
    let Some(docker) = tests::docker_or_skip("sbom").await else {
        return;
    };
    let (built, binary) = binary_in_built_image(&docker).await;
    assert!(
        !has_interpreter(&binary),
        "the auditable build is still statically linked"
    );
    let list = audit_info_from_slice(&binary, 8 << 20).expect("the binary carries a .dep-v0 list");
    let listed: BTreeSet<String> = list
        .packages
        .iter()
        .map(|p| format!("{}@{}", p.name, p.version))
        .collect();

    // Exact versions: every listed crate is one Cargo.lock pins.
    let locked = locked();
    let unknown: Vec<_> = listed.difference(&locked).collect();
    assert!(
        unknown.is_empty(),
        "listed but not in Cargo.lock: {unknown:?}"
    );
    // Everything the app links (its normal dependencies on the image's target) is listed.
    let linked = tree(&["paktech-app"], "normal");
    let missing: Vec<_> = linked.difference(&listed).collect();
    assert!(missing.is_empty(), "linked but not listed: {missing:?}");
    let root: Vec<_> = list
        .packages
        .iter()
        .filter(|p| p.root)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(root, ["paktech-app"]);
    // The list is cargo metadata's closure of the app, exactly; the few crates in it that
    // the app does not link come from feature unification across the workspace.
    assert_eq!(
        listed,
        metadata_closure("paktech-app"),
        "the list is the app's dependency closure"
    );
    let extras: Vec<_> = listed.difference(&linked).collect();
    eprintln!("listed but not linked (workspace feature unification): {extras:?}");
    // Nothing only the pipeline's crates use.
    let ours: BTreeSet<String> = tree(&["flow", "xtask", "tests"], "all")
        .difference(&listed)
        .cloned()
        .collect();
    for name in [
        "git2",
        "kube",
        "bollard",
        "reqwest",
        "k8s-openapi",
        "model",
        "adapters",
        "flow",
        "xtask",
        "tests",
    ] {
        assert!(
            ours.iter().any(|p| p.starts_with(&format!("{name}@"))),
            "{name} is the pipeline's and not in the app's list"
        );
        assert!(
            !listed.iter().any(|p| p.starts_with(&format!("{name}@"))),
            "{name} in the app's list"
        );
    }

    // The SBOM made from that list validates against the schema of its specVersion.
    let digest: Digest = built.id.parse().expect("image id");
    let facts = ImageFacts {
        repository: built.repository.as_str(),
        digest: &digest,
        build: &built.tag.to_string(),
        version: "0.1.0",
        created: &built.created,
    };
    let document = sbom::cyclonedx(&list, &facts).expect("sbom");
    assert_eq!(
        document,
        sbom::cyclonedx(&list, &facts).expect("sbom"),
        "deterministic"
    );
    let value: serde_json::Value = serde_json::from_slice(&document).expect("json");
    let validator = schema_validator(&shared.join("schemas").join("cyclonedx"));
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let purls: BTreeSet<&str> = value["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .collect();
    for package in &linked {
        let (name, version) = package.split_once('@').expect("name@version");
        assert!(
            purls.contains(sbom::cargo_purl(name, version).as_str()),
            "{package} has no component"
        );
    }

    // A document the schema refuses is refused: the check is not vacuous.
    let mut broken = value.clone();
    broken["components"][0]["type"] = "not-a-type".into();
    assert!(!validator.is_valid(&broken));
}
