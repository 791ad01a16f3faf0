//! BTF parser tests against real kernel BTF: the running kernel's /sys/kernel/btf/vmlinux and
//! Debian 6.1's vmlinux .BTF (extracted by scripts/extract-btf.sh into target/fixtures).

use crate::dump::kernel::btf::*;
use std::path::PathBuf;

fn sys_btf() -> Option<Btf> {
    match std::fs::read("/sys/kernel/btf/vmlinux") {
        Ok(b) => Some(Btf::parse(b).expect("running kernel's BTF parses")),
        Err(e) => {
            eprintln!("SKIP: /sys/kernel/btf/vmlinux not readable here: {e}");
            None
        }
    }
}

/// Debian 6.1's BTF, extracted once by tests/fixtures/extract-btf.sh and cached under the
/// workspace's target/fixtures. Under `cargo xtask test` (KBOOT_REQUIRE_FIXTURES) a BTF that
/// cannot be extracted fails the test instead of skipping it.
pub(crate) fn debian_btf() -> Option<Btf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = root.join("../target/fixtures/vmlinux.btf");
    if !out.exists() {
        qemu_tests::host_tools::require(&["objcopy", "xz", "zstd", "gzip"]);
        let script = root.join("tests/fixtures/extract-btf.sh");
        let status = std::process::Command::new(&script).status();
        if !status.is_ok_and(|s| s.success()) {
            assert!(
                std::env::var_os("KBOOT_REQUIRE_FIXTURES").is_none(),
                "{} could not extract Debian's kernel BTF (cargo xtask deps installs linux-image-amd64)",
                script.display()
            );
            eprintln!(
                "SKIP: could not extract Debian kernel BTF (apt-get install linux-image-amd64)"
            );
            return None;
        }
    }
    Some(Btf::parse(std::fs::read(&out).expect("read fixture")).expect("Debian BTF parses"))
}

fn struct_id(btf: &Btf, name: &str) -> TypeId {
    btf.find(Kind::Struct, name)
        .unwrap_or_else(|| panic!("struct {name} not found"))
}

fn member_offset(btf: &Btf, s: &str, m: &str) -> u32 {
    let id = struct_id(btf, s);
    btf.member(id, m)
        .unwrap()
        .unwrap_or_else(|| panic!("{s}.{m} missing"))
        .bit_offset
        / 8
}

fn check_common_kernel_facts(btf: &Btf) {
    assert!(
        btf.count() > 10_000,
        "a vmlinux BTF has tens of thousands of types"
    );
    let lh = struct_id(btf, "list_head");
    assert_eq!(btf.size_of(lh).unwrap(), 16);
    assert_eq!(member_offset(btf, "list_head", "prev"), 8);
    assert_eq!(btf.size_of(struct_id(btf, "hlist_node")).unwrap(), 16);
    assert_eq!(btf.size_of(struct_id(btf, "rb_node")).unwrap(), 24);

    let task = struct_id(btf, "task_struct");
    let pid = btf.member(task, "pid").unwrap().expect("task_struct.pid");
    let pid_t = btf.resolve(pid.ty).unwrap();
    assert_eq!(
        pid_t.kind,
        Kind::Int,
        "pid_t resolves through typedefs to int"
    );
    assert!(btf.int_info(&pid_t).unwrap().signed);
    assert_eq!(btf.size_of(pid.ty).unwrap(), 4);
    assert_eq!(btf.type_name(pid.ty), "pid_t");
    let comm = btf.member(task, "comm").unwrap().expect("task_struct.comm");
    assert_eq!(btf.type_name(comm.ty), "char[16]");
    assert_eq!(btf.size_of(comm.ty).unwrap(), 16);
    assert!(
        comm.bit_offset > pid.bit_offset,
        "comm comes after pid in task_struct"
    );
    assert_eq!(pid.bit_offset % 32, 0);
    let tasks = btf
        .member(task, "tasks")
        .unwrap()
        .expect("task_struct.tasks");
    assert_eq!(btf.type_name(tasks.ty), "struct list_head");
    assert!(btf.size_of(task).unwrap() > 2000);
    let u64_t = btf
        .named("u64")
        .find(|&id| btf.ty(id).unwrap().kind == Kind::Typedef)
        .expect("typedef u64");
    assert_eq!(btf.size_of(u64_t).unwrap(), 8);
    assert!(!btf.int_info(&btf.resolve(u64_t).unwrap()).unwrap().signed);
}

