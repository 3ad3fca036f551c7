//! The byte sets that prune choices: for each choice point and run, which
//! bytes can come next.
//!
//! Each set is found by walking the program from the choice point to the
//! bytes it can consume first. Where everything after it is optional, as in
//! `(?:a?){100000}`, that walk is the rest of the program, so walking from
//! every choice point took time quadratic in the program: minutes at init
//! for a pattern the compiler accepts, which the host could only report as
//! a deadline that names no pattern. The walks therefore share a budget in
//! proportion to the program; a choice point reached after it is spent gets
//! no set, which costs pruning but never changes a match.

use std::collections::HashMap;

use super::{Inst, NO_SET, Program, RunMode};
use crate::class::{ByteSet, ClassTable};

/// Instructions all the walks of one program may visit together: this many
/// per instruction, and at least [`WORK_FLOOR`]. The standard patterns' walks
/// stop at the next literal or class and use a small fraction of it.
const WORK_PER_INST: usize = 16;
const WORK_FLOOR: usize = 1 << 20;

/// Fills in the byte sets of every choice point and run.
pub(super) fn add_byte_sets(program: &mut Program) {
    let mut interner: Vec<ByteSet> = Vec::new();
    // A search of the list for each set would be quadratic again.
    let mut ids: HashMap<ByteSet, u16> = HashMap::new();
    let mut intern = |set: Option<ByteSet>| -> u16 {
        match set {
            None => NO_SET,
            Some(set) if set.is_full() => NO_SET,
            Some(set) => match ids.get(&set) {
                Some(&id) => id,
                None if interner.len() < NO_SET as usize => {
                    let id = interner.len() as u16;
                    interner.push(set);
                    ids.insert(set, id);
                    id
                }
                None => NO_SET,
            },
        }
    };
    let mut visited = vec![0u32; program.insts.len()];
    let mut stamp = 0u32;
    let mut work = (WORK_PER_INST * program.insts.len()).max(WORK_FLOOR);
    // Once per class, not once per visit of each of its instructions.
    let class_firsts: Vec<ByteSet> = program
        .classes
        .iter()
        .map(ClassTable::first_bytes)
        .collect();
    let mut first = |pc: u32, insts: &[Inst]| {
        stamp += 1;
        first_bytes(pc, insts, &class_firsts, &mut visited, stamp, &mut work)
    };
    // The start set first: it prunes the most, so a spent budget leaves it.
    program.start_set = intern(first(0, &program.insts));
    for pc in 0..program.insts.len() {
        match program.insts[pc] {
            Inst::Split {
                first: a,
                second: b,
                ..
            } => {
                let first_set = intern(first(a, &program.insts));
                let second_set = intern(first(b, &program.insts));
                program.insts[pc] = Inst::Split {
                    first: a,
                    second: b,
                    first_set,
                    second_set,
                };
            }
            Inst::Run {
                class,
                min,
                max,
                mut mode,
                ..
            } => {
                let next_bytes = first(pc as u32 + 1, &program.insts);
                // Giving back a character leaves the run's end on a member of
                // its class; if nothing that follows can start with one, a
                // greedy run never gives back usefully, so it keeps no frame.
                // Nor does one that always reaches the end of its atomic group
                // or lookaround, which discards the frame.
                let never_gives_back = match &next_bytes {
                    Some(next) => next.is_disjoint(&class_firsts[class as usize]),
                    None => frames_discarded_after(&program.insts, pc + 1),
                };
                if mode == RunMode::Greedy && never_gives_back {
                    mode = RunMode::Possessive;
                }
                let next = intern(next_bytes);
                program.insts[pc] = Inst::Run {
                    class,
                    min,
                    max,
                    mode,
                    next,
                };
            }
            _ => {}
        }
    }
    program.small_sets = interner.iter().map(ByteSet::small).collect();
    program.sets = interner;
}

/// Whether every path from `pc` reaches, without a step that can fail, an
/// instruction that discards all backtrack frames pushed since its group
/// began (or ends the match), so none of them can ever be resumed.
fn frames_discarded_after(insts: &[Inst], mut pc: usize) -> bool {
    for _ in 0..insts.len() {
        match insts[pc] {
            Inst::Save(_) => pc += 1,
            Inst::Jmp(target) => pc = target as usize,
            Inst::AtomicEnd | Inst::LookEnd | Inst::Match => return true,
            _ => return false,
        }
    }
    false
}

/// The bytes that can be consumed first from `pc`, or `None` if the program
/// can get past `pc` without consuming, or we cannot tell (`work`, the
/// instructions left to visit, ran out).
fn first_bytes(
    pc: u32,
    insts: &[Inst],
    class_firsts: &[ByteSet],
    visited: &mut [u32],
    stamp: u32,
    work: &mut usize,
) -> Option<ByteSet> {
    let mut set = ByteSet::default();
    let mut todo = vec![pc];
    while let Some(pc) = todo.pop() {
        let i = pc as usize;
        if visited[i] == stamp {
            continue;
        }
        visited[i] = stamp;
        *work = work.checked_sub(1)?;
        match insts[i] {
            Inst::Byte(b) | Inst::Literal { bytes: [b, ..], .. } => set.insert(b),
            Inst::Class(c) => set.union(&class_firsts[c as usize]),
            Inst::Run { class, min, .. } => {
                set.union(&class_firsts[class as usize]);
                if min == 0 {
                    todo.push(pc + 1);
                }
            }
            Inst::Split { first, second, .. } => {
                todo.push(first);
                todo.push(second);
            }
            Inst::Jmp(target) => todo.push(target),
            Inst::Save(_) | Inst::Assert(_) | Inst::AtomicStart | Inst::Peek { .. } => {
                todo.push(pc + 1)
            }
            // Failing early before an atomic group's end would backtrack into
            // choices the group's end discards, so no pruning looks past it.
            Inst::AtomicEnd => return None,
            Inst::LoopEnd { exit, .. } => {
                todo.push(pc + 1);
                todo.push(exit);
            }
            Inst::LookStart { cont, .. } => todo.push(cont),
            Inst::LookEnd | Inst::Match => return None,
        }
    }
    Some(set)
}
