//! Delivery metrics (DORA) from the GitOps ledger: every write to an environment decoded into a
//! [`Write`], each deployment followed to its failure and restore ([`changes`]), and the
//! figures (deployment frequency, lead time, change failure rate, time to restore, rework)
//! counted over a period ([`report`]). Pure: the history walk and its cache are
//! `adapters::delivery_log`; the definitions are in `docs/operations.md`, "Delivery metrics".

mod figures;
mod prometheus;
pub mod words;
mod write;

#[cfg(test)]
mod tests;

pub use figures::{
    Change, Changes, Figures, Percentiles, Point, Query, Report, Scope, Undo, changes, report,
};
pub use prometheus::exposition;
pub use write::{Kind, Write, decode};
