//! Broken, hostile and huge inputs: every parser returns (with warnings) quickly, never panics.

use std::path::Path;
use std::time::{Duration, Instant};

use rootfs_rs::boot::config::bls::parse_bls;
use rootfs_rs::boot::config::grub::parse_grub;
use rootfs_rs::boot::config::kboot_conf::parse_kboot_conf;
use rootfs_rs::boot::config::lilo::parse_lilo;
use rootfs_rs::boot::config::syslinux::parse_syslinux;
use rootfs_rs::boot::entry::{Parsed, MAX_ENTRIES};
use rootfs_rs::boot::fs::{DirFs, MemFs};
use rootfs_rs::boot::scan::discover::discover;

/// Generous for a debug build on a loaded 2-core machine; a hang would exceed it by far.
const TIME_LIMIT: Duration = Duration::from_secs(30);

fn debian_cfg() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/trees/debian12/root/boot/grub/grub.cfg");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let result = f();
    assert!(
        start.elapsed() < TIME_LIMIT,
        "{what} took {:?}",
        start.elapsed()
    );
    result
}

fn grub_text(text: impl Into<Vec<u8>>) -> Parsed {
    parse_grub(
        &MemFs::new().with("/boot/grub/grub.cfg", text),
        Path::new("/boot/grub/grub.cfg"),
    )
}

/// Deterministic pseudo-random bytes (xorshift64).
fn garbage(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

#[test]
fn truncated_debian_config_keeps_complete_entries() {
    let cfg = debian_cfg();
    // Cut in the middle of the recovery entry of 6.1.0-18 (the third menuentry).
    let cut = cfg
        .find("(recovery mode)' --class")
        .map(|i| i + 400)
        .unwrap_or(cfg.len() / 2);
    let parsed = grub_text(&cfg[..cut]);
    let labels: Vec<&str> = parsed.entries.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "Debian GNU/Linux",
            "Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-18-amd64"
        ]
    );
    assert!(
        parsed
            .warnings
            .iter()
            .any(|w| w.message.contains("file ends inside the entry")),
        "{:?}",
        parsed.warnings
    );
    // Every other cut point: no panic, and never more entries than the whole file has.
    for cut in (0..cfg.len()).step_by(61) {
        let parsed = grub_text(&cfg.as_bytes()[..cut]);
        assert!(parsed.entries.len() <= 5);
    }
}

#[test]
fn unbalanced_braces() {
    let parsed =
        grub("menuentry A { linux /a }\n}\n}\nmenuentry B { linux /b\nmenuentry C { linux /c }\n");
    assert_eq!(parsed.entries.len(), 1, "{:?}", parsed.entries);
    assert_eq!(parsed.entries[0].label, "A");
    assert!(
        parsed
            .warnings
            .iter()
            .filter(|w| w.message.contains("unexpected '}'"))
            .count()
            == 2,
        "{:?}",
        parsed.warnings
    );
    assert!(
        parsed
            .warnings
            .iter()
            .any(|w| w.message.contains("without closing")),
        "{:?}",
        parsed.warnings
    );
}

fn grub(text: &str) -> Parsed {
    grub_text(text)
}

#[test]
fn unbalanced_quotes() {
    let parsed = grub("menuentry 'Good' { linux /good }\nmenuentry 'Bad { linux /bad }\nmenuentry 'Lost' { linux /lost }\n");
    assert_eq!(parsed.entries.len(), 1);
    assert_eq!(parsed.entries[0].label, "Good");
    assert!(
        parsed
            .warnings
            .iter()
            .any(|w| w.message.contains("unterminated single quote") && w.line == 2),
        "{:?}",
        parsed.warnings
    );
    let parsed = grub("set x=\"open\nmenuentry X { linux /x }\n");
    assert!(parsed.entries.is_empty());
    assert!(parsed
        .warnings
        .iter()
        .any(|w| w.message.contains("unterminated double quote")));
    let parsed = grub("linux ${unterminated\nmenuentry Y { linux /y }\n");
    assert_eq!(parsed.entries.len(), 1, "a broken ${{ ends at the line end");
}

