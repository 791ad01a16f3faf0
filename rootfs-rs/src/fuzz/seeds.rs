//! Seed inputs for each target, made at run time from the project's real material: the
//! hand-written distro trees of rootfs-rs/tests/trees (packed with `super::pack`), the
//! vmcore fixtures under target/fixtures (headers, notes, VMCOREINFO, a BTF prefix), and a
//! few small hand-made inputs where no fixture exists. Seeds stay small (≤ 64 KiB) so the
//! fuzzer's mutations hit the interesting bytes. Missing fixtures just mean fewer seeds.

use std::fs;
use std::path::{Path, PathBuf};

use super::pack;
use crate::blockdev::partitions::crc32;

/// Every file of a tree is kept, its contents cut here (kernels and initrds are stand-ins;
/// only their names matter to the scan).
const TREE_FILE_BYTES: usize = 4096;
const MAX_SEED: usize = 64 << 10;

/// Seeds of target `name`; `root` is the workspace (the directory holding rootfs-rs/).
pub fn seeds(name: &str, root: &Path) -> Vec<Vec<u8>> {
    let trees = |is_main: fn(&str) -> bool| tree_seeds(root, is_main);
    let dumps = super::seeds_dump::dump_seeds;
    match name {
        "grub" => trees(|p| p.ends_with("/grub.cfg")),
        "bls" => trees(|p| p.contains("/loader/entries/")),
        "syslinux" | "pxelinux" => trees(|p| {
            ["extlinux.conf", "syslinux.cfg", "isolinux.cfg"]
                .iter()
                .any(|n| p.ends_with(n))
        }),
        "lilo" => trees(|p| p.ends_with("/lilo.conf")),
        "kboot_toml" => {
            let mut s = trees(|p| p.ends_with("/kboot.conf"));
            s.push(KBOOT_TOML.as_bytes().to_vec());
            s
        }
        "grubenv" => tree_files(root)
            .into_iter()
            .flat_map(|(_, files)| files)
            .filter(|(p, _)| p.ends_with("/grubenv"))
            .map(|(_, bytes)| bytes)
            .collect(),
        "ipxe" => vec![pack(
            IPXE_MENU.as_bytes(),
            &[("/other.ipxe".into(), IPXE_CHAINED.as_bytes().to_vec())],
        )],
        "uki" => vec![uki_image()],
        "partitions" => vec![mbr_disk(), gpt_disk()],
        "fs_probe" => fs_heads(),
        "dhcp" => vec![dhcp_ack()],
        "http" => HTTP.iter().map(|s| s.as_bytes().to_vec()).collect(),
        "ftp" => vec![FTP.as_bytes().to_vec()],
        "tftp" => vec![tftp_transfer()],
        "url" => URLS.iter().map(|s| s.as_bytes().to_vec()).collect(),
        "pathname" => PATHS.iter().map(|s| s.as_bytes().to_vec()).collect(),
        _ => dumps(name, root),
    }
}

/// Files of a tree: (absolute path, contents).
type Files = Vec<(String, Vec<u8>)>;

/// (tree name, files) of every tree under rootfs-rs/tests/trees.
fn tree_files(root: &Path) -> Vec<(String, Files)> {
    let dir = root.join("rootfs-rs/tests/trees");
    let mut names: Vec<_> = fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|name| {
            let top = dir.join(&name).join("root");
            let mut files = Vec::new();
            walk(&top, &top, &mut files);
            (!files.is_empty()).then_some((name, files))
        })
        .collect()
}

fn walk(top: &Path, dir: &Path, out: &mut Files) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(top, &path, out);
        } else if let (Ok(rel), Ok(mut bytes)) = (path.strip_prefix(top), fs::read(&path)) {
            bytes.truncate(TREE_FILE_BYTES);
            bytes.retain(|&b| b != 0);
            out.push((format!("/{}", rel.display()), bytes));
        }
    }
}

/// One seed per tree: the first file `is_main` accepts is the main file, the rest of the
/// tree (kernels, other configs) follows, so every config the scan finds is fuzzed too.
fn tree_seeds(root: &Path, is_main: fn(&str) -> bool) -> Vec<Vec<u8>> {
    tree_files(root)
        .into_iter()
        .map(|(_, mut files)| {
            let main = files
                .iter()
                .position(|(p, _)| is_main(p))
                .map(|i| files.remove(i).1)
                .unwrap_or_default();
            let seed = pack(&main, &files);
            seed[..seed.len().min(MAX_SEED)].to_vec()
        })
        .collect()
}

