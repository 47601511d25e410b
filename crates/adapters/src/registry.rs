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

/// Requests to one repository of a distribution registry, authenticated as its challenges
/// ask: the first `401` of a request is answered (a token for the challenge's scope, so a
/// write gets a `pull,push` token) and the request sent once more; the answer is kept for the
/// session's next requests. The one auth path for lookups and writes alike.
pub struct Session<'a> {
    registry: &'a Distribution,
    client: &'a reqwest::Client,
    host: String,
    name: String,
    auth: Auth,
}

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("host", &self.host)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Session<'_> {
    /// The registry's host, as errors name it.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The repository's name inside the registry.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `<base>/v2/<name>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/v2/{}/{path}", Distribution::base(&self.host), self.name)
    }

    /// A `Location` header made absolute (registries may answer with a path).
    pub fn absolute(&self, location: &str) -> String {
        if location.starts_with('/') {
            format!("{}{location}", Distribution::base(&self.host))
        } else {
            location.to_owned()
        }
    }

    /// Sends the request `build` makes (it is called again after a challenge, so it must
    /// build the same request each time). Every answer but `401` and `403` is returned for the
    /// caller to read; those two are errors naming what was refused, and a registry that cannot
    /// be reached is [`Error::Unreachable`].
    pub async fn send(
        &mut self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        let mut answered = false;
        loop {
            let response = self
                .auth
                .apply(build(self.client))
                .send()
                .await
                .map_err(|e| Error::Unreachable {
                    registry: self.host.clone(),
                    reason: if e.is_timeout() {
                        "timed out".to_owned()
                    } else {
                        root_cause(&e)
                    },
                })?;
            match response.status() {
                StatusCode::UNAUTHORIZED if !answered => {
                    let challenges = parse_challenges(
                        response
                            .headers()
                            .get_all(WWW_AUTHENTICATE)
                            .iter()
                            .filter_map(|v| v.to_str().ok()),
                    )
                    .map_err(|e| Error::Challenge {
                        registry: self.host.clone(),
                        reason: e.to_string(),
                    })?;
                    self.auth = self
                        .registry
                        .answer(self.client, &self.host, &self.name, &challenges)
                        .await?;
                    answered = true;
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(match &self.auth {
                        Auth::Anonymous => Error::Unauthorized {
                            registry: self.host.clone(),
                        },
                        Auth::Bearer { realm, .. } => Error::Refused {
                            registry: self.host.clone(),
                            realm: realm.clone(),
                            status: None,
                        },
                        Auth::Basic { .. } => Error::Refused {
                            registry: self.host.clone(),
                            realm: String::new(),
                            status: None,
                        },
                    });
                }
                _ => return Ok(response),
            }
        }
    }
}

/// One access-token request to a registry's token service.
struct TokenRequest<'a> {
    client: &'a reqwest::Client,
    host: &'a str,
    realm: &'a str,
    service: &'a str,
    scope: &'a str,
}

/// What a token service answers; `token` (token.md) or `access_token` (oauth.md, ACR).
#[derive(serde::Deserialize)]
struct TokenAnswer {
    token: Option<String>,
    access_token: Option<String>,
}

