//! PID 1. Mounts the basics, reads kboot's switches from the kernel command line,
//! announces `kboot: ready` on every console, and supervises the front ends: in menu mode
//! one menu on every console at once (until the user asks for the shell on one of them:
//! then that console gets the shell and the menu after it, the others plain shells); in
//! the other modes the primary console gets the mode's front end, the others a shell. PID 1 itself
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
    let mode = effective_mode(&args);
    crate::kmod::start_at_boot(&args, mode == Mode::Menu);
    if let Err(err) = rustix::system::sethostname(args.hostname.as_bytes()) {
        console::announce(&format!("init: sethostname: {err}\n"));
    }
    if let Err(err) = crate::net::netlink::set_link_up(1) {
        console::announce(&format!("init: bringing up lo: {err}\n"));
    }
    for word in &args.unknown {
        console::announce(&format!("init: ignoring unknown kboot switch {word:?}\n"));
    }
    let sshd = ssh_wanted(&args);
    console::announce(&format!(
        "\nkboot-rs {} (PID {}, mode {mode:?})\nkboot: ready\n",
        crate::VERSION,
        std::process::id()
    ));
    quiet_console(&args);
    let mut supervisor = Supervisor::new(&args, mode);
    supervisor.sshd = sshd.then(Daemon::default);
    supervisor.run()
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

/// The SSH server runs when the image authorizes keys (`[ssh] authorized_keys`), in every
/// mode, unless `kboot.ssh=off`. Its host key is loaded (or generated) here so that the
/// fingerprint is on the console before `kboot: ready`, for the first client to check.
fn ssh_wanted(args: &KbootArgs) -> bool {
    use crate::net::ssh::keys::{self, HostKey};
    if args.ssh == cmdline::SshSwitch::Off || !Path::new(keys::AUTHORIZED_KEYS).exists() {
        return false;
    }
    let supplied = Path::new(keys::SUPPLIED_HOST_KEY);
    match HostKey::load_or_generate(supplied, Path::new(keys::GENERATED_HOST_KEY)) {
        Ok(key) => {
            let what = match args.ssh {
                cmdline::SshSwitch::Shell => "the shell",
                _ => "the menu",
            };
            console::announce(&format!(
                "ssh: port 22, sessions get {what}; host key {} (ssh-ed25519, {})\n",
                keys::fingerprint(&key.public_blob()),
                key.origin
            ));
            true
        }
        Err(err) => {
            console::announce(&format!("ssh: no server: host key: {err}\n"));
            false
        }
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
    /// The boot menu, on every console of its slot at once.
    Menu,
    /// The shell the user asked for in the menu, the menu again after it.
    ShellThenMenu,
    Dump,
    Shell,
}

impl FrontEnd {
    fn applet(self) -> &'static str {
        match self {
            FrontEnd::Menu | FrontEnd::ShellThenMenu => "frontend",
            FrontEnd::Dump => "dump",
            FrontEnd::Shell => "sh",
        }
    }
}

/// A front end and the consoles it owns: the first is its terminal (stdin, stdout,
/// controlling tty); a menu drives the others too, and nothing else runs on them meanwhile.
struct Slot {
    consoles: Vec<PathBuf>,
    front_end: FrontEnd,
    starts: Vec<Instant>,
}

impl Slot {
    fn new(consoles: Vec<PathBuf>, front_end: FrontEnd) -> Slot {
        Slot {
            consoles,
            front_end,
            starts: Vec::new(),
        }
    }

    /// What getty runs: the applet and its arguments.
    fn command(&self) -> Vec<OsString> {
        let mut command = vec![OsString::from(self.front_end.applet())];
        match self.front_end {
            FrontEnd::Menu => {
                for other in self.consoles.iter().skip(1) {
                    command.push("--console".into());
                    command.push(other.clone().into_os_string());
                }
            }
            FrontEnd::ShellThenMenu => command.push("--shell-first".into()),
            FrontEnd::Dump | FrontEnd::Shell => {}
        }
        command
    }

    /// The console a menu's exit status asks the shell for (`console::SHELL_ON_CONSOLE`).
    fn shell_requested(&self, status: Option<i32>) -> Option<usize> {
        if self.front_end != FrontEnd::Menu || self.consoles.len() < 2 {
            return None;
        }
        let index = usize::try_from(status?.checked_sub(console::SHELL_ON_CONSOLE)?).ok()?;
        (index < self.consoles.len()).then_some(index)
    }

    fn console_names(&self) -> String {
        let names: Vec<String> = self
            .consoles
            .iter()
            .map(|c| c.display().to_string())
            .collect();
        names.join(", ")
    }
}

struct Supervisor {
    slots: Vec<Slot>,
    running: HashMap<u32, usize>,
    debug: bool,
    /// The SSH server, when the image has one.
    sshd: Option<Daemon>,
}

/// A background server PID 1 keeps running (restarted when it exits, slowly if it keeps
/// exiting).
#[derive(Default)]
struct Daemon {
    pid: Option<u32>,
    starts: Vec<Instant>,
}

impl Daemon {
    fn start(&mut self) {
        self.starts.retain(|t| t.elapsed() < RESPAWN_WINDOW);
        if self.starts.len() >= RESPAWN_LIMIT {
            std::thread::sleep(Duration::from_secs(2));
        }
        self.starts.push(Instant::now());
        let console = console::interactive_console();
        let log = std::fs::OpenOptions::new().write(true).open(&console);
        let spawned = Command::new("/proc/self/exe")
            .arg0("sshd")
            .env_clear()
            .env("PATH", "/bin:/sbin:/usr/bin:/usr/sbin")
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Its complaints (a bad authorized_keys line…) belong on the console.
            .stderr(log.map(Stdio::from).unwrap_or_else(|_| Stdio::null()))
            .spawn();
        match spawned {
            Ok(child) => self.pid = Some(child.id()),
            Err(err) => console::announce(&format!("init: cannot start sshd: {err}\n")),
        }
    }
}

