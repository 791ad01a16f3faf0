//! The unwinder on made-up stacks: ORC steps, pt_regs crossings, user mode, frame pointers,
//! corrupt stacks that stop cleanly, and guessed frames that stay marked.

use super::orc::{OrcEntry, OrcReg, OrcType};
use super::*;
use std::collections::HashMap;

const TEXT: u64 = 0xffff_ffff_8100_0000;
const STACK: u64 = 0xffff_c900_0001_0000;

#[derive(Default)]
struct FakeEnv {
    words: HashMap<u64, u64>,
    /// (start address, entry), sorted.
    orc: Vec<(u64, OrcEntry)>,
    has_orc: bool,
    /// Text addresses not preceded by a call instruction (every other one is).
    no_call: Vec<u64>,
}

impl UnwindEnv for FakeEnv {
    fn read_u64(&self, addr: u64) -> Option<u64> {
        self.words.get(&addr).copied().or(
            // The rest of the stack block reads as zeros, like a real, mostly unused stack.
            if addr / STACK_BLOCK == STACK / STACK_BLOCK {
                Some(0)
            } else {
                None
            },
        )
    }
    fn read_bytes(&self, addr: u64, buf: &mut [u8]) -> Option<()> {
        buf.fill(0x90);
        if !self.no_call.contains(&(addr + buf.len() as u64)) {
            buf[buf.len() - 5] = 0xe8;
        }
        Some(())
    }
    fn orc(&self, ip: u64) -> Option<OrcEntry> {
        let pos = self.orc.partition_point(|(a, _)| *a <= ip);
        Some(self.orc.get(pos.checked_sub(1)?)?.1)
    }
    fn has_orc(&self) -> bool {
        self.has_orc
    }
    fn is_text(&self, ip: u64) -> bool {
        (TEXT..TEXT + 0x10_0000).contains(&ip)
    }
}

fn call(sp_offset: i16) -> OrcEntry {
    OrcEntry {
        sp_offset,
        bp_offset: 0,
        sp_reg: OrcReg::Sp,
        bp_reg: OrcReg::Undefined,
        kind: OrcType::Call,
    }
}

fn end() -> OrcEntry {
    OrcEntry {
        sp_offset: 0,
        bp_offset: 0,
        sp_reg: OrcReg::Undefined,
        bp_reg: OrcReg::Undefined,
        kind: OrcType::EndOfStack,
    }
}

/// Functions A (0x100), B (0x200), C (0x300) with 16, 8 and 8 bytes of frame.
fn three_functions() -> FakeEnv {
    FakeEnv {
        orc: vec![
            (TEXT + 0x100, call(16)),
            (TEXT + 0x200, call(8)),
            (TEXT + 0x300, end()),
            (TEXT + 0x400, call(8)),
        ],
        has_orc: true,
        ..FakeEnv::default()
    }
}

fn start(ip: u64, sp: u64) -> Start {
    Start {
        ip,
        sp,
        bp: 0,
        regs: None,
        exact_ip: true,
    }
}

fn ips(u: &Unwound) -> Vec<u64> {
    u.frames.iter().map(|f| f.ip - TEXT).collect()
}

#[test]
fn orc_walks_call_frames_to_the_end_of_the_stack() {
    let mut env = three_functions();
    // A's frame: 16 bytes, return address into B at sp+8.
    env.words.insert(STACK + 8, TEXT + 0x210);
    // B's frame starts at STACK+16: 8 bytes, return into C at STACK+16.
    env.words.insert(STACK + 16, TEXT + 0x305);
    let u = unwind(&env, &start(TEXT + 0x120, STACK));
    assert_eq!(ips(&u), vec![0x120, 0x210, 0x305]);
    assert_eq!(u.stopped, None);
    assert!(u.frames.iter().all(|f| f.method == Method::Orc));
    assert_eq!(u.frames[1].sp, STACK + 16);
}

#[test]
fn a_return_address_is_looked_up_one_byte_back() {
    let mut env = three_functions();
    // A returns to exactly C's first byte: the call was B's last instruction, so B's entry
    // (8-byte frame) applies, not C's end-of-stack.
    env.words.insert(STACK + 8, TEXT + 0x300);
    env.words.insert(STACK + 16, TEXT + 0x30a);
    let u = unwind(&env, &start(TEXT + 0x120, STACK));
    assert_eq!(ips(&u), vec![0x120, 0x300, 0x30a]);
}

#[test]
fn pt_regs_from_user_mode_end_the_walk_with_the_user_registers() {
    let mut env = three_functions();
    env.orc.push((
        TEXT + 0x500,
        OrcEntry {
            sp_offset: 0,
            bp_offset: 0,
            sp_reg: OrcReg::Sp,
            bp_reg: OrcReg::Undefined,
            kind: OrcType::Regs,
        },
    ));
    env.orc.sort_by_key(|e| e.0);
    // A (16) returns into the entry code at 0x510, whose regs lie at STACK+16.
    env.words.insert(STACK + 8, TEXT + 0x510);
    let regs = STACK + 16;
    env.words.insert(regs + 16 * 8, 0x40_1000); // rip
    env.words.insert(regs + 17 * 8, 0x33); // cs: user
    env.words.insert(regs + 19 * 8, 0x7ffc_0000_1000); // rsp
    let u = unwind(&env, &start(TEXT + 0x120, STACK));
    assert_eq!(ips(&u), vec![0x120, 0x510]);
    assert_eq!(u.stopped, None);
    let user = u.user_regs.expect("user registers");
    assert_eq!((user.ip(), user.sp()), (0x40_1000, 0x7ffc_0000_1000));
}

