//! The kernel's consoles (`console=` arguments, as listed by /proc/consoles).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

/// The menu front end's exit status when the user asked for the shell on its console i
/// (0: its own terminal, i: its i-th `--console`) is this plus i: PID 1 then starts the
/// shell there (the menu coming back after it) and plain shells on the others.
pub const SHELL_ON_CONSOLE: i32 = 100;

/// Device paths of every console the kernel writes to, in /proc/consoles order.
/// Falls back to /dev/console when /proc is not readable.
pub fn kernel_consoles() -> Vec<PathBuf> {
    let listed = std::fs::read_to_string("/proc/consoles").unwrap_or_default();
    let devices: Vec<PathBuf> = listed
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| name.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(|name| PathBuf::from("/dev").join(name))
        .filter(|path| path.exists())
        .collect();
    if devices.is_empty() {
        vec![PathBuf::from("/dev/console")]
    } else {
        devices
    }
}

/// The console the prompt runs on: the first serial one, else the first listed.
pub fn interactive_console() -> PathBuf {
    let consoles = kernel_consoles();
    let is_serial = |p: &&PathBuf| {
        p.file_name().is_some_and(|n| {
            n.to_string_lossy().starts_with("ttyS") || n.to_string_lossy().starts_with("hvc")
        })
    };
    consoles
        .iter()
        .find(is_serial)
        .or(consoles.first())
        .cloned()
        .unwrap_or_else(|| PathBuf::from("/dev/console"))
}

/// Writes `text` to every console; a console that cannot be opened is skipped.
pub fn announce(text: &str) {
    for device in kernel_consoles() {
        if let Ok(mut tty) = OpenOptions::new().write(true).open(&device) {
            let _ = tty.write_all(text.replace('\n', "\r\n").as_bytes());
        }
    }
}
