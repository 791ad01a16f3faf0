//! Dispatch for the `kboot` binary: the whole userspace, busybox-style, on argv[0]
//! (`/init`, `/bin/ls` → kboot) or on the first argument (`kboot ls`).

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

use crate::{applets, boot, dump, frontend, getty, init, power, VERSION};

type Applet = fn(&[OsString]) -> i32;

/// kboot's own applets (boot-loader business); the general ones live in `applets`.
pub const KBOOT_APPLETS: &[(&str, &str, Applet)] = &[
    (
        "dump",
        "capture-kernel front end: triage /proc/vmcore, save report and dump, reboot",
        frontend::dump_main,
    ),
    (
        "frontend",
        "the console front end: the boot menu, and the shell on request",
        frontend::main,
    ),
    (
        "getty",
        "run an applet on a terminal as its controlling tty",
        getty::main,
    ),
    (
        "init",
        "PID 1: mount the basics, announce readiness, supervise the front ends",
        init::main,
    ),
    (
        "menu",
        "the boot menu: find kernels on every disk, choose, kexec",
        boot::menu_main,
    ),
    (
        "poweroff",
        "sync, unmount and power the machine off",
        power::poweroff_main,
    ),
    ("reboot", "sync, unmount and reboot", power::reboot_main),
    (
        "savedump",
        "save a vmcore as a filtered, compressed kdump file",
        dump::save::cli::savedump_main,
    ),
    (
        "triage",
        "crash-dump triage: report from a vmcore with no debuginfo",
        dump::cli::triage_main,
    ),
];

/// Every applet name with its synopsis, sorted.
pub fn all_applets() -> Vec<(&'static str, &'static str)> {
    let mut all: Vec<(&str, &str)> = KBOOT_APPLETS
        .iter()
        .map(|(n, s, _)| (*n, *s))
        .chain(applets::list().iter().copied())
        .collect();
    all.sort();
    all.dedup_by_key(|(n, _)| *n);
    all
}

fn run(name: &str, args: &[OsString]) -> Option<i32> {
    match KBOOT_APPLETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, _, applet)) => Some(applet(args)),
        None => applets::dispatch(name, args),
    }
}

pub fn main() -> ! {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let argv0 = argv.first().cloned().unwrap_or_default();
    let invoked_as = Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A login shell is started as "-sh".
    let invoked_as = invoked_as.trim_start_matches('-');
    if invoked_as != "kboot" {
        if let Some(code) = run(invoked_as, argv.get(1..).unwrap_or_default()) {
            std::process::exit(code);
        }
    }
    let code = match argv
        .get(1)
        .map(|a| a.to_string_lossy().into_owned())
        .as_deref()
    {
        Some("--list") => print_lines(all_applets().iter().map(|(n, _)| n.to_string())),
        Some("--version") => print_lines(std::iter::once(format!("kboot {VERSION}"))),
        Some("--help") | None => print_lines(
            std::iter::once(format!(
                "kboot {VERSION} — usage: kboot APPLET [ARGS]... | kboot --list\n"
            ))
            .chain(all_applets().iter().map(|(n, s)| format!("  {n:<12} {s}"))),
        ),
        Some(name) => match run(name, &argv[2..]) {
            Some(code) => code,
            None => {
                eprintln!("kboot: {name}: applet not found (kboot --list shows them)");
                127
            }
        },
    };
    std::process::exit(code)
}

fn print_lines(lines: impl Iterator<Item = String>) -> i32 {
    let mut out = std::io::stdout().lock();
    for line in lines {
        if writeln!(out, "{line}").is_err() {
            return 141;
        }
    }
    0
}
