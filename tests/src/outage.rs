//! A Docker engine that fails on demand, for the tests of a watch whose target stops
//! answering: a unix socket in front of the real engine's that forwards every connection,
//! until [`EngineOutage::begin`] cuts the open ones and refuses new ones (every API call then
//! errors, as with an engine restarting); [`EngineOutage::end`] forwards again. Only what is
//! given its client (the local target) sees the outage.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{UnixListener, UnixStream};
use tokio::task::AbortHandle;

/// The switch, and the client that goes through it.
#[derive(Debug)]
pub struct EngineOutage {
    pub docker: bollard::Docker,
    down: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<AbortHandle>>>,
    _dir: tempfile::TempDir,
}

impl EngineOutage {
    /// Listens in a temporary directory, forwarding to the engine `DOCKER_HOST` (a unix
    /// socket) or `/var/run/docker.sock` names.
    pub fn start() -> Self {
        let engine = std::env::var("DOCKER_HOST")
            .ok()
            .and_then(|h| h.strip_prefix("unix://").map(str::to_owned))
            .unwrap_or_else(|| "/var/run/docker.sock".to_owned());
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("docker.sock");
        let listener = UnixListener::bind(&path).expect("bind the socket");
        let down = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (is_down, conns) = (Arc::clone(&down), Arc::clone(&open));
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if is_down.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let engine = engine.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = UnixStream::connect(&engine).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                conns.lock().expect("connections").push(task.abort_handle());
            }
        });
        let docker = bollard::Docker::connect_with_unix(
            path.to_str().expect("utf-8 path"),
            30,
            bollard::API_DEFAULT_VERSION,
        )
        .expect("a client");
        Self {
            docker,
            down,
            open,
            _dir: dir,
        }
    }

    /// From now on every call fails: open connections are cut, new ones refused.
    pub fn begin(&self) {
        self.down.store(true, Ordering::SeqCst);
        for task in self.open.lock().expect("connections").drain(..) {
            task.abort();
        }
    }

    /// Calls go through again.
    pub fn end(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}
