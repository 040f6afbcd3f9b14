//! Datapaths as pipelines of stages, and their steady-state costs.
//!
//! A stage is a piece of kernel (or daemon) work with a per-unit, per-packet and per-byte cost, a
//! CPU role it runs on, and the unit that triggers it. Units are GSO/GRO super-packets
//! ("segments", up to 64 KiB of payload) on the bulk path, ACKs on the way back, and single small
//! messages for request/response. Which work runs where follows Linux: pod egress through veth
//! runs the host-namespace forward path in the sender's process context (`netif_rx` backlog on
//! the same CPU); the receive path runs in the NIC's softirq; WireGuard's and ESP's receive work
//! is serial per peer because one flow of outer packets lands on one RSS queue. The reasoning and
//! the fit behind every constant are in `profiles/default.toml` and ARCHITECTURE.md.

use serde::Serialize;

use crate::datapath::{Base, Datapath, Encryption};
use crate::profile::{Params, Platform, Profile, TxMode, Underlay};

/// The CPU a stage runs on. `Send*` roles are on the sending host, `Recv*` on the receiving one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The sending process (and what it runs inline: TCP transmit, pod-egress forwarding).
    SendApp,
    /// flannel-udp's single-threaded daemon on the sending host.
    SendDaemon,
    /// WireGuard's encryption workers (spread over the spare cores).
    SendPool,
    /// The sending host's NIC softirq: TX completions, incoming ACKs.
    SendIrq,
    /// The per-peer serial receive stage of WireGuard or ESP (one RSS queue).
    RecvCrypto,
    /// WireGuard's decryption workers.
    RecvPool,
    /// The receiving host's NIC softirq: driver, GRO, IP/TCP receive, pod-ingress forwarding.
    RecvIrq,
    /// flannel-udp's daemon on the receiving host.
    RecvDaemon,
    /// The receiving process: copy to user, window-update ACKs.
    RecvApp,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::SendApp => "send-app",
            Role::SendDaemon => "send-daemon",
            Role::SendPool => "send-pool",
            Role::SendIrq => "send-irq",
            Role::RecvCrypto => "recv-crypto",
            Role::RecvPool => "recv-pool",
            Role::RecvIrq => "recv-irq",
            Role::RecvDaemon => "recv-daemon",
            Role::RecvApp => "recv-app",
        }
    }

    pub fn on_sender(self) -> bool {
        matches!(
            self,
            Role::SendApp | Role::SendDaemon | Role::SendPool | Role::SendIrq
        )
    }

    pub fn is_pool(self) -> bool {
        matches!(self, Role::SendPool | Role::RecvPool)
    }
}

/// The unit that runs a stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// A data segment on its way to the receiver.
    Data,
    /// A data segment that has left the sending NIC (TX completion).
    TxDone,
    /// An ACK on its way back to the sender.
    Ack,
}

/// One piece of work on the path. Costs are ns at the platform's CPU.
#[derive(Clone, Debug, Serialize)]
pub struct Stage {
    pub name: &'static str,
    pub role: Role,
    pub trigger: Trigger,
    pub per_unit_ns: f64,
    pub per_packet_ns: f64,
    pub per_byte_ns: f64,
    /// Share of the cost that occupies the CPU (0 for pure waiting, such as a wake-up).
    pub busy: f64,
    /// Share of the cost on the latency path (below 1 when work finishes after hand-off).
    pub on_path: f64,
    /// The profile constants the cost comes from.
    pub params: String,
}

impl Stage {
    /// ns for a unit of `packets` packets and `bytes` payload bytes.
    pub fn cost(&self, packets: f64, bytes: f64) -> f64 {
        self.per_unit_ns + self.per_packet_ns * packets + self.per_byte_ns * bytes
    }
}

/// What a pipeline is built for.
#[derive(Clone, Debug)]
pub struct Options {
    /// Bytes per application write (stream test) and per message (request/response test).
    pub msg_size: u32,
    /// Force the MSS (a source's measured value) instead of pod MTU − headers.
    pub mss: Option<u32>,
    /// The application's own work per payload byte on each side, in ns on the reference CPU
    /// (0 for a benchmark tool): it competes with the network stack for the same cores.
    pub app_ns_per_byte: f64,
    /// The senders' congestion control.
    pub congestion: crate::congestion::Algorithm,
    /// The NICs' queue discipline.
    pub qdisc: crate::qdisc::Qdisc,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            msg_size: 1448,
            mss: None,
            app_ns_per_byte: 0.0,
            congestion: Default::default(),
            qdisc: Default::default(),
        }
    }
}

