//! Answering a registry's challenge: basic auth, or an access token from the challenge's realm (an ACR refresh token exchanged first), the realm checked before any secret is sent.

use super::*;

/// One access-token request to a registry's token service.
pub(super) struct TokenRequest<'a> {
    pub(super) client: &'a reqwest::Client,
    pub(super) host: &'a str,
    pub(super) realm: &'a str,
    pub(super) service: &'a str,
    pub(super) scope: &'a str,
}

/// What a token service answers; `token` (token.md) or `access_token` (oauth.md, ACR).
#[derive(serde::Deserialize)]
pub(super) struct TokenAnswer {
    pub(super) token: Option<String>,
    pub(super) access_token: Option<String>,
}

impl TokenRequest<'_> {
    pub(super) async fn token(&self, credentials: &Credentials) -> Result<String> {
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
    pub(super) async fn get(&self, username: &str, password: &str) -> Result<String> {
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

    pub(super) async fn read(&self, response: reqwest::Response) -> Result<String> {
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

    pub(super) fn down(&self, e: &reqwest::Error) -> Error {
        self.failed(if e.is_timeout() {
            "timed out".to_owned()
        } else {
            root_cause(e)
        })
    }

    pub(super) fn failed(&self, reason: String) -> Error {
        Error::TokenService {
            registry: self.host.to_owned(),
            realm: self.realm.to_owned(),
            reason,
        }
    }

    pub(super) fn refused(&self, status: StatusCode) -> Error {
        Error::Refused {
            registry: self.host.to_owned(),
            realm: self.realm.to_owned(),
            status: Some(status.as_u16()),
        }
    }
}

/// Credentials go to a realm only over https, or over http on this machine.
pub(super) fn check_realm(host: &str, realm: &str) -> Result<()> {
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
pub(super) fn is_loopback(host: &str) -> bool {
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
pub(super) enum Auth {
    Anonymous,
    Bearer { realm: String, token: Secret },
    Basic { username: String, password: Secret },
}

impl Auth {
    pub(super) fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Self::Anonymous => request,
            Self::Bearer { token, .. } => request.bearer_auth(token.expose()),
            Self::Basic { username, password } => {
                request.basic_auth(username, Some(password.expose()))
            }
        }
    }
}
