//! Sockets like `netstat -a`: TCP (listening and established hashes of inet_hashinfo), UDP
//! (udp_table) and raw sockets (raw_v4_hashinfo, raw_v6_hashinfo) for IPv4 and IPv6, and
//! unix sockets (per-netns table or unix_socket_table).

use super::net::{be_addr, ipv4_text};
use crate::dump::error::DumpError;
use crate::dump::kernel::lists::{hlist_from, hlist_nulls_from, ListIter};
use crate::dump::kernel::x86_64::KernelMemory;
use crate::dump::kernel::Dump;
use crate::dump::Value;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Socket {
    /// "tcp", "tcp6", "udp", "udp6", "raw", "raw6", "unix".
    pub proto: String,
    pub local: String,
    pub remote: String,
    /// TCP state name; for unix LISTENING / CONNECTED / UNCONNECTED; UDP and raw "UNCONN"
    /// or ESTABLISHED.
    pub state: String,
    /// Bound path of a unix socket ("@name" for abstract ones).
    pub path: Option<String>,
    /// "STREAM", "DGRAM", "SEQPACKET" for unix sockets; the IP protocol a raw socket was
    /// opened for ("icmp", "icmpv6", …, or its number), which is also its local "port".
    pub kind: Option<String>,
}

const AF_INET: u64 = 2;
const AF_INET6: u64 = 10;
const TCP_ESTABLISHED: u64 = 1;
const TCP_CLOSE: u64 = 7;
const TCP_LISTEN: u64 = 10;
const MAX_BUCKETS: u64 = 1 << 24;
const MAX_PER_CHAIN: usize = 100_000;

pub fn tcp_state_name(state: u64) -> &'static str {
    const NAMES: [&str; 13] = [
        "?",
        "ESTABLISHED",
        "SYN_SENT",
        "SYN_RECV",
        "FIN_WAIT1",
        "FIN_WAIT2",
        "TIME_WAIT",
        "CLOSE",
        "CLOSE_WAIT",
        "LAST_ACK",
        "LISTEN",
        "CLOSING",
        "NEW_SYN_RECV",
    ];
    NAMES.get(state as usize).copied().unwrap_or("?")
}