/// A datapath on a platform: its stages, unit sizes and wire format.
#[derive(Clone, Debug)]
pub struct Pipeline {
    pub datapath: Datapath,
    pub platform: Platform,
    pub pod_mtu: u32,
    /// TCP payload per wire packet.
    pub mss: u32,
    /// Payload per GSO/GRO segment.
    pub seg_bytes: u32,
    pub pkts_per_seg: u32,
    /// ACKs the receiver sends per data segment.
    pub acks_per_seg: f64,
    /// Bytes one full data packet occupies on the wire (headers, encapsulation, framing).
    pub wire_bytes_per_pkt: u32,
    /// Bytes one ACK occupies on the wire.
    pub wire_bytes_per_ack: u32,
    /// Stages of the bulk stream, in path order.
    pub stages: Vec<Stage>,
    /// Stages of one request/response message, in path order (sender side, then receiver side).
    pub rr_stages: Vec<Stage>,
    /// Roles shared by all flows between one pair of hosts rather than one per flow.
    pub shared_roles: Vec<Role>,
    pub msg_size: u32,
    pub threads: u32,
    pub qdisc_limit_skbs: u32,
    pub rx_ring_packets: u32,
    pub tcp_rwnd_bytes: u64,
    pub tcp_initial_cwnd_bytes: u64,
    pub tcp_delayed_ack_ns: u64,
    pub tcp_tso_win_divisor: u32,
    pub tcp_limit_output_bytes: u64,
    pub tcp_tail_loss_probe_min_ns: u64,
    pub congestion: crate::congestion::Algorithm,
    pub cubic: crate::congestion::cubic::Params,
    pub qdisc: crate::qdisc::Qdisc,
    pub codel: crate::qdisc::CodelParams,
    /// fq_codel's limit, in packets of all flows together.
    pub fq_codel_limit_packets: u32,
}

