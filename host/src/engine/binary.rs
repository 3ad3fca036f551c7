//! A module file's bytes made into a core WebAssembly binary, or a message
//! that says what the bytes are instead.
//!
//! The likeliest wrong file is one a filter author built for the wrong
//! target: a native shared library from a plain `cargo build`, or a
//! component from a `wasm32-wasip2` build. The text parser that every
//! non-binary input falls through to would call the first "not valid
//! UTF-8" and tell the second to enable the component model, which
//! wasmstash does not offer. Naming the kind of file and the build that
//! makes a module is the message that gets the author going again.

use std::borrow::Cow;

use super::EngineSettings;
use super::module::LoadError;

/// A core module's header: the magic and version 1.
const CORE_HEADER: &[u8] = b"\0asm\x01\0\0\0";
/// A component's: the magic, version 0x0d and layer 1.
const COMPONENT_HEADER: &[u8] = b"\0asm\x0d\0\x01\0";

/// How to build a module that wasmstash runs, for the messages below.
const BUILD_HINT: &str = "build the filter as a core module: \
                          `cargo build --release --target wasm32-unknown-unknown` \
                          (crate-type cdylib), or `wasmstash test --crate DIR`, which builds it";

/// What to give instead when a module's `path` is a filter crate's
/// directory (it holds a `Cargo.toml`): the module the crate builds,
/// named as cargo names it (`my-filter` builds `my_filter.wasm`).
pub fn crate_directory_hint(path: &std::path::Path) -> Option<String> {
    // A regular file of a manifest's size: a FIFO or a device named so is
    // not read, and a huge file not read far.
    let manifest = crate::files::read_capped(&path.join("Cargo.toml"), 1 << 20, "manifest").ok()?;
    let manifest = String::from_utf8_lossy(&manifest);
    let name = toml::from_str::<toml::Table>(&manifest)
        .ok()
        .and_then(|table| {
            let package = table.get("package")?.as_table()?;
            let lib_name = table
                .get("lib")
                .and_then(|lib| lib.get("name"))
                .and_then(|name| name.as_str());
            Some(
                lib_name
                    .or(package.get("name")?.as_str())?
                    .replace('-', "_"),
            )
        })
        .unwrap_or_else(|| "NAME".to_owned());
    Some(format!(
        "it is a crate's directory: give the module it builds, \
         target/wasm32-unknown-unknown/release/{} (under $CARGO_TARGET_DIR if set), \
         or test the crate with `wasmstash test --crate DIR`",
        super::printable(&format!("{name}.wasm"))
    ))
}

/// The core module in `wasm_or_wat`: the bytes themselves when they are a
/// binary, else their text format made one, within the bounds `settings`
/// set on compiling (`compile_memory_mib`, `compile_timeout_ms`): the
/// parser takes many times the text's size in memory.
pub(crate) fn core_module<'a>(
    wasm_or_wat: &'a [u8],
    settings: &EngineSettings,
) -> Result<Cow<'a, [u8]>, LoadError> {
    if let Some(kind) = foreign_kind(wasm_or_wat) {
        return Err(LoadError::module(format!(
            "not a WebAssembly module: the file is {kind}; {BUILD_HINT}"
        )));
    }
    if wasm_or_wat.starts_with(b"\0asm") {
        // Malformed binaries are the validator's to describe, with offsets.
        return Ok(Cow::Borrowed(wasm_or_wat));
    }
    if std::str::from_utf8(wasm_or_wat).is_err() {
        return Err(LoadError::module(format!(
            "not a WebAssembly module: the file is neither a binary (one starts with \\0asm) \
             nor the text format (it is not UTF-8); {BUILD_HINT}"
        )));
    }
    let text = std::str::from_utf8(wasm_or_wat).expect("checked above");
    super::compiler_process::text_to_binary(
        text,
        settings.compile_memory_bytes,
        settings.compile_timeout,
    )
    .map(Cow::Owned)
    .map_err(LoadError::module)
}

