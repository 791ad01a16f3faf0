//! File operations shared by cp, mv, rm and ln: destination naming, tree copy, tree removal.
use std::ffi::OsString;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// `cp a b/` style: when `dest` is a directory the source's file name goes inside it.
pub fn destination(src: &Path, dest: &Path, dest_is_dir: bool) -> PathBuf {
    if dest_is_dir {
        match src.file_name() {
            Some(name) => dest.join(name),
            None => dest.to_path_buf(),
        }
    } else {
        dest.to_path_buf()
    }
}

/// SOURCE... DEST operands of cp, mv and ln.
pub struct Transfer {
    pub sources: Vec<OsString>,
    pub target: PathBuf,
    /// With several sources the target must be a directory; each source goes inside it.
    pub into_dir: bool,
}

impl Transfer {
    pub fn parse(
        applet: &'static str,
        usage: &'static str,
        mut ops: Vec<OsString>,
    ) -> Result<Transfer, i32> {
        if ops.len() < 2 {
            let msg = match ops.first() {
                None => "missing file operand".to_string(),
                Some(first) => format!(
                    "missing destination file operand after '{}'",
                    first.to_string_lossy()
                ),
            };
            return Err(super::Parser::usage_error(applet, usage, &msg, 1));
        }
        let target = PathBuf::from(ops.pop().unwrap_or_default());
        let into_dir = std::fs::metadata(&target)
            .map(|m| m.is_dir())
            .unwrap_or(false);
        if ops.len() > 1 && !into_dir {
            crate::warn!("{applet}: target '{}' is not a directory", target.display());
            return Err(1);
        }
        Ok(Transfer {
            sources: ops,
            target,
            into_dir,
        })
    }

    /// Call `op(source, destination)` for each source; status 1 if any call failed.
    pub fn each(&self, mut op: impl FnMut(&Path, &Path) -> bool) -> i32 {
        let mut status = 0;
        for src in &self.sources {
            let src = Path::new(src);
            if !op(src, &destination(src, &self.target, self.into_dir)) {
                status = 1;
            }
        }
        status
    }
}

#[derive(Clone, Copy)]
pub struct CopyOptions {
    pub recursive: bool,
    /// -a / -p: keep mode, owner and times; -a also copies symlinks as symlinks.
    pub preserve: bool,
    pub no_dereference: bool,
    pub force: bool,
}

/// Copy `src` to `dest`; errors are reported as `applet: path: reason` and counted.
pub fn copy_tree(applet: &str, src: &Path, dest: &Path, o: &CopyOptions) -> bool {
    let meta = if o.no_dereference {
        std::fs::symlink_metadata(src)
    } else {
        std::fs::metadata(src)
    };
    let meta = match meta {
        Ok(m) => m,
        Err(e) => {
            super::warn_err(applet, format!("cannot stat '{}'", src.display()), &e);
            return false;
        }
    };
    if meta.file_type().is_dir() {
        return copy_dir(applet, src, dest, &meta, o);
    }
    match copy_node(src, dest, &meta, o) {
        Ok(()) => {
            if o.preserve {
                preserve(dest, &meta);
            }
            true
        }
        Err(e) => {
            super::warn_err(applet, format!("cannot create '{}'", dest.display()), &e);
            false
        }
    }
}

/// Everything but a directory: a symlink as a symlink, a file's bytes, and devices,
/// fifos and sockets recreated as nodes.
fn copy_node(src: &Path, dest: &Path, meta: &std::fs::Metadata, o: &CopyOptions) -> io::Result<()> {
    let ft = meta.file_type();
    if ft.is_symlink() {
        std::fs::read_link(src).and_then(|t| {
            if o.force {
                let _ = std::fs::remove_file(dest);
            }
            std::os::unix::fs::symlink(t, dest)
        })
    } else if ft.is_file() {
        copy_file(src, dest, o.force).map(|_| ())
    } else {
        let kind = rustix::fs::FileType::from_raw_mode(meta.mode());
        rustix::fs::mknodat(
            rustix::fs::CWD,
            dest,
            kind,
            rustix::fs::Mode::from_raw_mode(meta.mode()),
            meta.rdev(),
        )
        .map_err(io::Error::from)
    }
}