impl TokenRequest<'_> {
    async fn token(&self, credentials: &Credentials) -> Result<String> {
        match credentials {
            Credentials::Bearer(refresh_token) => {
                let form = [
                    ("grant_type", "refresh_token"),
                    ("service", self.service),
                    ("scope", self.scope),
                    ("refresh_token", refresh_token.expose()),
                    // oauth.md requires a client_id; ACR ignores it.
                    ("client_id", "paktech-pipeline"),
                ];
                let response = self
                    .client
                    .post(self.realm)
                    .form(&form)
                    .send()
                    .await
                    .map_err(|e| self.down(&e))?;
                if response.status().is_success() {
                    return self.read(response).await;
                }
                // A realm that does not take the OAuth2 form (405, 404, `unsupported_grant_type`)
                // may take the token as a password (ACR's token username); a wrong token is
                // refused there too, and that answer is the one reported.
                tracing::debug!(status = %response.status(), "the realm refused the refresh-token form; asking with Basic");
                self.get(TOKEN_USERNAME, refresh_token.expose()).await
            }
            Credentials::Basic { username, password } => {
                self.get(username, password.expose()).await
            }
        }
    }

    /// `GET realm?service=…&scope=…` with Basic auth (token.md).
    async fn get(&self, username: &str, password: &str) -> Result<String> {
        let response = self
            .client
            .get(self.realm)
            .query(&[("service", self.service), ("scope", self.scope)])
            .basic_auth(username, Some(password))
            .send()
            .await
            .map_err(|e| self.down(&e))?;
        match response.status() {
            s if s.is_success() => self.read(response).await,
            s if s.is_client_error() => Err(self.refused(s)),
            s => Err(self.failed(format!("answered {s}"))),
        }
    }

    async fn read(&self, response: reqwest::Response) -> Result<String> {
        let body = response
            .bytes()
            .await
            .map_err(|e| self.failed(root_cause(&e)))?;
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|_| self.failed("the answer is not a token response".to_owned()))?;
        answer
            .access_token
            .or(answer.token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| self.failed("the answer has no token or access_token".to_owned()))
    }

    fn down(&self, e: &reqwest::Error) -> Error {
        self.failed(if e.is_timeout() {
            "timed out".to_owned()
        } else {
            root_cause(e)
        })
    }

    fn failed(&self, reason: String) -> Error {
        Error::TokenService {
            registry: self.host.to_owned(),
            realm: self.realm.to_owned(),
            reason,
        }
    }

    fn refused(&self, status: StatusCode) -> Error {
        Error::Refused {
            registry: self.host.to_owned(),
            realm: self.realm.to_owned(),
            status: Some(status.as_u16()),
        }
    }
}

/// Credentials go to a realm only over https, or over http on this machine.
fn check_realm(host: &str, realm: &str) -> Result<()> {
    let plain_local = realm
        .strip_prefix("http://")
        .is_some_and(|rest| is_loopback(rest.split('/').next().unwrap_or_default()));
    if realm.starts_with("https://") || plain_local {
        Ok(())
    } else {
        Err(Error::Challenge {
            registry: host.to_owned(),
            reason: format!("the realm {realm:?} is not an https URL"),
        })
    }
}

/// `host[:port]` names this machine: `localhost`, `127.0.0.0/8` or `[::1]`.
fn is_loopback(host: &str) -> bool {
    if let Some(v6) = host.strip_prefix('[') {
        return v6.split(']').next() == Some("::1");
    }
    let name = host.split(':').next().unwrap_or_default();
    name == "localhost"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// How the next request authenticates.
enum Auth {
    Anonymous,
    Bearer { realm: String, token: Secret },
    Basic { username: String, password: Secret },
}

impl Auth {
    fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Self::Anonymous => request,
            Self::Bearer { token, .. } => request.bearer_auth(token.expose()),
            Self::Basic { username, password } => {
                request.basic_auth(username, Some(password.expose()))
            }
        }
    }
}

/// One challenge of a `WWW-Authenticate` header (RFC 7235 §2.1, §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme as sent; compare with [`Challenge::is`], schemes are case-insensitive.
    pub scheme: String,
    /// `name=value` parameters, names lowercased (they are case-insensitive), values unquoted.
    pub params: Vec<(String, String)>,
    /// The `token68` form (`Negotiate abc==`), when the challenge has one instead of parameters.
    pub token68: Option<String>,
}

impl Challenge {
    pub fn is(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A `WWW-Authenticate` value that is not RFC 7235 syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed WWW-Authenticate header {header:?} at byte {at}: {expected}")]
pub struct ChallengeError {
    pub header: String,
    pub at: usize,
    pub expected: &'static str,
}

/// Every challenge of every `WWW-Authenticate` header value, in order (RFC 7235 §4.1:
/// `1#challenge`, `challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]`,
/// `auth-param = token BWS "=" BWS ( token / quoted-string )`; quoted-string per RFC 7230 §3.2.6).
pub fn parse_challenges<'a>(
    headers: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Challenge>, ChallengeError> {
    let mut challenges = Vec::new();
    for header in headers {
        ChallengeParser {
            text: header,
            at: 0,
        }
        .parse(&mut challenges)?;
    }
    Ok(challenges)
}

struct ChallengeParser<'a> {
    text: &'a str,
    at: usize,
}

impl ChallengeParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn error(&self, expected: &'static str) -> ChallengeError {
        ChallengeError {
            header: self.text.to_owned(),
            at: self.at,
            expected,
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    /// Whitespace and empty list elements (RFC 7230 §7 lets a list have them).
    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.at += 1;
        }
    }

