//! The failures the command line recognises by type: `xtask`'s `exit::report` turns each into
//! its exit code (a usage error: 2; drift: 5) and `first_run::explain` into one line with the
//! command that fixes it. They live here, below every command, so a crate that fails this way
//! (the dashboard, the cluster) needs nothing of the command line.

/// A bad argument found after parsing (a malformed value); exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// `lint` found this many disagreements.
#[derive(Debug, thiserror::Error)]
#[error("pipeline.toml and gitops/ disagree in {0} place(s)")]
pub struct Inconsistent(pub usize);

/// No git identity and no CI actor: nobody to record as the one who ran the command.
#[derive(Debug, thiserror::Error)]
#[error("no git identity: commands record who ran them")]
pub struct NoIdentity;

/// The dashboard's port is taken.
#[derive(Debug, thiserror::Error)]
#[error("port {port} on {address} is in use")]
pub struct PortInUse {
    pub address: std::net::IpAddr,
    pub port: u16,
}

/// Exit code of `infra drift` when the cloud differs from the code.
#[derive(Debug, thiserror::Error)]
#[error("the infrastructure drifted from infra/ (terraform plan shows changes)")]
pub struct Drifted;