#[test]
fn source_loop_is_cut() {
    let fs = MemFs::new()
        .with("/boot/grub/grub.cfg", "source /boot/grub/a.cfg\n")
        .with(
            "/boot/grub/a.cfg",
            "menuentry A { linux /a }\nsource /boot/grub/b.cfg\n",
        )
        .with(
            "/boot/grub/b.cfg",
            "menuentry B { linux /b }\nsource /boot/grub/a.cfg\nsource /boot/grub/grub.cfg\n",
        );
    let parsed = timed("source loop", || {
        parse_grub(&fs, Path::new("/boot/grub/grub.cfg"))
    });
    let labels: Vec<&str> = parsed.entries.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(labels, ["A", "B"]);
    let loops = parsed
        .warnings
        .iter()
        .filter(|w| w.message.contains("source loop"))
        .count();
    assert_eq!(loops, 2, "{:?}", parsed.warnings);
}

/// A submenu that reads the whole grub.cfg again (configfile, as a "back to the main
/// menu" item would) is a loop: its file is read once, and the loop is named.
#[test]
fn configfile_of_an_enclosing_file_from_a_submenu_is_a_loop() {
    let cfg = "menuentry A { linux /a }\nsubmenu Again {\n configfile /boot/grub/grub.cfg\n}\n\
               submenu Other {\n configfile /boot/grub/other.cfg\n}\n";
    let fs = MemFs::new()
        .with("/boot/grub/grub.cfg", cfg)
        .with("/boot/grub/other.cfg", "menuentry B { linux /b }\n");
    let parsed = timed("configfile loop", || {
        parse_grub(&fs, Path::new("/boot/grub/grub.cfg"))
    });
    let labels: Vec<&str> = parsed.entries.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(labels, ["A", "Other>B"]);
    let loops: Vec<_> = parsed
        .warnings
        .iter()
        .filter(|w| w.message.contains("grub.cfg: source loop"))
        .collect();
    assert_eq!(loops.len(), 1, "{:?}", parsed.warnings);
}

/// 64 nested submenus: one warning about the limit, not one per unclosed level.
#[test]
fn nesting_past_the_limit_is_one_warning() {
    let deep = format!(
        "menuentry Top {{ linux /top }}\n{}menuentry Deepest {{ linux /x }}\n{}",
        "submenu S {\n".repeat(64),
        "}\n".repeat(64)
    );
    let parsed = timed("64 submenus", || grub(&deep));
    assert_eq!(parsed.entries.len(), 1, "{:?}", parsed.entries);
    assert!(
        parsed.warnings.len() <= 3,
        "{} warnings: {:?}",
        parsed.warnings.len(),
        parsed.warnings
    );
    assert!(parsed
        .warnings
        .iter()
        .any(|w| w.message.contains("nested deeper than 64")));
}

#[test]
fn exponential_includes_and_recursion_are_bounded() {
    let mut fs = MemFs::new().with(
        "/boot/grub/grub.cfg",
        "source /f0\nfunction f { f; f; f }\nf\nmenuentry End { linux /end }\n",
    );
    for i in 0..30 {
        fs.add(
            &format!("/f{i}"),
            format!(
                "source /f{}\nsource /f{}\nmenuentry E{i} {{ linux /e }}\n",
                i + 1,
                i + 1
            ),
        );
    }
    let parsed = timed("exponential includes", || {
        parse_grub(&fs, Path::new("/boot/grub/grub.cfg"))
    });
    assert!(parsed
        .warnings
        .iter()
        .any(|w| w.message.contains("too many nested or repeated includes")));
    assert!(parsed
        .warnings
        .iter()
        .any(|w| w.message.contains("function calls nested too deep")));
    assert_eq!(parsed.entries.last().map(|e| e.label.as_str()), Some("End"));
}

