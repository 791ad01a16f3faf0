//! Helpers for the integration tests: run the built `kboot` binary and reference tools.
#![allow(dead_code)]
pub mod servers;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const KBOOT: &str = env!("CARGO_BIN_EXE_kboot");

/// A fresh empty directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("kboot-test-{}-{name}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.0.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(&p, contents).expect("write test file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(mut cmd: Command, stdin: &str) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.env("LC_ALL", "C").env("TZ", "UTC");
    let mut child = cmd.spawn().expect("spawn");
    {
        use std::io::Write;
        let mut input = child.stdin.take().expect("stdin");
        let _ = input.write_all(stdin.as_bytes());
    }
    child.wait_with_output().expect("wait")
}

/// Run applet `applet` of our binary (via `kboot APPLET ARGS`) in `dir` with `stdin`.
pub fn kboot_in(dir: &Path, applet: &str, args: &[&str], stdin: &str) -> Output {
    let mut c = Command::new(KBOOT);
    c.arg(applet).args(args).current_dir(dir);
    run(c, stdin)
}

pub fn kboot(applet: &str, args: &[&str], stdin: &str) -> Output {
    kboot_in(Path::new("."), applet, args, stdin)
}

/// The reference implementation (coreutils, util-linux, …) from the host.
pub fn host_in(dir: &Path, program: &str, args: &[&str], stdin: &str) -> Output {
    let mut c = qemu_tests::host_tools::command(program);
    c.args(args).current_dir(dir);
    run(c, stdin)
}

/// Run `sh -c SCRIPT` with our shell in `dir`.
pub fn sh_in(dir: &Path, script: &str) -> Output {
    kboot_in(dir, "sh", &["-c", script], "")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Assert our applet and the host tool agree on stdout and exit status.
pub fn same_as_host(dir: &Path, applet: &str, host: &str, args: &[&str], stdin: &str) {
    let ours = kboot_in(dir, applet, args, stdin);
    let theirs = host_in(dir, host, args, stdin);
    assert_eq!(
        stdout(&ours),
        stdout(&theirs),
        "stdout of {applet} {args:?}\nour stderr: {}",
        stderr(&ours)
    );
    assert_eq!(
        code(&ours),
        code(&theirs),
        "exit status of {applet} {args:?}\nour stderr: {}",
        stderr(&ours)
    );
}
