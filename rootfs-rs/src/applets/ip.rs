//! ip: show and configure links, addresses and IPv4 routes over rtnetlink:
//! `ip link|addr|route [show]`, `ip link set DEV up|down`, `ip addr add|del A/N dev DEV`,
//! `ip route add|del default|NET/N [via GW] [dev DEV]`.
use crate::net::netlink;

use std::ffi::OsString;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink::{ifinfo, Addr, Link, Message, Route};
use netlink::{AF_INET, AF_INET6, IFF_UP, NLM_F_ACK};

const USAGE: &str = "usage: ip [-4|-6] link|addr|route [show [dev DEV]]
       ip link set [dev] DEV up|down
       ip addr add|del ADDR/LEN [broadcast BRD] dev DEV
       ip route add|del default|NET/LEN [via GATEWAY] [dev DEV]
Show and change network configuration (rtnetlink).";

fn fail(msg: impl std::fmt::Display) -> i32 {
    crate::warn!("ip: {msg}");
    1
}

pub fn main(args: &[OsString]) -> i32 {
    let mut words: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut family: Option<u8> = None;
    while let Some(first) = words.first().cloned() {
        match first.as_str() {
            "-4" => family = Some(AF_INET),
            "-6" => family = Some(AF_INET6),
            "--help" | "help" | "-h" => {
                return crate::util::finish("ip", writeln!(std::io::stdout(), "{USAGE}").map(|_| 0))
            }
            _ => break,
        }
        words.remove(0);
    }
    let Some(object) = words.first().cloned() else {
        return crate::util::args::Parser::usage_error("ip", USAGE, "missing object", 1);
    };
    let rest = &words[1..];
    let verb = rest.first().map(|s| s.as_str()).unwrap_or("show");
    let result = match (
        prefix_of(&object, &["link", "addr", "address", "route"]),
        verb,
    ) {
        (Some("link"), v) if is_show(v) => show_links(dev_filter(rest), None),
        (Some("link"), "set") => link_set(&rest[1..]),
        (Some("addr" | "address"), v) if is_show(v) => show_links(dev_filter(rest), Some(family)),
        (Some("addr" | "address"), "add" | "del" | "delete") => {
            addr_change(verb == "add", &rest[1..])
        }
        (Some("route"), v) if is_show(v) => show_routes(),
        (Some("route"), "add" | "del" | "delete") => route_change(verb == "add", &rest[1..]),
        (Some(_), other) => Err(format!("unknown command '{other}'")),
        (None, _) => Err(format!("object \"{object}\" is unknown, try \"ip help\"")),
    };
    match result {
        Ok(()) => 0,
        // A reader that went away (ip a | head) is a quiet exit.
        Err(msg) if msg.is_empty() => 141,
        Err(msg) => fail(msg),
    }
}

/// Write the listing; a closed pipe becomes the empty error (quiet exit).
fn emit(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if crate::util::io::is_broken_pipe(&e) => Err(String::new()),
        Err(e) => Err(crate::util::reason(&e)),
    }
}

fn is_show(v: &str) -> bool {
    matches!(v, "show" | "list" | "ls" | "lst" | "sh" | "s" | "dev")
}

/// `ip a` means addr: accept unambiguous prefixes like iproute2.
fn prefix_of<'a>(word: &str, choices: &[&'a str]) -> Option<&'a str> {
    choices
        .iter()
        .copied()
        .find(|c| c.starts_with(word) && !word.is_empty())
}

fn dev_filter(rest: &[String]) -> Option<String> {
    let mut it = rest.iter().skip_while(|w| is_show(w) && *w != "dev");
    match it.next().map(|s| s.as_str()) {
        Some("dev") => it.next().cloned(),
        Some(name) => Some(name.to_string()),
        None => None,
    }
}

fn link_index(name: &str) -> Result<u32, String> {
    let links =
        netlink::links().map_err(|e| format!("cannot list links: {}", crate::util::reason(&e)))?;
    links
        .iter()
        .find(|l| l.name == name)
        .map(|l| l.index)
        .ok_or_else(|| format!("Device \"{name}\" does not exist."))
}

fn flag_names(l: &Link) -> String {
    const NAMES: [(u32, &str); 9] = [
        (0x8, "LOOPBACK"),
        (0x2, "BROADCAST"),
        (0x10, "POINTOPOINT"),
        (0x1000, "MULTICAST"),
        (0x80, "NOARP"),
        (0x200, "ALLMULTI"),
        (0x100, "PROMISC"),
        (0x1, "UP"),
        (0x10000, "LOWER_UP"),
    ];
    let mut names: Vec<&str> = Vec::new();
    if l.flags & IFF_UP != 0 && l.flags & 0x40 == 0 {
        names.push("NO-CARRIER");
    }
    names.extend(
        NAMES
            .iter()
            .filter(|(bit, _)| l.flags & bit != 0)
            .map(|(_, n)| *n),
    );
    names.join(",")
}

