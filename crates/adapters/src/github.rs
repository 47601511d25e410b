//! GitHub Actions: who reviewed this workflow run's deployments, read from GitHub's REST API
//! ("Get the review history for a workflow run",
//! `GET /repos/{owner}/{repo}/actions/runs/{run_id}/approvals`,
//! <https://docs.github.com/en/rest/actions/workflow-runs#get-the-review-history-for-a-workflow-run>).
//! The answer is an array of `{ environments: [{ name, .. }], state, user: { login, .. }, comment }`,
//! `state` one of `approved`, `rejected` (and `pending` in GitHub's OpenAPI description).
//!
//! The adapter only reports; deciding whether the reviews are enough (and discarding the
//! requester's own) is the approval gate's job. Every failure is an error, so the caller can
//! fail closed. The token is a `Secret`: it appears in no error, log or `Debug` output.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, LINK, USER_AGENT};

use model::Secret;

mod environment;
use environment::*;

/// GitHub's REST API version this adapter was written against (the `X-GitHub-Api-Version`
/// header, <https://docs.github.com/en/rest/about-the-rest-api/api-versions>).
pub const API_VERSION: &str = "2022-11-28";

/// At most this many pages (of 100 reviews) are read; more is an error rather than a
/// silently shortened history.
pub const MAX_PAGES: usize = 10;

const DEFAULT_API_URL: &str = "https://api.github.com";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{variable} is not set: expected {expected}")]
    MissingVariable {
        variable: &'static str,
        expected: &'static str,
    },
    #[error("{variable} is {value:?}: expected {expected}")]
    InvalidVariable {
        variable: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("cannot build the HTTP client for GitHub")]
    Client(#[source] reqwest::Error),
    #[error("cannot reach GitHub for {path}: {reason}")]
    Unreachable { path: String, reason: String },
    #[error("GitHub answered {status} for {path}{hint}")]
    Status {
        path: String,
        status: u16,
        hint: &'static str,
    },
    #[error("GitHub's answer for {path} is not a review history: {reason}")]
    Malformed { path: String, reason: String },
    #[error("GitHub's review history for {path} has more than {MAX_PAGES} pages")]
    TooManyPages { path: String },
    #[error("GitHub's next page for {path} points away from the API at {api}")]
    ForeignPage { path: String, api: String },
    #[error(
        "this is attempt {attempt} of the workflow run: GitHub keeps a run's approvals across re-runs, so an approval given to an earlier attempt would count; start a new run, which asks the reviewers again"
    )]
    ReRun { attempt: u64 },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a reviewer decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewState {
    Approved,
    Rejected,
    /// Any other state GitHub reports (its OpenAPI description also has `pending`).
    Other(String),
}

impl ReviewState {
    fn parse(state: &str) -> Self {
        match state {
            "approved" => Self::Approved,
            "rejected" => Self::Rejected,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// One entry of a run's review history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunApproval {
    /// The reviewer's GitHub login.
    pub reviewer: String,
    pub state: ReviewState,
    /// The names of the environments the review was for.
    pub environments: Vec<String>,
    pub comment: Option<String>,
}

/// The logins that approved deployments to `env` (exact environment name), in the order
/// GitHub lists them; a login may appear more than once. The requester is not removed here.
pub fn approved_for<'a>(
    approvals: &'a [RunApproval],
    env: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    approvals
        .iter()
        .filter(move |a| {
            a.state == ReviewState::Approved && a.environments.iter().any(|e| e == env)
        })
        .map(|a| a.reviewer.as_str())
}

/// The current workflow run, as GitHub Actions describes it in the environment.
#[derive(Debug, Clone)]
pub struct GitHubRun {
    client: reqwest::Client,
    api: String,
    owner: String,
    repo: String,
    run_id: u64,
    token: Secret,
    requester: String,
}

impl GitHubRun {
    /// From the variables GitHub Actions sets: `GITHUB_API_URL` (default
    /// `https://api.github.com`), `GITHUB_REPOSITORY`, `GITHUB_RUN_ID`, `GITHUB_TOKEN`, and the
    /// requester from `GITHUB_TRIGGERING_ACTOR`, else `GITHUB_ACTOR`.
    pub fn from_env() -> Result<Self> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// As [`GitHubRun::from_env`], with the variables looked up through `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        let api = api_url(var("GITHUB_API_URL"))?;
        let (owner, repo) = repository(var("GITHUB_REPOSITORY"))?;
        let run_id = run_id(var("GITHUB_RUN_ID"))?;
        // The review history is keyed by run id, which a re-run keeps (the API has no attempt):
        // only a run's first attempt may take its approvals from it.
        let attempt = run_attempt(var("GITHUB_RUN_ATTEMPT"))?;
        if attempt > 1 {
            return Err(Error::ReRun { attempt });
        }
        let token = Secret::new(var("GITHUB_TOKEN").ok_or(Error::MissingVariable {
            variable: "GITHUB_TOKEN",
            expected: "a token that may read the repository's Actions (`actions: read`)",
        })?);
        let requester = match var("GITHUB_TRIGGERING_ACTOR") {
            Some(login) => login_of("GITHUB_TRIGGERING_ACTOR", login)?,
            None => login_of(
                "GITHUB_ACTOR",
                var("GITHUB_ACTOR").ok_or(Error::MissingVariable {
                    variable: "GITHUB_ACTOR",
                    expected: "the GitHub login that started the run (or GITHUB_TRIGGERING_ACTOR)",
                })?,
            )?,
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(Error::Client)?;
        Ok(Self {
            client,
            api,
            owner,
            repo,
            run_id,
            token,
            requester,
        })
    }

