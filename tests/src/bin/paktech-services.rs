//! What nextest prints before the tests run (the `services` setup script in
//! `.config/nextest.toml`): which of the services and tools the tests need are here, and what
//! a missing one means. A test without its service prints `SKIPPED` and counts as passed, so
//! without this line a run that skipped the chart, Checkov and registry tests would read the
//! same as one that ran them.

use std::process::ExitCode;

use tests::require::{self, Service};

fn main() -> ExitCode {
    let found: Vec<(Service, Option<String>)> = require::ALL
        .into_iter()
        .map(|service| (service, service.absent()))
        .collect();
    let summary: Vec<String> = found
        .iter()
        .map(|(service, absent)| {
            let state = if absent.is_some() { "MISSING" } else { "ok" };
            format!("{} {state}", service.name())
        })
        .collect();
    println!("services: {}", summary.join(", "));
    let mut fail = false;
    for (service, why) in found
        .iter()
        .filter_map(|(service, absent)| Some((service, absent.as_ref()?)))
    {
        let variable = service.variable();
        if require::required(variable) {
            fail = true;
            println!(
                "  {why}: {variable} is set, so the tests that need it will fail; {}",
                service.remedy()
            );
        } else {
            println!(
                "  {why}: the tests that need it will print SKIPPED and count as passed; {}, or set {variable}=1 to make them fail",
                service.remedy()
            );
        }
    }
    if fail {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
