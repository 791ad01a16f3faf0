//! Fetching a URL into a writer: plain HTTP/1.0 GET (following up to 5 redirects) and
//! FTP (see `ftp`), with a timeout per connection and read, a size limit, and progress.
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Ftp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
    /// Starts with '/'; for HTTP it includes any query.
    pub path: String,
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (name, default) = match self.scheme {
            Scheme::Http => ("http", 80),
            Scheme::Ftp => ("ftp", 21),
        };
        write!(f, "{name}://{}", self.host)?;
        if self.port != default {
            write!(f, ":{}", self.port)?;
        }
        f.write_str(&self.path)
    }
}

pub fn is_url(text: &str) -> bool {
    ["http://", "https://", "ftp://"]
        .iter()
        .any(|p| text.starts_with(p))
}

pub fn parse_url(text: &str) -> Result<Url, String> {
    let (scheme, rest, default_port) = if let Some(r) = text.strip_prefix("http://") {
        (Scheme::Http, r, 80)
    } else if let Some(r) = text.strip_prefix("ftp://") {
        (Scheme::Ftp, r, 21)
    } else if text.starts_with("https://") {
        return Err("https is not supported (plain http:// and ftp:// are)".into());
    } else {
        return Err(format!("{text}: unsupported URL (need http:// or ftp://)"));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse()
                .map_err(|_| format!("{text}: invalid port '{p}'"))?,
        ),
        None => (authority, default_port),
    };
    if host.is_empty() || host.contains('@') {
        return Err(format!("{text}: missing host (user@host is not supported)"));
    }
    Ok(Url {
        scheme,
        host: host.to_string(),
        port,
        path: path.to_string(),
    })
}

/// Resolves `relative` (absolute URL, /absolute path, or relative path) against `base`.
pub fn join(base: &Url, relative: &str) -> Result<Url, String> {
    if is_url(relative) {
        return parse_url(relative);
    }
    let path = if relative.starts_with('/') {
        relative.to_string()
    } else {
        let dir = &base.path[..base.path.rfind('/').map_or(0, |i| i + 1)];
        format!("{}{relative}", if dir.is_empty() { "/" } else { dir })
    };
    Ok(Url {
        path,
        ..base.clone()
    })
}

/// How a transfer may go: each connect and read waits at most `timeout`; more than
/// `limit` bytes is an error (remote files land in RAM); `progress` is called with
/// (bytes so far, total if known) at most every half second, and at the end of
/// transfers of 1 MiB or more.
pub struct Transfer<'a> {
    pub timeout: Duration,
    pub limit: u64,
    pub progress: Option<&'a mut dyn FnMut(u64, Option<u64>)>,
}

impl Default for Transfer<'_> {
    fn default() -> Self {
        Transfer {
            timeout: Duration::from_secs(30),
            limit: u64::MAX,
            progress: None,
        }
    }
}

/// Fetches `url` into `out`, returning the byte count.
pub fn fetch(url: &Url, out: &mut dyn Write, transfer: &mut Transfer) -> Result<u64, String> {
    match url.scheme {
        Scheme::Ftp => super::ftp::retrieve(url, out, transfer),
        Scheme::Http => {
            let mut current = url.clone();
            for _ in 0..6 {
                match http_get(&current, out, transfer)? {
                    Got::Body(n) => return Ok(n),
                    Got::Redirect(location) => current = join(&current, &location)?,
                }
            }
            Err(format!("{url}: too many redirects"))
        }
    }
}

pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("{host}: {}", crate::util::reason(&e)))?
        .collect();
    let first = addrs
        .first()
        .ok_or_else(|| format!("{host}: unknown host"))?;
    let stream = TcpStream::connect_timeout(first, timeout).map_err(|e| {
        format!(
            "can't connect to {host}:{port}: {}",
            crate::util::reason(&e)
        )
    })?;
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    Ok(stream)
}

enum Got {
    Body(u64),
    Redirect(String),
}

fn http_get(url: &Url, out: &mut dyn Write, transfer: &mut Transfer) -> Result<Got, String> {
    let mut stream = connect(&url.host, url.port, transfer.timeout)?;
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: kboot/{}\r\nConnection: close\r\n\r\n",
        url.path,
        url.host,
        crate::VERSION
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("{url}: {}", crate::util::reason(&e)))?;
    let (head, body_start) = read_head(&mut stream).map_err(|e| format!("{url}: {e}"))?;
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
    let n = copy_body(&body_start, &mut stream, out, total, transfer)
        .map_err(|e| format!("{url}: {e}"))?;
    if total.is_some_and(|t| t != n) {
        return Err(format!(
            "{url}: connection closed after {n} of {} bytes",
            total.unwrap_or(0)
        ));
    }
    Ok(Got::Body(n))
}

