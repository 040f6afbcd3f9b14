//! The default profile against every row of ../shared/reference/network-measurements.md it can
//! be held to, with the packet-level engine set up as each source was (link, MTU, CPU, sender,
//! message size, streams). The reference's rule: orderings within a source always; ratios to
//! that source's host within 10 percentage points; §6 within 10 %.
//!
//! Rows of non-orchsim datapaths (Cilium, Calico eBPF) cannot be expressed and are left out;
//! reference §1 (headers and MTUs) is tested in `datapath.rs`.

use orchsim_net::packet::{self, StreamConfig};
use orchsim_net::{Datapath, Options, Pipeline, Platform, Profile};

/// iperf3's default write size (128 KiB) and netperf's TCP_STREAM default (the 16 KiB socket
/// send buffer), as the sources ran them.
const IPERF3_WRITE: u32 = 128 * 1024;
const NETPERF_WRITE: u32 = 16 * 1024;

fn platform(name: &str) -> (Profile, Platform) {
    let p = Profile::default_profile();
    let plat = p.platform(name).unwrap().clone();
    (p, plat)
}

fn gbps(plat: &str, mtu: Option<u32>, dp: &str, msg: u32, mss: Option<u32>, flows: u32) -> f64 {
    let (prof, mut plat) = platform(plat);
    if let Some(m) = mtu {
        plat.mtu = m;
    }
    let d: Datapath = dp.parse().unwrap();
    let pipe = Pipeline::new(
        &prof,
        &plat,
        d,
        &Options {
            msg_size: msg,
            mss,
            ..Default::default()
        },
    );
    packet::stream(&pipe, &StreamConfig::flows(flows)).goodput_gbps
}

fn rtt_us(plat: &str, dp: &str) -> f64 {
    let (prof, plat) = platform(plat);
    let pipe = Pipeline::new(
        &prof,
        &plat,
        dp.parse().unwrap(),
        &Options {
            msg_size: 1,
            mss: None,
            ..Default::default()
        },
    );
    packet::request_response(&pipe, 10).p50_us
}

struct Row {
    section: &'static str,
    label: &'static str,
    model: f64,
    reference: f64,
    /// `pp`: ratio within 10 percentage points; `rel`: within 10 %.
    kind: &'static str,
}

fn check(rows: &[Row]) {
    let mut failures = Vec::new();
    for r in rows {
        let ok = match r.kind {
            "pp" => (r.model - r.reference).abs() <= 0.10 + 1e-9,
            _ => (r.model / r.reference - 1.0).abs() <= 0.10 + 1e-9,
        };
        eprintln!(
            "{:5} {:48} model {:8.3} reference {:8.3} {} {}",
            r.section,
            r.label,
            r.model,
            r.reference,
            r.kind,
            if ok { "ok" } else { "FAIL" }
        );
        if !ok {
            failures.push(r.label);
        }
    }
    // Orderings within each section (pairs whose reference values are within 3 % are ties:
    // the 8-stream column is link-bound and its spread is run-to-run noise).
    for (i, a) in rows.iter().enumerate() {
        for b in &rows[i + 1..] {
            if a.section != b.section || a.kind != "pp" || b.kind != "pp" {
                continue;
            }
            let tie = (a.reference - b.reference).abs() / a.reference.max(b.reference) < 0.03;
            if !tie && (a.model - b.model) * (a.reference - b.reference) <= 0.0 {
                failures.push(a.label);
                eprintln!("order inverted: {} / {}", a.label, b.label);
            }
        }
    }
    assert!(failures.is_empty(), "rows out of tolerance: {failures:?}");
}

