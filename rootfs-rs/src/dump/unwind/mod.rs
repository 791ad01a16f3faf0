//! Kernel stack unwinding without debuginfo: the kernel's own ORC tables first, frame
//! pointers when a kernel has no ORC, and, past the point where both fail, a scan of the stack
//! for return addresses whose frames are flagged as guessed (crash's `bt -T` idea) and never
//! mixed silently with unwound ones. This layer works on raw addresses and registers through
//! [`UnwindEnv`], so the algorithm is tested with a made-up stack; `env.rs` wires it to a
//! `Dump`, `helpers::bt` picks the start points and names the frames.

pub mod env;
pub mod orc;
pub mod regs;

use orc::{OrcEntry, OrcReg, OrcType};
use regs::PtRegs;

/// No real kernel stack is deeper; a longer walk is a loop in corrupt data.
pub const MAX_FRAMES: usize = 128;
/// Stack switches (IRQ → task, exception → IRQ…) allowed in one walk.
const MAX_STACK_SWITCHES: usize = 8;
/// x86_64 kernel stacks (task, IRQ) are 16 KiB and aligned to it: two addresses in the same
/// 16 KiB block are on the same stack, which is where sp must only grow.
pub const STACK_BLOCK: u64 = 16 * 1024;
/// Words scanned for return addresses when guessing (a whole 16 KiB stack).
const MAX_GUESS_WORDS: u64 = STACK_BLOCK / 8;
/// Functions without unwind data skipped by scanning in one walk; more means the data is bad.
const MAX_RESYNCS: usize = 2;
/// How far up the stack a resync looks for the next return address (a big frame is < 1 KiB).
const RESYNC_WORDS: u64 = 512;

/// What the unwinder reads: stack words, ORC entries and which addresses are kernel text.
pub trait UnwindEnv {
    fn read_u64(&self, addr: u64) -> Option<u64>;
    /// Bytes of kernel text (to check that a guessed return address follows a call).
    fn read_bytes(&self, addr: u64, buf: &mut [u8]) -> Option<()>;
    /// The ORC entry covering `ip`; None if no table (vmlinux or module) describes it.
    fn orc(&self, ip: u64) -> Option<OrcEntry>;
    /// True when the kernel has ORC tables at all (else frame pointers are used).
    fn has_orc(&self) -> bool;
    fn is_text(&self, ip: u64) -> bool;
}

/// How a frame was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Orc,
    FramePointer,
    /// Past a function without unwind data (e.g. `__crash_kexec`, where objtool gives up on
    /// crash_setup_regs' asm): the next return address on the stack whose code has ORC data,
    /// from which the walk went on. Shown with a marker; trusted because the ORC walk from it
    /// must reach the bottom of the stack, else every frame after it is shown as guessed.
    Scanned,
    /// A return-address-looking word on the stack; not proven to be a live frame.
    Guessed,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Orc => "orc",
            Method::FramePointer => "frame pointer",
            Method::Scanned => "scanned",
            Method::Guessed => "guessed",
        }
    }
}

/// One frame: the instruction pointer and the stack pointer at that frame.
#[derive(Debug, Clone, PartialEq)]
pub struct RawFrame {
    pub ip: u64,
    pub sp: u64,
    pub method: Method,
    /// The exception/interrupt registers through which this frame was reached (crash prints
    /// them between the frames), when the step crossed a `pt_regs`.
    pub regs: Option<PtRegs>,
}

/// Where a walk starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    pub ip: u64,
    pub sp: u64,
    pub bp: u64,
    /// All registers when the start comes from a saved register set (crash notes).
    pub regs: Option<PtRegs>,
    /// The ip is exact (interrupted or saved there), not a return address: look it up as is.
    pub exact_ip: bool,
}

/// A walked stack: frames innermost first, the user-mode registers it ended at, and why it
/// stopped if it did not reach the bottom cleanly.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Unwound {
    pub frames: Vec<RawFrame>,
    pub user_regs: Option<PtRegs>,
    /// None: the walk reached the end of the stack (or user mode).
    pub stopped: Option<String>,
}

impl Unwound {
    /// The method of the unwound (not guessed) frames.
    pub fn method(&self) -> Method {
        method_of(self.frames.iter().map(|f| f.method))
    }
}

/// How a stack was unwound: the method of its first frame that is not guessed (a stack of
/// guessed frames only is "guessed").
pub fn method_of(mut methods: impl Iterator<Item = Method>) -> Method {
    methods
        .find(|&m| m != Method::Guessed)
        .unwrap_or(Method::Guessed)
}

