//! `orchsim net`: its arguments and printing; the work is `orchsim_app::net` (compare
//! container network datapaths, explain one, show the cost profile, Service proxies' costs) and
//! `orchsim_app::net_policy` (NetworkPolicy reachability).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use orchsim_app::net::{self, CompareRequest, ExplainRequest, NetSetup, ProxyRequest};
use orchsim_app::net_policy::{self, PolicyRequest};
use orchsim_app::Error;

use crate::Format;

#[derive(Args)]
pub struct NetArgs {
    #[command(subcommand)]
    command: NetCommand,
}

#[derive(Subcommand)]
enum NetCommand {
    /// Measure every datapath (goodput, latency percentiles, CPU per gigabit, MTU) against host
    /// networking with the packet-level engine.
    Compare(CompareArgs),
    /// Show one datapath's stage pipeline with each stage's share of the per-packet cost.
    Explain(ExplainArgs),
    /// List the cost profile: every constant with its unit, kind and source, and the platforms.
    Profile(ProfileArgs),
    /// Who may reach whom under a set of Kubernetes NetworkPolicies: the reachability matrix,
    /// the connections each policy allows or denies, the pods reachable from everywhere, and
    /// whether the datapath enforces any of it.
    Policy(PolicyArgs),
    /// What Service load balancing costs: kube-proxy's iptables, nftables and IPVS modes and
    /// Swarm's, per cluster size — rules, a new connection's first packet, sync time.
    Proxy(ProxyArgs),
}

#[derive(Args)]
struct ProxyArgs {
    /// A cost profile (TOML). Default: the compiled-in profile.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Service ports in the cluster, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000,10000,30000")]
    services: Vec<u64>,
    /// Endpoints per Service.
    #[arg(long, default_value_t = 3.0)]
    endpoints: f64,
    /// `all`, or a comma-separated list of iptables, nftables, ipvs, swarm.
    #[arg(long, default_value = "iptables,nftables,ipvs")]
    modes: String,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Args)]
struct PolicyArgs {
    /// NetworkPolicy YAML: files, or directories of *.yaml/*.yml (multi-document streams and
    /// Lists are read; other kinds are listed as skipped). Repeatable.
    #[arg(long, required = true)]
    policies: Vec<PathBuf>,
    /// The pods, as `kubectl get pods,namespaces -o yaml` prints them (or Pod manifests):
    /// name, namespace, labels and status.podIP; Namespace objects give namespace labels.
    #[arg(long)]
    pods: PathBuf,
    /// A port to ask about, e.g. `tcp/80`, `udp/53`, `8080` (TCP). Repeatable. Default: every
    /// port the policies name, plus one they do not (`tcp/other`).
    #[arg(long = "port")]
    ports: Vec<String>,
    /// The datapath the cluster runs: Calico enforces NetworkPolicy, flannel and Docker's
    /// networks do not (the policies are then reported as not enforced).
    #[arg(long, default_value = "calico-bgp")]
    datapath: String,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Args)]
struct Common {
    /// A cost profile (TOML). Default: the compiled-in profile (`orchsim net profile`).
    #[arg(long)]
    profile: Option<PathBuf>,
    /// The machine to model, from the profile's platforms. Default: the profile's default
    /// (reference-10g: the reference CPU with a 10 GbE NIC).
    #[arg(long)]
    platform: Option<String>,
    /// Link rate, e.g. `10g`, `40g`, `100g`, `2.5g`, `500m` (a bare number is Gb/s).
    /// Default: the platform's.
    #[arg(long)]
    link: Option<String>,
    /// Bytes per application write, and per request/response message.
    #[arg(long, default_value_t = 1448)]
    msg_size: u32,
    /// Model a NIC that cannot segment or checksum VXLAN/IPIP-encapsulated TCP (software GSO
    /// and checksums per packet).
    #[arg(long)]
    no_tunnel_offload: bool,
    /// The application's own CPU work per payload byte on each side, ns on the reference CPU
    /// (0: a benchmark tool). It runs on the same cores as the sending and receiving stack.
    #[arg(long, default_value_t = 0.0)]
    app_ns_per_byte: f64,
    /// The senders' TCP congestion control: `reno` (the calibration's) or `cubic` (Linux's
    /// default, with HyStart).
    #[arg(long, default_value = "reno")]
    cc: String,
    /// The NICs' queue discipline: `fq_codel` (the distributions' default: a message waits
    /// for the packet on the wire, and CoDel drops from a standing queue) or `pfifo` (one FIFO
    /// of txqueuelen packets, the kernel's own default).
    #[arg(long, default_value = "fq_codel")]
    qdisc: String,
    /// One-way delay added to the path, ms: a long link between sites.
    #[arg(long, default_value_t = 0.0)]
    delay_ms: f64,
    /// The share of data packets the path loses at random, e.g. 0.0001.
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
}

