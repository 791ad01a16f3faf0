//! Deterministic newc ("070701") cpio archives, the format the kernel unpacks as initramfs.
//!
//! Entries are sorted by path and carry fixed ownership and mtime, and inode numbers are
//! assigned in sorted order, so the same inputs always give the same bytes. Parent
//! directories are created implicitly, because the kernel refuses to create a file whose
//! directory does not exist yet.

use std::collections::BTreeMap;
use std::fmt;

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir { perm: u32 },
    File { perm: u32, data: Vec<u8> },
    Symlink { target: String },
    CharDev { perm: u32, major: u32, minor: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpioError {
    /// The path is empty, absolute, or contains `.`/`..` components.
    BadPath(String),
    /// The same path was added twice with different contents.
    Conflict(String),
    /// A name or file is too large for the newc header's 32-bit fields.
    TooLarge(String),
}

impl fmt::Display for CpioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CpioError::BadPath(p) => write!(
                f,
                "invalid archive path {p:?} (want a relative path like \"bin/sh\")"
            ),
            CpioError::Conflict(p) => write!(f, "{p}: added twice with different contents"),
            CpioError::TooLarge(p) => {
                write!(f, "{p}: too large for a newc cpio entry (4 GiB limit)")
            }
        }
    }
}

impl std::error::Error for CpioError {}

/// Collects entries and writes them as one newc archive.
#[derive(Debug, Clone, Default)]
pub struct CpioBuilder {
    entries: BTreeMap<String, Node>,
    mtime: u32,
}

impl CpioBuilder {
    /// `mtime` is stamped on every entry (SOURCE_DATE_EPOCH or 0 for reproducible output).
    pub fn new(mtime: u32) -> Self {
        CpioBuilder {
            entries: BTreeMap::new(),
            mtime,
        }
    }

    pub fn add_dir(&mut self, path: &str, perm: u32) -> Result<&mut Self, CpioError> {
        self.insert(
            path,
            Node::Dir {
                perm: perm & 0o7777,
            },
        )
    }

    pub fn add_file(
        &mut self,
        path: &str,
        perm: u32,
        data: Vec<u8>,
    ) -> Result<&mut Self, CpioError> {
        if u32::try_from(data.len()).is_err() {
            return Err(CpioError::TooLarge(path.to_string()));
        }
        self.insert(
            path,
            Node::File {
                perm: perm & 0o7777,
                data,
            },
        )
    }

    pub fn add_symlink(&mut self, path: &str, target: &str) -> Result<&mut Self, CpioError> {
        self.insert(
            path,
            Node::Symlink {
                target: target.to_string(),
            },
        )
    }

    pub fn add_char_device(
        &mut self,
        path: &str,
        perm: u32,
        major: u32,
        minor: u32,
    ) -> Result<&mut Self, CpioError> {
        self.insert(
            path,
            Node::CharDev {
                perm: perm & 0o7777,
                major,
                minor,
            },
        )
    }

    fn insert(&mut self, path: &str, node: Node) -> Result<&mut Self, CpioError> {
        let path = normalize(path)?;
        // Implicit parents get 0755; an explicit add_dir later may still refine them.
        let mut parent = String::new();
        for component in path
            .split('/')
            .collect::<Vec<_>>()
            .iter()
            .rev()
            .skip(1)
            .rev()
        {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(component);
            match self.entries.get(&parent) {
                Some(Node::Dir { .. }) => {}
                Some(_) => return Err(CpioError::Conflict(parent)),
                None => {
                    self.entries
                        .insert(parent.clone(), Node::Dir { perm: 0o755 });
                }
            }
        }
        match self.entries.get(&path) {
            Some(existing) if existing == &node => {}
            Some(Node::Dir { .. }) if matches!(node, Node::Dir { .. }) => {
                self.entries.insert(path, node);
            }
            Some(_) => return Err(CpioError::Conflict(path)),
            None => {
                self.entries.insert(path, node);
            }
        }
        Ok(self)
    }

