//! A real browser for page tests: chromedriver on a free 127.0.0.1 port and headless Chromium
//! through it (WebDriver, with fantoccini).

use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};

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

/// A session of headless Chromium with a `width` × `height` window.
pub async fn browser_sized(driver: &Chromedriver, width: u32, height: u32) -> Client {
    let chromium = ["/usr/bin/chromium", "/usr/lib/chromium/chromium"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("chromium");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", format!("--window-size={width},{height}")],
        }),
    );
    ClientBuilder::native()
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session with headless Chromium")
}