impl Supervisor {
    fn new(args: &KbootArgs, mode: Mode) -> Supervisor {
        let primary = console::interactive_console();
        let others: Vec<PathBuf> = console::kernel_consoles()
            .into_iter()
            .filter(|c| *c != primary)
            .collect();
        let slots = match mode {
            // One menu on every console (one scan, one network start).
            Mode::Menu | Mode::Auto => {
                let mut consoles = vec![primary];
                consoles.extend(others);
                vec![Slot::new(consoles, FrontEnd::Menu)]
            }
            Mode::Dump | Mode::Shell => {
                let front_end = if mode == Mode::Dump {
                    FrontEnd::Dump
                } else {
                    FrontEnd::Shell
                };
                let mut slots = vec![Slot::new(vec![primary], front_end)];
                slots.extend(
                    others
                        .into_iter()
                        .map(|c| Slot::new(vec![c], FrontEnd::Shell)),
                );
                slots
            }
        };
        Supervisor {
            slots,
            running: HashMap::new(),
            debug: args.debug,
            sshd: None,
        }
    }

    fn run(mut self) -> ! {
        if let Some(sshd) = self.sshd.as_mut() {
            sshd.start();
        }
        for index in 0..self.slots.len() {
            self.start(index);
        }
        loop {
            match wait(WaitOptions::empty()) {
                Ok(Some((pid, status))) => {
                    let pid = pid.as_raw_nonzero().get() as u32;
                    if let Some(sshd) = self.sshd.as_mut().filter(|d| d.pid == Some(pid)) {
                        console::announce(&format!("init: sshd exited ({status:?}); restarting\n"));
                        sshd.start();
                        continue;
                    }
                    if let Some(index) = self.running.remove(&pid) {
                        if let Some(chosen) =
                            self.slots[index].shell_requested(status.exit_status())
                        {
                            self.hand_out_shells(index, chosen);
                            continue;
                        }
                        // A front end killed by a signal is news to the person at that
                        // console (why did my shell restart?); a plain exit only with
                        // kboot.debug.
                        if self.debug || status.terminating_signal().is_some() {
                            console::announce(&format!(
                                "init: {} on {} exited ({status:?})\n",
                                self.slots[index].front_end.applet(),
                                self.slots[index].console_names()
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

    /// The menu in slot `index` ended because the user asked for the shell on its console
    /// `chosen`: the shell (then the menu) runs there, plain shells on its other consoles.
    fn hand_out_shells(&mut self, index: usize, chosen: usize) {
        let consoles = std::mem::take(&mut self.slots[index].consoles);
        for (position, console) in consoles.into_iter().enumerate() {
            if position == chosen {
                self.slots[index] = Slot::new(vec![console], FrontEnd::ShellThenMenu);
                self.start(index);
            } else {
                self.slots.push(Slot::new(vec![console], FrontEnd::Shell));
                self.start(self.slots.len() - 1);
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
                slot.console_names()
            ));
            slot.front_end = FrontEnd::Shell;
            slot.starts.clear();
            // A shell has one console: the menu's others get their own.
            let others: Vec<PathBuf> = slot.consoles.drain(1..).collect();
            for other in others {
                self.slots.push(Slot::new(vec![other], FrontEnd::Shell));
                self.start(self.slots.len() - 1);
            }
        } else if slot.starts.len() >= RESPAWN_LIMIT {
            // Even the shell keeps dying (a console that hangs up?): slow down.
            std::thread::sleep(Duration::from_secs(2));
        }
        let slot = &mut self.slots[index];
        let Some(terminal) = slot.consoles.first().cloned() else {
            return;
        };
        slot.starts.push(Instant::now());
        let spawned = Command::new("/proc/self/exe")
            .arg0("getty")
            .arg(&terminal)
            .args(slot.command())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn menu_slot() -> Slot {
        Slot::new(
            vec![PathBuf::from("/dev/ttyS0"), PathBuf::from("/dev/tty0")],
            FrontEnd::Menu,
        )
    }

    #[test]
    fn the_menu_is_given_every_console() {
        let command = menu_slot().command();
        assert_eq!(command, ["frontend", "--console", "/dev/tty0"]);
        let shell = Slot::new(vec![PathBuf::from("/dev/tty0")], FrontEnd::ShellThenMenu);
        assert_eq!(shell.command(), ["frontend", "--shell-first"]);
    }

    #[test]
    fn only_a_menu_on_several_consoles_asks_for_shells() {
        let slot = menu_slot();
        assert_eq!(
            slot.shell_requested(Some(console::SHELL_ON_CONSOLE + 1)),
            Some(1)
        );
        assert_eq!(
            slot.shell_requested(Some(console::SHELL_ON_CONSOLE)),
            Some(0)
        );
        assert_eq!(
            slot.shell_requested(Some(console::SHELL_ON_CONSOLE + 2)),
            None
        );
        assert_eq!(slot.shell_requested(Some(1)), None);
        assert_eq!(slot.shell_requested(None), None);
        let single = Slot::new(vec![PathBuf::from("/dev/ttyS0")], FrontEnd::Menu);
        assert_eq!(
            single.shell_requested(Some(console::SHELL_ON_CONSOLE)),
            None
        );
    }
}
