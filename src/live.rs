//! `orchsim live`: its arguments and printing; the work is `orchsim_app::live` (build the real
//! datapaths in network namespaces, measure them, set them beside the model).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use orchsim_app::live::{self, NetRequest};
use orchsim_app::Error;
use orchsim_app::{agent as agent_app, live_run};

use crate::Format;

#[derive(Args)]
pub struct LiveArgs {
    #[command(subcommand)]
    command: LiveCommand,
}

#[derive(Subcommand)]
enum LiveCommand {
    /// Build each datapath for real between two hosts (network namespaces on this machine),
    /// measure goodput, latency and CPU per gigabit with our own traffic tools, tear it down,
    /// and print the measurements beside the model's prediction. Needs root.
    Net(NetArgs),
    /// Run a scenario's pods on real node agents: the scenario is simulated, then the pods it
    /// submits are placed by the same scheduler on the nodes the agents report and run as
    /// real processes, with faults; the tables are the simulator's, side by side.
    Run(RunArgs),
    /// Remove network namespaces and agent cgroups left behind by live runs that ended
    /// abnormally.
    Clean {
        /// Also remove those of live runs still going.
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Args)]
struct NetArgs {
    /// `all`, or a comma-separated list, e.g. `calico-bgp,flannel-vxlan`. `host` is always
    /// measured (every ratio is to it); what this kernel cannot build is listed with the reason.
    #[arg(long, default_value = "all")]
    datapaths: String,
    /// Length of each stream test, e.g. `10s`, `500ms`; the request/response and UDP tests run
    /// a fifth of it (at least 200 ms).
    #[arg(long, default_value = "10s")]
    duration: String,
    /// Parallel TCP flows in the stream test.
    #[arg(long, default_value_t = 1)]
    flows: u32,
    /// Bytes per application write in the stream test (iperf3's default, 128 KiB).
    #[arg(long, default_value_t = 131072)]
    write_size: u32,
    /// Bytes per request and per response in the request/response test.
    #[arg(long, default_value_t = 1448)]
    msg_size: u32,
    /// Runs per datapath; the table shows medians and the goodput's spread.
    #[arg(long, default_value_t = 3)]
    repeat: u32,
    /// The profile the model predicts with. Default: the compiled-in one.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// The profile's platform. Default: the profile's own when it is a veth underlay, else
    /// `local-vm`.
    #[arg(long)]
    platform: Option<String>,
    /// Output directory for live-net.csv, live-net.json and the report.
    #[arg(long, default_value = "out/live-net")]
    out: PathBuf,
    /// Fit a profile to the measurements and write it here (then `orchsim net compare
    /// --profile FILE` predicts this machine).
    #[arg(long)]
    write_profile: Option<PathBuf>,
    /// Also write report.html with measured-vs-modeled charts.
    #[arg(long)]
    report: bool,
    /// Delay what each host's underlay link sends by this much, e.g. `1ms` or `200us` (the
    /// kernel's netem qdisc; the model's propagation delay is set to match).
    #[arg(long)]
    underlay_delay: Option<String>,
    /// Shape each host's underlay link to this rate, e.g. `1gbit` or `500mbit` (tbf, or netem
    /// with a delay; the model's link rate is set to match).
    #[arg(long)]
    underlay_rate: Option<String>,
    /// No progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub fn run(args: LiveArgs) -> Result<(), Error> {
    let (view, format) = match args.command {
        LiveCommand::Net(a) => {
            let quiet = a.quiet;
            let mut progress = |line: &str| {
                if !quiet {
                    eprintln!("{line}");
                }
            };
            let view = live::net(
                &NetRequest {
                    datapaths: a.datapaths,
                    duration: a.duration,
                    flows: a.flows,
                    write_size: a.write_size,
                    msg_size: a.msg_size,
                    repeat: a.repeat,
                    profile: a.profile,
                    platform: a.platform,
                    out: a.out,
                    write_profile: a.write_profile,
                    report: a.report,
                    underlay_delay: a.underlay_delay,
                    underlay_rate: a.underlay_rate,
                },
                &mut progress,
            )?;
            (view, a.format)
        }
        LiveCommand::Run(a) => {
            let quiet = a.quiet;
            let mut progress = |line: &str| {
                if !quiet {
                    eprintln!("{line}");
                }
            };
            let exe = std::env::current_exe()
                .map_err(|e| Error::bad_input(format!("cannot find this orchsim binary: {e}")))?;
            let view = live_run::run(
                &live_run::RunRequest {
                    scenario: a.scenario,
                    seed: a.seed,
                    local: a.local,
                    agents: a.agents,
                    token_file: a.token_file,
                    time_scale: a.time_scale,
                    out: a.out,
                    faults: a.faults,
                    command: a.command,
                    exe,
                },
                &mut progress,
            )?;
            (view, a.format)
        }
        LiveCommand::Clean { all, format } => (live::clean(all)?, format),
    };
    orchsim_app::render::print(&view, format.into())
}

