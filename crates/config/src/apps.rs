//! `[[apps]]`: the services one delivery carries. Each app names how it is built (a Cargo
//! package of this workspace and its Dockerfile), the image repository it is pushed to, its
//! chart, the source paths whose change rebuilds it, the apps it depends on (rolled out
//! before it, rolled back after it) and what it asks of an environment beyond the
//! environment's own rules. Today's one-app form (`[app]` and `[image]`) reads as one app.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::AnalysisConfig;
use model::{AppName, EnvName, Person, Repository};

/// One app of the delivery.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    pub name: AppName,
    /// The Cargo package of this workspace whose binary (of the same name) its image runs;
    /// default: the app's name. (A plain Dockerfile context would be a `context` key beside
    /// it, built without cargo.)
    #[serde(default)]
    pub package: Option<String>,
    /// Its Dockerfile, relative to the workspace; default: `Dockerfile` beside the package's
    /// manifest.
    #[serde(default)]
    pub dockerfile: Option<String>,
    /// The repository its image is built into and promoted from.
    pub repository: Repository,
    /// Its Helm chart, relative to the workspace (the ApplicationSets render `helm/<app>`).
    #[serde(default)]
    pub chart: Option<String>,
    /// Workspace paths whose change rebuilds it, beside what its package links and
    /// `Cargo.lock` (`ci` finds those itself); `.`: any change (the one-app form).
    #[serde(default)]
    pub paths: Vec<String>,
    /// Apps that must run before it: rolled out first, and reached by their names.
    #[serde(default)]
    pub depends_on: Vec<AppName>,
    /// What it asks of an environment beyond the environment's own rules.
    #[serde(default)]
    pub environments: BTreeMap<EnvName, AppOverrides>,
}

/// An app's rules in one environment, over the environment's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppOverrides {
    pub approvals: Option<u32>,
    pub approvers: Option<Vec<Person>>,
    /// Replaces the environment's `[environments.analysis]` for this app (its own metrics).
    pub analysis: Option<AnalysisConfig>,
}

impl AppConfig {
    /// The one app of the `[app]` + `[image]` form.
    pub fn single(name: AppName, repository: Repository) -> Self {
        Self {
            name,
            package: None,
            dockerfile: None,
            repository,
            chart: None,
            // Rebuilt on any change of the workspace, as the one app always was.
            paths: vec![".".to_owned()],
            depends_on: Vec::new(),
            environments: BTreeMap::new(),
        }
    }

    /// The Cargo package its image is built from.
    pub fn package(&self) -> &str {
        self.package.as_deref().unwrap_or(self.name.as_str())
    }

    /// Its chart: as configured, else `helm/<app>`.
    pub fn chart(&self) -> String {
        self.chart
            .clone()
            .unwrap_or_else(|| format!("helm/{}", self.name))
    }

    /// What it asks of `env` beyond the environment's rules.
    pub fn overrides(&self, env: &EnvName) -> Option<&AppOverrides> {
        self.environments.get(env)
    }
}

/// `apps` in dependency order: every app after the apps it depends on, otherwise in the
/// order configured. Refuses duplicates, unknown dependencies and cycles, naming them.
pub fn in_dependency_order(apps: Vec<AppConfig>) -> Result<Vec<AppConfig>, String> {
    for (i, app) in apps.iter().enumerate() {
        if apps[..i].iter().any(|a| a.name == app.name) {
            return Err(format!(
                "apps[{i}].name: {:?} appears twice; expected each app once",
                app.name.as_str()
            ));
        }
    }
    for (i, app) in apps.iter().enumerate() {
        for dep in &app.depends_on {
            if !apps.iter().any(|a| &a.name == dep) {
                return Err(format!(
                    "apps[{i}].depends_on: {:?} is not an app of this file; expected one of {}",
                    dep.as_str(),
                    names(&apps)
                ));
            }
            if dep == &app.name {
                return Err(format!(
                    "apps[{i}].depends_on: {:?} depends on itself",
                    app.name.as_str()
                ));
            }
        }
    }
    let mut ordered: Vec<AppConfig> = Vec::with_capacity(apps.len());
    let mut left = apps;
    while !left.is_empty() {
        let ready = left.iter().position(|app| {
            app.depends_on
                .iter()
                .all(|dep| ordered.iter().any(|o| &o.name == dep))
        });
        match ready {
            Some(i) => ordered.push(left.remove(i)),
            None => {
                return Err(format!(
                    "apps: the dependencies of {} form a cycle; expected depends_on to point only at apps that do not depend back",
                    names(&left)
                ));
            }
        }
    }
    Ok(ordered)
}

fn names(apps: &[AppConfig]) -> String {
    apps.iter()
        .map(|a| a.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str, deps: &[&str]) -> AppConfig {
        let mut app = AppConfig::single(
            name.parse().expect("name"),
            name.parse().expect("repository"),
        );
        app.depends_on = deps.iter().map(|d| d.parse().expect("dep")).collect();
        app
    }

    fn order(apps: Vec<AppConfig>) -> Result<Vec<String>, String> {
        in_dependency_order(apps).map(|o| o.into_iter().map(|a| a.name.to_string()).collect())
    }

    #[test]
    fn dependencies_come_first_and_the_rest_keeps_its_order() {
        assert_eq!(
            order(vec![
                app("web", &["api"]),
                app("api", &["db"]),
                app("db", &[]),
                app("cron", &[])
            ]),
            Ok(vec!["db".into(), "api".into(), "web".into(), "cron".into()])
        );
        assert_eq!(
            order(vec![app("a", &[]), app("b", &[])]),
            Ok(vec!["a".into(), "b".into()])
        );
    }

    #[test]
    fn duplicates_unknown_dependencies_and_cycles_are_refused() {
        for (apps, expected) in [
            (
                vec![app("a", &[]), app("a", &[])],
                "apps[1].name: \"a\" appears twice",
            ),
            (
                vec![app("a", &["z"])],
                "apps[0].depends_on: \"z\" is not an app of this file; expected one of a",
            ),
            (vec![app("a", &["a"])], "\"a\" depends on itself"),
            (
                vec![
                    app("a", &["b"]),
                    app("b", &["c"]),
                    app("c", &["a"]),
                    app("d", &[]),
                ],
                "the dependencies of a, b, c form a cycle",
            ),
        ] {
            let err = order(apps).expect_err("refused");
            assert!(err.contains(expected), "{err}\nexpected: {expected}");
        }
    }
}
