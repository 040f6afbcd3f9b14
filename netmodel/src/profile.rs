//! Cost profiles: every constant of the datapath models, with its unit and source, read from TOML.
//!
//! The default profile (`profiles/default.toml`) is compiled in; any other is loaded by path with
//! the same schema. A profile that names an unknown constant, leaves one out, gives one the wrong
//! unit or a value out of range is refused with the file, line and column of the offending key.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use toml::Spanned;

/// The compiled-in default profile.
pub const DEFAULT_PROFILE: &str = include_str!("../profiles/default.toml");

/// A profile that could not be used, located in its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The field by its path, e.g. `params.g_tx.unit`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.column, self.field, self.message
        )
    }
}

impl std::error::Error for ProfileError {}

/// How a constant was obtained (see the header of `profiles/default.toml`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Derived,
    Fit,
    Prior,
    Measured,
}

/// One constant as written in the profile.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Param {
    pub value: f64,
    pub unit: String,
    pub kind: Kind,
    pub source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
    value: Spanned<f64>,
    unit: Spanned<String>,
    kind: Kind,
    source: String,
}

/// How the sending application hands data to TCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TxMode {
    /// `write`/`send`: the payload is copied from user memory (netperf, iperf3 without `-Z`).
    Copy,
    /// `sendfile`: page references, no copy (iperf3 `-Z`).
    Sendfile,
}

/// What joins the hosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Underlay {
    /// Physical NICs and a wire.
    Nic,
    /// Network namespaces on one machine joined by veth and a bridge: no serialisation, and the
    /// whole receive softirq chain runs on the sending CPU (`netif_rx` backlog).
    Veth,
}

/// A machine: how fast its CPU is relative to the reference, its NIC and its kernel's habits.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    #[serde(skip)]
    pub name: String,
    pub description: String,
    /// Every CPU cost of the profile is multiplied by this.
    pub cpu_factor: f64,
    /// The link's rate. 0 on a veth underlay: no link serialises packets; above 0 there, the
    /// rate the underlay is shaped to (`orchsim live net --underlay-rate`).
    pub link_gbps: f64,
    pub mtu: u32,
    /// The received payload is in the last-level cache when it is copied to the application
    /// (Intel DDIO, or written just before by the sender over veth).
    pub rx_llc: bool,
    pub tx: TxMode,
    pub threads: u32,
    pub underlay: Underlay,
    /// The NIC segments and checksums encapsulated TCP (VXLAN/IPIP TSO); without it a tunnel
    /// costs software GSO and checksums per packet.
    pub tunnel_offload: bool,
    /// One-way NIC + PCIe + wire latency, not CPU-scaled.
    pub propagation_ns: u64,
    /// The share of data packets the path loses at random (a long or lossy link; 0: none,
    /// only full queues drop).
    #[serde(default)]
    pub loss: f64,
    pub source: String,
}

/// Fixed network facts: frame overheads, queue sizes, TCP defaults.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConsts {
    pub ethernet_overhead_bytes: u32,
    pub tcp_ip_header_bytes: u32,
    pub gso_max_payload_bytes: u32,
    pub qdisc_limit_skbs: u32,
    pub rx_ring_packets: u32,
    pub tcp_rwnd_bytes: u64,
    pub tcp_initial_cwnd_packets: u32,
    pub tcp_delayed_ack_ns: u64,
    pub tcp_tso_win_divisor: u32,
    pub tcp_limit_output_bytes: u64,
    pub tcp_tail_loss_probe_min_ns: u64,
    pub cubic_beta: f64,
    pub cubic_c: f64,
    pub hystart_low_window_packets: u32,
    pub hystart_min_samples: u32,
    pub hystart_delay_min_ns: u64,
    pub hystart_delay_max_ns: u64,
    pub fq_codel_target_ns: u64,
    pub fq_codel_interval_ns: u64,
    pub fq_codel_limit_packets: u32,
}

macro_rules! params {
    ($($name:ident : $unit:literal),* $(,)?) => {
        /// The constants, in ns at the reference CPU (or the unit named beside each).
        #[derive(Clone, Debug)]
        pub struct Params {
            $(pub $name: f64,)*
        }

        impl Params {
            /// `(name, expected unit)` for every constant, in profile order.
            pub const UNITS: &'static [(&'static str, &'static str)] = &[$((stringify!($name), $unit)),*];

            fn from_map(m: &BTreeMap<String, Param>) -> Self {
                Params { $($name: m[stringify!($name)].value,)* }
            }
        }
    };
}

