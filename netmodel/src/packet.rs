//! The packet-level engine: segments, packets and ACKs through a datapath's stages, on modeled
//! CPU cores, NICs and wires, driven by the project's event kernel.
//!
//! - Units are GSO/GRO segments (up to 64 KiB of payload, cut at the path MSS), ACKs and
//!   request/response messages. Each unit visits the hops of its route in order; a hop is the
//!   run of consecutive stages on one resource.
//! - Cores and NICs are FIFO servers: a unit starts when it arrives and the server is free, keeps
//!   the server busy for the busy share of its stages' cost and moves on after the on-path
//!   share (at least 1 ns per hop). A worker pool hands each unit to the host core that frees
//!   up first.
//! - The NIC serialises every wire packet at link rate behind a qdisc bounded in skbs; the first
//!   receive stage has a ring bounded in packets. A full queue drops the unit and the sender
//!   learns of the loss one round of propagation later (duplicate ACKs). A platform's `loss`
//!   drops that share of data packets on the wire at random (one seeded stream per run).
//! - TCP: a congestion window from 10 packets, grown and cut by the pipeline's congestion
//!   control ([`crate::congestion`]: Reno by default, or CUBIC with HyStart; one reduction per
//!   loss event; an ACK carries its data's send time as the RTT sample) under the receive window, TCP Small Queues (a
//!   socket's bytes in the qdisc and NIC) and TSO deferral; the receiver sends
//!   `acks_per_seg` ACKs per segment (0.4: one per 2.5 segments), at once when nothing else is
//!   in flight (quick ACK), and after the 40 ms delayed-ACK timer at the latest. Goodput counts
//!   payload delivered to the receiving application during the measurement window.
//! - Core placement is [`Pipeline::placement`]'s: flow `f` on cores `f` and `f + threads/2`,
//!   shared per-peer stages on one core for all flows, WireGuard's workers on whichever core of
//!   the host frees up first. On a veth underlay both hosts are one machine and the receive
//!   softirq runs on the sending CPU.

use std::collections::VecDeque;

use orchsim_kernel::{Handler, Kernel, SimDuration, SimTime};
use serde::Serialize;

use crate::congestion::{CongestionControl, Controller};
use crate::pipeline::{Pipeline, Role, Stage, Trigger};
use crate::qdisc::{Codel, Qdisc};

/// How long to run a stream test.
#[derive(Clone, Debug, Default)]
pub struct StreamConfig {
    pub flows: u32,
    /// Simulated time before measuring (slow start, queues filling). Default: a quarter of the
    /// measurement, ten receive windows at the flow's rate (at most 2 s) or 30 round trips,
    /// whichever is longest.
    pub warmup_ns: Option<u64>,
    /// Simulated time measured. Default: long enough for 2,000 segments (and 100 per flow) at
    /// the analytic rate and at least 20 ms, at most 20,000 segments per flow, and at least 20
    /// round trips. A budget of kernel events can end it early.
    pub measure_ns: Option<u64>,
}

impl StreamConfig {
    pub fn flows(flows: u32) -> Self {
        StreamConfig {
            flows,
            ..Default::default()
        }
    }

    /// The warm-up and measurement durations for `pipe`.
    pub fn durations(&self, pipe: &Pipeline) -> (u64, u64) {
        let flows = self.flows.max(1) as f64;
        let total_gbps = pipe.steady(self.flows.max(1)).goodput_gbps.max(1e-3);
        let rtt = pipe.bulk_rtt_ns();
        // Goodput counts whole segments: ±1 at each edge of 2,000 is ±0.1 %; with many flows
        // each flow's edges matter less, so 100 segments per flow on top suffice.
        let segs = |n: f64| n * pipe.seg_bytes as f64 * 8.0 / total_gbps;
        let auto = segs(2_000f64.max(100.0 * flows))
            .max(20e6)
            .min(segs(20_000.0 * flows))
            .max(20.0 * rtt)
            .clamp(1e3, 1e13) as u64;
        let measure = self.measure_ns.unwrap_or(auto).max(1);
        // Slow start (about log2(window / initial window) round trips, slower with delayed
        // ACKs) and the queues behind the bottleneck (ten windows at the flow's rate) settle
        // before measuring; measuring a backlog still building overstates goodput.
        let window_ns = pipe.tcp_rwnd_bytes as f64 * 8.0 * flows / total_gbps;
        let settle = (10.0 * window_ns).min(2e9).max(30.0 * rtt).min(1e13) as u64;
        (self.warmup_ns.unwrap_or((measure / 4).max(settle)), measure)
    }
}

/// CPU spent in one stage during the measurement.
#[derive(Clone, Debug, Serialize)]
pub struct StageCpu {
    pub stage: &'static str,
    pub role: Role,
    /// CPU seconds per gigabit of goodput.
    pub cpu_s_per_gbit: f64,
}

/// The result of a stream test.
#[derive(Clone, Debug, Serialize)]
pub struct StreamResult {
    /// All flows together: payload delivered to the receiving applications in the window.
    pub goodput_gbps: f64,
    pub per_flow_gbps: Vec<f64>,
    /// Data packets delivered per second (payload packets of MSS size, all flows).
    pub packets_per_s: f64,
    /// Wire packets dropped (qdisc or receive ring) during the measurement.
    pub drops: u64,
    /// Loss events signalled to senders (each lost segment is sent again as new data).
    pub lost_segments: u64,
    /// CPU seconds per gigabit, both hosts, all stages (NaN when nothing was delivered).
    pub cpu_s_per_gbit: f64,
    pub sender_cpu_s_per_gbit: f64,
    pub receiver_cpu_s_per_gbit: f64,
    pub stages: Vec<StageCpu>,
    /// Stage traversals simulated (warm-up included).
    pub stage_events: u64,
    /// Kernel events handled.
    pub events: u64,
}