/// Reads up to the blank line; returns the head and whatever body bytes came with it.
fn read_head(stream: &mut TcpStream) -> Result<(Vec<u8>, Vec<u8>), String> {
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

/// Copies `first` then the rest of `from` into `out`, within the limit, with progress.
pub fn copy_body(
    first: &[u8],
    from: &mut dyn Read,
    out: &mut dyn Write,
    total: Option<u64>,
    transfer: &mut Transfer,
) -> Result<u64, String> {
    let write_err = |e: std::io::Error| format!("write error: {}", crate::util::reason(&e));
    out.write_all(first).map_err(write_err)?;
    let mut done = first.len() as u64;
    let mut buf = vec![0u8; 64 * 1024];
    let mut last_report = Instant::now();
    loop {
        if done > transfer.limit {
            return Err(format!("over the {} byte limit", transfer.limit));
        }
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(format!(
                    "read error after {done} bytes: {}",
                    crate::util::reason(&e)
                ))
            }
        };
        out.write_all(&buf[..n]).map_err(write_err)?;
        done += n as u64;
        if last_report.elapsed() >= Duration::from_millis(500) {
            if let Some(p) = transfer.progress.as_mut() {
                p(done, total);
            }
            last_report = Instant::now();
        }
    }
    if done > transfer.limit {
        return Err(format!("over the {} byte limit", transfer.limit));
    }
    // Small, quick transfers print nothing: the line would only clutter `cat URL`.
    if let Some(p) = transfer.progress.as_mut().filter(|_| done >= 1 << 20) {
        p(done, total);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_print_and_join() {
        let u = parse_url("http://10.0.2.2:8080/boot/kboot.toml").expect("valid");
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port, u.path.as_str()),
            (Scheme::Http, "10.0.2.2", 8080, "/boot/kboot.toml")
        );
        assert_eq!(u.to_string(), "http://10.0.2.2:8080/boot/kboot.toml");
        assert_eq!(
            join(&u, "vmlinuz").map(|j| j.to_string()),
            Ok("http://10.0.2.2:8080/boot/vmlinuz".into())
        );
        assert_eq!(
            join(&u, "/k/initrd").map(|j| j.to_string()),
            Ok("http://10.0.2.2:8080/k/initrd".into())
        );
        assert_eq!(
            join(&u, "ftp://srv/x").map(|j| j.to_string()),
            Ok("ftp://srv/x".into())
        );
        let f = parse_url("ftp://mirror").expect("valid");
        assert_eq!((f.scheme, f.port, f.path.as_str()), (Scheme::Ftp, 21, "/"));
        assert!(parse_url("https://x/")
            .unwrap_err()
            .contains("https is not supported"));
        assert!(parse_url("http://:80/").is_err());
        assert!(parse_url("http://h:99999/").is_err());
        assert!(parse_url("gopher://h/").is_err());
    }

    #[test]
    fn heads_parse() {
        let (code, headers) =
            parse_head(b"HTTP/1.1 301 Moved\r\nLocation: /new\r\nContent-Length: 0")
                .expect("valid");
        assert_eq!(code, 301);
        assert_eq!(headers[0], ("location".into(), "/new".into()));
        assert!(parse_head(b"SSH-2.0-OpenSSH").is_err());
    }

    #[test]
    fn the_limit_stops_a_large_body() {
        let mut source: &[u8] = &[7u8; 10_000];
        let mut sink = Vec::new();
        let mut t = Transfer {
            limit: 4096,
            ..Transfer::default()
        };
        assert!(copy_body(b"", &mut source, &mut sink, None, &mut t)
            .unwrap_err()
            .contains("limit"));
        let mut source: &[u8] = &[7u8; 10_000];
        let mut small = Vec::new();
        let mut progress = |n, t| small.push((n, t));
        let mut t = Transfer {
            progress: Some(&mut progress),
            ..Transfer::default()
        };
        assert_eq!(
            copy_body(b"ab", &mut source, &mut Vec::new(), Some(10_002), &mut t),
            Ok(10_002)
        );
        assert!(small.is_empty(), "a small quick transfer reports nothing");
        let big = vec![1u8; 3 << 20];
        let mut large = Vec::new();
        let mut progress = |n, t| large.push((n, t));
        let mut t = Transfer {
            progress: Some(&mut progress),
            ..Transfer::default()
        };
        assert_eq!(
            copy_body(b"", &mut &big[..], &mut Vec::new(), None, &mut t),
            Ok(3 << 20)
        );
        assert_eq!(large.last(), Some(&(3 << 20, None)));
    }
}
