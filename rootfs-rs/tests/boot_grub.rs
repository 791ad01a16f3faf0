//! GRUB interpreter behaviour on small hand-written configs and on the generated Debian config.

use std::path::{Path, PathBuf};

use rootfs_rs::boot::config::grub::{parse_grub, parse_grub_with};
use rootfs_rs::boot::entry::{EntryKind, FsRef, Parsed};
use rootfs_rs::boot::fs::{DirFs, MemFs};

fn grub(cfg: &str) -> Parsed {
    parse_grub(
        &MemFs::new().with("/boot/grub/grub.cfg", cfg),
        Path::new("/boot/grub/grub.cfg"),
    )
}

fn labels(parsed: &Parsed) -> Vec<&str> {
    parsed.entries.iter().map(|e| e.label.as_str()).collect()
}

fn default_label(parsed: &Parsed) -> &str {
    parsed
        .entries
        .iter()
        .find(|e| e.is_default)
        .map(|e| e.label.as_str())
        .unwrap_or("<none>")
}

const MENU: &str = "
menuentry 'Alpha' --id alpha { linux /a }
submenu 'More' --id more {
  menuentry 'Beta' --id beta { linux /b }
  menuentry 'Gamma' --id gamma { linux /c }
}
menuentry 'Delta' { linux /d }
";

#[test]
fn default_by_index_title_id_and_submenu_path() {
    for (default, want) in [
        ("0", "Alpha"),
        ("2", "Delta"),
        ("Delta", "Delta"),
        ("alpha", "Alpha"),
        ("more>gamma", "More>Gamma"),
        ("More>Beta", "More>Beta"),
        ("1>1", "More>Gamma"),
        ("1", "More>Beta"),
    ] {
        let parsed = grub(&format!("set default=\"{default}\"\n{MENU}"));
        assert_eq!(default_label(&parsed), want, "default={default}");
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    }
    assert_eq!(
        labels(&grub(MENU)),
        ["Alpha", "More>Beta", "More>Gamma", "Delta"]
    );
}

#[test]
fn unknown_default_warns_and_uses_first() {
    let parsed = grub(&format!("set default=nosuch\n{MENU}"));
    assert_eq!(default_label(&parsed), "Alpha");
    assert_eq!(parsed.warnings.len(), 1);
    assert!(parsed.warnings[0].message.contains("nosuch"));
}

#[test]
fn saved_entry_and_kernelopts_from_grubenv() {
    let mut env =
        b"# GRUB Environment Block\nsaved_entry=Second\nkernelopts=root=/dev/vda1 ro\n".to_vec();
    env.resize(1024, b'#');
    let fs = MemFs::new()
        .with("/grub2/grubenv", env)
        .with(
            "/grub2/grub.cfg",
            "if [ -s $prefix/grubenv ]; then load_env; fi\nset default=\"${saved_entry}\"\n\
             menuentry First { linux /k $kernelopts }\nmenuentry Second { linux /k $kernelopts quiet }\n",
        );
    let parsed = parse_grub(&fs, Path::new("/grub2/grub.cfg"));
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    assert_eq!(default_label(&parsed), "Second");
    assert_eq!(parsed.entries[1].cmdline, "root=/dev/vda1 ro quiet");
}

#[test]
fn linuxefi_initrds_root_and_search() {
    let parsed = grub(
        "menuentry 'E' {\n search --no-floppy --label --set=root FEDORA\n linuxefi ($root)/vmlinuz \\\n   ro quiet\n initrdefi /ucode.img (hd1,gpt2)/initrd.img\n}\n\
         menuentry 'D' {\n set root=(hd0,gpt3)\n linux16 /vmlinuz console=ttyS0\n}\n\
         menuentry 'U' {\n search.fs_uuid 1234-ABCD bootdev hd0,gpt1\n set root=$bootdev\n linux /v\n}\n",
    );
    let e = &parsed.entries;
    assert_eq!(e[0].kernel, PathBuf::from("/vmlinuz"));
    assert_eq!(e[0].cmdline, "ro quiet");
    assert_eq!(
        e[0].initrds,
        [PathBuf::from("/ucode.img"), PathBuf::from("/initrd.img")]
    );
    assert_eq!(e[0].root_fs, Some(FsRef::Label("FEDORA".into())));
    assert_eq!(e[1].root_fs, Some(FsRef::Device("hd0,gpt3".into())));
    assert_eq!(e[1].cmdline, "console=ttyS0");
    assert_eq!(e[2].root_fs, Some(FsRef::Uuid("1234-ABCD".into())));
}

#[test]
fn quoting_in_titles_and_arguments() {
    let parsed =
        grub("menuentry 'It'\\''s \"quoted\"' {\n linux /k \"a b\"c 'x y' d\\ e \\$HOME\n}\n");
    assert_eq!(parsed.entries[0].label, "It's \"quoted\"");
    assert_eq!(parsed.entries[0].cmdline, "a bc x y d e $HOME");
}