/// Latency percentiles of a request/response test (NaN if no exchange finished within the
/// simulated horizon of 10^17 ns).
#[derive(Clone, Debug, Serialize)]
pub struct RrResult {
    /// Exchanges completed.
    pub transactions: u32,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub mean_us: f64,
    pub stage_events: u64,
}

const WIRE: u32 = u32::MAX;

/// The random-loss stream's seed.
const LOSS_SEED: u64 = 0x6c6f_7373;

/// The seed of the pauses between loaded request/response exchanges.
const GAP_SEED: u64 = 0x6761_7073;

/// Kernel events one stream test may handle (about two seconds of wall time).
const EVENT_BUDGET: u64 = 40_000_000;

/// Request/response tests stop here (about three years of simulated time): only profiles with
/// absurd costs get there, and their percentiles come out NaN rather than overflowing time.
const RR_HORIZON_NS: u64 = 100_000_000_000_000_000;

#[derive(Clone, Debug)]
struct Hop {
    res: u32,
    /// Costs of the stages of this hop, summed: busy and on-path parts, per unit/packet/byte.
    busy: [f64; 3],
    path: [f64; 3],
    /// Stage indices into the pipeline's table (for CPU accounting).
    stages: Vec<u16>,
    /// The first receive hop: bounded by the receive ring.
    rx_ring: bool,
    /// Serialisation on a NIC (bits per ns), instead of CPU stages.
    nic_gbps: f64,
    /// Spawns the TX-completion unit when the data leaves this hop.
    spawns_txdone: bool,
}

impl Hop {
    fn cost(c: &[f64; 3], pkts: u32, bytes: u32) -> u64 {
        (c[0] + c[1] * pkts as f64 + c[2] * bytes as f64).round() as u64
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Data,
    TxDone,
    Ack,
    Request,
    Response,
}

#[derive(Clone, Copy)]
struct Unit {
    flow: u32,
    kind: Kind,
    pkts: u32,
    bytes: u32,
    sent_at: u64,
}

#[derive(Clone, Copy)]
enum Ev {
    Hop {
        unit: u32,
        hop: u16,
    },
    Loss {
        flow: u32,
        bytes: u32,
        sent_at: u64,
    },
    /// The sending application's write returned: it may write again.
    AppFree {
        flow: u32,
    },
    /// The receiver's delayed-ACK timer, armed when ACK number `gen` was the last sent.
    DelayedAck {
        flow: u32,
        gen: u64,
    },
    StartMeasure,
    /// The next request/response exchange begins.
    NextRequest,
}

struct Resource {
    free_at: u64,
    /// A worker pool: the cores (resource indices) its work may run on, earliest free first.
    /// Empty for a core or a NIC.
    cores: Vec<u32>,
    /// (start time, packets) of units admitted and not yet started, for bounded queues.
    waiting: VecDeque<(u64, u32)>,
    /// Sum of the packets in `waiting`.
    waiting_total: u64,
    /// (start, end) of the units a NIC behind fq_codel transmits, oldest first, for a sparse
    /// flow to find the end of the one on the wire.
    serving: VecDeque<(u64, u64)>,
}

struct Flow {
    cc: Controller,
    /// When the newest data delivered was sent: its ACKs carry it back (the RTT sample).
    newest_sent_at: u64,
    /// Sent and neither acknowledged nor known lost.
    inflight: u64,
    /// Sent and neither delivered nor dropped.
    in_network: u64,
    /// Delivered and not yet acknowledged.
    unacked: u64,
    ack_credit: f64,
    /// Segments sent before this time belong to the loss event already reacted to.
    recovery_from: u64,
    delivered_measured: u64,
    /// The application is inside a write (a blocking sender writes one segment at a time).
    app_busy: bool,
    /// ACKs sent so far (the delayed-ACK timer checks that none was sent since it was armed).
    acks_sent: u64,
    /// Bytes in the local qdisc and NIC, held under `tcp_limit_output_bytes` (TSQ).
    local_bytes: u64,
    /// A delayed-ACK timer is pending.
    delack_armed: bool,
    /// Its queue's CoDel state behind fq_codel.
    codel: Codel,
    /// Smoothed round trip (RFC 6298's 1/8 gain), ns; 0 before the first sample.
    srtt_ns: f64,
}

struct Engine<'a> {
    pipe: &'a Pipeline,
    res: Vec<Resource>,
    routes: Routes,
    flows: Vec<Flow>,
    units: Vec<Unit>,
    free_units: Vec<u32>,
    measuring: bool,
    stage_units: Vec<u64>,
    stage_pkts: Vec<u64>,
    stage_bytes: Vec<u64>,
    stage_events: u64,
    drops: u64,
    losses: u64,
    wire_packets: u64,
    delayed_ack_ns: u64,
    tso_win_divisor: f64,
    prop: u64,
    rwnd: f64,
    rr_left: u32,
    rr_start: u64,
    rr_samples: Vec<u64>,
    /// Mean pause between exchanges, ns (0: back to back).
    rr_gap_mean_ns: f64,
    /// The pauses' own stream, so that they leave the loss stream alone.
    gap_rng: rand_chacha::ChaCha8Rng,
    /// The path's random loss: one stream per run, from a fixed seed (same inputs, same
    /// losses).
    rng: rand_chacha::ChaCha8Rng,
}

/// Resource indices: cores of host 0, cores of host 1 (unless both are one machine), the two
/// hosts' worker pools (which run on those cores), the two NICs.
struct Placement {
    threads: u32,
    pools: [u32; 2],
    nics: [u32; 2],
}

