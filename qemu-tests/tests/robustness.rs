//! Failing hardware (issue #20): disks that return I/O errors, injected by QEMU's
//! blkdebug driver at chosen sectors, under the menu's scan and the GRUB hand-back. A
//! boot loader must never be stopped by one bad disk, and must never damage what it
//! could not write.

use std::path::{Path, PathBuf};
use std::time::Duration;

use qemu_tests::faults::{self, Fault, Op};
use qemu_tests::machine::workspace_root;
use qemu_tests::{Artifacts, BootPath, MachineConfig, Qemu};

const BOOT: Duration = Duration::from_secs(120);
const STEP: Duration = Duration::from_secs(60);
/// The scan's time limit per device (`ScanOptions::default`).
const PER_DEVICE_LIMIT: Duration = Duration::from_secs(10);
/// How kboot (musl's strerror) says EIO.
const EIO: &str = "I/O error (os error 5)";
/// Where `disks::gpt_ext4_disk` puts its one partition.
const PARTITION_OFFSET: u64 = 1 << 20;

fn work_dir(name: &str) -> PathBuf {
    let dir = workspace_root()
        .join("target/qemu-tests/robustness")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

fn disk(path: &Path, label: &str, files: &[(&str, Vec<u8>)]) {
    qemu_tests::disks::gpt_ext4_disk(path, label, files).unwrap_or_else(|e| panic!("{e}"));
}

/// A grub.cfg with one entry titled `title` whose kernel is /boot/vmlinuz.
fn one_entry_cfg(title: &str) -> Vec<u8> {
    // Long enough that the file has data blocks of its own (no inline data).
    let padding = "# padding so the config has a data block of its own\n".repeat(40);
    format!("set timeout=5\n{padding}menuentry '{title}' {{\n\tlinux /boot/vmlinuz root=/dev/vda1\n}}\n")
        .into_bytes()
}

/// The console line holding every one of `needles`, if any.
fn line_with<'a>(console: &'a str, needles: &[&str]) -> Option<&'a str> {
    console
        .lines()
        .find(|line| needles.iter().all(|n| line.contains(n)))
}

/// The console since `from` (an offset into `Qemu::output`).
fn since(qemu: &Qemu, from: usize) -> String {
    let all = qemu.output();
    all.get(from..).unwrap_or_default().to_string()
}

