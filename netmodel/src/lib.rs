//! Container network datapath models.
//!
//! This crate owns the datapath-name contract shared by the simulator, live mode, scenarios and
//! reports (`host`, `bridge`, `overlay`, `flannel-udp`, `flannel-vxlan`, `flannel-host-gw`,
//! `calico-bgp`, `calico-ipip`, `calico-vxlan`, with `+wireguard` or `+ipsec` for encryption),
//! and turns each datapath into numbers: a pipeline of costed stages ([`pipeline`]) whose
//! constants come from a TOML profile ([`profile`]), a packet-level discrete-event engine
//! ([`packet`]) with its congestion control ([`congestion`]) and queue disciplines ([`qdisc`]),
//! a flow-level max-min engine for cluster scale ([`flow`]), what each datapath can carry
//! ([`capability`]), Kubernetes NetworkPolicy semantics ([`policy`]), Service load balancing
//! ([`service_proxy`]) and the `net compare` result ([`compare`]).

pub mod capability;
pub mod compare;
pub mod congestion;
mod datapath;
pub mod flow;
pub mod packet;
pub mod pipeline;
pub mod policy;
pub mod profile;
pub mod qdisc;
pub mod service;
pub mod service_proxy;

pub use datapath::{Base, Datapath, DatapathError, Encryption};
pub use pipeline::{Options, Pipeline, Role, Stage, Steady};
pub use profile::{Platform, Profile, ProfileError};
