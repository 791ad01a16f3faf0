//! The modules, mounts and slab sections of the report: computing them, their text in
//! crash's layout (`mod`, `mount`, `kmem -s`) and their JSON. Kept apart from the report's
//! core so each section is one place to read.

use super::json::{arr, obj, Json};
use super::{opt, Renderer, Report, Section};
use crate::dump::helpers::modules::{modules, Module};
use crate::dump::helpers::mounts::{mounts, Mount};
use crate::dump::helpers::slab::{slab_info, SlabCache, SlabInfo, SLAB_TOP};
use crate::dump::kernel::Dump;
use std::fmt::Write;

/// Computes the wanted ones of the three sections into `r`; a section that fails is a
/// warning naming it, a partly read one a "partial:" warning per problem.
pub(super) fn fill(r: &mut Report, dump: &Dump, o: &super::Options) {
    if o.wants(Section::Mod) {
        if let Some((list, errors)) = r.section(Section::Mod, modules(dump)) {
            r.partial(Section::Mod, errors);
            r.modules = Some(list);
        }
    }
    if o.wants(Section::Mount) {
        if let Some((list, errors)) = r.section(Section::Mount, mounts(dump)) {
            r.partial(Section::Mount, errors);
            r.mounts = Some(list);
        }
    }
    if o.wants(Section::Slab) {
        if let Some((info, errors)) = r.section(Section::Slab, slab_info(dump, SLAB_TOP)) {
            r.partial(Section::Slab, errors);
            r.slab = Some(info);
        }
    }
}

/// The text blocks of these sections: (section, title, renderer).
pub(super) const BLOCKS: [(Section, &str, Renderer); 3] = [
    (Section::Mod, "MODULES", render_modules),
    (Section::Mount, "MOUNTS", render_mounts),
    (Section::Slab, "SLAB CACHES", render_slab),
];

fn hex(v: u64) -> String {
    format!("{v:016x}")
}

fn render_modules(r: &Report, out: &mut String) {
    let Some(mods) = &r.modules else { return };
    let _ = writeln!(
        out,
        "{:^16}  {:<20}  {:^16}  {:>8}  {:>4}  {:<9}  TAINTS",
        "MODULE", "NAME", "BASE", "SIZE", "REFS", "STATE"
    );
    for m in mods {
        let _ = writeln!(out, "{}", module_line(m));
    }
    if mods.is_empty() {
        let _ = writeln!(out, "(no modules loaded)");
    }
}

/// One `mod`-style row: struct module, name, text base, size, references, state, taints.
pub fn module_line(m: &Module) -> String {
    format!(
        "{}  {:<20}  {:>16}  {:>8}  {:>4}  {:<9}  {}",
        hex(m.addr),
        m.name,
        m.base.map_or_else(|| "-".to_string(), hex),
        m.size,
        opt(m.refcount),
        m.state,
        m.taints
    )
    .trim_end()
    .to_string()
}

fn render_mounts(r: &Report, out: &mut String) {
    let Some(mounts) = &r.mounts else { return };
    let _ = writeln!(
        out,
        "{:^16}  {:^16}  {:<10}  {:<15}  DIRNAME",
        "MOUNT", "SUPERBLK", "TYPE", "DEVNAME"
    );
    for m in mounts {
        let _ = writeln!(out, "{}", mount_line(m));
    }
}

/// One `mount`-style row; a mount point that could not be rebuilt shows as "?".
pub fn mount_line(m: &Mount) -> String {
    format!(
        "{}  {}  {:<10}  {:<15}  {}",
        hex(m.addr),
        hex(m.sb),
        m.fstype,
        m.devname,
        m.path.as_deref().unwrap_or("?")
    )
}

/// crash's SSIZE: the slab size in KiB with a "k".
fn ssize(bytes: u64) -> String {
    format!("{}k", bytes / 1024)
}

fn render_slab(r: &Report, out: &mut String) {
    let Some(s) = &r.slab else { return };
    if let Some(why) = &s.counts_unavailable {
        let _ = writeln!(out, "COUNTS UNAVAILABLE: {why}");
    }
    let _ = writeln!(
        out,
        "{:^16}  {:>7}  {:>5}  {:>8}  {:>9}  {:>8}  {:>6}  {:>5}  {:>11}  NAME",
        "CACHE",
        "OBJSIZE",
        "SIZE",
        "PER-SLAB",
        "ALLOCATED",
        "TOTAL",
        "SLABS",
        "SSIZE",
        "MEMORY(KiB)"
    );
    for c in &s.caches {
        let _ = writeln!(out, "{}", slab_line(c));
    }
    let _ = writeln!(out, "{}", slab_summary(s));
}

/// One `kmem -s`-style row, with slabinfo's slot size, objects per slab and the memory.
pub fn slab_line(c: &SlabCache) -> String {
    let counts = c.counts;
    format!(
        "{}  {:>7}  {:>5}  {:>8}  {:>9}  {:>8}  {:>6}  {:>5}  {:>11}  {}",
        hex(c.addr),
        c.object_size,
        c.size,
        c.objects_per_slab,
        opt(counts.and_then(|c| c.active)),
        opt(counts.map(|c| c.objects)),
        opt(counts.map(|c| c.slabs)),
        ssize(c.slab_bytes),
        opt(c.memory_bytes().map(|b| b / 1024)),
        c.name
    )
}

