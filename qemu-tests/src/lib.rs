//! Boots kboot media in QEMU with the serial console on a pipe, and drives it
//! expect-style: wait for a marker with a deadline, send keystrokes, wait for exit.
//! QEMU is always killed when the handle drops, and the full serial log is saved under
//! `target/qemu-logs/<name>.log`.

pub mod disks;
pub mod faults;
pub mod host_tools;
pub mod kdump;
pub mod machine;
pub mod minisign;
pub mod netns;
pub mod nfs_server;
pub mod png;
pub mod pypi;
pub mod qmp;
pub mod screen;
pub mod servers;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub use machine::{Artifacts, BootPath, MachineConfig};

/// The serial output seen so far, shared with the reader thread.
#[derive(Default)]
struct Serial {
    bytes: Vec<u8>,
    closed: bool,
}

pub struct Qemu {
    child: Child,
    stdin: Option<ChildStdin>,
    serial: Arc<(Mutex<Serial>, Condvar)>,
    /// Where in the output the next `expect` starts looking.
    cursor: usize,
    started: Instant,
    log_path: PathBuf,
    scratch: Option<machine::Scratch>,
    /// The QMP socket when the machine has one (`MachineConfig::qmp`), connected lazily.
    qmp_socket: Option<PathBuf>,
    qmp: Option<qmp::Qmp>,
}

#[derive(Debug)]
pub enum ExpectError {
    Timeout {
        pattern: String,
        waited: Duration,
        log: PathBuf,
    },
    Exited {
        pattern: String,
        log: PathBuf,
    },
}

impl std::fmt::Display for ExpectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpectError::Timeout {
                pattern,
                waited,
                log,
            } => {
                write!(
                    f,
                    "no {pattern:?} on the serial console after {:.1}s (full log: {})",
                    waited.as_secs_f64(),
                    log.display()
                )
            }
            ExpectError::Exited { pattern, log } => {
                write!(
                    f,
                    "QEMU exited before {pattern:?} appeared (full log: {})",
                    log.display()
                )
            }
        }
    }
}

impl std::error::Error for ExpectError {}

/// Where logs go: `<workspace>/target/qemu-logs`.
pub fn log_dir() -> PathBuf {
    machine::workspace_root().join("target/qemu-logs")
}