/// §2.1: InfraBuilder 2024, 40 GbE, MTU 9000, iperf3 -Z (the MSS of each row is the one iperf3
/// reported in the raw data).
#[test]
fn infrabuilder_2024() {
    let host = gbps("infrabuilder", None, "host", IPERF3_WRITE, None, 1);
    let ratio =
        |dp: &str, mss: u32| gbps("infrabuilder", None, dp, IPERF3_WRITE, Some(mss), 1) / host;
    let mut rows = vec![Row {
        section: "2.1abs",
        label: "IB host, 1 stream, Gb/s",
        model: host,
        reference: 31.4,
        kind: "rel",
    }];
    for (label, dp, mss, reference) in [
        (
            "IB kube-router (bridge + veth, routed)",
            "flannel-host-gw",
            8948,
            0.72,
        ),
        ("IB Calico (routed, iptables)", "calico-bgp", 8898, 0.63),
        ("IB flannel vxlan", "flannel-vxlan", 8898, 0.64),
        ("IB Canal (Calico veth + VXLAN)", "calico-vxlan", 8948, 0.52),
        ("IB Calico WireGuard", "calico-bgp+wireguard", 8888, 0.25),
    ] {
        rows.push(Row {
            section: "2.1",
            label,
            model: ratio(dp, mss),
            reference,
            kind: "pp",
        });
    }
    // 8 streams, as a ratio to the 1-stream host (39.5 / 31.4 etc.).
    for (label, dp, reference) in [
        ("IB host, 8 streams", "host", 39.5),
        ("IB kube-router, 8 streams", "flannel-host-gw", 38.7),
        ("IB Calico, 8 streams", "calico-bgp", 39.0),
        ("IB flannel vxlan, 8 streams", "flannel-vxlan", 38.9),
        ("IB Canal, 8 streams", "calico-vxlan", 38.7),
        (
            "IB Calico WireGuard, 8 streams",
            "calico-bgp+wireguard",
            8.1,
        ),
    ] {
        rows.push(Row {
            section: "2.1m",
            label,
            model: gbps("infrabuilder", None, dp, IPERF3_WRITE, None, 8) / 31.4,
            reference: reference / 31.4,
            kind: "pp",
        });
    }
    check(&rows);
}

/// §2.2: the Cilium CNI benchmark, 100 GbE, MTU 1500 (and 9000 for encryption), netperf.
#[test]
fn cilium_benchmark() {
    let host = gbps("cilium-bench", None, "host", NETPERF_WRITE, None, 1);
    let host_rtt = rtt_us("cilium-bench", "host");
    let mut rows = vec![
        Row {
            section: "2.2abs",
            label: "Cilium host TCP, Gb/s",
            model: host,
            reference: 41.6,
            kind: "rel",
        },
        Row {
            section: "2.2abs",
            label: "Cilium host TCP_RR mean RTT, µs",
            model: host_rtt,
            reference: 21.0,
            kind: "rel",
        },
        Row {
            section: "2.2",
            label: "Cilium Calico TCP ×host",
            model: gbps("cilium-bench", None, "calico-bgp", NETPERF_WRITE, None, 1) / host,
            reference: 0.84,
            kind: "pp",
        },
        Row {
            section: "2.2r",
            label: "Cilium Calico TCP_RR ×host",
            model: host_rtt / rtt_us("cilium-bench", "calico-bgp"),
            reference: 35.9 / 47.7,
            kind: "pp",
        },
    ];
    for (label, mtu, reference) in [
        ("Cilium Calico WireGuard @1500, Gb/s", 1500, 3.5),
        ("Cilium Calico WireGuard @9000, Gb/s", 9000, 15.5),
    ] {
        let g = gbps(
            "cilium-bench",
            Some(mtu),
            "calico-bgp+wireguard",
            NETPERF_WRITE,
            None,
            1,
        );
        rows.push(Row {
            section: "2.2e",
            label,
            model: g,
            reference,
            kind: "rel",
        });
        rows.push(Row {
            section: "2.2e",
            label: "  … as a share of host (41.6)",
            model: g / 41.6,
            reference: reference / 41.6,
            kind: "pp",
        });
    }
    // "32 streams: all unencrypted configs reach ~100 Gb/s line rate": line rate as payload is
    // 100 Gb/s × 1448 / (1448 + 52 + 38) by the header sizes of reference §1.
    rows.push(Row {
        section: "2.2m",
        label: "Cilium Calico 32 streams (≈ line rate), Gb/s",
        model: gbps("cilium-bench", None, "calico-bgp", NETPERF_WRITE, None, 32),
        reference: 100.0 * 1448.0 / 1538.0,
        kind: "rel",
    });
    check(&rows);
}

