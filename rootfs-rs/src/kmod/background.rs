//! When the drivers the boot did not wait for (display, input, and network cards when no
//! network is configured) may load: once the menu has scanned and starts its first draw.
//!
//! On a one-CPU machine they otherwise compete with the menu's scan and first draw: the
//! DRM stack, fbcon taking over the console (every character the menu then writes to tty0
//! is painted in its writer's context) and two NIC probes put 0.17 s between the end of
//! the hardware matrix's coldplug and the menu under TCG (`cargo xtask bench --menu`).
//! The menu runs in another process than PID 1's listener thread, so it says so with a
//! file; the network setup says so too (a card asked for must not wait), and a bounded
//! hold means a menu that never draws cannot keep the display dark.

use std::path::Path;
use std::time::Duration;

/// Created by the menu when its scan is done (the draw follows at a higher priority than
/// the listener's nice 19), and by the network setup.
pub const RELEASE_FILE: &str = "/run/kboot/background-released";

/// The longest the listener holds the background drivers back: the menu is normally
/// drawn within a second or two of the coldplug.
pub const HOLD_LIMIT: Duration = Duration::from_secs(5);

/// Lets the background drivers load now. Best effort: if the file cannot be made, the
/// hold ends at `HOLD_LIMIT` instead.
pub fn release() {
    release_at(Path::new(RELEASE_FILE));
}

pub fn released() -> bool {
    Path::new(RELEASE_FILE).exists()
}

fn release_at(file: &Path) {
    if file.exists() {
        return;
    }
    if let Some(dir) = file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(file, b"");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_creates_the_file_and_its_directory_once() {
        let dir = std::env::temp_dir().join(format!("kboot-bg-{}", std::process::id()));
        let file = dir.join("run/kboot/background-released");
        release_at(&file);
        assert!(file.exists());
        // Again: no error, still there.
        release_at(&file);
        assert!(file.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
