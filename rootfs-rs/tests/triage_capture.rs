//! The capture's save step on the genuine /proc/vmcore fixture, with a scratch directory
//! standing in for the mounted target: kdump-tools' layout, the files, `action=none`.

#[path = "triage_common/mod.rs"]
mod common;

use common::{guest_view, kdump_fixture};
use rootfs_rs::capture::save_all;
use rootfs_rs::capture::settings::DumpSettings;
use rootfs_rs::dump::report::{build, Options, Report};
use rootfs_rs::dump::Dump;
use std::path::PathBuf;

fn target(name: &str) -> PathBuf {
    let dir = common::root()
        .join("../target/test-scratch/triage_capture")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn files(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The genuine vmcore and its full report, as the capture builds it.
fn full_report(dir: &std::path::Path) -> (PathBuf, Report) {
    let vmcore = dir.join("vmcore.proc.elf");
    let options = Options {
        full_log: true,
        ..Options::default()
    };
    let report = build(&vmcore, &options);
    (vmcore, report)
}

#[test]
fn capture_directory_holds_report_log_json_and_a_dump_that_reopens() {
    let Some(dir) = kdump_fixture() else { return };
    let (vmcore, report) = full_report(&dir);
    let mount = target("full");
    let (settings, warnings) = DumpSettings::load("", "-", "kboot.dump.path=/var/crash");
    assert!(warnings.is_empty());
    let saved = save_all(&report, &vmcore, &settings, &mount).unwrap();
    assert_eq!(saved.parent(), Some(mount.join("var/crash").as_path()));
    let name = saved.file_name().unwrap().to_string_lossy().into_owned();
    // <YYYYmmdd-HHMMSS>-<nodename>: the crash time from VMCOREINFO, the crashed node name.
    let crash_time = report.system.as_ref().and_then(|s| s.crash_time).unwrap();
    let c = rootfs_rs::util::fmt::civil(crash_time as i64);
    assert!(
        name.starts_with(&format!("{:04}{:02}{:02}-", c.year, c.month, c.day)),
        "{name}"
    );
    let dump_name = format!("dump.{}", &name[..15]);
    assert_eq!(
        files(&saved),
        ["dmesg.txt", dump_name.as_str(), "triage.json", "triage.txt"]
    );
    let dmesg = std::fs::read_to_string(saved.join("dmesg.txt")).unwrap();
    assert!(dmesg.contains("KBOOT-MARKER triage fixture"));
    assert!(dmesg.contains("sysrq triggered crash"));
    let dump = Dump::open(&saved.join(&dump_name)).unwrap();
    common::assert_matches_guest(&dump, &guest_view(&dir), "capture dump");
    // A second capture of the same crash does not overwrite the first.
    let again = save_all(&report, &vmcore, &settings, &mount).unwrap();
    assert_ne!(again, saved);
    let _ = std::fs::remove_dir_all(&mount);
}

#[test]
fn action_none_saves_report_and_log_but_no_dump() {
    let Some(dir) = kdump_fixture() else { return };
    let (vmcore, report) = full_report(&dir);
    let mount = target("none");
    let (settings, _) = DumpSettings::load("[dump]\naction = \"none\"\n", "kboot.toml", "");
    let saved = save_all(&report, &vmcore, &settings, &mount).unwrap();
    assert_eq!(files(&saved), ["dmesg.txt", "triage.json", "triage.txt"]);
    let _ = std::fs::remove_dir_all(&mount);
}
