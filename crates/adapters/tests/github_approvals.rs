//! The GitHub approvals adapter against a local HTTP server on 127.0.0.1 that answers as
//! GitHub's "Get the review history for a workflow run" does
//! (<https://docs.github.com/en/rest/actions/workflow-runs#get-the-review-history-for-a-workflow-run>).

use std::sync::{Arc, Mutex};

use adapters::github::{Error, GitHubRun, ReviewState, RunApproval, approved_for};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "ghs_TOPSECRETTOKEN";
const PATH: &str = "/repos/paktech/paktech-gitops/actions/runs/42/approvals";

/// One request as the server saw it: the request target and the headers (names lowercased).
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the server answers: status, extra header lines, body.
type Answer = (u16, Vec<String>, String);

/// An HTTP/1.1 server on 127.0.0.1 port 0 that answers each request with `answer(target, base)`
/// (`base` is its own `http://127.0.0.1:port`) and records what it saw.
async fn github(
    answer: impl Fn(&str, &str) -> Answer + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let answer = Arc::new(answer);
    let own = base.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (log, answer, own) = (Arc::clone(&log), Arc::clone(&answer), own.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).into_owned();
                let mut lines = head.split("\r\n");
                let target = lines
                    .next()
                    .and_then(|l| l.split(' ').nth(1))
                    .unwrap_or_default()
                    .to_owned();
                let headers = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                log.lock().expect("lock").push(Seen {
                    target: target.clone(),
                    headers,
                });
                let (status, extra, body) = answer(&target, &own);
                let mut response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                    body.len()
                );
                for line in extra {
                    response.push_str(&line);
                    response.push_str("\r\n");
                }
                response.push_str("\r\n");
                response.push_str(&body);
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (base, seen)
}

fn run(api: &str) -> GitHubRun {
    let vars = [
        ("GITHUB_API_URL", api.to_owned()),
        ("GITHUB_REPOSITORY", "paktech/paktech-gitops".to_owned()),
        ("GITHUB_RUN_ID", "42".to_owned()),
        ("GITHUB_TOKEN", TOKEN.to_owned()),
        ("GITHUB_ACTOR", "alice".to_owned()),
    ];
    GitHubRun::from_vars(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .expect("run")
}

/// One review as GitHub's documented example shows it (with the fields we ignore).
fn review(login: &str, state: &str, envs: &[&str], comment: &str) -> serde_json::Value {
    serde_json::json!({
        "environments": envs.iter().enumerate().map(|(i, name)| serde_json::json!({
            "id": 161_088_068 + i,
            "node_id": "MDExOkVudmlyb25tZW50MTYxMDg4MDY4",
            "name": name,
            "url": format!("https://api.github.com/repos/paktech/paktech-gitops/environments/{name}"),
            "html_url": format!("https://github.com/paktech/paktech-gitops/deployments/activity_log?environments_filter={name}"),
            "created_at": "2020-11-23T22:00:40Z",
            "updated_at": "2020-11-23T22:00:40Z"
        })).collect::<Vec<_>>(),
        "state": state,
        "comment": comment,
        "user": {
            "login": login,
            "id": 1,
            "node_id": "MDQ6VXNlcjE=",
            "type": "User",
            "site_admin": false
        }
    })
}

fn approval(
    reviewer: &str,
    state: ReviewState,
    envs: &[&str],
    comment: Option<&str>,
) -> RunApproval {
    RunApproval {
        reviewer: reviewer.to_owned(),
        state,
        environments: envs.iter().map(|e| (*e).to_owned()).collect(),
        comment: comment.map(str::to_owned),
    }
}

fn assert_no_token(err: &Error) {
    let text = format!("{err} {err:?}");
    assert!(!text.contains(TOKEN), "the token leaked: {text}");
}

#[tokio::test]
async fn reviews_are_read_with_the_documented_request() {
    let body = serde_json::json!([
        review("carol", "approved", &["prod"], "ship it"),
        review("dave", "rejected", &["prod"], "not tonight"),
        review("erin", "approved", &["staging"], ""),
        review("alice", "approved", &["prod"], "self"),
        review("frank", "approved", &["staging", "prod"], "both"),
    ])
    .to_string();
    let (api, seen) = github(move |_, _| (200, vec![], body.clone())).await;
    let run = run(&api);
    let approvals = run.approvals().await.expect("approvals");
    assert_eq!(
        approvals,
        [
            approval("carol", ReviewState::Approved, &["prod"], Some("ship it")),
            approval(
                "dave",
                ReviewState::Rejected,
                &["prod"],
                Some("not tonight")
            ),
            approval("erin", ReviewState::Approved, &["staging"], None),
            approval("alice", ReviewState::Approved, &["prod"], Some("self")),
            approval(
                "frank",
                ReviewState::Approved,
                &["staging", "prod"],
                Some("both")
            ),
        ]
    );
    // The requester's own approval is reported; the gate, knowing the requester, discards it.
    assert_eq!(run.requester(), "alice");
    assert_eq!(
        approved_for(&approvals, "prod").collect::<Vec<_>>(),
        ["carol", "alice", "frank"]
    );
    assert_eq!(
        approved_for(&approvals, "prod")
            .filter(|login| *login != run.requester())
            .collect::<Vec<_>>(),
        ["carol", "frank"]
    );

    let seen = seen.lock().expect("lock");
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(request.target, format!("{PATH}?per_page=100"));
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(
        request.header("accept"),
        Some("application/vnd.github+json")
    );
    assert_eq!(request.header("x-github-api-version"), Some("2022-11-28"));
    assert!(
        request
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("paktech-pipeline/")),
        "{request:?}"
    );
}

