//! https:// in a real boot under TCG, against nginx on the host's loopback (the guest
//! reaches it as 10.0.2.2 through QEMU's user networking) with certificates from a test
//! CA made by openssl. The image's trust store (/etc/kboot/ca.pem, which `cargo xtask
//! image` writes from `[net] ca`) is added as a second initramfs archive, as the kernel
//! unpacks concatenated archives in order.
use std::path::{Path, PathBuf};
use std::time::Duration;

use qemu_tests::disks::{cpio_newc, target_initrd};
use qemu_tests::servers::{free_port, Nginx, TestCa};
use qemu_tests::{Artifacts, BootPath, MachineConfig, Qemu};

const BOOT: Duration = Duration::from_secs(120);
const STEP: Duration = Duration::from_secs(90);
/// How the guest sees the host's loopback under QEMU user networking.
const HOST: &str = "10.0.2.2";

fn scratch(name: &str) -> PathBuf {
    qemu_tests::machine::fresh_test_dir(name)
}

/// The media's initramfs followed by an archive holding `ca` as /etc/kboot/ca.pem.
fn initrd_trusting(dir: &Path, artifacts: &Artifacts, ca: &Path) -> PathBuf {
    let root = dir.join("trust-root");
    std::fs::create_dir_all(root.join("etc/kboot")).expect("mkdir");
    std::fs::copy(ca, root.join("etc/kboot/ca.pem")).expect("copy CA");
    let mut initrd = std::fs::read(artifacts.initramfs()).expect("the media's initramfs");
    // The kernel looks for the next archive's header at a 4-byte boundary, skipping zeros.
    initrd.resize(initrd.len().div_ceil(4) * 4, 0);
    initrd.extend(cpio_newc(&root).unwrap_or_else(|e| panic!("{e}")));
    let path = dir.join("initrd-with-ca.cpio");
    std::fs::write(&path, initrd).expect("write initrd");
    path
}

/// An nginx `server` serving `root` over TLS on `port`.
fn tls_site(port: u16, cert: &qemu_tests::servers::ServerCert, root: &Path) -> String {
    format!(
        "server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {}; ssl_certificate_key {}; \
         root {}; }}\n",
        cert.cert.display(),
        cert.key.display(),
        root.display()
    )
}

#[test]
fn a_menu_fetched_over_https_boots_its_entry() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let dir = scratch("https-menu");
    let ca = TestCa::new(&dir.join("pki"), "site").unwrap_or_else(|e| panic!("{e}"));
    let cert = ca
        .issue("server", &format!("IP:{HOST}"))
        .unwrap_or_else(|e| panic!("{e}"));
    let served = dir.join("www/pxe");
    std::fs::create_dir_all(&served).expect("mkdir");
    std::fs::copy(qemu_tests::machine::debian_kernel(), served.join("vmlinuz"))
        .expect("copy kernel");
    std::fs::write(served.join("initrd.img"), target_initrd(&dir)).expect("write initrd");
    std::fs::write(
        served.join("kboot.toml"),
        "[entry.secure]\nlabel = \"Secure Debian\"\nkernel = \"vmlinuz\"\ninitrd = \"initrd.img\"\ncmdline = \"console=ttyS0,115200 net_test=over-tls\"\n",
    )
    .expect("write kboot.toml");
    let port = free_port().unwrap_or_else(|e| panic!("{e}"));
    let _nginx = Nginx::start(&dir, &tls_site(port, &cert, &dir.join("www")), &[port])
        .unwrap_or_else(|e| panic!("{e}"));
    let source = format!("https://{HOST}:{port}/pxe/kboot.toml");

    let mut config = MachineConfig::new(BootPath::Direct, artifacts.clone());
    config.initrd_override = Some(initrd_trusting(&dir, &artifacts, &ca.cert));
    config.cmdline = "console=ttyS0,115200 ip=dhcp kboot.timeout=1".into();
    config.memory_mib = 768;
    config.extra_args = vec![
        "-nic".into(),
        format!("user,model=virtio-net-pci,bootfile={source}"),
    ];
    let mut qemu = Qemu::start("https_menu", &config).expect("qemu");
    qemu.expect("Secure Debian", BOOT)
        .unwrap_or_else(|e| panic!("the entry served over https is not in the menu: {e}"));
    qemu.expect("kboot: booting 'Secure Debian'", STEP)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect(
        &format!("kboot: fetching https://{HOST}:{port}/pxe/vmlinuz"),
        STEP,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("TARGET-BOOTED", Duration::from_secs(300))
        .unwrap_or_else(|e| panic!("the kernel fetched over https did not run: {e}"));
    qemu.expect("net_test=over-tls", STEP)
        .unwrap_or_else(|e| panic!("the entry's cmdline was not used: {e}"));
    assert!(
        qemu.wait_exit(Duration::from_secs(60)).is_some(),
        "no poweroff"
    );
}

