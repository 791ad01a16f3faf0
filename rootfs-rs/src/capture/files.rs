//! The capture's files, written so a crash or power cut mid-save never leaves a half file
//! under the final name: temp file, fsync, rename, fsync the directory.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// `<YYYYmmdd-HHMMSS>-<nodename>` (kdump-tools' layout), with the node name reduced to
/// characters safe in a file name.
pub fn dump_dir_name(crash_time: i64, nodename: &str) -> String {
    let c = crate::util::fmt::civil(crash_time);
    let node: String = nodename
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || "._-".contains(ch) {
                ch
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}-{}",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        if node.is_empty() { "unknown" } else { &node }
    )
}

/// Creates `base/name`, or `base/name.1`, `.2`… if an earlier capture took the name.
pub fn create_unique_dir(base: &Path, name: &str) -> io::Result<PathBuf> {
    std::fs::create_dir_all(base)?;
    for n in 0..100 {
        let dir = match n {
            0 => base.join(name),
            n => base.join(format!("{name}.{n}")),
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                sync_dir(base)?;
                return Ok(dir);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "{}: 100 captures with this name already",
        base.join(name).display()
    )))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `dir/name` through `write`, atomically. On any error the temp file is removed
/// and nothing appears under `name`.
pub fn write_atomically<T, E: From<io::Error>>(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&File) -> Result<T, E>,
) -> Result<T, E> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    let result = write(&file).and_then(|value| {
        file.sync_all()?;
        std::fs::rename(&tmp, dir.join(name))?;
        sync_dir(dir)?;
        Ok(value)
    });
    if result.is_err() {
        drop(file);
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `write_atomically` for text.
pub fn write_text(dir: &Path, name: &str, text: &str) -> io::Result<()> {
    write_atomically(dir, name, |mut f: &File| f.write_all(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kboot-capture-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn names_follow_the_kdump_tools_layout() {
        assert_eq!(
            dump_dir_name(1_700_000_000, "web-01.example"),
            "20231114-221320-web-01.example"
        );
        assert_eq!(dump_dir_name(0, "(none)"), "19700101-000000-_none_");
        assert_eq!(dump_dir_name(0, ""), "19700101-000000-unknown");
    }

    #[test]
    fn failed_writes_leave_nothing_and_names_never_collide() {
        let d = scratch("files");
        write_text(&d, "ok.txt", "hello").unwrap();
        assert_eq!(std::fs::read_to_string(d.join("ok.txt")).unwrap(), "hello");
        let r: io::Result<()> = write_atomically(&d, "bad", |mut f: &File| {
            f.write_all(b"partial")?;
            Err(io::Error::other("disk full"))
        });
        assert!(r.is_err());
        let left: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["ok.txt"]);
        let a = create_unique_dir(&d.join("crash"), "x").unwrap();
        let b = create_unique_dir(&d.join("crash"), "x").unwrap();
        assert_ne!(a, b);
        assert!(b.ends_with("x.1"));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
