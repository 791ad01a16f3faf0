//! TFTP download (RFC 1350, read requests only) with the option extension (RFC 2347):
//! `blksize` (RFC 2348), `tsize` (RFC 2349) and `windowsize` (RFC 7440). A server that
//! ignores options is served in 512-byte blocks, one per ACK. Lost packets are
//! retransmitted with a doubling timeout and a bounded number of tries; block numbers
//! wrap at 65535 → 0, so files of any size arrive. The exchange runs over `Transport`,
//! so the state machine is tested on byte strings (`tests.rs`).
pub mod packet;
#[cfg(test)]
mod tests;

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use crate::net::transfer::Transfer;
use crate::net::url::Url;
use packet::Packet;

pub const PORT: u16 = 69;
/// What we ask for: an Ethernet frame's payload less the IP, UDP and TFTP headers.
const BLKSIZE: u16 = 1468;
const WINDOWSIZE: u16 = 8;
const DEFAULT_BLKSIZE: usize = 512;
/// Retransmissions of one packet before the transfer is given up.
const RETRIES: u32 = 5;
const FIRST_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_TIMEOUT: Duration = Duration::from_secs(8);

/// Datagrams to and from the server; `recv` returns `Ok(None)` when `timeout` passes.
pub trait Transport {
    fn send(&mut self, packet: &[u8], to: SocketAddr) -> Result<(), String>;
    fn recv(
        &mut self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<Option<(usize, SocketAddr)>, String>;
}

/// Fetches `url` into `out` over UDP, returning the byte count.
pub fn get(url: &Url, out: &mut dyn Write, transfer: &mut Transfer) -> Result<u64, String> {
    let fail = |e: String| format!("{url}: {e}");
    let server = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| fail(crate::util::reason(&e)))?
        .find(SocketAddr::is_ipv4)
        .ok_or_else(|| fail("unknown host".into()))?;
    let socket = UdpSocket::bind(("0.0.0.0", 0)).map_err(|e| fail(crate::util::reason(&e)))?;
    let mut transport = Udp(socket);
    // TFTP names are relative to the server's root: "tftp://h/a/b" asks for "a/b".
    let path = url.path.trim_start_matches('/');
    receive(&mut transport, server, path, out, transfer).map_err(fail)
}

struct Udp(UdpSocket);

impl Transport for Udp {
    fn send(&mut self, packet: &[u8], to: SocketAddr) -> Result<(), String> {
        self.0
            .send_to(packet, to)
            .map(|_| ())
            .map_err(|e| format!("send: {}", crate::util::reason(&e)))
    }

    fn recv(
        &mut self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<Option<(usize, SocketAddr)>, String> {
        let _ = self
            .0
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))));
        match self.0.recv_from(buf) {
            Ok(got) => Ok(Some(got)),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(format!("receive: {}", crate::util::reason(&e))),
        }
    }
}

/// The negotiated transfer: what the OACK said, or RFC 1350's defaults.
struct Session {
    peer: Option<SocketAddr>,
    blksize: usize,
    window: u16,
    total: Option<u64>,
    /// The block we wait for next, and the number of blocks taken in this window.
    expected: u16,
    in_window: u16,
    /// After an out-of-order block we ACK the last good one once, not for every packet
    /// of the rest of the window (each such ACK restarts the server's window).
    resync_sent: bool,
    done: u64,
}

/// Runs a read request for `path` to `server` over `transport`, writing the file to `out`.
pub fn receive(
    transport: &mut dyn Transport,
    server: SocketAddr,
    path: &str,
    out: &mut dyn Write,
    transfer: &mut Transfer,
) -> Result<u64, String> {
    match exchange(transport, server, path, out, transfer, true) {
        // RFC 2347 lets a server refuse options with error 8; ask again without them.
        Err(Refused::Options) => {
            exchange(transport, server, path, out, transfer, false).map_err(|e| match e {
                Refused::Options => "the server refused even a plain request".to_string(),
                Refused::Other(e) => e,
            })
        }
        Err(Refused::Other(e)) => Err(e),
        Ok(n) => Ok(n),
    }
}

enum Refused {
    Options,
    Other(String),
}

impl From<String> for Refused {
    fn from(e: String) -> Refused {
        Refused::Other(e)
    }
}