impl Placement {
    fn resource(&self, pipe: &Pipeline, role: Role, f: u32, tx_host: u32) -> u32 {
        match pipe.placement(role, f, tx_host) {
            crate::pipeline::Placement::Core { host, index } => host * self.threads + index,
            crate::pipeline::Placement::Pool { host } => self.pools[host as usize],
        }
    }
}

impl Resource {
    /// Forgets the waiting units that have started by `now`.
    fn drain_started(&mut self, now: u64) {
        while let Some(&(s, p)) = self.waiting.front() {
            if s > now {
                break;
            }
            self.waiting.pop_front();
            self.waiting_total -= p as u64;
        }
    }
}

/// How many units may wait at hop `h`: both qdiscs count a data segment's skb (Linux's
/// `qlen`: a GSO skb is one), the receive ring (and flanneld's socket, the per-peer queue) its
/// wire packets; other hops are unbounded. fq_codel's 32 MB memory limit is not modeled: TCP
/// Small Queues keeps the qdisc far below it.
fn queue_bound(pipe: &Pipeline, h: &Hop, kind: Kind) -> Option<u64> {
    if h.rx_ring {
        Some(pipe.rx_ring_packets as u64)
    } else if h.nic_gbps > 0.0 && kind == Kind::Data {
        Some(match pipe.qdisc {
            Qdisc::Pfifo => pipe.qdisc_limit_skbs as u64,
            Qdisc::FqCodel => pipe.fq_codel_limit_packets as u64,
        })
    } else {
        None
    }
}

/// What one unit counts against a bounded queue: one skb in a qdisc, else its packets.
fn queue_need(is_nic: bool, pkts: u32) -> u64 {
    if is_nic {
        1
    } else {
        pkts as u64
    }
}

/// TCP Small Queues' limit on one socket's bytes in the qdisc and NIC, as Linux's
/// `tcp_small_queue_check` sets it for an unpaced socket: about a millisecond at its pacing
/// rate (`sk_pacing_rate >> sk_pacing_shift`, shift 10) but at least two segments, then at
/// most `tcp_limit_output_bytes` (a socket with nothing queued may always send one). The pacing rate is `tcp_update_pacing_rate`'s: the
/// window per smoothed round trip, doubled in slow start (below half of ssthresh), else × 1.2.
/// Before the first round trip is measured only the sysctl bounds it.
fn tsq_limit(pipe: &Pipeline, fl: &Flow) -> u64 {
    let seg = pipe.seg_bytes as u64;
    let sysctl = pipe.tcp_limit_output_bytes;
    let limit = if fl.srtt_ns > 0.0 {
        let cwnd = fl.cc.cwnd();
        let ratio = if cwnd < fl.cc.ssthresh() / 2.0 {
            2.0
        } else {
            1.2
        };
        let bytes_per_s = ratio * cwnd / (fl.srtt_ns / 1e9);
        ((bytes_per_s / 1024.0) as u64).max(2 * seg)
    } else {
        u64::MAX
    };
    limit.min(sysctl)
}

/// The resource that serves work sent to `res`: itself, or for a worker pool the host core that
/// frees up first (lowest index on a tie).
fn target_core(res: &[Resource], r: u32, now: u64) -> u32 {
    res[r as usize]
        .cores
        .iter()
        .copied()
        .min_by_key(|&c| (res[c as usize].free_at.max(now), c))
        .unwrap_or(r)
}

fn empty_hop(res: u32, nic_gbps: f64) -> Hop {
    Hop {
        res,
        busy: [0.0; 3],
        path: [0.0; 3],
        stages: Vec::new(),
        rx_ring: false,
        nic_gbps,
        spawns_txdone: false,
    }
}

/// Groups consecutive stages on one resource into hops. Where the path leaves the side for which
/// `before_wire` holds, the NIC (`nic`, if the platform has a link) and the wire are inserted,
/// and the next hop is bounded by the receive ring if `rx_ring`.
#[allow(clippy::too_many_arguments)]
fn route(
    pipe: &Pipeline,
    place: &Placement,
    stages: &[(u16, &Stage)],
    f: u32,
    tx_host: u32,
    nic: Option<u32>,
    before_wire: impl Fn(Role) -> bool,
    rx_ring: bool,
) -> Vec<Hop> {
    let mut hops: Vec<Hop> = Vec::new();
    let mut crossed = false;
    for &(i, s) in stages {
        let mut fresh = false;
        if !crossed && !before_wire(s.role) {
            crossed = true;
            fresh = true;
            if let (Some(nic), true) = (nic, pipe.has_link()) {
                hops.push(empty_hop(nic, pipe.platform.link_gbps));
            }
            if pipe.platform.propagation_ns > 0 || pipe.platform.loss > 0.0 {
                hops.push(empty_hop(WIRE, 0.0));
            }
        }
        let res = place.resource(pipe, s.role, f, tx_host);
        if fresh || hops.last().is_none_or(|h| h.res != res) {
            let mut h = empty_hop(res, 0.0);
            // The NIC ring, flanneld's UDP socket and the per-peer crypto queue are bounded.
            h.rx_ring = rx_ring && (fresh || matches!(s.role, Role::RecvDaemon | Role::RecvCrypto));
            hops.push(h);
        }
        let h = hops.last_mut().expect("pushed above");
        for (acc, share) in [(&mut h.busy, s.busy), (&mut h.path, s.on_path)] {
            acc[0] += s.per_unit_ns * share;
            acc[1] += s.per_packet_ns * share;
            acc[2] += s.per_byte_ns * share;
        }
        h.stages.push(i);
    }
    hops
}

struct Routes {
    data: Vec<Vec<Hop>>,
    txdone: Vec<Vec<Hop>>,
    ack: Vec<Vec<Hop>>,
    request: Vec<Hop>,
    response: Vec<Hop>,
}

