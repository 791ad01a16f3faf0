//! x86_64 `struct pt_regs`: the registers the entry code saves on the stack at a syscall,
//! interrupt or exception. Its layout is fixed by the entry assembly (and matches the
//! PRSTATUS note's `user_regs_struct` for the first 21 words), so it is not read from BTF.

use super::UnwindEnv;
use crate::dump::format::notes::CpuState;

/// Register names in `struct pt_regs` order.
pub const NAMES: [&str; 21] = [
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi",
    "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss",
];
const R13: usize = 2;
const BP: usize = 4;
const R10: usize = 7;
const DX: usize = 12;
const DI: usize = 14;
const IP: usize = 16;
const CS: usize = 17;
const SP: usize = 19;
/// The hardware iret frame (ip, cs, flags, sp, ss) starts at `ip`.
const IRET_FRAME: usize = IP;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtRegs {
    pub values: [u64; 21],
    /// All registers are known; false for an iret frame alone (only ip, cs, flags, sp, ss).
    pub full: bool,
    /// Where on the stack they were found (0 for registers from a note).
    pub addr: u64,
}

impl PtRegs {
    /// The whole `struct pt_regs` at `addr`.
    pub fn read(env: &impl UnwindEnv, addr: u64) -> Option<PtRegs> {
        let mut values = [0u64; 21];
        for (i, v) in values.iter_mut().enumerate() {
            *v = env.read_u64(addr.checked_add(8 * i as u64)?)?;
        }
        Some(PtRegs {
            values,
            full: true,
            addr,
        })
    }

    /// Only the iret frame at `addr` (what `ORC_TYPE_REGS_PARTIAL` promises).
    pub fn read_iret(env: &impl UnwindEnv, addr: u64) -> Option<PtRegs> {
        let mut values = [0u64; 21];
        for i in 0..5 {
            values[IRET_FRAME + i] = env.read_u64(addr.checked_add(8 * i as u64)?)?;
        }
        Some(PtRegs {
            values,
            full: false,
            addr: addr.wrapping_sub(8 * IRET_FRAME as u64),
        })
    }

    /// The registers a crash note saved for a CPU, by name (PRSTATUS or QEMU's CPU state).
    pub fn from_note(cpu: &CpuState) -> Option<PtRegs> {
        let mut values = [0u64; 21];
        for (i, name) in NAMES.iter().enumerate() {
            values[i] = match cpu.reg(name) {
                Some(v) => v,
                // QEMU's note has no cs/ss/orig_rax: derive cs's privilege level from rip.
                None if *name == "cs" => {
                    if super::is_kernel_address(cpu.reg("rip")?) {
                        0x10
                    } else {
                        0x33
                    }
                }
                None => 0,
            };
        }
        Some(PtRegs {
            values,
            full: true,
            addr: 0,
        })
    }

    pub fn ip(&self) -> u64 {
        self.values[IP]
    }
    pub fn sp(&self) -> u64 {
        self.values[SP]
    }
    pub fn bp(&self) -> u64 {
        self.values[BP]
    }
    pub fn r10(&self) -> u64 {
        self.values[R10]
    }
    pub fn r13(&self) -> u64 {
        self.values[R13]
    }
    pub fn di(&self) -> u64 {
        self.values[DI]
    }
    pub fn dx(&self) -> u64 {
        self.values[DX]
    }

    /// The registers were saved while the CPU ran user code (cs privilege level 3).
    pub fn user_mode(&self) -> bool {
        self.values[CS] & 3 == 3
    }

    /// crash-style register lines, three per line; only the iret part for a partial set.
    pub fn lines(&self) -> Vec<String> {
        let shown: Vec<usize> = if self.full {
            // rip first, as crash does, then the rest in pt_regs order.
            let mut v = vec![IP, SP, 18];
            v.extend((0..21).filter(|i| ![IP, SP, 18].contains(i)));
            v
        } else {
            vec![IP, SP, 18, CS, 20]
        };
        shown
            .chunks(3)
            .map(|c| {
                c.iter()
                    .map(|&i| format!("{:>3}: {:016x}", short(NAMES[i]), self.values[i]))
                    .collect::<Vec<_>>()
                    .join("  ")
            })
            .collect()
    }
}

/// crash's register labels: RIP, RSP, RFLAGS, RAX…, upper case.
fn short(name: &str) -> String {
    match name {
        "eflags" => "RFLAGS".into(),
        "orig_rax" => "ORIG_RAX".into(),
        n => n.to_ascii_uppercase(),
    }
}