/// Walks a kernel stack from `start`.
pub fn unwind(env: &impl UnwindEnv, start: &Start) -> Unwound {
    let mut out = Unwound::default();
    if !is_kernel_address(start.ip) {
        // Stopped in user mode: nothing on the kernel stack to show.
        out.user_regs = start.regs.clone();
        return out;
    }
    let method = if env.has_orc() {
        Method::Orc
    } else {
        Method::FramePointer
    };
    out.frames.push(RawFrame {
        ip: start.ip,
        sp: start.sp,
        method,
        regs: None,
    });
    let result = match method {
        Method::Orc => walk_orc(env, start, &mut out),
        _ => walk_frame_pointers(env, start, &mut out),
    };
    if let Err(why) = result {
        // A scanned resume point is only trusted when the walk from it reaches the bottom.
        if let Some(first) = out.frames.iter().position(|f| f.method == Method::Scanned) {
            for f in &mut out.frames[first..] {
                f.method = Method::Guessed;
            }
        }
        out.stopped = Some(why);
        let from = out.frames.last().map_or(start.sp, |f| f.sp);
        guess(env, from, &mut out.frames);
    }
    out
}

/// Canonical kernel-half address (x86_64: the top bit set).
pub fn is_kernel_address(addr: u64) -> bool {
    addr >> 63 == 1
}

struct State {
    ip: u64,
    sp: u64,
    bp: u64,
    regs: Option<PtRegs>,
    exact_ip: bool,
}

fn read(env: &impl UnwindEnv, addr: u64, what: &str) -> Result<u64, String> {
    env.read_u64(addr)
        .ok_or_else(|| format!("cannot read the {what} at {addr:#x}"))
}

/// What one ORC step found.
enum Step {
    /// The calling frame, and the pt_regs crossed to reach it.
    Next(State, Option<PtRegs>),
    /// The stack began in user mode: these are its registers.
    User(PtRegs),
}

fn walk_orc(env: &impl UnwindEnv, start: &Start, out: &mut Unwound) -> Result<(), String> {
    let mut st = State {
        ip: start.ip,
        sp: start.sp,
        bp: start.bp,
        regs: start.regs.clone(),
        exact_ip: start.exact_ip,
    };
    let mut switches = 0;
    let mut resyncs = 0;
    while out.frames.len() < MAX_FRAMES {
        // A return address may be just past the function's last instruction (a call to a
        // noreturn function): look up the call itself.
        let lookup = if st.exact_ip { st.ip } else { st.ip - 1 };
        let stepped = match env.orc(lookup) {
            Some(o) if o.kind == OrcType::EndOfStack => return Ok(()),
            Some(o) if o.kind != OrcType::Undefined => step(env, &st, &o, &mut switches),
            Some(_) => Err(format!("no unwind information at {:#x}", st.ip)),
            None => Err(format!("no ORC entry for {:#x}", st.ip)),
        };
        match stepped {
            Ok(Step::User(regs)) => {
                out.user_regs = Some(regs);
                return Ok(());
            }
            Ok(Step::Next(next, crossed)) => {
                out.frames.push(RawFrame {
                    ip: next.ip,
                    sp: next.sp,
                    method: Method::Orc,
                    regs: crossed,
                });
                st = next;
            }
            // Some code has no usable unwind data at the point its registers were saved
            // (__crash_kexec's crash_setup_regs: undescribed in 6.1, described for another
            // point of the function in 7.x): resume at the next return address on the stack.
            Err(why) => {
                resyncs += 1;
                let (ret, slot) = (resyncs <= MAX_RESYNCS)
                    .then(|| resync(env, st.sp))
                    .flatten()
                    .ok_or(why)?;
                st = State {
                    ip: ret,
                    sp: slot + 8,
                    // Keep bp if it still points to a frame record above; a function
                    // that keeps its frame on bp needs one.
                    bp: if st.bp > slot && same_stack(st.bp, slot) {
                        st.bp
                    } else {
                        frame_pointer_above(env, slot + 8).unwrap_or(st.bp)
                    },
                    regs: None,
                    exact_ip: false,
                };
                out.frames.push(RawFrame {
                    ip: ret,
                    sp: slot + 8,
                    method: Method::Scanned,
                    regs: None,
                });
            }
        }
    }
    Err(format!("more than {MAX_FRAMES} frames"))
}

