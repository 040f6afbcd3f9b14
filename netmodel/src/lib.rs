//! Container network datapath models.
//!
//! This crate owns the datapath-name contract shared by the simulator, live mode, scenarios and
//! reports (`host`, `bridge`, `overlay`, `flannel-udp`, `flannel-vxlan`, `flannel-host-gw`,
//! `calico-bgp`, `calico-ipip`, `calico-vxlan`, with `+wireguard` or `+ipsec` for encryption),
//! and what each datapath does to a packet's size: the header bytes it adds and the MTU a
//! container sees. Per-stage CPU costs and the packet- and flow-level engines build on this.

mod datapath;

pub use datapath::{Base, Datapath, DatapathError, Encryption};
