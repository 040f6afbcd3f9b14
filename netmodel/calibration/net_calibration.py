#!/usr/bin/env python3
# Copied from the calibration study for issue 6 (orchsim); it derives the constants of
# netmodel/profiles/default.toml. Reasoning: ARCHITECTURE.md, "Network datapath model".
"""net_calibration.py -- stage-cost model for orchsim container datapaths, checked against
/work/shared/reference/network-measurements.md (§2.1, §2.2, §3, §6; loose §2.3-§2.5).

Pure arithmetic, no dependencies, well under a second:
    python3 net_calibration.py           # parameters, derivations, per-core costs, rows, predictions
    python3 net_calibration.py --brief   # rows + orderings + summary only

Model (reasoning in net-calibration.md):
  * Costs are ns at the REFERENCE CPU (AMD Ryzen 9 3950X of the Cilium benchmark);
    cycles = ns * REF_GHZ.  A source's costs are ref costs * k (one CPU factor per source).
  * One bulk TCP stream occupies four serial cores:
      S_APP  sender process context: copy/sendfile, TCP xmit of each TSO skb, backlog ACKs, and
             (veth xmit runs the host softirq on the same CPU) the pod-egress forward + encap
      S_IRQ  sender NIC softirq: ACK RX, ACK forward into the pod, TX completion
      R_IRQ  receiver NIC softirq: driver+GRO per wire packet, IP/TCP per GRO skb, pod-ingress
             forward + decap
      R_APP  receiver process: copy_to_user, window-update ACKs sent from recvmsg and their
             pod-egress forward
    plus, where present: a per-peer serial crypto stage (WG_RX / IPSEC_RX, one RSS queue), a
    single-threaded daemon per host (flannel-udp) and a parallel crypto worker pool.
  * Single-stream throughput = min(link payload rate, 1 / max over cores of ns per byte).
  * Costs: per wire packet (MSS payload), per GSO/GRO skb ("segment", <=64 KiB), per byte.
  * 1-byte request/response RTT = sum of on-path costs; CNI forward stages are on the latency
    path for a fraction LAMBDA of their CPU (derived from the Cilium source itself).
"""
import sys
from dataclasses import dataclass

REF_GHZ = 4.3   # assumed sustained one-core clock of the Ryzen 9 3950X (max boost 4.7 GHz)

# ======================================================================================
# Reference numbers used by derivations (network-measurements.md; IB per-run values are
# from github.com/InfraBuilder/benchmark-k8s-cni-2024-01 results/<cni>/<run>/dts-client.stdout)
# ======================================================================================
R = dict(
    ib_host=31.4, c_host=41.6, c_rtt_host=21.0, c_rtt_calico=1e6 / 35.9e3 * 1.0,
    c_cpu_host=(0.027, 0.045), c_rr_cpu_host=(6.1, 5.5), c_rr_cpu_calico=(15.1, 12.7),
    # iperf3 server process CPU per byte (ns/B, IB CPU), mean of the 3 runs (82.3%@31.92,
    # 81.4%@33.87, 92.2%@28.30 Gb/s for baremetal; see notes for the other CNIs)
    ib_srv_nsB=dict(host=0.220, calico=0.324, kuberouter=0.303, flannel=0.332),
    c_wg=(4.7, 17.5), c_calico_wg=(3.5, 15.5), c_ipsec=(3.4, 10.4),
    c_rr_ipsec=26.0e3, c_rr_wg=16.3e3, c_rr_host=47.7e3,
    ib_calico_wg=7.92, ib_cilium_wg=9.00, ib_cilium_ipsec=4.77,
    ib_ratio=dict(kuberouter=0.72, calico=0.63, flannel=0.64, calico_ebpf=0.82, cilium=0.70),
    vm_underlay=13.2,
)

