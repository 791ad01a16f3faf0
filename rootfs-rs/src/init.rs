//! PID 1. Mounts the basics, reads kboot's switches from the kernel command line,
//! announces `kboot: ready` on every console, and supervises one front end per console
//! (the primary console gets the mode's front end, the others a shell). PID 1 itself
//! must never exit or panic (either is a kernel panic), so everything here tolerates
//! failure and nothing unwraps.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustix::mount::{mount, MountFlags};
use rustix::process::{wait, WaitOptions};

use crate::cmdline::{self, KbootArgs, Mode};
use crate::console;

/// More starts than this within RESPAWN_WINDOW and the front end is considered broken:
/// that console falls back to the shell.
const RESPAWN_LIMIT: usize = 5;
const RESPAWN_WINDOW: Duration = Duration::from_secs(30);

pub fn main(_args: &[OsString]) -> i32 {
    mount_basics();
    let args = cmdline::parse(&std::fs::read_to_string("/proc/cmdline").unwrap_or_default());
    crate::kmod::start_at_boot(&args);
    if let Err(err) = rustix::system::sethostname(args.hostname.as_bytes()) {
        console::announce(&format!("init: sethostname: {err}\n"));
    }
    if let Err(err) = crate::net::netlink::set_link_up(1) {
        console::announce(&format!("init: bringing up lo: {err}\n"));
    }
    for word in &args.unknown {
        console::announce(&format!("init: ignoring unknown kboot switch {word:?}\n"));
    }
    let mode = effective_mode(&args);
    console::announce(&format!(
        "\nkboot-rs {} (PID {}, mode {mode:?})\nkboot: ready\n",
        crate::VERSION,
        std::process::id()
    ));
    quiet_console(&args);
    Supervisor::new(&args, mode).run()
}

/// Once kboot is up, kernel messages would print over the menu and the shell: keep only
/// emergencies (panics) on the consoles, as `dmesg -n 1` does. Everything stays in the
/// kernel log (`dmesg`). `kboot.debug` or the kernel's `loglevel=` keep them visible.
fn quiet_console(args: &KbootArgs) {
    if args.debug || args.kernel_loglevel {
        return;
    }
    if let Err(err) = crate::sys::set_console_log_level(1) {
        console::announce(&format!("init: lowering the console log level: {err}\n"));
    }
}

/// `auto` becomes dump mode when we are a kdump capture kernel.
fn effective_mode(args: &KbootArgs) -> Mode {
    match args.mode {
        Mode::Auto if Path::new("/proc/vmcore").exists() => Mode::Dump,
        Mode::Auto => Mode::Menu,
        other => other,
    }
}

