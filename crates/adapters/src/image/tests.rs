#[test]
fn normalized_configs_depend_only_on_content() {
    let build = |container: &str, time: &str| {
        let mut c = serde_json::json!({
            "architecture": "amd64",
            "container": container,
            "container_config": {"Hostname": container},
            "docker_version": "20.10.24",
            "created": time,
            "config": {"User": "65532:65532", "Image": format!("sha256:{container}"), "Hostname": container},
            "history": [{"created": time, "created_by": "COPY paktech-app /paktech-app"}],
            "rootfs": {"type": "layers", "diff_ids": ["sha256:abc"]},
        });
        super::normalize_config(&mut c, "2026-01-01T00:00:00Z");
        serde_json::to_vec(&c).expect("json")
    };
    assert_eq!(
        build("aaa", "2026-11-26T18:00:00Z"),
        build("bbb", "2026-11-27T09:30:00Z")
    );
    let text = String::from_utf8(build("aaa", "x")).expect("utf-8");
    assert!(!text.contains("aaa"), "{text}");
    assert!(
        text.contains("65532:65532") && text.contains("sha256:abc"),
        "{text}"
    );
}

use super::*;

fn file(path: &str, contents: &[u8]) -> ContextFile {
    ContextFile {
        path: path.to_owned(),
        mode: 0o644,
        contents: contents.to_vec(),
    }
}

#[test]
fn context_is_byte_identical_whatever_the_input_order() {
    let a = context_tar(
        vec![file("b", b"2"), file("Dockerfile", b"FROM scratch")],
        1_700_000_000,
    )
    .expect("tar");
    let b = context_tar(
        vec![file("Dockerfile", b"FROM scratch"), file("b", b"2")],
        1_700_000_000,
    )
    .expect("tar");
    assert_eq!(a, b);
    let c = context_tar(
        vec![file("Dockerfile", b"FROM scratch"), file("b", b"2")],
        1_700_000_001,
    )
    .expect("tar");
    assert_ne!(a, c, "the timestamp is part of the context");
}

#[test]
fn context_entries_are_sorted_and_stamped() {
    let bytes = context_tar(vec![file("z", b""), file("a", b"x")], 42).expect("tar");
    let mut archive = tar::Archive::new(bytes.as_slice());
    let entries: Vec<(String, u64, u64)> = archive
        .entries()
        .expect("entries")
        .map(|e| {
            let e = e.expect("entry");
            let h = e.header();
            (
                e.path().expect("path").display().to_string(),
                h.mtime().expect("mtime"),
                h.uid().expect("uid"),
            )
        })
        .collect();
    assert_eq!(entries, vec![("a".into(), 42, 0), ("z".into(), 42, 0)]);
}
