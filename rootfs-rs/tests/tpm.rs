//! TPM 2.0 (issue #18): kboot's command encoding against byte strings derived by hand
//! from the TPM 2.0 Library spec, Part 3, and the measurements made through a real
//! software TPM (swtpm, raw commands over its socket), checked against PCR values
//! replayed on the host with coreutils' sha1sum/sha256sum.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use rootfs_rs::boot::config::pe;
use rootfs_rs::boot::launch::kexec::KexecPlan;
use rootfs_rs::boot::launch::payload::{open_unverified, open_verified, Payloads};
use rootfs_rs::boot::launch::tpm::{
    event_line, extend_all, grub_cmdline_measurement, single_file_cpio, uki_measurements,
    BootMeasurer, TARGET_EVENT_LOG,
};
use rootfs_rs::boot::signature::Policy;
use rootfs_rs::config::toml::Document;
use rootfs_rs::tpm2::{self, Bank};

fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kboot-tpm-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The host's digest of `bytes` (`sha1sum` or `sha256sum`), as raw bytes.
fn host_digest(bank: Bank, bytes: &[u8], scratch: &Path) -> Vec<u8> {
    let file = scratch.join("digest-input");
    std::fs::write(&file, bytes).unwrap();
    let tool = match bank {
        Bank::Sha1 => "sha1sum",
        Bank::Sha256 => "sha256sum",
        Bank::Other(id) => panic!("no host tool for algorithm {id:#x}"),
    };
    let out = qemu_tests::host_tools::command(tool)
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let hex = String::from_utf8_lossy(&out.stdout);
    let hex = hex.split_whitespace().next().unwrap();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// A PCR after extending a zeroed one by the digests of `inputs`, replayed on the host.
fn replayed(bank: Bank, inputs: &[&[u8]], scratch: &Path) -> Vec<u8> {
    let size = if bank == Bank::Sha1 { 20 } else { 32 };
    let mut pcr = vec![0u8; size];
    for input in inputs {
        let digest = host_digest(bank, input, scratch);
        pcr = host_digest(bank, &[pcr, digest].concat(), scratch);
    }
    pcr
}

/// swtpm with a fresh state, serving raw TPM 2.0 commands on a Unix socket; killed on
/// drop.
struct Swtpm {
    child: Child,
    socket: PathBuf,
}

impl Swtpm {
    fn start(dir: &Path) -> Swtpm {
        let state = dir.join("state");
        std::fs::create_dir_all(&state).unwrap();
        let socket = dir.join("tpm.sock");
        let child = qemu_tests::host_tools::command("swtpm")
            .arg("socket")
            .arg("--tpm2")
            .arg("--tpmstate")
            .arg(format!("dir={}", state.display()))
            .arg("--server")
            .arg(format!("type=unixio,path={}", socket.display()))
            .arg("--ctrl")
            .arg(format!(
                "type=unixio,path={}",
                dir.join("ctrl.sock").display()
            ))
            .args(["--flags", "not-need-init,startup-clear"])
            .spawn()
            .unwrap();
        Swtpm { child, socket }
    }

    fn connect(&self) -> UnixStream {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match UnixStream::connect(&self.socket) {
                Ok(stream) => {
                    stream
                        .set_read_timeout(Some(Duration::from_secs(20)))
                        .unwrap();
                    return stream;
                }
                Err(e) if Instant::now() > deadline => panic!("swtpm socket: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn commands_have_the_specs_byte_layout() {
    // TPM2_PCR_Extend (Part 3, 22.2): header, pcrHandle, authorizationSize, one
    // TPMS_AUTH_COMMAND for TPM_RS_PW with an empty nonce and password, then
    // TPML_DIGEST_VALUES with a SHA-1 and a SHA-256 TPMT_HA.
    let cmd = tpm2::pcr_extend_command(
        9,
        &[(Bank::Sha1, vec![0x11; 20]), (Bank::Sha256, vec![0xAB; 32])],
    );
    let mut expected = vec![
        0x80, 0x02, 0, 0, 0, 87, 0, 0, 0x01, 0x82, // TPM_ST_SESSIONS, size, TPM_CC_PCR_Extend
        0, 0, 0, 9, // pcrHandle
        0, 0, 0, 9, // authorizationSize
        0x40, 0, 0, 9, 0, 0, 0, 0, 0, // TPM_RS_PW, nonce size 0, attributes 0, hmac size 0
        0, 0, 0, 2, // two digests
        0, 0x04, // TPM_ALG_SHA1
    ];
    expected.extend([0x11; 20]);
    expected.extend([0, 0x0B]); // TPM_ALG_SHA256
    expected.extend([0xAB; 32]);
    assert_eq!(cmd, expected);
    // TPM2_PCR_Read (22.4): one TPMS_PCR_SELECTION, SHA-256, 3 bitmap bytes, PCR 8 = bit 0
    // of the second byte.
    assert_eq!(
        tpm2::pcr_read_command(Bank::Sha256, 8),
        [0x80, 0x01, 0, 0, 0, 20, 0, 0, 0x01, 0x7E, 0, 0, 0, 1, 0, 0x0B, 3, 0, 1, 0]
    );
    assert_eq!(
        tpm2::pcr_read_command(Bank::Sha1, 23),
        [0x80, 0x01, 0, 0, 0, 20, 0, 0, 0x01, 0x7E, 0, 0, 0, 1, 0, 0x04, 3, 0, 0, 0x80]
    );
    // TPM2_GetCapability (30.2): TPM_CAP_PCRS, property 0, propertyCount 1.
    assert_eq!(
        tpm2::get_pcr_banks_command(),
        [0x80, 0x01, 0, 0, 0, 22, 0, 0, 0x01, 0x7A, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1]
    );
}

#[test]
fn responses_are_decoded_and_bad_ones_refused() {
    // GetCapability: moreData 0, TPM_CAP_PCRS, three banks; SHA-384 has no PCR allocated.
    let mut banks = vec![
        0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 3,
    ];
    banks.extend([0, 0x04, 3, 0xFF, 0xFF, 0xFF]);
    banks.extend([0, 0x0B, 3, 0xFF, 0xFF, 0xFF]);
    banks.extend([0, 0x0C, 3, 0, 0, 0]);
    let len = banks.len() as u8;
    banks[5] = len;
    assert_eq!(
        tpm2::parse_pcr_banks(&banks).unwrap(),
        [Bank::Sha1, Bank::Sha256]
    );
    // PCR_Read: updateCounter, the selection echoed, one 32-byte digest.
    let mut read = vec![0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
    read.extend([0, 0, 0, 1, 0, 0x0B, 3, 0, 1, 0, 0, 0, 0, 1, 0, 32]);
    read.extend([0x5A; 32]);
    let len = read.len() as u8;
    read[5] = len;
    assert_eq!(tpm2::parse_pcr_read(&read).unwrap(), Some(vec![0x5A; 32]));
    assert_eq!(
        tpm2::check_response(&[0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x01, 0x01]).unwrap_err(),
        "TPM error 0x101"
    );
    assert!(tpm2::check_response(&[0x80, 0x01, 0, 0, 0, 12, 0, 0, 0, 0]).is_err());
    assert!(tpm2::parse_pcr_read(&read[..read.len() - 5]).is_err());
    assert!(tpm2::parse_pcr_banks(&banks[..12]).is_err());
}

/// The initrd kexec_file_load would get, read back.
fn initrd_of(payloads: &mut Payloads) -> Vec<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let file = payloads.initrd.as_mut().expect("an initrd");
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).unwrap();
    file.read_to_end(&mut bytes).unwrap();
    bytes
}

/// A classic entry loaded as the menu loads it (`payload::open_*` with the measurer as
/// its observer), once from the disk and once under `require_signed` from the verified
/// buffers: PCR 8 and 9 on a real software TPM equal the host's replay, and the initrd
/// handed over ends with the event log.
#[test]
fn a_classic_boot_extends_pcr_8_and_9_on_swtpm_as_replayed_on_the_host() {
    let dir = workdir("grub");
    let kernel = dir.join("vmlinuz");
    let initrd = dir.join("initrd.img");
    let kernel_bytes = std::fs::read(qemu_tests::machine::debian_kernel()).unwrap();
    std::fs::write(&kernel, &kernel_bytes).unwrap();
    std::fs::write(&initrd, b"070701 initrd bytes").unwrap();
    let cmdline = "root=/dev/vda2 ro quiet";
    let plan = KexecPlan {
        kernel: kernel.clone(),
        initrds: vec![initrd.clone()],
        cmdline: cmdline.into(),
        staged: None,
    };
    let names = || vec!["vda1:/vmlinuz".to_string(), "vda1:/initrd.img".to_string()];
    let (public, _) = qemu_tests::minisign::keypair(&dir, "test");
    qemu_tests::minisign::sign(&dir, "test", &["vmlinuz", "initrd.img"], false);
    let policy_text = format!("[security]\nrequire_signed = true\ntrusted_keys = [\"{public}\"]\n");
    let (policy, warnings) = Policy::from_config(&Document::parse(&policy_text), "test");
    assert!(warnings.is_empty() && policy.require_signed, "{warnings:?}");

    for verified in [false, true] {
        let swtpm = Swtpm::start(&dir.join(format!("tpm-{verified}")));
        let mut tpm = swtpm.connect();
        let banks = tpm2::pcr_banks(&mut tpm).unwrap();
        assert!(banks.contains(&Bank::Sha256), "{banks:?}");
        let mut measurer =
            BootMeasurer::new(&mut tpm, &[grub_cmdline_measurement(cmdline)], names()).unwrap();
        let mut payloads = if verified {
            open_verified(&plan, &policy, Some(&mut measurer)).unwrap()
        } else {
            open_unverified(&plan, &dir.join("stage"), Some(&mut measurer)).unwrap()
        };
        assert_eq!(measurer.outcome(), Ok(3));
        let log = measurer.log().to_string();
        drop(measurer);
        // The entry's initrd, padded to 4 bytes, then the log's archive.
        let handed = initrd_of(&mut payloads);
        let mut expected = b"070701 initrd bytes\0".to_vec();
        expected.extend(single_file_cpio(TARGET_EVENT_LOG, log.as_bytes()));
        assert_eq!(handed, expected, "verified: {verified}");
        for bank in banks.iter().filter(|b| b.hasher().is_some()) {
            assert_eq!(
                tpm2::read_pcr(&mut tpm, *bank, 8).unwrap(),
                replayed(*bank, &[cmdline.as_bytes()], &dir),
                "PCR 8 of {}",
                bank.name()
            );
            assert_eq!(
                tpm2::read_pcr(&mut tpm, *bank, 9).unwrap(),
                replayed(*bank, &[&kernel_bytes, b"070701 initrd bytes"], &dir),
                "PCR 9 of {} (verified: {verified})",
                bank.name()
            );
            assert_eq!(
                tpm2::read_pcr(&mut tpm, *bank, 10).unwrap(),
                replayed(*bank, &[], &dir)
            );
        }
        let lines: Vec<&str> = log.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(lines.len(), 3, "{log}");
        let sha256 =
            |bytes: &[u8]| rootfs_rs::util::hash::hex(&host_digest(Bank::Sha256, bytes, &dir));
        assert!(
            lines[0].starts_with("8 ")
                && lines[0].ends_with(" kernel_cmdline: root=/dev/vda2 ro quiet")
        );
        assert!(lines[0].contains(&format!("sha256:{}", sha256(cmdline.as_bytes()))));
        assert!(
            lines[1].starts_with("9 ")
                && lines[1].contains(&format!("sha256:{}", sha256(&kernel_bytes)))
        );
        assert!(lines[1].ends_with(" vda1:/vmlinuz"), "{}", lines[1]);
        assert!(lines[2].ends_with(" vda1:/initrd.img"), "{}", lines[2]);
        drop(payloads);
        drop(swtpm);
    }
    // A missing initrd fails the load, named; the TPM is not blamed for it.
    let swtpm = Swtpm::start(&dir.join("tpm-missing"));
    let mut tpm = swtpm.connect();
    let mut measurer = BootMeasurer::new(&mut tpm, &[], names()).unwrap();
    let gone = KexecPlan {
        initrds: vec![dir.join("gone")],
        ..plan
    };
    let err = open_unverified(&gone, &dir.join("stage"), Some(&mut measurer))
        .err()
        .unwrap();
    assert!(err.to_string().contains("gone"), "{err}");
    assert_eq!(measurer.outcome(), Ok(1), "the kernel was measured");
    drop(swtpm);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_uki_extends_pcr_11_with_section_names_and_contents_in_systemds_order() {
    let dir = workdir("uki");
    let swtpm = Swtpm::start(&dir);
    let mut tpm = swtpm.connect();
    // Table order differs from systemd's measuring order; .pcrsig is never measured.
    let image = pe::build(&[
        (".cmdline", b"console=ttyS0"),
        (".pcrsig", b"{}"),
        (".initrd", b"initrd!"),
        (".linux", b"MZ kernel"),
        (".osrel", b"ID=test\n"),
    ]);
    let uki = dir.join("test.efi");
    std::fs::write(&uki, &image).unwrap();
    let sections = pe::sections(&pe::read_slice(&image)).unwrap();
    extend_all(&mut tpm, &uki_measurements(&uki, &sections)).unwrap();
    let expected: [&[u8]; 8] = [
        b".linux\0",
        b"MZ kernel",
        b".osrel\0",
        b"ID=test\n",
        b".cmdline\0",
        b"console=ttyS0",
        b".initrd\0",
        b"initrd!",
    ];
    let pcr11 = tpm2::read_pcr(&mut tpm, Bank::Sha256, 11).unwrap();
    assert_eq!(pcr11, replayed(Bank::Sha256, &expected, &dir));
    // systemd's own calculation (systemd-measure, which then adds the phase string
    // "enter-initrd" that systemd measures from the initrd) from the same sections.
    for (name, bytes) in [
        ("linux", &b"MZ kernel"[..]),
        ("osrel", b"ID=test\n"),
        ("cmdline", b"console=ttyS0"),
        ("initrd", b"initrd!"),
    ] {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let out = qemu_tests::host_tools::command("/usr/lib/systemd/systemd-measure")
        .arg("calculate")
        .args(
            ["linux", "osrel", "cmdline", "initrd"]
                .map(|n| format!("--{n}={}", dir.join(n).display())),
        )
        .args(["--bank=sha256", "--phase=enter-initrd"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "systemd-measure: {text}");
    let enter_initrd = text.trim();
    let phase = host_digest(Bank::Sha256, b"enter-initrd", &dir);
    let ours = host_digest(Bank::Sha256, &[pcr11, phase].concat(), &dir);
    assert_eq!(
        enter_initrd,
        format!("11:sha256={}", rootfs_rs::util::hash::hex(&ours))
    );
    drop(swtpm);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_event_log_initrd_unpacks_with_host_cpio() {
    let dir = workdir("cpio");
    let line = event_line(8, &[(Bank::Sha256, vec![0xAB; 32])], "kernel_cmdline: a\nb");
    assert_eq!(
        line,
        format!("8 sha256:{} kernel_cmdline: a b\n", "ab".repeat(32))
    );
    let archive = single_file_cpio("kboot/tpm-events.log", line.as_bytes());
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut cpio = qemu_tests::host_tools::command("cpio")
        .args(["-idm", "--quiet"])
        .current_dir(&out)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    cpio.stdin.take().unwrap().write_all(&archive).unwrap();
    assert!(cpio.wait().unwrap().success());
    assert_eq!(
        std::fs::read_to_string(out.join("kboot/tpm-events.log")).unwrap(),
        line
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_applet_without_a_tpm_says_so() {
    if Path::new(tpm2::DEVICE).exists() {
        return; // a host with a TPM: the message is for machines without one
    }
    let out = Command::new(env!("CARGO_BIN_EXE_kboot"))
        .args(["tpm", "pcrs"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "tpm: no TPM (/dev/tpmrm0 missing)\n"
    );
    assert!(out.stdout.is_empty());
}