fn hops_of<'r>(routes: &'r Routes, u: &Unit) -> &'r [Hop] {
    let f = u.flow as usize;
    match u.kind {
        Kind::Data => &routes.data[f],
        Kind::TxDone => &routes.txdone[f],
        Kind::Ack => &routes.ack[f],
        Kind::Request => &routes.request,
        Kind::Response => &routes.response,
    }
}

impl<'a> Engine<'a> {
    /// An engine for `flows` bulk flows; request/response messages are placed as flow
    /// `rr_flow` (on that flow's cores).
    fn new(pipe: &'a Pipeline, flows: u32, rr_flow: u32) -> Self {
        let veth = pipe.platform.underlay == crate::profile::Underlay::Veth;
        let threads = pipe.threads.max(1);
        let hosts = if veth { 1 } else { 2 };
        let single = || Resource {
            free_at: 0,
            cores: Vec::new(),
            waiting: VecDeque::new(),
            waiting_total: 0,
            serving: VecDeque::new(),
        };
        let mut res: Vec<Resource> = (0..hosts * threads).map(|_| single()).collect();
        let base = res.len() as u32;
        for host in 0..2 {
            let host = host.min(hosts - 1);
            res.push(Resource {
                cores: (host * threads..(host + 1) * threads).collect(),
                ..single()
            });
        }
        res.push(single());
        res.push(single());
        let place = Placement {
            threads,
            pools: [base, base + 1],
            nics: [base + 2, base + 3],
        };
        let indexed = |t: Trigger| -> Vec<(u16, &Stage)> {
            pipe.stages
                .iter()
                .enumerate()
                .filter(|(_, s)| s.trigger == t)
                .map(|(i, s)| (i as u16, s))
                .collect()
        };
        let data_st = indexed(Trigger::Data);
        let txd_st = indexed(Trigger::TxDone);
        let ack_st = indexed(Trigger::Ack);
        let sender = |r: Role| r.on_sender();
        let receiver = |r: Role| !r.on_sender();
        let mut routes = Routes {
            data: Vec::new(),
            txdone: Vec::new(),
            ack: Vec::new(),
            request: Vec::new(),
            response: Vec::new(),
        };
        for f in 0..flows {
            let mut data = route(
                pipe,
                &place,
                &data_st,
                f,
                0,
                Some(place.nics[0]),
                sender,
                true,
            );
            // A segment that has left the link stops counting against TCP Small Queues: on a
            // NIC at its TX completion (a stage of its own), on a veth underlay shaped to a
            // rate when the qdisc hands it to the veth (which orphans the skb; no stage).
            if let Some(h) = data.iter_mut().find(|h| h.nic_gbps > 0.0) {
                h.spawns_txdone = true;
            }
            routes.data.push(data);
            routes
                .txdone
                .push(route(pipe, &place, &txd_st, f, 0, None, sender, false));
            // ACKs leave the data receiver (host 1, `Recv*` roles) for the data sender.
            routes.ack.push(route(
                pipe,
                &place,
                &ack_st,
                f,
                0,
                Some(place.nics[1]),
                receiver,
                false,
            ));
        }
        let rr: Vec<(u16, &Stage)> = pipe
            .rr_stages
            .iter()
            .enumerate()
            .map(|(i, s)| (i as u16, s))
            .collect();
        let f = rr_flow;
        routes.request = route(pipe, &place, &rr, f, 0, Some(place.nics[0]), sender, false);
        routes.response = route(pipe, &place, &rr, f, 1, Some(place.nics[1]), sender, false);
        let n = pipe.stages.len().max(pipe.rr_stages.len());
        Engine {
            pipe,
            res,
            routes,
            flows: (0..flows)
                .map(|_| Flow {
                    cc: Controller::new(
                        pipe.congestion,
                        pipe.cubic,
                        pipe.mss as f64,
                        pipe.tcp_initial_cwnd_bytes as f64,
                        pipe.tcp_rwnd_bytes as f64,
                    ),
                    newest_sent_at: 0,
                    inflight: 0,
                    in_network: 0,
                    unacked: 0,
                    ack_credit: 0.0,
                    recovery_from: 0,
                    delivered_measured: 0,
                    app_busy: false,
                    acks_sent: 0,
                    local_bytes: 0,
                    delack_armed: false,
                    codel: Codel::default(),
                    srtt_ns: 0.0,
                })
                .collect(),
            units: Vec::new(),
            free_units: Vec::new(),
            measuring: false,
            stage_units: vec![0; n],
            stage_pkts: vec![0; n],
            stage_bytes: vec![0; n],
            stage_events: 0,
            drops: 0,
            losses: 0,
            wire_packets: 0,
            delayed_ack_ns: pipe.tcp_delayed_ack_ns,
            tso_win_divisor: pipe.tcp_tso_win_divisor as f64,
            prop: pipe.platform.propagation_ns,
            rng: rand::SeedableRng::seed_from_u64(LOSS_SEED),
            rwnd: pipe.tcp_rwnd_bytes as f64,
            rr_left: 0,
            rr_start: 0,
            rr_samples: Vec::new(),
            rr_gap_mean_ns: 0.0,
            gap_rng: rand::SeedableRng::seed_from_u64(GAP_SEED),
        }
    }

    fn alloc(&mut self, u: Unit) -> u32 {
        match self.free_units.pop() {
            Some(i) => {
                self.units[i as usize] = u;
                i
            }
            None => {
                self.units.push(u);
                self.units.len() as u32 - 1
            }
        }
    }

    fn start(&mut self, k: &mut Kernel<Ev>, u: Unit) {
        let i = self.alloc(u);
        k.schedule_in(SimDuration(0), Ev::Hop { unit: i, hop: 0 });
    }

