//! kboot's SSH server in a real boot under TCG, reached through QEMU user networking's
//! `hostfwd` with the real OpenSSH client: the image authorizes a throwaway ed25519 key
//! (/etc/kboot/authorized_keys, what `cargo xtask image` writes from `[ssh]
//! authorized_keys`, added as a second initramfs archive as https.rs does with its CA);
//! `ssh … kboot boot --list` lists the disk's GRUB entry, `ssh -tt` gets the menu, a
//! key that is not authorized is refused, and the fingerprint on the console is the host
//! key the client saw.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use qemu_tests::disks::cpio_newc;
use qemu_tests::host_tools::command;
use qemu_tests::servers::free_port;
use qemu_tests::{Artifacts, BootPath, MachineConfig, Qemu};

const BOOT: Duration = Duration::from_secs(120);
const STEP: Duration = Duration::from_secs(90);
const LABEL: &str = "Debian GNU/Linux";

fn scratch(name: &str) -> PathBuf {
    qemu_tests::machine::fresh_test_dir(name)
}

fn keygen(path: &Path) {
    let status = command("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "kboot-ssh-test",
            "-f",
        ])
        .arg(path)
        .status()
        .expect("ssh-keygen");
    assert!(status.success(), "ssh-keygen failed");
}

/// The media's initramfs followed by an archive holding /etc/kboot/authorized_keys.
fn initrd_authorizing(dir: &Path, artifacts: &Artifacts, public_key: &Path) -> PathBuf {
    let root = dir.join("ssh-root");
    std::fs::create_dir_all(root.join("etc/kboot")).expect("mkdir");
    std::fs::copy(public_key, root.join("etc/kboot/authorized_keys")).expect("copy key");
    let mut initrd = std::fs::read(artifacts.initramfs()).expect("the media's initramfs");
    initrd.resize(initrd.len().div_ceil(4) * 4, 0);
    initrd.extend(cpio_newc(&root).unwrap_or_else(|e| panic!("{e}")));
    let path = dir.join("initrd-with-keys.cpio");
    std::fs::write(&path, initrd).expect("write initrd");
    path
}

