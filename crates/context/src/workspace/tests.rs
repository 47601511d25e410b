use super::*;

#[test]
fn the_workspace_is_found_up_from_a_member_and_is_the_one_compiled_in_here() {
    let here = compiled_in();
    assert!(here.join("crates/context").is_dir(), "{here:?}");
    assert_eq!(
        workspace_of(&here.join("crates/context")),
        Some(here.clone())
    );
    assert_eq!(workspace_of(&here.join("xtask")), Some(here.clone()));
    assert_eq!(workspace_of(&here), Some(here.clone()));
    // Under cargo (this test), cargo's CARGO_MANIFEST_DIR leads to the same workspace.
    assert_eq!(root(), here);
}

#[test]
fn outside_any_workspace_there_is_none() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("Cargo.toml"), "[package]\nname = \"x\"\n").expect("write");
    assert_eq!(workspace_of(dir.path()), None);
}
