//! Finds boot entries on every disk: block devices from sysfs (or raw image files), filesystem
//! probe, read-only mount with a time limit per device, config discovery, cross-filesystem
//! resolution.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::blockdev::devices::{list_block_devices, BlockDevice};
use crate::blockdev::fstype::{probe_file, FsKind};
use crate::blockdev::mounts::{unmount, Mounted};
use crate::blockdev::partitions::read_partition_table;
use crate::boot::fs::DirFs;
use crate::boot::scan::discover::discover_across;
use crate::boot::scan::resolve::resolve;
use crate::boot::scan::volume::{Discovery, ScannedVolume, Volume};

/// Where the real scan looks and how long one device may take.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub sys_block: PathBuf,
    pub dev_dir: PathBuf,
    pub mount_root: PathBuf,
    pub time_limit: Duration,
}

impl Default for ScanOptions {
    fn default() -> ScanOptions {
        ScanOptions {
            sys_block: PathBuf::from("/sys/class/block"),
            dev_dir: PathBuf::from("/dev"),
            mount_root: PathBuf::from("/run/kboot/mnt"),
            time_limit: Duration::from_secs(10),
        }
    }
}

/// GRUB's `hdN` for each device: disks numbered in name order, partitions take their disk's.
fn disk_indices(devices: &[BlockDevice]) -> Vec<usize> {
    let disks: Vec<&str> = devices
        .iter()
        .filter(|d| d.parent.is_none())
        .map(|d| d.name.as_str())
        .collect();
    devices
        .iter()
        .map(|d| {
            let disk = d.parent.as_deref().unwrap_or(&d.name);
            disks.iter().position(|n| *n == disk).unwrap_or(disks.len())
        })
        .collect()
}

/// Filesystems found in raw disk images (no mounting): each image is one disk, named by its
/// file stem ("vda.img" partition 2 is "vda2").
#[derive(Debug, Default)]
pub struct ImageScan {
    pub volumes: Vec<Volume>,
    pub warnings: Vec<String>,
}

pub fn discover_images(images: &[PathBuf]) -> ImageScan {
    let mut scan = ImageScan::default();
    for (disk_index, path) in images.iter().enumerate() {
        if let Err(err) = scan_image(path, disk_index, &mut scan) {
            scan.warnings.push(format!("{}: {err}", path.display()));
        }
    }
    scan
}

fn partition_name(disk: &str, number: u32) -> String {
    if disk.ends_with(|c: char| c.is_ascii_digit()) {
        format!("{disk}p{number}")
    } else {
        format!("{disk}{number}")
    }
}

fn scan_image(path: &Path, disk_index: usize, scan: &mut ImageScan) -> Result<(), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    let disk = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "disk".to_string());
    // A filesystem on the whole disk comes first, as blkid reports it: a superfloppy (no
    // partition table) or a hybrid ISO. Any other superblock on a partitioned disk is stale.
    let whole = probe_file(&file, 0, size).map_err(|e| e.to_string())?;
    let table = read_partition_table(&file, size)?;
    if let Some(fs) = whole.filter(|fs| table.is_none() || fs.kind == FsKind::Iso9660) {
        scan.volumes.push(Volume {
            device: disk.clone(),
            disk_index,
            partition: None,
            fs,
        });
    }
    let Some(table) = table else {
        return Ok(());
    };
    scan.warnings.extend(
        table
            .warnings
            .iter()
            .map(|w| format!("{}: {w}", path.display())),
    );
    for part in &table.partitions {
        let device = partition_name(&disk, part.number);
        // A hybrid ISO's first partition is the ISO itself again.
        if part.start == 0 {
            continue;
        }
        let within = size.saturating_sub(part.start).min(part.size);
        match probe_file(&file, part.start, within) {
            Ok(Some(fs)) => scan.volumes.push(Volume {
                device,
                disk_index,
                partition: Some(part.number),
                fs,
            }),
            Ok(None) => {}
            Err(err) => scan.warnings.push(format!("{device}: {err}")),
        }
    }
    Ok(())
}

/// Discovery where each volume's filesystem is a directory tree (tests, or filesystems
/// already mounted elsewhere).
pub fn discover_trees(trees: Vec<(Volume, PathBuf)>) -> Discovery {
    let scanned = trees
        .into_iter()
        .map(|(volume, root)| {
            let parsed = discover_across(&DirFs::new(&root));
            ScannedVolume {
                volume,
                root,
                parsed,
            }
        })
        .collect();
    resolve(scanned, Vec::new())
}

/// Filesystems mounted by a scan; unmounted when no longer needed.
#[derive(Debug, Default)]
pub struct Mounts {
    points: Vec<PathBuf>,
}

impl Mounts {
    /// Unmounts everything not in `keep`; returns the problems.
    pub fn release_except(&mut self, keep: &[&Path]) -> Vec<String> {
        let (kept, released): (Vec<PathBuf>, Vec<PathBuf>) = self
            .points
            .drain(..)
            .partition(|p| keep.contains(&p.as_path()));
        self.points = kept;
        released.iter().filter_map(|p| unmount(p).err()).collect()
    }

    pub fn release_all(&mut self) -> Vec<String> {
        self.release_except(&[])
    }
}

/// A guard: what is still mounted when the scan's result goes out of scope is unmounted,
/// so no path out of the menu leaves a disk mounted. Call `release_all` first to see
/// the problems; here they can only be dropped.
impl Drop for Mounts {
    fn drop(&mut self) {
        let _ = self.release_all();
    }
}