params! {
    b_tx_copy: "ns/byte", send_call: "ns/call", b_tx_sendfile: "ns/byte", g_tx: "ns/segment",
    a_rx: "ns/ack", g_txc: "ns/segment", p_rx: "ns/packet", g_rx: "ns/segment",
    b_rx_dram: "ns/byte", b_rx_llc: "ns/byte", a_tx: "ns/ack", ack_per_seg: "ack/segment",
    f_calico: "ns/segment", f_bridge_k8s: "ns/segment", f_docker: "ns/segment", f_vm: "ns/segment",
    f_pod: "ns/segment", f_bridge: "ns/segment", f_nat: "ns/segment",
    lambda: "ratio", e_vxlan: "ns/segment", d_vxlan: "ns/segment", e_ipip: "ns/segment",
    d_ipip: "ns/segment", wg_pkt: "ns/packet", wg_byte: "ns/byte", wg_ipt: "ns/packet",
    wg_seg_tx: "ns/packet", wg_pool_rx: "ns/packet", wg_pool_rx_b: "ns/byte",
    wg_pool_tx: "ns/packet", wg_pool_tx_b: "ns/byte", wg_rr_side: "ns/packet",
    ipsec_pkt: "ns/packet", ipsec_byte: "ns/byte", ipsec_tx_pkt: "ns/packet",
    ipsec_tx_b: "ns/byte", ipsec_rr_op: "ns/packet", tun_in_crypto: "ns/packet",
    u_read: "ns/packet", u_send: "ns/packet", u_recv: "ns/packet", u_write: "ns/packet",
    u_loop: "ns/packet", gso_sw: "ns/packet", u_udp_rx: "ns/packet", u_wake: "ns/packet",
    b_csum: "ns/byte", g_rx_pkt: "ns/packet", rr_tx: "ns/packet", rr_rx: "ns/packet",
    rr_wake: "ns/packet", kp_ipt_rule: "ns/rule", kp_ipt_jitter: "ns/service",
    kp_bench_rtt: "ns/packet", kp_bench_jitter: "ns/packet", kp_ipt_sync: "ms/sync",
    kp_ipt_sync_rule: "ns/rule", kp_endpoints: "endpoints/service", kp_nft_sync: "ms/sync", kp_min_sync: "ms", sw_gossip: "ms",
    sw_probe: "ms", sw_suspicion_mult: "intervals", sw_converge: "ms",
}

/// A loaded, validated profile.
#[derive(Clone, Debug)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub network: NetworkConsts,
    /// The constants as written (value, unit, kind, source), by name.
    pub entries: BTreeMap<String, Param>,
    pub params: Params,
    pub platforms: BTreeMap<String, Platform>,
    pub default_platform: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: String,
    description: String,
    network: NetworkConsts,
    params: BTreeMap<String, Spanned<RawParam>>,
    platforms: BTreeMap<String, Spanned<Platform>>,
    defaults: RawDefaults,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    platform: Spanned<String>,
}