#[derive(Args)]
struct RunArgs {
    /// A scenario file, or the name of an embedded one. Default: the quickstart.
    scenario: Option<String>,
    /// Master seed; overrides the scenario's.
    #[arg(long)]
    seed: Option<u64>,
    /// Start one agent per node of the scenario in network namespaces of this machine
    /// (root needed).
    #[arg(long)]
    local: bool,
    /// Agents already running: NODE=HOST:PORT for every node of the scenario, comma-separated.
    #[arg(long, value_delimiter = ',')]
    agents: Vec<String>,
    /// The remote agents' shared token (first line of the file).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Wall seconds per scenario second: 0.01 runs an hour-long scenario in 36 s.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// `kill-agent:NODE@SECONDS` or `cut-link:NODE@SECONDS` (scenario time), repeatable.
    #[arg(long = "fault")]
    faults: Vec<String>,
    /// What each pod runs, with its run time in seconds as the argument; the agents must
    /// allow it.
    #[arg(long, default_value = "sleep")]
    command: String,
    /// Output directory. Default: out/<scenario>-live (the simulation's tables in sim/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Args)]
pub struct AgentArgs {
    /// Address and port to listen on, e.g. `198.18.0.1:7070`.
    #[arg(long)]
    listen: String,
    /// A file whose first line is the shared token (at least 16 characters); every request
    /// must carry it.
    #[arg(long)]
    token_file: PathBuf,
    /// The node's name. Default: the hostname.
    #[arg(long)]
    name: Option<String>,
    /// CPU the node offers, millicores. Default: every CPU.
    #[arg(long)]
    cpu_milli: Option<u64>,
    /// Memory the node offers, MiB. Default: all of it.
    #[arg(long)]
    memory_mib: Option<u64>,
    /// Node labels, `key=value`, comma-separated.
    #[arg(long, value_delimiter = ',')]
    labels: Vec<String>,
    /// Programs a controller may start, exactly as it names them (comma-separated), e.g.
    /// `sleep,/usr/bin/stress-ng`. Default: none.
    #[arg(long, value_delimiter = ',')]
    allow: Vec<String>,
    /// Concurrent connections served; one more is told so and closed.
    #[arg(long, default_value_t = 16)]
    max_connections: usize,
    /// Workloads run at once (at most 400: a heartbeat lists them all in one message).
    #[arg(long, default_value_t = 256)]
    max_workloads: usize,
}

/// `orchsim agent`: serve until Ctrl-C, then kill every workload and remove its cgroups.
pub fn agent(a: AgentArgs) -> Result<(), Error> {
    agent_app::agent(
        &agent_app::AgentRequest {
            listen: a.listen,
            token_file: a.token_file,
            name: a.name,
            cpu_milli: a.cpu_milli,
            memory_mib: a.memory_mib,
            labels: a.labels,
            allow: a.allow,
            max_connections: a.max_connections,
            max_workloads: a.max_workloads,
        },
        &mut |line| eprintln!("{line}"),
    )
}
