//! Compiles the syntax tree into a program for the backtracking matcher, and
//! works out which bytes can come next at each choice point.
//!
//! Those byte sets are where the speed comes from: an alternative whose first
//! byte cannot match the input is never entered and leaves no backtrack entry,
//! and a greedy run of one class gives back characters only at positions where
//! what follows could start.

use std::collections::HashMap;

use super::class::{ByteSet, CharClass, ClassTable, SmallBytes};
use super::parse::{Assertion, Node};

mod sets;

/// No pruning: the continuation may match without consuming a byte.
pub const NO_SET: u16 = u16::MAX;
/// A repeat without an upper bound.
pub const UNBOUNDED: u32 = u32::MAX;
/// Refuses patterns whose counted repetitions expand past this many
/// instructions, so a config cannot make init allocate without bound. Two
/// million (32 MiB of them, twice that while the list grew) ran a filter
/// out of its default 64 MiB, an error that names no pattern.
const MAX_PROGRAM: usize = 500_000;
/// Classes are numbered with 16 bits. Equal classes share one number, so
/// only a pattern with this many different ones is refused.
const MAX_CLASSES: usize = 1 << 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    Greedy,
    Lazy,
    Possessive,
}

#[derive(Clone, Copy, Debug)]
pub enum Inst {
    Byte(u8),
    /// `len` bytes (two to eight) that must follow, as one step; the `Byte`
    /// instructions after it spell the same bytes and are skipped.
    Literal {
        bytes: [u8; 8],
        len: u8,
    },
    Class(u16),
    /// `min..=max` characters of one class, scanned in a tight loop.
    /// `next` is the byte set of what follows, for giving back characters.
    Run {
        class: u16,
        min: u32,
        max: u32,
        mode: RunMode,
        next: u16,
    },
    /// Try `first`, and on failure `second`; each side is skipped outright
    /// when the next byte is not in its set.
    Split {
        first: u32,
        second: u32,
        first_set: u16,
        second_set: u16,
    },
    Jmp(u32),
    Save(u32),
    Assert(Assertion),
    AtomicStart,
    AtomicEnd,
    /// `behind`: the body's fixed length in characters, for lookbehind.
    LookStart {
        negative: bool,
        behind: Option<u32>,
        cont: u32,
    },
    LookEnd,
    /// A lookaround whose body is one character of a class, as in
    /// `(?<![0-9])` or `(?![0-9])`: one step instead of a body to run, a
    /// marker to push and a backtrack to pop.
    Peek {
        class: u16,
        negative: bool,
        behind: bool,
    },
    /// Ends one iteration of a loop whose body can match empty: an iteration
    /// that consumed nothing leaves the loop, as Oniguruma's empty check does.
    LoopEnd {
        slot: u32,
        exit: u32,
    },
    Match,
}

pub struct Program {
    pub insts: Vec<Inst>,
    pub classes: Vec<ClassTable>,
    pub sets: Vec<ByteSet>,
    /// Per set, its members when they are few enough for `memchr`.
    pub small_sets: Vec<Option<SmallBytes>>,
    /// Capture slots first (two per group), then loop-start slots.
    pub slot_count: usize,
    pub start_set: u16,
    pub anchor: StartAnchor,
    /// Finds the literal text every match holds, looked for before a
    /// search (`required.rs`).
    pub required: Option<super::required::RequiredFinder>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartAnchor {
    None,
    Text,
    Line,
}

struct Compiler {
    insts: Vec<Inst>,
    classes: Vec<ClassTable>,
    /// Each class's number. A repeat compiles its body once per count, and
    /// a table per copy made `(?:[ab]c){1000}{1000}` a million tables, more
    /// than a filter's memory, and numbers past 16 bits that wrapped round
    /// to other classes.
    class_ids: HashMap<CharClass, u16>,
    next_slot: u32,
}

pub fn compile(node: &Node, group_count: usize) -> Result<Program, String> {
    let mut compiler = Compiler {
        insts: Vec::new(),
        classes: Vec::new(),
        class_ids: HashMap::new(),
        next_slot: (group_count * 2) as u32,
    };
    compiler.node(node)?;
    compiler.insts.push(Inst::Match);
    let anchor = match first_item(node) {
        Some(Node::Assert(Assertion::TextStart)) => StartAnchor::Text,
        Some(Node::Assert(Assertion::LineStart)) => StartAnchor::Line,
        _ => StartAnchor::None,
    };
    let mut program = Program {
        insts: compiler.insts,
        classes: compiler.classes,
        sets: Vec::new(),
        small_sets: Vec::new(),
        slot_count: compiler.next_slot as usize,
        start_set: NO_SET,
        anchor,
        required: super::required::required_finder(node),
    };
    thread_jumps(&mut program.insts);
    sets::add_byte_sets(&mut program);
    super::literal::fuse(&mut program);
    Ok(program)
}

fn first_item(node: &Node) -> Option<&Node> {
    match node {
        Node::Concat(items) => items.first().and_then(first_item),
        Node::Capture(_, inner) => first_item(inner),
        other => Some(other),
    }
}

impl Compiler {
    fn push(&mut self, inst: Inst) -> Result<u32, String> {
        if self.insts.len() >= MAX_PROGRAM {
            return Err(format!(
                "pattern is too large once its repetitions are expanded (more than {MAX_PROGRAM} steps)"
            ));
        }
        self.insts.push(inst);
        Ok((self.insts.len() - 1) as u32)
    }

