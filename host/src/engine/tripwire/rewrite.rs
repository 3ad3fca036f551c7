//! The module rewrite behind the tripwire: a one-page memory the module's
//! code cannot name, a read of it at every function entry and loop header
//! and after every bulk memory or table operation,
//! and two exports for the host (the page, and the start function, which
//! the host runs itself so that it runs under the deadline too).
//!
//! Each read in a function uses its own offset into the page, so that
//! Cranelift's load forwarding cannot take a loop header's read for a
//! repeat of an earlier one and drop it. That caps the loops in one
//! function at a page's worth of offsets, less the entry's; a function with
//! more is refused rather than left partly unguarded. (It also means
//! wasmtime must not inline calls between a module's functions, which would
//! put two functions' reads, offsets repeated, in one body; it is off by
//! default in wasmtime 48, and `Engine::new` turns it off explicitly.)

use wasm_encoder::reencode::{self, Reencode};
use wasm_encoder::{
    CodeSection, ExportKind, ExportSection, Instruction, MemArg, MemorySection, MemoryType,
    RawSection, SectionId,
};
use wasmparser::{Parser, Payload, TypeRef};

use super::{PAGE_EXPORT, START_EXPORT, is_host_export};

/// Bytes in the tripwire memory: one WebAssembly page, and so the number
/// of distinct reads one function can have.
const PAGE: u64 = 1 << 16;

/// Most memories a module may have (wasmparser's limit, which wasmtime
/// keeps).
const MAX_MEMORIES: u32 = 100;

/// The module with its tripwire; see the module docs. `wasm` must already
/// have passed validation: this adds a memory, and code that is invalid
/// only for naming that memory's index would otherwise become valid.
pub(crate) fn instrument(wasm: &[u8]) -> Result<Vec<u8>, String> {
    let layout = Layout::of(wasm)?;
    let mut rewriter = Rewriter {
        layout,
        added_memory: false,
        added_exports: false,
    };
    let mut module = wasm_encoder::Module::new();
    rewriter
        .parse_core_module(&mut module, Parser::new(0), wasm)
        .map_err(|e| match e {
            reencode::Error::UserError(refusal) => refusal,
            other => format!("cannot add the deadline's tripwire: {other}"),
        })?;
    let rewritten = module.finish();
    match layout.start {
        Some(_) => without_start_section(&rewritten),
        None => Ok(rewritten),
    }
}

/// What the rewrite needs to know before it writes anything.
#[derive(Clone, Copy)]
struct Layout {
    /// Memories the module has, imported and defined: the tripwire's index.
    memories: u32,
    start: Option<u32>,
}

impl Layout {
    fn of(wasm: &[u8]) -> Result<Layout, String> {
        let invalid = |e: wasmparser::BinaryReaderError| format!("not a valid module: {e}");
        let mut layout = Layout {
            memories: 0,
            start: None,
        };
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.map_err(invalid)? {
                Payload::ImportSection(imports) => {
                    for import in imports.into_imports() {
                        if matches!(import.map_err(invalid)?.ty, TypeRef::Memory(_)) {
                            layout.memories += 1;
                        }
                    }
                }
                Payload::MemorySection(memories) => layout.memories += memories.count(),
                Payload::End(_) if layout.memories >= MAX_MEMORIES => {
                    return Err(format!(
                        "the module has {} memories; the deadline needs one more, and wasmtime allows {MAX_MEMORIES}",
                        layout.memories
                    ));
                }
                Payload::ExportSection(exports) => {
                    for export in exports {
                        let name = export.map_err(invalid)?.name;
                        if is_host_export(name) {
                            return Err(format!(
                                "the module exports `{name}`, a name wasmstash keeps for itself"
                            ));
                        }
                    }
                }
                Payload::StartSection { func, .. } => layout.start = Some(func),
                _ => {}
            }
        }
        Ok(layout)
    }
}

struct Rewriter {
    layout: Layout,
    added_memory: bool,
    added_exports: bool,
}

