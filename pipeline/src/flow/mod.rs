//! The flows: the only place that composes steps.

pub mod image;
