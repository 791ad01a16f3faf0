//! ELF note parsing shared by the ELF and kdump readers: per-CPU registers and VMCOREINFO.

use crate::dump::error::{bad, DumpError};
use crate::dump::format::bytes::{align4, c_string, le_u32, le_u64, slice};

const NT_PRSTATUS: u32 = 1;
/// Offset of pr_pid and pr_reg inside x86_64 `struct elf_prstatus`.
const PRSTATUS_PID: usize = 32;
const PRSTATUS_REGS: usize = 112;
/// Order of `struct user_regs_struct` on x86_64.
const PRSTATUS_REG_NAMES: [&str; 27] = [
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi",
    "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs",
    "gs",
];
/// Order of the general registers in QEMU's `QEMUCPUState` (after version and size).
const QEMU_REG_NAMES: [&str; 18] = [
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15", "rip", "eflags",
];
const QEMU_SEGMENT_SIZE: usize = 24;
const QEMU_SEGMENTS: usize = 10; // cs ds es fs gs ss ldt tr gdt idt
const QEMU_GS_INDEX: usize = 4;

/// One ELF note: owner name, type and descriptor bytes.
#[derive(Debug, Clone)]
pub struct Note {
    pub name: String,
    pub kind: u32,
    pub desc: Vec<u8>,
}

/// Parses a buffer of concatenated ELF notes (4-byte aligned).
pub fn parse_notes(buf: &[u8]) -> Result<Vec<Note>, DumpError> {
    let mut notes = Vec::new();
    let mut off = 0usize;
    while off + 12 <= buf.len() {
        let namesz = le_u32(buf, off, "note namesz")? as usize;
        let descsz = le_u32(buf, off + 4, "note descsz")? as usize;
        let kind = le_u32(buf, off + 8, "note type")?;
        if namesz == 0 && descsz == 0 && kind == 0 {
            break; // zero padding after the last note
        }
        let name_off = off + 12;
        let name = c_string(slice(buf, name_off, namesz, "note name")?);
        let desc_off = align4(namesz)
            .and_then(|n| n.checked_add(name_off))
            .ok_or_else(|| bad("note name size overflows"))?;
        let desc = slice(buf, desc_off, descsz, "note descriptor")?.to_vec();
        off = align4(descsz)
            .and_then(|d| d.checked_add(desc_off))
            .ok_or_else(|| bad("note size overflows"))?;
        notes.push(Note { name, kind, desc });
    }
    Ok(notes)
}