# ======================================================================================
# Parameters: name -> [value, unit, tag, note].  tag: prior = engineering assumption (not from
# a source read here); derived = solved from reference numbers (see derive()); fit = chosen
# to match a named row where the structure leaves one free number.
# ======================================================================================
P = {
 # host stack --------------------------------------------------------------------------
 "b_tx_copy":    [0.080, "ns/B",  "prior", "copy_from_user into fresh skb page frags (netperf; iperf3 without -Z)"],
 "b_tx_sendfile":[0.050, "ns/B",  "prior", "iperf3 -Z sendfile: page-cache lookup + page refs + tcp_sendpage, ~200 ns per 4 KiB page"],
 "g_tx":         [None,  "ns/seg","derived","S_APP per TSO skb (skb build, tcp_write_xmit, IP, qdisc, driver, backlog ACK work): IB host 31.4 Gb/s is sender-bound"],
 "a_rx":         [1500., "ns/ack","prior", "S_IRQ per ACK: driver RX + ip_rcv + TCP demux"],
 "g_txc":        [None,  "ns/seg","derived","S_IRQ per TSO skb: TX completion, frag/page free, TSQ handler: §3 client host 0.027 thread.s/Gbit"],
 "p_rx":         [None,  "ns/pkt","derived","R_IRQ per wire packet: driver RX + GRO merge: §3 server host 0.045 thread.s/Gbit minus R_APP"],
 "g_rx":         [4000., "ns/seg","prior", "R_IRQ per GRO skb: ip_rcv + tcp_v4_rcv + queueing + wakeup"],
 "b_rx_dram":    [None,  "ns/B",  "derived","R_APP copy_to_user, NIC DMA to DRAM (no DDIO: Ryzen 3950X): Cilium host 41.6 Gb/s is receiver(copy)-bound"],
 "b_rx_llc":     [None,  "ns/B",  "derived","R_APP copy_to_user, payload in LLC (Intel DDIO; or just written by the sender over veth): IB iperf3 server CPU"],
 "a_tx":         [1000., "ns/ack","prior", "R_APP per ACK sent: tcp_send_ack + ip_output + driver"],
 "ack_per_seg":  [None,  "ack/seg","fit",   "ACKs per GRO segment (window updates from recvmsg); IB implies 0.77, Cilium §3 implies 0-0.3; 0.4 used"],
 # container forward path: one traversal of the host netns by one skb (any size) -------------
 "F_calico":     [None,  "ns/skb","derived","Calico: veth + proxy-ARP route + conntrack + Calico & kube-proxy chains: IB Calico 0.63"],
 "F_bridge_k8s": [None,  "ns/skb","derived","bridge + veth + br_netfilter + kube-proxy (+kube-router netpol) chains: IB kube-router 0.72"],
 "F_docker":     [2900., "ns/skb","prior", "docker0 bridge + veth + br_netfilter + Docker chains + DNAT conntrack (~F_bridge_k8s minus kube chains)"],
 "F_vm":         [1200., "ns/skb","prior", "veth + bridge (or route) + veth without conntrack/iptables (plain namespaces)"],
 "LAMBDA":       [None,  "-",     "derived","share of forward-stage CPU on the RR latency path: §2.2 RTT rise / §3 RR CPU rise (Calico)"],
 # encapsulation with NIC tunnel offload (TSO/GRO kept), per skb --------------------------------
 "e_vxlan":      [None,  "ns/skb","derived","VXLAN encap (S_APP): IB flannel 0.64 vs kube-router 0.72 (same bridge+veth forward)"],
 "d_vxlan":      [300.,  "ns/skb","fit",   "VXLAN decap (R_IRQ): §6 VXLAN 0.94x (only constraint; IB receiver not bottleneck)"],
 "e_ipip":       [1000., "ns/skb","prior", "IPIP encap (no UDP/inner Ethernet; Calico doc: VXLAN 'slightly higher per-packet overhead')"],
 "d_ipip":       [250.,  "ns/skb","prior", "IPIP decap"],
 # WireGuard: per-peer serial receive stage (fixed UDP ports -> one RSS queue) -------------------
 "wg_pkt":       [None,  "ns/pkt","derived","WG serial stage per wire packet: Cilium WG 4.7 Gb/s @1500 and 17.5 @9000 (2x2 solve)"],
 "wg_byte":      [None,  "ns/B",  "derived","WG serial stage per byte (same two rows)"],
 "wg_ipt":       [None,  "ns/pkt","derived","netfilter on each outer UDP packet when the datapath uses iptables: Calico WG 3.5/15.5 vs Cilium WG"],
 "wg_seg_tx":    [300.,  "ns/pkt","prior", "S_APP: wg_xmit software GSO segmentation per wire packet"],
 "wg_pool_rx":   [6400., "ns/pkt","fit",   "decrypt worker pool per packet (spread over all CPUs): §3 WG server 0.92 / 0.275 thread.s/Gbit"],
 "wg_pool_rx_b": [0.69,  "ns/B",  "fit",   "decrypt worker pool per byte"],
 "wg_pool_tx":   [3800., "ns/pkt","fit",   "encrypt workers + per-peer tx worker per packet: §3 WG client 0.62 / 0.23"],
 "wg_pool_tx_b": [1.07,  "ns/B",  "fit",   "encrypt worker pool per byte"],
 "wg_rr_side":   [None,  "ns/pkt","derived","extra on-path latency per WG endpoint per small packet (worker/NAPI handoffs): Cilium WG TCP_RR 16.3k"],
 # IPsec (xfrm ESP, AES-GCM) -------------------------------------------------------------------
 "ipsec_pkt":    [None,  "ns/pkt","derived","IPsec receive serial stage per wire packet (ESP: one RSS queue): Cilium IPsec 3.4 @1500, 10.4 @9000"],
 "ipsec_byte":   [None,  "ns/B",  "derived","IPsec receive serial stage per byte (AES-GCM + skb_cow_data + sw checksum)"],
 "ipsec_tx_pkt": [2500., "ns/pkt","fit",   "S_APP inline ESP encrypt + sw GSO per packet; §3 IPsec client CPU, kept just under the receiver stage"],
 "ipsec_tx_b":   [0.31,  "ns/B",  "fit",   "S_APP inline encrypt per byte (same)"],
 "ipsec_rr_op":  [None,  "ns/pkt","derived","on-path latency per ESP encrypt or decrypt of a small packet: Cilium IPsec TCP_RR 26.0k"],
 "tun_in_crypto":[300.,  "ns/pkt","prior", "VXLAN encap/decap done per wire packet inside IPsec/WG (no tunnel offload)"],
 # eBPF flavours (non-orchsim rows only) --------------------------------------------------------
 "F_ebpf":       [None,  "ns/skb","derived","Calico eBPF 3.27 tc-BPF forward (still veth): IB calico-ebpf 0.82"],
 "F_ebpf_hr":    [500.,  "ns/skb","prior", "Cilium eBPF host-routing (bpf_redirect_peer skips the host stack)"],
 "F_legacy":     [None,  "ns/skb","derived","Cilium legacy host-routing (veth + host stack) + VXLAN: IB cilium 0.70 (with e_vxlan)"],
 # flannel-udp userspace daemon (single-threaded poll loop, one read()+sendto() per packet) ---------
 "u_read":       [1200., "ns/pkt","prior", "read() from TUN incl. copy of <=1472 B"],
 "u_send":       [2000., "ns/pkt","prior", "sendto() incl. UDP/IP output, netfilter, driver (no GSO)"],
 "u_recv":       [1200., "ns/pkt","prior", "recvfrom() on the UDP socket incl. copy"],
 "u_write":      [1000., "ns/pkt","prior", "write() to TUN + netif_rx (host forward then runs in the daemon's context)"],
 "u_loop":       [500.,  "ns/pkt","prior", "poll loop overhead per packet"],
 "u_gso_sw":     [300.,  "ns/pkt","prior", "software GSO to MTU packets in front of flannel0 (TUN without offloads)"],
 "u_udp_rx":     [800.,  "ns/pkt","prior", "R_IRQ UDP receive per packet (no GRO for the plain UDP socket)"],
 "u_wake":       [3000., "ns/pkt","prior", "RR: daemon wakeup per hop (poll return + context switch)"],
 "b_csum":       [0.030, "ns/B",  "prior", "software checksum (csum_partial) per byte"],
 "g_rx_pkt":     [1000., "ns/pkt","prior", "pod TCP receive per non-GRO packet"],
 # 1-byte TCP_RR, host stack -----------------------------------------------------------------
 "rr_tx":        [2500., "ns/pkt","prior", "send syscall + TCP/IP + driver for a small packet (CPU); rr_tx+rr_rx = §3 mean 5.8 us/txn"],
 "rr_rx":        [3300., "ns/pkt","derived","IRQ + NAPI + IP/TCP rcv + wake call (CPU) = 5.8 - rr_tx"],
 "rr_wire":      [2000., "ns/pkt","prior", "NIC + PCIe + wire one way, 100GbE back-to-back (not CPU-scaled)"],
 "rr_wake":      [None,  "ns/pkt","derived","scheduler wakeup / idle exit per receive (latency, CPU-scaled): rest of the 21.0 us host RTT"],
}

def v(n):
    return P[n][0]

def setv(n, x):
    P[n][0] = x

