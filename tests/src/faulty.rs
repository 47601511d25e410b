//! Real builds of a faulty app for the analysis tests: the workspace's sources copied aside,
//! `/`'s handler in the app's `src/routes.rs` patched (a fifth of its answers fail, or it
//! sleeps),
//! and built through `flow::image::build_tag` like any made-up commit (`build_sources`). The product has no
//! switch that turns faults on: the fault is in the build.
//!
//! The copy lives at a fixed place under the shared target directory and builds into that
//! directory (`<copy>/target` links to it), so only the app crate recompiles. Builds into the
//! shared directory hold [`BuildLock`]: the binary is read after cargo returns, and another
//! build must not replace it in between.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::Docker;
use flow::Pipeline;
use model::GitSha;

use crate::workspace;

/// What is wrong with the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Every fifth request to `/` answers 500.
    FailingFifth,
    /// `/` sleeps this long before answering.
    Slow(Duration),
}

impl Fault {
    fn name(self) -> String {
        match self {
            Self::FailingFifth => "failing-fifth".to_owned(),
            Self::Slow(d) => format!("slow-{}ms", d.as_millis()),
        }
    }

    /// The lines put at the top of `/`'s handler.
    fn code(self) -> String {
        match self {
            Self::FailingFifth => {
                "    // Injected by tests/src/faulty.rs: every fifth answer fails.
    static SERVED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    if SERVED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 5 == 4 {
        return HttpResponse::InternalServerError().json(json!({\"error\": \"injected\"}));
    }
"
                .to_owned()
            }
            Self::Slow(d) => format!(
                "    // Injected by tests/src/faulty.rs: slow answers.
    actix_web::rt::time::sleep(std::time::Duration::from_millis({})).await;
",
                d.as_millis()
            ),
        }
    }
}

/// Where an app's `/` handler is, and how it begins.
fn root_handler(app: &str) -> (&'static str, &'static str) {
    match app {
        "paktech-gateway" => (
            "gateway/src/routes.rs",
            "async fn root(state: web::Data<GatewayState>) -> HttpResponse {\n",
        ),
        _ => (
            "app/src/routes.rs",
            "async fn root(state: web::Data<AppState>) -> HttpResponse {\n",
        ),
    }
}

/// The target directory tests' builds share.
pub fn shared_target() -> PathBuf {
    adapters::tools::target_dir(&workspace())
}

/// Held while a test builds the app into the shared target directory.
#[derive(Debug)]
pub struct BuildLock {
    _file: std::fs::File,
}

impl BuildLock {
    /// Waits for the lock (other test processes build too).
    pub async fn take() -> Self {
        let target = shared_target();
        std::fs::create_dir_all(&target).expect("target directory");
        let path = target.join("paktech-test-builds.lock");
        let file = adapters::lockfile::open(&path).expect("lock file");
        let file = tokio::task::spawn_blocking(move || {
            file.lock().expect("take the build lock");
            file
        })
        .await
        .expect("lock");
        Self { _file: file }
    }
}

/// Builds paktech-app with `fault` under a made-up SHA into the local engine, and says on
/// stderr how long it took.
pub async fn faulty_build(pipeline: &Pipeline, docker: &Docker, fault: Fault) -> GitSha {
    faulty_build_of(pipeline, docker, crate::APP, fault).await
}

/// Builds `app` (paktech-app or paktech-gateway) with `fault` under a made-up SHA.
pub async fn faulty_build_of(
    pipeline: &Pipeline,
    docker: &Docker,
    app: &str,
    fault: Fault,
) -> GitSha {
    // Shared between tests like any made-up build (`crate::made_up`), the fault's code in
    // what names it.
    let (file, _) = root_handler(app);
    let folder = Path::new(file)
        .parent()
        .and_then(Path::parent)
        .expect("the app's folder");
    let sha = crate::made_up(
        &[&workspace().join(folder)],
        &format!("{app} {}\n{}", fault.name(), fault.code()),
    );
    let _lock = BuildLock::take().await;
    if crate::built(pipeline, docker, app, &sha).await {
        return sha;
    }
    let started = Instant::now();
    let copy = shared_target()
        .join(format!("faulty-{app}"))
        .join(fault.name());
    write_copy(&workspace(), &copy, app, fault);
    crate::build_sources_of(pipeline, docker, copy, app, &sha).await;
    eprintln!(
        "faulty build {} ({}) took {:.1}s",
        sha.short(),
        fault.name(),
        started.elapsed().as_secs_f64()
    );
    sha
}

/// The workspace's members, as its manifest lists them.
fn members(workspace: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(workspace.join("Cargo.toml")).expect("Cargo.toml");
    let manifest: toml::Table = text.parse().expect("Cargo.toml is TOML");
    manifest["workspace"]["members"]
        .as_array()
        .expect("workspace.members")
        .iter()
        .filter_map(|m| m.as_str())
        .flat_map(|member| match member.strip_suffix("/*") {
            // A glob such as `crates/*`: every folder there with a manifest, as cargo reads it.
            Some(parent) => std::fs::read_dir(workspace.join(parent))
                .expect("a members folder")
                .flatten()
                .filter(|e| e.path().join("Cargo.toml").is_file())
                .map(|e| format!("{parent}/{}", e.file_name().to_string_lossy()))
                .collect::<Vec<_>>(),
            None => vec![member.to_owned()],
        })
        .collect()
}

/// Removes from `copy` the folders of a members glob (`crates/*`) that are no longer
/// members: cargo would read a stale one, left by a copy of an older layout, as a member.
fn prune_members(copy: &Path, members: &[String]) {
    let parents: std::collections::BTreeSet<&str> = members
        .iter()
        .filter_map(|m| m.rsplit_once('/').map(|(parent, _)| parent))
        .collect();
    for parent in parents {
        let Ok(entries) = std::fs::read_dir(copy.join(parent)) else {
            continue;
        };
        for entry in entries.flatten() {
            let member = format!("{parent}/{}", entry.file_name().to_string_lossy());
            if !members.contains(&member) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// Lays the workspace's manifests and sources at `copy` (files unchanged keep their times,
/// so cargo's fingerprints hold) with `/`'s handler patched.
fn write_copy(workspace: &Path, copy: &Path, app: &str, fault: Fault) {
    std::fs::create_dir_all(copy).expect("create the copy");
    for file in ["Cargo.toml", "Cargo.lock"] {
        sync_file(&workspace.join(file), &copy.join(file));
    }
    let members = members(workspace);
    prune_members(copy, &members);
    for member in members {
        sync_dir(&workspace.join(&member), &copy.join(&member));
    }
    let (file, handler) = root_handler(app);
    let routes = std::fs::read_to_string(workspace.join(file)).expect("routes");
    assert!(
        routes.contains(handler),
        "{file} no longer has {handler:?}: update tests/src/faulty.rs"
    );
    let patched = routes.replacen(handler, &format!("{handler}{}", fault.code()), 1);
    write_if_changed(&copy.join(file), patched.as_bytes());
    let link = copy.join("target");
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink(shared_target(), &link).expect("link the shared target");
    }
}

fn sync_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            sync_dir(&path, &to.join(&name));
        } else {
            sync_file(&path, &to.join(&name));
        }
    }
}

fn sync_file(from: &Path, to: &Path) {
    write_if_changed(to, &std::fs::read(from).expect("read source"));
}

fn write_if_changed(path: &Path, contents: &[u8]) {
    if std::fs::read(path).ok().as_deref() != Some(contents) {
        std::fs::write(path, contents).expect("write copy");
    }
}
