//! Dispatch for the `kboot` binary: the whole userspace of kboot-rs in one static binary, dispatched busybox-style
//! on argv[0] (`/init`, `/bin/ls` → kboot) or on the first argument (`kboot ls`).

use std::ffi::OsString;
use std::path::Path;

use crate::{getty, init, power, prompt, VERSION};

type Applet = fn(&[OsString]) -> i32;

/// (name, synopsis, entry point), sorted by name.
pub const APPLETS: &[(&str, &str, Applet)] = &[
    ("getty", "run an applet on a terminal as its controlling tty", getty::main),
    ("init", "PID 1: mount the basics, announce readiness, supervise the front end", init::main),
    ("poweroff", "sync, unmount and power the machine off", power::poweroff_main),
    ("reboot", "sync, unmount and reboot", power::reboot_main),
    ("menu", "the boot menu (until it lands: the command prompt)", prompt::main),
    ("sh", "the command prompt", prompt::main),
];

fn find_applet(name: &str) -> Option<Applet> {
    APPLETS.iter().find(|(n, _, _)| *n == name).map(|(_, _, f)| *f)
}

pub fn main() -> ! {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let argv0 = args.first().cloned().unwrap_or_default();
    let invoked_as = Path::new(&argv0).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let code = if let Some(applet) = find_applet(&invoked_as) {
        applet(&args[1..])
    } else {
        args.remove(0);
        match args.first().map(|a| a.to_string_lossy().into_owned()).as_deref() {
            Some("--list") => {
                APPLETS.iter().for_each(|(name, _, _)| println!("{name}"));
                0
            }
            Some("--version") => {
                println!("kboot {VERSION}");
                0
            }
            Some(name) => match find_applet(name) {
                Some(applet) => applet(&args[1..]),
                None => {
                    eprintln!("kboot: {name}: applet not found (kboot --list shows them)");
                    127
                }
            },
            None => {
                println!("kboot {VERSION} — usage: kboot APPLET [ARGS]…\n");
                APPLETS.iter().for_each(|(name, about, _)| println!("  {name:<10} {about}"));
                0
            }
        }
    };
    std::process::exit(code);
}
