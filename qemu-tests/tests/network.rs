//! Network boot and path names in a real boot under TCG, against a real web server:
//! Python's http.server on the host's loopback, which the guest reaches as 10.0.2.2
//! through QEMU's user networking, whose built-in DHCP server also hands out the boot
//! file naming the network menu source. Serial logs of failures are kept by the harness.
//! Network boot over TFTP uses QEMU's own TFTP server (`-nic user,tftp=DIR,bootfile=NAME`):
//! a PXELINUX tree whose per-MAC config wins over `default`, and an iPXE menu script,
//! each booting Debian's kernel with the target initrd; and the same two trees served
//! by tftpd-hpa, started by the test on the host's loopback.
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use qemu_tests::disks::{gpt_ext4_disk, sha256, target_initrd};
use qemu_tests::servers::TftpdHpa;
use qemu_tests::{Artifacts, BootPath, MachineConfig, Qemu};

const BOOT: Duration = Duration::from_secs(120);
const STEP: Duration = Duration::from_secs(60);
/// How the guest sees the host's loopback under QEMU user networking.
const HOST: &str = "10.0.2.2";

struct WebServer {
    child: Child,
    port: u16,
}

impl Drop for WebServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path) -> WebServer {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let child = qemu_tests::host_tools::command("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1"])
        .arg(port.to_string())
        .arg("--directory")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 -m http.server");
    let server = WebServer { child, port };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "http.server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

fn scratch(name: &str) -> PathBuf {
    qemu_tests::machine::fresh_test_dir(name)
}

fn user_network(boot_file: Option<&str>) -> Vec<String> {
    let mut nic = "user,model=virtio-net-pci".to_string();
    if let Some(f) = boot_file {
        nic.push_str(&format!(",bootfile={f}"));
    }
    vec!["-nic".into(), nic]
}

#[test]
fn dhcp_boot_file_names_a_network_menu_whose_entry_is_kexeced() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let dir = scratch("network-menu");
    let served = dir.join("www/pxe");
    std::fs::create_dir_all(&served).expect("mkdir");
    std::fs::copy(qemu_tests::machine::debian_kernel(), served.join("vmlinuz"))
        .expect("copy kernel");
    std::fs::write(served.join("initrd.img"), target_initrd(&dir)).expect("write initrd");
    std::fs::write(
        served.join("kboot.toml"),
        "[entry.netdebian]\nlabel = \"Network Debian\"\nkernel = \"vmlinuz\"\ninitrd = \"initrd.img\"\ncmdline = \"console=ttyS0,115200 net_test=served\"\n",
    )
    .expect("write kboot.toml");
    let server = serve(&dir.join("www"));
    let source = format!("http://{HOST}:{}/pxe/kboot.toml", server.port);

    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = "console=ttyS0,115200 ip=dhcp kboot.timeout=1".into();
    config.memory_mib = 768;
    config.extra_args = user_network(Some(&source));
    let mut qemu = Qemu::start("network_menu", &config).expect("qemu");
    qemu.expect("kboot: network: eth0 10.0.2.15/24 via 10.0.2.2", BOOT)
        .unwrap_or_else(|e| panic!("DHCP did not configure eth0: {e}"));
    qemu.expect("Network Debian", STEP)
        .unwrap_or_else(|e| panic!("the served entry is not in the menu: {e}"));
    qemu.expect("kboot: booting 'Network Debian'", STEP)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect(
        &format!("kboot: fetching http://{HOST}:{}/pxe/vmlinuz", server.port),
        STEP,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("TARGET-BOOTED", BOOT)
        .unwrap_or_else(|e| panic!("the served kernel did not run the served initrd: {e}"));
    qemu.expect("net_test=served", STEP)
        .unwrap_or_else(|e| panic!("the entry's cmdline was not used: {e}"));
    assert!(
        qemu.wait_exit(Duration::from_secs(60)).is_some(),
        "no poweroff"
    );
}

fn sh(qemu: &mut Qemu, command: &str) -> (String, i32) {
    qemu.shell(command, STEP)
        .unwrap_or_else(|e| panic!("`{command}`: {e} (log: {})", qemu.log_path().display()))
}

fn ok(qemu: &mut Qemu, command: &str) -> String {
    let (out, status) = sh(qemu, command);
    assert_eq!(status, 0, "`{command}`:\n{out}");
    out
}