/// §3: CPU per gigabit, Calico against host, client and server (Cilium charts).
#[test]
fn cilium_cpu_per_gigabit() {
    let (prof, plat) = platform("cilium-bench");
    let cpu = |dp: &str| {
        let pipe = Pipeline::new(
            &prof,
            &plat,
            dp.parse().unwrap(),
            &Options {
                msg_size: NETPERF_WRITE,
                mss: None,
                ..Default::default()
            },
        );
        let r = packet::stream(&pipe, &StreamConfig::flows(1));
        (r.sender_cpu_s_per_gbit, r.receiver_cpu_s_per_gbit)
    };
    let (hc, hs) = cpu("host");
    let (cc, cs) = cpu("calico-bgp");
    // TCP_RR CPU per transaction is reported, not asserted: each host sends one message and
    // receives one, so the model gives both sides the same CPU, where the charts differ by 20 %
    // (client 15.1 µs, server 12.7 µs for Calico; 6.1 and 5.5 for host).
    let rr_cpu = |dp: &str| {
        let pipe = Pipeline::new(
            &prof,
            &plat,
            dp.parse().unwrap(),
            &Options {
                msg_size: 1,
                ..Default::default()
            },
        );
        pipe.rr_stages
            .iter()
            .map(|s| s.cost(1.0, 1.0) * s.busy)
            .sum::<f64>()
            / 1000.0
    };
    eprintln!(
        "3 (reported) TCP_RR CPU µs per transaction per host: host {:.1} (charts 6.1 / 5.5), Calico {:.1} (15.1 / 12.7)",
        rr_cpu("host"),
        rr_cpu("calico-bgp")
    );
    check(&[
        Row {
            section: "3",
            label: "client CPU per Gbit, Calico ×host",
            model: cc / hc,
            reference: 0.039 / 0.027,
            kind: "pp",
        },
        Row {
            section: "3s",
            label: "server CPU per Gbit, Calico ×host",
            model: cs / hs,
            reference: 0.054 / 0.045,
            kind: "pp",
        },
    ]);
}

/// §6: this kind of machine (2 vCPUs, namespaces over veth + bridge, iperf3, MTU 1500).
#[test]
fn local_vm() {
    let rows = [
        ("VM underlay namespace to namespace", "host", 13.2),
        ("VM VXLAN overlay", "flannel-vxlan", 12.45),
        ("VM routed /32 + proxy ARP", "calico-bgp", 13.2),
    ]
    .map(|(label, dp, reference)| Row {
        section: "6",
        label,
        model: gbps("local-vm", None, dp, IPERF3_WRITE, None, 1),
        reference,
        kind: "rel",
    });
    check(&rows);
}

/// §2.3–§2.5 are loose: orderings only.
#[test]
fn loose_orderings() {
    // MachineZone: latency host < flannel host-gw < flannel vxlan.
    let h = rtt_us("reference-10g", "host");
    let gw = rtt_us("reference-10g", "flannel-host-gw");
    let vx = rtt_us("reference-10g", "flannel-vxlan");
    assert!(h < gw && gw < vx, "{h} {gw} {vx}");
    // Calico doc: no encapsulation beats IPIP beats VXLAN ("slightly higher per-packet overhead").
    let g = |dp| gbps("infrabuilder", None, dp, IPERF3_WRITE, None, 1);
    let (bgp, ipip, vxlan) = (g("calico-bgp"), g("calico-ipip"), g("calico-vxlan"));
    assert!(bgp > ipip && ipip > vxlan, "{bgp} {ipip} {vxlan}");
    // PR #17877: flannel udp well below vxlan.
    assert!(g("flannel-udp") < 0.6 * g("flannel-vxlan"));
}
