//! The test harness itself: `tests::Cleanup` removes what a test left on the Docker engine,
//! also when the test panics.

use bollard::Docker;
use bollard::models::NetworkCreateRequest;

async fn create_network(docker: &Docker, name: &str) {
    docker
        .create_network(NetworkCreateRequest {
            name: name.to_owned(),
            ..Default::default()
        })
        .await
        .expect("create network");
}

#[tokio::test(flavor = "multi_thread")]
async fn cleanup_removes_the_tests_networks_when_it_ends_and_when_it_panics() {
    let Some(docker) = tests::docker_or_skip("harness").await else {
        return;
    };
    let prefix = tests::unique_prefix("harness");
    let others = tests::unique_prefix("harness");

    create_network(&docker, &format!("{prefix}-dev")).await;
    create_network(&docker, &format!("{others}-dev")).await;
    drop(tests::Cleanup::new(&prefix));
    assert!(tests::network_names(&docker, &prefix).await.is_empty());
    assert_eq!(
        tests::network_names(&docker, &others).await.len(),
        1,
        "only its own"
    );

    create_network(&docker, &format!("{prefix}-prod")).await;
    let panicked = std::panic::catch_unwind(|| {
        let _cleanup = tests::Cleanup::new(&prefix);
        panic!("an assertion failed half-way");
    });
    assert!(panicked.is_err());
    assert!(tests::network_names(&docker, &prefix).await.is_empty());

    drop(tests::Cleanup::new(&others));
    assert!(tests::network_names(&docker, &others).await.is_empty());
}
