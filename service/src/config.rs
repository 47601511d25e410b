//! Run-time configuration every PakTech service reads from its environment; every refusal
//! names the variable.

use std::time::Duration;

/// Everything the service reads from its environment at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `APP_ENV`: the environment this replica serves (the same image runs in all of them).
    pub environment: String,
    /// `BIND_ADDRESS`: the address to listen on.
    pub bind_address: String,
    /// `PORT`: the TCP port to listen on.
    pub port: u16,
    /// `WORKERS`: worker threads serving requests.
    pub workers: usize,
    /// `LOG_LEVEL`: a `tracing` filter such as `info` or `warn,paktech_app=debug`.
    pub log_level: String,
    /// `SHUTDOWN_DELAY_MS`: how long `/ready` reports 503 before the listener closes,
    /// so load balancers stop sending traffic first.
    pub shutdown_delay: Duration,
    /// `DRAIN_TIMEOUT_SECONDS`: the longest in-flight requests may take to finish on shutdown.
    pub drain_timeout: Duration,
}

impl AsRef<Config> for Config {
    fn as_ref(&self) -> &Config {
        self
    }
}

/// A variable that is set but does not hold what it must.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid {}={:?}: expected {}",
            self.variable, self.value, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let parse =
            |variable: &'static str, expected: &'static str, ok: &dyn Fn(&str) -> bool| match get(
                variable,
            ) {
                Some(value) if !ok(&value) => Err(ConfigError {
                    variable,
                    value,
                    expected,
                }),
                other => Ok(other),
            };

        let environment = parse(
            "APP_ENV",
            "a name of letters, digits, '-' or '_' (at most 63)",
            &|v| {
                v.len() <= 63
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            },
        )?
        .unwrap_or_else(|| "dev".to_owned());
        let bind_address = parse("BIND_ADDRESS", "an IP address", &|v| {
            v.parse::<std::net::IpAddr>().is_ok()
        })?
        .unwrap_or_else(|| "0.0.0.0".to_owned());
        let port = number(get("PORT"), "PORT", "a TCP port from 1 to 65535", 1, 65_535)?
            .unwrap_or(8080) as u16;
        let default_workers = std::thread::available_parallelism().map_or(1, usize::from);
        let workers = number(
            get("WORKERS"),
            "WORKERS",
            "a whole number from 1 to 256",
            1,
            256,
        )?
        .map_or(default_workers, |n| n as usize);
        let log_level = parse(
            "LOG_LEVEL",
            "a tracing filter such as info, warn or debug",
            &|v| tracing_subscriber::EnvFilter::try_new(v).is_ok(),
        )?
        .unwrap_or_else(|| "info".to_owned());
        let shutdown_delay = number(
            get("SHUTDOWN_DELAY_MS"),
            "SHUTDOWN_DELAY_MS",
            "milliseconds from 0 to 600000",
            0,
            600_000,
        )?
        .map_or(Duration::ZERO, Duration::from_millis);
        let drain_timeout = number(
            get("DRAIN_TIMEOUT_SECONDS"),
            "DRAIN_TIMEOUT_SECONDS",
            "seconds from 1 to 3600",
            1,
            3600,
        )?
        .map_or(Duration::from_secs(10), Duration::from_secs);

        Ok(Self {
            environment,
            bind_address,
            port,
            workers,
            log_level,
            shutdown_delay,
            drain_timeout,
        })
    }
}

fn number(
    value: Option<String>,
    variable: &'static str,
    expected: &'static str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, ConfigError> {
    let Some(value) = value else { return Ok(None) };
    match value.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err(ConfigError {
            variable,
            value,
            expected,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(vars: &[(&str, &str)], expected: Result<(&str, u16), &str>) {
        let got = Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        });
        match (got, expected) {
            (Ok(config), Ok((env, port))) => {
                assert_eq!((config.environment.as_str(), config.port), (env, port));
            }
            (Err(err), Err(message)) => assert_eq!(err.to_string(), message),
            (got, expected) => panic!("{vars:?}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn defaults_and_overrides() {
        check(&[], Ok(("dev", 8080)));
        check(&[("APP_ENV", "prod"), ("PORT", "9000")], Ok(("prod", 9000)));
        check(&[("PORT", "")], Ok(("dev", 8080)));
    }

    #[test]
    fn refusals_name_the_variable() {
        check(
            &[("PORT", "not-a-port")],
            Err(r#"invalid PORT="not-a-port": expected a TCP port from 1 to 65535"#),
        );
        check(
            &[("PORT", "70000")],
            Err(r#"invalid PORT="70000": expected a TCP port from 1 to 65535"#),
        );
        check(
            &[("PORT", "0")],
            Err(r#"invalid PORT="0": expected a TCP port from 1 to 65535"#),
        );
        check(
            &[("WORKERS", "zero")],
            Err(r#"invalid WORKERS="zero": expected a whole number from 1 to 256"#),
        );
        check(
            &[("APP_ENV", "prod;rm -rf /")],
            Err(
                r#"invalid APP_ENV="prod;rm -rf /": expected a name of letters, digits, '-' or '_' (at most 63)"#,
            ),
        );
        check(
            &[("LOG_LEVEL", "info,=[")],
            Err(
                r#"invalid LOG_LEVEL="info,=[": expected a tracing filter such as info, warn or debug"#,
            ),
        );
        check(
            &[("BIND_ADDRESS", "localhost")],
            Err(r#"invalid BIND_ADDRESS="localhost": expected an IP address"#),
        );
        check(
            &[("DRAIN_TIMEOUT_SECONDS", "-1")],
            Err(r#"invalid DRAIN_TIMEOUT_SECONDS="-1": expected seconds from 1 to 3600"#),
        );
    }
}