impl Qemu {
    /// Starts QEMU for `config`; `name` names the log file.
    pub fn start(name: &str, config: &MachineConfig) -> std::io::Result<Qemu> {
        let (mut command, scratch) = config.command()?;
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot start {}: {e}", config.qemu_binary),
            )
        })?;
        let serial = Arc::new((Mutex::new(Serial::default()), Condvar::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let serial = Arc::clone(&serial);
            std::thread::spawn(move || pump(stream, &serial));
        }
        std::fs::create_dir_all(log_dir())?;
        Ok(Qemu {
            stdin: child.stdin.take(),
            child,
            serial,
            cursor: 0,
            started: Instant::now(),
            log_path: log_dir().join(format!("{name}.log")),
            qmp_socket: scratch
                .as_ref()
                .filter(|_| config.qmp)
                .map(|s| s.qmp_socket()),
            scratch,
            qmp: None,
        })
    }

    /// Waits until `pattern` appears after the previous match; returns the time since start.
    pub fn expect(&mut self, pattern: &str, timeout: Duration) -> Result<Duration, ExpectError> {
        let deadline = Instant::now() + timeout;
        let (lock, cond) = &*self.serial;
        let mut serial = lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let haystack = &serial.bytes[self.cursor.min(serial.bytes.len())..];
            if let Some(at) = find(haystack, pattern.as_bytes()) {
                self.cursor += at + pattern.len();
                return Ok(self.started.elapsed());
            }
            if serial.closed {
                drop(serial);
                self.save_log();
                return Err(ExpectError::Exited {
                    pattern: pattern.to_string(),
                    log: self.log_path.clone(),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                drop(serial);
                self.save_log();
                return Err(ExpectError::Timeout {
                    pattern: pattern.to_string(),
                    waited: timeout,
                    log: self.log_path.clone(),
                });
            }
            serial = cond
                .wait_timeout(serial, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// Types `text` on the serial console.
    pub fn send(&mut self, text: &str) -> std::io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| std::io::Error::other("QEMU's stdin is closed"))?;
        stdin.write_all(text.as_bytes())?;
        stdin.flush()
    }

    /// Sends a command line and waits for its output marker.
    pub fn run(
        &mut self,
        command: &str,
        marker: &str,
        timeout: Duration,
    ) -> Result<Duration, Box<dyn std::error::Error>> {
        self.send(&format!("{command}\n"))?;
        Ok(self.expect(marker, timeout)?)
    }

    /// Runs a shell command at the prompt and returns what it printed (without the
    /// echoed command line) and its exit status. The end marker is typed with an
    /// empty quote pair inside, so the terminal's echo of the typed line never matches.
    pub fn shell(
        &mut self,
        command: &str,
        timeout: Duration,
    ) -> Result<(String, i32), Box<dyn std::error::Error>> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let start = self.cursor;
        self.send(&format!("{command}; echo \"@@END\"\"{n}@@ $?\"\n"))?;
        self.expect(&format!("@@END{n}@@ "), timeout)?;
        self.expect(
            "
", timeout,
        )?;
        let text = self.output_range(start, self.cursor);
        let (before_marker, status) = text
            .rsplit_once(&format!("@@END{n}@@ "))
            .ok_or("marker vanished")?;
        // Drop the echoed command line: a line editor redraws it once per keystroke,
        // so cut after the newline that follows the last echo of the typed marker.
        let typed = format!("@@END\"\"{n}@@ $?\"");
        let after_echo = before_marker
            .rfind(&typed)
            .map(|i| &before_marker[i + typed.len()..])
            .unwrap_or(before_marker);
        let body = after_echo
            .split_once('\n')
            .map(|(_, rest)| rest)
            .unwrap_or("");
        let status: i32 = status
            .trim()
            .parse()
            .map_err(|_| format!("bad exit status {status:?}"))?;
        Ok((body.replace('\r', ""), status))
    }

    /// `shell`, panicking (in a test) unless the command ran and exited 0.
    pub fn shell_ok(&mut self, command: &str, timeout: Duration) -> String {
        let (out, status) = self
            .shell(command, timeout)
            .unwrap_or_else(|e| panic!("{command}: {e}"));
        assert_eq!(status, 0, "{command}: {out}");
        out
    }

    fn output_range(&self, start: usize, end: usize) -> String {
        let (lock, _) = &*self.serial;
        let serial = lock.lock().unwrap_or_else(|p| p.into_inner());
        let end = end.min(serial.bytes.len());
        String::from_utf8_lossy(&serial.bytes[start.min(end)..end]).into_owned()
    }

    /// Waits for QEMU to exit by itself (guest poweroff).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.save_log();
        None
    }

    /// Everything the console printed so far.
    pub fn output(&self) -> String {
        let (lock, _) = &*self.serial;
        let serial = lock.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&serial.bytes).into_owned()
    }

    /// The machine's QMP connection (the config must have `qmp` set).
    pub fn qmp(&mut self) -> Result<&mut qmp::Qmp, String> {
        if self.qmp.is_none() {
            let socket = self
                .qmp_socket
                .clone()
                .ok_or("this machine has no QMP socket (MachineConfig::qmp)")?;
            self.qmp = Some(qmp::Qmp::connect(&socket, Duration::from_secs(10))?);
        }
        self.qmp
            .as_mut()
            .ok_or_else(|| "QMP: not connected".to_string())
    }

    /// A per-run directory for files QEMU writes (memory and screen dumps).
    pub fn scratch_dir(&self) -> Option<&Path> {
        self.scratch.as_ref().map(|s| s.path())
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub fn save_log(&self) {
        let _ = std::fs::write(&self.log_path, self.output());
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.save_log();
    }
}

fn pump(mut stream: Box<dyn Read + Send>, serial: &(Mutex<Serial>, Condvar)) {
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).unwrap_or(0);
        let (lock, cond) = serial;
        let mut s = lock.lock().unwrap_or_else(|p| p.into_inner());
        if n == 0 {
            s.closed = true;
            cond.notify_all();
            return;
        }
        s.bytes.extend_from_slice(&buf[..n]);
        cond.notify_all();
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    #[test]
    fn find_locates_markers() {
        assert_eq!(super::find(b"abc kboot: ready", b"kboot: ready"), Some(4));
        assert_eq!(super::find(b"kboot: rea", b"kboot: ready"), None);
    }
}

/// The accelerator for interactive runs: `KBOOT_QEMU_ACCEL` if set; else KVM only when
/// /dev/kvm exists AND a real boot under it reaches `kboot: ready` within 20 s (on the
/// build machines /dev/kvm exists but KVM hangs). The verdict is cached per host kernel
/// in target/qemu-accel.
pub fn choose_accel(artifacts: &Artifacts) -> String {
    if let Ok(accel) = std::env::var("KBOOT_QEMU_ACCEL") {
        return accel;
    }
    if !Path::new("/dev/kvm").exists() {
        return "tcg".into();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cache = machine::workspace_root().join("target/qemu-accel");
    if let Some(cached) = std::fs::read_to_string(&cache)
        .ok()
        .and_then(|c| c.strip_prefix(host.trim()).map(|v| v.trim().to_string()))
    {
        return cached;
    }
    let mut config = MachineConfig::new(BootPath::Direct, artifacts.clone());
    config.accel = "kvm".into();
    let works = Qemu::start("kvm-probe", &config)
        .ok()
        .is_some_and(|mut q| q.expect("kboot: ready", Duration::from_secs(20)).is_ok());
    let accel = if works { "kvm" } else { "tcg" };
    let _ = std::fs::write(&cache, format!("{} {accel}\n", host.trim()));
    accel.to_string()
}
