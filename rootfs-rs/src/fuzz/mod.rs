//! The one registry of fuzz targets: every parser of outside input (boot configs, disks,
//! network replies, path names, crash dumps) as a function from arbitrary bytes that must
//! return, never panic or hang. `cargo xtask fuzz` runs them under libFuzzer (the crate in
//! rootfs-rs/fuzz has one binary per entry), and tests/fuzz_targets.rs replays the seeds and
//! the regression inputs through the same table in every `cargo test`.
//!
//! Inputs that stand for several files (a boot partition, a chain of iPXE scripts) use
//! `tree`: the bytes up to the first NUL are the target's main file, then NUL-separated
//! path/contents pairs.

use crate::boot::fs::MemFs;

mod boot;
mod disk;
mod net;
pub mod seeds;
mod seeds_dump;

pub struct Target {
    /// Also the name of its binary in rootfs-rs/fuzz and of its corpus directory.
    pub name: &'static str,
    pub about: &'static str,
    pub run: fn(&[u8]),
}

use crate::dump::fuzz as dump;

pub const TARGETS: &[Target] = &[
    Target {
        name: "grub",
        about: "grub.cfg lexer, parser and expander through the menu's scan (with its limits)",
        run: boot::grub,
    },
    Target {
        name: "grubenv",
        about: "grubenv blocks: parsing, and the menu's saved_entry hand-back rewriting one",
        run: boot::grubenv,
    },
    Target {
        name: "bls",
        about: "Boot Loader Specification type #1 entries and loader.conf through the scan",
        run: boot::bls,
    },
    Target {
        name: "syslinux",
        about: "syslinux/extlinux/isolinux configs (INCLUDE, menus) through the scan",
        run: boot::syslinux,
    },
    Target {
        name: "lilo",
        about: "lilo.conf through the scan",
        run: boot::lilo,
    },
    Target {
        name: "kboot_toml",
        about: "kboot.toml's readers ([menu], [net], [dump], boot entries) and kboot.conf",
        run: boot::kboot_toml,
    },
    Target {
        name: "pxelinux",
        about: "a PXELINUX config (pxelinux.cfg/default) and its network paths",
        run: boot::pxelinux,
    },
    Target {
        name: "ipxe",
        about: "iPXE scripts run in simulation, chained scripts from the same input",
        run: boot::ipxe,
    },
    Target {
        name: "uki",
        about: "PE section tables and unified kernel images (.osrel, .cmdline, profiles)",
        run: boot::uki,
    },
    Target {
        name: "partitions",
        about: "GPT and MBR partition tables, then the filesystem probe of each partition",
        run: disk::partitions,
    },
    Target {
        name: "fs_probe",
        about: "filesystem signature probes (ext, xfs, btrfs, vfat, iso9660, swap, LUKS)",
        run: disk::fs_probe,
    },
    Target {
        name: "dhcp",
        about: "DHCP replies and the lease and boot URL made from them",
        run: net::dhcp,
    },
    Target {
        name: "http",
        about: "HTTP responses: head, status, redirect and body within the limit",
        run: net::http,
    },
    Target {
        name: "ftp",
        about: "FTP control replies (multi-line), PASV/EPSV and RETR sizes",
        run: net::ftp,
    },
    Target {
        name: "tftp",
        about: "a TFTP transfer against a server whose datagrams are the input",
        run: net::tftp,
    },
    Target {
        name: "url",
        about: "URLs: parsing, printing and relative resolution",
        run: net::url,
    },
    Target {
        name: "pathname",
        about: "kboot's path names (DEV:/path, LABEL=…, server:/export, URLs)",
        run: net::pathname,
    },
    Target {
        name: "elf",
        about: "ELF vmcores (strict and truncated) and physical reads through them",
        run: dump::elf,
    },
    Target {
        name: "kdump",
        about: "kdump-compressed dumps: headers, bitmaps, pages",
        run: dump::kdump,
    },
    Target {
        name: "flattened",
        about: "makedumpfile's flattened format, and the format detection",
        run: dump::flattened,
    },
    Target {
        name: "vmcoreinfo",
        about: "VMCOREINFO text and the printk layout taken from it",
        run: dump::vmcoreinfo,
    },
    Target {
        name: "btf",
        about: "BTF blobs: types, members, enumerators",
        run: dump::btf,
    },
    Target {
        name: "kallsyms",
        about: "the kallsyms tables decoded from (fake) kernel memory",
        run: dump::kallsyms,
    },
    Target {
        name: "printk",
        about: "the printk ring buffer (5.10+) and log_buf records",
        run: dump::printk,
    },
    Target {
        name: "orc_unwind",
        about: "the ORC unwinder over hostile stacks and tables",
        run: dump::orc_unwind,
    },
];

pub fn find(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Runs the target `name` (the fuzz binaries pass their own name). The first call gives
/// libFuzzer's crash handler an alternate stack, so a stack overflow is saved as a crash
/// input like any other crash.
pub fn run(name: &str, data: &[u8]) {
    static ALTERNATE_STACK: std::sync::Once = std::sync::Once::new();
    ALTERNATE_STACK.call_once(|| {
        if let Err(e) = crate::sys::segv_handler_on_alternate_stack() {
            eprintln!("fuzz: no alternate signal stack ({e}): stack overflows go unsaved");
        }
    });
    match find(name) {
        Some(target) => (target.run)(data),
        None => panic!(
            "{name}: not a fuzz target (a binary of rootfs-rs/fuzz without a registry entry)"
        ),
    }
}

/// The filesystem an input stands for: `main` holds the bytes before the first NUL, then
/// each NUL-separated path/contents pair adds a file (a later one replaces an earlier one).
pub fn tree(data: &[u8], main: &str) -> MemFs {
    let mut pieces = data.split(|&b| b == 0);
    let mut fs = MemFs::new();
    fs.add(main, pieces.next().unwrap_or_default());
    while let (Some(path), Some(contents)) = (pieces.next(), pieces.next()) {
        if !path.is_empty() {
            fs.add(&String::from_utf8_lossy(path), contents);
        }
    }
    fs
}

/// The input `tree` reads back as `main` plus `files` (paths and contents must hold no NUL).
pub fn pack(main: &[u8], files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = main.to_vec();
    for (path, contents) in files {
        out.push(0);
        out.extend_from_slice(path.as_bytes());
        out.push(0);
        out.extend_from_slice(contents);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::fs::ConfigFs;
    use std::path::Path;

    #[test]
    fn a_packed_tree_reads_back() {
        let files = vec![
            ("/boot/vmlinuz".to_string(), b"kernel".to_vec()),
            (
                "/loader/entries/a.conf".to_string(),
                b"linux /vmlinuz".to_vec(),
            ),
        ];
        let fs = tree(&pack(b"main text", &files), "/boot/grub/grub.cfg");
        let read = |p: &str| fs.read(Path::new(p)).ok();
        assert_eq!(read("/boot/grub/grub.cfg"), Some(b"main text".to_vec()));
        assert_eq!(read("/boot/vmlinuz"), Some(b"kernel".to_vec()));
        assert_eq!(
            read("/loader/entries/a.conf"),
            Some(b"linux /vmlinuz".to_vec())
        );
    }

    #[test]
    fn names_are_unique_and_usable_as_file_names() {
        for (i, t) in TARGETS.iter().enumerate() {
            assert!(t.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            assert!(TARGETS[..i].iter().all(|o| o.name != t.name), "{}", t.name);
        }
        assert!(find("grub").is_some() && find("nope").is_none());
    }
}