#[test]
fn deep_nesting_is_refused() {
    let deep_if = format!(
        "{}menuentry X {{ linux /x }}\n",
        "if true; then\n".repeat(5000)
    );
    let parsed = timed("deep if", || grub(&deep_if));
    assert!(parsed
        .warnings
        .iter()
        .any(|w| w.message.contains("nested deeper")));
    let deep_submenu = format!("{}{}", "submenu S {\n".repeat(5000), "}\n".repeat(5000));
    let parsed = timed("deep submenu", || grub(&deep_submenu));
    assert!(parsed.entries.is_empty());
    assert!(!parsed.warnings.is_empty());
    let deep_syslinux = "MENU BEGIN\n".repeat(100_000);
    let fs = MemFs::new().with("/syslinux.cfg", deep_syslinux);
    let parsed = timed("deep syslinux menus", || {
        parse_syslinux(&fs, Path::new("/syslinux.cfg"))
    });
    assert!(parsed
        .warnings
        .iter()
        .any(|w| w.message.contains("MENU BEGIN without MENU END")));
}

#[test]
fn binary_garbage_in_every_parser() {
    for seed in 1..=4u64 {
        let bytes = garbage(256 * 1024, seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let fs = MemFs::new()
            .with("/boot/grub/grub.cfg", bytes.clone())
            .with("/syslinux/syslinux.cfg", bytes.clone())
            .with("/etc/lilo.conf", bytes.clone())
            .with("/boot/kboot.conf", bytes.clone())
            .with("/loader/entries/x.conf", bytes.clone())
            .with("/grub2/grubenv", bytes.clone());
        timed("garbage grub", || {
            parse_grub(&fs, Path::new("/boot/grub/grub.cfg"))
        });
        timed("garbage syslinux", || {
            parse_syslinux(&fs, Path::new("/syslinux/syslinux.cfg"))
        });
        timed("garbage lilo", || {
            parse_lilo(&fs, Path::new("/etc/lilo.conf"))
        });
        timed("garbage kboot", || {
            parse_kboot_conf(&fs, Path::new("/boot/kboot.conf"))
        });
        timed("garbage bls", || parse_bls(&fs));
        let parsed = timed("garbage discover", || discover(&fs));
        assert!(parsed.entries.iter().filter(|e| e.is_default).count() <= 1);
    }
}

#[test]
fn ten_megabyte_configs() {
    let entry = "menuentry 'Debian GNU/Linux, with Linux 6.1.0-18-amd64' --class debian --class gnu-linux --id 'x' {\n\tload_video\n\tinsmod gzio\n\tsearch --no-floppy --fs-uuid --set=root 8b1f4e2c-5a3d-4c1e-9f7a-2d6b0e3c4a51\n\tlinux\t/boot/vmlinuz root=UUID=8b1f4e2c ro quiet\n\tinitrd\t/boot/initrd.img\n}\n";
    let big = entry.repeat(10 * 1024 * 1024 / entry.len() + 1);
    assert!(big.len() >= 10 * 1024 * 1024);
    let parsed = timed("10 MB grub.cfg", || grub(&big));
    assert_eq!(parsed.entries.len(), MAX_ENTRIES, "menu entries are capped");
    let limit = format!("more than {MAX_ENTRIES} menu entries; rest of the configuration ignored");
    assert!(parsed.warnings.iter().any(|w| w.message == limit));

    let one_line = format!("linux /k {}\n", "x".repeat(10 * 1024 * 1024));
    timed("10 MB single line", || grub(&one_line));

    let label = "LABEL l\n  MENU LABEL Linux\n  KERNEL /vmlinuz\n  APPEND initrd=/initrd.img root=/dev/sda1 ro quiet\n";
    let fs = MemFs::new().with(
        "/syslinux.cfg",
        label.repeat(10 * 1024 * 1024 / label.len() + 1),
    );
    let parsed = timed("10 MB syslinux.cfg", || {
        parse_syslinux(&fs, Path::new("/syslinux.cfg"))
    });
    assert_eq!(parsed.entries.len(), MAX_ENTRIES, "labels are capped");
    assert_eq!(parsed.warnings.len(), 1, "{:?}", parsed.warnings);

    let image = "image=/boot/vmlinuz\n  label=Linux\n  root=/dev/sda2\n  read-only\n";
    let fs = MemFs::new().with(
        "/etc/lilo.conf",
        image.repeat(10 * 1024 * 1024 / image.len() + 1),
    );
    let parsed = timed("10 MB lilo.conf", || {
        parse_lilo(&fs, Path::new("/etc/lilo.conf"))
    });
    assert_eq!(parsed.entries.len(), MAX_ENTRIES, "images are capped");
    assert_eq!(parsed.entries[MAX_ENTRIES - 1].cmdline, "root=/dev/sda2 ro");

    let table = "[entry.x]\nkernel = \"/vmlinuz\"\ncmdline = \"ro\"\n";
    let fs = MemFs::new().with(
        "/kboot.conf",
        table.repeat(10 * 1024 * 1024 / table.len() + 1),
    );
    let parsed = timed("10 MB kboot.conf", || {
        parse_kboot_conf(&fs, Path::new("/kboot.conf"))
    });
    assert_eq!(parsed.entries.len(), MAX_ENTRIES, "entries are capped");
    assert_eq!(
        parsed.warnings.len(),
        1,
        "one warning, not one per ignored entry"
    );
}

#[test]
fn oversized_file_and_symlink_loop_on_disk() {
    let root = std::env::temp_dir().join(format!("kboot-bootcfg-robust-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("boot/grub")).unwrap();
    std::fs::create_dir_all(root.join("syslinux")).unwrap();
    std::fs::write(
        root.join("boot/grub/grub.cfg"),
        vec![b'#'; 33 * 1024 * 1024],
    )
    .unwrap();
    std::os::unix::fs::symlink("syslinux.cfg", root.join("syslinux/syslinux.cfg")).unwrap();
    let parsed = timed("oversized", || discover(&DirFs::new(&root)));
    assert!(parsed.entries.is_empty());
    assert!(
        parsed
            .warnings
            .iter()
            .any(|w| w.message.contains("larger than")),
        "{:?}",
        parsed.warnings
    );
    // Named once: `/boot/grub/grub.cfg: larger than …`, not the path twice.
    let shown: Vec<String> = parsed.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        shown
            .iter()
            .any(|w| w.contains("larger than") && w.matches("grub.cfg").count() == 1),
        "{shown:?}"
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// An entry whose kernel is a symlink loop is dropped, and the warning says why.
#[test]
fn kernel_behind_a_symlink_loop_is_named() {
    let root = std::env::temp_dir().join(format!("kboot-bootcfg-kloop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("boot/grub")).unwrap();
    std::fs::write(
        root.join("boot/grub/grub.cfg"),
        "menuentry Loop { linux /boot/vmlinuz-loop }\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("vmlinuz-loop2", root.join("boot/vmlinuz-loop")).unwrap();
    std::os::unix::fs::symlink("vmlinuz-loop", root.join("boot/vmlinuz-loop2")).unwrap();
    let parsed = timed("kernel symlink loop", || discover(&DirFs::new(&root)));
    let _ = std::fs::remove_dir_all(&root);
    assert!(parsed.entries.is_empty());
    assert!(
        parsed.warnings.iter().any(|w| {
            w.message
            == "'Loop': kernel /boot/vmlinuz-loop: too many levels of symbolic links; entry dropped"
        }),
        "{:?}",
        parsed.warnings
    );
}

#[test]
fn broken_bls_lilo_kboot_lines_warn() {
    let fs = MemFs::new()
        .with("/loader/entries/ok.conf", "title OK\nlinux /vmlinuz\n")
        .with(
            "/loader/entries/nolinux.conf",
            "title Nothing\noptions quiet\n",
        )
        .with(
            "/loader/entries/weird.conf",
            "title W\nlinux /vmlinuz\n@@@ what\noptions ro\n",
        );
    let parsed = parse_bls(&fs);
    assert_eq!(parsed.entries.len(), 2);
    assert!(parsed
        .warnings
        .iter()
        .any(|w| w.message.contains("no 'linux'")));
    assert!(parsed
        .warnings
        .iter()
        .any(|w| w.line == 3 && w.message.contains("unrecognised")));

    let fs = MemFs::new().with("/boot/kboot.conf", "default = \"a\"\n[entry.a]\nkernel = \"/k\nlabel = 5\n[entry.b]\ncmdline = \"x\"\n[other]\nx = 1\n");
    let parsed = parse_kboot_conf(&fs, Path::new("/boot/kboot.conf"));
    assert!(parsed.entries.is_empty(), "{:?}", parsed.entries);
    assert!(parsed.warnings.len() >= 4, "{:?}", parsed.warnings);
}
