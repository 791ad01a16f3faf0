//! Devices that appear after boot (a USB stick plugged in at the menu, a disk behind a
//! freshly loaded controller) reach userspace as kernel uevents on a
//! NETLINK_KOBJECT_UEVENT socket. A listener thread loads the module for every `add` that
//! carries a MODALIAS: the part of udev kboot needs.
//!
//! The thread runs inside PID 1, and with panic=abort a panic anywhere is a kernel panic:
//! nothing here indexes without a check or unwraps, and errors become kernel log lines.

use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::io::Errno;
use rustix::net::{AddressFamily, RecvFlags, SocketFlags, SocketType};

use super::background::HOLD_LIMIT;
use super::coldplug;
use super::index::ModuleIndex;
use super::load::{Kernel, Modprobe, ModuleOptions};

/// The kernel's multicast group for uevents (udev's own re-broadcasts are group 2).
const KERNEL_GROUP: u32 = 1;

/// A burst of uevents (a USB hub with many ports, a coldplug) must fit while the thread is
/// loading a module; 4 MiB is what systemd-udevd asks for. SO_RCVBUFFORCE passes
/// net.core.rmem_max, which PID 1 may do.
const RECEIVE_BUFFER: usize = 4 << 20;

/// One kernel uevent, the fields kboot uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Uevent {
    pub action: String,
    pub devpath: String,
    pub subsystem: Option<String>,
    pub modalias: Option<String>,
}

/// `ACTION@DEVPATH\0KEY=VALUE\0…` → the event; None for anything else, including udev's
/// own messages (which start with `libudev`).
pub fn parse(message: &[u8]) -> Option<Uevent> {
    if message.starts_with(b"libudev") {
        return None;
    }
    let mut parts = message.split(|&b| b == 0);
    let header = String::from_utf8_lossy(parts.next()?);
    let (action, devpath) = header.split_once('@')?;
    let mut event = Uevent {
        action: action.to_string(),
        devpath: devpath.to_string(),
        ..Uevent::default()
    };
    for part in parts {
        let text = String::from_utf8_lossy(part);
        let Some((key, value)) = text.split_once('=') else {
            continue;
        };
        match key {
            "ACTION" => event.action = value.to_string(),
            "DEVPATH" => event.devpath = value.to_string(),
            "SUBSYSTEM" => event.subsystem = Some(value.to_string()),
            "MODALIAS" if !value.is_empty() => event.modalias = Some(value.to_string()),
            _ => {}
        }
    }
    (!event.action.is_empty()).then_some(event)
}

/// The kernel's uevent socket, subscribed to its group, with room for bursts.
pub fn open_socket() -> io::Result<OwnedFd> {
    let fd = rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        Some(rustix::net::netlink::KOBJECT_UEVENT),
    )?;
    rustix::net::bind(
        &fd,
        &rustix::net::netlink::SocketAddrNetlink::new(0, KERNEL_GROUP),
    )?;
    if rustix::net::sockopt::set_socket_recv_buffer_size_force(&fd, RECEIVE_BUFFER).is_err() {
        // Without CAP_NET_ADMIN (a test run): the capped size is still better than none.
        let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&fd, RECEIVE_BUFFER);
    }
    Ok(fd)
}

/// A line in the kernel log (dmesg), where a background thread's news belongs: the
/// consoles show the menu. stderr if /dev/kmsg cannot be written.
pub fn log(text: &str) {
    let line = format!("<4>kboot: modules: {text}\n");
    let written = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/kmsg")
        .and_then(|mut kmsg| kmsg.write_all(line.as_bytes()));
    if written.is_err() {
        crate::warn!("kboot: modules: {text}");
    }
}

/// The modaliases the boot's coldplug left for later (display and input drivers, network
/// cards when no network is configured), and whether they wait for the menu's first
/// draw (`super::background`).
#[derive(Debug, Default)]
pub struct Background {
    pub aliases: Vec<String>,
    pub hold: bool,
}

/// Start the listener thread. `rescan`: run one coldplug pass first, without the boot's
/// deadline (the boot coldplug was cut short, or events were lost).
pub fn spawn_listener(
    index: ModuleIndex,
    options: ModuleOptions,
    socket: OwnedFd,
    rescan: bool,
    background: Background,
) -> io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("kboot-uevent".into())
        .spawn(move || listen(&index, options, &socket, rescan, background))
}

/// How often a held listener looks whether the menu has been drawn.
const HOLD_POLL: Duration = Duration::from_millis(50);

/// The most the listener's own rescans may take: these are devices already there, and
/// each pass only loads what the last did not.
const RESCAN_DEADLINE: Duration = Duration::from_secs(30);

/// Consecutive receive errors (other than lost events) after which the thread gives up
/// rather than spin.
const MAX_ERRORS: u32 = 10;

