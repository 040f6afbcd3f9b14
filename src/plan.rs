//! `orchsim plan`: its arguments and printing; the search is `orchsim_app::plan`.

use std::path::PathBuf;

use orchsim_app::plan::{self, PlanRequest};
use orchsim_app::{Error, Source};

use crate::Format;

#[derive(clap::Args)]
pub struct PlanArgs {
    /// A scenario file or embedded scenario name (default: quickstart).
    scenario: Option<String>,
    /// Conditions joined by `&&`, e.g. `unschedulable_pct<1 && wait_p99_s<30`.
    #[arg(long)]
    target: String,
    /// An integer parameter and its range, e.g. `hosts.worker.count=1..200`. Give two to find
    /// the cheapest mix (by the host groups' `cost_per_hour`, then fewest hosts).
    #[arg(long, required = true)]
    vary: Vec<String>,
    /// Set a scenario value before the search, e.g. `network.datapath=flannel-udp`
    /// (repeatable; one value each).
    #[arg(long)]
    set: Vec<String>,
    /// Plan for losing this many of the largest hosts.
    #[arg(long, default_value_t = 0)]
    failures: u64,
    /// Plan for losing a whole failure domain: `site=NAME` or a host label `KEY=VALUE`.
    #[arg(long)]
    lose: Option<String>,
    /// Seeds per candidate; a candidate passes only if every seed does.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Output directory for plan.csv. Default: out/<scenario>-plan.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also write report.html with the capacity frontier.
    #[arg(long)]
    report: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: PlanArgs) -> Result<u8, Error> {
    let source = Source::resolve(args.scenario.as_deref())?;
    if let Some(out) = &args.out {
        orchsim_app::outputs::check_not_input(out, &source.path().into_iter().collect::<Vec<_>>())?;
    }
    let req = PlanRequest {
        target: args.target,
        vary: args.vary,
        failures: args.failures,
        lose: args.lose,
        seeds: args.seeds,
        report: args.report,
        set: args.set,
    };
    let bar = crate::Bar::new(args.quiet);
    let outcome = plan::plan(&source, &req, &|p| bar.show(p));
    bar.finish();
    let outcome = outcome?;
    let out = args.out.unwrap_or_else(|| outcome.default_dir());
    outcome.write(&out)?;
    orchsim_app::render::print(&outcome.view(&out), args.format.into())?;
    // No value in the range meets the target: a check that failed.
    Ok(if outcome.answered {
        0
    } else {
        crate::exit::CHECK_FAILED
    })
}
