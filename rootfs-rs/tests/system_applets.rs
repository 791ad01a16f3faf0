//! System applets: blkid against util-linux on real images, and /proc, /sys readers.
mod common;
use std::collections::BTreeMap;

use common::*;

/// TYPE, LABEL and UUID from `blkid -o export` style output.
fn export_tags(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| matches!(*k, "TYPE" | "LABEL" | "UUID"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn make_image(d: &TempDir, name: &str, size_mib: u64, mkfs: &[&str]) -> Option<String> {
    let path = d.join(name);
    let f = std::fs::File::create(&path).ok()?;
    f.set_len(size_mib << 20).ok()?;
    let path_s = path.to_string_lossy().into_owned();
    let mut args: Vec<&str> = mkfs[1..].to_vec();
    args.push(&path_s);
    let o = host_in(d.path(), mkfs[0], &args, "");
    if code(&o) != 0 {
        eprintln!("skipping {name}: {} failed: {}", mkfs[0], stderr(&o));
        return None;
    }
    Some(path_s)
}

#[test]
fn blkid_agrees_with_util_linux() {
    qemu_tests::host_tools::require(&["blkid", "mkfs.ext4"]);
    let d = TempDir::new("blkid");
    let images = [
        (
            "ext4.img",
            16,
            &["mkfs.ext4", "-q", "-F", "-L", "kboot-root"][..],
        ),
        ("ext2.img", 8, &["mkfs.ext2", "-q", "-F", "-L", "old"][..]),
        (
            "ext3.img",
            8,
            &["mkfs.ext3", "-q", "-F", "-L", "journaled"][..],
        ),
        ("fat32.img", 40, &["mkfs.fat", "-F", "32", "-n", "ESP"][..]),
        ("fat16.img", 16, &["mkfs.fat", "-F", "16", "-n", "BOOT"][..]),
        ("swap.img", 8, &["mkswap", "-L", "swappy"][..]),
    ];
    let mut paths: Vec<(String, String)> = Vec::new();
    for (name, size, mkfs) in images {
        paths.extend(make_image(&d, name, size, mkfs).map(|p| (name.to_string(), p)));
    }
    // More formats: xfsprogs, btrfs-progs, genisoimage, cryptsetup (installed by `cargo xtask deps`).
    let optional: [(&str, u64, &[&str]); 2] = [
        ("xfs.img", 300, &["mkfs.xfs", "-q", "-L", "xfsroot"]),
        ("btrfs.img", 120, &["mkfs.btrfs", "-q", "-L", "btrroot"]),
    ];
    for (name, size, mkfs) in optional {
        qemu_tests::host_tools::require(&[mkfs[0]]);
        paths.extend(make_image(&d, name, size, mkfs).map(|p| (name.to_string(), p)));
    }
    qemu_tests::host_tools::require(&["genisoimage"]);
    {
        d.write("isotree/boot/vmlinuz", "kernel");
        let iso = d.join("cd.iso").to_string_lossy().into_owned();
        let made = host_in(
            d.path(),
            "genisoimage",
            &["-quiet", "-V", "KBOOT_CD", "-o", &iso, "isotree"],
            "",
        );
        if code(&made) == 0 {
            paths.push(("cd.iso".into(), iso));
        }
    }
    qemu_tests::host_tools::require(&["cryptsetup"]);
    {
        for version in ["luks1", "luks2"] {
            let name = format!("{version}.img");
            let path = d.join(&name);
            if std::fs::File::create(&path)
                .and_then(|f| f.set_len(20 << 20))
                .is_err()
            {
                continue;
            }
            let path = path.to_string_lossy().into_owned();
            let mut args = vec![
                "luksFormat",
                "-q",
                "--type",
                version,
                "--pbkdf",
                "pbkdf2",
                "--pbkdf-force-iterations",
                "1000",
            ];
            if version == "luks2" {
                args.extend(["--label", "secret"]);
            }
            args.extend([path.as_str(), "-"]);
            if code(&host_in(d.path(), "cryptsetup", &args, "passphrase")) == 0 {
                paths.push((name, path));
            }
        }
    }
    for (name, path) in &paths {
        let ours = kboot("blkid", &["-o", "export", path], "");
        let theirs = host_in(d.path(), "blkid", &["-o", "export", path], "");
        let ours_tags = export_tags(&stdout(&ours));
        assert_eq!(ours_tags, export_tags(&stdout(&theirs)), "{name}");
        assert!(ours_tags.contains_key("UUID"), "{name}: {ours_tags:?}");
        assert!(
            ours_tags.contains_key("LABEL") || name == "luks1.img",
            "{name}: {ours_tags:?}"
        );
        assert_eq!(code(&ours), 0);
        let value = kboot("blkid", &["-o", "value", "-s", "TYPE", path], "");
        assert_eq!(stdout(&value).trim(), ours_tags["TYPE"]);
    }
    eprintln!(
        "blkid compared on: {:?}",
        paths.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>()
    );
    assert!(paths.len() >= 4, "too few images could be made");
    // Not a file system: nothing printed, status 2 like util-linux.
    let blank = d.join("blank.img");
    std::fs::write(&blank, vec![0u8; 100_000]).expect("write");
    let o = kboot("blkid", &[&blank.to_string_lossy()], "");
    assert_eq!((stdout(&o), code(&o)), (String::new(), 2));
    let o = kboot("blkid", &["/nonexistent/dev"], "");
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("blkid: /nonexistent/dev: No such file or directory"));
}

#[test]
fn mount_lists_proc_mounts_and_rejects_bad_calls() {
    let o = kboot("mount", &[], "");
    assert_eq!(code(&o), 0);
    let text = stdout(&o);
    let proc_mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    assert_eq!(text.lines().count(), proc_mounts.lines().count());
    assert!(
        text.lines().any(|l| l.contains(" on /proc type proc (")),
        "{text}"
    );
    let o = kboot("mount", &["-t", "proc"], "");
    assert!(stdout(&o).lines().all(|l| l.contains(" type proc ")));
    let d = TempDir::new("mount");
    let o = kboot(
        "mount",
        &[
            "-t",
            "ext4",
            "/nonexistent-device",
            &d.path().to_string_lossy(),
        ],
        "",
    );
    assert_eq!(code(&o), 32);
    assert!(
        stderr(&o).starts_with("mount: mounting /nonexistent-device on "),
        "{}",
        stderr(&o)
    );
    let o = kboot("umount", &[&d.path().to_string_lossy()], "");
    assert_eq!(code(&o), 32);
}

#[test]
fn lsblk_lists_sys_block() {
    let o = kboot("lsblk", &[], "");
    assert_eq!(code(&o), 0);
    let text = stdout(&o);
    assert!(text.starts_with("NAME"), "{text}");
    let mut disks: Vec<String> = std::fs::read_dir("/sys/block")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    disks.sort();
    let listed: Vec<String> = text
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with(['├', '└']))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect();
    assert_eq!(listed, disks);
}

