//! Network set-up as configured: `ip=dhcp` / `kboot.net=dhcp` / `kboot.net=A/N[,GW[,DNS]]`
//! / the kernel's `ip=CLIENT:SERVER:GW:MASK:HOST:DEV:AUTOCONF:DNS`, `kboot.net.if=DEV`,
//! or `[net]` in kboot.toml (mode, interface, address, gateway, dns, menu). The result of
//! each interface is recorded in /run/kboot/net/ for the menu, `ip` and the user.
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::dhcp::Lease;
use super::{dhcp, netlink};
use crate::config::text::unquote;
use crate::config::toml::{Document, TableEntry};

pub const STATE_DIR: &str = "/run/kboot/net";
const ARPHRD_ETHER: u16 = 1;
const IFF_LOWER_UP: u32 = 0x10000;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Off,
    Dhcp,
    Static {
        address: Ipv4Addr,
        prefix: u8,
        gateway: Option<Ipv4Addr>,
        dns: Vec<Ipv4Addr>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetConfig {
    pub mode: Mode,
    /// One interface by name; else every Ethernet interface.
    pub interface: Option<String>,
    /// A kboot.toml or BLS entry to add to the menu (else the DHCP boot file, if a URL).
    pub menu_url: Option<String>,
    pub timeout: Duration,
}

impl NetConfig {
    fn new() -> NetConfig {
        NetConfig {
            timeout: Duration::from_secs(10),
            ..NetConfig::default()
        }
    }
}

/// The `[net]` table of kboot.toml text, then the command line over it.
pub fn config(toml_text: Option<&str>, cmdline: &str) -> (NetConfig, Vec<String>) {
    config_from(toml_text.map(Document::parse).as_ref(), cmdline)
}

/// The `[net]` table of a kboot.toml document, then the command line over it.
pub fn config_from(toml: Option<&Document>, cmdline: &str) -> (NetConfig, Vec<String>) {
    let mut cfg = NetConfig::new();
    let mut warnings = Vec::new();
    if let Some(doc) = toml {
        warnings.extend(apply_toml(&mut cfg, doc));
    }
    for word in crate::cmdline::split_kernel_cmdline(cmdline) {
        if let Err(w) = apply_cmdline_word(&mut cfg, &word) {
            warnings.push(w);
        }
    }
    (cfg, warnings)
}

fn apply_toml(cfg: &mut NetConfig, doc: &Document) -> Vec<String> {
    let (entries, mut warnings) = doc.table("net", "kboot.toml");
    let (mut address, mut gateway, mut dns) = (None, None, Vec::new());
    for TableEntry { at, key, value } in entries {
        let value = unquote(&value);
        let result = match key.as_str() {
            "mode" => match value.as_str() {
                "dhcp" => Ok(cfg.mode = Mode::Dhcp),
                "off" | "none" => Ok(cfg.mode = Mode::Off),
                "static" => Ok(()),
                other => Err(format!("{at}: mode: '{other}' is not dhcp, static or off")),
            },
            "interface" => Ok(cfg.interface = Some(value)),
            "menu" => Ok(cfg.menu_url = Some(value)),
            "timeout" => value
                .parse()
                .map(|s| cfg.timeout = Duration::from_secs(s))
                .map_err(|_| format!("{at}: timeout: not a number: {value}")),
            "address" => parse_prefix(&value)
                .map(|a| address = Some(a))
                .map_err(|e| format!("{at}: {e}")),
            "gateway" => parse_ip(&value)
                .map(|g| gateway = Some(g))
                .map_err(|e| format!("{at}: {e}")),
            "dns" => value
                .trim_matches(|c| c == '[' || c == ']')
                .split(',')
                .map(|d| parse_ip(&unquote(d.trim())))
                .collect::<Result<Vec<_>, _>>()
                .map(|d| dns = d)
                .map_err(|e| format!("{at}: {e}")),
            // Build-time keys: `cargo xtask image` turned them into net::tls::CA_BUNDLE.
            "ca" | "system_ca" => Ok(()),
            other => Err(format!("{at}: unknown key '{other}' in [net]")),
        };
        if let Err(w) = result {
            warnings.push(w);
        }
    }
    if let Some((address, prefix)) = address {
        cfg.mode = Mode::Static {
            address,
            prefix,
            gateway,
            dns,
        };
    }
    warnings
}

fn apply_cmdline_word(cfg: &mut NetConfig, word: &str) -> Result<(), String> {
    let Some((key, value)) = word.split_once('=') else {
        return Ok(());
    };
    match key {
        "kboot.net" => {
            cfg.mode = match value {
                "dhcp" => Mode::Dhcp,
                "off" | "none" => Mode::Off,
                _ => {
                    let mut parts = value.split(',');
                    let (address, prefix) = parse_prefix(parts.next().unwrap_or(""))?;
                    let gateway = parts.next().map(parse_ip).transpose()?;
                    let dns = parts.map(parse_ip).collect::<Result<_, _>>()?;
                    Mode::Static {
                        address,
                        prefix,
                        gateway,
                        dns,
                    }
                }
            };
        }
        "kboot.net.if" => cfg.interface = Some(value.to_string()),
        "kboot.net.menu" => cfg.menu_url = Some(value.to_string()),
        "kboot.net.timeout" => {
            cfg.timeout = Duration::from_secs(
                value
                    .parse()
                    .map_err(|_| format!("{word}: not a number of seconds"))?,
            )
        }
        "ip" => apply_kernel_ip(cfg, value)?,
        _ => {}
    }
    Ok(())
}

/// Documentation/admin-guide/nfs/nfsroot.rst's `ip=` (fields 1, 3, 4, 6, 7, 8 are used).
fn apply_kernel_ip(cfg: &mut NetConfig, value: &str) -> Result<(), String> {
    match value {
        "dhcp" | "on" | "any" | "both" => {
            cfg.mode = Mode::Dhcp;
            return Ok(());
        }
        "off" | "none" => {
            cfg.mode = Mode::Off;
            return Ok(());
        }
        _ => {}
    }
    let field: Vec<&str> = value.split(':').collect();
    let get = |i: usize| field.get(i).copied().filter(|s| !s.is_empty());
    if let Some(dev) = get(5) {
        cfg.interface = Some(dev.to_string());
    }
    let autoconf = get(6).unwrap_or("");
    if matches!(autoconf, "dhcp" | "on" | "any" | "both") || get(0).is_none() {
        cfg.mode = Mode::Dhcp;
        return Ok(());
    }
    let address = parse_ip(get(0).unwrap_or(""))?;
    let prefix = match get(3) {
        Some(mask) => u32::from(parse_ip(mask)?).count_ones() as u8,
        None => 24,
    };
    cfg.mode = Mode::Static {
        address,
        prefix,
        gateway: get(2).map(parse_ip).transpose()?,
        dns: get(7).map(parse_ip).transpose()?.into_iter().collect(),
    };
    Ok(())
}

fn parse_ip(text: &str) -> Result<Ipv4Addr, String> {
    text.parse()
        .map_err(|_| format!("'{text}' is not an IPv4 address"))
}

fn parse_prefix(text: &str) -> Result<(Ipv4Addr, u8), String> {
    let (ip, len) = text.split_once('/').unwrap_or((text, "24"));
    let len: u8 = len
        .parse()
        .ok()
        .filter(|l| *l <= 32)
        .ok_or_else(|| format!("'{text}': bad prefix length (ADDRESS/0-32)"))?;
    Ok((parse_ip(ip)?, len))
}

/// How long bring_up waits for a network card to appear: its driver may still be loading
/// in the background (PID 1 does not wait for network drivers when no network is
/// configured at boot, so a `dhcp` typed at the shell can come first) or be hot-plugged.
const LINK_WAIT: Duration = Duration::from_secs(5);

fn wants(cfg: &NetConfig, link: &netlink::Link) -> bool {
    match &cfg.interface {
        Some(name) => &link.name == name,
        None => link.kind == ARPHRD_ETHER && link.address.len() == 6,
    }
}

/// The interfaces, once one that `cfg` wants is among them or LINK_WAIT (at most the
/// configured timeout) has passed.
fn wait_for_links(cfg: &NetConfig) -> std::io::Result<Vec<netlink::Link>> {
    let give_up = Instant::now() + LINK_WAIT.min(cfg.timeout);
    loop {
        let links = netlink::links()?;
        if links.iter().any(|l| wants(cfg, l)) || Instant::now() >= give_up {
            return Ok(links);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What bring_up did on one interface.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub interface: String,
    pub result: Result<Lease, String>,
}

/// Configures the interfaces `cfg` names (or every Ethernet one), in turn, each within
/// the configured timeout. Interfaces already holding an IPv4 address are left alone.
pub fn bring_up(cfg: &NetConfig) -> Vec<Outcome> {
    if cfg.mode == Mode::Off {
        return Vec::new();
    }
    // Network cards held back behind the menu's first draw are wanted now.
    crate::kmod::background::release();
    let links = match wait_for_links(cfg) {
        Ok(l) => l,
        Err(e) => {
            return vec![Outcome {
                interface: "-".into(),
                result: Err(format!(
                    "cannot list interfaces: {}",
                    crate::util::reason(&e)
                )),
            }]
        }
    };
    let configured: Vec<u32> = netlink::addrs()
        .unwrap_or_default()
        .iter()
        .filter(|a| a.family == netlink::AF_INET)
        .map(|a| a.index)
        .collect();
    let chosen: Vec<&netlink::Link> = links.iter().filter(|l| wants(cfg, l)).collect();
    if chosen.is_empty() {
        let which = cfg.interface.as_deref().unwrap_or("Ethernet");
        return vec![Outcome {
            interface: which.into(),
            result: Err(format!(
                "no {which} interface (the kernel found no network card)"
            )),
        }];
    }
    let mut outcomes = Vec::new();
    for link in chosen {
        if configured.contains(&link.index) {
            continue;
        }
        let result = configure(cfg, link);
        record(&link.name, &result);
        outcomes.push(Outcome {
            interface: link.name.clone(),
            result,
        });
    }
    outcomes
}

fn configure(cfg: &NetConfig, link: &netlink::Link) -> Result<Lease, String> {
    let name = &link.name;
    let index = i32::try_from(link.index).map_err(|_| format!("{name}: bad interface index"))?;
    netlink::set_link_up(index)
        .map_err(|e| format!("{name}: cannot bring up: {}", crate::util::reason(&e)))?;
    let deadline = Instant::now() + cfg.timeout;
    wait_for_carrier(
        link.index,
        deadline.min(Instant::now() + Duration::from_secs(3)),
    );
    let lease = match &cfg.mode {
        Mode::Dhcp => {
            let mac: [u8; 6] = link
                .address
                .as_slice()
                .try_into()
                .map_err(|_| format!("{name}: no MAC address"))?;
            dhcp::obtain_lease(name, mac, deadline)?
        }
        Mode::Static {
            address,
            prefix,
            gateway,
            dns,
        } => Lease {
            interface: name.clone(),
            address: *address,
            prefix: *prefix,
            router: *gateway,
            dns: dns.clone(),
            domain: None,
            server: Ipv4Addr::UNSPECIFIED,
            lease_secs: None,
            boot_file: None,
            next_server: None,
        },
        Mode::Off => return Err("network is off".into()),
    };
    apply(&lease, link.index)?;
    Ok(lease)
}

fn wait_for_carrier(index: u32, until: Instant) {
    while Instant::now() < until {
        let up = netlink::links()
            .ok()
            .and_then(|l| l.into_iter().find(|l| l.index == index))
            .is_some_and(|l| l.flags & IFF_LOWER_UP != 0);
        if up {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Address, broadcast, default route and /etc/resolv.conf from a lease.
pub fn apply(lease: &Lease, index: u32) -> Result<(), String> {
    let name = &lease.interface;
    let mask = u32::MAX
        .checked_shl(32 - u32::from(lease.prefix))
        .unwrap_or(0);
    let broadcast = Ipv4Addr::from(u32::from(lease.address) | !mask).octets();
    netlink::change_address(
        true,
        netlink::AF_INET,
        &lease.address.octets(),
        lease.prefix,
        index,
        Some(broadcast),
    )
    .map_err(|e| {
        format!(
            "{name}: cannot add {}/{}: {}",
            lease.address,
            lease.prefix,
            crate::util::reason(&e)
        )
    })?;
    if let Some(router) = lease.router {
        netlink::change_route(
            true,
            netlink::AF_INET,
            &[0; 4],
            0,
            Some(&router.octets()),
            Some(index),
        )
        .map_err(|e| {
            format!(
                "{name}: cannot add default route via {router}: {}",
                crate::util::reason(&e)
            )
        })?;
    }
    if !lease.dns.is_empty() {
        let mut text = String::new();
        if let Some(domain) = &lease.domain {
            text.push_str(&format!("search {domain}\n"));
        }
        for server in &lease.dns {
            text.push_str(&format!("nameserver {server}\n"));
        }
        std::fs::write("/etc/resolv.conf", text)
            .map_err(|e| format!("/etc/resolv.conf: {}", crate::util::reason(&e)))?;
    }
    Ok(())
}

/// /run/kboot/net/IFACE: `key=value` lines, read back by `recorded`.
fn record(interface: &str, result: &Result<Lease, String>) {
    let text = match result {
        Ok(l) => {
            let mut t = format!("address={}/{}\n", l.address, l.prefix);
            if let Some(r) = l.router {
                t.push_str(&format!("router={r}\n"));
            }
            for d in &l.dns {
                t.push_str(&format!("dns={d}\n"));
            }
            if let Some(f) = &l.boot_file {
                t.push_str(&format!("boot_file={f}\n"));
            }
            if let Some(n) = &l.next_server {
                t.push_str(&format!("next_server={n}\n"));
            }
            t
        }
        Err(e) => format!("error={e}\n"),
    };
    let _ = std::fs::create_dir_all(STATE_DIR);
    let _ = std::fs::write(Path::new(STATE_DIR).join(interface), text);
}

/// What one recorded lease says: the interface, its address and the boot file the DHCP
/// server named, as a URL (a name without a scheme is fetched by TFTP from next-server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub interface: String,
    pub address: Option<std::net::Ipv4Addr>,
    pub boot_url: Option<String>,
}

/// The recorded leases, in interface-name order.
pub fn recorded() -> Vec<Recorded> {
    let Ok(dir) = std::fs::read_dir(STATE_DIR) else {
        return Vec::new();
    };
    let mut names: Vec<_> = dir.flatten().map(|e| e.path()).collect();
    names.sort();
    names
        .iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(p).ok()?;
            let interface = p.file_name()?.to_string_lossy().into_owned();
            Some(parse_record(&interface, &text))
        })
        .collect()
}

fn parse_record(interface: &str, text: &str) -> Recorded {
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
    };
    Recorded {
        interface: interface.to_string(),
        address: value("address")
            .and_then(|a| a.split('/').next())
            .and_then(|a| a.parse().ok()),
        boot_url: value("boot_file")
            .and_then(|f| crate::net::url::boot_file_url(f, value("next_server"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmdline(text: &str) -> NetConfig {
        let (cfg, warnings) = config(None, text);
        assert!(warnings.is_empty(), "{warnings:?}");
        cfg
    }

    #[test]
    fn command_line_forms() {
        assert_eq!(cmdline("console=ttyS0").mode, Mode::Off);
        assert_eq!(cmdline("ip=dhcp").mode, Mode::Dhcp);
        assert_eq!(
            cmdline("kboot.net=dhcp kboot.net.if=eth1")
                .interface
                .as_deref(),
            Some("eth1")
        );
        let static_ = cmdline("kboot.net=192.168.1.5/16,192.168.0.1,9.9.9.9");
        assert_eq!(
            static_.mode,
            Mode::Static {
                address: Ipv4Addr::new(192, 168, 1, 5),
                prefix: 16,
                gateway: Some(Ipv4Addr::new(192, 168, 0, 1)),
                dns: vec![Ipv4Addr::new(9, 9, 9, 9)],
            }
        );
        // nfsroot.rst's example form.
        let kernel = cmdline("ip=10.0.0.7::10.0.0.1:255.255.255.0:box:eth0:off:10.0.0.2");
        assert_eq!(kernel.interface.as_deref(), Some("eth0"));
        assert_eq!(
            kernel.mode,
            Mode::Static {
                address: Ipv4Addr::new(10, 0, 0, 7),
                prefix: 24,
                gateway: Some(Ipv4Addr::new(10, 0, 0, 1)),
                dns: vec![Ipv4Addr::new(10, 0, 0, 2)],
            }
        );
        assert_eq!(cmdline("ip=:::::eth0:dhcp").mode, Mode::Dhcp);
        assert_eq!(
            cmdline("kboot.net.timeout=3").timeout,
            Duration::from_secs(3)
        );
    }

    #[test]
    fn bad_values_are_warnings() {
        let (cfg, warnings) = config(None, "kboot.net=10.0.0.300/24 kboot.net.timeout=x");
        assert_eq!(cfg.mode, Mode::Off);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("not an IPv4 address"), "{warnings:?}");
    }

    #[test]
    fn toml_table_and_command_line_precedence() {
        let toml = "[menu]\ntimeout = 3\n[net]\nmode = \"dhcp\"\nmenu = \"http://10.0.2.2:8080/kboot.toml\"\ninterface = \"eth0\"\n";
        let (cfg, warnings) = config(Some(toml), "");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(cfg.mode, Mode::Dhcp);
        assert_eq!(
            cfg.menu_url.as_deref(),
            Some("http://10.0.2.2:8080/kboot.toml")
        );
        let (cfg, _) = config(Some(toml), "kboot.net=off");
        assert_eq!(cfg.mode, Mode::Off);
        let (cfg, warnings) = config(
            Some("[net]\naddress = \"10.1.1.1/8\"\ndns = [\"1.1.1.1\", \"8.8.8.8\"]\ncolour = 1\n"),
            "",
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(matches!(cfg.mode, Mode::Static { prefix: 8, ref dns, .. } if dns.len() == 2));
    }

    #[test]
    fn recorded_leases_name_their_boot_file_as_a_url() {
        let r = parse_record(
            "eth0",
            "address=10.0.2.15/24\nrouter=10.0.2.2\nboot_file=pxelinux.0\nnext_server=10.0.2.2\n",
        );
        assert_eq!(r.address, Some(std::net::Ipv4Addr::new(10, 0, 2, 15)));
        assert_eq!(r.boot_url.as_deref(), Some("tftp://10.0.2.2/pxelinux.0"));
        let r = parse_record(
            "eth1",
            "address=10.0.3.15/24\nboot_file=http://srv/kboot.toml\n",
        );
        assert_eq!(r.boot_url.as_deref(), Some("http://srv/kboot.toml"));
        assert_eq!(parse_record("eth2", "error=no offer\n").boot_url, None);
    }
}