/// Issue #20: one disk's grub.cfg cannot be read, another's superblock cannot: the good
/// disk's entry is listed within the per-device limit, each failing disk is named with
/// its error, and the menu still works: `r` scans again (same result), `c` gives a shell.
#[test]
fn disks_failing_reads_are_named_and_the_menu_stays_usable() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let dir = work_dir("read-errors");
    let good = dir.join("good.img");
    disk(
        &good,
        "GOOD",
        &[
            (
                "boot/grub/grub.cfg",
                one_entry_cfg("Entry on the good disk"),
            ),
            ("boot/vmlinuz", b"never booted".to_vec()),
        ],
    );
    let bad_cfg = dir.join("badcfg.img");
    disk(
        &bad_cfg,
        "BADCFG",
        &[
            (
                "boot/grub/grub.cfg",
                one_entry_cfg("Entry behind a bad block"),
            ),
            ("boot/vmlinuz", b"never booted".to_vec()),
        ],
    );
    let cfg_sector = faults::ext4_file_sector(&bad_cfg, PARTITION_OFFSET, "/boot/grub/grub.cfg")
        .unwrap_or_else(|e| panic!("{e}"));
    let bad_super = dir.join("badsuper.img");
    disk(
        &bad_super,
        "BADSUPER",
        &[("boot/grub/grub.cfg", one_entry_cfg("Entry on a dead disk"))],
    );
    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = "console=ttyS0,115200 kboot.timeout=60".into();
    config.extra_disks = vec![good];
    let read_fault = |sector| Fault {
        op: Op::Read,
        sector,
    };
    for (image, sector) in [
        (&bad_cfg, cfg_sector),
        // The ext4 superblock: 1024 bytes into the partition.
        (&bad_super, PARTITION_OFFSET / 512 + 2),
    ] {
        config.extra_args.extend(
            faults::failing_virtio_disk(image, &[read_fault(sector)])
                .unwrap_or_else(|e| panic!("{e}")),
        );
    }
    let mut qemu = Qemu::start("robust_read_errors", &config).unwrap();
    let ready = qemu
        .expect("kboot: ready", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    let scan_start = qemu.output().len();
    let menu = qemu
        .expect("kboot: menu", PER_DEVICE_LIMIT + STEP)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("Entry on the good disk", STEP)
        .unwrap_or_else(|e| panic!("the good disk's entry is not listed: {e}"));
    let scan = menu - ready;
    eprintln!("scan with two failing disks: {:.1} s", scan.as_secs_f64());
    assert!(
        scan < PER_DEVICE_LIMIT,
        "the scan took {scan:?}, past the per-device limit (log: {})",
        qemu.log_path().display()
    );
    let log = qemu.log_path().to_path_buf();
    let check = |console: &str, round: &str| {
        for device in ["vdb1", "vdc1"] {
            assert!(
                line_with(console, &["menu: warning: ", device, EIO]).is_some(),
                "{round}: {device} is not named with its error (log: {})",
                log.display()
            );
        }
        assert!(!console.contains("Entry behind a bad block"), "{round}");
        assert!(!console.contains("Entry on a dead disk"), "{round}");
    };
    check(&since(&qemu, scan_start), "first scan");
    // What a person at the screen sees once the menu is drawn over those lines (the help
    // line is drawn last): the first failing disk and the count of the others, above the
    // countdown.
    qemu.expect("q: quit", STEP)
        .unwrap_or_else(|e| panic!("the menu was not drawn whole: {e}"));
    let screen = qemu_tests::screen::Terminal::replay(&since(&qemu, scan_start), 80, 24).lines();
    let notice = screen.iter().position(|l| l.starts_with("Warning: "));
    assert!(
        notice.is_some_and(|n| screen[n].contains(EIO)
            && screen[n].contains("(+1 more")
            && screen.get(n + 1).is_some_and(|l| l.starts_with("Booting "))),
        "no warning line above the countdown on the menu's screen:\n{}",
        screen.join("\n")
    );

    std::thread::sleep(Duration::from_secs(1));
    let rescan_start = qemu.output().len();
    qemu.send("r").unwrap();
    qemu.expect("kboot: menu", PER_DEVICE_LIMIT + STEP)
        .unwrap_or_else(|e| panic!("no menu after r: {e}"));
    qemu.expect("Entry on the good disk", STEP)
        .unwrap_or_else(|e| panic!("the rescan lost the good disk: {e}"));
    check(&since(&qemu, rescan_start), "rescan");

    std::thread::sleep(Duration::from_secs(1));
    qemu.send("c").unwrap();
    qemu.expect("kboot# ", STEP)
        .unwrap_or_else(|e| panic!("no shell from the menu: {e}"));
    qemu.send("poweroff\n").unwrap();
    assert!(qemu.wait_exit(STEP).is_some(), "no poweroff");
}

