use std::path::Path;

use super::*;

/// A stand-in for cargo: records its arguments, and (when `works`) puts an executable
/// `cargo-auditable` under the `--root` it was given, as `cargo install` does.
fn fake_cargo(dir: &Path, works: bool) -> String {
    let script = dir.join("cargo");
    let body = if works {
        r#"root=""; prev=""
for a in "$@"; do [ "$prev" = "--root" ] && root="$a"; prev="$a"; done
mkdir -p "$root/bin" "$root/build/release"
printf '#!/bin/sh\n' > "$root/bin/cargo-auditable"
chmod +x "$root/bin/cargo-auditable"
echo "   Compiling cargo-auditable v0.7.7" >&2
"#
    } else {
        "echo 'error: could not find `cargo-auditable` in registry' >&2\nexit 101\n"
    };
    let record = dir.join("args");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$@\" > '{}'\n{body}", record.display()),
    )
    .expect("fake cargo");
    let chmod = std::process::Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .expect("chmod");
    assert!(chmod.success());
    script.to_str().expect("utf-8").to_owned()
}

fn leftovers(workspace: &Path) -> Vec<String> {
    std::fs::read_dir(workspace.join(".paktech/tools"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_pinned_version_is_installed_into_the_tools_folder_and_found_there() {
    let scratch = tempfile::tempdir().expect("scratch");
    let workspace = scratch.path().join("workspace");
    std::fs::create_dir_all(&workspace).expect("workspace");
    let cargo = fake_cargo(scratch.path(), true);

    let bin = install(&workspace, &cargo).await.expect("installed");

    assert_eq!(
        bin,
        workspace.join(".paktech/tools/cargo-auditable-0.7.7/bin")
    );
    assert!(bin.join("cargo-auditable").is_file());
    let args = std::fs::read_to_string(scratch.path().join("args")).expect("args");
    assert!(
        args.starts_with("install --locked cargo-auditable --version 0.7.7 --root "),
        "{args}"
    );
    // The partial folder was renamed into place; the tool's build folder is gone.
    assert_eq!(leftovers(&workspace), ["cargo-auditable-0.7.7"]);
    assert!(!bin.parent().expect("root").join("build").exists());
    if !on_path(CARGO_AUDITABLE) {
        assert_eq!(find(&workspace), Some(Found::Installed(bin.clone())));
    }
    let path = path_for(&Found::Installed(bin.clone())).expect("a PATH");
    assert_eq!(std::env::split_paths(&path).next(), Some(bin));
    assert_eq!(path_for(&Found::OnPath), None);
}

#[tokio::test]
async fn a_failed_install_leaves_nothing_and_says_how_to_install_by_hand() {
    let scratch = tempfile::tempdir().expect("scratch");
    let workspace = scratch.path().join("workspace");
    std::fs::create_dir_all(&workspace).expect("workspace");
    let cargo = fake_cargo(scratch.path(), false);

    let err = install(&workspace, &cargo).await.expect_err("refused");

    let said = err.to_string();
    assert!(
        said.starts_with("cargo-auditable is not installed")
            && said.contains("installing it into ")
            && said.contains("install` ended with exit status: 101")
            && said.contains("`cargo install --locked cargo-auditable --version 0.7.7`"),
        "{said}"
    );
    assert!(
        leftovers(&workspace).is_empty(),
        "{:?}",
        leftovers(&workspace)
    );
    if !on_path(CARGO_AUDITABLE) {
        assert_eq!(find(&workspace), None);
    }
}
