//! Each environment's chart is rendered from the commit that built the image it runs, so a
//! chart change merged to the app repository's main reaches prod only when a build containing
//! it is promoted there (through staging, the approval and the watch), and a rollback moves the
//! chart back with the image.
//!
//! The committed ApplicationSet is read as Argo CD's ApplicationSet controller would: its git
//! files generator turns prod's values file into template parameters (nested keys as
//! `.image.tag` with `goTemplate: true`: Argo CD "Git Generator", "Git Generator: Files"), and
//! the chart source's `targetRevision` template is evaluated with them. The chart is then
//! rendered with `helm template` from that revision of a scratch app repository.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use tests::Service;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The value of a `{{ ... }}` template as the ApplicationSet controller's Go templates (with
/// Sprig) evaluate it, for the forms the bootstrap uses: `.a.b`, `trimSuffix "s" .a.b`, and
/// `if .a.b` / `else` / `end`. Anything else fails the test.
fn evaluate(template: &str, params: &Value) -> String {
    let lookup = |path: &str| -> String {
        let pointer = format!("/{}", path.trim_start_matches('.').replace('.', "/"));
        params
            .pointer(&pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("missingkey=error: {path}"))
            .to_owned()
    };
    let mut out = String::new();
    let mut rest = template;
    // One level of if/else: (condition, in the else branch).
    let mut branch: Option<(bool, bool)> = None;
    while let Some(start) = rest.find("{{") {
        let emitting = branch.is_none_or(|(cond, in_else)| cond != in_else);
        if emitting {
            out.push_str(&rest[..start]);
        }
        let end = rest[start..].find("}}").expect("closed") + start;
        let action = rest[start + 2..end].trim();
        rest = &rest[end + 2..];
        let words: Vec<&str> = action.split_whitespace().collect();
        match words.as_slice() {
            ["if", path] => branch = Some((!lookup(path).is_empty(), false)),
            ["else"] => branch = branch.map(|(cond, _)| (cond, true)),
            ["end"] => branch = None,
            ["trimSuffix", suffix, path] if emitting => {
                let value = lookup(path);
                out.push_str(
                    value
                        .strip_suffix(suffix.trim_matches('"'))
                        .unwrap_or(&value),
                );
            }
            [path] if path.starts_with('.') && emitting => out.push_str(&lookup(path)),
            _ if !emitting => {}
            other => panic!("a template action this test does not know: {other:?}"),
        }
    }
    out.push_str(rest);
    out
}

/// Prod's chart source revision for a values file whose image.tag is `tag`.
fn prod_chart_revision(tag: &str) -> String {
    let text = std::fs::read_to_string(
        tests::workspace().join("gitops/bootstrap/prod/applicationset.yaml"),
    )
    .expect("prod ApplicationSet");
    let appset = tests::yaml_documents(&text).remove(0);
    let generator = &appset["spec"]["generators"][0]["git"];
    assert_eq!(
        generator["files"][0]["path"], "apps/paktech-app/prod/values.yaml",
        "the generator reads prod's values"
    );
    let values = std::fs::read_to_string(
        tests::workspace().join("gitops/apps/paktech-app/prod/values.yaml"),
    )
    .expect("values")
    .replace("tag: \"\"", &format!("tag: \"{tag}\""));
    let params = tests::yaml_documents(&values).remove(0);
    let template = appset["spec"]["template"]["spec"]["sources"][0]["targetRevision"]
        .as_str()
        .expect("targetRevision");
    evaluate(template, &params)
}

