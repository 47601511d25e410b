//! Image repository names compared as cosign compares them: normalised the way
//! go-containerregistry's `name.ParseReference` does before `Repository.Name()` is taken.
//!
//! Relied on: google/go-containerregistry `pkg/name/repository.go` (`NewRepository`: the first
//! path component is a registry host only when it is `localhost` or contains `.` or `:`;
//! otherwise the whole name is a Docker Hub repository, and a Docker Hub repository without a
//! `/` gets the implicit `library/` namespace; repository characters are
//! `abcdefghijklmnopqrstuvwxyz0123456789_-./`), `pkg/name/registry.go` (`DefaultRegistry` is
//! `index.docker.io`, and its alias `docker.io` is rewritten to it), and `pkg/name/tag.go`,
//! `pkg/name/digest.go` (a reference's `:tag` after the last `/`, or its `@digest`, is not part
//! of the repository).

/// The registry Docker Hub names resolve to in go-containerregistry.
pub const DEFAULT_REGISTRY: &str = "index.docker.io";
const DEFAULT_REGISTRY_ALIAS: &str = "docker.io";
const DEFAULT_NAMESPACE: &str = "library";
const REPOSITORY_CHARS: &str = "abcdefghijklmnopqrstuvwxyz0123456789_-./";

/// Why a name is not an image reference go-containerregistry would accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{name:?} is not an image reference: {problem}")]
    Invalid { name: String, problem: &'static str },
}

/// `reference` (`[host/]path[:tag|@digest]`) as `host/path`, as go-containerregistry names
/// its repository: `org/app` and `docker.io/org/app` become `index.docker.io/org/app`,
/// `app` becomes `index.docker.io/library/app`; any other registry host is kept as written.
pub fn normalise(reference: &str) -> Result<String, NameError> {
    let invalid = |problem| NameError::Invalid {
        name: reference.to_owned(),
        problem,
    };
    let without_digest = reference
        .split_once('@')
        .map_or(reference, |(name, _)| name);
    // A tag follows the last `:` that comes after the last `/` (a host's port comes before).
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    let name = match without_digest[last_slash..].rfind(':') {
        Some(colon) => &without_digest[..last_slash + colon],
        None => without_digest,
    };
    if name.is_empty() {
        return Err(invalid("no repository name"));
    }
    let (registry, repository) = match name.split_once('/') {
        Some((first, rest)) if first == "localhost" || first.contains(['.', ':']) => (first, rest),
        _ => ("", name),
    };
    if repository.is_empty() {
        return Err(invalid("no repository path after the registry host"));
    }
    if !repository.chars().all(|c| REPOSITORY_CHARS.contains(c)) {
        return Err(invalid(
            "a repository path has only lowercase letters, digits, and _ - . /",
        ));
    }
    let registry = match registry {
        "" | DEFAULT_REGISTRY_ALIAS => DEFAULT_REGISTRY,
        host => host,
    };
    if registry == DEFAULT_REGISTRY && !repository.contains('/') {
        return Ok(format!("{registry}/{DEFAULT_NAMESPACE}/{repository}"));
    }
    Ok(format!("{registry}/{repository}"))
}

/// Whether `found` (a signature's `docker-reference`) and `expected` name the same
/// repository once both are normalised; a name that does not parse matches nothing.
pub fn same_repository(found: &str, expected: &str) -> bool {
    matches!((normalise(found), normalise(expected)), (Ok(a), Ok(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, expected: Result<&str, ()>) {
        assert_eq!(
            normalise(name).as_deref().map_err(|_| ()),
            expected,
            "{name}"
        );
    }

    #[test]
    fn names_normalise_as_go_containerregistry_does() {
        check("app", Ok("index.docker.io/library/app"));
        check("org/app", Ok("index.docker.io/org/app"));
        check("docker.io/org/app", Ok("index.docker.io/org/app"));
        check("docker.io/app", Ok("index.docker.io/library/app"));
        check("index.docker.io/org/app", Ok("index.docker.io/org/app"));
        check("index.docker.io/app", Ok("index.docker.io/library/app"));
        check("org/app:1.2", Ok("index.docker.io/org/app"));
        check(
            "app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            Ok("index.docker.io/library/app"),
        );
        check("localhost/app", Ok("localhost/app"));
        check(
            "127.0.0.1:5000/paktech-app",
            Ok("127.0.0.1:5000/paktech-app"),
        );
        check(
            "127.0.0.1:5000/paktech-app:v1",
            Ok("127.0.0.1:5000/paktech-app"),
        );
        check("ghcr.io/org/team/app", Ok("ghcr.io/org/team/app"));
        check(
            "paktech.azurecr.io/apps/app",
            Ok("paktech.azurecr.io/apps/app"),
        );
        // Not a host (no `.` or `:`, not localhost): part of a Docker Hub path.
        check("team/org/app", Ok("index.docker.io/team/org/app"));
        check("Org/App", Err(()));
        check("", Err(()));
        check("ghcr.io/", Err(()));
        check(":tag", Err(()));
    }

    #[test]
    fn repositories_compare_after_normalising() {
        assert!(same_repository(
            "index.docker.io/org/app",
            "docker.io/org/app"
        ));
        assert!(same_repository("index.docker.io/library/app", "app"));
        assert!(same_repository("ghcr.io/org/app", "ghcr.io/org/app"));
        assert!(!same_repository("ghcr.io/org/app", "ghcr.io/org/other"));
        assert!(!same_repository("docker.io/org/app", "ghcr.io/org/app"));
        assert!(!same_repository("Bad/Name", "Bad/Name"));
    }
}
