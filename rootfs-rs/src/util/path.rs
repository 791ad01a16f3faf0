//! Finding programs: the one PATH search (the shell runs what `which` prints) and the test
//! for an executable regular file.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Executable regular files named `name` in the directories of `path_var` (a PATH value;
/// an empty entry is the current directory), in PATH order.
pub fn search_path<'a>(path_var: &'a str, name: &'a str) -> impl Iterator<Item = PathBuf> + 'a {
    path_var
        .split(':')
        .map(move |dir| Path::new(if dir.is_empty() { "." } else { dir }).join(name))
        .filter(|candidate| is_executable(candidate))
}

pub fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
