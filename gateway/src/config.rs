//! The gateway's configuration: every service's (`paktech_service::config`) and
//! `UPSTREAM_URL`, the paktech-app it reaches by name; every refusal names the variable.

use std::fmt;

use paktech_service::config::{Config, ConfigError};

/// Where paktech-app answers unless `UPSTREAM_URL` says otherwise: its name inside the
/// environment (a Docker network alias, a Kubernetes Service).
pub const DEFAULT_UPSTREAM_URL: &str = "http://paktech-app:8080";

const UPSTREAM_EXPECTED: &str =
    "http://host:port (plain HTTP, no TLS; a host and a port; no path, query or user)";

/// Everything the gateway reads from its environment at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// What every service reads (`APP_ENV`, `PORT`, `WORKERS`, ...).
    pub service: Config,
    /// `UPSTREAM_URL`: the paktech-app this gateway calls.
    pub upstream: UpstreamUrl,
}

impl AsRef<Config> for GatewayConfig {
    fn as_ref(&self) -> &Config {
        &self.service
    }
}

impl GatewayConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let service = Config::from_lookup(&lookup)?;
        let value = lookup("UPSTREAM_URL")
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| DEFAULT_UPSTREAM_URL.to_owned());
        let upstream = UpstreamUrl::parse(&value).ok_or(ConfigError {
            variable: "UPSTREAM_URL",
            value,
            expected: UPSTREAM_EXPECTED,
        })?;
        Ok(Self { service, upstream })
    }
}

/// A plain-HTTP base URL with a host and a port and nothing else, such as
/// `http://paktech-app:8080`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamUrl {
    /// `http://host:port`, without a trailing slash.
    url: String,
    host: String,
}

impl UpstreamUrl {
    /// The URL if it is `http://host:port` (a trailing `/` is allowed), else `None`.
    pub fn parse(value: &str) -> Option<Self> {
        let uri: http::Uri = value.parse().ok()?;
        let authority = uri.authority()?;
        let plain = uri.scheme_str() == Some("http")
            && !authority.as_str().contains('@')
            && !authority.host().is_empty()
            && authority.port_u16().is_some_and(|port| port != 0)
            && uri.path() == "/"
            && uri.query().is_none()
            // `http::Uri` keeps neither an empty query nor a fragment.
            && !value.contains(['?', '#']);
        plain.then(|| Self {
            url: format!("http://{authority}"),
            host: authority.host().to_owned(),
        })
    }

    /// `http://host:port`.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The upstream's name: the host it is reached by (`paktech-app` by default).
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl fmt::Display for UpstreamUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(upstream: Option<&str>, expected: Result<&str, &str>) {
        let got = GatewayConfig::from_lookup(|name| {
            (name == "UPSTREAM_URL")
                .then_some(upstream)
                .flatten()
                .map(str::to_owned)
        });
        match (got, expected) {
            (Ok(config), Ok(url)) => assert_eq!(config.upstream.as_str(), url),
            (Err(err), Err(message)) => assert_eq!(err.to_string(), message),
            (got, expected) => panic!("{upstream:?}: got {got:?}, expected {expected:?}"),
        }
    }

    fn refused(value: &str) -> String {
        format!("invalid UPSTREAM_URL={value:?}: expected {UPSTREAM_EXPECTED}")
    }

    #[test]
    fn upstream_defaults_to_paktech_app_by_name() {
        check(None, Ok("http://paktech-app:8080"));
        check(Some(""), Ok("http://paktech-app:8080"));
        let config = GatewayConfig::from_lookup(|_| None).expect("defaults");
        assert_eq!(config.upstream.host(), "paktech-app");
        assert_eq!(config.service.port, 8080);
    }

    #[test]
    fn upstream_is_plain_http_host_and_port() {
        check(Some("http://127.0.0.1:9000"), Ok("http://127.0.0.1:9000"));
        check(
            Some("http://app.staging.svc:80/"),
            Ok("http://app.staging.svc:80"),
        );
        check(Some("http://[::1]:8080"), Ok("http://[::1]:8080"));
        for bad in [
            "https://paktech-app:8443",
            "paktech-app:8080",
            "http://paktech-app",
            "http://paktech-app:0",
            "http://paktech-app:8080/api",
            "http://paktech-app:8080/?x=1",
            "http://paktech-app:8080?",
            "http://user:secret@paktech-app:8080",
            "ftp://paktech-app:21",
            "http://:8080",
        ] {
            let message = refused(bad);
            check(Some(bad), Err(&message));
        }
    }

    #[test]
    fn the_other_variables_are_still_checked_first() {
        let got = GatewayConfig::from_lookup(|name| (name == "PORT").then(|| "x".to_owned()));
        assert_eq!(
            got.map_err(|e| e.variable),
            Err("PORT"),
            "the service's own variables keep their refusals"
        );
    }
}