#[test]
fn kernel_pt_regs_are_crossed_and_shown_on_the_frame() {
    let mut env = three_functions();
    env.orc.push((
        TEXT + 0x500,
        OrcEntry {
            sp_offset: 0,
            bp_offset: 0,
            sp_reg: OrcReg::Sp,
            bp_reg: OrcReg::Undefined,
            kind: OrcType::Regs,
        },
    ));
    env.orc.sort_by_key(|e| e.0);
    env.words.insert(STACK + 8, TEXT + 0x510);
    let regs = STACK + 16;
    // Interrupted kernel code in B with its own sp further up the stack.
    env.words.insert(regs + 16 * 8, TEXT + 0x220);
    env.words.insert(regs + 17 * 8, 0x10);
    env.words.insert(regs + 19 * 8, STACK + 0x200);
    env.words.insert(STACK + 0x200, TEXT + 0x301);
    let u = unwind(&env, &start(TEXT + 0x120, STACK));
    assert_eq!(ips(&u), vec![0x120, 0x510, 0x220, 0x301]);
    assert_eq!(
        u.frames[2].regs.as_ref().map(|r| r.ip()),
        Some(TEXT + 0x220)
    );
    assert_eq!(u.stopped, None);
}

#[test]
fn a_garbage_return_address_stops_and_the_rest_is_guessed() {
    let mut env = three_functions();
    env.words.insert(STACK + 8, 0xdead_beef);
    // Further up: a word that is text right after a call, and one that is text but not.
    env.words.insert(STACK + 0x40, TEXT + 0x410);
    env.words.insert(STACK + 0x48, TEXT + 0x420);
    env.no_call.push(TEXT + 0x420);
    let u = unwind(&env, &start(TEXT + 0x120, STACK));
    // The walk resumes at 0x410 by scanning but cannot reach the bottom of the stack from
    // there, so nothing from 0x410 on is trusted: all of it is shown as guessed.
    assert!(u.stopped.is_some(), "{u:?}");
    assert_eq!(ips(&u)[..2], [0x120, 0x410]);
    assert_eq!(u.frames[0].method, Method::Orc);
    assert!(
        u.frames[1..].iter().all(|f| f.method == Method::Guessed),
        "{u:?}"
    );
    assert_eq!(u.method(), Method::Orc);
}

#[test]
fn a_stack_pointer_going_backwards_is_a_loop_and_stops() {
    let mut env = three_functions();
    // B's frame says -16: sp would move down on the same stack.
    env.orc[1].1 = call(-16);
    env.words.insert(STACK + 0x108, TEXT + 0x210);
    env.words.insert(STACK + 0xf8, TEXT + 0x210);
    let u = unwind(&env, &start(TEXT + 0x120, STACK + 0x100));
    assert!(
        u.stopped.as_deref().unwrap_or("").contains("backwards"),
        "{u:?}"
    );
    assert!(u.frames.len() < MAX_FRAMES);
}

#[test]
fn missing_orc_information_stops_with_the_address() {
    let env = three_functions();
    let u = unwind(&env, &start(TEXT + 0x10, STACK));
    assert!(u.stopped.as_deref().unwrap_or("").contains("no ORC entry"));
}

#[test]
fn frame_pointers_are_followed_without_orc() {
    let mut env = FakeEnv::default();
    let (bp1, bp2) = (STACK + 0x20, STACK + 0x60);
    env.words.insert(bp1, bp2);
    env.words.insert(bp1 + 8, TEXT + 0x210);
    env.words.insert(bp2, 0);
    env.words.insert(bp2 + 8, TEXT + 0x310);
    let mut s = start(TEXT + 0x120, STACK);
    s.bp = bp1;
    let u = unwind(&env, &s);
    assert_eq!(ips(&u), vec![0x120, 0x210, 0x310]);
    assert_eq!(u.method(), Method::FramePointer);
    assert_eq!(u.stopped, None);
}

#[test]
fn a_user_mode_start_has_no_kernel_frames() {
    let env = three_functions();
    let u = unwind(&env, &start(0x40_1000, 0x7ffc_0000_0000));
    assert!(u.frames.is_empty());
    assert_eq!(u.stopped, None);
}

#[test]
fn call_detection_knows_the_call_encodings() {
    struct Bytes(Vec<u8>);
    impl UnwindEnv for Bytes {
        fn read_u64(&self, _: u64) -> Option<u64> {
            None
        }
        fn read_bytes(&self, _: u64, buf: &mut [u8]) -> Option<()> {
            buf.copy_from_slice(&self.0);
            Some(())
        }
        fn orc(&self, _: u64) -> Option<OrcEntry> {
            None
        }
        fn has_orc(&self) -> bool {
            false
        }
        fn is_text(&self, _: u64) -> bool {
            true
        }
    }
    let at = |b: &[u8]| follows_call(&Bytes(b.to_vec()), TEXT + 0x100);
    assert!(at(&[0x90, 0x90, 0xe8, 1, 2, 3, 4])); // call rel32
    assert!(at(&[0x90, 0x90, 0x90, 0x90, 0x90, 0xff, 0xd0])); // call *%rax
    assert!(at(&[0x90, 0xff, 0x15, 1, 2, 3, 4])); // call *disp32(%rip)
    assert!(at(&[0x90, 0x90, 0x90, 0x90, 0xff, 0x50, 0x08])); // call *8(%rax)
    assert!(!at(&[0x90; 7]));
    assert!(!at(&[0x90, 0x90, 0x90, 0x90, 0x90, 0xff, 0xe0])); // jmp *%rax
}
