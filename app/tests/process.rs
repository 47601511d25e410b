//! The service as a process: start-up refusals, signals, draining, the healthcheck subcommand.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_paktech-app");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

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

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(extra_env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let child = Command::new(BIN)
            .env("PORT", port.to_string())
            .env("BIND_ADDRESS", "127.0.0.1")
            .env("WORKERS", "1")
            .envs(extra_env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn paktech-app");
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while get(port, "/health").map(|(s, _)| s).ok() != Some(200) {
            assert!(Instant::now() < deadline, "server did not become healthy");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    fn wait(mut self) -> (std::process::ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stdout = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            out.read_to_string(&mut stdout).expect("stdout");
        }
        (status, stdout)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn invalid_port_stops_startup_naming_the_variable() {
    let out = Command::new(BIN)
        .env("PORT", "not-a-port")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("PORT=\"not-a-port\""), "{stderr}");
}

#[test]
fn unknown_argument_is_a_usage_error() {
    let out = Command::new(BIN).arg("--frobnicate").output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));
}

#[test]
fn healthcheck_subcommand_reflects_a_running_server() {
    let server = Server::start(&[]);
    let probe = |port: u16| {
        Command::new(BIN)
            .arg("healthcheck")
            .env("PORT", port.to_string())
            .output()
            .expect("run healthcheck")
    };
    assert!(probe(server.port).status.success());
    let closed = probe(free_port());
    assert_eq!(closed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&closed.stderr).contains("/health"));
}

#[test]
fn sigterm_turns_ready_503_then_drains_and_exits_zero() {
    let server = Server::start(&[("SHUTDOWN_DELAY_MS", "1500"), ("APP_ENV", "prod")]);
    assert_eq!(get(server.port, "/ready").expect("ready").0, 200);
    server.signal("TERM");

    // During the delay the process still serves, but says it is leaving.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, body) = get(server.port, "/ready").expect("served during drain");
        if status == 503 {
            assert!(body.contains("shutting down"), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "/ready never turned 503");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(get(server.port, "/health").expect("live").0, 200);

    let (status, stdout) = server.wait();
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
        .find(|l| l["message"] == "request" && l["path"] == "/ready")
        .expect("an access log line");
    assert_eq!(request["method"], "GET");
    assert_eq!(request["status"], 200);
    assert_eq!(request["environment"], "prod");
    assert!(request["latency_ms"].is_number());
    assert!(request["build_sha"].is_string());
}

#[test]
fn sigint_keeps_serving_open_connections_during_the_shutdown_delay() {
    let server = Server::start(&[("SHUTDOWN_DELAY_MS", "1000")]);
    // A connection accepted before the signal still gets its request answered afterwards.
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(stream, "GET /info HTTP/1.0\r\nHost: local").expect("write");
    std::thread::sleep(Duration::from_millis(100));
    server.signal("INT");
    std::thread::sleep(Duration::from_millis(100));
    write!(stream, "host\r\n\r\n").expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    assert!(response.starts_with("HTTP/1.0 200"), "{response}");
    let (status, _) = server.wait();
    assert!(status.success(), "{status:?}");
}