    fn here(&self) -> u32 {
        self.insts.len() as u32
    }

    fn class(&mut self, class: &CharClass) -> Result<u16, String> {
        if let Some(&id) = self.class_ids.get(class) {
            return Ok(id);
        }
        if self.classes.len() >= MAX_CLASSES {
            return Err(format!(
                "pattern has more than {MAX_CLASSES} different character classes"
            ));
        }
        let id = self.classes.len() as u16;
        self.classes.push(class.freeze());
        self.class_ids.insert(class.clone(), id);
        Ok(id)
    }

    fn node(&mut self, node: &Node) -> Result<(), String> {
        match node {
            Node::Empty => {}
            Node::Char(c) => {
                let mut buf = [0u8; 4];
                for &b in c.encode_utf8(&mut buf).as_bytes() {
                    self.push(Inst::Byte(b))?;
                }
            }
            Node::Class(class) => match class.as_single_byte() {
                Some(b) => {
                    self.push(Inst::Byte(b))?;
                }
                None => {
                    let id = self.class(class)?;
                    self.push(Inst::Class(id))?;
                }
            },
            Node::Concat(items) => {
                for item in items {
                    self.node(item)?;
                }
            }
            Node::Alt(branches) => {
                let mut jumps = Vec::new();
                for (i, branch) in branches.iter().enumerate() {
                    if i + 1 < branches.len() {
                        let split = self.push(Inst::Split {
                            first: 0,
                            second: 0,
                            first_set: NO_SET,
                            second_set: NO_SET,
                        })?;
                        let first = self.here();
                        self.node(branch)?;
                        jumps.push(self.push(Inst::Jmp(0))?);
                        let second = self.here();
                        self.insts[split as usize] = split_inst(first, second);
                    } else {
                        self.node(branch)?;
                    }
                }
                let end = self.here();
                for jump in jumps {
                    self.insts[jump as usize] = Inst::Jmp(end);
                }
            }
            Node::Capture(index, inner) => {
                self.push(Inst::Save((index * 2) as u32))?;
                self.node(inner)?;
                self.push(Inst::Save((index * 2 + 1) as u32))?;
            }
            Node::Repeat {
                node: inner,
                min,
                max,
                greedy,
            } => {
                let mode = if *greedy {
                    RunMode::Greedy
                } else {
                    RunMode::Lazy
                };
                self.repeat(inner, *min, *max, mode)?;
            }
            Node::Atomic(inner) => {
                if let Node::Repeat {
                    node: body,
                    min,
                    max,
                    greedy: true,
                } = inner.as_ref()
                    && single_char_class(body).is_some()
                {
                    return self.repeat(body, *min, *max, RunMode::Possessive);
                }
                self.push(Inst::AtomicStart)?;
                self.node(inner)?;
                self.push(Inst::AtomicEnd)?;
            }
            Node::Look {
                behind,
                negative,
                node: inner,
            } => self.look(*behind, *negative, inner)?,
            Node::Assert(assertion) => {
                self.push(Inst::Assert(*assertion))?;
            }
        }
        Ok(())
    }

    fn repeat(
        &mut self,
        body: &Node,
        min: u32,
        max: Option<u32>,
        mode: RunMode,
    ) -> Result<(), String> {
        if let Some(class) = single_char_class(body) {
            let class = self.class(&class)?;
            self.push(Inst::Run {
                class,
                min,
                max: max.unwrap_or(UNBOUNDED),
                mode,
                next: NO_SET,
            })?;
            return Ok(());
        }
        if mode == RunMode::Possessive {
            self.push(Inst::AtomicStart)?;
            self.repeat(body, min, max, RunMode::Greedy)?;
            self.push(Inst::AtomicEnd)?;
            return Ok(());
        }
        for _ in 0..min {
            self.node(body)?;
        }
        let greedy = mode == RunMode::Greedy;
        match max {
            None => {
                let nullable = can_be_empty(body);
                let top = self.push(Inst::Split {
                    first: 0,
                    second: 0,
                    first_set: NO_SET,
                    second_set: NO_SET,
                })?;
                let slot = self.next_slot;
                if nullable {
                    self.next_slot += 1;
                    self.push(Inst::Save(slot))?;
                }
                let body_start = top + 1;
                self.node(body)?;
                let loop_end = if nullable {
                    Some(self.push(Inst::LoopEnd { slot, exit: 0 })?)
                } else {
                    None
                };
                self.push(Inst::Jmp(top))?;
                let exit = self.here();
                if let Some(at) = loop_end {
                    self.insts[at as usize] = Inst::LoopEnd { slot, exit };
                }
                self.insts[top as usize] = if greedy {
                    split_inst(body_start, exit)
                } else {
                    split_inst(exit, body_start)
                };
            }
            Some(max) => {
                let mut splits = Vec::new();
                for _ in min..max {
                    splits.push(self.push(Inst::Split {
                        first: 0,
                        second: 0,
                        first_set: NO_SET,
                        second_set: NO_SET,
                    })?);
                    self.node(body)?;
                }
                let exit = self.here();
                for split in splits {
                    let body_start = split + 1;
                    self.insts[split as usize] = if greedy {
                        split_inst(body_start, exit)
                    } else {
                        split_inst(exit, body_start)
                    };
                }
            }
        }
        Ok(())
    }