    /// Writes the next segment if the application is free and the windows allow. Like Linux's
    /// TSO deferral (`tcp_tso_should_defer`), a partial segment goes out only when it fills at
    /// least 1/`tcp_tso_win_divisor` of the window, or nothing else is in flight.
    fn try_send(&mut self, k: &mut Kernel<Ev>, f: u32) {
        let mss = self.pipe.mss as u64;
        let seg = self.pipe.seg_bytes as u64;
        let link = self.pipe.has_link();
        let fl = &mut self.flows[f as usize];
        let tsq = tsq_limit(self.pipe, fl);
        // TCP Small Queues: a socket waits while its bytes in the qdisc and NIC reach the limit.
        if fl.app_busy || (link && fl.local_bytes > 0 && fl.local_bytes + seg.min(tsq) > tsq) {
            return;
        }
        let window = fl.cc.cwnd().min(self.rwnd) as u64;
        let room = window.saturating_sub(fl.inflight);
        let bytes = if room >= seg {
            seg
        } else if fl.inflight == 0
            || (room >= mss && room as f64 >= window as f64 / self.tso_win_divisor)
        {
            (room / mss * mss).max(mss)
        } else {
            return;
        };
        fl.inflight += bytes;
        fl.in_network += bytes;
        fl.app_busy = true;
        if link {
            fl.local_bytes += bytes;
        }
        let now = k.now().as_nanos();
        self.start(
            k,
            Unit {
                flow: f,
                kind: Kind::Data,
                pkts: bytes.div_ceil(mss) as u32,
                bytes: bytes as u32,
                sent_at: now,
            },
        );
    }

    fn hop(&mut self, k: &mut Kernel<Ev>, ui: u32, hi: u16) {
        let now = k.now().as_nanos();
        if !self.admit(k, ui, hi) || !self.survive_wire(k, ui, hi) {
            return;
        }
        let u = self.units[ui as usize];
        if u.kind == Kind::TxDone && hi == 0 {
            // The segment has left the NIC: its bytes no longer count against TCP Small Queues.
            self.flows[u.flow as usize].local_bytes -= u.bytes as u64;
            self.try_send(k, u.flow);
        }
        let hops = hops_of(&self.routes, &u);
        let Some(h) = hops.get(hi as usize) else {
            self.finish(k, ui);
            return;
        };
        let is_nic = h.nic_gbps > 0.0;
        let (busy, path) = if is_nic {
            let wire = if u.kind == Kind::Ack {
                self.pipe.wire_bytes_per_ack as u64
            } else {
                u.bytes as u64
                    + u.pkts as u64 * (self.pipe.wire_bytes_per_pkt - self.pipe.mss) as u64
            };
            let t = (wire as f64 * 8.0 / h.nic_gbps).round().max(1.0) as u64;
            (t, t)
        } else if h.res == WIRE {
            (0, self.prop)
        } else {
            // No work is free: at least 1 ns per hop keeps simulated time moving even with a
            // profile of zero costs.
            (
                Hop::cost(&h.busy, u.pkts, u.bytes).max(1),
                Hop::cost(&h.path, u.pkts, u.bytes).max(1),
            )
        };
        let next = if h.res == WIRE {
            now.saturating_add(path)
        } else {
            let limit = queue_bound(self.pipe, h, u.kind);
            let need = queue_need(is_nic, u.pkts);
            let fq = is_nic && self.pipe.qdisc == Qdisc::FqCodel;
            // fq_codel serves a new flow (a request or response message, nothing else queued)
            // before the bulk flows' backlog: its first quantum waits only for the unit on the
            // wire. What is left of a longer message joins the old flows' round (RFC 8290 §4),
            // where deficits count bytes: a bulk flow that sent a 64 KiB skb owes some 43
            // quanta, so in the round the rest of a request (which travels the bulk data's
            // way) is passed by about one skb. The message is not charged to the link's
            // schedule, which lets the link carry it beyond its rate (under 1 % of a 10 Gb/s
            // link at 10,000 exchanges of 1 KiB per second).
            let sparse = fq && matches!(u.kind, Kind::Request | Kind::Response);
            let round = if sparse
                && u.pkts > 1
                && u.kind == Kind::Request
                && self.flows.iter().any(|f| f.local_bytes > 0)
            {
                let skb = self.pipe.seg_bytes as u64
                    + self.pipe.pkts_per_seg as u64
                        * (self.pipe.wire_bytes_per_pkt - self.pipe.mss) as u64;
                (skb as f64 * 8.0 / h.nic_gbps).round() as u64
            } else {
                0
            };
            // A worker pool's work runs on whichever of its host's cores frees up first.
            let target = target_core(&self.res, h.res, now);
            let r = &mut self.res[target as usize];
            if limit.is_some() {
                r.drain_started(now);
            }
            if fq {
                while r.serving.front().is_some_and(|&(_, end)| end <= now) {
                    r.serving.pop_front();
                }
            }
            let start = if sparse {
                r.serving
                    .front()
                    .filter(|&&(s, _)| s <= now)
                    .map_or(now, |&(_, end)| end)
                    .saturating_add(round)
            } else {
                now.max(r.free_at)
            };
            if !sparse {
                r.free_at = start.saturating_add(busy);
                if fq {
                    r.serving.push_back((start, r.free_at));
                }
            }
            if limit.is_some() && start > now {
                r.waiting.push_back((start, need as u32));
                r.waiting_total += need;
            }
            start.saturating_add(path)
        };
        self.stage_events += h.stages.len() as u64;
        if self.measuring {
            for &s in &h.stages {
                self.stage_units[s as usize] += 1;
                self.stage_pkts[s as usize] += u.pkts as u64;
                self.stage_bytes[s as usize] += u.bytes as u64;
            }
        }
        if hi == 0 && u.kind == Kind::Data {
            let free = next.saturating_sub(path).saturating_add(busy);
            k.schedule_at(SimTime::from_nanos(free), Ev::AppFree { flow: u.flow });
        }
        if h.spawns_txdone {
            let t = self.alloc(Unit {
                kind: Kind::TxDone,
                ..u
            });
            k.schedule_at(SimTime::from_nanos(next), Ev::Hop { unit: t, hop: 0 });
        }
        k.schedule_at(
            SimTime::from_nanos(next),
            Ev::Hop {
                unit: ui,
                hop: hi + 1,
            },
        );
    }

