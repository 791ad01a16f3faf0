//! The menu password (issue #18, `[menu] password` in kboot.toml): on the serial console,
//! an entry other than the default asks for the password; a wrong one is refused, the
//! right one (hashed on the host by openssl, an independent SHA-256-crypt) boots it.

use std::time::Duration;

use qemu_tests::{Artifacts, BootPath, MachineConfig, Qemu};

const BOOT: Duration = Duration::from_secs(120);
const STEP: Duration = Duration::from_secs(60);

#[test]
fn a_non_default_entry_needs_the_password_and_a_wrong_one_is_refused() {
    let artifacts = Artifacts::default_location();
    artifacts.check().unwrap_or_else(|m| panic!("{m}"));
    let made = qemu_tests::host_tools::command("openssl")
        .args(["passwd", "-5", "-salt", "kbootqemu", "secret"])
        .output()
        .unwrap();
    assert!(made.status.success());
    let hash = String::from_utf8_lossy(&made.stdout).trim().to_string();
    assert!(hash.starts_with("$5$kbootqemu$"), "{hash}");

    let mut config = MachineConfig::new(BootPath::Direct, artifacts);
    config.cmdline = "console=ttyS0,115200 kboot.mode=shell".into();
    let mut qemu = Qemu::start("menu_password", &config).unwrap();
    qemu.expect("kboot: ready", BOOT)
        .unwrap_or_else(|e| panic!("{e}"));
    qemu.expect("# ", STEP).unwrap_or_else(|e| panic!("{e}"));
    qemu.shell_ok("echo '[menu]' > /tmp/kboot.toml", STEP);
    qemu.shell_ok(
        &format!("echo 'password = \"{hash}\"' >> /tmp/kboot.toml"),
        STEP,
    );
    // Two BLS entries in a tree: the default sorts first (ids descending).
    qemu.shell_ok("mkdir -p /t/loader/entries", STEP);
    for (file, title) in [("z-default", "Default Entry"), ("a-other", "Other Entry")] {
        qemu.shell_ok(
            &format!(
                "echo 'title {title}' > /t/loader/entries/{file}.conf && \
                 echo 'linux /vmlinuz-{file}' >> /t/loader/entries/{file}.conf && \
                 echo 'not a kernel' > /t/vmlinuz-{file}"
            ),
            STEP,
        );
    }
    qemu.send("menu --config /tmp/kboot.toml --tree t=/t --timeout -1 --dry-run\n")
        .unwrap();
    qemu.expect("Other Entry", STEP)
        .unwrap_or_else(|e| panic!("the menu did not come up: {e}"));
    std::thread::sleep(Duration::from_secs(1));
    let other = qemu_tests::screen::menu_row(&qemu.output(), "Other Entry");
    qemu.send(&other).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    qemu.send("\r").unwrap();
    qemu.expect("Password: ", STEP)
        .unwrap_or_else(|e| panic!("no password prompt for a non-default entry: {e}"));
    qemu.send("wrong").unwrap();
    qemu.expect("Password: *****", STEP)
        .unwrap_or_else(|e| panic!("the typed password is not masked: {e}"));
    qemu.send("\r").unwrap();
    qemu.expect("Wrong password.", STEP)
        .unwrap_or_else(|e| panic!("a wrong password was not refused: {e}"));
    assert!(
        !qemu.output().contains("kboot: booting 'Other Entry'"),
        "booted with a wrong password"
    );
    // The wrong attempt costs a second before keys are read again.
    std::thread::sleep(Duration::from_secs(2));
    qemu.send("\r").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    qemu.send("secret\r").unwrap();
    qemu.expect("kboot: booting 'Other Entry'", STEP)
        .unwrap_or_else(|e| panic!("the right password did not boot the entry: {e}"));
}