fn ipv6_text(b: &[u8]) -> String {
    let words: Vec<u16> = b
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]))
        .collect();
    // Longest run of zero words becomes "::".
    let (mut best, mut run) = ((0usize, 0usize), (0usize, 0usize));
    for (i, &w) in words.iter().enumerate() {
        if w == 0 {
            run = if run.1 == 0 {
                (i, 1)
            } else {
                (run.0, run.1 + 1)
            };
            if run.1 > best.1 {
                best = run;
            }
        } else {
            run = (0, 0);
        }
    }
    let hex = |ws: &[u16]| {
        ws.iter()
            .map(|w| format!("{w:x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    if best.1 < 2 {
        return hex(&words);
    }
    format!(
        "{}::{}",
        hex(&words[..best.0]),
        hex(&words[best.0 + best.1..])
    )
}

/// Address:port pair text of one end of an inet socket.
fn endpoint(sk: &Value<'_>, family: u64, local: bool) -> Result<String, DumpError> {
    let port = if local {
        sk.field("skc_num")?.as_u64()?
    } else {
        u64::from((sk.field("skc_dport")?.as_u64()? as u16).swap_bytes())
    };
    if family == AF_INET6 {
        let f = if local {
            "skc_v6_rcv_saddr"
        } else {
            "skc_v6_daddr"
        };
        let b = sk.field(f)?.bytes()?;
        return Ok(format!("[{}]:{port}", ipv6_text(&b)));
    }
    let f = if local { "skc_rcv_saddr" } else { "skc_daddr" };
    Ok(format!("{}:{port}", ipv4_text(be_addr(&sk.field(f)?)?)))
}

fn inet_socket(sk: &Value<'_>, proto: &str) -> Result<Option<Socket>, DumpError> {
    let family = sk.field("skc_family")?.as_u64()?;
    if family != AF_INET && family != AF_INET6 {
        return Ok(None);
    }
    let state = sk.field("skc_state")?.as_u64()?;
    let state_name = if proto == "udp" || proto == "raw" {
        if state == TCP_ESTABLISHED {
            "ESTABLISHED"
        } else {
            "UNCONN"
        }
    } else {
        tcp_state_name(state)
    };
    let kind = if proto == "raw" {
        Some(ip_protocol_name(sk.field("skc_num")?.as_u64()?))
    } else {
        None
    };
    Ok(Some(Socket {
        proto: if family == AF_INET6 {
            format!("{proto}6")
        } else {
            proto.to_string()
        },
        local: endpoint(sk, family, true)?,
        remote: endpoint(sk, family, false)?,
        state: state_name.to_string(),
        path: None,
        kind,
    }))
}

/// The first-node pointers of a bucket array: `count` buckets of `stride` bytes whose list
/// head lies `head_off` bytes in, read in one go.
pub fn bucket_heads(
    dump: &Dump,
    base: u64,
    count: u64,
    stride: u64,
    head_off: u64,
) -> Result<Vec<u64>, DumpError> {
    if count == 0 || count > MAX_BUCKETS || stride == 0 || stride > 4096 {
        return Err(DumpError::Format(format!(
            "hash table of {count} buckets × {stride} bytes is implausible"
        )));
    }
    let mut raw = vec![0u8; (count * stride) as usize];
    dump.read_virt(base, &mut raw)?;
    Ok((0..count as usize)
        .filter_map(|i| {
            let at = i * stride as usize + head_off as usize;
            let b: [u8; 8] = raw.get(at..at + 8)?.try_into().ok()?;
            Some(u64::from_le_bytes(b))
        })
        .collect())
}

/// Walks every chain, collecting sockets and the first errors.
fn walk<'d>(
    chains: impl Iterator<Item = Result<ListIter<'d>, DumpError>>,
    mut each: impl FnMut(&Value<'d>) -> Result<Option<Socket>, DumpError>,
    out: &mut Vec<Socket>,
    errors: &mut Vec<String>,
    what: &str,
) {
    for chain in chains {
        let entries = match chain {
            Ok(c) => c.limit(MAX_PER_CHAIN),
            Err(e) => {
                errors.push(format!("{what}: {e}"));
                return;
            }
        };
        for e in entries {
            match e.and_then(|sk| each(&sk)) {
                Ok(Some(s)) => out.push(s),
                Ok(None) => {}
                Err(e) => {
                    errors.push(format!("{what}: {e}"));
                    break;
                }
            }
        }
    }
}

/// The TCP hash tables: net->ipv4.tcp_death_row.hashinfo (6.1+) or the global tcp_hashinfo.
fn tcp_hashinfo(dump: &Dump) -> Result<Value<'_>, DumpError> {
    let net = dump.var("init_net")?;
    if net.has_field("ipv4.tcp_death_row.hashinfo") {
        let p = net.field("ipv4.tcp_death_row.hashinfo")?;
        if p.as_u64()? != 0 {
            return p.deref();
        }
    }
    dump.var("tcp_hashinfo")
}

fn size_of(dump: &Dump, spec: &str) -> Result<u64, DumpError> {
    dump.value_at(0, spec)?.size()
}

fn offset_in(dump: &Dump, spec: &str, member: &str) -> Result<u64, DumpError> {
    let crate::dump::kernel::types::Ty::Btf(id) =
        crate::dump::kernel::types::parse_type(&dump.btf, spec)?
    else {
        return Err(DumpError::Type(format!("{spec} is not a struct")));
    };
    crate::dump::kernel::types::offset_of(&dump.btf, id, member)
}

fn tcp_sockets(
    dump: &Dump,
    out: &mut Vec<Socket>,
    errors: &mut Vec<String>,
) -> Result<(), DumpError> {
    let h = tcp_hashinfo(dump)?;
    // Listening sockets: lhash2 buckets (5.19+: hlist_nulls of sock_common.skc_nulls_node;
    // before: hlist of inet_connection_sock.icsk_listen_portaddr_node).
    let lmask = h.field("lhash2_mask")?.as_u64()?;
    let lbase = h.field("lhash2")?.as_u64()?;
    let bucket = "struct inet_listen_hashbucket";
    let stride = size_of(dump, bucket)?;
    if offset_in(dump, bucket, "nulls_head").is_ok() && offset_in(dump, bucket, "head").is_err() {
        let head = offset_in(dump, bucket, "nulls_head")?;
        let heads = bucket_heads(dump, lbase, lmask.wrapping_add(1), stride, head)?;
        walk_inet_chains(dump, heads, true, "tcp", out, errors, "tcp listening hash");
    } else {
        let heads = bucket_heads(
            dump,
            lbase,
            lmask.wrapping_add(1),
            stride,
            offset_in(dump, bucket, "head")?,
        )?;
        let chains = heads.into_iter().filter(|&p| p != 0).map(|p| {
            hlist_from(
                dump,
                p,
                "struct inet_connection_sock",
                "icsk_listen_portaddr_node",
            )
        });
        walk(
            chains,
            |icsk| inet_socket(&icsk.cast("struct sock_common")?, "tcp"),
            out,
            errors,
            "tcp listening hash",
        );
    }
    // Established (and time-wait, request) sockets: every entry starts with a sock_common.
    let emask = h.field("ehash_mask")?.as_u64()?;
    let ebase = h.field("ehash")?.as_u64()?;
    let heads = bucket_heads(
        dump,
        ebase,
        emask.wrapping_add(1),
        size_of(dump, "struct inet_ehash_bucket")?,
        0,
    )?;
    walk_inet_chains(
        dump,
        heads,
        true,
        "tcp",
        out,
        errors,
        "tcp established hash",
    );
    Ok(())
}

