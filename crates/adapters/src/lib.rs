//! One module per outside system; each takes its client in its constructor.

pub mod attachments;
pub mod auditable;
pub mod binary;
pub mod delivery_log;
pub mod docker;
pub mod github;
pub mod gitops;
pub mod image;
pub mod load;
pub mod lockfile;
pub mod metrics;
pub mod notify;
pub mod probe;
pub mod records;
pub mod registry;
pub mod source;
pub mod target;
pub mod tools;
