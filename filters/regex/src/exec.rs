//! The backtracking matcher: runs a [`Program`] over one input, trying
//! alternatives in priority order exactly as Oniguruma does, so the leftmost
//! match and its captures are the ones Logstash reports.
//!
//! State that backtracking must undo lives on one explicit stack: choice
//! points, saved capture slots, runs that can give characters back, and the
//! markers of atomic groups and lookarounds. Nothing recurses, so no input can
//! overflow the call stack, and every step counts against a budget.

use super::budget::{Budget, Stop, charge, charge_ran, charge_scan};
use super::class::{ByteSet, SmallBytes, prev_char_start, word_at, word_before};
use super::compile::{Inst, NO_SET, Program, RunMode, StartAnchor, UNBOUNDED};
use super::literal;
use super::parse::Assertion;
use super::runs::{give_back, lazy_step, scan_run};

/// Position of an unset capture slot.
pub const UNSET: u32 = u32::MAX;

#[derive(Clone, Copy)]
enum Frame {
    Choice {
        pc: u32,
        pos: u32,
    },
    Slot {
        slot: u32,
        old: u32,
    },
    /// A greedy run that may give back characters down to `min_pos`.
    Greedy {
        pc: u32,
        min_pos: u32,
        pos: u32,
    },
    /// A lazy run that may take more characters, `left` at most.
    Lazy {
        pc: u32,
        class: u16,
        pos: u32,
        left: u32,
    },
    Atomic,
    Look {
        pos: u32,
        cont: u32,
        negative: bool,
    },
}

/// Steps a search with a required literal spends before it looks for it.
/// A grok line's ordinary search takes a few hundred; at 256, enough of the
/// access log's went past it that the looks and second searches cost grok
/// 1.4% (`wasmstash-bench compare`), where at 4,096 the cost was within the
/// noise. A hopeless line then costs at most about 65,000 instructions.
const LOOK_AFTER_STEPS: u64 = 4096;

/// Reusable matcher state; keep one per filter instance to avoid allocating
/// per event.
#[derive(Default)]
pub struct Matcher {
    stack: Vec<Frame>,
    slots: Vec<u32>,
}

impl Matcher {
    /// Searches `input` for the leftmost match starting at or after `from`
    /// (a character boundary), with what comes before `from` still seen by
    /// look-behind and `\b`. On a match the capture slots (start, end per
    /// group) are in [`Matcher::slots`].
    pub fn search(
        &mut self,
        program: &Program,
        input: &str,
        from: usize,
        budget: &mut Budget,
    ) -> Result<bool, Stop> {
        let input = input.as_bytes();
        if input.len() >= UNSET as usize || from > input.len() {
            return Ok(false);
        }
        let Some(required) = &program.required else {
            return self.search_starts(program, input, from, budget);
        };
        // Without the text every match holds, each start would be tried in
        // vain, at a cost that grows with the square of a long line (or
        // exponentially, for a pattern that backtracks badly). Most searches
        // end well within a few thousand steps, so only one that goes on longer
        // looks for it: the search is first held to LOOK_AFTER_STEPS, and
        // past them the look decides whether to search again in full.
        let held = budget.steps_left.saturating_sub(LOOK_AFTER_STEPS);
        budget.steps_left -= held;
        let first = self.search_starts(program, input, from, budget);
        budget.steps_left += held;
        match first {
            Err(Stop::Steps) if held > 0 => {
                if required.find(&input[from..]).is_none() {
                    return Ok(false);
                }
                self.search_starts(program, input, from, budget)
            }
            answer => answer,
        }
    }