    fn token(&mut self) -> &str {
        let start = self.at;
        while self.peek().is_some_and(is_tchar) {
            self.at += 1;
        }
        &self.text[start..self.at]
    }

    fn quoted_string(&mut self) -> Result<String, ChallengeError> {
        self.at += 1; // the opening quote
        let mut value = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.error("a closing quote")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(String::from_utf8_lossy(&value).into_owned());
                }
                Some(b'\\') => {
                    self.at += 1;
                    let escaped = self
                        .peek()
                        .ok_or_else(|| self.error("a character after \\"))?;
                    value.push(escaped);
                    self.at += 1;
                }
                Some(c) => {
                    value.push(c);
                    self.at += 1;
                }
            }
        }
    }

    /// At `name BWS "="` (not `token68` padding, which no value follows)?
    fn at_param(&self) -> bool {
        let mut probe = ChallengeParser {
            text: self.text,
            at: self.at,
        };
        if probe.token().is_empty() {
            return false;
        }
        probe.skip_ws();
        if probe.peek() != Some(b'=') {
            return false;
        }
        probe.at += 1;
        probe.skip_ws();
        matches!(probe.peek(), Some(c) if c == b'"' || is_tchar(c))
    }

    fn param(&mut self) -> Result<(String, String), ChallengeError> {
        let name = self.token().to_ascii_lowercase();
        self.skip_ws();
        self.at += 1; // "=", checked by at_param
        self.skip_ws();
        let value = if self.peek() == Some(b'"') {
            self.quoted_string()?
        } else {
            self.token().to_owned()
        };
        Ok((name, value))
    }

    fn parse(mut self, out: &mut Vec<Challenge>) -> Result<(), ChallengeError> {
        loop {
            self.skip_ws_and_commas();
            if self.peek().is_none() {
                return Ok(());
            }
            let scheme = self.token().to_owned();
            if scheme.is_empty() {
                return Err(self.error("an auth-scheme"));
            }
            let mut challenge = Challenge {
                scheme,
                params: Vec::new(),
                token68: None,
            };
            let before_space = self.at;
            self.skip_ws();
            let spaced = self.at > before_space;
            if spaced && self.at_param() {
                challenge.params.push(self.param()?);
                // More parameters follow a comma; a comma followed by anything else starts
                // the next challenge.
                loop {
                    self.skip_ws();
                    match self.peek() {
                        None => break,
                        Some(b',') => {
                            let comma = self.at;
                            self.skip_ws_and_commas();
                            if self.at_param() {
                                challenge.params.push(self.param()?);
                            } else {
                                self.at = comma;
                                break;
                            }
                        }
                        Some(_) => return Err(self.error("a comma between parameters")),
                    }
                }
            } else if spaced && self.peek().is_some_and(|c| c != b',') {
                let start = self.at;
                while self.peek().is_some_and(is_token68_char) {
                    self.at += 1;
                }
                while self.peek() == Some(b'=') {
                    self.at += 1;
                }
                if self.at == start {
                    return Err(self.error("a token68 or parameters"));
                }
                challenge.token68 = Some(self.text[start..self.at].to_owned());
                self.skip_ws();
                if !matches!(self.peek(), None | Some(b',')) {
                    return Err(self.error("a comma after the token68"));
                }
            } else if !matches!(self.peek(), None | Some(b',')) {
                return Err(self.error("a space after the auth-scheme"));
            }
            out.push(challenge);
        }
    }
}

/// RFC 7230 §3.2.6 `tchar`.
fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// RFC 7235 §2.1 `token68` characters (without the trailing `=`).
fn is_token68_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-._~+/".contains(&c)
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