fn exchange(
    transport: &mut dyn Transport,
    server: SocketAddr,
    path: &str,
    out: &mut dyn Write,
    transfer: &mut Transfer,
    with_options: bool,
) -> Result<u64, Refused> {
    let options: Vec<(&str, String)> = if with_options {
        vec![
            ("blksize", BLKSIZE.to_string()),
            ("tsize", "0".into()),
            ("windowsize", WINDOWSIZE.to_string()),
        ]
    } else {
        Vec::new()
    };
    let mut last_sent = packet::read_request(path, &options);
    transport.send(&last_sent, server)?;
    let mut s = Session {
        peer: None,
        blksize: DEFAULT_BLKSIZE,
        window: 1,
        total: None,
        expected: 1,
        in_window: 0,
        resync_sent: false,
        done: 0,
    };
    let mut buf = vec![0u8; usize::from(u16::MAX) + 4];
    let mut tries = 0;
    let mut wait = FIRST_TIMEOUT;
    let mut progress_at = Instant::now();
    let mut quiet_since = Instant::now();
    loop {
        let Some((n, from)) = transport.recv(&mut buf, wait)? else {
            tries += 1;
            if tries > RETRIES || quiet_since.elapsed() >= transfer.timeout {
                let what = if s.peer.is_none() {
                    "no answer from the TFTP server".to_string()
                } else {
                    format!("transfer stalled after {} bytes", s.done)
                };
                return Err(format!("{what} ({tries} tries)").into());
            }
            transport.send(&last_sent, s.peer.unwrap_or(server))?;
            wait = (wait * 2).min(MAX_TIMEOUT);
            continue;
        };
        // The server answers from a new port (its transfer ID); anything else is a
        // stray that gets an error of its own and changes nothing here.
        let from_server = match s.peer {
            Some(peer) => from == peer,
            None => from.ip() == server.ip(),
        };
        if !from_server {
            let _ = transport.send(
                &packet::error(packet::ERR_UNKNOWN_TID, "unknown transfer ID"),
                from,
            );
            continue;
        }
        let Some(got) = packet::parse(&buf[..n]) else {
            continue;
        };
        let first = s.peer.is_none();
        s.peer = Some(from);
        match got {
            Packet::Error { code, message } => {
                if first && with_options && code == packet::ERR_OPTION {
                    return Err(Refused::Options);
                }
                return Err(format!(
                    "server error {code} ({}): {message}",
                    packet::error_name(code)
                )
                .into());
            }
            Packet::Oack(options) if first => {
                if let Err(e) = s.accept_options(&options, transfer.limit) {
                    let _ = transport.send(&packet::error(packet::ERR_OPTION, &e), from);
                    return Err(e.into());
                }
                last_sent = packet::ack(0);
                transport.send(&last_sent, from)?;
            }
            Packet::Data { block, data } => {
                if block != s.expected {
                    // A duplicate or a block after a lost one: ACK the last good block,
                    // which makes the server send again from the next one.
                    if !s.resync_sent {
                        s.resync_sent = true;
                        s.in_window = 0;
                        last_sent = packet::ack(s.expected.wrapping_sub(1));
                        transport.send(&last_sent, from)?;
                    }
                    continue;
                }
                if data.len() > s.blksize {
                    let e = format!(
                        "block {block} of {} bytes is over the block size {}",
                        data.len(),
                        s.blksize
                    );
                    let _ = transport.send(&packet::error(packet::ERR_UNDEFINED, &e), from);
                    return Err(e.into());
                }
                s.done += data.len() as u64;
                if s.done > transfer.limit {
                    let e = format!("over the {} byte limit", transfer.limit);
                    let _ = transport.send(&packet::error(packet::ERR_DISK_FULL, &e), from);
                    return Err(e.into());
                }
                out.write_all(data)
                    .map_err(|e| format!("write error: {}", crate::util::reason(&e)))?;
                let last = data.len() < s.blksize;
                s.expected = s.expected.wrapping_add(1);
                s.in_window += 1;
                s.resync_sent = false;
                if last || s.in_window >= s.window {
                    s.in_window = 0;
                    last_sent = packet::ack(block);
                    transport.send(&last_sent, from)?;
                }
                if last {
                    break;
                }
                if progress_at.elapsed() >= Duration::from_millis(500) {
                    if let Some(p) = transfer.progress.as_mut() {
                        p(s.done, s.total);
                    }
                    progress_at = Instant::now();
                }
            }
            // A second OACK (our ACK 0 was lost) or anything else: the timeout resends.
            _ => continue,
        }
        tries = 0;
        wait = FIRST_TIMEOUT;
        quiet_since = Instant::now();
    }
    if s.total.is_some_and(|t| t != s.done) {
        return Err(format!(
            "got {} of the {} bytes announced",
            s.done,
            s.total.unwrap_or(0)
        )
        .into());
    }
    if let Some(p) = transfer.progress.as_mut().filter(|_| s.done >= 1 << 20) {
        p(s.done, s.total);
    }
    Ok(s.done)
}

impl Session {
    /// Takes the server's values (it may lower what we asked for); an option we did not
    /// ask for, or a value out of range, refuses the transfer (RFC 2347).
    fn accept_options(&mut self, options: &[(String, String)], limit: u64) -> Result<(), String> {
        for (name, value) in options {
            let number: Option<u64> = value.trim().parse().ok();
            match (name.as_str(), number) {
                ("blksize", Some(n)) if (8..=u64::from(BLKSIZE)).contains(&n) => {
                    self.blksize = n as usize
                }
                ("windowsize", Some(n)) if (1..=u64::from(WINDOWSIZE)).contains(&n) => {
                    self.window = n as u16
                }
                ("tsize", Some(n)) if n > limit => {
                    return Err(format!("{n} bytes is over the {limit} byte limit"))
                }
                ("tsize", Some(n)) => self.total = Some(n),
                _ => return Err(format!("unacceptable option {name}={value}")),
            }
        }
        Ok(())
    }
}