#[test]
fn running_kernel_btf_has_task_struct() {
    if let Some(btf) = sys_btf() {
        check_common_kernel_facts(&btf);
    }
}

#[test]
fn debian_kernel_btf_matches_its_vmcoreinfo() {
    let Some(btf) = debian_btf() else { return };
    check_common_kernel_facts(&btf);
    // These numbers are what Debian 6.1's own VMCOREINFO reports (the compiler's view).
    assert_eq!(btf.size_of(struct_id(&btf, "page")).unwrap(), 64);
    assert_eq!(member_offset(&btf, "page", "_refcount"), 52);
    assert_eq!(member_offset(&btf, "page", "mapping"), 24);
    assert_eq!(member_offset(&btf, "page", "compound_head"), 8);
    assert_eq!(btf.size_of(struct_id(&btf, "zone")).unwrap(), 1536);
    assert_eq!(member_offset(&btf, "zone", "free_area"), 256);
    assert_eq!(btf.size_of(struct_id(&btf, "pglist_data")).unwrap(), 174208);
    assert_eq!(
        member_offset(&btf, "printk_ringbuffer", "text_data_ring"),
        48
    );
    // Bitfields: task_struct has single-bit flags such as sched_reset_on_fork.
    let task = struct_id(&btf, "task_struct");
    let bit = btf
        .member(task, "sched_reset_on_fork")
        .unwrap()
        .expect("bitfield member");
    assert_eq!(bit.bitfield_size, 1);
    // Enums: TASK_COMM_LEN is an enumerator in 6.1.
    let found = (1..=btf.count()).any(|id| {
        let t = btf.ty(id).unwrap();
        t.kind == Kind::Enum
            && btf
                .enumerators(&t)
                .unwrap()
                .iter()
                .any(|&(n, v)| n == "TASK_COMM_LEN" && v == 16)
    });
    assert!(found, "enum with TASK_COMM_LEN = 16");
}

