//! Whether a test can run here: the services and tools tests need, and the one rule for a
//! missing one. The test skips, printing `SKIPPED` with the reason and the remedy, unless the
//! service's `PAKTECH_REQUIRE_*` variable is set (`.ci/run` sets them all); then it fails, so
//! CI can never pass by skipping.

use std::path::{Path, PathBuf};

/// Something a test needs from the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The Docker engine (`DOCKER_HOST`, or the default socket).
    Docker,
    /// Debian's `docker-registry`, run by tests as a local OCI registry.
    Registry,
    /// A program on PATH: `helm`, `checkov`, `wrk`, `chromium`, `chromedriver`,
    /// `cargo-auditable` (every image build runs `cargo auditable build`), and `cargo-deny`
    /// (the crates' layering and licences).
    Tool(&'static str),
    /// A Python module `python3` imports: `securesystemslib` and `in_toto_attestation`, the
    /// independent checks of DSSE envelopes and in-toto statements.
    Python(&'static str),
    /// `shared/` beside the project: the grype reports and manifests tests read.
    Shared,
    /// kind, kubectl, docker and git, for the real-cluster run.
    Kind,
}

/// Every service a test here may need, in the order the run's report lists them.
pub const ALL: [Service; 13] = [
    Service::Docker,
    Service::Registry,
    Service::Tool("cargo-auditable"),
    Service::Tool("cargo-deny"),
    Service::Tool("helm"),
    Service::Tool("checkov"),
    Service::Tool("wrk"),
    Service::Tool("chromium"),
    Service::Tool("chromedriver"),
    Service::Python("securesystemslib"),
    Service::Python("in_toto_attestation"),
    Service::Shared,
    Service::Kind,
];

/// Where Debian's package installs the registry.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// The programs the kind run drives.
const KIND_TOOLS: [&str; 4] = ["kind", "kubectl", "docker", "git"];

impl Service {
    /// The variable that turns this service's absence from a skip into a failure.
    pub fn variable(self) -> &'static str {
        match self {
            Service::Docker => "PAKTECH_REQUIRE_DOCKER",
            Service::Registry => "PAKTECH_REQUIRE_REGISTRY",
            Service::Tool(_) | Service::Python(_) => "PAKTECH_REQUIRE_TOOLS",
            Service::Shared => "PAKTECH_REQUIRE_SHARED",
            Service::Kind => "PAKTECH_REQUIRE_KIND",
        }
    }

    /// What it is called in messages.
    pub fn name(self) -> &'static str {
        match self {
            Service::Docker => "docker",
            Service::Registry => "docker-registry",
            Service::Tool(program) | Service::Python(program) => program,
            Service::Shared => "shared/",
            Service::Kind => "kind",
        }
    }

    /// How to get it.
    pub fn remedy(self) -> &'static str {
        match self {
            Service::Docker => "start the Docker engine or set DOCKER_HOST",
            Service::Registry | Service::Tool(_) | Service::Python(_) => {
                "`bash .ci/install-tools` installs it"
            }
            Service::Shared => "put the shared test data beside the project",
            Service::Kind => "install kind and kubectl (see docs/operations.md)",
        }
    }

    /// Why the service cannot be used here, or `None` when it can.
    pub fn absent(self) -> Option<String> {
        match self {
            Service::Docker => docker_absent(),
            Service::Registry => {
                (!Path::new(REGISTRY_BIN).exists()).then(|| format!("{REGISTRY_BIN} is missing"))
            }
            Service::Tool(program) => {
                (!adapters::tools::on_path(program)).then(|| format!("{program} is not on PATH"))
            }
            Service::Python(module) => {
                let imported = std::process::Command::new("python3")
                    .args(["-c", &format!("import {module}")])
                    .output()
                    .is_ok_and(|out| out.status.success());
                (!imported).then(|| format!("python3 cannot import {module}"))
            }
            Service::Shared => {
                let dir = shared_dir();
                (!dir.is_dir()).then(|| format!("{} is missing", dir.display()))
            }
            Service::Kind => {
                let missing: Vec<_> = KIND_TOOLS
                    .into_iter()
                    .filter(|program| !adapters::tools::on_path(program))
                    .collect();
                (!missing.is_empty()).then(|| format!("{} not on PATH", missing.join(", ")))
            }
        }
    }
}

/// Whether `variable` says a service must be there (`1`, `true` or `yes`).
pub fn required(variable: &str) -> bool {
    matches!(
        std::env::var(variable).as_deref(),
        Ok("1") | Ok("true") | Ok("yes")
    )
}

/// The one rule for a missing service: fails the test when the service's variable says it is
/// required; otherwise prints `SKIPPED <test>: <why>` with the remedy.
///
/// # Panics
/// When the service's `PAKTECH_REQUIRE_*` variable is set.
pub fn skip_or_fail(service: Service, test: &str, why: &str) {
    let variable = service.variable();
    assert!(
        !required(variable),
        "{test}: {variable} is set but {why} ({})",
        service.remedy()
    );
    eprintln!(
        "SKIPPED {test}: {why}; {}, or set {variable}=1 to make this a failure",
        service.remedy()
    );
}

/// Whether `service` is there; when it is not, [`skip_or_fail`] decides.
pub fn require(service: Service, test: &str) -> bool {
    match service.absent() {
        None => true,
        Some(why) => {
            skip_or_fail(service, test, &why);
            false
        }
    }
}

/// The Docker engine, or `None` when it (or `cargo-auditable`, which every image build its
/// tests make runs) is absent (see [`skip_or_fail`]).
pub async fn docker(test: &str) -> Option<bollard::Docker> {
    match adapters::docker::connect().await {
        // The engine's tests build images, and every image build runs `cargo auditable build`.
        Ok(docker) => require(Service::Tool("cargo-auditable"), test).then_some(docker),
        Err(err) => {
            skip_or_fail(Service::Docker, test, &err.to_string());
            None
        }
    }
}

/// `shared/` beside the project, or `None` when it is absent (see [`skip_or_fail`]).
pub fn shared(test: &str) -> Option<PathBuf> {
    require(Service::Shared, test).then(shared_dir)
}

fn shared_dir() -> PathBuf {
    crate::workspace().join("..").join("shared")
}

/// Connects on a thread of its own, so the check works from synchronous and asynchronous
/// code alike.
fn docker_absent() -> Option<String> {
    std::thread::spawn(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime
            .block_on(adapters::docker::connect())
            .map(drop)
            .map_err(|e| e.to_string())
    })
    .join()
    .unwrap_or_else(|_| Err("the Docker check panicked".to_owned()))
    .err()
}
