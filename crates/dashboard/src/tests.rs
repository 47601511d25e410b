//! The dashboard served in-process on 127.0.0.1 port 0: against the kube target's simulated
//! cluster (plain HTTP), and in headless Chromium through chromedriver (WebDriver, with
//! fantoccini) on the local Docker target while the pipeline promotes and rolls back (and the
//! delivery figures and charts count it); and two
//! apps on the local target, as a matrix with its release lines.
//!
//! Longer than 400 lines: the page in a real browser while the pipeline runs, and the stand-ins it
//! is served against, share the set-up here.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use adapters::gitops::Change;
use adapters::image::ImageBuilder;
use adapters::registry::Registry;
use adapters::target::{LocalTarget, Target};
use fantoccini::{Client, ClientBuilder};
use flow::promote::{self, ApprovalMode, PromoteOptions};
use flow::rollback::{self, RollbackOptions};
use flow::{Clock, Pipeline, sync};
use model::GitSha;
use model::audit::{Build, CommitMessage, keys};
use model::report::Silent;
use model::values::Scalar;
use tests::browser::Chromedriver;
use tests::fake_cluster::FakeCluster;
use tests::{env, pretend_it_ran};

use super::Dashboard;

fn localhost() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0")
}

/// `GET path` over HTTP/1.0: the status line and the body.
async fn get(address: SocketAddr, path: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    socket
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: dashboard\r\n\r\n").as_bytes())
        .await
        .expect("send");
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.expect("read");
    let (head, body) = answer.split_once("\r\n\r\n").expect("head and body");
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
}

const GOOD: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const GOOD_DIGEST: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

#[tokio::test(flavor = "multi_thread")]
async fn on_the_kube_targets_simulated_cluster_the_page_shows_each_lane() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The Docker client only fills the pipeline's image fields; nothing here needs an engine.
    let docker = bollard::Docker::connect_with_defaults().expect("a docker client value");
    let mut pipeline = tests::test_pipeline(dir.path(), docker, "unused");
    let _cluster = FakeCluster::host(&mut pipeline, dir.path().join("gitops.git"), false, &[]);
    for name in ["dev", "prod"] {
        let environment = pipeline.config.environment(name).expect("env").clone();
        pretend_it_ran(&pipeline, name, &GOOD.parse().expect("sha"), GOOD_DIGEST);
        sync::deploy(
            &pipeline,
            &pipeline.config.apps[0],
            &environment,
            GOOD,
            &Silent,
        )
        .await
        .expect("deploy");
    }

    let dashboard = Dashboard::start(pipeline, localhost())
        .await
        .expect("start");
    let (status, page) = get(dashboard.address, "/").await;
    assert_eq!(status, "HTTP/1.0 200 OK", "{page}");
    assert!(page.contains("Target <strong>kube</strong>"), "{page}");
    let dev = page.find("id=\"lane-dev\"").expect("dev's lane");
    let staging = page.find("id=\"lane-staging\"").expect("staging's lane");
    let prod = page.find("id=\"lane-prod\"").expect("prod's lane");
    assert!(dev < staging && staging < prod, "promotion order");
    let lane = |start: usize| &page[start..start + page[start..].find("</article>").expect("end")];
    assert!(
        lane(dev).contains(&format!("data-sha=\"{GOOD}\"")),
        "{}",
        lane(dev)
    );
    assert!(lane(dev).contains("1/1 all ready"), "{}", lane(dev));
    assert!(lane(prod).contains("3/3 all ready"), "{}", lane(prod));
    assert_eq!(
        lane(prod).matches("healthy</span>").count(),
        3,
        "each replica with its health: {}",
        lane(prod)
    );
    assert!(lane(staging).contains("none deployed yet"));
    assert!(
        page.contains("deploy") || page.contains("promote"),
        "{page}"
    );

    // Read-only: nothing but GET answers, and a commit link is a page.
    let (status, _) = get(dashboard.address, "/commit/not-a-sha").await;
    assert!(status.contains("400"), "{status}");
    let tip = page
        .split("GitOps revision <a href=\"/commit/")
        .nth(1)
        .and_then(|rest| rest.get(..40))
        .expect("the tip's link")
        .to_owned();
    let (status, commit) = get(dashboard.address, &format!("/commit/{tip}")).await;
    assert_eq!(status, "HTTP/1.0 200 OK", "{commit}");
    assert!(commit.contains("Pipeline-Action"), "{commit}");
    dashboard.handle.stop(false).await;
}

