//! Running `wrk` and reading its report.

use std::time::Duration;

use anyhow::{Context, bail};

/// What one wrk run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct WrkReport {
    pub requests_per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub requests: u64,
    /// Socket errors plus non-2xx/3xx responses.
    pub errors: u64,
}

/// Runs wrk against `url` with `connections` connections for `duration`.
pub async fn run(
    url: &str,
    connections: u32,
    threads: u32,
    duration: Duration,
) -> anyhow::Result<WrkReport> {
    let output = tokio::process::Command::new("wrk")
        .args([
            "--latency",
            "-t",
            &threads.to_string(),
            "-c",
            &connections.to_string(),
            "-d",
            &format!("{}s", duration.as_secs().max(1)),
            url,
        ])
        .output()
        .await
        .context("cannot run wrk (install it: apt-get install wrk)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse(&stdout)
}

/// Parses wrk's text report (with `--latency`).
pub fn parse(text: &str) -> anyhow::Result<WrkReport> {
    let mut report = WrkReport {
        requests_per_second: f64::NAN,
        p50: Duration::ZERO,
        p99: Duration::ZERO,
        requests: 0,
        errors: 0,
    };
    let (mut saw_p50, mut saw_p99) = (false, false);
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", n] => report.requests_per_second = n.parse()?,
            ["50%", t] => {
                report.p50 = duration(t)?;
                saw_p50 = true;
            }
            ["99%", t] => {
                report.p99 = duration(t)?;
                saw_p99 = true;
            }
            [n, "requests", "in", ..] => report.requests = n.parse()?,
            ["Non-2xx", "or", "3xx", "responses:", n] => report.errors += n.parse::<u64>()?,
            ["Socket", "errors:", rest @ ..] => {
                report.errors += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    if report.requests_per_second.is_nan() || !saw_p50 || !saw_p99 {
        bail!("cannot read wrk's report (was --latency given?):\n{text}");
    }
    Ok(report)
}

fn duration(text: &str) -> anyhow::Result<Duration> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else {
        bail!("unknown duration unit in wrk's report: {text}");
    };
    Ok(Duration::from_secs_f64(number.parse::<f64>()? * scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Running 10s test @ http://127.0.0.1:8080/info
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   401.17us  522.03us  13.46ms   90.61%
    Req/Sec    85.43k     6.07k   98.53k    71.00%
  Latency Distribution
     50%  241.00us
     75%  435.00us
     90%    0.96ms
     99%    2.40ms
  1700425 requests in 10.00s, 271.63MB read
  Socket errors: connect 0, read 3, write 0, timeout 1
Requests/sec: 170011.48
Transfer/sec:     27.16MB
";

    #[test]
    fn reads_throughput_latency_and_errors() {
        let report = parse(SAMPLE).expect("parse");
        assert_eq!(report.requests_per_second, 170_011.48);
        assert_eq!(report.p50, Duration::from_micros(241));
        assert_eq!(report.p99, Duration::from_micros(2400));
        assert_eq!(report.requests, 1_700_425);
        assert_eq!(report.errors, 4);
    }

    #[test]
    fn refuses_a_report_without_latency() {
        assert!(parse("Requests/sec: 5\n").is_err());
    }
}
