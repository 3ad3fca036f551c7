//! `wasmstash new NAME`: a ready filter crate with a sample config, sample
//! input, its expected output and a README of exact next steps, so an author
//! goes from nothing to a passing golden test in three commands.

use std::path::{Path, PathBuf};

use clap::Args;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::config::MAX_CONFIG_BYTES;
use crate::golden::DROPPED;
use crate::input;

#[derive(Args, Debug)]
pub struct NewArgs {
    /// Crate name (letters, digits, `-`, `_`); also the directory created.
    pub name: String,
    /// Where the wasmstash SDK lives (default: the one this binary was built from).
    #[arg(long, value_name = "DIR")]
    pub sdk: Option<PathBuf>,
    /// Add the crate to the Cargo workspace in the current directory
    /// (its `members` list) instead of making it a workspace of its own.
    #[arg(long)]
    pub in_workspace: bool,
}

const SAMPLE_LINES: &[&str] = &["GET /index.html 200", "GET /health 200", "POST /login 500"];

/// Names cargo would refuse for a package, refused here before any file is
/// written: a keyword or a standard library crate's name cannot name the
/// crate's library, and cargo keeps some names for its own directories.
const RESERVED_NAMES: &[&str] = &[
    "abstract",
    "alloc",
    "as",
    "async",
    "await",
    "become",
    "box",
    "break",
    "const",
    "continue",
    "core",
    "crate",
    "do",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "final",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "macro",
    "match",
    "mod",
    "move",
    "mut",
    "override",
    "priv",
    "proc_macro",
    "proc-macro",
    "pub",
    "ref",
    "return",
    "self",
    "Self",
    "static",
    "std",
    "struct",
    "super",
    "test",
    "trait",
    "true",
    "try",
    "type",
    "typeof",
    "unsafe",
    "unsized",
    "use",
    "virtual",
    "where",
    "while",
    "yield",
    // Names of directories cargo makes under `target/`.
    "build",
    "deps",
    "examples",
    "incremental",
];

/// The SDK's package name: the new crate depends on it at the same version
/// (0.1.0), and cargo refuses two packages of one name and version in one
/// build, so the new crate cannot take it.
const SDK_PACKAGE: &str = "wasmstash-sdk";

