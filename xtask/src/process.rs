//! The one way xtask runs host programs.
//!
//! Every program comes from the host tool registry (`qemu_tests::host_tools`), so a
//! missing one fails with the Debian package to install instead of ENOENT; the only
//! exceptions are cargo itself (`$CARGO`), programs we built (the kboot binary) and the
//! bootstrap programs in deps.rs. Why not xshell: it echoes every command (the stage
//! output would change), and two callers (the kernel build, `cargo test`) read the
//! child's output line by line while it runs, which needs `std::process` anyway.

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;

use anyhow::{anyhow, bail, Context};

/// A `Command` for a program of the host tool registry.
pub fn tool(program: &str) -> crate::Result<Command> {
    qemu_tests::host_tools::try_command(program).map_err(|e| anyhow!(e))
}

/// The path of a program of the host tool registry.
pub fn find(program: &str) -> crate::Result<std::path::PathBuf> {
    qemu_tests::host_tools::find(program).map_err(|e| anyhow!(e))
}

/// The cargo that runs this xtask (so `cargo +toolchain xtask` keeps its toolchain).
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// How a command is shown in errors: the program and its arguments.
fn shown(cmd: &Command) -> String {
    format!("{cmd:?}")
}

/// Runs `cmd` with its output on the terminal; fails unless it exits with status 0.
pub fn run(cmd: &mut Command) -> crate::Result<()> {
    let shown = shown(cmd);
    let status = cmd
        .status()
        .with_context(|| format!("failed to run {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

/// Runs `cmd` quietly: its stderr is kept and shown only when it fails.
pub fn run_quiet(cmd: &mut Command) -> crate::Result<()> {
    let program = format!("{:?}", cmd.get_program());
    let output = cmd
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("failed to run {program}"))?;
    if !output.status.success() {
        bail!(
            "{program} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Runs `cmd` and returns its output; fails unless it exits with status 0.
pub fn output(cmd: &mut Command) -> crate::Result<Output> {
    let shown = shown(cmd);
    let output = cmd
        .output()
        .with_context(|| format!("failed to run {shown}"))?;
    if !output.status.success() {
        bail!(
            "{shown} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output)
}

/// Free bytes for unprivileged users on the file system holding `dir` (df), or None
/// when df cannot tell.
pub fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    let out = tool("df")
        .ok()?
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().nth(1).and_then(|l| l.trim().parse().ok())
}

/// Which of the child's streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Runs `cmd` with stdout (and stderr when `with_stderr`) piped, handing each line to
/// `on_line` as it arrives, and returns its exit status (the callers word the failure).
/// Both streams are read on their own threads, so a chatty stderr cannot block the child.
pub fn for_each_line(
    cmd: &mut Command,
    with_stderr: bool,
    mut on_line: impl FnMut(Stream, &str),
) -> crate::Result<ExitStatus> {
    let shown = shown(cmd);
    cmd.stdout(Stdio::piped());
    if with_stderr {
        cmd.stderr(Stdio::piped());
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("failed to run {shown}"))?;
    let (sender, lines) = mpsc::channel();
    let mut readers = Vec::new();
    type Pipe = Box<dyn std::io::Read + Send>;
    let streams: [(Stream, Option<Pipe>); 2] = [
        (
            Stream::Stdout,
            child.stdout.take().map(|s| Box::new(s) as Pipe),
        ),
        (
            Stream::Stderr,
            child.stderr.take().map(|s| Box::new(s) as Pipe),
        ),
    ];
    for (stream, pipe) in streams {
        let Some(pipe) = pipe else { continue };
        let sender = sender.clone();
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if sender.send((stream, line)).is_err() {
                    break;
                }
            }
        }));
    }
    // The loop below ends when every reader has dropped its sender.
    drop(sender);
    for (stream, line) in lines {
        on_line(stream, &line);
    }
    for reader in readers {
        let _ = reader.join();
    }
    child
        .wait()
        .with_context(|| format!("failed to wait for {shown}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_both_streams_arrive_and_the_status_is_returned() {
        let mut lines = Vec::new();
        let status = for_each_line(
            tool("sh")
                .unwrap()
                .args(["-c", "echo one; echo two >&2; echo three; exit 3"]),
            true,
            |stream, line| lines.push((stream, line.to_string())),
        )
        .unwrap();
        assert_eq!(status.code(), Some(3));
        lines.sort();
        assert_eq!(
            lines,
            [
                (Stream::Stdout, "one".to_string()),
                (Stream::Stdout, "three".to_string()),
                (Stream::Stderr, "two".to_string()),
            ]
        );
    }

    #[test]
    fn failures_name_the_program_and_keep_its_stderr() {
        let script = ["-c", "echo broken >&2; exit 1"];
        let quiet = run_quiet(tool("sh").unwrap().args(script)).unwrap_err();
        assert!(format!("{quiet:#}").contains("broken"), "{quiet:#}");
        let out = output(tool("sh").unwrap().args(script)).unwrap_err();
        assert!(format!("{out:#}").contains("broken"), "{out:#}");
        assert!(run(tool("sh").unwrap().args(["-c", "exit 0"])).is_ok());
        assert!(format!("{:#}", tool("no-such-tool").unwrap_err()).contains("registry"));
    }
}
