//! The network section's text: interfaces, then sockets as netstat lists them (inet, then
//! unix), then the count per protocol and state.

use super::{opt, secs_text, Report};
use crate::dump::helpers::net::IFF_UP;
use crate::dump::helpers::sockets::Socket;
use std::collections::BTreeMap;
use std::fmt::Write;

pub(super) fn render_net(r: &Report, out: &mut String) {
    if let Some(ifs) = &r.interfaces {
        let _ = writeln!(out, "NAME       FLAGS  MTU    LAST-RX  LAST-TX  INET");
        for i in ifs {
            let up = if i.flags & IFF_UP != 0 { "UP" } else { "DOWN" };
            let (rx, tx) = (secs_text(i.last_rx_secs), secs_text(i.last_tx_secs));
            let _ = writeln!(
                out,
                "{:<10} {up:<6} {:<6} {rx:<8} {tx:<8} {}",
                i.name,
                i.mtu,
                i.ipv4.join(" ")
            );
        }
    }
    let Some(socks) = &r.sockets else { return };
    let _ = writeln!(
        out,
        "Proto  Local Address            Foreign Address          State"
    );
    for s in socks.iter().filter(|s| s.proto != "unix") {
        // A raw socket's line ends with the IP protocol it was opened for.
        let line = format!(
            "{:<6} {:<24} {:<24} {:<12} {}",
            s.proto,
            s.local,
            s.remote,
            s.state,
            s.kind.as_deref().unwrap_or("")
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(out, "Proto  Type       State         Path");
    for s in socks.iter().filter(|s| s.proto == "unix") {
        let _ = writeln!(
            out,
            "unix   {:<10} {:<13} {}",
            opt(s.kind.as_deref()),
            s.state,
            s.path.as_deref().unwrap_or("")
        );
    }
    let counts: Vec<String> = socket_counts(socks)
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    let _ = writeln!(out, "SOCKETS BY STATE: {}", counts.join(", "));
}

/// Number of sockets per "proto STATE" (e.g. "tcp LISTEN").
pub fn socket_counts(socks: &[Socket]) -> BTreeMap<String, usize> {
    let mut by_state = BTreeMap::new();
    for s in socks {
        *by_state
            .entry(format!("{} {}", s.proto, s.state))
            .or_default() += 1;
    }
    by_state
}
