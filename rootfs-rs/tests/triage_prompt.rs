//! `kboot triage -i` on a real terminal (a pseudo-terminal): keys typed as a person types
//! them reach the shell's line editor. Up recalls the last command, Down walks back,
//! Left/Backspace/Ctrl-A/Ctrl-E/Ctrl-U/Ctrl-K/Home/End edit the line before it runs, and
//! the history survives into the next session through $HOME/.kboot_triage_history.

#[path = "triage_common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const UP: &str = "\x1b[A";
const DOWN: &str = "\x1b[B";
const LEFT: &str = "\x1b[D";
const RIGHT: &str = "\x1b[C";
const HOME: &str = "\x1b[H";
const END: &str = "\x1b[F";
const BACKSPACE: &str = "\x7f";
const CTRL_A: &str = "\x01";
const CTRL_E: &str = "\x05";
const CTRL_K: &str = "\x0b";
const CTRL_U: &str = "\x15";
const ENTER: &str = "\r";
/// A debug build opens the 6.1 dump in a few seconds; far longer means a hang.
const DEADLINE: Duration = Duration::from_secs(60);

/// `kboot triage -i DUMP` on the slave side of a pty, with everything it writes to the
/// terminal collected from the master side by a thread.
struct Session {
    master: std::fs::File,
    child: Child,
    screen: Arc<Mutex<String>>,
    /// How far `expect` has read.
    seen: usize,
    log: PathBuf,
}

impl Session {
    fn start(dump: &Path, home: &Path, log: PathBuf) -> Session {
        use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let name = ptsname(&master, Vec::new()).expect("ptsname");
        let slave: OwnedFd = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(name.to_string_lossy().as_ref())
            .expect("open the pty's slave")
            .into();
        let stdio = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup the slave"));
        let child = Command::new(env!("CARGO_BIN_EXE_kboot"))
            .args(["triage", "-i"])
            .arg(dump)
            .env("HOME", home)
            .env("TERM", "xterm")
            .stdin(stdio(&slave))
            .stdout(stdio(&slave))
            .stderr(stdio(&slave))
            .spawn()
            .expect("start kboot triage -i");
        // Only the child holds the slave now: the master reads EOF/EIO once it exits.
        drop(slave);
        let master = std::fs::File::from(master);
        let screen = Arc::new(Mutex::new(String::new()));
        let mut reader = master.try_clone().expect("dup the master");
        let sink = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        Session {
            master,
            child,
            screen,
            seen: 0,
            log,
        }
    }

    fn screen(&self) -> String {
        self.screen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits until `text` appears past what was already matched, and moves past it.
    fn expect(&mut self, text: &str) {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if let Some(at) = screen.get(self.seen..).and_then(|rest| rest.find(text)) {
                self.seen += at + text.len();
                return;
            }
            if started.elapsed() > DEADLINE {
                let _ = std::fs::write(&self.log, &screen);
                let _ = self.child.kill();
                panic!(
                    "{text:?} did not appear within {DEADLINE:?} (terminal saved in {})",
                    self.log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types keys at the prompt.
    fn keys(&mut self, keys: &[&str]) {
        self.master
            .write_all(keys.concat().as_bytes())
            .expect("write to the pty");
    }

    /// Types a line after the prompt appeared, and waits for `result` on a line of its
    /// own followed by the next prompt.
    fn run(&mut self, keys: &[&str], result: &str) {
        self.keys(keys);
        self.expect(&format!("\r\n{result}\r\n"));
        self.expect("crash> ");
    }

    fn quit(mut self) {
        self.keys(&["quit", ENTER]);
        let started = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    assert!(status.success(), "kboot triage -i exited with {status}");
                    return;
                }
                Ok(None) if started.elapsed() < DEADLINE => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = std::fs::write(&self.log, self.screen());
                    let _ = self.child.kill();
                    panic!("quit did not end the prompt ({})", self.log.display());
                }
            }
        }
    }
}

#[test]
fn the_prompt_edits_lines_and_keeps_history_on_a_terminal() {
    let Some(dir) = common::kdump_fixture() else {
        return;
    };
    let dump = dir.join("vmcore.proc.elf");
    let work = common::root().join("../target/test-triage-prompt");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("work dir");
    let log = work.join("terminal.log");

    let mut s = Session::start(&dump, &work, log.clone());
    s.expect("crash> ");
    s.run(&["py 6006 * 7", ENTER], "42042");
    // Up + Enter runs it again.
    s.run(&[UP, ENTER], "42042");
    // A typo fixed with Left and Backspace: "py 5x5 * 11" → "py 55 * 11".
    let mut fix = vec!["py 5x5 * 11"];
    fix.extend([LEFT; 6]);
    fix.extend([BACKSPACE, ENTER]);
    s.run(&fix, "605");
    // Ctrl-U drops the junk; Ctrl-A and Right reach the number, Ctrl-E the end:
    // "py 4 * 5" → "py 14 * 50".
    s.run(
        &[
            "junk", CTRL_U, "py 4 * 5", CTRL_A, RIGHT, RIGHT, RIGHT, "1", CTRL_E, "0", ENTER,
        ],
        "700",
    );
    // Home/End and Ctrl-K: "py 9 * 9 + 1000" loses its last 7 characters.
    let mut cut = vec!["py 9 * 9 + 1000", HOME, END];
    cut.extend([LEFT; 7]);
    cut.extend([CTRL_K, ENTER]);
    s.run(&cut, "81");
    // Up, Up, Down: back to the newest entry.
    s.run(&[UP, UP, DOWN, ENTER], "81");
    s.quit();

    let history = std::fs::read_to_string(work.join(".kboot_triage_history"))
        .expect("the history file in $HOME");
    assert_eq!(
        history.lines().collect::<Vec<_>>(),
        [
            "py 6006 * 7",
            "py 55 * 11",
            "py 14 * 50",
            "py 9 * 9",
            "quit"
        ],
        "repeats are kept once, edited lines as they ran"
    );

    // The next session starts with that history.
    let mut s = Session::start(&dump, &work, log);
    s.expect("crash> ");
    s.run(&[UP, UP, UP, ENTER], "700");
    s.quit();
}
