//! Slack incoming webhooks. A notification is best effort: bounded retries with back-off and a
//! timeout, and a failure is reported to the caller, never raised as a pipeline failure.
//! The webhook URL is a secret: it appears in no message, log or `Debug` output.

use std::time::Duration;

use serde_json::json;

use crate::model::Secret;

/// Why a notification did not go out (the URL is never part of it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("slack notification failed after {attempts} attempts: {last}")]
pub struct NotifyError {
    pub attempts: u32,
    pub last: String,
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
    client: reqwest::Client,
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
    pub fn new(webhook: Secret, timeout: Duration, attempts: u32) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .unwrap_or_default();
        Self {
            client,
            webhook,
            attempts: attempts.max(1),
        }
    }

    /// Posts `notice`, retrying server errors and timeouts with back-off.
    #[tracing::instrument(skip_all, fields(headline = %notice.headline))]
    pub async fn post(&self, notice: &Notice) -> Result<(), NotifyError> {
        let payload = notice.payload();
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            match self
                .client
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
            attempts: self.attempts,
            last,
        })
    }
}