/// Writes `app`'s build `sha` into `env`'s values by hand, with the trailers a promotion writes.
fn put_build(pipeline: &Pipeline, app: &str, env_name: &str, sha: &str) {
    pipeline
        .gitops
        .write(&Change::one(
            pipeline
                .config
                .values_path(&app.parse().expect("app"), &env(env_name)),
            vec![
                ("image.tag".to_owned(), Scalar::str(sha)),
                ("image.digest".to_owned(), Scalar::str(GOOD_DIGEST)),
            ],
            None,
            CommitMessage::new(format!("chore({env_name}): promote {app} by hand"))
                .trailer(keys::ACTION, "promote")
                .builds(&[Build {
                    app,
                    sha,
                    digest: GOOD_DIGEST,
                }]),
        ))
        .expect("write");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_two_apps_the_page_is_a_matrix_with_a_release_line_per_environment_pair() {
    // The local target with nothing running (the simulated cluster serves one app); the
    // registry is the engine's image store, which has none of these builds: the release the
    // planner is asked for is refused for the app whose image is missing.
    let Some(docker) = tests::docker_or_skip("dashboard_matrix").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = tests::unique_prefix("dash-matrix");
    let pipeline = tests::test_pipeline_of(
        dir.path(),
        docker,
        &prefix,
        &["paktech-app", "paktech-gateway"],
    );
    for app in ["paktech-app", "paktech-gateway"] {
        put_build(&pipeline, app, "dev", GOOD);
    }
    // paktech-app reached prod; paktech-gateway is only in dev.
    put_build(&pipeline, "paktech-app", "staging", GOOD);
    put_build(&pipeline, "paktech-app", "prod", GOOD);

    let dashboard = Dashboard::start(pipeline, localhost())
        .await
        .expect("start");
    let (status, page) = get(dashboard.address, "/").await;
    assert_eq!(status, "HTTP/1.0 200 OK", "{page}");
    let part = |id: &str, end: &str| {
        let start = page
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("{id}: {page}"));
        &page[start..start + page[start..].find(end).expect("end")]
    };
    assert!(page.contains("<table class=\"matrix\">"), "{page}");
    let app_row = page
        .find("id=\"app-paktech-app\"")
        .expect("paktech-app's row");
    let gateway_row = page
        .find("id=\"app-paktech-gateway\"")
        .expect("gateway's row");
    assert!(app_row < gateway_row, "dependency order");
    assert!(
        part("lane-paktech-gateway-dev", "</article>").contains(&format!("data-sha=\"{GOOD}\""))
    );
    assert!(part("lane-paktech-gateway-prod", "</article>").contains("none deployed yet"));
    assert!(part("move-paktech-app-staging", "</section>").contains("up to date"));

    // dev → staging: only the gateway differs, and its image is missing: refused, naming it.
    let staging = part("release-staging", "</section>");
    assert!(
        staging.contains("refused for <strong class=\"app\">paktech-gateway</strong>"),
        "{staging}"
    );
    assert!(staging.contains("image missing"), "{staging}");
    assert!(
        staging.contains("<li>paktech-gateway nothing → "),
        "{staging}"
    );
    assert!(!staging.contains("<li>paktech-app"), "{staging}");
    // staging → prod: prod runs staging's only build.
    let prod = part("release-prod", "</section>");
    assert!(prod.contains("up to date"), "{prod}");
    dashboard.handle.stop(false).await;
}

async fn browser(driver: &Chromedriver) -> Client {
    browser_sized(driver, 1400, 1500).await
}

/// A WebDriver session of headless Chromium with a `width` × `height` window.
pub(crate) async fn browser_sized(driver: &Chromedriver, width: u32, height: u32) -> Client {
    ClientBuilder::native()
        .capabilities(tests::browser::chromium(width, height))
        .connect(&driver.url())
        .await
        .expect("a WebDriver session with headless Chromium")
}

