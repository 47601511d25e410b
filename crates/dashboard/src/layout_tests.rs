//! The page's layout in headless Chromium: the two-app quickstart's board, every cell filled as
//! a real run fills it, fits one screen (issue: "the board at a glance").

use crate::tests::browser_sized;
use tests::browser::Chromedriver;

/// The board the two-app quickstart leaves, every cell filled as a real run fills it: two
/// replicas with the local target's long names, the digest, the scan, verify's five checks and
/// the watch, the last change with a release's subject, the address; approvals pending.
fn quickstart_board() -> crate::board::Board {
    use crate::board::{
        Board, Change as LastChange, Lane, Move, Release, ReleaseApp, ReleaseState, Replica, Stop,
    };
    use flow::verify::Check;
    let sha = "45c551e683ae8f1d3e4650a393a46586cbc1e909";
    let key = "signed by this machine's key .paktech/keys/cosign.pub (sha256:8d2f0e456f4f86a5f2b1c0d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9)";
    let check = |check, detail: &str| Check {
        check,
        required: true,
        passed: true,
        detail: detail.to_owned(),
        others: vec!["also by another key that nobody configured here".to_owned()],
    };
    let mut lanes = Vec::new();
    let mut moves = Vec::new();
    for app in ["paktech-app", "paktech-gateway"] {
        for (i, env) in ["dev", "staging", "prod"].into_iter().enumerate() {
            lanes.push(Lane {
                app: app.to_owned(),
                env: env.to_owned(),
                sha: sha.to_owned(),
                digest: format!("sha256:{}", "5799a621".repeat(8)),
                ready: 2,
                desired: 2,
                replicas: (0..2)
                    .map(|r| Replica {
                        name: format!("paktech-app-{app}-{env}-25{r}f51"),
                        healthy: true,
                        build: Some(sha.to_owned()),
                        problem: None,
                    })
                    .collect(),
                urls: vec![format!("http://127.0.0.1:4915{i}")],
                last_change: Some(LastChange {
                    revision: "57f8572a2a2e215172bd1df1e5076a3f98437f9e".to_owned(),
                    time: "2026-12-07T12:00:00+00:00".to_owned(),
                    author: "paktech-pipeline".to_owned(),
                    subject: format!("chore({env}): promote release 57f8572a2a2e (paktech-app@45c551e683ae, paktech-gateway@45c551e683ae)"),
                }),
                scan: Some("critical=0 high=0 medium=2 low=7 negligible=12 (fixable 1)".to_owned()),
                trust: Some(crate::trust::Trust {
                    app: app.to_owned(),
                    env: env.to_owned(),
                    sha: sha.to_owned(),
                    checks: Ok(vec![
                        check("signature", key),
                        check("sbom", "the CycloneDX SBOM sha256:0a5d8081f01e the build signed, attested by this machine's key"),
                        check("provenance", "built by local from git+https://github.com/paktech/paktech-gitops at 45c551e683ae8f1d3e4650a393a46586cbc1e909"),
                        check("scan", "a scan younger than 7days passes the scan policy"),
                        check("vex", "no VEX statement suppressed a finding of its scan"),
                    ]),
                    refused: None,
                    watch: None,
                }),
            });
        }
        for (from, to) in [("dev", "staging"), ("staging", "prod")] {
            moves.push(Move {
                app: app.to_owned(),
                from: from.to_owned(),
                to: to.to_owned(),
                sha: Some(sha.to_owned()),
                state: crate::board::MoveState::Stopped(vec![Stop::Approval {
                    have: Vec::new(),
                    need: 1,
                    may_approve: "anyone but alice".to_owned(),
                    requested: true,
                }]),
            });
        }
    }
    let releases = [("dev", "staging"), ("staging", "prod")]
        .into_iter()
        .map(|(from, to)| Release {
            from: from.to_owned(),
            to: to.to_owned(),
            apps: ["paktech-app", "paktech-gateway"]
                .into_iter()
                .map(|app| ReleaseApp {
                    app: app.to_owned(),
                    from: "1111111111111111111111111111111111111111".to_owned(),
                    to: sha.to_owned(),
                })
                .collect(),
            state: ReleaseState::Stopped(vec![Stop::Approval {
                have: Vec::new(),
                need: 1,
                may_approve: "anyone but alice".to_owned(),
                requested: true,
            }]),
        })
        .collect();
    Board {
        target: "local".to_owned(),
        gitops_url: "/home/alice/paktech/.paktech/gitops.git".to_owned(),
        tip: "57f8572a2a2e215172bd1df1e5076a3f98437f9e".to_owned(),
        lanes,
        moves,
        releases,
        timeline: Vec::new(),
        scans: Vec::new(),
        replanning: false,
        delivery: None,
    }
}

/// Two apps in three environments, every cell filled as the quickstart fills it, 1400 pixels
/// wide: the matrix ends within the page's first 900 pixels, each cell has its
/// row of trust badges, and no cell's text is wider than the cell.
#[tokio::test(flavor = "multi_thread")]
async fn in_chromium_two_apps_by_three_environments_fit_one_screen() {
    const TEST: &str = "dashboard_fits";
    if !tests::require(tests::Service::Tool("chromium"), TEST)
        || !tests::require(tests::Service::Tool("chromedriver"), TEST)
    {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("board.html");
    std::fs::write(&page, crate::view::page(&quickstart_board(), None)).expect("write the page");
    let driver = Chromedriver::start();
    let client = browser_sized(&driver, 1400, 900).await;
    client
        .goto(&format!("file://{}", page.display()))
        .await
        .expect("open the page");
    let measured = client
        .execute(
            "const m = document.querySelector('table.matrix');
             const box = m.getBoundingClientRect();
             const cells = [...m.querySelectorAll('td')];
             const wide = cells.filter(c => c.scrollWidth > c.clientWidth + 1)
                 .map(c => (c.id || c.className) + ': ' + c.scrollWidth + ' > ' + c.clientWidth);
             const lanes = [...m.querySelectorAll('[id^=lane-]')];
             const bare = lanes.filter(l => l.querySelectorAll('dd.trust .badge[data-check]').length < 6)
                 .map(l => l.id);
             return { bottom: box.bottom, width: box.width, innerHeight: window.innerHeight,
                      innerWidth: window.innerWidth, lanes: lanes.length, wide: wide, bare: bare };",
            Vec::new(),
        )
        .await
        .expect("measure the matrix");
    let png = client.screenshot().await.expect("screenshot");
    let shot = dir.path().join("matrix.png");
    std::fs::write(&shot, &png).expect("save the screenshot");
    eprintln!("screenshot: {} ({measured})", shot.display());
    let number = |key: &str| measured[key].as_f64().unwrap_or(f64::MAX);
    assert_eq!(number("lanes"), 6.0, "{measured}");
    // A 1400 × 900 screen: the browser's own bars take some of the window here, so the page's
    // first 900 pixels are what such a screen shows of it.
    assert!(
        number("bottom") <= 900.0,
        "the matrix ends below a 900-pixel-high screen: {measured}"
    );
    assert!(
        number("width") <= number("innerWidth"),
        "wider than the window: {measured}"
    );
    assert_eq!(measured["wide"], serde_json::json!([]), "{measured}");
    assert_eq!(measured["bare"], serde_json::json!([]), "{measured}");
    let _ = client.close().await;
    drop(driver);
}
