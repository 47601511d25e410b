//! One replica's container on the engine: the image checked, the environment's network, a container started read-only and non-root with every capability dropped, waited for until it answers with the expected build (failing fast with its last log lines), and removed.

use super::*;

impl LocalTarget {
    pub(super) async fn check_image(&self, image: &model::desired::PinnedImage) -> Result<()> {
        let name = image.name();
        let inspect = match self.docker.inspect_image(&name).await {
            Ok(inspect) => inspect,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                return Err(Error::ImageMissing { image: name });
            }
            Err(e) => return Err(docker(format!("inspect image {name}"))(e)),
        };
        if let Some(digest) = &image.digest {
            let id = inspect.id.unwrap_or_default();
            let repo_digests = inspect.repo_digests.unwrap_or_default();
            let pinned = format!("{}@{digest}", image.repository);
            if id != digest.as_str() && !repo_digests.contains(&pinned) {
                return Err(Error::DigestMismatch {
                    image: name,
                    expected: digest.to_string(),
                    found: id,
                });
            }
        }
        Ok(())
    }

    /// The id of `env`'s network, created when missing. Docker does not refuse a second
    /// network of the same name, so two runs racing here could make two; the oldest wins
    /// and the others are removed, and containers join by id.
    pub(super) async fn ensure_network(&self, env: &EnvName) -> Result<String> {
        let name = self.network(env);
        if self.networks_named(&name).await?.is_empty() {
            let request = NetworkCreateRequest {
                name: name.clone(),
                labels: Some(HashMap::from([
                    (LABEL_SYSTEM.to_owned(), self.prefix.clone()),
                    (LABEL_ENV.to_owned(), env.to_string()),
                ])),
                ..Default::default()
            };
            match self.docker.create_network(request).await {
                Ok(_)
                | Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 409, ..
                }) => {}
                Err(e) => return Err(docker(format!("create network {name}"))(e)),
            }
        }
        let found = self.networks_named(&name).await?;
        let Some((oldest, extras)) = found.split_first() else {
            return Err(docker(format!("find network {name}"))(
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404,
                    message: format!("network {name} vanished after it was created"),
                },
            ));
        };
        for extra in extras {
            if let Some(id) = &extra.id {
                let _ = self.docker.remove_network(id).await;
            }
        }
        Ok(oldest.id.clone().unwrap_or(name))
    }

    pub(super) async fn start(
        &self,
        desired: &DesiredState,
        spec: &str,
        network: &str,
    ) -> Result<String> {
        let Some(image) = &desired.image else {
            unreachable!("start is only called with an image")
        };
        let name = replica_name(&self.prefix, &desired.app, &desired.env, rand::random());
        let labels = HashMap::from([
            (LABEL_APP.to_owned(), desired.app.to_string()),
            (LABEL_SYSTEM.to_owned(), self.prefix.clone()),
            (LABEL_ENV.to_owned(), desired.env.to_string()),
            (LABEL_TAG.to_owned(), image.tag.to_string()),
            (LABEL_REVISION.to_owned(), desired.revision.to_string()),
            (LABEL_SPEC.to_owned(), spec.to_owned()),
        ]);
        let body = ContainerCreateBody {
            image: Some(image.name()),
            env: Some(
                desired
                    .variables
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect(),
            ),
            labels: Some(labels),
            // The other apps of the environment reach this one by its name.
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    network.to_owned(),
                    EndpointSettings {
                        aliases: Some(vec![desired.app.to_string()]),
                        ..Default::default()
                    },
                )])),
            }),
            exposed_ports: Some(vec![APP_PORT.to_owned()]),
            host_config: Some(HostConfig {
                network_mode: Some(network.to_owned()),
                port_bindings: Some(HashMap::from([(
                    APP_PORT.to_owned(),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".to_owned()),
                        host_port: Some(String::new()),
                    }]),
                )])),
                readonly_rootfs: Some(true),
                tmpfs: Some(HashMap::from([(
                    "/tmp".to_owned(),
                    "rw,noexec,nosuid,size=16m".to_owned(),
                )])),
                cap_drop: Some(vec!["ALL".to_owned()]),
                security_opt: Some(vec!["no-new-privileges".to_owned()]),
                memory: desired.memory_limit_bytes,
                nano_cpus: desired.cpu_limit_nanos,
                pids_limit: Some(256),
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::ON_FAILURE),
                    maximum_retry_count: Some(3),
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.docker
            .create_container(
                Some(CreateContainerOptionsBuilder::new().name(&name).build()),
                body,
            )
            .await
            .map_err(docker(format!("create {name}")))?;
        self.docker
            .start_container(&name, None)
            .await
            .map_err(docker(format!("start {name}")))?;
        Ok(name)
    }

    /// Waits until `name` answers `/health` 200 and `/info` reports `build`; fails fast when
    /// the container exits or restarts.
    pub(super) async fn wait_ready(
        &self,
        name: &str,
        image: &str,
        build: &str,
        timeout: Duration,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut last = "not probed yet".to_owned();
        loop {
            let inspect = self
                .docker
                .inspect_container(name, None::<InspectContainerOptions>)
                .await
                .map_err(docker(format!("inspect {name}")))?;
            let state = inspect.state.clone().unwrap_or_default();
            let restarts = inspect.restart_count.unwrap_or_default();
            if !state.running.unwrap_or(false) || state.restarting.unwrap_or(false) || restarts > 0
            {
                return Err(Error::ReplicaFailed {
                    name: name.to_owned(),
                    image: image.to_owned(),
                    reason: format!(
                        "it exited with code {} ({} restarts)",
                        state.exit_code.unwrap_or_default(),
                        restarts
                    ),
                    logs: self.last_logs(name).await,
                });
            }
            let port = inspect
                .network_settings
                .and_then(|n| n.ports)
                .and_then(|p| p.get(APP_PORT).cloned().flatten())
                .and_then(|b| b.into_iter().find_map(|b| b.host_port));
            if let Some(port) = port {
                let probe = self.prober.probe(&format!("http://127.0.0.1:{port}")).await;
                if probe.runs(build) {
                    return Ok(());
                }
                last = match (probe.problem, probe.build_sha) {
                    (Some(problem), _) => problem,
                    (None, Some(found)) => format!("it reports build {found}, expected {build}"),
                    (None, None) => "it reports no build".to_owned(),
                };
            }
            if Instant::now() >= deadline {
                return Err(Error::NotReady {
                    name: name.to_owned(),
                    image: image.to_owned(),
                    timeout,
                    last,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(super) async fn last_logs(&self, name: &str) -> String {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail("5")
            .build();
        let mut stream = self.docker.logs(name, Some(options));
        let mut text = String::new();
        while let Some(Ok(chunk)) = stream.next().await {
            text.push_str(&chunk.to_string());
        }
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// Stops (letting it drain) and removes a container; one already gone is fine.
    pub(super) async fn remove(&self, name: &str) -> Result<()> {
        let stop = StopContainerOptionsBuilder::new().t(10).build();
        match self.docker.stop_container(name, Some(stop)).await {
            Ok(()) => {}
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304 | 404,
                ..
            }) => {}
            Err(e) => return Err(docker(format!("stop {name}"))(e)),
        }
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404 | 409,
                ..
            }) => Ok(()),
            Err(e) => Err(docker(format!("remove {name}"))(e)),
        }
    }
}