/// The line under the table: how many caches are shown of how many, and their total.
pub fn slab_summary(s: &SlabInfo) -> String {
    let order = if s.counts_unavailable.is_some() {
        "in list order"
    } else {
        "largest first"
    };
    let total = s
        .total_bytes
        .map_or_else(String::new, |b| format!("; all caches: {} KiB", b / 1024));
    format!(
        "{} of {} caches shown, {order}{total}",
        s.caches.len(),
        s.total_caches
    )
}

fn hex_json(v: u64) -> Json {
    format!("{v:#x}").into()
}

pub(super) fn modules_json(r: &Report) -> Json {
    let Some(mods) = &r.modules else {
        return Json::Null;
    };
    arr(mods, |m| {
        obj(vec![
            ("name", m.name.as_str().into()),
            ("module", hex_json(m.addr)),
            ("base", m.base.map(hex_json).unwrap_or(Json::Null)),
            ("size", m.size.into()),
            ("refcount", m.refcount.into()),
            ("state", m.state.as_str().into()),
            ("taints", m.taints.as_str().into()),
        ])
    })
}

pub(super) fn mounts_json(r: &Report) -> Json {
    let Some(mounts) = &r.mounts else {
        return Json::Null;
    };
    arr(mounts, |m| {
        obj(vec![
            ("mount", hex_json(m.addr)),
            ("superblock", hex_json(m.sb)),
            ("type", m.fstype.as_str().into()),
            ("devname", m.devname.as_str().into()),
            ("path", m.path.clone().into()),
        ])
    })
}

pub(super) fn slab_json(r: &Report) -> Json {
    let Some(s) = &r.slab else {
        return Json::Null;
    };
    let caches = arr(&s.caches, |c| {
        obj(vec![
            ("cache", hex_json(c.addr)),
            ("name", c.name.as_str().into()),
            ("object_size", c.object_size.into()),
            ("size", c.size.into()),
            ("objects_per_slab", c.objects_per_slab.into()),
            ("order", u64::from(c.order).into()),
            ("slab_bytes", c.slab_bytes.into()),
            ("slabs", c.counts.map(|n| n.slabs).into()),
            ("objects", c.counts.map(|n| n.objects).into()),
            ("active_objects", c.counts.and_then(|n| n.active).into()),
            ("memory_kib", c.memory_bytes().map(|b| b / 1024).into()),
        ])
    });
    obj(vec![
        ("caches", caches),
        ("total_caches", (s.total_caches as u64).into()),
        ("total_kib", s.total_bytes.map(|b| b / 1024).into()),
        ("counts_unavailable", s.counts_unavailable.clone().into()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::helpers::slab::SlabCounts;

    #[test]
    fn module_rows_read_like_crash_mod() {
        let m = Module {
            addr: 0xffff_ffff_c02c_b040,
            name: "dummy".into(),
            base: Some(0xffff_ffff_c02c_9000),
            size: 16384,
            refcount: Some(0),
            state: "Live".into(),
            taints: String::new(),
        };
        assert_eq!(
            module_line(&m),
            "ffffffffc02cb040  dummy                 ffffffffc02c9000     16384     0  Live"
        );
        let tainted = Module {
            taints: "OE".into(),
            refcount: None,
            base: None,
            ..m
        };
        assert!(module_line(&tainted).ends_with("  n/a  Live       OE"));
        assert!(module_line(&tainted).contains("  -  "));
    }

    #[test]
    fn mount_rows_and_unknown_paths() {
        let mut m = Mount {
            addr: 0xffff_8880_0102_0300,
            sb: 0xffff_8880_0405_0600,
            fstype: "proc".into(),
            devname: "proc".into(),
            path: Some("/proc".into()),
        };
        assert_eq!(
            mount_line(&m),
            "ffff888001020300  ffff888004050600  proc        proc             /proc"
        );
        m.path = None;
        assert!(mount_line(&m).ends_with(" ?"));
    }

    #[test]
    fn slab_rows_show_memory_and_missing_counts() {
        let mut c = SlabCache {
            addr: 0xffff_8880_0000_1000,
            name: "dentry".into(),
            object_size: 192,
            size: 192,
            objects_per_slab: 21,
            order: 0,
            slab_bytes: 4096,
            counts: Some(SlabCounts {
                slabs: 100,
                objects: 2100,
                active: Some(2000),
            }),
        };
        assert_eq!(
            slab_line(&c),
            "ffff888000001000      192    192        21       2000      2100     100     4k          400  dentry"
        );
        c.counts = None;
        assert!(slab_line(&c).contains("n/a       n/a     n/a     4k          n/a  dentry"));
        let info = SlabInfo {
            caches: vec![c],
            total_caches: 147,
            total_bytes: Some(20 << 20),
            counts_unavailable: None,
        };
        assert_eq!(
            slab_summary(&info),
            "1 of 147 caches shown, largest first; all caches: 20480 KiB"
        );
        let blind = SlabInfo {
            total_bytes: None,
            counts_unavailable: Some("no counters".into()),
            ..info
        };
        assert_eq!(slab_summary(&blind), "1 of 147 caches shown, in list order");
    }
}
