//! HTTP stand-ins on 127.0.0.1: a server answering as a closure says, and one that always fails.

/// One canned HTTP answer of a stand-in server.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status line after `HTTP/1.1 `, such as `200 OK`.
    pub status: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// A stand-in HTTP peer on 127.0.0.1 (a registry, an API server, Slack): each request's
/// first line (`GET /path HTTP/1.1`) is handed to `answer`, one request per connection.
/// Returns the port; the server lives as long as the runtime.
pub async fn http_stand_in(answer: impl Fn(&str) -> Answer + Send + Sync + 'static) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let answer = std::sync::Arc::new(answer);
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            let answer = std::sync::Arc::clone(&answer);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]);
                let Answer {
                    status,
                    headers,
                    body,
                } = answer(request.lines().next().unwrap_or_default());
                let mut head = format!("HTTP/1.1 {status}\r\n");
                for (name, value) in headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str(&format!(
                    "content-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                ));
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
            });
        }
    });
    port
}

/// An HTTP server on 127.0.0.1 that answers every request with a bodiless 500 (a failing
/// registry, Slack or any other peer); returns its port. It lives as long as the runtime.
pub async fn failing_http_server() -> u16 {
    http_stand_in(|_| Answer {
        status: "500 Internal Server Error",
        headers: Vec::new(),
        body: String::new(),
    })
    .await
}
