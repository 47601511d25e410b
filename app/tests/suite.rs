//! The app's tests, one module per file beside this one, linked as one test binary
//! (`[[test]] suite` in `app/Cargo.toml`, `autotests = false`).

mod drain_under_load;
mod process;
mod routes;
