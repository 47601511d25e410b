//! Does an image exist, and what is its digest? Asked of the local Docker engine's image store
//! (the local default), or of any OCI distribution registry (ACR, GHCR, a local registry) over
//! its HTTP API: a manifest `HEAD` with the manifest media types in `Accept`, the digest from
//! `Docker-Content-Digest`, and the registry's `WWW-Authenticate` challenge answered from the
//! environment: basic auth, or an access token from the challenge's realm, for which an ACR
//! refresh token (`REGISTRY_TOKEN`) is exchanged first. Challenges are parsed per RFC 7235.

use bollard::Docker;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, WWW_AUTHENTICATE};

use model::Secret;
use model::{Digest, Repository};

mod challenge;
mod session;
mod token;

pub use challenge::{Challenge, ChallengeError, parse_challenges};
pub use session::Session;
use token::*;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot build the HTTP client for registries: {reason}")]
    Client { reason: String },
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
    #[error(
        "the registry {registry} refused the credentials{}: check REGISTRY_TOKEN, or REGISTRY_USERNAME and REGISTRY_PASSWORD",
        .status.map(|s| format!(" (its token service {realm} answered {s})")).unwrap_or_default()
    )]
    Refused {
        registry: String,
        realm: String,
        status: Option<u16>,
    },
    #[error("the token service {realm} of the registry {registry} failed: {reason}")]
    TokenService {
        registry: String,
        realm: String,
        reason: String,
    },
    #[error("the registry {registry} sent a challenge this client cannot answer: {reason}")]
    Challenge { registry: String, reason: String },
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
    Basic {
        username: String,
        password: Secret,
    },
    /// A registry token, as `az acr login --expose-token` prints it: an ACR *refresh* token,
    /// which the registry API does not take as a bearer. It is exchanged at the realm of the
    /// registry's `Bearer` challenge for an access token (see [`Distribution::digest`]).
    Bearer(Secret),
}

/// The username ACR expects with a token in place of a password (`docker login`, and Basic
/// auth at its token endpoint), per ACR's AAD-OAuth document
/// (<https://github.com/Azure/acr/blob/main/docs/AAD-OAuth.md>).
pub const TOKEN_USERNAME: &str = "00000000-0000-0000-0000-000000000000";

