//! Read-only access to the one filesystem a config was found on (host directory or in memory).

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

/// Larger config files are refused: no real boot config comes close, and it bounds memory.
pub const MAX_CONFIG_BYTES: u64 = 32 * 1024 * 1024;
/// Symlink hops allowed while resolving one path (Linux uses 40 as well).
const MAX_SYMLINK_HOPS: usize = 40;

/// The filesystem a config lives on. Paths are absolute within that filesystem.
pub trait ConfigFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Whether a regular file exists; overridden where reading the file would be wasteful.
    fn is_file(&self, path: &Path) -> bool {
        self.read(path).is_ok()
    }
    /// Up to `len` bytes at `offset` (fewer at the end of the file): for large files such
    /// as unified kernel images, of which only headers and small sections are wanted.
    fn read_at(&self, path: &Path, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let bytes = self.read(path)?;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let end = start.saturating_add(len).min(bytes.len());
        Ok(bytes[start..end].to_vec())
    }
}

/// Reads a config as text; invalid UTF-8 is replaced rather than rejected (configs are ASCII
/// in practice, and one bad byte in a comment must not hide the whole menu).
pub fn read_text(fs: &dyn ConfigFs, path: &Path) -> io::Result<String> {
    let bytes = fs.read(path)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Resolves `path` against `base_dir` lexically: result is absolute, without `.`/`..`,
/// and never climbs above `/`.
pub fn normalize(base_dir: &Path, path: &Path) -> PathBuf {
    let mut parts: Vec<String> = Vec::new();
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        base_dir.join(path)
    };
    for component in joined.components() {
        match component {
            Component::Normal(name) => parts.push(name.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    let mut out = PathBuf::from("/");
    for part in parts {
        out.push(part);
    }
    out
}

/// A host directory standing for the root of the scanned filesystem (e.g. a mount point).
/// Symlinks are resolved inside the root, so `/vmlinuz -> /boot/vmlinuz-6.1` on the scanned
/// disk never escapes to the host's own files.
pub struct DirFs {
    root: PathBuf,
}

impl DirFs {
    pub fn new(root: impl Into<PathBuf>) -> DirFs {
        DirFs { root: root.into() }
    }

    /// Host path for `path` inside the root, following symlinks within the root.
    pub fn host_path(&self, path: &Path) -> io::Result<PathBuf> {
        let mut pending: Vec<String> = normalize(Path::new("/"), path)
            .components()
            .filter_map(|c| match c {
                Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
                _ => None,
            })
            .rev()
            .collect();
        let mut resolved: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(name) = pending.pop() {
            if name == ".." {
                resolved.pop();
                continue;
            }
            if name == "." {
                continue;
            }
            let mut candidate = self.root.clone();
            candidate.extend(resolved.iter());
            candidate.push(&name);
            let is_link = std::fs::symlink_metadata(&candidate)
                .map(|m| m.file_type().is_symlink())
                .unwrap_or(false);
            if !is_link {
                resolved.push(name);
                continue;
            }
            hops += 1;
            if hops > MAX_SYMLINK_HOPS {
                return Err(io::Error::other(format!(
                    "{}: too many levels of symbolic links",
                    path.display()
                )));
            }
            let target = std::fs::read_link(&candidate)?;
            if target.is_absolute() {
                resolved.clear();
            }
            let target_parts: Vec<String> = target
                .components()
                .filter_map(|c| match c {
                    Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
                    Component::ParentDir => Some("..".to_string()),
                    _ => None,
                })
                .collect();
            pending.extend(target_parts.into_iter().rev());
        }
        let mut out = self.root.clone();
        out.extend(resolved.iter());
        Ok(out)
    }
}

fn with_path(path: &Path, err: io::Error) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {}", path.display(), err))
}

impl ConfigFs for DirFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let host = self.host_path(path)?;
        let file = std::fs::File::open(&host).map_err(|e| with_path(path, e))?;
        let mut bytes = Vec::new();
        file.take(MAX_CONFIG_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| with_path(path, e))?;
        if bytes.len() as u64 > MAX_CONFIG_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: larger than {} bytes, not a boot config",
                    path.display(),
                    MAX_CONFIG_BYTES
                ),
            ));
        }
        Ok(bytes)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let host = self.host_path(path)?;
        let mut names = Vec::new();
        for item in std::fs::read_dir(&host).map_err(|e| with_path(path, e))? {
            let item = item.map_err(|e| with_path(path, e))?;
            names.push(item.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn is_file(&self, path: &Path) -> bool {
        self.host_path(path)
            .map(|host| host.is_file())
            .unwrap_or(false)
    }

    fn read_at(&self, path: &Path, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let host = self.host_path(path)?;
        let file = std::fs::File::open(&host).map_err(|e| with_path(path, e))?;
        read_file_at(&file, offset, len).map_err(|e| with_path(path, e))
    }
}

/// Up to `len` bytes of `file` at `offset`, fewer only at its end.
pub fn read_file_at(file: &std::fs::File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut positioned = PositionedReader { file, offset };
    (&mut positioned).take(len as u64).read_to_end(&mut bytes)?;
    Ok(bytes)
}

struct PositionedReader<'a> {
    file: &'a std::fs::File,
    offset: u64,
}

