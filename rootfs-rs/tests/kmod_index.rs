//! modinfo and modprobe against module trees made here: a hand-written ELF .ko (plain and
//! gzip-compressed), and a fake /lib/modules/VERSION with depmod's text indexes, so
//! nothing depends on the host's kernel or modules. Nothing is loaded: modprobe runs with
//! `-n` (dry run), which prints the insmod lines in load order.
mod common;
#[path = "common/ko_fixture.rs"]
mod ko_fixture;
use std::io::Write;

use common::*;
use ko_fixture::tiny_ko;

const FIELDS: &[&str] = &[
    "version=1.2",
    "license=GPL",
    "description=kboot test storage driver",
    "author=kboot-rs",
    "parm=delay_use:seconds to delay before using a new device",
    "parmtype=delay_use:uint",
    "parmtype=quirks:string",
    "alias=usb:v*p*d*dc*dsc*dp*ic08isc06ip50in*",
    "depends=kboot_test_scsi",
    "vermagic=9.9.9-test SMP preempt mod_unload ",
];

const EXPECTED: &str = "license:        GPL
description:    kboot test storage driver
author:         kboot-rs
alias:          usb:v*p*d*dc*dsc*dp*ic08isc06ip50in*
depends:        kboot_test_scsi
vermagic:       9.9.9-test SMP preempt mod_unload 
parm:           quirks:string
parm:           delay_use:seconds to delay before using a new device (uint)
";

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).expect("gzip");
    gz.finish().expect("gzip")
}

/// ROOT/lib/modules/9.9.9-test with a storage driver over a SCSI core, a softdep, an
/// alias, a built-in module, and one malformed line per file.
fn fake_tree(d: &TempDir) -> String {
    let v = "lib/modules/9.9.9-test";
    std::fs::create_dir_all(d.join(&format!("{v}/kernel/drivers"))).expect("mkdir");
    let ko = tiny_ko(FIELDS);
    for name in [
        "kboot-test-storage.ko.gz",
        "kboot_test_scsi.ko.gz",
        "kboot_test_common.ko.gz",
    ] {
        std::fs::write(d.join(&format!("{v}/kernel/drivers/{name}")), gzip(&ko)).expect("ko");
    }
    std::fs::write(
        d.join(&format!("{v}/kernel/drivers/kboot_test_crc.ko")),
        &ko,
    )
    .expect("ko");
    d.write(
        &format!("{v}/modules.dep"),
        "kernel/drivers/kboot-test-storage.ko.gz: kernel/drivers/kboot_test_scsi.ko.gz kernel/drivers/kboot_test_common.ko.gz\n\
         kernel/drivers/kboot_test_scsi.ko.gz: kernel/drivers/kboot_test_common.ko.gz\n\
         kernel/drivers/kboot_test_common.ko.gz:\n\
         kernel/drivers/kboot_test_crc.ko:\n\
         garbage without a colon\n",
    );
    d.write(
        &format!("{v}/modules.alias"),
        "# Aliases extracted from modules themselves.\n\
         alias usb:v*p*d*dc*dsc*dp*ic08isc06ip50in* kboot_test_storage\n\
         alias alias-without-module\n",
    );
    d.write(
        &format!("{v}/modules.softdep"),
        "softdep kboot_test_scsi pre: kboot-test-crc\n",
    );
    d.write(
        &format!("{v}/modules.builtin"),
        "kernel/drivers/kboot_test_builtin.ko\n",
    );
    d.path().to_string_lossy().into_owned()
}

#[test]
fn modinfo_reads_a_handmade_module() {
    let d = TempDir::new("modinfo");
    let plain = d.join("kboot_test.ko");
    std::fs::write(&plain, tiny_ko(FIELDS)).expect("write");
    let o = kboot("modinfo", &[&plain.to_string_lossy()], "");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    let first = format!("filename:       {}\nversion:        1.2\n", plain.display());
    assert!(text.starts_with(&first), "{text}");
    assert!(text.ends_with(EXPECTED), "{text}");

    let gz = d.join("kboot_test.ko.gz");
    std::fs::write(&gz, gzip(&tiny_ko(FIELDS))).expect("write");
    let o = kboot("modinfo", &["-F", "license", &gz.to_string_lossy()], "");
    assert_eq!((code(&o), stdout(&o).as_str()), (0, "GPL\n"));
    let o = kboot("modinfo", &["-F", "parm", &gz.to_string_lossy()], "");
    assert_eq!(
        stdout(&o),
        "quirks: (string)\ndelay_use:seconds to delay before using a new device (uint)\n"
    );

    let xz = d.join("x.ko.xz");
    std::fs::write(&xz, b"\xfd7zXZ\0rest").expect("write");
    let o = kboot("modinfo", &[&xz.to_string_lossy()], "");
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("xz-compressed module: not supported"),
        "{}",
        stderr(&o)
    );
    let junk = d.write("junk.ko", "not an elf file");
    let o = kboot("modinfo", &[&junk.to_string_lossy()], "");
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("not an ELF file"), "{}", stderr(&o));
}

