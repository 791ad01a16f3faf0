//! Redirections applied to the shell's own fds 0-2 and undone when the guard drops; children
//! inherit whatever fds 0-2 are at spawn time, so one mechanism serves builtins and programs.
use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::shell::syntax::parser::Redir;
use crate::shell::Shell;

pub struct Saved {
    saved: Vec<(u32, OwnedFd)>,
}

fn current_fd(fd: u32) -> Option<BorrowedFd<'static>> {
    match fd {
        0 => Some(rustix::stdio::stdin()),
        1 => Some(rustix::stdio::stdout()),
        2 => Some(rustix::stdio::stderr()),
        _ => None,
    }
}

/// Make `target` (0, 1 or 2) refer to `source`.
pub fn dup_onto<Fd: AsFd>(source: Fd, target: u32) -> std::io::Result<()> {
    let _ = std::io::stdout().flush();
    match target {
        0 => rustix::stdio::dup2_stdin(source)?,
        1 => rustix::stdio::dup2_stdout(source)?,
        _ => rustix::stdio::dup2_stderr(source)?,
    }
    Ok(())
}

impl Saved {
    pub fn new() -> Self {
        Saved { saved: Vec::new() }
    }

    /// Remember fd `target` (once) so it can be restored.
    fn save(&mut self, target: u32) -> std::io::Result<()> {
        if self.saved.iter().any(|(t, _)| *t == target) {
            return Ok(());
        }
        if let Some(fd) = current_fd(target) {
            let copy = rustix::io::fcntl_dupfd_cloexec(fd, 10)?;
            self.saved.push((target, copy));
        }
        Ok(())
    }

    /// Point `target` at `source` for the guard's lifetime.
    pub fn replace<Fd: AsFd>(&mut self, target: u32, source: Fd) -> std::io::Result<()> {
        self.save(target)?;
        dup_onto(source, target)
    }

    /// Keep the redirections (the `exec > file` case).
    pub fn keep(mut self) {
        self.saved.clear();
    }
}

impl Default for Saved {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Saved {
    fn drop(&mut self) {
        for (target, fd) in self.saved.drain(..).rev() {
            let _ = dup_onto(&fd, target);
        }
    }
}

impl Shell {
    /// Apply redirections in order; on error the ones already applied are undone.
    pub fn apply_redirs(&mut self, redirs: &[Redir]) -> Result<Saved, String> {
        let mut saved = Saved::new();
        for r in redirs {
            let target = r.fd.unwrap_or(if r.op.starts_with('<') { 0 } else { 1 });
            if target > 2 {
                return Err(format!("{target}: only fds 0, 1 and 2 can be redirected"));
            }
            if let Some((body, expand)) = &r.heredoc {
                let text = if *expand {
                    self.expand_heredoc(body)?
                } else {
                    body.clone()
                };
                let doc = heredoc_fd(&text)
                    .map_err(|e| format!("here-document: {}", crate::util::reason(&e)))?;
                saved
                    .replace(target, &doc)
                    .map_err(|e| format!("here-document: {}", crate::util::reason(&e)))?;
                continue;
            }
            let word = self.expand_single(&r.target)?;
            if r.op == ">&" || r.op == "<&" {
                if word == "-" {
                    continue;
                }
                let src: u32 = word
                    .parse()
                    .map_err(|_| format!("{word}: bad file descriptor"))?;
                let fd = current_fd(src).ok_or_else(|| format!("{word}: bad file descriptor"))?;
                // Duplicate first: the source may be the target's own saved state.
                let copy =
                    rustix::io::fcntl_dupfd_cloexec(fd, 10).map_err(|e| format!("{word}: {e}"))?;
                saved
                    .replace(target, &copy)
                    .map_err(|e| format!("{word}: {}", crate::util::reason(&e)))?;
                continue;
            }
            let mut opts = OpenOptions::new();
            match r.op {
                "<" => opts.read(true),
                ">>" => opts.append(true).create(true),
                "<>" => opts.read(true).write(true).create(true),
                _ => opts.write(true).create(true).truncate(true),
            };
            let file = opts
                .open(&word)
                .map_err(|e| format!("{word}: {}", crate::util::reason(&e)))?;
            saved
                .replace(target, &file)
                .map_err(|e| format!("{word}: {}", crate::util::reason(&e)))?;
        }
        Ok(saved)
    }
}

/// A readable fd holding `text`: an anonymous memory file rewound to the start, so any
/// size works without a writer thread.
fn heredoc_fd(text: &str) -> std::io::Result<OwnedFd> {
    let fd = rustix::fs::memfd_create("heredoc", rustix::fs::MemfdFlags::CLOEXEC)?;
    let mut file = std::fs::File::from(fd);
    file.write_all(text.as_bytes())?;
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(0))?;
    Ok(OwnedFd::from(file))
}
