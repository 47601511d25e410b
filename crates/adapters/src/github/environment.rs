//! A workflow run as GitHub Actions' environment variables describe it (GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT, GITHUB_ACTOR), each refused with the variable named.

use super::*;

pub(super) fn api_url(value: Option<String>) -> Result<String> {
    let Some(value) = value else {
        return Ok(DEFAULT_API_URL.to_owned());
    };
    let invalid = || Error::InvalidVariable {
        variable: "GITHUB_API_URL",
        value: value.clone(),
        expected: "an https:// URL (http:// only for a loopback host), such as https://api.github.com",
    };
    let rest = if let Some(rest) = value.strip_prefix("https://") {
        rest
    } else if let Some(rest) = value.strip_prefix("http://") {
        let host = rest.split(['/', ':']).next().unwrap_or_default();
        let loopback = host == "localhost" || host.starts_with("127.") || rest.starts_with("[::1]");
        if !loopback {
            return Err(invalid());
        }
        rest
    } else {
        return Err(invalid());
    };
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty()
        || rest.contains(['?', '#', '@'])
        || rest.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid());
    }
    Ok(value.trim_end_matches('/').to_owned())
}

/// `owner/repo`: an owner of letters, digits and single hyphens (at most 39), a repository
/// name of letters, digits, `.`, `_`, `-` (at most 100, not `.` or `..`).
pub(super) fn repository(value: Option<String>) -> Result<(String, String)> {
    const EXPECTED: &str = "owner/repository, such as paktech/paktech-gitops";
    let value = value.ok_or(Error::MissingVariable {
        variable: "GITHUB_REPOSITORY",
        expected: EXPECTED,
    })?;
    let invalid = || Error::InvalidVariable {
        variable: "GITHUB_REPOSITORY",
        value: value.clone(),
        expected: EXPECTED,
    };
    let (owner, repo) = value.split_once('/').ok_or_else(invalid)?;
    let owner_ok = (1..=39).contains(&owner.len())
        && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !owner.starts_with('-');
    let repo_ok = (1..=100).contains(&repo.len())
        && repo
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && repo != "."
        && repo != "..";
    if owner_ok && repo_ok {
        Ok((owner.to_owned(), repo.to_owned()))
    } else {
        Err(invalid())
    }
}

pub(super) fn run_id(value: Option<String>) -> Result<u64> {
    const EXPECTED: &str = "the workflow run's numeric id";
    let value = value.ok_or(Error::MissingVariable {
        variable: "GITHUB_RUN_ID",
        expected: EXPECTED,
    })?;
    value
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| value.parse().ok())
        .flatten()
        .ok_or(Error::InvalidVariable {
            variable: "GITHUB_RUN_ID",
            value,
            expected: EXPECTED,
        })
}

/// `GITHUB_RUN_ATTEMPT`: 1 for a run's first attempt; unset counts as the first.
pub(super) fn run_attempt(value: Option<String>) -> Result<u64> {
    let Some(value) = value else {
        return Ok(1);
    };
    match value.parse::<u64>() {
        Ok(attempt) if attempt >= 1 && value.bytes().all(|b| b.is_ascii_digit()) => Ok(attempt),
        _ => Err(Error::InvalidVariable {
            variable: "GITHUB_RUN_ATTEMPT",
            value,
            expected: "the run's attempt number (1, 2, ...)",
        }),
    }
}

/// A GitHub login: letters, digits and hyphens, at most 39, optionally an app's `[bot]` suffix.
pub(super) fn login_of(variable: &'static str, value: String) -> Result<String> {
    let name = value.strip_suffix("[bot]").unwrap_or(&value);
    let ok = (1..=39).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-');
    if ok {
        Ok(value)
    } else {
        Err(Error::InvalidVariable {
            variable,
            value,
            expected: "a GitHub login",
        })
    }
}