/// The real scan: every block device probed, mounted read-only under `mount_root/<dev>` and
/// searched for configs, each within `time_limit` (a hung device is reported and skipped).
/// Filesystems no entry needs are unmounted again.
pub fn discover_disks(options: &ScanOptions) -> (Discovery, Mounts) {
    let (devices, mut warnings) = list_block_devices(&options.sys_block, &options.dev_dir);
    let indices = disk_indices(&devices);
    // A partition starting at sector 0 is its disk again (hybrid ISO): only the disk is
    // scanned. A partitioned disk counts as a filesystem only when it is an ISO: anything
    // else found there is a stale superblock from before it was partitioned.
    let partitioned: Vec<String> = devices.iter().filter_map(|d| d.parent.clone()).collect();
    let jobs: Vec<ScanJob> = devices
        .into_iter()
        .zip(indices)
        .filter(|(d, _)| d.parent.is_none() || d.start != 0)
        .map(|(device, disk_index)| ScanJob {
            iso_only: partitioned.contains(&device.name),
            device,
            disk_index,
        })
        .collect();
    let results = run_with_deadline(&jobs, options);
    let mut mounts = Mounts::default();
    let mut scanned = Vec::new();
    for (job, result) in jobs.iter().zip(results) {
        match result {
            None => warnings.push(format!(
                "{}: no answer within {} s (device hung?); skipped",
                job.device.name,
                options.time_limit.as_secs()
            )),
            Some(Err(err)) => warnings.push(format!("{}: {err}", job.device.name)),
            Some(Ok(None)) => {}
            Some(Ok(Some(volume))) => {
                mounts.points.push(volume.root.clone());
                scanned.push(volume);
            }
        }
    }
    let mut discovery = resolve(scanned, warnings);
    let needed: Vec<&Path> = discovery
        .entries
        .iter()
        .map(|e| e.mount_point.as_path())
        .collect();
    let mut release_problems = mounts.release_except(&needed);
    discovery.warnings.append(&mut release_problems);
    (discovery, mounts)
}

#[derive(Clone)]
struct ScanJob {
    device: BlockDevice,
    disk_index: usize,
    iso_only: bool,
}

type ScanResult = Result<Option<ScannedVolume>, String>;

/// Scans every device in its own thread; None for those without an answer by the deadline
/// (their threads are left behind, blocked in the kernel, and clean up if they ever finish).
fn run_with_deadline(jobs: &[ScanJob], options: &ScanOptions) -> Vec<Option<ScanResult>> {
    let mut results: Vec<Option<ScanResult>> = jobs.iter().map(|_| None).collect();
    let (sender, receiver) = mpsc::channel();
    let abandoned = Arc::new(AtomicBool::new(false));
    for (slot, job) in jobs.iter().cloned().enumerate() {
        let sender = sender.clone();
        let abandoned = Arc::clone(&abandoned);
        let mount_root = options.mount_root.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("scan-{}", job.device.name))
            .spawn(move || {
                let result = scan_device(&job, &mount_root, &abandoned);
                let _ = sender.send((slot, result));
            });
        if let Err(err) = spawned {
            results[slot] = Some(Err(format!("cannot start scan: {err}")));
        }
    }
    drop(sender);
    let deadline = Instant::now() + options.time_limit;
    while results.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(left) {
            Ok((slot, result)) => results[slot] = Some(result),
            Err(_) => break,
        }
    }
    // Late finishers unmount what they mounted themselves.
    abandoned.store(true, Ordering::SeqCst);
    results
}

/// Probes, mounts and reads the configs of one device; Ok(None) when it has no known fs.
fn scan_device(
    job: &ScanJob,
    mount_root: &Path,
    abandoned: &AtomicBool,
) -> Result<Option<ScannedVolume>, String> {
    let device = &job.device;
    let file = match File::open(&device.node) {
        Ok(file) => file,
        // An empty CD/DVD drive is not worth a warning on every boot.
        Err(e) if e.raw_os_error() == Some(libc::ENOMEDIUM) => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", device.node.display())),
    };
    let probed = probe_file(&file, 0, device.size_bytes)
        .map_err(|e| format!("{}: {e}", device.node.display()))?;
    let Some(fs) = probed.filter(|fs| !job.iso_only || fs.kind == FsKind::Iso9660) else {
        return Ok(None);
    };
    drop(file);
    let name = device.name.replace(['!', '/'], "_");
    let mut root = mount_root.join(&name);
    // Another menu (the console's, while an SSH session lists the entries) has it mounted
    // there: the kernel refuses the same filesystem twice on one mount point (EBUSY), so
    // this scan uses a mount point of its own.
    if is_mount_point(&root) {
        root = mount_root.join(format!("{name}.{}", std::process::id()));
    }
    let mounted = Mounted::read_only(&device.node, &root, fs.kind)?;
    let parsed = discover_across(&DirFs::new(&root));
    if abandoned.load(Ordering::SeqCst) {
        return Err("finished after the time limit".to_string());
    }
    // The scan's caller owns the mount from here (`Mounts`).
    let root = mounted.keep();
    Ok(Some(ScannedVolume {
        volume: Volume {
            device: device.name.clone(),
            disk_index: job.disk_index,
            partition: device.partition,
            fs,
        },
        root,
        parsed,
    }))
}

fn is_mount_point(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let parent = path.parent().and_then(|p| std::fs::metadata(p).ok());
    match (std::fs::metadata(path), parent) {
        (Ok(here), Some(parent)) => here.dev() != parent.dev(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blockdev::devices::natural_order;

    #[test]
    fn natural_device_order() {
        let mut names = vec!["vda10", "vdb", "vda2", "vda", "sr0"];
        names.sort_by(|a, b| natural_order(a, b));
        assert_eq!(names, ["sr0", "vda", "vda2", "vda10", "vdb"]);
        assert_eq!(partition_name("nvme0n1", 2), "nvme0n1p2");
        assert_eq!(partition_name("vda", 2), "vda2");
    }
}
