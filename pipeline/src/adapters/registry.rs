//! Does an image exist, and what is its digest? Asked of the local Docker engine's image store
//! (the local default), or of any OCI distribution registry (ACR, GHCR, a local registry) over
//! its HTTP API: a manifest `HEAD` with the manifest media types in `Accept`, the digest from
//! `Docker-Content-Digest`, and basic or bearer-token auth from the environment.

use bollard::Docker;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, WWW_AUTHENTICATE};

use crate::model::Secret;
use crate::model::{Digest, Repository};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach the registry {registry}: {reason}")]
    Unreachable { registry: String, reason: String },
    #[error("the registry {registry} answered {status} for {name}:{tag}")]
    Status {
        registry: String,
        name: String,
        tag: String,
        status: u16,
    },
    #[error(
        "the registry {registry} asks for credentials: set REGISTRY_USERNAME and REGISTRY_PASSWORD, or REGISTRY_TOKEN"
    )]
    Unauthorized { registry: String },
    #[error("the registry {registry} gave no valid Docker-Content-Digest for {name}:{tag}")]
    NoDigest {
        registry: String,
        name: String,
        tag: String,
    },
    #[error("docker engine: {0}")]
    Engine(#[source] bollard::errors::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The manifest kinds a registry may hold for one tag, most specific last.
const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// Credentials for a distribution registry; never printed.
#[derive(Clone, Debug)]
pub enum Credentials {
    Basic { username: String, password: Secret },
    Bearer(Secret),
}

impl Credentials {
    /// As a username and password for `docker push` (a token goes as the password, as ACR
    /// and GHCR accept it).
    pub fn for_push(&self) -> (String, String) {
        match self {
            Self::Basic { username, password } => (username.clone(), password.expose().to_owned()),
            Self::Bearer(token) => (
                "00000000-0000-0000-0000-000000000000".to_owned(),
                token.expose().to_owned(),
            ),
        }
    }

    /// From `REGISTRY_TOKEN`, or `REGISTRY_USERNAME` and `REGISTRY_PASSWORD`.
    pub fn from_env() -> Option<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let Some(token) = var("REGISTRY_TOKEN") {
            return Some(Self::Bearer(Secret::new(token)));
        }
        Some(Self::Basic {
            username: var("REGISTRY_USERNAME")?,
            password: Secret::new(var("REGISTRY_PASSWORD")?),
        })
    }
}

/// Where images are looked up.
#[derive(Debug, Clone)]
pub enum Registry {
    /// The local engine's image store: the digest is the image id.
    Engine(Docker),
    /// An OCI distribution registry.
    Distribution(Distribution),
}

/// An OCI distribution registry reached over HTTP.
#[derive(Debug, Clone)]
pub struct Distribution {
    client: reqwest::Client,
    credentials: Option<Credentials>,
}

/// `registry.example.com/team/app` → (`registry.example.com`, `team/app`); `None` when the
/// first component is not a host (no `.` or `:`, and not `localhost`).
pub fn split_host(repository: &Repository) -> Option<(&str, &str)> {
    let (first, rest) = repository.as_str().split_once('/')?;
    (first.contains('.') || first.contains(':') || first == "localhost").then_some((first, rest))
}

impl Registry {
    /// The engine for plain names, a distribution registry for names with a host.
    pub fn for_repository(
        repository: &Repository,
        docker: Docker,
        credentials: Option<Credentials>,
    ) -> Self {
        match split_host(repository) {
            Some(_) => Self::Distribution(Distribution::new(credentials)),
            None => Self::Engine(docker),
        }
    }

    /// The digest of `repository:tag`, or `None` when there is no such image.
    #[tracing::instrument(skip_all, fields(repository = %repository, tag))]
    pub async fn digest(&self, repository: &Repository, tag: &str) -> Result<Option<Digest>> {
        match self {
            Self::Engine(docker) => {
                match docker.inspect_image(&format!("{repository}:{tag}")).await {
                    Ok(image) => Ok(image.id.and_then(|id| id.parse().ok())),
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }) => Ok(None),
                    Err(e) => Err(Error::Engine(e)),
                }
            }
            Self::Distribution(d) => {
                let (host, name) =
                    split_host(repository).unwrap_or(("docker.io", repository.as_str()));
                d.digest(host, name, tag).await
            }
        }
    }
}