fn check_crate_name(name: &str) -> Result<(), String> {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if name.is_empty() || !plain {
        return Err(format!(
            "`{}` is not a crate name: use letters, digits, `-` and `_`",
            crate::engine::printable(name)
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(format!(
            "`{name}` is not a crate name: it must start with a letter"
        ));
    }
    if name == SDK_PACKAGE {
        return Err(format!(
            "`{name}` cannot name this crate: the new crate depends on `{SDK_PACKAGE}`, \
             and cargo cannot build two packages of one name; choose another name"
        ));
    }
    if name == "target" {
        return Err(
            "`target` cannot name a crate's directory: it is cargo's build directory, which \
             `cargo clean` deletes with the crate in it; choose another name"
                .to_string(),
        );
    }
    if RESERVED_NAMES.contains(&name) {
        return Err(format!(
            "`{name}` is not a crate name: cargo keeps it (a Rust keyword, a standard library crate or one of its own directories)"
        ));
    }
    Ok(())
}

pub fn run(args: &NewArgs) -> Result<String, String> {
    let name = &args.name;
    check_crate_name(name)?;
    let dir = PathBuf::from(name);
    if dir.exists() {
        return Err(format!(
            "{} already exists; choose another name",
            dir.display()
        ));
    }
    let sdk = match &args.sdk {
        Some(path) => path.clone(),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../filters/sdk")),
    };
    let sdk = sdk.canonicalize().map_err(|_| {
        format!(
            "the wasmstash SDK is not at {}; pass --sdk PATH/TO/filters/sdk",
            sdk.display()
        )
    })?;
    check_sdk(&sdk, args.sdk.is_some())?;
    let workspace = Path::new("Cargo.toml");
    let member = if args.in_workspace {
        Some(workspace_with_member(workspace, name)?)
    } else {
        None
    };
    let mut note = String::new();
    let root = std::env::current_dir().map_err(|e| e.to_string())?;
    // The SDK as the new crate sees it from its directory.
    let relative_sdk = || path_dependency(&relative_path(&root.join(name), &sdk));
    let sdk_dependency = match &member {
        // The workspace says where its SDK is (as this repository's does):
        // a path of the crate's own would name a second one, which cargo
        // refuses as a collision.
        Some(member) if member.declares_sdk && args.sdk.is_none() => {
            "{ workspace = true }".to_owned()
        }
        // A workspace member is committed with the workspace: its path to
        // the SDK must hold in every clone, so it is relative.
        Some(_) => {
            if !sdk.starts_with(&root) {
                note = format!(
                    "note: the SDK at {} is outside this workspace, so the crate's relative \
                     path to it holds only where the SDK sits in the same place; to commit \
                     the crate, copy the SDK into the workspace and pass --sdk to that copy, \
                     or declare wasmstash-sdk in [workspace.dependencies]\n\n",
                    sdk.display()
                );
            }
            relative_sdk()
        }
        // A relative --sdk is a copy kept beside the crate (vendored), so
        // the path is relative too, and holds wherever the two are cloned.
        None if args.sdk.as_ref().is_some_and(|given| given.is_relative()) => relative_sdk(),
        None => path_dependency(&sdk),
    };
    let files = files(name, &sdk_dependency, args.in_workspace);
    for (path, content) in &files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("files live in directories"))
            .and_then(|()| std::fs::write(&path, content))
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    if let Some(member) = member {
        std::fs::write(workspace, member.manifest)
            .map_err(|e| format!("updating Cargo.toml: {e}"))?;
    }
    // Cargo refuses an empty one, so it is as good as unset.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from);
    Ok(note + &next_steps(name, args.in_workspace, target_dir.as_deref()))
}

/// The SDK as a dependency at `path`, in TOML.
fn path_dependency(path: &Path) -> String {
    let quoted = toml::Value::String(path.display().to_string());
    format!("{{ path = {quoted} }}")
}

/// Refuses a directory that is not the SDK before anything is written:
/// cargo would take any crate there as the dependency, and refuse it only
/// at the first build, naming neither `--sdk` nor the SDK.
fn check_sdk(dir: &Path, given: bool) -> Result<(), String> {
    let manifest = dir.join("Cargo.toml");
    let not_sdk = |why: String| {
        format!(
            "{}{} is not the wasmstash SDK: {why}; pass --sdk PATH/TO/filters/sdk, \
             the SDK's directory in the wasmstash repository",
            if given { "--sdk " } else { "" },
            dir.display()
        )
    };
    let text = crate::files::read_capped_text(&manifest, MAX_CONFIG_BYTES, "manifest").map_err(
        |e| match e.kind() {
            std::io::ErrorKind::NotFound => not_sdk("it has no Cargo.toml".into()),
            _ => format!("{}: {e}", manifest.display()),
        },
    )?;
    let parsed: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: {e}", manifest.display()))?;
    let package = (parsed.get("package"))
        .and_then(|package| package.get("name"))
        .and_then(|name| name.as_str());
    match package {
        Some(SDK_PACKAGE) => Ok(()),
        Some(other) => Err(not_sdk(format!(
            "its Cargo.toml names package `{other}`, not `{SDK_PACKAGE}`"
        ))),
        None => Err(not_sdk("its Cargo.toml names no package".into())),
    }
}

/// A workspace manifest with the new crate added to its members.
struct WorkspaceMember {
    manifest: String,
    /// Whether its `[workspace.dependencies]` declare the SDK.
    declares_sdk: bool,
}

/// The workspace manifest with `name` added to `members`. Edited as text,
/// at the place the TOML parser reports for the list, so the file's
/// comments and layout stay as they are.
fn workspace_with_member(manifest: &Path, name: &str) -> Result<WorkspaceMember, String> {
    let text = crate::files::read_capped_text(manifest, MAX_CONFIG_BYTES, "workspace manifest")
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("--in-workspace: no Cargo.toml here ({e}); run it from the workspace root")
            }
            _ => format!("--in-workspace: Cargo.toml: {e}"),
        })?;
    let document = DeTable::parse(&text).map_err(|e| format!("--in-workspace: Cargo.toml: {e}"))?;
    let workspace = entry(document.get_ref(), "workspace").and_then(|w| match w.get_ref() {
        DeValue::Table(table) => Some(table),
        _ => None,
    });
    let members = workspace.and_then(|table| entry(table, "members"));
    let declares_sdk = (workspace.and_then(|table| entry(table, "dependencies"))).is_some_and(
        |deps| matches!(deps.get_ref(), DeValue::Table(d) if entry(d, SDK_PACKAGE).is_some()),
    );
    let Some((DeValue::Array(list), span)) = members.map(|m| (m.get_ref(), m.span())) else {
        return Err("--in-workspace: Cargo.toml has no [workspace] members list; add one, or leave out --in-workspace".into());
    };
    if list.iter().any(|m| m.get_ref().as_str() == Some(name)) {
        return Err(format!(
            "--in-workspace: `{name}` is already a workspace member"
        ));
    }
    if text.as_bytes().get(span.start) != Some(&b'[') {
        return Err("--in-workspace: cannot find the members list in Cargo.toml".into());
    }
    let at = span.start + 1;
    Ok(WorkspaceMember {
        manifest: format!("{}\n    \"{name}\",{}", &text[..at], &text[at..]),
        declares_sdk,
    })
}

