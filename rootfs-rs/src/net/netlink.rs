//! Minimal rtnetlink client: build requests (links, addresses, routes), send them on a
//! NETLINK_ROUTE socket, and parse the replies into plain structs. Layouts from
//! linux/netlink.h, linux/rtnetlink.h, linux/if_link.h and linux/if_addr.h.
use std::io;
use std::os::fd::OwnedFd;

use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketType};

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_DELADDR: u16 = 21;
pub const RTM_GETADDR: u16 = 22;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_DELROUTE: u16 = 25;
pub const RTM_GETROUTE: u16 = 26;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;

pub const IFF_UP: u32 = 0x1;
pub const AF_INET: u8 = 2;
pub const AF_INET6: u8 = 10;

const IFLA_ADDRESS: u16 = 1;
const IFLA_BROADCAST: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_OPERSTATE: u16 = 16;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_PREFSRC: u16 = 7;
const RTA_TABLE: u16 = 15;
pub const RT_TABLE_MAIN: u8 = 254;

/// A request being built: header, fixed part, then attributes.
pub struct Message {
    buf: Vec<u8>,
}

impl Message {
    pub fn new(kind: u16, flags: u16, fixed: &[u8]) -> Message {
        let mut buf = vec![0u8; 16];
        buf[4..6].copy_from_slice(&kind.to_ne_bytes());
        buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        buf[8..12].copy_from_slice(&1u32.to_ne_bytes());
        buf.extend_from_slice(fixed);
        pad(&mut buf);
        Message { buf }
    }

    pub fn attr(mut self, kind: u16, data: &[u8]) -> Message {
        let len = (4 + data.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        pad(&mut self.buf);
        self
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

fn pad(buf: &mut Vec<u8>) {
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

/// ifinfomsg: family, type, index, flags, change.
pub fn ifinfo(index: i32, flags: u32, change: u32) -> Vec<u8> {
    let mut v = vec![0u8; 4];
    v.extend_from_slice(&index.to_ne_bytes());
    v.extend_from_slice(&flags.to_ne_bytes());
    v.extend_from_slice(&change.to_ne_bytes());
    v
}

/// ifaddrmsg: family, prefix length, flags, scope, index.
pub fn ifaddr(family: u8, prefix: u8, index: u32) -> Vec<u8> {
    let mut v = vec![family, prefix, 0, 0];
    v.extend_from_slice(&index.to_ne_bytes());
    v
}

/// rtmsg for a main-table unicast route.
pub fn rtmsg(family: u8, dst_len: u8, protocol: u8, scope: u8) -> Vec<u8> {
    let mut v = vec![family, dst_len, 0, 0, RT_TABLE_MAIN, protocol, scope, 1];
    v.extend_from_slice(&0u32.to_ne_bytes());
    v
}

/// Attribute ids the `ip` front end needs when building requests.

fn open() -> io::Result<OwnedFd> {
    let fd = rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )?;
    rustix::net::bind(&fd, &rustix::net::netlink::SocketAddrNetlink::new(0, 0))?;
    Ok(fd)
}

/// Send one request and collect reply payloads (type, body after the header) until DONE
/// or the ACK; a negative error code becomes an io::Error.
pub fn transact(msg: Message) -> io::Result<Vec<(u16, Vec<u8>)>> {
    let fd = open()?;
    let request = msg.finish();
    let is_dump = u16::from_ne_bytes([request[6], request[7]]) & NLM_F_DUMP == NLM_F_DUMP;
    rustix::net::sendto(
        &fd,
        &request,
        SendFlags::empty(),
        &rustix::net::netlink::SocketAddrNetlink::new(0, 0),
    )?;
    let mut replies = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let (n, _) = rustix::net::recv(&fd, &mut buf, RecvFlags::empty())?;
        let mut off = 0;
        while off + 16 <= n {
            let len =
                u32::from_ne_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]]) as usize;
            let kind = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
            if len < 16 || off + len > n {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "truncated netlink message",
                ));
            }
            let body = &buf[off + 16..off + len];
            match kind {
                NLMSG_DONE => return Ok(replies),
                NLMSG_ERROR => {
                    let code = body
                        .get(0..4)
                        .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                        .unwrap_or(0);
                    if code != 0 {
                        return Err(io::Error::from_raw_os_error(-code));
                    }
                    if !is_dump {
                        return Ok(replies);
                    }
                }
                _ => replies.push((kind, body.to_vec())),
            }
            off += (len + 3) & !3;
        }
        if n == 0 {
            return Ok(replies);
        }
    }
}

