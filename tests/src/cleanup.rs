//! Removing what a test started on the Docker engine (containers and networks by name prefix), even when it panics.

/// Removes every container and network whose name starts with its prefix when dropped, so a
/// test that panics half-way leaves nothing running on the engine. Hold one for the whole test:
/// `let _cleanup = tests::Cleanup::new(&prefix);`.
#[derive(Debug)]
pub struct Cleanup {
    pub(super) prefix: String,
}

impl Cleanup {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        // A runtime and a client of its own, on a thread of its own: a drop cannot await, and
        // the test's runtime may be the very thread this runs on.
        let prefix = self.prefix.clone();
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(remove_named(&prefix));
        })
        .join();
    }
}

/// Force-removes the containers, then the networks, named `<prefix>…`.
pub(super) async fn remove_named(prefix: &str) {
    use bollard::query_parameters::{
        ListContainersOptionsBuilder, ListNetworksOptionsBuilder, RemoveContainerOptionsBuilder,
    };
    let Ok(docker) = adapters::docker::connect().await else {
        return;
    };
    let filters = std::collections::HashMap::from([("name", vec![prefix.to_owned()])]);
    let ours = |name: &str| name.trim_start_matches('/').starts_with(prefix);
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap_or_default();
    for container in containers {
        let Some(name) = container
            .names
            .unwrap_or_default()
            .into_iter()
            .find(|n| ours(n))
        else {
            continue;
        };
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        let _ = docker
            .remove_container(name.trim_start_matches('/'), Some(options))
            .await;
    }
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .unwrap_or_default();
    for network in networks {
        if let (Some(id), Some(name)) = (network.id, network.name)
            && ours(&name)
        {
            let _ = docker.remove_network(&id).await;
        }
    }
}
