//! Secure Boot under OVMF (issue #18): OVMF's Secure Boot build with a variable store in
//! which a throwaway certificate is PK, KEK and db (user mode, Secure Boot enabled). A
//! kboot.efi signed with that key boots to the menu, says Secure Boot is on and kexecs
//! Debian's kernel; the unsigned kboot.efi is refused by the firmware and never starts.
//! The commands are those of docs/secure-boot.md.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use qemu_tests::host_tools::command;
use qemu_tests::machine::workspace_root;
use qemu_tests::{Artifacts, BootPath, MachineConfig, Qemu};

/// OVMF's SMM build under TCG is slower to reach the boot manager than the plain one.
const BOOT: Duration = Duration::from_secs(240);
const STEP: Duration = Duration::from_secs(60);
const MARKER: &str = "kboot.test=secure-boot";
/// OVMF's empty variable store (Setup Mode), the base the keys are enrolled into.
const VARS_TEMPLATE: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";
/// The owner GUID recorded with the test certificate in PK, KEK and db (any GUID does).
const OWNER_GUID: &str = "6b626f6f-742d-7273-2d74-657374000001";
/// Where the firmware's removable-media path finds kboot on disk.img's ESP.
const ESP_LOADER: &str = "EFI/BOOT/BOOTX64.EFI";

/// One QEMU at a time, whatever the test harness's thread count.
static ONE_MACHINE: Mutex<()> = Mutex::new(());

/// The test's own directory, and the cache that survives it (venv, key, certificate).
fn dirs(test: &str) -> (PathBuf, PathBuf) {
    let cache = workspace_root().join("target/secure-boot");
    let dir = workspace_root()
        .join("target/qemu-tests/secure-boot")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&cache).unwrap();
    (dir, cache)
}

fn run(cmd: &mut std::process::Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A throwaway key and self-signed certificate (openssl), made once and kept in `cache`.
fn test_key(cache: &Path) -> (PathBuf, PathBuf) {
    let (key, cert) = (cache.join("db.key"), cache.join("db.crt"));
    if !(key.is_file() && cert.is_file()) {
        run(
            command("openssl")
                .args(["req", "-new", "-x509", "-newkey", "rsa:2048", "-nodes"])
                .args(["-days", "3650", "-sha256"])
                .args(["-subj", "/CN=kboot Secure Boot test key/"])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert),
            "openssl req (test key)",
        );
    }
    (key, cert)
}

/// OVMF's empty store with `cert` enrolled as PK, KEK and db and Secure Boot enabled
/// (virt-fw-vars from PyPI's virt-firmware, in a venv in `cache`).
fn enrolled_vars(cache: &Path, cert: &Path, dir: &Path) -> PathBuf {
    let python = qemu_tests::pypi::venv_with(&cache.join("venv"), "virt-firmware", "virt.firmware")
        .unwrap_or_else(|e| panic!("virt-fw-vars is needed to enrol the test key: {e}"));
    let vars = dir.join("vars.fd");
    let cert = cert.to_string_lossy();
    run(
        std::process::Command::new(python.with_file_name("virt-fw-vars"))
            .args(["--input", VARS_TEMPLATE, "--output"])
            .arg(&vars)
            .args(["--set-pk", OWNER_GUID, &cert])
            .args(["--add-kek", OWNER_GUID, &cert])
            .args(["--add-db", OWNER_GUID, &cert])
            .arg("--secure-boot"),
        "virt-fw-vars (enrol the test certificate)",
    );
    vars
}