/// Forward-path constant for one traversal of the host namespace, if the datapath has one.
fn forward(p: &Params, plat: &Platform, base: Base) -> Option<(f64, &'static str)> {
    if plat.underlay == Underlay::Veth {
        // Namespaces over veth + a bridge: one traversal of the underlay without netfilter;
        // a pod adds its own veth and the host namespace's route (f_pod); a bridge in place
        // of Calico's /32 route and proxy ARP costs more (f_bridge); Docker's bridge reaches
        // another host through published ports, NAT and conntrack (f_nat; on a NIC platform
        // f_docker includes them).
        return Some(match base {
            Base::Host => (p.f_vm, "f_vm"),
            Base::Bridge => (
                p.f_vm + p.f_pod + p.f_bridge + p.f_nat,
                "f_vm, f_pod, f_bridge, f_nat",
            ),
            Base::CalicoBgp | Base::CalicoIpip | Base::CalicoVxlan => {
                (p.f_vm + p.f_pod, "f_vm, f_pod")
            }
            Base::Overlay | Base::FlannelUdp | Base::FlannelVxlan | Base::FlannelHostGw => {
                (p.f_vm + p.f_pod + p.f_bridge, "f_vm, f_pod, f_bridge")
            }
        });
    }
    match base {
        Base::Host => None,
        Base::Bridge | Base::Overlay => Some((p.f_docker, "f_docker")),
        Base::FlannelUdp | Base::FlannelVxlan | Base::FlannelHostGw => {
            Some((p.f_bridge_k8s, "f_bridge_k8s"))
        }
        Base::CalicoBgp | Base::CalicoIpip | Base::CalicoVxlan => Some((p.f_calico, "f_calico")),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encap {
    None,
    Vxlan,
    Ipip,
    UdpDaemon,
}

/// The tunnel a datapath uses. Encryption backends replace flannel's and Calico's tunnels (their
/// WireGuard and IPsec backends carry pod traffic themselves); Docker's encrypted overlay keeps
/// VXLAN inside ESP.
fn encap(d: Datapath) -> Encap {
    match (d.base, d.encryption) {
        (Base::Overlay, _) => Encap::Vxlan,
        (_, Some(_)) => Encap::None,
        (Base::FlannelVxlan | Base::CalicoVxlan, None) => Encap::Vxlan,
        (Base::CalicoIpip, None) => Encap::Ipip,
        (Base::FlannelUdp, None) => Encap::UdpDaemon,
        _ => Encap::None,
    }
}

struct Builder {
    k: f64,
    stages: Vec<Stage>,
}

impl Builder {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        name: &'static str,
        role: Role,
        trigger: Trigger,
        unit: f64,
        packet: f64,
        byte: f64,
        params: &str,
    ) -> &mut Stage {
        self.stages.push(Stage {
            name,
            role,
            trigger,
            per_unit_ns: unit * self.k,
            per_packet_ns: packet * self.k,
            per_byte_ns: byte * self.k,
            busy: 1.0,
            on_path: 1.0,
            params: params.to_string(),
        });
        self.stages.last_mut().expect("just pushed")
    }
}

/// What every part of a pipeline reads: the datapath on the platform and the sizes derived
/// from them.
#[derive(Clone, Copy)]
struct Setup<'a> {
    p: &'a Params,
    platform: &'a Platform,
    datapath: Datapath,
    opts: &'a Options,
    veth: bool,
    enc: Encap,
    fwd: Option<(f64, &'static str)>,
    e_name: &'static str,
    d_name: &'static str,
    e: f64,
    d: f64,
    kernel_tunnel: bool,
    b_rx: f64,
    b_rx_name: &'static str,
    calls_per_seg: f64,
    /// Docker's encrypted overlay does its VXLAN inside the crypto stage.
    tun_in_crypto: f64,
}

/// The data segment on the sending host: from the application's write to the wire.
fn data_sender(s: &Setup, b: &mut Builder) {
    let Setup {
        p,
        platform,
        datapath,
        opts,
        veth,
        enc,
        fwd,
        e_name,
        e,
        kernel_tunnel,
        calls_per_seg,
        tun_in_crypto,
        ..
    } = *s;
    use Role::*;
    use Trigger::*;
    match platform.tx {
        TxMode::Copy => b.add(
            "app write: copy_from_user",
            SendApp,
            Data,
            p.send_call * calls_per_seg,
            0.0,
            p.b_tx_copy,
            "b_tx_copy, send_call",
        ),
        TxMode::Sendfile => b.add(
            "app sendfile: page references",
            SendApp,
            Data,
            p.send_call * calls_per_seg,
            0.0,
            p.b_tx_sendfile,
            "b_tx_sendfile, send_call",
        ),
    };
    if opts.app_ns_per_byte > 0.0 {
        b.add(
            "application work, sender",
            SendApp,
            Data,
            0.0,
            0.0,
            opts.app_ns_per_byte,
            "--app-ns-per-byte",
        );
    }
    b.add(
        "tcp transmit (per TSO segment)",
        SendApp,
        Data,
        p.g_tx,
        0.0,
        0.0,
        "g_tx",
    );
    if let Some((f, name)) = fwd {
        b.add(
            "forward, pod egress: veth, route/bridge, netfilter",
            SendApp,
            Data,
            f,
            0.0,
            0.0,
            name,
        )
        .on_path = p.lambda;
    }
    if kernel_tunnel && !platform.tunnel_offload {
        b.add(
            "software GSO + checksum (NIC cannot segment the tunnel)",
            SendApp,
            Data,
            0.0,
            p.gso_sw,
            p.b_csum,
            "gso_sw, b_csum",
        );
    }
    if kernel_tunnel {
        b.add("tunnel encap", SendApp, Data, e, 0.0, 0.0, e_name);
    }
    if enc == Encap::UdpDaemon {
        b.add(
            "software GSO to flannel0 (TUN has no offloads)",
            SendApp,
            Data,
            0.0,
            p.gso_sw,
            p.b_csum,
            "gso_sw, b_csum",
        );
        b.add(
            "flanneld: read(TUN) + sendto(UDP) + poll loop",
            SendDaemon,
            Data,
            0.0,
            p.u_read + p.u_send + p.u_loop,
            0.0,
            "u_read, u_send, u_loop",
        );
    }
    match datapath.encryption {
        Some(Encryption::WireGuard) => {
            b.add(
                "wireguard: software GSO in wg_xmit",
                SendApp,
                Data,
                0.0,
                p.wg_seg_tx,
                0.0,
                "wg_seg_tx",
            );
            b.add(
                "wireguard: encryption workers",
                SendPool,
                Data,
                0.0,
                p.wg_pool_tx,
                p.wg_pool_tx_b,
                "wg_pool_tx, wg_pool_tx_b",
            );
        }
        Some(Encryption::Ipsec) => {
            b.add(
                "ipsec: inline ESP encrypt + software GSO",
                SendApp,
                Data,
                0.0,
                p.ipsec_tx_pkt + tun_in_crypto,
                p.ipsec_tx_b,
                "ipsec_tx_pkt, ipsec_tx_b, tun_in_crypto",
            );
        }
        None => {}
    }
    if !veth {
        b.add(
            "tx completion, page free, TSQ",
            SendIrq,
            TxDone,
            p.g_txc,
            0.0,
            0.0,
            "g_txc",
        );
    }
}

/// The data segment on the receiving host: from the wire to the application's read.
fn data_receiver(s: &Setup, b: &mut Builder) {
    let Setup {
        p,
        platform,
        datapath,
        opts,
        veth,
        enc,
        fwd,
        d_name,
        d,
        kernel_tunnel,
        b_rx,
        b_rx_name,
        tun_in_crypto,
        ..
    } = *s;
    use Role::*;
    use Trigger::*;
    match datapath.encryption {
        Some(Encryption::WireGuard) => {
            b.add(
                "wireguard: NIC rx, UDP, wg_receive, per-peer NAPI (serial)",
                RecvCrypto,
                Data,
                0.0,
                p.wg_pkt + p.wg_ipt + tun_in_crypto,
                p.wg_byte,
                "wg_pkt, wg_ipt, wg_byte",
            );
            b.add(
                "wireguard: decryption workers",
                RecvPool,
                Data,
                0.0,
                p.wg_pool_rx,
                p.wg_pool_rx_b,
                "wg_pool_rx, wg_pool_rx_b",
            );
        }
        Some(Encryption::Ipsec) => {
            b.add(
                "ipsec: ESP rx + decrypt (serial, one RSS queue)",
                RecvCrypto,
                Data,
                0.0,
                p.ipsec_pkt + tun_in_crypto,
                p.ipsec_byte,
                "ipsec_pkt, ipsec_byte, tun_in_crypto",
            );
        }
        None if enc == Encap::UdpDaemon => {
            b.add(
                "nic rx + UDP receive (no GRO)",
                RecvIrq,
                Data,
                0.0,
                p.p_rx + p.u_udp_rx,
                0.0,
                "p_rx, u_udp_rx",
            );
        }
        None if !veth => {
            b.add(
                "nic rx + GRO (per wire packet)",
                RecvIrq,
                Data,
                0.0,
                p.p_rx,
                0.0,
                "p_rx",
            );
        }
        None => {}
    }
    if kernel_tunnel {
        b.add("tunnel decap", RecvIrq, Data, d, 0.0, 0.0, d_name);
        if !platform.tunnel_offload {
            // Software GRO still merges the inner segments; the inner checksum is verified
            // in software.
            b.add(
                "software checksum of the inner packets",
                RecvIrq,
                Data,
                0.0,
                0.0,
                p.b_csum,
                "b_csum",
            );
        }
    }
    if enc == Encap::UdpDaemon {
        let (f, fname) = fwd.unwrap_or((0.0, "no forward"));
        b.add(
            "flanneld: recvfrom + write(TUN); forward and pod TCP per packet",
            RecvDaemon,
            Data,
            0.0,
            p.u_recv + p.u_write + p.u_loop + f + p.g_rx_pkt,
            0.0,
            &format!("u_recv, u_write, u_loop, {fname}, g_rx_pkt"),
        );
    } else {
        if let (Some((f, name)), false) = (fwd, veth) {
            b.add(
                "forward, pod ingress: netfilter, route/bridge, veth",
                RecvIrq,
                Data,
                f,
                0.0,
                0.0,
                name,
            )
            .on_path = p.lambda;
        }
        b.add(
            "ip + tcp receive (per GRO segment)",
            RecvIrq,
            Data,
            p.g_rx,
            0.0,
            0.0,
            "g_rx",
        );
    }
    b.add(
        "app read: copy_to_user",
        RecvApp,
        Data,
        0.0,
        0.0,
        b_rx,
        b_rx_name,
    );
    if opts.app_ns_per_byte > 0.0 {
        b.add(
            "application work, receiver",
            RecvApp,
            Data,
            0.0,
            0.0,
            opts.app_ns_per_byte,
            "--app-ns-per-byte",
        );
    }
}

/// The ACKs the receiver sends back, on both hosts.
fn acks(s: &Setup, b: &mut Builder) {
    let Setup {
        p,
        veth,
        enc,
        fwd,
        e_name,
        d_name,
        e,
        d,
        kernel_tunnel,
        ..
    } = *s;
    use Role::*;
    use Trigger::*;
    b.add(
        "ack transmit (window update from recvmsg)",
        RecvApp,
        Ack,
        p.a_tx,
        0.0,
        0.0,
        "a_tx",
    );
    if let Some((f, name)) = fwd {
        b.add("forward ack, pod egress", RecvApp, Ack, f, 0.0, 0.0, name)
            .on_path = p.lambda;
    }
    if kernel_tunnel {
        b.add("tunnel encap (ack)", RecvApp, Ack, e, 0.0, 0.0, e_name);
        b.add("tunnel decap (ack)", SendIrq, Ack, d, 0.0, 0.0, d_name);
    }
    if enc == Encap::UdpDaemon {
        b.add(
            "flanneld: read(TUN) + sendto (ack)",
            RecvDaemon,
            Ack,
            p.u_read + p.u_send + p.u_loop,
            0.0,
            0.0,
            "u_read, u_send, u_loop",
        );
        b.add(
            "UDP receive (ack)",
            SendIrq,
            Ack,
            p.u_udp_rx,
            0.0,
            0.0,
            "u_udp_rx",
        );
        let (f, fname) = fwd.unwrap_or((0.0, "no forward"));
        b.add(
            "flanneld: recvfrom + write(TUN) + forward (ack)",
            SendDaemon,
            Ack,
            p.u_recv + p.u_write + p.u_loop + f,
            0.0,
            0.0,
            &format!("u_recv, u_write, u_loop, {fname}"),
        );
    } else {
        b.add(
            "ack receive (driver, IP, TCP)",
            SendIrq,
            Ack,
            p.a_rx,
            0.0,
            0.0,
            "a_rx",
        );
        if let (Some((f, name)), false) = (fwd, veth) {
            b.add("forward ack, pod ingress", SendIrq, Ack, f, 0.0, 0.0, name)
                .on_path = p.lambda;
        }
    }
}

/// One request/response message, one way: its stages in order (the latency budget).
fn message(s: &Setup) -> Vec<Stage> {
    let Setup {
        p,
        platform,
        datapath,
        opts,
        enc,
        fwd,
        e_name,
        d_name,
        e,
        d,
        kernel_tunnel,
        b_rx,
        ..
    } = *s;
    use Role::*;
    use Trigger::*;
    let mut r = Builder {
        k: platform.cpu_factor,
        stages: Vec::new(),
    };
    let (b_tx, b_tx_name) = match platform.tx {
        TxMode::Copy => (p.b_tx_copy, "rr_tx, b_tx_copy"),
        TxMode::Sendfile => (p.b_tx_sendfile, "rr_tx, b_tx_sendfile"),
    };
    r.add(
        "send syscall + TCP/IP + driver (small message)",
        SendApp,
        Data,
        p.rr_tx,
        0.0,
        b_tx,
        b_tx_name,
    );
    if let Some((f, name)) = fwd {
        r.add("forward, pod egress", SendApp, Data, f, 0.0, 0.0, name)
            .on_path = p.lambda;
    }
    if kernel_tunnel {
        r.add("tunnel encap", SendApp, Data, e, 0.0, 0.0, e_name);
    }
    match datapath.encryption {
        Some(Encryption::Ipsec) => {
            r.add(
                "ipsec encrypt",
                SendApp,
                Data,
                p.ipsec_rr_op,
                0.0,
                0.0,
                "ipsec_rr_op",
            );
        }
        Some(Encryption::WireGuard) => {
            let s = r.add(
                "wireguard worker hand-offs",
                SendApp,
                Data,
                p.wg_rr_side,
                0.0,
                0.0,
                "wg_rr_side",
            );
            s.busy = 0.0;
        }
        None => {}
    }
    if enc == Encap::UdpDaemon {
        r.add(
            "flanneld: read(TUN) + sendto + loop",
            SendDaemon,
            Data,
            p.u_read + p.u_send + p.u_loop,
            0.0,
            0.0,
            "u_read, u_send, u_loop",
        );
        r.add(
            "flanneld wake-up",
            SendDaemon,
            Data,
            p.u_wake,
            0.0,
            0.0,
            "u_wake",
        )
        .busy = 0.0;
    }
    match datapath.encryption {
        Some(Encryption::Ipsec) => {
            r.add(
                "ipsec decrypt",
                RecvCrypto,
                Data,
                p.ipsec_rr_op,
                0.0,
                0.0,
                "ipsec_rr_op",
            );
        }
        Some(Encryption::WireGuard) => {
            r.add(
                "wireguard worker hand-offs",
                RecvCrypto,
                Data,
                p.wg_rr_side,
                0.0,
                0.0,
                "wg_rr_side",
            )
            .busy = 0.0;
        }
        None => {}
    }
    if enc == Encap::UdpDaemon {
        r.add(
            "flanneld: recvfrom + write(TUN) + loop",
            RecvDaemon,
            Data,
            p.u_recv + p.u_write + p.u_loop,
            0.0,
            0.0,
            "u_recv, u_write, u_loop",
        );
        r.add(
            "flanneld wake-up",
            RecvDaemon,
            Data,
            p.u_wake,
            0.0,
            0.0,
            "u_wake",
        )
        .busy = 0.0;
    }
    if kernel_tunnel {
        r.add("tunnel decap", RecvIrq, Data, d, 0.0, 0.0, d_name);
    }
    if let Some((f, name)) = fwd {
        r.add("forward, pod ingress", RecvIrq, Data, f, 0.0, 0.0, name)
            .on_path = p.lambda;
    }
    r.add(
        "irq + NAPI + IP/TCP receive + wake call, copy",
        RecvApp,
        Data,
        p.rr_rx,
        0.0,
        b_rx,
        "rr_rx, b_rx",
    );
    if opts.app_ns_per_byte > 0.0 {
        // The server handles the request (and the client the response) before answering.
        r.add(
            "application work on the message",
            RecvApp,
            Data,
            0.0,
            0.0,
            opts.app_ns_per_byte,
            "--app-ns-per-byte",
        );
    }
    r.add(
        "scheduler wake-up of the reader",
        RecvApp,
        Data,
        p.rr_wake,
        0.0,
        0.0,
        "rr_wake",
    )
    .busy = 0.0;
    r.stages
}

impl Pipeline {
    pub fn new(profile: &Profile, platform: &Platform, datapath: Datapath, opts: &Options) -> Self {
        let p = &profile.params;
        let net = &profile.network;
        let veth = platform.underlay == Underlay::Veth;
        let pod_mtu = datapath.pod_mtu(platform.mtu);
        let mss = opts
            .mss
            .unwrap_or_else(|| pod_mtu.saturating_sub(net.tcp_ip_header_bytes))
            .max(1);
        let seg_bytes = (net.gso_max_payload_bytes / mss).max(1) * mss;
        let pkts_per_seg = seg_bytes / mss;
        let enc = encap(datapath);
        let fwd = forward(p, platform, datapath.base);
        let (e_name, d_name, e, d) = match enc {
            Encap::Vxlan => ("e_vxlan", "d_vxlan", p.e_vxlan, p.d_vxlan),
            Encap::Ipip => ("e_ipip", "d_ipip", p.e_ipip, p.d_ipip),
            _ => ("", "", 0.0, 0.0),
        };
        let kernel_tunnel =
            matches!(enc, Encap::Vxlan | Encap::Ipip) && datapath.encryption.is_none();
        let b_rx = if platform.rx_llc {
            p.b_rx_llc
        } else {
            p.b_rx_dram
        };
        let b_rx_name = if platform.rx_llc {
            "b_rx_llc"
        } else {
            "b_rx_dram"
        };
        let calls_per_seg = seg_bytes as f64 / opts.msg_size.max(1) as f64;
        let mut b = Builder {
            k: platform.cpu_factor,
            stages: Vec::new(),
        };
        let s = Setup {
            p,
            platform,
            datapath,
            opts,
            veth,
            enc,
            fwd,
            e_name,
            d_name,
            e,
            d,
            kernel_tunnel,
            b_rx,
            b_rx_name,
            calls_per_seg,
            tun_in_crypto: if datapath.base == Base::Overlay {
                p.tun_in_crypto
            } else {
                0.0
            },
        };
        data_sender(&s, &mut b);
        data_receiver(&s, &mut b);
        acks(&s, &mut b);
        let stages = b.stages;
        let rr_stages = message(&s);

        let mut shared_roles = vec![Role::SendDaemon, Role::RecvDaemon, Role::RecvCrypto];
        if enc == Encap::Ipip {
            // IPIP packets carry no L4 ports, so RSS puts every flow between two hosts on one queue.
            shared_roles.push(Role::RecvIrq);
        }
        let acks_per_seg = if enc == Encap::UdpDaemon {
            // No GRO in front of the pod: delayed ACKs, one per two packets.
            pkts_per_seg as f64 / 2.0
        } else {
            p.ack_per_seg
        };
        let header =
            net.tcp_ip_header_bytes + datapath.overhead_bytes() + net.ethernet_overhead_bytes;
        Pipeline {
            datapath,
            platform: platform.clone(),
            pod_mtu,
            mss,
            seg_bytes,
            pkts_per_seg,
            acks_per_seg,
            wire_bytes_per_pkt: mss + header,
            wire_bytes_per_ack: header,
            stages,
            rr_stages,
            shared_roles,
            msg_size: opts.msg_size.max(1),
            threads: platform.threads,
            qdisc_limit_skbs: net.qdisc_limit_skbs,
            rx_ring_packets: net.rx_ring_packets,
            tcp_rwnd_bytes: net.tcp_rwnd_bytes,
            tcp_initial_cwnd_bytes: net.tcp_initial_cwnd_packets as u64 * mss as u64,
            tcp_delayed_ack_ns: net.tcp_delayed_ack_ns,
            tcp_tso_win_divisor: net.tcp_tso_win_divisor,
            tcp_limit_output_bytes: net.tcp_limit_output_bytes,
            tcp_tail_loss_probe_min_ns: net.tcp_tail_loss_probe_min_ns,
            congestion: opts.congestion,
            cubic: crate::congestion::cubic::Params {
                beta: net.cubic_beta,
                c: net.cubic_c,
                hystart_low_window: net.hystart_low_window_packets as f64,
                hystart_min_samples: net.hystart_min_samples,
                hystart_delay_min_ns: net.hystart_delay_min_ns as f64,
                hystart_delay_max_ns: net.hystart_delay_max_ns as f64,
            },
            qdisc: opts.qdisc,
            codel: crate::qdisc::CodelParams {
                target_ns: net.fq_codel_target_ns,
                interval_ns: net.fq_codel_interval_ns,
            },
            fq_codel_limit_packets: net.fq_codel_limit_packets,
        }
    }

    /// Whether a link serialises packets: a NIC's, or a veth underlay's shaped to a rate.
    pub fn has_link(&self) -> bool {
        self.platform.link_gbps > 0.0
    }

    /// Payload bytes per second the link can carry for this datapath (infinite without a link).
    pub fn link_payload_bytes_per_s(&self) -> f64 {
        if !self.has_link() {
            return f64::INFINITY;
        }
        self.platform.link_gbps * 1e9 / 8.0 * self.mss as f64 / self.wire_bytes_per_pkt as f64
    }

    /// CPU ns a stage spends per payload byte of the stream.
    pub fn stage_ns_per_byte(&self, s: &Stage) -> f64 {
        let seg = self.seg_bytes as f64;
        let per_seg = match s.trigger {
            Trigger::Data | Trigger::TxDone => s.cost(self.pkts_per_seg as f64, seg),
            Trigger::Ack => self.acks_per_seg * s.cost(1.0, 0.0),
        };
        per_seg * s.busy / seg
    }

    /// CPU ns per payload byte on each role, in role order.
    pub fn role_ns_per_byte(&self) -> Vec<(Role, f64)> {
        let mut out: Vec<(Role, f64)> = Vec::new();
        for s in &self.stages {
            let c = self.stage_ns_per_byte(s);
            match out.iter_mut().find(|(r, _)| *r == s.role) {
                Some((_, v)) => *v += c,
                None => out.push((s.role, c)),
            }
        }
        out.sort_by_key(|(r, _)| *r);
        out
    }

    /// Where a role runs on a veth underlay: both namespaces share one machine, and the receive
    /// softirq runs on the CPU that transmitted into the veth.
    pub fn effective_role(&self, role: Role) -> Role {
        if self.platform.underlay == Underlay::Veth {
            match role {
                Role::RecvIrq => return Role::SendApp,
                Role::SendIrq => return Role::RecvApp,
                _ => {}
            }
        }
        role
    }

    /// The CPU (or worker pool) `role` runs on for flow `flow` when host `tx_host` sends the data.
    ///
    /// Flow `f` uses core `f` and core `f + threads/2` of each host (modulo the thread count):
    /// the sending process and the NIC softirq that receives its ACKs on the sender, the softirq
    /// that receives its data and the reading process on the receiver, as with RSS and one
    /// process per flow; past `threads/2` flows every core carries one process and one softirq.
    /// flanneld and the per-peer crypto stage use the last core, IPIP's single RSS queue core
    /// 0. WireGuard's workers run on whichever core of the host is free. On a veth underlay
    /// both hosts are one machine and the receive softirq runs on the CPU that transmitted into
    /// the veth; the two flanneld daemons (one per host) then share that machine's CPUs with
    /// the pods, and its scheduler runs them wherever a CPU is free, as a pool.
    pub fn placement(&self, role: Role, flow: u32, tx_host: u32) -> Placement {
        let veth = self.platform.underlay == Underlay::Veth;
        let t = self.threads.max(1);
        let machine = |host: u32| if veth { 0 } else { host };
        let core = |host: u32, index: u32| Placement::Core {
            host: machine(host),
            index: index % t,
        };
        let rx_host = 1 - tx_host;
        let (first, second) = (flow, flow + (t / 2).max(1));
        match self.effective_role(role) {
            Role::SendApp => core(tx_host, first),
            Role::SendIrq => core(tx_host, second),
            Role::SendDaemon if veth => Placement::Pool {
                host: machine(tx_host),
            },
            Role::SendDaemon => core(tx_host, t - 1),
            Role::SendPool => Placement::Pool {
                host: machine(tx_host),
            },
            Role::RecvDaemon if veth => Placement::Pool {
                host: machine(rx_host),
            },
            Role::RecvCrypto | Role::RecvDaemon => core(rx_host, t - 1),
            Role::RecvPool => Placement::Pool {
                host: machine(rx_host),
            },
            Role::RecvIrq if self.shared_roles.contains(&Role::RecvIrq) => core(rx_host, 0),
            Role::RecvIrq => core(rx_host, first),
            Role::RecvApp => core(rx_host, second),
        }
    }

    /// The round trip of one full segment and its ACK through an idle pipeline, in ns: what
    /// bounds a window-limited flow (rate ≤ window / round trip).
    pub fn bulk_rtt_ns(&self) -> f64 {
        let seg = self.seg_bytes as f64;
        let pkts = self.pkts_per_seg as f64;
        let on_path = |t: Trigger, p: f64, b: f64| -> f64 {
            self.stages
                .iter()
                .filter(|s| s.trigger == t)
                .map(|s| s.cost(p, b) * s.on_path)
                .sum()
        };
        let wire = if self.has_link() {
            (seg + pkts * (self.wire_bytes_per_pkt - self.mss) as f64
                + self.wire_bytes_per_ack as f64)
                * 8.0
                / self.platform.link_gbps
        } else {
            0.0
        };
        on_path(Trigger::Data, pkts, seg)
            + on_path(Trigger::Ack, 1.0, 0.0)
            + wire
            + 2.0 * self.platform.propagation_ns as f64
    }

    /// The steady state of `flows` identical bulk flows between two hosts, placed as
    /// [`Pipeline::placement`] says: every flow gets the rate of the most loaded CPU it uses;
    /// each host's CPUs together (worker pools included) carry no more than their threads; all
    /// flows together fit the link; and no flow sends more than a receive window per round trip.
    pub fn steady(&self, flows: u32) -> Steady {
        let flows = flows.max(1);
        let per_role = self.role_ns_per_byte();
        let mut load: Vec<(Placement, f64, Vec<Role>)> = Vec::new();
        let mut host_load = [0.0f64; 2];
        for f in 0..flows {
            for &(role, c) in &per_role {
                let at = self.placement(role, f, 0);
                let host = match at {
                    Placement::Core { host, .. } | Placement::Pool { host } => host,
                };
                host_load[host as usize] += c;
                if matches!(at, Placement::Pool { .. }) {
                    continue;
                }
                match load.iter_mut().find(|(p, _, _)| *p == at) {
                    Some((_, l, roles)) => {
                        *l += c;
                        if !roles.contains(&role) {
                            roles.push(role);
                        }
                    }
                    None => load.push((at, c, vec![role])),
                }
            }
        }
        // Payload bytes per ns of one flow.
        let mut rate = f64::INFINITY;
        let mut bottleneck = "unbounded".to_string();
        for (_, l, roles) in &load {
            if *l > 0.0 && 1.0 / l < rate {
                rate = 1.0 / l;
                bottleneck = roles.iter().map(|r| r.name()).collect::<Vec<_>>().join("+");
            }
        }
        for (host, l) in host_load.iter().enumerate() {
            if *l > 0.0 && self.threads as f64 / l < rate {
                rate = self.threads as f64 / l;
                bottleneck = format!("host-{host}-cpu");
            }
        }
        // A sender with nothing in flight always sends a packet, however small the window.
        let window = self.tcp_rwnd_bytes.max(self.mss as u64) as f64 / self.bulk_rtt_ns();
        if window < rate {
            rate = window;
            bottleneck = "window".to_string();
        }
        let link = self.link_payload_bytes_per_s() / 1e9;
        if link < rate * flows as f64 {
            rate = link / flows as f64;
            bottleneck = "link".to_string();
        }
        let side = |sender: bool| -> f64 {
            self.stages
                .iter()
                .filter(|s| s.role.on_sender() == sender)
                .map(|s| self.stage_ns_per_byte(s))
                .sum::<f64>()
                / 8.0
        };
        Steady {
            goodput_gbps: rate * flows as f64 * 8.0,
            bottleneck,
            per_core: per_role,
            sender_cpu_s_per_gbit: side(true),
            receiver_cpu_s_per_gbit: side(false),
        }
    }

    /// The idle round trip of one request/response pair of `msg_size` bytes, in ns.
    pub fn rr_rtt_ns(&self) -> f64 {
        let one_way: f64 = self
            .rr_stages
            .iter()
            .map(|s| s.cost(self.rr_packets() as f64, self.msg_size as f64) * s.on_path)
            .sum::<f64>()
            + self.rr_wire_ns() as f64;
        2.0 * one_way
    }

    /// Packets in one request/response message.
    pub fn rr_packets(&self) -> u32 {
        self.msg_size.div_ceil(self.mss).max(1)
    }

    /// Serialisation plus propagation of one message, in ns.
    pub fn rr_wire_ns(&self) -> u64 {
        let ser = if self.has_link() {
            let pkts = self.rr_packets() as u64;
            let bytes = self.msg_size as u64 + pkts * (self.wire_bytes_per_pkt - self.mss) as u64;
            (bytes as f64 * 8.0 / self.platform.link_gbps).round() as u64
        } else {
            0
        };
        ser + self.platform.propagation_ns
    }
}

/// Where a stage's work runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Placement {
    /// Host 0 sends the data, host 1 receives it.
    Core {
        host: u32,
        index: u32,
    },
    Pool {
        host: u32,
    },
}

