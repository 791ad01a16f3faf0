//! The one applet registry: name → entry point for every applet of the `kboot` binary
//! (the general tools here and kboot's own: init, menu, triage, savedump, reboot…), and how
//! to start an applet as a child process. The shell's completion and `is_applet` and the
//! multi-call dispatch all read this table.
use std::ffi::{OsStr, OsString};
use std::process::Command;

macro_rules! applets {
    ($($name:literal => $main:path, $synopsis:literal;)*) => {
        static LIST: &[(&str, &str)] = &[$(($name, $synopsis)),*];
        static MAINS: &[fn(&[OsString]) -> i32] = &[$($main),*];
    };
}

pub mod blkid;
pub mod cat;
pub mod chmod;
pub mod chown;
pub mod chroot;
pub mod cp;
pub mod cut;
pub mod date;
pub mod dd;
pub mod df;
pub mod dhcp;
pub mod dmesg;
pub mod du;
pub mod echo;
pub mod edit;
pub mod env;
pub mod find;
pub mod free;
pub mod frontend;
pub mod getty;
pub mod grep;
pub mod hashsum;
pub mod head;
pub mod hexdump;
pub mod hostname;
pub mod ip;
pub mod kexec;
pub mod kill;
pub mod ln;
pub mod ls;
pub mod lsblk;
pub mod mkdir;
pub mod mknod;
pub mod modinfo;
pub mod modprobe;
pub mod modules;
pub mod more;
pub mod mount;
pub mod mv;
pub mod ping;
pub mod printf;
pub mod ps;
pub mod rm;
pub mod rmdir;
pub mod sed;
pub mod sleep;
pub mod sort;
pub mod sshd;
pub mod stat;
pub mod switch_root;
pub mod sync;
pub mod tail;
pub mod test;
pub mod touch;
pub mod tpm;
pub mod tr;
pub mod true_;
pub mod umount;
pub mod uname;
pub mod uniq;
pub mod uptime;
pub mod wc;
pub mod wget;
pub mod which;