/// Walk the rtattrs in `data`.
fn attrs(data: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 4 <= data.len() {
        let len = u16::from_ne_bytes([data[off], data[off + 1]]) as usize;
        let kind = u16::from_ne_bytes([data[off + 2], data[off + 3]]) & 0x3fff;
        if len < 4 || off + len > data.len() {
            break;
        }
        out.push((kind, &data[off + 4..off + len]));
        off += (len + 3) & !3;
    }
    out
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map(|x| u32::from_ne_bytes([x[0], x[1], x[2], x[3]]))
        .unwrap_or(0)
}

#[derive(Debug, Default, Clone)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub kind: u16,
    pub flags: u32,
    pub mtu: u32,
    pub operstate: u8,
    pub address: Vec<u8>,
    pub broadcast: Vec<u8>,
}

pub fn parse_link(body: &[u8]) -> Option<Link> {
    if body.len() < 16 {
        return None;
    }
    let mut l = Link {
        kind: u16::from_ne_bytes([body[2], body[3]]),
        index: u32_at(body, 4),
        flags: u32_at(body, 8),
        ..Link::default()
    };
    for (k, v) in attrs(&body[16..]) {
        match k {
            IFLA_IFNAME => {
                l.name =
                    String::from_utf8_lossy(v.split(|&b| b == 0).next().unwrap_or(&[])).into_owned()
            }
            IFLA_MTU => l.mtu = u32_at(v, 0),
            IFLA_OPERSTATE => l.operstate = v.first().copied().unwrap_or(0),
            IFLA_ADDRESS => l.address = v.to_vec(),
            IFLA_BROADCAST => l.broadcast = v.to_vec(),
            _ => {}
        }
    }
    Some(l)
}

#[derive(Debug, Default, Clone)]
pub struct Addr {
    pub family: u8,
    pub prefix: u8,
    pub scope: u8,
    pub index: u32,
    pub local: Vec<u8>,
    pub address: Vec<u8>,
    pub broadcast: Vec<u8>,
}

pub fn parse_addr(body: &[u8]) -> Option<Addr> {
    if body.len() < 8 {
        return None;
    }
    let mut a = Addr {
        family: body[0],
        prefix: body[1],
        scope: body[3],
        index: u32_at(body, 4),
        ..Addr::default()
    };
    for (k, v) in attrs(&body[8..]) {
        match k {
            IFA_LOCAL => a.local = v.to_vec(),
            IFA_ADDRESS => a.address = v.to_vec(),
            IFA_BROADCAST => a.broadcast = v.to_vec(),
            _ => {}
        }
    }
    Some(a)
}

#[derive(Debug, Default, Clone)]
pub struct Route {
    pub family: u8,
    pub dst_len: u8,
    pub table: u32,
    pub protocol: u8,
    pub scope: u8,
    pub kind: u8,
    pub dst: Vec<u8>,
    pub gateway: Vec<u8>,
    pub oif: u32,
    pub prefsrc: Vec<u8>,
    pub priority: Option<u32>,
}

pub fn parse_route(body: &[u8]) -> Option<Route> {
    if body.len() < 12 {
        return None;
    }
    let mut r = Route {
        family: body[0],
        dst_len: body[1],
        table: u32::from(body[4]),
        protocol: body[5],
        scope: body[6],
        kind: body[7],
        ..Route::default()
    };
    for (k, v) in attrs(&body[12..]) {
        match k {
            RTA_DST => r.dst = v.to_vec(),
            RTA_GATEWAY => r.gateway = v.to_vec(),
            RTA_OIF => r.oif = u32_at(v, 0),
            RTA_PREFSRC => r.prefsrc = v.to_vec(),
            RTA_PRIORITY => r.priority = Some(u32_at(v, 0)),
            RTA_TABLE => r.table = u32_at(v, 0),
            _ => {}
        }
    }
    Some(r)
}

