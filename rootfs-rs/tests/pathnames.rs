//! kboot path names in the shell against real servers on loopback: Python's http.server
//! (the standard library's) and pyftpdlib (PyPI, in a venv cached under target/fixtures),
//! plus the errors for malformed names and unreachable hosts.
mod common;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::servers::*;
use common::*;

/// pyftpdlib in a cached venv; None (with a note) when PyPI cannot be reached.
fn ftp_python() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fixtures/pyftp");
    match qemu_tests::pypi::venv_with(&venv, "pyftpdlib", "pyftpdlib") {
        Ok(python) => Some(python),
        Err(e) => {
            eprintln!("{e}: FTP not tested");
            None
        }
    }
}

fn payload() -> Vec<u8> {
    (0..1_572_864u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect()
}

fn sha256_hex(path: &Path) -> String {
    let out = qemu_tests::host_tools::command("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

fn sh_fetching(dir: &Path, script: &str) -> std::process::Output {
    let mut c = Command::new(KBOOT);
    c.args(["sh", "-c", script])
        .current_dir(dir)
        .env("KBOOT_FETCH_DIR", dir.join("fetch"));
    c.output().expect("run kboot sh")
}

#[test]
fn http_names_in_the_shell() {
    let served = TempDir::new("served");
    std::fs::write(served.join("vmlinuz"), payload()).expect("write");
    std::fs::create_dir_all(served.join("etc")).expect("mkdir");
    std::fs::write(served.join("etc/hostname"), "netbox\n").expect("write");
    let (_server, port) = http_server(served.path());
    let work = TempDir::new("http-names");
    let base = format!("http://127.0.0.1:{port}");

    let o = sh_fetching(work.path(), &format!("cat {base}/etc/hostname"));
    assert_eq!(
        (code(&o), stdout(&o).as_str()),
        (0, "netbox\n"),
        "{}",
        stderr(&o)
    );

    let o = sh_fetching(
        work.path(),
        &format!("cp {base}/vmlinuz ./k && sha256sum k"),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let expected = sha256_hex(&served.join("vmlinuz"));
    assert!(
        stdout(&o).starts_with(&expected),
        "{} vs {expected}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("vmlinuz: 1.5M of 1.5M (100%)"),
        "progress: {}",
        stderr(&o)
    );

    let o = sh_fetching(work.path(), &format!("ls {base}/"));
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("not a directory"), "{}", stderr(&o));

    let o = sh_fetching(work.path(), &format!("cat {base}/missing"));
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("HTTP 404"), "{}", stderr(&o));
    assert!(!work
        .join("fetch")
        .read_dir()
        .map(|d| d.flatten().any(|e| e.path().join("missing.part").exists()))
        .unwrap_or(false));

    // Other commands see their words unchanged.
    let o = sh_fetching(work.path(), &format!("echo {base}/vmlinuz"));
    assert_eq!(stdout(&o), format!("{base}/vmlinuz\n"));
}

#[test]
fn own_paths_and_malformed_names() {
    let work = TempDir::new("own-names");
    let file = work.write("kboot.toml", "[menu]\ntimeout = 3\n");
    let o = sh_in(work.path(), &format!("cat /{}", file.display()));
    assert_eq!(
        (code(&o), stdout(&o).as_str()),
        (0, "[menu]\ntimeout = 3\n"),
        "{}",
        stderr(&o)
    );
    for (name, says) in [
        ("sdz9:/etc/fstab", "no block device sdz9"),
        ("/dev/nope0:/x", "no block device /dev/nope0"),
        (
            "LABEL=NO-SUCH-FS-LABEL:/etc/hostname",
            "LABEL=NO-SUCH-FS-LABEL: no such filesystem",
        ),
        // No CA bundle on the host: https:// says the image trusts none.
        ("https://example.invalid/x", "the image trusts no CA"),
    ] {
        let o = sh_in(work.path(), &format!("cat {name}"));
        assert_eq!(code(&o), 1, "{name}");
        assert!(stderr(&o).contains(says), "{name}: {}", stderr(&o));
    }
    // Nothing listens on port 1: a quick, clear error, not a hang.
    let started = Instant::now();
    let o = sh_fetching(work.path(), "cat http://127.0.0.1:1/vmlinuz");
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("can't connect to 127.0.0.1:1"),
        "{}",
        stderr(&o)
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn ftp_names_and_wget_against_pyftpdlib() {
    let Some(python) = ftp_python() else { return };
    let served = TempDir::new("ftp-served");
    std::fs::create_dir_all(served.join("pub")).expect("mkdir");
    std::fs::write(served.join("pub/initrd.img"), payload()).expect("write");
    let port = free_port();
    let mut cmd = Command::new(python);
    cmd.args(["-m", "pyftpdlib", "-i", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .arg("-d")
        .arg(served.path());
    let _server = start(cmd, port);
    let work = TempDir::new("ftp-names");
    let url = format!("ftp://127.0.0.1:{port}/pub/initrd.img");
    let o = kboot_in(work.path(), "wget", &["-q", "-O", "got", &url], "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read(work.join("got")).ok(), Some(payload()));
    let o = sh_fetching(work.path(), &format!("sha256sum {url}"));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).starts_with(&sha256_hex(&served.join("pub/initrd.img"))));
    let o = kboot_in(
        work.path(),
        "wget",
        &[
            "-q",
            "-O",
            "none",
            &format!("ftp://127.0.0.1:{port}/pub/absent"),
        ],
        "",
    );
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("no such file"), "{}", stderr(&o));
    assert!(!work.join("none").exists() && !work.join("none.part").exists());
}

/// Debian's newest kernel in /boot (linux-image-amd64, installed by `cargo xtask deps`).
fn debian_kernel() -> PathBuf {
    let mut kernels: Vec<PathBuf> = std::fs::read_dir("/boot")
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    kernels.retain(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
    });
    kernels.sort();
    kernels
        .pop()
        .expect("a Debian kernel in /boot (cargo xtask deps installs linux-image-amd64)")
}

#[test]
fn menu_boots_a_kernel_by_path_name() {
    let served = TempDir::new("path-boot-served");
    let kernel = debian_kernel();
    std::fs::copy(&kernel, served.join("vmlinuz")).expect("copy kernel");
    std::fs::write(served.join("notakernel"), vec![0x5a; 4096]).expect("write");
    let (_server, port) = http_server(served.path());
    let work = TempDir::new("path-boot");
    std::fs::create_dir_all(work.join("empty")).expect("mkdir");
    let menu = |spec: &str| {
        let mut c = Command::new(KBOOT);
        c.args(["menu", "--tree"])
            .arg(format!("none={}", work.join("empty").display()))
            .args(["--boot", spec, "--dry-run"])
            .env("KBOOT_FETCH_DIR", work.join("fetch"));
        c.output().expect("run kboot menu")
    };
    let o = menu(&format!("http://127.0.0.1:{port}/vmlinuz"));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let fetched = work.join(&format!("fetch/127.0.0.1-{port}/vmlinuz"));
    assert!(
        stdout(&o).contains(&format!(
            "dry run: kexec_file_load kernel={} (boot protocol 2.",
            fetched.display()
        )),
        "{}",
        stdout(&o)
    );
    assert_eq!(std::fs::read(&fetched).ok(), std::fs::read(&kernel).ok());
    let o = menu(&format!("/{}", kernel.display()));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("kernel={} (boot protocol 2.", kernel.display())),
        "{}",
        stdout(&o)
    );
    let o = menu(&format!("http://127.0.0.1:{port}/notakernel"));
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("cannot boot 'http://127.0.0.1:"),
        "{}",
        stderr(&o)
    );
    let o = menu("sdz9:/vmlinuz");
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("no block device sdz9"),
        "{}",
        stderr(&o)
    );
}
