//! Every program the build, the bench and the tests run on the host, and the Debian
//! package each one comes from: the one registry behind `cargo xtask deps`.
//!
//! Why: a tool installed by hand on a developer's machine (or on CI's, which is the
//! same machine) makes a green run lie; on a fresh machine the same test died with
//! "No such file or directory". So nothing is spawned by name directly: `command()`
//! refuses a program that is not listed here (a test fails at once, on every machine,
//! until it is), and a listed program that is missing fails with the package to
//! install. `deps` installs exactly `PACKAGES`, and the unit tests below check that
//! every tool maps to one of them and that the package really ships it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian packages `cargo xtask deps` installs: (package, why it is needed).
pub const PACKAGES: &[(&str, &str)] = &[
    (
        "qemu-system-x86",
        "QEMU boot tests, dump fixtures and `xtask qemu`",
    ),
    ("ovmf", "UEFI firmware for the UEFI boot path"),
    ("grub-pc-bin", "GRUB i386-pc modules for the BIOS boot path"),
    (
        "grub-common",
        "grub-mkimage; grub-editenv in the hand-back tests",
    ),
    ("systemd-boot-efi", "the EFI stub kboot.efi is built on"),
    (
        "binutils",
        "objcopy, to assemble kboot.efi and strip the binary",
    ),
    ("lld", "links the kboot binary (identical code folding)"),
    ("linux-source", "kernel sources for the lean kernel"),
    ("make", "kernel build"),
    (
        "gcc",
        "kernel build; the static helper inside the dump fixtures' guest",
    ),
    ("libc6-dev", "`gcc -static` for the fixtures' guest helper"),
    ("flex", "kernel build (kconfig)"),
    ("bison", "kernel build (kconfig)"),
    ("bc", "kernel build"),
    ("libelf-dev", "kernel build (objtool)"),
    ("libssl-dev", "kernel build (sign-file, extract-cert)"),
    (
        "xz-utils",
        "unpacking linux-source; extracting BTF from Debian's vmlinuz",
    ),
    ("zstd", "extracting BTF from a zstd-compressed vmlinuz"),
    ("gzip", "fixture initramfs packing"),
    ("tar", "unpacking linux-source"),
    (
        "cpio",
        "tests: `cpio -t` reads our initramfs back; fixture initramfs",
    ),
    ("dosfstools", "tests: mkfs.fat, fsck.fat, fatlabel"),
    ("gdisk", "tests: sgdisk -v checks the GPT"),
    ("mtools", "tests: reading and writing files on the ESP"),
    (
        "e2fsprogs",
        "tests: ext4 test disks (mke2fs, debugfs, e2fsck)",
    ),
    (
        "linux-image-amd64",
        "Debian's kernel: fixtures, kexec targets, bench peer",
    ),
    (
        "busybox-static",
        "fixture guests' userspace; bench peer of kboot's applets",
    ),
    ("file", "fixture scripts check that busybox is static"),
    ("xfsprogs", "tests: blkid against real xfs"),
    ("btrfs-progs", "tests: blkid against real btrfs"),
    ("genisoimage", "tests: blkid against real iso9660"),
    ("xorriso", "tests: iso9660 images for the probes"),
    ("cryptsetup-bin", "tests: blkid against real LUKS"),
    ("iproute2", "tests: `ip` compared with iproute2"),
    (
        "util-linux",
        "tests: blkid, partx, unshare, flock: references and helpers",
    ),
    ("mount", "tests: losetup"),
    (
        "fdisk",
        "tests: MBR images with logical partitions (sfdisk)",
    ),
    ("bsdutils", "tests: script(1) gives the shell a pty"),
    ("bsdextrautils", "tests: hexdump, the reference for ours"),
    ("coreutils", "tests: the references for kboot's applets"),
    ("findutils", "tests: find, the reference for ours"),
    ("grep", "tests: grep, the reference for ours"),
    ("sed", "tests: sed, the reference for ours"),
    ("hostname", "tests: hostname, the reference for ours"),
    ("debianutils", "tests: which, the reference for ours"),
    ("dash", "sh for the tests and the kernel build"),
    (
        "libc-bin",
        "ldd: the fixture guest carries kexec's libraries",
    ),
    (
        "makedumpfile",
        "triage tests: filtered/compressed dumps, the --dump-dmesg peer",
    ),
    (
        "crash",
        "triage tests: `crash --osrelease` opens what savedump writes",
    ),
    (
        "kexec-tools",
        "triage tests: loading the capture kernel in the fixture guest",
    ),
    (
        "python3-minimal",
        "tests: QMP client, http.server, fixture scripts",
    ),
    (
        "nginx",
        "tests: HTTPS (test CA) and WebDAV servers on loopback, started by the tests",
    ),
    (
        "tftpd-hpa",
        "tests: in.tftpd on loopback serves PXELINUX and iPXE trees, started by the tests",
    ),
    (
        "nfs-ganesha",
        "tests: a userspace NFSv3 server on loopback (no kernel nfsd), started by the tests",
    ),
    (
        "nfs-ganesha-vfs",
        "tests: ganesha's VFS backend, which exports a plain directory",
    ),
    (
        "rpcbind",
        "tests: ganesha registers NFSv3 and MOUNT with it; the guest's NFS client asks it for the ports",
    ),
    (
        "netbase",
        "tests: /etc/services, where rpcbind looks up `sunrpc` (a minimal Debian root lacks it: rpcbind then listens nowhere)",
    ),
    (
        "openssh-client",
        "tests: ssh and ssh-keygen drive kboot's sshd (keys, sessions, fingerprints)",
    ),
    (
        "openssl",
        "tests: the test CAs and server certificates for HTTPS, a throwaway Secure Boot key \
         and certificate, the password hash reference",
    ),
    (
        "python3-venv",
        "tests: pyftpdlib and snappy/zstd recompression venvs",
    ),
    ("time", "bench: /usr/bin/time for peak RSS"),
    (
        "apt",
        "bench: apt-get download of Debian's -dbg vmlinux, the crash peer's input; fixtures: Debian kernels of other suites",
    ),
    (
        "dpkg",
        "bench: dpkg-deb unpacks the vmlinux from the -dbg package; fixtures: the kernels",
    ),
    ("kmod", "fixtures: depmod indexes the modules of a downloaded kernel"),
    (
        "efibootmgr",
        "`xtask install --efi --root /` creates the firmware entry",
    ),
    (
        "debootstrap",
        "`xtask ci --clean` builds its minimal Debian root",
    ),
    ("git", "`xtask ci` clones the committed HEAD"),
    (
        "sbsigntool",
        "`xtask image --sign-key/--sign-cert` signs kboot.efi (sbsign); tests: sbverify",
    ),
    (
        "minisign",
        "tests: throwaway keys and detached signatures for the signed-payload policy",
    ),
    (
        "systemd",
        "systemd-measure: the TPM test checks kboot's PCR 11 for a UKI against systemd's calculation",
    ),
    (
        "swtpm",
        "the software TPM 2.0 of the TPM tests (QEMU's tpm-tis backend, and raw commands over TCP)",
    ),
];

