//! TPM measurements in a real UEFI boot (issue #18): swtpm as the machine's TPM 2.0
//! (QEMU's tpm-tis), kboot boots a BLS entry (Debian's kernel and a marker initrd) and
//! extends PCR 8 (the command line) and PCR 9 (kernel, initrd) as GRUB would. The
//! booted kernel's sysfs values must equal what this test replays on the host with
//! sha256 from the PCRs' values before the boot (read through kboot's kernel's sysfs),
//! and the event log handed over in the extra initrd must list the same digests; once
//! as the files are on the disk, once under `require_signed` (the verified buffers).

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use qemu_tests::{Artifacts, BootPath, MachineConfig, Qemu};

const BOOT: Duration = Duration::from_secs(180);
const STEP: Duration = Duration::from_secs(60);

/// swtpm for QEMU's `-tpmdev emulator` (control channel on a Unix socket); killed on drop.
struct Swtpm(Child);

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_swtpm(dir: &Path) -> (Swtpm, std::path::PathBuf) {
    let state = dir.join("tpm-state");
    std::fs::create_dir_all(&state).unwrap();
    let ctrl = dir.join("swtpm-ctrl.sock");
    let child = qemu_tests::host_tools::command("swtpm")
        .arg("socket")
        .arg("--tpm2")
        .arg("--tpmstate")
        .arg(format!("dir={}", state.display()))
        .arg("--ctrl")
        .arg(format!("type=unixio,path={}", ctrl.display()))
        .arg("--log")
        .arg(format!("file={},level=1", dir.join("swtpm.log").display()))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ctrl.exists() {
        assert!(Instant::now() < deadline, "swtpm made no control socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    (Swtpm(child), ctrl)
}

/// The built media (checked) and an emptied `target/qemu-tests/NAME` for the run.
fn artifacts_and_fresh_dir(name: &str) -> (Artifacts, std::path::PathBuf) {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let dir = qemu_tests::machine::workspace_root()
        .join("target/qemu-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    (artifacts, dir)
}

/// QEMU's TIS TPM backed by the swtpm whose control socket is `ctrl`.
fn tpm_device_args(ctrl: &Path) -> Vec<String> {
    [
        "-chardev",
        &format!("socket,id=chrtpm,path={}", ctrl.display()),
        "-tpmdev",
        "emulator,id=tpm0,chardev=chrtpm",
        "-device",
        "tpm-tis,tpmdev=tpm0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn sha256(bytes: &[u8], scratch: &Path) -> Vec<u8> {
    let file = scratch.join("digest-input");
    std::fs::write(&file, bytes).unwrap();
    unhex(&qemu_tests::disks::sha256(&file))
}

fn unhex(text: &str) -> Vec<u8> {
    let text = text.trim();
    assert!(text.len().is_multiple_of(2), "not hex: {text:?}");
    (0..text.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&text[i..i + 2], 16).unwrap_or_else(|_| panic!("not hex: {text:?}"))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 PCR after extending `pcr` by `digest`, replayed on the host.
fn extend(pcr: &[u8], digest: &[u8], scratch: &Path) -> Vec<u8> {
    sha256(&[pcr, digest].concat(), scratch)
}

/// The line after `marker` in `output`, skipping the kernel's own console
/// messages (`[    2.822069] tsc: refined …` once landed between a marker and
/// the value the target printed after it).
fn line_after<'a>(output: &'a str, marker: &str) -> &'a str {
    let at = output
        .find(&format!("{marker}\n"))
        .unwrap_or_else(|| panic!("no {marker} in the output"));
    output[at + marker.len() + 1..]
        .lines()
        .find(|line| !is_kernel_message(line))
        .unwrap_or("")
        .trim()
}

/// `[ seconds.micros] text`: a printk line on the console.
fn is_kernel_message(line: &str) -> bool {
    line.trim_start()
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .is_some_and(|(stamp, _)| {
            let stamp = stamp.trim();
            !stamp.is_empty() && stamp.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        })
}

#[test]
fn pcr_8_and_9_after_kexec_equal_the_values_replayed_on_the_host() {
    classic_entry_is_measured("tpm", false);
}

/// The same under `[security] require_signed`: the files are measured from the buffers
/// verified against their signatures and handed to the kernel sealed, and the event
/// log's archive is appended to the sealed initrd.
#[test]
fn under_require_signed_pcr_9_holds_the_verified_files() {
    classic_entry_is_measured("tpm-signed", true);
}

fn classic_entry_is_measured(name: &str, signed: bool) {
    let (artifacts, dir) = artifacts_and_fresh_dir(name);
    let sysfs = "/sys/class/tpm/tpm0/pcr-sha256";
    let script = format!(
        "mkdir -p /sys\nmount -t sysfs sysfs /sys\n\
         echo PCR8-AFTER\ncat {sysfs}/8\necho PCR9-AFTER\ncat {sysfs}/9\n\
         echo EVENT-LOG\ncat /kboot/tpm-events.log\necho END-OF-TPM\n"
    );
    let initrd = qemu_tests::disks::target_initrd_running(&dir, &script, &[]);
    let kernel = std::fs::read(qemu_tests::machine::debian_kernel()).unwrap();
    let entry = b"title TPM Entry\nlinux /boot/vmlinuz\ninitrd /boot/initrd.img\n\
                  options console=ttyS0,115200 quiet kboot.test=tpm\n"
        .to_vec();
    let mut files = vec![
        ("boot/loader/entries/tpm.conf", entry),
        ("boot/vmlinuz", kernel.clone()),
        ("boot/initrd.img", initrd.clone()),
    ];
    // A throwaway key; the files signed on the host with the real minisign.
    let public = signed.then(|| {
        let (public, _) = qemu_tests::minisign::keypair(&dir, "test");
        std::fs::write(dir.join("vmlinuz"), &kernel).unwrap();
        std::fs::write(dir.join("initrd.img"), &initrd).unwrap();
        qemu_tests::minisign::sign(&dir, "test", &["vmlinuz", "initrd.img"], false);
        files.push((
            "boot/vmlinuz.minisig",
            std::fs::read(dir.join("vmlinuz.minisig")).unwrap(),
        ));
        files.push((
            "boot/initrd.img.minisig",
            std::fs::read(dir.join("initrd.img.minisig")).unwrap(),
        ));
        public
    });
    let disk = dir.join("tpm.img");
    qemu_tests::disks::gpt_ext4_disk(&disk, "TPMDISK", &files).unwrap_or_else(|e| panic!("{e}"));
    let (_swtpm, ctrl) = start_swtpm(&dir);

    let mut config = MachineConfig::new(BootPath::Uefi, artifacts);
    config.memory_mib = 1024;
    config.extra_disks = vec![disk];
    config.extra_args = tpm_device_args(&ctrl);
    let mut qemu = Qemu::start(name, &config).unwrap();
    qemu.expect("kboot: menu", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.send("c").unwrap();
    qemu.expect("kboot# ", STEP)
        .unwrap_or_else(|e| panic!("no shell: {e}"));
    // The values before kboot's extends (the firmware and the EFI stub may have
    // measured into PCR 9 already), through the kernel's sysfs, not kboot's code.
    let before = |qemu: &mut Qemu, pcr: u32| {
        let (text, status) = qemu
            .shell(&format!("cat {sysfs}/{pcr}"), STEP)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status, 0, "kboot's kernel has no {sysfs}/{pcr}: {text}");
        unhex(&text)
    };
    let pcr8_before = before(&mut qemu, 8);
    let pcr9_before = before(&mut qemu, 9);
    let (pcrs, status) = qemu
        .shell("tpm pcrs", STEP)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 0, "tpm pcrs: {pcrs}");
    assert!(
        pcrs.contains(&format!("sha256  9 {}", hex(&pcr9_before))),
        "`tpm pcrs` disagrees with sysfs on PCR 9:\n{pcrs}"
    );
    assert_eq!(
        pcrs.lines().filter(|l| l.starts_with("sha256 ")).count(),
        24
    );

    match &public {
        Some(public) => qemu_tests::minisign::menu_requiring_signatures(
            &mut qemu,
            public,
            "--boot 'TPM Entry'",
            STEP,
        ),
        None => qemu.send("menu --boot 'TPM Entry'\n").unwrap(),
    }
    qemu.expect("kboot: TPM: 3 measurements into PCR 8 and 9", BOOT)
        .unwrap_or_else(|e| panic!("no measurements: {e}"));
    qemu.expect("END-OF-TPM", BOOT)
        .unwrap_or_else(|e| panic!("the target did not print its PCRs: {e}"));
    let output = qemu.output().replace('\r', "");
    // The target's init prints its /proc/cmdline right after the marker.
    let cmdline = line_after(&output, "TARGET-BOOTED");
    assert!(cmdline.contains("kboot.test=tpm"), "{cmdline}");
    let cmdline_digest = sha256(cmdline.as_bytes(), &dir);
    let kernel_digest = sha256(&kernel, &dir);
    let initrd_digest = sha256(&initrd, &dir);
    let pcr8 = extend(&pcr8_before, &cmdline_digest, &dir);
    let pcr9 = extend(
        &extend(&pcr9_before, &kernel_digest, &dir),
        &initrd_digest,
        &dir,
    );
    eprintln!(
        "tpm: PCR 8 {} -> {}, PCR 9 {} -> {}",
        hex(&pcr8_before),
        hex(&pcr8),
        hex(&pcr9_before),
        hex(&pcr9)
    );
    assert_eq!(
        line_after(&output, "PCR8-AFTER").to_ascii_lowercase(),
        hex(&pcr8),
        "PCR 8 (the command line {cmdline:?})"
    );
    assert_eq!(
        line_after(&output, "PCR9-AFTER").to_ascii_lowercase(),
        hex(&pcr9),
        "PCR 9 (kernel, initrd)"
    );
    let log = &output[output.find("EVENT-LOG\n").unwrap()..output.find("END-OF-TPM").unwrap()];
    for (pcr, digest) in [
        (8, &cmdline_digest),
        (9, &kernel_digest),
        (9, &initrd_digest),
    ] {
        assert!(
            log.lines().any(|l| l.starts_with(&format!("{pcr} "))
                && l.contains(&format!("sha256:{}", hex(digest)))),
            "the event log lacks PCR {pcr}'s {}:\n{log}",
            hex(digest)
        );
    }
    assert!(
        log.contains(&format!("kernel_cmdline: {cmdline}\n")),
        "{log}"
    );
    assert!(log.contains(" vdb1:/boot/vmlinuz\n"), "{log}");
    assert!(log.contains(" vdb1:/boot/initrd.img\n"), "{log}");
    assert!(qemu.wait_exit(STEP).is_some(), "target did not power off");
}

/// The PE sections of `image` as (name, bytes): VirtualSize bytes at PointerToRawData,
/// bounded by SizeOfRawData (the test's own reading of the PE/COFF layout).
fn pe_sections(image: &[u8]) -> Vec<(String, Vec<u8>)> {
    let u16_at = |at: usize| u16::from_le_bytes([image[at], image[at + 1]]) as usize;
    let u32_at = |at: usize| u32::from_le_bytes(image[at..at + 4].try_into().unwrap()) as usize;
    let pe = u32_at(0x3c);
    assert_eq!(&image[pe..pe + 4], b"PE\0\0");
    let count = u16_at(pe + 6);
    let table = pe + 24 + u16_at(pe + 20);
    (0..count)
        .map(|i| {
            let header = table + 40 * i;
            let name = String::from_utf8_lossy(&image[header..header + 8])
                .trim_end_matches('\0')
                .to_string();
            let len = u32_at(header + 8).min(u32_at(header + 16));
            let start = u32_at(header + 20);
            (name, image[start..start + len].to_vec())
        })
        .collect()
}

/// A UKI (systemd's stub, Debian's kernel, a marker initrd) booted by kboot: PCR 11 in
/// the target equals the host's replay of systemd-stub's convention over the image's
/// own sections (the stub's `.sbat` included): name with NUL, then contents.
#[test]
fn a_ukis_sections_are_measured_into_pcr_11_as_systemd_stub_does() {
    let (artifacts, dir) = artifacts_and_fresh_dir("tpm-uki");
    let script = "mkdir -p /sys\nmount -t sysfs sysfs /sys\n\
                  echo PCR11-AFTER\ncat /sys/class/tpm/tpm0/pcr-sha256/11\n\
                  echo EVENT-LOG\ncat /kboot/tpm-events.log\necho END-OF-TPM\n";
    let initrd = qemu_tests::disks::target_initrd_running(&dir, script, &[]);
    let uki = dir.join("measured.efi");
    qemu_tests::disks::systemd_uki(
        &dir,
        "NAME=Debian\nPRETTY_NAME=\"Measured UKI\"\nID=debian\n",
        "console=ttyS0,115200 quiet kboot.test=tpm-uki",
        &initrd,
        &uki,
    );
    let image = std::fs::read(&uki).unwrap();
    let disk = dir.join("uki.img");
    qemu_tests::disks::gpt_ext4_disk(
        &disk,
        "UKITPM",
        &[("EFI/Linux/measured.efi", image.clone())],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let sections = pe_sections(&image);
    let order = [
        ".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname", ".sbat",
        ".pcrpkey",
    ];
    let mut pcr11 = vec![0u8; 32];
    let mut measured = Vec::new();
    for name in order {
        if let Some((_, bytes)) = sections.iter().rev().find(|(n, _)| n == name) {
            pcr11 = extend(&pcr11, &sha256(format!("{name}\0").as_bytes(), &dir), &dir);
            pcr11 = extend(&pcr11, &sha256(bytes, &dir), &dir);
            measured.push(name);
        }
    }
    assert!(
        measured.contains(&".sbat"),
        "the stub has no .sbat: {measured:?}"
    );
    let (_swtpm, ctrl) = start_swtpm(&dir);
    // No firmware measurements: the direct path (SeaBIOS, -kernel) leaves PCR 11 at zero.
    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = "console=ttyS0,115200 kboot.timeout=1".into();
    config.memory_mib = 1024;
    config.extra_disks = vec![disk];
    config.extra_args = tpm_device_args(&ctrl);
    let mut qemu = Qemu::start("tpm_uki", &config).unwrap();
    let expected_count = 2 * measured.len();
    qemu.expect(
        &format!("kboot: TPM: {expected_count} measurements into PCR 11"),
        BOOT,
    )
    .unwrap_or_else(|e| panic!("no PCR 11 measurements of {measured:?}: {e}"));
    qemu.expect("END-OF-TPM", BOOT)
        .unwrap_or_else(|e| panic!("the target did not print PCR 11: {e}"));
    let output = qemu.output().replace('\r', "");
    eprintln!("tpm_uki: PCR 11 {} over {measured:?}", hex(&pcr11));
    assert_eq!(
        line_after(&output, "PCR11-AFTER").to_ascii_lowercase(),
        hex(&pcr11),
        "PCR 11 over {measured:?}"
    );
    assert!(
        output.contains("PE section name .sbat\n"),
        "the event log lacks .sbat"
    );
    assert!(qemu.wait_exit(STEP).is_some(), "target did not power off");
}
