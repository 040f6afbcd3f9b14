//! Datapath names, encapsulation overheads and pod MTUs.
//!
//! Every number here is a protocol header size or an upstream default, cited beside it; the
//! reference table is ../shared/reference/network-measurements.md §1.

use std::fmt;
use std::str::FromStr;

/// The unencrypted datapath.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Base {
    Host,
    Bridge,
    Overlay,
    FlannelUdp,
    FlannelVxlan,
    FlannelHostGw,
    CalicoBgp,
    CalicoIpip,
    CalicoVxlan,
}

/// Optional encryption on top of a base datapath.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Encryption {
    WireGuard,
    Ipsec,
}

/// A datapath as named in scenarios: a base and an optional encryption.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Datapath {
    pub base: Base,
    pub encryption: Option<Encryption>,
}

/// A datapath name that is not part of the contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatapathError {
    UnknownBase(String),
    UnknownEncryption(String),
    /// The base exists but upstream offers no such encryption on it.
    Unsupported(Datapath),
}

impl fmt::Display for DatapathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatapathError::UnknownBase(b) => write!(
                f,
                "unknown datapath `{b}`; valid datapaths: {}",
                Base::ALL.map(|b| b.name()).join(", ")
            ),
            DatapathError::UnknownEncryption(e) => write!(
                f,
                "unknown encryption `{e}`; valid suffixes: +wireguard, +ipsec"
            ),
            DatapathError::Unsupported(d) => write!(
                f,
                "datapath `{d}` does not exist upstream; encrypted datapaths: {}",
                Datapath::all()
                    .filter(|d| d.encryption.is_some())
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

impl std::error::Error for DatapathError {}

impl Base {
    pub const ALL: [Base; 9] = [
        Base::Host,
        Base::Bridge,
        Base::Overlay,
        Base::FlannelUdp,
        Base::FlannelVxlan,
        Base::FlannelHostGw,
        Base::CalicoBgp,
        Base::CalicoIpip,
        Base::CalicoVxlan,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Base::Host => "host",
            Base::Bridge => "bridge",
            Base::Overlay => "overlay",
            Base::FlannelUdp => "flannel-udp",
            Base::FlannelVxlan => "flannel-vxlan",
            Base::FlannelHostGw => "flannel-host-gw",
            Base::CalicoBgp => "calico-bgp",
            Base::CalicoIpip => "calico-ipip",
            Base::CalicoVxlan => "calico-vxlan",
        }
    }

    /// Encapsulation bytes added to every packet on an IPv4 underlay.
    pub fn encap_overhead_bytes(self) -> u32 {
        match self {
            // No encapsulation: veth, bridge and plain routing add no header.
            Base::Host | Base::Bridge | Base::FlannelHostGw | Base::CalicoBgp => 0,
            // IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 (flannel vxlan_network.go
            // encapOverhead=50; moby overlay.go vxlanEncap=50; Calico MTU doc).
            Base::Overlay | Base::FlannelVxlan | Base::CalicoVxlan => 50,
            // IPv4 20 + UDP 8, no inner Ethernet (flannel udp_network_amd64.go).
            Base::FlannelUdp => 28,
            // One IPv4 header (Calico MTU doc; flannel ipip.go MTU-20).
            Base::CalicoIpip => 20,
        }
    }
}

impl Encryption {
    pub fn suffix(self) -> &'static str {
        match self {
            Encryption::WireGuard => "wireguard",
            Encryption::Ipsec => "ipsec",
        }
    }
}

impl Datapath {
    pub const fn plain(base: Base) -> Self {
        Datapath {
            base,
            encryption: None,
        }
    }

    /// Every datapath that exists upstream, plain ones first.
    pub fn all() -> impl Iterator<Item = Datapath> {
        let plain = Base::ALL.into_iter().map(Datapath::plain);
        let encrypted = Base::ALL.into_iter().flat_map(|base| {
            [Encryption::WireGuard, Encryption::Ipsec]
                .into_iter()
                .map(move |e| Datapath {
                    base,
                    encryption: Some(e),
                })
        });
        plain.chain(encrypted.filter(|d| d.is_supported()))
    }

    /// Whether upstream ships this combination: Docker's encrypted overlay is IPsec; flannel has
    /// WireGuard and IPsec backends; Calico encrypts with WireGuard (its IPsec support was
    /// removed in v3.0). Host and bridge networking have no encryption of their own.
    ///
    /// flannel's `wireguard` and `ipsec` backends replace the tunnel rather than wrap it, so they
    /// are named on the kernel backends they stand in for (`flannel-vxlan+wireguard`,
    /// `flannel-host-gw+ipsec`, which model the same thing); `flannel-udp+…` is refused because
    /// no flannel backend encrypts the userspace UDP tunnel, and naming the faster kernel
    /// backend after the debug-only udp one would make "encryption" look like a speed-up.
    pub fn is_supported(&self) -> bool {
        use Base::*;
        matches!(
            (self.base, self.encryption),
            (_, None)
                | (Overlay, Some(Encryption::Ipsec))
                | (FlannelVxlan | FlannelHostGw, Some(_))
                | (
                    CalicoBgp | CalicoIpip | CalicoVxlan,
                    Some(Encryption::WireGuard)
                )
        )
    }

