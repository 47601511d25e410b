//! The Slack notifier against a local HTTP server that checks the payload.

use std::time::Duration;

use adapters::notify::{Notice, Slack};
use model::Secret;
use tests::webhook;

fn notice() -> Notice {
    Notice {
        headline: "paktech-app abc deployed to dev".to_owned(),
        ok: true,
        facts: vec![
            ("Environment".to_owned(), "dev".to_owned()),
            ("Image SHA".to_owned(), "abc".to_owned()),
        ],
    }
}

#[tokio::test]
async fn posts_blocks_and_retries_server_errors() {
    let (url, bodies) = webhook(vec![500, 200], false).await;
    let slack = Slack::new(Secret::new(url), Duration::from_secs(2), 3);
    slack
        .post(&notice())
        .await
        .expect("delivered on the second attempt");
    let bodies = bodies.lock().expect("lock");
    assert_eq!(bodies.len(), 2);
    let payload = &bodies[1];
    assert!(
        payload["text"]
            .as_str()
            .expect("text")
            .contains("deployed to dev")
    );
    let fields = payload["blocks"][1]["fields"].as_array().expect("fields");
    assert_eq!(fields[0]["text"], "*Environment*\ndev");
    assert_eq!(fields[1]["text"], "*Image SHA*\nabc");
}

#[tokio::test]
async fn a_failing_slack_is_reported_without_the_url() {
    let (url, _) = webhook(vec![500], false).await;
    let slack = Slack::new(Secret::new(url.clone()), Duration::from_secs(2), 2);
    let err = slack.post(&notice()).await.expect_err("undeliverable");
    let text = format!("{err} {err:?} {slack:?}");
    assert!(text.contains("500"), "{text}");
    assert!(
        !text.contains("SECRETTOKEN"),
        "the webhook URL leaked: {text}"
    );
}

#[tokio::test]
async fn a_silent_slack_costs_a_bounded_wait() {
    let (url, _) = webhook(vec![200], true).await;
    let slack = Slack::new(Secret::new(url), Duration::from_millis(300), 2);
    // The server never answers: the post must still end, with a timeout error.
    let err = slack.post(&notice()).await.expect_err("no answer");
    assert_eq!(err.attempts, 2);
    assert!(err.to_string().contains("did not answer in time"), "{err}");
}

#[tokio::test]
async fn a_refusal_counts_only_the_attempts_made() {
    // Slack refuses the payload (4xx): retrying cannot help, so one request is all that is
    // sent, and the error says one attempt, not the configured three.
    let (url, bodies) = webhook(vec![404], false).await;
    let slack = Slack::new(Secret::new(url), Duration::from_secs(2), 3);
    let err = slack.post(&notice()).await.expect_err("refused");
    assert_eq!(bodies.lock().expect("lock").len(), 1);
    assert_eq!(err.attempts, 1);
    assert!(
        err.to_string()
            .contains("failed after 1 attempt: slack answered 404"),
        "{err}"
    );
}