    /// The search itself: each possible start, leftmost first.
    fn search_starts(
        &mut self,
        program: &Program,
        input: &[u8],
        from: usize,
        budget: &mut Budget,
    ) -> Result<bool, Stop> {
        let start_set = set_of(program, program.start_set);
        let mut start = from;
        loop {
            let candidate = match program.anchor {
                StartAnchor::Text if start > 0 => return Ok(false),
                StartAnchor::Line if start > 0 && input[start - 1] != b'\n' => {
                    match memchr::memchr(b'\n', &input[start..]) {
                        Some(i) => start + i + 1,
                        None => return Ok(false),
                    }
                }
                _ => match start_set {
                    Some(set) => match input[start..].iter().position(|&b| set.contains(b)) {
                        Some(i) => start + i,
                        None => return Ok(false),
                    },
                    None => start,
                },
            };
            if candidate > input.len() {
                return Ok(false);
            }
            charge(budget)?;
            if self.run(program, input, candidate, budget)? {
                return Ok(true);
            }
            if candidate >= input.len() {
                return Ok(false);
            }
            // Next character boundary.
            start = candidate + 1;
            while start < input.len() && (input[start] & 0xC0) == 0x80 {
                start += 1;
            }
        }
    }

    pub fn slots(&self) -> &[u32] {
        &self.slots
    }

