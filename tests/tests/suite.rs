//! The whole-flow tests, one module per file beside this one, linked as one test binary
//! (`[[test]] suite` in `tests/Cargo.toml`, `autotests = false`): one link of the whole
//! pipeline instead of one per file, which was most of the test build's time and disk. nextest
//! still runs each test in a process of its own.

mod analysis;
mod attachments;
mod azure_access;
mod bootstrap;
mod bundles;
mod canary;
mod chart;
mod chart_revision;
mod ci_flow;
mod faults;
mod gates;
mod github_boundary;
mod gitops;
mod harness;
mod image;
mod kube_flow;
mod kube_watch;
mod promote_flow;
mod provenance_interop;
mod quickstart;
mod registry;
mod release_flow;
mod sbom;
mod signature_interop;
mod sigstore_bundle;
mod slack;
mod supply_chain;
mod vex_gate;
mod watch_faults;