    /// The path's random loss, on the wire: a segment of n packets loses one with probability
    /// 1 − (1 − loss)ⁿ (two in one segment are rare at the small rates this models). Returns
    /// whether any of the unit goes on.
    fn survive_wire(&mut self, k: &mut Kernel<Ev>, ui: u32, hi: u16) -> bool {
        use rand::Rng;
        let loss = self.pipe.platform.loss;
        let mut u = self.units[ui as usize];
        if loss <= 0.0 || u.kind != Kind::Data {
            return true;
        }
        if hops_of(&self.routes, &u)
            .get(hi as usize)
            .is_none_or(|h| h.res != WIRE)
        {
            return true;
        }
        let p = 1.0 - (1.0 - loss).powi(u.pkts as i32);
        if self.rng.random::<f64>() >= p {
            return true;
        }
        let lost = (self.pipe.mss).min(u.bytes);
        self.lose(k, u.flow, lost, 1, u.sent_at);
        if u.pkts <= 1 {
            self.free_units.push(ui);
            return false;
        }
        u.pkts -= 1;
        u.bytes -= lost;
        self.units[ui as usize] = u;
        true
    }

    /// Bounded queues: the qdisc takes or drops whole skbs; the receive ring, flanneld's
    /// socket and the per-peer queue take the packets of a segment that fit and drop the rest.
    /// An empty queue always takes the unit, however small the bound (a ring holds at least one
    /// GRO batch, and a drop into an idle queue could repeat forever). Behind fq_codel, CoDel
    /// drops whole skbs of a flow whose packets wait too long, judged on the wait this one will
    /// have. Returns whether any of the unit goes on.
    fn admit(&mut self, k: &mut Kernel<Ev>, ui: u32, hi: u16) -> bool {
        let now = k.now().as_nanos();
        let mut u = self.units[ui as usize];
        if u.kind != Kind::Data {
            return true;
        }
        let Some(h) = hops_of(&self.routes, &u).get(hi as usize) else {
            return true;
        };
        let is_nic = h.nic_gbps > 0.0;
        let Some(limit) = queue_bound(self.pipe, h, u.kind) else {
            return true;
        };
        let target = target_core(&self.res, h.res, now);
        let r = &mut self.res[target as usize];
        r.drain_started(now);
        let need = queue_need(is_nic, u.pkts);
        let fits = r.waiting_total == 0 || r.waiting_total + need <= limit;
        if fits && !(is_nic && self.pipe.qdisc == Qdisc::FqCodel) {
            return true;
        }
        if fits {
            let start = now.max(r.free_at);
            let fl = &mut self.flows[u.flow as usize];
            // The flow's backlog behind this skb, against the device MTU with its Ethernet
            // header (Linux's `psched_mtu`).
            let mtu = self.pipe.platform.mtu as u64 + 14;
            let behind = fl.local_bytes.saturating_sub(u.bytes as u64);
            if !fl
                .codel
                .on_dequeue(&self.pipe.codel, start, start - now, behind, mtu)
            {
                return true;
            }
        }
        let room = limit.saturating_sub(r.waiting_total);
        let keep_pkts = if is_nic { 0 } else { room.min(need) as u32 };
        let keep_bytes = (keep_pkts as u64 * self.pipe.mss as u64).min(u.bytes as u64) as u32;
        let lost_bytes = u.bytes - keep_bytes;
        let lost_pkts = u.pkts - keep_pkts;
        if is_nic {
            self.flows[u.flow as usize].local_bytes -= u.bytes as u64;
        }
        if lost_bytes > 0 {
            self.lose(k, u.flow, lost_bytes, lost_pkts, u.sent_at);
        }
        if keep_pkts == 0 {
            self.free_units.push(ui);
            return false;
        }
        u.pkts = keep_pkts;
        u.bytes = keep_bytes;
        self.units[ui as usize] = u;
        true
    }

    /// Packets dropped from a flow's data. The sender learns of it from duplicate ACKs one
    /// round of propagation later if more of its data is on the way, else only from a tail-loss
    /// probe: RFC 8985's probe timeout, two round trips, at least the profile's floor.
    fn lose(&mut self, k: &mut Kernel<Ev>, flow: u32, bytes: u32, pkts: u32, sent_at: u64) {
        if self.measuring {
            self.drops += pkts as u64;
        }
        let fl = &mut self.flows[flow as usize];
        fl.in_network -= bytes as u64;
        let delay = if fl.in_network > 0 {
            2 * self.prop
        } else {
            ((2.0 * self.pipe.bulk_rtt_ns()) as u64).max(self.pipe.tcp_tail_loss_probe_min_ns)
        };
        k.schedule_in(
            SimDuration(delay),
            Ev::Loss {
                flow,
                bytes,
                sent_at,
            },
        );
    }