/// A copy of the built media in `dir` whose kboot.efi (and the ESP's loader on disk.img)
/// is signed with `key` by sbsign, as `cargo xtask image --sign-key --sign-cert` does.
fn signed_media(artifacts: &Artifacts, key: &Path, cert: &Path, dir: &Path) -> Artifacts {
    let media = dir.join("media");
    std::fs::create_dir_all(&media).unwrap();
    for file in [
        artifacts.bzimage(),
        artifacts.initramfs(),
        artifacts.disk_img(),
    ] {
        std::fs::copy(&file, media.join(file.file_name().unwrap())).unwrap();
    }
    let verifies = |efi: &Path| {
        command("sbverify")
            .arg("--cert")
            .arg(cert)
            .arg(efi)
            .output()
            .is_ok_and(|out| out.status.success())
    };
    assert!(
        !verifies(&artifacts.kboot_efi()),
        "the built kboot.efi is already signed by the test key: the refusal test would prove nothing"
    );
    let signed = media.join("kboot.efi");
    run(
        command("sbsign")
            .arg("--key")
            .arg(key)
            .arg("--cert")
            .arg(cert)
            .arg("--output")
            .arg(&signed)
            .arg(artifacts.kboot_efi()),
        "sbsign kboot.efi",
    );
    assert!(verifies(&signed), "sbverify rejects the signed kboot.efi");
    let media = Artifacts::in_dir(media);
    qemu_tests::disks::esp_write(
        &media.disk_img(),
        &std::fs::read(&signed).unwrap(),
        ESP_LOADER,
        dir,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    media
}

/// In the booted Debian kernel, locked down because the firmware booted with Secure Boot
/// (kexec passes the state on): the lockdown state, then kboot's kexec applet loading
/// kboot's own unsigned bzImage, which the locked-down kernel must refuse in words.
const LOCKED_DOWN_SCRIPT: &str = "mkdir -p /sys\nmount -t sysfs sysfs /sys\n\
    mount -t securityfs securityfs /sys/kernel/security\n\
    echo LOCKDOWN-STATE\ncat /sys/kernel/security/lockdown\n\
    kboot kexec -l /unsigned-bzImage\necho KEXEC-STATUS=$?\n";

/// A GPT/ext4 disk with a Debian-style grub.cfg booting Debian's kernel with the
/// TARGET-BOOTED initrd, which also runs LOCKED_DOWN_SCRIPT with `unsigned_kernel`.
fn debian_disk(dir: &Path, unsigned_kernel: &Path) -> PathBuf {
    let disk = dir.join("debian.img");
    let cfg = qemu_tests::disks::debian_grub_cfg(
        "/boot/vmlinuz-debian",
        "/boot/target-initrd.img",
        &format!("console=ttyS0,115200 {MARKER}"),
    );
    let initrd = qemu_tests::disks::target_initrd_running(
        dir,
        LOCKED_DOWN_SCRIPT,
        &[("unsigned-bzImage", std::fs::read(unsigned_kernel).unwrap())],
    );
    qemu_tests::disks::gpt_ext4_disk(
        &disk,
        "SECBOOT",
        &[
            ("boot/grub/grub.cfg", cfg),
            (
                "boot/vmlinuz-debian",
                std::fs::read(qemu_tests::machine::debian_kernel()).unwrap(),
            ),
            ("boot/target-initrd.img", initrd),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    disk
}

fn secure_boot_machine(artifacts: Artifacts, vars: PathBuf) -> MachineConfig {
    let mut config = MachineConfig::new(BootPath::Uefi, artifacts);
    config.memory_mib = 1024;
    config.secure_boot_vars = Some(vars);
    config
}

#[test]
fn signed_kboot_boots_under_secure_boot_and_kexecs_debian() {
    let _one = ONE_MACHINE.lock().unwrap_or_else(|p| p.into_inner());
    let started = Instant::now();
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let (dir, cache) = dirs("signed");
    let (key, cert) = test_key(&cache);
    let vars = enrolled_vars(&cache, &cert, &dir);
    let media = signed_media(&artifacts, &key, &cert, &dir);
    let disk = debian_disk(&dir, &artifacts.bzimage());
    let mut config = secure_boot_machine(media, vars);
    config.extra_disks = vec![disk];
    let mut qemu = Qemu::start("secure_boot_signed", &config).unwrap();
    // The lean kernel, started by the firmware with Secure Boot on, says so itself.
    qemu.expect("Secure boot enabled", BOOT)
        .unwrap_or_else(|e| panic!("the signed kboot.efi did not start under Secure Boot: {e}"));
    qemu.expect("kboot: menu", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("Debian GNU/Linux", STEP)
        .unwrap_or_else(|e| panic!("the test disk's entry is not listed: {e}"));
    std::thread::sleep(Duration::from_secs(1));
    let row = qemu_tests::screen::menu_row(&qemu.output(), "Debian GNU/Linux");
    qemu.send(&format!("{row}\r")).unwrap();
    qemu.expect("kboot: Secure Boot: enabled", STEP)
        .unwrap_or_else(|e| panic!("kboot did not log the firmware's Secure Boot state: {e}"));
    // Debian's kernel got the firmware's Secure Boot state through kexec.
    qemu.expect("secureboot: Secure boot enabled", BOOT)
        .unwrap_or_else(|e| panic!("Debian's kernel did not see Secure Boot: {e}"));
    qemu.expect("TARGET-BOOTED", BOOT)
        .unwrap_or_else(|e| panic!("Debian's kernel did not run the target initrd: {e}"));
    qemu.expect(MARKER, STEP)
        .unwrap_or_else(|e| panic!("the entry's command line was not used: {e}"));
    qemu.expect("LOCKDOWN-STATE", STEP)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("none [integrity] confidentiality", STEP)
        .unwrap_or_else(|e| panic!("Debian's kernel is not locked down: {e}"));
    qemu.expect(
        "kexec: the running kernel is locked down (integrity): kexec_file_load loads only \
         a kernel signed by a key this kernel trusts",
        STEP,
    )
    .unwrap_or_else(|e| panic!("the refused kexec is not explained by lockdown: {e}"));
    qemu.expect("KEXEC-STATUS=1", STEP)
        .unwrap_or_else(|e| panic!("kexec of the unsigned kernel did not fail: {e}"));
    assert!(qemu.wait_exit(STEP).is_some(), "target did not power off");
    eprintln!("signed boot under Secure Boot: {:.0?}", started.elapsed());
}

#[test]
fn unsigned_kboot_is_refused_by_the_firmware() {
    let _one = ONE_MACHINE.lock().unwrap_or_else(|p| p.into_inner());
    let started = Instant::now();
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let (dir, cache) = dirs("unsigned");
    let (_, cert) = test_key(&cache);
    let vars = enrolled_vars(&cache, &cert, &dir);
    let mut qemu = Qemu::start(
        "secure_boot_unsigned",
        &secure_boot_machine(artifacts, vars),
    )
    .unwrap();
    // OVMF's boot manager names the option it could not start and the verdict of its
    // image verification (EFI_SECURITY_VIOLATION is printed as "Access Denied").
    qemu.expect("Access Denied", BOOT)
        .unwrap_or_else(|e| panic!("the firmware did not refuse the unsigned kboot.efi: {e}"));
    let output = qemu.output();
    let refusal = output
        .lines()
        .find(|l| l.contains("Access Denied"))
        .unwrap_or_default();
    assert!(
        refusal.contains("BdsDxe: failed to load Boot"),
        "not the boot manager's refusal of a boot option: {refusal:?}"
    );
    for started_anyway in ["Linux version", "kboot:"] {
        assert!(
            !output.contains(started_anyway),
            "{started_anyway:?} on the console: the unsigned image ran"
        );
    }
    assert!(
        qemu.expect("kboot: menu", Duration::from_secs(20)).is_err(),
        "kboot's menu came up although the firmware refused the image"
    );
    eprintln!("unsigned image refused: {:.0?}", started.elapsed());
}
