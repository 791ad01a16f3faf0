//! Golden tests: scripts in the shapes ipxe.org documents (a menu with items and a
//! default, chained per-machine scripts with a fallback, conditions, a chained kernel).
use std::collections::BTreeMap;
use std::path::PathBuf;

use super::*;

/// Scripts in memory, named like URLs; names resolve against the script's directory.
struct Files(Vec<(&'static str, &'static str)>);

impl Scripts for Files {
    fn load(&self, from: &str, name: &str) -> Result<(String, String), String> {
        let url = self.resolve(from, name);
        self.0
            .iter()
            .find(|(n, _)| *n == url)
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .ok_or_else(|| "server error 1 (file not found): File not found".into())
    }

    fn resolve(&self, from: &str, name: &str) -> String {
        if name.contains("://") {
            return name.to_string();
        }
        let dir = &from[..from.rfind('/').map_or(0, |i| i + 1)];
        format!("{dir}{name}")
    }
}

fn builtins() -> BTreeMap<String, String> {
    [
        ("mac", "52:54:00:12:34:56"),
        ("ip", "10.0.2.15"),
        ("buildarch", "x86_64"),
        ("platform", "pcbios"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

const MENU: &str = r#"#!ipxe
# A boot menu in the pattern of ipxe.org/cmd/choose.
set server http://10.0.2.2:8000
set base ${server}/debian
:start
menu Boot menu for ${net0/mac}
item --gap -- Linux
item --key d debian Debian 12 (${buildarch})
item rescue Rescue shell
item --gap -- Other
item shell iPXE shell
item exit Exit
choose --default debian --timeout 5000 target || goto cancel
goto ${target}

:debian
kernel ${base}/vmlinuz initrd=initrd.img console=ttyS0 ip=dhcp \
    BOOTIF=01-${net0/mac:hexhyp}
initrd ${base}/initrd.img
boot || goto failed

:rescue
kernel --name linux ${base}/vmlinuz
initrd ${base}/initrd.img
imgargs linux console=ttyS0 "rescue/enable=true"
boot

:shell
shell

:cancel
echo cancelled
:failed
:exit
exit
"#;

#[test]
fn a_menu_becomes_one_entry_per_bootable_item() {
    let parsed = parse_ipxe(
        MENU,
        "tftp://10.0.2.2/menu.ipxe",
        &builtins(),
        &Files(vec![]),
    );
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    assert_eq!(parsed.timeout_secs, Some(5));
    let e = &parsed.entries;
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(e[0].label, "Debian 12 (x86_64)");
    assert!(e[0].is_default && !e[1].is_default);
    assert_eq!(
        e[0].kernel,
        PathBuf::from("http://10.0.2.2:8000/debian/vmlinuz")
    );
    assert_eq!(
        e[0].initrds,
        [PathBuf::from("http://10.0.2.2:8000/debian/initrd.img")]
    );
    assert_eq!(
        e[0].cmdline,
        "console=ttyS0 ip=dhcp BOOTIF=01-52-54-00-12-34-56"
    );
    assert_eq!(e[0].source, "ipxe: tftp://10.0.2.2/menu.ipxe");
    assert_eq!(e[1].label, "Rescue shell");
    assert_eq!(e[1].cmdline, "console=ttyS0 rescue/enable=true");
}

const FIRST: &str = "#!ipxe
dhcp
iseq ${platform} efi && set kargs efi=1 || set kargs bios=1
isset ${hostname} || set hostname node-${ip}
chain --autofree boot/${net0/mac:hexraw}.ipxe || chain boot/default.ipxe
";

const DEFAULT: &str = "#!ipxe
kernel vmlinuz console=ttyS0 ${kargs} hostname=${hostname}
initrd initrd.img
frobnicate --now
boot
";

#[test]
fn chained_scripts_with_a_fallback_and_conditions() {
    let files = Files(vec![("tftp://10.0.2.2/boot/default.ipxe", DEFAULT)]);
    let parsed = parse_ipxe(FIRST, "tftp://10.0.2.2/boot.ipxe", &builtins(), &files);
    let e = &parsed.entries;
    assert_eq!(e.len(), 1, "{:?}", parsed.warnings);
    assert_eq!(e[0].kernel, PathBuf::from("tftp://10.0.2.2/boot/vmlinuz"));
    assert_eq!(
        e[0].initrds,
        [PathBuf::from("tftp://10.0.2.2/boot/initrd.img")]
    );
    assert_eq!(e[0].cmdline, "console=ttyS0 bios=1 hostname=node-10.0.2.15");
    assert_eq!(e[0].label, "vmlinuz");
    assert!(e[0].is_default);
    let warnings: Vec<String> = parsed.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].contains("tftp://10.0.2.2/boot.ipxe")
            && warnings[0].contains("chain boot/525400123456.ipxe: server error 1"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].contains("tftp://10.0.2.2/boot/default.ipxe")
            && warnings[1].contains("4")
            && warnings[1].contains("unknown command 'frobnicate' skipped"),
        "{warnings:?}"
    );
}

#[test]
fn a_chained_kernel_boots_and_loops_are_bounded() {
    let parsed = parse_ipxe(
        "#!ipxe\ninitrd http://srv/initrd.img\nchain http://srv/vmlinuz console=ttyS0 quiet\n",
        "http://srv/boot.ipxe",
        &builtins(),
        &Files(vec![]),
    );
    assert_eq!(parsed.entries.len(), 1);
    assert_eq!(
        parsed.entries[0].kernel,
        PathBuf::from("http://srv/vmlinuz")
    );
    assert_eq!(parsed.entries[0].cmdline, "console=ttyS0 quiet");
    let looping = "#!ipxe\n:top\ngoto top\n";
    let parsed = parse_ipxe(looping, "http://srv/a.ipxe", &builtins(), &Files(vec![]));
    assert!(parsed.entries.is_empty());
    assert!(parsed.warnings[0].to_string().contains("too long"));
    let files = Files(vec![("http://srv/self.ipxe", "#!ipxe\nchain self.ipxe\n")]);
    let parsed = parse_ipxe(
        "#!ipxe\nchain self.ipxe\n",
        "http://srv/self.ipxe",
        &builtins(),
        &files,
    );
    assert!(parsed.entries.is_empty());
    assert!(
        parsed.warnings[0]
            .to_string()
            .contains("chained more than 8 deep"),
        "{:?}",
        parsed.warnings
    );
    let parsed = parse_ipxe(
        "#!ipxe\nchain pxelinux.0\nboot\n",
        "http://srv/b.ipxe",
        &builtins(),
        &Files(vec![]),
    );
    assert!(parsed.entries.is_empty());
    assert!(parsed.warnings[0]
        .to_string()
        .contains("not a Linux kernel or an iPXE script"));
}

#[test]
fn words_quotes_and_operators() {
    assert_eq!(
        tokenize(r#"echo "a b" c\ d 'e'"#),
        ["echo", "a b", "c d", "e"]
    );
    let commands = split_commands(&tokenize("isset ${x} && goto y || goto z"));
    assert_eq!(commands.len(), 3);
    assert_eq!(commands[1].0, "&&");
    assert_eq!(
        positional(&[
            "--name".into(),
            "k".into(),
            "--autofree".into(),
            "f".into(),
            "--x".into()
        ]),
        ["f", "--x"]
    );
    assert_eq!(setting_name("net0.dhcp/mac:hexhyp"), "mac");
}

#[test]
fn doubling_settings_stop_at_the_expansion_budget() {
    // Like the grub fuzz target's finding: forty lines of `set a ${a}${a}` took gigabytes.
    let mut script = String::from("#!ipxe\nset a 0123456789abcdef\n");
    script.push_str(&"set a ${a}${a}\n".repeat(40));
    script.push_str("kernel http://srv/vmlinuz\nboot\n");
    let started = std::time::Instant::now();
    let parsed = parse_ipxe(&script, "http://srv/a.ipxe", &builtins(), &Files(vec![]));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(parsed.entries.is_empty());
    assert!(
        parsed.warnings[0]
            .to_string()
            .contains("expand to more than 16 MiB"),
        "{:?}",
        parsed.warnings
    );
}