    fn finish(&mut self, k: &mut Kernel<Ev>, ui: u32) {
        let u = self.units[ui as usize];
        self.free_units.push(ui);
        let f = u.flow as usize;
        let now = k.now().as_nanos();
        match u.kind {
            Kind::TxDone => {}
            Kind::Data => {
                let acks = self.pipe.acks_per_seg * u.pkts as f64 / self.pipe.pkts_per_seg as f64;
                let fl = &mut self.flows[f];
                fl.in_network -= u.bytes as u64;
                fl.newest_sent_at = fl.newest_sent_at.max(u.sent_at);
                if self.measuring {
                    fl.delivered_measured += u.bytes as u64;
                    self.wire_packets += u.pkts as u64;
                }
                fl.unacked += u.bytes as u64;
                fl.ack_credit += acks;
                let mut n = fl.ack_credit.floor() as u64;
                // Quick ACK when nothing else is on its way (the delayed-ACK timer would fire).
                if n == 0 && fl.in_network == 0 {
                    n = 1;
                }
                if n == 0 {
                    // A safety net like Linux's delayed-ACK timer: if no ACK leaves before it
                    // fires, it acknowledges what has arrived. One timer per flow is pending.
                    if !fl.delack_armed {
                        fl.delack_armed = true;
                        let gen = fl.acks_sent;
                        k.schedule_in(
                            SimDuration(self.delayed_ack_ns),
                            Ev::DelayedAck { flow: u.flow, gen },
                        );
                    }
                    return;
                }
                fl.ack_credit = (fl.ack_credit - n as f64).max(0.0);
                self.send_acks(k, u.flow, n);
            }
            Kind::Ack => {
                let fl = &mut self.flows[f];
                fl.inflight = fl.inflight.saturating_sub(u.bytes as u64);
                // An ACK carries when the newest data it acknowledges was sent.
                let rtt = now.saturating_sub(u.sent_at);
                fl.srtt_ns = if fl.srtt_ns == 0.0 {
                    rtt as f64
                } else {
                    0.875 * fl.srtt_ns + 0.125 * rtt as f64
                };
                fl.cc.on_ack(now, u.bytes as f64, Some(rtt));
                self.try_send(k, u.flow);
            }
            Kind::Request => self.start(
                k,
                Unit {
                    kind: Kind::Response,
                    ..u
                },
            ),
            Kind::Response => {
                self.rr_samples.push(now - self.rr_start);
                self.rr_left -= 1;
                if self.rr_left > 0 && self.rr_gap_mean_ns > 0.0 {
                    use rand::Rng;
                    // An exponential pause: requests then see the queues at random moments.
                    let u: f64 = self.gap_rng.random();
                    let gap = -self.rr_gap_mean_ns * (1.0 - u).ln();
                    k.schedule_in(SimDuration(gap.round() as u64), Ev::NextRequest);
                } else if self.rr_left > 0 {
                    self.start_request(k);
                } else {
                    k.stop();
                }
            }
        }
    }

    /// The receiver acknowledges everything it has, in `n` ACKs.
    fn send_acks(&mut self, k: &mut Kernel<Ev>, flow: u32, n: u64) {
        let fl = &mut self.flows[flow as usize];
        let total = fl.unacked;
        let sent_at = fl.newest_sent_at;
        fl.unacked = 0;
        fl.acks_sent += n;
        for i in 0..n {
            let share = total / n + u64::from(i < total % n);
            self.start(
                k,
                Unit {
                    flow,
                    kind: Kind::Ack,
                    pkts: 1,
                    bytes: share.min(u32::MAX as u64) as u32,
                    sent_at,
                },
            );
        }
    }

    fn start_request(&mut self, k: &mut Kernel<Ev>) {
        self.rr_start = k.now().as_nanos();
        let pkts = self.pipe.rr_packets();
        let u = self.alloc(Unit {
            flow: 0,
            kind: Kind::Request,
            pkts,
            bytes: self.pipe.msg_size,
            sent_at: self.rr_start,
        });
        k.schedule_in(SimDuration(0), Ev::Hop { unit: u, hop: 0 });
    }

    fn loss(&mut self, k: &mut Kernel<Ev>, f: u32, bytes: u32, sent_at: u64) {
        let fl = &mut self.flows[f as usize];
        fl.inflight = fl.inflight.saturating_sub(bytes as u64);
        if self.measuring {
            self.losses += 1;
        }
        // One reduction per loss event: losses of segments sent before the last reduction are
        // part of the same event.
        if sent_at >= fl.recovery_from {
            let now = k.now().as_nanos();
            fl.cc.on_loss(now);
            fl.recovery_from = now;
        }
        self.try_send(k, f);
    }
}

impl Handler<Ev> for Engine<'_> {
    fn handle(&mut self, k: &mut Kernel<Ev>, ev: Ev) {
        match ev {
            Ev::Hop { unit, hop } => self.hop(k, unit, hop),
            Ev::Loss {
                flow,
                bytes,
                sent_at,
            } => self.loss(k, flow, bytes, sent_at),
            Ev::AppFree { flow } => {
                self.flows[flow as usize].app_busy = false;
                self.try_send(k, flow);
            }
            Ev::DelayedAck { flow, gen } => {
                let delay = self.delayed_ack_ns;
                let fl = &mut self.flows[flow as usize];
                fl.delack_armed = false;
                if fl.unacked == 0 {
                    return;
                }
                if fl.acks_sent == gen {
                    self.send_acks(k, flow, 1);
                } else {
                    // ACKs left since the timer was armed: restart it for what arrived since.
                    fl.delack_armed = true;
                    let gen = fl.acks_sent;
                    k.schedule_in(SimDuration(delay), Ev::DelayedAck { flow, gen });
                }
            }
            Ev::StartMeasure => {
                self.measuring = true;
            }
            Ev::NextRequest => self.start_request(k),
        }
    }
}

