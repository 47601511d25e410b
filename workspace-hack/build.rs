//! Empty: it exists so the `[build-dependencies]` in Cargo.toml take part in the host build's
//! feature resolution (see the comment there).

fn main() {}
