//! mount: list mounts (no args), or mount DEVICE DIR with -t TYPE (probed with blkid's probes
//! when absent) and -o OPTIONS (ro, rw, remount, bind, move, loop, nosuid, nodev, noexec, noatime, …).
use std::ffi::{CString, OsString};
use std::io::Write;

use rustix::mount::MountFlags;

use crate::blockdev::mounts::read_mounts;
use crate::util::{finish, warn_err, Parser};

const USAGE: &str = "usage: mount [-t TYPE] [-o OPT[,OPT]...] [-r] DEVICE|IMAGE DIR | mount\nMount a file system (image files through a loop device); without operands list /proc/mounts.";

struct Request {
    flags: MountFlags,
    /// -o loop (also implied for a regular file as the source).
    use_loop: bool,
    remount: bool,
    bind: bool,
    move_mount: bool,
    data: Vec<String>,
}

fn parse_options(opts: &str, r: &mut Request) {
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        let flag = match o {
            "ro" => MountFlags::RDONLY,
            "rw" => {
                r.flags.remove(MountFlags::RDONLY);
                continue;
            }
            "nosuid" => MountFlags::NOSUID,
            "nodev" => MountFlags::NODEV,
            "noexec" => MountFlags::NOEXEC,
            "noatime" => MountFlags::NOATIME,
            "nodiratime" => MountFlags::NODIRATIME,
            "relatime" => MountFlags::RELATIME,
            "strictatime" => MountFlags::STRICTATIME,
            "sync" => MountFlags::SYNCHRONOUS,
            "dirsync" => MountFlags::DIRSYNC,
            "silent" => MountFlags::SILENT,
            "remount" => {
                r.remount = true;
                continue;
            }
            "bind" | "rbind" => {
                r.bind = true;
                if o == "rbind" {
                    r.flags |= MountFlags::REC;
                }
                continue;
            }
            "move" => {
                r.move_mount = true;
                continue;
            }
            "loop" => {
                r.use_loop = true;
                continue;
            }
            "defaults" | "suid" | "dev" | "exec" | "async" | "atime" | "auto" | "noauto"
            | "user" | "nouser" | "nofail" => continue,
            other => {
                r.data.push(other.to_string());
                continue;
            }
        };
        r.flags |= flag;
    }
}

/// Candidate types: /proc/filesystems entries that need a device (not "nodev").
fn kernel_filesystems() -> Vec<String> {
    let text = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with("nodev"))
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

pub fn main(args: &[OsString]) -> i32 {
    let mut fs_type: Option<String> = None;
    let mut r = Request {
        flags: MountFlags::empty(),
        use_loop: false,
        remount: false,
        bind: false,
        move_mount: false,
        data: Vec::new(),
    };
    let ops = match Parser::new("mount", USAGE, args).code(1).parse(|p, c| {
        match c {
            't' => fs_type = Some(p.value()?),
            'o' => parse_options(&p.value()?, &mut r),
            'r' => r.flags |= MountFlags::RDONLY,
            'w' => r.flags.remove(MountFlags::RDONLY),
            'n' | 'v' | 'f' => {}
            _ => return Err(p.unknown(c)),
        }
        Ok(())
    }) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let ops = crate::util::args::strings(&ops);
    if ops.is_empty() {
        return finish("mount", list(fs_type.as_deref()));
    }
    // One operand: look it up in /etc/fstab (only for remount and simple cases).
    let (source, target) = match ops.as_slice() {
        [t] if r.remount => (String::new(), t.clone()),
        [one] => match fstab_entry(one) {
            Some((s, t, ty, o)) => {
                if fs_type.is_none() && ty != "auto" {
                    fs_type = Some(ty);
                }
                parse_options(&o, &mut r);
                (s, t)
            }
            None => {
                crate::warn!("mount: {one}: can't find in /etc/fstab");
                return 1;
            }
        },
        [s, t] => (s.clone(), t.clone()),
        _ => return Parser::usage_error("mount", USAGE, "too many operands", 1),
    };
    // fstab-style UUID=/LABEL= sources name the device by its file system.
    let source = match crate::blockdev::tags::resolve_tag(
        &source,
        &crate::blockdev::devices::all_block_devices(),
    ) {
        Some(dev) => dev.display().to_string(),
        None => {
            crate::warn!("mount: can't find {source}");
            return 32;
        }
    };
    let result = match perform(&r, &source, &target, fs_type.as_deref()) {
        Ok(result) => result,
        Err(status) => return status,
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            warn_err(
                "mount",
                format!("mounting {source} on {target} failed"),
                &e.into(),
            );
            if e == rustix::io::Errno::NOENT && std::fs::metadata(&target).is_err() {
                crate::warn!("mount: mount point {target} does not exist");
            }
            32
        }
    }
}

