//! What a config's type error says, in the words of the file it was
//! written in: serde names Rust's types (`expected u64`, `expected struct
//! RateConfig`), and a config is TOML or JSON. Shared with the host, so
//! that a type error in `[engine]` or `[server]` reads as one in a
//! filter's own options does.

/// `message` with what it expected said as the config would write it
/// (`a whole number ≥ 0`, `a table`); a message of another shape as it is.
pub fn in_plain_words(message: String) -> String {
    let Some((found, expected)) = message.rsplit_once(", expected ") else {
        return message;
    };
    let expected = match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number ≥ 0",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "a boolean" => "true or false",
        "a string" | "a borrowed string" => "a string",
        "a sequence" => "a list",
        "a map" => "a table",
        _ if expected.starts_with("struct ") => "a table",
        _ => return message,
    };
    let found = match found.strip_prefix("invalid type: ") {
        Some("map") => "invalid type: a table",
        Some("sequence") => "invalid type: a list",
        _ => found,
    };
    format!("{found}, expected {expected}")
}
