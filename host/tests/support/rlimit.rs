//! Process limits set on a child, as `ulimit`, `prlimit` or a service
//! manager sets them: for the tests that run the binary under one.
// Each test binary uses part of it.
#![allow(dead_code)]

/// Starts `command` under a limit of `value` (soft and hard) on `resource`,
/// one of `libc::RLIMIT_*`.
pub fn limit(command: &mut std::process::Command, resource: libc::__rlimit_resource_t, value: u64) {
    // SAFETY: setrlimit is async-signal-safe and touches only its
    // argument; nothing else runs between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(command, move || {
            let bound = libc::rlimit {
                rlim_cur: value as libc::rlim_t,
                rlim_max: value as libc::rlim_t,
            };
            match libc::setrlimit(resource, &bound) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
}
