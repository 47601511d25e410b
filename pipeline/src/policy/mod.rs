//! Pure decisions over plain data: no I/O here, so every rule is tested without a service.

pub mod approval;
pub mod monitor;
pub mod revert;
pub mod scan;
pub mod window;

pub use scan::{ScanVerdict, scan_gate};
