//! `cargo xtask bench analysis`: the metric analysis' error rates, by simulation. Many seeded
//! windows of a previous build and a new one are generated (requests at the plan's rate,
//! 5xx by chance, latency drawn from a log-normal into the app's histogram buckets), each
//! judged round by round and at its end exactly as prod's watch judges it (the committed
//! `pipeline.toml`'s prod thresholds, window, interval and `monitor_failures`), and the share
//! of windows that roll back is counted: for a build no worse than the last (false rollbacks)
//! and for worse ones (caught; a miss is the rest).

use std::time::Duration;

use config::{AnalysisConfig, EnvironmentConfig, PipelineConfig};
use model::{Histogram, LoadCounts, MetricsSnapshot, ReplicaMetrics, RequestKey};
use policy::analysis::power::minimum_requests;
use policy::analysis::{
    APP_LATENCY_BUCKETS, Decision, Inconclusive, Look, Reading, Thresholds, Verdict, Window,
    decide, judge,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::Figure;

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Windows simulated per case.
    #[arg(long, default_value_t = 1000)]
    windows: u32,
    /// Seed of the first window (each case starts from it, so cases are comparable).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            windows: 1000,
            seed: 1,
        }
    }
}

/// How one build serves, as the simulation draws it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Behaviour {
    /// Share of requests answered 5xx.
    pub error_ratio: f64,
    /// Median latency, seconds; the log-normal's spread is [`SPREAD`].
    pub median: f64,
}

/// The log-normal's sigma: p99 is about 3.2 times the median.
const SPREAD: f64 = 0.5;

/// A window's shape, as the plan makes it.
#[derive(Debug, Clone)]
pub struct Shape {
    pub length: Duration,
    pub interval: Duration,
    /// Requests per second (the plan's, raised to reach the minimum).
    pub rate: f64,
    pub failures: u32,
    pub analysis: AnalysisConfig,
}

impl Shape {
    /// Prod's window from the committed configuration, at the rate the plan would use.
    pub fn of(env: &EnvironmentConfig) -> anyhow::Result<Self> {
        let analysis = env
            .analysis
            .clone()
            .ok_or_else(|| anyhow::anyhow!("{} has no [environments.analysis]", env.name))?;
        let mut shape = Self {
            length: env.monitor,
            interval: env.monitor_interval,
            rate: analysis.load_rate.unwrap_or(1.0),
            failures: env.monitor_failures,
            analysis,
        };
        let needed = minimum_requests(&shape.thresholds(), shape.finals()).requests as f64;
        shape.rate = shape.rate.max(needed / shape.length.as_secs_f64());
        Ok(shape)
    }

    fn thresholds(&self) -> Thresholds {
        self.analysis.thresholds()
    }

    fn finals(&self) -> u32 {
        if self.analysis.inconclusive == Inconclusive::Extend {
            2
        } else {
            1
        }
    }

    fn rounds(&self) -> u32 {
        (self.length.as_secs_f64() / self.interval.as_secs_f64()).ceil() as u32
    }
}

/// Simulates `windows` windows of `new` after `old` and counts those that roll back.
pub fn rollbacks(shape: &Shape, old: Behaviour, new: Behaviour, windows: u32, seed: u64) -> u32 {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..windows)
        .filter(|_| {
            let baseline = Window::new(&draw(&mut rng, shape, old));
            rolls_back(shape, &baseline, &draw(&mut rng, shape, new))
        })
        .count() as u32
}

/// Whether the watch rolls the window back: `monitor_failures` failing rounds in a row, or a
/// final verdict that is not a pass.
fn rolls_back(shape: &Shape, baseline: &Window, readings: &[Reading]) -> bool {
    let thresholds = shape.thresholds();
    let finals = shape.finals();
    let rounds = shape.rounds() * finals;
    let mut streak = 0;
    let mut window = Window::new(&readings[..1]);
    for seen in 2..readings.len() {
        window = window.grown(&readings[..seen]);
        let verdict = judge(&thresholds, Some(baseline), &window, Look::Round { rounds });
        streak = if matches!(verdict, Verdict::Fail { .. }) {
            streak + 1
        } else {
            0
        };
        if streak >= shape.failures.max(1) {
            return true;
        }
    }
    let window = window.grown(readings);
    let verdict = judge(&thresholds, Some(baseline), &window, Look::Final { finals });
    !matches!(
        decide(&verdict, shape.analysis.inconclusive, true),
        Decision::Pass
    )
}

