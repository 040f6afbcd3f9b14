//! The kernel's own tools and interfaces, called the way an operator would: `ip`, `nft`,
//! `sysctl` and `ethtool` as commands (what they print on failure is what the user sees), and
//! `setns(2)` to open sockets and devices inside a namespace.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::Command;

use crate::LiveError;

/// `program` as a command in a process group of its own: Ctrl-C at the terminal reaches
/// orchsim, which stops and tears down, and not the `ip` it is running half-way through.
fn tool(program: &str) -> Command {
    use std::os::unix::process::CommandExt;
    let mut c = Command::new(program);
    c.process_group(0);
    c
}

/// Runs `program args…` and returns its standard output, or the command and what it printed.
pub fn run(program: &str, args: &[&str]) -> Result<String, LiveError> {
    let out = tool(program)
        .args(args)
        .output()
        .map_err(|e| LiveError::Tool {
            command: format!("{program} {}", args.join(" ")),
            message: if e.kind() == std::io::ErrorKind::NotFound {
                format!("`{program}` is not installed ({e}); live mode needs iproute2 and nftables")
            } else {
                e.to_string()
            },
        })?;
    if !out.status.success() {
        return Err(LiveError::Tool {
            command: format!("{program} {}", args.join(" ")),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `ip -n NS args…`.
pub fn ip(ns: &str, args: &[&str]) -> Result<String, LiveError> {
    let mut all = vec!["-n", ns];
    all.extend_from_slice(args);
    run("ip", &all)
}

/// Runs `program args…` with `input` on its standard input; `command` names it in errors.
/// Returns what it printed on standard error when it fails.
fn run_with_stdin(
    program: &str,
    args: &[&str],
    input: &str,
    command: &str,
) -> Result<Result<(), String>, LiveError> {
    use std::io::Write;
    use std::process::Stdio;
    let failed = |e: std::io::Error| LiveError::Tool {
        command: command.to_string(),
        message: e.to_string(),
    };
    let mut child = tool(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(failed)?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes())
        .map_err(failed)?;
    let out = child.wait_with_output().map_err(failed)?;
    Ok(if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    })
}

/// Runs `ip` once per line of `batch` inside `ns` (`ip -n NS -batch -`), failing on the first
/// line the kernel refuses.
pub fn ip_batch(ns: &str, batch: &str) -> Result<(), LiveError> {
    let command = format!("ip -n {ns} -batch -");
    run_with_stdin("ip", &["-n", ns, "-batch", "-"], batch, &command)?.map_err(|message| {
        LiveError::Tool {
            command: format!("{command} <<{}", batch.trim_end().replace('\n', "; ")),
            message,
        }
    })
}

/// Sets sysctls inside `ns`, e.g. `net.ipv4.ip_forward=1`.
pub fn sysctl(ns: &str, settings: &[&str]) -> Result<(), LiveError> {
    let mut args = vec!["netns", "exec", ns, "sysctl", "-q", "-w"];
    args.extend_from_slice(settings);
    run("ip", &args).map(|_| ())
}

/// Loads an nftables ruleset into `ns` (`nft -f -`).
pub fn nft(ns: &str, ruleset: &str) -> Result<(), LiveError> {
    let command = format!("ip netns exec {ns} nft -f -");
    let args = ["netns", "exec", ns, "nft", "-f", "-"];
    run_with_stdin("ip", &args, ruleset, &command)?.map_err(|stderr| LiveError::Tool {
        message: if stderr.contains("No such file") || stderr.contains("not found") {
            format!("{stderr} (is nftables installed? apt-get install nftables)")
        } else {
            stderr
        },
        command,
    })
}

/// Runs `f` on a new thread that has joined network namespace `ns` (`/run/netns/NS`) and
/// returns what it returns. Sockets, TUN devices and listeners created by `f` stay in that
/// namespace whichever thread later uses them, so the rest of live mode never changes
/// namespace itself.
pub fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, LiveError> {
    let path = format!("/run/netns/{ns}");
    let file = File::open(&path).map_err(|e| LiveError::Namespace {
        name: ns.to_string(),
        message: format!("cannot open {path}: {e}"),
    })?;
    let ns_name = ns.to_string();
    std::thread::spawn(move || {
        // SAFETY: setns on a valid namespace fd changes only this thread's network namespace;
        // the thread ends when `f` returns, so no other code runs in the namespace by accident.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return Err(LiveError::Namespace {
                name: ns_name,
                message: format!("setns: {}", std::io::Error::last_os_error()),
            });
        }
        f().map_err(|e| LiveError::Namespace {
            name: ns_name,
            message: e.to_string(),
        })
    })
    .join()
    .unwrap_or_else(|_| {
        Err(LiveError::Namespace {
            name: ns.to_string(),
            message: "the thread working in the namespace panicked".into(),
        })
    })
}

/// Whether this kernel can create a link of `kind` (`vxlan`, `ipip`, `wireguard`, …): tried in
/// a scratch namespace, which is removed again. `Err` carries the kernel's answer.
pub fn probe_link(scratch_ns: &str, kind: &str) -> Result<(), String> {
    let args: Vec<&str> = match kind {
        "vxlan" => vec![
            "link", "add", "probe0", "type", "vxlan", "id", "1", "dstport", "4789",
        ],
        "tun" => vec!["tuntap", "add", "mode", "tun", "name", "probe0"],
        other => vec!["link", "add", "probe0", "type", other],
    };
    match ip(scratch_ns, &args) {
        Ok(_) => {
            let _ = ip(scratch_ns, &["link", "del", "probe0"]);
            Ok(())
        }
        Err(e) => Err(match e {
            LiveError::Tool { message, .. } => message,
            other => other.to_string(),
        }),
    }
}

/// Whether this kernel has the queueing discipline `qdisc args…` (`netem delay 1us`, `tbf …`):
/// tried on the loopback of `scratch_ns`. `Err` carries the kernel's answer.
pub fn probe_qdisc(scratch_ns: &str, qdisc_args: &[&str]) -> Result<(), String> {
    let mut args = vec!["-n", scratch_ns, "qdisc", "add", "dev", "lo", "root"];
    args.extend_from_slice(qdisc_args);
    match run("tc", &args) {
        Ok(_) => {
            let _ = run(
                "tc",
                &["-n", scratch_ns, "qdisc", "del", "dev", "lo", "root"],
            );
            Ok(())
        }
        Err(e) => Err(match e {
            LiveError::Tool { message, .. } => message,
            other => other.to_string(),
        }),
    }
}

/// Whether we may create network namespaces at all: root (or CAP_SYS_ADMIN + CAP_NET_ADMIN) and
/// `ip` installed. The error says which is missing.
pub fn check_privileges() -> Result<(), LiveError> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Err(LiveError::NotPermitted(format!(
            "live mode creates network namespaces and devices and must run as root (effective uid is {euid})"
        )));
    }
    run("ip", &["-V"]).map(|_| ())
}

/// This machine as a calibration records it: kernel release and CPU model.
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// The CPU's model name from /proc/cpuinfo.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Online CPUs.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