/// Issue #20: the hand-back to GRUB on a disk whose grubenv block cannot be written. The
/// error is on the console, the menu comes back, and the grubenv on the image is the old
/// one byte for byte (read on the host after QEMU ended), on a filesystem e2fsck passes.
#[test]
fn a_grubenv_write_error_keeps_the_old_grubenv_and_the_menu() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let dir = work_dir("grubenv-write-error");
    let title = "Windows Boot Manager (on /dev/sda1)";
    let mut cfg = qemu_tests::disks::debian_grub_cfg("/boot/vmlinuz", "/boot/initrd.img", "quiet");
    cfg.extend_from_slice(
        format!(
            "menuentry '{title}' --class windows $menuentry_id_option 'osprober-efi-1234' {{\n\
             \tinsmod part_gpt\n\tinsmod fat\n\tchainloader /EFI/Microsoft/Boot/bootmgfw.efi\n}}\n"
        )
        .as_bytes(),
    );
    let env = dir.join("grubenv.orig");
    for args in [
        vec!["create"],
        vec!["set", "saved_entry=gnulinux-simple-1234"],
    ] {
        let made = qemu_tests::host_tools::command("grub-editenv")
            .arg(&env)
            .args(args)
            .status();
        assert!(
            made.is_ok_and(|s| s.success()),
            "grub-editenv (apt install grub-common)"
        );
    }
    let old_env = std::fs::read(&env).unwrap();
    let image = dir.join("handback.img");
    disk(
        &image,
        "HANDBACK",
        &[
            ("boot/grub/grub.cfg", cfg),
            ("boot/grub/grubenv", old_env.clone()),
            ("boot/vmlinuz", b"never booted".to_vec()),
            ("boot/initrd.img", b"never loaded".to_vec()),
        ],
    );
    let env_sector = faults::ext4_file_sector(&image, PARTITION_OFFSET, "/boot/grub/grubenv")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = "console=ttyS0,115200 kboot.timeout=60".into();
    config.extra_args = faults::failing_virtio_disk(
        &image,
        &[Fault {
            op: Op::Write,
            sector: env_sector,
        }],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut qemu = Qemu::start("robust_grubenv_write_error", &config).unwrap();
    qemu.expect("kboot: menu", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("Windows Boot Manager", STEP)
        .unwrap_or_else(|e| panic!("chainload entry not listed: {e}"));
    std::thread::sleep(Duration::from_secs(1));
    let row = qemu_tests::screen::menu_row(&qemu.output(), "Windows Boot Manager");
    qemu.send(&format!("{row}\r")).unwrap();
    qemu.expect("handing it back to GRUB", STEP)
        .unwrap_or_else(|e| panic!("no hand-back attempt: {e}"));
    let attempt = qemu.output().len();
    qemu.expect(EIO, STEP)
        .unwrap_or_else(|e| panic!("the write error is not on the console: {e}"));
    qemu.expect("Windows Boot Manager", STEP)
        .unwrap_or_else(|e| panic!("the menu did not come back: {e}"));
    let after = since(&qemu, attempt);
    assert!(
        !after.contains("rebooting into GRUB"),
        "kboot rebooted although the grubenv was not written"
    );
    assert!(
        !after.contains("menu: warning: umount"),
        "the menu complains about the mount the hand-back released (log: {})",
        qemu.log_path().display()
    );
    assert!(
        line_with(&after, &["grubenv", EIO]).is_some(),
        "the error does not name the grubenv (log: {})",
        qemu.log_path().display()
    );
    std::thread::sleep(Duration::from_secs(1));
    qemu.send("c").unwrap();
    qemu.expect("kboot# ", STEP)
        .unwrap_or_else(|e| panic!("no shell from the menu after the error: {e}"));
    qemu.send("poweroff\n").unwrap();
    assert!(qemu.wait_exit(STEP).is_some(), "no poweroff");
    drop(qemu);

    let now = faults::ext4_read_file(&image, PARTITION_OFFSET, "/boot/grub/grubenv")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        now == old_env,
        "the grubenv changed on disk:\n{}",
        String::from_utf8_lossy(&now)
    );
    let part = dir.join("part.img");
    qemu_tests::disks::ext4_partition_checked(&image, &part).unwrap_or_else(|e| panic!("{e}"));
}

/// Write faults every 64 KiB over the free space of the ext4 image `image` (no
/// partition), past its first `spared` bytes of free space: the capture's small files
/// fit before, the dump runs into them.
fn faults_past_free_space(image: &Path, spared: u64) -> Vec<Fault> {
    let block = faults::ext4_block_size(image, 0).unwrap_or_else(|e| panic!("{e}"));
    let ranges = faults::ext4_free_ranges(image, 0).unwrap_or_else(|e| panic!("{e}"));
    let every = (64 << 10) / block;
    let mut skipped = 0;
    let mut out = Vec::new();
    for (first, last) in ranges {
        let mut b = first;
        while b <= last {
            if skipped < spared / block {
                skipped += 1;
                b += 1;
                continue;
            }
            out.push(Fault {
                op: Op::Write,
                sector: b * block / 512,
            });
            b += every;
        }
    }
    out
}