#[tokio::test]
async fn an_empty_history_is_no_approvals() {
    let (api, _) = github(|_, _| (200, vec![], "[]".to_owned())).await;
    assert_eq!(run(&api).approvals().await.expect("approvals"), []);
}

#[tokio::test]
async fn pages_are_followed_through_the_link_header() {
    let (api, seen) = github(|target, base| {
        if target.contains("page=2") {
            let body = serde_json::json!([review("frank", "approved", &["prod"], "")]).to_string();
            let link = format!(r#"link: <{base}{PATH}?per_page=100&page=1>; rel="prev", <{base}{PATH}?per_page=100&page=1>; rel="first""#);
            (200, vec![link], body)
        } else {
            let body = serde_json::json!([review("carol", "approved", &["prod"], "")]).to_string();
            let link = format!(r#"link: <{base}{PATH}?per_page=100&page=2>; rel="next", <{base}{PATH}?per_page=100&page=2>; rel="last""#);
            (200, vec![link], body)
        }
    })
    .await;
    let approvals = run(&api).approvals().await.expect("approvals");
    assert_eq!(
        approved_for(&approvals, "prod").collect::<Vec<_>>(),
        ["carol", "frank"]
    );
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].target, format!("{PATH}?per_page=100&page=2"));
    assert_eq!(
        seen[1].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
}

#[tokio::test]
async fn endless_pages_are_an_error_not_a_short_history() {
    let (api, seen) = github(|_, base| {
        let link = format!(r#"link: <{base}{PATH}?per_page=100&page=2>; rel="next""#);
        (200, vec![link], "[]".to_owned())
    })
    .await;
    let err = run(&api).approvals().await.expect_err("too many pages");
    assert!(matches!(err, Error::TooManyPages { .. }), "{err}");
    assert_eq!(seen.lock().expect("lock").len(), 10);
}

#[tokio::test]
async fn a_next_page_elsewhere_is_not_sent_the_token() {
    let (elsewhere, seen_elsewhere) = github(|_, _| (200, vec![], "[]".to_owned())).await;
    let (api, _) = github(move |_, _| {
        let link = format!(r#"link: <{elsewhere}{PATH}?page=2>; rel="next""#);
        (200, vec![link], "[]".to_owned())
    })
    .await;
    let err = run(&api).approvals().await.expect_err("foreign page");
    assert!(matches!(err, Error::ForeignPage { .. }), "{err}");
    assert!(seen_elsewhere.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn refusals_and_failures_name_the_path_and_status() {
    let check = |status: u16, hint: &'static str| async move {
        let (api, _) = github(move |_, _| {
            (
                status,
                vec![],
                r#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}"#
                    .to_owned(),
            )
        })
        .await;
        let err = run(&api).approvals().await.expect_err("refused");
        assert!(
            matches!(&err, Error::Status { status: s, path, .. } if *s == status && path == PATH),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains(PATH) && text.contains(&status.to_string()),
            "{text}"
        );
        assert!(text.contains(hint), "{text}");
        assert_no_token(&err);
    };
    check(401, "check GITHUB_TOKEN").await;
    check(403, "actions: read").await;
    check(404, "GITHUB_RUN_ID").await;
    check(500, "").await;
    check(502, "").await;
}

#[tokio::test]
async fn a_garbage_body_is_malformed() {
    for body in [
        "<html>rate limited</html>",
        r#"{"total_count": 1}"#,
        r#"[{"state": "approved"}]"#,
        r#"[{"environments": [], "state": "approved", "user": {}}]"#,
    ] {
        let body = body.to_owned();
        let (api, _) = github(move |_, _| (200, vec![], body.clone())).await;
        let err = run(&api).approvals().await.expect_err("malformed");
        assert!(
            matches!(&err, Error::Malformed { path, .. } if path == PATH),
            "{err:?}"
        );
        assert!(err.to_string().contains(PATH), "{err}");
        assert_no_token(&err);
    }
}

#[tokio::test]
async fn an_unreachable_api_is_an_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let err = run(&format!("http://127.0.0.1:{port}"))
        .approvals()
        .await
        .expect_err("refused connection");
    assert!(
        matches!(&err, Error::Unreachable { path, .. } if path == PATH),
        "{err:?}"
    );
    assert!(err.to_string().contains(PATH), "{err}");
    assert_no_token(&err);
}

#[test]
fn the_token_is_not_in_debug_output() {
    let run = run("http://127.0.0.1:9");
    let text = format!("{run:?}");
    assert!(!text.contains(TOKEN), "{text}");
    assert!(text.contains("alice"), "{text}");
}