/// The mount(2) calls for a request: remount, bind (and the read-only remount a read-only
/// bind needs), move, or a new mount of a device — a regular file through a loop device.
/// Err(status) when the loop device could not be set up (already reported).
fn perform(
    r: &Request,
    source: &str,
    target: &str,
    fs_type: Option<&str>,
) -> Result<rustix::io::Result<()>, i32> {
    let data = CString::new(r.data.join(",")).unwrap_or_default();
    let data_opt = (!r.data.is_empty()).then_some(data.as_c_str());
    Ok(if r.remount {
        rustix::mount::mount_remount(target, r.flags, data.as_c_str())
    } else if r.bind {
        rustix::mount::mount_bind(source, target).and_then(|_| {
            // A read-only bind mount needs a second, remounting call.
            if r.flags.contains(MountFlags::RDONLY) {
                rustix::mount::mount_remount(target, r.flags | MountFlags::BIND, c"")
            } else {
                Ok(())
            }
        })
    } else if r.move_mount {
        rustix::mount::mount_move(source, target)
    } else {
        // A regular file is mounted through a loop device (as util-linux does).
        let is_file = std::fs::metadata(source)
            .map(|m| m.is_file())
            .unwrap_or(false);
        let attached = if r.use_loop || is_file {
            match attach_loop(source, r.flags.contains(MountFlags::RDONLY)) {
                Ok(a) => Some(a),
                Err(e) => {
                    warn_err("mount", format!("{source}: cannot set up loop device"), &e);
                    return Err(32);
                }
            }
        } else {
            None
        };
        let device = attached
            .as_ref()
            .map(|(path, _)| path.display().to_string())
            .unwrap_or_else(|| source.to_string());
        mount_device(&device, target, fs_type, r.flags, data_opt)
    })
}

/// Open the image (read-write if allowed) and attach it to a free loop device. The device
/// handle is kept open until the mount holds its own reference.
fn attach_loop(
    source: &str,
    read_only: bool,
) -> std::io::Result<(std::path::PathBuf, std::fs::File)> {
    let open = |write: bool| {
        std::fs::OpenOptions::new()
            .read(true)
            .write(write)
            .open(source)
    };
    let (file, ro) = match open(!read_only) {
        Ok(f) => (f, read_only),
        Err(_) if !read_only => (open(false)?, true),
        Err(e) => return Err(e),
    };
    crate::sys::loop_attach(&file, ro)
}

/// mount(2) with the given type, or the probed type, or each kernel file system in turn.
fn mount_device(
    device: &str,
    target: &str,
    fs_type: Option<&str>,
    flags: MountFlags,
    data: Option<&std::ffi::CStr>,
) -> rustix::io::Result<()> {
    let types = match fs_type {
        Some(t) if t != "auto" => vec![t.to_string()],
        _ => match crate::blockdev::probe::probe_path(std::path::Path::new(device)) {
            Ok(Some(p)) if p.fs_type != "swap" && p.fs_type != "crypto_LUKS" => {
                vec![p.fs_type.to_string()]
            }
            _ => kernel_filesystems(),
        },
    };
    let mut last = Err(rustix::io::Errno::NODEV);
    for t in &types {
        last = rustix::mount::mount(device, target, t.as_str(), flags, data);
        if last.is_ok() {
            break;
        }
    }
    last
}

fn fstab_entry(name: &str) -> Option<(String, String, String, String)> {
    let text = std::fs::read_to_string("/etc/fstab").ok()?;
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && (f[0] == name || f[1] == name)).then(|| {
                (
                    f[0].to_string(),
                    f[1].to_string(),
                    f[2].to_string(),
                    f.get(3).unwrap_or(&"defaults").to_string(),
                )
            })
        })
}

fn list(only_type: Option<&str>) -> std::io::Result<i32> {
    let mut out = crate::util::stdout();
    for m in read_mounts() {
        if only_type.is_some_and(|t| t != m.fstype) {
            continue;
        }
        writeln!(
            out,
            "{} on {} type {} ({})",
            m.source,
            m.target.display(),
            m.fstype,
            m.options
        )?;
    }
    out.flush()?;
    Ok(0)
}
