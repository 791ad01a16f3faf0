//! Per-kernel bench figures (#15): the genuine kdump capture of each Debian kernel the
//! tests make (5.10, /boot's 6.1, 6.12, 7.x) — which fixtures exist, what their VMCOREINFO
//! says (kallsyms exported? slab pages a page flag?), and `kboot triage` on each against
//! the budgets: full report ≤ 1 s and ≤ 64 MiB, a kallsyms scan ≤ 0.3 s extra.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::bench::timed_median;
use crate::report::print_table;

/// The kdump fixture directories under target/fixtures, oldest kernel first, with the
/// suite each kernel comes from: /boot's kernel in "kdump", the others named after the
/// suites of rootfs-rs/tests/triage_common/mod.rs (`SUITES`, `suite_fixture`).
pub const KDUMP_FIXTURES: &[(&str, &str)] = &[
    ("kdump-bullseye", "bullseye"),
    ("kdump", "/boot"),
    ("kdump-trixie", "trixie"),
    ("kdump-sid", "sid"),
];

/// The file each kdump fixture directory must hold: the capture kernel's /proc/vmcore.
pub const VMCORE: &str = "vmcore.proc.elf";

/// Full report budget: wall time and peak RSS (it must fit a crashkernel reservation).
pub const REPORT_SECS: f64 = 1.0;
pub const REPORT_RSS_KIB: u64 = 64 * 1024;
/// What finding kallsyms by scanning the kernel image (< 6.0) may add.
pub const SCAN_EXTRA_SECS: f64 = 0.3;

/// One kernel's kdump fixture.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelFixture {
    /// Its directory under target/fixtures ("kdump-trixie").
    pub dir_name: &'static str,
    /// Where the kernel came from ("trixie", "/boot").
    pub suite: &'static str,
    /// The guest's `uname -r` (guest.txt's KBOOT-GUEST-RELEASE line).
    pub release: String,
    /// The genuine /proc/vmcore copy.
    pub vmcore: PathBuf,
}

/// The kdump fixtures present under `fixtures`, oldest kernel first, and a note for each
/// one that is absent.
pub fn discover(fixtures: &Path) -> (Vec<KernelFixture>, Vec<String>) {
    let mut found = Vec::new();
    let mut absent = Vec::new();
    for &(dir_name, suite) in KDUMP_FIXTURES {
        let dir = fixtures.join(dir_name);
        let vmcore = dir.join(VMCORE);
        if !vmcore.is_file() {
            absent.push(format!(
                "{dir_name} ({suite}'s kernel): no {} (`cargo xtask test` makes it)",
                vmcore.display()
            ));
            continue;
        }
        let release = std::fs::read_to_string(dir.join("guest.txt"))
            .ok()
            .and_then(|t| guest_release(&t))
            .unwrap_or_else(|| format!("{dir_name} (release unknown)"));
        found.push(KernelFixture {
            dir_name,
            suite,
            release,
            vmcore,
        });
    }
    (found, absent)
}

/// The release a guest printed about itself: "KBOOT-GUEST-RELEASE 6.1.0-57-amd64".
pub fn guest_release(guest_txt: &str) -> Option<String> {
    guest_txt
        .lines()
        .find_map(|l| l.trim().strip_prefix("KBOOT-GUEST-RELEASE "))
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
}

/// What a vmcore's VMCOREINFO says about the tools' needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmcoreFacts {
    /// VMCOREINFO exports the kallsyms tables (kernel ≥ 6.0); otherwise kboot finds them
    /// by scanning the kernel image.
    pub kallsyms_exported: bool,
    /// Slab pages are the PG_slab flag (< 6.10): Debian 12's makedumpfile 1.7.2 filters
    /// only such kernels (as rootfs-rs/tests/fixtures/make-kdump-vmcore.sh checks).
    pub pg_slab_flag: bool,
}

impl VmcoreFacts {
    pub fn from_vmcoreinfo(text: &str) -> VmcoreFacts {
        VmcoreFacts {
            kallsyms_exported: text.contains("SYMBOL(kallsyms_num_syms)="),
            pg_slab_flag: text.contains("NUMBER(PG_slab)="),
        }
    }

    /// The facts of the ELF vmcore at `path` (its PT_NOTE segments, VMCOREINFO among them).
    pub fn of(path: &Path) -> crate::Result<VmcoreFacts> {
        let mut file =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let notes = elf_notes(&mut file).with_context(|| format!("reading {}", path.display()))?;
        Ok(VmcoreFacts::from_vmcoreinfo(&String::from_utf8_lossy(
            &notes,
        )))
    }
}

