//! The app benchmark: the release image's own binary, driven by wrk on 127.0.0.1, with
//! request logging on (into /dev/null, as a container runtime would drain it), beside a bare
//! actix-web server measured the same way just before it (the reference).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use adapters::{docker, image::ImageBuilder};
use anyhow::{Context, bail};
use flow::image::{self, ImageRequest};

use super::{Figure, wrk};
use context::output::Lines;
use context::workspace;

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Seconds wrk drives each route.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// Cold starts to take the median of.
    #[arg(long, default_value_t = 5)]
    cold_starts: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            seconds: 10,
            connections: 64,
            cold_starts: 5,
        }
    }
}

pub async fn run(options: &Options) -> anyhow::Result<Vec<Figure>> {
    let request = ImageRequest {
        workspace: workspace::root(),
        package: "paktech-app".to_owned(),
        dockerfile: "app/Dockerfile".into(),
        repository: "paktech-app".parse()?,
        version: workspace::VERSION.to_owned(),
        source_url: workspace::SOURCE_URL.to_owned(),
        allow_dirty: true,
    };
    let images = ImageBuilder::new(docker::connect().await?);
    let built = image::build(&request, &images, &Lines).await?;
    let binary = workspace::root()
        .join("target")
        .join(adapters::tools::IMAGE_TARGET)
        .join("release")
        .join("paktech-app");

    let figure =
        |name: &str, value: f64, unit: &'static str, goal: Option<&str>, method: String| Figure {
            benchmark: "app",
            name: name.to_owned(),
            value,
            unit,
            goal: goal.map(str::to_owned),
            method,
        };
    let mut figures = vec![figure(
        "image size",
        built.size_bytes as f64 / 1_000_000.0,
        "MB",
        Some("<= 10"),
        format!("docker image inspect {} (Size)", built.name()),
    )];

    let mut starts = Vec::new();
    for _ in 0..options.cold_starts.max(1) {
        let (server, cold) = Server::start(&binary).await?;
        starts.push(cold);
        drop(server);
    }
    starts.sort();
    figures.push(figure(
        "cold start to first /health 200",
        starts[starts.len() / 2].as_secs_f64() * 1000.0,
        "ms",
        Some("<= 20"),
        format!(
            "median of {} spawns, polling /health every 1 ms",
            starts.len()
        ),
    ));

    // The reference, measured first and the same way: a bare actix-web server.
    let bare = adapters::tools::build_static_bin(
        &workspace::root(),
        "paktech-service",
        "paktech-bare",
        adapters::tools::AppProfile::Release,
    )
    .await?;
    let duration = Duration::from_secs(options.seconds);
    let mut bare_rates = Vec::new();
    {
        let (server, _) = Server::start(&bare).await?;
        for route in ["/health", "/info"] {
            let url = format!("http://127.0.0.1:{}{route}", server.port);
            let report = wrk::run(&url, options.connections, 2, duration).await?;
            let how = format!(
                "the reference: a bare actix-web server (paktech-service's paktech-bare: same workers and release profile, no middleware, metrics or logs); wrk -t2 -c{} -d{}s --latency {url} ({} requests, {} errors)",
                options.connections, options.seconds, report.requests, report.errors
            );
            bare_rates.push((route, report.requests_per_second));
            figures.push(figure(
                &format!("bare actix {route} requests/s (reference)"),
                report.requests_per_second,
                "req/s",
                None,
                how.clone(),
            ));
            figures.push(figure(
                &format!("bare actix {route} p99 latency (reference)"),
                report.p99.as_secs_f64() * 1000.0,
                "ms",
                None,
                how,
            ));
        }
    }

    let (server, _) = Server::start(&binary).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    figures.push(figure(
        "idle RSS",
        server.rss_kib("VmRSS")? as f64 / 1024.0,
        "MiB",
        Some("<= 10"),
        "VmRSS from /proc/<pid>/status after start".to_owned(),
    ));
    for route in ["/", "/health", "/info"] {
        let url = format!("http://127.0.0.1:{}{route}", server.port);
        let report = wrk::run(&url, options.connections, 2, duration).await?;
        let how = format!(
            "wrk -t2 -c{} -d{}s --latency {url} ({} requests, {} errors)",
            options.connections, options.seconds, report.requests, report.errors
        );
        let goal = (route == "/info").then_some(">= 140000");
        figures.push(figure(
            &format!("{route} requests/s"),
            report.requests_per_second,
            "req/s",
            goal,
            how.clone(),
        ));
        if let Some((_, bare)) = bare_rates.iter().find(|(r, _)| *r == route) {
            figures.push(figure(
                &format!("{route} requests/s, % of bare actix"),
                100.0 * report.requests_per_second / bare,
                "%",
                None,
                format!("the app's {route} beside the bare server's, measured just before it"),
            ));
        }
        figures.push(figure(
            &format!("{route} p50 latency"),
            report.p50.as_secs_f64() * 1000.0,
            "ms",
            None,
            how.clone(),
        ));
        figures.push(figure(
            &format!("{route} p99 latency"),
            report.p99.as_secs_f64() * 1000.0,
            "ms",
            Some("<= 10"),
            how,
        ));
    }
    figures.push(figure(
        "loaded RSS (peak)",
        server.rss_kib("VmHWM")? as f64 / 1024.0,
        "MiB",
        None,
        "VmHWM from /proc/<pid>/status after the wrk runs".to_owned(),
    ));
    Ok(figures)
}

/// One app process on a free loopback port, logging to /dev/null; killed on drop.
struct Server {
    child: tokio::process::Child,
    port: u16,
}

impl Server {
    /// Starts the binary and returns it with the time from spawn to the first `/health` 200.
    async fn start(binary: &Path) -> anyhow::Result<(Self, Duration)> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let started = Instant::now();
        let child = tokio::process::Command::new(binary)
            .env("PORT", port.to_string())
            .env("BIND_ADDRESS", "127.0.0.1")
            .env("APP_ENV", "bench")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let server = Self { child, port };
        loop {
            if health_ok(port).await {
                return Ok((server, started.elapsed()));
            }
            if started.elapsed() > Duration::from_secs(10) {
                bail!("{} did not answer /health within 10 s", binary.display());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    fn rss_kib(&self, field: &str) -> anyhow::Result<u64> {
        let pid = self.child.id().context("the app exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {field} in /proc/{pid}/status"))
    }
}

async fn health_ok(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.is_ok() && &head[8..12] == b" 200"
}
