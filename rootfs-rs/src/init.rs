//! PID 1. Mounts the basics, announces `kboot: ready` on every console, and supervises
//! the front end as a child process. PID 1 itself must never exit or panic (either is a
//! kernel panic), so everything here tolerates failure and nothing unwraps.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustix::mount::{mount, MountFlags};
use rustix::process::{wait, WaitOptions};

use crate::console;

/// More respawns than this within RESPAWN_WINDOW and the front end is considered broken.
const RESPAWN_LIMIT: usize = 5;
const RESPAWN_WINDOW: Duration = Duration::from_secs(10);

pub fn main(_args: &[OsString]) -> i32 {
    mount_basics();
    console::announce(&format!("\nkboot-rs {} (PID {})\nkboot: ready\n", crate::VERSION, std::process::id()));
    supervise_front_end()
}

fn mount_basics() {
    let mounts: [(&str, &str, &str, MountFlags, u32); 5] = [
        ("proc", "/proc", "proc", MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC, 0o555),
        ("sysfs", "/sys", "sysfs", MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC, 0o555),
        ("devtmpfs", "/dev", "devtmpfs", MountFlags::NOSUID, 0o755),
        ("tmpfs", "/run", "tmpfs", MountFlags::NOSUID | MountFlags::NODEV, 0o755),
        ("tmpfs", "/tmp", "tmpfs", MountFlags::NOSUID | MountFlags::NODEV, 0o1777),
    ];
    for (source, target, fstype, flags, mode) in mounts {
        let _ = std::fs::create_dir_all(target);
        let data = if fstype == "tmpfs" { format!("mode={mode:o}") } else { String::new() };
        if let Err(err) = mount(source, target, fstype, flags, data.as_str()) {
            // EBUSY: the kernel mounted it already (CONFIG_DEVTMPFS_MOUNT); anything else
            // is worth a line on the console but not worth stopping for.
            if err != rustix::io::Errno::BUSY {
                console::announce(&format!("init: mount {target} ({fstype}): {err}\n"));
            }
        }
    }
}

/// Runs the prompt on the interactive console, respawning it when it exits, and reaps
/// every orphan the kernel reparents to us.
fn supervise_front_end() -> ! {
    let mut recent_starts: Vec<Instant> = Vec::new();
    loop {
        recent_starts.retain(|t| t.elapsed() < RESPAWN_WINDOW);
        if recent_starts.len() >= RESPAWN_LIMIT {
            console::announce("init: the front end keeps exiting; waiting before the next start\n");
            std::thread::sleep(RESPAWN_WINDOW);
            recent_starts.clear();
        }
        recent_starts.push(Instant::now());
        let front_end = match spawn_front_end() {
            Ok(child) => child.id(),
            Err(err) => {
                console::announce(&format!("init: cannot start the front end: {err}\n"));
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        loop {
            match wait(WaitOptions::empty()) {
                Ok(Some((pid, _status))) if pid.as_raw_nonzero().get() as u32 == front_end => break,
                Ok(_) => continue,
                // ECHILD: nothing left to wait for, so the front end is gone too.
                Err(rustix::io::Errno::CHILD) => break,
                Err(_) => continue,
            }
        }
    }
}

fn spawn_front_end() -> std::io::Result<std::process::Child> {
    let tty = console::interactive_console();
    let open = || OpenOptions::new().read(true).write(true).open(&tty);
    let (stdin, stdout, stderr) = (open()?, open()?, open()?);
    Command::new("/proc/self/exe")
        .arg("sh")
        .env("PATH", "/bin:/sbin:/usr/bin:/usr/sbin")
        .env("HOME", "/root")
        .env("TERM", "linux")
        .current_dir("/")
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .spawn()
}
