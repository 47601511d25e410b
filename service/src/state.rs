//! The state every PakTech service shares between its workers, whatever its routes.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::build_info::BuildInfo;
use crate::metrics::Metrics;

/// What the shared plumbing (access log, metrics, drain, `/ready`) needs of a service.
/// A service's own state embeds one and dereferences to it.
#[derive(Debug)]
pub struct Core {
    /// Which build this is.
    pub build: BuildInfo,
    /// The environment this replica serves (the same image runs in all of them).
    pub environment: String,
    /// False from the moment shutdown begins, so `/ready` turns 503 and traffic drains.
    pub ready: AtomicBool,
    pub metrics: Metrics,
    /// Every route the service answers: the closed set of `route` metric labels.
    routes: &'static [&'static str],
}

impl Core {
    pub fn new(build: BuildInfo, routes: &'static [&'static str], environment: &str) -> Self {
        Self {
            build,
            environment: environment.to_owned(),
            ready: AtomicBool::new(true),
            metrics: Metrics::new(&build, environment),
            routes,
        }
    }

    /// Every route the service answers.
    pub fn routes(&self) -> &'static [&'static str] {
        self.routes
    }

    /// The route a request matched, as a static label (`unmatched` for unknown paths).
    pub fn route_label(&self, matched: Option<&str>) -> &'static str {
        route_label(self.routes, matched)
    }

    /// False once shutdown has begun.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// The route `matched` names among `routes`, as a static label (`unmatched` when none).
pub fn route_label(routes: &'static [&'static str], matched: Option<&str>) -> &'static str {
    matched
        .and_then(|name| routes.iter().find(|route| **route == name))
        .copied()
        .unwrap_or("unmatched")
}