/// A module in the text format, made a binary. An error is the whole
/// message, with the line and column in one line: the `wat` crate's own
/// text draws the line with a caret over several, which reads as escapes
/// once made printable.
pub(super) fn from_text(text: &str) -> Result<Vec<u8>, String> {
    let place = |e: wast::Error| {
        let (line, column) = e.span().linecol_in(text);
        format!(
            "not a WebAssembly module (text format): line {}, column {}: {}",
            line + 1,
            column + 1,
            e.message()
        )
    };
    let buffer = wast::parser::ParseBuffer::new(text).map_err(place)?;
    let mut module: wast::Wat = wast::parser::parse(&buffer).map_err(place)?;
    if let wast::Wat::Component(_) = module {
        return Err(format!(
            "not a WebAssembly module: the text is a component; {BUILD_HINT}"
        ));
    }
    module.encode().map_err(place)
}

/// What the bytes are, when they are a kind of file known not to be a
/// core module.
fn foreign_kind(bytes: &[u8]) -> Option<&'static str> {
    let blank = bytes.iter().all(u8::is_ascii_whitespace);
    Some(match bytes {
        _ if blank => "empty",
        _ if bytes.starts_with(COMPONENT_HEADER) => {
            "a WebAssembly component (as `wasm32-wasip2` builds), and wasmstash runs core modules (ABI v1)"
        }
        [0, b'a', b's', b'm', ..] if bytes.len() < CORE_HEADER.len() => {
            "cut short: WebAssembly's 8-byte header is not all there"
        }
        [0, b'a', b's', b'm', ..] if !bytes.starts_with(CORE_HEADER) => {
            "WebAssembly of a version other than 1"
        }
        [0x7f, b'E', b'L', b'F', ..] => "a native ELF binary (a shared library or program)",
        [0xcf, 0xfa, 0xed, 0xfe, ..] | [0xfe, 0xed, 0xfa, 0xcf, ..] => "a native Mach-O binary",
        [b'M', b'Z', ..] => "a native Windows binary",
        _ if bytes.starts_with(b"!<arch>\n") => "an archive (a static library or .rlib)",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(bytes: &[u8]) -> String {
        core_module(bytes, &EngineSettings::default())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn binaries_pass_as_they_are_and_text_is_compiled() {
        let settings = EngineSettings::default();
        let binary = from_text("(module)").unwrap();
        assert!(matches!(
            core_module(&binary, &settings),
            Ok(Cow::Borrowed(_))
        ));
        assert_eq!(&*core_module(b"(module)", &settings).unwrap(), &binary[..]);
    }

    #[test]
    fn a_text_format_error_is_one_line_with_its_place() {
        assert_eq!(
            refusal(b"(module\n  (func (result i32)\n"),
            "not a WebAssembly module (text format): line 3, column 1: expected `)`"
        );
        assert_eq!(
            refusal(b"(module (func $f) (func $f))"),
            "not a WebAssembly module (text format): line 1, column 25: duplicate func identifier"
        );
    }

    #[test]
    fn wrong_builds_are_named_with_the_build_that_works() {
        for (bytes, kind) in [
            (&b""[..], "the file is empty"),
            (b" \n", "the file is empty"),
            (b"\x7fELF\x02\x01\x01\0\0\0", "native ELF binary"),
            (b"\0asm\x0d\0\x01\0\x07", "WebAssembly component"),
            (b"(component)", "the text is a component"),
            (b"\0asm\x02\0\0\0", "version other than 1"),
            (b"!<arch>\nlib.rmeta", "an archive"),
            (b"\xff\xfe(module)", "nor the text format"),
        ] {
            let message = refusal(bytes);
            assert!(message.contains(kind), "{message}");
            assert!(message.contains("wasm32-unknown-unknown"), "{message}");
        }
    }
}