/// Registers of one CPU at dump time, from NT_PRSTATUS and/or QEMU's CPU state note.
#[derive(Debug, Clone, Default)]
pub struct CpuState {
    /// pid of the task that ran on this CPU (NT_PRSTATUS only).
    pub pid: Option<u32>,
    /// (register name, value) in the order the note gives them.
    pub regs: Vec<(&'static str, u64)>,
    /// Control register 3 (page-table root), QEMU notes only.
    pub cr3: Option<u64>,
    /// GS base (per-CPU area while in kernel mode), QEMU notes only.
    pub gs_base: Option<u64>,
    /// The swapped-out GS base (MSR_KERNEL_GS_BASE), QEMU notes of version ≥ 1.
    pub kernel_gs_base: Option<u64>,
}

impl CpuState {
    pub fn reg(&self, name: &str) -> Option<u64> {
        self.regs.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
    }
}

/// What the notes of a dump tell: CPUs and the VMCOREINFO text.
#[derive(Debug, Clone, Default)]
pub struct NoteInfo {
    pub cpus: Vec<CpuState>,
    pub vmcoreinfo: Option<String>,
}

fn prstatus(desc: &[u8]) -> Result<CpuState, DumpError> {
    let pid = le_u32(desc, PRSTATUS_PID, "prstatus pid")?;
    let mut regs = Vec::with_capacity(PRSTATUS_REG_NAMES.len());
    for (i, name) in PRSTATUS_REG_NAMES.iter().enumerate() {
        regs.push((
            *name,
            le_u64(desc, PRSTATUS_REGS + 8 * i, "prstatus registers")?,
        ));
    }
    Ok(CpuState {
        pid: Some(pid),
        regs,
        ..CpuState::default()
    })
}

fn qemu_state(desc: &[u8], cpu: &mut CpuState) -> Result<(), DumpError> {
    let regs_off = 8;
    let mut regs = Vec::with_capacity(QEMU_REG_NAMES.len());
    for (i, name) in QEMU_REG_NAMES.iter().enumerate() {
        regs.push((*name, le_u64(desc, regs_off + 8 * i, "QEMU cpu state")?));
    }
    let seg_off = regs_off + 8 * QEMU_REG_NAMES.len();
    let gs_base = le_u64(
        desc,
        seg_off + QEMU_GS_INDEX * QEMU_SEGMENT_SIZE + 16,
        "QEMU gs base",
    )?;
    let cr_off = seg_off + QEMU_SEGMENTS * QEMU_SEGMENT_SIZE;
    cpu.cr3 = Some(le_u64(desc, cr_off + 3 * 8, "QEMU cr3")?);
    cpu.gs_base = Some(gs_base);
    cpu.kernel_gs_base = le_u64(desc, cr_off + 5 * 8, "QEMU kernel_gs_base").ok();
    if cpu.regs.is_empty() {
        cpu.regs = regs;
    }
    Ok(())
}

/// Interprets notes: each NT_PRSTATUS starts a CPU; a following QEMU note completes it.
pub fn interpret(notes: &[Note]) -> Result<NoteInfo, DumpError> {
    let mut info = NoteInfo::default();
    let mut qemu_index = 0usize;
    for n in notes {
        match (n.name.as_str(), n.kind) {
            ("CORE", NT_PRSTATUS) => info.cpus.push(prstatus(&n.desc)?),
            ("QEMU", _) => {
                if qemu_index >= info.cpus.len() {
                    info.cpus.push(CpuState::default());
                }
                qemu_state(&n.desc, &mut info.cpus[qemu_index])?;
                qemu_index += 1;
            }
            ("VMCOREINFO", _) => {
                info.vmcoreinfo = Some(String::from_utf8_lossy(&n.desc).into_owned())
            }
            _ => {}
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(name: &str, kind: u32, desc: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(name.len() as u32 + 1).to_le_bytes());
        v.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        v.extend_from_slice(&kind.to_le_bytes());
        v.extend_from_slice(name.as_bytes());
        v.push(0);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v.extend_from_slice(desc);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn vmcoreinfo_and_prstatus_notes_are_found() {
        let mut pr = vec![0u8; 336];
        pr[32..36].copy_from_slice(&42u32.to_le_bytes());
        pr[112 + 16 * 8..112 + 17 * 8].copy_from_slice(&0xffffffff81000000u64.to_le_bytes());
        let mut buf = note("CORE", 1, &pr);
        buf.extend(note("VMCOREINFO", 0, b"OSRELEASE=6.1.0\n"));
        let info = interpret(&parse_notes(&buf).unwrap()).unwrap();
        assert_eq!(info.cpus.len(), 1);
        assert_eq!(info.cpus[0].pid, Some(42));
        assert_eq!(info.cpus[0].reg("rip"), Some(0xffffffff81000000));
        assert_eq!(info.vmcoreinfo.as_deref(), Some("OSRELEASE=6.1.0\n"));
    }

    #[test]
    fn truncated_or_huge_notes_are_errors() {
        let buf = note("VMCOREINFO", 0, b"OSRELEASE=6.1.0\n");
        assert!(parse_notes(&buf[..buf.len() - 8]).is_err());
        let mut huge = buf.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_notes(&huge).is_err());
        let short_prstatus = note("CORE", 1, &[0u8; 40]);
        assert!(interpret(&parse_notes(&short_prstatus).unwrap()).is_err());
    }
}
