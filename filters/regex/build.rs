//! Writes the Unicode general categories that the POSIX brackets need and
//! `char` does not answer (Nd, P and Cn) as sorted code point ranges, taken
//! from `regex-syntax`'s tables. Done here, the engine (and so every filter
//! module built on it) carries three arrays rather than that crate's parser.

use std::fmt::Write;

use regex_syntax::hir::{Class, HirKind};

fn main() {
    let mut out = String::new();
    for (name, category) in [
        ("DECIMAL_NUMBER", "Nd"),
        ("PUNCTUATION", "P"),
        ("UNASSIGNED", "Cn"),
    ] {
        let hir = regex_syntax::parse(&format!("\\p{{{category}}}")).expect("a general category");
        let HirKind::Class(Class::Unicode(class)) = hir.kind() else {
            panic!("\\p{{{category}}} is not a class of code points");
        };
        writeln!(out, "pub static {name}: &[(char, char)] = &[").unwrap();
        for range in class.ranges() {
            writeln!(out, "    ({:?}, {:?}),", range.start(), range.end()).unwrap();
        }
        writeln!(out, "];").unwrap();
    }
    let dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(std::path::Path::new(&dir).join("categories.rs"), out).unwrap();
    println!("cargo:rerun-if-changed=build.rs");
}