/// The text of the first element `css` selects ("" when none does), read in one script so a
/// fragment swapped in meanwhile cannot leave a stale element behind.
async fn text(client: &Client, css: &str) -> String {
    client
        .execute(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
            vec![serde_json::Value::from(css)],
        )
        .await
        .expect("script")
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Waits (without reloading) until `css`'s text contains `expected`.
async fn until_text(client: &Client, css: &str, expected: &str) {
    until(client, css, expected, |now| now.contains(expected)).await;
}

/// Waits (without reloading) until `css`'s text passes `check`, which `what` describes.
async fn until(client: &Client, css: &str, what: &str, check: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = text(client, css).await;
        if check(&now) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{css} never showed {what:?}; it shows {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether the page is still the one the marker was set on (it was not reloaded).
async fn not_reloaded(client: &Client) -> bool {
    client
        .execute("return window.paktechMarker === 'set';", Vec::new())
        .await
        .expect("script")
        == serde_json::Value::Bool(true)
}

/// A second pipeline on the same GitOps remote and containers, for acting while the
/// dashboard owns the first.
fn acting(pipeline: &Pipeline, docker: &bollard::Docker, prefix: &str, clock: Clock) -> Pipeline {
    Pipeline {
        workspace: pipeline.workspace.clone(),
        config: pipeline.config.clone(),
        gitops: pipeline.gitops.clone(),
        target: Target::Local(LocalTarget::new(docker.clone(), prefix)),
        images: Some(ImageBuilder::new(docker.clone())),
        slack: None,
        registry: Registry::Engine(docker.clone()),
        attachments: pipeline.attachments.clone(),
        clock,
        signing_key: pipeline.signing_key.clone(),
    }
}

fn promotion(target: &str, sha: &GitSha) -> PromoteOptions {
    PromoteOptions {
        env: env(target),
        apps: Vec::new(),
        sha: Some(sha.clone()),
        dry_run: false,
        requested_by: "alice".parse().expect("person"),
        run_id: "dashboard".to_owned(),
        break_glass: None,
        approval: ApprovalMode::NoWait,
        monitor: Some(Duration::ZERO),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn in_chromium_the_page_follows_ci_a_promotion_and_a_rollback_without_a_reload() {
    const TEST: &str = "dashboard_browser";
    let Some(docker) = tests::docker_or_skip(TEST).await else {
        return;
    };
    if !tests::require(tests::Service::Tool("chromium"), TEST)
        || !tests::require(tests::Service::Tool("chromedriver"), TEST)
    {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = tests::unique_prefix("dash");
    // Removes this test's containers and networks even when an assertion fails.
    let _cleanup = tests::Cleanup::new(&prefix);
    let pipeline = tests::test_pipeline(dir.path(), docker.clone(), &prefix);
    let sha = tests::deploy_dev(&pipeline, &docker).await;

    // The dashboard's clock, moved to prod's deny window and back below.
    let clock = Clock::manual(tests::DAYTIME.parse().expect("DAYTIME"));
    let dashboard = Dashboard::start(
        acting(&pipeline, &docker, &prefix, clock.clone()),
        localhost(),
    )
    .await
    .expect("start");
    let driver = Chromedriver::start();
    let client = browser(&driver).await;
    client
        .goto(&format!("http://{}/", dashboard.address))
        .await
        .expect("open the page");

    // After ci: dev's build, and that it can move to staging.
    let dev_sha = client
        .execute(
            "const e = document.querySelector('#lane-dev code.sha'); return e ? e.dataset.sha : null;",
            Vec::new(),
        )
        .await
        .expect("dev's build");
    assert_eq!(dev_sha.as_str(), Some(sha.as_str()));
    assert!(text(&client, "#lane-dev").await.contains("1/1 all ready"));
    assert!(text(&client, "#move-staging").await.contains("can move"));
    assert_eq!(text(&client, "h1").await, "PakTech delivery");
    client
        .execute("window.paktechMarker = 'set'; return true;", Vec::new())
        .await
        .expect("mark the page");

    // A promotion made while the page is open appears without a reload.
    let (_, error) = promote::run(&pipeline, &promotion("staging", &sha), &Silent).await;
    assert!(error.is_none(), "staging: {error:?}");
    until_text(&client, "#lane-staging .build", sha.short()).await;
    until_text(&client, "#lane-staging .ready", "2/2 all ready").await;
    until_text(&client, "#move-prod", "approval pending").await;
    assert!(not_reloaded(&client).await, "the page was reloaded");

    // At 23:00 UTC prod's deny window is closed; the page says until when, then reopens.
    clock.set("2026-11-26T23:00:00Z".parse().expect("time"));
    until_text(
        &client,
        "#move-prod",
        "window closed until 2026-11-27T06:00:00+00:00",
    )
    .await;
    clock.set(tests::DAYTIME.parse().expect("DAYTIME"));
    until(&client, "#move-prod", "no closed window", |now| {
        !now.contains("window closed") && now.contains("approval pending")
    })
    .await;

    // Prod gets it; then a build that reached prod is rolled back, and the page shows the block.
    tests::request_and_approve(&pipeline, "prod", &sha, "alice", "bob").await;
    let (_, error) = promote::run(&pipeline, &promotion("prod", &sha), &Silent).await;
    assert!(error.is_none(), "prod: {error:?}");
    until_text(&client, "#move-prod", "up to date").await;
    let bad = tests::another_build(&pipeline, &docker, Some(&sha)).await;
    let bad_digest = tests::digest_of(&pipeline, &bad).await;
    pretend_it_ran(&pipeline, "staging", &bad, &bad_digest);
    pretend_it_ran(&pipeline, "prod", &bad, &bad_digest);
    rollback::rollback(
        &pipeline,
        &RollbackOptions {
            app: tests::app(),
            env: env("prod"),
            to: None,
            reason: "the bad build fails its checks".parse().expect("reason"),
            requested_by: "carol".parse().expect("person"),
            run_id: "dashboard".to_owned(),
            if_running: None,
            dry_run: false,
            analysis: None,
            verdict: None,
        },
        &Silent,
    )
    .await
    .expect("rollback");
    until_text(&client, "#move-prod", "blocked by a rollback").await;
    let blocked = text(&client, "#move-prod").await;
    assert!(
        blocked.contains("the bad build fails its checks") && blocked.contains("carol"),
        "{blocked}"
    );
    until_text(&client, "ol.timeline", "rollback").await;
    until_text(&client, "#lane-prod .build", sha.short()).await;
    assert!(not_reloaded(&client).await, "the page was reloaded");

    // The delivery figures: prod's promotion and the rollback counted, in words and in four
    // charts that are drawn (a size on the page), each with its title and values in words.
    until_text(&client, "#figures-prod", "1 rollback(s)").await;
    let figures = text(&client, "#figures-prod").await;
    assert!(figures.contains("deployments\n1 "), "{figures}");
    let drawn = client
        .execute(
            "return Array.from(document.querySelectorAll('#figures-prod svg[role=img]')).filter(s => \
               s.getBoundingClientRect().width > 0 && s.querySelector('title').textContent.includes('in prod') \
               && s.querySelector('desc').textContent.includes(' to ')).length;",
            Vec::new(),
        )
        .await
        .expect("the charts");
    assert_eq!(
        drawn.as_u64(),
        Some(4),
        "prod's four charts, drawn, with text"
    );
    let bars = client
        .execute(
            "return document.querySelectorAll('#figures-prod svg rect').length;",
            Vec::new(),
        )
        .await
        .expect("the bars");
    assert!(
        bars.as_u64() >= Some(1),
        "prod's deployment is a bar: {bars}"
    );
    let (status, exposition) = get(dashboard.address, "/metrics").await;
    assert_eq!(status, "HTTP/1.0 200 OK", "{exposition}");
    assert!(
        exposition.contains("# TYPE paktech_delivery_rollbacks_total counter\n")
            && exposition.contains("paktech_delivery_env_rollbacks_total{env=\"prod\"} 1\n"),
        "{exposition}"
    );

    let png = client.screenshot().await.expect("screenshot");
    // The README's pictures come from the two-app quickstart (`tests/tests/quickstart.rs`).
    let path = dir.path().join("dashboard.png");
    std::fs::write(&path, &png).expect("save the screenshot");
    eprintln!("screenshot: {}", path.display());

    let _ = client.close().await;
    drop(driver);
    dashboard.handle.stop(false).await;
    for e in &pipeline.config.environments {
        tests::local(&pipeline)
            .teardown(&e.name)
            .await
            .expect("teardown");
    }
}