/// Issue #20: the capture's first target fails on write half way through the dump, the
/// second is full; the report is on the console, each failure is said, neither keeps
/// anything that looks like a dump, and the third target gets the whole capture, which
/// the host reads back; then the machine reboots as configured. With crashkernel=64M.
#[test]
fn a_capture_whose_targets_fail_mid_dump_or_are_full_goes_to_the_next() {
    use qemu_tests::kdump::{self, files_in, read_crash_dir, Production};
    let dir = kdump::work_dir("failing-targets");
    // /var/crash made with the filesystem, so the capture's directory lands early.
    let tree = dir.join("failing-tree");
    std::fs::create_dir_all(tree.join("var/crash")).unwrap();
    let failing = dir.join("failing.img");
    qemu_tests::disks::ext4_image_with(&failing, "DUMPFAIL", 256, Some(&tree))
        .unwrap_or_else(|e| panic!("{e}"));
    let write_faults = faults_past_free_space(&failing, 4 << 20);
    assert!(write_faults.len() > 1000, "{} faults", write_faults.len());
    let full = dir.join("full.img");
    qemu_tests::disks::ext4_image(&full, "DUMPFULL", 4).unwrap_or_else(|e| panic!("{e}"));
    let spare = dir.join("spare.img");
    qemu_tests::disks::ext4_image(&spare, "DUMPSPARE", 256).unwrap_or_else(|e| panic!("{e}"));
    let console = kdump::crash_and_capture(
        "robust_capture_targets",
        &dir,
        Production {
            // What docs/kdump.md recommends.
            crashkernel: Some("64M"),
            extra: "",
            capture_extra: "kboot.dump=LABEL=DUMPFAIL,LABEL=DUMPFULL,LABEL=DUMPSPARE",
            disks: vec![full.clone(), spare.clone()],
            extra_args: faults::failing_virtio_disk(&failing, &write_faults)
                .unwrap_or_else(|e| panic!("{e}")),
            capture_overlay: None,
            before_crash: "",
            netns: None,
        },
    )
    .replace('\r', "");
    let log = workspace_root().join("target/qemu-logs/robust_capture_targets.log");
    let said = |needles: &[&str], what: &str| {
        assert!(
            line_with(&console, needles).is_some(),
            "{what} (log: {})",
            log.display()
        );
    };
    said(
        &["kboot: dump: error: ", "/dump.", EIO],
        "no write error on the dump",
    );
    said(
        &[
            "kboot: dump: error: ",
            "No space left on device",
            "partial dump removed",
        ],
        "no out-of-space error",
    );
    said(
        &["trying the next target, LABEL=DUMPSPARE"],
        "no move to the spare",
    );
    said(
        &["kboot: dump: saved to /dev/vdb:/var/crash/"],
        "not saved to the spare",
    );
    let panic_line = "PANIC: \"Kernel panic - not syncing: sysrq triggered crash\"";
    assert!(console.contains(panic_line), "no report on the console");

    let read = |image: &Path, name: &str| {
        let out = dir.join(name);
        std::fs::create_dir_all(&out).unwrap();
        let dirs = read_crash_dir(image, &out);
        assert_eq!(dirs.len(), 1, "{name}: {dirs:?}");
        let files = files_in(&dirs[0]);
        (dirs[0].clone(), files)
    };
    for (image, name) in [(&failing, "failing"), (&full, "full")] {
        let (_, files) = read(image, name);
        assert!(
            files.iter().all(|f| !f.starts_with("dump.")),
            "{name}: a dump is left under its final name: {files:?}"
        );
        assert!(
            files.contains(&"triage.txt".to_string()),
            "{name}: {files:?}"
        );
    }
    let (capture, files) = read(&spare, "spare");
    let dump = files
        .iter()
        .find(|f| f.starts_with("dump."))
        .unwrap_or_else(|| panic!("no dump on the spare: {files:?}"));
    let host = std::process::Command::new(qemu_tests::machine::kboot_binary())
        .args(["triage", "--section", "panic"])
        .arg(capture.join(dump))
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&host.stdout);
    assert!(
        host.status.success() && report.contains(panic_line),
        "{report}"
    );
}
