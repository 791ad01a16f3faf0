//! DHCPv4 client (RFC 2131/2132): DISCOVER → OFFER → REQUEST → ACK on one interface,
//! over a UDP socket bound to the device, asking the server to broadcast its replies
//! because the interface has no address yet. No renewal: kboot lives for minutes.
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

const BOOTREQUEST: u8 = 1;
const BOOTREPLY: u8 = 2;
const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
const FLAG_BROADCAST: u16 = 0x8000;
/// Fixed part of a BOOTP/DHCP message, up to and including the magic cookie.
const FIXED_LEN: usize = 240;

pub const DISCOVER: u8 = 1;
pub const OFFER: u8 = 2;
pub const REQUEST: u8 = 3;
pub const ACK: u8 = 5;
pub const NAK: u8 = 6;

const OPT_PAD: u8 = 0;
const OPT_SUBNET_MASK: u8 = 1;
const OPT_ROUTER: u8 = 3;
const OPT_DNS: u8 = 6;
const OPT_HOSTNAME: u8 = 12;
const OPT_DOMAIN: u8 = 15;
const OPT_REQUESTED_IP: u8 = 50;
const OPT_LEASE_TIME: u8 = 51;
const OPT_MESSAGE_TYPE: u8 = 53;
const OPT_SERVER_ID: u8 = 54;
const OPT_PARAMETER_LIST: u8 = 55;
const OPT_CLASS_ID: u8 = 60;
const OPT_TFTP_SERVER: u8 = 66;
const OPT_BOOTFILE: u8 = 67;
const OPT_END: u8 = 255;

/// What the server gave us: enough to configure the interface, DNS and a menu source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub interface: String,
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub router: Option<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
    pub domain: Option<String>,
    pub server: Ipv4Addr,
    pub lease_secs: Option<u32>,
    /// Option 67, else the BOOTP `file` field: a URL here names a network menu source.
    pub boot_file: Option<String>,
    /// siaddr, else option 66.
    pub next_server: Option<String>,
}

/// A request from `mac` with transaction id `xid`; REQUEST carries the offered address
/// and the server that offered it.
pub fn build_message(
    kind: u8,
    xid: u32,
    mac: [u8; 6],
    request: Option<(Ipv4Addr, Ipv4Addr)>,
) -> Vec<u8> {
    let mut m = vec![0u8; FIXED_LEN];
    m[0] = BOOTREQUEST;
    m[1] = 1; // Ethernet
    m[2] = 6;
    m[4..8].copy_from_slice(&xid.to_be_bytes());
    m[10..12].copy_from_slice(&FLAG_BROADCAST.to_be_bytes());
    m[28..34].copy_from_slice(&mac);
    m[236..240].copy_from_slice(&MAGIC_COOKIE);
    let mut option = |code: u8, data: &[u8]| {
        m.push(code);
        m.push(data.len() as u8);
        m.extend_from_slice(data);
    };
    option(OPT_MESSAGE_TYPE, &[kind]);
    if let Some((address, server)) = request {
        option(OPT_REQUESTED_IP, &address.octets());
        option(OPT_SERVER_ID, &server.octets());
    }
    option(OPT_CLASS_ID, b"kboot");
    option(
        OPT_PARAMETER_LIST,
        &[
            OPT_SUBNET_MASK,
            OPT_ROUTER,
            OPT_DNS,
            OPT_HOSTNAME,
            OPT_DOMAIN,
            OPT_LEASE_TIME,
            OPT_TFTP_SERVER,
            OPT_BOOTFILE,
        ],
    );
    m.push(OPT_END);
    // Some relays drop BOOTP messages shorter than the original 300 bytes.
    m.resize(m.len().max(300), OPT_PAD);
    m
}

/// A server's reply, parsed; `None` for anything that is not a well-formed BOOTREPLY.
#[derive(Debug, Clone)]
pub struct Reply {
    pub xid: u32,
    pub your_address: Ipv4Addr,
    pub server_address: Ipv4Addr,
    pub file: String,
    pub options: Vec<(u8, Vec<u8>)>,
}

