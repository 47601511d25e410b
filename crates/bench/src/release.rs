//! `cargo xtask bench release`: a release of many apps (20 by default) over the generated
//! delivery of `crate::scale`: the time to plan it (`choose` + `plan` over one snapshot), and
//! the time to write its commit of one file per app next to a one-app commit's, measured in
//! the same run on the same repository, interleaved.

use std::time::{Duration, Instant};

use adapters::gitops::Written;
use anyhow::ensure;

use super::Figure;
use crate::scale::{self, Scale};

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Apps in the generated delivery (each one file of the release commit).
    #[arg(long, default_value_t = 20)]
    apps: usize,
    /// Timed plans.
    #[arg(long, default_value_t = 200)]
    plans: usize,
    /// Timed writes of each kind (release and one app), interleaved.
    #[arg(long, default_value_t = 40)]
    writes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            apps: 20,
            plans: 200,
            writes: 40,
        }
    }
}

/// The benchmark, on a blocking thread (`super::blocking`).
pub fn measure(options: &Options) -> anyhow::Result<Vec<Figure>> {
    let apps = options.apps;
    ensure!(apps >= 2, "a release needs at least 2 apps");
    let dir = tempfile::tempdir()?;
    let scale = Scale::generate(dir.path(), scale::Options { apps })?;
    let problems = config::consistency::check(&scale.config, &scale.gitops);
    ensure!(
        problems.is_empty(),
        "the generated delivery is inconsistent: {problems:?}"
    );
    let read_started = Instant::now();
    let snapshot = scale.snapshot()?;
    let read = read_started.elapsed();
    let now = chrono::Utc::now();

    let mut plans = Vec::with_capacity(options.plans);
    for _ in 0..options.plans {
        let started = Instant::now();
        let plan = scale.plan_release(&snapshot, now)?;
        plans.push(started.elapsed());
        ensure!(plan.apps.len() == apps, "the release left apps out");
    }

    // The planned release first, as promote writes its stage; untimed.
    let plan = scale.plan_release(&snapshot, now)?;
    let stage = plan
        .stages
        .first()
        .ok_or_else(|| anyhow::anyhow!("no stage"))?;
    let written = scale.repo.write(&scale::stage_change(&plan, stage))?;
    ensure!(
        matches!(written, Written::Committed { .. }),
        "the planned release made no commit"
    );

    // Each round writes new builds: the release moves every app's prod values, the reference
    // moves app-00's alone; which goes first alternates.
    let mut release = Vec::with_capacity(options.writes);
    let mut one = Vec::with_capacity(options.writes);
    for round in 0..options.writes {
        let builds: Vec<(String, String)> = (0..apps)
            .map(|i| {
                let n = 0xc000_0000_u64 + (round * apps + i) as u64;
                (format!("{n:040x}"), format!("sha256:{n:064x}"))
            })
            .collect();
        let n = 0xd000_0000_u64 + round as u64;
        let single = [(format!("{n:040x}"), format!("sha256:{n:064x}"))];
        let release_change = scale.builds_change("prod", &builds)?;
        let one_change = scale.builds_change("prod", &single)?;
        let order = if round % 2 == 0 {
            [(&release_change, &mut release), (&one_change, &mut one)]
        } else {
            [(&one_change, &mut one), (&release_change, &mut release)]
        };
        for (change, samples) in order {
            let started = Instant::now();
            let written = scale.repo.write(change)?;
            samples.push(started.elapsed());
            ensure!(
                matches!(written, Written::Committed { .. }),
                "round {round}: a write made no commit"
            );
        }
    }
    let plan_p50 = percentile(&mut plans, 0.5);
    let release_p50 = percentile(&mut release, 0.5);
    let one_p50 = percentile(&mut one, 0.5);
    let writes = format!(
        "{} writes each (fetch, edit, commit, compare-and-swap push to a local bare repository), a {apps}-file release and a one-file commit interleaved, same repository and run",
        options.writes
    );
    Ok(vec![
        figure(
            &format!("plan p50, {apps}-app release"),
            plan_p50,
            "ms",
            None,
            format!(
                "{} plans of promote --env prod without --app (choose + plan) over one snapshot of {apps} apps x 3 environments; p99 {:.3} ms",
                options.plans,
                percentile(&mut plans, 0.99)
            ),
        ),
        figure(
            &format!("snapshot read, {apps} apps"),
            ms(read),
            "ms",
            None,
            format!(
                "one read of every values file and its history ({} files), the windows and the records, mirror filled",
                apps * 3
            ),
        ),
        figure(
            &format!("write p50, {apps}-app release"),
            release_p50,
            "ms",
            Some(format!("<= {:.1} (2x one-app)", 2.0 * one_p50)),
            writes.clone(),
        ),
        figure(
            "write p50, one-app (reference)",
            one_p50,
            "ms",
            None,
            writes.clone(),
        ),
        figure(
            &format!("write p50 ratio, {apps}-app / one-app"),
            release_p50 / one_p50,
            "x",
            Some("<= 2".to_owned()),
            writes,
        ),
    ])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    samples
        .get(((samples.len() as f64 - 1.0) * p).round() as usize)
        .map(|d| ms(*d))
        .unwrap_or_default()
}

fn figure(
    name: &str,
    value: f64,
    unit: &'static str,
    goal: Option<String>,
    method: String,
) -> Figure {
    Figure {
        benchmark: "release",
        name: name.to_owned(),
        value,
        unit,
        goal,
        method,
    }
}