pub fn links() -> io::Result<Vec<Link>> {
    let replies = transact(Message::new(RTM_GETLINK, NLM_F_DUMP, &ifinfo(0, 0, 0)))?;
    Ok(replies
        .iter()
        .filter(|(k, _)| *k == RTM_NEWLINK)
        .filter_map(|(_, b)| parse_link(b))
        .collect())
}

pub fn addrs() -> io::Result<Vec<Addr>> {
    let replies = transact(Message::new(RTM_GETADDR, NLM_F_DUMP, &ifaddr(0, 0, 0)))?;
    Ok(replies
        .iter()
        .filter(|(k, _)| *k == RTM_NEWADDR)
        .filter_map(|(_, b)| parse_addr(b))
        .collect())
}

pub fn routes(family: u8) -> io::Result<Vec<Route>> {
    let replies = transact(Message::new(
        RTM_GETROUTE,
        NLM_F_DUMP,
        &rtmsg(family, 0, 0, 0),
    ))?;
    Ok(replies
        .iter()
        .filter(|(k, _)| *k == RTM_NEWROUTE)
        .filter_map(|(_, b)| parse_route(b))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout_and_attribute_walk() {
        let m = Message::new(RTM_NEWADDR, NLM_F_ACK, &ifaddr(AF_INET, 24, 3))
            .attr(IFA_LOCAL, &[10, 0, 0, 1])
            .finish();
        assert_eq!(m.len(), 16 + 8 + 8);
        assert_eq!(
            u32::from_ne_bytes([m[0], m[1], m[2], m[3]]) as usize,
            m.len()
        );
        let a = parse_addr(&m[16..]);
        assert_eq!(
            a.as_ref()
                .map(|a| (a.family, a.prefix, a.index, a.local.clone())),
            Some((AF_INET, 24, 3, vec![10, 0, 0, 1]))
        );
        assert!(parse_route(&[0u8; 4]).is_none());
    }
}

/// Sets IFF_UP on interface `index` (PID 1 uses it for loopback, always index 1).
pub fn set_link_up(index: i32) -> io::Result<()> {
    transact(Message::new(
        RTM_NEWLINK,
        NLM_F_ACK,
        &ifinfo(index, IFF_UP, IFF_UP),
    ))
    .map(|_| ())
}

/// Adds (or deletes) address `local/prefix` on interface `index`, as `ip addr add|del`.
pub fn change_address(
    add: bool,
    family: u8,
    local: &[u8],
    prefix: u8,
    index: u32,
    broadcast: Option<[u8; 4]>,
) -> io::Result<()> {
    let (kind, flags) = if add {
        (RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL)
    } else {
        (RTM_DELADDR, NLM_F_ACK)
    };
    let mut msg = Message::new(kind, flags, &ifaddr(family, prefix, index))
        .attr(IFA_LOCAL, local)
        .attr(IFA_ADDRESS, local);
    if let Some(b) = broadcast {
        msg = msg.attr(IFA_BROADCAST, &b);
    }
    transact(msg).map(|_| ())
}

/// Adds (or deletes) a main-table route to `dst/dst_len` (length 0: the default route)
/// via `gateway` and/or out of interface `oif`, as `ip route add|del`.
pub fn change_route(
    add: bool,
    family: u8,
    dst: &[u8],
    dst_len: u8,
    gateway: Option<&[u8]>,
    oif: Option<u32>,
) -> io::Result<()> {
    let (kind, flags) = if add {
        (RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL)
    } else {
        (RTM_DELROUTE, NLM_F_ACK)
    };
    // Routes without a gateway are on-link (scope link); protocol 3 is "boot", as
    // iproute2 marks routes set by hand.
    let scope = if gateway.is_none() { 253 } else { 0 };
    let mut msg = Message::new(kind, flags, &rtmsg(family, dst_len, 3, scope));
    if dst_len > 0 {
        msg = msg.attr(RTA_DST, dst);
    }
    if let Some(g) = gateway {
        msg = msg.attr(RTA_GATEWAY, g);
    }
    if let Some(i) = oif {
        msg = msg.attr(RTA_OIF, &i.to_ne_bytes());
    }
    transact(msg).map(|_| ())
}