/// Byte offset of `key = …` inside the table whose header is `header` (e.g. `[network]`), or of
/// the header itself, or 0: where to point an error about a value serde has already read.
fn key_offset(text: &str, header: &str, key: &str) -> usize {
    // The header on a line of its own, not a mention of it in a comment.
    let Some(start) = text
        .match_indices(header)
        .map(|(i, _)| i)
        .find(|&i| i == 0 || text[..i].ends_with('\n'))
    else {
        return 0;
    };
    let end = text[start + header.len()..]
        .find("\n[")
        .map_or(text.len(), |e| start + header.len() + e);
    let mut at = start;
    for line in text[start..end].split_inclusive('\n') {
        let t = line.trim_start();
        if t.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
        {
            return at + (line.len() - t.len());
        }
        at += line.len();
    }
    start
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl Profile {
    /// The compiled-in default profile.
    pub fn default_profile() -> Profile {
        // Parsed once per process: every scenario of a sweep asks for it, twice.
        static DEFAULT: std::sync::OnceLock<Profile> = std::sync::OnceLock::new();
        DEFAULT
            .get_or_init(|| {
                Profile::parse("default.toml", DEFAULT_PROFILE)
                    .expect("the compiled-in default profile is valid (tested)")
            })
            .clone()
    }

    /// Parses and validates a profile; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Profile, ProfileError> {
        let err = |offset: usize, field: &str, message: String| {
            let (line, column) = line_col(text, offset);
            ProfileError {
                file: file.to_string(),
                line,
                column,
                field: field.to_string(),
                message,
            }
        };
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            err(offset, "profile", e.message().to_string())
        })?;
        let mut entries = BTreeMap::new();
        for (name, p) in &raw.params {
            let at = p.span().start;
            let Some(&(_, unit)) = Params::UNITS.iter().find(|(n, _)| n == name) else {
                return Err(err(
                    at,
                    &format!("params.{name}"),
                    format!(
                        "unknown constant; expected one of: {}",
                        Params::UNITS
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            };
            let raw_param = p.get_ref();
            let param = Param {
                value: *raw_param.value.get_ref(),
                unit: raw_param.unit.get_ref().clone(),
                kind: raw_param.kind,
                source: raw_param.source.clone(),
            };
            if param.unit != unit {
                return Err(err(
                    raw_param.unit.span().start,
                    &format!("params.{name}.unit"),
                    format!("expected unit \"{unit}\", found \"{}\"", param.unit),
                ));
            }
            // A second per packet or byte is no CPU cost but a typo; the bound also keeps
            // simulated times far from overflowing.
            // At most one ACK per packet of the largest segment.
            let max = match unit {
                "ratio" => 1.0,
                "ack/segment" => 64.0,
                _ => 1e9,
            };
            let ok = param.value.is_finite() && param.value >= 0.0 && param.value <= max;
            if !ok {
                return Err(err(
                    raw_param.value.span().start,
                    &format!("params.{name}.value"),
                    format!("expected a number from 0 to {max}, found {}", param.value),
                ));
            }
            entries.insert(name.clone(), param);
        }
        if let Some((missing, _)) = Params::UNITS
            .iter()
            .find(|(n, _)| !entries.contains_key(*n))
        {
            return Err(err(
                0,
                &format!("params.{missing}"),
                "missing constant: every constant of the model must be given with its unit and source".into(),
            ));
        }
        let mut platforms = BTreeMap::new();
        for (name, p) in raw.platforms {
            let mut plat = p.into_inner();
            plat.name = name.clone();
            let header = format!("[platforms.{name}]");
            let bad = |field: &str, what: &str| {
                Err(err(
                    key_offset(text, &header, field),
                    &format!("platforms.{name}.{field}"),
                    what.to_string(),
                ))
            };
            if !(plat.cpu_factor > 0.0 && plat.cpu_factor <= 1000.0) {
                return bad("cpu_factor", "expected a number above 0, at most 1000");
            }
            if !(plat.link_gbps == 0.0 || (1e-3..=1e4).contains(&plat.link_gbps)) {
                return bad(
                    "link_gbps",
                    "expected 0 (no physical link) or 0.001 to 10000 Gb/s",
                );
            }
            if plat.propagation_ns > 1_000_000_000 {
                return bad("propagation_ns", "expected at most 1 s (1000000000 ns)");
            }
            if !(0.0..0.5).contains(&plat.loss) {
                return bad("loss", "expected a share of packets from 0 to below 0.5");
            }
            if plat.underlay == Underlay::Nic && plat.link_gbps == 0.0 {
                return bad("link_gbps", "a NIC underlay needs a link rate above 0");
            }
            if !(576..=65535).contains(&plat.mtu) {
                return bad("mtu", "expected an MTU between 576 and 65535 bytes");
            }
            if !(1..=4096).contains(&plat.threads) {
                return bad("threads", "expected 1 to 4096 hardware threads");
            }
            platforms.insert(name, plat);
        }
        let default_platform = raw.defaults.platform.get_ref().clone();
        if !platforms.contains_key(&default_platform) {
            return Err(err(
                raw.defaults.platform.span().start,
                "defaults.platform",
                format!(
                    "no platform `{default_platform}` in this profile; platforms: {}",
                    platforms.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let n = &raw.network;
        let checks: [(&str, u64, u64, u64); 18] = [
            (
                "ethernet_overhead_bytes",
                n.ethernet_overhead_bytes as u64,
                0,
                1000,
            ),
            ("tcp_ip_header_bytes", n.tcp_ip_header_bytes as u64, 20, 200),
            (
                "gso_max_payload_bytes",
                n.gso_max_payload_bytes as u64,
                1,
                524_288,
            ),
            ("qdisc_limit_skbs", n.qdisc_limit_skbs as u64, 1, 1 << 24),
            ("rx_ring_packets", n.rx_ring_packets as u64, 1, 1 << 24),
            ("tcp_rwnd_bytes", n.tcp_rwnd_bytes, 1, 1 << 34),
            (
                "tcp_initial_cwnd_packets",
                n.tcp_initial_cwnd_packets as u64,
                1,
                1000,
            ),
            (
                "tcp_delayed_ack_ns",
                n.tcp_delayed_ack_ns,
                1,
                10_000_000_000,
            ),
            ("tcp_tso_win_divisor", n.tcp_tso_win_divisor as u64, 1, 1000),
            (
                "tcp_limit_output_bytes",
                n.tcp_limit_output_bytes,
                1,
                1 << 34,
            ),
            (
                "tcp_tail_loss_probe_min_ns",
                n.tcp_tail_loss_probe_min_ns,
                1,
                10_000_000_000,
            ),
            (
                "hystart_low_window_packets",
                n.hystart_low_window_packets as u64,
                1,
                1 << 20,
            ),
            ("hystart_min_samples", n.hystart_min_samples as u64, 1, 1000),
            (
                "fq_codel_target_ns",
                n.fq_codel_target_ns,
                1,
                10_000_000_000,
            ),
            (
                "fq_codel_interval_ns",
                n.fq_codel_interval_ns,
                1,
                100_000_000_000,
            ),
            (
                "fq_codel_limit_packets",
                n.fq_codel_limit_packets as u64,
                1,
                1 << 24,
            ),
            (
                "hystart_delay_min_ns",
                n.hystart_delay_min_ns,
                0,
                n.hystart_delay_max_ns,
            ),
            (
                "hystart_delay_max_ns",
                n.hystart_delay_max_ns,
                0,
                10_000_000_000,
            ),
        ];
        for (key, value, ok) in [
            (
                "cubic_beta",
                n.cubic_beta,
                n.cubic_beta > 0.0 && n.cubic_beta < 1.0,
            ),
            ("cubic_c", n.cubic_c, n.cubic_c > 0.0 && n.cubic_c <= 1e6),
        ] {
            if !ok {
                return Err(err(
                    key_offset(text, "[network]", key),
                    &format!("network.{key}"),
                    format!("expected a number above 0 (below 1 for beta), found {value}"),
                ));
            }
        }
        for (key, value, min, max) in checks {
            if !(min..=max).contains(&value) {
                return Err(err(
                    key_offset(text, "[network]", key),
                    &format!("network.{key}"),
                    format!("expected {min} to {max}, found {value}"),
                ));
            }
        }
        Ok(Profile {
            name: raw.name,
            description: raw.description,
            network: raw.network,
            params: Params::from_map(&entries),
            entries,
            platforms,
            default_platform,
        })
    }

    /// Sets constant `name` (its unit stays) with how it was obtained, and the typed constants
    /// with it. Refuses an unknown name or a value the profile schema would refuse.
    pub fn set_param(
        &mut self,
        name: &str,
        value: f64,
        kind: Kind,
        source: String,
    ) -> Result<(), String> {
        let p = self
            .entries
            .get_mut(name)
            .ok_or_else(|| format!("unknown constant `{name}`"))?;
        let max = match p.unit.as_str() {
            "ratio" => 1.0,
            "ack/segment" => 64.0,
            _ => 1e9,
        };
        if !(value.is_finite() && (0.0..=max).contains(&value)) {
            return Err(format!("{name}: expected 0 to {max}, found {value}"));
        }
        p.value = value;
        p.kind = kind;
        p.source = source;
        self.params = Params::from_map(&self.entries);
        Ok(())
    }

    /// The profile as TOML that [`Profile::parse`] reads back to the same profile, preceded by
    /// `header` as comment lines.
    pub fn to_toml(&self, header: &str) -> String {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            name: &'a str,
            description: &'a str,
            network: &'a NetworkConsts,
            params: &'a BTreeMap<String, Param>,
            platforms: &'a BTreeMap<String, Platform>,
            defaults: Defaults<'a>,
        }
        #[derive(serde::Serialize)]
        struct Defaults<'a> {
            platform: &'a str,
        }
        let body = toml::to_string(&Out {
            name: &self.name,
            description: &self.description,
            network: &self.network,
            params: &self.entries,
            platforms: &self.platforms,
            defaults: Defaults {
                platform: &self.default_platform,
            },
        })
        .expect("a profile's fields are all TOML values");
        let mut out: String = header.lines().map(|l| format!("# {l}\n")).collect();
        out.push('\n');
        out + &body
    }

    /// A platform by name, or an error listing the ones this profile has.
    pub fn platform(&self, name: &str) -> Result<&Platform, String> {
        self.platforms.get(name).ok_or_else(|| {
            format!(
                "no platform `{name}` in profile `{}`; platforms: {}",
                self.name,
                self.platforms
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_profile_is_complete_and_every_constant_has_a_source() {
        let p = Profile::default_profile();
        assert_eq!(p.entries.len(), Params::UNITS.len());
        for (name, e) in &p.entries {
            assert!(e.source.len() > 10, "{name} has no real source");
        }
        assert_eq!(p.default_platform, "reference-10g");
        assert!((p.params.lambda - 0.4232).abs() < 1e-9);
    }

    #[test]
    fn a_written_profile_reads_back_with_its_changes() {
        let mut p = Profile::default_profile();
        p.set_param(
            "f_vm",
            123.5,
            Kind::Measured,
            "orchsim live net, a test".into(),
        )
        .unwrap();
        assert!(p.set_param("nope", 1.0, Kind::Fit, String::new()).is_err());
        assert!(p
            .set_param("lambda", 2.0, Kind::Fit, String::new())
            .is_err());
        assert_eq!(p.params.f_vm, 123.5);
        let text = p.to_toml("written by a test\nsecond line");
        assert!(text.starts_with("# written by a test\n# second line\n"));
        let q = Profile::parse("written.toml", &text).unwrap();
        assert_eq!(q.params.f_vm, 123.5);
        assert_eq!(q.entries["f_vm"].kind, Kind::Measured);
        assert_eq!(q.entries["f_vm"].source, "orchsim live net, a test");
        assert_eq!(q.entries.len(), p.entries.len());
        assert_eq!(q.default_platform, p.default_platform);
        for (name, plat) in &p.platforms {
            let r = &q.platforms[name];
            assert_eq!(
                (r.cpu_factor, r.mtu, r.underlay),
                (plat.cpu_factor, plat.mtu, plat.underlay)
            );
        }
        assert_eq!(q.network.tcp_rwnd_bytes, p.network.tcp_rwnd_bytes);
    }

    #[test]
    fn errors_name_line_column_and_field() {
        let bad_unit = DEFAULT_PROFILE.replacen("unit = \"ns/segment\"", "unit = \"us\"", 1);
        let e = Profile::parse("p.toml", &bad_unit).unwrap_err();
        assert_eq!(e.field, "params.g_tx.unit");
        assert!(e.message.contains("expected unit \"ns/segment\""), "{e}");
        let line = DEFAULT_PROFILE
            .lines()
            .position(|l| l == "[params.g_tx]")
            .unwrap()
            + 3; // 0-based header line, then value, then unit
        assert_eq!(
            (e.file.as_str(), e.line, e.column),
            ("p.toml", line, 8),
            "{e}"
        );

        let unknown = format!("{DEFAULT_PROFILE}\n[params.warp]\nvalue = 1.0\nunit = \"ns\"\nkind = \"prior\"\nsource = \"x\"\n");
        let e = Profile::parse("p.toml", &unknown).unwrap_err();
        assert_eq!(e.field, "params.warp");

        let missing = DEFAULT_PROFILE.replace("[params.rr_wake]", "[params.rr_wake_gone]");
        let e = Profile::parse("p.toml", &missing).unwrap_err();
        assert_eq!(e.field, "params.rr_wake_gone");

        let neg = DEFAULT_PROFILE.replacen("value = 1200.0", "value = -1.0", 1);
        let e = Profile::parse("p.toml", &neg).unwrap_err();
        assert!(e.field.ends_with(".value"), "{e}");

        let e = Profile::parse("p.toml", "name = 3").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("string"), "{e}");

        let mtu = DEFAULT_PROFILE.replacen("mtu = 1500", "mtu = 100", 1);
        let e = Profile::parse("p.toml", &mtu).unwrap_err();
        assert_eq!(e.field, "platforms.reference-10g.mtu");
        let line = mtu.lines().position(|l| l == "mtu = 100").unwrap() + 1;
        assert_eq!((e.line, e.column), (line, 1), "{e}");
        let ring = DEFAULT_PROFILE.replace("rx_ring_packets = 1024", "rx_ring_packets = 0");
        let e = Profile::parse("p.toml", &ring).unwrap_err();
        assert_eq!(e.field, "network.rx_ring_packets");
        assert!(e.message.contains("expected 1 to"), "{e}");

        let plat = DEFAULT_PROFILE.replace("platform = \"reference-10g\"", "platform = \"moon\"");
        let e = Profile::parse("p.toml", &plat).unwrap_err();
        assert_eq!(e.field, "defaults.platform");
        assert!(e.message.contains("cilium-bench"), "{e}");
    }
}
