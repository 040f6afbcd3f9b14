//! `orchsim live`: its arguments and printing; the work is `orchsim_app::live` (build the real
//! datapaths in network namespaces, measure them, set them beside the model).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use orchsim_app::live::{self, NetRequest};
use orchsim_app::Error;

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
    /// Remove network namespaces left behind by live runs that ended abnormally.
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
                },
                &mut progress,
            )?;
            (view, a.format)
        }
        LiveCommand::Clean { all, format } => (live::clean(all)?, format),
    };
    orchsim_app::render::print(&view, format.into())
}
