//! Slack incoming webhooks. A notification is best effort: bounded retries with back-off and a
//! timeout, and a failure is reported to the caller, never raised as a pipeline failure.
//! The webhook URL is a secret: it appears in no message, log or `Debug` output.

use std::time::Duration;

use serde_json::json;

use model::Secret;

/// Why a notification did not go out (the URL is never part of it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("slack notification failed after {attempts} {}: {last}", attempt_word(.attempts))]
pub struct NotifyError {
    /// Requests actually sent (0 when no client could be built).
    pub attempts: u32,
    pub last: String,
}

fn attempt_word(n: &u32) -> &'static str {
    if *n == 1 { "attempt" } else { "attempts" }
}

/// One message: a headline and labelled facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub headline: String,
    pub ok: bool,
    pub facts: Vec<(String, String)>,
}

impl Notice {
    /// The webhook payload: a text fallback and blocks.
    pub fn payload(&self) -> serde_json::Value {
        let icon = if self.ok { ":white_check_mark:" } else { ":x:" };
        let fields: Vec<serde_json::Value> = self
            .facts
            .iter()
            .map(|(k, v)| json!({"type": "mrkdwn", "text": format!("*{k}*\n{v}")}))
            .collect();
        json!({
            "text": format!("{icon} {}", self.headline),
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": format!("{icon} *{}*", self.headline)}},
                {"type": "section", "fields": fields},
            ],
        })
    }
}

/// Posts to one Slack incoming webhook.
#[derive(Clone)]
pub struct Slack {
    /// The client, or why it could not be built (reported by every `post`; there is no
    /// fallback client without timeouts).
    client: Result<reqwest::Client, String>,
    webhook: Secret,
    attempts: u32,
}

impl std::fmt::Debug for Slack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slack")
            .field("webhook", &self.webhook)
            .finish()
    }
}

impl Slack {
    /// A notifier whose requests time out after `timeout`, tried at most `attempts` times.
    /// When no HTTP client can be built, every `post` fails with that reason and sends nothing.
    pub fn new(webhook: Secret, timeout: Duration, attempts: u32) -> Self {
        Self::with_client(
            reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout),
            webhook,
            attempts,
        )
    }

    /// As [`Slack::new`], but refuses at once when no HTTP client can be built.
    pub fn try_new(webhook: Secret, timeout: Duration, attempts: u32) -> Result<Self, NotifyError> {
        let slack = Self::new(webhook, timeout, attempts);
        match &slack.client {
            Ok(_) => Ok(slack),
            Err(reason) => Err(NotifyError {
                attempts: 0,
                last: reason.clone(),
            }),
        }
    }

    fn with_client(builder: reqwest::ClientBuilder, webhook: Secret, attempts: u32) -> Self {
        Self {
            client: builder.build().map_err(|e| {
                let mut cause: &dyn std::error::Error = &e;
                while let Some(next) = cause.source() {
                    cause = next;
                }
                format!("cannot build the HTTP client: {cause}")
            }),
            webhook,
            attempts: attempts.max(1),
        }
    }

    /// Posts `notice`, retrying server errors and timeouts with back-off.
    #[tracing::instrument(skip_all, fields(headline = %notice.headline))]
    pub async fn post(&self, notice: &Notice) -> Result<(), NotifyError> {
        let client = self.client.as_ref().map_err(|reason| NotifyError {
            attempts: 0,
            last: reason.clone(),
        })?;
        let payload = notice.payload();
        let mut last = String::new();
        let mut made = 0;
        for attempt in 1..=self.attempts {
            made = attempt;
            match client
                .post(self.webhook.expose())
                .json(&payload)
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => {
                    last = format!("slack answered {}", r.status());
                    if r.status().is_client_error() {
                        break;
                    }
                }
                Err(e) if e.is_timeout() => last = "slack did not answer in time".to_owned(),
                Err(e) if e.is_connect() => last = "cannot connect to slack".to_owned(),
                Err(_) => last = "the request to slack failed".to_owned(),
            }
            tracing::debug!(attempt, last, "slack notification failed");
            if attempt < self.attempts {
                tokio::time::sleep(Duration::from_millis(200 << attempt.min(4))).await;
            }
        }
        Err(NotifyError {
            attempts: made,
            last,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_client_is_an_error_and_nothing_is_sent() {
        // A header value with a newline makes the builder fail.
        let slack = Slack::with_client(
            reqwest::Client::builder().user_agent("bad\nagent"),
            Secret::new("http://127.0.0.1:9/services/SECRETTOKEN"),
            3,
        );
        let notice = Notice {
            headline: "h".into(),
            ok: true,
            facts: vec![],
        };
        let err = slack.post(&notice).await.expect_err("no client");
        assert_eq!(err.attempts, 0);
        assert!(
            err.to_string().contains("cannot build the HTTP client"),
            "{err}"
        );
        assert!(!format!("{err} {err:?} {slack:?}").contains("SECRETTOKEN"));
    }

    #[test]
    fn attempts_are_counted_in_words() {
        let check = |attempts: u32, expected: &str| {
            let err = NotifyError {
                attempts,
                last: "slack answered 404".into(),
            };
            assert_eq!(err.to_string(), expected);
        };
        check(
            1,
            "slack notification failed after 1 attempt: slack answered 404",
        );
        check(
            3,
            "slack notification failed after 3 attempts: slack answered 404",
        );
    }
}