DERIV = []   # human-readable derivation log

# ======================================================================================
# Platforms (sources)
# ======================================================================================
@dataclass
class Platform:
    name: str
    k: float
    k_tag: str
    link_gbps: float      # 0 = no physical link (namespaces over veth)
    mtu: int
    rx_llc: bool          # payload already in LLC when the receiver copies it (DDIO / veth)
    tx_mode: str          # copy | sendfile
    threads: int
    underlay: str = "nic" # nic | veth

CILIUM = Platform("cilium-bench", 1.0, "reference CPU: Ryzen 9 3950X (Zen 2, no DDIO)", 100, 1500, False, "copy", 32)
CILIUM9K = Platform("cilium-bench-9k", 1.0, "same machine, MTU 9000", 100, 9000, False, "copy", 32)
IB = Platform("infrabuilder", None, "derived from the 3 encrypted IB rows vs Cilium rows (below)", 40, 9000, True, "sendfile", 32)
VM = Platform("local-vm", None, "derived from §6 underlay 13.2 Gb/s", 0, 1500, True, "copy", 2, "veth")

# ======================================================================================
# Datapaths
# ======================================================================================
@dataclass
class Datapath:
    name: str
    fwd: str = None           # forward-cost parameter; None = host networking
    encap: str = "none"       # none | vxlan | ipip | udp
    crypto: str = None        # None | wg | ipsec
    iptables: bool = True     # outer WG/ESP packets traverse iptables (Calico/flannel/Docker)
    overhead: int = 0         # header bytes (reference §1)
    orchsim: bool = True

DP = {
    "host":            Datapath("host"),
    "bridge":          Datapath("bridge", "F_docker"),
    "overlay":         Datapath("overlay", "F_docker", "vxlan", overhead=50),
    "flannel-udp":     Datapath("flannel-udp", "F_bridge_k8s", "udp", overhead=28),
    "flannel-vxlan":   Datapath("flannel-vxlan", "F_bridge_k8s", "vxlan", overhead=50),
    "flannel-host-gw": Datapath("flannel-host-gw", "F_bridge_k8s"),
    "calico-bgp":      Datapath("calico-bgp", "F_calico"),
    "calico-ipip":     Datapath("calico-ipip", "F_calico", "ipip", overhead=20),
    "calico-vxlan":    Datapath("calico-vxlan", "F_calico", "vxlan", overhead=50),
    # reference-only compositions
    "kube-router":     Datapath("kube-router (bridge+veth, routed)", "F_bridge_k8s"),
    "canal":           Datapath("canal = flannel VXLAN + Calico veth/policy", "F_calico", "vxlan", overhead=50),
    "calico-bgp+wg":   Datapath("calico-bgp+wireguard", "F_calico", crypto="wg", overhead=60),
    "ebpf+wg":         Datapath("Cilium WireGuard (eBPF)", None, crypto="wg", iptables=False, overhead=80, orchsim=False),
    "ebpf+ipsec":      Datapath("Cilium IPsec (eBPF)", None, crypto="ipsec", iptables=False, overhead=77, orchsim=False),
    "cilium-vxlan+wg": Datapath("Cilium VXLAN+WireGuard", "F_legacy", "vxlan", "wg", False, 130, False),
    "cilium-vxlan+ipsec": Datapath("Cilium VXLAN+IPsec", "F_legacy", "vxlan", "ipsec", False, 127, False),
    "calico-ebpf":     Datapath("Calico eBPF", "F_ebpf", orchsim=False),
    "cilium-ebpf-hr":  Datapath("Cilium eBPF host-routing", "F_ebpf_hr", orchsim=False),
    "cilium-legacy":   Datapath("Cilium legacy host-routing", "F_legacy", orchsim=False),
    "cilium-vxlan":    Datapath("Cilium VXLAN (legacy host-routing)", "F_legacy", "vxlan", overhead=50, orchsim=False),
    "vm-vxlan":        Datapath("VXLAN device over the veth underlay", None, "vxlan", overhead=50),
    "vm-routed":       Datapath("routed /32 + proxy ARP", None),
    # orchsim encryption compositions (predictions)
    "calico-vxlan+ipsec": Datapath("calico-vxlan+ipsec", "F_calico", "vxlan", "ipsec", overhead=127),
    "flannel-vxlan+wg":   Datapath("flannel-vxlan+wireguard", "F_bridge_k8s", "vxlan", "wg", overhead=130),
    "overlay+ipsec":      Datapath("overlay, encrypted (ESP)", "F_docker", "vxlan", "ipsec", overhead=76),
    "host+wg":            Datapath("host+wireguard", None, crypto="wg", overhead=60),
    "host+ipsec":         Datapath("host+ipsec", None, crypto="ipsec", overhead=77),
}

def mss_of(plat, dp, mss=None):
    return mss or plat.mtu - dp.overhead - 52      # IP+TCP 40 + timestamps 12 (= iperf3 tcp_mss_default)

