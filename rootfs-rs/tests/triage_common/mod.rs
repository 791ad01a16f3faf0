//! Test fixtures: real dumps made by tests/fixtures/*.sh (cached under the workspace's target/fixtures) and the guest's
//! own view of itself, recorded on its serial console before the dump was taken.
#![allow(dead_code)]

use rootfs_rs::dump::helpers::tasks;
use rootfs_rs::dump::Dump;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What tests/fixtures/*.sh run (guest kernels under QEMU, busybox guests, a static
/// helper, makedumpfile's conversions).
const FIXTURE_TOOLS: &[&str] = &[
    "qemu-system-x86_64",
    "busybox",
    "file",
    "gcc",
    "cpio",
    "gzip",
    "xz",
    "python3",
    "makedumpfile",
    "kexec",
    "ldd",
    "objcopy",
    "apt-get",
    "apt-cache",
    "dpkg-deb",
    "depmod",
];

/// Runs a fixture script once; None (with a SKIP message) when the machine lacks its tools
/// (exit code 2), a panic on any other failure.
pub fn fixture_dir(script: &str, dir: &str, marker: &str) -> Option<PathBuf> {
    fixture_dir_for(script, dir, marker, None)
}

/// Debian suites whose kernels the fixtures also come in (besides /boot's 6.1): 5.10, 6.12
/// and 7.x, fetched by tests/fixtures/fetch-debian-kernel.sh.
pub const SUITES: [&str; 3] = ["bullseye", "trixie", "sid"];

/// The QEMU dump ("qemu") or kdump capture ("kdump") fixture made with SUITE's kernel.
pub fn suite_fixture(kind: &str, suite: &str) -> Option<PathBuf> {
    let (script, marker) = match kind {
        "qemu" => ("make-qemu-dump.sh", "guest.txt"),
        _ => ("make-kdump-vmcore.sh", "vmcore.proc.elf"),
    };
    fixture_dir_for(script, &format!("{kind}-{suite}"), marker, Some(suite))
}

fn fixture_dir_for(script: &str, dir: &str, marker: &str, suite: Option<&str>) -> Option<PathBuf> {
    let out = root().join("../target/fixtures").join(dir);
    // Tests in several threads and test binaries want the same fixture at once: one makes
    // it under a lock, the others find the marker when they get the lock.
    let _ = std::fs::create_dir_all(root().join("../target/fixtures"));
    // The scripts run these by name: a missing one fails here with its package.
    qemu_tests::host_tools::require(FIXTURE_TOOLS);
    let lock = root()
        .join("../target/fixtures")
        .join(format!("{dir}.lock"));
    let status = qemu_tests::host_tools::command("flock")
        .arg(&lock)
        .arg("sh")
        .arg("-c")
        // The script itself finds a fixture cached for the same inputs (its inputs.stamp)
        // and returns at once; the marker only names the file the callers use.
        .arg(r#"exec "$SCRIPT" && test -e "$OUT/$MARKER""#)
        .env("MARKER", marker)
        .env("SCRIPT", root().join("tests/fixtures").join(script))
        .env("OUT", &out)
        .env("SUITE", suite.unwrap_or(""))
        .status()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    match status.code() {
        Some(0) => Some(out),
        // `cargo xtask test` (and so CI) sets KBOOT_REQUIRE_FIXTURES: there a fixture
        // that cannot be made is a failure, never a silent skip.
        Some(2) if std::env::var_os("KBOOT_REQUIRE_FIXTURES").is_some() => {
            panic!("{script} cannot run on this machine (see its message); cargo xtask deps installs what it needs")
        }
        Some(2) => {
            eprintln!("SKIP: {script} cannot run on this machine (see its message)");
            None
        }
        _ => panic!("{script} failed: {status}"),
    }
}

pub fn qemu_fixture() -> Option<PathBuf> {
    fixture_dir("make-qemu-dump.sh", "qemu", "guest.txt")
}

/// What the guest printed about itself.
#[derive(Debug, Default)]
pub struct GuestView {
    pub release: String,
    pub mem_total_kb: u64,
    /// pid → /proc/<pid>/comm
    pub tasks: BTreeMap<i32, String>,
    /// pid → (ppid, rt_priority, policy) from /proc/<pid>/stat.
    pub stats: BTreeMap<i32, (i32, u32, u32)>,
    /// Threads other than group leaders: tid → tgid (/proc/<pid>/task/<tid>).
    pub threads: BTreeMap<i32, i32>,
    /// pid → RSS in pages (/proc/<pid>/stat field 24).
    pub rss_pages: BTreeMap<i32, u64>,
    /// Local ports of LISTEN lines in /proc/net/tcp and /proc/net/tcp6.
    pub tcp_listen_ports: BTreeSet<u16>,
    pub tcp6_listen_ports: BTreeSet<u16>,
    /// Local ports of the sockets in /proc/net/udp and /proc/net/udp6.
    pub udp_ports: BTreeSet<u16>,
    pub udp6_ports: BTreeSet<u16>,
    /// Paths of bound sockets in /proc/net/unix.
    pub unix_paths: BTreeSet<String>,
    /// The first three fields of /proc/loadavg.
    pub load_avg: Vec<f64>,
    /// /proc/meminfo key → kB.
    pub meminfo: BTreeMap<String, u64>,
}

/// /proc/<pid>/stat: "pid (comm) state ppid ..." with rt_priority and policy as fields 40, 41.
fn parse_stat(line: &str) -> Option<(i32, (i32, u32, u32))> {
    let pid = line.split(' ').next()?.parse().ok()?;
    let rest: Vec<&str> = line.rsplit_once(") ")?.1.split(' ').collect();
    // rest[0] is field 3 (state).
    Some((
        pid,
        (
            rest.get(1)?.parse().ok()?,
            rest.get(37)?.parse().ok()?,
            rest.get(38)?.parse().ok()?,
        ),
    ))
}

/// A /proc/net/{tcp,udp}[6] line: "sl local rem st ..." with local "0100007F:1E61"; st "0A"
/// is LISTEN. Returns (local port, state); None for the header line.
fn parse_inet_line(line: &str) -> Option<(u16, &str)> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let port = u16::from_str_radix(f.get(1)?.split_once(':')?.1, 16).ok()?;
    Some((port, f.get(3)?))
}

fn listen_port(line: &str) -> Option<u16> {
    parse_inet_line(line)
        .filter(|(_, st)| *st == "0A")
        .map(|(p, _)| p)
}

pub fn guest_view(dir: &Path) -> GuestView {
    let text = std::fs::read_to_string(dir.join("guest.txt")).expect("guest.txt");
    let mut g = GuestView::default();
    for line in text.lines() {
        let mut parts = line.splitn(3, ' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("KBOOT-GUEST-RELEASE"), Some(r), None) => g.release = r.to_string(),
            (Some("KBOOT-GUEST-MEMTOTAL-KB"), Some(kb), None) => {
                g.mem_total_kb = kb.parse().expect("MemTotal")
            }
            (Some("KBOOT-GUEST-TASK"), Some(pid), Some(comm)) => {
                g.tasks.insert(pid.parse().expect("pid"), comm.to_string());
            }
            (Some("KBOOT-GUEST-STAT"), Some(_), Some(_)) => {
                let stat = &line["KBOOT-GUEST-STAT ".len()..];
                let (pid, st) = parse_stat(stat).expect("stat line");
                g.stats.insert(pid, st);
                let rss = stat
                    .rsplit_once(") ")
                    .and_then(|(_, r)| r.split(' ').nth(21)?.parse().ok());
                g.rss_pages.insert(pid, rss.expect("rss field"));
            }
            (Some("KBOOT-GUEST-THREAD"), Some(tid), Some(tgid)) => {
                g.threads
                    .insert(tid.parse().expect("tid"), tgid.parse().expect("tgid"));
            }
            (
                Some(
                    key @ ("KBOOT-GUEST-NETTCP"
                    | "KBOOT-GUEST-NETTCP6"
                    | "KBOOT-GUEST-NETUDP"
                    | "KBOOT-GUEST-NETUDP6"),
                ),
                Some(_),
                Some(_),
            ) => {
                let rest = &line[key.len() + 1..];
                match key {
                    "KBOOT-GUEST-NETTCP" => g.tcp_listen_ports.extend(listen_port(rest)),
                    "KBOOT-GUEST-NETTCP6" => g.tcp6_listen_ports.extend(listen_port(rest)),
                    "KBOOT-GUEST-NETUDP" => {
                        g.udp_ports.extend(parse_inet_line(rest).map(|(p, _)| p))
                    }
                    _ => g.udp6_ports.extend(parse_inet_line(rest).map(|(p, _)| p)),
                }
            }
            (Some("KBOOT-GUEST-NETUNIX"), Some(_), Some(_)) => {
                let f: Vec<&str> = line.split_whitespace().collect();
                // Num RefCount Protocol Flags Type St Inode [Path]
                if f.len() == 9 && f[1] != "Num" {
                    g.unix_paths.insert(f[8].to_string());
                }
            }
            (Some("KBOOT-GUEST-LOADAVG"), Some(one), Some(rest)) => {
                let more = rest
                    .split(' ')
                    .take(2)
                    .map(|v| v.parse::<f64>().expect("loadavg"));
                g.load_avg = std::iter::once(one.parse().expect("loadavg"))
                    .chain(more)
                    .collect();
            }
            (Some("KBOOT-GUEST-MEMINFO"), Some(key), Some(rest)) => {
                let kb = rest
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("meminfo value");
                g.meminfo.insert(key.trim_end_matches(':').to_string(), kb);
            }
            _ => {}
        }
    }
    assert!(
        !g.release.is_empty() && g.mem_total_kb > 0 && g.tasks.len() > 10,
        "guest.txt is incomplete: {g:?}"
    );
    g
}

/// task->comm holds 15 characters; /proc/<pid>/comm of a kernel thread shows its full name,
/// and a workqueue worker's gets "-<workqueue>" appended.
pub fn comm_matches(engine: &str, proc_comm: &str) -> bool {
    engine == proc_comm
        || (engine.len() == 15 && proc_comm.starts_with(engine))
        || (engine.starts_with("kworker/")
            && proc_comm
                .strip_prefix(engine)
                .is_some_and(|r| r.starts_with('-')))
}

/// Release, MemTotal and the (pid, comm) set seen by the engine equal the guest's own view.
pub fn assert_matches_guest(dump: &Dump, guest: &GuestView, name: &str) {
    assert_eq!(
        tasks::release(dump).unwrap(),
        guest.release,
        "{name}: init_uts_ns release"
    );
    assert_eq!(
        dump.vmcoreinfo.osrelease.as_deref(),
        Some(guest.release.as_str())
    );
    assert_eq!(
        tasks::mem_total_kb(dump).unwrap(),
        guest.mem_total_kb,
        "{name}: MemTotal"
    );

    let list = tasks::tasks(dump).unwrap();
    let engine: BTreeMap<i32, String> = list.iter().map(|t| (t.pid, t.comm.clone())).collect();
    assert_eq!(engine.len(), list.len(), "{name}: pids are unique");
    assert_eq!(engine.get(&0).map(String::as_str), Some("swapper/0"));
    for (pid, comm) in &guest.tasks {
        let got = engine
            .get(pid)
            .unwrap_or_else(|| panic!("{name}: pid {pid} ({comm}) missing"));
        assert!(
            comm_matches(got, comm),
            "{name}: pid {pid}: engine {got:?}, guest {comm:?}"
        );
    }
    // Besides pid 0, only what the guest started after listing itself (sleep, ps, cat…).
    let extra: Vec<_> = engine
        .iter()
        .filter(|(p, _)| **p != 0 && !guest.tasks.contains_key(p))
        .collect();
    assert!(extra.len() <= 4, "{name}: unexpected tasks {extra:?}");
    assert!(
        list.iter().all(|t| "RSDTtXZPI".contains(t.state)),
        "{name}: states"
    );
    assert!(
        list.iter().any(|t| t.state == 'I'),
        "{name}: idle kthreads report I"
    );
}

pub fn kdump_fixture() -> Option<PathBuf> {
    fixture_dir("make-kdump-vmcore.sh", "kdump", "vmcore.d31.lzo.flat")
}

/// The genuine vmcore's pages recompressed with snappy and zstd (needs PyPI's cramjam).
pub fn recompressed_fixture() -> Option<PathBuf> {
    kdump_fixture()?;
    fixture_dir("recompress-kdump.sh", "kdump", "vmcore.d31.zstd")
}

/// Where the end of the kernel image (`_end`) lies in an ELF vmcore file.
pub fn kernel_image_end_in_file(src: &Path) -> u64 {
    use rootfs_rs::dump::format::elf::ElfDump;
    use rootfs_rs::dump::format::source::DumpFile;
    use rootfs_rs::dump::Dump;
    let dump = Dump::open(src).expect("open the whole fixture");
    let end = dump.symbol("_end").expect("_end");
    let phys = dump
        .mem
        .kernel_text_to_phys(end)
        .expect("_end's physical address");
    let elf = ElfDump::open(DumpFile::open(src).expect("fixture")).expect("ELF");
    // The last segment that starts at or below it (the tail of .bss may be zero pages that
    // a filtered file leaves out); segments lie in the file in physical order.
    elf.segments()
        .iter()
        .filter(|s| s.paddr <= phys)
        .max_by_key(|s| s.paddr)
        .map(|s| s.file_offset + (phys - s.paddr).min(s.file_size))
        .expect("the kernel image is in the file")
}
