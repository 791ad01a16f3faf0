//! Dispatch for the `kboot` binary: the whole userspace, busybox-style, on argv[0]
//! (`/init`, `/bin/ls` → kboot) or on the first argument (`kboot ls`). The applets
//! themselves are listed once, in `applets`.

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

use crate::{applets, VERSION};

/// Every applet name with its synopsis, sorted (the registry keeps them sorted and unique).
pub fn all_applets() -> &'static [(&'static str, &'static str)] {
    applets::list()
}

fn run(name: &str, args: &[OsString]) -> Option<i32> {
    applets::dispatch(name, args)
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
