//! orchsim's live mode: the datapaths `netmodel/` models, built for real with the kernel's own
//! devices inside network namespaces on this machine, measured with our own traffic tools, and
//! set against the model's prediction — and a netmodel profile fitted to the measurements.
//!
//! - [`lab`]: the namespaces of one run (hosts, pods, the underlay), tagged with the run's
//!   process id and removed on drop, on Ctrl-C and by the next start ([`lab::clean`]).
//! - [`datapath`]: each datapath as the real CNI plugin programs it (bridges, veth, VXLAN with
//!   static FDB entries, routes, proxy ARP, NAT), named as in `netmodel/`.
//! - [`policy`]: NetworkPolicy as nftables chains on the Calico datapaths, as Felix programs it.
//! - [`flannel_udp`]: flannel's `udp` backend, which is a userspace daemon: ours.
//! - [`traffic`]: TCP stream, TCP request/response and UDP tests between pods.
//! - [`cpu`]: CPU time read from the kernel (/proc/stat) while a test runs.
//! - [`bench`]: `live net` — build, measure, tear down, compare with the model.
//! - [`calibrate`]: fit a profile's constants to the measurements and write it.
//! - [`agent`] and [`protocol`]: the node agent (`orchsim agent`) that starts and stops
//!   workload processes under cgroup limits for a controller holding the shared token.
//! - [`controller`] and [`local`]: `live run` — a scenario's pods placed by the simulator's
//!   own scheduler on the nodes agents report, run as real processes, faults and all.
//!
//! Addresses come from 198.18.0.0/15 (RFC 2544's benchmarking range) and never leave the
//! namespaces this crate creates.

pub mod agent;
pub mod bench;
pub mod calibrate;
pub mod controller;
pub mod cpu;
pub mod datapath;
pub mod flannel_udp;
pub mod lab;
pub mod local;
pub mod policy;
pub mod protocol;
pub mod sys;
pub mod traffic;

use std::fmt;

/// What can go wrong in live mode.
#[derive(Debug)]
pub enum LiveError {
    /// Not root, or namespaces are not permitted here.
    NotPermitted(String),
    /// A kernel tool (`ip`, `nft`, `sysctl`) refused: the command line and what it printed.
    Tool { command: String, message: String },
    /// A namespace could not be entered or used.
    Namespace { name: String, message: String },
    /// A traffic test failed (connection refused, timed out, nothing received).
    Traffic { test: String, message: String },
    /// Bad options.
    Input(String),
    /// The run was interrupted (Ctrl-C); everything created was removed.
    Interrupted,
}

impl fmt::Display for LiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LiveError::NotPermitted(m) => write!(f, "live mode: {m}"),
            LiveError::Tool { command, message } => write!(f, "`{command}` failed: {message}"),
            LiveError::Namespace { name, message } => {
                write!(f, "network namespace `{name}`: {message}")
            }
            LiveError::Traffic { test, message } => write!(f, "{test} test: {message}"),
            LiveError::Input(m) => write!(f, "{m}"),
            LiveError::Interrupted => {
                write!(f, "interrupted; everything live mode created was removed")
            }
        }
    }
}

impl std::error::Error for LiveError {}