const KBOOT_TOML: &str = "[menu]\ntimeout = 5\ndefault = \"debian\"\nscan_timeout = 3\n\n[net]\ndhcp = [\"eth0\"]\n\n[dump]\ntarget = \"LABEL=CRASH\"\nlevel = 31\n\n[entry.debian]\nlabel = \"Debian\"\nkernel = \"/vmlinuz\"\ninitrd = [\"/initrd.img\"]\ncmdline = \"quiet\"\n";

const IPXE_MENU: &str = "#!ipxe\ndhcp\nset base http://${next-server}/debian\nmenu Boot menu\nitem --key d debian Debian ${mac:hexhyp}\nitem rescue Rescue\nitem other Chained\nchoose --default debian --timeout 5000 target && goto ${target}\n:debian\nkernel ${base}/vmlinuz console=ttyS0 ip=${ip}\ninitrd ${base}/initrd.img\nboot\n:rescue\nisset ${uuid} && kernel /rescue/vmlinuz single || kernel /vmlinuz\nboot\n:other\nchain other.ipxe\n";
const IPXE_CHAINED: &str = "#!ipxe\nkernel tftp://10.0.2.2/vmlinuz\nimgargs vmlinuz quiet\nboot\n";

fn uki_image() -> Vec<u8> {
    crate::boot::config::pe::build(&[
        (
            ".osrel",
            b"NAME=Debian\nVERSION_ID=12\nPRETTY_NAME=\"Debian GNU/Linux 12\"\n",
        ),
        (".cmdline", b"root=/dev/vda2 quiet"),
        (".uname", b"6.1.0-18-amd64"),
        (".linux", b"MZ kernel"),
        (".initrd", b"initrd"),
        (".profile", b"ID=rescue\nTITLE=Rescue\n"),
        (".cmdline", b"root=/dev/vda2 single"),
    ])
}

fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// 64 sectors: one primary partition and an extended one holding two logical ones.
fn mbr_disk() -> Vec<u8> {
    let mut d = vec![0u8; 64 * 512];
    let entry = |d: &mut [u8], sector: usize, slot: usize, kind: u8, start: u32, len: u32| {
        let at = sector * 512 + 446 + 16 * slot;
        d[at + 4] = kind;
        put_u32(d, at + 8, start);
        put_u32(d, at + 12, len);
    };
    entry(&mut d, 0, 0, 0x83, 2, 20);
    entry(&mut d, 0, 1, 0x05, 30, 30);
    entry(&mut d, 30, 0, 0x0c, 1, 10);
    entry(&mut d, 30, 1, 0x05, 12, 10);
    entry(&mut d, 42, 0, 0x83, 1, 5);
    for sector in [0, 30, 42] {
        d[sector * 512 + 510..sector * 512 + 512].copy_from_slice(&[0x55, 0xAA]);
    }
    d
}

/// 48 sectors: protective MBR, GPT header and 4 entries, backup header at the end.
fn gpt_disk() -> Vec<u8> {
    let sectors = 48u64;
    let mut d = vec![0u8; sectors as usize * 512];
    d[446 + 4] = 0xEE;
    put_u32(&mut d, 446 + 8, 1);
    put_u32(&mut d, 446 + 12, sectors as u32 - 1);
    d[510..512].copy_from_slice(&[0x55, 0xAA]);
    let entries_at = 2 * 512;
    for (i, (first, last, name)) in [(10u64, 20u64, "ESP"), (21, 40, "root")].iter().enumerate() {
        let e = entries_at + 128 * i;
        d[e..e + 16].copy_from_slice(&[
            0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0, 0xA0, 0xC9, 0x3E, 0xC9,
            0x3B,
        ]);
        d[e + 16] = i as u8 + 1;
        put_u64(&mut d, e + 32, *first);
        put_u64(&mut d, e + 40, *last);
        for (j, c) in name.encode_utf16().enumerate() {
            d[e + 56 + 2 * j..e + 58 + 2 * j].copy_from_slice(&c.to_le_bytes());
        }
    }
    let entries_crc = crc32(&d[entries_at..entries_at + 4 * 128]);
    for (lba, alternate) in [(1u64, sectors - 1), (sectors - 1, 1)] {
        let h = lba as usize * 512;
        d[h..h + 8].copy_from_slice(b"EFI PART");
        put_u32(&mut d, h + 8, 0x0001_0000);
        put_u32(&mut d, h + 12, 92);
        put_u64(&mut d, h + 24, lba);
        put_u64(&mut d, h + 32, alternate);
        put_u64(&mut d, h + 40, 3);
        put_u64(&mut d, h + 48, sectors - 2);
        put_u64(&mut d, h + 72, 2);
        put_u32(&mut d, h + 80, 4);
        put_u32(&mut d, h + 84, 128);
        put_u32(&mut d, h + 88, entries_crc);
        let crc = crc32(&d[h..h + 92]);
        put_u32(&mut d, h + 16, crc);
    }
    d
}

