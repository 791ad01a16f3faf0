//! What every transfer shares: the limits and progress callback (`Transfer`), connecting
//! with a timeout, and copying a body within the limit.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

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