#[test]
fn modinfo_finds_modules_by_name_and_alias_in_a_tree() {
    let d = TempDir::new("modinfo-tree");
    let root = fake_tree(&d);
    let args = ["-d", &root, "-k", "9.9.9-test"];
    let o = kboot(
        "modinfo",
        &[&args[..], &["-F", "filename", "kboot-test-storage"]].concat(),
        "",
    );
    assert_eq!(
        stdout(&o),
        format!("{root}/lib/modules/9.9.9-test/kernel/drivers/kboot-test-storage.ko.gz\n")
    );
    let alias = "usb:v0781p5567d0100dc00dsc00dp00ic08isc06ip50in00";
    let o = kboot(
        "modinfo",
        &[&args[..], &["-F", "description", alias]].concat(),
        "",
    );
    assert_eq!(stdout(&o), "kboot test storage driver\n");
    let o = kboot(
        "modinfo",
        &[&args[..], &["kboot_test_builtin"]].concat(),
        "",
    );
    assert_eq!(
        stdout(&o),
        "name:           kboot_test_builtin\nfilename:       (builtin)\n"
    );
    let o = kboot("modinfo", &[&args[..], &["nonesuch"]].concat(), "");
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("Module nonesuch not found"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn modprobe_dry_run_prints_the_load_order() {
    let d = TempDir::new("modprobe");
    let root = fake_tree(&d);
    let dir = format!("{root}/lib/modules/9.9.9-test/kernel/drivers");
    let args = ["-d", &root, "-S", "9.9.9-test", "-n"];
    let o = kboot(
        "modprobe",
        &[&args[..], &["kboot-test-storage", "delay_use=3"]].concat(),
        "",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Last-listed dependency first; the softdep before the module that wants it; the
    // command's parameters only on the module asked for.
    assert_eq!(
        stdout(&o),
        format!(
            "insmod {dir}/kboot_test_common.ko.gz\n\
             insmod {dir}/kboot_test_crc.ko\n\
             insmod {dir}/kboot_test_scsi.ko.gz\n\
             insmod {dir}/kboot-test-storage.ko.gz delay_use=3\n"
        )
    );
    // By alias, and -a with a shared dependency printed once.
    let alias = "usb:v0781p5567d0100dc00dsc00dp00ic08isc06ip50in00";
    let o = kboot(
        "modprobe",
        &[&args[..], &["-a", alias, "kboot_test_scsi"]].concat(),
        "",
    );
    assert_eq!(stdout(&o).lines().count(), 4, "{}", stdout(&o));
    let o = kboot(
        "modprobe",
        &[&args[..], &["kboot_test_builtin"]].concat(),
        "",
    );
    assert_eq!(
        (code(&o), stdout(&o).as_str()),
        (0, "builtin kboot_test_builtin\n")
    );
    let o = kboot("modprobe", &[&args[..], &["nonesuch"]].concat(), "");
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("FATAL: Module nonesuch not found in directory"));
    let o = kboot("modprobe", &[&args[..], &["-q", "nonesuch"]].concat(), "");
    assert_eq!((code(&o), stderr(&o).as_str()), (1, ""));
}

#[test]
fn modprobe_coldplug_walks_a_fake_sysfs() {
    let d = TempDir::new("coldplug");
    let root = fake_tree(&d);
    // As sysfs lays them out: device folders under devices/, each bus linking to its own.
    for (bus, dev, alias) in [
        (
            "usb",
            "pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0",
            "usb:v0781p5567d0100dc00dsc00dp00ic08isc06ip50in00\n",
        ),
        (
            "pci",
            "pci0000:00/0000:00:00.0",
            "pci:v00008086d00001237sv00000000sd00000000bc06sc00i00\n",
        ),
    ] {
        d.write(&format!("sys/devices/{dev}/modalias"), alias);
        let links = format!("{root}/sys/bus/{bus}/devices");
        std::fs::create_dir_all(&links).expect("mkdir");
        let name = dev.rsplit('/').next().unwrap_or(dev);
        std::os::unix::fs::symlink(
            format!("{root}/sys/devices/{dev}"),
            format!("{links}/{name}"),
        )
        .expect("symlink");
    }
    let sysfs = format!("{root}/sys");
    let o = kboot(
        "modprobe",
        &[
            "-d",
            &root,
            "-S",
            "9.9.9-test",
            "-n",
            "-v",
            "--coldplug",
            "--sysfs",
            &sysfs,
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    assert_eq!(
        text.lines().filter(|l| l.starts_with("insmod ")).count(),
        4,
        "{text}"
    );
    assert!(text.contains("modules: 4 loaded in "), "{text}");
    assert!(text.contains("no driver: pci:v00008086d00001237"), "{text}");
}
