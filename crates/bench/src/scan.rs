//! The scan benchmark: a generated grype report with many matches (about 1 KB each, the size
//! of a real match), parsed in a child process so its peak memory is the parse's own.

use std::io::Write;
use std::time::Instant;

use anyhow::Context;

use super::Figure;

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Matches in the generated report.
    #[arg(long, default_value_t = 100_000)]
    matches: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self { matches: 100_000 }
    }
}

/// What the child measured.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Probe {
    pub seconds: f64,
    pub peak_rss_kib: u64,
    pub baseline_rss_kib: u64,
    pub total: u64,
}

pub async fn run(options: &Options) -> anyhow::Result<Vec<Figure>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("grype.json");
    let size = generate(&path, options.matches)?;
    let out = tokio::process::Command::new(std::env::current_exe()?)
        .args(["bench-scan-probe", path.to_str().context("utf-8 path")?])
        .output()
        .await?;
    anyhow::ensure!(
        out.status.success(),
        "the probe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let probe: Probe = serde_json::from_slice(&out.stdout)?;
    anyhow::ensure!(
        probe.total == options.matches as u64,
        "counted {} of {} matches",
        probe.total,
        options.matches
    );
    let mb = size as f64 / 1e6;
    let how = format!(
        "{} matches, {mb:.0} MB of grype JSON, parsed by a child process (release build)",
        options.matches
    );
    let extra = probe.peak_rss_kib.saturating_sub(probe.baseline_rss_kib) as f64 * 1024.0;
    Ok(vec![
        Figure {
            benchmark: "scan",
            name: "parse time".into(),
            value: probe.seconds,
            unit: "s",
            goal: Some("<= 1".into()),
            method: how.clone(),
        },
        Figure {
            benchmark: "scan",
            name: "peak memory / file size".into(),
            value: extra / size as f64,
            unit: "x",
            goal: Some("<= 1.5".into()),
            method: format!("{how}; VmHWM minus the RSS before reading"),
        },
    ])
}

/// The child's side: parse `path` and report time and peak memory as JSON on stdout.
pub fn probe(path: &str) -> anyhow::Result<()> {
    let baseline = rss_kib("VmRSS")?;
    let started = Instant::now();
    let bytes = std::fs::read(path)?;
    let scan = model::scan::parse_grype(path, &bytes)?;
    let seconds = started.elapsed().as_secs_f64();
    let probe = Probe {
        seconds,
        peak_rss_kib: rss_kib("VmHWM")?,
        baseline_rss_kib: baseline,
        total: scan.counts.total(),
    };
    drop(scan);
    println!("{}", serde_json::to_string(&probe)?);
    Ok(())
}

fn rss_kib(field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/self/status"))
}

/// Writes a grype-shaped report with `matches` matches; returns its size in bytes.
fn generate(path: &std::path::Path, matches: usize) -> anyhow::Result<u64> {
    const SEVERITIES: [&str; 6] = ["Critical", "High", "Medium", "Low", "Negligible", "Unknown"];
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    write!(out, "{{\"matches\":[")?;
    for i in 0..matches {
        if i > 0 {
            write!(out, ",")?;
        }
        write!(
            out,
            concat!(
                "{{\"vulnerability\":{{\"id\":\"CVE-2026-{:05}\",\"dataSource\":\"https://nvd.nist.gov/vuln/detail/CVE-2026-{:05}\",",
                "\"namespace\":\"nvd:cpe\",\"severity\":\"{}\",\"urls\":[\"https://example.invalid/advisories/{}\"],",
                "\"description\":\"A generated finding for the parser benchmark; real reports carry a paragraph here.\",",
                "\"cvss\":[{{\"source\":\"nvd\",\"type\":\"Primary\",\"version\":\"3.1\",\"vector\":\"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\",\"metrics\":{{\"baseScore\":9.8,\"exploitabilityScore\":3.9,\"impactScore\":5.9}}}}],",
                "\"fix\":{{\"versions\":[\"{}.0.1\"],\"state\":\"fixed\"}},\"advisories\":[]}},",
                "\"relatedVulnerabilities\":[],\"matchDetails\":[{{\"type\":\"exact-direct-match\",\"matcher\":\"rust-matcher\",",
                "\"searchedBy\":{{\"language\":\"rust\",\"namespace\":\"github:language:rust\"}},\"found\":{{\"versionConstraint\":\"<{}.0.1\"}}}}],",
                "\"artifact\":{{\"id\":\"{:016x}\",\"name\":\"crate-{}\",\"version\":\"{}.0.0\",\"type\":\"rust-crate\",",
                "\"locations\":[{{\"path\":\"/paktech-app\"}}],\"language\":\"rust\",\"licenses\":[\"MIT\"],\"cpes\":[],\"purl\":\"pkg:cargo/crate-{}@{}.0.0\"}}}}"
            ),
            i,
            i,
            SEVERITIES[i % 6],
            i,
            i % 50,
            i % 50,
            i,
            i,
            i % 50,
            i,
            i % 50
        )?;
    }
    write!(
        out,
        "],\"source\":{{\"type\":\"image\",\"target\":{{\"userInput\":\"paktech-app:bench\"}}}}}}"
    )?;
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}
