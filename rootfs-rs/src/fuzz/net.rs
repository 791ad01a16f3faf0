//! Network targets: what a server (or whoever answers in its place) sends, fed to the same
//! functions the fetchers run on their sockets; and the names that become URLs and paths.

use std::io::{BufReader, Cursor, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use crate::net::dhcp::parse_reply;
use crate::net::ftp::{announced_size, parse_epsv, parse_pasv, read_reply};
use crate::net::http::{response, Got};
use crate::net::tftp::{receive, Transport};
use crate::net::transfer::Transfer;
use crate::net::url::{boot_file_url, is_url, join, parse_url};

fn transfer() -> Transfer<'static> {
    Transfer {
        timeout: Duration::from_secs(10),
        limit: 1 << 20,
        progress: None,
    }
}

/// A DHCP reply, the lease made of it and the boot URL the network scan would fetch.
pub fn dhcp(data: &[u8]) {
    let Some(reply) = parse_reply(data) else {
        return;
    };
    let _ = reply.message_type();
    let lease = reply.to_lease("eth0");
    if let Some(file) = &lease.boot_file {
        if let Some(url) = boot_file_url(file, lease.next_server.as_deref()) {
            let _ = parse_url(&url);
        }
    }
}

/// An HTTP response to `GET /boot/kboot.toml`, and the redirect it may ask for.
pub fn http(data: &[u8]) {
    let Ok(url) = parse_url("http://10.0.2.2/boot/kboot.toml") else {
        return;
    };
    let mut body = Vec::new();
    let got = response(&url, &mut Cursor::new(data), &mut body, &mut transfer());
    if let Ok(Got::Redirect(location)) = got {
        let _ = join(&url, &location);
    }
}

/// FTP control-connection replies, one after another as the client reads them.
pub fn ftp(data: &[u8]) {
    let mut reader = BufReader::new(Cursor::new(data));
    while let Ok((_code, text)) = read_reply(&mut reader) {
        let _ = (parse_pasv(&text), parse_epsv(&text), announced_size(&text));
    }
}

/// A TFTP server that answers with the input's datagrams, each as
/// `[source port byte][length u16 BE][bytes]` (port byte 0: from another host); when they
/// run out, every wait times out.
struct ScriptedServer<'a> {
    rest: &'a [u8],
}

const SERVER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 2, 2), 69);

impl Transport for ScriptedServer<'_> {
    fn send(&mut self, _packet: &[u8], _to: SocketAddr) -> Result<(), String> {
        Ok(())
    }

    fn recv(
        &mut self,
        buf: &mut [u8],
        _timeout: Duration,
    ) -> Result<Option<(usize, SocketAddr)>, String> {
        let [port, hi, lo, rest @ ..] = self.rest else {
            return Ok(None);
        };
        let len = usize::from(u16::from_be_bytes([*hi, *lo]))
            .min(rest.len())
            .min(buf.len());
        let (datagram, after) = rest.split_at(len);
        buf[..len].copy_from_slice(datagram);
        self.rest = after;
        let from = match port {
            0 => SocketAddrV4::new(Ipv4Addr::new(10, 0, 2, 3), 1024),
            p => SocketAddrV4::new(*SERVER.ip(), 1024 + u16::from(*p)),
        };
        Ok(Some((len, SocketAddr::V4(from))))
    }
}

pub fn tftp(data: &[u8]) {
    let mut server = ScriptedServer { rest: data };
    let mut file = Vec::new();
    let got = receive(
        &mut server,
        SocketAddr::V4(SERVER),
        "pxelinux.cfg/default",
        &mut file,
        &mut transfer(),
    );
    if let Ok(n) = got {
        assert_eq!(
            n,
            file.len() as u64,
            "the count returned is what was written"
        );
    }
    let _ = file.flush();
}

/// The first line as a URL (printed, it must parse back to itself), the second resolved
/// against it and used as a DHCP boot file name.
pub fn url(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (first, second) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = is_url(first);
    let _ = boot_file_url(second, Some(first));
    let Ok(url) = parse_url(first) else {
        return;
    };
    let printed = url.to_string();
    assert_eq!(
        parse_url(&printed).as_ref(),
        Ok(&url),
        "{first:?} printed as {printed:?}"
    );
    let _ = join(&url, second);
}

/// kboot's path names, with a /sys that has no block devices.
pub fn pathname(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let system = crate::pathname::System {
        sys_block: "/nonexistent/kboot-fuzz/sys/class/block",
        dev: "/nonexistent/kboot-fuzz/dev",
    };
    let _ = crate::pathname::parse(&text, &system);
    let _ = crate::pathname::special(&text, &system);
    let _ = crate::pathname::safe_name(&text);
}
