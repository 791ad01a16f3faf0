//! ping: ICMP echo to an IPv4 host over a raw socket (root) or an ICMP datagram socket;
//! -c COUNT, -i INTERVAL, -W TIMEOUT, -s SIZE, -q.
use std::ffi::OsString;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4, ToSocketAddrs};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketType};

use crate::util::{finish, Parser};

const USAGE: &str = "usage: ping [-q] [-c COUNT] [-i SECONDS] [-W SECONDS] [-s SIZE] HOST\nSend ICMP ECHO_REQUEST packets to an IPv4 host.";

/// RFC 1071 one's-complement sum.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

pub fn echo_request(id: u16, seq: u16, size: usize) -> Vec<u8> {
    let mut p = vec![8u8, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend((0..size).map(|i| (i % 256) as u8));
    let sum = checksum(&p);
    p[2..4].copy_from_slice(&sum.to_be_bytes());
    p
}

struct Socket {
    fd: OwnedFd,
    /// Raw sockets deliver the IP header too; datagram sockets do not (and rewrite the id).
    raw: bool,
}

fn open_socket() -> std::io::Result<Socket> {
    let proto = Some(rustix::net::ipproto::ICMP);
    match rustix::net::socket(AddressFamily::INET, SocketType::RAW, proto) {
        Ok(fd) => Ok(Socket { fd, raw: true }),
        Err(_) => Ok(Socket {
            fd: rustix::net::socket(AddressFamily::INET, SocketType::DGRAM, proto)?,
            raw: false,
        }),
    }
}

struct Reply {
    seq: u16,
    ttl: Option<u8>,
    bytes: usize,
}

/// Parse a received packet; only echo replies to our id (raw) are accepted.
fn parse_reply(buf: &[u8], raw: bool, id: u16) -> Option<Reply> {
    let (icmp, ttl) = if raw {
        let ihl = usize::from(buf.first()? & 0x0f) * 4;
        (buf.get(ihl..)?, Some(*buf.get(8)?))
    } else {
        (buf, None)
    };
    if icmp.len() < 8 || icmp[0] != 0 {
        return None;
    }
    let got_id = u16::from_be_bytes([icmp[4], icmp[5]]);
    if raw && got_id != id {
        return None;
    }
    Some(Reply {
        seq: u16::from_be_bytes([icmp[6], icmp[7]]),
        ttl,
        bytes: icmp.len(),
    })
}

pub fn main(args: &[OsString]) -> i32 {
    let mut count: Option<u64> = None;
    let mut interval = Duration::from_secs(1);
    let mut timeout = Duration::from_secs(1);
    let mut size = 56usize;
    let mut quiet = false;
    let ops = match Parser::new("ping", USAGE, args).code(2).parse(|p, c| {
        match c {
            'c' => count = Some(p.number()?),
            'i' => interval = p.seconds()?,
            'W' => timeout = p.seconds()?,
            's' => size = p.number::<usize>()?.min(65000),
            'q' => quiet = true,
            '4' => {}
            _ => return Err(p.unknown(c)),
        }
        Ok(())
    }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let Some(host) = ops.first().map(|h| h.to_string_lossy().into_owned()) else {
        return Parser::usage_error("ping", USAGE, "missing host", 2);
    };
    let target: Option<Ipv4Addr> = match (host.as_str(), 0).to_socket_addrs() {
        Ok(addrs) => addrs
            .filter_map(|a| match a.ip() {
                std::net::IpAddr::V4(v4) => Some(v4),
                _ => None,
            })
            .next(),
        Err(_) => None,
    };
    let Some(target) = target else {
        crate::warn!("ping: {host}: unknown host");
        return 2;
    };
    let sock = match open_socket() {
        Ok(s) => s,
        Err(e) => {
            crate::util::warn_err("ping", "socket", &e);
            return 2;
        }
    };
    finish(
        "ping",
        run(
            &sock,
            &host,
            target,
            count,
            interval.max(Duration::from_millis(10)),
            timeout.max(Duration::from_millis(10)),
            size,
            quiet,
        ),
    )
}

#[allow(clippy::too_many_arguments)]
/// Waits until `deadline` for the echo reply with `seq`; other packets are skipped.
fn await_reply(
    sock: &Socket,
    buf: &mut [u8],
    id: u16,
    seq: u16,
    deadline: Instant,
) -> std::io::Result<Option<Reply>> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        let _ = rustix::net::sockopt::set_socket_timeout(
            &sock.fd,
            rustix::net::sockopt::Timeout::Recv,
            Some(left),
        );
        let n = match rustix::net::recv(&sock.fd, &mut *buf, RecvFlags::empty()) {
            Ok((n, _)) => n,
            Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        match parse_reply(&buf[..n], sock.raw, id) {
            Some(reply) if reply.seq == seq => return Ok(Some(reply)),
            _ => continue,
        }
    }
}

/// The statistics printed at the end.
fn summary(
    out: &mut impl Write,
    host: &str,
    sent: u64,
    received: u64,
    rtts: &[f64],
) -> std::io::Result<()> {
    let loss = ((sent - received) * 100).checked_div(sent).unwrap_or(0);
    writeln!(out, "\n--- {host} ping statistics ---")?;
    writeln!(
        out,
        "{sent} packets transmitted, {received} packets received, {loss}% packet loss"
    )?;
    if !rtts.is_empty() {
        let min = rtts.iter().cloned().fold(f64::MAX, f64::min);
        let max = rtts.iter().cloned().fold(0.0, f64::max);
        let avg = rtts.iter().sum::<f64>() / rtts.len() as f64;
        writeln!(
            out,
            "round-trip min/avg/max = {min:.3}/{avg:.3}/{max:.3} ms"
        )?;
    }
    out.flush()?;
    Ok(())
}

fn run(
    sock: &Socket,
    host: &str,
    target: Ipv4Addr,
    count: Option<u64>,
    interval: Duration,
    timeout: Duration,
    size: usize,
    quiet: bool,
) -> std::io::Result<i32> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "PING {host} ({target}): {size} data bytes")?;
    let id = (std::process::id() & 0xffff) as u16;
    let addr = SocketAddrV4::new(target, 0);
    let (mut sent, mut received) = (0u64, 0u64);
    let mut rtts: Vec<f64> = Vec::new();
    let mut buf = vec![0u8; size + 128];
    while count.is_none_or(|c| sent < c) {
        let seq = sent as u16;
        let started = Instant::now();
        if let Err(e) = rustix::net::sendto(
            &sock.fd,
            &echo_request(id, seq, size),
            SendFlags::empty(),
            &addr,
        ) {
            crate::util::warn_err("ping", "sendto", &e.into());
            return Ok(2);
        }
        sent += 1;
        if let Some(reply) = await_reply(sock, &mut buf, id, seq, started + timeout)? {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            received += 1;
            rtts.push(ms);
            if !quiet {
                let ttl = reply.ttl.map(|t| format!(" ttl={t}")).unwrap_or_default();
                writeln!(
                    out,
                    "{} bytes from {target}: seq={seq}{ttl} time={ms:.3} ms",
                    reply.bytes
                )?;
                out.flush()?;
            }
        }
        if count.is_none_or(|c| sent < c) {
            std::thread::sleep(interval.saturating_sub(started.elapsed()));
        }
    }
    summary(&mut out, host, sent, received, &rtts)?;
    Ok(if received > 0 { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_request_checksums_to_zero() {
        let p = echo_request(0x1234, 7, 56);
        assert_eq!(p.len(), 64);
        assert_eq!(checksum(&p), 0);
        let mut reply = p.clone();
        reply[0] = 0;
        let r = parse_reply(&reply, false, 0x1234);
        assert_eq!(r.map(|r| (r.seq, r.bytes)), Some((7, 64)));
        assert!(
            parse_reply(&p, false, 0x1234).is_none(),
            "a request is not a reply"
        );
    }
}
