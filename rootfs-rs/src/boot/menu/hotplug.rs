//! Hot-plug while the menu is shown: the terminal side lists the block devices every half
//! second or so (names in /sys/class/block, cheap) and asks `DeviceWatch` whether to scan
//! again. A change is acted on once the list has stayed the same for `SETTLE` (a USB stick
//! shows its disk first and its partitions a moment later). Pure: times are passed in.
//! Independent of how the devices came to be (built-in drivers or modules loaded by
//! someone else): only the list matters.

use std::time::{Duration, Instant};

/// How long the list must stay unchanged after a change before a rescan.
pub const SETTLE: Duration = Duration::from_secs(1);
/// How often the terminal side lists the devices while the menu waits.
pub const POLL: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceWatch {
    /// The list the entries on screen were found with.
    scanned: Vec<String>,
    /// The list last seen, and since when it has looked like that.
    seen: Vec<String>,
    since: Instant,
}

impl DeviceWatch {
    /// `scanned`: the devices listed just before the scan whose entries are shown.
    pub fn new(mut scanned: Vec<String>, now: Instant) -> DeviceWatch {
        scanned.sort();
        DeviceWatch {
            seen: scanned.clone(),
            scanned,
            since: now,
        }
    }

    /// Records the current list; true when it differs from the scanned one and has been
    /// stable for `SETTLE`: time to scan again.
    pub fn observe(&mut self, mut devices: Vec<String>, now: Instant) -> bool {
        devices.sort();
        if devices != self.seen {
            self.seen = devices;
            self.since = now;
            return false;
        }
        self.seen != self.scanned && now.saturating_duration_since(self.since) >= SETTLE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn nothing_changed_nothing_to_do() {
        let start = Instant::now();
        let mut watch = DeviceWatch::new(list(&["vda", "vda1"]), start);
        for tick in 1..10 {
            let now = start + POLL * tick;
            assert!(
                !watch.observe(list(&["vda1", "vda"]), now),
                "order is no change"
            );
        }
    }

    #[test]
    fn a_new_disk_is_scanned_once_it_settles() {
        let start = Instant::now();
        let mut watch = DeviceWatch::new(list(&["vda", "vda1"]), start);
        let at = |ms: u64| start + Duration::from_millis(ms);
        // The disk appears, then its partitions: each change restarts the wait.
        assert!(!watch.observe(list(&["vda", "vda1", "sda"]), at(500)));
        assert!(!watch.observe(list(&["vda", "vda1", "sda", "sda1"]), at(1000)));
        assert!(!watch.observe(list(&["vda", "vda1", "sda", "sda1"]), at(1500)));
        assert!(watch.observe(list(&["vda", "vda1", "sda", "sda1"]), at(2000)));
    }

    #[test]
    fn a_device_that_comes_and_goes_again_is_no_change() {
        let start = Instant::now();
        let mut watch = DeviceWatch::new(list(&["vda"]), start);
        let at = |ms: u64| start + Duration::from_millis(ms);
        assert!(!watch.observe(list(&["vda", "sda"]), at(500)));
        assert!(!watch.observe(list(&["vda"]), at(1000)));
        assert!(!watch.observe(list(&["vda"]), at(3000)));
    }

    #[test]
    fn a_removed_disk_is_a_change_too() {
        let start = Instant::now();
        let mut watch = DeviceWatch::new(list(&["vda", "sda", "sda1"]), start);
        assert!(!watch.observe(list(&["vda"]), start + POLL));
        assert!(watch.observe(list(&["vda"]), start + POLL + SETTLE));
    }
}