/// One ORC step from `st` to its caller, checked: the new ip is kernel text (right after a
/// call, for a return address), and sp only grows on one stack.
fn step(
    env: &impl UnwindEnv,
    st: &State,
    orc: &OrcEntry,
    switches: &mut usize,
) -> Result<Step, String> {
    let prev_sp = previous_sp(env, st, orc)?;
    let mut next = State {
        ip: 0,
        sp: prev_sp,
        bp: st.bp,
        regs: None,
        exact_ip: true,
    };
    let mut crossed = None;
    match orc.kind {
        OrcType::Regs => {
            let regs = PtRegs::read(env, prev_sp)
                .ok_or_else(|| format!("cannot read pt_regs at {prev_sp:#x}"))?;
            if regs.user_mode() {
                return Ok(Step::User(regs));
            }
            next.ip = regs.ip();
            next.sp = regs.sp();
            crossed = Some(regs.clone());
            next.regs = Some(regs);
        }
        OrcType::RegsPartial => {
            let regs = PtRegs::read_iret(env, prev_sp)
                .ok_or_else(|| format!("cannot read the iret frame at {prev_sp:#x}"))?;
            if regs.user_mode() {
                return Ok(Step::User(regs));
            }
            next.ip = regs.ip();
            next.sp = regs.sp();
            crossed = Some(regs);
            // Only the iret frame is known; keep the older full set for R10/R13/DI/DX.
            next.regs = st.regs.clone();
        }
        _ => {
            next.ip = read(env, prev_sp.wrapping_sub(8), "return address")?;
            next.exact_ip = false;
        }
    }
    next.bp = match orc.bp_reg {
        OrcReg::Undefined => match (&crossed, orc.kind) {
            (Some(r), OrcType::Regs) => r.bp(),
            _ => st.bp,
        },
        OrcReg::PrevSp => read(
            env,
            prev_sp.wrapping_add(orc.bp_offset as i64 as u64),
            "saved frame pointer",
        )?,
        OrcReg::Bp => read(
            env,
            st.bp.wrapping_add(orc.bp_offset as i64 as u64),
            "saved frame pointer",
        )?,
        _ => st.bp,
    };
    if !is_kernel_address(next.ip) || !env.is_text(next.ip) {
        return Err(format!("return address {:#x} is not kernel text", next.ip));
    }
    // A step from saved registers (not from a return address) trusts the ORC entry of an
    // arbitrary instruction; its result must look like a return address. (Not checked on
    // every step: freed init text, which boot stacks return into, no longer holds code.)
    if st.exact_ip && !next.exact_ip && !follows_call(env, next.ip) {
        return Err(format!(
            "return address {:#x} does not follow a call",
            next.ip
        ));
    }
    if same_stack(st.sp, next.sp) {
        if next.sp <= st.sp && crossed.is_none() {
            return Err(format!(
                "stack pointer went backwards ({:#x} → {:#x})",
                st.sp, next.sp
            ));
        }
    } else {
        *switches += 1;
        if *switches > MAX_STACK_SWITCHES {
            return Err("too many stack switches".into());
        }
    }
    Ok(Step::Next(next, crossed))
}

/// The stack pointer of the previous (calling) frame, from the ORC entry's sp rule.
fn previous_sp(env: &impl UnwindEnv, st: &State, orc: &OrcEntry) -> Result<u64, String> {
    let off = orc.sp_offset as i64 as u64;
    let from_regs = |name: &str, get: fn(&PtRegs) -> u64| {
        st.regs
            .as_ref()
            .filter(|r| r.full)
            .map(|r| get(r).wrapping_add(off))
            .ok_or_else(|| format!("ORC needs {name} at {:#x}, not saved", st.ip))
    };
    match orc.sp_reg {
        OrcReg::Sp => Ok(st.sp.wrapping_add(off)),
        OrcReg::Bp => Ok(st.bp.wrapping_add(off)),
        OrcReg::SpIndirect => Ok(read(env, st.sp, "indirect stack pointer")?.wrapping_add(off)),
        OrcReg::BpIndirect => read(env, st.bp.wrapping_add(off), "indirect stack pointer"),
        OrcReg::R10 => from_regs("r10", PtRegs::r10),
        OrcReg::R13 => from_regs("r13", PtRegs::r13),
        OrcReg::Di => from_regs("rdi", PtRegs::di),
        OrcReg::Dx => from_regs("rdx", PtRegs::dx),
        other => Err(format!("unknown ORC sp register {other:?} at {:#x}", st.ip)),
    }
}

fn same_stack(a: u64, b: u64) -> bool {
    a / STACK_BLOCK == b / STACK_BLOCK
}