/// Inet sockets of `proto` on the chains whose first node pointers are `heads`: hlist_nulls
/// chains of sock_common.skc_nulls_node (an odd pointer is an empty chain's nulls marker) or
/// NULL-terminated hlist chains of skc_node (the same union member).
fn walk_inet_chains(
    dump: &Dump,
    heads: Vec<u64>,
    nulls: bool,
    proto: &str,
    out: &mut Vec<Socket>,
    errors: &mut Vec<String>,
    what: &str,
) {
    let chains = heads
        .into_iter()
        .filter(|&p| p != 0 && !(nulls && p & 1 == 1))
        .map(|p| {
            if nulls {
                hlist_nulls_from(dump, p, "struct sock_common", "skc_nulls_node")
            } else {
                hlist_from(dump, p, "struct sock_common", "skc_node")
            }
        });
    walk(chains, |sk| inet_socket(sk, proto), out, errors, what);
}

fn udp_sockets(
    dump: &Dump,
    out: &mut Vec<Socket>,
    errors: &mut Vec<String>,
) -> Result<(), DumpError> {
    let net = dump.var("init_net")?;
    let table = match net.field("ipv4.udp_table") {
        Ok(p) if p.as_u64().is_ok_and(|a| a != 0) => p.deref()?,
        _ => dump.var("udp_table")?,
    };
    let mask = table.field("mask")?.as_u64()?;
    let heads = bucket_heads(
        dump,
        table.field("hash")?.as_u64()?,
        mask.wrapping_add(1),
        size_of(dump, "struct udp_hslot")?,
        0,
    )?;
    walk_inet_chains(dump, heads, false, "udp", out, errors, "udp table");
    Ok(())
}

/// The IP protocol a raw socket receives, as /etc/protocols names it (its number otherwise).
pub fn ip_protocol_name(number: u64) -> String {
    let known = [
        (1, "icmp"),
        (2, "igmp"),
        (6, "tcp"),
        (17, "udp"),
        (47, "gre"),
        (58, "icmpv6"),
        (89, "ospf"),
        (112, "vrrp"),
        (132, "sctp"),
        (255, "raw"),
    ];
    known
        .iter()
        .find(|(n, _)| *n == number)
        .map_or_else(|| number.to_string(), |(_, name)| name.to_string())
}

/// Raw sockets of one family: `struct raw_hashinfo` holds 256 chains. Up to 5.19 they are
/// hlist_heads (sk_add_node); 6.0 made them hlist_nulls_heads (sk_nulls_add_node_rcu) and
/// a later fix, also in 6.1 stable, hlist_heads again. Both node kinds are the same union
/// member of sock_common, so only the end marker differs (NULL, or an odd "nulls" value);
/// the element type tells which.
fn raw_table(
    dump: &Dump,
    symbol: &str,
    out: &mut Vec<Socket>,
    errors: &mut Vec<String>,
) -> Result<(), DumpError> {
    let h = dump.var(symbol)?;
    let first = h.field("ht")?.index(0)?;
    let nulls = first.type_name().contains("hlist_nulls_head");
    let stride = first.size()?;
    let count = h
        .field("ht")?
        .size()?
        .checked_div(stride)
        .ok_or_else(|| DumpError::Format(format!("{symbol}.ht: buckets of 0 bytes")))?;
    let heads = bucket_heads(dump, first.address(), count, stride, 0)?;
    let what = format!("raw table {symbol}");
    walk_inet_chains(dump, heads, nulls, "raw", out, errors, &what);
    Ok(())
}