impl Read for PositionedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = std::os::unix::fs::FileExt::read_at(self.file, buf, self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }
}

/// An in-memory filesystem for tests and for configs handed over as text.
#[derive(Debug, Clone, Default)]
pub struct MemFs {
    files: BTreeMap<PathBuf, Vec<u8>>,
}

impl MemFs {
    pub fn new() -> MemFs {
        MemFs::default()
    }

    pub fn add(&mut self, path: &str, contents: impl Into<Vec<u8>>) -> &mut MemFs {
        self.files
            .insert(normalize(Path::new("/"), Path::new(path)), contents.into());
        self
    }

    pub fn with(mut self, path: &str, contents: impl Into<Vec<u8>>) -> MemFs {
        self.add(path, contents);
        self
    }
}

impl ConfigFs for MemFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let key = normalize(Path::new("/"), path);
        self.files.get(&key).cloned().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: No such file or directory", key.display()),
            )
        })
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let dir = normalize(Path::new("/"), path);
        let mut names: Vec<String> = self
            .files
            .keys()
            .filter_map(|file| file.strip_prefix(&dir).ok())
            .filter_map(|rest| rest.components().next())
            .map(|first| first.as_os_str().to_string_lossy().into_owned())
            .filter(|name| !name.is_empty())
            .collect();
        names.dedup();
        if names.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: No such file or directory", dir.display()),
            ));
        }
        Ok(names)
    }

    fn is_file(&self, path: &Path) -> bool {
        self.files.contains_key(&normalize(Path::new("/"), path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_stays_below_root() {
        assert_eq!(
            normalize(Path::new("/boot/grub"), Path::new("../../../x")),
            PathBuf::from("/x")
        );
        assert_eq!(
            normalize(Path::new("/isolinux"), Path::new("./vmlinuz")),
            PathBuf::from("/isolinux/vmlinuz")
        );
        assert_eq!(
            normalize(Path::new("/a"), Path::new("/b/./c/../d")),
            PathBuf::from("/b/d")
        );
    }

    #[test]
    fn memfs_lists_immediate_children_once() {
        let fs = MemFs::new()
            .with("/loader/entries/a.conf", "x")
            .with("/loader/entries/b.conf", "y")
            .with("/loader/loader.conf", "z");
        assert_eq!(
            fs.list_dir(Path::new("/loader")).unwrap_or_default(),
            vec!["entries", "loader.conf"]
        );
        assert_eq!(
            fs.list_dir(Path::new("/loader/entries"))
                .unwrap_or_default(),
            vec!["a.conf", "b.conf"]
        );
        assert!(fs.list_dir(Path::new("/nope")).is_err());
    }

    #[test]
    fn dirfs_keeps_absolute_symlinks_inside_root() {
        let root = std::env::temp_dir().join(format!("kboot-bootcfg-dirfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("boot")).unwrap();
        std::fs::write(root.join("boot/vmlinuz-6.1"), b"kernel").unwrap();
        std::os::unix::fs::symlink("/boot/vmlinuz-6.1", root.join("vmlinuz")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        let fs = DirFs::new(&root);
        assert_eq!(fs.read(Path::new("/vmlinuz")).unwrap(), b"kernel");
        assert!(fs.is_file(Path::new("/vmlinuz")));
        let err = fs.read(Path::new("/loop")).unwrap_err();
        assert!(err.to_string().contains("symbolic links"), "{err}");
        let _ = std::fs::remove_dir_all(&root);
    }
}