#[test]
fn ps_uname_uptime_free_kill() {
    let o = kboot("ps", &[], "");
    let text = stdout(&o);
    assert!(text.starts_with("  PID  PPID S   TIME COMMAND"), "{text}");
    let me = std::process::id().to_string();
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().next() == Some(&me)),
        "own test process listed"
    );
    assert!(text
        .lines()
        .any(|l| l.split_whitespace().next() == Some("1")));
    for args in [&["-r"][..], &["-m"], &["-s"], &["-n"], &["-a"], &[]] {
        same_as_host(std::path::Path::new("."), "uname", "uname", args, "");
    }
    same_as_host(std::path::Path::new("."), "hostname", "hostname", &[], "");
    assert!(stdout(&kboot("uptime", &[], "")).contains(" up "));
    let free = stdout(&kboot("free", &[], ""));
    let total: u64 = free
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let want: u64 = meminfo
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    assert_eq!(total, want);
    assert_eq!(stdout(&kboot("kill", &["-l", "9"], "")), "KILL\n");
    assert_eq!(stdout(&kboot("kill", &["-l", "143"], "")), "TERM\n");
    let mut child = qemu_tests::host_tools::command("sleep")
        .arg("30")
        .spawn()
        .expect("spawn sleep");
    let pid = child.id().to_string();
    assert_eq!(code(&kboot("kill", &["-0", &pid], "")), 0);
    assert_eq!(code(&kboot("kill", &["-KILL", &pid], "")), 0);
    let status = child.wait().expect("wait");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    assert_eq!(code(&kboot("kill", &["-BOGUS", &pid], "")), 1);
    assert_eq!(code(&kboot("kill", &["999999999"], "")), 1);
}

