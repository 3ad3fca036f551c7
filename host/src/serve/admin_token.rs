//! The admin token: where it comes from (`WASMSTASH_ADMIN_TOKEN`, else
//! `server.admin_token_file`) and what is refused, at start and by `check`
//! alike: a token that is short, a known placeholder, or one no
//! `Authorization` header can carry.

use std::path::Path;

use crate::config::{ConfigError, ServerSettings};

/// Largest admin token file read; a token is a line of text.
const MAX_TOKEN_FILE_BYTES: u64 = 4096;

/// Why a token of other characters is refused.
const ONE_LINE_OF_ASCII: &str = "it is sent in an Authorization header, so it must be one line \
                                 of printable ASCII with no spaces";

/// Fewer characters than this is a token someone could guess.
const MIN_TOKEN_CHARS: usize = 16;

/// The admin token from `WASMSTASH_ADMIN_TOKEN`, or else from
/// `server.admin_token_file`; `None` turns the admin endpoints off. A short
/// token is refused wherever it comes from.
pub(super) fn admin_token(
    server: &ServerSettings,
    config: &Path,
) -> Result<Option<String>, ConfigError> {
    // Not `env::var(..).ok()`: that reads a token that is not UTF-8 as no
    // token, and the file, or no token at all, would be used instead.
    let from_env = match std::env::var_os("WASMSTASH_ADMIN_TOKEN") {
        None => None,
        Some(value) => match value.into_string() {
            Ok(token) => Some(token).filter(|t| !t.trim().is_empty()),
            Err(raw) => {
                let bytes = raw.as_encoded_bytes();
                let bad = bytes.iter().find(|b| !b.is_ascii_graphic()).unwrap_or(&0);
                return Err(ConfigError(format!(
                    "WASMSTASH_ADMIN_TOKEN: the token holds the byte 0x{bad:02x}, which is not \
                     UTF-8; {ONE_LINE_OF_ASCII}"
                )));
            }
        },
    };
    let (token, source) = match (from_env, &server.admin_token_file) {
        (Some(token), _) => (token, "WASMSTASH_ADMIN_TOKEN".to_owned()),
        (None, None) => return Ok(None),
        (None, Some(file)) => {
            let source = format!(
                "{}: [server] admin_token_file {}",
                crate::files::shown(config),
                crate::files::shown(file)
            );
            let token = crate::files::read_capped_text(file, MAX_TOKEN_FILE_BYTES, "token file")
                .map_err(|e| ConfigError(format!("{source}: {e}")))?;
            check_token_file(file, &source)?;
            (token, source)
        }
    };
    let token = token.trim();
    // It travels in an `Authorization` header, which cannot carry a line
    // break and does not reliably carry other bytes: a token file of two
    // lines was taken, and no request could ever match it.
    if let Some(bad) = token.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(ConfigError(format!(
            "{source}: the token holds {bad:?}; {ONE_LINE_OF_ASCII}"
        )));
    }
    if token.chars().count() < MIN_TOKEN_CHARS {
        return Err(ConfigError(format!(
            "{source}: the token must be at least {MIN_TOKEN_CHARS} characters"
        )));
    }
    if is_placeholder(token) {
        return Err(ConfigError(format!(
            "{source}: the token is a placeholder, not a secret; make one, e.g. \
             `head -c 24 /dev/urandom | base64`"
        )));
    }
    Ok(Some(token.to_owned()))
}

/// Refuses a token file another user could change: they would choose the
/// token that opens the admin endpoints and the live view. One they could
/// only read is said, not refused: a container's secret is often mounted
/// 0644 in a directory no other user enters.
fn check_token_file(file: &Path, source: &str) -> Result<(), ConfigError> {
    let changeable =
        crate::files::others_may_change(file).map_err(|e| ConfigError(format!("{source}: {e}")))?;
    if let Some(why) = changeable {
        return Err(ConfigError(format!(
            "{source}: another user can change this file ({why}), and so choose the token that \
             opens the admin endpoints and the live view; it must be writable by this user alone \
             (chown it, chmod go-w, or move it)"
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let mode = std::fs::metadata(file).map_or(0, |meta| meta.mode());
        if mode & 0o044 != 0 {
            tracing::warn!(
                "{source}: other users can read the token (mode {:o}): anyone on this machine who \
                 reads it can reload the pipelines and watch events in /ui; chmod 600 it",
                mode & 0o7777
            );
        }
    }
    Ok(())
}

/// A token copied from an example (`change-me-...`, as in `.env.example`)
/// or one character repeated: long enough, and known to anyone.
fn is_placeholder(token: &str) -> bool {
    let folded = token.to_ascii_lowercase().replace(['-', '_'], "");
    let mut chars = token.chars();
    let first = chars.next();
    folded.contains("changeme") || chars.all(|c| Some(c) == first)
}