    fn look(&mut self, behind: bool, negative: bool, body: &Node) -> Result<(), String> {
        if let Some(class) = single_char_class(body) {
            let class = self.class(&class)?;
            self.push(Inst::Peek {
                class,
                negative,
                behind,
            })?;
            return Ok(());
        }
        let length = if behind {
            match fixed_length(body) {
                Some(n) => Some(n),
                // Oniguruma allows top-level alternatives of different fixed
                // lengths: (?<=a|bc) is (?<=a)|(?<=bc), (?<!a|bc) is (?<!a)(?<!bc).
                None => match body {
                    Node::Alt(branches) if branches.iter().all(|b| fixed_length(b).is_some()) => {
                        let parts = branches
                            .iter()
                            .map(|b| Node::Look {
                                behind: true,
                                negative,
                                node: Box::new(b.clone()),
                            })
                            .collect();
                        return self.node(&if negative {
                            Node::Concat(parts)
                        } else {
                            Node::Alt(parts)
                        });
                    }
                    _ => {
                        return Err(
                            "invalid pattern in look-behind: it must have a fixed length".into(),
                        );
                    }
                },
            }
        } else {
            None
        };
        let start = self.push(Inst::LookStart {
            negative,
            behind: length,
            cont: 0,
        })?;
        self.node(body)?;
        self.push(Inst::LookEnd)?;
        let cont = self.here();
        self.insts[start as usize] = Inst::LookStart {
            negative,
            behind: length,
            cont,
        };
        Ok(())
    }
}

fn split_inst(first: u32, second: u32) -> Inst {
    Inst::Split {
        first,
        second,
        first_set: NO_SET,
        second_set: NO_SET,
    }
}

fn single_char_class(node: &Node) -> Option<CharClass> {
    match node {
        Node::Char(c) => Some(CharClass::single(*c)),
        Node::Class(class) => Some(class.clone()),
        _ => None,
    }
}

fn can_be_empty(node: &Node) -> bool {
    match node {
        Node::Empty | Node::Assert(_) | Node::Look { .. } => true,
        Node::Char(_) | Node::Class(_) => false,
        Node::Concat(items) => items.iter().all(can_be_empty),
        Node::Alt(branches) => branches.iter().any(can_be_empty),
        Node::Capture(_, inner) | Node::Atomic(inner) => can_be_empty(inner),
        Node::Repeat { node, min, .. } => *min == 0 || can_be_empty(node),
    }
}

/// The length in characters every match of `node` has, if fixed.
fn fixed_length(node: &Node) -> Option<u32> {
    match node {
        Node::Empty | Node::Assert(_) | Node::Look { .. } => Some(0),
        Node::Char(_) | Node::Class(_) => Some(1),
        Node::Concat(items) => items
            .iter()
            .try_fold(0u32, |n, i| Some(n + fixed_length(i)?)),
        Node::Alt(branches) => {
            let first = fixed_length(&branches[0])?;
            branches[1..]
                .iter()
                .all(|b| fixed_length(b) == Some(first))
                .then_some(first)
        }
        Node::Capture(_, inner) | Node::Atomic(inner) => fixed_length(inner),
        Node::Repeat { node, min, max, .. } => {
            (Some(*min) == *max).then_some(fixed_length(node)? * min)
        }
    }
}

/// Points each jump that lands on another jump at the final target.
fn thread_jumps(insts: &mut [Inst]) {
    for pc in 0..insts.len() {
        let Inst::Jmp(mut target) = insts[pc] else {
            continue;
        };
        for _ in 0..insts.len() {
            match insts[target as usize] {
                Inst::Jmp(next) if next != target => target = next,
                _ => break,
            }
        }
        insts[pc] = Inst::Jmp(target);
    }
}