#[test]
fn shell_path_names_over_dhcp_disks_and_http() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let dir = scratch("network-paths");
    let www = dir.join("www");
    std::fs::create_dir_all(&www).expect("mkdir");
    std::fs::copy(qemu_tests::machine::debian_kernel(), www.join("vmlinuz")).expect("copy kernel");
    std::fs::write(www.join("hello.txt"), "hello over http\n").expect("write");
    let server = serve(&www);
    let base = format!("http://{HOST}:{}", server.port);
    let disk = dir.join("testroot.img");
    gpt_ext4_disk(
        &disk,
        "TESTROOT",
        &[("etc/hostname", b"testroot-host\n".to_vec())],
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = "console=ttyS0,115200 kboot.mode=shell".into();
    config.memory_mib = 768;
    config.extra_disks = vec![disk];
    config.extra_args = user_network(None);
    let mut qemu = Qemu::start("network_paths", &config).expect("qemu");
    qemu.expect("kboot: ready", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("# ", STEP).unwrap_or_else(|e| panic!("{e}"));
    // Kernel messages (EXT4 mounts) would interleave with the commands' output.
    ok(&mut qemu, "dmesg -n 1");

    let lease = ok(&mut qemu, "dhcp");
    assert!(
        lease.contains("eth0: 10.0.2.15/24 router 10.0.2.2 dns 10.0.2.3"),
        "{lease}"
    );
    assert!(ok(&mut qemu, "ip addr show dev eth0").contains("inet 10.0.2.15/24"));
    assert!(ok(&mut qemu, "cat /etc/resolv.conf").contains("nameserver 10.0.2.3"));

    assert_eq!(
        ok(&mut qemu, "cat vda1:/etc/hostname").trim(),
        "testroot-host"
    );
    assert_eq!(
        ok(&mut qemu, "cat LABEL=TESTROOT:/etc/hostname").trim(),
        "testroot-host"
    );
    assert!(ok(&mut qemu, "mount").contains("/dev/vda1 on /run/kboot/mnt/_dev_vda1 type ext4 (ro"));
    // `//path` is kboot's own file system, whatever `/` means elsewhere.
    assert_eq!(
        ok(&mut qemu, "echo own > /tmp/own.txt && cat //tmp/own.txt").trim(),
        "own"
    );
    assert!(ok(&mut qemu, "cat //proc/cmdline").contains("kboot.mode=shell"));

    assert_eq!(
        ok(&mut qemu, &format!("cat {base}/hello.txt")).trim(),
        "hello over http"
    );
    let (listing, status) = sh(&mut qemu, &format!("ls {base}/"));
    assert_eq!(status, 1);
    assert!(listing.contains("not a directory"), "{listing}");

    let download = ok(&mut qemu, &format!("wget -O /tmp/vmlinuz {base}/vmlinuz"));
    let rate = download
        .lines()
        .find(|l| l.contains("MiB/s"))
        .unwrap_or_else(|| panic!("no rate in {download}"));
    eprintln!("HTTP download in QEMU (TCG): {rate}");
    let guest_sum = ok(
        &mut qemu,
        &format!("cp {base}/vmlinuz /tmp/k && sha256sum /tmp/k"),
    );
    let host_sum = sha256(&www.join("vmlinuz"));
    // The download's progress line comes first (stderr shares the console).
    assert!(
        guest_sum
            .lines()
            .any(|l| l.starts_with(&format!("{host_sum}  /tmp/k"))),
        "{guest_sum} vs {host_sum}"
    );

    // Errors: clear, and quick (slirp refuses port 1 at once).
    let started = Instant::now();
    let (refused, status) = sh(&mut qemu, &format!("cat http://{HOST}:1/vmlinuz"));
    assert_eq!(status, 1);
    assert!(refused.contains("can't connect"), "{refused}");
    assert!(started.elapsed() < Duration::from_secs(30));
    let (bad, status) = sh(&mut qemu, "cat sdz9:/etc/fstab");
    assert_eq!(status, 1);
    assert!(bad.contains("no block device sdz9"), "{bad}");

    qemu.send("poweroff\n").expect("send");
    assert!(
        qemu.wait_exit(Duration::from_secs(60)).is_some(),
        "no poweroff"
    );
}

#[test]
fn a_path_name_typed_at_the_menu_boots_that_kernel() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let dir = scratch("typed-path");
    let kernel = std::fs::read(qemu_tests::machine::debian_kernel()).expect("read kernel");
    let disk = dir.join("root.img");
    gpt_ext4_disk(&disk, "TYPEDROOT", &[("boot/vmlinuz", kernel)])
        .unwrap_or_else(|e| panic!("{e}"));

    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    // The disk has no boot config, so the menu has no entry: the typed kernel gets kboot's
    // own command line less its kboot.* switches, and `/boot/vmlinuz` means the root=
    // filesystem's, as in kboot 2006. The kernel prints its command line as it starts.
    config.cmdline =
        "console=ttyS0,115200 root=LABEL=TYPEDROOT kboot.timeout=-1 pathboot_test=1".into();
    config.memory_mib = 768;
    config.extra_disks = vec![disk];
    let mut qemu = Qemu::start("typed_path", &config).expect("qemu");
    qemu.expect("kboot: menu", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("p: path", STEP)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.send("p").expect("send");
    qemu.expect("Boot a kernel by path name", STEP)
        .unwrap_or_else(|e| panic!("no path prompt: {e}"));
    qemu.send("/boot/vmlinuz\r").expect("send");
    qemu.expect("kboot: booting '/boot/vmlinuz'", STEP)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect(
        "Command line: console=ttyS0,115200 root=LABEL=TYPEDROOT pathboot_test=1",
        BOOT,
    )
    .unwrap_or_else(|e| {
        panic!("the typed kernel did not start with the current command line: {e}")
    });
}

const MAC: &str = "52:54:00:12:34:56";

/// A TFTP root with Debian's kernel and the target initrd under `images/`.
fn tftp_root(name: &str) -> PathBuf {
    Artifacts::default_location()
        .check()
        .unwrap_or_else(|m| panic!("{m}"));
    let dir = scratch(name);
    let root = dir.join("tftp");
    std::fs::create_dir_all(root.join("images")).expect("mkdir");
    std::fs::copy(
        qemu_tests::machine::debian_kernel(),
        root.join("images/vmlinuz"),
    )
    .expect("copy kernel");
    std::fs::write(root.join("images/initrd.img"), target_initrd(&dir)).expect("write initrd");
    root
}

/// Where the guest's TFTP files come from.
enum Tftp<'a> {
    /// QEMU's built-in server: the boot file is a bare name, fetched from next-server
    /// (10.0.2.2) on port 69, as PXE firmware does.
    Qemu(&'a Path),
    /// tftpd-hpa on the host's loopback: the boot file is a `tftp://10.0.2.2:PORT/` URL
    /// (a system tftpd-hpa may own port 69).
    Hpa(&'a TftpdHpa),
}

/// Boots with `boot_file` as the DHCP boot file served by `server` and checks that the
/// entry `label` ran with `marker` on its command line.
fn boot_over_tftp(name: &str, server: Tftp<'_>, boot_file: &str, label: &str, marker: &str) {
    let artifacts = Artifacts::default_location();
    let (host, nic) = match server {
        Tftp::Qemu(root) => (
            HOST.to_string(),
            format!("tftp={},bootfile={boot_file}", root.display()),
        ),
        Tftp::Hpa(tftpd) => {
            let host = format!("{HOST}:{}", tftpd.port);
            let nic = format!("bootfile=tftp://{host}/{boot_file}");
            (host, nic)
        }
    };
    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = "console=ttyS0,115200 ip=dhcp kboot.timeout=1".into();
    config.memory_mib = 768;
    config.extra_args = vec![
        "-nic".into(),
        format!("user,model=virtio-net-pci,mac={MAC},{nic}"),
    ];
    let mut qemu = Qemu::start(name, &config).expect("qemu");
    qemu.expect("kboot: network: eth0 10.0.2.15/24 via 10.0.2.2", BOOT)
        .unwrap_or_else(|e| panic!("DHCP did not configure eth0: {e}"));
    qemu.expect(label, STEP)
        .unwrap_or_else(|e| panic!("the served entry is not in the menu: {e}"));
    qemu.expect(&format!("kboot: booting '{label}'"), STEP)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect(
        &format!("kboot: fetching tftp://{host}/images/vmlinuz"),
        STEP,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("TARGET-BOOTED", BOOT)
        .unwrap_or_else(|e| panic!("the served kernel did not run the served initrd: {e}"));
    qemu.expect(marker, STEP)
        .unwrap_or_else(|e| panic!("the entry's cmdline was not used: {e}"));
    assert!(
        qemu.wait_exit(Duration::from_secs(60)).is_some(),
        "no poweroff"
    );
}

/// A PXELINUX tree whose per-MAC config (`pxe_test=by-mac`) must win over `default`.
fn pxelinux_tree(name: &str) -> PathBuf {
    let root = tftp_root(name);
    std::fs::create_dir_all(root.join("pxelinux.cfg")).expect("mkdir");
    // kboot never runs pxelinux.0; it only has to be named.
    std::fs::write(root.join("pxelinux.0"), b"not run").expect("write");
    std::fs::write(
        root.join("pxelinux.cfg/default"),
        "DEFAULT wrong\nLABEL wrong\n  MENU LABEL Wrong default\n  KERNEL images/vmlinuz\n  APPEND console=ttyS0,115200 pxe_test=default\n",
    )
    .expect("write default");
    std::fs::write(
        root.join("pxelinux.cfg/01-52-54-00-12-34-56"),
        "DEFAULT debian\nTIMEOUT 10\nLABEL debian\n  MENU LABEL PXE Debian\n  KERNEL images/vmlinuz\n  INITRD images/initrd.img\n  APPEND console=ttyS0,115200 pxe_test=by-mac\n",
    )
    .expect("write per-MAC config");
    root
}

/// A TFTP root with `boot.ipxe`, a menu script whose default item boots `images/`.
fn ipxe_tree(name: &str) -> PathBuf {
    let root = tftp_root(name);
    std::fs::write(
        root.join("boot.ipxe"),
        "#!ipxe\nset base images\nmenu kboot test\nitem --gap -- Linux\nitem debian iPXE Debian\nitem shell iPXE shell\nchoose --default debian --timeout 1000 target && goto ${target}\n:debian\nkernel ${base}/vmlinuz console=ttyS0,115200 ipxe_test=${net0/mac:hexhyp}\ninitrd ${base}/initrd.img\nboot\n:shell\nshell\n",
    )
    .expect("write script");
    root
}

const PXE_LABEL: &str = "PXE Debian";
const PXE_MARKER: &str = "pxe_test=by-mac";
const IPXE_LABEL: &str = "iPXE Debian";
const IPXE_MARKER: &str = "ipxe_test=52-54-00-12-34-56";

#[test]
fn pxelinux_config_for_the_mac_boots_over_tftp() {
    let root = pxelinux_tree("tftp-pxelinux");
    let server = Tftp::Qemu(&root);
    boot_over_tftp("tftp_pxelinux", server, "pxelinux.0", PXE_LABEL, PXE_MARKER);
}

#[test]
fn ipxe_menu_script_boots_over_tftp() {
    let root = ipxe_tree("tftp-ipxe");
    let server = Tftp::Qemu(&root);
    boot_over_tftp("tftp_ipxe", server, "boot.ipxe", IPXE_LABEL, IPXE_MARKER);
}

/// tftpd-hpa for `root`, its log beside it.
fn tftpd_hpa(root: &Path) -> TftpdHpa {
    let log = root.with_file_name("tftpd.log");
    TftpdHpa::start(root, &log).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn pxelinux_config_for_the_mac_boots_from_tftpd_hpa() {
    let root = pxelinux_tree("tftpd-hpa-pxelinux");
    let tftpd = tftpd_hpa(&root);
    let server = Tftp::Hpa(&tftpd);
    boot_over_tftp(
        "tftpd_hpa_pxelinux",
        server,
        "pxelinux.0",
        PXE_LABEL,
        PXE_MARKER,
    );
}

#[test]
fn ipxe_menu_script_boots_from_tftpd_hpa() {
    let root = ipxe_tree("tftpd-hpa-ipxe");
    let tftpd = tftpd_hpa(&root);
    let server = Tftp::Hpa(&tftpd);
    boot_over_tftp(
        "tftpd_hpa_ipxe",
        server,
        "boot.ipxe",
        IPXE_LABEL,
        IPXE_MARKER,
    );
}