impl Distribution {
    pub fn new(credentials: Option<Credentials>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            client,
            credentials,
        }
    }

    fn base(host: &str) -> String {
        let loopback =
            host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]");
        format!("{}://{host}", if loopback { "http" } else { "https" })
    }

    /// `HEAD /v2/<name>/manifests/<tag>`, answering a bearer or basic challenge once.
    pub async fn digest(&self, host: &str, name: &str, tag: &str) -> Result<Option<Digest>> {
        let url = format!("{}/v2/{name}/manifests/{tag}", Self::base(host));
        let unreachable = |e: reqwest::Error| Error::Unreachable {
            registry: host.to_owned(),
            reason: if e.is_timeout() {
                "timed out".to_owned()
            } else {
                root_cause(&e)
            },
        };
        let mut auth = match &self.credentials {
            Some(Credentials::Bearer(token)) => Auth::Bearer(token.expose().to_owned()),
            _ => Auth::Anonymous,
        };
        for _ in 0..2 {
            let mut request = self.client.head(&url).header(ACCEPT, MANIFEST_TYPES);
            request = match (&auth, &self.credentials) {
                (Auth::Bearer(token), _) => request.bearer_auth(token),
                (Auth::Basic, Some(Credentials::Basic { username, password })) => {
                    request.basic_auth(username, Some(password.expose()))
                }
                _ => request,
            };
            let response = request.send().await.map_err(unreachable)?;
            match response.status() {
                StatusCode::OK => {
                    return response
                        .headers()
                        .get("docker-content-digest")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok())
                        .map(Some)
                        .ok_or_else(|| Error::NoDigest {
                            registry: host.to_owned(),
                            name: name.to_owned(),
                            tag: tag.to_owned(),
                        });
                }
                StatusCode::NOT_FOUND => return Ok(None),
                StatusCode::UNAUTHORIZED
                    if matches!(auth, Auth::Anonymous)
                        || matches!(self.credentials, Some(Credentials::Bearer(_))) =>
                {
                    let challenge = response
                        .headers()
                        .get(WWW_AUTHENTICATE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    auth = self.answer(host, &challenge).await?;
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(Error::Unauthorized {
                        registry: host.to_owned(),
                    });
                }
                status => {
                    return Err(Error::Status {
                        registry: host.to_owned(),
                        name: name.to_owned(),
                        tag: tag.to_owned(),
                        status: status.as_u16(),
                    });
                }
            }
        }
        Err(Error::Unauthorized {
            registry: host.to_owned(),
        })
    }

    /// How to answer `challenge`: a bearer token from its realm, or basic credentials.
    async fn answer(&self, host: &str, challenge: &str) -> Result<Auth> {
        let unauthorized = || Error::Unauthorized {
            registry: host.to_owned(),
        };
        if let Some(params) = challenge.strip_prefix("Bearer ") {
            let field = |key: &str| {
                params.split(',').find_map(|kv| {
                    let (k, v) = kv.trim().split_once('=')?;
                    (k == key).then(|| v.trim_matches('"').to_owned())
                })
            };
            let realm = field("realm").ok_or_else(unauthorized)?;
            let mut request = self.client.get(&realm).query(
                &[("service", field("service")), ("scope", field("scope"))]
                    .into_iter()
                    .filter_map(|(k, v)| Some((k, v?)))
                    .collect::<Vec<_>>(),
            );
            if let Some(Credentials::Basic { username, password }) = &self.credentials {
                request = request.basic_auth(username, Some(password.expose()));
            }
            let response = request.send().await.map_err(|e| Error::Unreachable {
                registry: host.to_owned(),
                reason: format!("token service: {}", root_cause(&e)),
            })?;
            if !response.status().is_success() {
                return Err(unauthorized());
            }
            let body: serde_json::Value = response.json().await.map_err(|_| unauthorized())?;
            let token = body["token"]
                .as_str()
                .or(body["access_token"].as_str())
                .ok_or_else(unauthorized)?;
            return Ok(Auth::Bearer(token.to_owned()));
        }
        match &self.credentials {
            Some(Credentials::Basic { .. }) => Ok(Auth::Basic),
            _ => Err(unauthorized()),
        }
    }
}

/// How the next request authenticates.
enum Auth {
    Anonymous,
    Bearer(String),
    Basic,
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
mod tests {
    use super::*;

    #[test]
    fn hosts_are_told_from_paths() {
        let check = |r: &str, expected: Option<(&str, &str)>| {
            let repo: Repository = r.parse().expect("repository");
            assert_eq!(split_host(&repo), expected, "{r}");
        };
        check("paktech-app", None);
        check("team/paktech-app", None);
        check(
            "127.0.0.1:5000/paktech-app",
            Some(("127.0.0.1:5000", "paktech-app")),
        );
        check(
            "paktech.azurecr.io/apps/paktech-app",
            Some(("paktech.azurecr.io", "apps/paktech-app")),
        );
        check("localhost/app", Some(("localhost", "app")));
    }
}