    /// Paths in archive order, as `cpio -t` lists them.
    pub fn paths(&self) -> Vec<String> {
        self.entries.keys().cloned().collect()
    }

    /// The archive, ending with the `TRAILER!!!` record.
    pub fn finish(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (ino, (path, node)) in self.entries.iter().enumerate() {
            let (mode, nlink, data, rdev): (u32, u32, &[u8], (u32, u32)) = match node {
                Node::Dir { perm } => (S_IFDIR | perm, 2, &[], (0, 0)),
                Node::File { perm, data } => (S_IFREG | perm, 1, data, (0, 0)),
                Node::Symlink { target } => (S_IFLNK | 0o777, 1, target.as_bytes(), (0, 0)),
                Node::CharDev { perm, major, minor } => (S_IFCHR | perm, 1, &[], (*major, *minor)),
            };
            write_record(
                &mut out,
                path,
                ino as u32 + 1,
                mode,
                nlink,
                self.mtime,
                data,
                rdev,
            );
        }
        write_record(&mut out, "TRAILER!!!", 0, 0, 1, 0, &[], (0, 0));
        out
    }
}

fn normalize(path: &str) -> Result<String, CpioError> {
    let trimmed = path.trim_start_matches('/').trim_end_matches('/');
    let bad = trimmed.is_empty()
        || trimmed
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        || trimmed.contains('\0');
    if bad {
        return Err(CpioError::BadPath(path.to_string()));
    }
    Ok(trimmed.to_string())
}

#[allow(clippy::too_many_arguments)]
fn write_record(
    out: &mut Vec<u8>,
    name: &str,
    ino: u32,
    mode: u32,
    nlink: u32,
    mtime: u32,
    data: &[u8],
    rdev: (u32, u32),
) {
    let fields = [
        ino,
        mode,
        0, // uid
        0, // gid
        nlink,
        mtime,
        data.len() as u32,
        0, // devmajor
        0, // devminor
        rdev.0,
        rdev.1,
        name.len() as u32 + 1,
        0, // check (unused by newc)
    ];
    out.extend_from_slice(b"070701");
    for field in fields {
        out.extend_from_slice(format!("{field:08X}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_follow_newc_layout() {
        let mut b = CpioBuilder::new(0x1234);
        b.add_file("init", 0o755, b"hello".to_vec()).unwrap();
        let bytes = b.finish();
        assert_eq!(&bytes[..6], b"070701");
        let field = |i: usize| {
            std::str::from_utf8(&bytes[6 + 8 * i..14 + 8 * i])
                .unwrap()
                .to_string()
        };
        assert_eq!(field(1), "000081ED"); // regular file, 0755
        assert_eq!(field(5), "00001234"); // mtime
        assert_eq!(field(6), "00000005"); // size
        assert_eq!(field(11), "00000005"); // "init" + NUL
        assert_eq!(&bytes[110..115], b"init\0");
        // 110 + 5 = 115 is padded to 116 before the data starts.
        assert_eq!(&bytes[116..121], b"hello");
        assert_eq!(bytes.len() % 4, 0);
    }

    #[test]
    fn parents_are_implicit_and_sorted_first() {
        let mut b = CpioBuilder::new(0);
        b.add_symlink("bin/sh", "../init").unwrap();
        b.add_char_device("dev/console", 0o600, 5, 1).unwrap();
        assert_eq!(b.paths(), ["bin", "bin/sh", "dev", "dev/console"]);
    }

    #[test]
    fn rejects_escaping_paths_and_conflicts() {
        let mut b = CpioBuilder::new(0);
        assert!(matches!(
            b.add_dir("../etc", 0o755),
            Err(CpioError::BadPath(_))
        ));
        assert!(matches!(b.add_dir("", 0o755), Err(CpioError::BadPath(_))));
        b.add_file("etc", 0o644, vec![]).unwrap();
        assert!(matches!(
            b.add_file("etc/x", 0o644, vec![]),
            Err(CpioError::Conflict(_))
        ));
    }
}