fn mac(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn ip_text(family: u8, bytes: &[u8]) -> String {
    match (family, bytes.len()) {
        (AF_INET, 4) => Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        (AF_INET6, 16) => {
            let mut a = [0u8; 16];
            a.copy_from_slice(bytes);
            Ipv6Addr::from(a).to_string()
        }
        _ => "?".into(),
    }
}

fn scope_name(scope: u8) -> String {
    match scope {
        0 => "global".into(),
        200 => "site".into(),
        253 => "link".into(),
        254 => "host".into(),
        255 => "nowhere".into(),
        n => n.to_string(),
    }
}

fn link_lines(l: &Link) -> String {
    const STATES: [&str; 7] = [
        "UNKNOWN",
        "NOTPRESENT",
        "DOWN",
        "LOWERLAYERDOWN",
        "TESTING",
        "DORMANT",
        "UP",
    ];
    let state = STATES
        .get(l.operstate as usize)
        .copied()
        .unwrap_or("UNKNOWN");
    let kind = match l.kind {
        1 => "link/ether".to_string(),
        772 => "link/loopback".to_string(),
        65534 => "link/none".to_string(),
        n => format!("link/[{n}]"),
    };
    let mut s = format!(
        "{}: {}: <{}> mtu {} state {state}\n    {kind}",
        l.index,
        l.name,
        flag_names(l),
        l.mtu
    );
    if !l.address.is_empty() {
        s.push_str(&format!(" {} brd {}", mac(&l.address), mac(&l.broadcast)));
    }
    s
}

fn addr_line(a: &Addr, link_name: &str) -> String {
    let local = if a.local.is_empty() {
        &a.address
    } else {
        &a.local
    };
    let family = if a.family == AF_INET { "inet" } else { "inet6" };
    let mut s = format!("    {family} {}/{}", ip_text(a.family, local), a.prefix);
    if !a.local.is_empty() && !a.address.is_empty() && a.local != a.address {
        s = format!(
            "    {family} {} peer {}/{}",
            ip_text(a.family, &a.local),
            ip_text(a.family, &a.address),
            a.prefix
        );
    }
    if !a.broadcast.is_empty() {
        s.push_str(&format!(" brd {}", ip_text(a.family, &a.broadcast)));
    }
    s.push_str(&format!(" scope {}", scope_name(a.scope)));
    if a.family == AF_INET {
        s.push_str(&format!(" {link_name}"));
    }
    s
}

/// `ip link` (addresses = None) or `ip addr` (Some(family filter)).
fn show_links(dev: Option<String>, addresses: Option<Option<u8>>) -> Result<(), String> {
    let links =
        netlink::links().map_err(|e| format!("cannot list links: {}", crate::util::reason(&e)))?;
    if let Some(d) = &dev {
        if !links.iter().any(|l| &l.name == d) {
            return Err(format!("Device \"{d}\" does not exist."));
        }
    }
    let addrs = match addresses {
        Some(_) => netlink::addrs()
            .map_err(|e| format!("cannot list addresses: {}", crate::util::reason(&e)))?,
        None => Vec::new(),
    };
    let mut text = String::new();
    for l in links
        .iter()
        .filter(|l| dev.as_ref().is_none_or(|d| &l.name == d))
    {
        text.push_str(&link_lines(l));
        text.push('\n');
        if let Some(family) = addresses {
            for a in addrs
                .iter()
                .filter(|a| a.index == l.index && family.is_none_or(|f| f == a.family))
            {
                text.push_str(&addr_line(a, &l.name));
                text.push('\n');
            }
        }
    }
    emit(&text)
}

fn route_line(r: &Route, links: &[Link]) -> String {
    let mut s = if r.dst_len == 0 {
        "default".to_string()
    } else if r.dst_len == 32 {
        ip_text(r.family, &r.dst)
    } else {
        format!("{}/{}", ip_text(r.family, &r.dst), r.dst_len)
    };
    if !r.gateway.is_empty() {
        s.push_str(&format!(" via {}", ip_text(r.family, &r.gateway)));
    }
    if r.oif != 0 {
        let name = links
            .iter()
            .find(|l| l.index == r.oif)
            .map(|l| l.name.clone())
            .unwrap_or_else(|| format!("if{}", r.oif));
        s.push_str(&format!(" dev {name}"));
    }
    match r.protocol {
        3 => {}
        2 => s.push_str(" proto kernel"),
        4 => s.push_str(" proto static"),
        16 => s.push_str(" proto dhcp"),
        p => s.push_str(&format!(" proto {p}")),
    }
    if r.scope != 0 {
        s.push_str(&format!(" scope {}", scope_name(r.scope)));
    }
    if !r.prefsrc.is_empty() {
        s.push_str(&format!(" src {}", ip_text(r.family, &r.prefsrc)));
    }
    if let Some(m) = r.priority {
        s.push_str(&format!(" metric {m}"));
    }
    s
}

fn show_routes() -> Result<(), String> {
    let links =
        netlink::links().map_err(|e| format!("cannot list links: {}", crate::util::reason(&e)))?;
    let routes = netlink::routes(AF_INET)
        .map_err(|e| format!("cannot list routes: {}", crate::util::reason(&e)))?;
    let mut text = String::new();
    for r in routes
        .iter()
        .filter(|r| r.table == u32::from(netlink::RT_TABLE_MAIN) && r.family == AF_INET)
    {
        text.push_str(&route_line(r, &links));
        text.push('\n');
    }
    emit(&text)
}

fn link_set(args: &[String]) -> Result<(), String> {
    let args: Vec<&str> = args
        .iter()
        .map(|s| s.as_str())
        .filter(|s| *s != "dev")
        .collect();
    let [name, state] = args.as_slice() else {
        return Err("usage: ip link set DEV up|down".into());
    };
    let flags = match *state {
        "up" => IFF_UP,
        "down" => 0,
        other => return Err(format!("unsupported link setting '{other}' (only up/down)")),
    };
    let index = link_index(name)?;
    let msg = Message::new(
        netlink::RTM_NEWLINK,
        NLM_F_ACK,
        &ifinfo(index as i32, flags, IFF_UP),
    );
    netlink::transact(msg)
        .map(|_| ())
        .map_err(|e| format!("{name}: {}", crate::util::reason(&e)))
}

/// "A.B.C.D/N" or "default".
fn parse_prefix(text: &str) -> Result<(IpAddr, u8), String> {
    if text == "default" {
        return Ok((IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0));
    }
    let (addr, len) = text.split_once('/').unwrap_or((text, ""));
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("invalid address \"{addr}\""))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = if len.is_empty() {
        max
    } else {
        len.parse()
            .ok()
            .filter(|&l| l <= max)
            .ok_or_else(|| format!("invalid prefix length \"{len}\""))?
    };
    Ok((ip, len))
}