pub fn parse_reply(packet: &[u8]) -> Option<Reply> {
    if packet.len() < FIXED_LEN || packet[0] != BOOTREPLY || packet[236..240] != MAGIC_COOKIE {
        return None;
    }
    let ip_at = |i: usize| Ipv4Addr::new(packet[i], packet[i + 1], packet[i + 2], packet[i + 3]);
    let mut options = Vec::new();
    let mut rest = &packet[FIXED_LEN..];
    while let Some((&code, tail)) = rest.split_first() {
        match code {
            OPT_END => break,
            OPT_PAD => rest = tail,
            _ => {
                let (&len, data) = tail.split_first()?;
                let data = data.get(..usize::from(len))?;
                options.push((code, data.to_vec()));
                rest = &tail[1 + usize::from(len)..];
            }
        }
    }
    Some(Reply {
        xid: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
        your_address: ip_at(16),
        server_address: ip_at(20),
        file: c_string(&packet[108..236]),
        options,
    })
}

fn c_string(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

impl Reply {
    fn option(&self, code: u8) -> Option<&[u8]> {
        self.options
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, d)| d.as_slice())
    }

    pub fn message_type(&self) -> Option<u8> {
        self.option(OPT_MESSAGE_TYPE)
            .and_then(|d| d.first().copied())
    }

    fn addresses(&self, code: u8) -> Vec<Ipv4Addr> {
        self.option(code)
            .map(|d| {
                d.chunks_exact(4)
                    .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn text(&self, code: u8) -> Option<String> {
        self.option(code).map(c_string).filter(|s| !s.is_empty())
    }

    pub fn to_lease(&self, interface: &str) -> Lease {
        // A non-contiguous mask is invalid; counting its ones is the kindest reading.
        let prefix = self
            .addresses(OPT_SUBNET_MASK)
            .first()
            .map(|m| u32::from(*m).count_ones() as u8)
            .unwrap_or(24);
        let server = self
            .addresses(OPT_SERVER_ID)
            .first()
            .copied()
            .unwrap_or(self.server_address);
        Lease {
            interface: interface.to_string(),
            address: self.your_address,
            prefix,
            router: self.addresses(OPT_ROUTER).first().copied(),
            dns: self.addresses(OPT_DNS),
            domain: self.text(OPT_DOMAIN),
            server,
            lease_secs: self
                .option(OPT_LEASE_TIME)
                .and_then(|d| d.try_into().ok())
                .map(u32::from_be_bytes),
            boot_file: self
                .text(OPT_BOOTFILE)
                .or_else(|| Some(self.file.clone()).filter(|f| !f.is_empty())),
            next_server: (!self.server_address.is_unspecified())
                .then(|| self.server_address.to_string())
                .or_else(|| self.text(OPT_TFTP_SERVER)),
        }
    }
}

/// Runs the exchange on `interface` (up, with hardware address `mac`) until `deadline`,
/// retransmitting with RFC 2131's doubling back-off from 1 s.
pub fn obtain_lease(interface: &str, mac: [u8; 6], deadline: Instant) -> Result<Lease, String> {
    let context = |what: &str, e: std::io::Error| {
        format!("dhcp: {interface}: {what}: {}", crate::util::reason(&e))
    };
    let socket = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68))
        .map_err(|e| context("bind port 68", e))?;
    crate::sys::bind_to_device(&socket, interface).map_err(|e| context("SO_BINDTODEVICE", e))?;
    socket
        .set_broadcast(true)
        .map_err(|e| context("SO_BROADCAST", e))?;
    let xid = transaction_id(&mac);
    let server = SocketAddrV4::new(Ipv4Addr::BROADCAST, 67);

    let exchange = |message: &[u8], wanted: &[u8]| -> Result<Reply, String> {
        let mut wait = Duration::from_secs(1);
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(format!("dhcp: {interface}: no answer from a DHCP server"));
            }
            socket
                .send_to(message, server)
                .map_err(|e| context("send", e))?;
            let round_end = (now + wait).min(deadline);
            while let Some(left) = round_end
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())
            {
                let _ = socket.set_read_timeout(Some(left));
                let mut buf = [0u8; 1500];
                let Ok((len, _)) = socket.recv_from(&mut buf) else {
                    break;
                };
                let Some(reply) = parse_reply(&buf[..len]) else {
                    continue;
                };
                if reply.xid != xid {
                    continue;
                }
                match reply.message_type() {
                    Some(NAK) => {
                        return Err(format!("dhcp: {interface}: the server refused (DHCPNAK)"))
                    }
                    Some(t) if wanted.contains(&t) => return Ok(reply),
                    _ => continue,
                }
            }
            wait = (wait * 2).min(Duration::from_secs(8));
        }
    };

    let offer = exchange(&build_message(DISCOVER, xid, mac, None), &[OFFER])?;
    let offered = offer.to_lease(interface);
    let request = build_message(REQUEST, xid, mac, Some((offered.address, offered.server)));
    let ack = exchange(&request, &[ACK])?;
    Ok(ack.to_lease(interface))
}

