//! What runs on the Docker engine under a test's prefix, by name: what `docker ps` and
//! `docker network ls` would show a user.

use std::collections::HashMap;

use bollard::Docker;
use bollard::query_parameters::{ListContainersOptionsBuilder, ListNetworksOptionsBuilder};

/// The names of the containers (running or not) whose name starts with `prefix`, sorted.
pub async fn container_names(docker: &Docker, prefix: &str) -> Vec<String> {
    let filters = HashMap::from([("name", vec![prefix.to_owned()])]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let mut names: Vec<String> = docker
        .list_containers(Some(options))
        .await
        .expect("list containers")
        .into_iter()
        .flat_map(|c| c.names.unwrap_or_default())
        .map(|n| n.trim_start_matches('/').to_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

/// The names of the networks whose name starts with `prefix`, sorted.
pub async fn network_names(docker: &Docker, prefix: &str) -> Vec<String> {
    let filters = HashMap::from([("name", vec![prefix.to_owned()])]);
    let mut names: Vec<String> = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .expect("list networks")
        .into_iter()
        .filter_map(|n| n.name)
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}
