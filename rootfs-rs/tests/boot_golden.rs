//! Golden tests: discover_in on real distro trees against hand-written expected.txt files.
//!
//! expected.txt lines: `timeout: N|none`, `warn: <substring>` (every warning must be listed,
//! in order), and entries `label | kernel | initrds | cmdline | default`, where kernel is
//! `chainload:<target>` for entries kexec cannot start, initrds are comma separated and
//! default is `*` on the one default entry.

use std::path::{Path, PathBuf};

use rootfs_rs::boot::entry::{BootEntry, EntryKind};
use rootfs_rs::boot::fs::DirFs;
use rootfs_rs::boot::scan::discover::discover;

fn tree(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/trees")
        .join(name)
}

fn render(entry: &BootEntry) -> String {
    let kernel = match &entry.kind {
        EntryKind::Linux => entry.kernel.display().to_string(),
        EntryKind::Chainload { target } => format!("chainload:{target}"),
        EntryKind::Uki { profile, .. } => format!("uki:{}@{profile:?}", entry.kernel.display()),
    };
    let initrds: Vec<String> = entry
        .initrds
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let default = if entry.is_default { "*" } else { "" };
    normalize_row(&format!(
        "{} | {} | {} | {} | {}",
        entry.label,
        kernel,
        initrds.join(","),
        entry.cmdline,
        default
    ))
}

/// Fields trimmed, so empty fields may be written `| |` or `|  |` in expected.txt.
fn normalize_row(row: &str) -> String {
    row.split('|')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" | ")
        .trim_end()
        .to_string()
}

fn check_tree(name: &str) {
    let expected_path = tree(name).join("expected.txt");
    let expected = std::fs::read_to_string(&expected_path)
        .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
    let mut want_entries = Vec::new();
    let mut want_warnings = Vec::new();
    let mut want_timeout = None;
    for line in expected
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        if let Some(t) = line.strip_prefix("timeout: ") {
            want_timeout = Some(t.trim().parse::<u32>().ok());
        } else if let Some(w) = line.strip_prefix("warn: ") {
            want_warnings.push(w.to_string());
        } else {
            want_entries.push(normalize_row(line));
        }
    }
    let parsed = discover(&DirFs::new(tree(name).join("root")));
    let got: Vec<String> = parsed.entries.iter().map(render).collect();
    assert_eq!(
        got, want_entries,
        "{name}: entries differ\nwarnings: {:#?}",
        parsed.warnings
    );
    let warnings: Vec<String> = parsed.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings.len(),
        want_warnings.len(),
        "{name}: warnings {warnings:#?} expected {want_warnings:#?}"
    );
    for (got, want) in warnings.iter().zip(&want_warnings) {
        assert!(
            got.contains(want.as_str()),
            "{name}: warning {got:?} does not contain {want:?}"
        );
    }
    if let Some(timeout) = want_timeout {
        assert_eq!(parsed.timeout_secs, timeout, "{name}: timeout");
    }
    assert_eq!(
        parsed.entries.iter().filter(|e| e.is_default).count(),
        usize::from(!parsed.entries.is_empty()),
        "{name}: one default"
    );
}

#[test]
fn debian12_grub_mkconfig() {
    check_tree("debian12");
}

#[test]
fn debian12_saved_default_in_submenu() {
    check_tree("debian12-saved");
}

#[test]
fn ubuntu2204_vt_handoff_stale_kernel_and_windows() {
    check_tree("ubuntu2204");
}

#[test]
fn ubuntu2204_esp_stub_points_elsewhere() {
    check_tree("ubuntu2204-esp");
}

#[test]
fn fedora39_blscfg_saved_entry_and_auto_hide() {
    check_tree("fedora39");
}

#[test]
fn rhel8_kernelopts_from_grubenv() {
    check_tree("rhel8");
}

#[test]
fn arch_systemd_boot_loader_conf_default() {
    check_tree("arch-systemd-boot");
}

#[test]
fn alpine_extlinux_relative_paths() {
    check_tree("alpine-extlinux");
}

#[test]
fn uboot_extlinux_labels_with_spaces() {
    check_tree("uboot-extlinux");
}

#[test]
fn debian_live_iso_isolinux_includes_and_submenu() {
    check_tree("debian-live-iso");
}

#[test]
fn slackware_lilo_symlinks_and_other() {
    check_tree("slackware-lilo");
}

#[test]
fn kboot_conf_toml() {
    check_tree("kboot");
}