fn listen(
    index: &ModuleIndex,
    options: ModuleOptions,
    socket: &OwnedFd,
    mut rescan: bool,
    background: Background,
) {
    // What this thread loads is what the boot chose not to wait for: it must not slow the
    // menu's scan and first draw, which run beside it (on a one-CPU machine the DRM stack
    // and two NIC drivers took 0.3 s of CPU from them under TCG). The nice value is per
    // thread on Linux (who = 0 is the caller), and the kernel's module loading and the
    // drivers' probes run in this thread's context, so they wait too.
    if let Err(err) = rustix::process::setpriority_process(None, 19) {
        log(&format!("cannot lower the listener's priority: {err}"));
    }
    let mut probe = Modprobe::new(index, options);
    probe.use_blacklist = true;
    let held_since = std::time::Instant::now();
    let mut pending = Some(background.aliases).filter(|a| !a.is_empty());
    let mut holding = background.hold && pending.is_some();
    if holding {
        // Events keep being handled meanwhile (a USB stick's storage driver must not
        // wait): the receive times out so that the release is noticed.
        if let Err(err) = rustix::net::sockopt::set_socket_timeout(
            socket,
            rustix::net::sockopt::Timeout::Recv,
            Some(HOLD_POLL),
        ) {
            log(&format!("cannot hold the background drivers: {err}"));
            holding = false;
        }
    }
    let mut buf = vec![0u8; 16 * 1024];
    let mut errors = 0;
    loop {
        if holding && (super::background::released() || held_since.elapsed() >= HOLD_LIMIT) {
            holding = false;
            let _ = rustix::net::sockopt::set_socket_timeout(
                socket,
                rustix::net::sockopt::Timeout::Recv,
                None,
            );
        }
        if let (false, Some(aliases)) = (holding, pending.take()) {
            load_background(&aliases, &mut probe, held_since);
        }
        if rescan {
            rescan = false;
            let report = coldplug::run(
                std::path::Path::new("/sys"),
                &mut probe,
                &mut Kernel,
                RESCAN_DEADLINE,
                coldplug::Deferral::NOTHING,
            );
            log(&format!("rescan: {}", report.summary()));
            report_failures(&report.failures);
        }
        match rustix::net::recv(socket, &mut buf, RecvFlags::empty()) {
            Ok((n, _)) => {
                errors = 0;
                let Some(event) = buf.get(..n).and_then(parse) else {
                    continue;
                };
                handle(&event, &mut probe);
            }
            Err(Errno::INTR) => {}
            // The hold's poll interval passed without an event.
            Err(Errno::AGAIN) if holding => {}
            // The buffer overflowed and events were lost: sysfs still has the devices.
            Err(Errno::NOBUFS) => {
                log("uevents were lost; rescanning /sys/bus/*/devices");
                rescan = true;
            }
            Err(err) => {
                errors += 1;
                log(&format!("uevent socket: {err}"));
                if errors >= MAX_ERRORS {
                    log("uevent listener stops after repeated errors");
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

/// Loads what the boot left for later; `since` is when the listener started (the hold
/// included in the time reported).
fn load_background(aliases: &[String], probe: &mut Modprobe<'_>, since: std::time::Instant) {
    let mut report = coldplug::Report::default();
    for alias in aliases {
        coldplug::load_for(alias, "", probe, &mut Kernel, &mut report);
    }
    log(&format!(
        "background: {} loaded, {:.2} s after the boot's coldplug",
        report.loaded.len(),
        since.elapsed().as_secs_f64()
    ));
    report_failures(&report.failures);
}

/// Load the modules of one `add` event with a MODALIAS.
fn handle(event: &Uevent, probe: &mut Modprobe<'_>) {
    if event.action != "add" {
        return;
    }
    let Some(alias) = &event.modalias else {
        return;
    };
    let mut report = coldplug::Report::default();
    coldplug::load_for(alias, "", probe, &mut Kernel, &mut report);
    if !report.loaded.is_empty() {
        log(&format!(
            "{}: loaded {}",
            event.devpath,
            report.loaded.join(", ")
        ));
    }
    report_failures(&report.failures);
}

fn report_failures(failures: &[super::load::Failure]) {
    for failure in failures {
        log(&failure.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kernel_add_event_with_modalias() {
        let msg = b"add@/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0\0ACTION=add\0\
DEVPATH=/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0\0SUBSYSTEM=usb\0\
DEVTYPE=usb_interface\0MODALIAS=usb:v0781p5567d0100dc00dsc00dp00ic08isc06ip50in00\0SEQNUM=1234\0";
        let event = parse(msg).expect("parses");
        assert_eq!(event.action, "add");
        assert_eq!(
            event.devpath,
            "/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0"
        );
        assert_eq!(event.subsystem.as_deref(), Some("usb"));
        assert_eq!(
            event.modalias.as_deref(),
            Some("usb:v0781p5567d0100dc00dsc00dp00ic08isc06ip50in00")
        );
    }

    #[test]
    fn events_without_modalias_udev_messages_and_junk() {
        let event = parse(b"remove@/devices/virtual/block/loop0\0ACTION=remove\0DEVPATH=/devices/virtual/block/loop0\0SUBSYSTEM=block\0")
            .expect("parses");
        assert_eq!(event.action, "remove");
        assert_eq!(event.modalias, None);
        assert_eq!(parse(b"libudev\0\xfe\xed\xca\xfe\0\0\0"), None);
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"no header here\0ACTION=add\0"), None);
        // The header alone is an event; an empty MODALIAS is none.
        let bare = parse(b"add@/devices/x\0MODALIAS=\0\xff\xfe=\0").expect("header");
        assert_eq!((bare.action.as_str(), bare.modalias), ("add", None));
    }
}
