//! The mod, mount and slab sections against what the guest printed before the dump: its
//! /proc/modules, /proc/mounts and /proc/slabinfo lines (KBOOT-GUEST-MODULES, -MOUNTS and
//! -SLABINFO in guest.txt), on the QEMU dump and the genuine kdump vmcore.

#[path = "triage_common/mod.rs"]
mod common;

use common::{kdump_fixture, qemu_fixture};
use rootfs_rs::dump::helpers::slab::slab_info;
use rootfs_rs::dump::report::{build, Options, Report};
use rootfs_rs::dump::Dump;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The dumps of both fixtures to check, with their directory (for guest.txt).
fn dumps() -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    if let Some(dir) = qemu_fixture() {
        for name in ["vmcore.elf", "vmcore.kdump-zlib"] {
            out.push((dir.clone(), dir.join(name)));
        }
    }
    if let Some(dir) = kdump_fixture() {
        for name in ["vmcore.proc.elf", "vmcore.d31.zlib", "vmcore.d31.lzo.flat"] {
            out.push((dir.clone(), dir.join(name)));
        }
    }
    out.retain(|(_, p)| p.exists());
    out
}

/// The text after "KEY " of every guest.txt line with that key.
fn guest_lines(dir: &Path, key: &str) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("guest.txt")).expect("guest.txt");
    let prefix = format!("{key} ");
    let lines: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(str::to_string)
        .collect();
    assert!(
        !lines.is_empty(),
        "{}: no {key} lines (fixture made by an older script?)",
        dir.display()
    );
    lines
}

fn report(path: &Path, sections: &[&str]) -> Report {
    build(
        path,
        &Options {
            sections: sections.iter().map(|s| s.to_string()).collect(),
            ..Options::default()
        },
    )
}

fn no_section_warnings(r: &Report, name: &str) {
    let w: Vec<_> = r
        .warnings
        .iter()
        .filter(|w| w.check.starts_with("section:"))
        .map(|w| format!("{}: {}", w.check, w.message))
        .collect();
    assert!(w.is_empty(), "{name}: {w:?}");
}

/// A /proc/modules line: "name size refcount deps state address [(taints)]".
struct ProcModule {
    size: u64,
    refcount: i64,
    state: String,
    address: u64,
    taints: String,
}

fn parse_module(line: &str) -> (String, ProcModule) {
    let f: Vec<&str> = line.split_whitespace().collect();
    assert!(f.len() >= 6, "module line {line:?}");
    let taints = f
        .get(6)
        .map(|t| t.trim_matches(|c| c == '(' || c == ')').to_string())
        .unwrap_or_default();
    let address = u64::from_str_radix(f[5].trim_start_matches("0x"), 16).expect("address");
    (
        f[0].to_string(),
        ProcModule {
            size: f[1].parse().expect("size"),
            refcount: f[2].parse().expect("refcount"),
            state: f[4].to_string(),
            address,
            taints,
        },
    )
}

#[test]
fn modules_match_the_guests_proc_modules() {
    for (dir, path) in dumps() {
        let name = path.display().to_string();
        // In /proc/modules' order, which is the list's.
        let guest: Vec<(String, ProcModule)> = guest_lines(&dir, "KBOOT-GUEST-MODULES")
            .iter()
            .map(|l| parse_module(l))
            .collect();
        let r = report(&path, &["mod"]);
        no_section_warnings(&r, &name);
        assert!(r.mounts.is_none() && r.slab.is_none() && r.tasks.is_none());
        let mods = r.modules.as_ref().expect("modules");
        let ours: Vec<&str> = mods.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            ours,
            guest.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            "{name}: the same modules"
        );
        for (m, (_, g)) in mods.iter().zip(&guest) {
            assert_eq!(m.size, g.size, "{name}: size of {}", m.name);
            assert_eq!(m.refcount, Some(g.refcount), "{name}: refs of {}", m.name);
            assert_eq!(m.state, g.state, "{name}: state of {}", m.name);
            assert_eq!(m.taints, g.taints, "{name}: taints of {}", m.name);
            // A guest reading /proc/modules without CAP_SYSLOG sees 0 for the address.
            if g.address != 0 {
                assert_eq!(m.base, Some(g.address), "{name}: base of {}", m.name);
            }
            // struct module lives in the module's own memory (on 6.1 one core allocation
            // that starts with its text).
            assert!(
                m.base
                    .is_some_and(|b| m.addr >= b && m.addr < b.saturating_add(m.size)),
                "{name}: struct module of {} at {:#x} outside its memory",
                m.name,
                m.addr
            );
        }
    }
}

