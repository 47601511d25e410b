//! Asking a replica over HTTP whether it is healthy and which build it runs.

use std::time::Duration;

use model::Probe;

/// HTTP probes with a short timeout each.
#[derive(Debug, Clone)]
pub struct Prober {
    /// The client, or why none could be built (then every probe fails with that reason:
    /// never a client without timeouts, which could hang a smoke test).
    client: Result<reqwest::Client, String>,
}

impl Default for Prober {
    fn default() -> Self {
        Self::new(Duration::from_secs(2))
    }
}

impl Prober {
    pub fn new(timeout: Duration) -> Self {
        Self::from_builder(
            reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .no_proxy(),
        )
    }

    fn from_builder(builder: reqwest::ClientBuilder) -> Self {
        Self {
            client: builder
                .build()
                .map_err(|e| format!("no HTTP client to probe with: {e}")),
        }
    }

    /// Probes `/health` and `/info` under `base` (such as `http://127.0.0.1:32768`).
    pub async fn probe(&self, base: &str) -> Probe {
        let mut probe = Probe {
            url: base.to_owned(),
            healthy: false,
            build_sha: None,
            problem: None,
        };
        let client = match &self.client {
            Ok(client) => client,
            Err(why) => {
                probe.problem = Some(why.clone());
                return probe;
            }
        };
        match client.get(format!("{base}/health")).send().await {
            Ok(r) if r.status().is_success() => probe.healthy = true,
            Ok(r) => probe.problem = Some(format!("/health answered {}", r.status().as_u16())),
            Err(e) => probe.problem = Some(format!("/health: {}", without_url(&e))),
        }
        match client.get(format!("{base}/info")).send().await {
            Ok(r) => match r.json::<serde_json::Value>().await {
                Ok(info) => probe.build_sha = info["build_sha"].as_str().map(str::to_owned),
                Err(e) => {
                    probe
                        .problem
                        .get_or_insert(format!("/info: {}", without_url(&e)));
                }
            },
            Err(e) => {
                probe
                    .problem
                    .get_or_insert(format!("/info: {}", without_url(&e)));
            }
        }
        probe
    }
}

fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(&format!(" for url ({url})"), "");
    }
    if let Some(source) = std::error::Error::source(e) {
        text = format!("{text}: {source}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_client_is_a_failed_probe_not_a_client_without_timeouts() {
        // A header value with a newline makes the builder fail.
        let prober = Prober::from_builder(reqwest::Client::builder().user_agent("bad\nagent"));
        assert!(prober.client.is_err());
        let probe = prober.probe("http://127.0.0.1:1").await;
        assert!(!probe.healthy);
        assert!(
            probe
                .problem
                .as_deref()
                .is_some_and(|p| p.starts_with("no HTTP client to probe with")),
            "{probe:?}"
        );
    }
}