/// One window's reads of one replica serving `behaviour` under the shape's load.
fn draw(rng: &mut StdRng, shape: &Shape, behaviour: Behaviour) -> Vec<Reading> {
    let key = |status| RequestKey {
        method: "GET".to_owned(),
        route: "/".to_owned(),
        status,
    };
    let (mut ok, mut failed) = (0.0, 0.0);
    let mut buckets = vec![0.0; APP_LATENCY_BUCKETS.len()];
    let per_interval = shape.rate * shape.interval.as_secs_f64();
    let mut readings = Vec::new();
    let mut carry = 0.0;
    for round in 0..=shape.rounds() {
        if round > 0 {
            carry += per_interval;
            let requests = carry.floor();
            carry -= requests;
            for _ in 0..requests as u64 {
                if rng.random::<f64>() < behaviour.error_ratio {
                    failed += 1.0;
                } else {
                    ok += 1.0;
                }
                let seconds = behaviour.median * (SPREAD * normal(rng)).exp();
                let bucket = APP_LATENCY_BUCKETS
                    .iter()
                    .position(|b| *b >= seconds)
                    .unwrap_or(APP_LATENCY_BUCKETS.len() - 1);
                buckets[bucket] += 1.0;
            }
        }
        let mut cumulative = 0.0;
        let histogram = Histogram {
            buckets: APP_LATENCY_BUCKETS
                .iter()
                .zip(&buckets)
                .map(|(bound, count)| {
                    cumulative += count;
                    (*bound, cumulative)
                })
                .collect(),
        };
        readings.push(Reading {
            at: f64::from(round) * shape.interval.as_secs_f64(),
            metrics: MetricsSnapshot {
                replicas: vec![ReplicaMetrics {
                    replica: "r".to_owned(),
                    build: "b".to_owned(),
                    requests: [(key(200), ok), (key(500), failed)].into(),
                    latency: [("/".to_owned(), histogram)].into(),
                }],
                unreadable: Vec::new(),
            },
            load: LoadCounts::default(),
        });
    }
    readings
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut StdRng) -> f64 {
    let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// The cases reported: a good build at a 1% error ratio and 20ms median (p99 about 64ms),
/// and builds 2× and 3× worse in errors, 2× and 4× in latency.
pub fn cases() -> Vec<(&'static str, Behaviour, Option<&'static str>)> {
    let good = Behaviour {
        error_ratio: 0.01,
        median: 0.02,
    };
    let errors = |k: f64| Behaviour {
        error_ratio: good.error_ratio * k,
        ..good
    };
    let slower = |k: f64| Behaviour {
        median: good.median * k,
        ..good
    };
    vec![
        ("no worse: false rollbacks", good, Some("≤ 1%")),
        ("2× the errors: caught", errors(2.0), None),
        ("3× the errors: caught", errors(3.0), Some("≥ 90%")),
        ("2× slower: caught", slower(2.0), None),
        ("4× slower: caught", slower(4.0), None),
    ]
}

pub async fn run(options: &Options) -> anyhow::Result<Vec<Figure>> {
    let config = PipelineConfig::load(&context::workspace::root().join("pipeline.toml"))?;
    let prod = config
        .environments
        .iter()
        .find(|e| e.analysis.is_some() && !e.monitor.is_zero())
        .ok_or_else(|| anyhow::anyhow!("no environment of pipeline.toml has an analysis"))?;
    let shape = Shape::of(prod)?;
    let old = cases()[0].1;
    let method = format!(
        "{} seeded windows (seed {}) of {} read every {} at {:.1} requests/s ({} per window), \
         after a baseline window alike; {}'s thresholds from pipeline.toml, {} failing rounds \
         in a row or a final fail roll back",
        options.windows,
        options.seed,
        humantime::format_duration(shape.length),
        humantime::format_duration(shape.interval),
        shape.rate,
        (shape.rate * shape.length.as_secs_f64()).round(),
        prod.name,
        shape.failures,
    );
    let (windows, seed) = (options.windows.max(1), options.seed);
    let figures = tokio::task::spawn_blocking(move || {
        cases()
            .into_iter()
            .map(|(name, new, goal)| {
                let rolled = rollbacks(&shape, old, new, windows, seed);
                Figure {
                    benchmark: "analysis",
                    name: name.to_owned(),
                    value: 100.0 * f64::from(rolled) / f64::from(windows),
                    unit: "%",
                    goal: goal.map(str::to_owned),
                    method: method.clone(),
                }
            })
            .collect::<Vec<_>>()
    })
    .await?;
    Ok(figures)
}