/// Runs `cfg.flows` bulk TCP flows from one host to another over `pipe`.
pub fn stream(pipe: &Pipeline, cfg: &StreamConfig) -> StreamResult {
    let flows = cfg.flows.max(1);
    let (warmup_ns, measure_ns) = cfg.durations(pipe);
    let mut e = Engine::new(pipe, flows, 0);
    let mut k: Kernel<Ev> = Kernel::with_capacity(1024);
    k.schedule_at(SimTime::from_nanos(warmup_ns), Ev::StartMeasure);
    for f in 0..flows {
        e.try_send(&mut k, f);
    }
    // An event budget bounds the run whatever the profile: the measurement then ends early
    // and covers the time it ran.
    let end = warmup_ns.saturating_add(measure_ns);
    let step = (measure_ns / 64).max(1);
    let mut at = warmup_ns.min(end);
    let mut events = k.run(&mut e, SimTime::from_nanos(at)).events;
    while at < end && events < EVENT_BUDGET {
        at = at.saturating_add(step).min(end);
        events += k.run(&mut e, SimTime::from_nanos(at)).events;
    }
    let measured_ns = at.saturating_sub(warmup_ns).max(1);

    let secs = measured_ns as f64 / 1e9;
    let per_flow_gbps: Vec<f64> = e
        .flows
        .iter()
        .map(|f| f.delivered_measured as f64 * 8.0 / secs / 1e9)
        .collect();
    let goodput_gbps: f64 = per_flow_gbps.iter().sum();
    // CPU is charged against what was delivered in the same window.
    let gbits = e.flows.iter().map(|f| f.delivered_measured).sum::<u64>() as f64 * 8.0 / 1e9;
    let per_gbit = |ns: f64| {
        if gbits > 0.0 {
            ns / 1e9 / gbits
        } else {
            f64::NAN
        }
    };
    let mut stages = Vec::new();
    let (mut tx, mut rx) = (0.0, 0.0);
    for (i, s) in pipe.stages.iter().enumerate() {
        let ns = s.per_unit_ns * e.stage_units[i] as f64
            + s.per_packet_ns * e.stage_pkts[i] as f64
            + s.per_byte_ns * e.stage_bytes[i] as f64;
        let cpu = per_gbit(ns * s.busy);
        if s.role.on_sender() {
            tx += cpu;
        } else {
            rx += cpu;
        }
        stages.push(StageCpu {
            stage: s.name,
            role: s.role,
            cpu_s_per_gbit: cpu,
        });
    }
    StreamResult {
        goodput_gbps,
        per_flow_gbps,
        packets_per_s: e.wire_packets as f64 / secs,
        drops: e.drops,
        lost_segments: e.losses,
        cpu_s_per_gbit: tx + rx,
        sender_cpu_s_per_gbit: tx,
        receiver_cpu_s_per_gbit: rx,
        stages,
        stage_events: e.stage_events,
        events,
    }
}

/// Runs `transactions` request/response exchanges of `msg_size` bytes, one at a time, on an
/// otherwise idle path.
pub fn request_response(pipe: &Pipeline, transactions: u32) -> RrResult {
    let mut e = Engine::new(pipe, 1, 0);
    e.rr_left = transactions.max(1);
    let mut k: Kernel<Ev> = Kernel::with_capacity(64);
    e.start_request(&mut k);
    k.run(&mut e, SimTime::from_nanos(RR_HORIZON_NS));
    rr_result(&mut e)
}

/// Latency under load: `transactions` request/response exchanges, one at a time, while
/// `bulk_flows` bulk TCP flows run in the same direction as the requests (from their warm-up
/// on, so their queues have built). The messages run on their own cores (as the flow after the
/// bulk ones, which wraps onto a bulk flow's cores once the flows fill the threads, and then
/// the CPU queue counts too) and share the NICs and their queue discipline with the bulk data: behind pfifo a
/// request waits for the whole backlog, behind fq_codel for the skb on the wire. An exchange
/// follows the previous one after an exponential pause with the mean of one idle exchange, so
/// that requests meet the queues at random phases of the bulk flows' cycles (back to back, they
/// would lock onto one phase and every percentile would be the same).
pub fn request_response_loaded(pipe: &Pipeline, transactions: u32, bulk_flows: u32) -> RrResult {
    if bulk_flows == 0 {
        return request_response(pipe, transactions);
    }
    let (warmup_ns, _) = StreamConfig::flows(bulk_flows).durations(pipe);
    let mut e = Engine::new(pipe, bulk_flows, bulk_flows);
    e.rr_left = transactions.max(1);
    e.rr_gap_mean_ns = pipe.rr_rtt_ns().max(1.0);
    let mut k: Kernel<Ev> = Kernel::with_capacity(1024);
    for f in 0..bulk_flows {
        e.try_send(&mut k, f);
    }
    k.run(&mut e, SimTime::from_nanos(warmup_ns));
    e.start_request(&mut k);
    // The bulk flows never end: the last exchange stops the kernel, the event budget bounds
    // a profile too slow to finish them.
    let mut events = 0;
    let step = 10_000_000;
    let mut at = warmup_ns;
    while e.rr_left > 0 && events < EVENT_BUDGET && at < RR_HORIZON_NS {
        at = at.saturating_add(step);
        events += k.run(&mut e, SimTime::from_nanos(at)).events;
    }
    rr_result(&mut e)
}

fn rr_result(e: &mut Engine) -> RrResult {
    let mut s = std::mem::take(&mut e.rr_samples);
    s.sort_unstable();
    let pct = |q: f64| {
        if s.is_empty() {
            return f64::NAN;
        }
        let i = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1;
        s[i] as f64 / 1000.0
    };
    RrResult {
        transactions: s.len() as u32,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        p999_us: pct(0.999),
        mean_us: s.iter().map(|&x| x as f64).sum::<f64>() / s.len() as f64 / 1000.0,
        stage_events: e.stage_events,
    }
}