#[test]
fn date_sleep_env_which_true_false() {
    same_as_host(
        std::path::Path::new("."),
        "date",
        "date",
        &["-u", "-d", "@86400", "+%Y-%m-%d %H:%M:%S %j %a %b"],
        "",
    );
    same_as_host(
        std::path::Path::new("."),
        "date",
        "date",
        &["-u", "-d", "@1700000000"],
        "",
    );
    let started = std::time::Instant::now();
    assert_eq!(code(&kboot("sleep", &["0.3"], "")), 0);
    assert!(started.elapsed().as_millis() >= 300);
    assert_eq!(code(&kboot("sleep", &["abc"], "")), 1);
    let o = kboot("env", &["-i", "A=1", "B=2"], "");
    assert_eq!(stdout(&o), "A=1\nB=2\n");
    let o = kboot("env", &["-i", "X=y", "sh", "-c", "echo $X"], "");
    assert_eq!(stdout(&o), "y\n");
    same_as_host(
        std::path::Path::new("."),
        "which",
        "which",
        &["ls", "sh"],
        "",
    );
    assert_eq!(code(&kboot("which", &["no-such-tool-here"], "")), 1);
    assert_eq!(code(&kboot("true", &[], "")), 0);
    assert_eq!(code(&kboot("false", &[], "")), 1);
}

#[test]
fn dmesg_reads_kmsg_when_allowed() {
    let o = kboot("dmesg", &[], "");
    if std::fs::File::open("/dev/kmsg").is_err() {
        assert_eq!(code(&o), 1);
        return;
    }
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // util-linux reads the same live log: every record both printed must be printed the
    // same way, continuation lines included. The log may grow between the two reads, and
    // the ring may drop its oldest records, so compare the lines from the first one
    // both saw up to the shorter end.
    let ours = stdout(&o);
    let theirs = qemu_tests::host_tools::command("dmesg")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("run util-linux dmesg");
    let theirs = String::from_utf8_lossy(&theirs.stdout).into_owned();
    let (ours, theirs): (Vec<&str>, Vec<&str>) = (ours.lines().collect(), theirs.lines().collect());
    let start = theirs
        .first()
        .and_then(|first| ours.iter().position(|l| l == first))
        .unwrap_or(0);
    let ours = &ours[start..];
    let common = ours.len().min(theirs.len());
    assert!(common > 0 || theirs.is_empty(), "nothing in common");
    assert_eq!(ours[..common], theirs[..common]);
}

