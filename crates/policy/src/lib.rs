//! Pure decisions over plain data: no I/O here, so every rule is tested without a service.
//! A flow gathers the facts (a snapshot of the GitOps state and records, registry answers,
//! probes), asks a rule here, and acts on the answer.
//!
//! Uses `model`, `supply-chain` and `config` of the workspace. No I/O crate (tokio, reqwest,
//! git2, bollard, kube, hyper) may enter its dependency tree: `deny.pure.toml` holds that.

pub mod analysis;
pub mod approval;
pub mod changes;
pub mod freeze;
pub mod health;
pub mod monitor;
pub mod plan;
pub mod refusal;
pub mod revert;
pub mod rollout;
pub mod scan;
pub mod supply_chain;
pub mod window;

pub use scan::{ScanVerdict, scan_gate};
