//! One HTTP/1.1 request read off a socket, for the tests' own servers (the Lambda Runtime API
//! emulator and the DynamoDB fault proxy): the head up to the blank line, then Content-Length
//! bytes of body. Bytes of a next request stay in `buf` for the next call.
#![allow(dead_code)]

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

pub struct Request {
    /// The request as received, head and body.
    pub raw: Vec<u8>,
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
}

/// The next request on `socket`, or `None` when the peer closes or an error occurs.
pub async fn read_request(socket: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Request> {
    let mut chunk = [0u8; 16384];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                let n = socket.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let raw: Vec<u8> = buf.drain(..end + 4 + length).collect();
            let mut first = head.lines().next().unwrap_or_default().split_whitespace();
            return Some(Request {
                method: first.next().unwrap_or_default().to_string(),
                path: first.next().unwrap_or_default().to_string(),
                body: raw[end + 4..].to_vec(),
                raw,
            });
        }
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
