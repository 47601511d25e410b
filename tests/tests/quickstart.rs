//! The README's quickstart, exactly as written: the marked block's commands run one by one,
//! through `sh`, in a scratch clone of this repository (its committed HEAD), and each must end
//! with the exit code the block documents; the one that keeps running (the dashboard) must
//! serve its page. So the README cannot drift from the product.
//!
//! Only the surroundings are the test's: a scratch state folder (the clone's own `.paktech/`),
//! container names of its own (`PAKTECH_TARGET_PREFIX`), midday (`PAKTECH_NOW`, as every
//! whole-flow test, so prod's nightly freeze does not stop it), a git identity in the clone, a
//! free dashboard port (`PAKTECH_DASHBOARD_PORT`), two tests at once in `ci`'s test step
//! (`NEXTEST_TEST_THREADS`; this suite runs beside it), and a copy of this build's target
//! folder that the clone finds fresh, so it compiles only what differs and never writes into
//! this build (`link_build`).

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// One line of the block.
#[derive(Debug, PartialEq)]
struct Step {
    command: String,
    exit: i32,
    keeps_running: bool,
}

/// The commands between `<!-- quickstart` and `<!-- /quickstart -->`: one per line, a
/// trailing `# exit N` naming its exit code, `Ctrl-C` marking the one that keeps running.
fn quickstart(readme: &str) -> Vec<Step> {
    let start = readme
        .find("<!-- quickstart")
        .expect("a <!-- quickstart block in README.md");
    let end = readme
        .find("<!-- /quickstart -->")
        .expect("the block's end marker");
    let block = &readme[start..end];
    let code = block
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a ```sh block inside the markers");
    code.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (command, comment) = line.split_once("  #").unwrap_or((line, ""));
            let comment = comment.trim();
            let exit = comment
                .strip_prefix("exit ")
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .map_or(0, |code| code.parse().expect("an exit code"));
            Step {
                command: command.trim().to_owned(),
                exit,
                keeps_running: comment.contains("Ctrl-C"),
            }
        })
        .collect()
}

#[test]
fn the_block_is_read_line_by_line_with_its_exit_codes() {
    let steps = quickstart(
        "intro\n<!-- quickstart: … -->\n```sh\ncargo xtask ci      # deploy\n\ncargo xtask promote --env prod --no-wait   # exit 4: waits\ncargo xtask dashboard   # Ctrl-C stops it\n```\n<!-- /quickstart -->\n",
    );
    let step = |command: &str, exit, keeps_running| Step {
        command: command.to_owned(),
        exit,
        keeps_running,
    };
    assert_eq!(
        steps,
        [
            step("cargo xtask ci", 0, false),
            step("cargo xtask promote --env prod --no-wait", 4, false),
            step("cargo xtask dashboard", 0, true),
        ]
    );
    let readme = std::fs::read_to_string(tests::workspace().join("README.md")).expect("README");
    let real = quickstart(&readme);
    assert!(real.iter().any(|s| s.exit == 4), "{real:?}");
    assert_eq!(
        real.iter().filter(|s| s.keeps_running).count(),
        1,
        "{real:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_quickstart_runs_as_written() {
    let Some(_docker) = tests::docker_or_skip("the_readme_quickstart_runs_as_written").await else {
        return;
    };
    let workspace = tests::workspace();
    let steps = quickstart(&std::fs::read_to_string(workspace.join("README.md")).expect("README"));
    let scratch = tempfile::tempdir().expect("scratch");
    let clone = scratch.path().join("paktech");
    tests::git_cli(
        scratch.path(),
        &[
            "clone",
            "--quiet",
            workspace.to_str().expect("utf-8"),
            "paktech",
        ],
    );
    tests::git_cli(&clone, &["config", "user.name", "alice"]);
    tests::git_cli(&clone, &["config", "user.email", "alice@example.invalid"]);
    let target = scratch.path().join("target");
    let packages: Vec<String> = adapters::tools::workspace_crates(&workspace)
        .await
        .expect("the workspace's packages")
        .into_iter()
        .map(|krate| krate.name)
        .collect();
    link_build(&workspace.join("target"), &target, &packages);
    same_times(&workspace, &clone);
    let prefix = tests::unique_prefix("quickstart");
    let _cleanup = tests::Cleanup::new(&prefix);
    // After the README's lines, one more: `status` names the key that signed each build.
    let status = Step {
        command: "cargo xtask status".to_owned(),
        exit: 0,
        keeps_running: false,
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();

    let mut said = String::new();
    let mut page = None;
    for step in steps.iter().chain([&status]) {
        let mut command = Command::new("sh");
        command.args(["-c", &step.command]);
        as_a_user(&mut command, &clone, &target, &prefix, port);
        if step.keeps_running {
            page = Some(serves(command, port, &step.command).await);
            // The group was stopped; a member may take a moment to exit and be reaped.
            let mut left = running_in(&clone);
            for _ in 0..50 {
                if left.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                left = running_in(&clone);
            }
            assert!(left.is_empty(), "`{}` left running: {left:?}", step.command);
            continue;
        }
        let out = command.output().expect("run a quickstart command");
        said.push_str(&String::from_utf8_lossy(&out.stdout));
        said.push_str(&String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            out.status.code(),
            Some(step.exit),
            "`{}` ended with {:?}, the README says exit {}\n{}",
            step.command,
            out.status.code(),
            step.exit,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Prod took the build with no key set up: the plan and `status` name the one that signed.
    let signed = "signed by this machine's key .paktech/keys/cosign.pub (sha256:";
    assert!(said.matches(signed).count() >= 3, "{said}");
    let verifies = board_agrees_with_verify(
        &page.expect("the dashboard served its page"),
        |app, sha, env| {
            let mut command = Command::new("cargo");
            command.args([
                "xtask", "verify", "--json", "--app", app, "--sha", sha, "--env", env,
            ]);
            as_a_user(&mut command, &clone, &target, &prefix, port);
            let out = command.output().expect("run cargo xtask verify");
            assert!(
                matches!(out.status.code(), Some(0 | 3)),
                "verify ended with {:?}\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice(&out.stdout).expect("verify --json prints JSON")
        },
    );
    // Both apps ran in dev and staging; prod was rolled back to nothing.
    assert!(verifies.len() >= 4, "{verifies:?}");
}

/// The opening tag of the badge whose `data-check` is `name`, in `html`.
fn badge<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let at = html.find(&format!("data-check=\"{name}\""))?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    Some(&html[start..=end])
}

/// The value of `attribute` in the opening tag `tag`, its character references read back
/// (the page writes `&amp;`, `&lt;`, `&gt;`, `&quot;` and `&#39;`).
fn attribute_of(tag: &str, attribute: &str) -> Option<String> {
    let (_, rest) = tag.split_once(&format!(" {attribute}=\""))?;
    let (value, _) = rest.split_once('"')?;
    Some(
        value
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&"),
    )
}

/// Every lane the board shows a build in, checked against `verify --json` for that app, build
/// and environment (`verify` runs the check): each of verify's checks is a badge with the same
/// name, the same state and its detail (and the other evidence) as its title, and the board
/// names a refusal exactly when verify does. Returns the lanes compared.
fn board_agrees_with_verify(
    page: &str,
    verify: impl Fn(&str, &str, &str) -> serde_json::Value,
) -> Vec<String> {
    let mut compared = Vec::new();
    for app in ["paktech-app", "paktech-gateway"] {
        for env in ["dev", "staging", "prod"] {
            let id = format!("id=\"lane-{app}-{env}\"");
            let start = page.find(&id).unwrap_or_else(|| panic!("{id}: {page}"));
            let lane = &page[start..start + page[start..].find("</article>").expect("end")];
            let Some(sha) = lane
                .split_once("data-sha=\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(sha, _)| sha)
            else {
                continue;
            };
            let verified = verify(app, sha, env);
            let trust = lane
                .split_once("<dd class=\"trust\">")
                .and_then(|(_, rest)| rest.split_once("</dd>"))
                .map(|(trust, _)| trust)
                .unwrap_or_else(|| panic!("{app} in {env}: no trust badges\n{lane}"));
            for check in verified["checks"].as_array().expect("checks") {
                let name = check["check"].as_str().expect("name");
                let mut detail = check["detail"].as_str().expect("detail").to_owned();
                for other in check["others"].as_array().expect("others") {
                    detail.push_str("; ");
                    detail.push_str(other.as_str().expect("text"));
                }
                let badge = badge(trust, name)
                    .unwrap_or_else(|| panic!("{app} in {env}: no {name} badge\n{trust}"));
                let expected = [
                    ("data-passed", check["passed"].to_string()),
                    ("data-required", check["required"].to_string()),
                    ("title", detail),
                ];
                for (attribute, value) in expected {
                    assert_eq!(
                        attribute_of(badge, attribute).as_deref(),
                        Some(value.as_str()),
                        "{app} in {env}: the board disagrees with verify on {name}'s {attribute}\n{badge}"
                    );
                }
            }
            let gate = badge(trust, "gate").and_then(|b| attribute_of(b, "title"));
            assert_eq!(
                gate.as_deref(),
                verified["refused"].as_str(),
                "{app} in {env}: the board's refusal is not verify's\n{trust}"
            );
            compared.push(format!("{app}@{sha} in {env}"));
        }
    }
    compared
}

/// `command` as the quickstart's user runs it in `clone`: none of this job's settings and
/// nothing cargo set for this test, the suite's build folder, container names of its own,
/// midday, and the dashboard's port.
fn as_a_user(command: &mut Command, clone: &Path, target: &Path, prefix: &str, port: u16) {
    command.current_dir(clone).stdin(Stdio::null());
    // As a user's shell would have it: none of this job's settings, nothing cargo set for
    // this test.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        let deploy_setting = name.starts_with("PAKTECH_") && !name.starts_with("PAKTECH_REQUIRE_");
        if deploy_setting
            || [
                "GITHUB_ACTOR",
                "GITHUB_TRIGGERING_ACTOR",
                "SLACK_WEBHOOK_URL",
            ]
            .contains(&name.as_str())
            || adapters::tools::set_by_cargo_for_one_crate(&name)
        {
            command.env_remove(&name);
        }
    }
    command
        .env("CARGO_TARGET_DIR", target)
        // `ci`'s test step runs a suite of its own beside this one's four tests at once:
        // two at a time there, so the two do not starve each other's timed tests.
        .env("NEXTEST_TEST_THREADS", "2")
        .env("PAKTECH_TARGET_PREFIX", prefix)
        .env("PAKTECH_NOW", tests::DAYTIME)
        .env("PAKTECH_DASHBOARD_PORT", port.to_string());
}

/// Starts the command that keeps running, waits until its page answers 200 (returned), then stops it and
/// everything it started: `sh` runs `cargo`, which runs `xtask dashboard`, so killing the child
/// alone left the dashboard running, orphaned, after its scratch folder was gone. The command
/// gets a process group of its own, as a terminal gives a foreground job, and the whole group is
/// stopped as Ctrl-C would, even when an assertion fails first ([`Group`]).
async fn serves(mut command: Command, port: u16, shown: &str) -> String {
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("start the dashboard");
    let mut child = Group(child);
    let child = &mut child.0;
    let url = format!("http://127.0.0.1:{port}/");
    let client = reqwest::Client::new();
    let mut answered = None;
    // Bounded by attempts, not by the clock: compiling first may take a while.
    for _ in 0..600 {
        if let Ok(response) = client
            .get(&url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
        {
            let status = response.status();
            answered = Some((status, response.text().await.unwrap_or_default()));
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut stderr = String::new();
            if let Some(mut err) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut err, &mut stderr);
            }
            panic!("`{shown}` ended with {status} instead of serving\n{stderr}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (status, page) = answered.unwrap_or_else(|| panic!("`{shown}` did not serve {url}"));
    assert_eq!(
        status.as_u16(),
        200,
        "`{shown}` served {url} with {status}\n{page}"
    );
    if tests::required("PAKTECH_SCREENSHOT") {
        screenshots(&url).await;
    }
    page
}

/// With `PAKTECH_SCREENSHOT=1`, the README's pictures of this real two-app run, taken in
/// headless Chromium: the board as a 1400 × 900 window shows it (`docs/dashboard.png`) and its
/// Delivery section (`docs/metrics.png`).
async fn screenshots(url: &str) {
    let driver = tests::browser::Chromedriver::start();
    let client = fantoccini::ClientBuilder::native()
        .capabilities(tests::browser::chromium(1400, 900))
        .connect(&driver.url())
        .await
        .expect("a WebDriver session with headless Chromium");
    client.goto(url).await.expect("open the board");
    // The browser's own bars take part of the window: grow it until the page gets 900 pixels.
    let bars = client
        .execute(
            "return window.outerHeight - window.innerHeight;",
            Vec::new(),
        )
        .await
        .expect("script")
        .as_u64()
        .unwrap_or_default();
    client
        .set_window_size(1400, 900 + u32::try_from(bars).unwrap_or_default())
        .await
        .expect("resize the window");
    let matrix = client
        .execute(
            "return document.querySelector('table').getBoundingClientRect().bottom;",
            Vec::new(),
        )
        .await
        .expect("script");
    eprintln!("the matrix ends {matrix} pixels down the page");
    let docs = tests::workspace().join("docs");
    let board = client.screenshot().await.expect("the board's screenshot");
    std::fs::write(docs.join("dashboard.png"), board).expect("write docs/dashboard.png");
    let delivery = client
        .find(fantoccini::Locator::Css(
            "section[aria-labelledby=delivery]",
        ))
        .await
        .expect("the Delivery section")
        .screenshot()
        .await
        .expect("the Delivery section's screenshot");
    std::fs::write(docs.join("metrics.png"), delivery).expect("write docs/metrics.png");
    eprintln!("screenshots: {}/{{dashboard,metrics}}.png", docs.display());
    let _ = client.close().await;
}

/// The live processes (their command lines) whose working folder is `dir` or below it; one
/// that has exited and waits to be reaped (an empty command line) runs nothing.
fn running_in(dir: &Path) -> Vec<String> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let cwd = std::fs::read_link(path.join("cwd")).ok()?;
            let cmdline = std::fs::read(path.join("cmdline")).ok()?;
            (cwd.starts_with(dir) && !cmdline.is_empty())
                .then(|| String::from_utf8_lossy(&cmdline).replace('\0', " "))
        })
        .collect()
}

/// A child in a process group of its own (its id is the group's), stopped with the whole group
/// when dropped: SIGTERM, as Ctrl-C's SIGINT would, then SIGKILL for what is still there.
struct Group(std::process::Child);

impl Drop for Group {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let signal = |name: &str| {
            let _ = Command::new("kill")
                .args([name, "--", &group])
                .stderr(Stdio::null())
                .status();
        };
        signal("-TERM");
        for _ in 0..50 {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // The group outlives its leader when a member ignores TERM.
        signal("-KILL");
        let _ = self.0.wait();
    }
}

/// A copy of this build's `debug` folder (and the image's release build, when there is one:
/// its target's folder, and `release` beside it, where a `--target` build keeps what runs on
/// the host, proc macros and build scripts) that the clone's cargo finds fresh, so the
/// README's lines compile nothing this build already compiled, without ever writing into
/// this build:
/// - the dependencies' artifacts are hard links (cargo never rewrites a fresh unit's files,
///   and nothing of the clone makes a dependency stale);
/// - what cargo rewrites in place is copied (`.fingerprint`, `build`), and so is every file
///   of a unit of the workspace's own `packages`: cargo names a path package's units by its
///   path inside the workspace, so the clone's units have this build's file names, and a unit
///   the clone does rebuild (a source that differs from this build's) must be written into a
///   copy, never through a link into this build; `incremental` is left out.
///
/// The clone's sources get this build's file times ([`same_times`]), so cargo's fingerprints,
/// which compare times, hold. What runs from the copied units works on the clone all the
/// same: the command line finds its workspace from the `CARGO_MANIFEST_DIR` cargo sets when it
/// runs it (`context::workspace::root`).
fn link_build(from: &Path, to: &Path, packages: &[String]) {
    for sub in ["debug", "release", "x86_64-unknown-linux-gnu/release"] {
        let source = from.join(sub);
        if !source.is_dir() {
            continue;
        }
        let dest = to.join(sub);
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("target folder");
        copy(&["-al"], &source, &dest);
        for private in [".fingerprint", "build", "incremental"] {
            let _ = std::fs::remove_dir_all(dest.join(private));
        }
        for private in [".fingerprint", "build"] {
            if source.join(private).is_dir() {
                copy(&["-a"], &source.join(private), &dest.join(private));
            }
        }
        unlink_workspace_units(&dest, packages);
    }
}

/// Gives each file of the clone at `clone` the time of the same file in `workspace` when the
/// two hold the same bytes; a file that differs (work not committed here) keeps its new time,
/// so cargo rebuilds what reads it.
fn same_times(workspace: &Path, clone: &Path) {
    for relative in tests::files_under(clone) {
        let (ours, theirs) = (workspace.join(&relative), clone.join(&relative));
        let Ok(time) = std::fs::metadata(&ours).and_then(|m| m.modified()) else {
            continue;
        };
        let same = matches!(
            (std::fs::read(&ours), std::fs::read(&theirs)),
            (Ok(a), Ok(b)) if a == b
        );
        if same {
            let file = std::fs::File::options()
                .write(true)
                .open(&theirs)
                .expect("a file of the clone");
            file.set_modified(time).expect("set the file's time");
        }
    }
}

fn copy(how: &[&str], source: &Path, dest: &Path) {
    let status = Command::new("cp")
        .args(how)
        .arg(source)
        .arg(dest)
        .status()
        .expect("cp");
    assert!(
        status.success(),
        "cp {how:?} {} {}",
        source.display(),
        dest.display()
    );
}

/// Replaces every hard link in the copy at `dest` to a file of a unit of the workspace's own
/// `packages` (as `cargo metadata` names them; found by the hashes of their `.fingerprint`
/// folders), and to the binaries at its top, with a copy of its own.
fn unlink_workspace_units(dest: &Path, packages: &[String]) {
    let names = |dir: &Path| -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let hashes: Vec<String> = names(&dest.join(".fingerprint"))
        .into_iter()
        .filter_map(|name| {
            let (package, hash) = name.rsplit_once('-')?;
            packages
                .iter()
                .any(|p| p == package)
                .then(|| format!("-{hash}"))
        })
        .collect();
    let own_copy = |path: &Path| {
        if !path.is_file() {
            return;
        }
        // With the original's time: cargo compares a unit's outputs' times with its
        // dependents' fingerprints, and a new time would make every dependent stale.
        let time = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .expect("a unit's file's time");
        let copy = path.with_extension("quickstart-copy");
        std::fs::copy(path, &copy).expect("copy a workspace unit's file");
        std::fs::File::options()
            .write(true)
            .open(&copy)
            .and_then(|f| f.set_modified(time))
            .expect("keep the file's time");
        std::fs::rename(&copy, path).expect("replace the link with the copy");
    };
    for name in names(&dest.join("deps")) {
        if hashes.iter().any(|h| name.contains(h.as_str())) {
            own_copy(&dest.join("deps").join(&name));
        }
    }
    for name in names(dest) {
        own_copy(&dest.join(&name));
    }
}