    fn run(
        &mut self,
        program: &Program,
        input: &[u8],
        start: usize,
        budget: &mut Budget,
    ) -> Result<bool, Stop> {
        self.slots.clear();
        self.slots.resize(program.slot_count, UNSET);
        self.stack.clear();
        let insts = &program.insts[..];
        let mut pc = 0usize;
        let mut pos = start;
        // Instructions run and not yet charged. Counting is one add per
        // instruction; charging waits for a failure, a jump back or the
        // end, and between two of those the matcher only moves forward
        // through the program, so at most its length goes uncounted.
        let mut ran = 0u32;
        loop {
            ran += 1;
            let ok = match insts[pc] {
                Inst::Byte(b) => {
                    if input.get(pos) == Some(&b) {
                        pos += 1;
                        pc += 1;
                        true
                    } else {
                        false
                    }
                }
                Inst::Literal { bytes, len } => {
                    if literal::matches(input, pos, bytes, len) {
                        pos += len as usize;
                        pc += len as usize;
                        true
                    } else {
                        false
                    }
                }
                Inst::Class(class) => match program.classes[class as usize].match_at(input, pos) {
                    Some(len) => {
                        pos += len;
                        pc += 1;
                        true
                    }
                    None => false,
                },
                Inst::Run {
                    class,
                    min,
                    max,
                    mode,
                    next,
                } => {
                    let table = &program.classes[class as usize];
                    let limit = if mode == RunMode::Lazy { min } else { max };
                    if let Some((p, min_pos)) = scan_run(table, input, pos, min, limit) {
                        charge_scan(budget, p - pos)?;
                        pc += 1;
                        match mode {
                            RunMode::Possessive => {
                                pos = p;
                                // Fail here, not one dispatch later, when what
                                // follows cannot begin at the run's end.
                                may_start(program, next, input.get(pos).copied())
                            }
                            RunMode::Lazy => {
                                let mut left = if max == UNBOUNDED {
                                    UNBOUNDED
                                } else {
                                    max - min
                                };
                                // Take more only up to where what follows can begin.
                                match lazy_step(
                                    table,
                                    input,
                                    p,
                                    &mut left,
                                    next_of(program, next),
                                    false,
                                ) {
                                    Some(at) => {
                                        charge_scan(budget, at - p)?;
                                        pos = at;
                                        if left > 0 {
                                            self.stack.push(Frame::Lazy {
                                                pc: pc as u32,
                                                class,
                                                pos: pos as u32,
                                                left,
                                            });
                                        }
                                        true
                                    }
                                    None => {
                                        // It may have scanned to the end.
                                        charge_scan(budget, input.len() - p)?;
                                        false
                                    }
                                }
                            }
                            RunMode::Greedy => {
                                // Start at the longest run, but only where what
                                // follows can begin.
                                match give_back(input, min_pos, p, set_of(program, next), true) {
                                    Some(at) => {
                                        charge_scan(budget, p - at)?;
                                        if at > min_pos {
                                            self.stack.push(Frame::Greedy {
                                                pc: pc as u32,
                                                min_pos: min_pos as u32,
                                                pos: at as u32,
                                            });
                                        }
                                        pos = at;
                                        true
                                    }
                                    None => {
                                        charge_scan(budget, p - min_pos)?;
                                        false
                                    }
                                }
                            }
                        }
                    } else {
                        false
                    }
                }
                Inst::Split {
                    first,
                    second,
                    first_set,
                    second_set,
                } => {
                    let byte = input.get(pos).copied();
                    let first_ok = may_start(program, first_set, byte);
                    let second_ok = may_start(program, second_set, byte);
                    match (first_ok, second_ok) {
                        (true, true) => {
                            self.stack.push(Frame::Choice {
                                pc: second,
                                pos: pos as u32,
                            });
                            pc = first as usize;
                            true
                        }
                        (true, false) => {
                            pc = first as usize;
                            true
                        }
                        (false, true) => {
                            pc = second as usize;
                            true
                        }
                        (false, false) => false,
                    }
                }
                Inst::Jmp(target) => {
                    if (target as usize) < pc {
                        charge_ran(budget, &mut ran)?;
                    }
                    pc = target as usize;
                    true
                }
                Inst::Save(slot) => {
                    let old = self.slots[slot as usize];
                    self.stack.push(Frame::Slot { slot, old });
                    self.slots[slot as usize] = pos as u32;
                    pc += 1;
                    true
                }
                Inst::Assert(assertion) => {
                    pc += 1;
                    assert_at(assertion, input, pos)
                }
                Inst::AtomicStart => {
                    self.stack.push(Frame::Atomic);
                    pc += 1;
                    true
                }
                Inst::AtomicEnd => {
                    self.cut();
                    pc += 1;
                    true
                }
                Inst::LookStart {
                    negative,
                    behind,
                    cont,
                } => {
                    self.stack.push(Frame::Look {
                        pos: pos as u32,
                        cont,
                        negative,
                    });
                    pc += 1;
                    match behind {
                        None => true,
                        Some(chars) => match step_back(input, pos, chars) {
                            Some(p) => {
                                pos = p;
                                true
                            }
                            None => false,
                        },
                    }
                }
                Inst::LookEnd => {
                    let (saved, negative) = self.cut();
                    if negative {
                        // The body matched, so the negative lookaround fails;
                        // `cut` already undid the body's captures.
                        false
                    } else {
                        pos = saved as usize;
                        pc += 1;
                        true
                    }
                }
                Inst::Peek {
                    class,
                    negative,
                    behind,
                } => {
                    let table = &program.classes[class as usize];
                    let found = if behind {
                        pos > 0 && {
                            let start = prev_char_start(input, pos);
                            table.match_at(input, start).is_some()
                        }
                    } else {
                        table.match_at(input, pos).is_some()
                    };
                    pc += 1;
                    found != negative
                }
                Inst::LoopEnd { slot, exit } => {
                    if self.slots[slot as usize] == pos as u32 {
                        pc = exit as usize;
                    } else {
                        pc += 1;
                    }
                    true
                }
                Inst::Match => {
                    charge_ran(budget, &mut ran)?;
                    return Ok(true);
                }
            };
            if ok {
                continue;
            }
            // Backtrack.
            charge_ran(budget, &mut ran)?;
            loop {
                let Some(frame) = self.stack.pop() else {
                    return Ok(false);
                };
                match frame {
                    Frame::Choice { pc: to, pos: at } => {
                        charge(budget)?;
                        pc = to as usize;
                        pos = at as usize;
                        break;
                    }
                    Frame::Slot { slot, old } => self.slots[slot as usize] = old,
                    Frame::Greedy {
                        pc: to,
                        min_pos,
                        pos: at,
                    } => {
                        charge(budget)?;
                        let next = match insts[to as usize - 1] {
                            Inst::Run { next, .. } => next,
                            _ => NO_SET,
                        };
                        let Some(p) = give_back(
                            input,
                            min_pos as usize,
                            at as usize,
                            set_of(program, next),
                            false,
                        ) else {
                            charge_scan(budget, at as usize - min_pos as usize)?;
                            continue;
                        };
                        charge_scan(budget, at as usize - p)?;
                        if p > min_pos as usize {
                            self.stack.push(Frame::Greedy {
                                pc: to,
                                min_pos,
                                pos: p as u32,
                            });
                        }
                        pc = to as usize;
                        pos = p;
                        break;
                    }
                    Frame::Lazy {
                        pc: to,
                        class,
                        pos: at,
                        left,
                    } => {
                        charge(budget)?;
                        let next = match insts[to as usize - 1] {
                            Inst::Run { next, .. } => next,
                            _ => NO_SET,
                        };
                        let mut left = left;
                        let table = &program.classes[class as usize];
                        let Some(p) = lazy_step(
                            table,
                            input,
                            at as usize,
                            &mut left,
                            next_of(program, next),
                            true,
                        ) else {
                            // It may have scanned to the end.
                            charge_scan(budget, input.len() - at as usize)?;
                            continue;
                        };
                        charge_scan(budget, p - at as usize)?;
                        if left > 0 {
                            self.stack.push(Frame::Lazy {
                                pc: to,
                                class,
                                pos: p as u32,
                                left,
                            });
                        }
                        pc = to as usize;
                        pos = p;
                        break;
                    }
                    Frame::Atomic => {}
                    Frame::Look {
                        pos: at,
                        cont,
                        negative,
                    } => {
                        if negative {
                            // The body failed, so the negative lookaround holds.
                            pc = cont as usize;
                            pos = at as usize;
                            break;
                        }
                    }
                }
            }
        }
    }

