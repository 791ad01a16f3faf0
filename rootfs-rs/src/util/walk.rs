//! Recursive directory traversal shared by cp -r, rm -r, chmod -R, du, find and ls -R.
use std::fs::Metadata;
use std::io;
use std::path::{Path, PathBuf};

pub enum Visit {
    /// Before a directory's entries (or for a non-directory).
    Pre,
    /// After all entries of a directory.
    Post,
}

/// Walk `root` depth-first, entries sorted by name. Symlinks are not followed below the root.
/// `visit` returns false to skip descending into a directory (only meaningful on Pre).
/// Errors reading a directory go to `on_error` and the walk continues.
pub fn walk(
    root: &Path,
    follow_root: bool,
    visit: &mut dyn FnMut(&Path, &Metadata, usize, Visit) -> bool,
    on_error: &mut dyn FnMut(&Path, &io::Error),
) {
    let meta = if follow_root {
        std::fs::metadata(root)
    } else {
        std::fs::symlink_metadata(root)
    };
    match meta {
        Ok(m) => walk_at(root, &m, 0, visit, on_error),
        Err(e) => on_error(root, &e),
    }
}

fn walk_at(
    path: &Path,
    meta: &Metadata,
    depth: usize,
    visit: &mut dyn FnMut(&Path, &Metadata, usize, Visit) -> bool,
    on_error: &mut dyn FnMut(&Path, &io::Error),
) {
    let descend = visit(path, meta, depth, Visit::Pre);
    if !meta.is_dir() {
        return;
    }
    if descend {
        match sorted_entries(path) {
            Ok(entries) => {
                for child in entries {
                    match std::fs::symlink_metadata(&child) {
                        Ok(m) => walk_at(&child, &m, depth + 1, visit, on_error),
                        Err(e) => on_error(&child, &e),
                    }
                }
            }
            Err(e) => on_error(path, &e),
        }
    }
    visit(path, meta, depth, Visit::Post);
}

/// Directory entries as full paths, sorted by byte order of the name.
pub fn sorted_entries(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut names: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    names.sort();
    Ok(names.into_iter().map(|n| dir.join(n)).collect())
}

/// Visit `root` (a symlink root is followed) and, when `recursive`, everything below it
/// (symlinks not followed), parents first. Unreachable paths are reported as
/// `applet: cannot access 'path': reason`; returns false if there were any.
pub fn visit_tree(
    applet: &str,
    root: &Path,
    recursive: bool,
    visit: &mut dyn FnMut(&Path, &Metadata, usize),
) -> bool {
    let mut ok = true;
    walk(
        root,
        true,
        &mut |path, meta, depth, when| {
            if matches!(when, Visit::Pre) {
                visit(path, meta, depth);
            }
            recursive
        },
        &mut |path, e| {
            crate::util::warn_err(applet, format!("cannot access '{}'", path.display()), e);
            ok = false;
        },
    );
    ok
}