/// The contents of every PT_NOTE segment of a 64-bit little-endian ELF file.
pub fn elf_notes(file: &mut (impl Read + Seek)) -> crate::Result<Vec<u8>> {
    const PT_NOTE: u32 = 4;
    const MAX_NOTES: u64 = 16 << 20;
    let mut ehdr = [0u8; 64];
    file.read_exact(&mut ehdr).context("no ELF header")?;
    if &ehdr[..4] != b"\x7fELF" || ehdr[4] != 2 || ehdr[5] != 1 {
        bail!("not a 64-bit little-endian ELF file");
    }
    let phoff = le_u64(&ehdr[0x20..]);
    let (entsize, count) = (le_u16(&ehdr[0x36..]) as usize, le_u16(&ehdr[0x38..]));
    if entsize < 56 {
        bail!("program header entries of {entsize} bytes");
    }
    let mut table = vec![0u8; entsize * count as usize];
    file.seek(SeekFrom::Start(phoff))?;
    file.read_exact(&mut table)
        .context("program headers cut short")?;
    let mut notes = Vec::new();
    for ph in table.chunks_exact(entsize) {
        if le_u32(ph) != PT_NOTE {
            continue;
        }
        let (offset, size) = (le_u64(&ph[8..]), le_u64(&ph[0x20..]));
        if size > MAX_NOTES {
            bail!("a PT_NOTE segment of {size} bytes");
        }
        let mut segment = vec![0u8; size as usize];
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(&mut segment)
            .context("PT_NOTE segment cut short")?;
        notes.extend(segment);
    }
    Ok(notes)
}

fn le_u16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}
fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes(b[..4].try_into().unwrap())
}
fn le_u64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().unwrap())
}

/// `xportshow.py -a` on a capture, whole command: issue #17's budget.
const SCRIPT_SECS: f64 = 0.5;

/// The shipped socket script, as the image installs it from image/scripts/.
fn xportshow_script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../image/scripts/xportshow.py")
}

/// Median wall time and peak RSS of one measured command.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub secs: f64,
    pub rss_kib: u64,
}

impl Measured {
    pub fn time(&self) -> String {
        format!("{:.2} s", self.secs)
    }
    pub fn rss(&self) -> String {
        format!("{:.1} MiB", self.rss_kib as f64 / 1024.0)
    }
}

pub fn pass(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "FAIL"
    }
}

/// Open + full report: within 1 s and 64 MiB peak RSS.
pub fn report_verdict(m: Measured) -> &'static str {
    pass(m.secs <= REPORT_SECS && m.rss_kib <= REPORT_RSS_KIB)
}

/// The time a kallsyms scan adds: within 0.3 s.
pub fn scan_verdict(extra_secs: f64) -> &'static str {
    pass(extra_secs <= SCAN_EXTRA_SECS)
}

/// A row of the per-kernel triage table: kernel, measurement, time, peak RSS, budget,
/// verdict.
pub fn triage_row(
    kernel: &str,
    what: &str,
    m: Measured,
    budget: &str,
    verdict: &str,
) -> Vec<String> {
    vec![
        kernel.to_string(),
        what.to_string(),
        m.time(),
        m.rss(),
        budget.to_string(),
        verdict.to_string(),
    ]
}

/// A measurement that could not be taken: the row says why, and fails its budget.
fn failed_row(kernel: &str, what: &str, error: &anyhow::Error, budget: &str) -> Vec<String> {
    let why = format!("{error:#}");
    vec![
        kernel.to_string(),
        what.to_string(),
        format!("failed: {}", why.lines().next().unwrap_or("")),
        String::new(),
        budget.to_string(),
        "FAIL".to_string(),
    ]
}

/// The scan row: `--section sys` on a kernel whose kallsyms must be found by scanning,
/// against the same section on a kernel whose VMCOREINFO exports them.
pub fn scan_row(
    kernel: &str,
    scanned: Measured,
    reference: &str,
    exported: Measured,
) -> Vec<String> {
    let extra = scanned.secs - exported.secs;
    vec![
        kernel.to_string(),
        format!(
            "kallsyms scan, proxy: `--section sys` here {} vs {} on {reference} (exported)",
            scanned.time(),
            exported.time()
        ),
        format!("{extra:+.2} s"),
        scanned.rss(),
        format!("<= +{SCAN_EXTRA_SECS} s"),
        scan_verdict(extra).to_string(),
    ]
}

/// `kboot triage VMCORE ARGS...`, median of 3.
fn measure(kboot: &Path, vmcore: &Path, args: &[&str]) -> crate::Result<Measured> {
    let mut all: Vec<&std::ffi::OsStr> = vec!["triage".as_ref(), vmcore.as_os_str()];
    all.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
    let (secs, rss_kib) = timed_median(kboot.as_os_str(), &all, 3)?;
    Ok(Measured { secs, rss_kib })
}