#[test]
fn conditions_are_evaluated_or_warned() {
    let fs = MemFs::new().with("/boot/grub/extra", "x").with(
        "/boot/grub/grub.cfg",
        "set a=1\nif [ \"$a\" = 2 ]; then set k=/wrong; elif [ -f $prefix/extra ]; then set k=/right; else set k=/else; fi\n\
         if [ -z \"$unset\" -a -n \"$a\" ]; then set o=ok; fi\n\
         if cpuid -l; then set m=first; else set m=second; fi\n\
         menuentry T { linux $k $o $m }\n",
    );
    let parsed = parse_grub(&fs, Path::new("/boot/grub/grub.cfg"));
    assert_eq!(parsed.entries[0].kernel, PathBuf::from("/right"));
    assert_eq!(parsed.entries[0].cmdline, "ok first");
    assert_eq!(parsed.warnings.len(), 1, "{:?}", parsed.warnings);
    assert_eq!(parsed.warnings[0].line, 4, "the `if cpuid` line");
}

#[test]
fn platform_variable_selects_branch() {
    let cfg = "menuentry X {\n if [ x$grub_platform = xefi ]; then linuxefi /efi-k; else linux /bios-k; fi\n}\n";
    let fs = MemFs::new().with("/grub/grub.cfg", cfg);
    assert_eq!(
        parse_grub(&fs, Path::new("/grub/grub.cfg")).entries[0].kernel,
        PathBuf::from("/bios-k")
    );
    let efi = parse_grub_with(
        &fs,
        Path::new("/grub/grub.cfg"),
        &[("grub_platform", "efi")],
    );
    assert_eq!(efi.entries[0].kernel, PathBuf::from("/efi-k"));
}

#[test]
fn source_configfile_and_nested_configfile_menu() {
    let fs = MemFs::new()
        .with(
            "/boot/grub/grub.cfg",
            "source $prefix/part.cfg\nmenuentry 'Other distro' { configfile /other/grub.cfg }\n",
        )
        .with(
            "/boot/grub/part.cfg",
            "menuentry 'From part' { linux /p }\n",
        )
        .with(
            "/other/grub.cfg",
            "menuentry 'Inner 1' { linux /i1 }\nmenuentry 'Inner 2' { linux /i2 }\n",
        );
    let parsed = parse_grub(&fs, Path::new("/boot/grub/grub.cfg"));
    assert_eq!(
        labels(&parsed),
        ["From part", "Other distro>Inner 1", "Other distro>Inner 2"]
    );
    assert_eq!(parsed.entries[0].source, "grub: /boot/grub/part.cfg");
    assert_eq!(parsed.entries[1].source, "grub: /other/grub.cfg");
}

#[test]
fn functions_run_when_called_and_chainloader_entries() {
    let parsed = grub(
        "function pick { set chosen_kernel=$1; set extra=\"$2\" }\n\
         menuentry L { pick /vmlinuz-x 'a b'; linux $chosen_kernel $extra }\n\
         menuentry W { insmod chain; chainloader +1 }\n\
         menuentry F { fwsetup }\n",
    );
    assert_eq!(parsed.entries[0].kernel, PathBuf::from("/vmlinuz-x"));
    assert_eq!(parsed.entries[0].cmdline, "a b");
    assert_eq!(
        parsed.entries[1].kind,
        EntryKind::Chainload {
            target: "+1".into()
        }
    );
    assert_eq!(parsed.entries.len(), 2, "fwsetup entry is not bootable");
}

#[test]
fn blscfg_merges_entries_at_its_position() {
    let fs = MemFs::new()
        .with(
            "/boot/grub2/grub.cfg",
            "menuentry Before { linux /b }\nblscfg\nmenuentry After { linux /a }\nset default=1\n",
        )
        .with(
            "/boot/loader/entries/m-5.1.conf",
            "title Five\nlinux /boot/vmlinuz-5.1\noptions ro\n",
        )
        .with(
            "/boot/loader/entries/m-5.10.conf",
            "title Five-ten\nlinux /boot/vmlinuz-5.10\noptions ro\n",
        );
    let parsed = parse_grub(&fs, Path::new("/boot/grub2/grub.cfg"));
    assert_eq!(labels(&parsed), ["Before", "Five-ten", "Five", "After"]);
    assert_eq!(default_label(&parsed), "Five-ten");
    assert_eq!(
        parsed.entries[1].source,
        "bls: /boot/loader/entries/m-5.10.conf"
    );
}

/// The real grub-mkconfig output, parsed without discovery's deduplication.
#[test]
fn debian_generated_config_in_full() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/trees/debian12/root");
    let parsed = parse_grub(&DirFs::new(root), Path::new("/boot/grub/grub.cfg"));
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    assert_eq!(parsed.entries.len(), 5);
    assert_eq!(
        parsed.entries[1].label,
        "Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-18-amd64"
    );
    assert_eq!(
        parsed.entries[1].id,
        "gnulinux-6.1.0-18-amd64-advanced-8b1f4e2c-5a3d-4c1e-9f7a-2d6b0e3c4a51"
    );
    for entry in &parsed.entries {
        assert_eq!(
            entry.root_fs,
            Some(FsRef::Uuid("8b1f4e2c-5a3d-4c1e-9f7a-2d6b0e3c4a51".into()))
        );
        assert_eq!(entry.kind, EntryKind::Linux);
    }
    assert_eq!(parsed.timeout_secs, Some(5));
}
