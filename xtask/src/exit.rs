//! The one place where errors become a message, a hint and an exit code.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success |
//! | 1 | failure |
//! | 2 | usage: bad arguments or bad input, refused before anything was written |
//! | 3 | blocked by policy (scan, sync window, blocked SHA) |
//! | 4 | awaiting approval |

use std::process::ExitCode;

pub const FAILURE: u8 = 1;
pub const USAGE: u8 = 2;

/// Exit code for a command-line parse error (`--help` and `--version` are successes).
pub fn usage(err: &clap::Error) -> ExitCode {
    if err.use_stderr() {
        ExitCode::from(USAGE)
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints the error chain and a hint, and returns the exit code its kind calls for.
pub fn report(err: anyhow::Error) -> ExitCode {
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    if let Some(hint) = hint(&err) {
        eprintln!("hint: {hint}");
    }
    ExitCode::from(code(&err))
}

fn code(err: &anyhow::Error) -> u8 {
    use pipeline::flow::image::Error as Image;
    if let Some(Image::Dirty { .. }) = err.downcast_ref::<Image>() {
        return USAGE;
    }
    if err
        .downcast_ref::<pipeline::model::InvalidValue>()
        .is_some()
    {
        return USAGE;
    }
    FAILURE
}

fn hint(err: &anyhow::Error) -> Option<&'static str> {
    if err.chain().any(|c| {
        c.downcast_ref::<pipeline::adapters::docker::Unreachable>()
            .is_some()
    }) {
        return Some("start the Docker engine, or point DOCKER_HOST at one");
    }
    None
}
