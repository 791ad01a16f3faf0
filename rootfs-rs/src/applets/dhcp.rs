//! dhcp: configure interfaces with DHCPv4 (address, default route, /etc/resolv.conf),
//! like `udhcpc -q`; with no IFACE every Ethernet interface without an address.
use std::ffi::OsString;
use std::time::Duration;

use crate::net::setup::{bring_up, Mode, NetConfig};
use crate::util::Parser;

const USAGE: &str = "usage: dhcp [-t SECONDS] [IFACE]\nGet an address from a DHCP server and configure the interface (default timeout 10 s).";

pub fn main(args: &[OsString]) -> i32 {
    let mut timeout = 10u64;
    let ops = match Parser::new("dhcp", USAGE, args).parse(|p, c| {
        match c {
            't' => timeout = p.number()?,
            _ => return Err(p.unknown(c)),
        }
        Ok(())
    }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let cfg = NetConfig {
        mode: Mode::Dhcp,
        interface: ops.first().map(|o| o.to_string_lossy().into_owned()),
        menu_url: None,
        timeout: Duration::from_secs(timeout.max(1)),
    };
    let outcomes = bring_up(&cfg);
    if outcomes.is_empty() {
        crate::warn!("dhcp: every interface already has an address");
        return 0;
    }
    let mut status = 0;
    for outcome in outcomes {
        match outcome.result {
            Ok(lease) => {
                let mut line = format!("{}: {}/{}", lease.interface, lease.address, lease.prefix);
                if let Some(r) = lease.router {
                    line.push_str(&format!(" router {r}"));
                }
                for d in &lease.dns {
                    line.push_str(&format!(" dns {d}"));
                }
                if let Some(f) = &lease.boot_file {
                    line.push_str(&format!(" boot-file {f}"));
                }
                println!("{line}");
            }
            Err(e) => {
                crate::warn!("dhcp: {e}");
                status = 1;
            }
        }
    }
    status
}
