//! A private network namespace for test servers that would otherwise listen on the host's
//! real interfaces (rpcbind cannot be bound to loopback on Debian 12). Inside it there is
//! only a loopback interface, so "every address" means 127.0.0.1 and ::1; QEMU started in
//! it (`MachineConfig::netns`) reaches those servers as 10.0.2.2 through user networking,
//! and nothing outside the namespace can reach them at all.
//!
//! The namespace also has its own mount namespace with a tmpfs on /run, so daemons that
//! keep sockets and state there (rpcbind's /run/rpcbind.sock) never touch the system's.
//! It lives as long as its holder process (`sleep`) or anything still started in it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::host_tools::{command, find};
use crate::servers::Daemon;

/// A holder process in fresh network and mount namespaces; killed when this drops.
pub struct NetNamespace {
    holder: Daemon,
}

/// How long the holder may take to bring its loopback up (it is three exec's).
const READY: Duration = Duration::from_secs(10);

impl NetNamespace {
    /// Creates the namespaces; `dir` receives the holder's log.
    pub fn create(dir: &Path) -> Result<NetNamespace, String> {
        crate::host_tools::require(&["unshare", "nsenter", "mount", "ip", "sleep"]);
        let log = dir.join("netns.log");
        let mut unshare = command("unshare");
        // `unshare` without --fork execs its program in the new namespaces, and the shell
        // execs `sleep`: the holder's pid is the one this handle spawned.
        unshare
            .args(["--net", "--mount", "--propagation", "private", "--"])
            .arg(find("sh")?)
            .args([
                "-c",
                "mount -t tmpfs kboot-test-run /run && ip link set lo up && exec sleep 86400",
            ]);
        let mut holder = Daemon::spawn(unshare, &log)?;
        let pid = holder.0.id();
        holder
            .wait_until("the network namespace's holder", READY, || {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|comm| comm.trim() == "sleep")
            })
            .map_err(|e| format!("{e}: {}", std::fs::read_to_string(&log).unwrap_or_default()))?;
        Ok(NetNamespace { holder })
    }

    /// The holder's pid, for `nsenter --target` (and `MachineConfig::netns`).
    pub fn pid(&self) -> u32 {
        self.holder.0.id()
    }

    /// `program` (a registered host tool) run inside both namespaces.
    pub fn command(&self, program: &str) -> Result<Command, String> {
        Ok(enter(self.pid(), true, &find(program)?))
    }

    /// A path inside the namespace's mounts (its private /run), as seen from outside.
    pub fn path(&self, inside: &str) -> PathBuf {
        PathBuf::from(format!(
            "/proc/{}/root/{}",
            self.pid(),
            inside.trim_start_matches('/')
        ))
    }
}

/// `nsenter` into the network namespace of `pid` (and its mount namespace when `mounts`)
/// running `program`. nsenter execs it after setns(2), so the child's pid is the
/// program's own.
pub fn enter(pid: u32, mounts: bool, program: &Path) -> Command {
    let mut cmd = command("nsenter");
    cmd.arg("--target").arg(pid.to_string()).arg("--net");
    if mounts {
        // Entering a mount namespace resets the root to that namespace's own: in a chroot
        // (`cargo xtask ci --clean`) the program would run on the host's files. `--root`
        // and `--wd` without a value take the holder's root and working directory.
        cmd.args(["--mount", "--root", "--wd"]);
    }
    cmd.arg("--").arg(program);
    cmd
}