/// A recorded /dev/kmsg stream with multi-line records, escapes and dictionary lines,
/// printed as util-linux prints it (expected output written by hand).
#[test]
fn dmesg_prints_a_recorded_stream_like_util_linux() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/kmsg");
    let stream = data.join("recorded.kmsg");
    let o = kboot("dmesg", &["-K", stream.to_str().expect("utf-8 path")], "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let expected = std::fs::read_to_string(data.join("expected.txt")).expect("expected.txt");
    assert_eq!(stdout(&o), expected);
    let raw = kboot(
        "dmesg",
        &["-r", "--kmsg-file", stream.to_str().expect("utf-8 path")],
        "",
    );
    let excerpt = std::fs::read_to_string(data.join("expected-raw-excerpt.txt")).expect("excerpt");
    let printed = stdout(&raw);
    let mut lines = printed.lines();
    for want in excerpt.lines() {
        assert!(
            lines.any(|l| l == want),
            "raw output lacks {want:?} in order:\n{printed}"
        );
    }
    let missing = kboot("dmesg", &["-K", "/nonexistent/kmsg"], "");
    assert_eq!(code(&missing), 1);
    assert!(
        stderr(&missing).contains("/nonexistent/kmsg"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn multicall_dispatch() {
    let o = std::process::Command::new(KBOOT)
        .arg("--list")
        .output()
        .expect("run");
    let names: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect();
    for needed in ["sh", "ls", "blkid", "mount", "grep", "sed", "dmesg", "ps"] {
        assert!(
            names.iter().any(|n| n == needed),
            "{needed} missing from --list"
        );
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    // argv[0] selects the applet, busybox style.
    let d = TempDir::new("multicall");
    let link = d.join("echo");
    std::os::unix::fs::symlink(KBOOT, &link).expect("symlink");
    let o = std::process::Command::new(&link)
        .args(["via", "argv0"])
        .output()
        .expect("run");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "via argv0\n");
    let o = std::process::Command::new(KBOOT)
        .arg("no-such-applet")
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(127));
}

#[test]
fn interactive_shell_edits_completes_and_recalls() {
    qemu_tests::host_tools::require(&["script"]);
    let d = TempDir::new("pty");
    d.write("unique-file-name.txt", "content-of-file\n");
    // Keys: tab-complete "unique-f" then run; recall it with Up and edit the command word
    // (Home, Delete x3, "head -n 1"); Ctrl-C on a half line; exit status 3.
    let keys = "cat uniq\t\r\x1b[A\x1b[H\x1b[3~\x1b[3~\x1b[3~head -n 1\rhalf-typed\x03exit 3\r";
    let cmd = format!("cd {} && {KBOOT} sh", d.path().display());
    let mut child = qemu_tests::host_tools::command("script")
        .args(["-qfec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn script");
    {
        use std::io::Write;
        let mut input = child.stdin.take().expect("stdin");
        for chunk in keys.split_inclusive('\r') {
            let _ = input.write_all(chunk.as_bytes());
            let _ = input.flush();
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let out = child.wait_with_output().expect("wait");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("kboot# "), "{text}");
    assert_eq!(text.matches("content-of-file").count(), 2, "{text}");
    assert!(text.contains("head -n 1 unique-file-name.txt"), "{text}");
    assert!(text.contains("^C"), "{text}");
    assert_eq!(out.status.code(), Some(3), "{text}");
}

#[test]
fn tmpfs_mount_and_umount_in_a_private_namespace() {
    if !qemu_tests::host_tools::command("unshare")
        .args(["-m", "true"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
    {
        eprintln!("mount namespaces unavailable: skipping");
        return;
    }
    let d = TempDir::new("tmpfs");
    let dir = d.path().to_string_lossy().into_owned();
    let script = format!("mount -t tmpfs -o size=1m,mode=700,nosuid none {dir} && mount | grep ' {dir} ' && echo data > {dir}/f && df {dir} | wc -l && umount {dir} && test ! -e {dir}/f && echo gone");
    let o = host_in(d.path(), "unshare", &["-m", KBOOT, "sh", "-c", &script], "");
    let text = stdout(&o);
    assert_eq!(code(&o), 0, "{text}{}", stderr(&o));
    assert!(
        text.starts_with(&format!("none on {dir} type tmpfs (rw,nosuid,")),
        "{text}"
    );
    assert!(text.contains("size=1024k,mode=700)"), "{text}");
    assert!(text.ends_with("2\ngone\n"), "{text}");
}

#[test]
fn root_switching_and_module_tools_report_errors() {
    // chroot to / keeps the same tree, so the host's echo runs.
    let o = kboot("chroot", &["/", "echo", "inside"], "");
    assert_eq!((stdout(&o), code(&o)), ("inside\n".to_string(), 0));
    let o = kboot("chroot", &["/nonexistent-root", "true"], "");
    assert_eq!(code(&o), 125);
    assert!(stderr(&o).contains(
        "chroot: cannot change root directory to '/nonexistent-root': No such file or directory"
    ));
    let o = kboot("switch_root", &["/mnt", "/sbin/init"], "");
    assert_eq!(
        (stderr(&o), code(&o)),
        ("switch_root: not running as PID 1\n".to_string(), 1)
    );
    let o = kboot("insmod", &["/nonexistent/mod.ko"], "");
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("insmod: /nonexistent/mod.ko: No such file or directory"));
    let o = kboot("rmmod", &["surely_not_loaded_module"], "");
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).starts_with("rmmod: cannot remove 'surely_not_loaded_module': "),
        "{}",
        stderr(&o)
    );
    let o = kboot("lsmod", &[], "");
    match std::fs::read_to_string("/proc/modules") {
        Ok(text) => assert_eq!(stdout(&o).lines().count(), text.lines().count() + 1),
        Err(_) => assert_eq!(code(&o), 1),
    }
}

#[test]
fn mount_image_file_through_loop_device() {
    let usable = std::path::Path::new("/dev/loop-control").exists()
        && {
            qemu_tests::host_tools::require(&["mkfs.ext4"]);
            true
        }
        && qemu_tests::host_tools::command("unshare")
            .args(["-m", "true"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
    if !usable {
        eprintln!("loop devices or mount namespaces unavailable: skipping");
        return;
    }
    let d = TempDir::new("loop");
    d.write("content/boot/grub/grub.cfg", "set default=0\n");
    std::fs::create_dir(d.join("mnt")).expect("mkdir");
    let Some(image) = make_image(
        &d,
        "root.img",
        16,
        &["mkfs.ext4", "-q", "-F", "-L", "looped", "-d", "content"],
    ) else {
        return;
    };
    let mnt = d.join("mnt").to_string_lossy().into_owned();
    let script = format!(
        "mount {image} {mnt} && mount | grep -c '^/dev/loop[0-9]* on {mnt} type ext4 ' && cat {mnt}/boot/grub/grub.cfg && umount {mnt} && \
         mount -o ro,loop {image} {mnt} && touch {mnt}/x; echo touch=$?; umount {mnt}"
    );
    let o = host_in(d.path(), "unshare", &["-m", KBOOT, "sh", "-c", &script], "");
    assert_eq!(stdout(&o), "1\nset default=0\ntouch=1\n", "{}", stderr(&o));
    assert!(
        stderr(&o).contains("Read-only file system"),
        "{}",
        stderr(&o)
    );
    // Autoclear: no loop device still points at the image.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let loops = stdout(&host_in(d.path(), "losetup", &["-a"], ""));
    assert!(!loops.contains("root.img"), "{loops}");
}

#[test]
fn hostname_set_in_private_uts_namespace_and_lsblk_f() {
    if qemu_tests::host_tools::command("unshare")
        .args(["-u", "true"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
    {
        let d = TempDir::new("uts");
        let o = host_in(
            d.path(),
            "unshare",
            &[
                "-u",
                KBOOT,
                "sh",
                "-c",
                "hostname kboot-test && hostname && uname -n",
            ],
            "",
        );
        assert_eq!(stdout(&o), "kboot-test\nkboot-test\n", "{}", stderr(&o));
        d.write("name", "from-file\n");
        let o = host_in(
            d.path(),
            "unshare",
            &["-u", KBOOT, "sh", "-c", "hostname -F name; hostname"],
            "",
        );
        assert_eq!(stdout(&o), "from-file\n");
    }
    let o = kboot("lsblk", &["-f"], "");
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).starts_with("NAME"), "{}", stdout(&o));
    assert!(stdout(&o)
        .lines()
        .next()
        .unwrap_or("")
        .contains("FSTYPE LABEL"));
}
