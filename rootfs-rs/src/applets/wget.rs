//! wget: fetch an http:// URL with HTTP/1.0 GET into a file (-O FILE, "-" for stdout),
//! following up to 5 redirects; -q quiet.
use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::util::{reason, Parser};

const USAGE: &str = "usage: wget [-q] [-O FILE] [-T SECONDS] http://HOST[:PORT]/PATH\nDownload a file over plain HTTP.";

pub struct Url {
    pub host: String,
    pub port: u16,
    pub path: String,
}

pub fn parse_url(text: &str) -> Result<Url, String> {
    let rest = text.strip_prefix("http://").ok_or_else(|| {
        if text.starts_with("https://") {
            "https is not supported".to_string()
        } else {
            format!("{text}: unsupported URL (need http://)")
        }
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().map_err(|_| format!("invalid port '{p}'"))?),
        None => (authority, 80),
    };
    if host.is_empty() {
        return Err(format!("{text}: missing host"));
    }
    Ok(Url {
        host: host.to_string(),
        port,
        path: path.to_string(),
    })
}

/// Status code, headers (lower-cased names) and body of a raw HTTP response.
/// (status code, headers, body)
pub type Response<'a> = (u16, Vec<(String, String)>, &'a [u8]);

pub fn split_response(raw: &[u8]) -> Result<Response<'_>, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("malformed HTTP response (no header end)")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let code = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("malformed status line '{status_line}'"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok((code, headers, &raw[end + 4..]))
}

fn fetch(url: &Url, timeout: Duration) -> Result<Vec<u8>, String> {
    let addr = format!("{}:{}", url.host, url.port);
    let addrs: Vec<std::net::SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(&addr)
        .map_err(|e| format!("{}: {}", url.host, reason(&e)))?
        .collect();
    let first = addrs
        .first()
        .ok_or_else(|| format!("{}: unknown host", url.host))?;
    let mut stream = TcpStream::connect_timeout(first, timeout)
        .map_err(|e| format!("can't connect to {addr}: {}", reason(&e)))?;
    let _ = stream.set_read_timeout(Some(timeout));
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: kboot-wget\r\nConnection: close\r\n\r\n",
        url.path, url.host
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| reason(&e))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("read error: {}", reason(&e)))?;
    Ok(raw)
}

pub fn main(args: &[OsString]) -> i32 {
    let mut output: Option<String> = None;
    let mut quiet = false;
    let mut timeout = 30u64;
    let ops = match Parser::new("wget", USAGE, args).parse(|p, c| {
        match c {
            'O' => output = Some(p.value()?),
            'q' => quiet = true,
            'T' => timeout = p.number()?,
            _ => return Err(p.unknown(c)),
        }
        Ok(())
    }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let Some(first) = ops.first() else {
        return Parser::usage_error("wget", USAGE, "missing URL", 1);
    };
    let mut location = first.to_string_lossy().into_owned();
    for _ in 0..6 {
        let url = match parse_url(&location) {
            Ok(u) => u,
            Err(msg) => return fail(&msg),
        };
        if !quiet {
            crate::warn!("Connecting to {}:{}", url.host, url.port);
        }
        let raw = match fetch(&url, Duration::from_secs(timeout.max(1))) {
            Ok(r) => r,
            Err(msg) => return fail(&msg),
        };
        let (code, headers, body) = match split_response(&raw) {
            Ok(parts) => parts,
            Err(msg) => return fail(&msg),
        };
        if (300..400).contains(&code) {
            match headers.iter().find(|(k, _)| k == "location") {
                Some((_, l)) if l.starts_with('/') => {
                    location = format!("http://{}:{}{l}", url.host, url.port)
                }
                Some((_, l)) => location = l.clone(),
                None => return fail(&format!("server returned {code} without a Location")),
            }
            continue;
        }
        if code != 200 {
            return fail(&format!("server returned error: HTTP {code}"));
        }
        let name = output.clone().unwrap_or_else(|| {
            let last = url
                .path
                .split('?')
                .next()
                .unwrap_or("")
                .rsplit('/')
                .next()
                .unwrap_or("");
            if last.is_empty() {
                "index.html".into()
            } else {
                last.to_string()
            }
        });
        let written = if name == "-" {
            let mut out = std::io::stdout().lock();
            out.write_all(body).and_then(|_| out.flush())
        } else {
            std::fs::write(&name, body)
        };
        if let Err(e) = written {
            if name == "-" && crate::util::io::is_broken_pipe(&e) {
                return 141;
            }
            crate::util::warn_err("wget", &name, &e);
            return 1;
        }
        if !quiet && name != "-" {
            crate::warn!("saved '{name}' ({} bytes)", body.len());
        }
        return 0;
    }
    fail("too many redirects")
}

fn fail(msg: &str) -> i32 {
    crate::warn!("wget: {msg}");
    1
}