// Keep sorted by name: `list()` promises sorted output and lookup is a binary search.
applets! {
    "[" => test::main_bracket, "evaluate a condition (test with closing ])";
    "blkid" => blkid::main, "file system type, label and UUID";
    "boot" => crate::boot::menu_main, "the boot menu (another name for menu: boot --list, boot --boot N)";
    "cat" => cat::main, "concatenate files";
    "chmod" => chmod::main, "change file mode bits";
    "chown" => chown::main, "change file owner and group";
    "chroot" => chroot::main, "run a command with another root directory";
    "cp" => cp::main, "copy files and directories";
    "cut" => cut::main, "select fields or characters of lines";
    "date" => date::main, "print or set the date (UTC)";
    "dd" => dd::main, "copy and convert blocks";
    "df" => df::main, "file system space usage";
    "dhcp" => dhcp::main, "configure network interfaces with DHCP";
    "dmesg" => dmesg::main, "print or control the kernel log";
    "du" => du::main, "disk usage of files and trees";
    "dump" => frontend::dump_main, "capture-kernel front end: triage /proc/vmcore, save report and dump, reboot";
    "echo" => echo::main, "print arguments";
    "edit" => edit::main, "minimal line editor for config files";
    "env" => env::main, "print or modify the environment and run a command";
    "false" => true_::main_false, "exit with status 1";
    "find" => find::main, "search for files in a directory tree";
    "free" => free::main, "memory usage";
    "frontend" => frontend::main, "the console front end: the boot menu, and the shell on request";
    "getty" => getty::main, "run an applet on a terminal as its controlling tty";
    "grep" => grep::main, "print lines matching a pattern";
    "head" => head::main, "first lines of files";
    "hexdump" => hexdump::main, "hex dump of files";
    "hostname" => hostname::main, "print or set the host name";
    "init" => crate::init::main, "PID 1: mount the basics, announce readiness, supervise the front ends";
    "insmod" => modules::main_insmod, "load a kernel module";
    "ip" => ip::main, "show and configure links, addresses and routes";
    "kexec" => kexec::main, "load a kernel to reboot into, or as the crash kernel";
    "kill" => kill::main, "send signals to processes";
    "ln" => ln::main, "make links";
    "ls" => ls::main, "list directory contents";
    "lsblk" => lsblk::main, "list block devices";
    "lsmod" => modules::main_lsmod, "list loaded kernel modules";
    "md5sum" => hashsum::main_md5, "MD5 checksums";
    "menu" => crate::boot::menu_main, "the boot menu: find kernels on every disk, choose, kexec";
    "mkdir" => mkdir::main, "make directories";
    "mknod" => mknod::main, "make device nodes and fifos";
    "mkpasswd" => crate::boot::menu::password::mkpasswd_main, "make the SHA-512-crypt hash for [menu] password in kboot.toml";
    "modinfo" => modinfo::main, "show a kernel module's information (license, aliases, parameters…)";
    "modprobe" => modprobe::main, "load kernel modules by name or alias, with dependencies; --coldplug";
    "more" => more::main, "page through text";
    "mount" => mount::main, "mount file systems or list mounts";
    "mv" => mv::main, "move or rename files";
    "ping" => ping::main, "send ICMP echo requests";
    "poweroff" => crate::power::poweroff_main, "sync, unmount and power the machine off";
    "printf" => printf::main, "formatted output";
    "ps" => ps::main, "list processes";
    "reboot" => crate::power::reboot_main, "sync, unmount and reboot";
    "rm" => rm::main, "remove files or directories";
    "rmdir" => rmdir::main, "remove empty directories";
    "rmmod" => modules::main_rmmod, "unload kernel modules";
    "savedump" => crate::dump::save::cli::savedump_main, "save a vmcore as a filtered, compressed kdump file";
    "sed" => sed::main, "stream editor (s///, d, p)";
    "sh" => crate::shell::main, "command shell";
    "sha256sum" => hashsum::main_sha256, "SHA-256 checksums";
    "sleep" => sleep::main, "pause for a while";
    "sort" => sort::main, "sort lines";
    "sshd" => sshd::main, "SSH server: the menu or a command for ssh-ed25519 keys the image authorizes";
    "stat" => stat::main, "file status";
    "switch_root" => switch_root::main, "switch from initramfs to the real root";
    "sync" => sync::main, "flush file system buffers";
    "tail" => tail::main, "last lines of files, or follow a file";
    "test" => test::main, "evaluate a condition";
    "touch" => touch::main, "change file times or create files";
    "tpm" => tpm::main, "TPM 2.0: the PCRs of every active bank, the event log of the last boot";
    "tr" => tr::main, "translate or delete characters";
    "triage" => crate::dump::report::cli::triage_main, "crash-dump triage: report from a vmcore with no debuginfo";
    "true" => true_::main_true, "exit with status 0";
    "umount" => umount::main, "unmount file systems";
    "uname" => uname::main, "system information";
    "uniq" => uniq::main, "collapse repeated lines";
    "uptime" => uptime::main, "time since boot and load";
    "wc" => wc::main, "count lines, words and bytes";
    "wget" => wget::main, "download a file over HTTP or FTP";
    "which" => which::main, "locate a command in PATH";
}

/// Run applet `name` in this process; None if there is no such applet.
pub fn dispatch(name: &str, args: &[OsString]) -> Option<i32> {
    let i = LIST.binary_search_by(|(n, _)| n.cmp(&name)).ok()?;
    Some(MAINS[i](args))
}

/// (name, synopsis) of every applet, sorted by name.
pub fn list() -> &'static [(&'static str, &'static str)] {
    LIST
}

pub fn is_applet(name: &str) -> bool {
    LIST.binary_search_by(|(n, _)| n.cmp(&name)).is_ok()
}

/// A Command that runs `name`: this very binary with argv[0] = name when it is an applet
/// (applets win over PATH, like busybox's "prefer applets"), otherwise the program itself.
pub fn command_for(name: &OsStr) -> Command {
    let text = name.to_string_lossy();
    if is_applet(&text) {
        if let Ok(exe) = std::env::current_exe() {
            let mut c = Command::new(exe);
            std::os::unix::process::CommandExt::arg0(&mut c, name);
            return c;
        }
    }
    Command::new(name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn registry_is_sorted_and_complete() {
        let names: Vec<&str> = super::LIST.iter().map(|(n, _)| *n).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted);
        assert_eq!(super::LIST.len(), super::MAINS.len());
    }
}
