//! kexec: load a kernel for a kexec reboot (-l) or as the crash kernel (-p), and start a
//! loaded one (-e). kexec-tools' option names: --initrd=FILE, --append=TEXT,
//! --reuse-cmdline. Loading uses kexec_file_load, as `kexec -s` does.
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::boot::launch::kexec::{execute, load_plan, KexecPlan, STAGING_DIR};
use crate::util::Parser;

const USAGE: &str = "usage: kexec -l|-p KERNEL [--initrd=FILE] [--append=TEXT] [--reuse-cmdline]
       kexec -e
Load KERNEL for a kexec reboot (-l) or as the crash kernel that runs after a
panic (-p, needs crashkernel= on this kernel's command line); -e starts the
kernel loaded with -l.";

#[derive(PartialEq)]
enum Mode {
    Unset,
    Load,
    Crash,
    Execute,
}

pub fn main(args: &[OsString]) -> i32 {
    let mut mode = Mode::Unset;
    let mut initrds: Vec<PathBuf> = Vec::new();
    let mut append = String::new();
    let mut reuse = false;
    const LONGS: &[(&str, char)] = &[
        ("initrd", 'i'),
        ("ramdisk", 'i'),
        ("append", 'a'),
        ("command-line", 'a'),
        ("reuse-cmdline", 'r'),
        ("load", 'l'),
        ("load-panic", 'p'),
        ("exec", 'e'),
    ];
    let parsed = Parser::new("kexec", USAGE, args)
        .longs(LONGS)
        .parse(|p, c| {
            match c {
                'l' => mode = Mode::Load,
                'p' => mode = Mode::Crash,
                'e' => mode = Mode::Execute,
                's' => {} // kexec_file_load is the only way we load
                'i' => initrds.push(PathBuf::from(p.value()?)),
                'a' => append = p.value()?,
                'r' => reuse = true,
                other => return Err(p.unknown(other)),
            }
            Ok(())
        });
    let operands = match parsed {
        Ok(ops) => ops,
        Err(code) => return code,
    };
    if mode == Mode::Execute {
        let error = execute();
        eprintln!("kexec: {error}");
        return 1;
    }
    let ([kernel], Mode::Load | Mode::Crash) = (operands.as_slice(), &mode) else {
        return Parser::usage_error("kexec", USAGE, "need -l or -p and one KERNEL", 1);
    };
    let mut cmdline = if reuse {
        let own = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
        strip_boot_image(&own)
    } else {
        String::new()
    };
    if !append.is_empty() {
        if !cmdline.is_empty() {
            cmdline.push(' ');
        }
        cmdline.push_str(&append);
    }
    let plan = KexecPlan {
        kernel: PathBuf::from(kernel),
        initrds,
        cmdline,
        staged: None,
    };
    match load_plan(
        &plan,
        mode == Mode::Crash,
        Path::new(STAGING_DIR),
        crate::boot::signature::current(),
        None,
    ) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("kexec: {e}");
            1
        }
    }
}

/// The running kernel's command line without BOOT_IMAGE= (it names this kernel's file,
/// not the one being loaded), as kexec-tools' --reuse-cmdline does.
fn strip_boot_image(cmdline: &str) -> String {
    cmdline
        .split_whitespace()
        .filter(|w| !w.starts_with("BOOT_IMAGE="))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_and_boot_image_stripping() {
        let os = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(main(&os(&[])), 1);
        assert_eq!(main(&os(&["-l"])), 1);
        assert_eq!(main(&os(&["-x", "k"])), 1);
        assert_eq!(main(&os(&["--help"])), 0);
        // A missing kernel file is an error naming it, not a panic.
        assert_eq!(main(&os(&["-p", "/nonexistent/bzImage"])), 1);
        assert_eq!(
            strip_boot_image("BOOT_IMAGE=/vmlinuz root=/dev/sda1  quiet"),
            "root=/dev/sda1 quiet"
        );
    }
}
