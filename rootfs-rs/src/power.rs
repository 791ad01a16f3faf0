//! Leaving the running kernel: `shut_down` is the one sequence behind `reboot`, `poweroff`
//! and a kexec boot — sync, release every disk filesystem (unmount, or remount read-only
//! where busy), sync again, then reboot(2). One sequence, so a fix to one path (a busy root,
//! an unclean disk) reaches all three.

use std::ffi::OsString;

use rustix::system::{reboot, RebootCommand};

use crate::blockdev::mounts::{read_mounts, release_block_mounts};

pub fn poweroff_main(_args: &[OsString]) -> i32 {
    power_action(RebootCommand::PowerOff, "poweroff")
}

pub fn reboot_main(_args: &[OsString]) -> i32 {
    power_action(RebootCommand::Restart, "reboot")
}

fn power_action(command: RebootCommand, name: &str) -> i32 {
    match shut_down(command, &mut |problem| eprintln!("{name}: {problem}")) {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("{name}: {err}");
            1
        }
    }
}

/// Syncs, releases every block-device filesystem (each one that stays writable is passed
/// to `problem`), syncs again and calls reboot(2) with `command` (restart, power off, or
/// start the kernel loaded by kexec). Returns only when reboot(2) did.
pub fn shut_down(command: RebootCommand, problem: &mut dyn FnMut(&str)) -> rustix::io::Result<()> {
    rustix::fs::sync();
    for p in release_block_mounts(&read_mounts()) {
        problem(&p);
    }
    rustix::fs::sync();
    reboot(command)
}