fn ip_bytes(ip: &IpAddr) -> (u8, Vec<u8>) {
    match ip {
        IpAddr::V4(a) => (AF_INET, a.octets().to_vec()),
        IpAddr::V6(a) => (AF_INET6, a.octets().to_vec()),
    }
}

/// Pairs like `dev eth0 via 1.2.3.4` after the first (prefix) word.
fn keywords<'a>(args: &'a [String], allowed: &[&str]) -> Result<Vec<(&'a str, &'a str)>, String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(k) = it.next() {
        if !allowed.contains(&k.as_str()) {
            return Err(format!("unknown argument \"{k}\""));
        }
        let v = it
            .next()
            .ok_or_else(|| format!("argument missing after \"{k}\""))?;
        out.push((k.as_str(), v.as_str()));
    }
    Ok(out)
}

fn addr_change(add: bool, args: &[String]) -> Result<(), String> {
    let Some((prefix, rest)) = args.split_first() else {
        return Err("missing address".into());
    };
    let (ip, len) = parse_prefix(prefix)?;
    let kw = keywords(rest, &["dev", "broadcast", "brd", "label"])?;
    let dev = kw
        .iter()
        .find(|(k, _)| *k == "dev")
        .map(|(_, v)| *v)
        .ok_or("missing \"dev\"")?;
    let index = link_index(dev)?;
    let (family, bytes) = ip_bytes(&ip);
    let broadcast = match kw.iter().find(|(k, _)| *k == "broadcast" || *k == "brd") {
        Some((_, brd)) => Some(
            brd.parse::<Ipv4Addr>()
                .map_err(|_| format!("invalid broadcast \"{brd}\""))?
                .octets(),
        ),
        None => None,
    };
    netlink::change_address(add, family, &bytes, len, index, broadcast)
        .map_err(|e| format!("RTNETLINK answers: {}", crate::util::reason(&e)))
}

fn route_change(add: bool, args: &[String]) -> Result<(), String> {
    let Some((prefix, rest)) = args.split_first() else {
        return Err("missing route destination".into());
    };
    let (dst, len) = parse_prefix(prefix)?;
    let kw = keywords(rest, &["via", "dev", "metric"])?;
    let (family, dst_bytes) = ip_bytes(&dst);
    let via = kw
        .iter()
        .find(|(k, _)| *k == "via")
        .map(|(_, v)| {
            v.parse::<IpAddr>()
                .map_err(|_| format!("invalid gateway \"{v}\""))
        })
        .transpose()?;
    let dev = kw
        .iter()
        .find(|(k, _)| *k == "dev")
        .map(|(_, v)| link_index(v))
        .transpose()?;
    if via.is_none() && dev.is_none() {
        return Err("need \"via GATEWAY\" or \"dev DEV\"".into());
    }
    let gateway = via.map(|g| ip_bytes(&g).1);
    netlink::change_route(add, family, &dst_bytes, len, gateway.as_deref(), dev)
        .map_err(|e| format!("RTNETLINK answers: {}", crate::util::reason(&e)))
}
