//! The gateway as a process: start-up refusals, the healthcheck subcommand following its
//! dependency, `GET /` through a real socket, and the drain on SIGTERM.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use support::{FakeApp, UPSTREAM_SHA, closed_port};

const BIN: &str = env!("CARGO_BIN_EXE_paktech-gateway");

/// Minimal HTTP/1.0 GET; returns status code and body.
fn get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

struct Gateway {
    child: Child,
    port: u16,
}

impl Gateway {
    /// Starts one in front of `upstream_port` and waits until it serves `/ready`.
    fn start(upstream_port: u16, extra_env: &[(&str, &str)]) -> Self {
        let port = closed_port();
        let child = Command::new(BIN)
            .env("PORT", port.to_string())
            .env("BIND_ADDRESS", "127.0.0.1")
            .env("WORKERS", "1")
            .env("UPSTREAM_URL", format!("http://127.0.0.1:{upstream_port}"))
            .envs(extra_env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn paktech-gateway");
        let gateway = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while get(port, "/ready").map(|(s, _)| s).ok() != Some(200) {
            assert!(Instant::now() < deadline, "gateway did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        gateway
    }

    fn healthcheck(&self) -> std::process::Output {
        Command::new(BIN)
            .arg("healthcheck")
            .env("PORT", self.port.to_string())
            .output()
            .expect("run healthcheck")
    }

    fn terminate_and_wait(mut self) -> (std::process::ExitStatus, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "gateway did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stdout = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            out.read_to_string(&mut stdout).expect("stdout");
        }
        (status, stdout)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn bad_upstream_url_stops_startup_naming_the_variable() {
    for bad in [
        "https://paktech-app:8443",
        "paktech-app",
        "http://paktech-app:8080/api",
    ] {
        let out = Command::new(BIN)
            .env("UPSTREAM_URL", bad)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!(
                "paktech-gateway: invalid UPSTREAM_URL={bad:?}: expected http://host:port"
            )),
            "{stderr}"
        );
        assert!(stderr.contains("no TLS"), "{stderr}");
    }
}

#[test]
fn version_and_usage() {
    let out = Command::new(BIN).arg("--version").output().expect("run");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("paktech-gateway "), "{stdout}");
    assert!(
        stdout.contains(paktech_gateway::build_info::BUILD_SHA),
        "{stdout}"
    );

    let out = Command::new(BIN).arg("--frobnicate").output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: paktech-gateway"));
}

#[test]
fn healthcheck_subcommand_follows_the_dependency() {
    let fake = FakeApp::start_in_thread(StatusCode::OK);
    let up = Gateway::start(fake.port, &[]);
    assert!(up.healthcheck().status.success());

    let down = Gateway::start(closed_port(), &[]);
    let probe = down.healthcheck();
    assert_eq!(probe.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&probe.stderr).contains("/health did not answer 200"),
        "{probe:?}"
    );
}

#[test]
fn serves_root_through_a_socket_then_drains_on_sigterm() {
    let fake = FakeApp::start_in_thread(StatusCode::OK);
    let gateway = Gateway::start(
        fake.port,
        &[("APP_ENV", "prod"), ("SHUTDOWN_DELAY_MS", "200")],
    );
    let (status, body) = get(gateway.port, "/").expect("GET /");
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(body["upstream"]["build_sha"], UPSTREAM_SHA);
    assert_eq!(body["environment"], "prod");

    let (status, stdout) = gateway.terminate_and_wait();
    assert!(status.success(), "{status:?}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("every log line is JSON"))
        .collect();
    let messages: Vec<&str> = lines.iter().filter_map(|l| l["message"].as_str()).collect();
    assert!(messages.contains(&"started"), "{messages:?}");
    assert!(
        messages.iter().any(|m| m.starts_with("shutdown started")),
        "{messages:?}"
    );
    assert_eq!(messages.last(), Some(&"stopped"));
    let request = lines
        .iter()
        .find(|l| l["message"] == "request" && l["path"] == "/")
        .expect("an access log line for /");
    assert_eq!(request["method"], "GET");
    assert_eq!(request["status"], 200);
    assert_eq!(request["environment"], "prod");
    assert_eq!(request["build_sha"], paktech_gateway::build_info::BUILD_SHA);
}
