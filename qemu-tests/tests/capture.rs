//! kboot as the kdump capture kernel, end to end. Debian's kernel (the "production" kernel)
//! boots with crashkernel=, starts two named processes, loads kboot's bzImage + initramfs
//! with `kboot kexec -p`, and crashes through sysrq. kboot must print the report, save to an
//! ext4 disk labelled KBOOT-DUMP and reboot. The disk is then read from the host without
//! mounting (debugfs) and the saved dump checked with kboot triage, makedumpfile and crash.

use std::process::Command;
use std::time::Duration;

use qemu_tests::kdump::{
    crash_and_capture, files_in, read_crash_dir, work_dir, Production, WORKERS,
};
use qemu_tests::machine::{debian_kernel, kboot_binary};
use qemu_tests::{Artifacts, BootPath, MachineConfig, Qemu};

const BOOT: Duration = qemu_tests::kdump::BOOT;

/// One dump disk and `extra` on the production kernel's command line.
fn production<'a>(disk: &std::path::Path, extra: &'a str) -> Production<'a> {
    Production {
        crashkernel: None,
        extra,
        capture_extra: "",
        disks: vec![disk.to_path_buf()],
        extra_args: Vec::new(),
        capture_overlay: None,
        before_crash: "",
        netns: None,
    }
}

/// The text of one `== NAME ==` section of a report.
fn section<'a>(report: &'a str, name: &str) -> &'a str {
    let head = format!("== {name} ==\n");
    let start = report
        .find(&head)
        .map(|i| i + head.len())
        .unwrap_or_else(|| panic!("no {name} in:\n{report}"));
    let rest = &report[start..];
    rest[..rest.find("\n== ").unwrap_or(rest.len())].trim_end()
}

fn is_capture_dir_name(name: &str) -> bool {
    let b = name.as_bytes();
    name.len() > 16
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'-'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'-'
}

#[test]
fn crash_is_captured_reported_saved_and_rebooted() {
    let dir = work_dir("full");
    let disk = dir.join("dump-disk.img");
    qemu_tests::disks::ext4_image(&disk, "KBOOT-DUMP", 256).unwrap_or_else(|e| panic!("{e}"));
    let console = crash_and_capture("capture_full", &dir, production(&disk, ""));
    let panic_line = "PANIC: \"Kernel panic - not syncing: sysrq triggered crash\"";
    assert!(console.contains(panic_line), "console lacks the panic line");
    for w in WORKERS {
        assert!(console.contains(w), "console task list lacks {w}");
    }
    assert!(
        console.contains("kboot: dump: saved to"),
        "no 'saved to' line"
    );
    // The console shows the panicking task's stack, unwound from the crashed CPU's notes.
    let console_lf = console.replace('\r', "");
    let stack = section(&console_lf, "BACKTRACES");
    let at = |f: &str| stack.find(&format!("] {f}+"));
    assert!(
        at("sysrq_handle_crash").is_some() && at("sysrq_handle_crash") < at("write_sysrq_trigger"),
        "console stack lacks sysrq_handle_crash before write_sysrq_trigger:\n{stack}"
    );

    let out = dir.join("extracted");
    std::fs::create_dir_all(&out).unwrap();
    let dirs = read_crash_dir(&disk, &out);
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let capture = &dirs[0];
    let name = capture.file_name().unwrap().to_string_lossy().into_owned();
    assert!(is_capture_dir_name(&name), "{name}");
    let dump_name = format!("dump.{}", &name[..15]);
    assert_eq!(
        files_in(capture),
        ["dmesg.txt", dump_name.as_str(), "triage.json", "triage.txt"]
    );

    let read = |f: &str| std::fs::read_to_string(capture.join(f)).unwrap();
    let (report, json, dmesg) = (read("triage.txt"), read("triage.json"), read("dmesg.txt"));
    assert!(report.contains(panic_line));
    assert!(dmesg.contains("Kernel panic - not syncing: sysrq triggered crash"));
    // The JSON says what the text report says.
    assert!(
        json.contains("\"message\":\"Kernel panic - not syncing: sysrq triggered crash\""),
        "{json}"
    );
    for w in WORKERS {
        assert!(
            json.contains(&format!("\"comm\":\"{w}\"")),
            "triage.json lacks {w}"
        );
        assert!(section(&report, "PS").contains(w));
    }

    // The saved dump re-opens on the host with the same panic and the same task list.
    let dump = capture.join(&dump_name);
    let host = Command::new(kboot_binary())
        .args([
            "triage",
            "--section",
            "panic",
            "--section",
            "ps",
            "--section",
            "bt",
        ])
        .arg(&dump)
        .output()
        .unwrap();
    let host_report = String::from_utf8_lossy(&host.stdout);
    assert!(host.status.success(), "{host_report}");
    assert_eq!(section(&host_report, "PANIC"), section(&report, "PANIC"));
    assert_eq!(section(&host_report, "PS"), section(&report, "PS"));
    // The filtered dump kept the stack pages: the same stacks as from /proc/vmcore.
    assert_eq!(
        section(&host_report, "BACKTRACES"),
        section(&report, "BACKTRACES")
    );
    assert!(!host_report.contains("incomplete"), "{host_report}");

    // Debian's makedumpfile and crash read it too.
    let log = dir.join("makedumpfile.dmesg");
    let m = qemu_tests::host_tools::command("makedumpfile")
        .arg("--dump-dmesg")
        .arg(&dump)
        .arg(&log)
        .output()
        .unwrap();
    assert!(
        m.status.success(),
        "makedumpfile: {}",
        String::from_utf8_lossy(&m.stdout)
    );
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("sysrq triggered crash"));
    let c = qemu_tests::host_tools::command("crash")
        .arg("--osrelease")
        .arg(&dump)
        .output()
        .unwrap();
    let release = debian_kernel()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .replace("vmlinuz-", "");
    assert_eq!(String::from_utf8_lossy(&c.stdout).trim(), release);
}

