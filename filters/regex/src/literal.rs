//! Runs of literal bytes, matched as one step.
//!
//! The standard patterns are full of short literals between captures (` `,
//! `] "`, ` HTTP/`), and the matcher would take one dispatch per byte. In
//! WebAssembly each dispatch also pays the deadline check, so a run of up to
//! eight bytes becomes one instruction that compares a word.

use super::compile::{Inst, Program};

/// Most bytes one [`Inst::Literal`] holds: one word.
const MAX_LEN: usize = 8;

/// Rewrites each run of two or more `Byte` instructions that nothing jumps
/// into the middle of: its first becomes a `Literal` covering the run (the
/// matcher then skips the rest, which stay in place so no target moves).
pub fn fuse(program: &mut Program) {
    let insts = &mut program.insts;
    let mut targeted = vec![false; insts.len() + 1];
    for inst in insts.iter() {
        match *inst {
            Inst::Split { first, second, .. } => {
                targeted[first as usize] = true;
                targeted[second as usize] = true;
            }
            Inst::Jmp(target) => targeted[target as usize] = true,
            Inst::LookStart { cont, .. } => targeted[cont as usize] = true,
            Inst::LoopEnd { exit, .. } => targeted[exit as usize] = true,
            _ => {}
        }
    }
    let mut pc = 0;
    while pc < insts.len() {
        let mut bytes = [0u8; MAX_LEN];
        let mut len = 0;
        while len < MAX_LEN
            && let Some(&Inst::Byte(b)) = insts.get(pc + len)
            && (len == 0 || !targeted[pc + len])
        {
            bytes[len] = b;
            len += 1;
        }
        if len >= 2 {
            insts[pc] = Inst::Literal {
                bytes,
                len: len as u8,
            };
        }
        pc += len.max(1);
    }
}

/// Whether `input` holds the literal's first `len` bytes at `pos`.
#[inline(always)]
pub fn matches(input: &[u8], pos: usize, bytes: [u8; MAX_LEN], len: u8) -> bool {
    let len = len as usize;
    match input.get(pos..pos + MAX_LEN) {
        Some(window) => {
            let mask = u64::MAX >> (8 * (MAX_LEN - len));
            let word = u64::from_le_bytes(window.try_into().unwrap());
            word & mask == u64::from_le_bytes(bytes)
        }
        None => input.get(pos..pos + len) == Some(&bytes[..len]),
    }
}