#[test]
fn corrupt_btf_is_an_error_not_a_panic() {
    let Some(blob) = std::fs::read("/sys/kernel/btf/vmlinux").ok().or_else(|| {
        debian_btf()?;
        std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/fixtures/vmlinux.btf"))
            .ok()
    }) else {
        eprintln!("SKIP: no BTF blob available");
        return;
    };
    for cut in [0, 3, 23, 24, 1000, blob.len() / 2, blob.len() - 1] {
        assert!(Btf::parse(blob[..cut].to_vec()).is_err(), "cut at {cut}");
    }
    let mut bad_magic = blob.clone();
    bad_magic[0] ^= 0xff;
    assert!(Btf::parse(bad_magic).is_err());
    let mut bad_len = blob.clone();
    bad_len[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(Btf::parse(bad_len).is_err());
    // Flip the kind byte of the first type record to an unknown kind.
    let hdr = u32::from_le_bytes(blob[4..8].try_into().unwrap()) as usize;
    let mut bad_kind = blob.clone();
    bad_kind[hdr + 7] = 0x1f;
    assert!(Btf::parse(bad_kind).is_err());
    // A small but real blob (the first 300 types + all strings): flipping any byte of its
    // header or types must give an error or a parse that can be walked, never a panic.
    let full = Btf::parse(blob.clone()).unwrap();
    let types_end = full.offsets[300] as usize - hdr;
    let field = |o: usize| u32::from_le_bytes(blob[o..o + 4].try_into().unwrap()) as usize;
    let (str_off, str_len) = (field(16), field(20));
    let mut small = blob[..hdr + types_end].to_vec();
    small[12..16].copy_from_slice(&(types_end as u32).to_le_bytes());
    small[16..20].copy_from_slice(&(types_end as u32).to_le_bytes());
    small.extend_from_slice(&blob[hdr + str_off..hdr + str_off + str_len]);
    assert_eq!(Btf::parse(small.clone()).unwrap().count(), 300);
    for i in 0..hdr + types_end {
        let mut f = small.clone();
        f[i] ^= 0xa5;
        if let Ok(b) = Btf::parse(f) {
            for id in 1..=b.count() {
                let _ = b.size_of(id);
                let _ = b.type_name(id);
                if let Ok(t) = b.ty(id) {
                    let _ = b.members(&t);
                    let _ = b.enumerators(&t);
                }
            }
        }
    }
}

/// A blob of `types` (each a 12-byte header plus its extra bytes) and an empty string table.
fn blob_of(types: &[u8]) -> Vec<u8> {
    let mut b = vec![0x9f, 0xeb, 1, 0];
    for v in [24u32, 0, types.len() as u32, types.len() as u32, 1] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(types);
    b.push(0);
    b
}

#[test]
fn an_array_of_itself_has_no_size_and_no_stack_overflow() {
    // Found by the btf fuzz target: type 1 is an ARRAY whose element type is 1, and
    // size_of recursed until the stack ran out.
    let mut t = Vec::new();
    for v in [0u32, 3 << 24, 0, 1, 1, 2] {
        t.extend_from_slice(&v.to_le_bytes());
    }
    let btf = Btf::parse(blob_of(&t)).expect("a well-formed blob");
    let err = btf.size_of(1).expect_err("no size");
    assert!(err.to_string().contains("too deep"), "{err}");
    let _ = btf.type_name(1);
}

#[test]
fn members_are_found_by_whole_name_also_inside_anonymous_unions() {
    // Names compared without decoding: a prefix ("ne") or a longer name ("next_entry")
    // must not match "next".
    let strings = b"\0int\0next\0next_entry\0s\0nex\0";
    let at = |name: &str| {
        let needle = format!("\0{name}\0");
        strings
            .windows(needle.len())
            .position(|w| w == needle.as_bytes())
            .map(|p| p as u32 + 1)
            .unwrap()
    };
    let mut t = Vec::new();
    let mut put = |vals: &[u32]| {
        vals.iter()
            .for_each(|v| t.extend_from_slice(&v.to_le_bytes()))
    };
    put(&[at("int"), 1 << 24, 4, 32]); // 1: int
    put(&[0, 5 << 24 | 1, 8, at("next"), 1, 0]); // 2: union { int next; }
    put(&[at("s"), 4 << 24 | 3, 16]); // 3: struct s
    put(&[at("next_entry"), 1, 0, 0, 2, 64, at("nex"), 1, 96]);
    let mut blob = vec![0x9f, 0xeb, 1, 0];
    for v in [
        24u32,
        0,
        t.len() as u32,
        t.len() as u32,
        strings.len() as u32,
    ] {
        blob.extend_from_slice(&v.to_le_bytes());
    }
    blob.extend_from_slice(&t);
    blob.extend_from_slice(strings);
    let btf = Btf::parse(blob).expect("a well-formed blob");
    let offset = |name| btf.member(3, name).unwrap().map(|m| m.bit_offset);
    assert_eq!(offset("next"), Some(64), "inside the anonymous union");
    assert_eq!(offset("next_entry"), Some(0));
    assert_eq!(offset("nex"), Some(96));
    assert_eq!(offset("ne"), None);
    assert_eq!(offset("next_entr"), None);
    assert!(btf.member(1, "next").is_err(), "int has no members");
}