/// Undoes the octal escapes /proc/mounts writes for space, tab, newline and backslash.
fn unmangle(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        });
        match (b[i], octal) {
            (b'\\', Some(c)) => {
                out.push(c);
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn mounts_match_the_guests_proc_mounts() {
    assert_eq!(unmangle(r"/mnt/a\040b\134c"), r"/mnt/a b\c");
    for (dir, path) in dumps() {
        let name = path.display().to_string();
        // (device, mount point, type), in the namespace's order, as /proc/mounts lists them.
        let guest: Vec<(String, String, String)> = guest_lines(&dir, "KBOOT-GUEST-MOUNTS")
            .iter()
            .map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                assert!(f.len() >= 3, "mount line {l:?}");
                (unmangle(f[0]), unmangle(f[1]), unmangle(f[2]))
            })
            .collect();
        assert!(guest.iter().any(|(_, p, t)| p == "/proc" && t == "proc"));
        let r = report(&path, &["mount"]);
        no_section_warnings(&r, &name);
        assert!(r.modules.is_none() && r.slab.is_none());
        let ours: Vec<(String, String, String)> = r
            .mounts
            .as_ref()
            .expect("mounts")
            .iter()
            .map(|m| {
                (
                    m.devname.clone(),
                    m.path.clone().unwrap_or_default(),
                    m.fstype.clone(),
                )
            })
            .collect();
        assert_eq!(ours, guest, "{name}");
        let mounts = r.mounts.as_ref().expect("mounts");
        assert!(
            mounts.iter().all(|m| m.addr != 0 && m.sb != 0),
            "{name}: {mounts:?}"
        );
    }
}

/// A /proc/slabinfo (2.1) data line.
#[derive(Debug)]
struct SlabLine {
    active_objs: u64,
    num_objs: u64,
    objsize: u64,
    objperslab: u64,
    pagesperslab: u64,
    num_slabs: u64,
}

impl SlabLine {
    fn bytes(&self) -> u64 {
        self.num_slabs * self.pagesperslab * 4096
    }
}

fn guest_slabinfo(dir: &Path) -> BTreeMap<String, SlabLine> {
    let mut out = BTreeMap::new();
    for l in guest_lines(dir, "KBOOT-GUEST-SLABINFO") {
        let f: Vec<&str> = l.split_whitespace().collect();
        if l.starts_with("slabinfo ") || l.starts_with('#') {
            continue;
        }
        // name active num objsize objperslab pagesperslab : tunables l b s : slabdata a n s
        assert!(f.len() >= 16 && f[6] == ":" && f[11] == ":", "{l:?}");
        let n = |i: usize| f[i].parse::<u64>().unwrap_or_else(|_| panic!("{l:?}"));
        out.insert(
            f[0].to_string(),
            SlabLine {
                active_objs: n(1),
                num_objs: n(2),
                objsize: n(3),
                objperslab: n(4),
                pagesperslab: n(5),
                num_slabs: n(14),
            },
        );
    }
    out
}

/// The dump is taken seconds after the guest read /proc/slabinfo: counts may have moved a
/// little, never by more than a quarter or a few slabs' worth.
fn close(ours: u64, theirs: u64, slack: u64) -> bool {
    ours.abs_diff(theirs) <= theirs / 4 + slack
}