#[test]
fn servers_of_an_unknown_ca_or_another_name_are_refused_with_the_reason() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let dir = scratch("https-refused");
    let trusted = TestCa::new(&dir.join("pki"), "site").unwrap_or_else(|e| panic!("{e}"));
    let stranger = TestCa::new(&dir.join("pki"), "stranger").unwrap_or_else(|e| panic!("{e}"));
    let issue =
        |ca: &TestCa, name: &str, san: &str| ca.issue(name, san).unwrap_or_else(|e| panic!("{e}"));
    let good = issue(&trusted, "good", &format!("IP:{HOST}"));
    let unknown = issue(&stranger, "unknown", &format!("IP:{HOST}"));
    let misnamed = issue(&trusted, "misnamed", "DNS:boot.example");
    let www = dir.join("www");
    std::fs::create_dir_all(&www).expect("mkdir");
    std::fs::write(www.join("hello.txt"), "hello over tls\n").expect("write");
    let ports: Vec<u16> = (0..3)
        .map(|_| free_port().unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let sites = tls_site(ports[0], &good, &www)
        + &tls_site(ports[1], &unknown, &www)
        + &tls_site(ports[2], &misnamed, &www);
    let _nginx = Nginx::start(&dir, &sites, &ports).unwrap_or_else(|e| panic!("{e}"));

    let mut config = MachineConfig::new(BootPath::Direct, artifacts.clone());
    config.initrd_override = Some(initrd_trusting(&dir, &artifacts, &trusted.cert));
    config.cmdline = "console=ttyS0,115200 kboot.mode=shell".into();
    config.memory_mib = 512;
    config.extra_args = vec!["-nic".into(), "user,model=virtio-net-pci".into()];
    let mut qemu = Qemu::start("https_refused", &config).expect("qemu");
    qemu.expect("kboot: ready", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("# ", STEP).unwrap_or_else(|e| panic!("{e}"));
    let mut sh = |command: &str| {
        qemu.shell(command, STEP)
            .unwrap_or_else(|e| panic!("`{command}`: {e}"))
    };
    sh("dmesg -n 1");
    let (lease, status) = sh("dhcp");
    assert_eq!(status, 0, "{lease}");
    let (date, _) = sh("date");
    let (out, status) = sh(&format!("cat https://{HOST}:{}/hello.txt", ports[0]));
    assert_eq!((out.trim(), status), ("hello over tls", 0), "clock: {date}");
    let (out, status) = sh(&format!("cat https://{HOST}:{}/hello.txt", ports[1]));
    assert_ne!(status, 0, "{out}");
    assert!(
        out.contains("TLS handshake") && out.contains("unknown CA"),
        "{out}"
    );
    let (out, status) = sh(&format!("cat https://{HOST}:{}/hello.txt", ports[2]));
    assert_ne!(status, 0, "{out}");
    assert!(
        out.contains(&format!(
            "not valid for {HOST} (name mismatch: it names boot.example)"
        )),
        "{out}"
    );
}