/// `helm template` of the chart at `revision` of the app repository `repo`, with prod's values
/// pinning `tag`.
fn render(repo: &Path, revision: &str, tag: &str, scratch: &Path) -> String {
    let out = scratch.join(format!("chart-{revision}"));
    std::fs::create_dir_all(&out).expect("mkdir");
    let archive = Command::new("git")
        .args(["archive", "--format=tar", revision, "helm/paktech-app"])
        .current_dir(repo)
        .output()
        .expect("git archive");
    assert!(archive.status.success(), "no chart at {revision}");
    let mut tar = Command::new("tar")
        .args(["-x", "-C"])
        .arg(&out)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("tar");
    use std::io::Write;
    tar.stdin
        .take()
        .expect("stdin")
        .write_all(&archive.stdout)
        .expect("tar input");
    assert!(tar.wait().expect("tar").success());
    let rendered = Command::new("helm")
        .args(["template", "paktech-app"])
        .arg(out.join("helm/paktech-app"))
        .args(["--namespace", "paktech-prod", "-f"])
        .arg(tests::workspace().join("gitops/apps/paktech-app/prod/values.yaml"))
        .args(["--set", &format!("image.tag={tag}")])
        .output()
        .expect("helm");
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    String::from_utf8_lossy(&rendered.stdout).into_owned()
}

#[test]
fn a_chart_change_on_main_leaves_prod_unchanged_until_a_build_with_it_is_promoted() {
    if !tests::require(Service::Tool("helm"), "chart revision") {
        return;
    }
    let scratch = tempfile::tempdir().expect("tempdir");
    let repo = scratch.path().join("app");
    std::fs::create_dir_all(repo.join("helm")).expect("mkdir");
    git(&repo, &["init", "-q", "-b", "main"]);
    let copy = Command::new("cp")
        .arg("-r")
        .arg(tests::workspace().join("helm/paktech-app"))
        .arg(repo.join("helm/"))
        .status()
        .expect("cp");
    assert!(copy.success());
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "build A"]);
    let built = git(&repo, &["rev-parse", "HEAD"]);
    // A chart change merged to main after prod's build.
    let deployment = repo.join("helm/paktech-app/templates/deployment.yaml");
    let text = std::fs::read_to_string(&deployment).expect("template");
    let changed = text.replacen(
        "metadata:\n",
        "metadata:\n  annotations:\n    chart-change: \"merged-to-main\"\n",
        1,
    );
    assert_ne!(text, changed);
    std::fs::write(&deployment, changed).expect("write");
    git(&repo, &["commit", "-q", "-a", "-m", "chart change"]);
    let main = git(&repo, &["rev-parse", "HEAD"]);

    let before = render(&repo, &built, &built, scratch.path());
    // Prod still runs build A: its chart revision is A's, whatever main holds now.
    let revision = prod_chart_revision(&built);
    assert_eq!(revision, built, "prod's chart follows its build, not main");
    let now = render(&repo, &revision, &built, scratch.path());
    assert_eq!(
        now, before,
        "a chart change on main changed prod's manifests"
    );
    assert!(!now.contains("merged-to-main"));
    // Promoting the build that contains the change brings it, chart and image together.
    let promoted = prod_chart_revision(&main);
    assert_eq!(promoted, main);
    assert!(render(&repo, &promoted, &main, scratch.path()).contains("merged-to-main"));
    // A "-dirty" build renders its base commit's chart; nothing deployed yet renders main.
    assert_eq!(prod_chart_revision(&format!("{built}-dirty")), built);
    assert_eq!(prod_chart_revision(""), "main");
}

#[test]
fn the_template_reader_knows_only_what_it_evaluates() {
    let params = serde_json::json!({"image": {"tag": "abc-dirty"}});
    assert_eq!(evaluate("{{ .image.tag }}", &params), "abc-dirty");
    assert_eq!(
        evaluate("{{ trimSuffix \"-dirty\" .image.tag }}", &params),
        "abc"
    );
    assert_eq!(
        evaluate("{{ if .image.tag }}x{{ else }}y{{ end }}", &params),
        "x"
    );
    let empty = serde_json::json!({"image": {"tag": ""}});
    assert_eq!(
        evaluate("{{ if .image.tag }}x{{ else }}y{{ end }}", &empty),
        "y"
    );
    assert_eq!(evaluate("main", &empty), "main");
}
