//! `ci` end to end on the real Docker engine and a real bare GitOps repository.

use std::time::{Duration, Instant};

use adapters::gitops::Written;
use flow::ci::{self, CiOptions};
use flow::sync;
use model::report::{Outcome, Silent};
use tests::local;

fn options() -> CiOptions {
    CiOptions {
        skip_tests: true,
        allow_dirty: true,
        ..CiOptions::new("ci-flow-test".parse().expect("person"), "test-run-1")
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ci_deploys_dev_idempotently_and_watch_repairs_drift() {
    let Some(docker) = tests::docker_or_skip("ci_flow").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = tests::unique_prefix("ci");
    let _cleanup = tests::Cleanup::new(&prefix);
    let pipeline = tests::test_pipeline(dir.path(), docker.clone(), &prefix);
    let dev = pipeline.config.first().clone();
    let remote = dir.path().join("gitops.git");

    // First run: builds, commits dev's new tag, starts dev, smoke-tests it.
    let (report, error) = ci::run(&pipeline, &options(), &Silent).await;
    assert!(error.is_none(), "ci failed: {error:?}\n{report:#?}");
    let image = report.image.clone().expect("an image");
    let Some(Written::Committed { revision, .. }) = report.gitops.clone() else {
        panic!("expected a commit: {report:#?}");
    };
    assert_eq!(report.dev_urls.len(), 1);
    let replicas = local(&pipeline)
        .replicas(&tests::app(), &dev.name, None)
        .await
        .expect("replicas");
    assert_eq!(replicas.len(), 1);
    assert_eq!(replicas[0].tag, image.tag.to_string());
    assert_eq!(replicas[0].revision, revision.to_string());

    // Second run at the same commit: no commit, nothing restarted.
    let (again, error) = ci::run(&pipeline, &options(), &Silent).await;
    assert!(error.is_none(), "second ci failed: {error:?}");
    assert_eq!(
        again.gitops,
        Some(Written::Unchanged {
            revision: revision.clone()
        })
    );
    let deploy = again
        .steps
        .iter()
        .find(|s| s.step == "deploy-dev")
        .expect("deploy-dev step");
    assert_eq!(deploy.outcome, Outcome::Unchanged, "{deploy:?}");
    let after = local(&pipeline)
        .replicas(&tests::app(), &dev.name, None)
        .await
        .expect("replicas");
    assert_eq!(
        after.iter().map(|r| &r.name).collect::<Vec<_>>(),
        replicas.iter().map(|r| &r.name).collect::<Vec<_>>(),
        "the same container still serves"
    );

    // The git CLI reads the audit record.
    let log = tests::git_cli(&remote, &["log", "--format=%s", "main"]);
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        vec![
            format!("chore(dev): bump paktech-app to {}", image.tag).as_str(),
            "chore: seed the GitOps repository from gitops/"
        ]
    );
    let trailers = tests::git_cli(&remote, &["log", "-1", "--format=%(trailers)", "main"]);
    for expected in [
        "Pipeline-Action: deploy".to_owned(),
        "Pipeline-Environment: dev".to_owned(),
        format!("Image-Sha: {}", image.tag),
        format!("Image-Digest: {}", image.id),
        "Requested-By: ci-flow-test".to_owned(),
        "Run-Id: test-run-1".to_owned(),
    ] {
        assert!(
            trailers.contains(&expected),
            "missing {expected:?} in:\n{trailers}"
        );
    }
    tests::git_cli(&remote, &["fsck", "--strict"]);

    // A replica removed by hand comes back under watch.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let envs = [&dev];
    let watcher = sync::watch(
        &pipeline,
        &envs,
        Duration::from_millis(300),
        async {
            let _ = stop_rx.await;
        },
        &Silent,
    );
    let checker = async {
        let options = bollard::query_parameters::RemoveContainerOptionsBuilder::new()
            .force(true)
            .build();
        docker
            .remove_container(&replicas[0].name, Some(options))
            .await
            .expect("remove by hand");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let probes = pipeline
                .target
                .probe(&tests::app(), &dev.name)
                .await
                .expect("probe");
            if probes.len() == 1
                && probes[0].1.runs(&image.tag.to_string())
                && probes[0].0.name != replicas[0].name
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the replica never came back: {probes:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let _ = stop_tx.send(());
    };
    tokio::join!(watcher, checker);
}

/// A signed OpenVEX document saying CVE-1999-0002 (the Critical finding of grype's fixture)
/// does not affect any build of `name`, dated a day before `now`.
fn vex_document(name: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    let issued = (now - Duration::from_secs(86_400)).to_rfc3339();
    format!(
        r#"{{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://paktech.example/vex/ci-1",
  "author": "security@paktech.example", "timestamp": "{issued}", "version": 1,
  "statements": [{{"vulnerability": {{"name": "CVE-1999-0002"}},
    "products": [{{"@id": "pkg:oci/{name}", "subcomponents": [{{"@id": "pkg:deb/package-2"}}]}}],
    "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}}]}}"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn ci_refuses_an_unsigned_vex_statement_and_names_the_applied_one_in_the_dev_commit() {
    let Some(docker) = tests::docker_or_skip("ci_flow_vex").await else {
        return;
    };
    let Some(shared) = tests::shared_or_skip("ci_flow_vex") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = tests::unique_prefix("civex");
    let _cleanup = tests::Cleanup::new(&prefix);
    let mut pipeline = tests::test_pipeline(dir.path(), docker.clone(), &prefix);
    let remote = dir.path().join("gitops.git");
    // grype's report has one Critical finding: without VEX this policy blocks the deploy.
    pipeline.config.scan.fail_on = Some(model::scan::Severity::Critical);
    let key = ::supply_chain::cosign::SigningKey::generate();
    pipeline.config.supply_chain.keys = vec![key.public_key()];
    let vex = dir.path().join("vex");
    std::fs::create_dir(&vex).expect("vex dir");
    pipeline.config.supply_chain.vex.dir = vex.clone();
    let repository = pipeline.config.apps[0].repository.to_string();
    let name = repository.rsplit('/').next().expect("name").to_owned();
    let text = vex_document(&name, pipeline.clock.now());
    std::fs::write(vex.join("app.json"), &text).expect("vex");
    let options = CiOptions {
        scan_report: Some(shared.join("fixtures/grype/TestJsonImgsPresenter.json")),
        ..options()
    };
    let seed_only = || tests::git_cli(&remote, &["log", "--format=%s", "main"]);
    let before = seed_only();

    // Unsigned: refused, naming the file, and nothing is written.
    let (report, error) = ci::run(&pipeline, &options, &Silent).await;
    let error = error.expect("refused");
    assert!(
        matches!(error, flow::Error::Vex(_)),
        "{error:?}\n{report:#?}"
    );
    let file = vex.join("app.json").display().to_string();
    assert!(
        error
            .to_string()
            .starts_with(&format!("{file}: VEX refused: unsigned")),
        "{error}"
    );
    assert!(report.gitops.is_none());
    assert_eq!(seed_only(), before, "nothing written to GitOps");

    // Signed: the Critical finding is suppressed, the gate passes, the commit names it.
    std::fs::write(vex.join("app.json.sig"), key.sign(text.as_bytes())).expect("sig");
    let (report, error) = ci::run(&pipeline, &options, &Silent).await;
    assert!(error.is_none(), "ci failed: {error:?}\n{report:#?}");
    let scan = report.scan.clone().expect("scanned");
    assert_eq!(scan.counts.critical, 0);
    assert_eq!(scan.suppressed.len(), 1);
    assert_eq!(scan.suppressed[0].by.statement, format!("{file}#0"));
    let trailers = tests::git_cli(&remote, &["log", "-1", "--format=%(trailers)", "main"]);
    for expected in [
        format!("Vex-Applied: {file}#0 CVE-1999-0002"),
        "Scan-Summary: critical=0 high=0 medium=0 low=1 negligible=0 unknown=0".to_owned(),
    ] {
        assert!(
            trailers.contains(&expected),
            "missing {expected:?} in:\n{trailers}"
        );
    }
    // `cargo xtask verify` names the statement the build's scan applied.
    let app = pipeline.config.apps[0].clone();
    let tag = report.image.as_ref().expect("image").tag.clone();
    let prod = tests::env("prod");
    let (verified, _) = flow::verify::verify(&pipeline, &app, &prod, &tag)
        .await
        .expect("verify");
    let vex = verified
        .checks
        .iter()
        .find(|c| c.check == "vex")
        .expect("a vex check");
    assert_eq!(vex.others, [format!("{file}#0 CVE-1999-0002")], "{vex:?}");
}
