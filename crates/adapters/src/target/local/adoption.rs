//! Adopting an environment made under the former prefix (`LocalTarget::adopting`): its
//! replicas join the new network under their apps' aliases, so every app reaches every other
//! whichever network a replica was started on, while the rollout rule replaces them; the
//! former network is removed once nothing is attached to it.

use bollard::models::{ContainerSummary, NetworkConnectRequest};
use bollard::query_parameters::InspectNetworkOptions;

use super::*;

impl LocalTarget {
    /// The containers of `env` made under the former prefix, every app's.
    async fn former_containers(&self, env: &EnvName) -> Result<Vec<ContainerSummary>> {
        if self.former.is_none() {
            return Ok(Vec::new());
        }
        let filters = HashMap::from([("label", vec![format!("{LABEL_ENV}={env}")])]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        Ok(self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(docker("list containers"))?
            .into_iter()
            .filter(|c| {
                c.labels
                    .as_ref()
                    .is_some_and(|labels| self.owner(labels) == Some(Owner::Former))
            })
            .collect())
    }

    /// Joins every container of `env` made under the former prefix to the new network under
    /// its app's alias, and returns the new network's id; `None` when there is none to adopt.
    pub(super) async fn adopt(
        &self,
        env: &EnvName,
        reporter: &dyn Reporter,
    ) -> Result<Option<String>> {
        let former = self.former_containers(env).await?;
        if former.is_empty() {
            return Ok(None);
        }
        let network = self.ensure_network(env).await?;
        let name = self.network(env);
        for container in former {
            let Some(id) = container.id.clone() else {
                continue;
            };
            let attached = container
                .network_settings
                .as_ref()
                .and_then(|n| n.networks.as_ref())
                .is_some_and(|n| n.contains_key(&name));
            if attached {
                continue;
            }
            let app = container
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_APP))
                .cloned()
                .unwrap_or_default();
            let request = NetworkConnectRequest {
                container: id.clone(),
                endpoint_config: Some(EndpointSettings {
                    aliases: Some(vec![app.clone()]),
                    ..Default::default()
                }),
            };
            let shown = container
                .names
                .as_ref()
                .and_then(|n| n.first())
                .map_or(id.as_str(), |n| n.trim_start_matches('/'))
                .to_owned();
            match self.docker.connect_network(&network, request).await {
                Ok(()) => reporter.progress(
                    "sync",
                    format!("adopted {shown} ({app}) into {name}; the rollout replaces it"),
                ),
                // Gone since it was listed, or joined by a sync running beside this one.
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 403 | 404 | 409,
                    ..
                }) => {}
                Err(e) => return Err(docker(format!("connect {shown} to {name}"))(e)),
            }
        }
        Ok(Some(network))
    }

    /// Removes `env`'s network of the former prefix once no container is attached to it.
    pub(super) async fn retire_former_network(&self, env: &EnvName) -> Result<()> {
        let Some(former) = &self.former else {
            return Ok(());
        };
        let name = format!("{former}-{env}");
        for network in self.networks_named(&name).await? {
            let Some(id) = &network.id else { continue };
            let inspect = match self
                .docker
                .inspect_network(id, None::<InspectNetworkOptions>)
                .await
            {
                Ok(inspect) => inspect,
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => continue,
                Err(e) => return Err(docker(format!("inspect network {name}"))(e)),
            };
            if inspect.containers.unwrap_or_default().is_empty() {
                self.remove_network(&name, id).await?;
            }
        }
        Ok(())
    }
}