#[derive(Args)]
struct CompareArgs {
    #[command(flatten)]
    common: Common,
    /// `all`, or a comma-separated list of datapaths, e.g. `host,calico-bgp,flannel-vxlan`.
    #[arg(long, default_value = "all")]
    datapaths: String,
    /// Parallel bulk TCP flows between the two hosts.
    #[arg(long, default_value_t = 1)]
    flows: u32,
    /// What the workload needs (comma-separated): `isolation`, `encryption`, `cross-subnet`
    /// (hosts in different L3 subnets), or protocols `tcp`, `udp`, `icmp`, `icmpv6`, `sctp`,
    /// `multicast`. Datapaths that cannot are reported as unsupported, with the reason.
    #[arg(long, value_delimiter = ',')]
    require: Vec<String>,
    /// Request/response exchanges measured for the latency percentiles.
    #[arg(long, default_value_t = 1000)]
    transactions: u32,
    /// Measure the request/response latency a second time while this many bulk TCP flows send
    /// the same way (latency under load: `loaded_p50_us`…). 0: the idle path only.
    #[arg(long, default_value_t = 0)]
    load: u32,
    /// Datapaths are simulated in parallel on this many threads. Default: all cores. The
    /// results do not depend on it.
    #[arg(long)]
    jobs: Option<usize>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Args)]
struct ExplainArgs {
    #[command(flatten)]
    common: Common,
    /// The datapath, e.g. `calico-bgp` or `flannel-vxlan+wireguard`.
    #[arg(long)]
    datapath: String,
    /// `table` or `json` (`csv` prints the stage table only).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Args)]
struct ProfileArgs {
    /// A cost profile (TOML). Default: the compiled-in profile.
    #[arg(long)]
    profile: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub fn run(args: NetArgs) -> Result<(), Error> {
    let (view, format) = match args.command {
        NetCommand::Compare(a) => (
            net::compare(&CompareRequest {
                setup: a.common.into(),
                datapaths: a.datapaths,
                flows: a.flows,
                require: a.require,
                transactions: a.transactions,
                load: a.load,
                jobs: a.jobs,
            })?,
            a.format,
        ),
        NetCommand::Explain(a) => (
            net::explain(&ExplainRequest {
                setup: a.common.into(),
                datapath: a.datapath,
            })?,
            a.format,
        ),
        NetCommand::Profile(a) => (net::profile(a.profile.as_deref())?, a.format),
        NetCommand::Proxy(a) => (
            net::proxy(&ProxyRequest {
                profile: a.profile,
                services: a.services,
                endpoints: a.endpoints,
                modes: a.modes,
            })?,
            a.format,
        ),
        NetCommand::Policy(a) => (
            net_policy::policy(&PolicyRequest {
                policies: a.policies,
                pods: a.pods,
                ports: a.ports,
                datapath: a.datapath,
            })?,
            a.format,
        ),
    };
    orchsim_app::render::print(&view, format.into())
}

impl From<Common> for NetSetup {
    fn from(c: Common) -> Self {
        NetSetup {
            profile: c.profile,
            platform: c.platform,
            link: c.link,
            msg_size: c.msg_size,
            no_tunnel_offload: c.no_tunnel_offload,
            app_ns_per_byte: c.app_ns_per_byte,
            congestion: c.cc,
            qdisc: c.qdisc,
            delay_ms: c.delay_ms,
            loss: c.loss,
        }
    }
}