    /// The login of the person who started the run (the requester of the promotion).
    pub fn requester(&self) -> &str {
        &self.requester
    }

    /// `owner/repo`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }

    pub fn run_id(&self) -> u64 {
        self.run_id
    }

    /// The API path of this run's review history.
    pub fn approvals_path(&self) -> String {
        format!(
            "/repos/{}/{}/actions/runs/{}/approvals",
            self.owner, self.repo, self.run_id
        )
    }

    /// Every review of this run's deployments, all pages.
    #[tracing::instrument(skip_all, fields(repository = %self.repository(), run_id = self.run_id))]
    pub async fn approvals(&self) -> Result<Vec<RunApproval>> {
        let path = self.approvals_path();
        let mut url = format!("{}{path}?per_page=100", self.api);
        let mut approvals = Vec::new();
        for _ in 0..MAX_PAGES {
            let (page, next) = self.page(&path, &url).await?;
            approvals.extend(page);
            match next {
                None => return Ok(approvals),
                // The token goes only to the API it was given for.
                Some(next) if next.starts_with(&format!("{}/", self.api)) => url = next,
                Some(_) => {
                    return Err(Error::ForeignPage {
                        path,
                        api: self.api.clone(),
                    });
                }
            }
        }
        Err(Error::TooManyPages { path })
    }

    /// One page and the URL of the next, if any.
    async fn page(&self, path: &str, url: &str) -> Result<(Vec<RunApproval>, Option<String>)> {
        let response = self
            .client
            .get(url)
            .bearer_auth(self.token.expose())
            .header(ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION)
            .header(
                USER_AGENT,
                concat!("paktech-pipeline/", env!("CARGO_PKG_VERSION")),
            )
            .send()
            .await
            .map_err(|e| Error::Unreachable {
                path: path.to_owned(),
                reason: if e.is_timeout() {
                    "timed out".to_owned()
                } else {
                    root_cause(&e)
                },
            })?;
        let status = response.status();
        if status != StatusCode::OK {
            return Err(Error::Status {
                path: path.to_owned(),
                status: status.as_u16(),
                hint: match status {
                    StatusCode::UNAUTHORIZED => " (check GITHUB_TOKEN)",
                    StatusCode::FORBIDDEN => {
                        " (the token needs `actions: read`, or the rate limit was hit)"
                    }
                    StatusCode::NOT_FOUND => {
                        " (check GITHUB_REPOSITORY and GITHUB_RUN_ID, and that the token can see the repository)"
                    }
                    _ => "",
                },
            });
        }
        let next = response
            .headers()
            .get_all(LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(next_link);
        let malformed = |reason: String| Error::Malformed {
            path: path.to_owned(),
            reason,
        };
        let body = response
            .bytes()
            .await
            .map_err(|e| malformed(root_cause(&e)))?;
        let wire: Vec<wire::Review> =
            serde_json::from_slice(&body).map_err(|e| malformed(e.to_string()))?;
        let page = wire
            .into_iter()
            .map(|r| RunApproval {
                reviewer: r.user.login,
                state: ReviewState::parse(&r.state),
                environments: r.environments.into_iter().map(|e| e.name).collect(),
                comment: r.comment.filter(|c| !c.is_empty()),
            })
            .collect();
        Ok((page, next))
    }
}

/// The documented response shape; fields the adapter does not use are ignored.
mod wire {
    #[derive(serde::Deserialize)]
    pub struct Review {
        pub environments: Vec<Environment>,
        pub state: String,
        pub user: User,
        #[serde(default)]
        pub comment: Option<String>,
    }

    #[derive(serde::Deserialize)]
    pub struct Environment {
        pub name: String,
    }

    #[derive(serde::Deserialize)]
    pub struct User {
        pub login: String,
    }
}

/// The `rel="next"` target of one `Link` header value (RFC 8288), as GitHub paginates
/// (<https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api>).
fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(start) = rest.find('<') {
        let end = start + rest[start..].find('>')?;
        let target = &rest[start + 1..end];
        let params_end = rest[end..].find('<').map_or(rest.len(), |i| end + i);
        let params = &rest[end + 1..params_end];
        let is_next = params.split(';').any(|p| {
            let Some((key, value)) = p.split_once('=') else {
                return false;
            };
            key.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_end_matches(',')
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(target.to_owned());
        }
        rest = &rest[params_end..];
    }
    None
}

/// The innermost cause of an HTTP error, without the URL.
fn root_cause(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

#[cfg(test)]
mod tests;
