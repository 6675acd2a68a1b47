//! A small HTTP/1.1 client over `TcpStream`: enough to drive the playground's API and read
//! its event stream, with no client crate.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Sends one request and reads the whole answer: the status and the body.
pub fn request(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the answer");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a header");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status");
    let mut rest = &raw[split + 4..];
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        let mut reader = BufReader::new(&mut rest);
        while let Some(chunk) = read_chunk(&mut reader) {
            out.extend(chunk);
        }
        out
    } else {
        rest.to_vec()
    };
    (status, String::from_utf8(body).expect("UTF-8"))
}

/// The body of a request answered 200, as JSON.
pub fn ok(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> Value {
    let (status, text) = request(addr, method, path, body);
    assert_eq!(status, 200, "{method} {path}: {text}");
    serde_json::from_str(&text).expect("JSON")
}

/// A request the server refuses: its status and its `error` message.
pub fn refused(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let (status, text) = request(addr, method, path, body);
    assert!(
        (400..500).contains(&status),
        "{method} {path} {body:?}: {status} {text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("a JSON error body: {text}"));
    (status, v["error"].as_str().expect("an error field").to_string())
}

/// One chunk of a chunked body, or `None` at its end.
fn read_chunk(r: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let size = usize::from_str_radix(line.trim(), 16).ok()?;
    if size == 0 {
        return None;
    }
    let mut chunk = vec![0; size + 2];
    r.read_exact(&mut chunk).ok()?;
    chunk.truncate(size);
    Some(chunk)
}

/// An open event stream.
pub struct Events {
    reader: BufReader<TcpStream>,
    pending: Vec<u8>,
}

impl Events {
    /// Opens `GET path` as a stream of server-sent events.
    pub fn open(addr: SocketAddr, path: &str) -> Events {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(s);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("a header line");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.to_ascii_lowercase().contains("text/event-stream"), "{head}");
        Events {
            reader,
            pending: Vec::new(),
        }
    }

    /// The data of the next event named `snapshot`, parsed, and when it arrived.
    pub fn next_snapshot(&mut self) -> (Instant, Value) {
        loop {
            if let Some(end) = self.pending.windows(2).position(|w| w == b"\n\n") {
                let event: Vec<u8> = self.pending.drain(..end + 2).collect();
                let text = String::from_utf8_lossy(&event);
                if text.lines().any(|l| l == "event: snapshot") {
                    let data: String = text
                        .lines()
                        .filter_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")))
                        .collect();
                    return (Instant::now(), serde_json::from_str(&data).expect("a JSON snapshot"));
                }
                continue;
            }
            let chunk = read_chunk(&mut self.reader).expect("the stream goes on");
            self.pending.extend(chunk);
        }
    }
}