#[test]
fn a_full_target_keeps_report_and_log_and_still_reboots() {
    let dir = work_dir("small");
    let disk = dir.join("small-disk.img");
    qemu_tests::disks::ext4_image(&disk, "KBOOT-DUMP", 4).unwrap_or_else(|e| panic!("{e}"));
    let console = crash_and_capture("capture_small", &dir, production(&disk, ""));
    assert!(
        console.contains("No space left on device"),
        "no out-of-space error on the console"
    );
    assert!(console.contains("partial dump removed"));
    let out = dir.join("extracted");
    std::fs::create_dir_all(&out).unwrap();
    let dirs = read_crash_dir(&disk, &out);
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    // The small files are there; no dump and no temp file is left behind.
    assert_eq!(
        files_in(&dirs[0]),
        ["dmesg.txt", "triage.json", "triage.txt"]
    );
    let report = std::fs::read_to_string(dirs[0].join("triage.txt")).unwrap();
    assert!(report.contains("sysrq triggered crash"));
}

/// `kboot.mode=dump` on a machine that did not crash: no capture, no reboot loop, a shell.
#[test]
fn dump_mode_without_a_vmcore_gives_a_shell() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = "console=ttyS0,115200 kboot.mode=dump".into();
    let mut qemu = Qemu::start("capture_no_vmcore", &config).unwrap();
    qemu.expect("not a capture kernel", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_secs(1));
    let (out, status) = qemu
        .shell("echo alive-$((40+2))", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("no shell after dump mode without a vmcore: {e}"));
    assert_eq!((out.trim(), status), ("alive-42", 0));
    qemu.send("poweroff\n").unwrap();
    assert!(qemu.wait_exit(Duration::from_secs(60)).is_some());
}

/// Without a KBOOT-DUMP filesystem the target is the crashed system's root=, read from the
/// dead kernel's saved command line (here `root=LABEL=PRODROOT`; the production system runs
/// from its initramfs, so the kernel itself never mounts it).
#[test]
fn without_a_dump_label_the_crashed_root_filesystem_is_the_target() {
    let dir = work_dir("root");
    let disk = dir.join("root-disk.img");
    qemu_tests::disks::ext4_image(&disk, "PRODROOT", 128).unwrap_or_else(|e| panic!("{e}"));
    let console = crash_and_capture(
        "capture_root",
        &dir,
        production(&disk, "root=LABEL=PRODROOT"),
    );
    assert!(
        console.contains("target LABEL=PRODROOT is /dev/vda"),
        "the crashed root= was not used as the target"
    );
    let out = dir.join("extracted");
    std::fs::create_dir_all(&out).unwrap();
    let dirs = read_crash_dir(&disk, &out);
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    assert!(files_in(&dirs[0]).iter().any(|f| f.starts_with("dump.")));
}
