//! Bounds on a module's code, checked before it is compiled.
//!
//! Compiling is the one step the call deadline does not cover, and its cost
//! grows faster than the module: a 7 MB function of nested `if`s took
//! Cranelift over two minutes, and 900,000 small functions in 10 MB took
//! 5.5 GB of memory. So a module may have at most [`MAX_FUNCTIONS`]
//! functions of at most [`MAX_FUNCTION_BYTES`] of code each; compiled
//! filters stay far below both (the built-ins: about 400 functions, the
//! largest under 20 KB). Within these bounds a module can still take long
//! (many locals cost Cranelift their square), which `compile` bounds by
//! waiting at most `engine.compile_timeout_ms`.
//!
//! Memories are bounded in number too, though the memory limit counts
//! their pages together: each memory reserves gigabytes of address space
//! for its guard regions, so a module of 99 empty memories took 400 GiB of
//! it per instance, and some 300 instances exhausted the process's.

use wasmparser::{Parser, Payload};

/// Most functions (with code) one module may have.
pub const MAX_FUNCTIONS: u32 = 100_000;

/// Most bytes of code one function may have.
pub const MAX_FUNCTION_BYTES: usize = 1 << 20;

/// Most memories one module may declare: filters use one.
pub const MAX_MEMORIES: u32 = 4;

/// Refuses a module over any bound, naming the bound; anything else
/// (malformed bytes included) is left to the compiler to report.
pub(super) fn check(wasm: &[u8]) -> Result<(), String> {
    let mut function = 0u32;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload {
            Ok(Payload::CodeSectionStart { count, .. }) if count > MAX_FUNCTIONS => {
                return Err(format!(
                    "the module has {count} functions; at most {MAX_FUNCTIONS} are compiled"
                ));
            }
            Ok(Payload::MemorySection(memories)) if memories.count() > MAX_MEMORIES => {
                return Err(format!(
                    "the module declares {} memories; at most {MAX_MEMORIES} are allowed",
                    memories.count()
                ));
            }
            Ok(Payload::CodeSectionEntry(body)) => {
                let size = body.range().len();
                if size > MAX_FUNCTION_BYTES {
                    return Err(format!(
                        "function {function} of the module has {size} bytes of code; at most {MAX_FUNCTION_BYTES} are compiled"
                    ));
                }
                function += 1;
            }
            Ok(_) => {}
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}