fn ssh_args(dir: &Path, port: u16, key: &str) -> Vec<String> {
    [
        "-p",
        &port.to_string(),
        "-i",
        &dir.join(key).display().to_string(),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        &format!("UserKnownHostsFile={}", dir.join("known_hosts").display()),
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "ConnectTimeout=60",
        "root@127.0.0.1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// `ssh … COMMAND` under coreutils' timeout (124: it hung).
fn ssh(dir: &Path, port: u16, key: &str, remote_command: &str) -> Output {
    command("timeout")
        .arg("120")
        .arg(qemu_tests::host_tools::find("ssh").unwrap_or_else(|e| panic!("{e}")))
        .args(ssh_args(dir, port, key))
        .arg(remote_command)
        .stdin(Stdio::null())
        .output()
        .expect("ssh")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn ssh_lists_entries_shows_the_menu_and_refuses_strangers() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let dir = scratch("ssh");
    keygen(&dir.join("user"));
    keygen(&dir.join("stranger"));
    let disk = dir.join("debian.img");
    let kernel = std::fs::read(artifacts.bzimage()).expect("bzImage");
    qemu_tests::disks::gpt_ext4_disk(
        &disk,
        "DEBROOT",
        &[
            (
                "boot/grub/grub.cfg",
                qemu_tests::disks::debian_grub_cfg(
                    "/boot/vmlinuz",
                    "/boot/initrd.img",
                    "ssh_test=1",
                ),
            ),
            ("boot/vmlinuz", kernel),
            ("boot/initrd.img", b"not really an initrd".to_vec()),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let port = free_port().unwrap_or_else(|e| panic!("{e}"));
    let mut config = MachineConfig::new(BootPath::Direct, artifacts.clone());
    config.initrd_override = Some(initrd_authorizing(&dir, &artifacts, &dir.join("user.pub")));
    // A long countdown: the console's menu must not boot the entry during the test.
    config.cmdline = "console=ttyS0,115200 ip=dhcp kboot.timeout=900".into();
    config.memory_mib = 768;
    config.extra_disks = vec![disk];
    config.extra_args = vec![
        "-nic".into(),
        format!("user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{port}-:22"),
    ];
    let mut qemu = Qemu::start("ssh", &config).expect("qemu");
    qemu.expect("host key SHA256:", BOOT)
        .unwrap_or_else(|e| panic!("no fingerprint on the console: {e}"));
    let console = qemu.output();
    let printed = console
        .split("host key ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_default()
        .to_string();
    qemu.expect("kboot: ready", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    // The console's menu is up once the network is configured and the disks scanned.
    qemu.expect(LABEL, BOOT)
        .unwrap_or_else(|e| panic!("the console menu did not show the entry: {e}"));

    let started = Instant::now();
    let listed = ssh(&dir, port, "user", "kboot boot --list");
    let elapsed = started.elapsed();
    if !listed.status.success() || !text(&listed.stdout).contains(LABEL) {
        qemu.save_log();
        panic!(
            "kboot boot --list over ssh: status {:?}\nstdout: {}\nstderr: {}",
            listed.status,
            text(&listed.stdout),
            text(&listed.stderr)
        );
    }
    eprintln!("ssh … kboot boot --list took {elapsed:?} under TCG");

    let seen = command("ssh-keygen")
        .arg("-lf")
        .arg(dir.join("known_hosts"))
        .output()
        .expect("ssh-keygen -lf");
    assert!(
        printed.starts_with("SHA256:") && text(&seen.stdout).contains(&printed),
        "console printed {printed:?}; the client saw {}",
        text(&seen.stdout)
    );

    let refused = ssh(&dir, port, "stranger", "echo should-not-run");
    assert_eq!(
        refused.status.code(),
        Some(255),
        "{}",
        text(&refused.stderr)
    );
    assert!(!text(&refused.stdout).contains("should-not-run"));
    assert!(
        text(&refused.stderr).contains("Permission denied (publickey)"),
        "{}",
        text(&refused.stderr)
    );

    // An interactive session: the menu, on a terminal, waiting for a key.
    let mut session = command("ssh")
        .arg("-tt")
        .args(ssh_args(&dir, port, "user"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh -tt");
    let mut stdout = session.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buffer = [0u8; 4096];
        let deadline = Instant::now() + STEP;
        while Instant::now() < deadline {
            match stdout.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(count) => seen.extend_from_slice(&buffer[..count]),
            }
            if String::from_utf8_lossy(&seen).contains(LABEL) {
                break;
            }
        }
        seen
    });
    let deadline = Instant::now() + STEP + Duration::from_secs(5);
    while !reader.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = session.kill();
    let _ = session.wait();
    let screen = reader.join().map(|seen| text(&seen)).unwrap_or_default();
    if !screen.contains(LABEL) {
        qemu.save_log();
        panic!("the menu did not appear in the ssh session; it showed:\n{screen}");
    }
    // Nothing was booted: the sessions' menus wait for a key, the console's counts 900 s.
    assert!(!qemu.output().contains("kboot: booting"));
}

/// Issue #19: a kdump capture kernel with `kboot.dump.ssh_hold` waits before its reboot;
/// meanwhile its report is read over SSH (`cat /run/kboot/triage.txt`), and `touch
/// /run/kboot/release` over SSH lets it reboot at once.
#[test]
fn capture_report_is_read_over_ssh_before_the_reboot() {
    use qemu_tests::kdump::{crash_until_report, finish_capture, Production};
    let dir = scratch("ssh-capture");
    keygen(&dir.join("user"));
    let overlay_root = dir.join("overlay");
    std::fs::create_dir_all(overlay_root.join("etc/kboot")).expect("mkdir");
    std::fs::copy(
        dir.join("user.pub"),
        overlay_root.join("etc/kboot/authorized_keys"),
    )
    .expect("copy key");
    let overlay = cpio_newc(&overlay_root).unwrap_or_else(|e| panic!("{e}"));
    let port = free_port().unwrap_or_else(|e| panic!("{e}"));
    let production = Production {
        crashkernel: None,
        extra: "",
        capture_extra: "kboot.dump.ssh_hold=600",
        disks: Vec::new(),
        extra_args: vec![
            "-nic".into(),
            format!("user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{port}-:22"),
        ],
        capture_overlay: Some(overlay),
        before_crash: "",
        netns: None,
    };
    let mut qemu = crash_until_report("ssh_capture", &dir, production);
    qemu.expect("readable over SSH for 600 s", STEP)
        .unwrap_or_else(|e| panic!("the capture kernel did not hold for SSH: {e}"));
    let report = ssh(&dir, port, "user", "cat /run/kboot/triage.txt");
    if !report.status.success() || !text(&report.stdout).contains("sysrq triggered crash") {
        qemu.save_log();
        panic!(
            "the report over ssh: status {:?}\nstdout: {}\nstderr: {}",
            report.status,
            text(&report.stdout),
            text(&report.stderr)
        );
    }
    let released = ssh(&dir, port, "user", "touch /run/kboot/release");
    assert!(released.status.success(), "{}", text(&released.stderr));
    qemu.expect("hold released over SSH", STEP)
        .unwrap_or_else(|e| panic!("the hold did not end on the release file: {e}"));
    let console = finish_capture(qemu);
    assert!(
        !console.contains("hold time over"),
        "the machine waited the whole hold"
    );
}
