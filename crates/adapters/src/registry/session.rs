//! A session with one repository of a distribution registry: every request goes through it, its 401s answered once.

use super::*;

/// Requests to one repository of a distribution registry, authenticated as its challenges
/// ask: the first `401` of a request is answered (a token for the challenge's scope, so a
/// write gets a `pull,push` token) and the request sent once more; the answer is kept for the
/// session's next requests. The one auth path for lookups and writes alike.
pub struct Session<'a> {
    pub(super) registry: &'a Distribution,
    pub(super) client: &'a reqwest::Client,
    pub(super) host: String,
    pub(super) name: String,
    pub(super) auth: Auth,
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
