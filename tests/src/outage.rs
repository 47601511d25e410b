//! A Docker engine that fails on demand, for the tests of a watch whose target stops
//! answering: a unix socket in front of the real engine's that forwards every connection,
//! until [`EngineOutage::begin`] cuts the open ones and refuses new ones (every API call then
//! errors, as with an engine restarting); [`EngineOutage::end`] forwards again. Only what is
//! given its client (the local target) sees the outage. [`RoundSwitch`] flips an outage as a
//! watch reports its rounds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use model::report::{Event, Reporter};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::AbortHandle;

/// Something a test can make fail and recover.
pub trait Outage: Send + Sync + std::fmt::Debug {
    fn begin(&self);
    fn end(&self);
}

/// The simulated API server's switch (`FakeCluster::outage`).
impl Outage for AtomicBool {
    fn begin(&self) {
        self.store(true, Ordering::SeqCst);
    }
    fn end(&self) {
        self.store(false, Ordering::SeqCst);
    }
}

impl Outage for EngineOutage {
    fn begin(&self) {
        EngineOutage::begin(self);
    }
    fn end(&self) {
        EngineOutage::end(self);
    }
}

/// How long an outage lasts once the watch reports round 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lasting {
    /// Until round 2 is reported: one round cannot be judged.
    OneRound,
    /// Until the rollback starts.
    UntilRollback,
    /// To the end: the rollback fails too.
    Throughout,
}

/// A reporter that begins `outage` when prod's watch reports round 1 and ends it as
/// [`Lasting`] says; it keeps the watch's lines.
#[derive(Debug)]
pub struct RoundSwitch {
    outage: Arc<dyn Outage>,
    lasting: Lasting,
    lines: Mutex<Vec<String>>,
}

impl RoundSwitch {
    pub fn new(outage: Arc<dyn Outage>, lasting: Lasting) -> Self {
        Self {
            outage,
            lasting,
            lines: Mutex::default(),
        }
    }

    /// The watch's lines so far.
    pub fn lines(&self) -> String {
        self.lines.lock().expect("lines").join("\n")
    }
}

impl Reporter for RoundSwitch {
    fn event(&self, event: Event) {
        match event {
            Event::Progress { step, message } if step == "monitor-prod" => {
                eprintln!("  {step}: {message}");
                if message.starts_with("round 1:") {
                    self.outage.begin();
                }
                if self.lasting == Lasting::OneRound && message.starts_with("round 2:") {
                    self.outage.end();
                }
                self.lines.lock().expect("lines").push(message);
            }
            Event::Started { step }
                if step == "rollback-prod" && self.lasting == Lasting::UntilRollback =>
            {
                self.outage.end();
            }
            _ => {}
        }
    }
}

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