/// The per-kernel triage table for the kdump fixtures under `fixtures`.
pub fn triage_per_kernel(fixtures: &Path, kboot: &Path) -> crate::Result<()> {
    println!(
        "\nTriage per kernel: genuine /proc/vmcore of each Debian kernel (median of 3; \
         budgets: full report <= {REPORT_SECS} s and <= {} MiB, kallsyms scan <= +{SCAN_EXTRA_SECS} s)",
        REPORT_RSS_KIB / 1024
    );
    let (found, absent) = discover(fixtures);
    for note in &absent {
        println!("  (skipped {note})");
    }
    if found.is_empty() {
        return Ok(());
    }
    let report_budget = format!("<= {REPORT_SECS} s, <= {} MiB", REPORT_RSS_KIB / 1024);
    let mut rows = Vec::new();
    for k in &found {
        let what = "open + full report";
        rows.push(match measure(kboot, &k.vmcore, &[]) {
            Ok(m) => triage_row(&k.release, what, m, &report_budget, report_verdict(m)),
            Err(e) => failed_row(&k.release, what, &e, &report_budget),
        });
        // Issue #17's budget: a shipped triage script, interpreter start to output.
        let what = "xportshow.py -a (triage script, sockets)";
        let script = xportshow_script();
        let script_args = ["--script", script.to_str().unwrap_or_default(), "--", "-a"];
        let budget = format!("<= {SCRIPT_SECS} s");
        rows.push(match measure(kboot, &k.vmcore, &script_args) {
            Ok(m) => triage_row(&k.release, what, m, &budget, pass(m.secs <= SCRIPT_SECS)),
            Err(e) => failed_row(&k.release, what, &e, &budget),
        });
        let what = "--section bt --all (every task's stack)";
        rows.push(
            match measure(kboot, &k.vmcore, &["--section", "bt", "--all"]) {
                Ok(m) => triage_row(&k.release, what, m, "(none)", "-"),
                Err(e) => failed_row(&k.release, what, &e, "(none)"),
            },
        );
    }
    rows.extend(scan_rows(kboot, &found)?);
    print_table(
        &[
            "kernel",
            "measurement",
            "time",
            "peak RSS",
            "budget",
            "verdict",
        ],
        &rows,
    );
    Ok(())
}