/// Programs run on the host: (program, Debian package). A path such as `/bin/echo`
/// is looked up by its file name.
pub const TOOLS: &[(&str, &str)] = &[
    // build
    ("make", "make"),
    ("gcc", "gcc"),
    ("flex", "flex"),
    ("bison", "bison"),
    ("bc", "bc"),
    ("tar", "tar"),
    ("xz", "xz-utils"),
    ("depmod", "kmod"),
    ("zstd", "zstd"),
    ("gzip", "gzip"),
    ("objcopy", "binutils"),
    ("ld.lld", "lld"),
    ("grub-mkimage", "grub-common"),
    ("grub-editenv", "grub-common"),
    ("sbsign", "sbsigntool"),
    ("sbverify", "sbsigntool"),
    ("efibootmgr", "efibootmgr"),
    ("debootstrap", "debootstrap"),
    ("git", "git"),
    // machines and dumps
    ("qemu-system-x86_64", "qemu-system-x86"),
    ("makedumpfile", "makedumpfile"),
    ("swtpm", "swtpm"),
    ("systemd-measure", "systemd"),
    ("crash", "crash"),
    ("kexec", "kexec-tools"),
    ("busybox", "busybox-static"),
    ("file", "file"),
    ("ldd", "libc-bin"),
    ("python3", "python3-minimal"),
    ("nginx", "nginx"),
    ("in.tftpd", "tftpd-hpa"),
    ("ganesha.nfsd", "nfs-ganesha"),
    ("rpcbind", "rpcbind"),
    ("openssl", "openssl"),
    ("minisign", "minisign"),
    ("ssh", "openssh-client"),
    ("ssh-keygen", "openssh-client"),
    ("time", "time"),
    ("apt-get", "apt"),
    ("apt-cache", "apt"),
    ("dpkg-deb", "dpkg"),
    // disks and filesystems
    ("sgdisk", "gdisk"),
    ("sfdisk", "fdisk"),
    ("mkfs.fat", "dosfstools"),
    ("fsck.fat", "dosfstools"),
    ("fatlabel", "dosfstools"),
    ("mcopy", "mtools"),
    ("mmd", "mtools"),
    ("mtype", "mtools"),
    ("mke2fs", "e2fsprogs"),
    ("mkfs.ext4", "e2fsprogs"),
    ("debugfs", "e2fsprogs"),
    ("dumpe2fs", "e2fsprogs"),
    ("e2fsck", "e2fsprogs"),
    ("mkfs.xfs", "xfsprogs"),
    ("mkfs.btrfs", "btrfs-progs"),
    ("genisoimage", "genisoimage"),
    ("xorriso", "xorriso"),
    ("cryptsetup", "cryptsetup-bin"),
    ("cpio", "cpio"),
    ("mkfs.ext2", "e2fsprogs"),
    ("mkfs.ext3", "e2fsprogs"),
    ("mkswap", "util-linux"),
    ("blkid", "util-linux"),
    ("partx", "util-linux"),
    ("dmesg", "util-linux"),
    ("losetup", "mount"),
    ("mount", "mount"),
    // namespaces, ptys, locks
    ("unshare", "util-linux"),
    ("nsenter", "util-linux"),
    ("flock", "util-linux"),
    ("script", "bsdutils"),
    ("ip", "iproute2"),
    // references for kboot's applets
    ("hexdump", "bsdextrautils"),
    ("find", "findutils"),
    ("grep", "grep"),
    ("sed", "sed"),
    ("hostname", "hostname"),
    ("which", "debianutils"),
    ("sh", "dash"),
    ("cat", "coreutils"),
    ("chmod", "coreutils"),
    ("cp", "coreutils"),
    ("cut", "coreutils"),
    ("date", "coreutils"),
    ("dd", "coreutils"),
    ("df", "coreutils"),
    ("du", "coreutils"),
    ("echo", "coreutils"),
    ("false", "coreutils"),
    ("head", "coreutils"),
    ("ls", "coreutils"),
    ("md5sum", "coreutils"),
    ("mkfifo", "coreutils"),
    ("printf", "coreutils"),
    ("sha256sum", "coreutils"),
    ("sha1sum", "coreutils"),
    ("sleep", "coreutils"),
    ("timeout", "coreutils"),
    ("seq", "coreutils"),
    ("sort", "coreutils"),
    ("stat", "coreutils"),
    ("tail", "coreutils"),
    ("tr", "coreutils"),
    ("uname", "coreutils"),
    ("uniq", "coreutils"),
    ("wc", "coreutils"),
];