def seg_of(m):
    return (65215 // m) * m                         # GSO/GRO payload per super-packet (64 KiB limit)

# ======================================================================================
# Bulk model
# ======================================================================================
def cores(plat, dp, mss=None, k=None):
    """{core: ns per payload byte at this platform's CPU}, {pool side: ns/B}, MSS, segment."""
    k = plat.k if k is None else k
    m = mss_of(plat, dp, mss)
    S = seg_of(m)
    n = v("ack_per_seg")
    F = v(dp.fwd) if dp.fwd else 0.0
    if plat.underlay == "veth":
        # ns A -veth- bridge(or route) -veth- ns B on 2 vCPUs: veth passes GSO skbs, and the
        # whole receive softirq chain runs on the sender's CPU (netif_rx backlog).
        s = v("b_tx_copy") + (v("g_tx") + v("F_vm") + v("g_rx")) / S
        r = v("b_rx_llc") + n * (v("a_tx") + v("F_vm") + v("a_rx")) / S
        if dp.encap == "vxlan":
            s += (v("e_vxlan") + v("d_vxlan")) / S
            r += n * (v("e_vxlan") + v("d_vxlan")) / S
        return {"S_CPU": s * k, "R_CPU": r * k}, {}, m, S
    b_tx = v("b_tx_copy") if plat.tx_mode == "copy" else v("b_tx_sendfile")
    b_rx = v("b_rx_llc") if plat.rx_llc else v("b_rx_dram")
    c = {"S_APP": b_tx + (v("g_tx") + F) / S,
         "S_IRQ": (n * (v("a_rx") + F) + v("g_txc")) / S,
         "R_IRQ": v("p_rx") / m + (v("g_rx") + F) / S,
         "R_APP": b_rx + n * (v("a_tx") + F) / S}
    pool = {}
    if dp.encap in ("vxlan", "ipip") and dp.crypto is None:
        e, d = (v("e_vxlan"), v("d_vxlan")) if dp.encap == "vxlan" else (v("e_ipip"), v("d_ipip"))
        c["S_APP"] += e / S
        c["R_IRQ"] += d / S
        c["R_APP"] += n * e / S
        c["S_IRQ"] += n * d / S
    if dp.encap == "udp":
        pk, ap = 1.0 / m, 0.5                         # no GRO into the pod: ACK every 2 packets
        c["S_APP"] += v("u_gso_sw") * pk + v("b_csum")
        c["S_IRQ"] = ap * v("u_udp_rx") * pk + v("g_txc") / S
        c["DAEMON_S"] = (v("u_read") + v("u_send") + v("u_loop")
                         + ap * (v("u_recv") + v("u_write") + v("u_loop") + F)) * pk
        c["DAEMON_R"] = (v("u_recv") + v("u_write") + v("u_loop") + F + v("g_rx_pkt")
                         + ap * (v("u_read") + v("u_send") + v("u_loop"))) * pk
        c["R_IRQ"] = (v("p_rx") + v("u_udp_rx")) * pk
        c["R_APP"] = b_rx + ap * (v("a_tx") + F) * pk
    if dp.crypto == "wg":
        pk = 1.0 / m
        serial = v("wg_pkt") + (v("wg_ipt") if dp.iptables else 0.0) + (v("tun_in_crypto") if dp.encap == "vxlan" else 0.0)
        c["WG_RX"] = serial * pk + v("wg_byte")
        c["R_IRQ"] = (v("g_rx") + F) / S              # inner skbs re-GRO'd after decryption
        c["S_APP"] += v("wg_seg_tx") * pk
        pool = {"rx": v("wg_pool_rx") * pk + v("wg_pool_rx_b"), "tx": v("wg_pool_tx") * pk + v("wg_pool_tx_b")}
    if dp.crypto == "ipsec":
        pk = 1.0 / m
        tun = v("tun_in_crypto") if dp.encap == "vxlan" else 0.0
        c["IPSEC_RX"] = (v("ipsec_pkt") + tun) * pk + v("ipsec_byte")
        c["R_IRQ"] = (v("g_rx") + F) / S
        c["S_APP"] += (v("ipsec_tx_pkt") + tun) * pk + v("ipsec_tx_b")
    return ({x: y * k for x, y in c.items()}, {x: y * k for x, y in pool.items()}, m, S)

def link_GBps(plat, dp, m):
    if plat.link_gbps <= 0:
        return float("inf")
    return plat.link_gbps / 8.0 * m / (m + 52 + dp.overhead + 38)   # + IP/TCP/opts, encap, Ethernet+FCS+preamble+IFG

SHARED = ("WG_RX", "IPSEC_RX", "DAEMON_S", "DAEMON_R")

def tput(plat, dp, mss=None, k=None, streams=1):
    """Gb/s, cores, pool, mss, seg, bottleneck name."""
    c, pool, m, S = cores(plat, dp, mss, k)
    shared = [x for x in c if x in SHARED] + (["R_IRQ"] if dp.encap == "ipip" else [])
    rate, where = float("inf"), None
    for x, cost in c.items():
        cap = (1.0 if (streams == 1 or x in shared) else streams) / cost
        if cap < rate:
            rate, where = cap, x
    for side, cost in pool.items():                  # worker pool: threads - 2 per host
        if (plat.threads - 2) / cost < rate:
            rate, where = (plat.threads - 2) / cost, "POOL_" + side
    if link_GBps(plat, dp, m) < rate:
        rate, where = link_GBps(plat, dp, m), "LINK"
    return rate * 8.0, c, pool, m, S, where

def cpu_per_gbit(plat, dp):
    c, pool, m, S = cores(plat, dp)
    cl = sum(y for x, y in c.items() if x.startswith("S_") or x == "DAEMON_S") + pool.get("tx", 0)
    sv = sum(y for x, y in c.items() if x.startswith("R_") or x in ("WG_RX", "IPSEC_RX", "DAEMON_R")) + pool.get("rx", 0)
    return cl / 8.0, sv / 8.0                         # ns/B == thread.s per GB; /8 -> per Gbit

# ======================================================================================
# Request/response
# ======================================================================================
def rtt_us(plat, dp, k=None):
    k = plat.k if k is None else k
    one_way = (v("rr_tx") + v("rr_rx") + v("rr_wake")) * k + v("rr_wire")
    extra = 0.0                                        # per direction
    if dp.fwd:
        extra += 2 * v(dp.fwd) * v("LAMBDA") * k       # pod egress + pod ingress
    if dp.encap in ("vxlan", "ipip"):
        e, d = (v("e_vxlan"), v("d_vxlan")) if dp.encap == "vxlan" else (v("e_ipip"), v("d_ipip"))
        extra += (e + d) * k
    if dp.encap == "udp":
        extra += (v("u_read") + v("u_send") + v("u_recv") + v("u_write") + 2 * v("u_loop") + 2 * v("u_wake")) * k
    if dp.crypto == "ipsec":
        extra += 2 * v("ipsec_rr_op") * k
    if dp.crypto == "wg":
        extra += 2 * v("wg_rr_side") * k
    return 2 * (one_way + extra) / 1000.0

def rr_cpu_us(plat, dp):
    x = v("rr_tx") + v("rr_rx") + (2 * v(dp.fwd) if dp.fwd else 0.0)
    return x * plat.k / 1000.0

# ======================================================================================
# Derivations (closed form; each uses only reference numbers + earlier values)
# ======================================================================================
def solve_pkt_byte(m1, t1, m2, t2):
    """per-packet a and per-byte b with a/m + b = t (ns/B) at two MSS values."""
    a = (t1 - t2) / (1.0 / m1 - 1.0 / m2)
    return a, t1 - a / m1

def derive():
    gbps_to_nsB = lambda g: 8.0 / g
    # --- WireGuard and IPsec serial stages from the Cilium benchmark (k = 1) ---
    m_wg = (1500 - 80 - 52, 9000 - 80 - 52)
    a, b = solve_pkt_byte(m_wg[0], gbps_to_nsB(R["c_wg"][0]), m_wg[1], gbps_to_nsB(R["c_wg"][1]))
    setv("wg_pkt", a); setv("wg_byte", b)
    DERIV.append(f"WG serial: {R['c_wg']} Gb/s at MSS {m_wg} -> wg_pkt={a:.0f} ns/pkt, wg_byte={b:.3f} ns/B")
    m_cw = (1500 - 60 - 52, 9000 - 60 - 52)
    ex = [gbps_to_nsB(g) * mm - (a + b * mm) for g, mm in zip(R["c_calico_wg"], m_cw)]
    setv("wg_ipt", sum(ex) / 2)
    DERIV.append(f"Calico WG extra per outer packet: {ex[0]:.0f} (@1500), {ex[1]:.0f} (@9000) ns -> wg_ipt={v('wg_ipt'):.0f}")
    m_ip = (1500 - 77 - 52, 9000 - 77 - 52)
    a, b = solve_pkt_byte(m_ip[0], gbps_to_nsB(R["c_ipsec"][0]), m_ip[1], gbps_to_nsB(R["c_ipsec"][1]))
    setv("ipsec_pkt", a); setv("ipsec_byte", b)
    DERIV.append(f"IPsec serial: {R['c_ipsec']} Gb/s at MSS {m_ip} -> ipsec_pkt={a:.0f} ns/pkt, ipsec_byte={b:.3f} ns/B")
    # --- CPU factor of InfraBuilder from its three encrypted rows (serial-stage bound) ---
    ks = []
    for g, dpk, mss in [(R["ib_calico_wg"], "calico-bgp+wg", 8888), (R["ib_cilium_wg"], "cilium-vxlan+wg", 8818),
                        (R["ib_cilium_ipsec"], "cilium-vxlan+ipsec", 8821)]:
        dp = DP[dpk]
        if dp.crypto == "wg":
            per_pkt = v("wg_pkt") + (v("wg_ipt") if dp.iptables else 0) + (v("tun_in_crypto") if dp.encap == "vxlan" else 0) + v("wg_byte") * mss
        else:
            per_pkt = v("ipsec_pkt") + v("tun_in_crypto") + v("ipsec_byte") * mss
        ks.append(gbps_to_nsB(g) * mss / per_pkt)
    IB.k = (ks[0] * ks[1] * ks[2]) ** (1 / 3)
    DERIV.append("k_IB from IB Calico WG 7.92, Cilium WG 9.00, Cilium IPsec 4.77 Gb/s: "
                 + ", ".join(f"{x:.2f}" for x in ks) + f" -> geometric mean {IB.k:.2f}")
    # --- receiver copy on DRAM (Cilium host receiver-bound) ---
    S_c = seg_of(1448)
    # ack_per_seg needs F; iterate twice (fixed point converges immediately)
    # ack_per_seg: the two sources disagree (IB server-CPU rise says ~0.77, Cilium §3 says 0-0.3);
    # the model uses 0.4 (the section 3 server ratio needs <= 0.45) and logs both.  Everything below is re-derived with it.
    setv("ack_per_seg", 0.4)
    n = v("ack_per_seg")
    setv("b_rx_dram", gbps_to_nsB(R["c_host"]) - n * v("a_tx") / S_c)
    # --- S_APP of IB host (sender-bound: iperf3 client 94 % CPU in the low-retransmit run) ---
    S_ib = seg_of(8948)
    s_app_ref = gbps_to_nsB(R["ib_host"]) / IB.k
    setv("g_tx", (s_app_ref - v("b_tx_sendfile")) * S_ib)
    # --- receiver copy with DDIO from the IB server process CPU ---
    setv("b_rx_llc", R["ib_srv_nsB"]["host"] / IB.k - n * v("a_tx") / S_ib)
    # --- forward costs from the IB ratios (S_APP is the bottleneck in these rows) ---
    S89 = seg_of(8898)
    base89 = v("b_tx_sendfile") + v("g_tx") / S89
    setv("F_calico", (s_app_ref / R["ib_ratio"]["calico"] - base89) * S89)
    setv("F_bridge_k8s", (s_app_ref / R["ib_ratio"]["kuberouter"] - v("b_tx_sendfile") - v("g_tx") / S_ib) * S_ib)
    setv("e_vxlan", (s_app_ref / R["ib_ratio"]["flannel"] - base89) * S89 - v("F_bridge_k8s"))
    setv("F_ebpf", (s_app_ref / R["ib_ratio"]["calico_ebpf"] - base89) * S89)
    setv("F_legacy", (s_app_ref / R["ib_ratio"]["cilium"] - base89) * S89 - v("e_vxlan"))
    rise = []
    for key, F in [("calico", v("F_calico")), ("kuberouter", v("F_bridge_k8s")),
                   ("flannel", v("F_bridge_k8s") + v("e_vxlan"))]:
        d = (R["ib_srv_nsB"][key] - R["ib_srv_nsB"]["host"]) / IB.k * S89
        rise.append(d / F)
    cl_rise = ((0.039 - R["c_cpu_host"][0]) * 8 * S_c - v("F_calico")) / v("F_calico")
    sv_rise = ((0.054 - R["c_cpu_host"][1]) * 8 * S_c - v("F_calico")) / v("F_calico")
    DERIV.append("ack_per_seg (ACKs per GRO segment that cross the forward path): IB server-CPU rise / F gives "
                 + ", ".join(f"{x:.2f}" for x in rise) + f"; Cilium §3 Calico CPU rise gives client {cl_rise:.2f}, "
                 f"server {sv_rise:.2f}; model uses {n:.2f}")
    DERIV.append(f"b_rx_dram = 8/41.6 ns/B - ACK share = {v('b_rx_dram'):.4f} ns/B (Cilium host receiver-copy bound)")
    DERIV.append(f"g_tx = (8/31.4/k_IB - b_tx_sendfile) * 62636 = {v('g_tx'):.0f} ns/seg (IB host sender-bound)")
    DERIV.append(f"b_rx_llc = 0.220/k_IB - ACK share = {v('b_rx_llc'):.4f} ns/B (IB iperf3 server CPU, mean of 3 runs)")
    DERIV.append(f"F_calico={v('F_calico'):.0f}, F_bridge_k8s={v('F_bridge_k8s'):.0f}, e_vxlan={v('e_vxlan'):.0f}, "
                 f"F_ebpf={v('F_ebpf'):.0f}, F_legacy={v('F_legacy'):.0f} ns/skb from IB ratios 0.63/0.72/0.64/0.82/0.70")
    # --- TX completion and per-packet RX from the §3 host CPU (Cilium) ---
    n = v("ack_per_seg")
    s_app_c = v("b_tx_copy") + v("g_tx") / S_c
    setv("g_txc", (R["c_cpu_host"][0] * 8 - s_app_c) * S_c - n * v("a_rx"))
    r_app_c = v("b_rx_dram") + n * v("a_tx") / S_c
    setv("p_rx", (R["c_cpu_host"][1] * 8 - r_app_c - v("g_rx") / S_c) * 1448)
    DERIV.append(f"g_txc = (0.027*8 - S_APP {s_app_c:.3f}) * S - ACKs = {v('g_txc'):.0f} ns/seg; "
                 f"p_rx = (0.045*8 - R_APP {r_app_c:.3f} - g_rx/S) * 1448 = {v('p_rx'):.0f} ns/pkt")
    # --- RR ---
    setv("rr_rx", sum(R["c_rr_cpu_host"]) / 2 * 1000 - v("rr_tx"))
    setv("rr_wake", R["c_rtt_host"] * 1000 / 2 - v("rr_wire") - v("rr_tx") - v("rr_rx"))
    d_rtt = R["c_rtt_calico"] - R["c_rtt_host"]
    d_cpu = (R["c_rr_cpu_calico"][0] - R["c_rr_cpu_host"][0]) + (R["c_rr_cpu_calico"][1] - R["c_rr_cpu_host"][1])
    setv("LAMBDA", d_rtt / d_cpu)
    DERIV.append(f"LAMBDA = RTT rise {d_rtt:.1f} us / RR-CPU rise {d_cpu:.1f} us = {v('LAMBDA'):.3f}; "
                 f"rr_wake = {v('rr_wake'):.0f} ns (host RTT 21.0 us)")
    rtt_ipsec = 1e6 / R["c_rr_ipsec"]
    rtt_wg = 1e6 / R["c_rr_wg"]
    setv("ipsec_rr_op", (rtt_ipsec - R["c_rtt_host"]) * 1000 / 4)
    setv("wg_rr_side", (rtt_wg - R["c_rtt_host"]) * 1000 / 4)
    DERIV.append(f"ipsec_rr_op = ({rtt_ipsec:.1f}-21.0)/4 = {v('ipsec_rr_op'):.0f} ns; "
                 f"wg_rr_side = ({rtt_wg:.1f}-21.0)/4 = {v('wg_rr_side'):.0f} ns")
    # --- local VM factor ---
    c, _, _, _ = cores(VM, DP["host"], k=1.0)
    VM.k = gbps_to_nsB(R["vm_underlay"]) / max(c.values())
    DERIV.append(f"k_VM = (8/13.2 ns/B) / model ref {max(c.values()):.3f} ns/B = {VM.k:.2f}")

# ======================================================================================
# Rows
# ======================================================================================
ROWS = []   # (section, label, dp key, model, ref, kind, note)
# kind: pp = ratio within 10 percentage points; rel10 = within 10 %; soft = §3 chart-derived CPU,
#       reported with a 25 % band, not a fitting target

def add(*r):
    ROWS.append(r)

IB_MSS = {"calico-bgp": 8898, "flannel-vxlan": 8898, "canal": 8948, "calico-bgp+wg": 8888, "calico-ebpf": 8898,
          "cilium-vxlan": 8898, "cilium-vxlan+wg": 8818, "cilium-vxlan+ipsec": 8821}

def build_rows():
    h = tput(IB, DP["host"])[0]
    add("2.1", "IB host, 1 stream, Gb/s", "host", h, 31.4, "rel10", "used to derive g_tx")
    for dpk, ref in [("kube-router", 0.72), ("calico-bgp", 0.63), ("flannel-vxlan", 0.64), ("canal", 0.52),
                     ("calico-bgp+wg", 0.25), ("calico-ebpf", 0.82), ("cilium-vxlan", 0.70),
                     ("cilium-vxlan+wg", 0.29), ("cilium-vxlan+ipsec", 0.15)]:
        t, c, pool, m, S, where = tput(IB, DP[dpk], IB_MSS.get(dpk))
        add("2.1", f"IB {dpk} x host", dpk, t / h, ref, "pp", f"bottleneck {where}")
    for dpk, ref in [("host", 39.5), ("kube-router", 38.7), ("calico-bgp", 39.0), ("flannel-vxlan", 38.9), ("canal", 38.7),
                     ("calico-bgp+wg", 8.1), ("cilium-vxlan+wg", 8.4), ("cilium-vxlan+ipsec", 5.3)]:
        t, *_, where = tput(IB, DP[dpk], IB_MSS.get(dpk), streams=8)
        add("2.1m", f"IB {dpk} 8 streams / host 1 stream", dpk, t / 31.4, ref / 31.4, "pp", f"bottleneck {where}")
    ch = tput(CILIUM, DP["host"])[0]
    add("2.2", "Cilium host TCP, Gb/s", "host", ch, 41.6, "rel10", "used to derive b_rx_dram")
    for dpk, ref in [("calico-bgp", 0.84), ("calico-ebpf", 1.02), ("cilium-ebpf-hr", 1.01), ("cilium-legacy", 0.86)]:
        t, *_, where = tput(CILIUM, DP[dpk])
        add("2.2", f"Cilium {dpk} TCP x host", dpk, t / ch, ref, "pp", f"bottleneck {where}")
    rh = rtt_us(CILIUM, DP["host"])
    add("2.2r", "Cilium host TCP_RR RTT, us", "host", rh, 21.0, "rel10", "used to derive rr_wake")
    for dpk, ref in [("calico-bgp", 35.9 / 47.7), ("calico-ebpf", 45.1 / 47.7), ("cilium-ebpf-hr", 45.1 / 47.7),
                     ("cilium-legacy", 34.0 / 47.7), ("ebpf+ipsec", 26.0 / 47.7), ("ebpf+wg", 16.3 / 47.7)]:
        add("2.2r", f"Cilium {dpk} TCP_RR x host", dpk, rh / rtt_us(CILIUM, DP[dpk]), ref, "pp",
            "derived" if dpk in ("calico-bgp", "ebpf+ipsec", "ebpf+wg") else "")
    for dpk, mtu, ref in [("ebpf+wg", 1500, 4.7), ("ebpf+wg", 9000, 17.5), ("calico-bgp+wg", 1500, 3.5),
                          ("calico-bgp+wg", 9000, 15.5), ("ebpf+ipsec", 1500, 3.4), ("ebpf+ipsec", 9000, 10.4)]:
        plat = CILIUM if mtu == 1500 else CILIUM9K
        t, *_, where = tput(plat, DP[dpk])
        add("2.2e", f"Cilium {dpk} @{mtu} / host(41.6)", dpk, t / 41.6, ref / 41.6, "pp", f"model {t:.1f} vs {ref} Gb/s")
        add("2.2e", f"Cilium {dpk} @{mtu}, Gb/s", dpk, t, ref, "rel10",
            "2 rows derive 2 params" if dpk != "calico-bgp+wg" else "1 param (wg_ipt) for 2 rows")
    t32 = tput(CILIUM, DP["calico-bgp"], streams=32)[0]
    add("2.2m", "Cilium calico-bgp 32 streams, Gb/s", "calico-bgp", t32, 94.0, "soft", "blog: ~line rate (94 = 100G payload)")
    for dpk, (rc, rs) in [("host", R["c_cpu_host"]), ("calico-bgp", (0.039, 0.054))]:
        cl, sv = cpu_per_gbit(CILIUM, DP[dpk])
        add("3", f"CPU thread.s/Gbit client {dpk}", dpk, cl, rc, "soft", "used to derive g_txc" if dpk == "host" else "")
        add("3", f"CPU thread.s/Gbit server {dpk}", dpk, sv, rs, "soft", "used to derive p_rx" if dpk == "host" else "")
    for dpk, (rc, rs) in [("host", R["c_rr_cpu_host"]), ("calico-bgp", R["c_rr_cpu_calico"])]:
        x = rr_cpu_us(CILIUM, DP[dpk])
        add("3", f"RR CPU us/txn client {dpk}", dpk, x, rc, "soft", "")
        add("3", f"RR CPU us/txn server {dpk}", dpk, x, rs, "soft", "")
    for dpk, mtu, (rc, rs) in [("ebpf+ipsec", 1500, (0.40, 0.36)), ("ebpf+ipsec", 9000, (0.128, 0.093)),
                               ("ebpf+wg", 1500, (0.62, 0.92)), ("ebpf+wg", 9000, (0.23, 0.275))]:
        cl, sv = cpu_per_gbit(CILIUM if mtu == 1500 else CILIUM9K, DP[dpk])
        add("3", f"CPU thread.s/Gbit client {dpk}@{mtu}", dpk, cl, rc, "soft", "")
        add("3", f"CPU thread.s/Gbit server {dpk}@{mtu}", dpk, sv, rs, "soft", "")
    add("6", "VM underlay ns-ns veth+bridge, Gb/s", "host", tput(VM, DP["host"])[0], 13.2, "rel10", "used to derive k_VM")
    add("6", "VM VXLAN overlay, Gb/s", "vm-vxlan", tput(VM, DP["vm-vxlan"])[0], 12.45, "rel10", "ref 12.3-12.6")
    add("6", "VM routed /32 + proxy ARP, Gb/s", "vm-routed", tput(VM, DP["vm-routed"])[0], 13.2, "rel10", "")

def judge(kind, model, ref):
    if kind == "pp":
        return abs(model - ref) <= 0.10 + 1e-9, f"{(model - ref) * 100:+.1f}pp"
    e = model / ref - 1
    return abs(e) <= (0.10 if kind == "rel10" else 0.25) + 1e-9, f"{e * 100:+.1f}%"

def orderings(only_orchsim):
    groups = {}
    for sec, label, dpk, model, ref, kind, note in ROWS:
        if kind != "pp":
            continue
        if only_orchsim and not DP[dpk].orchsim:
            continue
        groups.setdefault(sec, []).append((label, model, ref))
    out = []
    for sec, g in groups.items():
        bad = []
        for i in range(len(g)):
            for j in range(i + 1, len(g)):
                (la, ma, ra), (lb, mb, rb) = g[i], g[j]
                if ra == rb:
                    continue
                if (ma - mb) * (ra - rb) <= 0:
                    tie = abs(ra - rb) / max(ra, rb) < 0.03
                    bad.append((la, lb, ra, rb, ma, mb, tie))
        out.append((sec, len(g), bad))
    return out

# ======================================================================================
def main():
    brief = "--brief" in sys.argv
    derive()
    build_rows()
    if not brief:
        print(f"Reference CPU: Ryzen 9 3950X; costs in ns at the reference; cycles = ns x {REF_GHZ}\n")
        print("Derivations:")
        for d in DERIV:
            print("  " + d)
        print()
        print(f"{'parameter':14s} {'value':>9s} {'unit':8s} {'cycles':>8s} {'tag':8s} note")
        for name, (val, unit, tag, note) in P.items():
            cyc = "" if unit in ("-", "ack/seg") else (f"{val * REF_GHZ:8.2f}" if unit == "ns/B" else f"{val * REF_GHZ:8.0f}")
            print(f"{name:14s} {val:9.3f} {unit:8s} {cyc:>8s} {tag:8s} {note}")
        print()
        for p in (CILIUM, IB, VM):
            print(f"platform {p.name:13s} k={p.k:4.2f} link={p.link_gbps:>3} Gb/s mtu={p.mtu} rx_llc={p.rx_llc!s:5s} "
                  f"tx={p.tx_mode:8s} threads={p.threads}  [{p.k_tag}]")
        print("\nPer-core cost (ns per payload byte at the source's CPU), key configurations:")
        for plat, dpk in [(CILIUM, "host"), (CILIUM, "calico-bgp"), (IB, "host"), (IB, "kube-router"), (IB, "calico-bgp"),
                          (IB, "flannel-vxlan"), (IB, "canal"), (IB, "calico-bgp+wg"), (VM, "host"), (VM, "vm-vxlan")]:
            t, c, pool, m, S, where = tput(plat, DP[dpk], IB_MSS.get(dpk) if plat is IB else None)
            print(f"  {plat.name:13s} {dpk:14s} mss={m:5d} seg={S:5d} " +
                  " ".join(f"{x}={y:.3f}" for x, y in c.items()) + f"  -> {t:5.1f} Gb/s ({where})")
        print("\nIB measured iperf3 process CPU per byte (ns/B, IB CPU; low-retransmit = sender-bound runs):")
        hc = tput(IB, DP["host"])[1]
        print(f"  {'host':13s} {'client 0.237 (94%) server 0.206/0.192/0.261':52s} model S_APP/R_APP {hc['S_APP']:.3f}/{hc['R_APP']:.3f}")
        for dpk, meas in [("calico-bgp", "client 0.387/0.379 (93%) server 0.318/0.321/0.332"),
                          ("kube-router", "client 0.353 (99%) server 0.314/0.287/0.309"),
                          ("flannel-vxlan", "client 0.377 (93%) server 0.342/0.334/0.320"),
                          ("canal", "client 0.371/0.410 (82%) server 0.332/0.367/0.406")]:
            c = tput(IB, DP[dpk], IB_MSS.get(dpk))[1]
            print(f"  {dpk:13s} {meas:52s} model S_APP/R_APP {c['S_APP']:.3f}/{c['R_APP']:.3f}")
        print()
    cnt = {}
    print(f"{'sec':5s} {'row':44s} {'model':>8s} {'ref':>8s} {'crit':5s} {'diff':>8s} result  note")
    for sec, label, dpk, model, ref, kind, note in ROWS:
        ok, diff = judge(kind, model, ref)
        tag = "" if DP[dpk].orchsim else " [non-orchsim]"
        key = (kind, DP[dpk].orchsim)
        cnt.setdefault(key, [0, 0])
        cnt[key][0] += ok
        cnt[key][1] += 1
        res = "pass" if ok else ("FAIL" if kind != "soft" else "off")
        print(f"{sec:5s} {label:44s} {model:8.3f} {ref:8.3f} {kind:5s} {diff:>8s} {res:6s} {note}{tag}")
    print()
    for only in (True, False):
        for sec, n, bad in orderings(only):
            scope = "orchsim rows" if only else "all rows"
            strict = [b for b in bad if not b[6]]
            ties = [b for b in bad if b[6]]
            print(f"ordering §{sec} ({scope}, {n} rows): " + ("OK" if not strict else f"{len(strict)} inverted pair(s)")
                  + (f"; {len(ties)} near-tie pair(s) (reference values within 3 %) not counted" if ties else ""))
            for la, lb, ra, rb, ma, mb, tie in strict:
                print(f"    INVERTED {la} / {lb}: ref {ra:.3f}/{rb:.3f} model {ma:.3f}/{mb:.3f}")
    print()
    for (kind, orch), (ok, tot) in sorted(cnt.items()):
        print(f"{kind:5s} {'orchsim' if orch else 'non-orchsim':11s}: {ok}/{tot} pass")
    if not brief:
        print("\nPredictions (single stream Gb/s / 8 streams Gb/s / RR RTT us) for orchsim datapaths:")
        print(f"  {'datapath':18s} {'IB-like: 40G, MTU 9000, -Z, k=%.2f' % IB.k:>38s} {'Cilium-like: 100G, MTU 1500, k=1':>36s}")
        print(f"  {'':18s} {'1 str':>7s} {'8 str':>6s} {'RTT':>5s} {'bottleneck':10s} {'1 str':>12s} {'8 str':>6s} {'RTT':>5s} bottleneck")
        for dpk in ["host", "bridge", "overlay", "flannel-udp", "flannel-vxlan", "flannel-host-gw", "calico-bgp",
                    "calico-ipip", "calico-vxlan", "host+wg", "calico-bgp+wg", "flannel-vxlan+wg", "host+ipsec",
                    "calico-vxlan+ipsec", "overlay+ipsec"]:
            dp = DP[dpk]
            a1, *_, w1 = tput(IB, dp); a8 = tput(IB, dp, streams=8)[0]
            b1, *_, w2 = tput(CILIUM, dp); b8 = tput(CILIUM, dp, streams=8)[0]
            print(f"  {dpk:18s} {a1:7.1f} {a8:6.1f} {rtt_us(IB, dp):5.0f} {w1:10s} {b1:12.1f} {b8:6.1f} {rtt_us(CILIUM, dp):5.0f} {w2}")
        print("\nLoose checks (§2.3-§2.5, orderings/rough factors only):")
        mz = [(d, rtt_us(Platform("aws-c4", 2.5, "", 10, 9001, True, "copy", 36), DP[d])) for d in ("host", "flannel-host-gw", "flannel-vxlan")]
        print("  MachineZone latency order host < host-gw < vxlan: " + " < ".join(f"{d} {x:.0f}us" for d, x in mz)
              + ("  OK" if mz[0][1] < mz[1][1] < mz[2][1] else "  VIOLATED"))
        slow = Platform("2015-vm (k=6, 0.4 Gb/s cap)", 6.0, "", 0.4, 1500, True, "copy", 4)
        u, vx = tput(slow, DP["flannel-udp"])[0], tput(slow, DP["flannel-vxlan"])[0]
        print(f"  PR #17877 flannel udp/vxlan = 0.60 (env unknown): model {u / vx:.2f} with an assumed slow VM (k=6) and "
              f"~0.4 Gb/s cap; {tput(IB, DP['flannel-udp'])[0] / tput(IB, DP['flannel-vxlan'])[0]:.2f} on IB-like hardware")
        bg, ii, vv = (tput(IB, DP[d])[0] for d in ("calico-bgp", "calico-ipip", "calico-vxlan"))
        print(f"  Calico order bgp > ipip > vxlan (Calico doc): {bg:.1f} > {ii:.1f} > {vv:.1f} "
              + ("OK" if bg > ii > vv else "VIOLATED") + "; DaoCloud (underlay < ipip, vxlan 0.15) not reproduced by design")

def sensitivity():
    """Scale each prior by 0.5 and 1.5, re-derive everything, report orchsim row failures."""
    base = {k: list(x) for k, x in P.items()}
    priors = [k for k, x in P.items() if x[2] == "prior"] + ["ack_per_seg", "d_vxlan"]
    print(f"{'prior':14s} {'x':>4s}  orchsim pp/rel10 fails   worst orchsim row (diff)")
    for name in priors:
        for f in (0.5, 1.5):
            for k2, x in base.items():
                P[k2][:] = x
            DERIV.clear(); ROWS.clear()
            if name == "ack_per_seg":
                _orig = setv
                globals()["setv"] = lambda n, x, _o=_orig: _o(n, x * f if n == "ack_per_seg" else x)
                derive()
                globals()["setv"] = _orig
            else:
                P[name][0] = base[name][0] * f
                derive()
            build_rows()
            fails, worst = [], (0, "")
            for sec, label, dpk, model, ref, kind, note in ROWS:
                if kind == "soft" or not DP[dpk].orchsim or "used to derive" in note:
                    continue
                ok, diff = judge(kind, model, ref)
                score = abs(model - ref) / (0.10 if kind == "pp" else 0.10 * ref)
                if score > worst[0]:
                    worst = (score, f"{label} ({diff})")
                if not ok:
                    fails.append(label)
            print(f"{name:14s} {f:4.1f}  {len(fails):2d}  {worst[1]}")
    for k2, x in base.items():
        P[k2][:] = x

if __name__ == "__main__":
    if "--sens" in sys.argv:
        sensitivity()
    else:
        main()