/// For each kernel whose VMCOREINFO has no kallsyms (< 6.0), the scan's cost: its
/// `--section sys` (little besides finding symbols) against /boot's kernel's, or the
/// first kernel that exports them.
fn scan_rows(kboot: &Path, found: &[KernelFixture]) -> crate::Result<Vec<Vec<String>>> {
    let mut facts = Vec::new();
    for k in found {
        facts.push(VmcoreFacts::of(&k.vmcore)?);
    }
    let scanned: Vec<&KernelFixture> = found
        .iter()
        .zip(&facts)
        .filter(|(_, f)| !f.kallsyms_exported)
        .map(|(k, _)| k)
        .collect();
    if scanned.is_empty() {
        return Ok(Vec::new());
    }
    let exporting = || {
        found
            .iter()
            .zip(&facts)
            .filter(|(_, f)| f.kallsyms_exported)
    };
    let Some((reference, _)) = exporting()
        .find(|(k, _)| k.dir_name == "kdump")
        .or_else(|| exporting().next())
    else {
        println!("  (no kernel with kallsyms in VMCOREINFO: the scan's cost has no reference)");
        return Ok(Vec::new());
    };
    let sys = ["--section", "sys"];
    let exported = measure(kboot, &reference.vmcore, &sys)?;
    let mut rows = Vec::new();
    for k in scanned {
        let here = measure(kboot, &k.vmcore, &sys)?;
        rows.push(scan_row(&k.release, here, &reference.release, exported));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn fixtures_are_found_oldest_first_and_absent_ones_named() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(
            &root.join("kdump-trixie/guest.txt"),
            "noise\nKBOOT-GUEST-RELEASE 6.12.117+deb13-amd64\n",
        );
        write(&root.join("kdump-trixie/vmcore.proc.elf"), "x");
        write(&root.join("kdump/vmcore.proc.elf"), "x");
        write(
            &root.join("kdump/guest.txt"),
            "KBOOT-GUEST-RELEASE 6.1.0-57-amd64\n",
        );
        // A directory without its vmcore (a capture that failed half-way) is absent.
        write(
            &root.join("kdump-sid/guest.txt"),
            "KBOOT-GUEST-RELEASE 7.2\n",
        );
        let (found, absent) = discover(root);
        let names: Vec<_> = found
            .iter()
            .map(|k| (k.dir_name, k.release.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("kdump", "6.1.0-57-amd64"),
                ("kdump-trixie", "6.12.117+deb13-amd64")
            ]
        );
        assert_eq!(found[1].vmcore, root.join("kdump-trixie/vmcore.proc.elf"));
        assert_eq!(absent.len(), 2);
        assert!(
            absent[0].starts_with("kdump-bullseye (bullseye's kernel)"),
            "{absent:?}"
        );
        assert!(absent[1].starts_with("kdump-sid"), "{absent:?}");
    }

    #[test]
    fn a_fixture_without_guest_txt_keeps_its_directory_as_name() {
        let tmp = tempfile::tempdir().unwrap();
        write(&tmp.path().join("kdump-sid/vmcore.proc.elf"), "x");
        let (found, _) = discover(tmp.path());
        assert_eq!(found[0].release, "kdump-sid (release unknown)");
        assert_eq!(guest_release("KBOOT-GUEST-RELEASE \n"), None);
    }

    /// A minimal ELF64 file: header, two program headers (PT_LOAD, PT_NOTE), the note.
    fn elf_with_note(note: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 64 + 2 * 56];
        f[..6].copy_from_slice(b"\x7fELF\x02\x01");
        f[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        f[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        f[0x38..0x3a].copy_from_slice(&2u16.to_le_bytes());
        let note_ph = 64 + 56;
        f[64..68].copy_from_slice(&1u32.to_le_bytes());
        f[note_ph..note_ph + 4].copy_from_slice(&4u32.to_le_bytes());
        let offset = f.len() as u64 + 8;
        f[note_ph + 8..note_ph + 16].copy_from_slice(&offset.to_le_bytes());
        f[note_ph + 0x20..note_ph + 0x28].copy_from_slice(&(note.len() as u64).to_le_bytes());
        f.extend([0xaa; 8]);
        f.extend(note);
        f.extend(b"NUMBER(PG_slab)=9 outside the note");
        f
    }

    #[test]
    fn vmcoreinfo_facts_come_from_the_note_segments_only() {
        let text = b"VMCOREINFO\0OSRELEASE=6.1.0\nSYMBOL(kallsyms_num_syms)=ffff\n";
        let notes = elf_notes(&mut std::io::Cursor::new(elf_with_note(text))).unwrap();
        assert_eq!(notes, text);
        let facts = VmcoreFacts::from_vmcoreinfo(&String::from_utf8_lossy(&notes));
        assert_eq!(
            facts,
            VmcoreFacts {
                kallsyms_exported: true,
                pg_slab_flag: false
            }
        );
        let old = VmcoreFacts::from_vmcoreinfo("OSRELEASE=5.10.0\nNUMBER(PG_slab)=9\n");
        assert!(!old.kallsyms_exported && old.pg_slab_flag);
        let not_elf = elf_notes(&mut std::io::Cursor::new(vec![0u8; 128])).unwrap_err();
        assert!(
            format!("{not_elf:#}").contains("not a 64-bit"),
            "{not_elf:#}"
        );
    }

    #[test]
    fn budget_verdicts() {
        let m = |secs, mib: u64| Measured {
            secs,
            rss_kib: mib * 1024,
        };
        assert_eq!(report_verdict(m(0.42, 30)), "PASS");
        assert_eq!(report_verdict(m(1.0, 64)), "PASS");
        assert_eq!(report_verdict(m(1.01, 30)), "FAIL");
        assert_eq!(report_verdict(m(0.5, 65)), "FAIL");
        assert_eq!(scan_verdict(0.3), "PASS");
        assert_eq!(scan_verdict(0.31), "FAIL");
    }

    #[test]
    fn triage_rows_are_formatted() {
        let full = Measured {
            secs: 0.456,
            rss_kib: 30 * 1024 + 512,
        };
        assert_eq!(
            triage_row("6.1.0-57-amd64", "open + full report", full, "b", "PASS"),
            [
                "6.1.0-57-amd64",
                "open + full report",
                "0.46 s",
                "30.5 MiB",
                "b",
                "PASS"
            ]
        );
        let here = Measured {
            secs: 0.27,
            rss_kib: 20 * 1024,
        };
        let exported = Measured {
            secs: 0.05,
            rss_kib: 10 * 1024,
        };
        let row = scan_row("5.10.0-32-amd64", here, "6.1.0-57-amd64", exported);
        assert_eq!(row[2], "+0.22 s");
        assert_eq!(row[3], "20.0 MiB");
        assert_eq!(row[4], "<= +0.3 s");
        assert_eq!(row[5], "PASS");
        assert!(
            row[1].contains("0.27 s vs 0.05 s on 6.1.0-57-amd64"),
            "{}",
            row[1]
        );
        let error = anyhow::anyhow!("kboot failed: boom\nmore");
        let failed = failed_row("k", "w", &error, "b");
        assert_eq!(failed[2], "failed: kboot failed: boom");
        assert_eq!(failed[5], "FAIL");
    }
}
