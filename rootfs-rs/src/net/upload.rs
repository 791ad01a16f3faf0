//! Sending files to a web server (http:// or https://), as a capture does: a request with a
//! body in memory (`send`: PUT, POST, MKCOL, MOVE) and a PUT streamed with chunked transfer
//! encoding (`ChunkedPut`), for a dump whose size is known only at its end. HTTP/1.1 with
//! `Connection: close`: one request per connection.

use std::io::{self, Write};
use std::time::Duration;

use crate::net::http::{open, parse_head, read_head, Connection};
use crate::net::url::Url;

/// The request line and headers, up to the blank line.
fn head(method: &str, url: &Url, extra: &[(&str, String)]) -> String {
    let mut text = format!(
        "{method} {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: kboot/{}\r\nConnection: close\r\n",
        url.path,
        url.host,
        url.port,
        crate::VERSION
    );
    for (name, value) in extra {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text
}

/// The status code of the server's answer on `conn`.
fn status(url: &Url, conn: &mut dyn Connection) -> Result<u16, String> {
    let (head, _) = read_head(conn).map_err(|e| format!("{url}: {e}"))?;
    parse_head(&head)
        .map(|(code, _)| code)
        .map_err(|e| format!("{url}: {e}"))
}

/// Sends `method` with `body` and the `extra` headers; returns the status code (any: the
/// caller decides what success is).
pub fn send(
    method: &str,
    url: &Url,
    extra: &[(&str, String)],
    body: &[u8],
    timeout: Duration,
) -> Result<u16, String> {
    let mut conn = open(url, timeout)?;
    let mut headers = extra.to_vec();
    headers.push(("Content-Length", body.len().to_string()));
    conn.write_all(head(method, url, &headers).as_bytes())
        .and_then(|()| conn.write_all(body))
        .and_then(|()| conn.flush())
        .map_err(|e| format!("{url}: {method}: {}", crate::util::reason(&e)))?;
    status(url, &mut *conn)
}

/// `send`, where only 2xx is success.
pub fn send_ok(
    method: &str,
    url: &Url,
    extra: &[(&str, String)],
    body: &[u8],
    timeout: Duration,
) -> Result<(), String> {
    match send(method, url, extra, body, timeout)? {
        200..=299 => Ok(()),
        code => Err(format!("{url}: {method}: server returned HTTP {code}")),
    }
}

/// A PUT whose body is written through `Write`, one chunk per write.
pub struct ChunkedPut {
    conn: Box<dyn Connection>,
    url: Url,
    sent: u64,
}

impl ChunkedPut {
    pub fn start(url: &Url, timeout: Duration) -> Result<ChunkedPut, String> {
        let mut conn = open(url, timeout)?;
        let headers = [("Transfer-Encoding", "chunked".to_string())];
        conn.write_all(head("PUT", url, &headers).as_bytes())
            .map_err(|e| format!("{url}: PUT: {}", crate::util::reason(&e)))?;
        Ok(ChunkedPut {
            conn,
            url: url.clone(),
            sent: 0,
        })
    }

    /// Sends the last chunk and returns the bytes sent, if the server answered 2xx.
    pub fn finish(mut self) -> Result<u64, String> {
        let url = self.url.clone();
        self.conn
            .write_all(b"0\r\n\r\n")
            .and_then(|()| self.conn.flush())
            .map_err(|e| format!("{url}: PUT: {}", crate::util::reason(&e)))?;
        match status(&url, &mut *self.conn)? {
            200..=299 => Ok(self.sent),
            code => Err(format!("{url}: PUT: server returned HTTP {code}")),
        }
    }
}

impl Write for ChunkedPut {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.conn
            .write_all(format!("{:x}\r\n", buf.len()).as_bytes())?;
        self.conn.write_all(buf)?;
        self.conn.write_all(b"\r\n")?;
        self.sent += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.conn.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read};
    use std::net::TcpListener;

    /// A one-request server: returns what it received, answering `reply`.
    fn one_request(reply: &'static str) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(stream);
            let mut got = Vec::new();
            // Up to the end of a chunked body or of a 5-byte one.
            while !got.ends_with(b"0\r\n\r\n") && !got.ends_with(b"hello") {
                let mut line = Vec::new();
                if reader.read_until(b'\n', &mut line).expect("read") == 0 {
                    break;
                }
                got.extend(line);
                if got.ends_with(b"\r\n\r\n") && got.starts_with(b"POST") {
                    let mut body = [0u8; 5];
                    reader.read_exact(&mut body).expect("body");
                    got.extend(body);
                }
            }
            reader.get_mut().write_all(reply.as_bytes()).expect("reply");
            got
        });
        (port, server)
    }

    #[test]
    fn a_chunked_put_and_a_post_say_what_they_carry() {
        let (port, server) = one_request("HTTP/1.1 201 Created\r\n\r\n");
        let url = crate::net::url::parse_url(&format!("http://127.0.0.1:{port}/up/dump.part"))
            .expect("url");
        let mut put = ChunkedPut::start(&url, Duration::from_secs(5)).expect("connect");
        put.write_all(b"0123456789abcdef0").expect("write");
        put.write_all(b"xyz").expect("write");
        assert_eq!(put.finish(), Ok(20));
        let got = String::from_utf8(server.join().expect("server")).expect("text");
        assert!(got.starts_with("PUT /up/dump.part HTTP/1.1\r\n"), "{got}");
        assert!(got.contains("Transfer-Encoding: chunked\r\n"), "{got}");
        assert!(
            got.ends_with("\r\n\r\n11\r\n0123456789abcdef0\r\n3\r\nxyz\r\n0\r\n\r\n"),
            "{got}"
        );

        let (port, server) = one_request("HTTP/1.1 503 Busy\r\n\r\n");
        let url =
            crate::net::url::parse_url(&format!("http://127.0.0.1:{port}/report")).expect("url");
        let err = send_ok("POST", &url, &[], b"hello", Duration::from_secs(5));
        assert_eq!(
            err,
            Err(format!(
                "http://127.0.0.1:{port}/report: POST: server returned HTTP 503"
            ))
        );
        let got = String::from_utf8(server.join().expect("server")).expect("text");
        assert!(got.contains("Content-Length: 5\r\n\r\nhello"), "{got}");
    }
}
