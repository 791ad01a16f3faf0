//! Pseudo-terminals for interactive sessions (rustix's safe wrappers of /dev/ptmx).

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use rustix::termios::Winsize;

/// A new pseudo-terminal of `size`: (master, terminal).
pub fn open(size: Winsize) -> Result<(File, File), String> {
    let fail = |what: &str, err: rustix::io::Errno| format!("ssh: pseudo-terminal: {what}: {err}");
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
        .map_err(|e| fail("/dev/ptmx", e))?;
    grantpt(&master).map_err(|e| fail("grantpt", e))?;
    unlockpt(&master).map_err(|e| fail("unlockpt", e))?;
    let _ = rustix::termios::tcsetwinsize(&master, size);
    let path = ptsname(&master, Vec::new()).map_err(|e| fail("ptsname", e))?;
    let path = PathBuf::from(path.to_string_lossy().into_owned());
    let terminal = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&path)
        .map_err(|err| format!("ssh: {}: {err}", path.display()))?;
    Ok((File::from(master), terminal))
}

/// The terminal's path (/dev/pts/N), for getty.
pub fn name(terminal: &File) -> Result<PathBuf, String> {
    std::fs::read_link(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(terminal)
    ))
    .map_err(|err| format!("ssh: naming the pseudo-terminal: {err}"))
}
