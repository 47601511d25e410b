//! No code: the dependencies in this crate's Cargo.toml make every build of the workspace
//! resolve the same features (docs/architecture.md, "One build").