fn mount_basics() {
    let basic = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    let mounts: [(&str, &str, &str, MountFlags, &str); 7] = [
        ("proc", "/proc", "proc", basic, ""),
        ("sysfs", "/sys", "sysfs", basic, ""),
        (
            "devtmpfs",
            "/dev",
            "devtmpfs",
            MountFlags::NOSUID,
            "mode=0755",
        ),
        (
            "devpts",
            "/dev/pts",
            "devpts",
            MountFlags::NOSUID | MountFlags::NOEXEC,
            "mode=0620,ptmxmode=0666",
        ),
        (
            "tmpfs",
            "/run",
            "tmpfs",
            MountFlags::NOSUID | MountFlags::NODEV,
            "mode=0755",
        ),
        (
            "tmpfs",
            "/tmp",
            "tmpfs",
            MountFlags::NOSUID | MountFlags::NODEV,
            "mode=1777",
        ),
        (
            "efivarfs",
            "/sys/firmware/efi/efivars",
            "efivarfs",
            basic,
            "",
        ),
    ];
    for (source, target, fstype, flags, data) in mounts {
        if fstype == "efivarfs" && !Path::new("/sys/firmware/efi").exists() {
            continue; // booted by BIOS or directly: there are no EFI variables
        }
        let _ = std::fs::create_dir_all(target);
        let data = std::ffi::CString::new(data).unwrap_or_default();
        if let Err(err) = mount(source, target, fstype, flags, Some(data.as_c_str())) {
            // EBUSY: mounted already (CONFIG_DEVTMPFS_MOUNT); anything else is worth a
            // line on the console but not worth stopping for.
            if err != rustix::io::Errno::BUSY {
                console::announce(&format!("init: mount {target} ({fstype}): {err}\n"));
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FrontEnd {
    Menu,
    Dump,
    Shell,
}

impl FrontEnd {
    fn applet(self) -> &'static str {
        match self {
            FrontEnd::Menu => "frontend",
            FrontEnd::Dump => "dump",
            FrontEnd::Shell => "sh",
        }
    }
}

struct Slot {
    console: PathBuf,
    front_end: FrontEnd,
    starts: Vec<Instant>,
}

struct Supervisor {
    slots: Vec<Slot>,
    running: HashMap<u32, usize>,
    debug: bool,
}

impl Supervisor {
    fn new(args: &KbootArgs, mode: Mode) -> Supervisor {
        let primary = console::interactive_console();
        let primary_front_end = match mode {
            Mode::Dump => FrontEnd::Dump,
            Mode::Shell => FrontEnd::Shell,
            Mode::Menu | Mode::Auto => FrontEnd::Menu,
        };
        let mut slots = vec![Slot {
            console: primary.clone(),
            front_end: primary_front_end,
            starts: Vec::new(),
        }];
        for other in console::kernel_consoles()
            .into_iter()
            .filter(|c| *c != primary)
        {
            slots.push(Slot {
                console: other,
                front_end: FrontEnd::Shell,
                starts: Vec::new(),
            });
        }
        Supervisor {
            slots,
            running: HashMap::new(),
            debug: args.debug,
        }
    }

    fn run(mut self) -> ! {
        for index in 0..self.slots.len() {
            self.start(index);
        }
        loop {
            match wait(WaitOptions::empty()) {
                Ok(Some((pid, status))) => {
                    let pid = pid.as_raw_nonzero().get() as u32;
                    if let Some(index) = self.running.remove(&pid) {
                        // A front end killed by a signal is news to the person at that
                        // console (why did my shell restart?); a plain exit only with
                        // kboot.debug.
                        if self.debug || status.terminating_signal().is_some() {
                            console::announce(&format!(
                                "init: {} on {} exited ({status:?})\n",
                                self.slots[index].front_end.applet(),
                                self.slots[index].console.display()
                            ));
                        }
                        self.start(index);
                    }
                    // Any other pid is an orphan we just reaped.
                }
                Ok(None) => {}
                // ECHILD: nothing is running (every start failed); retry them all.
                Err(_) => {
                    std::thread::sleep(Duration::from_secs(1));
                    for index in 0..self.slots.len() {
                        if !self.running.values().any(|&i| i == index) {
                            self.start(index);
                        }
                    }
                }
            }
        }
    }

    fn start(&mut self, index: usize) {
        let slot = &mut self.slots[index];
        slot.starts.retain(|t| t.elapsed() < RESPAWN_WINDOW);
        if slot.starts.len() >= RESPAWN_LIMIT && slot.front_end != FrontEnd::Shell {
            console::announce(&format!(
                "init: {} keeps exiting; falling back to the shell on {}\n",
                slot.front_end.applet(),
                slot.console.display()
            ));
            slot.front_end = FrontEnd::Shell;
            slot.starts.clear();
        } else if slot.starts.len() >= RESPAWN_LIMIT {
            // Even the shell keeps dying (a console that hangs up?): slow down.
            std::thread::sleep(Duration::from_secs(2));
        }
        slot.starts.push(Instant::now());
        let spawned = Command::new("/proc/self/exe")
            .arg0("getty")
            .arg(&slot.console)
            .arg(slot.front_end.applet())
            .env_clear()
            .env("PATH", "/bin:/sbin:/usr/bin:/usr/sbin")
            .env("HOME", "/root")
            .env("TERM", "linux")
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match spawned {
            Ok(child) => {
                self.running.insert(child.id(), index);
            }
            Err(err) => console::announce(&format!(
                "init: cannot start {}: {err}\n",
                slot.front_end.applet()
            )),
        }
    }
}
