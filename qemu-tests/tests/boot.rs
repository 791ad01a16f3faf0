//! Boot tests: each boot path of the built media reaches `kboot: ready` on the serial
//! console, and `poweroff` at the prompt makes QEMU exit. Needs `cargo xtask image`
//! first (`cargo xtask test` does that); the serial log of every run is kept in
//! target/qemu-logs/<test>.log.

use std::time::Duration;

use qemu_tests::{Artifacts, BootPath, MachineConfig, Qemu};

/// Generous for TCG on a loaded 2-core machine: UEFI boots take ~15 s there.
const BOOT_DEADLINE: Duration = Duration::from_secs(120);
const PROMPT_DEADLINE: Duration = Duration::from_secs(30);

fn artifacts() -> Artifacts {
    let artifacts = Artifacts::default_location();
    if let Err(message) = artifacts.check() {
        panic!("{message}");
    }
    artifacts
}

fn boot_to_ready(name: &str, path: BootPath) -> Qemu {
    let config = MachineConfig::new(path, artifacts());
    let mut qemu = Qemu::start(name, &config).unwrap_or_else(|e| panic!("{name}: {e}"));
    match qemu.expect("kboot: ready", BOOT_DEADLINE) {
        Ok(elapsed) => eprintln!("{name}: kboot: ready after {:.1}s", elapsed.as_secs_f64()),
        Err(e) => panic!("{name}: {e}"),
    }
    qemu
}

/// The boot menu is the front end; with no disks it lists nothing, and `c` leaves it
/// for the shell.
fn prompt(qemu: &mut Qemu, name: &str) {
    if let Err(e) = qemu.expect("kboot: menu", PROMPT_DEADLINE) {
        panic!("{name}: {e}");
    }
    qemu.send("c").unwrap();
    if let Err(e) = qemu.expect("kboot# ", PROMPT_DEADLINE) {
        panic!("{name}: {e}");
    }
}

#[test]
fn uefi_boot_reaches_ready() {
    let mut qemu = boot_to_ready("uefi_boot", BootPath::Uefi);
    // kboot.efi carries its own command line; the kernel logs the one it got.
    let log = qemu.output();
    let expected = format!("Command line: {}", qemu_tests::machine::DEFAULT_CMDLINE);
    assert!(
        log.contains(&expected),
        "kernel did not get kboot.efi's built-in cmdline (log: {})",
        qemu.log_path().display()
    );
    prompt(&mut qemu, "uefi_boot");
}

#[test]
fn bios_boot_through_grub_reaches_ready() {
    let mut qemu = boot_to_ready("bios_boot", BootPath::Bios);
    let log = qemu.output();
    assert!(
        log.contains("Loading kboot"),
        "GRUB's menu entry did not run (log: {})",
        qemu.log_path().display()
    );
    prompt(&mut qemu, "bios_boot");
}

#[test]
fn direct_kernel_boot_reaches_ready_and_powers_off() {
    let mut qemu = boot_to_ready("direct_boot", BootPath::Direct);
    prompt(&mut qemu, "direct_boot");
    qemu.send("poweroff\n").unwrap();
    match qemu.wait_exit(Duration::from_secs(60)) {
        Some(status) => assert!(status.success(), "QEMU exited with {status} after poweroff"),
        None => panic!(
            "QEMU still running 60 s after poweroff (log: {})",
            qemu.log_path().display()
        ),
    }
}

/// The disk.img that was actually built (not a synthetic one) passes the real checkers.
#[test]
fn built_disk_image_passes_sgdisk_and_fsck() {
    let disk = artifacts().disk_img();
    let run = |program: &str, args: &[&str]| {
        let out = qemu_tests::host_tools::command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let disk_arg = disk.to_str().unwrap();
    let (ok, report) = run("sgdisk", &["-v", disk_arg]);
    assert!(
        ok && report.contains("No problems found"),
        "sgdisk -v {disk_arg}:\n{report}"
    );
    let (_, info) = run("sgdisk", &["-i", "2", disk_arg]);
    let sector = |key: &str| -> u64 {
        let line = info
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no {key:?} in {info}"));
        line.split_whitespace()
            .nth(2)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("bad line {line:?}"))
    };
    assert!(
        info.contains("C12A7328-F81F-11D2-BA4B-00A0C93EC93B"),
        "partition 2 is not the ESP:\n{info}"
    );
    let (first, last) = (sector("First sector:"), sector("Last sector:"));
    let bytes = std::fs::read(&disk).unwrap();
    let esp = std::env::temp_dir().join(format!("kboot-esp-{}.img", std::process::id()));
    std::fs::write(
        &esp,
        &bytes[(first * 512) as usize..((last + 1) * 512) as usize],
    )
    .unwrap();
    let (ok, report) = run("fsck.fat", &["-n", esp.to_str().unwrap()]);
    let _ = std::fs::remove_file(&esp);
    assert!(ok, "fsck.fat -n on the built ESP:\n{report}");
}