/// Where programs are looked for: PATH, then the sbin directories a non-login root
/// shell may lack (mkfs.*, debugfs, losetup live there).
fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for extra in ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        if !dirs.iter().any(|d| d == Path::new(extra)) {
            dirs.push(PathBuf::from(extra));
        }
    }
    dirs
}

/// The package `program` (a name or a path) comes from, if it is registered.
pub fn package_of(program: &str) -> Option<&'static str> {
    let name = Path::new(program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    TOOLS.iter().find(|(t, _)| *t == name).map(|(_, p)| *p)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Finds a registered program. Errors name the package to install, or say that the
/// program must be registered first.
pub fn find(program: &str) -> Result<PathBuf, String> {
    let Some(package) = package_of(program) else {
        return Err(format!(
            "{program} is not in the host tool registry (qemu-tests/src/host_tools.rs): \
             add it with its Debian package, so `cargo xtask deps` installs it"
        ));
    };
    let found = if program.contains('/') {
        Some(PathBuf::from(program)).filter(|p| is_executable(p))
    } else {
        search_dirs()
            .into_iter()
            .map(|d| d.join(program))
            .find(|p| is_executable(p))
    };
    found.ok_or_else(|| {
        format!(
            "{program} is missing: install the Debian package {package} \
             (`cargo xtask deps` installs every package the tests need)"
        )
    })
}

/// A `Command` for a registered host program, or the error naming its package: for
/// the builder, which reports errors instead of panicking.
pub fn try_command(program: &str) -> Result<Command, String> {
    find(program).map(Command::new)
}

/// A `Command` for a registered host program. For tests: it panics with the package
/// to install instead of letting the spawn fail with ENOENT.
pub fn command(program: &str) -> Command {
    match find(program) {
        Ok(path) => Command::new(path),
        Err(message) => panic!("{message}"),
    }
}

/// Panics (in a test) unless every program is registered and installed: for shell
/// scripts and `sh -c` lines that run them by name.
pub fn require(programs: &[&str]) {
    let problems: Vec<String> = programs.iter().filter_map(|p| find(p).err()).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_comes_from_a_package_deps_installs() {
        for (tool, package) in TOOLS {
            assert!(
                PACKAGES.iter().any(|(p, _)| p == package),
                "{tool}: package {package} is not in PACKAGES, so deps would not install it"
            );
        }
        let mut names: Vec<&str> = TOOLS.iter().map(|(t, _)| *t).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TOOLS.len(), "a tool is listed twice");
    }

    #[test]
    fn unregistered_and_missing_programs_name_the_fix() {
        let unknown = find("no-such-tool-kboot").unwrap_err();
        assert!(
            unknown.contains("not in the host tool registry"),
            "{unknown}"
        );
        // A registered name at a path that does not exist: the package is named.
        let missing = find("/nonexistent/crash").unwrap_err();
        assert!(
            missing.contains("install the Debian package crash"),
            "{missing}"
        );
    }

    /// The mapping is true on this machine: each tool that is installed is shipped by
    /// the package the registry names (dpkg's own record), so a wrong entry cannot make
    /// `deps` install the wrong thing. Tools not installed are covered by the CI run,
    /// where `deps` has installed everything first.
    #[test]
    fn installed_tools_belong_to_their_packages() {
        let Ok(dpkg) = which_dpkg() else {
            eprintln!("no dpkg on this machine: nothing to cross-check");
            return;
        };
        let mut wrong = Vec::new();
        for (tool, package) in TOOLS {
            let Ok(found) = find(tool) else { continue };
            // A program outside the system directories (pyenv's python3) is not Debian's.
            let real = std::fs::canonicalize(&found).unwrap_or_else(|_| found.clone());
            if !["/usr/", "/bin/", "/sbin/"]
                .iter()
                .any(|d| real.starts_with(d))
            {
                continue;
            }
            // The name itself first (gcc → gcc), else through alternatives to the file
            // a package owns (which → which.debianutils).
            let real_name = real
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut owners = dpkg_owners(&dpkg, tool);
            if owners.is_empty() {
                owners = dpkg_owners(&dpkg, &real_name);
            }
            let ok = owners.iter().any(|o| o == package);
            if !ok {
                wrong.push(format!(
                    "{tool}: registry says {package}, dpkg says {owners:?}"
                ));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    /// Nothing in the tests or the builder spawns a host program by bare name: each
    /// goes through `command`/`try_command`, so each is registered (and installed).
    /// deps.rs is the exception: apt-get, dpkg-query and rustup install the rest.
    #[test]
    fn no_program_is_spawned_around_the_registry() {
        let root = crate::machine::workspace_root();
        let mut files = Vec::new();
        for dir in ["rootfs-rs/tests", "qemu-tests", "image/tests", "xtask/src"] {
            collect_rust_files(&root.join(dir), &mut files);
        }
        assert!(files.len() > 20, "found only {} files", files.len());
        let mut offenders = Vec::new();
        for file in files {
            if file.ends_with("xtask/src/deps.rs") || file.ends_with("host_tools.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            for (n, line) in text.lines().enumerate() {
                if line.contains("Command::new(\"") {
                    offenders.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "use host_tools::command:\n{}",
            offenders.join("\n")
        );
    }

    fn collect_rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                collect_rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// Packages owning a file named `name` in a bin directory (Debian 12 merged /usr:
    /// dpkg records /bin/x or /usr/bin/x, so match the name).
    fn dpkg_owners(dpkg: &Path, name: &str) -> Vec<String> {
        let out = Command::new(dpkg)
            .args(["-S", &format!("*bin/{name}")])
            .output()
            .expect("run dpkg -S");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.ends_with(&format!("/{name}")))
            .filter_map(|l| l.split(':').next())
            .flat_map(|owners| owners.split(", ").map(|p| p.trim().to_string()))
            .collect()
    }

    fn which_dpkg() -> Result<PathBuf, ()> {
        search_dirs()
            .into_iter()
            .map(|d| d.join("dpkg"))
            .find(|p| is_executable(p))
            .ok_or(())
    }
}