/// The first bytes of each filesystem kind, with the signature where the probes look.
fn fs_heads() -> Vec<Vec<u8>> {
    let at = |offset: usize, magic: &[u8], len: usize| {
        let mut b = vec![0u8; len];
        b[offset..offset + magic.len()].copy_from_slice(magic);
        b
    };
    let mut ext = at(1024 + 56, &[0x53, 0xEF], 4096);
    ext[1024 + 120..1024 + 124].copy_from_slice(b"root");
    let mut fat = at(82, b"FAT32   ", 512);
    fat[510..512].copy_from_slice(&[0x55, 0xAA]);
    fat[11..13].copy_from_slice(&512u16.to_le_bytes());
    fat[13] = 8;
    vec![
        ext,
        fat,
        at(0, b"XFSB", 512),
        at(0x10040, b"_BHRfS_M", 0x10100),
        at(0x8001, b"CD001", 0x8800),
        at(4086, b"SWAPSPACE2", 4096),
        at(0, b"LUKS\xba\xbe\x00\x02", 4096),
    ]
}

fn dhcp_ack() -> Vec<u8> {
    let mut p = vec![0u8; 240];
    p[..3].copy_from_slice(&[2, 1, 6]);
    p[4..8].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    p[16..20].copy_from_slice(&[10, 0, 2, 15]);
    p[20..24].copy_from_slice(&[10, 0, 2, 2]);
    p[108..108 + 12].copy_from_slice(b"pxelinux.0\0\0");
    p[236..240].copy_from_slice(&[99, 130, 83, 99]);
    for option in [
        &[53u8, 1, 5][..],
        &[54, 4, 10, 0, 2, 2],
        &[51, 4, 0, 1, 0x51, 0x80],
        &[1, 4, 255, 255, 255, 0],
        &[3, 4, 10, 0, 2, 2],
        &[0, 0],
        &[6, 8, 10, 0, 2, 3, 1, 1, 1, 1],
        &[15, 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e'],
        &[
            67, 11, b'b', b'o', b'o', b't', b'.', b'i', b'p', b'x', b'e', 0, 0,
        ],
        &[255],
    ] {
        p.extend_from_slice(option);
    }
    p
}

const HTTP: &[&str] = &[
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\n[menu]\ntime",
    "HTTP/1.0 301 Moved Permanently\r\nLocation: /boot/other.toml\r\n\r\n",
    "HTTP/1.1 404 Not Found\r\nServer: nginx\r\n\r\n<html></html>",
];

const FTP: &str = "220-Welcome\r\n220 ready\r\n331 Password required\r\n230 Logged in\r\n200 Type set to I\r\n227 Entering Passive Mode (10,0,2,2,195,80).\r\n229 Entering Extended Passive Mode (|||6446|)\r\n150 Opening BINARY mode data connection for vmlinuz (5242880 bytes)\r\n226 Transfer complete\r\n";

/// OACK (blksize 8, tsize 20), then three DATA blocks of 8, 8 and 4 bytes.
fn tftp_transfer() -> Vec<u8> {
    let mut packets: Vec<Vec<u8>> = vec![b"\x00\x06blksize\x008\x00tsize\x0020\x00".to_vec()];
    for (block, data) in [(1u16, &b"DEFAULT "[..]), (2, b"linux vm"), (3, b"linu")] {
        let mut p = vec![0, 3];
        p.extend_from_slice(&block.to_be_bytes());
        p.extend_from_slice(data);
        packets.push(p);
    }
    let mut out = Vec::new();
    for p in packets {
        out.push(7);
        out.extend_from_slice(&(p.len() as u16).to_be_bytes());
        out.extend_from_slice(&p);
    }
    out
}

const URLS: &[&str] = &[
    "http://10.0.2.2:8080/boot/kboot.toml\n../vmlinuz",
    "tftp://10.0.2.2/pxelinux.cfg/default\n/pxelinux.0",
    "ftp://mirror.example/debian/\nhttp://other/x",
];

const PATHS: &[&str] = &[
    "sda1:/boot/vmlinuz",
    "LABEL=root:/boot/grub/grub.cfg",
    "UUID=1234-ABCD:/EFI/Linux/x.efi",
    "10.0.2.2:/srv/nfs/vmlinuz",
    "//etc/kboot/kboot.toml",
    "/dev/sda6:/initrd.img",
    "http://10.0.2.2/vmlinuz",
];
