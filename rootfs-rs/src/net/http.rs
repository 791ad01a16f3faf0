//! HTTP/1.0 over TCP or TLS (https://): GET (following up to 5 redirects) into a writer,
//! and the uploads a capture makes (`upload`: PUT, MOVE, POST).
use std::io::{Read, Write};
use std::time::Duration;

use crate::net::transfer::{connect, copy_body, Transfer};
use crate::net::url::{join, Scheme, Url};

/// A connection to a web server, plain or TLS.
pub trait Connection: Read + Write {}
impl<T: Read + Write> Connection for T {}

/// Connects to the server of `url`; https:// completes the TLS handshake.
pub fn open(url: &Url, timeout: Duration) -> Result<Box<dyn Connection>, String> {
    Ok(match url.scheme {
        Scheme::Https => Box::new(crate::net::tls::connect(&url.host, url.port, timeout)?),
        _ => Box::new(connect(&url.host, url.port, timeout)?),
    })
}

/// GETs `url` into `out` following up to 5 redirects, returning the byte count.
pub fn get(url: &Url, out: &mut dyn Write, transfer: &mut Transfer) -> Result<u64, String> {
    let mut current = url.clone();
    for _ in 0..6 {
        match http_get(&current, out, transfer)? {
            Got::Body(n) => return Ok(n),
            Got::Redirect(location) => current = join(&current, &location)?,
        }
    }
    Err(format!("{url}: too many redirects"))
}

pub(crate) enum Got {
    Body(u64),
    Redirect(String),
}

fn http_get(url: &Url, out: &mut dyn Write, transfer: &mut Transfer) -> Result<Got, String> {
    let mut stream = open(url, transfer.timeout)?;
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: kboot/{}\r\nConnection: close\r\n\r\n",
        url.path,
        url.host,
        crate::VERSION
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("{url}: {}", crate::util::reason(&e)))?;
    response(url, &mut stream, out, transfer)
}

/// Reads the server's response to a GET of `url` from `stream`: the head, then the body
/// into `out` or the redirect. Separate from the socket so it can be fuzzed.
pub(crate) fn response(
    url: &Url,
    stream: &mut dyn Read,
    out: &mut dyn Write,
    transfer: &mut Transfer,
) -> Result<Got, String> {
    let (head, body_start) = read_head(stream).map_err(|e| format!("{url}: {e}"))?;
    let (code, headers) = parse_head(&head).map_err(|e| format!("{url}: {e}"))?;
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if (300..400).contains(&code) {
        return match header("location") {
            Some(l) => Ok(Got::Redirect(l.to_string())),
            None => Err(format!("{url}: server returned {code} without a Location")),
        };
    }
    if code != 200 {
        return Err(format!("{url}: server returned error: HTTP {code}"));
    }
    let total = header("content-length").and_then(|v| v.parse().ok());
    if total.is_some_and(|t| t > transfer.limit) {
        return Err(format!(
            "{url}: {} bytes is over the {} byte limit",
            total.unwrap_or(0),
            transfer.limit
        ));
    }
    let n =
        copy_body(&body_start, stream, out, total, transfer).map_err(|e| format!("{url}: {e}"))?;
    if total.is_some_and(|t| t != n) {
        return Err(format!(
            "{url}: connection closed after {n} of {} bytes",
            total.unwrap_or(0)
        ));
    }
    Ok(Got::Body(n))
}

/// Reads up to the blank line; returns the head and whatever body bytes came with it.
pub fn read_head(stream: &mut dyn Read) -> Result<(Vec<u8>, Vec<u8>), String> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let body = raw.split_off(end + 4);
            return Ok((raw, body));
        }
        if raw.len() > 64 * 1024 {
            return Err("HTTP header over 64 KiB".into());
        }
        let n = stream
            .read(&mut buf)
            .map_err(|e| format!("read error: {}", crate::util::reason(&e)))?;
        if n == 0 {
            return Err("malformed HTTP response (no header end)".into());
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

/// Status code and headers (lower-cased names) of a response head.
pub fn parse_head(head: &[u8]) -> Result<(u16, Vec<(String, String)>), String> {
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let code = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .filter(|_| status_line.starts_with("HTTP/"))
        .ok_or_else(|| format!("malformed status line '{status_line}'"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok((code, headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_parse() {
        let (code, headers) =
            parse_head(b"HTTP/1.1 301 Moved\r\nLocation: /new\r\nContent-Length: 0")
                .expect("valid");
        assert_eq!(code, 301);
        assert_eq!(headers[0], ("location".into(), "/new".into()));
        assert!(parse_head(b"SSH-2.0-OpenSSH").is_err());
    }
}