#[test]
fn slab_caches_match_the_guests_slabinfo() {
    for (dir, path) in dumps() {
        let name = path.display().to_string();
        let guest = guest_slabinfo(&dir);
        assert!(guest.len() > 50, "{name}: {} caches", guest.len());
        let r = report(&path, &["slab"]);
        no_section_warnings(&r, &name);
        let s = r.slab.as_ref().expect("slab");
        assert_eq!(s.caches.len(), 20, "{name}: the top 20");
        assert!(s.counts_unavailable.is_none(), "Debian's SLUB has counters");
        // Largest first.
        let mem: Vec<u64> = s.caches.iter().map(|c| c.memory_bytes().unwrap()).collect();
        assert!(mem.windows(2).all(|w| w[0] >= w[1]), "{name}: {mem:?}");
        // The guest's five largest caches by memory are in the report.
        let mut by_size: Vec<(&String, &SlabLine)> = guest.iter().collect();
        by_size.sort_by_key(|(_, l)| std::cmp::Reverse(l.bytes()));
        for (cache, _) in by_size.iter().take(5) {
            assert!(
                s.caches.iter().any(|c| &c.name == *cache),
                "{name}: {cache} missing from the top 20"
            );
        }
        for c in &s.caches {
            let g = guest
                .get(&c.name)
                .unwrap_or_else(|| panic!("{name}: {} not in slabinfo", c.name));
            let counts = c.counts.expect("counts");
            let what = format!("{name}: {} ours {c:?} guest {g:?}", c.name);
            assert_eq!(c.size, g.objsize, "{what}");
            assert_eq!(c.objects_per_slab, g.objperslab, "{what}");
            assert_eq!(1u64 << c.order, g.pagesperslab, "{what}");
            assert_eq!(c.slab_bytes, g.pagesperslab * 4096, "{what}");
            assert!(c.object_size <= c.size, "{what}");
            assert!(
                close(counts.objects, g.num_objs, 4 * g.objperslab),
                "{what}"
            );
            assert!(close(counts.slabs, g.num_slabs, 4), "{what}");
            let active = counts.active.expect("partial lists walked");
            assert!(close(active, g.active_objs, 4 * g.objperslab), "{what}");
            assert!(active <= counts.objects, "{what}");
            assert_eq!(
                c.memory_bytes(),
                Some(counts.slabs * c.slab_bytes),
                "{what}"
            );
        }
        // Every cache, not only the top: the same set as slabinfo, the same slot sizes.
        let dump = Dump::open(&path).expect("open");
        let (all, errors) = slab_info(&dump, usize::MAX).expect("slab_info");
        assert!(errors.is_empty(), "{name}: {errors:?}");
        assert_eq!(all.total_caches, guest.len(), "{name}");
        assert_eq!(all.caches.len(), guest.len(), "{name}");
        for c in &all.caches {
            let g = guest
                .get(&c.name)
                .unwrap_or_else(|| panic!("{name}: {} not in slabinfo", c.name));
            assert_eq!((c.size, c.objects_per_slab), (g.objsize, g.objperslab));
        }
        let sum: u64 = all.caches.iter().filter_map(|c| c.memory_bytes()).sum();
        assert_eq!(all.total_bytes, Some(sum), "{name}");
        assert_eq!(s.total_bytes, Some(sum), "{name}: the report's total");
    }
}

/// The three blocks as the applet prints them, and nothing else of the report.
#[test]
fn text_blocks_in_crash_layout() {
    let Some(dir) = qemu_fixture() else { return };
    let dump = dir.join("vmcore.elf");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kboot"))
        .arg("triage")
        .arg(&dump)
        .args([
            "--section",
            "mod",
            "--section",
            "mount",
            "--section",
            "slab",
        ])
        .output()
        .expect("run triage");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let titles: Vec<&str> = text.lines().filter(|l| l.starts_with("== ")).collect();
    assert_eq!(
        titles,
        ["== MODULES ==", "== MOUNTS ==", "== SLAB CACHES =="],
        "{text}"
    );
    let (module, proc) = parse_module(&guest_lines(&dir, "KBOOT-GUEST-MODULES")[0]);
    let size = proc.size;
    assert!(
        text.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() >= 6 && f[1] == module && f[3] == size.to_string() && f[5] == "Live"
        }),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.ends_with(" /proc") && l.split_whitespace().nth(2) == Some("proc")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("20 of ") && l.contains(" caches shown, largest first")),
        "{text}"
    );
}