impl Rewriter {
    fn add_memory(&mut self, memories: &mut MemorySection) {
        memories.memory(MemoryType {
            minimum: 1,
            maximum: Some(1),
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        self.added_memory = true;
    }

    fn add_exports(&mut self, exports: &mut ExportSection) {
        exports.export(PAGE_EXPORT, ExportKind::Memory, self.layout.memories);
        if let Some(start) = self.layout.start {
            exports.export(START_EXPORT, ExportKind::Func, start);
        }
        self.added_exports = true;
    }

    /// `i32.load8_u` of the page at `offset`, its value dropped; refused
    /// past the page's last offset.
    fn read(
        &self,
        function: &mut wasm_encoder::Function,
        offset: u64,
    ) -> Result<(), reencode::Error<String>> {
        if offset >= PAGE {
            return Err(reencode::Error::UserError(format!(
                "a function of the module has {PAGE} loops and bulk memory operations or more; the deadline can guard at most {}",
                PAGE - 1
            )));
        }
        function.instruction(&Instruction::I32Const(0));
        function.instruction(&Instruction::I32Load8U(MemArg {
            offset,
            align: 0,
            memory_index: self.layout.memories,
        }));
        function.instruction(&Instruction::Drop);
        Ok(())
    }
}

impl Reencode for Rewriter {
    /// Why a module cannot be guarded, in words for an operator.
    type Error = String;

    /// Custom sections go through as they came: re-encoding the `name`
    /// section would refuse a malformed one, which wasmtime only warns of.
    fn parse_custom_section(
        &mut self,
        module: &mut wasm_encoder::Module,
        section: wasmparser::CustomSectionReader<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        module.section(&wasm_encoder::CustomSection {
            name: section.name().into(),
            data: section.data().into(),
        });
        Ok(())
    }

    fn parse_memory_section(
        &mut self,
        memories: &mut MemorySection,
        section: wasmparser::MemorySectionReader<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        reencode::utils::parse_memory_section(self, memories, section)?;
        self.add_memory(memories);
        Ok(())
    }

    fn parse_export_section(
        &mut self,
        exports: &mut ExportSection,
        section: wasmparser::ExportSectionReader<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        reencode::utils::parse_export_section(self, exports, section)?;
        self.add_exports(exports);
        Ok(())
    }

    /// A module without a memory or an export section gets one where it
    /// would have been.
    fn intersperse_section_hook(
        &mut self,
        module: &mut wasm_encoder::Module,
        _after: Option<SectionId>,
        before: Option<SectionId>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        let passed = |section| before.is_none_or(|next| position(next) > position(section));
        if !self.added_memory && passed(SectionId::Memory) {
            let mut memories = MemorySection::new();
            self.add_memory(&mut memories);
            module.section(&memories);
        }
        if !self.added_exports && passed(SectionId::Export) {
            let mut exports = ExportSection::new();
            self.add_exports(&mut exports);
            module.section(&exports);
        }
        Ok(())
    }

    fn parse_function_body(
        &mut self,
        code: &mut CodeSection,
        body: wasmparser::FunctionBody<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        let mut function = self.new_function_with_parsed_locals(&body)?;
        let mut reads = 0;
        self.read(&mut function, reads)?;
        let mut operators = body.get_operators_reader()?;
        while !operators.eof() {
            let instruction = self.parse_instruction(&mut operators)?;
            function.instruction(&instruction);
            if matches!(instruction, Instruction::Loop(_)) || is_bulk(&instruction) {
                reads += 1;
                self.read(&mut function, reads)?;
            }
        }
        code.function(&function);
        Ok(())
    }
}

/// Whether `instruction` does work in proportion to an operand (a fill or
/// copy of up to the whole memory or table) with no loop in the module's
/// code: straight-line code made of these would otherwise pass no read
/// for as long as it likes. A read right after each bounds a call's
/// overrun to one such operation.
fn is_bulk(instruction: &Instruction) -> bool {
    matches!(
        instruction,
        Instruction::MemoryFill(_)
            | Instruction::MemoryCopy { .. }
            | Instruction::MemoryInit { .. }
            | Instruction::TableFill(_)
            | Instruction::TableCopy { .. }
            | Instruction::TableInit { .. }
    )
}

/// A section's place in a module. Ids are not in that order: the tag and
/// data count sections came later and got later ids.
fn position(section: SectionId) -> u8 {
    match section {
        SectionId::Tag => SectionId::Memory as u8 * 2 + 1,
        SectionId::DataCount => SectionId::Element as u8 * 2 + 1,
        other => other as u8 * 2,
    }
}

/// `wasm` with its start section left out (the host calls the start
/// function through [`START_EXPORT`] instead); every other section is
/// copied as it is.
fn without_start_section(wasm: &[u8]) -> Result<Vec<u8>, String> {
    let mut module = wasm_encoder::Module::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| format!("cannot re-read the rewritten module: {e}"))?;
        if matches!(
            payload,
            Payload::StartSection { .. } | Payload::Version { .. }
        ) {
            continue;
        }
        if let Some((id, range)) = payload.as_section() {
            module.section(&RawSection {
                id,
                data: &wasm[range],
            });
        }
    }
    Ok(module.finish())
}
