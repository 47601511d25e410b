//! The command line's tests, one module per file beside this one, linked as one test binary
//! (`[[test]] suite` in `xtask/Cargo.toml`, `autotests = false`), so the pipeline is linked
//! once for them all. nextest still runs each test in a process of its own.

mod ci_checks;
mod cli;
mod cluster_without_docker;
mod corpus;
mod e2e;
mod first_run;
mod kill;
mod layers;
mod one_build;
mod sbom;
mod secrets;
mod signing_key;
mod workflows;
mod workflows_order;