/// `to` as seen from the directory `from` (both absolute).
fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let ups = std::iter::repeat_n(std::path::Component::ParentDir, from.len() - common);
    ups.chain(to[common..].iter().copied()).collect()
}

/// The value of `key` in `table`.
fn entry<'t, 'i>(table: &'t DeTable<'i>, key: &str) -> Option<&'t Spanned<DeValue<'i>>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(_, v)| v)
}

fn files(name: &str, sdk_dependency: &str, in_workspace: bool) -> Vec<(&'static str, String)> {
    let module = name.replace('-', "_");
    let cargo = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
wasmstash-sdk = {sdk_dependency}
serde = {{ version = "1", features = ["derive"] }}

{standalone}"#,
        // A workspace member takes its profiles from the workspace.
        standalone = if in_workspace {
            ""
        } else {
            "\n[profile.release]\nlto = true\ncodegen-units = 1\n\n# Its own workspace, so it builds wherever it is created.\n[workspace]\n"
        }
    );
    let lib = r##"//! A wasmstash filter. Edit `process`; the SDK docs and ABI.md explain the rest.
use serde::Deserialize;
use wasmstash_sdk::field_ref::{self, FieldRef};
use wasmstash_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Events whose message contains this are dropped.
    drop_if_contains: String,
    /// Field to mark every kept event with.
    mark_field: String,
}

pub struct MyFilter {
    drop_if_contains: String,
    mark_field: FieldRef,
}

impl Filter for MyFilter {
    type Config = Config;

    /// Checks the config once, so that a mistake is named at load.
    fn new(config: Config) -> Result<Self, String> {
        if config.drop_if_contains.is_empty() {
            return Err("drop_if_contains is empty: it would drop every event".into());
        }
        field_ref::validate(&config.mark_field).map_err(|e| format!("mark_field: {e}"))?;
        Ok(MyFilter {
            drop_if_contains: config.drop_if_contains,
            // Split once here, not on every event.
            mark_field: FieldRef::new(&config.mark_field),
        })
    }

    fn process(&mut self, event: &mut Event) -> Verdict {
        if event.get_str("message").is_some_and(|m| m.contains(&self.drop_if_contains)) {
            return Verdict::Drop;
        }
        event.set(&self.mark_field, true);
        Verdict::Keep
    }
}

export_filter!(MyFilter);

/// The filter built natively, driven as the host drives its module:
/// `cargo test` runs these without WebAssembly.
#[cfg(test)]
mod tests {
    use super::MyFilter;
    use wasmstash_sdk::{NativeFilter, Outcome};

    #[test]
    fn marks_kept_events_and_drops_the_rest() {
        let config = br#"{"drop_if_contains": "/health", "mark_field": "[labels][checked]"}"#;
        let mut filter = NativeFilter::<MyFilter>::new(config).unwrap();
        let outcomes = filter.process_events(&[
            br#"{"message":"GET / 200"}"#,
            br#"{"message":"GET /health 200"}"#,
        ]);
        let kept = outcomes[0].clone().into_value();
        assert_eq!(kept["labels"]["checked"], true);
        assert_eq!(outcomes[1], Outcome::Dropped);
    }

