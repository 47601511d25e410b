//! The PakTech delivery pipeline: validated domain types, pure policy, one adapter per outside
//! system, and the flows that compose them. Data flows one way: flows use policy and adapters;
//! adapters never call flows; policy never does I/O.

pub mod adapters;
pub mod attest;
pub mod audit;
pub mod bootstrap;
pub mod config;
pub mod consistency;
pub mod cosign;
pub mod delivery;
pub mod desired;
pub mod flow;
pub mod model;
pub mod policy;
pub mod report;
pub mod sbom;
pub mod scan;
pub mod values;
pub mod vex;
