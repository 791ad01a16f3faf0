//! The userspace in a real boot: a scripted session on the serial console exercising
//! the shell (pipelines, redirection, $?), blkid and mount against disks this test
//! creates with the host's mke2fs/mkfs.fat, PID 1 respawning a killed front end, and
//! poweroff. Expected values come from the host's own tools (blkid), not from kboot.

use std::path::{Path, PathBuf};
use std::time::Duration;

use qemu_tests::{Artifacts, BootPath, MachineConfig, Qemu};

const BOOT: Duration = Duration::from_secs(120);
const STEP: Duration = Duration::from_secs(30);

fn host(program: &str, args: &[&str]) -> String {
    let out = qemu_tests::host_tools::command(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (cargo xtask deps installs it)"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn scratch() -> PathBuf {
    let dir = qemu_tests::machine::workspace_root().join("target/qemu-tests/userspace");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `blkid -p -o export` of an image as KEY=value pairs.
fn host_blkid(image: &Path) -> Vec<(String, String)> {
    host("blkid", &["-p", "-o", "export", image.to_str().unwrap()])
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .filter(|(k, _)| ["TYPE", "LABEL", "UUID"].contains(&k.as_str()))
        .collect()
}

fn make_disks(dir: &Path) -> (PathBuf, PathBuf) {
    let content = dir.join("content");
    std::fs::create_dir_all(&content).unwrap();
    std::fs::write(content.join("hello.txt"), "hello from ext4\n").unwrap();
    let ext4 = dir.join("ext4.img");
    host(
        "mke2fs",
        &[
            "-q",
            "-t",
            "ext4",
            "-L",
            "KBOOTEXT",
            "-U",
            "3f1c9a52-7d1e-4c55-9a0e-2b8f6e0d1c11",
            "-d",
            content.to_str().unwrap(),
            ext4.to_str().unwrap(),
            "16M",
        ],
    );
    let vfat = dir.join("vfat.img");
    host(
        "mkfs.fat",
        &[
            "-C",
            "-n",
            "KBOOTFAT",
            "-i",
            "1234ABCD",
            vfat.to_str().unwrap(),
            "8192",
        ],
    );
    std::fs::write(dir.join("fat.txt"), "hello from vfat\n").unwrap();
    let out = qemu_tests::host_tools::command("mcopy")
        .env("MTOOLS_SKIP_CHECK", "1")
        .args([
            "-i",
            vfat.to_str().unwrap(),
            dir.join("fat.txt").to_str().unwrap(),
            "::fat.txt",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mcopy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (ext4, vfat)
}

fn sh(qemu: &mut Qemu, command: &str) -> String {
    match qemu.shell(command, STEP) {
        Ok((out, 0)) => out,
        Ok((out, status)) => panic!(
            "`{command}` exited {status}:\n{out}\n(log: {})",
            qemu.log_path().display()
        ),
        Err(e) => panic!("`{command}`: {e}"),
    }
}

/// A printk line on the console: "[    1.802401] tsc: …" (CONFIG_PRINTK_TIME).
fn is_kernel_line(line: &str) -> bool {
    let line = line.trim_start_matches(['\r', '\n']);
    let Some(rest) = line.strip_prefix('[') else {
        return false;
    };
    let Some((stamp, _)) = rest.split_once("] ") else {
        return false;
    };
    let stamp = stamp.trim_start();
    stamp.contains('.') && stamp.chars().all(|c| c.is_ascii_digit() || c == '.')
}

#[test]
fn serial_session_shell_blkid_mount_respawn_poweroff() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let dir = scratch();
    let (ext4, vfat) = make_disks(&dir);

    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    // No kboot.debug and no loglevel=: after `kboot: ready` the kernel's own messages must
    // stay off the console (they used to land in the middle of the shell's output).
    config.cmdline = "console=ttyS0,115200 kboot.mode=shell".into();
    config.extra_disks = vec![ext4.clone(), vfat.clone()];
    let mut qemu = Qemu::start("userspace_session", &config).unwrap();
    qemu.expect("kboot: ready", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("# ", STEP).unwrap_or_else(|e| panic!("{e}"));

    // Applet links: one per applet the binary lists, plus kboot itself.
    let applets: usize = sh(&mut qemu, "kboot --list | wc -l")
        .trim()
        .parse()
        .unwrap();
    let links: usize = sh(&mut qemu, "ls /bin | wc -l").trim().parse().unwrap();
    assert!(applets >= 40, "only {applets} applets");
    assert_eq!(links, applets + 1, "one /bin link per applet plus kboot");

    assert!(sh(&mut qemu, "cat /proc/cmdline").contains("kboot.mode=shell"));
    assert_eq!(
        sh(
            &mut qemu,
            "echo hello world | tr a-z A-Z > /tmp/x && cat /tmp/x"
        )
        .trim(),
        "HELLO WORLD"
    );
    let (_, status) = qemu.shell("false", STEP).unwrap();
    assert_eq!(status, 1);
    assert_eq!(sh(&mut qemu, "false || echo fallback").trim(), "fallback");

    for (device, image) in [("/dev/vda", &ext4), ("/dev/vdb", &vfat)] {
        let ours = sh(&mut qemu, &format!("blkid {device}"));
        for (key, value) in host_blkid(image) {
            assert!(
                ours.contains(&format!("{key}=\"{value}\"")),
                "blkid {device}: want {key}=\"{value}\" in {ours:?}"
            );
        }
    }
    sh(&mut qemu, "mkdir -p /mnt/e /mnt/f && mount -o ro /dev/vda /mnt/e && mount -t vfat -o ro /dev/vdb /mnt/f");
    assert_eq!(
        sh(&mut qemu, "cat /mnt/e/hello.txt").trim(),
        "hello from ext4"
    );
    assert_eq!(
        sh(&mut qemu, "cat /mnt/f/fat.txt").trim(),
        "hello from vfat"
    );
    let mounts = sh(&mut qemu, "mount");
    assert!(
        mounts.contains("/dev/vda on /mnt/e type ext4 (ro"),
        "{mounts}"
    );

    // Kill the front end: PID 1 must start a new one.
    let old_pid = sh(&mut qemu, "echo $$").trim().to_string();
    qemu.send("kill -9 $$\n").unwrap();
    qemu.expect("init: sh on /dev/ttyS0 exited", STEP)
        .unwrap_or_else(|e| panic!("PID 1 did not see the shell die: {e}"));
    qemu.expect("kboot# ", STEP)
        .unwrap_or_else(|e| panic!("no new prompt after kill -9: {e}"));
    let new_pid = sh(&mut qemu, "echo $$").trim().to_string();
    assert_ne!(old_pid, new_pid, "the shell was not respawned");

    let output = qemu.output();
    let session = output
        .split_once("kboot: ready")
        .map(|(_, after)| after)
        .unwrap_or_default();
    let kernel_lines: Vec<&str> = session.lines().filter(|l| is_kernel_line(l)).collect();
    assert!(
        kernel_lines.is_empty(),
        "kernel messages reached the console after `kboot: ready`: {kernel_lines:?} (log: {})",
        qemu.log_path().display()
    );

    qemu.send("poweroff\n").unwrap();
    let status = qemu.wait_exit(Duration::from_secs(60)).unwrap_or_else(|| {
        panic!(
            "still running after poweroff (log: {})",
            qemu.log_path().display()
        )
    });
    assert!(status.success());
}
