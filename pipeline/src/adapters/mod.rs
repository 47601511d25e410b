//! One module per outside system; each takes its client in its constructor.

pub mod docker;
pub mod gitops;
pub mod image;
pub mod source;
pub mod tools;