    #[test]
    fn a_bad_config_is_named() {
        let bad = br#"{"drop_if_contains": "/health", "mark_field": "[labels][checked"}"#;
        let error = NativeFilter::<MyFilter>::new(bad).unwrap_err();
        assert!(error.contains("mark_field"), "{error}");
    }
}
"##;
    let config = r#"{"drop_if_contains": "/health", "mark_field": "[labels][checked]"}"#;
    let mut expected = String::new();
    for line in SAMPLE_LINES {
        if line.contains("/health") {
            expected.push_str(DROPPED);
        } else {
            let event =
                String::from_utf8(input::line_event(line.as_bytes()).into_text()).expect("UTF-8");
            expected.push_str(&format!(
                "{},\"labels\":{{\"checked\":true}}}}",
                &event[..event.len() - 1]
            ));
        }
        expected.push('\n');
    }
    let built_in = if in_workspace { "the workspace's " } else { "" };
    // Written for any shell the crate is built from, so it gives the rule
    // rather than this shell's CARGO_TARGET_DIR.
    let readme = format!(
        "# {name}\n\nA wasmstash filter. Its module is {built_in}`{WASM_DIR}/{module}.wasm`, \
         or `$CARGO_TARGET_DIR/{WASM_SUBDIR}/{module}.wasm` when `CARGO_TARGET_DIR` is set.\n\n{}",
        next_steps(name, in_workspace, None)
    );
    let mut files = vec![
        ("Cargo.toml", cargo),
        ("src/lib.rs", lib.to_owned()),
        ("config.json", format!("{config}\n")),
        ("tests/sample.log", SAMPLE_LINES.join("\n") + "\n"),
        ("tests/sample.expected.ndjson", expected),
        ("README.md", readme),
        (".gitignore", "/target\n".to_owned()),
    ];
    // A workspace member gets the workspace's build flags; a crate of its
    // own gets the ones wasmstash's filters are built with.
    if !in_workspace {
        files.push((".cargo/config.toml", WASM_BUILD_FLAGS.to_owned()));
    }
    files
}

/// wasmstash's own `.cargo/config.toml`: WebAssembly SIMD, which the SDK's
/// scanners use when it is on, and the inline threshold its filters are
/// built with.
const WASM_BUILD_FLAGS: &str = include_str!("../../.cargo/config.toml");

/// Where cargo puts a crate's WebAssembly build, under its target directory
/// (`WASM_SUBDIR`), and so under the default one, `target/` (`WASM_DIR`).
const WASM_SUBDIR: &str = "wasm32-unknown-unknown/release";
const WASM_DIR: &str = "target/wasm32-unknown-unknown/release";

/// The module's path from where `new` ran, as `wasmstash test --crate NAME`
/// builds it, into `target_dir` (CARGO_TARGET_DIR) when that is set.
fn module_path(name: &str, in_workspace: bool, target_dir: Option<&Path>) -> String {
    let file = format!("{}.wasm", name.replace('-', "_"));
    match target_dir {
        Some(dir) if dir.is_absolute() => format!("{}/{WASM_SUBDIR}/{file}", dir.display()),
        // Cargo takes a relative one from its working directory, which
        // `wasmstash test` makes the crate's.
        Some(dir) => format!("{name}/{}/{WASM_SUBDIR}/{file}", dir.display()),
        // The crate's own directory holds its target/; a workspace member
        // builds into the workspace root's.
        None if in_workspace => format!("{WASM_DIR}/{file}"),
        None => format!("{name}/{WASM_DIR}/{file}"),
    }
}

fn next_steps(name: &str, in_workspace: bool, target_dir: Option<&Path>) -> String {
    let module = module_path(name, in_workspace, target_dir);
    // A TOML comment, so that the block can still be pasted as it is.
    let where_built = if target_dir.is_some() {
        "# CARGO_TARGET_DIR is set, so cargo builds there, not in target/\n   "
    } else {
        ""
    };
    format!(
        "Next steps:\n\n\
         1. Build and test it (its cases are in {name}/tests/: sample.log, with the expected\n   \
         output in sample.expected.ndjson):\n\n   \
         wasmstash test --crate {name}\n\n   \
         (the filter's config is {name}/config.json; --config '{{...}}' tests another)\n\n\
         2. Add it to a pipeline config and check the config:\n\n   \
         [[pipelines.mine.filters]]\n   \
         {where_built}module = \"{module}\"\n   \
         config = {{ drop_if_contains = \"/health\", mark_field = \"[labels][checked]\" }}\n\n   \
         wasmstash check wasmstash.toml\n\n\
         3. Serve it to Logstash: wasmstash serve --config wasmstash.toml\n   \
         and call pipeline `mine` (see logstash/README.md in the wasmstash repository).\n"
    )
}