    /// Ends an atomic group or lookaround: drops the choice points its body
    /// left, and its marker. Captures made inside stay (with their undo
    /// entries) except in a negative lookaround, where they are undone.
    /// Returns the marker's saved position and whether it was negative.
    fn cut(&mut self) -> (u32, bool) {
        let marker = self
            .stack
            .iter()
            .rposition(|f| matches!(f, Frame::Atomic | Frame::Look { .. }))
            .expect("a group end always has its marker on the stack");
        let (saved, negative) = match self.stack[marker] {
            Frame::Look { pos, negative, .. } => (pos, negative),
            _ => (0, false),
        };
        if negative {
            while self.stack.len() > marker + 1 {
                if let Some(Frame::Slot { slot, old }) = self.stack.pop() {
                    self.slots[slot as usize] = old;
                }
            }
            self.stack.pop();
            return (saved, true);
        }
        let mut write = marker;
        for read in marker + 1..self.stack.len() {
            if let Frame::Slot { .. } = self.stack[read] {
                self.stack[write] = self.stack[read];
                write += 1;
            }
        }
        self.stack.truncate(write);
        (saved, false)
    }
}

#[inline(always)]
fn set_of(program: &Program, id: u16) -> Option<&ByteSet> {
    (id != NO_SET).then(|| &program.sets[id as usize])
}

#[inline(always)]
fn may_start(program: &Program, set: u16, byte: Option<u8>) -> bool {
    if set == NO_SET {
        return true;
    }
    match byte {
        Some(b) => program.sets[set as usize].contains(b),
        None => false,
    }
}

#[inline(always)]
fn next_of(program: &Program, id: u16) -> (Option<&ByteSet>, Option<SmallBytes>) {
    if id == NO_SET {
        (None, None)
    } else {
        (
            Some(&program.sets[id as usize]),
            program.small_sets[id as usize],
        )
    }
}

fn step_back(input: &[u8], mut pos: usize, chars: u32) -> Option<usize> {
    for _ in 0..chars {
        if pos == 0 {
            return None;
        }
        pos = prev_char_start(input, pos);
    }
    Some(pos)
}

fn assert_at(assertion: Assertion, input: &[u8], pos: usize) -> bool {
    match assertion {
        // Ruby's `^`: not after a newline that ends the text.
        Assertion::LineStart => pos == 0 || (input[pos - 1] == b'\n' && pos < input.len()),
        Assertion::LineEnd => pos == input.len() || input[pos] == b'\n',
        Assertion::TextStart => pos == 0,
        Assertion::TextEnd => pos == input.len(),
        Assertion::TextEndNewline => {
            pos == input.len() || (pos + 1 == input.len() && input[pos] == b'\n')
        }
        Assertion::WordBoundary | Assertion::NotWordBoundary => {
            let boundary = word_before(input, pos) != word_at(input, pos);
            boundary == (assertion == Assertion::WordBoundary)
        }
    }
}
