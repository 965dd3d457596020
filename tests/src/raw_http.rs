//! HTTP/1.1 over a plain TCP socket, byte by byte when needed: for the tests that play a
//! misbehaving client (slow, header-heavy, holding connections), which no HTTP client library
//! lets one be.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One HTTP response as read off the socket.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// Header fields, names lowercased, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The body (by `Content-Length`).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The host and port of a base URL such as `http://127.0.0.1:4318`.
pub fn authority(base_url: &str) -> &str {
    base_url
        .strip_prefix("http://")
        .unwrap_or(base_url)
        .trim_end_matches('/')
}

/// Connects to `base_url` with `timeout` on reads and writes.
pub fn connect(base_url: &str, timeout: Duration) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(authority(base_url))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// The head of a `POST` of `body_len` bytes to `path` with `content_type`, plus `extra` header
/// lines (each without its CRLF).
pub fn post_head(
    base_url: &str,
    path: &str,
    content_type: &str,
    body_len: usize,
    extra: &[String],
) -> Vec<u8> {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: {content_type}\r\ncontent-length: {body_len}\r\n",
        authority(base_url)
    );
    for line in extra {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// Sends a whole `POST` and reads the answer.
pub fn post(
    stream: &mut TcpStream,
    base_url: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> io::Result<RawResponse> {
    let mut request = post_head(base_url, path, content_type, body.len(), &[]);
    request.extend_from_slice(body);
    stream.write_all(&request)?;
    read_response(stream)
}

/// Reads one response; an error when the connection closes (or times out) before one came.
pub fn read_response(stream: &mut TcpStream) -> io::Result<RawResponse> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "closed without a response",
        ));
    }
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("not a status line: {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

/// Whether the peer closed the connection: a read gives end of file or a reset within the
/// socket's read timeout (any bytes that arrive first are skipped).
pub fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}
