//! A real browser for page tests: chromedriver on a free 127.0.0.1 port, and the capabilities
//! of headless Chromium to ask it for (the tests drive it with fantoccini).

use std::time::{Duration, Instant};

/// chromedriver on a free 127.0.0.1 port; killed when dropped.
#[derive(Debug)]
pub struct Chromedriver {
    child: std::process::Child,
    port: u16,
}

impl Chromedriver {
    pub fn start() -> Self {
        let port = crate::registry::free_port();
        let child = std::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, port }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Chromedriver {
    /// Where WebDriver sessions are asked for (fantoccini's `ClientBuilder::connect`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// The capabilities of a session of headless Chromium with a `width` × `height` window
/// (fantoccini's `ClientBuilder::capabilities`; fantoccini itself is a dev-dependency of the
/// tests that drive the browser: its `webdriver` is MPL-2.0, which deny.toml admits in no
/// crate's normal dependencies).
pub fn chromium(width: u32, height: u32) -> serde_json::Map<String, serde_json::Value> {
    let binary = ["/usr/bin/chromium", "/usr/lib/chromium/chromium"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("chromium");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({
            "binary": binary,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", format!("--window-size={width},{height}")],
        }),
    );
    capabilities
}