    /// Bytes the datapath adds to every packet on an IPv4 underlay.
    pub fn overhead_bytes(&self) -> u32 {
        match (self.base, self.encryption) {
            (base, None) => base.encap_overhead_bytes(),
            // ESP inside the VXLAN tunnel: moby encryption.go pktExpansion=26 on top of 50.
            (Base::Overlay, Some(Encryption::Ipsec)) => 50 + 26,
            // flannel's wireguard backend and Calico's WireGuard replace the tunnel:
            // outer IPv4 20 + UDP 8 + WireGuard header and tag 32 (Calico MTU doc: 1440).
            (
                Base::FlannelUdp | Base::FlannelVxlan | Base::FlannelHostGw,
                Some(Encryption::WireGuard),
            ) => 80,
            (_, Some(Encryption::WireGuard)) => 60,
            // flannel ipsec_network.go budgets 77 bytes for ESP tunnel mode.
            (_, Some(Encryption::Ipsec)) => 77,
        }
    }

    /// The MTU a container sees on an underlay of `underlay_mtu` bytes.
    pub fn pod_mtu(&self, underlay_mtu: u32) -> u32 {
        let mtu = underlay_mtu.saturating_sub(self.overhead_bytes());
        if (self.base, self.encryption) == (Base::Overlay, Some(Encryption::Ipsec)) {
            // moby overlay maxMTU(): with encryption, rounded down to a multiple of 4.
            mtu & !3
        } else {
            mtu
        }
    }
}

impl fmt::Display for Datapath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.base.name())?;
        if let Some(e) = self.encryption {
            write!(f, "+{}", e.suffix())?;
        }
        Ok(())
    }
}

impl FromStr for Datapath {
    type Err = DatapathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (base, enc) = match s.split_once('+') {
            Some((b, e)) => (b, Some(e)),
            None => (s, None),
        };
        let base = Base::ALL
            .into_iter()
            .find(|b| b.name() == base)
            .ok_or_else(|| DatapathError::UnknownBase(base.to_string()))?;
        let encryption = match enc {
            None => None,
            Some("wireguard") => Some(Encryption::WireGuard),
            Some("ipsec") => Some(Encryption::Ipsec),
            Some(other) => return Err(DatapathError::UnknownEncryption(other.to_string())),
        };
        let d = Datapath { base, encryption };
        if d.is_supported() {
            Ok(d)
        } else {
            Err(DatapathError::Unsupported(d))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mtu(name: &str) -> u32 {
        name.parse::<Datapath>().unwrap().pod_mtu(1500)
    }

    /// Expected values: ../shared/reference/network-measurements.md §1, "Pod MTU on 1500 underlay".
    #[test]
    fn pod_mtus_match_the_upstream_defaults() {
        for (name, want) in [
            ("host", 1500),
            ("bridge", 1500),
            ("flannel-host-gw", 1500),
            ("calico-bgp", 1500),
            ("overlay", 1450),
            ("flannel-vxlan", 1450),
            ("calico-vxlan", 1450),
            ("overlay+ipsec", 1424),
            ("calico-ipip", 1480),
            ("flannel-udp", 1472),
            ("calico-bgp+wireguard", 1440),
            ("calico-vxlan+wireguard", 1440),
            ("flannel-vxlan+wireguard", 1420),
            ("flannel-vxlan+ipsec", 1423),
        ] {
            assert_eq!(mtu(name), want, "{name}");
        }
        // Calico doc, 9000 underlay: 8980 IPIP, 8950 VXLAN, 8940 WireGuard.
        let on9000 = |n: &str| n.parse::<Datapath>().unwrap().pod_mtu(9000);
        assert_eq!(on9000("calico-ipip"), 8980);
        assert_eq!(on9000("calico-vxlan"), 8950);
        assert_eq!(on9000("calico-bgp+wireguard"), 8940);
    }

    #[test]
    fn names_round_trip() {
        for d in Datapath::all() {
            assert_eq!(d.to_string().parse::<Datapath>(), Ok(d));
        }
        assert_eq!(Datapath::all().count(), 9 + 1 + 4 + 3);
    }

    #[test]
    fn bad_names_are_explained() {
        let e = "calico".parse::<Datapath>().unwrap_err().to_string();
        assert!(
            e.starts_with("unknown datapath `calico`; valid datapaths: host, bridge"),
            "{e}"
        );
        let e = "host+tls".parse::<Datapath>().unwrap_err().to_string();
        assert!(e.contains("unknown encryption `tls`"), "{e}");
        let e = "calico-bgp+ipsec"
            .parse::<Datapath>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not exist upstream"), "{e}");
        assert!(e.contains("overlay+ipsec"), "{e}");
        assert!("flannel-udp+wireguard".parse::<Datapath>().is_err());
    }
}