/// The analytic steady state of a pipeline.
#[derive(Clone, Debug, Serialize)]
pub struct Steady {
    /// All flows together.
    pub goodput_gbps: f64,
    /// The role (or `link`, or a host's CPU) that limits it.
    pub bottleneck: String,
    /// ns per payload byte of one flow on each role.
    pub per_core: Vec<(Role, f64)>,
    /// CPU seconds per gigabit on each side (all roles, workers included).
    pub sender_cpu_s_per_gbit: f64,
    pub receiver_cpu_s_per_gbit: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipe(plat: &str, dp: &str, mss: Option<u32>, msg: u32) -> Pipeline {
        let prof = Profile::default_profile();
        let plat = prof.platform(plat).unwrap().clone();
        Pipeline::new(
            &prof,
            &plat,
            dp.parse().unwrap(),
            &Options {
                msg_size: msg,
                mss,
                ..Default::default()
            },
        )
    }

    /// The per-core costs of the calibration (net_calibration.py, "Per-core cost" table).
    #[test]
    fn per_core_costs_match_the_calibration() {
        let p = pipe("cilium-bench", "calico-bgp", None, 1 << 30);
        let c: Vec<f64> = p.role_ns_per_byte().iter().map(|x| x.1).collect();
        let want = [0.233, 0.086, 0.242, 0.222]; // S_APP, S_IRQ, R_IRQ, R_APP
        for (got, want) in c.iter().zip(want) {
            assert!((got - want).abs() < 0.0015, "{c:?}");
        }
        let s = p.steady(1);
        assert_eq!(s.bottleneck, "recv-irq");
        assert!((s.goodput_gbps - 33.1).abs() < 0.1, "{s:?}");
    }

    /// Hosts that are namespaces of one machine share its CPUs: flanneld's threads run wherever
    /// a CPU is free (live mode measured 1.94 of 2 CPUs busy on flannel-udp), while on separate
    /// hosts each host's flanneld has its own core.
    #[test]
    fn flanneld_uses_any_free_cpu_of_a_veth_machine() {
        let p = pipe("local-vm", "flannel-udp", None, 128 << 10);
        for role in [Role::SendDaemon, Role::RecvDaemon] {
            assert_eq!(p.placement(role, 0, 0), Placement::Pool { host: 0 });
        }
        let s = p.steady(1);
        assert_eq!(s.bottleneck, "host-0-cpu");
        let busy = s.goodput_gbps * (s.sender_cpu_s_per_gbit + s.receiver_cpu_s_per_gbit);
        assert!((busy - p.threads as f64).abs() < 1e-6, "{busy} CPUs busy");
        let p = pipe("reference-10g", "flannel-udp", None, 128 << 10);
        assert!(matches!(
            p.placement(Role::RecvDaemon, 0, 0),
            Placement::Core { host: 1, .. }
        ));
    }
}
