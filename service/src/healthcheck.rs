//! `<service> healthcheck`: asks this container's own `/health`, so an image with no shell
//! and no curl can still declare a Docker `HEALTHCHECK`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// True when `GET /health` on 127.0.0.1:`port` answers 200 within `timeout`.
pub fn is_healthy(port: u16, timeout: Duration) -> Result<bool, std::io::Error> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    // "HTTP/1.x 200"
    Ok(head.starts_with(b"HTTP/1.") && &head[8..12] == b" 200")
}