fn raw_sockets(
    dump: &Dump,
    out: &mut Vec<Socket>,
    errors: &mut Vec<String>,
) -> Result<(), DumpError> {
    raw_table(dump, "raw_v4_hashinfo", out, errors)?;
    // IPv6 may be a module (its table is then not a kernel symbol) or absent.
    if dump.symbol("raw_v6_hashinfo").is_ok() {
        raw_table(dump, "raw_v6_hashinfo", out, errors)?;
    }
    Ok(())
}

/// UNIX_HASH_SIZE: 256 buckets for unbound and 256 for bound sockets (same before and
/// after the per-netns table of 5.19+).
const UNIX_BUCKETS: u64 = 512;

fn unix_socket(sk: &Value<'_>) -> Result<Option<Socket>, DumpError> {
    let u = sk.cast("struct unix_sock")?;
    let addr = u.field("addr")?;
    let path = if addr.as_u64()? == 0 {
        None
    } else {
        let len = addr.field("len")?.as_i64()?.clamp(2, 110) as u64;
        let name = addr.field("name")?;
        let dump = sk.dump();
        let mut b = vec![0u8; (len - 2) as usize];
        dump.read_virt(name.address().wrapping_add(2), &mut b)?;
        Some(match b.first() {
            Some(0) => format!("@{}", String::from_utf8_lossy(&b[1..])),
            _ => String::from_utf8_lossy(b.split(|&c| c == 0).next().unwrap_or(&[])).into_owned(),
        })
    };
    let kind = match sk.field("sk_type")?.as_u64()? {
        1 => "STREAM",
        2 => "DGRAM",
        5 => "SEQPACKET",
        _ => "?",
    };
    let state = match sk.field("__sk_common.skc_state")?.as_u64()? {
        TCP_LISTEN => "LISTENING",
        TCP_ESTABLISHED => "CONNECTED",
        TCP_CLOSE => "UNCONNECTED",
        _ => "?",
    };
    Ok(Some(Socket {
        proto: "unix".into(),
        local: path.clone().unwrap_or_default(),
        remote: String::new(),
        state: state.into(),
        path,
        kind: Some(kind.into()),
    }))
}

fn unix_sockets(
    dump: &Dump,
    out: &mut Vec<Socket>,
    errors: &mut Vec<String>,
) -> Result<(), DumpError> {
    let net = dump.var("init_net")?;
    let base = if net.has_field("unx.table.buckets") {
        net.field("unx.table.buckets")?.as_u64()?
    } else {
        dump.symbol("unix_socket_table")?
    };
    let heads = bucket_heads(dump, base, UNIX_BUCKETS, 8, 0)?;
    let chains = heads
        .into_iter()
        .filter(|&p| p != 0)
        .map(|p| hlist_from(dump, p, "struct sock", "__sk_common.skc_node"));
    walk(chains, unix_socket, out, errors, "unix socket table");
    Ok(())
}

/// Collects the sockets of one kind of table into the list, per-chain errors into the other.
type TableWalker = fn(&Dump, &mut Vec<Socket>, &mut Vec<String>) -> Result<(), DumpError>;

/// All sockets found, plus errors of the tables that could not be walked.
pub fn sockets(dump: &Dump) -> (Vec<Socket>, Vec<String>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let tables: [(&str, TableWalker); 4] = [
        ("tcp", tcp_sockets),
        ("udp", udp_sockets),
        ("raw", raw_sockets),
        ("unix", unix_sockets),
    ];
    for (name, f) in tables {
        if let Err(e) = f(dump, &mut out, &mut errors) {
            errors.push(format!("{name}: {e}"));
        }
    }
    (out, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_compress_the_longest_zero_run() {
        let mut lo = [0u8; 16];
        lo[15] = 1;
        assert_eq!(ipv6_text(&lo), "::1");
        assert_eq!(ipv6_text(&[0u8; 16]), "::");
        let a = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2];
        assert_eq!(ipv6_text(&a), "2001:db8::1:0:0:2");
        assert_eq!(tcp_state_name(10), "LISTEN");
        assert_eq!(tcp_state_name(99), "?");
        assert_eq!(ip_protocol_name(1), "icmp");
        assert_eq!(ip_protocol_name(58), "icmpv6");
        assert_eq!(ip_protocol_name(200), "200");
    }
}