/// Distinct per machine and per boot without a random source: the MAC and the clock.
fn transaction_id(mac: &[u8; 6]) -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    u32::from_be_bytes([mac[2], mac[3], mac[4], mac[5]]) ^ nanos
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ACK laid out by hand from RFC 2131 §2 and RFC 2132, the way QEMU's built-in
    /// server (slirp) sends one: broadcast, siaddr and the file field set.
    fn slirp_like_ack() -> Vec<u8> {
        let mut p = vec![0u8; 240];
        p[0] = 2;
        p[1] = 1;
        p[2] = 6;
        p[4..8].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        p[16..20].copy_from_slice(&[10, 0, 2, 15]);
        p[20..24].copy_from_slice(&[10, 0, 2, 2]);
        p[108..108 + 26].copy_from_slice(b"http://10.0.2.2/kboot.toml");
        p[236..240].copy_from_slice(&[99, 130, 83, 99]);
        p.extend_from_slice(&[53, 1, 5]);
        p.extend_from_slice(&[54, 4, 10, 0, 2, 2]);
        p.extend_from_slice(&[51, 4, 0, 1, 0x51, 0x80]);
        p.extend_from_slice(&[1, 4, 255, 255, 255, 0]);
        p.extend_from_slice(&[3, 4, 10, 0, 2, 2]);
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(&[6, 8, 10, 0, 2, 3, 1, 1, 1, 1]);
        p.extend_from_slice(&[15, 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e']);
        p.push(255);
        p
    }

    #[test]
    fn an_ack_becomes_a_lease() {
        let reply = parse_reply(&slirp_like_ack()).expect("well-formed");
        assert_eq!(reply.xid, 0xdeadbeef);
        assert_eq!(reply.message_type(), Some(ACK));
        let lease = reply.to_lease("eth0");
        assert_eq!(lease.address, Ipv4Addr::new(10, 0, 2, 15));
        assert_eq!(lease.prefix, 24);
        assert_eq!(lease.router, Some(Ipv4Addr::new(10, 0, 2, 2)));
        assert_eq!(
            lease.dns,
            vec![Ipv4Addr::new(10, 0, 2, 3), Ipv4Addr::new(1, 1, 1, 1)]
        );
        assert_eq!(lease.domain.as_deref(), Some("example"));
        assert_eq!(lease.server, Ipv4Addr::new(10, 0, 2, 2));
        assert_eq!(lease.lease_secs, Some(86400));
        assert_eq!(
            lease.boot_file.as_deref(),
            Some("http://10.0.2.2/kboot.toml")
        );
        assert_eq!(lease.next_server.as_deref(), Some("10.0.2.2"));
    }

    #[test]
    fn requests_follow_the_rfc_layout() {
        let mac = [0x52, 0x54, 0, 0x12, 0x34, 0x56];
        let m = build_message(
            REQUEST,
            7,
            mac,
            Some((Ipv4Addr::new(10, 0, 2, 15), Ipv4Addr::new(10, 0, 2, 2))),
        );
        assert!(m.len() >= 300);
        assert_eq!((m[0], m[1], m[2]), (1, 1, 6));
        assert_eq!(&m[4..8], &[0, 0, 0, 7]);
        assert_eq!(&m[10..12], &[0x80, 0]);
        assert_eq!(&m[28..34], &mac);
        assert_eq!(&m[236..240], &[99, 130, 83, 99]);
        assert_eq!(&m[240..243], &[53, 1, 3]);
        assert_eq!(&m[243..249], &[50, 4, 10, 0, 2, 15]);
        assert_eq!(&m[249..255], &[54, 4, 10, 0, 2, 2]);
    }

    #[test]
    fn malformed_replies_are_ignored() {
        let good = slirp_like_ack();
        assert!(parse_reply(&good[..239]).is_none());
        let mut request = good.clone();
        request[0] = 1;
        assert!(parse_reply(&request).is_none());
        let mut cookie = good.clone();
        cookie[237] = 0;
        assert!(parse_reply(&cookie).is_none());
        // An option whose length runs past the end.
        let mut cut = good[..240].to_vec();
        cut.extend_from_slice(&[53, 9, 5]);
        assert!(parse_reply(&cut).is_none());
        for len in 0..good.len() {
            let _ = parse_reply(&good[..len]);
        }
    }
}
