//! Disk targets: the input is the start of a disk (partition tables) or of a volume.

use crate::blockdev::partitions::read_partition_table;
use crate::blockdev::probe::{probe_bytes, PROBE_BYTES};
use crate::blockdev::tags::tags;

/// The input is a whole (small) disk: its table is read as the scan reads an image, then
/// each partition that lies inside the input is probed.
pub fn partitions(data: &[u8]) {
    let Ok(Some(table)) = read_partition_table(&data, data.len() as u64) else {
        return;
    };
    for part in &table.partitions {
        let start = usize::try_from(part.start).unwrap_or(usize::MAX);
        let len = usize::try_from(part.size)
            .unwrap_or(usize::MAX)
            .min(PROBE_BYTES);
        if let Some(head) = start.checked_add(len).and_then(|end| data.get(start..end)) {
            fs_probe(head);
        }
    }
}

/// blkid's and the menu's view of a volume's first bytes.
pub fn fs_probe(data: &[u8]) {
    if let Some(probe) = probe_bytes(data) {
        let _ = tags(&probe);
    }
    let _ = crate::blockdev::fstype::probe(data);
}