impl Credentials {
    /// As a username and password for `docker push` (a token goes as the password, as ACR
    /// and GHCR accept it).
    pub fn for_push(&self) -> (String, String) {
        match self {
            Self::Basic { username, password } => (username.clone(), password.expose().to_owned()),
            Self::Bearer(token) => (TOKEN_USERNAME.to_owned(), token.expose().to_owned()),
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
    /// The client, or why it could not be built (returned by every lookup; there is no
    /// fallback client without timeouts).
    client: Result<reqwest::Client, String>,
    credentials: Option<Credentials>,
}

/// `registry.example.com/team/app` → (`registry.example.com`, `team/app`); `None` when the
/// first component is not a host (no `.` or `:`, and not `localhost`).
pub fn split_host(repository: &Repository) -> Option<(&str, &str)> {
    let host = repository.host()?;
    Some((host, &repository.as_str()[host.len() + 1..]))
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
    /// A registry client with timeouts. When no HTTP client can be built, every lookup fails
    /// with [`Error::Client`]; [`Distribution::try_new`] refuses at once instead.
    pub fn new(credentials: Option<Credentials>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .connect_timeout(std::time::Duration::from_secs(5))
            .user_agent(concat!("paktech-pipeline/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| cause_chain(&e));
        Self {
            client,
            credentials,
        }
    }

    /// As [`Distribution::new`], but an HTTP client that cannot be built is an error now.
    pub fn try_new(credentials: Option<Credentials>) -> Result<Self> {
        let registry = Self::new(credentials);
        match &registry.client {
            Ok(_) => Ok(registry),
            Err(reason) => Err(Error::Client {
                reason: reason.clone(),
            }),
        }
    }

    fn base(host: &str) -> String {
        format!(
            "{}://{host}",
            if is_loopback(host) { "http" } else { "https" }
        )
    }

    /// `HEAD /v2/<name>/manifests/<tag>`, asked anonymously first and, on a `401`, once more
    /// with what the challenge asks for:
    /// - `Bearer realm=…,service=…,scope=…`: an access token from the realm (the distribution
    ///   token spec, `docs/spec/auth/token.md` and `oauth.md` of distribution/distribution).
    ///   With a token ([`Credentials::Bearer`], an ACR refresh token) it is exchanged with
    ///   `POST realm` `grant_type=refresh_token&service&scope&refresh_token` for
    ///   `{"access_token"}` (oauth.md; ACR's `/oauth2/token`, AAD-OAuth.md); a realm that does
    ///   not take that form is asked `GET realm?service&scope` with Basic
    ///   `00000000-0000-0000-0000-000000000000:<token>`. With a username and password it is
    ///   `GET realm?service&scope` with Basic auth, answered `{"token"|"access_token"}` (token.md).
    /// - `Basic`: the username and password (or the token under ACR's token username).
    pub async fn digest(&self, host: &str, name: &str, tag: &str) -> Result<Option<Digest>> {
        let mut session = self.session(host, name)?;
        let url = session.url(&format!("manifests/{tag}"));
        let response = session
            .send(|client| client.head(&url).header(ACCEPT, MANIFEST_TYPES))
            .await?;
        match response.status() {
            StatusCode::OK => response
                .headers()
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .map(Some)
                .ok_or_else(|| Error::NoDigest {
                    registry: host.to_owned(),
                    name: name.to_owned(),
                    tag: tag.to_owned(),
                }),
            StatusCode::NOT_FOUND => Ok(None),
            status => Err(Error::Status {
                registry: host.to_owned(),
                name: name.to_owned(),
                tag: tag.to_owned(),
                status: status.as_u16(),
            }),
        }
    }

    /// A session with repository `name` of the registry at `host`: its requests share the
    /// credentials the registry's challenges asked for (see [`Distribution::digest`]).
    pub fn session<'a>(&'a self, host: &str, name: &str) -> Result<Session<'a>> {
        let client = self.client.as_ref().map_err(|reason| Error::Client {
            reason: reason.clone(),
        })?;
        Ok(Session {
            registry: self,
            client,
            host: host.to_owned(),
            name: name.to_owned(),
            auth: Auth::Anonymous,
        })
    }

    /// How to answer the challenges of a `401`: a bearer token from the realm of the first
    /// `Bearer` challenge, else basic credentials for a `Basic` one.
    async fn answer(
        &self,
        client: &reqwest::Client,
        host: &str,
        name: &str,
        challenges: &[Challenge],
    ) -> Result<Auth> {
        let Some(credentials) = &self.credentials else {
            return Err(Error::Unauthorized {
                registry: host.to_owned(),
            });
        };
        if let Some(bearer) = challenges.iter().find(|c| c.is("Bearer")) {
            let realm = bearer.param("realm").ok_or_else(|| Error::Challenge {
                registry: host.to_owned(),
                reason: "a Bearer challenge without a realm".to_owned(),
            })?;
            check_realm(host, realm)?;
            let service = bearer.param("service").unwrap_or(host);
            let scope = bearer
                .param("scope")
                .map_or_else(|| format!("repository:{name}:pull"), str::to_owned);
            let token = TokenRequest {
                client,
                host,
                realm,
                service,
                scope: &scope,
            }
            .token(credentials)
            .await?;
            return Ok(Auth::Bearer {
                realm: realm.to_owned(),
                token: Secret::new(token),
            });
        }
        if challenges.iter().any(|c| c.is("Basic")) {
            let (username, password) = match credentials {
                Credentials::Basic { username, password } => (username.clone(), password.clone()),
                Credentials::Bearer(token) => (TOKEN_USERNAME.to_owned(), token.clone()),
            };
            return Ok(Auth::Basic { username, password });
        }
        Err(Error::Challenge {
            registry: host.to_owned(),
            reason: format!(
                "no Bearer or Basic challenge among [{}]",
                challenges
                    .iter()
                    .map(|c| c.scheme.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }
}

/// The innermost cause of an HTTP error, without the URL.
fn root_cause(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

/// Every cause of a client-building error, outermost first.
fn cause_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(next) = source {
        text.push_str(": ");
        text.push_str(&next.to_string());
        source = next.source();
    }
    text
}

#[cfg(test)]
mod tests;