/// A directory (with -r): created or reused, its entries copied in name order without
/// following symlinks, then its mode (or with -p all its metadata) set.
fn copy_dir(
    applet: &str,
    src: &Path,
    dest: &Path,
    meta: &std::fs::Metadata,
    o: &CopyOptions,
) -> bool {
    if !o.recursive {
        crate::warn!(
            "{applet}: -r not specified; omitting directory '{}'",
            src.display()
        );
        return false;
    }
    if dest.starts_with(src) && dest != src {
        crate::warn!(
            "{applet}: cannot copy a directory, '{}', into itself, '{}'",
            src.display(),
            dest.display()
        );
        return false;
    }
    let mut ok = true;
    match std::fs::create_dir(dest) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dest.is_dir() => {}
        Err(e) => {
            super::warn_err(
                applet,
                format!("cannot create directory '{}'", dest.display()),
                &e,
            );
            return false;
        }
    }
    match super::walk::sorted_entries(src) {
        Ok(children) => {
            let inner = CopyOptions {
                no_dereference: true,
                ..*o
            };
            for child in children {
                if let Some(name) = child.file_name() {
                    ok &= copy_tree(applet, &child, &dest.join(name), &inner);
                }
            }
        }
        Err(e) => {
            super::warn_err(
                applet,
                format!("cannot read directory '{}'", src.display()),
                &e,
            );
            ok = false;
        }
    }
    if o.preserve {
        preserve(dest, meta);
    } else {
        let _ =
            std::fs::set_permissions(dest, std::fs::Permissions::from_mode(meta.mode() & 0o7777));
    }
    ok
}

fn copy_file(src: &Path, dest: &Path, force: bool) -> io::Result<u64> {
    match std::fs::copy(src, dest) {
        Err(e) if force && e.kind() == io::ErrorKind::PermissionDenied => {
            std::fs::remove_file(dest)?;
            std::fs::copy(src, dest)
        }
        other => other,
    }
}

/// Best effort: ownership fails for non-root, which cp -a also tolerates.
fn preserve(dest: &Path, meta: &std::fs::Metadata) {
    use rustix::fs::{AtFlags, Timespec, Timestamps};
    let _ = rustix::fs::chownat(
        rustix::fs::CWD,
        dest,
        Some(rustix::fs::Uid::from_raw(meta.uid())),
        Some(rustix::fs::Gid::from_raw(meta.gid())),
        AtFlags::SYMLINK_NOFOLLOW,
    );
    if !meta.file_type().is_symlink() {
        let _ =
            std::fs::set_permissions(dest, std::fs::Permissions::from_mode(meta.mode() & 0o7777));
    }
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: meta.atime(),
            tv_nsec: meta.atime_nsec() as _,
        },
        last_modification: Timespec {
            tv_sec: meta.mtime(),
            tv_nsec: meta.mtime_nsec() as _,
        },
    };
    let _ = rustix::fs::utimensat(rustix::fs::CWD, dest, &times, AtFlags::SYMLINK_NOFOLLOW);
}

/// Remove a file or (with `recursive`) a whole tree; reports errors, returns success.
pub fn remove_tree(applet: &str, path: &Path, recursive: bool) -> bool {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => {
            super::warn_err(applet, format!("cannot remove '{}'", path.display()), &e);
            return false;
        }
    };
    if !meta.is_dir() {
        return match std::fs::remove_file(path) {
            Ok(()) => true,
            Err(e) => {
                super::warn_err(applet, format!("cannot remove '{}'", path.display()), &e);
                false
            }
        };
    }
    if !recursive {
        crate::warn!(
            "{applet}: cannot remove '{}': Is a directory",
            path.display()
        );
        return false;
    }
    let mut ok = true;
    match super::walk::sorted_entries(path) {
        Ok(children) => {
            for c in children {
                ok &= remove_tree(applet, &c, true);
            }
        }
        Err(e) => {
            super::warn_err(
                applet,
                format!("cannot read directory '{}'", path.display()),
                &e,
            );
            return false;
        }
    }
    if let Err(e) = std::fs::remove_dir(path) {
        super::warn_err(applet, format!("cannot remove '{}'", path.display()), &e);
        ok = false;
    }
    ok
}