/// Classic frame-pointer chain: [bp] is the caller's bp, [bp + 8] the return address.
fn walk_frame_pointers(
    env: &impl UnwindEnv,
    start: &Start,
    out: &mut Unwound,
) -> Result<(), String> {
    let mut bp = start.bp;
    let mut switches = 0;
    while out.frames.len() < MAX_FRAMES {
        if bp == 0 {
            return Ok(()); // the outermost frame
        }
        let ret = read(env, bp.wrapping_add(8), "return address")?;
        let next = read(env, bp, "saved frame pointer")?;
        if !is_kernel_address(ret) || !env.is_text(ret) {
            if is_kernel_address(ret) {
                return Err(format!("return address {ret:#x} is not kernel text"));
            }
            return Ok(()); // reached the user-mode part
        }
        out.frames.push(RawFrame {
            ip: ret,
            sp: bp.wrapping_add(16),
            method: Method::FramePointer,
            regs: None,
        });
        if next != 0 && same_stack(bp, next) && next <= bp {
            return Err(format!(
                "frame pointer went backwards ({bp:#x} → {next:#x})"
            ));
        }
        if next != 0 && !same_stack(bp, next) {
            switches += 1;
            if switches > MAX_STACK_SWITCHES {
                return Err("too many stack switches".into());
            }
        }
        bp = next;
    }
    Err(format!("more than {MAX_FRAMES} frames"))
}

/// The first word at or above `sp` (same 16 KiB stack) that is a return address into code
/// with ORC data: (the address, where it lies).
fn resync(env: &impl UnwindEnv, sp: u64) -> Option<(u64, u64)> {
    let end = (sp / STACK_BLOCK + 1) * STACK_BLOCK;
    (0..RESYNC_WORDS)
        .map(|i| (sp & !7) + 8 * i)
        .take_while(|&slot| slot < end)
        .find_map(|slot| {
            let v = env.read_u64(slot)?;
            let described = env
                .orc(v.wrapping_sub(1))
                .is_some_and(|o| !matches!(o.kind, OrcType::Undefined | OrcType::EndOfStack));
            (is_kernel_address(v) && env.is_text(v) && described && follows_call(env, v))
                .then_some((v, slot))
        })
}

/// After a resync the frame pointer is unknown, and functions that realign their stack
/// keep their frame on bp: the first slot above `sp` that looks like a frame record (a
/// saved bp further up the same stack, then a return address after a call).
fn frame_pointer_above(env: &impl UnwindEnv, sp: u64) -> Option<u64> {
    let end = (sp / STACK_BLOCK + 1) * STACK_BLOCK;
    (0..RESYNC_WORDS)
        .map(|i| (sp & !7) + 8 * i)
        .take_while(|&slot| slot + 16 <= end)
        .find(|&slot| {
            let saved = env.read_u64(slot).unwrap_or(0);
            let ret = env.read_u64(slot + 8).unwrap_or(0);
            saved > slot
                && same_stack(saved, slot)
                && is_kernel_address(ret)
                && env.is_text(ret)
                && follows_call(env, ret)
        })
}

/// Appends every word from `sp` to the end of its 16 KiB stack that is kernel text right
/// after a call instruction, marked as guessed.
fn guess(env: &impl UnwindEnv, sp: u64, frames: &mut Vec<RawFrame>) {
    let end = (sp / STACK_BLOCK + 1) * STACK_BLOCK;
    let mut addr = sp & !7;
    let mut words = 0;
    while addr < end && words < MAX_GUESS_WORDS && frames.len() < MAX_FRAMES {
        if let Some(v) = env.read_u64(addr) {
            if is_kernel_address(v) && env.is_text(v) && follows_call(env, v) {
                frames.push(RawFrame {
                    ip: v,
                    sp: addr + 8,
                    method: Method::Guessed,
                    regs: None,
                });
            }
        }
        addr += 8;
        words += 1;
    }
}

/// Whether the bytes before `ret` end with a call: `e8 rel32`, or `ff /2` with the register
/// and memory operand forms (2, 3, 6 and 7 bytes long).
pub fn follows_call(env: &impl UnwindEnv, ret: u64) -> bool {
    let mut b = [0u8; 7];
    if env.read_bytes(ret - 7, &mut b).is_none() {
        return false;
    }
    // b[7 - n] is the first byte of an n-byte instruction ending at ret.
    let modrm_is_call = |m: u8| (m >> 3) & 7 == 2;
    b[2] == 0xe8
        || (b[5] == 0xff && modrm_is_call(b[6]) && b[6] >> 6 == 3)
        || (b[4] == 0xff && modrm_is_call(b[5]) && b[5] >> 6 == 1)
        || (b[1] == 0xff && modrm_is_call(b[2]) && b[2] >> 6 == 2)
        || (b[1] == 0xff && b[2] == 0x15)
        || (b[0] == 0xff && modrm_is_call(b[1]) && b[1] & 7 == 4)
}

#[cfg(test)]
mod tests;
