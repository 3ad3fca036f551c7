//! The process's open-file limit, against `server.max_connections`.
//!
//! Every connection holds a file descriptor. Under the soft limit most
//! shells and service managers give (`ulimit -n` 1024), the default cap of
//! 1024 connections could never be reached: `accept` would fail first, and
//! new clients would wait unanswered until others left, where past the cap
//! they are answered 503 at once. So at start the soft limit is raised as
//! far as the cap needs, up to the hard limit, and if that is still short
//! the cap is lowered to fit, with a warning that says how to get it back.

/// Descriptors kept for everything else: the connections being turned away
/// past the cap (`listener::TURNED_AWAY_AT_ONCE`), the listener, state and
/// cache files, the compiler processes' pipes, the runtime's own.
const RESERVED: u64 = 256;

/// The connections that can be open at once, at most `max_connections`.
pub fn connections_that_fit(max_connections: usize) -> usize {
    let needed = max_connections as u64 + RESERVED;
    let Some(limit) = raised_toward(needed) else {
        return max_connections;
    };
    if limit >= needed {
        return max_connections;
    }
    let fits = limit.saturating_sub(RESERVED).max(1) as usize;
    tracing::warn!(
        "server.max_connections = {max_connections} needs about {needed} open files, but this \
         process may open {limit} (`ulimit -n`; it could not be raised further): serving at \
         most {fits} connections at once; raise the limit (LimitNOFILE= under systemd, \
         --ulimit nofile= under docker) or lower max_connections"
    );
    fits
}

/// The soft limit, after raising it as far toward `needed` as the system
/// takes (never lowering it); `None` if it cannot be read.
fn raised_toward(needed: u64) -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    // No limit is RLIM_INFINITY, the largest value, so this holds for it too.
    if limit.rlim_cur >= needed {
        return Some(limit.rlim_cur);
    }
    // The hard limit is the ceiling, but some systems refuse less (macOS
    // past OPEN_MAX with an unlimited hard limit): halve the raise until one
    // is taken.
    let mut target = needed.min(limit.rlim_max);
    while target > limit.rlim_cur {
        let raised = libc::rlimit {
            rlim_cur: target,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: as above; setrlimit only reads the struct.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return Some(target);
        }
        target = limit.rlim_cur + (target - limit.rlim_cur) / 2;
    }
    Some(limit.rlim_cur)
}
