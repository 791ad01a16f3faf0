//! NFS against a real server: nfs-ganesha (userspace, no kernel nfsd) and its rpcbind
//! started by the test in a private network namespace with its own configuration
//! (`qemu_tests::nfs_server`), reached by the guest, whose QEMU runs in the same namespace,
//! as 10.0.2.2 through QEMU's user networking. kboot's shell reads files by
//! `server:/export/file` path names, and kboot as the capture kernel saves a dump with
//! `kboot.dump=nfs://10.0.2.2/export`, which the host re-opens with `kboot triage`.

use std::time::Duration;

use qemu_tests::disks::sha256;
use qemu_tests::kdump::{crash_and_capture, files_in, work_dir, Production};
use qemu_tests::nfs_server::{Ganesha, EXPORT};
use qemu_tests::{Artifacts, BootPath, MachineConfig, Qemu};

const BOOT: Duration = Duration::from_secs(120);
const STEP: Duration = Duration::from_secs(90);
/// How the guest sees the host's loopback under QEMU user networking.
const HOST: &str = "10.0.2.2";

fn ganesha(dir: &std::path::Path, export: &std::path::Path) -> Ganesha {
    Ganesha::start(dir, export).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_shell_reads_files_from_nfs_ganesha_by_path_name() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let dir = work_dir("nfs-shell");
    let export = dir.join("export");
    std::fs::create_dir_all(export.join("boot")).expect("mkdir");
    std::fs::write(export.join("hello.txt"), "hello over nfs\n").expect("write");
    std::fs::copy(
        qemu_tests::machine::debian_kernel(),
        export.join("boot/vmlinuz"),
    )
    .expect("copy kernel");
    let server = ganesha(&dir, &export);

    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = "console=ttyS0,115200 kboot.mode=shell".into();
    config.memory_mib = 512;
    config.extra_args = vec!["-nic".into(), "user,model=virtio-net-pci".into()];
    config.netns = Some(server.netns());
    let mut qemu = Qemu::start("nfs_shell", &config).expect("qemu");
    qemu.expect("kboot: ready", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("# ", STEP).unwrap_or_else(|e| panic!("{e}"));
    let log = server.log.display().to_string();
    let mut sh = |command: &str| {
        qemu.shell(command, STEP)
            .unwrap_or_else(|e| panic!("`{command}`: {e} (ganesha's log: {log})"))
    };
    sh("dmesg -n 1");
    let (lease, status) = sh("dhcp");
    assert_eq!(status, 0, "{lease}");

    let (out, status) = sh(&format!("cat {HOST}:{EXPORT}/hello.txt"));
    assert_eq!(
        (out.trim(), status),
        ("hello over nfs", 0),
        "ganesha: {log}"
    );
    let (mounts, _) = sh("mount");
    assert!(
        mounts.contains(&format!("{HOST}:{EXPORT} on ")) && mounts.contains("type nfs (ro"),
        "{mounts}"
    );
    // A file in a subdirectory of the export, 8 MB, arrives whole.
    let (sum, status) = sh(&format!("sha256sum {HOST}:{EXPORT}/boot/vmlinuz"));
    assert_eq!(status, 0, "{sum}");
    let host_sum = sha256(&export.join("boot/vmlinuz"));
    assert!(
        sum.lines().any(|l| l.starts_with(&host_sum)),
        "{sum} vs {host_sum}"
    );
    // An export the server does not have: an error naming it, no hang.
    let (out, status) = sh(&format!("cat {HOST}:/no-such-export/file"));
    assert_ne!(status, 0, "{out}");
    assert!(
        out.contains(&format!("{HOST}:/no-such-export: mount failed")),
        "{out}"
    );
}

#[test]
fn a_capture_saves_its_dump_to_nfs_ganesha() {
    let dir = work_dir("nfs");
    let export = dir.join("export");
    std::fs::create_dir_all(&export).expect("mkdir");
    let server = ganesha(&dir, &export);

    let capture_extra = format!("kboot.dump=nfs://{HOST}{EXPORT}");
    let production = Production {
        crashkernel: None,
        extra: "",
        capture_extra: &capture_extra,
        disks: Vec::new(),
        extra_args: vec!["-nic".into(), "user,model=virtio-net-pci".into()],
        capture_overlay: None,
        before_crash: "",
        netns: Some(server.netns()),
    };
    let console = crash_and_capture("capture_nfs", &dir, production).replace('\r', "");

    let captures: Vec<_> = std::fs::read_dir(&export)
        .expect("export dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(
        captures.len(),
        1,
        "{captures:?} (log in target/qemu-logs/capture_nfs.log, ganesha's in {})",
        server.log.display()
    );
    let capture = &captures[0];
    let name = capture
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    assert!(
        console.contains(&format!("kboot: dump: saved to {HOST}:{EXPORT}/{name}")),
        "the console does not say where the dump went"
    );
    let dump_name = format!("dump.{}", &name[..15]);
    assert_eq!(
        files_in(capture),
        ["dmesg.txt", dump_name.as_str(), "triage.json", "triage.txt"],
        "no temporary file may stay"
    );

    // The dump written over NFS re-opens on the host with the panic the guest reported.
    qemu_tests::kdump::assert_dump_shows_sysrq_panic(&capture.join(&dump_name));
    let saved = std::fs::read_to_string(capture.join("triage.txt")).expect("triage.txt");
    assert!(saved.contains("sysrq triggered crash"), "{saved}");
}
