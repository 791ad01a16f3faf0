//! reboot and poweroff: sync, release every disk filesystem (unmount, or remount
//! read-only where busy — the same step the kexec path takes), then reboot(2).

use std::ffi::OsString;

use rustix::system::{reboot, RebootCommand};

use crate::blockdev::mounts::release_block_mounts;

pub fn poweroff_main(_args: &[OsString]) -> i32 {
    power_action(RebootCommand::PowerOff, "poweroff")
}

pub fn reboot_main(_args: &[OsString]) -> i32 {
    power_action(RebootCommand::Restart, "reboot")
}

fn power_action(command: RebootCommand, name: &str) -> i32 {
    rustix::fs::sync();
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    for problem in release_block_mounts(&mounts) {
        eprintln!("{name}: {problem}");
    }
    rustix::fs::sync();
    match reboot(command) {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("{name}: {err}");
            1
        }
    }
}
