//! The namespaces of one live run and their removal.
//!
//! Every namespace is named `orchsim-<pid>-<run>-<name>`: the process id says whether its
//! creator is still alive, so a later start (or `orchsim live clean`) removes what a crashed
//! run left behind without touching a run still going. Devices, addresses, routes and
//! nftables rules all live inside these namespaces and go with them; nothing is created in
//! the machine's own namespace.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crate::sys;
use crate::LiveError;

/// The prefix every live-mode namespace carries.
pub const PREFIX: &str = "orchsim-";

static NEXT_RUN: AtomicU32 = AtomicU32::new(0);
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Makes Ctrl-C (SIGINT) and SIGTERM stop the current test at its next check, so the lab is
/// torn down by the normal path. The handler resets itself (`SA_RESETHAND`): a second signal
/// ends the process at once, and whatever that leaves behind the next start removes.
pub fn install_interrupt_handler() {
    let handler: extern "C" fn(libc::c_int) = on_interrupt;
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is valid; the handler only stores to an atomic, which
        // is async-signal-safe.
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = handler as libc::sighandler_t;
            act.sa_flags = libc::SA_RESETHAND;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut());
        }
    }
}

/// Whether Ctrl-C was pressed since the handler was installed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The namespaces of one run; dropping it removes them (devices, routes and rules with them).
#[derive(Debug)]
pub struct Lab {
    tag: String,
    namespaces: Vec<String>,
}

impl Lab {
    /// A new, empty run, after removing what runs that are gone left behind. Fails when
    /// namespaces cannot be created here (not root, no `ip`).
    pub fn new() -> Result<Lab, LiveError> {
        sys::check_privileges()?;
        clean(false)?;
        let run = NEXT_RUN.fetch_add(1, Ordering::SeqCst);
        Ok(Lab {
            tag: format!("{PREFIX}{}-{run}", std::process::id()),
            namespaces: Vec::new(),
        })
    }

    /// The full name of this run's namespace `name`.
    pub fn ns(&self, name: &str) -> String {
        format!("{}-{name}", self.tag)
    }

    /// Creates namespace `name` with its loopback up and returns its full name.
    pub fn add_ns(&mut self, name: &str) -> Result<String, LiveError> {
        let full = self.ns(name);
        sys::run("ip", &["netns", "add", &full])?;
        self.namespaces.push(full.clone());
        sys::ip(&full, &["link", "set", "lo", "up"])?;
        Ok(full)
    }

    /// The namespaces created so far, oldest first.
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    /// Removes every namespace of this run, newest first; the first failure is returned after
    /// all were tried.
    pub fn teardown(&mut self) -> Result<(), LiveError> {
        let mut first = None;
        while let Some(ns) = self.namespaces.pop() {
            if let Err(e) = sys::run("ip", &["netns", "del", &ns]) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.teardown();
    }
}

/// Live-mode namespaces that exist now (`ip netns list`, names only).
pub fn existing() -> Result<Vec<String>, LiveError> {
    let out = sys::run("ip", &["netns", "list"])?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(PREFIX))
        .map(str::to_string)
        .collect())
}

/// The process that created a live-mode namespace, from its name
/// `orchsim-<pid>-<run>-<name>`; `None` for any other name, which is not ours to remove.
fn creator(ns: &str) -> Option<u32> {
    let mut parts = ns.strip_prefix(PREFIX)?.splitn(3, '-');
    let pid = parts.next()?.parse().ok()?;
    parts.next()?.parse::<u32>().ok()?;
    parts.next().filter(|n| !n.is_empty())?;
    Some(pid)
}

/// Removes live-mode namespaces whose creating process is gone (`all`: every one, running or
/// not) and returns their names.
pub fn clean(all: bool) -> Result<Vec<String>, LiveError> {
    sys::check_privileges()?;
    let me = std::process::id();
    let mut removed = Vec::new();
    for ns in existing()? {
        let Some(pid) = creator(&ns) else { continue };
        let alive = pid == me || std::path::Path::new(&format!("/proc/{pid}")).exists();
        // Another run may remove the same namespace at the same moment: a failed delete of
        // a namespace that is gone is no failure.
        if (all || !alive) && sys::run("ip", &["netns", "del", &ns]).is_ok() {
            removed.push(ns);
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_creator_is_read_from_the_name() {
        assert_eq!(creator("orchsim-4242-0-h0"), Some(4242));
        assert_eq!(creator("orchsim-4242-0-h0p1"), Some(4242));
        assert_eq!(creator("orchsim-x-0-h0"), None);
        assert_eq!(creator("other-4242-0-h0"), None);
        // Someone else's namespace that happens to share the prefix is left alone.
        assert_eq!(creator("orchsim-dev"), None);
        assert_eq!(creator("orchsim-4242-dev"), None);
        assert_eq!(creator("orchsim-4242-0"), None);
    }
}
