//! The connection to the Docker engine, shared by the image adapter and the local target.

pub use bollard::Docker;

/// The engine could not be reached; names where it was looked for.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot reach the Docker engine at {host}: {source} (is Docker running? is DOCKER_HOST right?)"
)]
pub struct Unreachable {
    pub host: String,
    #[source]
    pub source: bollard::errors::Error,
}

/// Where the engine is expected: `DOCKER_HOST`, else the local socket.
pub fn engine_address() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned())
}

/// Connects, agrees on an API version the engine speaks, and checks it answers.
pub async fn connect() -> Result<Docker, Unreachable> {
    let host = engine_address();
    let fail = |source| Unreachable {
        host: host.clone(),
        source,
    };
    let docker = Docker::connect_with_defaults()
        .map_err(fail)?
        .negotiate_version()
        .await
        .map_err(fail)?;
    docker.ping().await.map_err(fail)?;
    Ok(docker)
}
