//! switch_root: from an initramfs (as PID 1), empty the old root, move NEWROOT onto /, chroot
//! into it and exec INIT.
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;

use crate::util::{warn_err, Parser};

const USAGE: &str = "usage: switch_root [-c CONSOLE] NEWROOT INIT [ARG...]\nSwitch from the initramfs to NEWROOT and run INIT (must be PID 1).";

/// Delete everything on the root file system (device `root_dev`), not crossing into mounts.
fn remove_initramfs(dir: &Path, root_dev: u64, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path == keep {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.dev() != root_dev {
            continue;
        }
        if meta.is_dir() {
            remove_initramfs(&path, root_dev, keep);
            let _ = std::fs::remove_dir(&path);
        } else {
            let _ = std::fs::remove_file(&path);
        }
    }
}

pub fn main(args: &[OsString]) -> i32 {
    let mut console: Option<String> = None;
    let mut parser = Parser::new("switch_root", USAGE, args);
    parser.stop_at_operand = true;
    let ops = match parser.parse(|p, c| match c {
        'c' => {
            console = Some(p.value()?);
            Ok(())
        }
        _ => Err(p.unknown(c)),
    }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if ops.len() < 2 {
        return Parser::usage_error("switch_root", USAGE, "missing NEWROOT or INIT", 1);
    }
    if std::process::id() != 1 {
        crate::warn!("switch_root: not running as PID 1");
        return 1;
    }
    let new_root = Path::new(&ops[0]);
    let init = &ops[1];
    let root_dev = match (std::fs::metadata("/"), std::fs::metadata(new_root)) {
        (Ok(r), Ok(n)) if r.dev() != n.dev() => r.dev(),
        (Ok(_), Ok(_)) => {
            crate::warn!("switch_root: {} is not a mount point", new_root.display());
            return 1;
        }
        (Err(e), _) | (_, Err(e)) => {
            warn_err("switch_root", new_root.display(), &e);
            return 1;
        }
    };
    let init_in_new_root = new_root.join(init.to_string_lossy().trim_start_matches('/'));
    if !crate::util::path::is_executable(&init_in_new_root) {
        crate::warn!(
            "switch_root: {}: not executable in the new root",
            init.to_string_lossy()
        );
        return 1;
    }
    if let Ok(canonical) = std::fs::canonicalize(new_root) {
        remove_initramfs(Path::new("/"), root_dev, &canonical);
    }
    let steps = rustix::process::chdir(new_root)
        .and_then(|_| rustix::mount::mount_move(".", "/"))
        .and_then(|_| rustix::process::chroot("."))
        .and_then(|_| rustix::process::chdir("/"));
    if let Err(e) = steps {
        warn_err("switch_root", "moving the new root to /", &e.into());
        return 1;
    }
    if let Some(c) = console {
        if let Ok(tty) = std::fs::OpenOptions::new().read(true).write(true).open(&c) {
            let _ = rustix::stdio::dup2_stdin(&tty);
            let _ = rustix::stdio::dup2_stdout(&tty);
            let _ = rustix::stdio::dup2_stderr(&tty);
        }
    }
    let err = std::process::Command::new(init).args(&ops[2..]).exec();
    warn_err(
        "switch_root",
        format!("failed to execute {}", init.to_string_lossy()),
        &err,
    );
    1
}
